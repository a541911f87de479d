"""The deposit log in headers (docs/receipt-format.md 3.1, 3.2, 5.1, 7, 8 `log_position`, 14.1):
the Python verifier, written from the spec, against the Rust fixtures `*-log-*` (a chain whose
genesis sets `log_in_header`: header version 4, receipt version 3).

Run from the repository root: python3 -m unittest discover -s tests/python -v
"""

from __future__ import annotations

import copy
import json
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
GOLDEN = os.path.join(REPO, "ledger", "tests", "data", "golden")
sys.path.insert(0, HERE)

import curia_verify as cv  # noqa: E402

FIXTURES = ("log-single", "log-salted", "log-batch")


def read(name: str) -> bytes:
    with open(os.path.join(GOLDEN, name), "rb") as f:
        return f.read()


GOLDEN_LOG = json.loads(read("golden-log.json"))
GENESIS_BYTES = read("genesis-log.json")
PLAIN_GENESIS = read("genesis.json")
RECEIPTS = {n: json.loads(read(f"receipt-{n}.json")) for n in FIXTURES}
EVIDENCE = {n: read(f"evidence-{n}.bin") for n in FIXTURES}


def run(evidence: bytes, receipt, genesis: bytes = GENESIS_BYTES):
    rb = receipt if isinstance(receipt, bytes) else json.dumps(receipt, indent=2).encode()
    code, rep, _ = cv.verify_data(evidence, rb, genesis)
    return code, rep


def failed(rep) -> list[str]:
    return [c.name for c in rep.checks if not c.ok]


class LogGenesis(unittest.TestCase):
    def test_the_switch_is_in_the_chain_id(self):
        spec = cv.parse_genesis(GENESIS_BYTES)
        self.assertTrue(spec.log_in_header)
        self.assertEqual(spec.canonical.hex(), GOLDEN_LOG["genesis_canonical"])
        self.assertEqual(spec.chain_id.hex(), GOLDEN_LOG["chain_id"])
        plain = cv.parse_genesis(PLAIN_GENESIS)
        self.assertFalse(plain.log_in_header)
        # The same genesis as the plain fixtures' plus the switch: one byte 1 at the end (3.2).
        self.assertEqual(spec.canonical, plain.canonical + b"\x01")
        self.assertNotEqual(spec.chain_id, plain.chain_id)

    def test_log_in_header_must_be_a_boolean(self):
        g = json.loads(GENESIS_BYTES)
        g["log_in_header"] = 1
        with self.assertRaises(cv.Unusable):
            cv.parse_genesis(json.dumps(g).encode())
        g["log_in_header"] = False
        self.assertEqual(cv.parse_genesis(json.dumps(g).encode()).canonical,
                         cv.parse_genesis(json.dumps({k: v for k, v in g.items() if k != "log_in_header"}).encode()).canonical)


class LogHeaderAndReceipt(unittest.TestCase):
    def test_version_4_header_bytes_and_hash(self):
        hdr = bytes.fromhex(GOLDEN_LOG["header"])
        r = cv.Reader(hdr, "header")
        h = cv.decode_header(r)
        r.finish()
        self.assertEqual(h["version"], 4)
        self.assertEqual(len(hdr), 318)
        self.assertEqual(h["log_size"], 8)
        self.assertEqual(cv.encode_header(h), hdr)
        self.assertEqual(cv.block_hash(h).hex(), GOLDEN_LOG["block_hash"])

    def test_receipts_rebuild_the_rust_bytes(self):
        for n, key in (("log-single", "receipt_single"), ("log-batch", "receipt_batch")):
            rc = cv.parse_receipt(read(f"receipt-{n}.json"))
            self.assertEqual(rc.version, 3)
            self.assertEqual(rc.encode().hex(), GOLDEN_LOG[key], n)
            back = cv.parse_receipt(bytes.fromhex(GOLDEN_LOG[key]))
            self.assertEqual(back.encode(), rc.encode())

    def test_fixtures_verify_with_log_position(self):
        for n in FIXTURES:
            code, rep = run(EVIDENCE[n], RECEIPTS[n])
            self.assertEqual(code, 0, (n, failed(rep)))
            names = [c.name for c in rep.checks]
            self.assertIn("log_position", names)
            self.assertEqual(names.index("log_position"), names.index("inclusion") + 1)

    def test_altered_log_fields_fail_log_position_only(self):
        for n in FIXTURES:
            rc = copy.deepcopy(RECEIPTS[n])
            p = rc["log_proof"][0]
            rc["log_proof"][0] = ("0" if p[0] != "0" else "1") + p[1:]
            code, rep = run(EVIDENCE[n], rc)
            self.assertEqual((code, failed(rep)), (1, ["log_position"]), n)
            rc = copy.deepcopy(RECEIPTS[n])
            rc["log_index"] ^= 1
            code, rep = run(EVIDENCE[n], rc)
            self.assertEqual((code, failed(rep)), (1, ["log_position"]), n)
            rc = copy.deepcopy(RECEIPTS[n])
            rc["log_proof"] = rc["log_proof"][:-1]
            code, rep = run(EVIDENCE[n], rc)
            self.assertEqual((code, failed(rep)), (1, ["log_position"]), n)
            # The header's log root is covered by the certificate: changing it breaks both.
            rc = copy.deepcopy(RECEIPTS[n])
            rc["header"]["log_root"] = "00" * 32
            code, rep = run(EVIDENCE[n], rc)
            self.assertEqual((code, failed(rep)), (1, ["log_position", "certificate"]), n)

    def test_shape_rules_are_strict(self):
        base = RECEIPTS["log-single"]
        for mutate in (lambda r: r.pop("log_index"), lambda r: r.pop("log_proof"),
                       lambda r: r.__setitem__("version", 2), lambda r: r.__setitem__("version", 4),
                       lambda r: r["header"].pop("log_root"), lambda r: r.__setitem__("log_proof", ["00"])):
            rc = copy.deepcopy(base)
            mutate(rc)
            code, _ = run(EVIDENCE["log-single"], rc)
            self.assertEqual(code, 2, rc.get("version"))
        # A version 1 receipt around a version 4 header reads, but its format check fails.
        rc = copy.deepcopy(base)
        rc["version"] = 1
        del rc["log_index"], rc["log_proof"]
        code, rep = run(EVIDENCE["log-single"], rc)
        self.assertEqual(code, 1)
        self.assertEqual(rep.first_failure().name, "format")
        # Under the genesis without the switch: another chain, and the header version is refused.
        code, rep = run(EVIDENCE["log-single"], base, PLAIN_GENESIS)
        self.assertEqual(code, 1)
        self.assertEqual(rep.first_failure().name, "format")
        self.assertIn("chain", failed(rep))


if __name__ == "__main__":
    unittest.main()
