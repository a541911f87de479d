// The committed page (dist/verify.html, served by every node at GET /verify) must equal a fresh
// build of src/ with the pinned libraries, so it cannot go stale silently.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const web = fileURLToPath(new URL('..', import.meta.url));

test('dist/verify.html equals a fresh build', () => {
  const out = execFileSync(process.execPath, ['build.mjs', '--check'], { cwd: web, encoding: 'utf8' });
  assert.match(out, /equals a fresh build/);
});

test('the page allows no request: CSP default-src none, no external URL', () => {
  const html = readFileSync(new URL('../dist/verify.html', import.meta.url), 'utf8');
  const csp = readFileSync(new URL('../dist/verify.csp', import.meta.url), 'utf8');
  assert.ok(html.includes(`<meta http-equiv="Content-Security-Policy" content="${csp}">`));
  assert.match(csp, /^default-src 'none'; script-src 'sha256-[A-Za-z0-9+/=]+' 'wasm-unsafe-eval'; style-src 'sha256-[A-Za-z0-9+/=]+';/);
  // 'wasm-unsafe-eval' (compiling the inlined WebAssembly SHA-256) is the only "unsafe" source.
  assert.doesNotMatch(csp.replace(" 'wasm-unsafe-eval'", ''), /unsafe|https?:|\*|blob:|data:/);
  assert.equal(csp.split('unsafe').length, 2);
  assert.doesNotMatch(html, /<(script|link|img|iframe)[^>]*(src|href)=/i);
  assert.equal((html.match(/<script/g) || []).length, 1);
  assert.doesNotMatch(html, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
});
