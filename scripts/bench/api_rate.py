#!/usr/bin/env python3
"""Sequential API calls per second against a running vtepd: one client, one kept-alive
connection, each call sent when the previous answer is in (what a script or vtepctl loop
sees).

    scripts/bench/api_rate.py [--api http://127.0.0.1:8179] [--path /api/v1/status] [--seconds 3]
"""
import argparse
import http.client
import time
import urllib.parse


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--api", default="http://127.0.0.1:8179")
    p.add_argument("--path", default="/api/v1/status")
    p.add_argument("--seconds", type=float, default=3.0)
    args = p.parse_args()
    url = urllib.parse.urlparse(args.api)
    conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=30)
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


if __name__ == "__main__":
    main()
