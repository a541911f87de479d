// src/hasher.js in Node: the WebAssembly SHA-256 (hash-wasm) and the @noble/hashes fallback give
// node:crypto's digest for every length around the block and slice edges, read in slices of
// every awkward size; and when WebAssembly is refused (as a CSP without 'wasm-unsafe-eval'
// refuses it) the page falls back to @noble/hashes and says so. The browser test checks the
// same in Chromium, with the page's real CSP and with one that refuses WebAssembly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { hashBlob, createHasher, CHUNK } from '../src/hasher.js';

const sha = (b) => createHash('sha256').update(b).digest('hex');
const hexOf = (u8) => Buffer.from(u8).toString('hex');

test('WebAssembly and JavaScript hashers equal node:crypto on every edge length and slice size', async () => {
  const data = randomBytes(3 * 65536 + 129);
  const lengths = [0, 1, 55, 56, 63, 64, 65, 127, 128, 129, 16383, 16384, 16385, 65536, data.length];
  for (const prefer of ['wasm', 'js']) {
    for (const read of ['byob', 'slices']) {
      for (const len of lengths) {
        const part = data.subarray(0, len);
        for (const chunk of [1, 63, 64, 1000, 16384, 16385, CHUNK]) {
          if (chunk === 1 && len > 1000) continue;
          const seen = [];
          const what = `${prefer} ${read} len=${len} chunk=${chunk}`;
          const r = await hashBlob(new Blob([part]), (n, name) => seen.push([n, name]), { prefer, chunk, read });
          assert.equal(r.hasher, prefer, what);
          assert.equal(r.bytes, len, what);
          assert.equal(hexOf(r.digest), sha(part), what);
          // Progress: at most once a chunk, rising, ends at the size, names the hasher.
          assert.ok(seen.length <= Math.ceil(len / chunk), what);
          if (len) assert.deepEqual(seen[seen.length - 1], [len, prefer], what);
          for (let i = 1; i < seen.length - 1; i++) assert.ok(seen[i][0] - seen[i - 1][0] >= chunk, what);
          if (seen.length > 1) assert.ok(seen[seen.length - 1][0] > seen[seen.length - 2][0], what);
        }
      }
    }
  }
});

test('a blob split over many parts reads whole, in slices and as a byte stream', async () => {
  const parts = Array.from({ length: 50 }, (_, i) => randomBytes(1000 + i * 977));
  const all = Buffer.concat(parts);
  for (const read of ['byob', 'slices']) {
    const r = await hashBlob(new Blob(parts), () => {}, { chunk: 4096, read });
    assert.equal(hexOf(r.digest), sha(all), read);
  }
});

test('a hasher is fresh each time: two interleaved files do not mix', async () => {
  const a = randomBytes(100000);
  const b = randomBytes(70000);
  const [ra, rb] = await Promise.all([hashBlob(new Blob([a]), () => {}, { chunk: 4096 }),
    hashBlob(new Blob([b]), () => {}, { chunk: 5000 })]);
  assert.equal(hexOf(ra.digest), sha(a));
  assert.equal(hexOf(rb.digest), sha(b));
  const h = await createHasher();
  h.update(new Uint8Array([0x61, 0x62, 0x63]));
  assert.equal(hexOf(h.digest()), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});

test('when WebAssembly is refused or missing, the JavaScript hasher runs and gives the same digest', () => {
  // A fresh process each: the choice is made once per page (module).
  const here = fileURLToPath(new URL('.', import.meta.url));
  const script = (setup) => `${setup}
    const { hashBlob } = await import('../src/hasher.js');
    const { createHash } = await import('node:crypto');
    const data = new Uint8Array(200000).map((_, i) => (i * 7) & 255);
    const r = await hashBlob(new Blob([data]), () => {}, { chunk: 65536 });
    const want = createHash('sha256').update(data).digest('hex');
    console.log(JSON.stringify({ hasher: r.hasher, ok: Buffer.from(r.digest).toString('hex') === want }));`;
  const setups = {
    // What a CSP without 'wasm-unsafe-eval' does: compiling throws a CompileError.
    refused: "WebAssembly.compile = async () => { throw new WebAssembly.CompileError('refused by CSP'); };",
    missing: 'globalThis.WebAssembly = undefined;',
    // A WebAssembly hasher that computes a wrong digest fails the self-test and is not used.
    wrong: `WebAssembly.instantiate = ((orig) => async (...a) => {
      const inst = await orig(...a);
      const ex = { ...inst.exports, Hash_Final: (...x) => { inst.exports.Hash_Final(...x);
        new Uint8Array(inst.exports.memory.buffer, inst.exports.Hash_GetBuffer(), 1)[0] ^= 1; } };
      return { exports: ex };
    })(WebAssembly.instantiate);`,
  };
  for (const [name, setup] of Object.entries(setups)) {
    const p = spawnSync(process.execPath, ['--input-type=module', '-e', script(setup)], { cwd: here, encoding: 'utf8' });
    assert.equal(p.status, 0, `${name}: ${p.stderr}`);
    assert.deepEqual(JSON.parse(p.stdout.trim()), { hasher: 'js', ok: true }, name);
  }
  // And the control: unmodified, the WebAssembly hasher is used.
  const p = spawnSync(process.execPath, ['--input-type=module', '-e', script('')], { cwd: here, encoding: 'utf8' });
  assert.deepEqual(JSON.parse(p.stdout.trim()), { hasher: 'wasm', ok: true }, p.stderr);
});
