// verify.html's page logic: take the files, hash the evidence in chunks with a progress bar
// (./hasher.js: WebAssembly SHA-256, or @noble/hashes where WebAssembly is refused),
// run every check of docs/receipt-format.md section 8 (./verify.js), and show a printable record.
//
// Rules: the page makes no network request (the CSP forbids it too). Every string that comes
// from a receipt, a genesis or a file name is inserted with textContent after escapeText(), never
// as HTML. Files are read in slices, so evidence of any size is hashed in constant memory; a
// receipt or genesis larger than its limit is refused before it is read.

import { hashBlob } from './hasher.js';
import { Unusable } from './json.js';
import { parseGenesis, parseReceipt, LIMITS } from './chain.js';
import { verifyReceipt, verifyAll, formatUtc } from './verify.js';
import { escapeText } from './escape.js';
import { hex, fromHex } from './codec.js';
import { TEXT, defaultLang } from './i18n.js';

const $ = (id) => document.getElementById(id);
const state = { evidence: [], receipts: [], genesis: null, results: null, lang: 'en', hashStats: null };

/** An element with escaped text content (never HTML). */
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(escapeText(c)));
  }
  return e;
}
const t = () => TEXT[state.lang];

async function readLimited(file, limit, what) {
  if (file.size > limit) throw new Unusable(`${what} ${file.name} is larger than ${limit} bytes`);
  return new Uint8Array(await file.arrayBuffer());
}

/** Sort dropped files into receipts, genesis and evidence by their content. */
async function classify(file) {
  if (file.size <= LIMITS.MAX_RECEIPT_BYTES) {
    const b = new Uint8Array(await file.slice(0, 16).arrayBuffer());
    if (new TextDecoder().decode(b.subarray(0, 8)) === 'CURIARCT') return 'receipts';
  }
  if (file.size <= LIMITS.MAX_GENESIS_BYTES) {
    try {
      const v = JSON.parse(await file.text());
      if (v && v.format === 'curia-receipt') return 'receipts';
      if (v && v.chain_name !== undefined && Array.isArray(v.validators)) return 'genesis';
    } catch {
      // not JSON: evidence
    }
  }
  return 'evidence';
}

function setFiles(kind, files) {
  if (kind === 'genesis') state.genesis = files[files.length - 1] || null;
  else state[kind] = [...files];
  showFileLists();
}

function showFileLists() {
  const list = (id, files) => {
    const ul = $(id);
    ul.replaceChildren(...files.map((f) => el('li', {}, `${f.name} (${f.size} ${t().bytes})`)));
  };
  list('evidence-list', state.evidence);
  list('receipt-list', state.receipts);
  list('genesis-list', state.genesis ? [state.genesis] : []);
}

/** How the progress line names the hasher that ran (./hasher.js). */
const HASHER_NAMES = { wasm: 'WebAssembly', js: 'JavaScript' };

function progress(done, total, startMs, hasher) {
  const p = $('progress');
  p.max = total || 1;
  p.value = done;
  const secs = Math.max((performance.now() - startMs) / 1000, 1e-3);
  state.progress = { done, total, mbps: done / 1e6 / secs, hasher: hasher || (state.progress && state.progress.hasher) };
  showProgress();
}

function showProgress() {
  const pr = state.progress;
  const mb = (x) => (x / 1e6).toFixed(1);
  $('progress-text').textContent = pr ? `${t().hashing}: ${mb(pr.done)} MB ${t().of} ${mb(pr.total)} MB, ${pr.mbps.toFixed(0)} MB/s${
    pr.hasher ? ` (${HASHER_NAMES[pr.hasher]})` : ''}` : '';
}

