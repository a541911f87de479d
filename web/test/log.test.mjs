// Receipts of a chain whose headers commit to the deposit log (genesis `log_in_header`, header
// version 4, receipt version 3, check `log_position`; docs/receipt-format.md 5.1, 7, 8, 14.1).
//
// Expected answers come from `curia verify --json` itself, run on the same receipts and stored in
// data/log-curia-verify.json (by data/gen_log_expected.py, which applies the mutations below
// under the same names): exit code, verdict and every check's name, result and detail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { verifyAll } from '../src/verify.js';
import { parseGenesis, parseReceipt, encodeReceipt, encodeHeader, blockHash } from '../src/chain.js';
import { hex, fromHex } from '../src/codec.js';

const G = new URL('../../ledger/tests/data/golden/', import.meta.url);
const read = (n) => new Uint8Array(readFileSync(new URL(n, G)));
const text = (b) => new TextDecoder().decode(b);
const goldenLog = JSON.parse(text(read('golden-log.json')));
const expected = JSON.parse(readFileSync(new URL('data/log-curia-verify.json', import.meta.url), 'utf8')).cases;
const GENESIS = read('genesis-log.json');
const FIXTURES = ['single', 'salted', 'batch'];
const BIG = '"__u64_overflow__"';

const flip = (h) => (h[0] !== '0' ? '0' : '1') + h.slice(1);
/** The mutations of data/gen_log_expected.py, by the same names. */
const MUT = {
  'as-is': () => {},
  'log_proof[0]-altered': (r) => { r.log_proof[0] = flip(r.log_proof[0]); },
  'log_index-xor-1': (r) => { r.log_index ^= 1; },
  'log_proof-truncated': (r) => { r.log_proof = r.log_proof.slice(0, -1); },
  'header.log_root-zeroed': (r) => { r.header.log_root = '00'.repeat(32); },
  'header.log_size-plus-1': (r) => { r.header.log_size += 1; },
  'version-1-without-log-fields': (r) => { r.version = 1; delete r.log_index; delete r.log_proof; },
  'empty-membership': (r) => { r.membership = []; },
  'no-log_index': (r) => { delete r.log_index; },
  'no-log_proof': (r) => { delete r.log_proof; },
  'version-2': (r) => { r.version = 2; },
  'version-4': (r) => { r.version = 4; },
  'header-without-log_root': (r) => { delete r.header.log_root; },
  'header-without-log_size': (r) => { delete r.header.log_size; },
  'header-version-3': (r) => { r.header.version = 3; },
  'log_proof-short-hash': (r) => { r.log_proof = ['00']; },
  'log_proof-not-array': (r) => { r.log_proof = r.log_proof.length ? r.log_proof[0] : '00'; },
  'log_proof-65-hashes': (r) => { r.log_proof = Array(65).fill('00'.repeat(32)); },
  'log_index-negative': (r) => { r.log_index = -1; },
  'log_index-2^64': (r) => { r.log_index = JSON.parse(BIG); },
  'log_index-string': (r) => { r.log_index = '0'; },
  'unknown-top-level-key': (r) => { r.log_extra = 1; },
  'unknown-header-key': (r) => { r.header.log_extra = 1; },
};

function mutated(n, m) {
  const r = JSON.parse(text(read(`receipt-log-${n}.json`)));
  MUT[m](r);
  return new TextEncoder().encode(JSON.stringify(r, null, 2).replace(BIG, '18446744073709551616'));
}

/** The page's report in the shape of `curia verify --json` (u64 as JSON numbers). */
function asCli(rep) {
  return JSON.parse(JSON.stringify({
    verdict: rep.verdict, deposit_id: rep.deposit_id, height: rep.height, commit_time_ms: rep.commit_time_ms,
    commit_time: rep.commit_time, depositor: rep.depositor, timesvc: rep.timesvc, checks: rep.checks,
  }, (_, v) => (typeof v === 'bigint' ? Number(v) : v)));
}

// A failed ed25519 verification: the page adds the reason in parentheses ("(signature equation
// does not hold)"), `curia verify` does not. That is the only difference allowed in a detail.
const ED25519_REASON = / \([^()]*\)$/;

function compare(name, r, want) {
  assert.equal(r.code, want.code, `${name}: exit code (${r.error || ''})`);
  if (!want.report) return;
  const have = asCli(r.report);
  have.checks = have.checks.map((c, i) => {
    const w = want.report.checks[i];
    const sig = w && !c.ok && ['signature', 'certificate'].includes(c.name) && c.detail.replace(ED25519_REASON, '') === w.detail;
    return sig ? { ...c, detail: w.detail } : c;
  });
  assert.deepEqual(have, want.report, name);
}

test('the stored `curia verify` answers cover exactly the mutations of this test', () => {
  const names = [];
  for (const n of FIXTURES) {
    for (const m of Object.keys(MUT)) names.push(`log-${n}/${m}`);
    names.push(`log-${n}/plain-genesis`);
  }
  assert.deepEqual(Object.keys(expected).sort(), names.sort());
});

