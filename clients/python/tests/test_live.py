"""Against a live four-validator testnet on loopback (started and stopped here): deposits of a
file, a digest, a salted file and batches; receipts saved, verified by curia_verify and by
`curia verify`; tampering detected; API refusals mapped to their exceptions; the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import curia_client as cc  # noqa: E402
from curia_client import encoding as enc  # noqa: E402
from testnet import Testnet  # noqa: E402

RECEIPT_WAIT_S = 60


class LiveTestnet(unittest.TestCase):
    net: Testnet

    @classmethod
    def setUpClass(cls):
        cls.net = Testnet()
        cls.addClassCleanup(cls.net.stop)
        cls.net.start()
        cls.work = Path(tempfile.mkdtemp(prefix="curia-pyclient-work-", dir=cls.net.dir))
        cls.client = cc.Client(cls.net.api(0), cls.net.key("platform"), genesis=cls.net.genesis)

    # ----- helpers -----

    def file(self, name: str, content: bytes) -> Path:
        p = self.work / name
        p.write_bytes(content)
        return p

    def curia_verify_cli(self, evidence: Path, receipt: Path) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.net.curia), "verify", str(evidence), "--receipt", str(receipt), "--genesis",
                               str(self.net.genesis), "--json"], capture_output=True, timeout=60)

    def assert_valid_both_ways(self, evidence: Path, receipt: Path):
        r = self.client.verify(evidence, receipt)
        self.assertEqual(r.verdict, "valid", r.text)
        self.assertEqual(r.exit_code, 0)
        names = [c.name for c in r.checks]
        for n in ("format", "chain", "digest", "deposit_id", "signature", "inclusion", "certificate", "time"):
            self.assertIn(n, names)
        out = self.curia_verify_cli(evidence, receipt)
        self.assertEqual(out.returncode, 0, out.stdout.decode() + out.stderr.decode())

    def wait_and_save(self, deposit_id: str, name: str, salt=None) -> Path:
        try:
            r = self.client.wait_receipt(deposit_id, RECEIPT_WAIT_S)
        except cc.ReceiptTimeout:
            self.fail(f"no receipt for {deposit_id}\n{self.net.logs()}")
        self.assertEqual(r.deposit_id, deposit_id)
        self.assertEqual(r.chain_id, self.client.chain_id.hex())
        return self.client.save_receipt(r, self.work / name, salt)

    # ----- deposits -----

    def test_node_runs_the_genesis_chain(self):
        st = self.client.check_chain()
        self.assertEqual(st.chain_name, "curia-testnet")

    def test_deposit_file_receipt_saved_and_verified(self):
        ev = self.file("contract.pdf", b"%PDF-1.7 contract between A and B\n" * 100)
        d = self.client.deposit_file(ev, label="contract", reference="order-1234")
        self.assertEqual(d.media_type, "application/pdf")
        self.assertEqual(d.sha256, hashlib.sha256(ev.read_bytes()).hexdigest())
        self.assertEqual(d.byte_length, ev.stat().st_size)
        self.assertIsNone(d.salt)
        path = self.wait_and_save(d.deposit_id, "contract.receipt.json")
        raw = self.client.get_receipt(d.deposit_id).raw
        self.assertEqual(path.read_bytes(), raw, "saved byte for byte as served")
        self.assert_valid_both_ways(ev, path)
        st = self.client.deposit_status(d.deposit_id)
        self.assertTrue(st.receipt_ready)
        self.assertIsNone(st.item_index)
        self.assertEqual(st.height, json.loads(raw)["header"]["height"])
        # Another node serves the same receipt bytes.
        other = cc.Client(self.net.api(2), self.client.key, chain_id=self.client.chain_id)
        self.assertEqual(other.wait_receipt(d.deposit_id, RECEIPT_WAIT_S).raw, raw)
        with self.assertRaises(cc.InvalidInput):
            self.client.save_receipt(self.client.get_receipt(d.deposit_id), path)  # no silent overwrite

    def test_deposit_digest(self):
        content = b"chat export 2026-11-30\n"
        ev = self.file("chat.txt", content)
        d = self.client.deposit_digest(hashlib.sha256(content).digest(), len(content), "text/plain", "chat export")
        path = self.wait_and_save(d.deposit_id, "chat.receipt.json")
        self.assert_valid_both_ways(ev, path)

    def test_tampered_evidence_is_invalid(self):
        ev = self.file("photo.png", b"\x89PNG original pixels")
        d = self.client.deposit_file(ev, label="photo")
        path = self.wait_and_save(d.deposit_id, "photo.receipt.json")
        self.assert_valid_both_ways(ev, path)
        forged = self.file("photo-edited.png", b"\x89PNG original pixelz")
        r = self.client.verify(forged, path)
        self.assertEqual((r.verdict, r.exit_code), ("invalid", 1))
        self.assertEqual(r.failed(), ["digest"])
        self.assertEqual(self.curia_verify_cli(forged, path).returncode, 1)
        # A receipt edited after saving is invalid too (its label is signed).
        doc = json.loads(path.read_bytes())
        doc["tx"]["payload"]["label"] = "other photo"
        edited = self.file("photo-edited.receipt.json", json.dumps(doc).encode())
        r = self.client.verify(ev, edited)
        self.assertEqual(r.verdict, "invalid")
        self.assertIn("signature", r.failed())
        self.assertEqual(self.curia_verify_cli(ev, edited).returncode, 1)

    def test_salted_deposit(self):
        ev = self.file("medical.json", b'{"patient": "private"}')
        d = self.client.deposit_file(ev, label="medical record", salted=True)
        self.assertEqual(len(d.salt), 32)
        self.assertEqual(d.commitment, enc.salted_commitment(d.salt, bytes.fromhex(d.sha256)).hex())
        self.assertNotEqual(d.commitment, d.sha256)
        with_salt = self.wait_and_save(d.deposit_id, "medical.receipt.json", d.salt)
        self.assert_valid_both_ways(ev, with_salt)
        # The node never saw the digest: the receipt it serves carries only the salted commitment.
        served = self.client.get_receipt(d.deposit_id)
        self.assertTrue(served.salted)
        self.assertNotIn(d.sha256, served.raw.decode())
        without = self.client.save_receipt(served, self.work / "medical-nosalt.receipt.json")
        r = self.client.verify(ev, without)
        self.assertEqual(r.failed(), ["digest"])
        self.assertEqual(self.curia_verify_cli(ev, without).returncode, 1)

    def test_batch_deposit(self):
        files = [self.file(f"scan-{i}.bin", f"scan page {i}\n".encode() * (i + 1)) for i in range(5)]
        b = self.client.batch_deposit_files(files, "application/octet-stream", "scans", "case-77")
        self.assertEqual(len(b.items), 5)
        self.assertEqual(len({i.deposit_id for i in b.items}), 5)
        for item, f in zip(b.items, files):
            self.assertEqual(item.sha256, hashlib.sha256(f.read_bytes()).hexdigest())
        for item in (b.items[0], b.items[3], b.items[4]):
            path = self.wait_and_save(item.deposit_id, f"scan-{item.index}.receipt.json")
            self.assert_valid_both_ways(files[item.index], path)
            r = self.client.verify(files[item.index], path)
            self.assertIn("batch", [c.name for c in r.checks])
            self.assertEqual(self.client.deposit_status(item.deposit_id).item_index, item.index)
        # Item 3's receipt does not verify item 4's file.
        r = self.client.verify(files[4], self.work / "scan-3.receipt.json")
        self.assertEqual(r.failed(), ["digest"])

    def test_salted_batch_deposit(self):
        contents = [b"salted item %d" % i for i in range(3)]
        b = self.client.batch_deposit([hashlib.sha256(c).hexdigest() for c in contents], "text/plain", "salted batch",
                                      salted=True)
        self.assertTrue(b.salted)
        self.assertEqual(len({i.salt for i in b.items}), 3, "one salt per item")
        item = b.items[1]
        ev = self.file("salted-item-1.txt", contents[1])
        path = self.wait_and_save(item.deposit_id, "salted-item-1.receipt.json", item.salt)
        self.assert_valid_both_ways(ev, path)

    # ----- refusals -----

    def test_unregistered_key_is_unknown_sender(self):
        stranger = cc.Client(self.net.api(1), cc.SigningKey.generate(), chain_id=self.client.chain_id)
        with self.assertRaises(cc.UnknownSender) as cm:
            stranger.deposit_digest("11" * 32, 1, "text/plain", "x")
        self.assertEqual(cm.exception.status, 403)
        self.assertIsInstance(cm.exception, cc.AuthError)

    def test_judge_key_is_wrong_role(self):
        judge = cc.Client(self.net.api(1), self.net.key("judge"), genesis=self.net.genesis)
        with self.assertRaises(cc.WrongRole) as cm:
            judge.deposit_digest("11" * 32, 1, "text/plain", "x")
        self.assertEqual((cm.exception.status, cm.exception.code), (403, "wrong_role"))

    def test_other_chain_signature_is_bad_signature(self):
        wrong_chain = cc.Client(self.net.api(0), self.client.key, chain_id=b"\x01" * 32)
        with self.assertRaises(cc.BadSignature) as cm:
            wrong_chain.deposit_digest("11" * 32, 1, "text/plain", "x")
        self.assertEqual(cm.exception.status, 400)

    def test_batch_rule_violations(self):
        items = [b"\x01" * 32, b"\x02" * 32, b"\x03" * 32]
        wrong_root = cc.BatchDepositPayload(enc.merkle_root(items[:2] + [b"\x04" * 32]), 3, False, "text/plain", "b", "")
        with self.assertRaises(cc.BatchRootMismatch) as cm:
            self.client.submit(self.client.sign(wrong_root, items))
        self.assertEqual(cm.exception.status, 422)
        wrong_count = cc.BatchDepositPayload(enc.merkle_root(items), 4, False, "text/plain", "b", "")
        with self.assertRaises(cc.InvalidField) as cm:
            self.client.submit(self.client.sign(wrong_count, items))
        self.assertEqual(cm.exception.status, 422)

    def test_same_transaction_twice_is_a_conflict(self):
        tx = self.client.sign(cc.DepositPayload(os.urandom(32), False, "text/plain", 3, "twice", ""))
        first = self.client.submit(tx)
        with self.assertRaises(cc.Conflict) as cm:
            self.client.submit(tx)
        self.assertIn(cm.exception.code, ("already_pending", "duplicate"))
        self.assertEqual(cm.exception.status, 409)
        self.wait_and_save(first.deposit_ids[0], "twice.receipt.json")
        with self.assertRaises(cc.Duplicate):
            self.client.submit(tx)

    def test_unknown_deposit(self):
        with self.assertRaises(cc.DepositNotFound) as cm:
            self.client.get_receipt("ab" * 32)
        self.assertEqual(cm.exception.status, 404)
        with self.assertRaises(cc.DepositNotFound):
            self.client.deposit_status("ab" * 32)
        with self.assertRaises(cc.ReceiptTimeout):
            self.client.wait_receipt("ab" * 32, timeout=1.0)

    def test_bad_label_is_refused_before_sending(self):
        with self.assertRaises(cc.InvalidInput):
            self.client.deposit_digest("11" * 32, 1, "text/plain", "\x1b[2J\x1b[32mVALID")

    # ----- command line -----

    def test_cli_deposit_and_verify(self):
        ev = self.file("cli evidence.txt", b"deposited from the command line\n")
        out = self.work / "cli.receipt.json"
        env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
        p = subprocess.run([sys.executable, "-m", "curia_client", "deposit", str(ev), "--node", self.net.api(3),
                            "--key", str(self.net.key("platform")), "--genesis", str(self.net.genesis),
                            "--out", str(out), "--salted", "--timeout", str(RECEIPT_WAIT_S)],
                           capture_output=True, timeout=120, env=env)
        text = p.stdout.decode() + p.stderr.decode()
        self.assertEqual(p.returncode, 0, text)
        self.assertIn("VERDICT: VALID", text)
        self.assertIsNotNone(json.loads(out.read_bytes()).get("salt"))
        self.assertEqual(self.curia_verify_cli(ev, out).returncode, 0)
        forged = self.file("cli forged.txt", b"deposited from the command line!\n")
        p = subprocess.run([sys.executable, "-m", "curia_client", "verify", str(forged), str(out),
                            str(self.net.genesis)], capture_output=True, timeout=60, env=env)
        self.assertEqual(p.returncode, 1, p.stdout.decode())
        self.assertIn("VERDICT: INVALID", p.stdout.decode())
        p = subprocess.run([sys.executable, "-m", "curia_client", "deposit", str(ev), "--node", self.net.api(3),
                            "--key", str(self.net.key("judge")), "--genesis", str(self.net.genesis),
                            "--out", str(self.work / "judge.receipt.json")], capture_output=True, timeout=60, env=env)
        self.assertEqual(p.returncode, 2)
        self.assertIn("wrong_role", p.stderr.decode())


if __name__ == "__main__":
    unittest.main()
