#!/usr/bin/env python3
"""The simulator's own ceiling, measured with wrk, so the exporter's benchmark can show the
simulator is not its bottleneck.

Every AllScale request must be signed with a fresh nonce, which wrk cannot do, so this
script pre-signs enough requests (unique nonces, current timestamp) into a file that a wrk
Lua script replays, each wrk thread its own slice. It then checks the simulator's
/-/stats: every answer must be a success (a replayed or stale request would be 20002).

  python3 bench/sim_ceiling.py [--seconds 10] [--connections 64] [--threads 2]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

EMPTY = hashlib.sha256(b"").hexdigest()

LUA = r"""
local lines = {}
local index, step = 0, 1
function setup(thread)
  thread:set("tid", tostring(#threads_seen + 1))
  table.insert(threads_seen, thread)
end
threads_seen = {}
function init(args)
  local n = tonumber(args[2])
  index, step = tonumber(tid) - 1, n
  for line in io.lines(args[1]) do lines[#lines + 1] = line end
end
function request()
  index = index + step
  -- wrk's probe call (no lines in the main state), or the pre-signed list is used up:
  -- ask for something that is not an API request, so it is not counted.
  if index > #lines then return wrk.format("GET", "/-/stats") end
  local path, ts, nonce, sig = lines[index]:match("([^ ]+) ([^ ]+) ([^ ]+) ([^ ]+)")
  return wrk.format("GET", path, {["X-API-Key"] = KEY, ["X-Timestamp"] = ts,
                                  ["X-Nonce"] = nonce, ["X-Signature"] = sig})
end
"""


def sign(path: str, ts: str, nonce: str) -> str:
    canonical = "\n".join(["GET", path, "", ts, nonce, EMPTY]).encode()
    mac = hmac.new(bench.SECRET.encode(), canonical, hashlib.sha256).digest()
    return "v1=" + base64.b64encode(mac).decode()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(bench.ROOT, "target", "release", "allscale-exporter"))
    ap.add_argument("--intents", type=int, default=10000)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-rate", type=int, default=40000, help="requests/s to pre-sign for")
    args = ap.parse_args()
    procs = bench.Procs()
    try:
        with tempfile.TemporaryDirectory(prefix="allscale-ceiling-") as tmp:
            scenario = os.path.join(tmp, "scenario.yaml")
            bench.write_scenario(scenario, args.intents)
            port = bench.free_port()
            procs.start([args.binary, "simulate", "--listen", f"127.0.0.1:{port}", "--scenario",
                         scenario, "--log.level=warn"], os.path.join(tmp, "sim.log"))
            bench.wait_http(f"http://127.0.0.1:{port}/-/stats")
            total = args.max_rate * args.seconds
            ts = str(int(time.time()))
            signed = os.path.join(tmp, "signed.txt")
            with open(signed, "w") as f:
                for i in range(total):
                    path = f"/v1/checkout_intents/{bench.intent_id(i % args.intents)}/status"
                    nonce = str(uuid.uuid4())
                    f.write(f"{path} {ts} {nonce} {sign(path, ts, nonce)}\n")
            lua = os.path.join(tmp, "replay.lua")
            with open(lua, "w") as f:
                f.write(f'KEY = "{bench.KEY}"\n' + LUA)
            out = subprocess.run(
                ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.seconds}s", "-s", lua,
                 f"http://127.0.0.1:{port}", "--", signed, str(args.threads)],
                capture_output=True, text=True)
            if out.returncode != 0:
                raise SystemExit(f"wrk failed: {out.stdout}{out.stderr}")
            out = out.stdout
            stats = json.loads(bench.http(f"http://127.0.0.1:{port}/-/stats")[1])
            answers = stats["answers_by_code"]
            ok = int(answers.get("0", 0))
            if ok >= total * 0.95:
                print("the pre-signed list ran out: raise --max-rate", file=sys.stderr)
                return 1
            rate = ok / args.seconds
            bad = {k: v for k, v in answers.items() if k != "0"}
            print(f"simulator ceiling: {rate:.0f} signed requests/s "
                  f"({args.threads} wrk threads, {args.connections} connections, {args.seconds} s); "
                  f"answers: {ok} ok, other codes {bad or 'none'}")
            if bad:
                print("some answers were not successes", file=sys.stderr)
                return 1
    finally:
        procs.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
