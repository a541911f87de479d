// Genesis (docs/receipt-format.md section 3), transactions (4), headers, votes and certificates
// (5), receipts (7) and membership history entries (13): strict JSON reading, canonical encoding
// and decoding.
//
// Every reading error is an `Unusable` (exit 2 of `curia verify`). JSON receipts are encoded
// canonically and decoded again (7.3 step 4), so every limit of the binary form applies to JSON.

import { Unusable, JNum, parseJson } from './json.js';
import { Writer, Reader, tagged, TAG, hex, fromHex, utf8Len, equal } from './codec.js';
import { checkGenesisKey } from './ed25519.js';

export const LIMITS = {
  MAX_NAME: 64,
  MAX_ADDRESS: 256,
  MAX_MEDIA_TYPE: 128,
  MAX_LABEL: 256,
  MAX_REFERENCE: 256,
  MAX_CASE_ID: 64,
  MAX_NOTE: 1024,
  MAX_BATCH_ITEMS: 10000,
  MAX_BLOCK_TXS: 20000,
  MAX_VALIDATORS: 128,
  MAX_APPROVALS: 128,
  MAX_POWER: 1n << 40n,
  MAX_GENESIS_CLIENTS: 100000,
  MAX_GENESIS_BYTES: 64 << 20,
  MAX_RECEIPT_BYTES: 1 << 20,
  MAX_PROOF_LEN: 64,
  MAX_RECEIPT_HISTORY: 1024,
};
const L = LIMITS;

export const VALIDATOR_ROLES = { court: 1, notary: 2, timesvc: 3, mediation: 4, forensic: 5 };
const VALIDATOR_ROLE_NAMES = { 1: 'court', 2: 'notary', 3: 'timesvc', 4: 'mediation', 5: 'forensic' };
export const CLIENT_ROLES = { platform: 1, judge: 2, auditor: 3, registrar: 4 };
const CLIENT_ROLE_NAMES = { 1: 'platform', 2: 'judge', 3: 'auditor', 4: 'registrar' };
const INT_MAX = { u8: 0xffn, u16: 0xffffn, u32: 0xffffffffn, u64: 0xffffffffffffffffn };
const MAGIC = new TextEncoder().encode('CURIARCT');

/** Names: 1 to 64 bytes of [A-Za-z0-9._-]. */
export const isName = (s) => /^[A-Za-z0-9._-]{1,64}$/.test(s);

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof JNum);
const has = (o, k) => Object.prototype.hasOwnProperty.call(o, k);

function parseHex(x, n, where) {
  if (typeof x !== 'string') throw new Unusable(`${where}: expected a hex string`);
  if (!/^[0-9a-fA-F]*$/.test(x) || x.length % 2) throw new Unusable(`${where}: bad hex`);
  if (x.length !== 2 * n) throw new Unusable(`${where}: expected ${n} bytes, got ${x.length / 2}`);
  return fromHex(x);
}

/** Reads the fields of one JSON object, then rejects unknown keys. */
class Obj {
  constructor(v, where) {
    if (!isObj(v)) throw new Unusable(`${where}: expected an object`);
    this.v = v;
    this.where = where;
    this.seen = new Set();
  }
  raw(k, optional = false) {
    this.seen.add(k);
    if (!has(this.v, k)) {
      if (optional) return null;
      throw new Unusable(`${this.where}: missing field \`${k}\``);
    }
    return this.v[k];
  }
  int(k, ty) {
    const x = this.raw(k);
    const n = x instanceof JNum ? x.uint() : null;
    if (n === null) throw new Unusable(`${this.where}.${k}: expected a non-negative integer (${ty})`);
    if (n > INT_MAX[ty]) throw new Unusable(`${this.where}.${k}: ${n} is out of range for ${ty}`);
    return ty === 'u64' ? n : Number(n);
  }
  bool(k) {
    const x = this.raw(k);
    if (typeof x !== 'boolean') throw new Unusable(`${this.where}.${k}: expected a boolean`);
    return x;
  }
  str(k) {
    const x = this.raw(k);
    if (typeof x !== 'string') throw new Unusable(`${this.where}.${k}: expected a string`);
    return x;
  }
  hex(k, n) {
    return parseHex(this.raw(k), n, `${this.where}.${k}`);
  }
  obj(k) {
    return new Obj(this.raw(k), `${this.where}.${k}`);
  }
  list(k) {
    const x = this.raw(k);
    if (!Array.isArray(x)) throw new Unusable(`${this.where}.${k}: expected an array`);
    return x;
  }
  done() {
    const extra = Object.keys(this.v).filter((k) => !this.seen.has(k));
    if (extra.length) throw new Unusable(`${this.where}: unknown field \`${extra.sort()[0]}\``);
  }
}

