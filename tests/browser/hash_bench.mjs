// Measures the page's evidence hashing in Debian's headless Chromium: a sparse file of MIB MiB is
// given to the page's evidence input and hashed by window.curia.hashBlob, as the page does,
// without verifying anything (no curia binary, no testnet). For comparing pages and slice sizes
// on one machine in one session; the browser test prints the same rate for its 4100 MiB file.
//
//   node hash_bench.mjs [--page FILE] [--mib N] [--runs N] [--chunk MIB,MIB,...] [--prefer wasm|js]
//                     [--read slices|byob]
//
// --page defaults to web/dist/verify.html. --chunk, --prefer and --read are passed to hashBlob (pages
// from before src/hasher.js ignore them). Prints one line per run: bytes, seconds, MB/s, hasher.
import { openSync, ftruncateSync, closeSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import puppeteer from 'puppeteer-core';

const HERE = dirname(fileURLToPath(import.meta.url));
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const page = resolve(arg('page', join(HERE, '..', '..', 'web', 'dist', 'verify.html')));
const mib = Number(arg('mib', '1024'));
const runs = Number(arg('runs', '1'));
const chunks = arg('chunk', '').split(',').filter(Boolean).map((c) => Number(c) * 1024 * 1024);
const prefer = arg('prefer', 'wasm');
const read = arg('read', 'slices');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
if (!existsSync(page)) throw new Error(`no page at ${page}`);
if (!(mib > 0 && mib <= 8192)) throw new Error('--mib must be in 1..8192');

const tmp = mkdtempSync(join(tmpdir(), 'curia-hash-bench-'));
const big = join(tmp, 'evidence.bin');
const args = ['--disable-gpu', '--disable-dev-shm-usage'];
if (process.getuid && process.getuid() === 0) args.push('--no-sandbox');
let browser;
// The folder (and its sparse file) goes whatever fails, the browser's launch included.
try {
  const fd = openSync(big, 'w');
  try {
    ftruncateSync(fd, mib * 1024 * 1024);
  } finally {
    closeSync(fd);
  }
  browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args, protocolTimeout: 1_500_000 });
  const tab = await browser.newPage();
  await tab.goto(pathToFileURL(page).href);
  await tab.waitForSelector('body[data-state=ready]');
  await (await tab.$('#in-evidence')).uploadFile(big);
  for (const chunk of chunks.length ? chunks : [undefined]) {
    for (let r = 0; r < runs; r++) {
      const res = await tab.evaluate(async (opts) => {
        const f = document.getElementById('in-evidence').files[0];
        const t0 = performance.now();
        const out = await window.curia.hashBlob(f, () => {}, opts);
        const secs = (performance.now() - t0) / 1000;
        return { bytes: f.size, secs, hasher: out instanceof Uint8Array ? 'js (old page)' : out.hasher };
      }, { prefer, read, ...(chunk ? { chunk } : {}) });
      const c = `${chunk ? `${chunk / 1048576} MiB` : 'default'} chunks, read ${read}`;
      console.log(`page hashed ${res.bytes} bytes in ${res.secs.toFixed(2)} s: ${(res.bytes / 1e6 / res.secs).toFixed(1)} MB/s (${res.hasher}, ${c})`);
    }
  }
} finally {
  if (browser) await browser.close();
  rmSync(tmp, { recursive: true, force: true });
}
