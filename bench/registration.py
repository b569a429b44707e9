#!/usr/bin/env python3
"""Throughput and latency of the registration API (issue #13's targets), with polling running.

It starts the simulator (knowing every id the run will register, each non-terminal) and the
exporter with a `state_file` (so each 200 means committed to the state database, WAL,
`synchronous=FULL`) and a `registration:` block, then:

  1. batches     registers the preloaded intents (100,000 by default) through
                 `POST /api/v1/intents` in batches of 1,000 from 4 Python keep-alive
                 clients: intents/s over the whole preload, latency per batch
                 (target: >= 50,000 intents/s)
  2. steady      waits until every preloaded intent was polled once
  3. paced       wrk, 32 keep-alive connections (one wrk thread each), one new intent per
                 request, sent on a fixed schedule of 2,000/s for 30 s (target: >= 2,000/s,
                 p99 <= 50 ms); latency is timed by the Lua script itself (wrk's own
                 histogram is printed next to it: on this wrk 4.1 it disagreed with the
                 script, with Little's law and with the cross-check below); a `response`
                 hook counts non-200 answers and sums `registered`
  4. flat out    the same for 10 s with no schedule: the ceiling
     cross-check one more Python client on its own connection registers one intent at a
                 time during each wrk run, timing each request
  5. budget      the simulator's per-second poll counts over each wrk run against the
                 store's `max_requests_per_second` (a bit above preload / 30 s, so the budget
                 binds once the run has added intents): no second may be above it
  6. checks      `allscale_exporter_watched_intents` and, after a SIGKILL (no final save),
                 the API-registered intents in the state database are the preload plus
                 every registration answered 200 (plus at most one abandoned in-flight
                 request per connection: committed, never answered)

Usage:
  cargo build --release
  python3 bench/registration.py                 # 100k preloaded, 30 s + 10 s, ~2 minutes
  python3 bench/registration.py --quick         # smoke: 2,000 preloaded (asserts no timing)
  python3 bench/registration.py --dir DIR       # where the state database goes (not a tmpfs)

Exits 1 on a non-200, a count that does not add up or a second of polling above the budget
(not on a missed timing target). Needs wrk (apt-get install wrk). Everything talks to
127.0.0.1 only, and every child process is stopped on exit.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.client import HTTPConnection

from bench import (finish, KEY, ROOT, SECRET, Procs, cpu_seconds, free_port, http, intent_id, metric_sum,
                   wait_http, write_scenario)

TOKEN = "bench-registration-token-0123456789"
STORE = "main"

# One thread state per wrk thread. Thread k of n registers ids first+k-1, first+k-1+n, ...
# below `last`; past it (the pool is used up) it re-registers the first id and counts it.
LUA = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end
local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  first, last, step, rate = tonumber(args[1]), tonumber(args[2]), tonumber(args[3]), tonumber(args[4])
  nextid = first + tid - 1
  non200, registered, already, exhausted = 0, 0, 0, 0
  -- Own latencies, in 0.1 ms buckets: with one connection per thread (the default),
  -- each response answers this thread's last request.
  hist, sent_at = {}, nil
  -- With a rate, this thread's requests go out at fixed times, rate/step per second
  -- (each call takes the next slot; a late one goes at once).
  period = rate > 0 and step / rate * 1000 or 0
  slot = nil
end
function delay()
  if period == 0 then return 0 end
  local now = now_ms()
  if slot == nil then slot = now end
  local wait = slot - now
  slot = slot + period
  if wait < 0 then return 0 end
  return math.floor(wait)
end
local function body(i)
  return string.format('{"store":"%s","intents":[{"id":"6700%020x","order_id":"order-%d"}]}',
                       STORE, i, i)
end
function request()
  -- wrk's probe call runs in the main state, where init never ran.
  if nextid == nil then return wrk.format("POST", "/api/v1/intents", HEADERS, body(0)) end
  local i = nextid
  nextid = nextid + step
  sent_at = now_ms()
  if i >= last then
    exhausted = exhausted + 1
    i = first
  end
  return wrk.format("POST", "/api/v1/intents", HEADERS, body(i))
end
function response(status, headers, resp)
  if sent_at then
    local b = math.floor((now_ms() - sent_at) * 10)
    hist[b] = (hist[b] or 0) + 1
    sent_at = nil
  end
  if status ~= 200 then
    non200 = non200 + 1
    return
  end
  registered = registered + tonumber(resp:match('"registered":(%d+)') or 0)
  already = already + tonumber(resp:match('"already_watched":(%d+)') or 0)
end
function done(summary, latency, requests)
  local t = {non200 = 0, registered = 0, already = 0, exhausted = 0}
  local all, n = {}, 0
  for _, thread in ipairs(threads) do
    for k, _ in pairs(t) do t[k] = t[k] + thread:get(k) end
    for b, c in pairs(thread:get("hist")) do
      all[b] = (all[b] or 0) + c
      n = n + c
    end
  end
  local buckets = {}
  for b, _ in pairs(all) do buckets[#buckets + 1] = b end
  table.sort(buckets)
  local function own(q)  -- nearest rank, the bucket's upper edge, ms
    local rank, seen = math.max(1, math.ceil(q / 100 * n)), 0
    for _, b in ipairs(buckets) do
      seen = seen + all[b]
      if seen >= rank then return (b + 1) / 10 end
    end
    return 0
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"non200":%d,"registered":%d,"already":%d,' ..
    '"exhausted":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,' ..
    '"status_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"p999_us":%d,"max_us":%d,"mean_us":%.1f,"own_n":%d,"own_p50_ms":%.1f,' ..
    '"own_p99_ms":%.1f,"own_p999_ms":%.1f,"own_max_ms":%.1f}\n',
    summary.requests, summary.duration, t.non200, t.registered, t.already, t.exhausted,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean, n, own(50), own(99), own(99.9),
    own(100)))
end
"""


