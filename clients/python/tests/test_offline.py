"""Offline tests: encoding against curia_verify, key files, field checks, and the client's handling
of hostile or unusual answers from a scripted HTTP server on 127.0.0.1 (no Curia node needed)."""

from __future__ import annotations

import http.server
import json
import os
import random
import sys
import tempfile
import threading
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
REPO = HERE.parents[2]
GOLDEN = REPO / "ledger" / "tests" / "data" / "golden"

import curia_client as cc  # noqa: E402
from curia_client import encoding as enc  # noqa: E402
from curia_client.verify import load_verifier  # noqa: E402

cv = load_verifier()
CHAIN = bytes(range(32))


class EncodingAgreesWithVerifier(unittest.TestCase):
    """The vendored encoding must give curia_verify's bytes for every deposit shape."""

    def test_golden_receipt_bodies_and_ids(self):
        for name in ("single", "salted", "batch"):
            rc = cv.parse_receipt((GOLDEN / f"receipt-{name}.json").read_bytes())
            t, p = rc.tx, rc.tx["payload"]
            if p["kind"] == "deposit":
                body = enc.deposit_body(t["sender"], t["nonce"], p["commitment_kind"] == "salted", p["commitment"],
                                        p["media_type"], p["byte_length"], p["label"], p["reference"])
            else:
                body = enc.batch_body(t["sender"], t["nonce"], p["root"], p["count"], p["salted"], p["media_type"],
                                      p["label"], p["reference"])
            self.assertEqual(body, cv.encode_body(t), name)
            txid = enc.tx_id(rc.chain_id, body)
            self.assertEqual(txid, cv.tx_id(rc.chain_id, body))
            want = txid if rc.item is None else enc.batch_item_id(txid, rc.item["index"])
            self.assertEqual(want, rc.deposit_id, name)

    def test_salted_commitment_of_golden_salted_deposit(self):
        rc = cv.parse_receipt((GOLDEN / "receipt-salted.json").read_bytes())
        with open(GOLDEN / "evidence-salted.bin", "rb") as f:
            digest, n = enc.sha256_stream(f)
        self.assertEqual(n, (GOLDEN / "evidence-salted.bin").stat().st_size)
        self.assertEqual(enc.salted_commitment(rc.salt, digest), rc.tx["payload"]["commitment"])

    def test_merkle_root_matches_verifier_for_many_sizes(self):
        rnd = random.Random(7)
        for n in list(range(1, 70)) + [255, 256, 257, 1000]:
            items = [rnd.randbytes(32) for _ in range(n)]
            self.assertEqual(enc.merkle_root(items), cv.merkle_root([cv.leaf_hash(i) for i in items]), n)

    def test_signed_transaction_json_parses_and_verifies_in_curia_verify(self):
        key = cc.SigningKey.generate()
        c = cc.Client("http://127.0.0.1:1", key, chain_id=CHAIN)
        for payload, items in [
            (cc.DepositPayload(b"\x11" * 32, False, "application/pdf", 48213, "contract ü", "order-1"), ()),
            (cc.DepositPayload(b"\x22" * 32, True, "text/plain", 0, "x", ""), ()),
            (cc.BatchDepositPayload(enc.merkle_root([b"\x01" * 32, b"\x02" * 32]), 2, False, "image/png", "b", "r"),
             (b"\x01" * 32, b"\x02" * 32)),
        ]:
            tx = c.sign(payload, items)
            j = json.loads(json.dumps(tx.to_json()))
            body = cv.parse_body(cv.Obj(j["body"], "tx"))
            body_bytes = cv.encode_body(body)
            self.assertEqual(body_bytes, tx.body.encode())
            self.assertIsNone(cv.ed25519_verify(key.public, cv.tx_id(CHAIN, body_bytes),
                                                       bytes.fromhex(j["signature"])))
            self.assertEqual(tx.deposit_ids(CHAIN)[0],
                             (cv.tx_id(CHAIN, body_bytes) if not items else
                              cv.batch_item_id(cv.tx_id(CHAIN, body_bytes), 0)).hex())
            self.assertEqual(j.get("items", []), [i.hex() for i in items])


