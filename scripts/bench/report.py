#!/usr/bin/python3
"""Records and summarises scripts/bench.sh's measurements.

    report.py record --run RUN.json --engine vtepd ... -- COMMAND...   one JSON line per run
    report.py line --last runs.jsonl                                    progress line
    report.py table --runs runs.jsonl --markdown F.md --json F.json [--info KEY=VALUE]...

Definitions (also written into the results):
- Mpps: frames sent by the sink ports per second over the window (mixed: both ports, both
  directions).
- Gb/s L2: those frames' bytes without FCS (what DPDK counts) x 8 / window. net_null does not
  count bytes in DPDK 22.11, so where a sink reports 0 bytes they are frames x the frame length
  of the scenario (every generated stream has one length; testpmd forwards frames unchanged).
- Gb/s wire: L2 plus 24 bytes per frame (FCS 4, preamble and SFD 8, inter-frame gap 12).
- cycles/pkt: vtepd: TSC cycles its workers spent in busy polls per received packet, from its
  own counters (GET /api/v1/workers: the difference of cycles_per_packet x packets over the
  window, divided by the difference of packets). testpmd (io, the ceiling, and 5tswap, the
  header-swap reference of --header-swap): TSC Hz x forwarding cores / Mpps,
  which assumes its forwarding cores spend every cycle on the traffic (a saturated poll-mode
  core does: it never sleeps, and its polls are never empty). TSC Hz is EAL's
  (rte_get_tsc_hz(), reported by vtepd's GET /api/v1/status and testpmd's "MHz Clock" line).
- TSC/pps: the same TSC Hz x cores / Mpps for both engines (idle polls included).
- on CPU: the share of the window the forwarding threads (rte-worker-N) actually ran, from
  /proc/PID/task/TID/schedstat. Below 100 % other processes took turns on the measured cores:
  that time is lost to the rate and counted in both cycles/pkt figures (TSC keeps running).
- frame in→out: frame lengths (no FCS) into and out of the engine.
"""

import argparse
import json
import re
import shlex
import statistics
import sys

WIRE_OVERHEAD = 24  # FCS 4 + preamble/SFD 8 + inter-frame gap 12
ENGINE_LABELS = {
    "testpmd": "testpmd (ceiling)",
    "testpmd-5tswap": "testpmd 5tswap (header swap)",
    "vtepd": "vtepd",
}


def load(path):
    try:
        with open(path) as f:
            text = f.read().strip()
        return json.loads(text) if text else None
    except (OSError, ValueError):
        return None