// ---------------------------------------------------------------------------------------------
// Genesis (section 3)

/** Parse and validate genesis JSON bytes; returns the chain spec with its derived values. */
export function parseGenesis(bytes) {
  if (bytes.length > L.MAX_GENESIS_BYTES) {
    throw new Unusable(`genesis is too large: ${bytes.length} > ${L.MAX_GENESIS_BYTES}`);
  }
  const o = new Obj(parseJson(bytes, 'genesis', true), 'genesis');
  const version = o.int('version', 'u16');
  const chainName = o.str('chain_name');
  const timeMs = o.int('genesis_time_ms', 'u64');
  const vlist = o.list('validators');
  const clist = o.list('clients');
  const po = o.obj('params');
  const maxBlockTxs = po.int('max_block_txs', 'u32');
  const maxBatchItems = po.int('max_batch_items', 'u32');
  po.done();
  // 3.1: optional, absent means false; when true the canonical genesis ends with a byte 1 (3.2).
  const logInHeader = has(o.v, 'log_in_header') ? o.bool('log_in_header') : false;
  const validators = vlist.map((x, i) => {
    const vo = new Obj(x, `genesis.validators[${i}]`);
    const v = { name: vo.str('name'), role: vo.str('role'), key: vo.hex('key', 32), power: vo.int('power', 'u64'),
      address: vo.str('address') };
    if (!has(VALIDATOR_ROLES, v.role)) throw new Unusable(`genesis.validators[${i}].role: unknown role ${JSON.stringify(v.role)}`);
    vo.done();
    return v;
  });
  const clients = clist.map((x, i) => {
    const co = new Obj(x, `genesis.clients[${i}]`);
    const c = { name: co.str('name'), role: co.str('role'), key: co.hex('key', 32) };
    if (!has(CLIENT_ROLES, c.role)) throw new Unusable(`genesis.clients[${i}].role: unknown role ${JSON.stringify(c.role)}`);
    co.done();
    return c;
  });
  o.done();

  const bad = (m) => new Unusable(`invalid genesis: ${m}`);
  if (version !== 1) throw new Unusable(`unsupported genesis version ${version} (this verifier reads version 1)`);
  if (!isName(chainName)) throw bad(`invalid chain_name ${JSON.stringify(chainName)}`);
  if (validators.length < 1 || validators.length > L.MAX_VALIDATORS) {
    throw bad(`needs 1 to ${L.MAX_VALIDATORS} validators, has ${validators.length}`);
  }
  if (clients.length > L.MAX_GENESIS_CLIENTS) throw bad(`at most ${L.MAX_GENESIS_CLIENTS} clients`);
  if (maxBlockTxs < 1 || maxBlockTxs > L.MAX_BLOCK_TXS) throw bad(`params.max_block_txs must be 1..=${L.MAX_BLOCK_TXS}`);
  if (maxBatchItems < 1 || maxBatchItems > L.MAX_BATCH_ITEMS) {
    throw bad(`params.max_batch_items must be 1..=${L.MAX_BATCH_ITEMS}`);
  }
  const names = new Set();
  const keys = new Set();
  const unique = (name, key) => {
    if (names.has(name)) throw bad(`duplicate name ${name}`);
    names.add(name);
    if (keys.has(hex(key))) throw bad(`duplicate key ${hex(key)}`);
    keys.add(hex(key));
  };
  for (const v of validators) {
    if (!isName(v.name)) throw bad(`invalid validator name ${JSON.stringify(v.name)}`);
    if (utf8Len(v.address) > L.MAX_ADDRESS) throw bad(`validator ${v.name} address too long`);
    if (!checkGenesisKey(v.key)) throw bad(`validator ${v.name} key is not a valid ed25519 key`);
    if (v.power < 1n || v.power > L.MAX_POWER) throw bad(`validator ${v.name} power must be 1..=${L.MAX_POWER}`);
    unique(v.name, v.key);
  }
  for (const c of clients) {
    if (!isName(c.name)) throw bad(`invalid client name ${JSON.stringify(c.name)}`);
    if (!checkGenesisKey(c.key)) throw bad(`client ${c.name} key is not a valid ed25519 key`);
    unique(c.name, c.key);
  }

  const w = new Writer().u16(version).str(chainName).u64(timeMs).u32(validators.length);
  for (const v of validators) w.str(v.name).u8(VALIDATOR_ROLES[v.role]).fixed(v.key).u64(v.power).str(v.address);
  w.u32(clients.length);
  for (const c of clients) w.str(c.name).u8(CLIENT_ROLES[c.role]).fixed(c.key);
  w.u32(maxBlockTxs).u32(maxBatchItems);
  if (logInHeader) w.u8(1);
  const canonical = w.bytes();
  const vw = new Writer().u32(validators.length);
  for (const v of validators) vw.str(v.name).u8(VALIDATOR_ROLES[v.role]).fixed(v.key).u64(v.power);
  const totalPower = validators.reduce((s, v) => s + v.power, 0n);
  return {
    chainName,
    logInHeader,
    genesisTimeMs: timeMs,
    validators,
    clients,
    canonical,
    chainId: tagged(TAG.GENESIS, canonical),
    validatorsHash: tagged(TAG.VALIDATORS, vw.bytes()),
    totalPower,
    quorumPower: (totalPower * 2n) / 3n + 1n,
  };
}

