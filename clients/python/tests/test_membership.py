"""Receipts signed after membership changes (docs/receipt-format.md 13): the client reads version 2
receipts and their embedded history, fetches and saves the history document, and verifies with
`membership=`. Fixtures in tests/data are copies of the Rust golden membership fixtures
(ledger/tests/data/golden: a chain whose set gained v4 at height 2 and rotated v1's key at 5)."""

from __future__ import annotations

import copy
import json
import sys
import tempfile
import threading
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
DATA = HERE / "data"

import curia_client as cc  # noqa: E402
from curia_client.membership import MembershipChange, read_history_document  # noqa: E402
from test_offline import QuietServer, Script, _handler, ok  # noqa: E402

NAMES = ("member-before", "member-one", "member-two")
RECEIPTS = {n: json.loads((DATA / f"receipt-{n}.json").read_bytes()) for n in NAMES}
HISTORY = json.loads((DATA / "membership.json").read_bytes())
CHAIN = RECEIPTS["member-two"]["chain_id"]


def read(doc: dict) -> cc.Receipt:
    raw = json.dumps(doc).encode()
    return cc.Receipt.from_json(raw, doc, doc["deposit_id"], CHAIN)


def stripped(name: str) -> dict:
    """A receipt signed after a change, with its embedded history removed (as version 1)."""
    r = copy.deepcopy(RECEIPTS[name])
    del r["membership"]
    r["version"] = 1
    return r


class ReadingVersion2(unittest.TestCase):
    def test_versions_and_changes(self):
        before = read(RECEIPTS["member-before"])
        self.assertEqual((before.version, before.membership), (1, ()))
        one = read(RECEIPTS["member-one"])
        self.assertEqual(one.version, 2)
        self.assertEqual([(c.seq, c.height, c.op, c.in_force_from) for c in one.membership], [(0, 2, "add", 4)])
        two = read(RECEIPTS["member-two"])
        self.assertEqual([(c.seq, c.height, c.op) for c in two.membership], [(0, 2, "add"), (1, 5, "rotate")])
        self.assertEqual(two.height, 7)
        self.assertEqual(two.membership[0].change["validator"]["name"], "v4")
        self.assertEqual(two.membership[1].approvals, 4)
        self.assertIsInstance(two.membership[1], MembershipChange)

    def test_malformed_histories_are_protocol_errors(self):
        def mk(f):
            r = copy.deepcopy(RECEIPTS["member-two"])
            f(r)
            return r

        def put(path, value):
            def f(r):
                o = r
                for k in path[:-1]:
                    o = o[k]
                o[path[-1]] = value
            return f

        e1 = ("membership", 1)
        cases = {
            "version 1 with history": mk(put(("version",), 1)),
            "version 2 without history": stripped("member-two") | {"version": 2},
            "empty history": mk(put(("membership",), [])),
            "version 3": mk(put(("version",), 3)),
            "history not a list": mk(put(("membership",), {})),
            "seq out of place": mk(put(e1 + ("tx", "payload", "seq"), 0)),
            "entry in force after the receipt": mk(put(e1 + ("header", "height"), 6)),
            "entries out of order": mk(put(("membership", 0, "header", "height"), 6)),
            "height 0": mk(put(("membership", 0, "header", "height"), 0)),
            "certificate for another height": mk(put(e1 + ("certificate", "height"), 4)),
            "header of another chain": mk(put(e1 + ("header", "chain_id"), "ee" * 32)),
            "not a membership transaction": mk(put(e1 + ("tx", "payload", "kind"), "deposit")),
            "unknown change": mk(put(e1 + ("tx", "payload", "change", "op"), "swap")),
            "change with an extra key": mk(put(e1 + ("tx", "payload", "change", "power"), 3)),
            "bad key hex": mk(put(e1 + ("tx", "payload", "change", "new"), "zz" * 32)),
            "unknown entry key": mk(put(e1 + ("extra",), 1)),
            "missing entry key": mk(lambda r: r["membership"][1].pop("tx_proof")),
            "unknown role": mk(put(("membership", 0, "tx", "payload", "change", "validator", "role"), "king")),
            "power 0": mk(put(("membership", 0, "tx", "payload", "change", "validator", "power"), 0)),
            "too many approvals": mk(put(e1 + ("tx", "payload", "approvals"), [{}] * 129)),
            "proof too long": mk(put(e1 + ("tx_proof",), ["00" * 32] * 65)),
            "too many entries": mk(lambda r: r.__setitem__("membership", r["membership"] * 513)),
        }
        for what, doc in cases.items():
            with self.subTest(case=what):
                with self.assertRaises(cc.ProtocolError):
                    read(doc)

    def test_history_document(self):
        cid, changes = read_history_document(HISTORY, CHAIN)
        self.assertEqual(cid, CHAIN)
        self.assertEqual([c.op for c in changes], ["add", "rotate"])
        for bad in (HISTORY | {"chain_id": "00" * 32}, HISTORY | {"format": "x"}, HISTORY | {"version": 2},
                    HISTORY | {"extra": 1}):
            with self.assertRaises(cc.ProtocolError):
                read_history_document(bad, CHAIN)


