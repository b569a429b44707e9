#!/usr/bin/env python3
"""Series and /metrics bytes per `per_intent_metrics` mode, and what gzip saves.

For each mode it starts the simulator and the exporter (release binaries, loopback only)
with N watched intents (default 100,000; a tenth of them confirmed and past a 2 s
terminal_retention, the rest on chain; each with an order id), waits until every intent
has been polled, then scrapes /metrics plainly and with `Accept-Encoding: gzip` and
prints, per mode: sample lines (series), per-intent series per intent, plain bytes, gzip
bytes, the ratio, and the median time of 5 plain and 5 gzip scrapes.

Usage:
  cargo build --release
  python3 bench/cardinality.py [--intents 100000] [--binary target/release/allscale-exporter]
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

MODES = ["all", "active", "status_only", "none"]


def write_scenario(path: str, n: int):
    with open(path, "w") as f:
        f.write(f"latency: 0ms\nkeys:\n  - api_key: {bench.KEY}\n    api_secret: {bench.SECRET}\nintents:\n")
        for i in range(n):
            lifecycle = "[20]" if i % 10 == 0 else "[10]"
            f.write(f"  - {{id: {bench.intent_id(i)}, key: {bench.KEY}, lifecycle: {lifecycle}, step: 1s}}\n")


def write_config(path: str, base_url: str, secret: str, n: int, mode: str):
    with open(path, "w") as f:
        f.write(
            "poll_interval: 30s\nrequest_timeout: 10s\nterminal_retention: 2s\nstores:\n"
            f"  - name: bench\n    base_url: {base_url}\n    api_key: {bench.KEY}\n"
            f"    api_secret_file: {secret}\n    max_requests_per_second: 10000\n"
            f"    max_concurrency: 64\n    http_version: http2\n    fetch_details: false\n"
            f"    per_intent_metrics: {mode}\n    intents:\n"
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


def run(binary: str, n: int, mode: str, tmp: str, procs: bench.Procs) -> dict:
    scenario = os.path.join(tmp, "scenario.yaml")
    if not os.path.exists(scenario):
        write_scenario(scenario, n)
    sim_port, exp_port = bench.free_port(), bench.free_port()
    procs.start([binary, "simulate", "--listen", f"127.0.0.1:{sim_port}", "--scenario", scenario,
                 "--log.level=warn"], os.path.join(tmp, f"sim-{mode}.log"))
    bench.wait_http(f"http://127.0.0.1:{sim_port}/-/stats", limit=300)
    secret = os.path.join(tmp, "secret")
    with open(secret, "w") as f:
        f.write(bench.SECRET)
    config = os.path.join(tmp, f"config-{mode}.yaml")
    write_config(config, f"http://127.0.0.1:{sim_port}", secret, n, mode)
    procs.start([binary, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{exp_port}",
                 "--log.level=warn", "--config.watch=false"], os.path.join(tmp, f"exporter-{mode}.log"))
    url = f"http://127.0.0.1:{exp_port}/metrics"
    bench.wait_http(f"http://127.0.0.1:{exp_port}/healthz")
    deadline = time.time() + 300
    while True:
        text = scrape(url, False)[0].decode()
        seen = bench.metric_sum(text, "allscale_checkout_intents")
        if seen >= n and bench.metric_sum(text, "allscale_checkout_intents", 'status="on_chain"') >= n * 0.9 - 1:
            break
        if time.time() > deadline:
            raise SystemExit(f"{mode}: not every intent polled in time ({seen} of {n})")
        time.sleep(1)
    time.sleep(3)  # the confirmed ones are past terminal_retention
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--intents", type=int, default=100_000)
    ap.add_argument("--binary", default=os.path.join(bench.ROOT, "target", "release", "allscale-exporter"))
    args = ap.parse_args()
    procs = bench.Procs()
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for mode in MODES:
                rows.append(run(args.binary, args.intents, mode, tmp, procs))
                print(rows[-1], flush=True)
    finally:
        procs.stop_all()
    print(f"\n{args.intents:,} intents (10 % confirmed and past terminal_retention, each with an order id)\n")
    print("| per_intent_metrics | series | per-intent series per intent | /metrics | gzip | ratio | scrape ms plain / gzip |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| `{r['mode']}` | {r['series']:,} | {r['series_per_intent']:.2f} | "
              f"{r['plain_bytes'] / 1e6:.1f} MB | {r['gzip_bytes'] / 1e6:.2f} MB | "
              f"{r['plain_bytes'] / max(r['gzip_bytes'], 1):.1f}× | {r['plain_ms']:.0f} / {r['gzip_ms']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