async function run() {
  const msg = $('message');
  msg.textContent = '';
  const digestText = $('digest').value.trim();
  if (!state.receipts.length) return void (msg.textContent = t().needReceipt);
  if (!state.genesis) return void (msg.textContent = t().needGenesis);
  if (!state.evidence.length && !digestText) return void (msg.textContent = t().needEvidence);
  document.body.dataset.state = 'running';
  $('verify').disabled = true;
  try {
    // Evidence: a typed digest (like `curia verify --digest`), or the files, hashed.
    const evidence = [];
    if (digestText && !state.evidence.length) {
      if (!/^[0-9a-fA-F]{64}$/.test(digestText)) {
        state.results = [{ code: 2, error: 'the SHA-256 must be 64 hex digits', receiptName: '' }];
        return;
      }
      evidence.push({ name: null, digest: fromHex(digestText), length: null });
    } else {
      const total = state.evidence.reduce((s, f) => s + f.size, 0);
      const start = performance.now();
      let before = 0;
      progress(0, total, start);
      for (const f of state.evidence) {
        let hashed;
        try {
          hashed = await hashBlob(f, (n, name) => progress(before + n, total, start, name));
        } catch (e) {
          // Unreadable, or changed while read: nothing is verified against a partial digest.
          state.results = null;
          msg.textContent = `${escapeText(f.name)}: ${escapeText(e.message || String(e))}`;
          return;
        }
        const { digest, hasher } = hashed;
        before += f.size;
        state.hasher = hasher;
        evidence.push({ name: f.name, digest, length: BigInt(f.size) });
      }
      const secs = (performance.now() - start) / 1000;
      state.hashStats = { bytes: total, seconds: secs, mbps: total / 1e6 / Math.max(secs, 1e-3) };
      document.body.dataset.mbps = state.hashStats.mbps.toFixed(1);
      if (state.hasher) document.body.dataset.hasher = state.hasher;
    }
    // Genesis once, then each receipt against the evidence that matches it.
    let spec = null;
    let genesisError = null;
    try {
      spec = parseGenesis(await readLimited(state.genesis, LIMITS.MAX_GENESIS_BYTES, 'genesis'));
    } catch (e) {
      genesisError = e instanceof Unusable ? e.message : `internal error: ${e.message}`;
    }
    const results = [];
    for (let i = 0; i < state.receipts.length; i++) {
      const rf = state.receipts[i];
      const base = { receiptName: rf.name, genesisName: state.genesis.name };
      if (genesisError) {
        results.push({ ...base, code: 2, error: genesisError });
        continue;
      }
      let rc;
      try {
        rc = parseReceipt(await readLimited(rf, LIMITS.MAX_RECEIPT_BYTES, 'receipt'));
      } catch (e) {
        results.push({ ...base, code: 2, error: e instanceof Unusable ? e.message : `internal error: ${e.message}` });
        continue;
      }
      const reports = evidence.map((ev) => ({ ev, report: verifyReceipt(ev, rc, spec) }));
      const digestOk = (r) => r.report.checks.find((c) => c.name === 'digest').ok;
      const match = reports.find(digestOk);
      const chosen = match || reports[Math.min(i, reports.length - 1)];
      results.push({ ...base, code: chosen.report.valid ? 0 : 1, report: chosen.report, evidence: chosen.ev,
        matched: Boolean(match), spec, receipt: rc });
    }
    state.results = results;
  } finally {
    $('verify').disabled = false;
    render();
    document.body.dataset.state = 'done';
  }
}

function row(label, ...values) {
  return el('tr', {}, el('th', {}, label), el('td', {}, ...values));
}

function roleName(r) {
  return t().roles[r] || r;
}

function localTime(ms) {
  const d = new Date(Number(ms));
  if (Number.isNaN(d.getTime())) return '';
  return ` (${t().localTime} ${d.toLocaleString(state.lang === 'zh' ? 'zh-CN' : 'en-GB', { timeZoneName: 'short' })})`;
}

