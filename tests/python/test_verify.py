"""Tests of the independent Python verifier against the Rust golden fixtures.

Run from the repository root: python3 -m unittest discover -s tests/python -v
(plain unittest; needs only the `cryptography` package).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
GOLDEN = os.path.join(REPO, "ledger", "tests", "data", "golden")
SCRIPT = os.path.join(HERE, "curia_verify.py")
sys.path.insert(0, HERE)

import curia_verify as cv  # noqa: E402

FIXTURES = ("single", "salted", "batch")


def golden_path(name: str) -> str:
    return os.path.join(GOLDEN, name)


def read(name: str) -> bytes:
    with open(golden_path(name), "rb") as f:
        return f.read()


GOLDEN_HEX = json.loads(read("golden.json"))
GENESIS_BYTES = read("genesis.json")
GENESIS = json.loads(GENESIS_BYTES)
RECEIPTS = {n: json.loads(read(f"receipt-{n}.json")) for n in FIXTURES}
EVIDENCE = {n: read(f"evidence-{n}.bin") for n in FIXTURES}
SPEC = cv.parse_genesis(GENESIS_BYTES)


def dumps(obj) -> bytes:
    return json.dumps(obj, indent=2).encode()


def run(evidence: bytes, receipt, genesis=None):
    """Verify in memory. `receipt` and `genesis` are JSON objects or raw bytes."""
    rb = receipt if isinstance(receipt, bytes) else dumps(receipt)
    gb = GENESIS_BYTES if genesis is None else (genesis if isinstance(genesis, bytes) else dumps(genesis))
    return cv.verify_data(evidence, rb, gb)


def first_failure(code, rep):
    """'unusable' for exit 2, else the name of the first failed check (None if valid)."""
    if code == 2:
        return "unusable"
    f = rep.first_failure()
    return f.name if f else None


def run_cli(*args: str):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=60)


def test_seed(name: str) -> bytes:
    """The Rust testkit's key seed: SHA-256("curia-test-key/" || name)."""
    return hashlib.sha256(b"curia-test-key/" + name.encode()).digest()


