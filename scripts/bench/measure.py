#!/usr/bin/python3
"""Measures one running DPDK process (vtepd or dpdk-testpmd) for scripts/bench.sh.

Waits for its telemetry socket and for traffic to flow, lets it warm up, then reads the port
counters (DPDK telemetry `/ethdev/stats,<port>`, the same socket `dpdk-telemetry.py -f PREFIX`
talks to) at the start and the end of a fixed window, and, for vtepd, its worker counters
(`GET /api/v1/workers`: packets and cycles per packet, whose product is the busy cycles) and
drop counters (`GET /api/v1/stats`), and how much of the window the forwarding threads were
on a CPU (/proc/PID/task/TID/schedstat). Prints one JSON object with the differences.

    measure.py --prefix P --pid PID --sources net_pcap0 --sinks net_null0 \
               --warmup 2 --window 5 [--api http://127.0.0.1:8180]
"""

import argparse
import json
import os
import socket
import sys
import time
import urllib.request


class Telemetry:
    """DPDK's telemetry socket (v2): one JSON answer per command, SOCK_SEQPACKET."""

    def __init__(self, prefix):
        base = "/var/run/dpdk" if os.geteuid() == 0 else os.path.join(
            os.environ.get("XDG_RUNTIME_DIR", "/tmp"), "dpdk")
        self.path = os.path.join(base, prefix, "dpdk_telemetry.v2")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.connect(self.path)
        hello = json.loads(self.sock.recv(16384).decode())
        self.max_len = int(hello.get("max_output_len", 16384))

    def cmd(self, command):
        self.sock.send(command.encode())
        reply = json.loads(self.sock.recv(self.max_len).decode())
        return reply[command.split(",")[0]]


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def http_json(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read().decode())


def worker_tasks(pid):
    """The forwarding lcores' threads: EAL names them rte-worker-N (lcore-worker-N in other
    DPDK versions)."""
    tasks = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                    if f.read().strip().startswith(("rte-worker-", "lcore-worker-")):
                        tasks.append(tid)
            except OSError:
                pass
    except OSError:
        pass
    return tasks


def schedstat(pid, tasks):
    """Nanoseconds the worker threads ran and waited on a run queue (/proc/.../schedstat)."""
    run = wait = 0
    for tid in tasks:
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                r, w, _ = f.read().split()
            run += int(r)
            wait += int(w)
        except (OSError, ValueError):
            pass
    return run, wait


PORT_KEYS = ("ipackets", "ibytes", "opackets", "obytes", "imissed", "ierrors", "oerrors", "rx_nombuf")


