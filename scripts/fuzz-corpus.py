#!/usr/bin/python3
"""Seeds the fuzz corpora (fuzz/corpus/<target>/) from the repository's test traffic and
configurations, so the fuzzers start from real packets instead of from nothing.

    /usr/bin/python3 scripts/fuzz-corpus.py [--out DIR]

- underlay: every frame tests/traffic/scenarios.py writes for the underlay port (and the
  demo's, scripts/pcapgen.py), one file each, plus each scenario's frames as one sequence;
- access: every access-port frame behind its selector byte (the port), one file each, plus
  sequences (a scenario's frames; decapsulation then encapsulation, so learning is seen);
- roundtrip: the access frames, one file each;
- config: config/*.toml, the harness's own configurations (fuzz/src/lib.rs), every gateway
  or cross-connect configuration in tests/*.rs, and edits of the harness gateway that a
  reload accepts;
- api: one request per API route against the harness gateway, and a few sequences.

Files are named by the SHA-1 of their contents, as libFuzzer names them, so running this
again adds nothing twice. It only adds files: minimise afterwards with
`scripts/fuzz.sh --cmin`.
"""

import argparse
import glob
import hashlib
import os
import re
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEPARATOR = b"~NXT"  # fuzz/src/lib.rs SEPARATOR
MAX_PIECES = 64  # fuzz/src/lib.rs MAX_PIECES
DATA_ROOM = 2048  # fuzz/src/lib.rs DATA_ROOM: longer frames are dropped before the pipeline


