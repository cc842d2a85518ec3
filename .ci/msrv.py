"""Fails when a locked dependency needs a newer Rust than the workspace's `rust-version`.

    cargo metadata --format-version 1 --locked | python3 .ci/msrv.py
"""

import json
import sys


def version(s):
    parts = [int(x) for x in s.split(".")[:3]]
    return tuple(parts + [0] * (3 - len(parts)))


meta = json.load(sys.stdin)
ours = {p["rust_version"] for p in meta["packages"] if p["id"] in meta["workspace_members"]}
if len(ours) != 1:
    sys.exit(f"the workspace's crates disagree on rust-version: {sorted(map(str, ours))}")
msrv = ours.pop()
newer = [
    f"{p['name']} {p['version']} needs {p['rust_version']}"
    for p in meta["packages"]
    if p.get("rust_version") and version(p["rust_version"]) > version(msrv)
]
print(f"rust-version {msrv}: {len(meta['packages'])} packages support it" if not newer else "")
if newer:
    sys.exit(f"dependencies need a newer Rust than {msrv}: " + "; ".join(newer))