test('a genesis with log_in_header has the chain ID the Rust code gives it', () => {
  const spec = parseGenesis(GENESIS);
  assert.equal(spec.logInHeader, true);
  assert.equal(hex(spec.canonical), goldenLog.genesis_canonical);
  assert.equal(hex(spec.chainId), goldenLog.chain_id);
  const plain = parseGenesis(read('genesis.json'));
  assert.equal(plain.logInHeader, false);
  const bad = JSON.parse(text(GENESIS));
  bad.log_in_header = 1;
  assert.throws(() => parseGenesis(new TextEncoder().encode(JSON.stringify(bad))), /log_in_header: expected a boolean/);
});

test('each receipt-log fixture verifies with every check passing, as `curia verify --json` reports it', () => {
  for (const n of FIXTURES) {
    const r = verifyAll(read(`evidence-log-${n}.bin`), read(`receipt-log-${n}.json`), GENESIS);
    const want = expected[`log-${n}/as-is`];
    assert.equal(want.code, 0);
    compare(n, r, want);
    assert.ok(r.report.checks.every((c) => c.ok), n);
    const names = r.report.checks.map((c) => c.name);
    assert.deepEqual(names, ['format', 'chain', 'digest', 'deposit_id', 'signature', ...(n === 'batch' ? ['batch'] : []),
      'inclusion', 'log_position', 'certificate', 'time']);
    const lp = r.report.log_position;
    assert.equal(lp.ok, true);
    assert.equal(lp.root, hex(r.receipt.header.log_root));
    assert.equal(lp.index, r.receipt.log_index);
  }
});

test('every mutation gets the answer of `curia verify`: altered log_proof / log_index fail log_position only, malformed fields are unusable', () => {
  for (const n of FIXTURES) {
    for (const m of Object.keys(MUT)) {
      const r = verifyAll(read(`evidence-log-${n}.bin`), mutated(n, m), GENESIS);
      compare(`log-${n}/${m}`, r, expected[`log-${n}/${m}`]);
    }
    const failed = (m) => verifyAll(read(`evidence-log-${n}.bin`), mutated(n, m), GENESIS).report.checks
      .filter((c) => !c.ok).map((c) => c.name);
    for (const m of ['log_proof[0]-altered', 'log_index-xor-1', 'log_proof-truncated']) assert.deepEqual(failed(m), ['log_position'], `${n} ${m}`);
    // The header's log root and size are under the certificate: changing them breaks both.
    assert.deepEqual(failed('header.log_root-zeroed'), ['log_position', 'certificate']);
    for (const m of ['no-log_index', 'no-log_proof', 'version-2', 'version-4', 'header-without-log_root', 'log_proof-short-hash',
      'log_proof-65-hashes', 'log_index-2^64', 'unknown-top-level-key', 'unknown-header-key']) {
      assert.equal(verifyAll(read(`evidence-log-${n}.bin`), mutated(n, m), GENESIS).code, 2, `${n} ${m}`);
    }
    // Under the genesis without the switch: another chain, and a version 4 header is refused by `format`.
    const r = verifyAll(read(`evidence-log-${n}.bin`), read(`receipt-log-${n}.json`), read('genesis.json'));
    compare(`log-${n}/plain-genesis`, r, expected[`log-${n}/plain-genesis`]);
    assert.equal(r.report.firstFailure.name, 'format');
    assert.match(r.report.firstFailure.detail, /header version 4 on a chain whose genesis does not put the deposit log in headers/);
  }
});

test('version 4 header bytes and hash; version 3 receipts rebuild the Rust bytes, JSON and binary alike', () => {
  const hdr = fromHex(goldenLog.header);
  assert.equal(hdr.length, 318);
  for (const [n, key] of [['single', 'receipt_single'], ['batch', 'receipt_batch']]) {
    const rc = parseReceipt(read(`receipt-log-${n}.json`));
    assert.equal(rc.version, 3);
    assert.equal(hex(encodeReceipt(rc)), goldenLog[key], n);
    const bin = fromHex(goldenLog[key]);
    const back = parseReceipt(bin);
    assert.equal(hex(encodeReceipt(back)), goldenLog[key]);
    assert.equal(back.log_index, rc.log_index);
    assert.deepEqual(back.log_proof.map(hex), rc.log_proof.map(hex));
    const r = verifyAll(read(`evidence-log-${n}.bin`), bin, GENESIS);
    compare(`binary ${n}`, r, expected[`log-${n}/as-is`]);
    // The last block's header is the golden header.
    if (n === 'batch') {
      assert.equal(hex(encodeHeader(back.header)), goldenLog.header);
      assert.equal(hex(blockHash(back.header)), goldenLog.block_hash);
      assert.equal(back.header.log_size, 8n);
    }
    // Binary: an altered last log_proof byte fails log_position only; truncation and trailing bytes are unusable.
    const alt = bin.slice();
    alt[alt.length - 1] ^= 1;
    const ra = verifyAll(read(`evidence-log-${n}.bin`), alt, GENESIS);
    assert.deepEqual(ra.report.checks.filter((c) => !c.ok).map((c) => c.name), ['log_position'], n);
    assert.equal(verifyAll(read(`evidence-log-${n}.bin`), bin.slice(0, -1), GENESIS).code, 2);
    assert.equal(verifyAll(read(`evidence-log-${n}.bin`), Uint8Array.of(...bin, 0), GENESIS).code, 2);
  }
});
