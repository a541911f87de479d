// The verifier's logic (src/verify.js and what it uses) in Node, on the golden fixtures and on the
// rules of docs/receipt-format.md. The browser test runs the same code inside the page and
// compares it with `curia verify` on the Python suite's tampered inputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHash, createPrivateKey, sign as nodeSign } from 'node:crypto';
import { verifyAll, formatUtc, commitTimeMs } from '../src/verify.js';
import { parseGenesis, parseReceipt, encodeReceipt, checkFields } from '../src/chain.js';
import { verifySignature, verifyCofactorless, decodePoint, checkGenesisKey, L } from '../src/ed25519.js';
import { mixedOrderReceipts } from '../../tests/browser/mixed_order.mjs';
import { leafHash, nodeHash, verifyInclusion, hex, fromHex, tagged } from '../src/codec.js';
import { parseJson, Unusable } from '../src/json.js';

const G = new URL('../../ledger/tests/data/golden/', import.meta.url);
const read = (n) => new Uint8Array(readFileSync(new URL(n, G)));
const golden = JSON.parse(new TextDecoder().decode(read('golden.json')));
const GENESIS = read('genesis.json');
const enc = (o) => new TextEncoder().encode(JSON.stringify(o, null, 2));

test('golden fixtures verify, with every check and the documented values', () => {
  for (const n of ['single', 'salted', 'batch']) {
    const r = verifyAll(read(`evidence-${n}.bin`), read(`receipt-${n}.json`), GENESIS);
    assert.equal(r.code, 0, r.error);
    const names = r.report.checks.map((c) => c.name);
    assert.deepEqual(names, ['format', 'chain', 'digest', 'deposit_id', 'signature', ...(n === 'batch' ? ['batch'] : []),
      'inclusion', 'certificate', 'time']);
  }
  const r = verifyAll(read('evidence-single.bin'), read('receipt-single.json'), GENESIS);
  assert.equal(r.report.commit_time, '2026-01-01T00:00:01.010Z');
  assert.equal(r.report.depositor, 'platform');
  assert.deepEqual(r.report.timesvc.map((x) => [x.validator, x.time_ms]), [['v3', 1767225601030n]]);
});

test('genesis canonical bytes, chain ID, validators hash; receipt canonical bytes', () => {
  const spec = parseGenesis(GENESIS);
  assert.equal(hex(spec.canonical), golden.genesis_canonical);
  assert.equal(hex(spec.chainId), golden.chain_id);
  assert.equal(hex(spec.validatorsHash), golden.validators_hash);
  assert.equal(spec.quorumPower, 3n);
  assert.equal(hex(encodeReceipt(parseReceipt(read('receipt-single.json')))), golden.receipt_single);
  assert.equal(hex(encodeReceipt(parseReceipt(read('receipt-batch.json')))), golden.receipt_batch);
  // Binary receipts verify too.
  const bin = fromHex(golden.receipt_batch);
  assert.equal(verifyAll(read('evidence-batch.bin'), bin, GENESIS).code, 0);
  assert.equal(verifyAll(read('evidence-batch.bin'), Uint8Array.from([...bin, 0]), GENESIS).code, 2);
});

test('an upgraded receipt\'s `log` member (15.4) is ignored: same canonical bytes, same verdict', () => {
  const up = JSON.parse(new TextDecoder().decode(read('receipt-single.json')));
  up.log = { proof: 'not checked by this page' };
  assert.equal(hex(encodeReceipt(parseReceipt(enc(up)))), golden.receipt_single);
  assert.equal(verifyAll(read('evidence-single.bin'), enc(up), GENESIS).code, 0);
  // Any other unknown top-level key is still refused.
  const other = { ...up, logs: 1 };
  assert.equal(verifyAll(read('evidence-single.bin'), enc(other), GENESIS).code, 2);
});

test('evidence given as a digest: length not checked; wrong digest fails `digest`', () => {
  const ev = read('evidence-single.bin');
  const digest = new Uint8Array(createHash('sha256').update(ev).digest());
  assert.equal(verifyAll({ digest, length: null }, read('receipt-single.json'), GENESIS).code, 0);
  const r = verifyAll({ digest, length: 38n }, read('receipt-single.json'), GENESIS);
  assert.deepEqual(r.report.checks.filter((c) => !c.ok).map((c) => c.name), ['digest']);
});

