"""Receipts of a chain whose headers commit to the deposit log (docs/receipt-format.md 5.1, 7.1,
14.1): the client reads version 3 receipts and their log position, refuses a misplaced one, and
verifies them with the independent verifier (check `log_position`). Fixtures in tests/data are
copies of the Rust golden log fixtures (ledger/tests/data/golden/*-log-*)."""

from __future__ import annotations

import copy
import json
import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
DATA = HERE / "data"

import curia_client as cc  # noqa: E402
from curia_client.verify import verify_files  # noqa: E402

NAMES = ("log-single", "log-batch")
RECEIPTS = {n: json.loads((DATA / f"receipt-{n}.json").read_bytes()) for n in NAMES}
GENESIS = DATA / "genesis-log.json"


def read(doc: dict) -> cc.Receipt:
    return cc.Receipt.from_json(json.dumps(doc).encode(), doc, doc["deposit_id"], doc["chain_id"])


class ReadingVersion3(unittest.TestCase):
    def test_version_3_receipts_are_read_with_their_log_position(self):
        for n in NAMES:
            r = read(RECEIPTS[n])
            self.assertEqual(r.version, 3, n)
            self.assertEqual(r.log_index, RECEIPTS[n]["log_index"], n)
            self.assertEqual(r.membership, (), n)
        # An empty history array in version 3 reads as none (7.1).
        doc = copy.deepcopy(RECEIPTS["log-single"])
        doc["membership"] = []
        self.assertEqual(read(doc).membership, ())

    def test_misplaced_or_malformed_log_fields_are_protocol_errors(self):
        def mk(f):
            doc = copy.deepcopy(RECEIPTS["log-batch"])
            f(doc)
            return doc

        cases = {
            "no log_index": mk(lambda d: d.pop("log_index")),
            "log_index not an integer": mk(lambda d: d.__setitem__("log_index", "6")),
            "log_proof not a list": mk(lambda d: d.__setitem__("log_proof", "00")),
            "log_proof hash too short": mk(lambda d: d["log_proof"].__setitem__(0, "ab")),
            "log_proof of 65 hashes": mk(lambda d: d.__setitem__("log_proof", ["00" * 32] * 65)),
            "log fields in a version 1 receipt": mk(lambda d: d.__setitem__("version", 1)),
            "version 4": mk(lambda d: d.__setitem__("version", 4)),
        }
        for what, doc in cases.items():
            with self.assertRaises(cc.ProtocolError, msg=what):
                read(doc)


class VerifyingVersion3(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.dir.cleanup()

    def test_log_position_passes_and_an_altered_proof_fails_it_alone(self):
        for n in NAMES:
            res = verify_files(DATA / f"evidence-{n}.bin", DATA / f"receipt-{n}.json", GENESIS)
            self.assertEqual(res.verdict, "valid", res.text)
            self.assertIn("log_position", [c.name for c in res.checks], n)
        doc = copy.deepcopy(RECEIPTS["log-batch"])
        doc["log_proof"][0] = "00" * 32
        p = Path(self.dir.name) / "r.json"
        p.write_bytes(json.dumps(doc).encode())
        res = verify_files(DATA / "evidence-log-batch.bin", p, GENESIS)
        self.assertEqual((res.verdict, res.failed()), ("invalid", ["log_position"]), res.text)


if __name__ == "__main__":
    unittest.main()
