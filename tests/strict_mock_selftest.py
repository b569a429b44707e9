"""Self-test for tests/strict_mock.py (stdlib unittest).

Run from the repository root:  python3 -m unittest tests/strict_mock_selftest.py -v
"""

import http.client
import json
import os
import errno
import re
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import strict_mock as sm  # noqa: E402

KEY = "st_key_selftest"
SECRET = "st_test_secret_0123456789abcdef"
ID_SCRIPT = "65b2f3d0d2d9c0a1b2c3d4e5"
ID_DONE = "6650a1b2c3d4e5f60718293a"
ID_OTHER = "aaaaaaaaaaaaaaaaaaaaaaaa"
ID_BOOM = "bbbbbbbbbbbbbbbbbbbbbbbb"
ID_MISSING = "cccccccccccccccccccccccc"
ID_PAID = "dddddddddddddddddddddddd"
PAID_DETAIL = {"amount_coins": "0.1", "coin_symbol": "ETH", "chain_id": 8453}
# One intent per hostile kind: 6800000000000000000000<index as 2 hex digits>.
HOSTILE = {kind: "68%022x" % i for i, kind in enumerate(sm.HOSTILE_KINDS)}
INTENTS = {
    ID_SCRIPT: [1, 2, 10, 20],
    ID_DONE: [20],
    ID_OTHER: {"owner": "other"},
    ID_BOOM: {"error_code": 90000, "http_status": 500},
    ID_PAID: {"statuses": [20], "detail": PAID_DETAIL},
    **{iid: {"hostile": kind} for kind, iid in HOSTILE.items()},
}


def status_path(iid):
    return f"/v1/checkout_intents/{iid}/status"


class Mock:
    def __init__(self, *extra):
        fd, self.intents_path = tempfile.mkstemp(suffix=".json")
        with os.fdopen(fd, "w") as fh:
            json.dump(INTENTS, fh)
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "strict_mock.py"), "--port", "0",
             "--api-key", KEY, "--api-secret", SECRET, "--intents", self.intents_path, *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.first_line = self.proc.stdout.readline()
        m = re.fullmatch(r"LISTENING (\d+)\n", self.first_line)
        if not m:
            self.proc.kill()
            raise RuntimeError(f"bad first line {self.first_line!r}: {self.proc.stderr.read()}")
        self.port = int(m.group(1))

    def stop(self):
        self.proc.terminate()
        try:
            rc = self.proc.wait(5)
        finally:
            self.proc.stdout.close()
            self.proc.stderr.close()
            os.unlink(self.intents_path)
        return rc

    def raw(self, method, target, headers, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.putrequest(method, target, skip_accept_encoding=True)
            for k, v in headers.items():
                conn.putheader(k, v)
            conn.endheaders(body)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp.headers, data
        finally:
            conn.close()

    def signed(self, iid=ID_SCRIPT, *, method="GET", path=None, query=None, ts=None,
               nonce=None, key=KEY, secret=SECRET, body=b"", drop=(), sig=None, mutate=None):
        path = path or status_path(iid)
        ts = str(int(time.time())) if ts is None else ts
        nonce = nonce or str(uuid.uuid4())
        signature = sig or sm.sign_request(secret, method, path, query or "", ts, nonce, body)
        headers = {"X-API-Key": key, "X-Timestamp": ts, "X-Nonce": nonce,
                   "X-Signature": signature}
        if body:
            headers["Content-Length"] = str(len(body))
        for d in drop:
            headers.pop(d)
        if mutate:
            mutate(headers)
        target = path if query is None else f"{path}?{query}"
        st, hdrs, data = self.raw(method, target, headers, body or None)
        return st, hdrs, data, nonce

    def stats(self):
        st, _, data = self.raw("GET", "/-/stats", {})
        assert st == 200
        return json.loads(data)

    def signed_socket(self, iid, timeout=5):
        """A raw socket that has sent one correctly signed status request."""
        path = status_path(iid)
        ts, nonce = str(int(time.time())), str(uuid.uuid4())
        sig = sm.sign_request(SECRET, "GET", path, "", ts, nonce)
        request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {KEY}\r\n"
                   f"X-Timestamp: {ts}\r\nX-Nonce: {nonce}\r\nX-Signature: {sig}\r\n\r\n")
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        sock.sendall(request.encode("ascii"))
        return sock

    def wait_stats(self, what, check, limit=5.0):
        deadline = time.monotonic() + limit
        while True:
            s = self.stats()
            if check(s):
                return s
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}: {s}")
            time.sleep(0.05)