// ---------------------------------------------------------------------------------------------
// Transaction bodies (section 4)

export function encodeBody(body) {
  const w = new Writer().fixed(body.sender).u64(body.nonce);
  const p = body.payload;
  switch (p.kind) {
    case 'deposit':
      w.u8(1).u8(p.commitmentKind === 'sha256' ? 1 : 2).fixed(p.commitment);
      w.str(p.media_type).u64(p.byte_length).str(p.label).str(p.reference);
      break;
    case 'batch_deposit':
      w.u8(2).fixed(p.root).u32(p.count).u8(p.salted ? 1 : 0).str(p.media_type).str(p.label).str(p.reference);
      break;
    case 'open_case':
      w.u8(3).str(p.case_id).str(p.title);
      break;
    case 'attach_deposit':
      w.u8(4).str(p.case_id).fixed(p.deposit_id);
      break;
    case 'record_verification':
      w.u8(5).str(p.case_id).fixed(p.deposit_id).u8(p.valid ? 1 : 0).fixed(p.report).str(p.note);
      break;
    case 'close_case':
      w.u8(6).str(p.case_id).str(p.note);
      break;
    case 'registry': {
      w.u8(7);
      const a = p.action;
      if (a.op === 'add') w.u8(1).str(a.name).u8(CLIENT_ROLES[a.role]).fixed(a.key);
      else if (a.op === 'remove') w.u8(2).fixed(a.key);
      else w.u8(3).fixed(a.old).fixed(a.new);
      w.u32(p.approvals.length);
      for (const ap of p.approvals) w.u16(ap.validator).fixed(ap.signature);
      break;
    }
    case 'membership':
      w.u8(8).u64(p.seq).fixed(encodeChange(p.change)).u32(p.approvals.length);
      for (const ap of p.approvals) w.fixed(ap.key).fixed(ap.signature);
      break;
    default:
      throw new Error(`unknown kind ${p.kind}`);
  }
  return w.bytes();
}

/** A membership change (4.1.2). */
export function encodeChange(c) {
  const w = new Writer();
  if (c.op === 'add') {
    const v = c.validator;
    w.u8(1).str(v.name).u8(VALIDATOR_ROLES[v.role]).fixed(v.key).u64(v.power).str(v.address);
  } else if (c.op === 'remove') w.u8(2).fixed(c.key);
  else if (c.op === 'rotate') w.u8(3).fixed(c.old).fixed(c.new);
  else w.u8(4).fixed(c.key).u64(c.power);
  return w.bytes();
}

function decodeChange(r) {
  const op = r.u8();
  if (op === 1) {
    const name = r.str('validator name', L.MAX_NAME);
    const role = r.u8();
    if (!VALIDATOR_ROLE_NAMES[role]) throw r.fail(`unknown validator role tag ${role}`);
    return { op: 'add', validator: { name, role: VALIDATOR_ROLE_NAMES[role], key: r.take(32), power: r.u64(),
      address: r.str('validator address', L.MAX_ADDRESS) } };
  }
  if (op === 2) return { op: 'remove', key: r.take(32) };
  if (op === 3) return { op: 'rotate', old: r.take(32), new: r.take(32) };
  if (op === 4) return { op: 'power', key: r.take(32), power: r.u64() };
  throw r.fail(`unknown membership change tag ${op}`);
}

function parseChange(co) {
  const op = co.str('op');
  let c;
  if (op === 'add') {
    const vo = co.obj('validator');
    const role = vo.str('role');
    if (!has(VALIDATOR_ROLES, role)) throw new Unusable(`${vo.where}.role: unknown role ${JSON.stringify(role)}`);
    c = { op, validator: { name: vo.str('name'), role, key: vo.hex('key', 32), power: vo.int('power', 'u64'),
      address: vo.str('address') } };
    vo.done();
  } else if (op === 'remove') c = { op, key: co.hex('key', 32) };
  else if (op === 'rotate') c = { op, old: co.hex('old', 32), new: co.hex('new', 32) };
  else if (op === 'power') c = { op, key: co.hex('key', 32), power: co.int('power', 'u64') };
  else throw new Unusable(`${co.where}.op: unknown op ${JSON.stringify(op)}`);
  co.done();
  return c;
}

