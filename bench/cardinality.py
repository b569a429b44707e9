#!/usr/bin/env python3
"""Series and /metrics bytes per `per_intent_metrics` mode, and what gzip saves.

For each mode it starts the simulator and the exporter (release binaries, loopback only)
with N watched intents (default 100,000; each with an order id) in one of two mixes:

  realistic (default): 98 % need nobody, 2 % need attention. Of every 1,000: 800
      confirmed, 25 canceled, 25 timed out, 130 before payment (created, viewed, deposit
      wallet assigned: waiting less than their 2h); 5 on chain past their threshold
      (attention_after.on_chain: 1s stands for the 30m of production), 7 failed, 4
      underpaid, 4 rejected. terminal_retention 24h: every outcome is within it.
  onchain: a tenth confirmed and past a 2 s terminal_retention, the rest on chain (the
      first measurement of the modes).

It waits until every intent has been polled, then scrapes /metrics plainly and with
`Accept-Encoding: gzip` and prints, per mode: sample lines (series), per-intent series
per intent, plain bytes, gzip bytes, the ratio, and the median time of 5 plain and 5 gzip
scrapes.

Usage:
  cargo build --release
  python3 bench/cardinality.py [--intents 100000] [--mix realistic|onchain]
                               [--modes all,active,...] [--binary target/release/allscale-exporter]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the shared process and HTTP helpers)

MODES = ["all", "active", "attention", "status_only", "none"]

# Of every 1,000 intents of the realistic mix: (count, status). The last four need
# someone (2 %).
REALISTIC = [(800, 20), (25, -4), (25, -5), (44, 1), (43, 2), (43, 3), (5, 10), (7, -1), (4, -3), (4, -2)]
assert sum(n for n, _ in REALISTIC) == 1000


def status_of(i: int, mix: str) -> int:
    if mix == "onchain":
        return 20 if i % 10 == 0 else 10
    k = i % 1000
    for count, status in REALISTIC:
        if k < count:
            return status
        k -= count
    raise AssertionError("the mix covers every intent")


def write_scenario(path: str, n: int, mix: str):
    with open(path, "w") as f:
        f.write(f"latency: 0ms\nkeys:\n  - api_key: {bench.KEY}\n    api_secret: {bench.SECRET}\nintents:\n")
        for i in range(n):
            lifecycle = f"[{status_of(i, mix)}]"
            f.write(f"  - {{id: {bench.intent_id(i)}, key: {bench.KEY}, lifecycle: {lifecycle}, step: 1s}}\n")


def write_config(path: str, base_url: str, secret: str, n: int, mode: str, mix: str):
    retention = "2s" if mix == "onchain" else "24h"
    attention = "" if mix == "onchain" else "    attention_after: {on_chain: 1s}\n"
    with open(path, "w") as f:
        f.write(
            f"poll_interval: 30s\nrequest_timeout: 10s\nterminal_retention: {retention}\nstores:\n"
            f"  - name: bench\n    base_url: {base_url}\n    api_key: {bench.KEY}\n"
            f"    api_secret_file: {secret}\n    max_requests_per_second: 10000\n"
            f"    max_concurrency: 64\n    http_version: http2\n    fetch_details: false\n"
            f"    per_intent_metrics: {mode}\n{attention}    intents:\n"
        )
        for i in range(n):
            f.write(f"      - {{id: {bench.intent_id(i)}, order_id: order-{i}}}\n")


def scrape(url: str, gzip: bool) -> tuple[bytes, float]:
    req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip" if gzip else "identity"})
    started = time.perf_counter()
    with urllib.request.urlopen(req, timeout=120) as resp:
        body = resp.read()
        assert (resp.headers.get("Content-Encoding") == "gzip") == gzip
    return body, time.perf_counter() - started


def run(binary: str, n: int, mode: str, mix: str, tmp: str, procs: bench.Procs) -> dict:
    scenario = os.path.join(tmp, "scenario.yaml")
    if not os.path.exists(scenario):
        write_scenario(scenario, n, mix)
    sim_port, exp_port = bench.free_port(), bench.free_port()
    procs.start([binary, "simulate", "--listen", f"127.0.0.1:{sim_port}", "--scenario", scenario,
                 "--log.level=warn"], os.path.join(tmp, f"sim-{mode}.log"))
    bench.wait_http(f"http://127.0.0.1:{sim_port}/-/stats", limit=300)
    secret = os.path.join(tmp, "secret")
    with open(secret, "w") as f:
        f.write(bench.SECRET)
    config = os.path.join(tmp, f"config-{mode}.yaml")
    write_config(config, f"http://127.0.0.1:{sim_port}", secret, n, mode, mix)
    procs.start([binary, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{exp_port}",
                 "--log.level=warn", "--config.watch=false"], os.path.join(tmp, f"exporter-{mode}.log"))
    url = f"http://127.0.0.1:{exp_port}/metrics"
    bench.wait_http(f"http://127.0.0.1:{exp_port}/healthz")
    deadline = time.time() + 300
    while True:
        text = scrape(url, False)[0].decode()
        seen = bench.metric_sum(text, "allscale_checkout_intents")
        if seen >= n:
            break
        if time.time() > deadline:
            raise SystemExit(f"{mode}: not every intent polled in time ({seen} of {n})")
        time.sleep(1)
    time.sleep(3)  # onchain: the confirmed ones are past terminal_retention
    plain_times, gzip_times = [], []
    for _ in range(5):
        plain, t = scrape(url, False)
        plain_times.append(t)
        packed, t = scrape(url, True)
        gzip_times.append(t)
    lines = [line for line in plain.decode().splitlines() if line and not line.startswith("#")]
    per_intent = [line for line in lines if 'intent_id="' in line]
    procs.stop_all()
    return {
        "mode": mode,
        "series": len(lines),
        "per_intent_series": len(per_intent),
        "series_per_intent": len(per_intent) / n,
        "plain_bytes": len(plain),
        "gzip_bytes": len(packed),
        "plain_ms": statistics.median(plain_times) * 1000,
        "gzip_ms": statistics.median(gzip_times) * 1000,
    }


def size(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.0f} KB"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--intents", type=int, default=100_000)
    ap.add_argument("--mix", choices=["realistic", "onchain"], default="realistic")
    ap.add_argument("--modes", default=",".join(MODES), help="comma-separated, default every mode")
    ap.add_argument("--binary", default=os.path.join(bench.ROOT, "target", "release", "allscale-exporter"))
    args = ap.parse_args()
    procs = bench.Procs()
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for mode in args.modes.split(","):
                rows.append(run(args.binary, args.intents, mode, args.mix, tmp, procs))
                print(rows[-1], flush=True)
    finally:
        procs.stop_all()
    print(f"\n{args.intents:,} intents, the {args.mix} mix, each with an order id\n")
    print("| per_intent_metrics | series | per-intent series per intent | /metrics | gzip | ratio | scrape ms plain / gzip |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| `{r['mode']}` | {r['series']:,} | {r['series_per_intent']:.3f} | "
              f"{size(r['plain_bytes'])} | {size(r['gzip_bytes'])} | "
              f"{r['plain_bytes'] / max(r['gzip_bytes'], 1):.1f}× | {r['plain_ms']:.0f} / {r['gzip_ms']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
