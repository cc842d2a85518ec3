"""Schemathesis hooks for .ci/schemathesis.sh: the frames body of /v2/records
(application/x-strideguard-frames) is bytes on the wire, sent as generated."""

import schemathesis


@schemathesis.serializer("application/x-strideguard-frames")
def frames(ctx, value):
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return str(value).encode()