test('strict JSON: integers, duplicates, surrogates, BOM, trailing text', () => {
  const raw = new TextDecoder().decode(read('receipt-single.json'));
  const u = (s) => new TextEncoder().encode(s);
  const code = (s) => verifyAll(read('evidence-single.bin'), u(s), GENESIS).code;
  assert.equal(code(raw), 0);
  assert.equal(code(raw.replace('"nonce": 1,', '"nonce": -0,')), 2);
  assert.equal(code(raw.replace('"nonce": 1,', '"nonce": 1.0,')), 2);
  assert.equal(code(raw.replace('"nonce": 1,', '"nonce": 1e0,')), 2);
  assert.equal(code(raw.replace('"nonce": 1,', '"nonce": 18446744073709551616,')), 2);
  assert.equal(code(raw.replace('"nonce": 1,', '"nonce": 7, "nonce": 1,')), 0); // last wins
  assert.equal(code(raw.replace('"item 1"', '"\\ud800"')), 2);
  assert.equal(code('\ufeff' + raw), 2);
  assert.equal(code(raw + 'x'), 2);
  assert.equal(code(raw.replace('"nonce": 1,', '"nonce": NaN,')), 2);
  const g = new TextDecoder().decode(GENESIS).replace('"version": 1,', '"version": 1, "version": 1,');
  assert.equal(verifyAll(read('evidence-single.bin'), read('receipt-single.json'), u(g)).code, 2);
  assert.equal(parseJson(u('{"a": 18446744073709551615}'), 't', true).a.uint(), 18446744073709551615n);
  assert.throws(() => parseJson(u('['.repeat(200) + ']'.repeat(200)), 't', true), Unusable);
});

const SMALL_ORDER = [
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0000000000000000000000000000000000000000000000000000000000000080',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '0100000000000000000000000000000000000000000000000000000000000080',
];

// The Rust testkit's keys: seed = SHA-256("curia-test-key/" || name).
function testKey(name) {
  const seed = createHash('sha256').update(`curia-test-key/${name}`).digest();
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  const priv = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  const pub = new Uint8Array(Buffer.from(priv.export({ format: 'jwk' }).x, 'base64url'));
  const h = createHash('sha512').update(seed).digest();
  h[0] &= 248; h[31] &= 127; h[31] |= 64;
  let a = 0n;
  for (let i = 31; i >= 0; i--) a = (a << 8n) | BigInt(h[i]);
  return { pub, sign: (m) => new Uint8Array(nodeSign(null, m, priv)), a };
}

const le32 = (n) => { const b = new Uint8Array(32); for (let i = 0; i < 32; i++) { b[i] = Number(n & 0xffn); n >>= 8n; } return b; };
const leNum = (b) => { let n = 0n; for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]); return n; };

test('ed25519 cases shared with Rust and Python (ledger/tests/data/ed25519/cases.json)', () => {
  const { cases } = JSON.parse(readFileSync(new URL('../../ledger/tests/data/ed25519/cases.json', import.meta.url), 'utf8'));
  assert.ok(cases.length >= 14);
  for (const c of cases) {
    const [key, msg, sig] = [c.key, c.msg, c.sig].map(fromHex);
    assert.equal(verifySignature(key, msg, sig), c.refused, c.name);
    assert.equal(verifyCofactorless(key, msg, sig) === null, c.cofactorless, c.name);
    if (c.cofactorless) assert.equal(c.refused, null, c.name);
  }
  assert.ok(cases.some((c) => c.name === 'mixed-order-r-order-2' && c.refused === null && !c.cofactorless));
});

test('precommits whose R has an order-2 component verify (6.3, cofactored); on another vote they fail', () => {
  const receipt = JSON.parse(new TextDecoder().decode(read('receipt-single.json')));
  const variants = mixedOrderReceipts(receipt, GENESIS, 8);
  for (const [i, v] of variants.entries()) {
    assert.notEqual(v.certificate.sigs[0].signature, receipt.certificate.sigs[0].signature);
    const r = verifyAll(read('evidence-single.bin'), enc(v), GENESIS);
    assert.equal(r.code, 0, `variant ${i}: ${r.error}`);
    v.certificate.sigs[0].time_ms += 1;
    const bad = verifyAll(read('evidence-single.bin'), enc(v), GENESIS);
    assert.equal(bad.code, 1, `variant ${i}`);
    assert.deepEqual(bad.report.checks.filter((c) => !c.ok).map((c) => c.name), ['certificate']);
  }
});

test('ed25519 rules of section 6.3', () => {
  const k = testKey('platform');
  const msg = new Uint8Array(32).map((_, i) => i);
  const sig = k.sign(msg);
  assert.equal(verifySignature(k.pub, msg, sig), null);
  assert.notEqual(verifySignature(k.pub, msg.slice().reverse(), sig), null);
  // S + L: the same signature mathematically, refused.
  const mall = sig.slice();
  mall.set(le32(leNum(sig.subarray(32)) + L), 32);
  assert.equal(verifySignature(k.pub, msg, mall), 'non-canonical S (S >= L)');
  // Every small-order point decodes, is refused as a key and as R (with S = k·a, which a
  // cofactored or unchecked verifier would accept for R = identity).
  for (const h of SMALL_ORDER) {
    const p = fromHex(h);
    assert.ok(decodePoint(p), h);
    assert.equal(checkGenesisKey(p), false, h);
    const kk = leNum(createHash('sha512').update(Buffer.concat([p, k.pub, msg])).digest()) % L;
    const forged = new Uint8Array(64);
    forged.set(p, 0);
    forged.set(le32((kk * k.a) % L), 32);
    assert.equal(verifySignature(k.pub, msg, forged), 'R is of small order', h);
    assert.equal(verifySignature(p, msg, Uint8Array.from([...p, ...new Uint8Array(32)])), 'key is of small order', h);
  }
  assert.equal(decodePoint(fromHex('02' + '00'.repeat(31))), null);
  assert.equal(checkGenesisKey(k.pub), true);
  // A non-canonical encoding (x = 0 with the sign bit) decodes but is refused in a genesis.
  assert.equal(checkGenesisKey(fromHex(SMALL_ORDER[7])), false);
});

