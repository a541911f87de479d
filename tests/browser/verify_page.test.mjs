// verify.html in a real browser (Debian's Chromium, headless, driven by puppeteer-core: nothing
// downloads a browser), compared with `curia verify --json` on the same inputs:
//
// 1. the golden receipts, through the page's file inputs;
// 2. every input the Python verifier's tests verify (tests/python/test_verify.py, written out by
//    gen_cases.py: tampered receipts, genesis files and evidence), through the page's verifier;
// 3. a live testnet (4 `curia node run` on loopback): a deposit's receipt as the node serves it
//    and as `curia receipt get` saves it, tampered variants, the page served at GET /verify, and
//    a 4100 MiB sparse file hashed by the page in chunks (its speed and hasher are printed);
// 4. the page's WebAssembly SHA-256 and, on a copy of the page whose CSP refuses WebAssembly, its
//    JavaScript fallback: same digests as `curia hash`, same verdicts, and the page says which ran;
// and the page's default language, its language switch, screenshots in both languages and the
// printed one-page record (saved to $VERIFY_PAGE_OUT, default <target>/verify-page/).
//
// For every case the page's exit-code equivalent (0 valid, 1 invalid, 2 unusable) and its list of
// failed checks must equal `curia verify`'s. No page may make any request but its own load.
//
// Needs: CURIA_BIN (default $CARGO_TARGET_DIR/debug/curia or target/debug/curia), chromium at
// $CHROMIUM (default /usr/bin/chromium), python3 with `cryptography`. Run: npm test.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import {
  mkdtempSync, readFileSync, writeFileSync, existsSync, mkdirSync, rmSync, openSync, ftruncateSync, closeSync,
} from 'node:fs';
import { join, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import puppeteer from 'puppeteer-core';
import { mixedOrderReceipts } from './mixed_order.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, '..', '..');
const GOLDEN = join(REPO, 'ledger', 'tests', 'data', 'golden');
const PAGE = join(REPO, 'web', 'dist', 'verify.html');
const PAGE_URL = pathToFileURL(PAGE).href;
const TARGET = process.env.CARGO_TARGET_DIR || join(REPO, 'target');
const CURIA = process.env.CURIA_BIN || join(TARGET, 'debug', 'curia');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const OUT = process.env.VERIFY_PAGE_OUT || join(TARGET, 'verify-page');
const BIG_BYTES = 4100 * 1024 * 1024;

let browser;
let tmp;
const requests = [];
const ownPages = [PAGE_URL]; // file:// pages the tests open (the page, and copies of it)
const nodes = [];

// ---------------------------------------------------------------------------------------------
// helpers

/** `curia verify ... --json`: exit code and the names of the failed checks. */
function curiaVerify(evidence, receipt, genesis) {
  const ev = typeof evidence === 'string' ? [evidence] : ['--digest', evidence.digest];
  const p = spawnSync(CURIA, ['verify', ...ev, '--receipt', receipt, '--genesis', genesis, '--json'], {
    encoding: 'utf8', timeout: 300_000,
  });
  if (p.status !== 0 && p.status !== 1) return { code: p.status, failed: [], stderr: p.stderr };
  const rep = JSON.parse(p.stdout);
  return { code: p.status, failed: rep.checks.filter((c) => !c.ok).map((c) => c.name), report: rep };
}

/** The same, without blocking: for running many at once. */
function curiaVerifyAsync(evidence, receipt, genesis) {
  return new Promise((resolve, reject) => {
    const p = spawn(CURIA, ['verify', evidence, '--receipt', receipt, '--genesis', genesis, '--json']);
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0 && code !== 1) return resolve({ code, failed: [], stderr: err });
      const rep = JSON.parse(out);
      return resolve({ code, failed: rep.checks.filter((c) => !c.ok).map((c) => c.name), report: rep });
    });
  });
}

function curia(args, opts = {}) {
  const p = spawnSync(CURIA, args, { encoding: 'utf8', timeout: 300_000, ...opts });
  assert.equal(p.status, 0, `curia ${args.join(' ')}: ${p.stderr}`);
  return p.stdout;
}

async function newPage(langs) {
  const page = await browser.newPage();
  page.on('request', (r) => requests.push(r.url()));
  page.on('pageerror', (e) => assert.fail(`page error: ${e.message}`));
  if (langs) {
    await page.evaluateOnNewDocument((l) => {
      Object.defineProperty(navigator, 'languages', { get: () => l });
      Object.defineProperty(navigator, 'language', { get: () => l[0] });
    }, langs);
  }
  await page.setViewport({ width: 1100, height: 1300 });
  return page;
}

