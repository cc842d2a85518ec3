#!/usr/bin/env python3
"""A slow network between the app and the sync server: a TCP proxy on 127.0.0.1 (stdlib only).

    python3 slow_proxy.py --upstream 127.0.0.1:8787 [--port 0] [--port-file F]
                          [--latency-ms 300] [--down-kibps 256] [--up-kibps 256]
                          [--parent PID] [--timeout 900] [--verbose]

Forwards every connection to --upstream. The bytes the client sends (requests) go through at
--up-kibps KiB/s; each answer of the server waits --latency-ms before its first byte is
forwarded (an answer = the server's bytes after the client last sent something, so every HTTP
response on a keep-alive connection is delayed once), then flows at --down-kibps KiB/s. The caps
are shared by all connections (one link); 0 means no cap. Prints "listening on PORT" (and writes
PORT to --port-file). Stops by itself when --parent (default: the process that started it) has
gone, after --timeout seconds, or on SIGTERM/SIGINT; at the end it prints what it forwarded
(--verbose: also a line per connection when it closes).
"""

import argparse
import os
import signal
import socket
import sys
import threading
import time

CHUNK = 8 * 1024


class Pacer:
    """One direction of the link: at most `rate` bytes a second, shared by all connections."""

    def __init__(self, kibps):
        self.rate = kibps * 1024.0
        self.lock = threading.Lock()
        self.free_at = 0.0
        self.bytes = 0

    def send(self, sock, data, state, key):
        for i in range(0, len(data), CHUNK):
            part = data[i:i + CHUNK]
            if self.rate > 0:
                with self.lock:
                    start = max(time.monotonic(), self.free_at)
                    self.free_at = start + len(part) / self.rate
                    done = self.free_at
                delay = done - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            sock.sendall(part)
            state[key] += len(part)
            with self.lock:
                self.bytes += len(part)


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.connections = 0
        self.responses = 0


def pipe_up(client, server, state, up, stop):
    """Client -> server: requests. Marks that the next server bytes start a new answer."""
    try:
        while not stop.is_set():
            data = client.recv(64 * 1024)
            if not data:
                break
            state["answer_pending"] = True
            up.send(server, data, state, "up")
    except OSError:
        pass
    finally:
        try:
            server.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def pipe_down(server, client, state, down, latency, stats, stop):
    """Server -> client: answers, each delayed once, then paced."""
    try:
        while not stop.is_set():
            data = server.recv(64 * 1024)
            if not data:
                break
            if state["answer_pending"]:
                state["answer_pending"] = False
                state["answers"] += 1
                with stats.lock:
                    stats.responses += 1
                time.sleep(latency)
            down.send(client, data, state, "down")
    except OSError:
        pass
    finally:
        try:
            client.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def handle(client, upstream, up, down, latency, stats, stop, verbose):
    try:
        server = socket.create_connection(upstream, timeout=10)
        server.settimeout(None)
    except OSError as e:
        print(f"slow_proxy: cannot reach {upstream}: {e}", file=sys.stderr)
        client.close()
        return
    for s in (client, server):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with stats.lock:
        stats.connections += 1
        n = stats.connections
    state = {"answer_pending": False, "answers": 0, "up": 0, "down": 0}
    t0 = time.monotonic()
    t = threading.Thread(target=pipe_up, args=(client, server, state, up, stop), daemon=True)
    t.start()
    pipe_down(server, client, state, down, latency, stats, stop)
    t.join()
    client.close()
    server.close()
    if verbose:
        print(f"slow_proxy: connection {n}: {time.monotonic() - t0:.2f} s, {state['answers']} "
              f"answers, {state['up'] / 1024:.0f} KiB up, {state['down'] / 1024:.0f} KiB down",
              flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--upstream", required=True, help="HOST:PORT of the real server")
    ap.add_argument("--port", type=int, default=0, help="port to listen on (0: any free one)")
    ap.add_argument("--port-file", help="write the port here once listening")
    ap.add_argument("--latency-ms", type=float, default=300.0)
    ap.add_argument("--down-kibps", type=float, default=256.0, help="answers, KiB/s (0: no cap)")
    ap.add_argument("--up-kibps", type=float, default=256.0, help="requests, KiB/s (0: no cap)")
    ap.add_argument("--parent", type=int, default=os.getppid(), help="stop when this PID is gone")
    ap.add_argument("--timeout", type=float, default=900.0, help="stop after this many seconds")
    ap.add_argument("--verbose", action="store_true", help="a line per connection when it ends")
    a = ap.parse_args()
    host, port = a.upstream.rsplit(":", 1)
    upstream = (host, int(port))
    up, down, stats, stop = Pacer(a.up_kibps), Pacer(a.down_kibps), Stats(), threading.Event()

    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", a.port))
    lsock.listen(64)
    lsock.settimeout(0.5)
    port = lsock.getsockname()[1]
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write(str(port))
        os.replace(a.port_file + ".tmp", a.port_file)
    print(f"slow_proxy: listening on {port} -> {a.upstream}, +{a.latency_ms:.0f} ms an answer, "
          f"down {a.down_kibps:g} KiB/s, up {a.up_kibps:g} KiB/s", flush=True)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    deadline = time.monotonic() + a.timeout
    why = "signal"
    while not stop.is_set():
        if time.monotonic() > deadline:
            why = f"timeout ({a.timeout:g} s)"
            break
        try:
            os.kill(a.parent, 0)
        except ProcessLookupError:
            why = f"parent {a.parent} gone"
            break
        except PermissionError:
            pass
        try:
            client, _ = lsock.accept()
        except socket.timeout:
            continue
        except OSError:
            break
        client.settimeout(None)
        threading.Thread(target=handle, args=(client, upstream, up, down, a.latency_ms / 1000.0,
                                              stats, stop, a.verbose), daemon=True).start()
    stop.set()
    lsock.close()
    print(f"slow_proxy: stopping ({why}): {stats.connections} connections, {stats.responses} "
          f"answers delayed, {up.bytes / 1024:.0f} KiB up, {down.bytes / 1024:.0f} KiB down",
          flush=True)


if __name__ == "__main__":
    main()
