#!/usr/bin/env python3
"""Sequential API calls per second against a running vtepd: one client, one kept-alive
connection, each call sent when the previous answer is in (what a script or vtepctl loop
sees). With --bulk N: the time to load N static MAC entries into --vni in one
POST /api/v1/fdb/bulk (what `vtepctl fdb add --file` sends), then to add one more the
ordinary way (the table's size must not slow single calls).

    scripts/bench/api_rate.py [--api http://127.0.0.1:8179] [--path /api/v1/status] [--seconds 3]
    scripts/bench/api_rate.py --bulk 100000 --vni 5000 --remote 10.0.0.2
"""
import argparse
import http.client
import json
import time
import urllib.parse


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--api", default="http://127.0.0.1:8179")
    p.add_argument("--path", default="/api/v1/status")
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--bulk", type=int, default=0, help="entries to load in one bulk call")
    p.add_argument("--vni", type=int, default=5000)
    p.add_argument("--remote", default="10.0.0.2")
    args = p.parse_args()
    url = urllib.parse.urlparse(args.api)
    conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=300)
    if args.bulk:
        bulk(conn, args)
        return
    calls, start = 0, time.monotonic()
    while time.monotonic() - start < args.seconds:
        conn.request("GET", args.path)
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            raise SystemExit("GET %s: HTTP %d" % (args.path, r.status))
        calls += 1
    took = time.monotonic() - start
    print("%d calls in %.2f s: %.0f calls/s, %.0f us per call" % (calls, took, calls / took, 1e6 * took / calls))


def mac(i):
    return "02:%02x:%02x:%02x:%02x:%02x" % (0xb0, (i >> 24) & 0xFF, (i >> 16) & 0xFF, (i >> 8) & 0xFF, i & 0xFF)


def bulk(conn, args):
    lines = "".join(
        json.dumps({"vni": args.vni, "mac": mac(i), "remote": args.remote}) + "\n" for i in range(args.bulk)
    )
    start = time.monotonic()
    conn.request("POST", "/api/v1/fdb/bulk", body=lines.encode(), headers={"Content-Type": "application/jsonl"})
    r = conn.getresponse()
    body = r.read()
    took = time.monotonic() - start
    if r.status != 201:
        raise SystemExit("POST /api/v1/fdb/bulk: HTTP %d: %s" % (r.status, body[:200]))
    added = json.loads(body)["added"]
    print("%d entries (%d bytes) in one bulk call: %.3f s, %.0f entries/s" % (added, len(lines), took, added / took))
    one = json.dumps({"vni": args.vni, "mac": mac(args.bulk), "remote": args.remote})
    start = time.monotonic()
    conn.request("POST", "/api/v1/fdb", body=one, headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    r.read()
    print("then one POST /api/v1/fdb: HTTP %d in %.1f ms" % (r.status, 1e3 * (time.monotonic() - start)))


if __name__ == "__main__":
    main()
