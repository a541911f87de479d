"""curia_upgrade.py (written from docs/receipt-format.md 14.1 and 15) against `curia verify --policy
--tsa-cert` (CURIA_BIN, set by run.sh) on upgraded receipts built here from the golden receipts:
a deposit log built with this file's own RFC 6962 code, a checkpoint signed and cosigned with fresh
Ed25519 keys, a token from `openssl ts -reply` (tests/tsa/make-tsa.sh). Both must agree on the exit
status and on which checks fail: 2 of 3 witnesses pass; 1 of 3, a leaf not in the checkpoint, a
fork cosigned by other keys, an altered proof, a token over other data and a missing token fail."""
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import curia_rfc3161 as r  # noqa: E402
import curia_upgrade as up  # noqa: E402
import curia_verify as cv  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ed25519  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
GOLDEN = os.path.join(ROOT, "ledger", "tests", "data", "golden")
ORIGIN = "curia.test/log"


def key(name):
    return name, ed25519.Ed25519PrivateKey.from_private_bytes(hashlib.sha256(name.encode()).digest())


def pub(k):
    return k[1].public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def vkey(k, typ):
    return "%s+%s+%s" % (k[0], r.key_id(k[0], typ, pub(k)).hex(), base64.b64encode(bytes([typ]) + pub(k)).decode())


def sig_line(k, typ, sig):
    return "\u2014 %s %s\n" % (k[0], base64.b64encode(r.key_id(k[0], typ, pub(k)) + sig).decode())


def inclusion_proof(leaves, index):
    """RFC 6962 2.1.1 PATH(m, D[n])."""
    n = len(leaves)
    if n <= 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if index < k:
        return inclusion_proof(leaves[:k], index) + [cv.merkle_root(leaves[k:])]
    return inclusion_proof(leaves[k:], index - k) + [cv.merkle_root(leaves[:k])]


def failed(text):
    return sorted(set(re.findall(r"\[FAIL\] (\w+)", text)))


