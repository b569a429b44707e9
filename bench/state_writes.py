#!/usr/bin/env python3
"""Bytes the state database writes per status change (issue #13's target: at most 300).

For each point it starts the simulator with intents whose status changes at every poll
(non-terminal statuses in turn, one per poll interval) and the exporter with a
`state_file`, lets the changes run for a warm-up, then measures over a window:

  changes/s        status changes the exporter counted (allscale_checkout_intent_transitions_total)
  write_bytes      bytes the exporter process caused to be written to storage
                   (/proc/PID/io write_bytes, what the block layer sees)
  wchar            bytes it handed to write() and friends (/proc/PID/io wchar, includes
                   the HTTP answers it sends: an upper bound)
  bytes/change     write_bytes / changes

The window is long enough to take in at least one compaction of the events table, whose
cost is shared by every change it folds (see docs/performance.md).

Usage:
  cargo build --release
  python3 bench/state_writes.py                          # 20k and 100k, about 8 minutes
  python3 bench/state_writes.py --points 2000 --window 20  # quick look
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

from bench import KEY, ROOT, SECRET, Procs, free_port, http, intent_id, metric_sum, wait_http

# Non-terminal statuses in turn: every step a change.
CYCLE = [1, 2, 3, 4, 5, 10]


def proc_io(pid: int) -> dict[str, int]:
    with open(f"/proc/{pid}/io") as f:
        return {k: int(v) for k, v in (line.split(": ") for line in f)}


def run_point(binary: str, n: int, interval_s: float, warmup: float, window: float, tmp: str,
              procs: Procs) -> dict:
    steps = int((warmup + window) / interval_s) + 20
    scenario = os.path.join(tmp, f"scenario-{n}.yaml")
    lifecycle = ", ".join(str(CYCLE[i % len(CYCLE)]) for i in range(steps))
    with open(scenario, "w") as f:
        f.write(f"keys:\n  - api_key: {KEY}\n    api_secret: {SECRET}\nintents:\n")
        for i in range(n):
            f.write(f"  - {{id: {intent_id(i)}, key: {KEY}, lifecycle: [{lifecycle}], "
                    f"step: {interval_s}s}}\n")
    sim_port, exp_port = free_port(), free_port()
    procs.start([binary, "simulate", "--listen", f"127.0.0.1:{sim_port}", "--scenario", scenario,
                 "--log.level=warn"], os.path.join(tmp, f"sim-{n}.log"))
    wait_http(f"http://127.0.0.1:{sim_port}/-/stats", limit=300)
    secret = os.path.join(tmp, "secret")
    with open(secret, "w") as f:
        f.write(SECRET)
    os.chmod(secret, 0o600)
    state = os.path.join(tmp, f"state-{n}.db")
    config = os.path.join(tmp, f"config-{n}.yaml")
    with open(config, "w") as f:
        f.write(f"poll_interval: {interval_s}s\nrequest_timeout: 10s\nstate_file: {state}\nstores:\n"
                f"  - name: bench\n    base_url: http://127.0.0.1:{sim_port}\n    api_key: {KEY}\n"
                f"    api_secret_file: {secret}\n    max_requests_per_second: {n / interval_s * 3}\n"
                f"    max_concurrency: 64\n    http_version: http2\n    intents:\n")
        for i in range(n):
            f.write(f"      - {intent_id(i)}\n")
    exp = procs.start([binary, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{exp_port}",
                       "--log.level=warn", "--config.watch=false", "--config.check-interval=0s"],
                      os.path.join(tmp, f"exporter-{n}.log"))
    base = f"http://127.0.0.1:{exp_port}"
    wait_http(base + "/healthz")

    def changes() -> float:
        return metric_sum(http(base + "/metrics")[1].decode(), "allscale_checkout_intent_transitions_total")

    time.sleep(warmup)
    c0, io0, t0 = changes(), proc_io(exp.pid), time.time()
    time.sleep(window)
    c1, io1, t1 = changes(), proc_io(exp.pid), time.time()
    procs.stop_all()
    changed = max(c1 - c0, 1)
    wrote = io1["write_bytes"] - io0["write_bytes"]
    return {
        "intents": n,
        "changes_per_s": changed / (t1 - t0),
        "write_bytes": wrote,
        "wchar": io1["wchar"] - io0["wchar"],
        "bytes_per_change": wrote / changed,
        "wchar_per_change": (io1["wchar"] - io0["wchar"]) / changed,
        "db_mb": sum(os.path.getsize(state + s) for s in ("", "-wal") if os.path.exists(state + s)) / 1e6,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "allscale-exporter"))
    ap.add_argument("--points", default="20000,100000")
    ap.add_argument("--interval", type=float, default=10.0, help="poll_interval = status step, seconds")
    ap.add_argument("--warmup", type=float, default=30.0)
    ap.add_argument("--window", type=float, default=120.0)
    ap.add_argument("--dir", help="where the database goes (default: a temp dir; tmpfs writes no blocks)")
    args = ap.parse_args()
    procs = Procs()
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="allscale-state-bench-", dir=args.dir) as tmp:
            for n in [int(p) for p in args.points.split(",")]:
                row = run_point(args.binary, n, args.interval, args.warmup, args.window, tmp, procs)
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    finally:
        procs.stop_all()
    print("| intents | status changes/s | write_bytes/change | wchar/change | database MB |")
    print("|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['intents']:,} | {r['changes_per_s']:.0f} | {r['bytes_per_change']:.0f} "
              f"| {r['wchar_per_change']:.0f} | {r['db_mb']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
