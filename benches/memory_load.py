#!/usr/bin/env python3
"""Memory workloads for benches/memory.sh: hold N idle client connections, or one
connection with N subscriptions, against a NATS server on loopback, then print the
server's resident memory (VmRSS of the given pid) as JSON.

Usage: memory_load.py conns|subs PORT PID COUNT
Only connects to 127.0.0.1. Uses raw sockets (the protocol is tiny) so the client
side costs the same for both servers."""

import json
import resource
import socket
import sys
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def read_until(sock, token, limit=1 << 20):
    buf = b""
    while token not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("server closed the connection")
        buf += chunk
        if len(buf) > limit:
            raise RuntimeError("no %r from server" % token)
    return buf


def connect(port):
    s = socket.create_connection(("127.0.0.1", port))
    read_until(s, b"\r\n")  # INFO
    s.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\nPING\r\n')
    read_until(s, b"PONG\r\n")
    return s


def main():
    mode, port, pid, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = count + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    base = rss_kib(pid)
    socks = []
    t0 = time.time()
    if mode == "conns":
        for _ in range(count):
            socks.append(connect(port))
    elif mode == "subs":
        s = connect(port)
        socks.append(s)
        batch = []
        for i in range(count):
            batch.append(b"SUB bench.%d.%d.data %d\r\n" % (i % 1000, i, i + 1))
            if len(batch) == 1000:
                s.sendall(b"".join(batch))
                batch = []
        if batch:
            s.sendall(b"".join(batch))
        s.sendall(b"PING\r\n")
        read_until(s, b"PONG\r\n")
    else:
        raise SystemExit("mode must be conns or subs")
    time.sleep(2.0)  # let the server settle (GC, lazily grown buffers)
    # Every connection still alive?
    for s in socks[:: max(1, len(socks) // 50)]:
        s.sendall(b"PING\r\n")
        read_until(s, b"PONG\r\n")
    after = rss_kib(pid)
    print(json.dumps({
        "mode": mode,
        "count": count,
        "rss_before_kib": base,
        "rss_after_kib": after,
        "rss_delta_kib": after - base,
        "bytes_per_item": round((after - base) * 1024 / count, 1),
        "setup_secs": round(time.time() - t0 - 2.0, 2),
    }))
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
