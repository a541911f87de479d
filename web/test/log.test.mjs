// Receipts of a chain whose headers commit to the deposit log (genesis `log_in_header`, header
// version 4, receipt version 3; docs/receipt-format.md 5.1, 7, 14.1). The page reads the genesis
// (its chain ID includes the switch) but does not verify such receipts yet: it refuses them as
// unusable with a message naming the version, never with a verdict.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { verifyAll } from '../src/verify.js';
import { parseGenesis, parseReceipt } from '../src/chain.js';
import { hex } from '../src/codec.js';

const G = new URL('../../ledger/tests/data/golden/', import.meta.url);
const read = (n) => new Uint8Array(readFileSync(new URL(n, G)));
const goldenLog = JSON.parse(new TextDecoder().decode(read('golden-log.json')));

test('a genesis with log_in_header has the chain ID the Rust code gives it', () => {
  const spec = parseGenesis(read('genesis-log.json'));
  assert.equal(spec.logInHeader, true);
  assert.equal(hex(spec.canonical), goldenLog.genesis_canonical);
  assert.equal(hex(spec.chainId), goldenLog.chain_id);
  const plain = parseGenesis(read('genesis.json'));
  assert.equal(plain.logInHeader, false);
  const bad = JSON.parse(new TextDecoder().decode(read('genesis-log.json')));
  bad.log_in_header = 1;
  assert.throws(() => parseGenesis(new TextEncoder().encode(JSON.stringify(bad))), /log_in_header: expected a boolean/);
});

test('version 3 receipts are refused by name, in JSON and binary', () => {
  for (const n of ['single', 'salted', 'batch']) {
    const r = verifyAll(read(`evidence-log-${n}.bin`), read(`receipt-log-${n}.json`), read('genesis-log.json'));
    assert.equal(r.code, 2, `log-${n}`);
    assert.match(r.error, /receipt version 3 \(a chain whose headers commit to the deposit log\) is not supported by this page yet/);
  }
  const bin = Uint8Array.from(Buffer.from(goldenLog.receipt_single, 'hex'));
  assert.throws(() => parseReceipt(bin), /receipt version 3 .* not supported by this page yet/);
  // A version 2 receipt around a version 4 header names the header version.
  const v = JSON.parse(new TextDecoder().decode(read('receipt-log-single.json')));
  v.version = 1;
  delete v.log_index;
  delete v.log_proof;
  assert.throws(() => parseReceipt(new TextEncoder().encode(JSON.stringify(v))), /header version 4 .* not supported by this page yet/);
});