function decodeBody(r) {
  const sender = r.take(32);
  const nonce = r.u64();
  const tag = r.u8();
  let p;
  if (tag === 1) {
    const ct = r.u8();
    if (ct !== 1 && ct !== 2) throw r.fail(`unknown commitment tag ${ct}`);
    p = { kind: 'deposit', commitmentKind: ct === 1 ? 'sha256' : 'salted', commitment: r.take(32),
      media_type: r.str('media_type', L.MAX_MEDIA_TYPE), byte_length: r.u64(), label: r.str('label', L.MAX_LABEL),
      reference: r.str('reference', L.MAX_REFERENCE) };
  } else if (tag === 2) {
    p = { kind: 'batch_deposit', root: r.take(32), count: r.u32(), salted: r.bool('salted'),
      media_type: r.str('media_type', L.MAX_MEDIA_TYPE), label: r.str('label', L.MAX_LABEL),
      reference: r.str('reference', L.MAX_REFERENCE) };
  } else if (tag === 3) {
    p = { kind: 'open_case', case_id: r.str('case_id', L.MAX_CASE_ID), title: r.str('title', L.MAX_NOTE) };
  } else if (tag === 4) {
    p = { kind: 'attach_deposit', case_id: r.str('case_id', L.MAX_CASE_ID), deposit_id: r.take(32) };
  } else if (tag === 5) {
    p = { kind: 'record_verification', case_id: r.str('case_id', L.MAX_CASE_ID), deposit_id: r.take(32),
      valid: r.bool('valid'), report: r.take(32), note: r.str('note', L.MAX_NOTE) };
  } else if (tag === 6) {
    p = { kind: 'close_case', case_id: r.str('case_id', L.MAX_CASE_ID), note: r.str('note', L.MAX_NOTE) };
  } else if (tag === 7) {
    const op = r.u8();
    let action;
    if (op === 1) {
      const name = r.str('client name', L.MAX_NAME);
      const role = r.u8();
      if (!CLIENT_ROLE_NAMES[role]) throw r.fail(`unknown client role tag ${role}`);
      action = { op: 'add', name, role: CLIENT_ROLE_NAMES[role], key: r.take(32) };
    } else if (op === 2) {
      action = { op: 'remove', key: r.take(32) };
    } else if (op === 3) {
      action = { op: 'rotate', old: r.take(32), new: r.take(32) };
    } else {
      throw r.fail(`unknown registry action tag ${op}`);
    }
    const approvals = r.list('approvals', L.MAX_APPROVALS, () => ({ validator: r.u16(), signature: r.take(64) }));
    p = { kind: 'registry', action, approvals };
  } else if (tag === 8) {
    const seq = r.u64();
    const change = decodeChange(r);
    const approvals = r.list('approvals', L.MAX_APPROVALS, () => ({ key: r.take(32), signature: r.take(64) }));
    p = { kind: 'membership', seq, change, approvals };
  } else {
    throw r.fail(`unknown payload tag ${tag}`);
  }
  return { sender, nonce, payload: p };
}

