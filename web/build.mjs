// Builds dist/verify.html: one self-contained page, no network request. Bundles src/ui.js and
// its npm dependencies (pinned by package-lock.json) with esbuild into one inline script, inlines
// the style, and writes a Content-Security-Policy that allows exactly that script and style (by
// their SHA-256) and nothing else: no fetch, no image, no form, no frame. The one addition is
// 'wasm-unsafe-eval': it lets that script compile the WebAssembly SHA-256 inlined in it
// (hash-wasm, src/hasher.js); it allows no JavaScript eval and no other script. The same policy
// is written to dist/verify.csp for the node's `GET /verify` header.
//
//   node build.mjs                 write dist/verify.html and dist/verify.csp
//   node build.mjs --out DIR       write them into DIR instead
//   node build.mjs --check         fail unless the committed dist/ equals a fresh build
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, mkdirSync, readdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const check = args.includes('--check');
const outIdx = args.indexOf('--out');
const out = check ? mkdtempSync(join(tmpdir(), 'curia-verify-')) : outIdx >= 0 ? args[outIdx + 1] : join(here, 'dist');

const b64sha = (s) => createHash('sha256').update(s, 'utf8').digest('base64');

// The source hash: every file that goes into the page, and the lockfile that pins the libraries.
const srcFiles = readdirSync(join(here, 'src')).sort().map((f) => join('src', f));
const sourceHash = createHash('sha256');
for (const f of [...srcFiles, 'package-lock.json', 'build.mjs']) {
  sourceHash.update(`${f}\n`).update(readFileSync(join(here, f))).update('\n');
}

const res = await build({
  entryPoints: [join(here, 'src', 'ui.js')],
  bundle: true,
  format: 'iife',
  target: 'es2020',
  charset: 'utf8',
  legalComments: 'inline',
  write: false,
  absWorkingDir: here,
  logLevel: 'warning',
});
const script = res.outputFiles[0].text;
if (/<\/script/i.test(script) || /<!--/.test(script)) throw new Error('bundle contains </script or <!--');
const style = readFileSync(join(here, 'src', 'style.css'), 'utf8');
const csp = [
  "default-src 'none'",
  `script-src 'sha256-${b64sha(script)}' 'wasm-unsafe-eval'`,
  `style-src 'sha256-${b64sha(style)}'`,
  "img-src 'none'",
  "connect-src 'none'",
  "form-action 'none'",
  "base-uri 'none'",
].join('; ');
const page = readFileSync(join(here, 'src', 'page.html'), 'utf8');
const html = page
  .replace('{{CSP}}', () => csp)
  .replace('{{SOURCE_HASH}}', () => sourceHash.digest('hex'))
  .replace('{{STYLE}}', () => style)
  .replace('{{SCRIPT}}', () => script);
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'verify.html'), html);
writeFileSync(join(out, 'verify.csp'), csp);

if (check) {
  let stale = [];
  for (const f of ['verify.html', 'verify.csp']) {
    if (!readFileSync(join(out, f)).equals(readFileSync(join(here, 'dist', f)))) stale.push(f);
  }
  rmSync(out, { recursive: true, force: true });
  if (stale.length) {
    console.error(`web/dist is stale (${stale.join(', ')}): run \`npm run build\` in web/ and commit web/dist`);
    process.exit(1);
  }
  console.log('web/dist/verify.html equals a fresh build');
} else {
  console.log(`wrote ${join(out, 'verify.html')} (${html.length} characters)`);
}