def read_pcap(path):
    """The frames of a classic pcap file (any byte order, micro- or nanoseconds)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return []
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = ">"
    else:
        sys.exit(f"{path}: not a pcap file")
    frames, off = [], 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(end + "IIII", data[off : off + 16])
        off += 16
        frames.append(data[off : off + incl])
        off += incl
    return frames


class Corpus:
    def __init__(self, out):
        self.out = out
        self.added = {}

    def add(self, target, data):
        d = os.path.join(self.out, target)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, hashlib.sha1(data).hexdigest())
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(data)
            self.added[target] = self.added.get(target, 0) + 1


def sequence(pieces):
    return SEPARATOR.join(pieces[:MAX_PIECES])


def scenario_traffic():
    """{scenario: {"underlay": [...], 1: [...], 2: [...]}} from tests/traffic/scenarios.py."""
    sys.path.insert(0, os.path.join(ROOT, "tests", "traffic"))
    import scenarios  # noqa: E402  (scapy; Debian's python3)

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, make in scenarios.SCENARIOS.items():
            d = os.path.join(tmp, name)
            os.makedirs(d)
            make(d)
            out[name] = {
                "underlay": read_pcap_if(os.path.join(d, "underlay.pcap")),
                1: read_pcap_if(os.path.join(d, "access1.pcap")),
                2: read_pcap_if(os.path.join(d, "access2.pcap")),
            }
        # The demo's traffic (config/demo.toml has the same addresses).
        d = os.path.join(tmp, "demo")
        os.makedirs(d)
        subprocess.run(
            [
                sys.executable,
                os.path.join(ROOT, "scripts", "pcapgen.py"),
                "demo",
                "--access",
                os.path.join(d, "access1.pcap"),
                "--underlay",
                os.path.join(d, "underlay.pcap"),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        out["demo"] = {
            "underlay": read_pcap_if(os.path.join(d, "underlay.pcap")),
            1: read_pcap_if(os.path.join(d, "access1.pcap")),
            2: [],
        }
    return out


def read_pcap_if(path):
    return [f for f in read_pcap(path) if len(f) <= DATA_ROOM] if os.path.exists(path) else []


def packets(c):
    traffic = scenario_traffic()
    for name, t in sorted(traffic.items()):
        under = t["underlay"]
        access = [(1, f) for f in t[1]] + [(2, f) for f in t[2]]
        for f in under:
            c.add("underlay", f)
        if len(under) > 1:
            c.add("underlay", sequence(under))
        for port, f in access:
            c.add("access", bytes([port]) + f)
            c.add("roundtrip", bytes([port]) + f)
        # The same frames on port 3 (native VNI 7100, NVGRE) and tagged-only port 2.
        for f in t[1][:4]:
            c.add("access", bytes([3]) + f)
        if len(access) > 1:
            c.add("access", sequence([bytes([p]) + f for p, f in access]))
        if under and access:
            # Learn behind VTEPs first, then send to them.
            c.add("access", sequence([b"\0" + f for f in under[:8]] + [bytes([p]) + f for p, f in access[:8]]))
    # A broadcast storm in VNI 6000 (VLAN 300, bum_rate_pps = 1): 40 ARP requests from
    # port 2, past the bucket's 32.
    storm = bytes.fromhex("ffffffffffff020000000102" "8100012c" "0806" "0001080006040001"
                          "020000000102" "c0a80a01" "000000000000" "c0a80a02")
    c.add("access", sequence([b"\2" + storm] * 40))


def harness_configs():
    with open(os.path.join(ROOT, "fuzz", "src", "lib.rs")) as f:
        src = f.read()
    found = {}
    for name in ("GATEWAY", "PEER"):
        m = re.search(r'pub const %s: &str = r#"(.*?)"#;' % name, src, re.S)
        if not m:
            sys.exit(f"fuzz/src/lib.rs: no {name} configuration")
        found[name] = m.group(1)
    return found


def remove_table(text, header, key_line):
    """`text` without the `header` table whose body contains `key_line`."""
    blocks = re.split(r"(?m)^(?=\[)", text)
    return "".join(b for b in blocks if not (b.startswith(header) and key_line in b))


def configs(c):
    for path in sorted(glob.glob(os.path.join(ROOT, "config", "*.toml"))):
        with open(path, "rb") as f:
            c.add("config", f.read())
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "*.rs"))):
        with open(path) as f:
            src = f.read()
        for m in re.finditer(r'r#"(.*?)"#', src, re.S):
            text = m.group(1)
            if "[underlay]" in text or "[xconnect]" in text:
                c.add("config", text.encode())
    h = harness_configs()
    gw = h["GATEWAY"]
    c.add("config", gw.encode())
    c.add("config", h["PEER"].encode())
    # Edits a reload applies (same ports and addresses): VNIs, flood lists, flags, static
    # entries and bindings, aging.
    edits = [
        gw.replace("mac_age_secs = 2", "mac_age_secs = 60"),
        gw.replace('flood = ["10.0.0.2", "10.0.0.3"]', 'flood = ["10.0.0.4"]'),
        gw.replace("arp_suppression = true\nmax_macs = 3", "max_macs = 1"),
        gw.replace('allowed_vteps = ["10.0.0.2", "fd00::2"]', 'allowed_vteps = ["fd00::3"]'),
        gw.replace('encap = "nvgre"\nflood = ["10.0.0.2", "fd00::3"]', 'flood = ["10.0.0.2", "fd00::3"]'),
        gw.replace("[[access]]\nport = \"acc3\"\nuntagged_vni = 7100", "[[access]]\nport = \"acc3\"\nuntagged_vni = 7000"),
        gw + '\n[[vni]]\nid = 9000\nvlan = 900\nflood = ["10.0.0.9"]\n',
        gw + '\n[[fdb]]\nvni = 6000\nmac = "02:00:00:00:09:09"\nremote = "fd00::9"\n',
        gw + '\n[[arp]]\nvni = 7000\nip = "fd00:7::3"\nmac = "02:00:00:00:03:03"\n',
        remove_table(gw, "[[fdb]]", '"02:00:00:00:02:02"'),
        remove_table(remove_table(gw, "[[vni]]", "id = 5300"), "[[fdb]]", "vni = 5300"),
        remove_table(remove_table(gw, "[[arp]]", "vni = 7000"), "[[fdb]]", "vni = 7000"),
        gw.replace("bum_rate_pps = 1", "bum_rate_pps = 100000"),
        gw.replace('mtu = 1500', 'mtu = 9000'),  # refused: needs a restart
    ]
    for e in edits:
        c.add("config", e.encode())


API_REQUESTS = [
    "GET /api/v1/status",
    "GET /api/v1/vnis",
    "GET /api/v1/vnis/5000",
    "GET /api/v1/fdb?vni=5000",
    "GET /api/v1/arp",
    "GET /metrics",
    'POST /api/v1/vnis\n{"id": 9000, "vlan": 900, "flood": ["10.0.0.9", "fd00::9"]}',
    'POST /api/v1/vnis\n{"id": 9100, "encap": "nvgre", "vlan": 910, "multicast_group": "239.9.9.9", "learning": false}',
    'POST /api/v1/vnis\n{"id": 9200, "vlan": 920, "arp_suppression": true, "allowed_vteps": ["10.0.0.2"], "max_macs": 5}',
    'PUT /api/v1/vnis/5000\n{"id": 5000, "vlan": 100, "flood": ["10.0.0.3"], "arp_suppression": false}',
    'PUT /api/v1/vnis/7000\n{"vlan": 200, "encap": "vxlan", "flood": ["fd00::3"]}',
    'PUT /api/v1/vnis/5000/flood\n["10.0.0.4", "fd00::4"]',
    'PUT /api/v1/vnis/6000/flood\n[]',
    'PUT /api/v1/vnis/5300/allowed_vteps\n["fd00::2"]',
    "DELETE /api/v1/vnis/5300",
    "DELETE /api/v1/vnis/5000",
    "POST /api/v1/vnis/5000/flush",
    "POST /api/v1/vnis/7000/flush?all=true",
    'POST /api/v1/fdb\n{"vni": 5000, "mac": "02:00:00:00:09:01", "remote": "10.0.0.9"}',
    'POST /api/v1/fdb\n{"vni": 7000, "mac": "02:00:00:00:09:02", "port": "acc2"}',
    'POST /api/v1/fdb\n{"vni": 5000, "mac": "02:00:00:00:02:01", "remote": "fd00::2"}',
    "DELETE /api/v1/fdb/5000/02:00:00:00:02:01",
    'POST /api/v1/arp\n{"vni": 5000, "ip": "192.168.1.9", "mac": "02:00:00:00:09:01"}',
    'POST /api/v1/arp\n{"vni": 7000, "ip": "2001:db8:7::9", "mac": "02:00:00:00:09:02"}',
    "DELETE /api/v1/arp/5000/192.168.1.2",
    "POST /api/v1/reload",
]

API_SEQUENCES = [
    [
        'POST /api/v1/vnis\n{"id": 9000, "vlan": 900, "flood": ["10.0.0.9"]}',
        'POST /api/v1/fdb\n{"vni": 9000, "mac": "02:00:00:00:09:01", "remote": "10.0.0.8"}',
        'POST /api/v1/arp\n{"vni": 9000, "ip": "192.168.9.1", "mac": "02:00:00:00:09:01"}',
        'PUT /api/v1/vnis/9000\n{"vlan": 900, "encap": "nvgre", "flood": []}',
        "DELETE /api/v1/vnis/9000",
    ],
    [
        'PUT /api/v1/vnis/5000/flood\n["10.0.0.5"]',
        "DELETE /api/v1/fdb/5000/02:00:00:00:02:01",
        "POST /api/v1/vnis/5000/flush?all=true",
        'PUT /api/v1/vnis/5000\n{"vlan": 101, "encap": "nvgre"}',
    ],
]


def api(c):
    for r in API_REQUESTS:
        c.add("api", r.encode())
    for s in API_SEQUENCES:
        c.add("api", sequence([r.encode() for r in s]))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=os.path.join(ROOT, "fuzz", "corpus"))
    args = p.parse_args()
    c = Corpus(args.out)
    packets(c)
    configs(c)
    api(c)
    for target in sorted(c.added):
        print(f"{target}: {c.added[target]} new seed(s)")


if __name__ == "__main__":
    main()