class KeyFiles(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def path(self, name):
        return Path(self.dir.name) / name

    def test_round_trip_mode_and_no_overwrite(self):
        k = cc.SigningKey.generate()
        k.write(self.path("k"))
        self.assertEqual(os.stat(self.path("k")).st_mode & 0o777, 0o600)
        self.assertEqual(cc.read_key_file(self.path("k")).public, k.public)
        with self.assertRaises(cc.KeyFileError):
            k.write(self.path("k"))
        self.assertNotIn(k._seed.hex(), repr(k))

    def test_malformed_key_files_are_refused(self):
        k = cc.SigningKey.generate()
        good = {"type": "curia-ed25519-secret-key", "public": k.public_hex, "secret": k._seed.hex()}
        bad = [
            {**good, "extra": 1},
            {k2: v for k2, v in good.items() if k2 != "public"},
            {**good, "type": "other"},
            {**good, "public": cc.SigningKey.generate().public_hex},
            {**good, "secret": good["secret"][:-2]},
            {**good, "secret": "zz" * 32},
            [good],
        ]
        for i, v in enumerate(bad):
            self.path(f"b{i}").write_text(json.dumps(v))
            with self.assertRaises(cc.KeyFileError, msg=str(v)):
                cc.read_key_file(self.path(f"b{i}"))
        self.path("big").write_bytes(b" " * ((1 << 20) + 1))
        with self.assertRaises(cc.KeyFileError):
            cc.read_key_file(self.path("big"))
        with self.assertRaises(cc.KeyFileError):
            cc.read_key_file(self.path("missing"))


class FieldChecks(unittest.TestCase):
    def test_labels(self):
        for bad in ["", "\x1b[2J\x1b[32mVALID", "a\u202eb", "zero\u200bwidth", "line\u2028sep", "x" * 257, "\x00"]:
            with self.assertRaises(cc.InvalidInput, msg=repr(bad)):
                cc.check_text("label", bad, 256, False)
        self.assertEqual(cc.check_text("label", "合同 2026-01", 256, False), "合同 2026-01")
        self.assertEqual(cc.check_text("reference", "", 256, True), "")
        with self.assertRaises(cc.InvalidInput):
            cc.check_text("label", "é" * 129, 256, False)  # 258 bytes of UTF-8

    def test_media_types(self):
        for good in ["application/pdf", "image/svg+xml", "application/vnd.ms-excel", "text/plain"]:
            self.assertEqual(cc.check_media_type(good), good)
        for bad in ["", "pdf", "text/", "/plain", "text/plain; charset=utf-8", "a b/c", "text/plain\n",
                    "a/" + "b" * 127, None]:
            with self.assertRaises(cc.InvalidInput, msg=repr(bad)):
                cc.check_media_type(bad)

    def test_client_arguments(self):
        k = cc.SigningKey.generate()
        for url in ["ftp://x", "http://", "http://h/?q=1", "http://u:p@h", "notaurl"]:
            with self.assertRaises(cc.InvalidInput, msg=url):
                cc.Client(url, k, chain_id=CHAIN)
        with self.assertRaises(cc.InvalidInput):
            cc.Client("http://h", k)
        with self.assertRaises(cc.InvalidInput):
            cc.Client("http://h", k, chain_id="00" * 31)
        c = cc.Client("http://127.0.0.1:1/", k, chain_id=CHAIN.hex())
        self.assertEqual(c.transport.base_url, "http://127.0.0.1:1")
        for bad in ["zz" * 32, "ab", None]:
            with self.assertRaises(cc.InvalidInput):
                c.get_receipt(bad)
        with self.assertRaises(cc.InvalidInput):
            c.batch_deposit([], "text/plain", "l")
        with self.assertRaises(cc.InvalidInput):
            c.deposit_digest("11" * 32, -1, "text/plain", "l")
        with self.assertRaises(cc.InvalidInput):
            c.deposit_digest("11" * 32, 1, "text/plain", "l", salt=b"\x00" * 32)


# ----- a scripted HTTP server -----


class Script:
    """Answers to give, in order: (status, headers, body bytes). Records the requests."""

    def __init__(self):
        self.answers: list = []
        self.requests: list = []
        self.lock = threading.Lock()


def _handler(script: Script):
    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def _answer(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
            with script.lock:
                script.requests.append((self.command, self.path, body))
                status, headers, data = script.answers.pop(0) if script.answers else (500, {}, b"no script")
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

    return H


class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # the client hanging up on an oversized answer is expected


def err(status, code, message="m", retry_after=None):
    h = {"Content-Type": "application/json"}
    if retry_after is not None:
        h["Retry-After"] = str(retry_after)
    return status, h, json.dumps({"error": {"code": code, "message": message}}).encode()


def ok(v, status=200):
    return status, {"Content-Type": "application/json"}, json.dumps(v).encode()


class AgainstScriptedServer(unittest.TestCase):
    def setUp(self):
        self.script = Script()
        self.server = QuietServer(("127.0.0.1", 0), _handler(self.script))
        t = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        t.start()
        self.addCleanup(self.server.server_close)
        self.addCleanup(self.server.shutdown)
        self.sleeps: list[float] = []
        self.now = 1000.0
        self.key = cc.SigningKey.generate()
        self.client = cc.Client(f"http://127.0.0.1:{self.server.server_port}", self.key, chain_id=CHAIN,
                                sleep=self.sleep, clock=lambda: self.now, submit_deadline=30)

    def sleep(self, s):
        self.sleeps.append(s)
        self.now += s

    def expected_ids(self, tx_json_bytes):
        j = json.loads(tx_json_bytes)
        body = cv.encode_body(cv.parse_body(cv.Obj(j["body"], "tx")))
        return cv.tx_id(CHAIN, body).hex()

    def test_every_documented_code_maps_to_its_class(self):
        table = {400: ["bad_json", "bad_signature", "bad_key", "bad_hex", "decode"], 401: ["stale_request"],
                 403: ["unknown_sender", "wrong_role", "forbidden_reader"], 404: ["deposit_not_found", "not_found"],
                 409: ["already_pending", "duplicate"], 413: ["too_large", "too_many_txs"],
                 422: ["invalid_field", "wrong_kind", "batch_root_mismatch", "bad_proof"],
                 500: ["storage", "internal"], 503: ["mempool_full", "busy", "unavailable", "timeout"]}
        for status, codes in table.items():
            for code in codes:
                self.script.answers.append(err(status, code, "why", 1 if status == 503 else None))
                with self.assertRaises(cc.ApiError) as cm:
                    self.client.status()
                e = cm.exception
                self.assertIs(type(e), cc.ERROR_CLASSES[code], code)
                self.assertEqual((e.status, e.code, e.message), (status, code, "why"))
        self.assertTrue(issubclass(cc.UnknownSender, cc.AuthError))
        self.assertTrue(issubclass(cc.MempoolFull, cc.Retryable))
        self.assertTrue(issubclass(cc.InvalidField, cc.RequestRejected))

    def test_unknown_codes_and_non_api_error_bodies(self):
        self.script.answers += [err(422, "case_closed"), err(418, "teapot"), (502, {}, b"<html>bad gateway</html>"),
                                err(500, "x" * 65)]
        with self.assertRaises(cc.RuleViolation) as cm:
            self.client.status()
        self.assertEqual(cm.exception.code, "case_closed")
        with self.assertRaises(cc.UnknownApiError):
            self.client.status()
        with self.assertRaises(cc.UnknownApiError) as cm:
            self.client.status()
        self.assertEqual((cm.exception.status, cm.exception.code), (502, "http_502"))
        with self.assertRaises(cc.UnknownApiError) as cm:
            self.client.status()
        self.assertEqual(cm.exception.code, "http_500")

    def test_terminal_escapes_in_messages_are_neutralised(self):
        self.script.answers.append(err(403, "unknown_sender", "\x1b[2J\x1b[32mVALID\u202e"))
        with self.assertRaises(cc.UnknownSender) as cm:
            self.client.status()
        self.assertNotIn("\x1b", str(cm.exception))
        self.assertNotIn("\u202e", str(cm.exception))

    def test_malformed_success_answers_are_protocol_errors(self):
        good = {"chain_id": CHAIN.hex(), "chain_name": "c", "node": "n", "height": 3, "tip_hash": "00" * 32,
                "round": 0, "peers": 3, "mempool_txs": 0, "mempool_bytes": 0, "last_commit_ms": 5}
        self.script.answers.append(ok(good))
        self.assertEqual(self.client.check_chain().height, 3)
        for bad in [(200, {}, b"not json"), (200, {}, b'{"height": NaN}'), ok([1]), ok({**good, "height": -1}),
                    ok({**good, "height": True}), ok({**good, "chain_id": "00"}), ok({**good, "tip_hash": None}),
                    (200, {}, b"\xff\xfe")]:
            self.script.answers.append(bad)
            with self.assertRaises(cc.ProtocolError, msg=repr(bad)):
                self.client.status()
        self.script.answers.append(ok({**good, "chain_id": "ff" * 32}))
        with self.assertRaises(cc.ProtocolError):
            self.client.check_chain()

    def test_oversized_answer_is_refused(self):
        self.script.answers.append((200, {}, b"[" + b" " * (70 << 10) + b"]"))
        with self.assertRaises(cc.ProtocolError):
            self.client.status()

    def test_submission_answer_must_name_what_was_signed(self):
        self.script.answers.append(ok({"tx_id": "ab" * 32, "deposit_ids": ["ab" * 32]}, 202))
        with self.assertRaises(cc.ProtocolError):
            self.client.deposit_digest("11" * 32, 5, "text/plain", "l")
        # Now answer with the right IDs, computed by curia_verify from what the client sends.
        orig = self.client.transport.request

        def request(method, path, limit, body=None):
            if method == "POST":
                tid = self.expected_ids(body)
                self.script.answers.append(ok({"tx_id": tid, "deposit_ids": [tid]}, 202))
            return orig(method, path, limit, body)

        self.client.transport.request = request
        d = self.client.deposit_digest("11" * 32, 5, "text/plain", "l", "ref")
        self.assertEqual(d.deposit_id, d.tx_id)
        self.assertEqual(d.sha256, "11" * 32)

    def test_submit_retries_503_after_retry_after_and_accepts_conflict_on_retry(self):
        self.script.answers += [err(503, "mempool_full", retry_after=3), err(503, "busy", retry_after=1),
                                err(409, "already_pending")]
        d = self.client.deposit_digest("22" * 32, 1, "text/plain", "l")
        self.assertEqual(self.sleeps, [3.0, 1.0])
        self.assertEqual(len(self.script.requests), 3)
        self.assertEqual(len({r[2] for r in self.script.requests}), 1, "the same signed bytes are resent")
        self.assertEqual(d.deposit_id, self.expected_ids(self.script.requests[0][2]))

    def test_conflict_on_first_attempt_is_an_error(self):
        self.script.answers.append(err(409, "duplicate"))
        with self.assertRaises(cc.Duplicate):
            self.client.deposit_digest("22" * 32, 1, "text/plain", "l")

    def test_submit_gives_up_at_its_deadline(self):
        self.client.submit_deadline = 5
        self.script.answers += [err(503, "mempool_full", retry_after=3)] * 5
        with self.assertRaises(cc.MempoolFull):
            self.client.deposit_digest("22" * 32, 1, "text/plain", "l")
        self.assertLessEqual(sum(self.sleeps), 5)

    def test_rejections_are_not_retried(self):
        self.script.answers += [err(403, "unknown_sender"), err(422, "invalid_field")]
        with self.assertRaises(cc.UnknownSender):
            self.client.deposit_digest("22" * 32, 1, "text/plain", "l")
        with self.assertRaises(cc.InvalidField):
            self.client.deposit_digest("22" * 32, 1, "text/plain", "l")
        self.assertEqual(len(self.script.requests), 2)
        self.assertEqual(self.sleeps, [])

    def _receipt_json(self, deposit_id, chain=CHAIN):
        doc = json.loads((GOLDEN / "receipt-single.json").read_bytes())
        doc["deposit_id"], doc["chain_id"] = deposit_id, chain.hex()
        return doc

    def test_wait_receipt_follows_retry_after_and_polls(self):
        did = "ab" * 32
        self.script.answers += [err(404, "deposit_not_found"), err(404, "deposit_not_found"),
                                err(404, "receipt_pending", retry_after=1), err(503, "busy", retry_after=2),
                                ok(self._receipt_json(did))]
        r = self.client.wait_receipt(did, timeout=30)
        self.assertEqual(r.deposit_id, did)
        self.assertEqual(self.sleeps[:2], [0.25, 0.375])
        self.assertEqual(self.sleeps[2:], [1.0, 2.0])
        self.assertEqual(r.height, 1)
        self.assertEqual(r.commit_time_ms, 1767225601010)
        self.assertEqual([p for _, p, _ in self.script.requests], [f"/v1/deposits/{did}/receipt"] * 5)

    def test_long_retry_after_is_capped(self):
        did = "ab" * 32
        self.script.answers += [err(404, "receipt_pending", retry_after=3600), ok(self._receipt_json(did))]
        self.client.wait_receipt(did, timeout=60)
        self.assertEqual(self.sleeps, [10.0])
        self.script.answers += [err(503, "busy", retry_after=86400)] * 3 + [err(409, "already_pending")]
        self.client.deposit_digest("33" * 32, 1, "text/plain", "l")
        self.assertEqual(self.sleeps, [10.0] * 4)

    def test_wait_receipt_times_out(self):
        did = "ab" * 32
        self.script.answers += [err(404, "receipt_pending", retry_after=1)] * 10
        with self.assertRaises(cc.ReceiptTimeout):
            self.client.wait_receipt(did, timeout=2.5)
        self.assertEqual(self.sleeps, [1.0, 1.0, 0.5])
        self.assertEqual(len(self.script.requests), 4)

    def test_receipt_for_another_deposit_or_chain_is_refused(self):
        did = "ab" * 32
        for doc in [self._receipt_json("cd" * 32), self._receipt_json(did, b"\xee" * 32),
                    {**self._receipt_json(did), "format": "x"}, {**self._receipt_json(did), "version": 2},
                    {**self._receipt_json(did), "certificate": {"sigs": []}}]:
            self.script.answers.append(ok(doc))
            with self.assertRaises(cc.ProtocolError):
                self.client.get_receipt(did)
        self.script.answers.append((200, {}, b"{" + b" " * (1 << 20) + b"}"))
        with self.assertRaises(cc.ProtocolError):
            self.client.get_receipt(did)

    def test_redirects_are_not_followed(self):
        self.script.answers.append((302, {"Location": "http://127.0.0.1:1/elsewhere"}, b""))
        with self.assertRaises(cc.ApiError) as cm:
            self.client.status()
        self.assertEqual(cm.exception.status, 302)
        self.assertEqual(len(self.script.requests), 1)

    def test_unreachable_node(self):
        self.server.shutdown()
        self.server.server_close()
        c = cc.Client(f"http://127.0.0.1:{self.server.server_port}", self.key, chain_id=CHAIN, timeout=2)
        with self.assertRaises(cc.ConnectionFailed):
            c.status()


if __name__ == "__main__":
    unittest.main()
