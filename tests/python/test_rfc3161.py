"""curia_rfc3161.py (written from docs/receipt-format.md section 15) against tokens made by
`openssl ts -reply` with the test PKI of tests/tsa/make-tsa.sh, compared with `curia tsa verify`
(CURIA_BIN, set by run.sh): the same verdict and genTime on valid and tampered tokens; and the
witness policy quorum over checkpoints cosigned here with fresh Ed25519 keys."""
import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import curia_rfc3161 as r  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ed25519  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
TEXT = b"curia.test/log\n7\nq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=\n"


def raw_pub(priv):
    return priv.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def vkey(name, typ, priv):
    pub = raw_pub(priv)
    return "%s+%s+%s" % (name, r.key_id(name, typ, pub).hex(), base64.b64encode(bytes([typ]) + pub).decode())


class Rfc3161(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="curia-py-tsa-")
        # Removed after the class's tests, and also if setUpClass fails (tearDownClass would not run).
        cls.addClassCleanup(shutil.rmtree, cls.dir, ignore_errors=True)
        subprocess.run(["bash", os.path.join(ROOT, "tests/tsa/make-tsa.sh"), cls.dir], check=True, capture_output=True)
        cls.cp = os.path.join(cls.dir, "checkpoint.txt")
        with open(cls.cp, "wb") as f:
            f.write(TEXT)
        cls.other = os.path.join(cls.dir, "other.txt")
        with open(cls.other, "wb") as f:
            f.write(TEXT.replace(b"\n7\n", b"\n8\n"))
        cls.tsr = {}
        for s in ("rsa", "ec", "expired"):
            q, out = os.path.join(cls.dir, s + ".tsq"), os.path.join(cls.dir, s + ".tsr")
            subprocess.run(["openssl", "ts", "-query", "-data", cls.cp, "-sha256", "-cert", "-out", q], check=True, capture_output=True)
            subprocess.run(["openssl", "ts", "-reply", "-config", os.path.join(cls.dir, "ts.cnf"), "-section", "tsa_" + s,
                            "-queryfile", q, "-out", out], check=True, capture_output=True)
            cls.tsr[s] = out

    def both(self, tsr, data, cert):
        """(python exit, python output, curia exit, curia output)."""
        cert = os.path.join(self.dir, cert)
        py = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "curia_rfc3161.py"), "token", tsr, data, cert],
                            capture_output=True, text=True)
        curia = os.environ.get("CURIA_BIN")
        self.assertTrue(curia, "CURIA_BIN is not set (run tests/python/run.sh)")
        rs = subprocess.run([curia, "tsa", "verify", "--token", tsr, "--in", data, "--tsa-cert", cert], capture_output=True, text=True)
        return py.returncode, py.stdout, rs.returncode, rs.stdout

    def tampered(self, name, src, change):
        data = bytearray(open(src, "rb").read())
        change(data)
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_valid_tokens_agree(self):
        for s in ("rsa", "ec"):
            pc, pout, rc, rout = self.both(self.tsr[s], self.cp, "tsa-%s.pem" % s)
            self.assertEqual((pc, rc), (0, 0), pout + rout)
            gen = [l for l in pout.splitlines() if l.startswith("genTime: ")]
            self.assertEqual(len(gen), 1)
            self.assertIn(gen[0], rout.splitlines())

    def test_refusals_agree(self):
        def flip_last(d):
            d[-1] ^= 1

        def alter_year(d):
            g = next(i for i in range(len(d) - 4) if d[i] == 0x18 and d[i + 2:i + 4] == b"20")
            d[g + 5] = ord("8") if d[g + 5] == ord("9") else d[g + 5] + 1

        cases = [
            ("other data", self.tsr["rsa"], self.other, "tsa-rsa.pem"),
            ("other cert", self.tsr["rsa"], self.cp, "tsa-ec.pem"),
            ("other cert ec", self.tsr["ec"], self.cp, "tsa-rsa.pem"),
            ("eku not critical", self.tsr["rsa"], self.cp, "tsa-rsa-noncrit.pem"),
            ("eku serverAuth", self.tsr["rsa"], self.cp, "tsa-rsa-server.pem"),
            ("expired", self.tsr["expired"], self.cp, "tsa-expired.pem"),
            ("bad signature rsa", self.tampered("bs-rsa.tsr", self.tsr["rsa"], flip_last), self.cp, "tsa-rsa.pem"),
            ("bad signature ec", self.tampered("bs-ec.tsr", self.tsr["ec"], flip_last), self.cp, "tsa-ec.pem"),
            ("genTime", self.tampered("gt-ec.tsr", self.tsr["ec"], alter_year), self.cp, "tsa-ec.pem"),
        ]
        for name, tsr, data, cert in cases:
            with self.subTest(name):
                pc, pout, rc, rout = self.both(tsr, data, cert)
                self.assertEqual((pc, rc), (1, 1), name + ": " + pout + rout)

    def test_policy_quorum(self):
        log = ed25519.Ed25519PrivateKey.generate()
        ws = [ed25519.Ed25519PrivateKey.generate() for _ in range(3)]
        names = ["w%d.test" % i for i in range(3)]
        policy = "log %s\n" % vkey("curia.test/log", 1, log)
        policy += "".join("witness W%d %s\n" % (i, vkey(names[i], 4, w)) for i, w in enumerate(ws))
        policy += "group g 2 W0 W1 W2\nquorum g\n"
        p = r.parse_policy(policy.encode())

        def line(name, typ, priv, sig):
            return "\u2014 %s %s\n" % (name, base64.b64encode(r.key_id(name, typ, raw_pub(priv)) + sig).decode())

        def note(which, cos_text=TEXT):
            s = line("curia.test/log", 1, log, log.sign(TEXT))
            for i in which:
                ts = 1700000000 + i
                sig = ws[i].sign(b"cosignature/v1\ntime %d\n" % ts + cos_text)
                s += line(names[i], 4, ws[i], ts.to_bytes(8, "big") + sig)
            return TEXT + b"\n" + s.encode()

        self.assertEqual(sorted(r.check_policy(p, note([0, 2]))), ["W0", "W2"])
        with self.assertRaises(r.Invalid):
            r.check_policy(p, note([1]))
        # A cosignature over another checkpoint under W0's key is refused outright.
        forged = note([0, 1], TEXT.replace(b"\n7\n", b"\n8\n"))
        with self.assertRaisesRegex(r.Invalid, "invalid cosignature by W0"):
            r.check_policy(p, forged)
        for bad in ["quorum g\n", policy + "quorum g\n", policy.replace("group g 2", "group g 4")]:
            with self.assertRaises(ValueError):
                r.parse_policy(bad.encode())
        self.assertEqual(r.check_policy(r.parse_policy((policy.rsplit("quorum", 1)[0] + "quorum none\n").encode()), note([])), {})


if __name__ == "__main__":
    unittest.main()
