// Membership history (docs/receipt-format.md section 13) in the page's logic: the golden receipts
// from before any change, after one (add v4) and after two (add, rotate v1's key) verify; the
// canonical bytes are the Rust ones; tampered history entries make the receipt invalid (exit 1)
// with `membership` and `certificate` failed; malformed ones are unusable (exit 2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { verifyAll } from '../src/verify.js';
import { parseReceipt, encodeReceipt } from '../src/chain.js';
import { hex } from '../src/codec.js';

const G = new URL('../../ledger/tests/data/golden/', import.meta.url);
const read = (n) => new Uint8Array(readFileSync(new URL(n, G)));
const GENESIS = read('genesis.json');
const golden = JSON.parse(new TextDecoder().decode(read('golden-membership.json')));
const enc = (o) => new TextEncoder().encode(JSON.stringify(o, null, 2));
const receipt = (n) => JSON.parse(new TextDecoder().decode(read(`receipt-${n}.json`)));
const flip = (s) => (s[0] === '0' ? '1' : '0') + s.slice(1);

test('receipts before and after membership changes verify', () => {
  for (const n of ['member-before', 'member-one', 'member-two']) {
    const r = verifyAll(read(`evidence-${n}.bin`), read(`receipt-${n}.json`), GENESIS);
    assert.equal(r.code, 0, r.error || JSON.stringify(r.report.firstFailure));
    const names = r.report.checks.map((c) => c.name);
    assert.equal(names.includes('membership'), n !== 'member-before', n);
  }
  const two = verifyAll(read('evidence-member-two.bin'), read('receipt-member-two.json'), GENESIS);
  assert.equal(two.report.signers.length, 5, 'five validators certify after the add');
});

test('canonical bytes of a version 2 receipt are the Rust ones', () => {
  const rc = parseReceipt(read('receipt-member-two.json'));
  assert.equal(hex(encodeReceipt(rc)), golden.receipt_member_two);
  const bin = Uint8Array.from(Buffer.from(golden.receipt_member_two, 'hex'));
  assert.equal(verifyAll(read('evidence-member-two.bin'), bin, GENESIS).code, 0);
});

test('tampered history entries are invalid, not unusable', () => {
  const cases = {
    'approval removed': (r) => r.membership[1].tx.payload.approvals.pop(),
    'header state root': (r) => { r.membership[0].header.state_root = flip(r.membership[0].header.state_root); },
    'header validators hash': (r) => { r.membership[1].header.validators_hash = flip(r.membership[1].header.validators_hash); },
    'certificate signature': (r) => { const s = r.membership[1].certificate.sigs[0]; s.signature = flip(s.signature); },
    'certificate below quorum': (r) => { r.membership[0].certificate.sigs.length = 2; },
    'change key': (r) => { const c = r.membership[1].tx.payload.change; c.new = flip(c.new); },
    'entries swapped': (r) => r.membership.reverse(),
  };
  for (const [what, f] of Object.entries(cases)) {
    const r = receipt('member-two');
    f(r);
    const out = verifyAll(read('evidence-member-two.bin'), enc(r), GENESIS);
    assert.equal(out.code, 1, what);
    assert.deepEqual(out.report.checks.filter((c) => !c.ok).map((c) => c.name), ['membership', 'certificate'], what);
  }
  // Without its history, a receipt certified by a later set fails `certificate`.
  const bare = receipt('member-two');
  delete bare.membership;
  bare.version = 1;
  const out = verifyAll(read('evidence-member-two.bin'), enc(bare), GENESIS);
  assert.deepEqual([out.code, out.report.firstFailure.name], [1, 'certificate']);
});

test('malformed history is unusable', () => {
  const cases = {
    'version 1 with history': (r) => { r.version = 1; },
    'empty history': (r) => { r.membership = []; },
    'unknown key': (r) => { r.membership[0].extra = 1; },
    'unknown op': (r) => { r.membership[0].tx.payload.change.op = 'merge'; },
    'header version 4': (r) => { r.membership[0].header.version = 4; },
  };
  for (const [what, f] of Object.entries(cases)) {
    const r = receipt('member-one');
    f(r);
    assert.equal(verifyAll(read('evidence-member-one.bin'), enc(r), GENESIS).code, 2, what);
  }
});