def sign(name: str, msg: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(test_seed(name)).sign(msg)


def public(name: str) -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(test_seed(name)).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def secret_scalar(name: str) -> int:
    h = bytearray(hashlib.sha512(test_seed(name)).digest()[:32])
    h[0] &= 248
    h[31] &= 127
    h[31] |= 64
    return int.from_bytes(h, "little")


def walk(obj, path=()):
    """Yield (path, value) for every leaf of a JSON value."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from walk(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from walk(v, path + (i,))
    else:
        yield path, obj


def objects(obj, path=()):
    """Yield the path of every JSON object inside a JSON value, the value itself first."""
    if isinstance(obj, dict):
        yield path
        for k, v in obj.items():
            yield from objects(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from objects(v, path + (i,))


def set_path(obj, path, value):
    obj = copy.deepcopy(obj)
    cur = obj
    for p in path[:-1]:
        cur = cur[p]
    cur[path[-1]] = value
    return obj


def pattern(path) -> str:
    return ".".join("*" if isinstance(p, int) else p for p in path)


def rfc6962_path(m: int, leaves: list) -> list:
    """PATH(m, D[n]) of RFC 6962 2.1.1 over leaf hashes, bottom up."""
    n = len(leaves)
    if n <= 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return rfc6962_path(m, leaves[:k]) + [cv.merkle_root(leaves[k:])]
    return rfc6962_path(m - k, leaves[k:]) + [cv.merkle_root(leaves[:k])]


# ---------------------------------------------------------------------------------------------
# (a) every fixture receipt verifies


class FixturesVerify(unittest.TestCase):
    def test_each_fixture_is_valid(self):
        for n in FIXTURES:
            with self.subTest(fixture=n):
                code, rep, text = run(EVIDENCE[n], RECEIPTS[n])
                self.assertEqual(code, 0, text)
                names = [c.name for c in rep.checks]
                expected = ["format", "chain", "digest", "deposit_id", "signature"]
                expected += ["batch"] if n == "batch" else []
                expected += ["inclusion", "certificate", "time"]
                self.assertEqual(names, expected)
                self.assertTrue(all(c.ok for c in rep.checks))

    def test_cli_each_fixture_exit_0(self):
        for n in FIXTURES:
            with self.subTest(fixture=n):
                p = run_cli(golden_path(f"evidence-{n}.bin"), golden_path(f"receipt-{n}.json"),
                            golden_path("genesis.json"))
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                self.assertIn("VERDICT: VALID", p.stdout)
                self.assertEqual(p.stdout.count("[PASS]"), 9 if n == "batch" else 8)

    def test_commit_time_and_time_service(self):
        _, rep, _ = run(EVIDENCE["single"], RECEIPTS["single"])
        # Lower median of 1767225601000, ...010, ...020, ...030 is the second value.
        self.assertEqual(rep.commit_time_ms, 1767225601010)
        self.assertEqual(cv.format_utc(rep.commit_time_ms), "2026-01-01T00:00:01.010Z")
        self.assertEqual(rep.timesvc, [("v3", 1767225601030)])
        self.assertEqual(rep.depositor, "platform")
        _, rep, _ = run(EVIDENCE["batch"], RECEIPTS["batch"])
        self.assertEqual(rep.commit_time_ms, 1767225602010)
        self.assertEqual(rep.depositor, "platform2")

    def test_lower_median(self):
        c = lambda ts: {"sigs": [{"time_ms": t} for t in ts]}  # noqa: E731
        self.assertEqual(cv.commit_time_ms(c([5])), 5)
        self.assertEqual(cv.commit_time_ms(c([9, 1])), 1)
        self.assertEqual(cv.commit_time_ms(c([3, 1, 2])), 2)
        self.assertEqual(cv.commit_time_ms(c([40, 10, 30, 20])), 20)
        self.assertEqual(cv.commit_time_ms(c([])), 0)

    def test_quorum_formula(self):
        for total, q in [(1, 1), (2, 2), (3, 3), (4, 3), (5, 4), (6, 5), (7, 5), (100, 67)]:
            spec = copy.copy(SPEC)
            spec.total_power = total
            self.assertEqual(spec.quorum_power, q, total)
            self.assertTrue(3 * q > 2 * total and 3 * (q - 1) <= 2 * total)


# ---------------------------------------------------------------------------------------------
# (b) Python reproduces every canonical value frozen in golden.json


class GoldenBytes(unittest.TestCase):
    def test_genesis_canonical_chain_id_validators_hash(self):
        self.assertEqual(SPEC.canonical.hex(), GOLDEN_HEX["genesis_canonical"])
        self.assertEqual(SPEC.chain_id.hex(), GOLDEN_HEX["chain_id"])
        self.assertEqual(SPEC.validators_hash.hex(), GOLDEN_HEX["validators_hash"])
        self.assertEqual((SPEC.total_power, SPEC.quorum_power), (4, 3))

    def test_tx_body_id_envelope_and_leaf(self):
        rc = cv.parse_receipt(dumps(RECEIPTS["single"]))
        body = cv.encode_body(rc.tx)
        self.assertEqual(body.hex(), GOLDEN_HEX["tx_body"])
        self.assertEqual(cv.tx_id(SPEC.chain_id, body).hex(), GOLDEN_HEX["tx_id"])
        # Full transaction = body || signature || u32 item count (0).
        self.assertEqual((body + rc.signature + b"\0\0\0\0").hex(), GOLDEN_HEX["tx"])
        self.assertEqual(cv.leaf_hash(body + rc.signature).hex(), GOLDEN_HEX["tx_leaf_hash"])

    def test_block_1_tx_root_from_both_envelopes(self):
        leaves = []
        for n in ("single", "salted"):
            rc = cv.parse_receipt(dumps(RECEIPTS[n]))
            leaves.append(cv.leaf_hash(cv.encode_body(rc.tx) + rc.signature))
        self.assertEqual(cv.merkle_root(leaves).hex(), RECEIPTS["single"]["header"]["tx_root"])

    def test_batch_transaction(self):
        raw = bytes.fromhex(GOLDEN_HEX["batch_tx"])
        r = cv.Reader(raw, "transaction")
        body = cv.decode_body(r)
        sig = r.take(64)
        items = r.list("items", cv.MAX_BATCH_ITEMS, lambda: r.take(32))
        r.finish()
        rc = cv.parse_receipt(dumps(RECEIPTS["batch"]))
        self.assertEqual(body, rc.tx)
        self.assertEqual(cv.encode_body(body), raw[: len(cv.encode_body(body))])
        self.assertEqual(sig, rc.signature)
        leaves = [cv.leaf_hash(c) for c in items]
        self.assertEqual(len(items), body["payload"]["count"])
        self.assertEqual(cv.merkle_root(leaves), body["payload"]["root"])
        self.assertEqual(items[3], rc.item["commitment"])
        self.assertEqual(items[3], hashlib.sha256(b"batch file 3\n").digest())
        self.assertEqual(rfc6962_path(3, leaves), rc.item["proof"])
        txid = cv.tx_id(SPEC.chain_id, cv.encode_body(body))
        self.assertEqual(cv.batch_item_id(txid, 3), rc.deposit_id)

    def test_header_and_block_hash(self):
        rc = cv.parse_receipt(dumps(RECEIPTS["single"]))
        h = cv.encode_header(rc.header)
        self.assertEqual(len(h), 246)
        self.assertEqual(h.hex(), GOLDEN_HEX["header"])
        self.assertEqual(cv.block_hash(rc.header).hex(), GOLDEN_HEX["block_hash"])
        rb = cv.parse_receipt(dumps(RECEIPTS["batch"]))
        # Block 2 carries block 1's certificate; its header commits to it (doc 5.3.1).
        cert = bytes.fromhex(GOLDEN_HEX["certificate"])
        self.assertEqual(rb.header["last_commit_hash"], cv.tagged(cv.TAG_CERT, cert))
        self.assertEqual(rc.header["last_commit_hash"], bytes(32))
        self.assertEqual(rb.header["prev_hash"].hex(), GOLDEN_HEX["block_hash"])

    def test_vote_signing_hash_and_signature(self):
        bh = bytes.fromhex(GOLDEN_HEX["block_hash"])
        vote = cv.encode_vote(SPEC.chain_id, 1, 0, 2, bh, 1767225601000, 0)
        self.assertEqual(vote.hex(), GOLDEN_HEX["vote"])
        msg = cv.vote_signing_hash(vote)
        self.assertEqual(msg.hex(), GOLDEN_HEX["vote_signing_hash"])
        sig = bytes.fromhex(GOLDEN_HEX["signed_vote"])[len(vote):]
        self.assertEqual(vote + sig, bytes.fromhex(GOLDEN_HEX["signed_vote"]))
        self.assertIsNone(cv.ed25519_verify(SPEC.validators[0]["key"], msg, sig))
        self.assertEqual(sig.hex(), RECEIPTS["single"]["certificate"]["sigs"][0]["signature"])
        # The test keys are what the fixtures used (ed25519 signatures are deterministic).
        self.assertEqual(public("v0"), SPEC.validators[0]["key"])
        self.assertEqual(sign("v0", msg), sig)
        # A nil vote encodes the option as one zero byte.
        self.assertEqual(len(cv.encode_vote(SPEC.chain_id, 1, 0, 1, None, 0, 0)), len(vote) - 32)

    def test_certificate_encoding(self):
        rc = cv.parse_receipt(dumps(RECEIPTS["single"]))
        self.assertEqual(cv.encode_certificate(rc.certificate).hex(), GOLDEN_HEX["certificate"])
        self.assertEqual(cv.verify_certificate(rc.certificate, SPEC), (None, 4))

    def test_receipt_canonical_bytes(self):
        for n, key in (("single", "receipt_single"), ("batch", "receipt_batch")):
            with self.subTest(fixture=n):
                rc = cv.parse_receipt(dumps(RECEIPTS[n]))
                enc = rc.encode()
                self.assertEqual(enc.hex(), GOLDEN_HEX[key])
                self.assertTrue(enc.startswith(b"CURIARCT\x00\x01"))
                self.assertEqual(cv.decode_receipt(enc).encode(), enc)

    def test_salted_commitment(self):
        r = RECEIPTS["salted"]
        digest = hashlib.sha256(EVIDENCE["salted"]).digest()
        c = cv.salted_commitment(bytes.fromhex(r["salt"]), digest)
        self.assertEqual(c.hex(), r["tx"]["payload"]["commitment"]["salted"])
        # The fixture salt is SHA-256("fixture salt").
        self.assertEqual(r["salt"], hashlib.sha256(b"fixture salt").hexdigest())

    def test_binary_receipts_verify(self):
        with tempfile.TemporaryDirectory() as d:
            for n in FIXTURES:
                with self.subTest(fixture=n):
                    path = os.path.join(d, f"{n}.bin")
                    with open(path, "wb") as f:
                        f.write(cv.parse_receipt(dumps(RECEIPTS[n])).encode())
                    p = run_cli(golden_path(f"evidence-{n}.bin"), path, golden_path("genesis.json"))
                    self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_tag_prefixes(self):
        self.assertEqual(cv.tagged("curia/v1/tx", b""), hashlib.sha256(bytes.fromhex("0b63757269612f76312f7478")).digest())
        self.assertEqual(cv.merkle_root([]).hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")


class DocConsistency(unittest.TestCase):
    """Every hash quoted in docs/receipt-format.md is one the fixtures hold or Python computes."""

    def test_hashes_quoted_in_doc(self):
        import re

        with open(os.path.join(REPO, "docs", "receipt-format.md"), encoding="utf-8") as f:
            doc = f.read()
        known = set(re.findall(r"[0-9a-f]{64,}", "".join(read(n).decode() for n in os.listdir(GOLDEN)
                                                          if n.endswith(".json"))))
        rb = cv.parse_receipt(dumps(RECEIPTS["batch"]))
        body = cv.encode_body(rb.tx)
        leaf = cv.leaf_hash(rb.item["commitment"])
        n1 = cv.node_hash(rb.item["proof"][0], leaf)
        n2 = cv.node_hash(rb.item["proof"][1], n1)
        computed = [cv.tx_id(SPEC.chain_id, body), leaf, n1, n2, cv.sha256(b""), cv.sha256(EVIDENCE["salted"]),
                    cv.sha256(EVIDENCE["single"])]
        known |= {h.hex() for h in computed}
        # Section 6.3's worked check: the shared ed25519 cases and what it computes from one.
        with open(ED25519_CASES, encoding="utf-8") as f:
            known |= set(re.findall(r"[0-9a-f]{64,}", f.read()))
        known |= {v.hex() if isinstance(v, bytes) else format(v, "x") for v in worked_check().values()}
        self.assertEqual(len(body), 120)
        for h in re.findall(r"\b[0-9a-f]{64}\b", doc):
            self.assertTrue(any(h in k for k in known), h)
        for h in re.findall(r"\b([0-9a-f]{8})(?:…|\.\.\.)", doc):
            self.assertTrue(any(h in k for k in known), h)


# ---------------------------------------------------------------------------------------------
# (c) tampering


# First failing check expected when a hex field is changed, by path pattern.
HEX_EXPECT = {
    "chain_id": "chain",
    "deposit_id": "deposit_id",
    "tx.sender": "deposit_id",
    "tx.payload.commitment.sha256": "digest",
    "tx.payload.commitment.salted": "digest",
    "tx.payload.root": "deposit_id",
    "signature": "signature",
    "item.commitment": "digest",
    "item.proof.*": "batch",
    "tx_proof.*": "inclusion",
    "header.chain_id": "chain",
    "header.prev_hash": "certificate",
    "header.last_commit_hash": "certificate",
    "header.tx_root": "inclusion",
    "header.state_root": "certificate",
    "header.validators_hash": "certificate",
    "header.proposer": "certificate",
    "certificate.block_hash": "certificate",
    "certificate.sigs.*.signature": "certificate",
    "salt": "digest",
}

# First failing check expected when an integer field is changed by +1 or -1 (a negative result
# is always unusable).
INT_EXPECT = {
    "version": "unusable",
    "tx.nonce": "deposit_id",
    "tx.payload.byte_length": "digest",
    "tx.payload.count": "deposit_id",
    "item.index": "deposit_id",
    "tx_index": "inclusion",
    "header.version": "unusable",
    "header.height": "certificate",
    "header.tx_count": "inclusion",
    "header.time_ms": "certificate",
    "certificate.height": "certificate",
    "certificate.round": "certificate",
    "certificate.sigs.*.validator": "certificate",
    "certificate.sigs.*.time_ms": "certificate",
}

TEXT_FIELDS = {"format", "tx.payload.kind", "tx.payload.media_type", "tx.payload.label", "tx.payload.reference"}


def flip_hex_digit(s: str, i: int) -> str:
    d = int(s[i], 16) ^ 0x1
    return s[:i] + format(d, "x") + s[i + 1:]


class Tampering(unittest.TestCase):
    def assert_outcome(self, evidence, receipt, expected, genesis=None, msg=""):
        code, rep, text = run(evidence, receipt, genesis)
        self.assertNotEqual(code, 0, f"{msg}: tampered input verified as valid")
        got = first_failure(code, rep)
        if isinstance(expected, (set, frozenset)):
            self.assertIn(got, expected, f"{msg}\n{text}")
        else:
            self.assertEqual(got, expected, f"{msg}\n{text}")
        return got

    def test_evidence_bit_flips(self):
        for n in FIXTURES:
            ev = EVIDENCE[n]
            for i in range(len(ev)):
                for bit in (0, 7):
                    with self.subTest(fixture=n, byte=i, bit=bit):
                        bad = bytearray(ev)
                        bad[i] ^= 1 << bit
                        self.assert_outcome(bytes(bad), RECEIPTS[n], "digest")
            with self.subTest(fixture=n, case="truncated"):
                self.assert_outcome(ev[:-1], RECEIPTS[n], "digest")
            with self.subTest(fixture=n, case="appended"):
                self.assert_outcome(ev + b"\n", RECEIPTS[n], "digest")
            with self.subTest(fixture=n, case="empty"):
                self.assert_outcome(b"", RECEIPTS[n], "digest")

    def test_every_hex_field_one_digit(self):
        count = 0
        for n in FIXTURES:
            r = RECEIPTS[n]
            for path, v in walk(r):
                pat = pattern(path)
                if not isinstance(v, str) or pat in TEXT_FIELDS:
                    continue
                self.assertIn(pat, HEX_EXPECT, f"hex field {pat} has no expectation")
                for i in sorted({0, 1, len(v) // 2, len(v) - 1}):
                    with self.subTest(fixture=n, field=".".join(map(str, path)), digit=i):
                        self.assert_outcome(EVIDENCE[n], set_path(r, path, flip_hex_digit(v, i)), HEX_EXPECT[pat],
                                            msg=f"{n} {pat} digit {i}")
                        count += 1
        self.assertGreater(count, 150)

    def test_every_integer_field_plus_minus_one(self):
        count = 0
        for n in FIXTURES:
            r = RECEIPTS[n]
            for path, v in walk(r):
                if not isinstance(v, int) or isinstance(v, bool):
                    continue
                pat = pattern(path)
                self.assertIn(pat, INT_EXPECT, f"integer field {pat} has no expectation")
                for delta in (1, -1):
                    with self.subTest(fixture=n, field=".".join(map(str, path)), delta=delta):
                        expected = "unusable" if v + delta < 0 else INT_EXPECT[pat]
                        self.assert_outcome(EVIDENCE[n], set_path(r, path, v + delta), expected,
                                            msg=f"{n} {pat} {delta:+d}")
                        count += 1
        self.assertGreater(count, 60)

    def test_text_fields(self):
        for n in FIXTURES:
            r = RECEIPTS[n]
            for field_ in ("media_type", "label", "reference"):
                with self.subTest(fixture=n, field=field_):
                    bad = copy.deepcopy(r)
                    bad["tx"]["payload"][field_] += "x"
                    self.assert_outcome(EVIDENCE[n], bad, "deposit_id")
        bad = copy.deepcopy(RECEIPTS["batch"])
        bad["tx"]["payload"]["salted"] = True
        self.assert_outcome(EVIDENCE["batch"], bad, "digest")

    def test_genesis_changes(self):
        ev, r = EVIDENCE["single"], RECEIPTS["single"]
        cases = {
            "chain_name": (("chain_name",), "curia-tesu", "chain"),
            "genesis_time_ms+1": (("genesis_time_ms",), GENESIS["genesis_time_ms"] + 1, "chain"),
            "genesis_time_ms-1": (("genesis_time_ms",), GENESIS["genesis_time_ms"] - 1, "chain"),
            "validator power+1": (("validators", 2, "power"), 2, "chain"),
            "validator power 0": (("validators", 2, "power"), 0, "unusable"),
            "validator name": (("validators", 1, "name"), "v9", "chain"),
            "validator role": (("validators", 1, "role"), "notary", "chain"),
            "validator address": (("validators", 0, "address"), "/ip4/127.0.0.1/tcp/27009", "chain"),
            "client role": (("clients", 0, "role"), "judge", "chain"),
            "client name": (("clients", 4, "name"), "auditor2", "chain"),
            "params.max_block_txs-1": (("params", "max_block_txs"), 19999, "chain"),
            "params.max_block_txs+1": (("params", "max_block_txs"), 20001, "unusable"),
            "params.max_batch_items-1": (("params", "max_batch_items"), 9999, "chain"),
            "version": (("version",), 2, "unusable"),
        }
        for name, (path, value, expected) in cases.items():
            with self.subTest(case=name):
                self.assert_outcome(ev, r, expected, set_path(GENESIS, path, value), name)
        # Every key, every position of one digit: a different chain, or not a curve point.
        for path, v in walk(GENESIS):
            if path[-1] != "key":
                continue
            for i in (0, 31, 63):
                with self.subTest(key=".".join(map(str, path)), digit=i):
                    got = self.assert_outcome(ev, r, {"chain", "unusable"},
                                              set_path(GENESIS, path, flip_hex_digit(v, i)))
                    point = cv.decode_point(bytes.fromhex(flip_hex_digit(v, i)))
                    self.assertEqual(got, "chain" if point is not None else "unusable")
        # Reordering validators or dropping a client also founds another chain.
        g = copy.deepcopy(GENESIS)
        g["validators"].reverse()
        self.assert_outcome(ev, r, "chain", g)
        g = copy.deepcopy(GENESIS)
        del g["clients"][-1]
        self.assert_outcome(ev, r, "chain", g)

    def test_certificate_shapes(self):
        ev, r = EVIDENCE["single"], RECEIPTS["single"]
        # Dropping one of four equal signatures still leaves 3 >= quorum 3: valid by design.
        for drop in range(4):
            with self.subTest(drop=drop):
                g = copy.deepcopy(r)
                del g["certificate"]["sigs"][drop]
                code, rep, text = run(ev, g)
                self.assertEqual(code, 0, text)
        g = copy.deepcopy(r)
        del g["certificate"]["sigs"][1]
        self.assertEqual(run(ev, g)[1].commit_time_ms, 1767225601020)
        # Two signatures are not a quorum.
        g = copy.deepcopy(r)
        del g["certificate"]["sigs"][:2]
        code, rep, _ = run(ev, g)
        self.assertEqual(first_failure(code, rep), "certificate")
        self.assertIn("not more than two thirds", rep.first_failure().detail)
        # Unsorted, repeated, unknown index, empty.
        g = copy.deepcopy(r)
        g["certificate"]["sigs"].reverse()
        self.assert_outcome(ev, g, "certificate")
        g = copy.deepcopy(r)
        g["certificate"]["sigs"][1] = copy.deepcopy(g["certificate"]["sigs"][0])
        self.assert_outcome(ev, g, "certificate")
        g = copy.deepcopy(r)
        g["certificate"]["sigs"][3]["validator"] = 4
        self.assert_outcome(ev, g, "certificate")
        g = copy.deepcopy(r)
        g["certificate"]["sigs"] = []
        code, rep, _ = run(ev, g)
        self.assertEqual([c.name for c in rep.checks if not c.ok], ["certificate", "time"])
        # A certificate from the other block.
        g = copy.deepcopy(r)
        g["certificate"] = copy.deepcopy(RECEIPTS["batch"]["certificate"])
        self.assert_outcome(ev, g, "certificate")

    def test_commit_time_before_genesis(self):
        # Re-sign every precommit with a clock before genesis: only `time` fails.
        r = copy.deepcopy(RECEIPTS["single"])
        c = r["certificate"]
        for s in c["sigs"]:
            s["time_ms"] = GENESIS["genesis_time_ms"] - 1
            vote = cv.encode_vote(SPEC.chain_id, c["height"], c["round"], 2, bytes.fromhex(c["block_hash"]),
                                  s["time_ms"], s["validator"])
            s["signature"] = sign(f"v{s['validator']}", cv.vote_signing_hash(vote)).hex()
        code, rep, text = run(EVIDENCE["single"], r)
        self.assertEqual([c.name for c in rep.checks if not c.ok], ["time"], text)

    def test_structure_changes(self):
        ev = EVIDENCE
        g = copy.deepcopy(RECEIPTS["salted"])
        del g["salt"]
        self.assert_outcome(ev["salted"], g, "digest")
        g = copy.deepcopy(RECEIPTS["batch"])
        del g["item"]
        self.assert_outcome(ev["batch"], g, "format")
        g = copy.deepcopy(RECEIPTS["single"])
        g["item"] = copy.deepcopy(RECEIPTS["batch"]["item"])
        self.assert_outcome(ev["single"], g, "format")
        g = copy.deepcopy(RECEIPTS["batch"])
        g["item"]["index"] = 5
        self.assert_outcome(ev["batch"], g, "format")
        g = copy.deepcopy(RECEIPTS["single"])
        g["tx_proof"] = []
        self.assert_outcome(ev["single"], g, "inclusion")
        g = copy.deepcopy(RECEIPTS["batch"])
        g["item"]["proof"] = g["item"]["proof"][:-1]
        self.assert_outcome(ev["batch"], g, "batch")
        g = copy.deepcopy(RECEIPTS["single"])
        g["tx"]["payload"] = {"kind": "open_case", "case_id": "c-1", "title": "t"}
        self.assert_outcome(ev["single"], g, "format")
        g = copy.deepcopy(RECEIPTS["single"])
        g["tx"]["payload"]["commitment"] = {"salted": g["tx"]["payload"]["commitment"]["sha256"]}
        self.assert_outcome(ev["single"], g, "digest")
        # Receipts swapped between deposits.
        self.assert_outcome(ev["single"], RECEIPTS["salted"], "digest")
        self.assert_outcome(ev["batch"], RECEIPTS["single"], "digest")

    def test_salt_on_unsalted_deposit_is_rejected(self):
        # Documented behaviour (doc 8, `digest`): a salt on an unsalted deposit is an error.
        g = copy.deepcopy(RECEIPTS["single"])
        g["salt"] = "11" * 32
        code, rep, text = run(EVIDENCE["single"], g)
        self.assertEqual(first_failure(code, rep), "digest", text)

    def test_resigned_by_other_roles(self):
        """Re-sign the transaction (and fix the deposit ID) with other keys of the genesis."""
        for signer, expected in (("judge", "signature"), ("auditor", "signature"), ("v0", "signature"),
                                 ("outsider", "inclusion")):
            with self.subTest(signer=signer):
                g = copy.deepcopy(RECEIPTS["single"])
                g["tx"]["sender"] = public(signer).hex()
                rc = cv.parse_receipt(dumps(g))
                txid = cv.tx_id(SPEC.chain_id, cv.encode_body(rc.tx))
                g["deposit_id"] = txid.hex()
                g["signature"] = sign(signer, txid).hex()
                code, rep, text = run(EVIDENCE["single"], g)
                self.assertEqual(first_failure(code, rep), expected, text)
                # Keys unknown to the genesis pass `signature` (doc 8, check 5) and the block's
                # transaction root rejects them; validator keys never deposit.
                sig_check = next(c for c in rep.checks if c.name == "signature")
                self.assertEqual(sig_check.ok, signer == "outsider", sig_check.detail)

    def test_signature_malleability_rejected(self):
        # S + L is the same signature mathematically; verification (doc 6.3, step 1) rejects it.
        g = copy.deepcopy(RECEIPTS["single"])
        sig = bytes.fromhex(g["signature"])
        s = int.from_bytes(sig[32:], "little") + cv.L
        g["signature"] = (sig[:32] + s.to_bytes(32, "little")).hex()
        code, rep, text = run(EVIDENCE["single"], g)
        self.assertEqual(first_failure(code, rep), "signature", text)
        self.assertIn("non-canonical S", rep.first_failure().detail)

    def test_small_order_R_precommit_rejected(self):
        """A precommit made with v0's real key but R = identity (S = k*a): OpenSSL alone accepts it,
        verification (doc 6.3, step 3) rejects it, and so does the Rust batch path, which checks R
        before batching."""
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        r = small_order_r_receipt()
        c = r["certificate"]
        s = c["sigs"][0]
        msg = cv.vote_signing_hash(cv.encode_vote(SPEC.chain_id, c["height"], c["round"], 2,
                                                  bytes.fromhex(c["block_hash"]), s["time_ms"], 0))
        sig = bytes.fromhex(s["signature"])
        Ed25519PublicKey.from_public_bytes(SPEC.validators[0]["key"]).verify(sig, msg)  # the library alone accepts
        self.assertEqual(cv.ed25519_verify(SPEC.validators[0]["key"], msg, sig), "R is of small order")
        code, rep, text = run(EVIDENCE["single"], r)
        self.assertEqual(first_failure(code, rep), "certificate", text)


    def test_mixed_order_R_precommit_accepted(self):
        """A precommit made with v0's real key but R = r*B + T (T of order 2) and S = r + k*a: the
        cofactored equation of doc 6.3 holds, so the receipt is valid; the cofactorless rule
        (6.4, what an old strict verifier applies) refuses the signature."""
        r, msg, sig = mixed_order_r_receipt()
        self.assertIsNone(cv.ed25519_verify(SPEC.validators[0]["key"], msg, sig))
        self.assertIsNotNone(cv.ed25519_verify_strict(SPEC.validators[0]["key"], msg, sig))
        code, rep, text = run(EVIDENCE["single"], r)
        self.assertEqual(code, 0, text)
        # The same signature on another vote fails.
        r["certificate"]["sigs"][0]["time_ms"] += 1
        code, rep, text = run(EVIDENCE["single"], r)
        self.assertEqual(first_failure(code, rep), "certificate", text)


ED25519_CASES = os.path.join(REPO, "ledger", "tests", "data", "ed25519", "cases.json")


def worked_check() -> dict:
    """The intermediate values of doc 6.3's worked check (case mixed-order-r-order-2)."""
    with open(ED25519_CASES, "rb") as f:
        c = next(c for c in json.load(f)["cases"] if c["name"] == "mixed-order-r-order-2")
    key, msg, sig = (bytes.fromhex(c[k]) for k in ("key", "msg", "sig"))
    k = int.from_bytes(hashlib.sha512(sig[:32] + key + msg).digest(), "little") % cv.L
    s = int.from_bytes(sig[32:], "little")
    q = cv._point_add(cv._scalar_mul(s, cv._ext(cv.B_POINT)), cv._neg(cv._scalar_mul(k, cv._ext(cv.decode_point(key)))))
    e = cv._point_add(q, cv._neg(cv._ext(cv.decode_point(sig[:32]))))
    return {"k": k, "sb_minus_ka": encode_point(q), "e": encode_point(e), "2e": encode_point(cv._point_add(e, e))}


class Ed25519Fixture(unittest.TestCase):
    """ledger/tests/data/ed25519/cases.json, written by the Rust ledger's tests: the same verdicts
    (and reasons) here."""

    def test_worked_check_in_doc(self):
        w = worked_check()
        with open(os.path.join(REPO, "docs", "receipt-format.md"), encoding="utf-8") as f:
            doc = f.read()
        self.assertIn("0x" + format(w["k"], "x"), doc)
        self.assertIn(f"`{w['sb_minus_ka'].hex()[:8]}…{w['sb_minus_ka'].hex()[-8:]}`", doc)
        self.assertEqual(w["e"].hex(), "ecff" + "ff" * 29 + "7f")
        self.assertEqual(w["2e"], (1).to_bytes(32, "little"))

    def test_cases(self):
        with open(ED25519_CASES, "rb") as f:
            cases = json.load(f)["cases"]
        self.assertGreaterEqual(len(cases), 14)
        names = {c["name"] for c in cases}
        for must in ("rfc8032-7.1-test-1", "mixed-order-r-order-2", "mixed-order-key", "small-order-r-identity"):
            self.assertIn(must, names)
        for c in cases:
            with self.subTest(c["name"]):
                key, msg, sig = (bytes.fromhex(c[k]) for k in ("key", "msg", "sig"))
                self.assertEqual(cv.ed25519_verify(key, msg, sig), c["refused"])
                self.assertEqual(cv.ed25519_verify_strict(key, msg, sig) is None, c["cofactorless"])
                # Superset: what the cofactorless rule accepts, the cofactored one accepts.
                if c["cofactorless"]:
                    self.assertIsNone(c["refused"])


class SmallOrderRTransaction(unittest.TestCase):
    """data/small-order-r-tx: a deposit whose transaction signature has a small-order R, which
    verification (doc 6.3, step 3) rejects (see its README.md)."""

    def test_only_signature_fails(self):
        d = os.path.join(HERE, "data", "small-order-r-tx")
        code, rep, text = cv.verify_files(os.path.join(d, "evidence.bin"), os.path.join(d, "receipt.json"),
                                          golden_path("genesis.json"))
        self.assertEqual(code, 1, text)
        self.assertEqual([c.name for c in rep.checks if not c.ok], ["signature"], text)
        self.assertIn("R is of small order", rep.first_failure().detail)


class Ed25519Rules(unittest.TestCase):
    SMALL_ORDER = [
        "0100000000000000000000000000000000000000000000000000000000000000",  # identity
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # order 2
        "0000000000000000000000000000000000000000000000000000000000000000",  # order 4
        "0000000000000000000000000000000000000000000000000000000000000080",  # order 4
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",  # order 8
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",  # order 8
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # identity, y = p + 1
        "0100000000000000000000000000000000000000000000000000000000000080",  # identity, sign bit set
    ]

    def test_small_order_points(self):
        for h in self.SMALL_ORDER:
            with self.subTest(point=h):
                pt = cv.decode_point(bytes.fromhex(h))
                self.assertIsNotNone(pt)
                self.assertTrue(cv.is_small_order(pt))
        base = cv.decode_point(bytes.fromhex("5866666666666666666666666666666666666666666666666666666666666666"))
        self.assertFalse(cv.is_small_order(base))
        for v in SPEC.validators:
            self.assertFalse(cv.is_small_order(cv.decode_point(v["key"])))

    def test_not_a_point(self):
        self.assertIsNone(cv.decode_point(bytes.fromhex("02" + "00" * 31)))

    def test_small_order_r_encodings_rejected(self):
        msg = bytes(32)
        a = public("v0")
        for h in (self.SMALL_ORDER[0], self.SMALL_ORDER[6], self.SMALL_ORDER[7]):
            with self.subTest(R=h):
                R = bytes.fromhex(h)
                k = int.from_bytes(hashlib.sha512(R + a + msg).digest(), "little") % cv.L
                sig = R + (k * secret_scalar("v0") % cv.L).to_bytes(32, "little")
                self.assertEqual(cv.ed25519_verify(a, msg, sig), "R is of small order")

    def test_small_order_key_rejected(self):
        # With A and R the identity and S = 0, the cofactorless equation holds for every message.
        key = bytes.fromhex(self.SMALL_ORDER[0])
        sig = key + bytes(32)
        self.assertEqual(cv.ed25519_verify(key, b"\x42" * 32, sig), "key is of small order")

    def test_valid_and_wrong_message(self):
        msg = bytes(range(32))
        sig = sign("platform", msg)
        self.assertIsNone(cv.ed25519_verify(public("platform"), msg, sig))
        self.assertIsNotNone(cv.ed25519_verify(public("platform"), msg[::-1], sig))
        self.assertIsNotNone(cv.ed25519_verify(public("judge"), msg, sig))


class MerkleRules(unittest.TestCase):
    def test_all_positions_up_to_20(self):
        leaves = [cv.leaf_hash(bytes([i])) for i in range(20)]
        for n in range(1, 21):
            root = cv.merkle_root(leaves[:n])
            for i in range(n):
                proof = rfc6962_path(i, leaves[:n])
                self.assertIsNone(cv.verify_inclusion(leaves[i], i, n, proof, root), (i, n))
                self.assertIsNotNone(cv.verify_inclusion(leaves[i], i, n, proof + [root], root))
                if proof:
                    self.assertIsNotNone(cv.verify_inclusion(leaves[i], i, n, proof[:-1], root))
                self.assertIsNotNone(cv.verify_inclusion(leaves[i], n, n, proof, root))
                if n > 1:
                    self.assertIsNotNone(cv.verify_inclusion(leaves[(i + 1) % n], i, n, proof, root))

    def test_too_long_proof(self):
        h = cv.leaf_hash(b"x")
        self.assertIn("maximum", cv.verify_inclusion(h, 0, 2**64 - 1, [h] * 65, h))


# ---------------------------------------------------------------------------------------------
# Membership history (doc section 13): receipts after one change (add v4) and after two (add v4,
# rotate v1's key), and every kind of tampered history entry.

MEMBER = ("member-before", "member-one", "member-two")
MEMBER_RECEIPTS = {n: json.loads(read(f"receipt-{n}.json")) for n in MEMBER}
MEMBER_EVIDENCE = {n: read(f"evidence-{n}.bin") for n in MEMBER}
MEMBER_HEX = json.loads(read("golden-membership.json"))


def resign_approvals(entry: dict, signers: list) -> None:
    """Replace an entry's approvals with fresh ones by the test keys `signers` over its change."""
    p = entry["tx"]["payload"]
    parsed = cv.parse_change(cv.Obj(copy.deepcopy(p["change"]), "change"))
    msg = cv.tagged(cv.TAG_MEMBERSHIP, SPEC.chain_id, p["seq"].to_bytes(8, "big"), cv.encode_change(parsed))
    p["approvals"] = [{"key": public(n).hex(), "signature": sign(n, msg).hex()} for n in signers]


def recertify(entry: dict, signers: list) -> None:
    """Make `entry` a block of its own committing its (edited) transaction, certified by the test
    keys `signers` (validator i = signers[i]): what a quorum of a set whose keys leaked can do."""
    body = cv.encode_body(cv.parse_body(cv.Obj(copy.deepcopy(entry["tx"]), "tx")))
    leaf = cv.leaf_hash(body + bytes.fromhex(entry["signature"]))
    h = entry["header"]
    h.update({"tx_root": leaf.hex(), "tx_count": 1})
    entry.update({"tx_index": 0, "tx_proof": []})
    hd = cv.parse_header(cv.Obj(copy.deepcopy(h), "header"))
    bh = cv.block_hash(hd)
    c = entry["certificate"]
    c["block_hash"] = bh.hex()
    for s in c["sigs"]:
        vote = cv.encode_vote(SPEC.chain_id, c["height"], c["round"], 2, bh, s["time_ms"], s["validator"])
        s["signature"] = sign(signers[s["validator"]], cv.vote_signing_hash(vote)).hex()


class EvidenceTransactions(unittest.TestCase):
    """Payload tag 9 (doc 4.1.3): the bytes are built here from the spec (votes 5.2, proposals
    5.2.1, body 4.1, ID 4.2) and compared with the Rust encoding frozen in
    golden-evidence.json; the decoder reads the Rust bytes and the JSON form back, and refuses
    malformed evidence."""

    G = json.loads(read("golden-evidence.json"))
    TAG_PROPOSAL = "curia/v1/proposal"

    def votes(self):
        """v1's two prevotes at height 2, round 0, in canonical order (nil first)."""
        out = []
        for block in (None, hashlib.sha256(b"block x").digest()):
            v = cv.encode_vote(SPEC.chain_id, 2, 0, 1, block, 1_767_225_602_000, 1)
            out.append(v + sign("v1", cv.vote_signing_hash(v)))
        return out

    def proposals(self):
        """v2's two proposals at height 3, round 1, in canonical order (by their bytes)."""
        out = []
        for pol, block in ((None, b"block y"), (0, b"block z")):
            w = cv.Writer().fixed(SPEC.chain_id).u64(3).u32(1)
            if pol is None:
                w.u8(0)
            else:
                w.u8(1).u32(pol)
            p = w.fixed(hashlib.sha256(block).digest()).u16(2).bytes()
            out.append((p, p + sign("v2", cv.tagged(self.TAG_PROPOSAL, p))))
        out.sort()
        return out

    def test_bytes_from_the_spec_match_rust(self):
        m = self.G["messages"]
        a, b = self.votes()
        self.assertEqual((a.hex(), b.hex()), (m["vote_a"], m["vote_b"]))
        (pa, spa), (_, spb) = self.proposals()
        self.assertEqual((spa.hex(), spb.hex()), (m["proposal_a"], m["proposal_b"]))
        self.assertEqual(cv.tagged(self.TAG_PROPOSAL, pa).hex(), m["proposal_a_signing_hash"])
        for name, sender, nonce, tag, x, y in (("double_vote", "v0", 7, 1, a, b),
                                               ("double_proposal", "v3", 8, 2, spa, spb)):
            with self.subTest(name):
                g = self.G[name]
                body = cv.Writer().fixed(public(sender)).u64(nonce).u8(9).u8(tag).fixed(x).fixed(y).bytes()
                self.assertEqual(body.hex(), g["body"])
                txid = cv.tx_id(SPEC.chain_id, body)
                self.assertEqual(txid.hex(), g["tx_id"])
                # Envelope: body || signature || u32 item count (0); the signature is over the ID.
                sig = sign(sender, txid)
                self.assertEqual((body + sig + b"\0\0\0\0").hex(), g["tx"])
                self.assertIsNone(cv.ed25519_verify(public(sender), txid, sig))

    def test_decoding_rust_bytes_and_json(self):
        for name in ("double_vote", "double_proposal"):
            with self.subTest(name):
                g = self.G[name]
                raw = bytes.fromhex(g["tx"])
                r = cv.Reader(raw, "transaction")
                body = cv.decode_body(r)
                r.take(64)
                self.assertEqual(r.u32(), 0)
                r.finish()
                self.assertEqual(cv.encode_body(body).hex(), g["body"])
                self.assertIsNone(cv.check_fields(body))
                ev = body["payload"]["evidence"]
                self.assertEqual((body["payload"]["kind"], ev["type"]), ("evidence", name))
                # The JSON form the API takes decodes to the same transaction.
                parsed = cv.parse_body(cv.Obj(copy.deepcopy(g["json"]["body"]), "body"))
                self.assertEqual(parsed, body)
                self.assertEqual(cv.encode_body(parsed).hex(), g["body"])
        # What an auditor reads: who, where, which values.
        vote = cv.decode_body(cv.Reader(bytes.fromhex(self.G["double_vote"]["body"]), "body"))
        a, b = vote["payload"]["evidence"]["a"], vote["payload"]["evidence"]["b"]
        self.assertEqual(vote["sender"], public("v0"))
        self.assertEqual((a["validator"], a["height"], a["round"], a["kind"]), (1, 2, 0, "prevote"))
        self.assertEqual((a["block"], b["block"]), (None, hashlib.sha256(b"block x").digest()))
        prop = cv.decode_body(cv.Reader(bytes.fromhex(self.G["double_proposal"]["body"]), "body"))
        pa = prop["payload"]["evidence"]["a"]
        self.assertEqual((pa["proposer"], pa["height"], pa["round"], pa["pol_round"]), (2, 3, 1, None))

    def test_malformed_evidence_is_refused(self):
        body = bytes.fromhex(self.G["double_vote"]["body"])
        at = 32 + 8 + 1  # the offence tag
        cases = {
            "offence tag 3": body[:at] + b"\x03" + body[at + 1:],
            "vote kind 3": body[:at + 1 + 44] + b"\x03" + body[at + 1 + 45:],
            "option byte 2": body[:at + 1 + 45] + b"\x02" + body[at + 1 + 46:],
            "truncated": body[:-1],
            "trailing byte": body + b"\x00",
        }
        for what, raw in cases.items():
            with self.subTest(what):
                with self.assertRaises(cv.Unusable):
                    r = cv.Reader(raw, "body")
                    cv.decode_body(r)
                    r.finish()
        good = self.G["double_vote"]["json"]["body"]

        def bad(f):
            j = copy.deepcopy(good)
            f(j["payload"]["evidence"])
            return j

        json_cases = {
            "unknown type": bad(lambda e: e.update(type="triple_vote")),
            "unknown field": bad(lambda e: e.update(extra=1)),
            "trailing byte in a": bad(lambda e: e.update(a=e["a"] + "00")),
            "truncated b": bad(lambda e: e.update(b=e["b"][:-2])),
            "odd hex": bad(lambda e: e.update(a=e["a"][:-1])),
            "too long": bad(lambda e: e.update(a="00" * 513)),
            "not a string": bad(lambda e: e.update(a=5)),
            "proposal bytes as votes": bad(lambda e: e.update(a=self.G["messages"]["proposal_a"])),
        }
        for what, j in json_cases.items():
            with self.subTest(what):
                with self.assertRaises(cv.Unusable):
                    cv.parse_body(cv.Obj(j, "body"))


class MembershipHistory(unittest.TestCase):
    def verdict(self, name: str, r: dict):
        code, rep, text = run(MEMBER_EVIDENCE[name], r)
        return code, first_failure(code, rep), rep, text

    def test_receipts_before_and_after_changes_are_valid(self):
        for n in MEMBER:
            with self.subTest(receipt=n):
                code, failed, rep, text = self.verdict(n, MEMBER_RECEIPTS[n])
                self.assertEqual((code, failed), (0, None), text)
        self.assertEqual(MEMBER_RECEIPTS["member-before"]["version"], 1)
        self.assertNotIn("membership", MEMBER_RECEIPTS["member-before"])
        self.assertEqual(len(MEMBER_RECEIPTS["member-one"]["membership"]), 1)
        two = MEMBER_RECEIPTS["member-two"]
        self.assertEqual([e["tx"]["payload"]["change"]["op"] for e in two["membership"]], ["add", "rotate"])
        # After the rotation, five validators certify and v1 signs with its new key.
        _, _, rep, _ = self.verdict("member-two", two)
        self.assertIn("5 validators in force", next(c.detail for c in rep.checks if c.name == "membership"))

    def test_cli_exit_codes(self):
        for n in MEMBER:
            p = run_cli(golden_path(f"evidence-{n}.bin"), golden_path(f"receipt-{n}.json"), golden_path("genesis.json"))
            self.assertEqual(p.returncode, 0, p.stdout)
        with tempfile.TemporaryDirectory() as d:
            r = copy.deepcopy(MEMBER_RECEIPTS["member-two"])
            r["membership"][1]["tx"]["payload"]["approvals"].pop()
            path = os.path.join(d, "r.json")
            with open(path, "wb") as f:
                f.write(dumps(r))
            p = run_cli(golden_path("evidence-member-two.bin"), path, golden_path("genesis.json"))
            self.assertEqual(p.returncode, 1, p.stdout)
            self.assertIn("history_inclusion", p.stdout)

    def test_canonical_bytes_match_rust(self):
        _, entries = cv.parse_history(read("membership.json"))
        self.assertEqual(cv.encode_entry(entries[0]).hex(), MEMBER_HEX["history_entry_0"])
        self.assertEqual(cv.encode_entry(entries[1]).hex(), MEMBER_HEX["history_entry_1"])
        rc = cv.parse_receipt(dumps(MEMBER_RECEIPTS["member-two"]))
        self.assertEqual(rc.encode().hex(), MEMBER_HEX["receipt_member_two"])
        binary = bytes.fromhex(MEMBER_HEX["receipt_member_two"])
        code, rep, text = cv.verify_data(MEMBER_EVIDENCE["member-two"], binary, GENESIS_BYTES)
        self.assertEqual(code, 0, text)

    def test_without_history_the_certificate_fails(self):
        for n in ("member-one", "member-two"):
            r = copy.deepcopy(MEMBER_RECEIPTS[n])
            del r["membership"]
            r["version"] = 1
            code, failed, _, _ = self.verdict(n, r)
            self.assertEqual((code, failed), (1, "certificate"), n)

    def tampered(self):
        """(what, receipt, expected failure name in the membership detail)."""
        base = MEMBER_RECEIPTS["member-two"]

        def mk(f):
            r = copy.deepcopy(base)
            f(r)
            return r
        e0 = ("membership", 0)
        e1 = ("membership", 1)
        # The approvals are inside the committed transaction: editing one breaks the inclusion proof.
        yield "approval dropped below quorum", mk(lambda r: r["membership"][1]["tx"]["payload"]["approvals"].pop()), \
            "history_inclusion"
        yield "approval signature flipped", set_path(base, e0 + ("tx", "payload", "approvals", 0, "signature"),
                                                     flip_hex_digit(base["membership"][0]["tx"]["payload"]["approvals"][0]["signature"], 3)), \
            "history_inclusion"
        yield "approval duplicated", mk(lambda r: r["membership"][0]["tx"]["payload"]["approvals"].append(
            r["membership"][0]["tx"]["payload"]["approvals"][0])), "history_inclusion"

        # Re-certified by the genesis set's keys (as if they leaked), so only the approvals are wrong.
        genesis_keys = ["v0", "v1", "v2", "v3"]

        def by_stranger(r):
            resign_approvals(r["membership"][0], ["v0", "v1", "judge"])
            recertify(r["membership"][0], genesis_keys)
        yield "approval by a non-member (block re-certified)", mk(by_stranger), "history_approvals"

        def too_few(r):
            resign_approvals(r["membership"][0], ["v0", "v1"])
            recertify(r["membership"][0], genesis_keys)
        yield "approvals of 2 of 4 (block re-certified)", mk(too_few), "history_approvals"

        def twice(r):
            resign_approvals(r["membership"][0], ["v0", "v1", "v1"])
            recertify(r["membership"][0], genesis_keys)
        yield "one validator approving twice (block re-certified)", mk(twice), "history_approvals"

        def reused_key(r):
            ch = r["membership"][0]["tx"]["payload"]["change"]
            ch["validator"]["key"] = public("v2").hex()
            resign_approvals(r["membership"][0], ["v0", "v1", "v2"])
            recertify(r["membership"][0], genesis_keys)
        yield "add of a key in the set (approved, re-certified)", mk(reused_key), "history_change"

        def remove_to_three(r):
            r["membership"][0]["tx"]["payload"]["change"] = {"op": "remove", "key": public("v3").hex()}
            resign_approvals(r["membership"][0], ["v0", "v1", "v2"])
            recertify(r["membership"][0], genesis_keys)
        yield "remove leaving 3 (approved, re-certified)", mk(remove_to_three), "history_change"
        yield "header state_root changed", set_path(base, e0 + ("header", "state_root"),
                                                    flip_hex_digit(base["membership"][0]["header"]["state_root"], 0)), \
            "history_certificate"
        yield "header validators_hash changed", set_path(base, e1 + ("header", "validators_hash"),
                                                         flip_hex_digit(base["membership"][1]["header"]["validators_hash"], 0)), \
            "history_validators"
        yield "header tx_root changed", set_path(base, e0 + ("header", "tx_root"),
                                                 flip_hex_digit(base["membership"][0]["header"]["tx_root"], 5)), \
            "history_certificate"
        yield "header of another chain", set_path(base, e0 + ("header", "chain_id"), "00" * 32), "history_chain"
        yield "certificate signature flipped", set_path(base, e1 + ("certificate", "sigs", 0, "signature"),
                                                        flip_hex_digit(base["membership"][1]["certificate"]["sigs"][0]["signature"], 2)), \
            "history_certificate"
        yield "certificate below quorum", mk(lambda r: r["membership"][0]["certificate"].__setitem__(
            "sigs", r["membership"][0]["certificate"]["sigs"][:2])), "history_certificate"
        yield "certificate height", mk(lambda r: r["membership"][0]["certificate"].__setitem__("height", 3)), \
            "history_certificate"
        yield "change key replaced", mk(lambda r: r["membership"][1]["tx"]["payload"]["change"].__setitem__(
            "new", public("someone-else").hex())), "history_inclusion"
        yield "change power replaced", mk(lambda r: r["membership"][0]["tx"]["payload"]["change"]["validator"].__setitem__(
            "power", 7)), "history_inclusion"
        yield "inclusion proof", mk(lambda r: r["membership"][1]["tx_proof"].__setitem__(
            0, flip_hex_digit(r["membership"][1]["tx_proof"][0], 0))), "history_inclusion"
        yield "seq changed", mk(lambda r: r["membership"][1]["tx"]["payload"].__setitem__("seq", 0)), "history_tx"
        yield "entries swapped", mk(lambda r: r["membership"].reverse()), "history_tx"
        yield "entry dropped", mk(lambda r: r["membership"].pop(0)), "history_tx"
        yield "entry repeated", mk(lambda r: r["membership"].append(r["membership"][1])), "history_tx"

    def test_tampered_entries_are_invalid(self):
        n = 0
        for what, r, name in self.tampered():
            with self.subTest(what):
                code, failed, rep, text = self.verdict("member-two", r)
                self.assertEqual(code, 1, text)
                self.assertEqual(failed, "membership", text)
                detail = next(c.detail for c in rep.checks if c.name == "membership")
                self.assertIn(name, detail)
                self.assertFalse(next(c for c in rep.checks if c.name == "certificate").ok)
                n += 1
        self.assertGreaterEqual(n, 20)

    def test_recertified_history_with_valid_approvals_is_accepted(self):
        """What the spec says this cannot defend (13.5): a quorum of an old set can re-make a
        block; with correct approvals the history walks."""
        r = copy.deepcopy(MEMBER_RECEIPTS["member-one"])
        recertify(r["membership"][0], ["v0", "v1", "v2", "v3"])
        code, failed, _, text = self.verdict("member-one", r)
        self.assertEqual((code, failed), (0, None), text)

    def test_change_rules_are_checked(self):
        """A change the rules refuse, even with valid approvals and a valid certificate, fails
        `history_change`: here the test re-signs entry 1 as a rotation to a key used before (v0's
        genesis key is in the set, v1's old key was used), which only the walk's rules catch. The
        block's certificate no longer covers the edited transaction, so this builds the
        expectation on the walk function directly with the certificate and inclusion checks
        satisfied by a re-made entry."""
        spec = SPEC
        hist = cv.History(spec)
        err, _ = hist.apply({"op": "rotate", "old": public("v1"), "new": public("v0")}, set())
        self.assertIn("already a validator", err)
        err, vs = hist.apply({"op": "rotate", "old": public("v1"), "new": public("v1-new")}, set())
        self.assertIsNone(err)
        hist.push(1, {"op": "rotate", "old": public("v1"), "new": public("v1-new")}, vs)
        err, _ = hist.apply({"op": "rotate", "old": public("v1-new"), "new": public("v1")}, set())
        self.assertIn("was a validator key before", err)
        err, _ = hist.apply({"op": "remove", "key": public("v0")}, set())
        self.assertIn("fewer than 4", err)
        err, _ = hist.apply({"op": "rotate", "old": public("v0"), "new": public("platform")},
                            {c["key"] for c in spec.clients})
        self.assertIn("client", err)
        err, _ = hist.apply({"op": "rotate", "old": public("v0"), "new": (1).to_bytes(32, "little")}, set())
        self.assertIn("small order", err)

    def test_history_in_force_after_the_receipt_is_refused(self):
        r = copy.deepcopy(MEMBER_RECEIPTS["member-one"])
        r["membership"] = copy.deepcopy(MEMBER_RECEIPTS["member-two"]["membership"])
        code, failed, rep, text = self.verdict("member-one", r)
        self.assertEqual((code, failed), (1, "membership"), text)
        self.assertIn("history_order", next(c.detail for c in rep.checks if c.name == "membership"))

    def test_malformed_history_is_unusable(self):
        base = MEMBER_RECEIPTS["member-one"]
        cases = {
            "version 1 with history": set_path(base, ("version",), 1),
            "version 2 without history": {k: v for k, v in base.items() if k != "membership"},
            "empty history": set_path(base, ("membership",), []),
            "unknown key in entry": set_path(base, ("membership", 0, "extra"), 1),
            "unknown change op": set_path(base, ("membership", 0, "tx", "payload", "change", "op"), "merge"),
            "unknown role": set_path(base, ("membership", 0, "tx", "payload", "change", "validator", "role"), "king"),
            "header version 4": set_path(base, ("membership", 0, "header", "version"), 4),
            "v2 header with next_validators_hash": set_path(base, ("membership", 0, "header", "next_validators_hash"),
                                                            "00" * 32),
        }
        for what, r in cases.items():
            with self.subTest(what):
                code, failed, _, text = self.verdict("member-one", r)
                self.assertEqual(code, 2, text)


# ---------------------------------------------------------------------------------------------
# Optional: the same inputs through the Rust verifier (`curia verify ... --json`)


def small_order_r_receipt() -> dict:
    """receipt-single with v0's precommit re-made with R = identity and S = k*a (doc 6.3)."""
    r = copy.deepcopy(RECEIPTS["single"])
    c = r["certificate"]
    s = c["sigs"][0]
    msg = cv.vote_signing_hash(cv.encode_vote(SPEC.chain_id, c["height"], c["round"], 2,
                                              bytes.fromhex(c["block_hash"]), s["time_ms"], 0))
    R = (1).to_bytes(32, "little")
    k = int.from_bytes(hashlib.sha512(R + SPEC.validators[0]["key"] + msg).digest(), "little") % cv.L
    s["signature"] = (R + (k * secret_scalar("v0") % cv.L).to_bytes(32, "little")).hex()
    return r


def encode_point(q: tuple[int, int, int, int]) -> bytes:
    zi = pow(q[2], cv.P - 2, cv.P)
    x, y = q[0] * zi % cv.P, q[1] * zi % cv.P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def mixed_order_r_receipt() -> tuple[dict, bytes, bytes]:
    """receipt-single with v0's precommit re-made with R = r*B + T, T = (0, -1) of order 2, and
    S = r + k*a (doc 6.3): the receipt, the vote's signing hash and the signature."""
    r = copy.deepcopy(RECEIPTS["single"])
    c = r["certificate"]
    s = c["sigs"][0]
    msg = cv.vote_signing_hash(cv.encode_vote(SPEC.chain_id, c["height"], c["round"], 2,
                                              bytes.fromhex(c["block_hash"]), s["time_ms"], 0))
    nonce = int.from_bytes(hashlib.sha512(b"mixed-order r").digest(), "little") % cv.L
    R = encode_point(cv._point_add(cv._scalar_mul(nonce, cv._ext(cv.B_POINT)), cv._ext((0, cv.P - 1))))
    k = int.from_bytes(hashlib.sha512(R + SPEC.validators[0]["key"] + msg).digest(), "little") % cv.L
    sig = R + ((nonce + k * secret_scalar("v0")) % cv.L).to_bytes(32, "little")
    s["signature"] = sig.hex()
    return r, msg, sig


def other_payloads() -> dict:
    """One well-formed payload of every kind that is not a single deposit (doc 4.1, 7.1)."""
    h, k, sig = "ab" * 32, "cd" * 32, "ef" * 64
    approvals = [{"validator": 0, "signature": sig}]
    return {
        "batch_deposit": {"kind": "batch_deposit", "root": h, "count": 3, "salted": False,
                          "media_type": "image/png", "label": "l", "reference": "r"},
        "open_case": {"kind": "open_case", "case_id": "c-1", "title": "t"},
        "attach_deposit": {"kind": "attach_deposit", "case_id": "c-1", "deposit_id": h},
        "record_verification": {"kind": "record_verification", "case_id": "c-1", "deposit_id": h,
                                "valid": True, "report": h, "note": "n"},
        "close_case": {"kind": "close_case", "case_id": "c-1", "note": "n"},
        "registry add": {"kind": "registry", "action": {"op": "add", "name": "p2", "role": "platform", "key": k},
                         "approvals": approvals},
        "registry remove": {"kind": "registry", "action": {"op": "remove", "key": k}, "approvals": approvals},
        "registry rotate": {"kind": "registry", "action": {"op": "rotate", "old": k, "new": h},
                            "approvals": approvals},
    }


def payload_kind_mutations():
    """Every payload kind in a receipt, as is and with an unknown key added to each object inside
    the payload (the payload, a registry action, an approval, a commitment): the two verifiers
    must agree that the first is readable but fails, and that the others are unusable (doc 7.1)."""
    r, ev = RECEIPTS["single"], EVIDENCE["single"]
    payloads = other_payloads()
    payloads["deposit"] = r["tx"]["payload"]
    for name, payload in payloads.items():
        base = set_path(r, ("tx", "payload"), payload)
        yield f"payload {name}", ev, dumps(base), GENESIS_BYTES
        for path in objects(payload):
            yield (f"payload {name} unknown key in {pattern(path) or 'payload'}", ev,
                   dumps(set_path(base, ("tx", "payload") + path + ("extra",), 1)), GENESIS_BYTES)


def field_rule_mutations():
    """Doc 4.1's text rules at their edges, in a deposit and in case payloads: the verifiers must
    agree on which break `format`."""
    r, ev = RECEIPTS["single"], EVIDENCE["single"]
    texts = ["", "ok", "\x1b[2J\x1b[32mVALID", "a\u202eb", "a\u200bb", "a\u00adb", "tab\there", "line\nbreak",
             "\u2028", "\U000e0041", "\u061c", "\ufeff", "\u0085", "法院 ünïcode", "x" * 256, "x" * 257,
             "é" * 128, "é" * 129]
    for t in texts:
        for field in ("label", "reference"):
            yield f"{field} {t!r:.30}", ev, dumps(set_path(r, ("tx", "payload", field), t)), GENESIS_BYTES
        for kind, key in (("open_case", "title"), ("close_case", "note")):
            payload = dict(other_payloads()[kind], **{key: t})
            yield f"{kind} {key} {t!r:.30}", ev, dumps(set_path(r, ("tx", "payload"), payload)), GENESIS_BYTES
    media = ["", "pdf", "application/pdf", "text/plain; charset=utf-8", "text/plain;charset=utf-8",
             "text/plain ;  a=b;c=d", "text/plain ", "text/plain;", 'text/plain; charset="utf-8"',
             "text/plain; charset", "text/plain; a=b=c", "-a/b", "a/-b", "a/b/c", "A+B/x.y_z!#$&^",
             "a" * 127 + "/b", "a" * 128 + "/b", "a/" + "b" * 126, "a/" + "b" * 127, "texte/pl\u00e4in",
             "text\u00a0/plain", "x/y; k=v" + "w" * 119, "x/y; k=v" + "w" * 120]
    for m in media:
        yield f"media_type {m!r:.40}", ev, dumps(set_path(r, ("tx", "payload", "media_type"), m)), GENESIS_BYTES


def mutations():
    """(name, evidence, receipt bytes, genesis bytes) for the differential comparison."""
    for n in FIXTURES:
        r, ev = RECEIPTS[n], EVIDENCE[n]
        yield f"{n} as is", ev, dumps(r), GENESIS_BYTES
        yield f"{n} binary", ev, cv.parse_receipt(dumps(r)).encode(), GENESIS_BYTES
        yield f"{n} evidence flipped", bytes([ev[0] ^ 1]) + ev[1:], dumps(r), GENESIS_BYTES
        for path, v in walk(r):
            pat = pattern(path)
            if isinstance(v, str) and pat not in TEXT_FIELDS:
                for i in sorted({0, len(v) - 1}):
                    yield f"{n} {pat} digit {i}", ev, dumps(set_path(r, path, flip_hex_digit(v, i))), GENESIS_BYTES
            elif isinstance(v, int) and not isinstance(v, bool):
                for d in (1, -1):
                    yield f"{n} {pat} {d:+d}", ev, dumps(set_path(r, path, v + d)), GENESIS_BYTES
            for x in (None, "ab", []):
                yield f"{n} {pat} = {x!r}", ev, dumps(set_path(r, path, x)), GENESIS_BYTES
    for n in ("member-one",):
        r, ev = MEMBER_RECEIPTS[n], MEMBER_EVIDENCE[n]
        yield f"{n} as is", ev, dumps(r), GENESIS_BYTES
        yield f"{n} binary", ev, cv.parse_receipt(dumps(r)).encode(), GENESIS_BYTES
        for path, v in walk(r):
            pat = pattern(path)
            if isinstance(v, str) and pat not in TEXT_FIELDS and all(ch in "0123456789abcdef" for ch in v):
                yield f"{n} {pat} digit 0", ev, dumps(set_path(r, path, flip_hex_digit(v, 0))), GENESIS_BYTES
            elif isinstance(v, str) and pat not in TEXT_FIELDS:
                yield f"{n} {pat} + x", ev, dumps(set_path(r, path, v + "x")), GENESIS_BYTES
            elif isinstance(v, int) and not isinstance(v, bool):
                yield f"{n} {pat} +1", ev, dumps(set_path(r, path, v + 1)), GENESIS_BYTES
    yield from payload_kind_mutations()
    yield from field_rule_mutations()
    raw = read("receipt-single.json")
    for name, data in (("dup last wins", raw.replace(b'"nonce": 1,', b'"nonce": 1, "nonce": 7,')),
                       ("nonce -0", raw.replace(b'"nonce": 1,', b'"nonce": -0,')),
                       ("lone surrogate", raw.replace(b'"item 1"', b'"\\ud800"')),
                       ("upper hex", dumps(set_path(RECEIPTS["single"], ("chain_id",),
                                                    RECEIPTS["single"]["chain_id"].upper())))):
        yield name, EVIDENCE["single"], data, GENESIS_BYTES
    for path, v in walk(GENESIS):
        if isinstance(v, int):
            yield f"genesis {pattern(path)} +1", EVIDENCE["single"], raw, dumps(set_path(GENESIS, path, v + 1))
        elif path[-1] == "key":
            yield f"genesis {path} digit 0", EVIDENCE["single"], raw, dumps(set_path(GENESIS, path, flip_hex_digit(v, 0)))
    yield ("genesis small-order key", EVIDENCE["single"], raw,
           dumps(set_path(GENESIS, ("validators", 3, "key"), "01" + "00" * 31)))


CURIA_BIN = os.environ.get("CURIA_BIN", "")


@unittest.skipUnless(CURIA_BIN, "set CURIA_BIN=path/to/curia (cargo build -p curia-cli) to compare with Rust")
class RustDifferential(unittest.TestCase):
    def rust(self, ev: bytes, rb: bytes, gb: bytes):
        with tempfile.TemporaryDirectory() as d:
            paths = []
            for name, data in (("e", ev), ("r", rb), ("g", gb)):
                paths.append(os.path.join(d, name))
                with open(paths[-1], "wb") as f:
                    f.write(data)
            p = subprocess.run([CURIA_BIN, "verify", paths[0], "--receipt", paths[1], "--genesis", paths[2], "--json"],
                               capture_output=True, text=True, timeout=60)
        failed = [c["name"] for c in json.loads(p.stdout)["checks"] if not c["ok"]] if p.returncode in (0, 1) else []
        return p.returncode, failed

    def test_same_verdict_and_failed_checks(self):
        n = 0
        for name, ev, rb, gb in mutations():
            with self.subTest(case=name):
                code, rep, text = cv.verify_data(ev, rb, gb)
                mine = (code, [c.name for c in rep.checks if not c.ok] if rep else [])
                self.assertEqual(self.rust(ev, rb, gb), mine, text)
                n += 1
        self.assertGreater(n, 300)

    def test_small_order_r_refused_by_both(self):
        rb = dumps(small_order_r_receipt())
        code, rep, _ = cv.verify_data(EVIDENCE["single"], rb, GENESIS_BYTES)
        self.assertEqual((code, first_failure(code, rep)), (1, "certificate"))
        self.assertEqual(self.rust(EVIDENCE["single"], rb, GENESIS_BYTES), (1, ["certificate"]))


# ---------------------------------------------------------------------------------------------
# (d) malformed inputs: exit 2, never a traceback


class Malformed(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def write(self, name: str, data) -> str:
        path = os.path.join(self.dir.name, name)
        with open(path, "wb") as f:
            f.write(data if isinstance(data, bytes) else dumps(data))
        return path

    def cli(self, receipt=None, genesis=None, evidence=None, fixture="single"):
        """Through the command line (a subprocess)."""
        rp = self.write("r.json", receipt) if receipt is not None else golden_path(f"receipt-{fixture}.json")
        gp = self.write("g.json", genesis) if genesis is not None else golden_path("genesis.json")
        ep = self.write("e.bin", evidence) if evidence is not None else golden_path(f"evidence-{fixture}.bin")
        return run_cli(ep, rp, gp)

    def inproc(self, receipt=None, genesis=None, fixture="single"):
        """In process, with the CLI's output text: an unexpected exception fails the test as an error
        (the command line would turn it into exit 2 "internal error", hiding the bug)."""
        rb = read(f"receipt-{fixture}.json") if receipt is None else (
            receipt if isinstance(receipt, bytes) else dumps(receipt))
        gb = GENESIS_BYTES if genesis is None else (genesis if isinstance(genesis, bytes) else dumps(genesis))
        code, _, text = cv.verify_data(EVIDENCE[fixture], rb, gb)
        return subprocess.CompletedProcess([], code, text, "")

    def assert_unusable(self, p, msg=""):
        self.assertEqual(p.returncode, 2, f"{msg}\n{p.stdout}{p.stderr}")
        self.assertNotIn("Traceback", p.stdout + p.stderr, msg)
        self.assertIn("UNUSABLE", p.stdout + p.stderr, msg)
        self.assertNotIn("internal error", p.stdout + p.stderr, msg)

    def test_bad_receipts(self):
        r = RECEIPTS["single"]
        raw = read("receipt-single.json")
        cases = {
            "truncated": raw[: len(raw) // 2],
            "empty": b"",
            "not json": b"hello",
            "array": b"[]",
            "utf-16": raw.decode().encode("utf-16"),
            "bom": b"\xef\xbb\xbf" + raw,
            "NaN": raw.replace(b'"nonce": 1', b'"nonce": NaN'),
            "wrong format": set_path(r, ("format",), "curia-receipt2"),
            "no format": {k: v for k, v in r.items() if k != "format"},
            "version 2": set_path(r, ("version",), 2),
            "version 0": set_path(r, ("version",), 0),
            "version string": set_path(r, ("version",), "1"),
            "version float": set_path(r, ("version",), 1.5),
            "header version 1": set_path(r, ("header", "version"), 1),
            "header version 3": set_path(r, ("header", "version"), 3),
            "unknown field": set_path(r, ("extra",), 1),
            "unknown header field": set_path(r, ("header", "extra"), 1),
            "unknown payload field": set_path(r, ("tx", "payload", "extra"), 1),
            "unknown commitment kind": set_path(r, ("tx", "payload", "commitment"), {"md5": "00" * 32}),
            "two commitments": set_path(r, ("tx", "payload", "commitment"), {"sha256": "00" * 32, "salted": "00" * 32}),
            "unknown payload kind": set_path(r, ("tx", "payload", "kind"), "burn"),
            "missing tx_proof": {k: v for k, v in r.items() if k != "tx_proof"},
            "missing certificate": {k: v for k, v in r.items() if k != "certificate"},
            "chain_id short": set_path(r, ("chain_id",), r["chain_id"][:-2]),
            "chain_id long": set_path(r, ("chain_id",), r["chain_id"] + "00"),
            "chain_id odd": set_path(r, ("chain_id",), r["chain_id"][:-1]),
            "chain_id non-hex": set_path(r, ("chain_id",), "g" + r["chain_id"][1:]),
            "chain_id spaces": set_path(r, ("chain_id",), r["chain_id"][:62] + " 1"),
            "chain_id 0x": set_path(r, ("chain_id",), "0x" + r["chain_id"][2:]),
            "signature short": set_path(r, ("signature",), r["signature"][:64]),
            "chain_id number": set_path(r, ("chain_id",), 5),
            "nonce negative": set_path(r, ("tx", "nonce"), -1),
            "nonce float": set_path(r, ("tx", "nonce"), 1.0),
            "nonce -0": raw.replace(b'"nonce": 1,', b'"nonce": -0,'),
            "nonce 1e0": raw.replace(b'"nonce": 1,', b'"nonce": 1e0,'),
            "trailing garbage": raw + b"x",
            "nonce string": set_path(r, ("tx", "nonce"), "1"),
            "nonce 2^64": set_path(r, ("tx", "nonce"), 2**64),
            "tx_index bool": set_path(r, ("tx_index",), True),
            "tx_index 2^32": set_path(r, ("tx_index",), 2**32),
            "validator 2^16": set_path(r, ("certificate", "sigs", 0, "validator"), 2**16),
            "tx_proof 65": set_path(r, ("tx_proof",), r["tx_proof"] * 65),
            "tx_proof not list": set_path(r, ("tx_proof",), r["tx_proof"][0]),
            "media_type 129 bytes": set_path(r, ("tx", "payload", "media_type"), "a" * 129),
            "label 129 x 2-byte chars": set_path(r, ("tx", "payload", "label"), "\u00e9" * 129),
            "salt short": set_path(r, ("salt",), "00" * 31),
            "item not object": set_path(r, ("item",), 3),
            "header null": set_path(r, ("header",), None),
            "lone surrogate": raw.replace(b'"item 1"', b'"\\ud800"'),
            "too large": raw + b" " * (1 << 20),
        }
        for name, data in cases.items():
            with self.subTest(case=name):
                self.assert_unusable(self.inproc(receipt=data), name)
        for name in ("truncated", "version 2", "unknown field", "chain_id short", "lone surrogate", "too large"):
            with self.subTest(case=name, via="cli"):
                self.assert_unusable(self.cli(receipt=cases[name]), name)

    def test_bad_binary_receipts(self):
        enc = cv.parse_receipt(dumps(RECEIPTS["single"])).encode()
        cases = {
            "truncated": enc[:-1],
            "trailing byte": enc + b"\0",
            "bad salt option": enc[:-1] + b"\x02",
            "version 2": enc[:8] + b"\x00\x02" + enc[10:],
            "magic only": b"CURIARCT",
        }
        for name, data in cases.items():
            with self.subTest(case=name):
                self.assert_unusable(self.inproc(receipt=data), name)
        self.assert_unusable(self.cli(receipt=cases["trailing byte"]), "binary via cli")

    def test_bad_genesis(self):
        g = GENESIS
        raw = GENESIS_BYTES
        dup_key = raw.replace(b'"version": 1,', b'"version": 1, "version": 1,', 1)
        self.assertNotEqual(dup_key, raw)
        cases = {
            "truncated": raw[:100],
            "empty": b"",
            "duplicate key": dup_key,
            "version 2": set_path(g, ("version",), 2),
            "unknown field": set_path(g, ("extra",), True),
            "missing params": {k: v for k, v in g.items() if k != "params"},
            "no validators": set_path(g, ("validators",), []),
            "power 0": set_path(g, ("validators", 0, "power"), 0),
            "power 2^40+1": set_path(g, ("validators", 0, "power"), 2**40 + 1),
            "unknown role": set_path(g, ("validators", 0, "role"), "king"),
            "client with validator role": set_path(g, ("clients", 0, "role"), "court"),
            "key not a point": set_path(g, ("validators", 0, "key"), "02" + "00" * 31),
            "key short": set_path(g, ("validators", 0, "key"), "00" * 31),
            "duplicate name": set_path(g, ("clients", 0, "name"), "v0"),
            "duplicate key": set_path(g, ("clients", 0, "key"), g["validators"][0]["key"]),
            "bad chain name": set_path(g, ("chain_name",), "curia test"),
            "empty chain name": set_path(g, ("chain_name",), ""),
            "long name": set_path(g, ("validators", 0, "name"), "v" * 65),
            "long address": set_path(g, ("validators", 0, "address"), "a" * 257),
            "max_batch_items 0": set_path(g, ("params", "max_batch_items"), 0),
            "time negative": set_path(g, ("genesis_time_ms",), -1),
        }
        for name, data in cases.items():
            with self.subTest(case=name):
                self.assert_unusable(self.inproc(genesis=data), name)
        for name in ("truncated", "duplicate key", "key not a point"):
            with self.subTest(case=name, via="cli"):
                self.assert_unusable(self.cli(genesis=cases[name]), name)

    def test_bad_command_lines(self):
        p = run_cli()
        self.assertEqual(p.returncode, 2)
        self.assertNotIn("Traceback", p.stderr)
        p = run_cli(os.path.join(self.dir.name, "missing.bin"), golden_path("receipt-single.json"),
                    golden_path("genesis.json"))
        self.assert_unusable(p, "missing evidence")
        p = run_cli(golden_path("evidence-single.bin"), self.dir.name, golden_path("genesis.json"))
        self.assert_unusable(p, "receipt is a directory")

    def test_digest_option(self):
        """Doc 8.1: `--digest HEX` stands for the evidence; its length is never checked; a value that
        is not 64 hex digits is unusable."""
        ev = EVIDENCE["single"]
        rp, gp = golden_path("receipt-single.json"), golden_path("genesis.json")
        good = hashlib.sha256(ev).hexdigest()
        self.assertEqual(run_cli("--digest", good, rp, gp).returncode, 0)
        self.assertEqual(run_cli("--digest", good.upper(), rp, gp).returncode, 0)
        p = run_cli("--digest", hashlib.sha256(ev + b"x").hexdigest(), rp, gp)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("Check `digest` failed", p.stdout)
        for bad in (good[:-1], good + "00", "zz" * 32, ""):
            self.assert_unusable(run_cli("--digest", bad, rp, gp), f"--digest {bad!r}")

    def test_evidence_is_streamed_without_a_size_limit(self):
        """Doc 8.1: no limit on the evidence's size. A sparse file over 1 GiB (the old limit) and
        several hash chunks long is hashed, giving the same digest as hashing it in one piece of
        arithmetic, and verifies as *invalid* (another file), never as unusable."""
        path = os.path.join(self.dir.name, "big.bin")
        size = (1 << 30) + 3 * cv.HASH_CHUNK + 17
        with open(path, "wb") as f:
            f.truncate(size)
            f.seek(size - 1)
            f.write(b"\x01")
        expected = hashlib.sha256()
        zeros = bytes(cv.HASH_CHUNK)
        left = size - 1
        while left:
            n = min(left, len(zeros))
            expected.update(zeros[:n])
            left -= n
        expected.update(b"\x01")
        self.assertEqual(cv.hash_file(path), cv.Evidence(expected.digest(), size))
        p = run_cli(path, golden_path("receipt-single.json"), golden_path("genesis.json"))
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("Check `digest` failed", p.stdout)

    def test_lenient_but_documented(self):
        """Inputs the doc says are accepted: upper-case hex, null optional fields, duplicate receipt
        keys (last wins); a well-formed non-deposit payload is readable (then `format` fails), but an
        unknown key in it makes the receipt unusable, as at every other level (doc 7.1)."""
        r = RECEIPTS["single"]
        upper = set_path(r, ("chain_id",), r["chain_id"].upper())
        self.assertEqual(self.cli(receipt=upper).returncode, 0)
        self.assertEqual(self.cli(receipt=set_path(set_path(r, ("item",), None), ("salt",), None)).returncode, 0)
        raw = read("receipt-single.json")
        dup_good = raw.replace(b'"nonce": 1,', b'"nonce": 7, "nonce": 1,')
        dup_bad = raw.replace(b'"nonce": 1,', b'"nonce": 1, "nonce": 7,')
        self.assertEqual(self.cli(receipt=dup_good).returncode, 0)
        p = self.cli(receipt=dup_bad)
        self.assertEqual(p.returncode, 1)
        self.assertIn("Check `deposit_id` failed", p.stdout)
        other = set_path(r, ("tx", "payload"), {"kind": "close_case", "case_id": "c1", "note": "n"})
        p = self.cli(receipt=other)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("Check `format` failed", p.stdout)
        self.assert_unusable(self.cli(receipt=set_path(other, ("tx", "payload", "extra"), 1)), "unknown key")


# ---------------------------------------------------------------------------------------------
# `--membership FILE` (doc 13.4): a receipt that embeds no history takes the entries in force at
# its height from a history document; the receipt's own history wins; a file for another chain or
# one that cannot be read is unusable (exit 2). Compared with `curia verify --membership` when
# CURIA_BIN is set (tests/python/run.sh always sets it).


def stripped(name: str) -> dict:
    """A golden receipt signed after a membership change, with its embedded history removed."""
    r = copy.deepcopy(MEMBER_RECEIPTS[name])
    del r["membership"]
    r["version"] = 1
    return r


class MembershipFile(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def write(self, name: str, data) -> str:
        path = os.path.join(self.dir.name, name)
        with open(path, "wb") as f:
            f.write(data if isinstance(data, bytes) else dumps(data))
        return path

    def both(self, evidence: str, receipt, history):
        """(python exit, python failed checks, rust exit, rust failed checks) for the same files;
        rust is None without CURIA_BIN."""
        rp = self.write("r.json", receipt)
        hp = self.write("h.json", history) if history is not None else None
        ep = golden_path(f"evidence-{evidence}.bin")
        gp = golden_path("genesis.json")
        args = ([ "--membership", hp] if hp else []) + [ep, rp, gp]
        p = run_cli(*args)
        code, rep, text = cv.verify_files(ep, rp, gp, None, hp)
        self.assertEqual(p.returncode, code, p.stdout + p.stderr)
        mine = (code, [c.name for c in rep.checks if not c.ok] if rep else [])
        rust = None
        if CURIA_BIN:
            cmd = [CURIA_BIN, "verify", ep, "--receipt", rp, "--genesis", gp, "--json"]
            if hp:
                cmd += ["--membership", hp]
            q = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            failed = [c["name"] for c in json.loads(q.stdout)["checks"] if not c["ok"]] if q.returncode in (0, 1) else []
            rust = (q.returncode, failed)
        return mine, rust, text

    def test_file_gives_a_bare_receipt_its_history(self):
        doc = json.loads(read("membership.json"))
        for n in ("member-one", "member-two"):
            with self.subTest(receipt=n):
                mine, rust, text = self.both(n, stripped(n), None)
                self.assertEqual(mine, (1, ["certificate"]), text)
                mine, rust2, text = self.both(n, stripped(n), doc)
                self.assertEqual(mine, (0, []), text)
                self.assertIn("change(s) from the genesis set", text)
                if CURIA_BIN:
                    self.assertEqual(rust, (1, ["certificate"]))
                    self.assertEqual(rust2, (0, []))
        # The file holds two changes; member-one's height has only the first in force.
        rc = cv.parse_receipt(dumps(stripped("member-one")))
        _, entries = cv.parse_history(read("membership.json"))
        self.assertEqual(len(entries), 2)
        self.assertEqual(len(cv.entries_for_height(entries, rc.header["height"])), 1)

    def test_a_receipt_before_any_change_is_unchanged_by_the_file(self):
        mine, rust, text = self.both("member-before", MEMBER_RECEIPTS["member-before"], json.loads(read("membership.json")))
        self.assertEqual(mine, (0, []), text)
        self.assertNotIn("change(s) from the genesis set", text)
        if CURIA_BIN:
            self.assertEqual(rust, (0, []))

    def test_the_receipts_own_history_wins(self):
        doc = json.loads(read("membership.json"))
        bad = copy.deepcopy(doc)
        bad["entries"][0]["tx"]["payload"]["approvals"].pop()  # parses, but does not walk
        mine, rust, text = self.both("member-two", MEMBER_RECEIPTS["member-two"], bad)
        self.assertEqual(mine, (0, []), text)
        mine, rust2, text = self.both("member-two", stripped("member-two"), bad)
        self.assertEqual(mine, (1, ["membership", "certificate"]), text)
        self.assertIn("entry 0:", text)
        if CURIA_BIN:
            self.assertEqual(rust, (0, []))
            self.assertEqual(rust2, (1, ["membership", "certificate"]))

    def test_unusable_files(self):
        doc = json.loads(read("membership.json"))
        other = dict(doc, chain_id="00" * 32)
        cases = {"another chain": other, "not json": b"{", "wrong format": dict(doc, format="curia-receipt"),
                 "unknown key": dict(doc, extra=1), "version 2": dict(doc, version=2)}
        for what, history in cases.items():
            with self.subTest(case=what):
                for receipt, ev in ((stripped("member-two"), "member-two"),
                                    (MEMBER_RECEIPTS["member-two"], "member-two")):
                    mine, rust, text = self.both(ev, receipt, history)
                    self.assertEqual(mine, (2, []), text)
                    self.assertIn("UNUSABLE INPUT", text)
                    if CURIA_BIN:
                        self.assertEqual(rust, (2, []))
        p = run_cli("--membership", os.path.join(self.dir.name, "missing.json"), golden_path("evidence-member-two.bin"),
                    self.write("r.json", stripped("member-two")), golden_path("genesis.json"))
        self.assertEqual(p.returncode, 2)
        self.assertIn("cannot read membership history", p.stdout)

    def test_canonical_history_file(self):
        _, entries = cv.parse_history(read("membership.json"))
        w = cv.Writer().fixed(cv.HISTORY_MAGIC).u16(1).fixed(SPEC.chain_id).u32(len(entries))
        for e in entries:
            w.fixed(cv.encode_entry(e))
        mine, rust, text = self.both("member-two", stripped("member-two"), w.bytes())
        self.assertEqual(mine, (0, []), text)
        if CURIA_BIN:
            self.assertEqual(rust, (0, []))


if __name__ == "__main__":
    unittest.main()