function rfc6962Path(m, leaves) {
  const n = leaves.length;
  if (n <= 1) return [];
  let k = 1;
  while (k * 2 < n) k *= 2;
  const root = (ls) => (ls.length === 1 ? ls[0] : (() => { let kk = 1; while (kk * 2 < ls.length) kk *= 2; return nodeHash(root(ls.slice(0, kk)), root(ls.slice(kk))); })());
  return m < k ? [...rfc6962Path(m, leaves.slice(0, k)), root(leaves.slice(k))]
    : [...rfc6962Path(m - k, leaves.slice(k)), root(leaves.slice(0, k))];
}

test('RFC 6962 inclusion proofs: every position of trees up to 20, and wrong lengths', () => {
  const leaves = Array.from({ length: 20 }, (_, i) => leafHash(Uint8Array.of(i)));
  const rootOf = (ls) => { if (ls.length === 1) return ls[0]; let k = 1; while (k * 2 < ls.length) k *= 2; return nodeHash(rootOf(ls.slice(0, k)), rootOf(ls.slice(k))); };
  for (let n = 1; n <= 20; n++) {
    const root = rootOf(leaves.slice(0, n));
    for (let i = 0; i < n; i++) {
      const proof = rfc6962Path(i, leaves.slice(0, n));
      assert.equal(verifyInclusion(leaves[i], i, n, proof, root), null, `${i}/${n}`);
      assert.notEqual(verifyInclusion(leaves[i], i, n, [...proof, root], root), null);
      if (proof.length) assert.notEqual(verifyInclusion(leaves[i], i, n, proof.slice(0, -1), root), null);
      assert.notEqual(verifyInclusion(leaves[i], n, n, proof, root), null);
    }
  }
  assert.match(verifyInclusion(leaves[0], 0, 2n ** 64n - 1n, Array(65).fill(leaves[0]), leaves[0]), /maximum/);
});

test('commit time is the lower median; times print as Rust prints them', () => {
  const c = (ts) => ({ sigs: ts.map((t) => ({ time_ms: BigInt(t) })) });
  assert.equal(commitTimeMs(c([5])), 5n);
  assert.equal(commitTimeMs(c([9, 1])), 1n);
  assert.equal(commitTimeMs(c([40, 10, 30, 20])), 20n);
  assert.equal(commitTimeMs(c([])), 0n);
  assert.equal(formatUtc(0n), '1970-01-01T00:00:00.000Z');
  assert.equal(formatUtc(1767225601010n), '2026-01-01T00:00:01.010Z');
  assert.equal(formatUtc(951782400000n), '2000-02-29T00:00:00.000Z');
  assert.equal(formatUtc(2n ** 64n - 1n), '584556019-04-03T14:25:51.615Z');
});

test('tagged hash prefix matches the spec', () => {
  const h = createHash('sha256').update(Buffer.from('0b63757269612f76312f7478', 'hex')).digest('hex');
  assert.equal(hex(tagged('curia/v1/tx')), h);
});

test('a receipt re-signed by a judge key fails `signature`', () => {
  const r = JSON.parse(new TextDecoder().decode(read('receipt-single.json')));
  const spec = parseGenesis(GENESIS);
  const judge = testKey('judge');
  r.tx.sender = hex(judge.pub);
  const rc = parseReceipt(enc(r));
  const txid = tagged('curia/v1/tx', spec.chainId, rc.bodyBytes);
  r.deposit_id = hex(txid);
  r.signature = hex(judge.sign(txid));
  const out = verifyAll(read('evidence-single.bin'), enc(r), GENESIS);
  assert.equal(out.report.firstFailure.name, 'signature');
  assert.match(out.report.firstFailure.detail, /signed by judge, whose role is judge/);
});

test('field rules of 4.1: text fields and media types', () => {
  const dep = (over) => ({ payload: { kind: 'deposit', media_type: 'application/pdf', label: 'contract', reference: '', ...over } });
  assert.equal(checkFields(dep({})), null);
  assert.equal(checkFields(dep({ media_type: 'text/plain; charset=utf-8' })), null);
  assert.equal(checkFields(dep({ label: '法院 ünïcode' })), null);
  for (const bad of [{ label: '' }, { label: '\x1b[2J\x1b[32mVALID' }, { label: 'a\u202eb' }, { label: 'a\u200bb' },
    { reference: 'tab\there' }, { label: 'x'.repeat(257) }, { media_type: 'pdf' }, { media_type: 'text/plain ' },
    { media_type: 'text/plain; charset="utf-8"' }, { media_type: '' }, { label: '\u{e0041}' }]) {
    assert.notEqual(checkFields(dep(bad)), null, JSON.stringify(bad));
  }
  const closing = { payload: { kind: 'close_case', case_id: 'c-1', note: 'line\nbreak' } };
  assert.match(checkFields(closing), /note/);
});