function parseBody(o) {
  const sender = o.hex('sender', 32);
  const nonce = o.int('nonce', 'u64');
  // Unknown keys are rejected at every level, in every payload kind (doc 7.1).
  const po = o.obj('payload');
  const kind = po.str('kind');
  let p;
  if (kind === 'deposit') {
    const co = po.obj('commitment');
    const keys = Object.keys(co.v);
    if (keys.length !== 1 || (keys[0] !== 'sha256' && keys[0] !== 'salted')) {
      throw new Unusable(`${co.where}: expected exactly one of \`sha256\`, \`salted\``);
    }
    p = { kind, commitmentKind: keys[0], commitment: co.hex(keys[0], 32), media_type: po.str('media_type'),
      byte_length: po.int('byte_length', 'u64'), label: po.str('label'), reference: po.str('reference') };
  } else if (kind === 'batch_deposit') {
    p = { kind, root: po.hex('root', 32), count: po.int('count', 'u32'), salted: po.bool('salted'),
      media_type: po.str('media_type'), label: po.str('label'), reference: po.str('reference') };
  } else if (kind === 'open_case') {
    p = { kind, case_id: po.str('case_id'), title: po.str('title') };
  } else if (kind === 'attach_deposit') {
    p = { kind, case_id: po.str('case_id'), deposit_id: po.hex('deposit_id', 32) };
  } else if (kind === 'record_verification') {
    p = { kind, case_id: po.str('case_id'), deposit_id: po.hex('deposit_id', 32), valid: po.bool('valid'),
      report: po.hex('report', 32), note: po.str('note') };
  } else if (kind === 'close_case') {
    p = { kind, case_id: po.str('case_id'), note: po.str('note') };
  } else if (kind === 'registry') {
    const ao = po.obj('action');
    const op = ao.str('op');
    let action;
    if (op === 'add') {
      const role = ao.str('role');
      if (!has(CLIENT_ROLES, role)) throw new Unusable(`${ao.where}.role: unknown role ${JSON.stringify(role)}`);
      action = { op, name: ao.str('name'), role, key: ao.hex('key', 32) };
    } else if (op === 'remove') {
      action = { op, key: ao.hex('key', 32) };
    } else if (op === 'rotate') {
      action = { op, old: ao.hex('old', 32), new: ao.hex('new', 32) };
    } else {
      throw new Unusable(`${ao.where}.op: unknown op ${JSON.stringify(op)}`);
    }
    ao.done();
    const approvals = po.list('approvals').map((x, i) => {
      const ap = new Obj(x, `${po.where}.approvals[${i}]`);
      const a = { validator: ap.int('validator', 'u16'), signature: ap.hex('signature', 64) };
      ap.done();
      return a;
    });
    p = { kind, action, approvals };
  } else if (kind === 'membership') {
    const seq = po.int('seq', 'u64');
    const change = parseChange(po.obj('change'));
    const approvals = po.list('approvals').map((x, i) => {
      const ap = new Obj(x, `${po.where}.approvals[${i}]`);
      const a = { key: ap.hex('key', 32), signature: ap.hex('signature', 64) };
      ap.done();
      return a;
    });
    p = { kind, seq, change, approvals };
  } else {
    throw new Unusable(`${po.where}.kind: unknown payload kind ${JSON.stringify(kind)}`);
  }
  po.done();
  return { sender, nonce, payload: p };
}

/** Code points no free-text field may hold (4.1): controls, bidirectional formatting,
 * separators, invisible characters, as inclusive ranges. */
const FORBIDDEN_RANGES = [
  [0x00, 0x1f], [0x7f, 0x9f],
  [0x061c, 0x061c], [0x200e, 0x200f], [0x202a, 0x202e], [0x2066, 0x2069],
  [0x2028, 0x2029],
  [0x00ad, 0x00ad], [0x180e, 0x180e], [0x200b, 0x200d], [0x2060, 0x2065], [0x206a, 0x206f],
  [0xfeff, 0xfeff], [0xfff9, 0xfffb], [0xe0000, 0xe007f],
];
const MT_NAME = "[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}";
const MT_TOKEN = "[A-Za-z0-9!#$%&'*+.^_`|~-]+";
const MEDIA_TYPE_RE = new RegExp(`^${MT_NAME}/${MT_NAME}(?: *; *${MT_TOKEN}=${MT_TOKEN})*$`);

/** A free-text field (4.1): `lo` to `hi` UTF-8 bytes and no forbidden code point. */
function textErr(name, s, lo, hi) {
  const n = utf8Len(s);
  if (n < lo || n > hi) return `invalid ${name}: ${n} bytes, it must be ${lo} to ${hi}`;
  let i = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if (FORBIDDEN_RANGES.some(([a, b]) => a <= c && c <= b)) {
      return `invalid ${name}: forbidden code point U+${c.toString(16).toUpperCase().padStart(4, '0')} at character ${i}`;
    }
    i += 1;
  }
  return null;
}

