#!/usr/bin/env python3
"""What applying a large table update costs the data path, measured under full load.

Runs vtepd on one of scripts/bench.sh's scenarios (default vxlan-encap: every packet looks
up its destination in the FDB, so the replica being written is the one being read), samples
its counters every --interval seconds, then reloads a configuration that adds --updates
static FDB entries: the management thread validates the file, diffs it and streams one
FdbSet update per entry to every worker, which applies them between bursts. Reports the
packet rate before, during the apply (first to last sample in which updates_applied moved)
and in the whole second in which the workers start applying, and how long that took.

  scripts/bench/update_cost.py --binary target/release/vtepd --traffic DIR [--updates 100000]

"During the apply" is the interval in which the workers' updates_applied counter moved: the
management thread's own work (reading the file, the diff) runs on the main lcore first and
costs the workers nothing. DIR is a `scripts/pcapgen.py bench --dir DIR --sizes 64` output (scripts/bench.sh --keep
leaves one in its work folder). Prints one JSON object.
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)


def post(url):
    req = urllib.request.Request(url, data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.load(r)


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fdb_entries(n, vnis, vteps):
    """n static entries spread over the scenario's VNIs and VTEPs, MACs unlike the traffic's."""
    out = []
    for i in range(n):
        mac = "02:3%x:%02x:%02x:%02x:%02x" % (i >> 32 & 0xF, i >> 24 & 0xFF, i >> 16 & 0xFF, i >> 8 & 0xFF, i & 0xFF)
        out.append('[[fdb]]\nvni = %d\nmac = "%s"\nremote = "%s"\n' % (vnis[i % len(vnis)], mac, vteps[i % len(vteps)]))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--traffic", required=True, help="pcapgen bench output folder")
    ap.add_argument("--scenario", default="vxlan-encap")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--updates", type=int, default=100000)
    ap.add_argument("--interval", type=float, default=0.05)
    ap.add_argument("--before", type=float, default=3.0, help="seconds sampled before the reload")
    ap.add_argument("--after", type=float, default=3.0, help="seconds sampled after the apply")
    ap.add_argument("--huge", action="store_true", help="use hugepages (default: --no-huge -m 2048)")
    args = ap.parse_args()

    base = open(os.path.join(args.traffic, args.scenario + ".toml")).read()
    vnis = [int(line.split("=")[1]) for line in base.splitlines() if line.startswith("id = ")]
    vteps = sorted({v.strip(' "') for line in base.splitlines() if line.startswith("flood = [")
                    for v in line.split("[", 1)[1].rstrip("]").split(",")})
    port = free_port()
    base = base.replace('listen = "127.0.0.1:8179"', 'listen = "127.0.0.1:%d"' % port)
    capacity = 1 << (args.updates * 2 + 65536).bit_length()
    base += "\n[tables]\nfdb_capacity = %d\n" % capacity
    work = tempfile.mkdtemp(prefix="vtepd-update-cost.")
    conf = os.path.join(work, "vtepd.toml")
    with open(conf, "w") as f:
        f.write(base)
    bigger = base + "\n" + fdb_entries(args.updates, vnis, vteps)

    pcap = os.path.join(args.traffic, "%s-%d-q0of1.pcap" % (args.scenario, args.size))
    source = "net_pcap0,rx_pcap=%s,infinite_rx=1" % pcap
    memory = ["--huge-unlink"] if args.huge else ["--no-huge", "-m", "2048"]
    cmd = [args.binary, "-l", "0-1", "--no-pci", "--file-prefix", "vupd%d" % os.getpid(), *memory,
           "--vdev", source, "--vdev", "net_null0,no-rx=1", "--", "-c", conf, "--log", "warn"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    api = "http://127.0.0.1:%d" % port
    samples = []  # (time, tx packets of the sink, updates applied)

    def sample():
        s = get(api + "/api/v1/stats")
        tx = sum(p["tx_packets"] for p in s["ports"])  # only the sink transmits
        samples.append((time.monotonic(), tx, s["gateway"]["updates_applied"]))

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                sample()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    sys.exit("vtepd did not start: %s" % (proc.stderr.read() if proc.poll() is not None else "timeout"))
                time.sleep(0.2)
        time.sleep(2.0)  # warm-up
        samples.clear()
        end = time.monotonic() + args.before
        while time.monotonic() < end:
            sample()
            time.sleep(args.interval)
        applied_before = samples[-1][2]
        with open(conf, "w") as f:
            f.write(bigger)
        t0 = time.monotonic()
        reload = post(api + "/api/v1/reload")
        t_reply = time.monotonic()
        done_at = None
        end = time.monotonic() + 120
        while time.monotonic() < end:
            sample()
            if done_at is None and samples[-1][2] - applied_before >= args.updates:
                done_at = samples[-1][0]
                end = done_at + args.after
            time.sleep(args.interval)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)

    def rate(t_from, t_to):
        inside = [s for s in samples if t_from <= s[0] <= t_to]
        if len(inside) < 2:
            return None
        (ta, xa, _), (tb, xb, _) = inside[0], inside[-1]
        return (xb - xa) / (tb - ta) / 1e6

    before = [s for s in samples if s[0] < t0]
    per_sample = [(b[1] - a[1]) / (b[0] - a[0]) / 1e6 for a, b in zip(before, before[1:])]
    baseline = rate(before[0][0], before[-1][0])
    moving = [s for s, prev in zip(samples[1:], samples) if s[2] != prev[2] and s[0] >= t0]
    first_move = moving[0][0] if moving else None
    apply_rate = rate(first_move, done_at) if done_at and first_move else None
    # The second that starts when the workers start applying (the management thread's reading
    # of the file before that costs them nothing).
    second = rate(first_move - args.interval, first_move + 1.0) if first_move else None
    result = {
        "scenario": args.scenario,
        "size": args.size,
        "updates": args.updates,
        "reload": reload,
        "reload_reply_s": round(t_reply - t0, 3),
        "apply_s": round(done_at - t0, 3) if done_at else None,
        "workers_busy_applying_s": round(done_at - first_move, 3) if done_at and first_move else None,
        "baseline_mpps": round(baseline, 3),
        "baseline_sample_stdev_mpps": round(statistics.pstdev(per_sample), 3) if per_sample else None,
        "during_apply_mpps": round(apply_rate, 3) if apply_rate else None,
        "first_second_mpps": round(second, 3) if second else None,
        "cost_during_apply": round(1 - apply_rate / baseline, 4) if apply_rate else None,
        "cost_first_second": round(1 - second / baseline, 4) if second else None,
        "command": " ".join(cmd),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
