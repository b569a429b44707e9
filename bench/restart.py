#!/usr/bin/env python3
"""What a restart of one exporter costs (docs/operations.md, "Availability").

For each point (intents registered through the API and restored from the state database)
it starts the simulator (knowing every id, each non-terminal) and the exporter with a
`state_file` and the registration API, registers the intents in batches of 1,000, waits
until each was polled once, and stops the exporter with SIGTERM (timed: the final save).
The database then holds the intents (folded into its `intents` table by the compactions
so far) and the events since the last compaction (one per intent's first status, here).

Then, for each value of `--events`, a copy of that database with only the first E events
kept (`all`: as it is; 0: as right after a compaction; the intents whose later events
are cut restore with the state of their `intents` row), a fresh simulator (its counts
start at 0), and the exporter started on the copy, while five clients watch from the
moment before the process is spawned:

  bound       the first TCP connection to the main port that is not refused
  healthz     the first 200 from /healthz
  registered  a registration (one new intent, POST /api/v1/intents) sent at once and
              re-sent every 5 ms while the connection is refused: its 200
  first poll  the first request the simulator counts (/-/stats, every 5 ms)
  ready       the first 200 from /readyz
  all polled  every restored intent polled again (simulator counts)

and, once all were polled, the peak resident memory (VmHWM, the restore and one scrape
included), the resident memory now and the watched-intents gauge (intents + 1). A start
that has not answered within `--give-up` seconds is stopped (SIGTERM, then SIGKILL) and
reported as "> give-up".

Below 20,000 events no compaction has run, so every intent is still an event: keep
them all there (`--events all`), or the copy restores nothing.

Usage (docs/operations.md's figures):
  cargo build --release
  python3 bench/restart.py --points 1000 --events all,all,all                 # ~2 min
  python3 bench/restart.py --points 100000 --events 0,1000,10000,30000,all    # ~12 min
  python3 bench/restart.py --points 1000 --events all --interval 5            # smoke

Everything talks to 127.0.0.1 only, and every child process is stopped on exit. Exits 1
when a count does not add up (not on a timing, nor on a give-up).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from http.client import HTTPConnection

from bench import (finish, KEY, ROOT, SECRET, Procs, cpu_seconds, free_port, http, intent_id, metric_sum, wait_http,
                   write_scenario)
from registration import STORE, TOKEN, fs_type, register_batches, sim_stats


def vm(pid: int, field: str) -> float:
    """A `/proc/PID/status` memory field in MB (VmRSS, VmHWM)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024 / 1e6
    return float("nan")


class Watch(threading.Thread):
    """Calls `probe` every 5 ms until it returns True (or `stop` is set); records when,
    in seconds since `t0`, and how many attempts found the port closed."""

    def __init__(self, t0: float, probe, stop: threading.Event):
        super().__init__(daemon=True)
        self.t0, self.probe, self.stop = t0, probe, stop
        self.at: float | None = None
        self.refused = 0

    def run(self):
        while not self.stop.is_set():
            try:
                if self.probe():
                    self.at = time.monotonic() - self.t0
                    return
            except ConnectionRefusedError:
                self.refused += 1
            except OSError:
                pass
            time.sleep(0.005)


def status_of(port: int, method: str, path: str, body: bytes | None = None,
              headers: dict | None = None) -> int:
    conn = HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        return conn.getresponse().status
    finally:
        conn.close()


def connects(port: int) -> bool:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=5):
        return True


def start_simulator(args, procs: Procs, tmp: str, scenario: str):
    port = free_port()
    sim = procs.start([args.binary, "simulate", "--listen", f"127.0.0.1:{port}", "--scenario",
                       scenario, "--log.level=warn"], os.path.join(tmp, "sim.log"))
    wait_http(f"http://127.0.0.1:{port}/-/stats", limit=300)
    return sim, port


def write_config(path: str, state: str, sim_port: int, secret: str, token: str, n: int,
                 interval: float):
    budget = max(10.0, round(n / interval * 1.05))
    with open(path, "w") as f:
        f.write(f"poll_interval: {interval:g}s\nrequest_timeout: 10s\nstate_file: {state}\n"
                f"stores:\n  - name: {STORE}\n    base_url: http://127.0.0.1:{sim_port}\n"
                f"    api_key: {KEY}\n    api_secret_file: {secret}\n"
                f"    max_requests_per_second: {budget}\n    max_concurrency: 64\n"
                f"    http_version: http2\n"
                f"registration:\n  token_file: {token}\n  max_intents_per_store: {n + 1000}\n")


