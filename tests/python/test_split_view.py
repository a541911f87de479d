"""curia_split_view.py (written from docs/receipt-format.md section 16) against `curia log
check-proof` (CURIA_BIN, set by run.sh) on proofs of split view built here: checkpoints of the
golden chain signed with its validators' test keys (SHA-256("curia-test-key/" || name)), RFC 6962
trees and consistency proofs from this file's own code, a witness cosignature from a fresh key.
Both must give the same exit status: conflicts at one size and across sizes (0), a witness alone
(0), the same note twice, a tampered signature, a lying prefix root, a missing proof and a quorum
not reached (1), malformed files (2)."""
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import curia_rfc3161 as r  # noqa: E402
import curia_split_view as sv  # noqa: E402
import curia_verify as cv  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ed25519  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
GENESIS = os.path.join(ROOT, "ledger", "tests", "data", "golden", "genesis.json")


def private(seed: bytes):
    return ed25519.Ed25519PrivateKey.from_private_bytes(seed)


def raw_pub(k) -> bytes:
    return k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def validator(name: str):
    return name, private(hashlib.sha256(b"curia-test-key/" + name.encode()).digest())


def sig_line(name: str, typ: int, k, sig: bytes) -> str:
    return "\u2014 %s %s\n" % (name, base64.b64encode(r.key_id(name, typ, raw_pub(k)) + sig).decode())


def leaves(n: int, tag: str) -> list:
    return [cv.leaf_hash(("%s%d" % (tag, i)).encode()) for i in range(n)]


