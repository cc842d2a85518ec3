"""Shared by the tests of the generated Python bindings, loaded over the built library as an
app would call them.

Run by `cargo test -p strideguard-ffi` (mobile-ffi/tests/bindings.rs), which generates the
bindings, starts a sync server on 127.0.0.1 and sets STRIDEGUARD_TEST_SERVER,
STRIDEGUARD_FIXTURES and STRIDEGUARD_SWIFT_DIR.
"""

import os
import socket
import threading
import urllib.parse
import uuid

import pytest

import strideguard as sg

SERVER = os.environ["STRIDEGUARD_TEST_SERVER"]
FIXTURES = os.environ["STRIDEGUARD_FIXTURES"]
PASS = "correct horse battery staple"
# Few PBKDF2 rounds: the test server accepts them, and keys derive in microseconds.
FAST_KDF = 1000
DAY_MS = 86_400_000
# 2026-05-04, a Monday, 07:00 UTC.
MONDAY_MS = 1_777_878_000_000
# The longest any test waits for something to happen; a liveness bound, not a timing.
PATIENCE_S = 60


def fixture(name):
    return os.path.join(FIXTURES, name)


def new_user(prefix="py"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def app(tmp_path):
    return sg.Strideguard.open(str(tmp_path / "phone.db"), time_zone="Europe/Berlin")


def new_run(day, km, minutes, kind=sg.RunKind.EASY, rpe=None, notes=None, shoe=None):
    return sg.NewRun(
        start_unix_ms=MONDAY_MS + day * DAY_MS,
        utc_offset_seconds=3600,
        distance_meters=km * 1000.0,
        duration_seconds=minutes * 60.0,
        kind=kind,
        rpe=rpe,
        shoe=shoe,
        notes=notes,
    )


class FixedClock(sg.WallClock):
    """The app's own clock: a test decides what time it is."""

    def __init__(self, now_ms):
        self.now = now_ms

    def now_ms(self):
        return self.now


class HoldingProxy:
    """A TCP proxy on 127.0.0.1 in front of the sync server that, once armed, holds the server's
    answer to the next request starting with `prefix` until the test releases it: the outside
    world (a slow network) made deterministic. Its threads stop when it is closed."""

    def __init__(self, target, prefix=b"GET /v2/records"):
        u = urllib.parse.urlparse(target)
        self.target = (u.hostname, u.port)
        self.prefix = prefix
        self.armed = False
        self.holding = threading.Event()
        self.released = threading.Event()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.sockets = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def arm(self):
        self.holding.clear()
        self.released.clear()
        self.armed = True

    def release(self):
        self.armed = False
        self.released.set()

    def close(self):
        self.closed = True
        self.release()
        for s in [self.listener, *self.sockets]:
            try:
                s.close()
            except OSError:
                pass

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            self.sockets += [client, server]
            state = {"hold": False}
            threading.Thread(target=self._up, args=(client, server, state), daemon=True).start()
            threading.Thread(target=self._down, args=(server, client, state), daemon=True).start()

    def _up(self, client, server, state):
        try:
            while data := client.recv(65536):
                if self.armed and data.startswith(self.prefix):
                    state["hold"] = True
                server.sendall(data)
        except OSError:
            pass
        self._hang_up(server)

    def _down(self, server, client, state):
        try:
            while data := server.recv(65536):
                if state["hold"]:
                    self.holding.set()
                    self.released.wait(PATIENCE_S)
                    state["hold"] = False
                client.sendall(data)
        except OSError:
            pass
        # The server closed (an idle keep-alive connection timing out): the client must see
        # it too, as it would on a real network, or it sends its next request into nothing.
        self._hang_up(client)

    @staticmethod
    def _hang_up(sock):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


@pytest.fixture
def proxy():
    p = HoldingProxy(SERVER)
    yield p
    p.close()
