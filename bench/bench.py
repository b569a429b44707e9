#!/usr/bin/env python3
"""Whole-process benchmark of allscale-exporter against its built-in simulator.

For each point (number of watched intents) it starts the simulator and the exporter
(release binaries, loopback only), lets every intent be polled, then measures:

  polls/s          requests the exporter completed per second in the window
  CPU us/poll      exporter CPU time (user+sys, /proc/PID/stat) / polls in the window
  RSS MB           exporter resident memory at the end (/proc/PID/status VmRSS)
  RSS/intent       RSS / intents
  /metrics median  median wall time of 20 scrapes, and the page size
  reload ms        POST /-/reload of a config that changes 1 % of the intents
                   (applied when the answer comes back), with counters checked for reset
  budget           a run with max_requests_per_second below what polling wants:
                   achieved rate vs budget, from the simulator's per-second counts

Usage:
  cargo build --release
  python3 bench/bench.py                      # 1k, 10k, 100k (about 6 minutes)
  python3 bench/bench.py --points 1000 --quick    # CI smoke: seconds, asserts no timing

Everything talks to 127.0.0.1 only, and every child process is stopped on exit.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEY = "st_bench_key"
SECRET = "st_bench_secret"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def finish(table: str, problems: list[str], data, json_path: str | None) -> int:
    """Prints the table (and writes `data` as JSON when asked); 1 when anything is wrong."""
    print(table)
    if json_path:
        with open(json_path, "w") as f:
            json.dump(data, f, indent=2)
    for p in problems:
        print(f"problem: {p}", file=sys.stderr)
    return 1 if problems else 0


def intent_id(i: int) -> str:
    return f"6700{i:020x}"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(url: str, method: str = "GET", timeout: float = 60.0) -> tuple[int, bytes]:
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def metric_sum(text: str, name: str, must: str = "") -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and must in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


class Procs:
    """Child processes, all stopped on exit."""

    def __init__(self):
        self.children: list[subprocess.Popen] = []

    def start(self, args: list[str], log: str) -> subprocess.Popen:
        p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=open(log, "w"))
        self.children.append(p)
        return p

    def stop_all(self):
        for p in self.children:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.children:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        self.children.clear()


def wait_http(url: str, limit: float = 60.0):
    deadline = time.time() + limit
    while time.time() < deadline:
        try:
            if http(url, timeout=5)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {url}")


def write_scenario(path: str, n: int, latency_ms: int = 0):
    with open(path, "w") as f:
        f.write(f"latency: {latency_ms}ms\nkeys:\n  - api_key: {KEY}\n    api_secret: {SECRET}\nintents:\n")
        for i in range(n):
            f.write(f"  - {{id: {intent_id(i)}, key: {KEY}, lifecycle: [1, 2, 10], step: 1h}}\n")


def write_config(path: str, base_url: str, secret: str, ids, interval: str, rps: float,
                 http_version: str, mode: str = "active"):
    with open(path + ".tmp", "w") as f:
        f.write(
            f"poll_interval: {interval}\nrequest_timeout: 10s\nstores:\n"
            f"  - name: bench\n    base_url: {base_url}\n    api_key: {KEY}\n"
            f"    api_secret_file: {secret}\n    max_requests_per_second: {rps}\n"
            f"    max_concurrency: 64\n    http_version: {http_version}\n"
            f"    per_intent_metrics: {mode}\n    intents:\n"
        )
        for i in ids:
            f.write(f"      - {intent_id(i)}\n")
    os.replace(path + ".tmp", path)


def run_point(binary: str, n: int, interval_s: float, window: float, budget: float | None,
              tmp: str, procs: Procs, latency_ms: int = 0, http_version: str = "http2",
              mode: str = "active") -> dict:
    """One benchmark point; `budget` set = the rate-limit run."""
    extra = max(1, n // 100)
    scenario = os.path.join(tmp, f"scenario-{n}.yaml")
    write_scenario(scenario, n + extra, latency_ms)
    sim_port, exp_port = free_port(), free_port()
    sim = procs.start([binary, "simulate", "--listen", f"127.0.0.1:{sim_port}", "--scenario",
                       scenario, "--log.level=warn"], os.path.join(tmp, f"sim-{n}.log"))
    wait_http(f"http://127.0.0.1:{sim_port}/-/stats", limit=300)
    secret = os.path.join(tmp, "secret")
    with open(secret, "w") as f:
        f.write(SECRET)
    config = os.path.join(tmp, f"config-{n}.yaml")
    wanted = n / interval_s
    rps = budget if budget else max(10.0, wanted * 3)
    write_config(config, f"http://127.0.0.1:{sim_port}", secret, range(n), f"{interval_s}s", rps,
                 http_version, mode)
    exp = procs.start([binary, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{exp_port}",
                       "--log.level=warn", "--config.watch=false", "--config.check-interval=0s"],
                      os.path.join(tmp, f"exporter-{n}.log"))
    base = f"http://127.0.0.1:{exp_port}"
    wait_http(base + "/healthz")

    def polls() -> float:
        # Counted by the simulator, so the measurement window has no /metrics scrape in it.
        stats = json.loads(http(f"http://127.0.0.1:{sim_port}/-/stats")[1])
        return float(sum(stats["requests_by_key"].values()))

    # Warm-up: every intent polled once (one interval), then measure a window.
    deadline = time.time() + interval_s * 2 + 30
    while polls() < n and time.time() < deadline:
        time.sleep(0.5)
    p0, c0, t0 = polls(), cpu_seconds(exp.pid), time.time()
    time.sleep(window)
    p1, c1, t1 = polls(), cpu_seconds(exp.pid), time.time()
    sim_stats = json.loads(http(f"http://127.0.0.1:{sim_port}/-/stats")[1])
    row = {
        "intents": n,
        "all_polled": len(sim_stats["authenticated_by_intent"]) >= n,
        "polls_per_s": (p1 - p0) / (t1 - t0),
        "cpu_us_per_poll": (c1 - c0) / max(p1 - p0, 1) * 1e6,
    }
    if budget:
        stats = json.loads(http(f"http://127.0.0.1:{sim_port}/-/stats")[1])
        per_second = stats["per_second_by_key"].get(KEY, {})
        lo, hi = int(t0) + 1, int(t1) - 1  # whole seconds inside the window
        counts = [per_second.get(str(s), 0) for s in range(lo, hi)]
        row.update(budget=budget, achieved=statistics.mean(counts), max_second=max(counts),
                   seconds=len(counts))
    else:
        times, size = [], 0
        for _ in range(20):
            s = time.perf_counter()
            status, body = http(base + "/metrics")
            times.append(time.perf_counter() - s)
            size = len(body)
            assert status == 200
        row.update(metrics_ms=statistics.median(times) * 1000, metrics_bytes=size,
                   rss_mb=rss_mb(exp.pid))
        row["rss_kb_per_intent"] = row["rss_mb"] * 1024 / n
        def exported() -> float:
            return metric_sum(http(base + "/metrics")[1].decode(), "allscale_api_requests_total")

        before = exported()
        changed = list(range(extra, n)) + list(range(n, n + extra))  # 1 % swapped
        write_config(config, f"http://127.0.0.1:{sim_port}", secret, changed, f"{interval_s}s", rps,
                     http_version, mode)
        s = time.perf_counter()
        status, body = http(base + "/-/reload", method="POST")
        row["reload_ms"] = (time.perf_counter() - s) * 1000
        assert status == 200 and b"reloaded" in body, body
        after = exported()
        row["counters_kept"] = after >= before
    procs.stop_all()
    return row


def table(rows: list[dict]) -> str:
    out = ["| intents | polls/s | CPU µs/poll | RSS MB | RSS/intent KB | /metrics median ms | /metrics size MB | reload ms |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(
            f"| {r['intents']:,} | {r['polls_per_s']:.0f} | {r['cpu_us_per_poll']:.1f} | {r['rss_mb']:.1f} "
            f"| {r['rss_kb_per_intent']:.2f} | {r['metrics_ms']:.1f} | {r['metrics_bytes'] / 1e6:.2f} "
            f"| {r['reload_ms']:.0f} |")
    return "\n".join(out)


def run_floor(binary: str) -> int:
    """Bare GETs against the simulator at the 100k point's rate: the exporter's transport
    and reqwest, each over HTTP/1.1 and HTTP/2."""
    floor = os.path.join(os.path.dirname(os.path.dirname(binary)), "release", "examples", "http_floor")
    if not os.path.exists(floor):
        print(f"{floor} not found: run `cargo build --release --example http_floor`", file=sys.stderr)
        return 2
    procs = Procs()
    try:
        with tempfile.TemporaryDirectory(prefix="allscale-floor-") as tmp:
            scenario = os.path.join(tmp, "scenario.yaml")
            write_scenario(scenario, 1)
            port = free_port()
            procs.start([binary, "simulate", "--listen", f"127.0.0.1:{port}", "--scenario", scenario,
                         "--log.level=warn"], os.path.join(tmp, "sim.log"))
            wait_http(f"http://127.0.0.1:{port}/-/stats")
            # An unrouted path: the simulator answers a small error envelope, no auth work.
            for client in ("transport", "reqwest"):
                for version in ("http1", "http2"):
                    subprocess.run([floor, f"http://127.0.0.1:{port}/floor", client, version, "3333"],
                                   check=True)
    finally:
        procs.stop_all()
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "allscale-exporter"))
    ap.add_argument("--points", default="1000,10000,100000")
    ap.add_argument("--interval", type=float, default=30.0, help="poll_interval in seconds")
    ap.add_argument("--window", type=float, default=30.0, help="measurement window in seconds")
    ap.add_argument("--budget-intents", type=int, default=10000,
                    help="intents for the rate-limit run (0 skips it)")
    ap.add_argument("--latency", type=int, default=0, help="simulator latency per answer, ms")
    ap.add_argument("--quick", action="store_true", help="short smoke run: 2 s interval, 3 s window")
    ap.add_argument("--http-version", default="http2", choices=["auto", "http1", "http2"],
                    help="the store's http_version (default http2, what an https API that offers "
                         "it gets with auto; auto on the simulator's plain http is HTTP/1.1)")
    ap.add_argument("--floor", action="store_true",
                    help="instead: the HTTP layer's own CPU per request (examples/http_floor.rs; "
                         "cargo build --release --example http_floor)")
    ap.add_argument("--json", help="also write the rows as JSON here")
    ap.add_argument("--per-intent-metrics", default="active",
                    choices=["all", "active", "attention", "status_only", "none"],
                    help="the store's per_intent_metrics (default: the exporter's default)")
    args = ap.parse_args()
    if args.floor:
        return run_floor(args.binary)
    if args.quick:
        args.interval, args.window, args.budget_intents = 2.0, 3.0, 1000
    if not os.path.exists(args.binary):
        print(f"{args.binary} not found: run `cargo build --release` first", file=sys.stderr)
        return 2
    procs = Procs()
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="allscale-bench-") as tmp:
            for n in [int(p) for p in args.points.split(",")]:
                row = run_point(args.binary, n, args.interval, args.window, None, tmp, procs,
                                args.latency, args.http_version, args.per_intent_metrics)
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
            budget_row = None
            if args.budget_intents:
                n = args.budget_intents
                budget = round(n / args.interval * 0.75, 1)
                budget_row = run_point(args.binary, n, args.interval, args.window, budget, tmp, procs,
                                       http_version=args.http_version)
                print(json.dumps(budget_row), file=sys.stderr, flush=True)
    finally:
        procs.stop_all()
    print(f"http_version: {args.http_version}, per_intent_metrics: {args.per_intent_metrics}")
    print(table(rows))
    if budget_row:
        b = budget_row
        print(f"\nbudget: {b['intents']:,} intents wanting {b['intents'] / args.interval:.0f}/s, "
              f"max_requests_per_second {b['budget']}: achieved {b['achieved']:.1f}/s "
              f"({b['achieved'] / b['budget'] * 100:.1f} %), busiest second {b['max_second']} "
              f"over {b['seconds']} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"points": rows, "budget": budget_row}, f, indent=2)
    bad = [r for r in rows if not r["counters_kept"]]
    if bad:
        print("counter reset after reload!", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