async function openPage(langs, url = PAGE_URL) {
  const page = await newPage(langs);
  await page.goto(url);
  await page.waitForSelector('body[data-state=ready]');
  return page;
}

/** Give files to the page through its inputs, press Verify, and read the records it shows. */
async function uiVerify(page, { evidence = [], receipts, genesis, digest = '' }, timeout = 180_000) {
  await page.click('#clear');
  await page.evaluate(() => { document.body.dataset.state = 'ready'; });
  if (evidence.length) await (await page.$('#in-evidence')).uploadFile(...evidence);
  await (await page.$('#in-receipt')).uploadFile(...receipts);
  await (await page.$('#in-genesis')).uploadFile(genesis);
  if (digest) await page.type('#digest', digest);
  await page.click('#verify');
  await page.waitForSelector('body[data-state=done]', { timeout });
  return page.$$eval('.record', (rs) => rs.map((r) => ({
    code: Number(r.dataset.code),
    verdict: r.dataset.verdict,
    failed: [...r.querySelectorAll('[data-check]')].filter((c) => c.dataset.ok !== 'true').map((c) => c.dataset.check),
    checks: [...r.querySelectorAll('[data-check]')].map((c) => c.dataset.check),
    fields: Object.fromEntries([...r.querySelectorAll('[data-field]')].map((f) => [f.dataset.field, f.textContent])),
    text: r.innerText,
  })));
}

function assertSame(page, rust, what) {
  assert.deepEqual({ code: page.code, failed: page.failed }, { code: rust.code, failed: rust.failed },
    `${what}: page and curia verify disagree (curia: ${rust.stderr || ''})`);
}

async function freeBase() {
  // Twelve ports: p2p base..base+3, API +1000, ops +2000, all below the ephemeral range.
  const free = (port) => new Promise((res) => {
    const s = createServer().once('error', () => res(false)).listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });
  for (let k = 0; k < 50; k++) {
    const base = 21000 + ((process.pid * 7 + k * 37) % 700) * 11;
    let ok = true;
    for (const off of [0, 1000, 2000]) for (let i = 0; i < 4; i++) ok = ok && (await free(base + off + i));
    if (ok) return base;
  }
  throw new Error('no free ports for a testnet');
}