class VectorTests(unittest.TestCase):
    """Spec §8 vectors reproduce with the mock's own helpers."""

    V1_SECRET = "st_test_secret_0123456789abcdef"
    TS, NONCE = "1716501000", "b4d9a2a1-9c2b-4df4-8b8e-2a13a45fd321"

    def test_empty_sha(self):
        self.assertEqual(sm.sha256_hex(b""), sm.EMPTY_SHA256)

    def test_v1(self):
        canon = sm.canonical_request("GET", status_path(ID_SCRIPT), "", self.TS, self.NONCE,
                                     sm.EMPTY_SHA256)
        self.assertEqual(len(canon), 170)
        self.assertEqual(sm.sign_request(self.V1_SECRET, "GET", status_path(ID_SCRIPT), "",
                                         self.TS, self.NONCE),
                         "v1=IQdwCtMNgXIfPKMBojg5vIYZCjXvjnsmJfgjlt5wsOA=")

    def test_v2(self):
        canon = sm.canonical_request("GET", status_path(ID_DONE), "", "1767225600",
                                     "0f8e7d6c-5b4a-4392-8170-6a5b4c3d2e1f", sm.EMPTY_SHA256)
        self.assertEqual(len(canon), 170)
        self.assertEqual(sm.sign_request(self.V1_SECRET, "GET", status_path(ID_DONE), "",
                                         "1767225600", "0f8e7d6c-5b4a-4392-8170-6a5b4c3d2e1f"),
                         "v1=4RY1JJCUpZhTTHszcBoaIC4ZZGbr7nzYCGiP9q67XZ4=")

    def test_v3(self):
        self.assertEqual(sm.sign_request("st_0000000000000000000000000000000000000000", "GET",
                                         status_path(ID_SCRIPT), "", self.TS, self.NONCE),
                         "v1=2eOmhLGFH4KzwslSGaVv3VIVGMQuYqtkakKTmXiJW7w=")

    def test_v4_v5(self):
        self.assertEqual(sm.sign_request(self.V1_SECRET, "GET", "/v1/test/ping", "",
                                         self.TS, self.NONCE),
                         "v1=eKguqXH3GEyg2uRD2nEI2gQQW012N5XlIr1pkfCHTvE=")
        canon = sm.canonical_request(
            "POST", "/v1/payments", "currency=USD", self.TS, self.NONCE,
            "4e07408562bedb8b60ce05c1decfe3ad16b722309a7c4c5f64b1f4e48e8d8d69")
        self.assertEqual("v1=" + sm.hmac_b64(self.V1_SECRET, canon),
                         "v1=20rfXiMzQNMaaRnMY3O0UVSvPvs1sBZsD4Ecuw7Icug=")

    def test_r1(self):
        body = b'{"code":0,"payload":20,"error":null,"request_id":"req_xxxxx"}'
        self.assertEqual(sm.sha256_hex(body),
                         "b7e9aef8ea3d0dc2bbf8f903a44ef376396570aa36da3ed4feb98c223debd0bf")
        canon = sm.canonical_response(200, status_path(ID_SCRIPT), self.NONCE, sm.EMPTY_SHA256,
                                      "1716501002", "7c1e2d3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
                                      sm.sha256_hex(body))
        self.assertEqual(len(canon), 271)
        sig = sm.sign_response(self.V1_SECRET, 200, status_path(ID_SCRIPT), self.NONCE, b"",
                               "1716501002", "7c1e2d3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f", body)
        self.assertEqual(sig, "v1=mnTGcxrmXxbx9YQsBAS6W+Tw7hvlXUFjCUjOGPIwjgo=")
        hdrs = {"X-Response-Signature": sig, "X-Response-Timestamp": "1716501002",
                "X-Response-Nonce": "7c1e2d3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"}
        self.assertTrue(sm.verify_response(self.V1_SECRET, 200, status_path(ID_SCRIPT),
                                           self.NONCE, b"", hdrs, body))
        self.assertFalse(sm.verify_response(self.V1_SECRET, 200, status_path(ID_SCRIPT),
                                            self.NONCE, b"", hdrs, body + b" "))


class PlainServerTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()

    @classmethod
    def tearDownClass(cls):
        cls.rc = cls.mock.stop()

    def assertEnvelope(self, st, hdrs, data, http_status, code, payload=None):
        self.assertEqual(st, http_status, data)
        self.assertEqual(hdrs["Content-Type"], "application/json")
        env = json.loads(data)
        self.assertEqual(set(env), {"code", "payload", "error", "request_id"})
        self.assertEqual(env["code"], code, data)
        self.assertRegex(env["request_id"], r"^req_[0-9a-f]+$")
        self.assertEqual(hdrs["X-Request-Id"], env["request_id"])
        if code == 0:
            self.assertIsNone(env["error"])
            self.assertEqual(env["payload"], payload)
        else:
            self.assertIsNone(env["payload"])
            self.assertIsInstance(env["error"]["message"], str)
        return env

    def reject_count(self):
        return len(self.mock.stats()["rejected"])

    def expect_reject(self, http_status, code, reason_re, **kw):
        before = self.reject_count()
        st, hdrs, data, _ = self.mock.signed(**kw)
        self.assertEnvelope(st, hdrs, data, http_status, code)
        stats = self.mock.stats()
        self.assertEqual(len(stats["rejected"]), before + 1)
        self.assertRegex(stats["rejected"][-1]["reason"], reason_re)
        self.assertEqual(len(stats["violations"]), len(stats["rejected"]))

    def test_a_scripted_statuses_in_order(self):
        got = [json.loads(self.mock.signed(ID_SCRIPT)[2])["payload"] for _ in range(6)]
        self.assertEqual(got, [1, 2, 10, 20, 20, 20])
        stats = self.mock.stats()
        self.assertEqual(stats["accepted"][ID_SCRIPT], 6)
        self.assertEqual(stats["rejected"], [])
        self.assertEqual(stats["violations"], [])

    def test_envelope_success(self):
        st, hdrs, data, _ = self.mock.signed(ID_DONE)
        self.assertEnvelope(st, hdrs, data, 200, 0, 20)
        self.assertIsNone(hdrs.get("X-Response-Signature"))

    def test_scripted_errors(self):
        self.assertEnvelope(*self.mock.signed(ID_MISSING)[:3], 404, 50001)
        self.assertEnvelope(*self.mock.signed(ID_OTHER)[:3], 403, 30001)
        self.assertEnvelope(*self.mock.signed(ID_BOOM)[:3], 500, 90000)

    def test_missing_header(self):
        for h in sm.AUTH_HEADERS:
            self.expect_reject(401, 20001, "missing header " + h, drop=(h,))

    def test_wrong_key(self):
        self.expect_reject(401, 20001, "unknown API key", key="st_wrong")

    def test_bad_signature(self):
        self.expect_reject(401, 20002, "mismatch", secret="st_other_secret")
        self.expect_reject(401, 20002, "prefix",
                           mutate=lambda h: h.update({"X-Signature": "V1=" + h["X-Signature"][3:]}))
        self.expect_reject(401, 20002, "Base64",
                           mutate=lambda h: h.update({"X-Signature": h["X-Signature"].rstrip("=")}))
        self.expect_reject(401, 20002, "Base64", mutate=lambda h: h.update(
            {"X-Signature": h["X-Signature"].replace("+", "-").replace("/", "_")
             if ("+" in h["X-Signature"] or "/" in h["X-Signature"]) else "v1=!" + h["X-Signature"][4:]}))
        # Signature over a different (normalised) path than the one sent.
        self.expect_reject(401, 20002, "mismatch", path="/v1/checkout_intents/" + ID_DONE + "/status",
                           sig=sm.sign_request(SECRET, "GET", status_path(ID_SCRIPT), "",
                                               str(int(time.time())), "n-fixed-1"),
                           nonce="n-fixed-1")

    def test_stale_timestamp(self):
        self.expect_reject(401, 20002, "window", ts=str(int(time.time()) - 301))
        self.expect_reject(401, 20002, "window", ts=str(int(time.time()) + 400))
        self.expect_reject(401, 20002, "decimal", ts=str(int(time.time() * 1000) / 1000.0))
        self.expect_reject(401, 20002, "decimal", ts="+" + str(int(time.time())))

    def test_replayed_nonce(self):
        nonce = str(uuid.uuid4())
        ts = str(int(time.time()))
        st, hdrs, data, _ = self.mock.signed(ID_DONE, nonce=nonce, ts=ts)
        self.assertEnvelope(st, hdrs, data, 200, 0, 20)
        self.expect_reject(401, 20002, "replayed", iid=ID_DONE, nonce=nonce, ts=ts)

    def test_query_present(self):
        self.expect_reject(400, 10001, "query", query="x=1")
        self.expect_reject(400, 10001, "query", query="")

    def test_body_present(self):
        self.expect_reject(400, 10001, "body", body=b"{}")

    def test_uppercase_hex_id(self):
        self.expect_reject(400, 10001, "24 lowercase hex", iid=ID_SCRIPT.upper())
        self.expect_reject(400, 10001, "24 lowercase hex", iid=ID_SCRIPT[:-1])

    def test_wrong_method_and_route(self):
        self.expect_reject(405, 10001, "method POST", method="POST")
        self.expect_reject(404, 10001, "unknown route", path=status_path(ID_SCRIPT) + "/")

    def test_detail_as_scripted_or_the_default(self):
        path = f"/v1/checkout_intents/{ID_PAID}"
        self.assertEnvelope(*self.mock.signed(ID_PAID, path=path)[:3], 200, 0, PAID_DETAIL)
        self.mock.signed(ID_DONE)
        path = f"/v1/checkout_intents/{ID_DONE}"
        env = self.assertEnvelope(*self.mock.signed(ID_DONE, path=path)[:3], 200, 0,
                                  {"all_scale_checkout_intent_id": ID_DONE, "status": 20,
                                   **sm.DEFAULT_DETAIL})
        self.assertEqual(env["payload"]["actual_paid_amount"], "12.50")
        stats = self.mock.stats()
        self.assertEqual(stats["detail_accepted"], {ID_PAID: 1, ID_DONE: 1})
        missing = f"/v1/checkout_intents/{ID_MISSING}"
        self.assertEnvelope(*self.mock.signed(ID_MISSING, path=missing)[:3], 404, 50001)
        self.expect_reject(400, 10001, "query string", path=path, query="x=1")

    def test_detail_goes_with_statuses_or_timed_only(self):
        for spec in ({"detail": {}}, {"statuses": [1], "owner": "other", "detail": {}}):
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
                json.dump({ID_PAID: spec}, fh)
            try:
                with self.assertRaises(ValueError):
                    sm.load_intents(fh.name)
            finally:
                os.unlink(fh.name)

    def test_stats_shape(self):
        self.mock.signed(ID_DONE)
        s = self.mock.stats()
        for k in ("accepted", "rejected", "total", "per_second"):
            self.assertIn(k, s)
        self.assertIsInstance(s["accepted"], dict)
        self.assertIsInstance(s["total"], int)
        self.assertTrue(all(re.fullmatch(r"\d+", k) for k in s["per_second"]))
        self.assertEqual(sum(s["per_second"].values()), s["total"])
        self.assertGreaterEqual(s["total"], sum(s["accepted"].values()) + len(s["rejected"]))


