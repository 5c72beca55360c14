#!/usr/bin/python3
"""Forwards TCP connections into a network namespace, for the API tests (tests/common/api.rs).

    netns_proxy.py NETNS PORT

vtepd runs inside namespace NETNS (/var/run/netns/NETNS) in some tests, so its API listens on
that namespace's loopback, out of the test's reach. This process opens a listening socket on
127.0.0.1 (an ephemeral port) in the namespace it was started in, prints that port on its
first line of output, then enters NETNS (setns(2) through ctypes: only this process moves)
and forwards every connection it accepts to 127.0.0.1:PORT there, both ways, until killed.
"""

import ctypes
import os
import socket
import sys
import threading

CLONE_NEWNET = 0x40000000


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def handle(client, port):
    try:
        upstream = socket.create_connection(("127.0.0.1", port), timeout=30)
    except OSError:
        client.close()
        return
    upstream.settimeout(None)
    for s in (client, upstream):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    back = threading.Thread(target=pump, args=(upstream, client), daemon=True)
    back.start()
    pump(client, upstream)
    back.join()
    client.close()
    upstream.close()


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    netns, port = argv[0], int(argv[1])
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(os.path.join("/var/run/netns", netns), os.O_RDONLY)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        sys.exit("setns %s: %s" % (netns, os.strerror(err)))
    os.close(fd)
    print(listener.getsockname()[1], flush=True)
    while True:
        client, _ = listener.accept()
        threading.Thread(target=handle, args=(client, port), daemon=True).start()


if __name__ == "__main__":
    main(sys.argv[1:])