/** TxBody::check_fields (4.1). Returns null or the reason. */
export function checkFields(body) {
  const p = body.payload;
  const nameErr = (what, s) =>
    isName(s) ? null : `invalid ${what}: ${JSON.stringify(s)} must be 1 to 64 characters of A-Z a-z 0-9 . _ -`;
  switch (p.kind) {
    case 'deposit':
    case 'batch_deposit': {
      const mt = p.media_type;
      const m = utf8Len(mt) < 1 || utf8Len(mt) > L.MAX_MEDIA_TYPE || !MEDIA_TYPE_RE.test(mt)
        ? `invalid media_type ${JSON.stringify(mt)}` : null;
      const e = m || textErr('label', p.label, 1, L.MAX_LABEL) || textErr('reference', p.reference, 0, L.MAX_REFERENCE);
      if (e) return e;
      if (p.kind === 'batch_deposit' && (p.count < 1 || p.count > L.MAX_BATCH_ITEMS)) {
        return `invalid batch count: ${p.count} is not in 1..=${L.MAX_BATCH_ITEMS}`;
      }
      return null;
    }
    case 'open_case':
      return nameErr('case_id', p.case_id) || textErr('title', p.title, 0, L.MAX_NOTE);
    case 'attach_deposit':
      return nameErr('case_id', p.case_id);
    case 'record_verification':
    case 'close_case':
      return nameErr('case_id', p.case_id) || textErr('note', p.note, 0, L.MAX_NOTE);
    case 'registry':
      if (p.action.op === 'add') {
        const e = nameErr('client name', p.action.name);
        if (e) return e;
      }
      return p.approvals.length > L.MAX_APPROVALS ? `approvals is too large: ${p.approvals.length} > limit ${L.MAX_APPROVALS}` : null;
    case 'membership':
      if (p.change.op === 'add') {
        const e = nameErr('validator name', p.change.validator.name);
        if (e) return e;
      }
      return p.approvals.length > L.MAX_APPROVALS ? `approvals is too large: ${p.approvals.length} > limit ${L.MAX_APPROVALS}` : null;
    default:
      return `unknown kind ${p.kind}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Header, vote, certificate (section 5)

// Header version 4 and receipt version 3 (a chain whose genesis sets `log_in_header`: headers
// commit to the deposit log, receipts carry `log_index` and `log_proof`, check `log_position`).
export const HEADER_VERSION_LOG = 4;
export const RECEIPT_VERSION_LOG = 3;
const HEADER_VERSIONS = [2, 3, 4];

const HEADER_FIELDS = [['version', 'u16'], ['chain_id', 32], ['height', 'u64'], ['prev_hash', 32],
  ['last_commit_hash', 32], ['tx_root', 32], ['tx_count', 'u32'], ['state_root', 32], ['validators_hash', 32],
  ['next_validators_hash', 32], ['log_size', 'u64'], ['log_root', 32], ['time_ms', 'u64'], ['proposer', 32]];
/** 5.1: versions 3 and 4 have `next_validators_hash` after `validators_hash`, version 4 then
 * `log_size` and `log_root`; version 2 has none of them. */
const HEADER_SKIP = { 2: ['next_validators_hash', 'log_size', 'log_root'], 3: ['log_size', 'log_root'], 4: [] };
const headerFields = (version) => HEADER_FIELDS.filter(([n]) => !(HEADER_SKIP[version] || []).includes(n));
const unsupportedHeader = (v) => new Unusable(`unsupported header version ${v} (this verifier reads versions 2, 3 and 4)`);

export function encodeHeader(h) {
  const w = new Writer();
  for (const [name, ty] of headerFields(h.version)) {
    if (typeof ty === 'number') w.fixed(h[name]);
    else w[ty](h[name]);
  }
  return w.bytes();
}

function decodeHeader(r) {
  const h = { version: r.u16() };
  if (!HEADER_VERSIONS.includes(h.version)) throw unsupportedHeader(h.version);
  for (const [name, ty] of headerFields(h.version).slice(1)) h[name] = typeof ty === 'number' ? r.take(ty) : r[ty]();
  return h;
}

function parseHeader(ho) {
  const version = ho.int('version', 'u16');
  if (!HEADER_VERSIONS.includes(version)) throw unsupportedHeader(version);
  const h = {};
  for (const [name, ty] of headerFields(version)) h[name] = typeof ty === 'number' ? ho.hex(name, ty) : ho.int(name, ty);
  ho.done();
  return h;
}

function parseCertificate(co) {
  const cert = { height: co.int('height', 'u64'), round: co.int('round', 'u32'), block_hash: co.hex('block_hash', 32),
    sigs: co.list('sigs').map((x, i) => {
      const so = new Obj(x, `${co.where}.sigs[${i}]`);
      const s = { validator: so.int('validator', 'u16'), time_ms: so.int('time_ms', 'u64'),
        signature: so.hex('signature', 64) };
      so.done();
      return s;
    }) };
  co.done();
  return cert;
}

// ---------------------------------------------------------------------------------------------
// Membership history entries (section 13.1)

export function encodeEntry(e) {
  const w = new Writer().fixed(encodeBody(e.tx)).fixed(e.signature).u32(e.tx_index).u32(e.tx_proof.length);
  for (const h of e.tx_proof) w.fixed(h);
  return w.fixed(encodeHeader(e.header)).fixed(encodeCertificate(e.certificate)).bytes();
}

function decodeEntry(r) {
  return { tx: decodeBody(r), signature: r.take(64), tx_index: r.u32(),
    tx_proof: r.list('transaction proof', L.MAX_PROOF_LEN, () => r.take(32)), header: decodeHeader(r),
    certificate: decodeCertificate(r) };
}

function parseEntry(o) {
  const to = o.obj('tx');
  const tx = parseBody(to);
  to.done();
  const e = { tx, signature: o.hex('signature', 64), tx_index: o.int('tx_index', 'u32'),
    tx_proof: o.list('tx_proof').map((h, i) => parseHex(h, 32, `${o.where}.tx_proof[${i}]`)),
    header: parseHeader(o.obj('header')), certificate: parseCertificate(o.obj('certificate')) };
  o.done();
  return e;
}

export const blockHash = (h) => tagged(TAG.HEADER, encodeHeader(h));

export function voteSigningHash(chainId, height, round, blockHashBytes, timeMs, validator) {
  const w = new Writer().fixed(chainId).u64(height).u32(round).u8(2).u8(1).fixed(blockHashBytes).u64(timeMs).u16(validator);
  return tagged(TAG.VOTE, w.bytes());
}

function encodeCertificate(c) {
  const w = new Writer().u64(c.height).u32(c.round).fixed(c.block_hash).u32(c.sigs.length);
  for (const s of c.sigs) w.u16(s.validator).u64(s.time_ms).fixed(s.signature);
  return w.bytes();
}

function decodeCertificate(r) {
  const height = r.u64();
  const round = r.u32();
  const bh = r.take(32);
  const sigs = r.list('certificate signatures', L.MAX_VALIDATORS, () => ({ validator: r.u16(), time_ms: r.u64(),
    signature: r.take(64) }));
  return { height, round, block_hash: bh, sigs };
}

// ---------------------------------------------------------------------------------------------
// Receipt (section 7)

export function encodeReceipt(rc) {
  const w = new Writer().fixed(MAGIC).u16(rc.version).fixed(rc.chain_id).fixed(rc.deposit_id);
  w.fixed(encodeBody(rc.tx)).fixed(rc.signature);
  if (rc.item === null) w.u8(0);
  else {
    w.u8(1).u32(rc.item.index).fixed(rc.item.commitment).u32(rc.item.proof.length);
    for (const h of rc.item.proof) w.fixed(h);
  }
  w.u32(rc.tx_index).u32(rc.tx_proof.length);
  for (const h of rc.tx_proof) w.fixed(h);
  w.fixed(encodeHeader(rc.header)).fixed(encodeCertificate(rc.certificate));
  if (rc.salt === null) w.u8(0);
  else w.u8(1).fixed(rc.salt);
  if (rc.version === 2 || rc.version === RECEIPT_VERSION_LOG) {
    w.u32(rc.membership.length);
    for (const e of rc.membership) w.fixed(encodeEntry(e));
  }
  if (rc.version === RECEIPT_VERSION_LOG) {
    w.u64(rc.log_index).u32(rc.log_proof.length);
    for (const h of rc.log_proof) w.fixed(h);
  }
  return w.bytes();
}

const unsupportedReceipt = (v) => new Unusable(`unsupported receipt version ${v} (this verifier reads versions 1, 2 and 3)`);

function decodeReceipt(data) {
  const r = new Reader(data, 'receipt');
  if (!equal(r.take(8), MAGIC)) throw new Unusable('cannot decode receipt: missing CURIARCT magic');
  const version = r.u16();
  if (version !== 1 && version !== 2 && version !== RECEIPT_VERSION_LOG) throw unsupportedReceipt(version);
  const chainId = r.take(32);
  const depositId = r.take(32);
  const start = r.pos;
  const tx = decodeBody(r);
  const bodyBytes = data.slice(start, r.pos);
  const signature = r.take(64);
  const item = r.option(() => ({ index: r.u32(), commitment: r.take(32),
    proof: r.list('batch proof', L.MAX_PROOF_LEN, () => r.take(32)) }));
  const txIndex = r.u32();
  const txProof = r.list('transaction proof', L.MAX_PROOF_LEN, () => r.take(32));
  const header = decodeHeader(r);
  const certificate = decodeCertificate(r);
  const salt = r.option(() => r.take(32));
  let membership = [];
  if (version === 2 || version === RECEIPT_VERSION_LOG) {
    membership = r.list('membership history', L.MAX_RECEIPT_HISTORY, () => decodeEntry(r));
    if (membership.length === 0 && version === 2) {
      throw new Unusable('cannot decode receipt: a version 2 receipt carries at least one membership history entry');
    }
  }
  let logIndex = null;
  let logProof = null;
  if (version === RECEIPT_VERSION_LOG) {
    logIndex = r.u64();
    logProof = r.list('log proof', L.MAX_PROOF_LEN, () => r.take(32));
  }
  r.finish();
  return { version, chain_id: chainId, deposit_id: depositId, tx, signature, item, tx_index: txIndex,
    tx_proof: txProof, header, certificate, salt, bodyBytes, membership, log_index: logIndex, log_proof: logProof };
}

function parseReceiptJson(data) {
  const v = parseJson(data, 'receipt', false);
  // An upgraded receipt's `log` member (15.4) is not part of the receipt; this page does not
  // check it (`curia verify --policy` does).
  if (isObj(v) && has(v, 'log')) delete v.log;
  const fmt = isObj(v) && has(v, 'format') ? v.format : undefined;
  if (fmt !== 'curia-receipt') {
    throw new Unusable(`bad receipt JSON: format is ${typeof fmt === 'string' ? JSON.stringify(fmt) : 'missing'}, expected "curia-receipt"`);
  }
  const ver = v.version instanceof JNum ? v.version.uint() : null;
  if (ver === null) throw new Unusable('bad receipt JSON: missing version');
  if (ver !== 1n && ver !== 2n && ver !== 3n) throw unsupportedReceipt(ver);
  if (ver === 3n && !(has(v, 'log_index') && has(v, 'log_proof'))) {
    throw new Unusable('bad receipt JSON: a version 3 receipt carries log_index and log_proof');
  }
  if (ver !== 3n && (has(v, 'log_index') || has(v, 'log_proof'))) {
    throw new Unusable('bad receipt JSON: only a version 3 receipt carries log_index and log_proof');
  }
  if (ver === 1n && has(v, 'membership')) throw new Unusable('bad receipt JSON: a version 1 receipt carries no membership history');
  if (ver === 2n && !has(v, 'membership')) throw new Unusable('bad receipt JSON: missing membership history');
  const o = new Obj(v, 'receipt');
  o.str('format');
  const version = o.int('version', 'u16');
  const chainId = o.hex('chain_id', 32);
  const depositId = o.hex('deposit_id', 32);
  const to = o.obj('tx');
  const tx = parseBody(to);
  to.done();
  const signature = o.hex('signature', 64);
  let item = null;
  if (o.raw('item', true) !== null) {
    const io = o.obj('item');
    item = { index: io.int('index', 'u32'), commitment: io.hex('commitment', 32),
      proof: io.list('proof').map((h, i) => parseHex(h, 32, `receipt.item.proof[${i}]`)) };
    io.done();
  }
  const txIndex = o.int('tx_index', 'u32');
  const txProof = o.list('tx_proof').map((h, i) => parseHex(h, 32, `receipt.tx_proof[${i}]`));
  const header = parseHeader(o.obj('header'));
  const cert = parseCertificate(o.obj('certificate'));
  const saltV = o.raw('salt', true);
  const salt = saltV === null ? null : parseHex(saltV, 32, 'receipt.salt');
  let membership = [];
  // 7.1: `membership` is required in version 2, optional in version 3 (an empty array reads as none).
  if (version === 2 || (version === RECEIPT_VERSION_LOG && has(v, 'membership'))) {
    const list = o.list('membership');
    if (list.length > L.MAX_RECEIPT_HISTORY) throw new Unusable(`receipt.membership: more than ${L.MAX_RECEIPT_HISTORY} entries`);
    membership = list.map((x, i) => parseEntry(new Obj(x, `receipt.membership[${i}]`)));
  }
  let logIndex = null;
  let logProof = null;
  if (version === RECEIPT_VERSION_LOG) {
    logIndex = o.int('log_index', 'u64');
    logProof = o.list('log_proof').map((h, i) => parseHex(h, 32, `receipt.log_proof[${i}]`));
  }
  o.done();
  const rc = { version, chain_id: chainId, deposit_id: depositId, tx, signature, item, tx_index: txIndex,
    tx_proof: txProof, header, certificate: cert, salt, membership, log_index: logIndex, log_proof: logProof };
  // 7.3 step 4: round trip through the canonical form, so every binary limit applies.
  const back = decodeReceipt(encodeReceipt(rc));
  rc.bodyBytes = back.bodyBytes;
  return rc;
}

/** Read a receipt: binary if it starts with CURIARCT, else JSON (7.2, 7.3). */
export function parseReceipt(data) {
  if (data.length > L.MAX_RECEIPT_BYTES) {
    throw new Unusable(`receipt is too large: ${data.length} > ${L.MAX_RECEIPT_BYTES}`);
  }
  if (data.length >= 8 && equal(data.subarray(0, 8), MAGIC)) return decodeReceipt(data);
  return parseReceiptJson(data);
}

/** The validator-set hash (3.3) of a list of validators. */
export function validatorsHash(validators) {
  const vw = new Writer().u32(validators.length);
  for (const v of validators) vw.str(v.name).u8(VALIDATOR_ROLES[v.role]).fixed(v.key).u64(v.power);
  return tagged(TAG.VALIDATORS, vw.bytes());
}

export { hex };