class HostileSpecTests(unittest.TestCase):
    """The {"hostile": KIND} intents-file form."""

    def load(self, data):
        fd, path = tempfile.mkstemp(suffix=".json")
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(data, fh)
            return sm.load_intents(path)
        finally:
            os.unlink(path)

    def test_every_kind_parses(self):
        got = self.load({iid: {"hostile": kind} for kind, iid in HOSTILE.items()})
        for kind, iid in HOSTILE.items():
            self.assertEqual(got[iid], {"kind": "hostile", "hostile": kind})

    def test_unknown_kind_or_extra_keys_refused(self):
        for spec in ({"hostile": "nope"}, {"hostile": 1}, {"hostile": "slow", "extra": 1}):
            with self.assertRaisesRegex(ValueError, "hostile must be one of"):
                self.load({ID_SCRIPT: spec})

    def test_bodies(self):
        for kind in sm.HOSTILE_KINDS:
            st, ctype, body = sm.hostile_body(kind, "req_1")
            self.assertEqual(st, 502 if kind == "html_502" else 200, kind)
            if kind in ("not_json", "html_502"):
                self.assertNotEqual(ctype, "application/json")
                self.assertRaises(ValueError, json.loads, body)
                continue
            env = json.loads(body)
            if kind == "no_code":
                self.assertNotIn("code", env)
            else:
                self.assertEqual(env["code"], 0, kind)
        self.assertEqual(json.loads(sm.hostile_body("string_payload", "r")[2])["payload"], "20")
        self.assertEqual(json.loads(sm.hostile_body("float_payload", "r")[2])["payload"], 1.5)
        huge = sm.hostile_body("huge", "r")[2]
        self.assertEqual(len(huge), 16 << 20)
        self.assertEqual(json.loads(huge)["payload"], 1)