def sample(tel, ids, api, pid, tasks):
    """One reading: port counters first (timed), then the workers' scheduling, then vtepd's."""
    ports, times = {}, {}
    for name, port in ids.items():
        # Each port's reading has its own time: at millions of packets per second a
        # millisecond between two readings is thousands of packets.
        before = time.monotonic()
        ports[name] = tel.cmd("/ethdev/stats,%d" % port)
        times[name] = (before + time.monotonic()) / 2
    s = {"t": min(times.values()), "times": times,
         "ports": {n: {k: p.get(k, 0) for k in PORT_KEYS} for n, p in ports.items()},
         "sched": schedstat(pid, tasks)}
    if api:
        workers = http_json(api + "/api/v1/workers")
        s["workers"] = [{"lcore": w["lcore"], "packets": w["packets"],
                         "cycles": w["cycles_per_packet"] * w["packets"],
                         "average_burst": w["average_burst"]} for w in workers]
        stats = http_json(api + "/api/v1/stats")
        s["drops"] = stats.get("drops", {})
        gw = stats.get("gateway") or {}
        vnis = gw.get("vnis", [])
        s["gateway"] = {
            "flood_copies": sum(v.get("flood_copies", 0) for v in vnis),
            "learn_events": sum(v.get("learn_events", 0) for v in vnis),
            "encap_packets": sum(v.get("encap_packets", 0) for v in vnis),
            "decap_packets": sum(v.get("decap_packets", 0) for v in vnis),
            "replicas": gw.get("replicas", 0),
            "fdb_full": gw.get("fdb_full", 0),
        }
        s["fdb_entries"] = gw.get("fdb_entries", 0)
        s["learned_macs"] = sum(v.get("macs", 0) for v in vnis)
        s["tx_dropped"] = sum(p.get("tx_dropped", 0) for p in stats.get("ports", []))
        s["mempool"] = stats.get("mempool", {})
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prefix", required=True, help="the process's EAL --file-prefix")
    ap.add_argument("--pid", type=int, required=True, help="the process (stop waiting if it exits)")
    ap.add_argument("--sources", required=True, help="ports replaying traffic (comma-separated names)")
    ap.add_argument("--sinks", required=True, help="ports whose TX is the result (comma-separated names)")
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--window", type=float, default=5.0)
    ap.add_argument("--api", help="vtepd's API base URL")
    ap.add_argument("--startup-timeout", type=float, default=90.0)
    args = ap.parse_args()

    deadline = time.monotonic() + args.startup_timeout
    tel = None
    while tel is None:
        if not alive(args.pid):
            sys.exit("measure: the process exited before its telemetry socket appeared")
        if time.monotonic() > deadline:
            sys.exit("measure: no telemetry socket for --file-prefix %s after %.0f s" % (args.prefix, args.startup_timeout))
        try:
            tel = Telemetry(args.prefix)
        except OSError:
            time.sleep(0.2)

    # Port names -> ids, once every port is there and started.
    wanted = args.sources.split(",") + args.sinks.split(",")
    ids = {}
    while True:
        ids = {}
        for pid in tel.cmd("/ethdev/list") or []:
            info = tel.cmd("/ethdev/info,%d" % pid)
            if info and info.get("name") in wanted and info.get("dev_started"):
                ids[info["name"]] = pid
        if len(ids) == len(set(wanted)):
            break
        if not alive(args.pid) or time.monotonic() > deadline:
            sys.exit("measure: ports %s not all started (found %s)" % (wanted, sorted(ids)))
        time.sleep(0.2)

    # vtepd: its API answers once the data plane runs.
    tsc_hz = None
    if args.api:
        while True:
            try:
                tsc_hz = http_json(args.api + "/api/v1/status").get("tsc_hz")
                break
            except OSError:
                if not alive(args.pid) or time.monotonic() > deadline:
                    sys.exit("measure: vtepd's API at %s does not answer" % args.api)
                time.sleep(0.2)

    # Traffic flows once the sources count received frames.
    while sum(tel.cmd("/ethdev/stats,%d" % ids[n])["ipackets"] for n in args.sources.split(",")) == 0:
        if not alive(args.pid) or time.monotonic() > deadline:
            sys.exit("measure: no traffic on %s" % args.sources)
        time.sleep(0.1)

    time.sleep(args.warmup)
    tasks = worker_tasks(args.pid)
    a = sample(tel, ids, args.api, args.pid, tasks)
    time.sleep(args.window)
    b = sample(tel, ids, args.api, args.pid, tasks)
    if not alive(args.pid):
        sys.exit("measure: the process exited during the window")

    window = b["t"] - a["t"]
    out = {"window_s": window, "tsc_hz": tsc_hz, "ports": {}}
    if tasks:
        # Share of the window the forwarding threads were on a CPU, and waiting for one
        # (other processes on their cores): the noise indicator of a shared machine.
        out["worker_threads"] = len(tasks)
        out["worker_oncpu"] = (b["sched"][0] - a["sched"][0]) / 1e9 / window / len(tasks)
        out["worker_waiting"] = (b["sched"][1] - a["sched"][1]) / 1e9 / window / len(tasks)
    for n in ids:
        out["ports"][n] = {k: b["ports"][n][k] - a["ports"][n][k] for k in PORT_KEYS}
    for n in ids:
        out["ports"][n]["window_s"] = b["times"][n] - a["times"][n]

    def rate(names, key):
        return sum(out["ports"][n][key] / out["ports"][n]["window_s"] for n in names.split(","))

    out["source_ipackets"] = sum(out["ports"][n]["ipackets"] for n in args.sources.split(","))
    out["sink_opackets"] = sum(out["ports"][n]["opackets"] for n in args.sinks.split(","))
    out["sink_obytes"] = sum(out["ports"][n]["obytes"] for n in args.sinks.split(","))
    # Rates over each port's own window.
    out["source_pps"] = rate(args.sources, "ipackets")
    out["sink_pps"] = rate(args.sinks, "opackets")
    out["sink_bytes_per_s"] = rate(args.sinks, "obytes")
    if args.api:
        wa = {w["lcore"]: w for w in a["workers"]}
        workers = []
        for w in b["workers"]:
            p = w["packets"] - wa[w["lcore"]]["packets"]
            c = w["cycles"] - wa[w["lcore"]]["cycles"]
            workers.append({"lcore": w["lcore"], "packets": p, "cycles": c,
                            "cycles_per_packet": c / p if p else None,
                            "average_burst": w["average_burst"]})
        out["workers"] = workers
        out["worker_packets"] = sum(w["packets"] for w in workers)
        out["worker_cycles"] = sum(w["cycles"] for w in workers)
        out["drops"] = {k: b["drops"][k] - a["drops"].get(k, 0) for k in b["drops"]
                        if b["drops"][k] - a["drops"].get(k, 0)}
        out["gateway"] = {k: b["gateway"][k] - a["gateway"][k] for k in b["gateway"]}
        out["tx_dropped"] = b["tx_dropped"] - a["tx_dropped"]
        out["fdb_entries"] = b["fdb_entries"]
        out["learned_macs"] = b["learned_macs"]
        out["mempool"] = b["mempool"]
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