class VerifyingAfterChanges(unittest.TestCase):
    """Through the independent verifier, as `Client.verify` runs it."""

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        self.client = cc.Client("http://127.0.0.1:1", cc.SigningKey.generate(), genesis=DATA / "genesis.json")

    def write(self, name: str, doc) -> Path:
        p = Path(self.dir.name) / name
        p.write_bytes(doc if isinstance(doc, bytes) else json.dumps(doc).encode())
        return p

    def test_embedded_history_verifies_and_a_tampered_one_does_not(self):
        for n in NAMES:
            res = self.client.verify(DATA / f"evidence-{n}.bin", DATA / f"receipt-{n}.json")
            self.assertTrue(res.valid, res.text)
            self.assertEqual("membership" in [c.name for c in res.checks], n != "member-before")
        r = copy.deepcopy(RECEIPTS["member-two"])
        r["membership"][1]["tx"]["payload"]["approvals"].pop()
        res = self.client.verify(DATA / "evidence-member-two.bin", self.write("r.json", r))
        self.assertEqual((res.verdict, res.failed()), ("invalid", ["membership", "certificate"]), res.text)

    def test_membership_file_for_a_receipt_without_history(self):
        ev = DATA / "evidence-member-two.bin"
        bare = self.write("bare.json", stripped("member-two"))
        res = self.client.verify(ev, bare)
        self.assertEqual((res.verdict, res.failed()), ("invalid", ["certificate"]), res.text)
        res = self.client.verify(ev, bare, membership=DATA / "membership.json")
        self.assertTrue(res.valid, res.text)
        other = self.write("other.json", HISTORY | {"chain_id": "00" * 32})
        res = self.client.verify(ev, bare, membership=other)
        self.assertEqual((res.verdict, res.exit_code), ("unusable", 2), res.text)


class FetchingTheHistory(unittest.TestCase):
    def setUp(self):
        self.script = Script()
        self.server = QuietServer(("127.0.0.1", 0), _handler(self.script))
        t = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        t.start()
        self.addCleanup(self.server.server_close)
        self.addCleanup(self.server.shutdown)
        self.client = cc.Client(f"http://127.0.0.1:{self.server.server_port}", cc.SigningKey.generate(),
                                genesis=DATA / "genesis.json")
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def test_save_membership_writes_the_nodes_bytes_and_verifies(self):
        raw = (DATA / "membership.json").read_bytes()
        self.script.answers.append((200, {"Content-Type": "application/json"}, raw))
        out = Path(self.dir.name) / "history.json"
        self.client.save_membership(out)
        self.assertEqual(out.read_bytes(), raw)
        self.assertEqual(self.script.requests[0][:2], ("GET", "/v1/membership"))
        with self.assertRaises(cc.InvalidInput):
            self.client.save_membership(out)  # no overwrite (refused before any request)
        bare = Path(self.dir.name) / "bare.json"
        bare.write_text(json.dumps(stripped("member-one")))
        res = self.client.verify(DATA / "evidence-member-one.bin", bare, membership=out)
        self.assertTrue(res.valid, res.text)

    def test_history_of_another_chain_or_malformed_is_refused(self):
        for doc in (HISTORY | {"chain_id": "00" * 32}, HISTORY | {"entries": [{}]}, [1]):
            self.script.answers.append(ok(doc))
            with self.assertRaises(cc.ProtocolError):
                self.client.get_membership()


if __name__ == "__main__":
    unittest.main()