async function waitFor(what, deadlineMs, fn) {
  const end = Date.now() + deadlineMs;
  let last;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}: ${last || ''}`);
}

// ---------------------------------------------------------------------------------------------

before(async () => {
  assert.ok(existsSync(CURIA), `no curia binary at ${CURIA} (cargo build -p curia-cli, or set CURIA_BIN)`);
  assert.ok(existsSync(CHROMIUM), `no chromium at ${CHROMIUM} (apt-get install chromium)`);
  tmp = mkdtempSync(join(tmpdir(), 'curia-page-'));
  mkdirSync(OUT, { recursive: true });
  const args = ['--disable-gpu', '--disable-dev-shm-usage'];
  if (process.getuid && process.getuid() === 0) args.push('--no-sandbox');
  browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args, protocolTimeout: 1_500_000 });
});

after(async () => {
  if (browser) await browser.close();
  for (const n of nodes) n.kill('SIGTERM');
  await Promise.all(nodes.map((n) => (n.exitCode !== null ? null : new Promise((r) => n.once('exit', r)))));
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('the page picks the browser language and switches language; strings are escaped', async () => {
  const zh = await openPage(['zh-CN', 'zh']);
  assert.equal(await zh.$eval('h1', (e) => e.textContent), 'Curia 电子证据存证核验');
  await zh.click('#lang-en');
  assert.equal(await zh.$eval('h1', (e) => e.textContent), 'Curia evidence receipt verification');
  await zh.close();
  const en = await openPage(['en-US']);
  assert.equal(await en.$eval('h1', (e) => e.textContent), 'Curia evidence receipt verification');
  // A receipt whose label holds a terminal escape and a right-to-left override: shown escaped.
  const r = JSON.parse(readFileSync(join(GOLDEN, 'receipt-single.json'), 'utf8'));
  r.tx.payload.label = '\x1b[2J\x1b[32mVALID invoice_\u202efdp.exe<b>x</b>';
  const bad = join(tmp, 'label.receipt.json');
  writeFileSync(bad, JSON.stringify(r));
  const [rec] = await uiVerify(en, { evidence: [join(GOLDEN, 'evidence-single.bin')], receipts: [bad],
    genesis: join(GOLDEN, 'genesis.json') });
  assert.equal(rec.fields.label, '\\u{1b}[2J\\u{1b}[32mVALID invoice_\\u{202e}fdp.exe<b>x</b>');
  assert.equal(await en.$$eval('.record b', (b) => b.length), 0, 'receipt text was parsed as HTML');
  const body = await en.$eval('body', (b) => b.textContent);
  assert.doesNotMatch(body, /[\u001b\u202e]/u);
  assertSame(rec, curiaVerify(join(GOLDEN, 'evidence-single.bin'), bad, join(GOLDEN, 'genesis.json')), 'label');
  await en.close();
});

test('golden receipts through the file inputs: same verdicts as curia verify', async () => {
  const page = await openPage(['en']);
  const g = join(GOLDEN, 'genesis.json');
  for (const n of ['single', 'salted', 'batch']) {
    const ev = join(GOLDEN, `evidence-${n}.bin`);
    const rc = join(GOLDEN, `receipt-${n}.json`);
    const [rec] = await uiVerify(page, { evidence: [ev], receipts: [rc], genesis: g });
    const rust = curiaVerify(ev, rc, g);
    assertSame(rec, rust, n);
    assert.equal(rec.code, 0, n);
    assert.deepEqual(rec.checks, rust.report.checks.map((c) => c.name), n);
    assert.equal(rec.fields.deposit_id, rust.report.deposit_id);
    assert.equal(rec.fields.commit_time, rust.report.commit_time);
    assert.equal(rec.fields.depositor, rust.report.depositor);
  }
  // Three evidence files and three receipts at once: each receipt finds its evidence.
  const recs = await uiVerify(page, {
    evidence: ['batch', 'single', 'salted'].map((n) => join(GOLDEN, `evidence-${n}.bin`)),
    receipts: ['single', 'salted', 'batch'].map((n) => join(GOLDEN, `receipt-${n}.json`)),
    genesis: g,
  });
  assert.deepEqual(recs.map((r) => r.code), [0, 0, 0]);
  // A chain whose headers commit to the deposit log: version 3 receipts, check log_position, and
  // the log position shown.
  const gl = join(GOLDEN, 'genesis-log.json');
  for (const n of ['single', 'salted', 'batch']) {
    const ev = join(GOLDEN, `evidence-log-${n}.bin`);
    const rc = join(GOLDEN, `receipt-log-${n}.json`);
    const [rec] = await uiVerify(page, { evidence: [ev], receipts: [rc], genesis: gl });
    const rust = curiaVerify(ev, rc, gl);
    assertSame(rec, rust, `log-${n}`);
    assert.equal(rec.code, 0, `log-${n}`);
    assert.deepEqual(rec.checks, rust.report.checks.map((c) => c.name), `log-${n}`);
    assert.ok(rec.checks.includes('log_position'), `log-${n}`);
    const lp = JSON.parse(readFileSync(rc, 'utf8'));
    assert.equal(rec.fields.log_position, `leaf ${lp.log_index} of ${lp.header.log_size} (numbered from 0), named by this block`);
  }
  // A digest typed by hand, as `curia verify --digest`.
  const d = curia(['hash', join(GOLDEN, 'evidence-single.bin')]).split(/\s+/)[0];
  const [byDigest] = await uiVerify(page, { receipts: [join(GOLDEN, 'receipt-single.json')], genesis: g, digest: d });
  assertSame(byDigest, curiaVerify({ digest: d }, join(GOLDEN, 'receipt-single.json'), g), 'digest');
  assert.equal(byDigest.code, 0);
  await page.close();
});

test("every input of the Python verifier's tests: same verdict and failed checks as curia verify", { timeout: 900_000 }, async () => {
  const dir = join(tmp, 'cases');
  const gen = spawnSync('python3', [join(HERE, 'gen_cases.py'), dir], { encoding: 'utf8', timeout: 300_000 });
  assert.equal(gen.status, 0, gen.stderr + gen.stdout);
  const cases = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8'));
  assert.ok(cases.length > 900, `only ${cases.length} cases`);
  const page = await openPage(['en']);
  const b64 = (f) => readFileSync(join(dir, f)).toString('base64');
  const results = [];
  for (let i = 0; i < cases.length; i += 100) {
    const batch = cases.slice(i, i + 100).map((c) => ({ e: b64(c.evidence), r: b64(c.receipt), g: b64(c.genesis) }));
    results.push(...(await page.evaluate((bs) => bs.map((c) => {
      const bytes = (s) => Uint8Array.from(atob(s), (ch) => ch.charCodeAt(0));
      const r = window.curia.verifyAll(bytes(c.e), bytes(c.r), bytes(c.g));
      return { code: r.code, failed: r.report ? r.report.checks.filter((x) => !x.ok).map((x) => x.name) : [] };
    }), batch)));
  }
  const disagree = [];
  const counts = { 0: 0, 1: 0, 2: 0 };
  const pythonDiffers = [];
  // `curia verify` on every case, four processes at a time.
  const rusts = new Array(cases.length);
  let next = 0;
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (next < cases.length) {
      const i = next++;
      const c = cases[i];
      rusts[i] = await curiaVerifyAsync(join(dir, c.evidence), join(dir, c.receipt), join(dir, c.genesis));
    }
  }));
  cases.forEach((c, i) => {
    const rust = rusts[i];
    counts[rust.code] = (counts[rust.code] || 0) + 1;
    const mine = results[i];
    if (mine.code !== rust.code || mine.failed.join() !== rust.failed.join()) {
      disagree.push(`${c.name}: page ${mine.code} [${mine.failed}] curia ${rust.code} [${rust.failed}]`);
    }
    if (c.python.code !== rust.code || c.python.failed.join() !== rust.failed.join()) {
      pythonDiffers.push(`${c.name}: python ${c.python.code} [${c.python.failed}] curia ${rust.code} [${rust.failed}]`);
    }
  });
  console.log(`# ${cases.length} cases: curia verify exit 0/1/2 = ${counts[0]}/${counts[1]}/${counts[2]}; page disagrees on ${disagree.length}`);
  for (const d of pythonDiffers) console.log(`# note: the Python verifier differs from curia verify (the page agrees with curia): ${d}`);
  assert.deepEqual(disagree, []);
  assert.ok(counts[1] > 500 && counts[2] > 50, JSON.stringify(counts));
  await page.close();
});