def start_exporter(args, procs: Procs, tmp: str, config: str, port: int):
    return procs.start([args.binary, f"--config.file={config}",
                        f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
                        "--config.watch=false", "--config.check-interval=0s"],
                       os.path.join(tmp, "exporter.log"))


def wait_all_polled(sim_port: int, n: int, limit: float) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if len(sim_stats(sim_port)["authenticated_by_intent"]) >= n:
            return True
        time.sleep(0.5)
    return False


def stop(proc) -> float:
    """SIGTERM, and the seconds until the process has exited (SIGKILL after 20 s: a
    process still restoring its state does not act on SIGTERM)."""
    t = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return time.monotonic() - t


def trimmed_copy(pristine: str, path: str, keep: int | None) -> int:
    """A copy of the database with only its first `keep` events (None: all); the count."""
    shutil.copyfile(pristine, path)
    db = sqlite3.connect(path)
    try:
        if keep is not None:
            db.execute("DELETE FROM events WHERE seq NOT IN "
                       "(SELECT seq FROM events ORDER BY seq LIMIT ?)", (keep,))
            db.commit()
        return db.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        db.close()


def restart(args, procs: Procs, tmp: str, scenario: str, n: int, k: int, secret: str,
            token: str, state: str, events: int) -> dict:
    sim, sim_port = start_simulator(args, procs, tmp, scenario)
    config = os.path.join(tmp, "config.yaml")
    write_config(config, state, sim_port, secret, token, n + len(args.events), args.interval)
    port = free_port()
    body = json.dumps({"store": STORE, "intents": [{"id": intent_id(n + k)}]}).encode()
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}

    def first_poll() -> bool:
        return sum(sim_stats(sim_port)["requests_by_key"].values()) > 0

    stop_all = threading.Event()
    t0 = time.monotonic()
    exp = start_exporter(args, procs, tmp, config, port)
    watches = {
        "bound": Watch(t0, lambda: connects(port), stop_all),
        "healthz": Watch(t0, lambda: status_of(port, "GET", "/healthz") == 200, stop_all),
        "registered": Watch(t0, lambda: status_of(port, "POST", "/api/v1/intents", body,
                                                  headers) == 200, stop_all),
        "first_poll": Watch(t0, first_poll, stop_all),
        "ready": Watch(t0, lambda: status_of(port, "GET", "/readyz") == 200, stop_all),
    }
    for w in watches.values():
        w.start()
    for w in watches.values():
        w.join(timeout=max(0.0, t0 + args.give_up - time.monotonic()))
    stop_all.set()
    row = {name: w.at for name, w in watches.items()}
    row["events"] = events
    row["refused_registrations"] = watches["registered"].refused
    row["all_polled"] = row["watched"] = None
    if row["ready"] is not None:
        polled = wait_all_polled(sim_port, n, args.interval * 3 + 60)
        row["all_polled"] = time.monotonic() - t0 if polled else None
        text = http(f"http://127.0.0.1:{port}/metrics")[1].decode()
        row["watched"] = metric_sum(text, "allscale_exporter_watched_intents")
        del text
    row["peak_rss_mb"] = vm(exp.pid, "VmHWM")
    row["rss_mb"] = vm(exp.pid, "VmRSS")
    row["cpu_s"] = cpu_seconds(exp.pid)
    row["stop_s"] = stop(exp)
    sim.send_signal(signal.SIGTERM)
    sim.wait(timeout=60)
    print(json.dumps({"intents": n, "restart": k, **row}), file=sys.stderr, flush=True)
    return row


