#!/usr/bin/env python3
"""The front door under a connection flood (issue #21): can a scraper and a probe still get in?

It starts the simulator and the exporter (1,000 intents, webhooks on, a registration token),
then, for each setting of the server's flags, runs for `--seconds`:

  flood     one client (127.0.0.2) holds `--idle` silent connections and `--slow` connections
            that trickle a request head a byte every 2 s, re-opening every connection the
            server closes at once; and `--bodies` connections that send a webhook head with the
            store's (public) API key and trickle its body a byte every 2 s
  scraper   another client (127.0.0.1, a process of its own) GETs /metrics and /healthz
            alternately on a fresh connection every 100 ms, each with a 10 s timeout

and reports the share of scrapes and probes answered 200, the share answered within 2 s
(the issue's target: at least 99 %), their latency (p50, p99, max), how many connections the
flood opened, and how many log lines the exporter wrote.

Settings: the defaults (per-IP cap 64), and `--web.max-connections-per-ip=0` (no per-IP cap:
only the eviction order protects the scraper).

Usage:
  cargo build --release
  python3 bench/front_door.py                  # 2,000 idle + 200 slow + 50 bodies, 30 s each
  python3 bench/front_door.py --quick          # smoke (asserts nothing about timing)

Everything talks to 127.0.0.1/8 only, and every child process is stopped on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import tempfile
import time

from bench import KEY, ROOT, SECRET, Procs, free_port, intent_id, wait_http, write_scenario

FLOODER = "127.0.0.2"
HEAD = b"GET /metrics HTTP/1.1\r\nHost: exporter\r\nX-Padding: " + b"a" * 4000


async def hold(port: int, kind: str, stop: asyncio.Event, opened: list[int]):
    """One connection slot of the flood, re-opened whenever the server closes it."""
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(FLOODER, 0))
        except OSError:
            await asyncio.sleep(0.05)
            continue
        opened[0] += 1
        try:
            if kind == "body":
                writer.write(b"POST /webhooks/allscale HTTP/1.1\r\nHost: x\r\nX-API-Key: " + KEY.encode()
                             + b"\r\nContent-Length: 60000\r\n\r\n")
            sent = 0
            while not stop.is_set():
                try:
                    data = await asyncio.wait_for(reader.read(4096), timeout=2.0)
                    if not data:
                        break
                except asyncio.TimeoutError:
                    if kind == "slow":
                        writer.write(HEAD[sent % len(HEAD):][:1])
                    elif kind == "body":
                        writer.write(b"{")
                    sent += 1
                    await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()


def scrape(port: int, path: str) -> float | None:
    """Seconds to a 200 on a fresh connection, or None (10 s timeout)."""
    import socket

    start = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(f"GET /{path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
    except OSError:
        return None
    return time.monotonic() - start if answer.startswith(b"HTTP/1.1 200") else None


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


async def flood(port: int, args, stop: asyncio.Event) -> int:
    opened = [0]
    kinds = ["idle"] * args.idle + ["slow"] * args.slow + ["body"] * args.bodies
    tasks = [asyncio.create_task(hold(port, k, stop, opened)) for k in kinds]
    await stop.wait()
    await asyncio.gather(*tasks, return_exceptions=True)
    return opened[0]


def flood_process(port: int, args, seconds: float, out) -> None:
    """The flood, in a process of its own so that its event loop does not delay the scraper."""
    async def run():
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(seconds, stop.set)
        return await flood(port, args, stop)
    out.send(asyncio.run(run()))


def run_flood(port: int, args) -> dict:
    import multiprocessing

    receive, send = multiprocessing.Pipe(duplex=False)
    flooder = multiprocessing.Process(target=flood_process, args=(port, args, args.seconds + 3, send))
    flooder.start()
    time.sleep(3)  # let the flood fill the cap
    results: list[float | None] = []
    end = time.monotonic() + args.seconds
    i = 0
    while time.monotonic() < end:
        results.append(scrape(port, "metrics" if i % 2 == 0 else "healthz"))
        i += 1
        time.sleep(0.1)
    opened = receive.recv()
    flooder.join()
    ok = [r for r in results if r is not None]
    return {
        "requests": len(results),
        "answered_pct": round(100 * len(ok) / max(1, len(results)), 2),
        "within_2s_pct": round(100 * sum(r <= 2 for r in ok) / max(1, len(results)), 2),
        "p50_ms": round(pct(ok, 0.5) * 1000, 1),
        "p99_ms": round(pct(ok, 0.99) * 1000, 1),
        "max_ms": round(max(ok, default=float("nan")) * 1000, 1),
        "flood_connections_opened": opened,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--binary", default=os.path.join(ROOT, "target/release/allscale-exporter"))
    p.add_argument("--idle", type=int, default=2000)
    p.add_argument("--slow", type=int, default=200)
    p.add_argument("--bodies", type=int, default=50)
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    if args.quick:
        args.idle, args.slow, args.bodies, args.seconds = 200, 20, 5, 3
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    rows = []
    procs = Procs()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            scenario = os.path.join(tmp, "scenario.yaml")
            write_scenario(scenario, 1000)
            sim_port = free_port()
            procs.start([args.binary, "simulate", "--listen", f"127.0.0.1:{sim_port}", "--scenario", scenario,
                         "--log.level=warn"], os.path.join(tmp, "sim.log"))
            wait_http(f"http://127.0.0.1:{sim_port}/-/stats")
            secret = os.path.join(tmp, "secret")
            with open(secret, "w") as f:
                f.write(SECRET)
            ids = ", ".join(intent_id(i) for i in range(1000))
            config = os.path.join(tmp, "config.yaml")
            with open(config, "w") as f:
                f.write(f"poll_interval: 30s\nstores:\n  - name: main\n    base_url: http://127.0.0.1:{sim_port}\n"
                        f"    api_key: {KEY}\n    api_secret_file: {secret}\n    intents: [{ids}]\n")
            for flags in ([], ["--web.max-connections-per-ip=0"]):
                port = free_port()
                log = os.path.join(tmp, f"exporter-{len(rows)}.log")
                exp = procs.start([args.binary, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}",
                                   "--config.watch=false", *flags], log)
                wait_http(f"http://127.0.0.1:{port}/healthz")
                row = {"flags": " ".join(flags) or "(defaults)", **run_flood(port, args)}
                exp.terminate()
                exp.wait(timeout=20)
                with open(log) as f:
                    row["log_lines"] = sum(1 for _ in f)
                rows.append(row)
                print(json.dumps(row), flush=True)
    finally:
        procs.stop_all()
    print(f"\n| flags | answered | within 2 s | p50 | p99 | max | flood connections | log lines |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['flags']} | {r['answered_pct']} % | {r['within_2s_pct']} % | {r['p50_ms']} ms | "
              f"{r['p99_ms']} ms | {r['max_ms']} ms | {r['flood_connections_opened']:,} | {r['log_lines']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