def record(args):
    m = load(args.run)
    manifest = load(args.manifest) or {}
    rec = {
        "engine": args.engine, "scenario": args.scenario, "size": args.size,
        "workers": args.workers, "run": args.run_number, "exit": args.exit,
        "loadavg": args.loadavg, "command": shlex.join(args.command), "ok": m is not None,
    }
    if m is None:
        try:
            with open(args.run.replace(".json", ".err")) as f:
                rec["error"] = f.read().strip()
        except OSError:
            rec["error"] = "no measurement"
    tsc_hz = None
    try:
        with open(args.log, errors="replace") as f:
            log = f.read()
    except OSError:
        log = ""
    if args.engine != "vtepd":
        g = re.search(r"CPU cycles/packet=([0-9.]+) .* at ([0-9]+) MHz Clock", log)
        if g:
            rec["testpmd_core_cycles_per_packet"] = float(g.group(1))
            tsc_hz = int(g.group(2)) * 1_000_000
    else:
        final = load(args.final_stats)
        if final:
            rec["mempool_at_exit"] = final.get("mempool", {}).get("in_use_at_exit")
            rec["final_dropped"] = final.get("totals", {}).get("dropped")
    errors = [line for line in log.splitlines() if re.search(r"\b(ERROR|error|panic|Segmentation)", line)]
    if errors:
        rec["log_errors"] = errors[:5]
    if m is not None:
        tsc_hz = m.get("tsc_hz") or tsc_hz
        window = m["window_s"]
        pps = m["sink_pps"]
        lens = manifest.get("sizes", {}).get(str(args.size), {}).get(args.scenario)
        if m["sink_obytes"] > 0:
            l2 = m["sink_bytes_per_s"]
            rec["bytes"] = "counted by the sink"
        elif lens and isinstance(lens["in"], int):
            l2 = pps * (lens["out"] if args.engine == "vtepd" else lens["in"])
            rec["bytes"] = "frames x frame length (the sink counts no bytes)"
        else:
            l2 = 0
            rec["bytes"] = "unknown"
        rec.update({
            "window_s": window, "tsc_hz": tsc_hz,
            "mpps": pps / 1e6,
            "in_mpps": m["source_pps"] / 1e6,
            "gbps_l2": l2 * 8 / 1e9,
            "gbps_wire": (l2 + WIRE_OVERHEAD * pps) * 8 / 1e9,
            "tsc_per_packet": tsc_hz * args.workers / pps if tsc_hz and pps else None,
            "source_missed": sum(p["imissed"] + p["rx_nombuf"] + p["ierrors"] for p in m["ports"].values()),
            "sink_errors": sum(p["oerrors"] for p in m["ports"].values()),
            "in_packets": m["source_ipackets"], "out_packets": m["sink_opackets"],
            "worker_oncpu": m.get("worker_oncpu"),
            "frame_in": lens["in"] if lens else None,
            "frame_out": (lens["out"] if args.engine == "vtepd" else lens["in"]) if lens else None,
        })
        if args.engine == "vtepd":
            wp, wc = m.get("worker_packets", 0), m.get("worker_cycles", 0)
            rec.update({
                "cycles_per_packet": wc / wp if wp else None,
                "per_worker_cycles": [w["cycles_per_packet"] for w in m.get("workers", [])],
                "per_worker_average_burst": [w["average_burst"] for w in m.get("workers", [])],
                "drops": m.get("drops", {}), "gateway": m.get("gateway", {}),
                "tx_dropped": m.get("tx_dropped", 0), "fdb_entries": m.get("fdb_entries"),
                "learned_macs": m.get("learned_macs"),
            })
        else:
            rec["cycles_per_packet"] = rec["tsc_per_packet"]
    print(json.dumps(rec))