function renderResult(r, idx) {
  const T = t();
  const verdict = r.code === 0 ? 'valid' : r.code === 1 ? 'invalid' : 'unusable';
  const sec = el('section', { class: 'record', 'data-verdict': verdict, 'data-code': String(r.code), 'data-index': String(idx) });
  sec.append(el('h2', {}, `${T.record} ${idx + 1}`));
  const banner = el('div', { class: `verdict ${verdict}` }, el('strong', {}, T[verdict]));
  if (r.code === 2) banner.append(el('p', {}, T.unusableText), el('p', { class: 'mono' }, r.error));
  else if (r.code === 0) banner.append(el('p', {}, T.validText(r.report.height, r.report.commit_time)));
  else {
    const f = r.report.firstFailure;
    banner.append(el('p', {}, T.invalidText(`${f.name}: ${T.checkNames[f.name]}`)), el('p', { class: 'mono' }, f.detail));
  }
  sec.append(banner);
  const tbl = el('table', { class: 'facts' });
  if (r.code !== 2) {
    const rep = r.report;
    const rc = r.receipt;
    const p = rc.tx.payload;
    const ev = r.evidence;
    tbl.append(row(T.depositId, el('span', { class: 'mono', 'data-field': 'deposit_id' }, rep.deposit_id)));
    tbl.append(row(T.hash, el('span', { class: 'mono', 'data-field': 'sha256' }, hex(ev.digest))));
    tbl.append(row(T.evidenceFile, ev.name === null ? T.digestOnly
      : `${ev.name} (${ev.length} ${T.bytes})${r.matched ? '' : ` — ${T.noMatch} ${ev.name}`}`));
    tbl.append(row(T.depositTime, el('span', { 'data-field': 'commit_time' }, rep.commit_time),
      localTime(rep.commit_time_ms), el('br'), el('small', {}, T.depositTimeNote)));
    tbl.append(row(T.platform, el('span', { 'data-field': 'depositor' }, rep.depositor === null ? T.platformUnknown : rep.depositor),
      el('br'), el('small', { class: 'mono' }, rep.sender)));
    if (p.kind === 'deposit' || p.kind === 'batch_deposit') {
      tbl.append(row(T.mediaType, p.media_type));
      tbl.append(row(T.label, el('span', { 'data-field': 'label' }, p.label)));
      tbl.append(row(T.reference, p.reference));
    }
    tbl.append(row(T.chain, `${r.spec.chainName} `, el('small', { class: 'mono' }, hex(r.spec.chainId))));
    tbl.append(row(T.block, String(rep.height)));
    // Shown only once log_position passed: a failed check's claimed position is in its detail.
    if (rep.log_position && rep.log_position.ok) {
      const lp = rep.log_position;
      tbl.append(row(T.logPosition, el('span', { 'data-field': 'log_position' }, T.logLeaf(lp.index, lp.size)),
        el('br'), el('small', { class: 'mono' }, `${T.logRoot} ${lp.root}`)));
    }
    tbl.append(row(T.signers, rep.signers.map((s) => `${s.name} (${roleName(s.role)}) ${formatUtc(s.time_ms)}`).join('; ')));
    for (const ts of rep.timesvc) tbl.append(row(T.timesvc, `${ts.validator}: ${ts.time}`));
  }
  tbl.append(row(T.receiptFile, r.receiptName));
  tbl.append(row(T.genesisFile, r.genesisName || ''));
  sec.append(tbl);
  if (r.code !== 2) {
    sec.append(el('h3', {}, T.checks));
    const ct = el('table', { class: 'checks' },
      el('thead', {}, el('tr', {}, el('th', {}, T.check), el('th', {}, T.result), el('th', {}, T.detail))));
    const tb = el('tbody');
    for (const c of r.report.checks) {
      tb.append(el('tr', { 'data-check': c.name, 'data-ok': String(c.ok), class: c.ok ? 'ok' : 'bad' },
        el('td', {}, el('code', {}, c.name), el('br'), el('small', {}, T.checkNames[c.name])),
        el('td', { class: 'res' }, c.ok ? `✔ ${T.pass}` : `✘ ${T.fail}`),
        el('td', { class: 'mono detail' }, c.detail)));
    }
    ct.append(tb);
    sec.append(ct);
  }
  sec.append(el('p', { class: 'foot' }, `${T.verifiedAt} ${new Date().toISOString()}. ${T.tool} ${SOURCE_HASH.slice(0, 16)}. ${T.samePage}`));
  return sec;
}

function render() {
  const T = t();
  document.documentElement.lang = state.lang === 'zh' ? 'zh-CN' : 'en';
  for (const e of document.querySelectorAll('[data-i18n]')) e.textContent = T[e.dataset.i18n];
  $('lang-zh').setAttribute('aria-pressed', String(state.lang === 'zh'));
  $('lang-en').setAttribute('aria-pressed', String(state.lang === 'en'));
  showFileLists();
  showProgress();
  const out = $('results');
  out.replaceChildren(...(state.results || []).map((r, i) => renderResult(r, i)));
  $('print').hidden = !(state.results && state.results.length);
}

function setLang(l) {
  state.lang = l;
  render();
}

const SOURCE_HASH = (document.querySelector('meta[name="curia-source"]') || { content: '' }).content;

function init() {
  state.lang = defaultLang(navigator.languages || [navigator.language]);
  $('lang-zh').addEventListener('click', () => setLang('zh'));
  $('lang-en').addEventListener('click', () => setLang('en'));
  $('in-evidence').addEventListener('change', (e) => setFiles('evidence', e.target.files));
  $('in-receipt').addEventListener('change', (e) => setFiles('receipts', e.target.files));
  $('in-genesis').addEventListener('change', (e) => setFiles('genesis', e.target.files));
  $('verify').addEventListener('click', () => run());
  $('print').addEventListener('click', () => window.print());
  $('clear').addEventListener('click', () => {
    Object.assign(state, { evidence: [], receipts: [], genesis: null, results: null, progress: null });
    for (const id of ['in-evidence', 'in-receipt', 'in-genesis', 'digest']) $(id).value = '';
    $('progress').value = 0;
    render();
  });
  const zone = $('dropzone');
  for (const ev of ['dragenter', 'dragover']) {
    document.addEventListener(ev, (e) => {
      e.preventDefault();
      zone.classList.add('over');
    });
  }
  document.addEventListener('dragleave', () => zone.classList.remove('over'));
  document.addEventListener('drop', async (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    const files = [...e.dataTransfer.files];
    const target = e.target.closest && e.target.closest('[data-kind]');
    for (const f of files) {
      const kind = target ? target.dataset.kind : await classify(f);
      if (kind === 'genesis') state.genesis = f;
      else state[kind].push(f);
    }
    showFileLists();
  });
  render();
  document.body.dataset.state = 'ready';
}

// For tests and for people who want to check the page's logic from the browser console.
window.curia = { verifyAll, escapeText, hashBlob, setLang, state };
init();