def run_point(args, procs: Procs, tmp: str, n: int) -> dict:
    extra = len(args.events)
    scenario = os.path.join(tmp, "scenario.yaml")
    write_scenario(scenario, n + extra)
    secret, token = os.path.join(tmp, "secret"), os.path.join(tmp, "token")
    for path, value in ((secret, SECRET), (token, TOKEN)):
        with open(path, "w") as f:
            f.write(value)
        os.chmod(path, 0o600)
    pristine = os.path.join(tmp, f"state-{n}.db")
    sim, sim_port = start_simulator(args, procs, tmp, scenario)
    config = os.path.join(tmp, "config.yaml")
    write_config(config, pristine, sim_port, secret, token, n + extra, args.interval)
    port = free_port()
    exp = start_exporter(args, procs, tmp, config, port)
    wait_http(f"http://127.0.0.1:{port}/healthz")
    pre = register_batches(port, 0, n, 1000, 4)
    if pre["non200"] or pre["registered"] != n:
        raise SystemExit(f"preload: {pre}")
    if not wait_all_polled(sim_port, n, args.interval * 3 + 60):
        raise SystemExit("not every intent was polled before the restart")
    time.sleep(2)  # the last statuses committed (group commit within a second)
    first_stop = stop(exp)
    sim.send_signal(signal.SIGTERM)
    sim.wait(timeout=60)
    db_mb = os.path.getsize(pristine) / 1e6
    rows = []
    for k, keep in enumerate(args.events):
        state = os.path.join(tmp, "state.db")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(state + suffix):
                os.remove(state + suffix)
        events = trimmed_copy(pristine, state, keep)
        rows.append(restart(args, procs, tmp, scenario, n, k, secret, token, state, events))
    return {"intents": n, "first_stop_s": first_stop, "db_mb": db_mb, "restarts": rows}


def report(points: list[dict], give_up: float) -> tuple[str, list[str]]:
    def cell(r, key, fmt="{:.3f}"):
        return f"> {give_up:g}" if r[key] is None else fmt.format(r[key])

    lines = ["| intents | events pending | port bound s | /healthz 200 s | registration 200 s "
             "| first poll s | /readyz 200 s | all polled s | peak RSS MB | CPU s | SIGTERM to exit s |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    problems = []
    for p in points:
        for k, r in enumerate(p["restarts"]):
            lines.append(
                f"| {p['intents']:,} | {r['events']:,} | {cell(r, 'bound')} | {cell(r, 'healthz')} "
                f"| {cell(r, 'registered')} | {cell(r, 'first_poll')} | {cell(r, 'ready')} "
                f"| {cell(r, 'all_polled', '{:.1f}')} | {r['peak_rss_mb']:.1f} | {r['cpu_s']:.1f} "
                f"| {r['stop_s']:.2f} |")
            # Each restart starts from the database after the preload, plus its own
            # registration.
            if r["watched"] is not None and r["watched"] != p["intents"] + 1:
                problems.append(f"{p['intents']:,}, restart {k}: watched {r['watched']:,.0f}, "
                                f"expected {p['intents'] + 1:,}")
    lines.append("")
    for p in points:
        lines.append(f"{p['intents']:,} intents: database {p['db_mb']:.1f} MB after the preload; "
                     f"its first SIGTERM took {p['first_stop_s']:.2f} s to exit.")
    lines.append(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the end; times "
                 "from just before the process is spawned.")
    return "\n".join(lines), problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(ROOT, "target/release/allscale-exporter"))
    ap.add_argument("--points", default="100000")
    ap.add_argument("--events", default="0,1000,10000,30000,all",
                    help="restarts per point, each with this many events kept (all: as saved)")
    ap.add_argument("--give-up", type=float, default=180.0,
                    help="seconds a start may take before it is stopped and reported as such")
    ap.add_argument("--interval", type=float, default=30.0, help="poll_interval, seconds")
    ap.add_argument("--dir", default=None, help="where the state database goes (not a tmpfs)")
    ap.add_argument("--json", help="also write the results as JSON here")
    args = ap.parse_args()
    args.events = [None if e == "all" else int(e) for e in args.events.split(",")]
    if not os.path.exists(args.binary):
        print(f"{args.binary} not found: run `cargo build --release` first", file=sys.stderr)
        return 2
    procs = Procs()
    points = []
    try:
        with tempfile.TemporaryDirectory(prefix="allscale-restart-bench-", dir=args.dir) as tmp:
            if fs_type(tmp) in ("tmpfs", "ramfs"):
                print(f"warning: {tmp} is on {fs_type(tmp)}: use --dir", file=sys.stderr)
            for n in (int(x) for x in args.points.split(",")):
                points.append(run_point(args, procs, tmp, n))
    finally:
        procs.stop_all()
    table, problems = report(points, args.give_up)
    return finish(table, problems, points, args.json)


if __name__ == "__main__":
    sys.exit(main())