def subproof(m: int, d: list, complete: bool) -> list:
    """RFC 6962 2.1.2 SUBPROOF(m, D[n], b)."""
    n = len(d)
    if m == n:
        return [] if complete else [cv.merkle_root(d)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return subproof(m, d[:k], complete) + [cv.merkle_root(d[k:])]
    return subproof(m - k, d[k:], False) + [cv.merkle_root(d[:k])]


class SplitView(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="curia-py-split-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, ignore_errors=True)
        with open(GENESIS, "rb") as f:
            cls.genesis = f.read()
        cls.spec = cv.parse_genesis(cls.genesis)
        cls.vals = [validator(v["name"]) for v in cls.spec.validators]
        for (name, k), v in zip(cls.vals, cls.spec.validators):
            assert raw_pub(k) == v["key"], name
        cls.origin = "curia/" + cls.spec.chain_id.hex()
        cls.witness = ("bar.example/w1", private(hashlib.sha256(b"split-view witness").digest()))
        wk = raw_pub(cls.witness[1])
        cls.wvkey = "%s+%s+%s" % (cls.witness[0], r.key_id(cls.witness[0], 4, wk).hex(),
                                  base64.b64encode(b"\x04" + wk).decode())

    def note(self, tree: list, size: int, height: int, signers: list, cosign: bool = False) -> str:
        text = "%s\n%d\n%s\nheight %d\n" % (self.origin, size, base64.b64encode(cv.merkle_root(tree[:size])).decode(),
                                            height)
        sigs = "".join(sig_line(self.vals[i][0], 1, self.vals[i][1], self.vals[i][1].sign(text.encode()))
                       for i in signers)
        if cosign:
            t = 1700000000
            msg = b"cosignature/v1\ntime %d\n" % t + text.encode()
            name, k = self.witness
            sigs += sig_line(name, 4, k, t.to_bytes(8, "big") + k.sign(msg))
        return text + "\n" + sigs

    def proof(self, first: str, second: str, tree: list, a: int, b: int, **extra) -> bytes:
        v = {"format": "curia-split-view/v1", "first": first, "second": second,
             "prefix_root": cv.merkle_root(tree[:a]).hex(),
             "consistency": [h.hex() for h in subproof(a, tree[:b], True)] if a != b else []}
        v.update(extra)
        return json.dumps(v, indent=2).encode()

    def both(self, name: str, data: bytes, vkeys=()):
        path = os.path.join(self.dir, name + ".json")
        with open(path, "wb") as f:
            f.write(data)
        py, _ = sv.check(data, self.genesis, list(vkeys))
        curia = os.environ.get("CURIA_BIN")
        if not curia:
            return py  # test_verdicts_agree skips at its end: the comparison did not run
        args = [curia, "log", "check-proof", path, "--genesis", GENESIS]
        for k in vkeys:
            args += ["--witness-key", k]
        rs = subprocess.run(args, capture_output=True, text=True, timeout=60)
        self.assertEqual(py, rs.returncode, "%s: python %d, curia %d\n%s%s" % (name, py, rs.returncode, rs.stdout,
                                                                              rs.stderr))
        return py

    def test_consistency_code_agrees_with_its_own_trees(self):
        tree = leaves(20, "h")
        for b in range(1, 21):
            for a in range(1, b + 1):
                p = subproof(a, tree[:b], True) if a != b else []
                self.assertTrue(sv.verify_consistency(a, b, cv.merkle_root(tree[:a]), cv.merkle_root(tree[:b]), p))
                if p:
                    bad = [p[0][:-1] + bytes([p[0][-1] ^ 1])] + p[1:]
                    self.assertFalse(sv.verify_consistency(a, b, cv.merkle_root(tree[:a]),
                                                           cv.merkle_root(tree[:b]), bad))

    def test_verdicts_agree(self):
        honest, fork = leaves(7, "h"), leaves(7, "f")
        same = self.proof(self.note(fork, 5, 9, [0, 1, 2]), self.note(honest, 5, 8, [1, 2, 3]), honest, 5, 5)
        self.assertEqual(self.both("same-size", same), 0)
        rewritten = honest[:1] + [cv.leaf_hash(b"rewritten")] + honest[2:3]
        across = self.proof(self.note(rewritten, 3, 4, [0, 1, 3]), self.note(honest, 7, 10, [0, 1, 2, 3]), honest, 3, 7,
                            first_from="http://127.0.0.1:1")
        self.assertEqual(self.both("across-sizes", across), 0)
        # The honest log's own older checkpoint: consistent.
        older = self.proof(self.note(honest, 3, 4, [0, 1, 3]), self.note(honest, 7, 10, [0, 1, 2]), honest, 3, 7)
        self.assertEqual(self.both("older", older), 1)
        n = self.note(honest, 5, 8, [1, 2, 3])
        self.assertEqual(self.both("twice", self.proof(n, n, honest, 5, 5)), 1)
        # A signature altered.
        first = self.note(fork, 5, 9, [0, 1, 2])
        last = first.rstrip("\n").rsplit(" ", 1)[1]
        alt = last[:10] + ("A" if last[10] != "A" else "B") + last[11:]
        self.assertEqual(self.both("tampered", same.replace(last.encode(), alt.encode())), 1)
        # A lying prefix root, a missing proof.
        v = json.loads(across)
        v["prefix_root"] = cv.merkle_root(rewritten).hex()
        self.assertEqual(self.both("lying-prefix", json.dumps(v).encode()), 1)
        v = json.loads(across)
        v["consistency"] = []
        self.assertEqual(self.both("no-proof", json.dumps(v).encode()), 1)
        # Two validators only: nothing, unless a trusted witness cosigned both.
        weak = self.proof(self.note(fork, 5, 9, [0, 1], True), self.note(honest, 5, 8, [2, 3], True), honest, 5, 5)
        self.assertEqual(self.both("weak", weak), 1)
        self.assertEqual(self.both("witness", weak, [self.wvkey]), 0)
        # Malformed.
        v = json.loads(same)
        v["extra"] = 1
        self.assertEqual(self.both("unknown-member", json.dumps(v).encode()), 2)
        v = json.loads(same)
        v["prefix_root"] = v["prefix_root"].upper()
        self.assertEqual(self.both("uppercase", json.dumps(v).encode()), 2)
        v = json.loads(across)
        v["first"], v["second"] = v["second"], v["first"]
        self.assertEqual(self.both("swapped", json.dumps(v).encode()), 2)
        self.assertEqual(self.both("not-json", b"split view!"), 2)
        if not os.environ.get("CURIA_BIN"):
            self.skipTest("CURIA_BIN not set (run tests/python/run.sh): Python verdicts checked, not compared")


if __name__ == "__main__":
    unittest.main()
