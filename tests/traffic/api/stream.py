#!/usr/bin/python3
"""A paced, numbered stream of raw Ethernet frames, for the API and reload tests.

    stream.py IFACE INTERVAL_MS COUNT STOPFILE LOGFILE HEX [HEX ...]

Sends frame i (0, 1, ...) every INTERVAL_MS milliseconds (paced from the start, so a late
send does not shift the rest) through an AF_PACKET socket on IFACE, until COUNT frames are
sent or the file STOPFILE exists. Frame i is template HEX[i % len(HEX)] with its first
"SEQ:00000000" replaced by "SEQ:%08d" % i, so every copy vtepd sends of it says which frame
it is. When done it writes LOGFILE, one line per frame sent: "i unix_time_after_send", and
prints how many frames it sent.
"""

import os
import socket
import sys
import time

PLACEHOLDER = b"SEQ:00000000"


def main(argv):
    if len(argv) < 6:
        sys.exit(__doc__)
    iface, interval, count, stop, log = argv[0], float(argv[1]) / 1000.0, int(argv[2]), argv[3], argv[4]
    templates = [bytes.fromhex(h) for h in argv[5:]]
    for t in templates:
        if PLACEHOLDER not in t:
            sys.exit("a template lacks the placeholder SEQ:00000000")
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    sent = []
    start = time.monotonic()
    for i in range(count):
        if i % 16 == 0 and os.path.exists(stop):
            break
        delay = start + i * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        t = templates[i % len(templates)]
        s.send(t.replace(PLACEHOLDER, b"SEQ:%08d" % i, 1))
        sent.append(time.time())
    s.close()
    with open(log, "w") as f:
        for i, t in enumerate(sent):
            f.write("%d %.6f\n" % (i, t))
    print(len(sent))


if __name__ == "__main__":
    main(sys.argv[1:])