def records(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def fmt(x, spec=".2f"):
    return "-" if x is None else format(x, spec)


def line(args):
    r = records(args.last)[-1]
    head = "  %-14s %-11s %4dB w%d run %d" % (r["engine"], r["scenario"], r["size"], r["workers"], r["run"])
    if not r["ok"]:
        print("%s: FAILED (%s)" % (head, r.get("error", "")))
        return
    extra = ""
    if r["engine"] == "vtepd":
        extra = " drops %d floods %d" % (sum(r["drops"].values()), r["gateway"].get("flood_copies", 0))
    oncpu = r.get("worker_oncpu")
    print("%s: %6.3f Mpps  %7.3f Gb/s L2  %6s cycles/pkt  worker on CPU %s%s  (load %s)"
          % (head, r["mpps"], r["gbps_l2"], fmt(r["cycles_per_packet"], ".0f"),
             "-" if oncpu is None else "%.0f%%" % (100 * oncpu), extra, r["loadavg"]))


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def checks_for(r):
    """What does not add up in one vtepd run."""
    out = []
    if r["exit"] != 0:
        out.append("exit status %s" % r["exit"])
    if not r["ok"]:
        out.append("no measurement: %s" % r.get("error", ""))
        return out
    if r["drops"]:
        out.append("drops in the window: %s" % ", ".join("%s %d" % kv for kv in sorted(r["drops"].items())))
    g = r["gateway"]
    if g.get("flood_copies"):
        out.append("%d flood copies in the window (after warm-up every destination should be known)"
                   % g["flood_copies"])
    if g.get("fdb_full"):
        out.append("FDB full %d times" % g["fdb_full"])
    if r.get("tx_dropped"):
        out.append("%d frames refused by TX" % r["tx_dropped"])
    if r.get("source_missed"):
        out.append("%d missed/no-mbuf/errors on the replaying ports" % r["source_missed"])
    if r["in_mpps"]:
        ratio = r["mpps"] / r["in_mpps"]
        if abs(ratio - 1) > 0.002:
            out.append("out/in rate = %.4f (in %.3f Mpps, out %.3f Mpps)" % (ratio, r["in_mpps"], r["mpps"]))
    if r.get("mempool_at_exit"):
        out.append("%s mbufs still in use at exit" % r["mempool_at_exit"])
    for e in r.get("log_errors", []):
        out.append("log: %s" % e)
    return out


def table(args):
    rs = records(args.runs)
    info = [kv.split("=", 1) for kv in args.info]
    keys = []
    for r in rs:
        k = (r["workers"], r["scenario"], r["size"], r["engine"])
        if k not in keys:
            keys.append(k)
    groups = {k: [r for r in rs if (r["workers"], r["scenario"], r["size"], r["engine"]) == k] for k in keys}

    def summary(k):
        g = [r for r in groups[k] if r["ok"]]
        if not g:
            return None
        mp = [r["mpps"] for r in g]
        return {
            "n": len(g), "of": len(groups[k]), "mpps": median(mp), "min": min(mp), "max": max(mp),
            "gbps_l2": median([r["gbps_l2"] for r in g]), "gbps_wire": median([r["gbps_wire"] for r in g]),
            "cycles": median([r["cycles_per_packet"] for r in g]),
            "tsc": median([r["tsc_per_packet"] for r in g]),
            "tsc_hz": median([r["tsc_hz"] for r in g]),
            "oncpu": median([r.get("worker_oncpu") for r in g]),
            "frames": "%s→%s" % (g[0].get("frame_in"), g[0].get("frame_out")),
        }

    sums = {k: summary(k) for k in keys}
    header = ("| workers | scenario | size | frame in→out | engine | Mpps | runs: min-max | Gb/s L2 "
              "| Gb/s wire | vs ceiling | cycles/pkt | TSC/pps | on CPU |")
    rows = [header, "|" + "---|" * 13]
    for k in keys:
        s = sums[k]
        w, scenario, size, engine = k
        if s is None:
            rows.append("| %d | %s | %d | | %s | failed | 0/%d | | | | | | |"
                        % (w, scenario, size, engine, len(groups[k])))
            continue
        ceiling = sums.get((w, scenario, size, "testpmd"))
        ratio = s["mpps"] / ceiling["mpps"] if ceiling and ceiling["mpps"] else None
        label = ENGINE_LABELS.get(engine, engine)
        cyc = fmt(s["cycles"], ".0f") + (" (workers)" if engine == "vtepd" else " (TSC/pps)")
        rows.append("| %d | %s | %d | %s | %s | %.3f | %d/%d: %.3f-%.3f | %.2f | %.2f | %s | %s | %s | %s |" % (
            w, scenario, size, s["frames"], label, s["mpps"], s["n"], s["of"], s["min"], s["max"],
            s["gbps_l2"], s["gbps_wire"], fmt(ratio, ".2f"), cyc, fmt(s["tsc"], ".0f"),
            "-" if s["oncpu"] is None else "%.0f%%" % (100 * s["oncpu"])))
    tbl = "\n".join(rows)

    checks = []
    for r in rs:
        if r["engine"] == "vtepd":
            for c in checks_for(r):
                checks.append("- vtepd %s %dB w%d run %d: %s" % (r["scenario"], r["size"], r["workers"], r["run"], c))
        elif not r["ok"] or r["exit"] != 0:
            checks.append("- %s %s %dB w%d run %d: %s" % (r["engine"], r["scenario"], r["size"], r["workers"],
                                                         r["run"], r.get("error") or "exit status %s" % r["exit"]))

    pcapgen = ["# traffic and configurations (into the work folder, removed at exit unless --keep)\n%s"
               % args.pcapgen] if args.pcapgen else []
    commands = []
    for k in keys:
        g = groups[k]
        commands.append("# %s %s %dB, %d worker(s) (run 1; later runs differ only in --file-prefix and "
                        "the API port)\n%s" % (k[3], k[1], k[2], k[0], g[0]["command"]))

    runs_rows = ["| engine | scenario | size | workers | run | Mpps | in Mpps | cycles/pkt | testpmd own cycles/pkt "
                 "| on CPU | load avg | notes |", "|" + "---|" * 12]
    for r in rs:
        if not r["ok"]:
            runs_rows.append("| %s | %s | %d | %d | %d | failed | | | | | %s | %s |" % (
                r["engine"], r["scenario"], r["size"], r["workers"], r["run"], r["loadavg"], r.get("error", "")))
            continue
        notes = ""
        if r["engine"] == "vtepd":
            notes = "learned MACs %s, FDB %s" % (r.get("learned_macs"), r.get("fdb_entries"))
        oncpu = r.get("worker_oncpu")
        runs_rows.append("| %s | %s | %d | %d | %d | %.3f | %.3f | %s | %s | %s | %s | %s |" % (
            r["engine"], r["scenario"], r["size"], r["workers"], r["run"], r["mpps"], r["in_mpps"],
            fmt(r["cycles_per_packet"], ".0f"), fmt(r.get("testpmd_core_cycles_per_packet"), ".0f"),
            "-" if oncpu is None else "%.0f%%" % (100 * oncpu), r["loadavg"], notes))

    method = __doc__.split("Definitions (also written into the results):\n", 1)[1].strip()
    md = ["# vtepd end-to-end benchmark (scripts/bench.sh)", ""]
    md += ["- **%s**: %s" % (k, v) for k, v in info]
    md += ["", "## Results (medians)", "", tbl, "", "## Method", "", method, "",
           "Harness: DPDK virtual devices, no NIC. net_pcap replays generated traffic "
           "(rx_pcap=...,infinite_rx=1, preloaded into mbufs; one rx_pcap per RX queue/worker) "
           "into the engine, net_null,no-rx=1 is the sink; for the mixed run both net_pcap ports "
           "receive and, given no TX stream, drop and count what they transmit (net_pcap's "
           "tx_drop), for testpmd and vtepd alike. The replay itself (mbuf allocation and a copy "
           "per frame in net_pcap's RX) runs on the measured core, so the ceiling is testpmd's io "
           "forwarding on the same devices and cores, and 'vs ceiling' is an engine's Mpps over "
           "testpmd io's. testpmd 5tswap (--header-swap) parses every packet's Ethernet, VLAN, IP "
           "and UDP/TCP headers and swaps their source and destination fields: what touching the "
           "headers costs here, with no lookup. Sizes: the tenant frame on the access port, "
           "802.1Q-tagged, without FCS; the tunnels carry it untagged plus 50 bytes (VXLAN/IPv4) "
           "or 42 (NVGRE/IPv4).", "",
           "## Checks", ""]
    md += checks or ["- nothing unexpected: no drops, no flooding after warm-up, out = in, no mbuf "
                     "left at exit, every process exited cleanly"]
    md += ["", "## Commands", "", "```"] + pcapgen + commands + ["```", "", "## Every run", ""] + runs_rows + [""]
    with open(args.markdown, "w") as f:
        f.write("\n".join(md))
    with open(args.json, "w") as f:
        json.dump({"info": dict(info), "runs": rs}, f, indent=1)

    print()
    for k, v in info:
        print("%s: %s" % (k, v))
    print()
    print(tbl)
    print()
    print("Mpps: frames out of the sink port(s) per second; Gb/s L2 without FCS, wire + 24 B/frame;")
    print("cycles/pkt: vtepd from its worker counters (busy cycles / packet), testpmd = TSC Hz x cores / pps.")
    print()
    print("Checks:")
    print("\n".join(checks) if checks else "  nothing unexpected")
    print()
    first = keys[0][2] if keys else None
    shown = pcapgen + [c for k, c in zip(keys, commands) if k[2] == first]
    print("Commands for %sB (every size's are in %s; other sizes use the -<size>- pcaps):" % (first, args.markdown))
    print("\n".join(shown))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("record")
    p.add_argument("--run", required=True)
    p.add_argument("--engine", required=True, choices=sorted(ENGINE_LABELS))
    p.add_argument("--scenario", required=True)
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--workers", type=int, required=True)
    p.add_argument("--run-number", type=int, required=True)
    p.add_argument("--exit", type=int, required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--final-stats", required=True)
    p.add_argument("--loadavg", required=True)
    p.add_argument("--manifest", required=True)
    p.add_argument("command", nargs=argparse.REMAINDER)
    p.set_defaults(func=record)
    p = sub.add_parser("line")
    p.add_argument("--last", required=True)
    p.set_defaults(func=line)
    p = sub.add_parser("table")
    p.add_argument("--runs", required=True)
    p.add_argument("--markdown", required=True)
    p.add_argument("--json", required=True)
    p.add_argument("--info", action="append", default=[])
    p.add_argument("--pcapgen", help="the traffic generator's command line")
    p.set_defaults(func=table)
    args = ap.parse_args()
    if getattr(args, "command", None) and args.command[0] == "--":
        args.command = args.command[1:]
    args.func(args)


if __name__ == "__main__":
    sys.exit(main())