test('precommits whose R has an order-2 component: the page and curia verify both accept them (6.3, cofactored)', async () => {
  const g = join(GOLDEN, 'genesis.json');
  const ev = join(GOLDEN, 'evidence-single.bin');
  const variants = mixedOrderReceipts(JSON.parse(readFileSync(join(GOLDEN, 'receipt-single.json'), 'utf8')), readFileSync(g), 8);
  const page = await openPage(['en']);
  for (const [i, v] of variants.entries()) {
    const f = join(tmp, `mixed-order-${i}.receipt.json`);
    writeFileSync(f, JSON.stringify(v, null, 2));
    const [rec] = await uiVerify(page, { evidence: [ev], receipts: [f], genesis: g });
    assert.equal(rec.code, 0, rec.text);
    assert.deepEqual(rec.failed, []);
    // One rule everywhere: the cofactored equation ignores the order-2 component of R, in the
    // page, in curia verify and in the node's batch alike.
    assertSame(rec, curiaVerify(ev, f, g), `mixed-order ${i}`);
  }
  await page.close();
});

test('live testnet: receipts as served, tampered variants, GET /verify, and a 4100 MiB file', { timeout: 1_500_000 }, async () => {
  const net = join(tmp, 'net');
  const base = await freeBase();
  curia(['testnet', 'init', '--validators', '4', '--base-port', String(base), '--out', net]);
  const names = ['court-a', 'court-b', 'notary', 'timesvc'];
  for (const n of names) {
    const p = join(net, n, 'node.toml');
    writeFileSync(p, readFileSync(p, 'utf8').replace('propose_ms = 3000', 'propose_ms = 1000')
      .replace('delta_ms = 500', 'delta_ms = 250').replace('empty_block_ms = 1000', 'empty_block_ms = 500'));
    const log = openSync(join(net, n, 'node.log'), 'a');
    nodes.push(spawn(CURIA, ['node', 'run', '--config', join(net, n, 'node.toml')], { stdio: ['ignore', 'ignore', log] }));
  }
  for (let i = 0; i < 4; i++) {
    await waitFor(`node ${i} healthy`, 60_000, async () => (await fetch(`http://127.0.0.1:${base + 2000 + i}/healthz`)).ok);
  }
  const api = `http://127.0.0.1:${base + 1000}`;
  const genesis = join(net, 'genesis.json');
  const key = join(net, 'clients', 'platform.key');

  // A small deposit; its receipt as the node serves it and as `curia receipt get` saves it.
  const small = join(tmp, 'contract-2026.pdf');
  writeFileSync(small, `Live testnet evidence ${new Date().toISOString()}\n`);
  const id = curia(['deposit', small, '--key', key, '--node', api, '--wait', '--out', join(tmp, 'receipts')]).split(/\s+/)[0];
  const got = join(tmp, 'got.receipt.json');
  curia(['receipt', 'get', id, '--node', `http://127.0.0.1:${base + 1003}`, '--wait', '60', '--out', got]);
  const served = join(tmp, 'served.receipt.json');
  const resp = await fetch(`${api}/v1/deposits/${id}/receipt`);
  assert.equal(resp.status, 200);
  writeFileSync(served, Buffer.from(await resp.arrayBuffer()));

  // The page as every node serves it: the committed file, with its CSP.
  const pageResp = await fetch(`${api}/verify`);
  assert.equal(pageResp.status, 200);
  assert.match(pageResp.headers.get('content-type'), /^text\/html/);
  assert.match(pageResp.headers.get('content-security-policy'), /^default-src 'none'; script-src 'sha256-/);
  assert.ok(Buffer.from(await pageResp.arrayBuffer()).equals(readFileSync(PAGE)), 'GET /verify is not web/dist/verify.html');

  const served_page = await openPage(['zh-CN'], `${api}/verify`);
  for (const rc of [served, got]) {
    const [rec] = await uiVerify(served_page, { evidence: [small], receipts: [rc], genesis });
    const rust = curiaVerify(small, rc, genesis);
    assertSame(rec, rust, rc);
    assert.equal(rec.code, 0, rec.text);
    assert.equal(rec.fields.deposit_id, id);
    assert.equal(rec.fields.depositor, 'platform');
  }
  await served_page.close();

  // Tampered: other evidence; a changed label; a dropped quorum; a genesis of another chain.
  const page = await openPage(['en']);
  const other = join(tmp, 'other.pdf');
  writeFileSync(other, 'not the deposited file\n');
  const r = JSON.parse(readFileSync(served, 'utf8'));
  const variants = {
    label: { ...r, tx: { ...r.tx, payload: { ...r.tx.payload, label: `${r.tx.payload.label}\u202e` } } },
    quorum: { ...r, certificate: { ...r.certificate, sigs: r.certificate.sigs.slice(0, 2) } },
    time: { ...r, certificate: { ...r.certificate, sigs: r.certificate.sigs.map((s) => ({ ...s, time_ms: s.time_ms + 1 })) } },
  };
  const cases = [[other, served, genesis, 'other evidence']];
  for (const [name, v] of Object.entries(variants)) {
    const f = join(tmp, `${name}.receipt.json`);
    writeFileSync(f, JSON.stringify(v, null, 2));
    cases.push([small, f, genesis, name]);
  }
  cases.push([small, served, join(GOLDEN, 'genesis.json'), 'golden genesis']);
  for (const [ev, rc, g, name] of cases) {
    const [rec] = await uiVerify(page, { evidence: [ev], receipts: [rc], genesis: g });
    const rust = curiaVerify(ev, rc, g);
    assertSame(rec, rust, name);
    assert.equal(rec.code, 1, `${name}: ${rec.text}`);
  }

  // 4100 MiB (sparse): digest by `curia hash`, deposit, and the page hashes it in chunks.
  const big = join(tmp, 'video-evidence.bin');
  const fd = openSync(big, 'w');
  ftruncateSync(fd, BIG_BYTES);
  closeSync(fd);
  let t0 = Date.now();
  const digest = curia(['hash', big]).split(/\s+/)[0];
  const curiaHashMbps = BIG_BYTES / 1e6 / ((Date.now() - t0) / 1000);
  const bigId = curia(['deposit', big, '--key', key, '--node', api, '--wait', '--out', join(tmp, 'receipts')]).split(/\s+/)[0];
  const bigReceipt = join(tmp, 'big.receipt.json');
  curia(['receipt', 'get', bigId, '--node', api, '--wait', '60', '--out', bigReceipt]);
  t0 = Date.now();
  const [rec] = await uiVerify(page, { evidence: [big], receipts: [bigReceipt], genesis }, 1_200_000);
  const secs = (Date.now() - t0) / 1000;
  const { mbps, hasher } = await page.$eval('body', (b) => ({ ...b.dataset }));
  console.log(`# page hashed ${BIG_BYTES} bytes in ${secs.toFixed(1)} s: ${mbps} MB/s with its ${hasher} hasher (curia hash: ${curiaHashMbps.toFixed(0)} MB/s)`);
  assert.equal(hasher, 'wasm', 'the page did not use its WebAssembly SHA-256');
  assert.match(await page.$eval('#progress-text', (e) => e.textContent), /MB\/s \(WebAssembly\)$/);
  assert.equal(rec.code, 0, rec.text);
  assert.equal(rec.fields.sha256, digest);
  assert.equal(rec.fields.deposit_id, bigId);
  let rust = curiaVerify(big, bigReceipt, genesis);
  if (rust.code === 2 && /larger than/.test(rust.stderr)) {
    // `curia verify` still refuses files over 1 GiB (issue 13 item 3): compare with the digest.
    console.log('# note: curia verify refuses the 4100 MiB file (over its 1 GiB limit); compared with --digest');
    rust = curiaVerify({ digest }, bigReceipt, genesis);
  }
  assertSame(rec, rust, '4100 MiB');

  // Screenshots in both languages and the printed record (one A4 page per record).
  await page.click('#lang-zh');
  await page.screenshot({ path: join(OUT, 'verify-page-zh.png'), fullPage: true });
  await page.click('#lang-en');
  await page.screenshot({ path: join(OUT, 'verify-page-en.png'), fullPage: true });
  await page.click('#lang-zh');
  const pdf = Buffer.from(await page.pdf({ format: 'A4', printBackground: true }));
  writeFileSync(join(OUT, 'verify-record-zh.pdf'), pdf);
  const pages = (pdf.toString('latin1').match(/\/Type\s*\/Page[^s]/g) || []).length;
  assert.equal(pages, 1, 'the printed record is not one page');
  console.log(`# screenshots and printed record in ${OUT}`);
  await page.close();
});

test('WebAssembly refused by the CSP: the page hashes with JavaScript, same digests and verdicts', async () => {
  const g = join(GOLDEN, 'genesis.json');
  const ev = join(GOLDEN, 'evidence-single.bin');
  const rc = join(GOLDEN, 'receipt-single.json');
  // A file of 40 MiB + 123 bytes of varied bytes: several chunks and a partial block.
  const data = Buffer.alloc(40 * 1024 * 1024 + 123);
  for (let i = 0; i < data.length; i += 4) data.writeUInt32LE((Math.imul(i, 2654435761) >>> 0), Math.min(i, data.length - 4));
  const file = join(tmp, 'varied.bin');
  writeFileSync(file, data);
  const want = curia(['hash', file]).split(/\s+/)[0];
  const html = readFileSync(PAGE, 'utf8');
  assert.equal(html.split(" 'wasm-unsafe-eval'").length, 2, "the page's CSP should allow 'wasm-unsafe-eval' once");
  const strict = join(tmp, 'verify-no-wasm.html');
  writeFileSync(strict, html.replace(" 'wasm-unsafe-eval'", ''));
  const strictUrl = pathToFileURL(strict).href;
  ownPages.push(strictUrl);
  const results = {};
  for (const [name, url] of [['page', PAGE_URL], ['no-wasm', strictUrl]]) {
    const page = await openPage(['en'], url);
    const [rec] = await uiVerify(page, { evidence: [ev], receipts: [rc], genesis: g });
    assertSame(rec, curiaVerify(ev, rc, g), name);
    assert.equal(rec.code, 0, `${name}: ${rec.text}`);
    const hasher = await page.$eval('body', (b) => b.dataset.hasher);
    await (await page.$('#in-evidence')).uploadFile(file);
    const hashed = await page.evaluate(async () => {
      const r = await window.curia.hashBlob(document.getElementById('in-evidence').files[0]);
      return { hex: Array.from(r.digest, (x) => x.toString(16).padStart(2, '0')).join(''), hasher: r.hasher };
    });
    results[name] = { hasher, bigHasher: hashed.hasher };
    assert.equal(hashed.hex, want, `${name}: page digest of ${file} differs from curia hash`);
    await page.close();
  }
  assert.deepEqual(results, { page: { hasher: 'wasm', bigHasher: 'wasm' }, 'no-wasm': { hasher: 'js', bigHasher: 'js' } });
});

test('no page made any request but loading itself', () => {
  const others = requests.filter((u) => !ownPages.includes(u) && !/^http:\/\/127\.0\.0\.1:\d+\/verify$/.test(u));
  assert.deepEqual(others, []);
  assert.ok(requests.length >= 2);
});
