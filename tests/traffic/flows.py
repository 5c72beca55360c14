#!/usr/bin/env python3
"""TCP endpoints for the policy tests, run inside network namespaces.

  flows.py serve PORT...             echo server on every PORT (IPv4), until killed
  flows.py connect HOST PORT         one connection: prints "ok", "refused" or "timeout"
  flows.py hold HOST PORT SECONDS    one connection kept open SECONDS, a line echoed every
                                     0.2 s: prints "ok" or "fail" per round, then closes it
"""
import selectors
import socket
import sys
import time


def serve(ports):
    sel = selectors.DefaultSelector()
    for p in ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", int(p)))
        s.listen(64)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, "listen")
    print("listening", flush=True)
    while True:
        for key, _ in sel.select():
            if key.data == "listen":
                conn, _ = key.fileobj.accept()
                conn.setblocking(False)
                sel.register(conn, selectors.EVENT_READ, "conn")
            else:
                try:
                    data = key.fileobj.recv(4096)
                except OSError:
                    data = b""
                if data:
                    key.fileobj.sendall(data)
                else:
                    sel.unregister(key.fileobj)
                    key.fileobj.close()


def exchange(s):
    s.sendall(b"ping\n")
    return s.recv(64) == b"ping\n"


def connect(host, port):
    try:
        s = socket.create_connection((host, int(port)), timeout=2)
        s.settimeout(2)
        print("ok" if exchange(s) else "fail")
        s.close()
    except ConnectionRefusedError:
        print("refused")
    except (socket.timeout, OSError):
        print("timeout")


def hold(host, port, seconds):
    end = time.monotonic() + float(seconds)
    try:
        s = socket.create_connection((host, int(port)), timeout=2)
    except OSError:
        print("connect-failed", flush=True)
        return
    s.settimeout(1)
    while time.monotonic() < end:
        try:
            print("ok" if exchange(s) else "fail", flush=True)
        except OSError:
            print("fail", flush=True)
        time.sleep(0.2)
    s.close()


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"serve": lambda: serve(args),
     "connect": lambda: connect(*args),
     "hold": lambda: hold(*args)}[cmd]()