class HostileServerTests(unittest.TestCase):
    """Hostile answers end to end: only after auth, counted, and as described."""

    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()

    @classmethod
    def tearDownClass(cls):
        cls.mock.stop()

    def served(self, kind):
        return self.mock.stats()["hostile_served"].get(kind, 0)

    def test_a_unsigned_request_gets_a_rejection_not_the_hostile_answer(self):
        before = self.served("not_json")
        st, hdrs, data, _ = self.mock.signed(HOSTILE["not_json"], secret="st_wrong")
        self.assertEqual(st, 401)
        self.assertEqual(json.loads(data)["code"], 20002)
        self.assertEqual(self.served("not_json"), before)
        self.assertEqual(len(self.mock.stats()["rejected"]), 1)

    def test_complete_malformed_answers(self):
        for kind, want_status, want_type in (("not_json", 200, "text/plain"),
                                             ("no_code", 200, "application/json"),
                                             ("string_payload", 200, "application/json"),
                                             ("float_payload", 200, "application/json"),
                                             ("html_502", 502, "text/html")):
            before = self.served(kind)
            st, hdrs, data, _ = self.mock.signed(HOSTILE[kind])
            self.assertEqual((st, hdrs["Content-Type"]), (want_status, want_type), kind)
            self.assertEqual(hdrs["Connection"], "close")
            self.assertEqual(data, sm.hostile_body(kind, hdrs["X-Request-Id"])[2], kind)
            self.assertEqual(self.served(kind), before + 1, kind)

    def test_huge_is_chunked_and_a_hang_up_is_quiet(self):
        stats = self.mock.stats()
        before = stats["hostile_client_gone"].get("huge", 0)
        violations = stats["violations"]
        sock = self.mock.signed_socket(HOSTILE["huge"])
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head)
        self.assertIn(b"Transfer-Encoding: chunked", head)
        self.assertNotIn(b"Content-Length", head)
        sock.close()  # stop reading, like a client at its body cap
        self.mock.wait_stats("the mock to notice the hang-up",
                             lambda s: s["hostile_client_gone"].get("huge", 0) == before + 1)
        self.assertEqual(self.mock.stats()["violations"], violations)
        self.assertEqual(self.mock.signed(ID_DONE)[0], 200)  # and it still serves

    def test_reset_is_an_abortive_close_mid_body(self):
        sock = self.mock.signed_socket(HOSTILE["reset"])
        got, error = b"", None
        try:
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                got += chunk
        except ConnectionResetError as exc:
            error = exc
        finally:
            sock.close()
        self.assertIsNotNone(error, f"clean EOF instead of a reset after {got!r}")
        self.assertEqual(error.errno, errno.ECONNRESET)
        head, _, body = got.partition(b"\r\n\r\n")
        declared = int(re.search(rb"Content-Length: (\d+)", head).group(1))
        self.assertLess(len(body), declared)

    def test_slow_answers_after_the_client_gave_up(self):
        before = self.served("slow")
        sock = self.mock.signed_socket(HOSTILE["slow"], timeout=1)
        with self.assertRaises(socket.timeout):
            sock.recv(1)
        sock.close()
        self.assertEqual(self.served("slow"), before + 1)
        # Threaded: other requests are answered while it sleeps.
        start = time.monotonic()
        self.assertEqual(self.mock.signed(ID_DONE)[0], 200)
        self.assertLess(time.monotonic() - start, sm.SLOW_SECONDS)

    def test_trickle_sends_headers_then_one_byte_at_a_time(self):
        sock = self.mock.signed_socket(HOSTILE["trickle"])
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        head, _, body = head.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head)
        start = time.monotonic()
        while len(body) < 4:
            body += sock.recv(4096)
        self.assertGreaterEqual(time.monotonic() - start, 2 * sm.TRICKLE_DELAY)
        self.assertEqual(body[:4], b'{"co')
        sock.close()


class SignedRateLimitedTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.signed_mock = Mock("--sign-responses")
        cls.rl_mock = Mock("--rate-limit", "3")

    @classmethod
    def tearDownClass(cls):
        cls.signed_mock.stop()
        cls.rl_mock.stop()

    def test_signed_response_verifies(self):
        for iid, want in ((ID_SCRIPT, 200), (ID_MISSING, 404)):
            st, hdrs, data, nonce = self.signed_mock.signed(iid)
            self.assertEqual(st, want)
            self.assertEqual(hdrs["X-Request-Nonce"], nonce)
            self.assertEqual(hdrs["X-Request-Id"], json.loads(data)["request_id"])
            self.assertRegex(hdrs["X-Response-Timestamp"], r"^\d+$")
            self.assertLessEqual(abs(int(hdrs["X-Response-Timestamp"]) - time.time()), 5)
            self.assertTrue(sm.verify_response(SECRET, st, status_path(iid), nonce, b"", hdrs, data))
            self.assertFalse(sm.verify_response(SECRET, st, status_path(iid), nonce + "x", b"",
                                                hdrs, data))
            self.assertFalse(sm.verify_response("st_other", st, status_path(iid), nonce, b"",
                                                hdrs, data))
        # Error (rejection) answers are signed too.
        st, hdrs, data, nonce = self.signed_mock.signed(ID_SCRIPT, secret="st_wrong_secret")
        self.assertEqual(st, 401)
        self.assertTrue(sm.verify_response(SECRET, st, status_path(ID_SCRIPT), nonce, b"",
                                           hdrs, data))

    def test_hostile_answers_are_signed(self):
        for kind in ("not_json", "html_502", "float_payload"):
            st, hdrs, data, nonce = self.signed_mock.signed(HOSTILE[kind])
            self.assertTrue(sm.verify_response(SECRET, st, status_path(HOSTILE[kind]), nonce,
                                               b"", hdrs, data), kind)

    def test_rate_limit(self):
        for _attempt in range(3):
            time.sleep(1.02 - (time.time() % 1))  # start just after a second boundary
            start = int(time.time())
            results = [self.rl_mock.signed(ID_DONE) for _ in range(5)]
            if int(time.time()) != start:
                continue  # straddled a boundary; try again
            codes = [json.loads(r[2])["code"] for r in results]
            self.assertEqual(codes, [0, 0, 0, 40001, 40001])
            for st, hdrs, _, _ in results[3:]:
                self.assertEqual(st, 429)
                self.assertEqual(hdrs["Retry-After"], "1")
            stats = self.rl_mock.stats()
            self.assertEqual(stats["accepted_per_second"][str(start)], 3)
            self.assertTrue(all(v <= 3 for v in stats["accepted_per_second"].values()))
            self.assertEqual([r["code"] for r in stats["rejected"]][-2:], [40001, 40001])
            time.sleep(1.02 - (time.time() % 1))
            self.assertEqual(json.loads(self.rl_mock.signed(ID_DONE)[2])["code"], 0)
            return
        self.fail("could not fit 5 requests into one wall-clock second")


class LifecycleTests(unittest.TestCase):
    def test_sigterm_exits_zero(self):
        m = Mock()
        self.assertRegex(m.first_line, r"^LISTENING \d+\n$")
        self.assertEqual(m.stop(), 0)

    def test_sigint_exits_zero(self):
        import signal
        m = Mock()
        m.proc.send_signal(signal.SIGINT)
        self.assertEqual(m.proc.wait(5), 0)
        m.stop()


if __name__ == "__main__":
    unittest.main()
