#!/usr/bin/python3
"""Puts raw Ethernet frames on an interface, in order, for the live tests (tests/live.rs).

    inject.py IFACE [--interval MS] HEX [HEX ...]

The tests build every frame themselves (byte for byte, independently of vtepd's wire code);
this script only sends them through an AF_PACKET socket, so a scenario step costs one short
process. With --interval it waits MS milliseconds between frames (a paced stream). Prints
how many frames it sent.
"""

import socket
import sys
import time


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    iface, rest = argv[0], argv[1:]
    interval = 0.0
    if rest[0] == "--interval":
        interval = float(rest[1]) / 1000.0
        rest = rest[2:]
    frames = [bytes.fromhex(h) for h in rest]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    start = time.monotonic()
    for i, f in enumerate(frames):
        if interval:
            # Paced from the start, so a slow send does not stretch the whole stream.
            delay = start + i * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        s.send(f)
    s.close()
    print(len(frames))


if __name__ == "__main__":
    main(sys.argv[1:])