class Upgraded(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="curia-py-upgrade-")
        # Removed after the class's tests, and also if setUpClass fails (tearDownClass would not run).
        cls.addClassCleanup(shutil.rmtree, cls.dir, ignore_errors=True)
        subprocess.run(["bash", os.path.join(ROOT, "tests/tsa/make-tsa.sh"), cls.dir], check=True, capture_output=True)
        cls.log_key = key("validators.curia.test")
        cls.w = [key("bar.example/w1"), key("procur.example/w1"), key("notary.example/w1")]
        cls.policy = os.path.join(cls.dir, "policy.txt")
        with open(cls.policy, "w") as f:
            f.write("log %s\n" % vkey(cls.log_key, 1))
            for name, k in zip(("bar", "procur", "notary"), cls.w):
                f.write("witness %s %s\n" % (name, vkey(k, 4)))
            f.write("group outside 2 bar procur notary\nquorum outside\n")
        with open(os.path.join(GOLDEN, "receipt-single.json"), "rb") as f:
            cls.single = json.load(f)
        rc = cv.parse_receipt(json.dumps(cls.single).encode())
        cls.leaf = up.deposit_leaf(rc)

    def leaves(self, salt):
        return [self.leaf if i == 4 else cv.leaf_hash(b"%s deposit %d" % (salt, i)) for i in range(7)]

    def note(self, leaves, witnesses, log_key=None):
        text = "%s\n%d\n%s\n" % (ORIGIN, len(leaves), base64.b64encode(cv.merkle_root(leaves)).decode())
        lk = log_key or self.log_key
        lines = sig_line(lk, 1, lk[1].sign(text.encode()))
        for i, w in enumerate(witnesses):
            ts = 1795000000 + i
            msg = b"cosignature/v1\ntime %d\n" % ts + text.encode()
            lines += sig_line(w, 4, ts.to_bytes(8, "big") + w[1].sign(msg))
        return text, text + "\n" + lines

    def token(self, text, name):
        data, q, out = (os.path.join(self.dir, name + x) for x in (".txt", ".tsq", ".tsr"))
        with open(data, "w") as f:
            f.write(text)
        subprocess.run(["openssl", "ts", "-query", "-data", data, "-sha256", "-cert", "-out", q], check=True, capture_output=True)
        subprocess.run(["openssl", "ts", "-reply", "-config", os.path.join(self.dir, "ts.cnf"), "-section", "tsa_rsa",
                        "-queryfile", q, "-out", out], check=True, capture_output=True)
        with open(out, "rb") as f:
            return r.token_of(f.read())

    def write(self, name, base, leaves, note, token, proof=None):
        v = json.loads(json.dumps(base))
        hashes = proof if proof is not None else inclusion_proof(leaves, 4)
        text = "c2sp.org/tlog-proof@v1\nindex 4\n" + "".join(base64.b64encode(h).decode() + "\n" for h in hashes)
        v["log"] = {"proof": text + "\n" + note}
        if token is not None:
            v["log"]["tsa_token"] = base64.b64encode(token).decode()
        path = os.path.join(self.dir, name + ".json")
        with open(path, "w") as f:
            json.dump(v, f, indent=1)
        return path

    def both(self, evidence, receipt):
        """(python exit, python text, curia exit, curia text), TSA certificate given."""
        args = [os.path.join(GOLDEN, evidence), receipt, os.path.join(GOLDEN, "genesis.json"), self.policy,
                os.path.join(self.dir, "tsa-rsa.pem")]
        py = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "curia_upgrade.py")] + args,
                            capture_output=True, text=True)
        curia = os.environ.get("CURIA_BIN")
        if not curia:
            self.skipTest("CURIA_BIN not set (run tests/python/run.sh)")
        rs = subprocess.run([curia, "verify", args[0], "--receipt", receipt, "--genesis", args[2], "--policy", args[3],
                             "--tsa-cert", args[4]], capture_output=True, text=True)
        return py.returncode, py.stdout + py.stderr, rs.returncode, rs.stdout + rs.stderr

    def agree(self, evidence, receipt, code, fails):
        pc, pt, rcode, rt = self.both(evidence, receipt)
        self.assertEqual((pc, rcode), (code, code), "python:\n%s\ncuria:\n%s" % (pt, rt))
        if code != 2:
            self.assertEqual(failed(pt), fails, pt)
            self.assertEqual(failed(rt), fails, rt)
        return pt, rt

    def test_upgraded_receipts(self):
        leaves = self.leaves(b"honest")
        text, note2 = self.note(leaves, self.w[:2])
        token = self.token(text, "honest")
        good = self.write("good", self.single, leaves, note2, token)
        pt, rt = self.agree("evidence-single.bin", good, 0, [])
        gen = re.search(r"TSA genTime +(\S+)", pt).group(1)
        self.assertTrue(gen.startswith("20"), pt)
        self.assertIn("TSA genTime    " + gen, rt)

        _, note1 = self.note(leaves, self.w[2:])
        self.agree("evidence-single.bin", self.write("one", self.single, leaves, note1, token), 1, ["log_checkpoint"])

        with open(os.path.join(GOLDEN, "receipt-batch.json"), "rb") as f:
            batch = json.load(f)
        self.agree("evidence-batch.bin", self.write("other-leaf", batch, leaves, note2, token), 1, ["log_inclusion"])

        fork = self.leaves(b"forged")
        _, fork_note = self.note(fork, [key("forger.example/w1"), key("forger.example/w2")])
        self.agree("evidence-single.bin", self.write("fork", self.single, fork, fork_note, None), 1,
                   ["log_checkpoint", "log_tsa"])

        bad = inclusion_proof(leaves, 4)
        bad[1] = hashlib.sha256(b"other").digest()
        self.agree("evidence-single.bin", self.write("bad-proof", self.single, leaves, note2, token, bad), 1,
                   ["log_inclusion"])

        other_token = self.token(text.replace("\n7\n", "\n8\n"), "other")
        self.agree("evidence-single.bin", self.write("other-token", self.single, leaves, note2, other_token), 1,
                   ["log_tsa"])

        not_upgraded = os.path.join(GOLDEN, "receipt-single.json")
        self.agree("evidence-single.bin", not_upgraded, 1, ["log"])

        with open(good) as f:
            v = json.load(f)
        v["log"]["proof"] = v["log"]["proof"].replace("index 4", "index 04")
        malformed = os.path.join(self.dir, "malformed.json")
        with open(malformed, "w") as f:
            json.dump(v, f)
        self.agree("evidence-single.bin", malformed, 2, [])


if __name__ == "__main__":
    unittest.main()