def fs_type(path: str) -> str:
    out = subprocess.run(["stat", "-f", "-c", "%T", path], capture_output=True, text=True)
    return out.stdout.strip()


def percentile(values: list[float], q: float) -> float:
    """Nearest rank."""
    s = sorted(values)
    return s[min(len(s), max(1, math.ceil(q / 100 * len(s)))) - 1]


def register_batches(port: int, first: int, n: int, batch: int, clients: int) -> dict:
    """Registers ids first..first+n in batches from `clients` keep-alive connections."""
    bodies = []
    for start in range(first, first + n, batch):
        items = [{"id": intent_id(i), "order_id": f"order-{i}"}
                 for i in range(start, min(start + batch, first + n))]
        bodies.append(json.dumps({"store": STORE, "intents": items}).encode())
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    lock = threading.Lock()
    queue = list(range(len(bodies)))
    latencies: list[float] = []
    bad: list[tuple[int, bytes]] = []
    counts = {"registered": 0, "already": 0}

    failures: list[BaseException] = []

    def client():
        try:
            send()
        except BaseException as e:  # noqa: BLE001 - reported after the join
            failures.append(e)

    def send():
        conn = HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                if not queue:
                    break
                k = queue.pop()
            s = time.perf_counter()
            conn.request("POST", "/api/v1/intents", body=bodies[k], headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            elapsed = time.perf_counter() - s
            with lock:
                latencies.append(elapsed)
                if resp.status != 200:
                    bad.append((resp.status, data[:200]))
                else:
                    answer = json.loads(data)
                    counts["registered"] += answer["registered"]
                    counts["already"] += answer["already_watched"]
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if failures:
        raise SystemExit(f"a batch client failed: {failures[0]!r}")
    return {
        "intents": n, "batch": batch, "clients": clients, "requests": len(bodies),
        "seconds": wall, "intents_per_s": n / wall,
        "p50_ms": percentile(latencies, 50) * 1000, "p99_ms": percentile(latencies, 99) * 1000,
        "max_ms": max(latencies) * 1000, "non200": len(bad), "bad": bad[:3],
        "registered": counts["registered"], "already": counts["already"],
    }


def sim_stats(port: int) -> dict:
    return json.loads(http(f"http://127.0.0.1:{port}/-/stats")[1])


def durable_count(state: str) -> int:
    """Intents the state database holds as registered through the API (sources bit 8):
    each one's newest event, else its `intents` row (what the `intent_state` view shows,
    computed here in one pass: the view's NOT EXISTS is slow on a large database)."""
    db = sqlite3.connect(state)
    try:
        (sid,) = db.execute("SELECT id FROM stores WHERE name = ?", (STORE,)).fetchone()
        current = {i: src for i, src in db.execute("SELECT id, sources FROM intents WHERE store = ?", (sid,))}
        for i, gone, src, _ in db.execute(
                "SELECT lower(hex(id)), gone, sources, max(seq) FROM events WHERE store = ? GROUP BY id",
                (sid,)):
            if gone:
                current.pop(i, None)
            else:
                current[i] = src
        return sum(1 for src in current.values() if src & 8)
    finally:
        db.close()


class Probe(threading.Thread):
    """A cross-check of wrk's latencies: one more client, on its own keep-alive connection,
    registering one new intent at a time (ids from `first`) while wrk runs."""

    def __init__(self, port: int, first: int, last: int):
        super().__init__(daemon=True)
        self.port, self.next, self.last = port, first, last
        self.latencies: list[float] = []
        self.bad = 0
        self.registered = 0
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self):
        try:
            conn = HTTPConnection("127.0.0.1", self.port, timeout=60)
            headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
            while not self.stop.is_set() and self.next < self.last:
                body = json.dumps({"store": STORE, "intents": [{"id": intent_id(self.next)}]})
                self.next += 1
                s = time.perf_counter()
                conn.request("POST", "/api/v1/intents", body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                self.latencies.append(time.perf_counter() - s)
                if resp.status != 200:
                    self.bad += 1
                else:
                    self.registered += json.loads(data)["registered"]
            conn.close()
        except BaseException as e:  # noqa: BLE001 - reported by the caller
            self.error = e

    def result(self) -> dict:
        self.stop.set()
        self.join()
        if self.error:
            raise SystemExit(f"the probe failed: {self.error!r}")
        lat = self.latencies
        return {"requests": len(lat), "registered": self.registered, "non200": self.bad,
                "p50_ms": percentile(lat, 50) * 1000, "p99_ms": percentile(lat, 99) * 1000,
                "max_ms": max(lat) * 1000, "mean_ms": statistics.mean(lat) * 1000}


def run_singles(args, base: str, sim: "subprocess.Popen", exp: "subprocess.Popen", sim_port: int,
                lua: str, first: int, last: int, rate: float, seconds: int, budget: float,
                probe: Probe) -> dict:
    """One wrk run of single-intent registrations (ids first..last), paced at `rate`/s
    (0: as fast as the answers come), with the polling it overlapped."""
    ex0, sim0 = cpu_seconds(exp.pid), cpu_seconds(sim.pid)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    load0 = os.getloadavg()
    t0 = time.time()
    probe.start()
    out = subprocess.run(["wrk", f"-t{args.threads}", f"-c{args.clients}", f"-d{seconds}s",
                          "--latency", "--timeout", "10s", "-s", lua, base, "--",
                          str(first), str(last), str(args.threads), str(rate)],
                         capture_output=True, text=True)
    t1 = time.time()
    probe_result = probe.result()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    ex1, sim1 = cpu_seconds(exp.pid), cpu_seconds(sim.pid)
    if out.returncode != 0:
        raise SystemExit(f"wrk failed: {out.stdout}{out.stderr}")
    result = next((json.loads(line[len("RESULT "):]) for line in out.stdout.splitlines()
                   if line.startswith("RESULT ")), None)
    if result is None:
        raise SystemExit(f"no result from wrk: {out.stdout}{out.stderr}")
    took = result["duration_us"] / 1e6
    row = dict(result, rate=rate, clients=args.clients, threads=args.threads, seconds=took,
               per_s=result["requests"] / took,
               exporter_cpu_s=ex1 - ex0, simulator_cpu_s=sim1 - sim0,
               wrk_cpu_s=(ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime),
               load_at_start=load0, load_at_end=os.getloadavg(), probe=probe_result)
    # Polling in the same window, per whole second inside it, counted by the simulator.
    per_second = sim_stats(sim_port)["per_second_by_key"].get(KEY, {})
    counts = [per_second.get(str(s), 0) for s in range(int(t0) + 1, int(t1))]
    row["polling"] = {"seconds": len(counts), "mean": statistics.mean(counts),
                      "max": max(counts), "min": min(counts),
                      "above_budget": sum(1 for c in counts if c > budget), "counts": counts}
    print(json.dumps({"singles": row}), file=sys.stderr, flush=True)
    return row


def run(args, tmp: str, procs: Procs) -> dict:
    n = args.preload
    paced_first, paced_last = n, n + int(args.rate * args.seconds * 1.2) + 1000
    sat_first, sat_last = paced_last, paced_last + args.max_rate * args.saturation_seconds
    probe_pool = 3000 * (args.seconds + args.saturation_seconds)
    probe_first = sat_last
    total = sat_last + probe_pool
    scenario = os.path.join(tmp, "scenario.yaml")
    write_scenario(scenario, total)
    sim_port, exp_port = free_port(), free_port()
    sim = procs.start([args.binary, "simulate", "--listen", f"127.0.0.1:{sim_port}", "--scenario",
                       scenario, "--log.level=warn"], os.path.join(tmp, "sim.log"))
    try:
        wait_http(f"http://127.0.0.1:{sim_port}/-/stats", limit=300)
    except SystemExit:
        with open(os.path.join(tmp, "sim.log")) as f:
            print(f"the simulator did not come up ({total:,} intents, exit {sim.poll()}):\n"
                  f"{f.read()[-2000:]}", file=sys.stderr)
        raise
    secret = os.path.join(tmp, "secret")
    token = os.path.join(tmp, "token")
    for path, value in ((secret, SECRET), (token, TOKEN)):
        with open(path, "w") as f:
            f.write(value)
        os.chmod(path, 0o600)
    state = os.path.join(tmp, "state.db")
    config = os.path.join(tmp, "config.yaml")
    budget = args.budget or max(10.0, round(n / args.interval * 1.05))
    with open(config, "w") as f:
        f.write(f"poll_interval: {args.interval}s\nrequest_timeout: 10s\nstate_file: {state}\n"
                f"stores:\n  - name: {STORE}\n    base_url: http://127.0.0.1:{sim_port}\n"
                f"    api_key: {KEY}\n    api_secret_file: {secret}\n"
                f"    max_requests_per_second: {budget}\n    max_concurrency: 64\n"
                f"    http_version: http2\n"
                f"registration:\n  token_file: {token}\n  max_intents_per_store: {total + 1000}\n")
    exp = procs.start([args.binary, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{exp_port}",
                       "--log.level=warn", "--config.watch=false", "--config.check-interval=0s"],
                      os.path.join(tmp, "exporter.log"))
    base = f"http://127.0.0.1:{exp_port}"
    wait_http(base + "/healthz")
    row: dict = {"preload": n, "budget": budget, "interval": args.interval,
                 "state_fs": fs_type(tmp), "load_before": os.getloadavg()}

    # 1. The preload, in batches: the batch measurement.
    c0 = cpu_seconds(exp.pid)
    row["batches"] = register_batches(exp_port, 0, n, args.batch, args.batch_clients)
    row["batches"]["exporter_cpu_s"] = cpu_seconds(exp.pid) - c0
    print(json.dumps({"batches": row["batches"]}), file=sys.stderr, flush=True)

    # 2. Steady state: every preloaded intent polled once.
    deadline = time.time() + args.interval * 2 + 60
    while time.time() < deadline:
        if len(sim_stats(sim_port)["authenticated_by_intent"]) >= n:
            break
        time.sleep(2)
    else:
        raise SystemExit("not every preloaded intent was polled in time")

    # 3. Single-intent registrations with wrk: paced at the target rate, then flat out.
    lua = os.path.join(tmp, "register.lua")
    with open(lua, "w") as f:
        f.write(f'STORE = "{STORE}"\n'
                f'HEADERS = {{["Authorization"] = "Bearer {TOKEN}", '
                f'["Content-Type"] = "application/json"}}\n' + LUA)
    row["paced"] = run_singles(args, base, sim, exp, sim_port, lua, paced_first, paced_last,
                               args.rate, args.seconds, budget,
                               Probe(exp_port, probe_first, probe_first + probe_pool // 2))
    row["watched_after_paced"] = metric_sum(http(base + "/metrics")[1].decode(),
                                            "allscale_exporter_watched_intents")
    row["saturated"] = None
    if args.saturation_seconds:
        row["saturated"] = run_singles(args, base, sim, exp, sim_port, lua, sat_first, sat_last,
                                       0, args.saturation_seconds, budget,
                                       Probe(exp_port, probe_first + probe_pool // 2, total))

    # 4. Counts: the gauge now, then the database after a SIGKILL (no final save).
    time.sleep(1)
    text = http(base + "/metrics")[1].decode()
    row["watched_gauge"] = metric_sum(text, "allscale_exporter_watched_intents")
    row["demand_after"] = metric_sum(text, "allscale_exporter_poll_demand_requests_per_second")
    del text
    exp.send_signal(signal.SIGKILL)
    exp.wait()
    row["durable_rows"] = durable_count(state)
    row["db_mb"] = sum(os.path.getsize(state + s) for s in ("", "-wal") if os.path.exists(state + s)) / 1e6
    with open(os.path.join(tmp, "exporter.log")) as f:
        row["exporter_log_tail"] = [line.rstrip() for line in f][-5:]
    procs.stop_all()
    return row


def report(r: dict) -> tuple[str, list[str]]:
    """The markdown tables, and the problems found (not timing targets)."""
    b = r["batches"]
    runs = [("paced", r["paced"])] + ([("saturated", r["saturated"])] if r["saturated"] else [])
    lines = [
        f"preload {r['preload']:,} intents, poll_interval {r['interval']:g}s, "
        f"max_requests_per_second {r['budget']:g}, state database on {r['state_fs']}",
        "",
        "| run | clients | requests | intents/s | p50 ms | p99 ms | max ms | non-200 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        f"| batches of {b['batch']:,} (the preload, {b['intents']:,} intents, Python) | {b['clients']} "
        f"| {b['requests']:,} | {b['intents_per_s']:,.0f} | {b['p50_ms']:.1f} | {b['p99_ms']:.1f} "
        f"| {b['max_ms']:.1f} | {b['non200']} |",
    ]
    for name, s in runs:
        how = f"paced at {s['rate']:,.0f}/s" if s["rate"] else "flat out"
        lines.append(
            f"| single intents, {how}, {s['seconds']:.0f} s (wrk) | {s['clients']} | {s['requests']:,} "
            f"| {s['per_s']:,.0f} | {s['own_p50_ms']:.1f} | {s['own_p99_ms']:.1f} "
            f"| {s['own_max_ms']:.1f} | {s['non200']} |")
        lines.append(
            f"| the same, wrk's own latency statistics | | | | {s['p50_us'] / 1000:.1f} "
            f"| {s['p99_us'] / 1000:.1f} | {s['max_us'] / 1000:.1f} | |")
    for name, s in runs:
        q = s["probe"]
        lines.append(f"| cross-check: 1 more Python client during the {name} run | 1 | {q['requests']:,} "
                     f"| {q['requests'] / s['seconds']:,.0f} | {q['p50_ms']:.1f} | {q['p99_ms']:.1f} "
                     f"| {q['max_ms']:.1f} | {q['non200']} |")
    lines += ["", "| polling during | budget/s | mean/s | busiest second | quietest second | seconds above budget |",
              "|---|---:|---:|---:|---:|---:|"]
    for name, s in runs:
        p = s["polling"]
        lines.append(f"| {name} run ({p['seconds']} whole seconds) | {r['budget']:g} "
                     f"| {p['mean']:,.1f} ({p['mean'] / r['budget'] * 100:.1f} %) "
                     f"| {p['max']:,} | {p['min']:,} | {p['above_budget']} |")
    lines.append("")
    for name, s in runs:
        lines.append(
            f"CPU, {name} run: exporter {s['exporter_cpu_s']:.1f} s "
            f"({s['exporter_cpu_s'] / max(s['requests'], 1) * 1e6:.0f} µs per registration, polling included), "
            f"simulator {s['simulator_cpu_s']:.1f} s, wrk {s['wrk_cpu_s']:.1f} s, over {s['seconds']:.1f} s "
            f"on {os.cpu_count()} cores; load average {s['load_at_start'][0]:.2f} at start, "
            f"{s['load_at_end'][0]:.2f} at end.")
    registered = sum(s["registered"] + s["probe"]["registered"] for _, s in runs)
    expected = r["preload"] + registered
    lines.append(
        f"Preload: exporter {b['exporter_cpu_s']:.1f} s CPU over {b['seconds']:.2f} s. "
        f"Counts: registered {registered:,} singly, expected watched {expected:,}, "
        f"allscale_exporter_watched_intents {r['watched_gauge']:,.0f}, API-registered intents in the "
        f"state database after SIGKILL {r['durable_rows']:,}; poll demand afterwards "
        f"{r['demand_after']:,.0f}/s; database {r['db_mb']:.1f} MB.")
    problems = []
    if b["non200"]:
        problems.append(f"non-200 answers to batches: {b['non200']} {b['bad']}")
    if b["registered"] != r["preload"] or b["already"]:
        problems.append(f"preload registered {b['registered']}, already {b['already']}")
    slack = 0
    for name, s in runs:
        if s["non200"]:
            problems.append(f"{name}: {s['non200']} non-200 answers")
        if s["registered"] != s["requests"] - s["non200"] or s["already"]:
            problems.append(f"{name}: {s['registered']} registered of {s['requests']} answers, "
                            f"{s['already']} already watched")
        if s["threads"] == s["clients"] and s["own_n"] != s["requests"]:
            problems.append(f"{name}: the script timed {s['own_n']} of {s['requests']} requests")
        if s["exhausted"]:
            problems.append(f"{name}: the id pool ran out ({s['exhausted']} repeats): raise --max-rate")
        errors = {k: s[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts") if s[k]}
        if errors:
            problems.append(f"{name}: wrk socket errors: {errors}")
        q = s["probe"]
        if q["non200"] or q["registered"] != q["requests"]:
            problems.append(f"{name}: probe {q['non200']} non-200, {q['registered']} of {q['requests']} registered")
        if s["polling"]["above_budget"]:
            problems.append(f"{name}: {s['polling']['above_budget']} seconds of polling above the budget")
        slack += s["clients"] + 1
    # In flight when wrk stopped: committed, never answered. At most one per connection.
    for name, seen in (("watched gauge", r["watched_gauge"]), ("durable rows", r["durable_rows"])):
        if not expected <= seen <= expected + slack:
            problems.append(f"{name} {seen:,.0f}, expected {expected:,} (+ at most {slack} in flight)")
    return "\n".join(lines), problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "allscale-exporter"))
    ap.add_argument("--preload", type=int, default=100000, help="intents registered in batches first")
    ap.add_argument("--batch", type=int, default=1000, help="intents per batch (at most 1,000)")
    ap.add_argument("--batch-clients", type=int, default=4, help="concurrent clients for the batches")
    ap.add_argument("--clients", type=int, default=32, help="wrk connections for the single intents")
    ap.add_argument("--threads", type=int, default=0,
                    help="wrk threads (default: one per connection, so the script can time each "
                         "request itself)")
    ap.add_argument("--seconds", type=int, default=30, help="length of the paced single-intent run")
    ap.add_argument("--rate", type=float, default=2000, help="single registrations/s of the paced run")
    ap.add_argument("--saturation-seconds", type=int, default=10,
                    help="length of the flat-out single-intent run after it (0 skips it)")
    ap.add_argument("--interval", type=float, default=30.0, help="poll_interval in seconds")
    ap.add_argument("--budget", type=float, default=0,
                    help="max_requests_per_second (default: preload / interval + 5 %%)")
    ap.add_argument("--max-rate", type=int, default=35000,
                    help="single registrations/s the flat-out run's id pool is sized for")
    ap.add_argument("--dir", help="where the state database goes (default: a temp dir; not a tmpfs)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 2,000 preloaded, 5 s paced and 3 s flat out, 5 s poll_interval")
    ap.add_argument("--json", help="also write the results as JSON here")
    args = ap.parse_args()
    if args.quick:
        args.preload, args.seconds, args.saturation_seconds, args.interval = 2000, 5, 3, 5.0
    args.threads = args.threads or args.clients
    if not os.path.exists(args.binary):
        print(f"{args.binary} not found: run `cargo build --release` first", file=sys.stderr)
        return 2
    procs = Procs()
    try:
        with tempfile.TemporaryDirectory(prefix="allscale-reg-bench-", dir=args.dir) as tmp:
            if fs_type(tmp) in ("tmpfs", "ramfs"):
                print(f"warning: {tmp} is on {fs_type(tmp)}: commits are not to a disk; use --dir",
                      file=sys.stderr)
            row = run(args, tmp, procs)
    finally:
        procs.stop_all()
    table, problems = report(row)
    return finish(table, problems, row, args.json)


if __name__ == "__main__":
    sys.exit(main())
