#!/usr/bin/env python3
"""Independent, strict mock of the AllScale Open API checkout-intent status and detail
endpoints.

Python 3.11 standard library only.  Written from docs/allscale-api.md
(sections 1-4 and 8); it shares no code with the Rust exporter.  Its job is to
reject anything the real API would (or plausibly might) reject, so an exporter
that passes against it signs requests the way the docs describe.

Usage:
    python3 tests/strict_mock.py --port 0 --api-key K --api-secret S --intents FILE \
        [--sign-responses] [--rate-limit N] [--replay-window SECONDS] [--verbose]

After binding 127.0.0.1:<port> it prints exactly one line ``LISTENING <port>`` to
stdout, then serves until SIGTERM/SIGINT and exits 0.

Routes:
    GET /v1/checkout_intents/<24 lowercase hex>/status   signed API endpoint
    GET /v1/checkout_intents/<24 lowercase hex>          signed API endpoint (detail)
    GET /-/stats                                         unauthenticated test stats

Intents file (JSON object), id -> one of:
    [1, 2, 10, 20]                              statuses for successive successful
                                                polls; the last one repeats forever
    {"error_code": 90000, "http_status": 500}   always that error (optional "message")
    {"owner": "other"}                          another store's intent -> 30001 / 403
    {"timed": [[0, 10], [5.0, 20]]}             status by seconds since the mock started
    {"hostile": KIND}                           a malformed or abusive answer, every poll
    {"statuses": [1, 20], "detail": ANY}        statuses as above; the detail endpoint's
                                                payload is ANY, served as given (an
                                                object, or anything malformed); "detail"
                                                may also go with "timed"
Ids that are not in the file -> 50001 / 404.  The detail of an intent whose spec has no
"detail" is DEFAULT_DETAIL (12.50 USDT on chain 1, paid in full) with its id and status;
an error or hostile intent answers its detail as its status.

Hostile answers are served only after the request passed every check above (auth,
replay, validation, rate limit), so the client's signing is still verified.  With
--sign-responses their headers carry a response signature over the full intended body,
so a client fails on the answer itself, not on the signature.  KIND is one of:
    not_json        200 text/plain ``<html>oops</html>``
    no_code         200 JSON object without ``code``
    string_payload  200 envelope, code 0, payload the string "20"
    unicode_payload 200 envelope, code 0, payload a string of multi-byte characters
                    (a 3-byte character straddles byte 64 of the payload's JSON text)
    float_payload   200 envelope, code 0, payload 1.5 (the status must be an integer)
    huge            200 chunked (no Content-Length), a 16 MiB envelope-shaped JSON body
                    written in 64 KiB chunks: only a cap enforced while reading stops it
    huge_declared   the same body with ``Content-Length: 16777216``
    html_502        502 text/html page, no envelope
    reset           headers with a Content-Length larger than what follows, part of an
                    envelope, then an abortive close (SO_LINGER 0 -> RST)
    slow            a valid envelope (status 1) after 3 s of silence
    trickle         headers at once, then a valid envelope (status 1) one byte per 0.2 s
The envelope-shaped kinds (huge, huge_declared, reset, slow, trickle) carry status 1,
so a client that read them to the end (or waited for them) would show a status.
A client that hangs up mid-answer is normal here: the broken pipe or reset is counted
in /-/stats (hostile_client_gone) and never logged as an error.

/-/stats (JSON): accepted {id: n} (status requests), detail_accepted {id: n}, rejected [...], violations [...], total, per_second,
accepted_per_second, scripted_errors {id: n}, hostile_served {kind: n} (counted when the
answer starts), hostile_client_gone {kind: n} (the client hung up before the answer
was fully written).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import signal
import socket
import struct
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# ---------------------------------------------------------------------------
# Signing helpers (spec §1, §2).  Importable by the self-test.
# ---------------------------------------------------------------------------

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def _b(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def sha256_hex(data: bytes) -> str:
    """Lowercase hex SHA-256 of raw bytes."""
    return hashlib.sha256(data).hexdigest()


def hmac_b64(secret: str | bytes, canonical: str | bytes) -> str:
    """Standard, padded Base64 of HMAC-SHA256(secret as-is in UTF-8, canonical)."""
    mac = hmac.new(_b(secret), _b(canonical), hashlib.sha256).digest()
    return base64.b64encode(mac).decode("ascii")


def canonical_request(method, path, query, timestamp, nonce, body_sha256_hex) -> bytes:
    """METHOD\\nPATH\\nQUERY\\nTIMESTAMP\\nNONCE\\nBODY_SHA256, LF-joined, no trailing LF."""
    return b"\n".join(_b(f) for f in (method, path, query, timestamp, nonce, body_sha256_hex))


def sign_request(secret, method, path, query, timestamp, nonce, body: bytes = b"") -> str:
    """Value for the X-Signature header: ``v1=<base64>``."""
    canon = canonical_request(method, path, query, timestamp, nonce, sha256_hex(body))
    return "v1=" + hmac_b64(secret, canon)


def canonical_response(status_code, path, request_nonce, request_body_sha256_hex,
                       response_timestamp, response_nonce, response_body_sha256_hex) -> bytes:
    """STATUS\\nPATH\\nREQUEST_NONCE\\nREQUEST_BODY_SHA256\\nRESP_TS\\nRESP_NONCE\\nRESP_BODY_SHA256."""
    fields = (str(status_code), path, request_nonce, request_body_sha256_hex,
              response_timestamp, response_nonce, response_body_sha256_hex)
    return b"\n".join(_b(f) for f in fields)


def sign_response(secret, status_code, path, request_nonce, request_body: bytes,
                  response_timestamp, response_nonce, response_body: bytes) -> str:
    """Value for the X-Response-Signature header: ``v1=<base64>``."""
    canon = canonical_response(status_code, path, request_nonce, sha256_hex(request_body),
                               response_timestamp, response_nonce, sha256_hex(response_body))
    return "v1=" + hmac_b64(secret, canon)


def verify_response(secret, status_code, path, request_nonce, request_body: bytes,
                    headers, response_body: bytes) -> bool:
    """Client-side check of a signed response (headers: any mapping with .get)."""
    sig = headers.get("X-Response-Signature") or ""
    ts = headers.get("X-Response-Timestamp") or ""
    rn = headers.get("X-Response-Nonce") or ""
    if not sig.startswith("v1=") or not ts or not rn:
        return False
    expected = sign_response(secret, status_code, path, request_nonce, request_body,
                             ts, rn, response_body)
    return hmac.compare_digest(expected.encode("latin-1"), sig.encode("latin-1", "replace"))


# ---------------------------------------------------------------------------
# Server state
# ---------------------------------------------------------------------------

STATUS_PATH_RE = re.compile(r"/v1/checkout_intents/([^/]*)/status")
DETAIL_PATH_RE = re.compile(r"/v1/checkout_intents/([^/]*)")
DEFAULT_DETAIL = {"amount_coins": "12.50", "coin_symbol": "USDT", "chain_id": 1,
                  "currency_symbol": "USD", "amount_cents": 1250, "actual_paid_amount": "12.50",
                  "service_fee_amount": "0.125", "net_income_amount": "12.375"}
INTENT_ID_RE = re.compile(r"[0-9a-f]{24}")
TIMESTAMP_RE = re.compile(r"[0-9]+")
SIG_B64_RE = re.compile(r"[A-Za-z0-9+/]{43}=")
NONCE_RE = re.compile(r"[\x21-\x7e]{1,128}")  # visible ASCII, no spaces
MAX_BODY = 1 << 20
AUTH_HEADERS = ("X-API-Key", "X-Timestamp", "X-Nonce", "X-Signature")

HOSTILE_KINDS = ("not_json", "no_code", "string_payload", "unicode_payload", "float_payload", "huge",
                 "huge_declared", "html_502", "reset", "slow", "trickle")
HUGE_SIZE = 16 << 20
HUGE_CHUNK = 64 << 10
SLOW_SECONDS = 3.0
TRICKLE_DELAY = 0.2
_huge_body_cache: list[bytes] = []
_huge_body_lock = threading.Lock()


def huge_body() -> bytes:
    """Exactly HUGE_SIZE bytes of valid JSON shaped like a success envelope (status 1)."""
    with _huge_body_lock:
        if not _huge_body_cache:
            head = b'{"code":0,"payload":1,"error":null,"request_id":"req_huge","pad":"'
            tail = b'"}'
            _huge_body_cache.append(head + b"a" * (HUGE_SIZE - len(head) - len(tail)) + tail)
        return _huge_body_cache[0]


def hostile_body(kind: str, rid: str) -> tuple[int, str, bytes]:
    """(HTTP status, Content-Type, full intended body) of a hostile answer."""
    def env(**fields) -> bytes:
        return json.dumps(fields, separators=(",", ":")).encode("utf-8")

    if kind == "not_json":
        return 200, "text/plain", b"<html>oops</html>"
    if kind == "no_code":
        return 200, "application/json", env(payload=1, error=None, request_id=rid)
    if kind == "string_payload":
        return 200, "application/json", env(code=0, payload="20", error=None, request_id=rid)
    if kind == "unicode_payload":
        payload = "x" * 62 + "\u20ac" * 20  # JSON text: a quote, 62 x, then 3-byte euros
        return 200, "application/json", json.dumps(
            {"code": 0, "payload": payload, "error": None, "request_id": rid},
            separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if kind == "float_payload":
        return 200, "application/json", env(code=0, payload=1.5, error=None, request_id=rid)
    if kind in ("huge", "huge_declared"):
        return 200, "application/json", huge_body()
    if kind == "html_502":
        return 502, "text/html", (b"<html><head><title>502 Bad Gateway</title></head><body>"
                                  b"<h1>502 Bad Gateway</h1></body></html>")
    if kind in ("reset", "slow", "trickle"):
        return 200, "application/json", env(code=0, payload=1, error=None, request_id=rid)
    raise ValueError(f"unknown hostile kind {kind!r}")


class Rejection(Exception):
    def __init__(self, http_status: int, code: int, message: str, reason: str,
                 headers: dict | None = None, close: bool = False):
        super().__init__(reason)
        self.http_status = http_status
        self.code = code
        self.message = message
        self.reason = reason
        self.headers = headers or {}
        self.close = close


class State:
    def __init__(self, api_key: str, api_secret: str, intents: dict, sign_responses: bool,
                 rate_limit: int | None, replay_window: int, verbose: bool):
        self.api_key = api_key
        self.api_secret = api_secret
        self.intents = intents
        self.sign_responses = sign_responses
        self.rate_limit = rate_limit
        self.replay_window = replay_window
        self.verbose = verbose
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self.seen_nonces: set[str] = set()
        self.poll_index: dict[str, int] = {}
        self.accepted: dict[str, int] = {}
        self.detail_accepted: dict[str, int] = {}
        self.last_status: dict[str, int] = {}
        self.scripted_errors: dict[str, int] = {}
        self.rejected: list[dict] = []
        self.violations: list[str] = []
        self.total = 0
        self.per_second: dict[str, int] = {}
        self.accepted_per_second: dict[str, int] = {}
        self.hostile_served: dict[str, int] = {}
        self.hostile_client_gone: dict[str, int] = {}

    def snapshot(self) -> dict:
        with self.lock:
            return {
                "accepted": dict(self.accepted),
                "detail_accepted": dict(self.detail_accepted),
                "rejected": [dict(r) for r in self.rejected],
                "total": self.total,
                "per_second": dict(self.per_second),
                "accepted_per_second": dict(self.accepted_per_second),
                "scripted_errors": dict(self.scripted_errors),
                "violations": list(self.violations),
                "hostile_served": dict(self.hostile_served),
                "hostile_client_gone": dict(self.hostile_client_gone),
            }


def load_intents(path: str) -> dict:
    with open(path, "r", encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, dict):
        raise ValueError("intents file must be a JSON object")
    out = {}
    for iid, spec in data.items():
        detail = None
        if isinstance(spec, dict) and "detail" in spec:
            spec = dict(spec)
            detail = {"payload": spec.pop("detail")}
            if set(spec) == {"statuses"}:
                spec = spec["statuses"]
            elif set(spec) != {"timed"}:
                raise ValueError(f"intent {iid}: detail goes with statuses or timed only")
        if isinstance(spec, list):
            if not spec or not all(isinstance(s, int) and not isinstance(s, bool) for s in spec):
                raise ValueError(f"intent {iid}: status list must be a non-empty list of ints")
            out[iid] = {"kind": "statuses", "statuses": list(spec)}
        elif isinstance(spec, dict) and "timed" in spec:
            steps = spec["timed"]
            ok = isinstance(steps, list) and steps and all(
                isinstance(p, list) and len(p) == 2 and isinstance(p[0], (int, float))
                and isinstance(p[1], int) for p in steps)
            if not ok:
                raise ValueError(f"intent {iid}: timed must be [[seconds, status], ...]")
            out[iid] = {"kind": "timed", "steps": sorted((float(a), b) for a, b in steps)}
        elif isinstance(spec, dict) and "owner" in spec:
            if spec.get("owner") != "other":
                raise ValueError(f"intent {iid}: only {{\"owner\": \"other\"}} is supported")
            out[iid] = {"kind": "error", "code": 30001, "http_status": 403,
                        "message": "forbidden: checkout intent belongs to another store"}
        elif isinstance(spec, dict) and "hostile" in spec:
            if set(spec) != {"hostile"} or spec["hostile"] not in HOSTILE_KINDS:
                raise ValueError(f"intent {iid}: hostile must be one of {', '.join(HOSTILE_KINDS)}")
            out[iid] = {"kind": "hostile", "hostile": spec["hostile"]}
        elif isinstance(spec, dict) and "error_code" in spec:
            code, st = spec.get("error_code"), spec.get("http_status", 500)
            if not isinstance(code, int) or not isinstance(st, int) or not 100 <= st <= 599:
                raise ValueError(f"intent {iid}: error_code/http_status must be ints")
            out[iid] = {"kind": "error", "code": code, "http_status": st,
                        "message": str(spec.get("message", f"scripted error {code}"))}
        else:
            raise ValueError(f"intent {iid}: unsupported spec {spec!r}")
        if detail is not None:
            out[iid]["detail"] = detail["payload"]
    return out


# ---------------------------------------------------------------------------
# HTTP handler
# ---------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AllScaleStrictMock/1.0"
    sys_version = ""
    state: State  # set on the subclass created in make_server()

    def log_message(self, format, *args):  # noqa: A002 - signature from base class
        if self.state.verbose:
            sys.stderr.write("%s - %s\n" % (self.address_string(), format % args))

    # Every method goes through the same strict dispatcher.
    def do_GET(self):
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    # -- helpers ----------------------------------------------------------

    def _raw_target(self) -> str:
        # self.path may have been normalised (gh-87389 collapses a leading '//');
        # the signature covers the path exactly as on the request line.
        words = self.requestline.split()
        return words[1] if len(words) >= 2 else self.path

    def _single_header(self, name: str):
        values = self.headers.get_all(name) or []
        if len(values) > 1:
            raise Rejection(401, 20001, "Missing or invalid authentication headers",
                            f"duplicate header {name}")
        return values[0] if values else None

    def _read_body(self) -> bytes:
        if self.headers.get_all("Transfer-Encoding"):
            raise Rejection(400, 10001, "Validation error",
                            "Transfer-Encoding not allowed on this endpoint", close=True)
        cls = self.headers.get_all("Content-Length") or []
        if not cls:
            return b""
        if len(cls) > 1 or not re.fullmatch(r"[0-9]+", cls[0]):
            raise Rejection(400, 10001, "Validation error",
                            f"invalid Content-Length {cls!r}", close=True)
        n = int(cls[0])
        if n > MAX_BODY:
            raise Rejection(400, 10001, "Validation error", f"body too large ({n})", close=True)
        return self.rfile.read(n) if n else b""

    # -- dispatcher -------------------------------------------------------

    def _dispatch(self):
        st = self.state
        now = time.time()
        target = self._raw_target()
        path, qmark, query = target.partition("?")

        if path == "/-/stats":
            return self._send_stats()

        with st.lock:
            st.total += 1
            sec = str(int(now))
            st.per_second[sec] = st.per_second.get(sec, 0) + 1

        nonce_hdr = ""
        body = b""
        try:
            try:
                nonce_hdr = self.headers.get("X-Nonce") or ""
            except Exception:
                nonce_hdr = ""
            body = self._read_body()
            iid, endpoint = self._check(now, target, path, qmark, query, body)
            self._answer(iid, endpoint, path, nonce_hdr, body)
        except Rejection as rej:
            self._record_rejection(rej, target)
            env = {"code": rej.code, "payload": None, "error": {"message": rej.message},
                   "request_id": new_request_id()}
            if rej.close:
                self.close_connection = True
            self._send(rej.http_status, env, path, nonce_hdr, body, rej.headers, rej.close)

    def _check(self, now, target, path, qmark, query, body) -> str:
        st = self.state
        m = STATUS_PATH_RE.fullmatch(path)
        endpoint = "status"
        if not m:
            m = DETAIL_PATH_RE.fullmatch(path)
            endpoint = "detail"
        if not m:
            raise Rejection(404, 10001, "Route not found", f"unknown route {path!r}")
        if self.command != "GET":
            raise Rejection(405, 10001, "Method not allowed",
                            f"method {self.command} not allowed (GET only)")
        if self.request_version == "HTTP/1.1" and not self.headers.get_all("Host"):
            raise Rejection(400, 10001, "Validation error", "HTTP/1.1 request without Host")

        # --- authentication (20001 / 20002) -------------------------------
        values = {}
        for name in AUTH_HEADERS:
            v = self._single_header(name)
            if v is None or v == "":
                raise Rejection(401, 20001, "Missing authentication headers",
                                f"missing header {name}")
            values[name] = v
        if not hmac.compare_digest(values["X-API-Key"].encode("latin-1", "replace"),
                                   st.api_key.encode("utf-8")):
            raise Rejection(401, 20001, "Invalid API key", "unknown API key")

        ts = values["X-Timestamp"]
        if not TIMESTAMP_RE.fullmatch(ts):
            raise Rejection(401, 20002, "Invalid signature",
                            f"X-Timestamp not a decimal digit string: {ts!r}")
        skew = int(ts) - int(now)
        if abs(skew) > st.replay_window:
            raise Rejection(401, 20002, "Invalid signature",
                            f"X-Timestamp outside ±{st.replay_window}s window (skew {skew}s)")

        nonce = values["X-Nonce"]
        if not NONCE_RE.fullmatch(nonce):
            raise Rejection(401, 20002, "Invalid signature",
                            f"X-Nonce not 1-128 visible ASCII chars: {nonce!r}")

        sig = values["X-Signature"]
        if not sig.startswith("v1="):
            raise Rejection(401, 20002, "Invalid signature",
                            f"X-Signature lacks lowercase 'v1=' prefix: {sig[:8]!r}")
        b64 = sig[3:]
        if not SIG_B64_RE.fullmatch(b64):
            raise Rejection(401, 20002, "Invalid signature",
                            "X-Signature is not 44-char standard padded Base64")
        try:
            raw = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            raise Rejection(401, 20002, "Invalid signature", "X-Signature Base64 does not decode")
        if len(raw) != 32:
            raise Rejection(401, 20002, "Invalid signature", "X-Signature is not 32 bytes")
        for part, label in ((path, "path"), (query, "query")):
            if not all(0x21 <= ord(c) <= 0x7e for c in part):
                raise Rejection(400, 10001, "Validation error", f"non-ASCII {label} in request line")
        canon = canonical_request(self.command, path, query, ts, nonce, sha256_hex(body))
        expected = hmac_b64(st.api_secret, canon)
        if not hmac.compare_digest(expected.encode("ascii"), b64.encode("ascii")):
            raise Rejection(401, 20002, "Invalid signature",
                            "X-Signature mismatch (canonical=%r)" % canon.decode("utf-8", "replace"))

        with st.lock:
            if nonce in st.seen_nonces:
                replay = True
            else:
                replay = False
                st.seen_nonces.add(nonce)
        if replay:
            raise Rejection(401, 20002, "Invalid signature", f"replayed X-Nonce {nonce!r}")

        # --- validation (10001) -------------------------------------------
        if body or self.headers.get("Content-Length", "0") != "0":
            raise Rejection(400, 10001, "Validation error", f"request body not allowed on GET {endpoint}")
        if qmark:
            raise Rejection(400, 10001, "Validation error",
                            f"query string not allowed on this endpoint: {query!r}")
        iid = m.group(1)
        if not INTENT_ID_RE.fullmatch(iid):
            raise Rejection(400, 10001, "Validation error",
                            f"intent id is not 24 lowercase hex: {iid!r}")

        # --- rate limit (40001) -------------------------------------------
        with st.lock:
            sec = str(int(time.time()))
            used = st.accepted_per_second.get(sec, 0)
            if st.rate_limit is not None and used >= st.rate_limit:
                limited = True
            else:
                limited = False
                st.accepted_per_second[sec] = used + 1
                counts = st.accepted if endpoint == "status" else st.detail_accepted
                counts[iid] = counts.get(iid, 0) + 1
        if limited:
            raise Rejection(429, 40001, "Rate limit exceeded",
                            f"rate limit {st.rate_limit}/s exceeded in second {sec}",
                            headers={"Retry-After": "1"})
        return iid, endpoint

    def _answer(self, iid: str, endpoint: str, path: str, nonce: str, body: bytes):
        st = self.state
        spec = st.intents.get(iid)
        rid = new_request_id()
        if spec is None:
            with st.lock:
                st.scripted_errors[iid] = st.scripted_errors.get(iid, 0) + 1
            env = {"code": 50001, "payload": None,
                   "error": {"message": "Checkout intent not found"}, "request_id": rid}
            return self._send(404, env, path, nonce, body)
        if spec["kind"] == "error":
            with st.lock:
                st.scripted_errors[iid] = st.scripted_errors.get(iid, 0) + 1
            env = {"code": spec["code"], "payload": None,
                   "error": {"message": spec["message"]}, "request_id": rid}
            return self._send(spec["http_status"], env, path, nonce, body)
        if spec["kind"] == "hostile":
            return self._hostile(spec["hostile"], rid, path, nonce, body)
        if endpoint == "detail":
            with st.lock:
                status = st.last_status.get(iid)
            payload = spec.get("detail")
            if payload is None:
                payload = {"all_scale_checkout_intent_id": iid, "status": status, **DEFAULT_DETAIL}
            env = {"code": 0, "payload": payload, "error": None, "request_id": rid}
            return self._send(200, env, path, nonce, body)
        if spec["kind"] == "timed":
            elapsed = time.monotonic() - st.started
            status = spec["steps"][0][1]
            for at, value in spec["steps"]:
                if elapsed >= at:
                    status = value
        else:
            with st.lock:
                i = st.poll_index.get(iid, 0)
                st.poll_index[iid] = i + 1
            statuses = spec["statuses"]
            status = statuses[min(i, len(statuses) - 1)]
        with st.lock:
            st.last_status[iid] = status
        env = {"code": 0, "payload": status, "error": None, "request_id": rid}
        return self._send(200, env, path, nonce, body)

    def _record_rejection(self, rej: Rejection, target: str):
        st = self.state
        entry = {"reason": rej.reason, "path": target, "code": rej.code,
                 "http_status": rej.http_status, "method": self.command, "time": time.time()}
        with st.lock:
            st.rejected.append(entry)
            st.violations.append(f"{rej.code}/{rej.http_status} {self.command} {target}: {rej.reason}")
        if st.verbose:
            sys.stderr.write(f"REJECT {rej.code} {self.command} {target}: {rej.reason}\n")

    def _send(self, http_status: int, envelope: dict, path: str, req_nonce: str,
              req_body: bytes, extra_headers: dict | None = None, close: bool = False):
        st = self.state
        payload = json.dumps(envelope, separators=(",", ":")).encode("utf-8")
        self.send_response(http_status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-Request-Id", envelope["request_id"])
        for k, v in (extra_headers or {}).items():
            self.send_header(k, v)
        self._signature_headers(http_status, path, req_nonce, req_body, payload)
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        self.wfile.flush()

    def _signature_headers(self, http_status: int, path: str, req_nonce: str,
                           req_body: bytes, payload: bytes):
        """X-Response-* headers over `payload` (spec §3), when responses are signed."""
        st = self.state
        if not st.sign_responses:
            return
        rts = str(int(time.time()))
        rnonce = str(uuid.uuid4())
        sig = sign_response(st.api_secret, http_status, path,
                            req_nonce.encode("latin-1", "replace"), req_body,
                            rts, rnonce, payload)
        self.send_header("X-Response-Timestamp", rts)
        self.send_header("X-Response-Nonce", rnonce)
        self.send_header("X-Request-Nonce", req_nonce)
        self.send_header("X-Response-Signature", sig)

    # -- hostile answers (served after every check passed) -------------------

    def _hostile(self, kind: str, rid: str, path: str, req_nonce: str, req_body: bytes):
        st = self.state
        with st.lock:
            st.hostile_served[kind] = st.hostile_served.get(kind, 0) + 1
        # Never reuse a connection that carried a hostile answer.
        self.close_connection = True
        http_status, ctype, payload = hostile_body(kind, rid)
        try:
            if kind == "slow":
                time.sleep(SLOW_SECONDS)
            self.send_response(http_status)
            self.send_header("Content-Type", ctype)
            if kind == "huge":
                self.send_header("Transfer-Encoding", "chunked")
            elif kind == "reset":
                self.send_header("Content-Length", str(len(payload) + 1000))
            else:
                self.send_header("Content-Length", str(len(payload)))
            self.send_header("X-Request-Id", rid)
            self._signature_headers(http_status, path, req_nonce, req_body, payload)
            self.send_header("Connection", "close")
            self.end_headers()
            if kind == "huge":
                view = memoryview(payload)
                for i in range(0, len(view), HUGE_CHUNK):
                    part = view[i:i + HUGE_CHUNK]
                    self.wfile.write(b"%x\r\n" % len(part))
                    self.wfile.write(part)
                    self.wfile.write(b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
            elif kind == "huge_declared":
                view = memoryview(payload)
                for i in range(0, len(view), HUGE_CHUNK):
                    self.wfile.write(view[i:i + HUGE_CHUNK])
            elif kind == "reset":
                self.wfile.write(payload[: len(payload) // 2])
                time.sleep(0.1)  # let the head arrive before the reset
                self._abort_connection()
            elif kind == "trickle":
                for i in range(len(payload)):
                    self.wfile.write(payload[i:i + 1])
                    time.sleep(TRICKLE_DELAY)
            else:
                self.wfile.write(payload)
        except OSError:  # BrokenPipe, ConnectionReset, ...: the client hung up
            with st.lock:
                st.hostile_client_gone[kind] = st.hostile_client_gone.get(kind, 0) + 1

    def _abort_connection(self):
        """Close with SO_LINGER {on, 0}: the kernel sends RST instead of FIN."""
        sock = self.connection
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # detach() so the makefile() references cannot keep the descriptor open.
        fd = sock.detach()
        socket.close(fd)

    def _send_stats(self):
        # Drain any body so keep-alive stays in sync; stats are never signed.
        try:
            self._read_body()
        except Rejection:
            self.close_connection = True
        payload = json.dumps(self.state.snapshot(), separators=(",", ":")).encode("utf-8")
        self.send_response(200 if self.command == "GET" else 405)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-Request-Id", new_request_id())
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        self.wfile.flush()


def new_request_id() -> str:
    return "req_" + secrets.token_hex(8)


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    verbose = False

    def handle_error(self, request, client_address):
        if self.verbose:
            super().handle_error(request, client_address)


def make_server(port: int, state: State) -> QuietServer:
    handler = type("BoundHandler", (Handler,), {"state": state})
    server = QuietServer(("127.0.0.1", port), handler)
    server.verbose = state.verbose
    return server


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Strict AllScale status-endpoint mock")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--api-key", required=True)
    ap.add_argument("--api-secret", required=True)
    ap.add_argument("--intents", required=True)
    ap.add_argument("--sign-responses", action="store_true")
    ap.add_argument("--rate-limit", type=int, default=None,
                    help="max accepted requests per wall-clock second")
    ap.add_argument("--replay-window", type=int, default=300,
                    help="allowed |X-Timestamp - now| in seconds (default 300)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    if args.rate_limit is not None and args.rate_limit < 0:
        ap.error("--rate-limit must be >= 0")

    try:
        intents = load_intents(args.intents)
    except (OSError, ValueError) as exc:
        print(f"strict_mock: bad --intents file: {exc}", file=sys.stderr)
        return 2

    state = State(args.api_key, args.api_secret, intents, args.sign_responses,
                  args.rate_limit, args.replay_window, args.verbose)
    server = make_server(args.port, state)
    stop = threading.Event()

    def _on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)

    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    sys.stdout.write(f"LISTENING {server.server_address[1]}\n")
    sys.stdout.flush()
    while not stop.wait(0.2):
        pass
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
