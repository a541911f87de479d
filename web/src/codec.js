// Canonical binary encoding (docs/receipt-format.md section 1), tagged hashes (2.1) and
// RFC 6962 Merkle hashing and inclusion proofs (2.2, 2.4).
//
// Integers: u8/u16/u32 are JS numbers, u64 are BigInt; all big-endian, fixed width. Strings are
// a u32 byte length then UTF-8. The Reader rejects truncated input, trailing bytes, bad option
// and bool bytes, over-long strings and lists (before reading their items) and invalid UTF-8.

import { sha256 } from '@noble/hashes/sha2.js';
import { Unusable } from './json.js';

const enc = new TextEncoder();

export const utf8 = (s) => enc.encode(s);
export const utf8Len = (s) => enc.encode(s).length;

export function hex(b) {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

export function fromHex(s) {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(2 * i, 2), 16);
  return out;
}

export function concat(...parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function equal(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class Writer {
  constructor() {
    this.parts = [];
  }
  u8(v) {
    this.parts.push(Uint8Array.of(v));
    return this;
  }
  u16(v) {
    this.parts.push(Uint8Array.of((v >> 8) & 0xff, v & 0xff));
    return this;
  }
  u32(v) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v);
    this.parts.push(b);
    return this;
  }
  u64(v) {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(v));
    this.parts.push(b);
    return this;
  }
  fixed(b) {
    this.parts.push(b);
    return this;
  }
  str(s) {
    const b = utf8(s);
    return this.u32(b.length).fixed(b);
  }
  bytes() {
    return concat(...this.parts);
  }
}

export class Reader {
  constructor(buf, what) {
    this.buf = buf;
    this.pos = 0;
    this.what = what;
  }
  fail(reason) {
    return new Unusable(`cannot decode ${this.what}: ${reason} (at byte ${this.pos})`);
  }
  take(n) {
    if (this.pos + n > this.buf.length) {
      throw this.fail(`truncated: need ${n} more bytes, have ${this.buf.length - this.pos}`);
    }
    const b = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  u8() {
    return this.take(1)[0];
  }
  u16() {
    const b = this.take(2);
    return (b[0] << 8) | b[1];
  }
  u32() {
    const b = this.take(4);
    return new DataView(b.buffer, b.byteOffset).getUint32(0);
  }
  u64() {
    const b = this.take(8);
    return new DataView(b.buffer, b.byteOffset).getBigUint64(0);
  }
  bool(name) {
    const b = this.u8();
    if (b > 1) throw this.fail(`${name} byte ${b} is neither 0 nor 1`);
    return b === 1;
  }
  str(name, limit) {
    const n = this.u32();
    if (n > limit) throw this.fail(`${name} length ${n} exceeds limit ${limit}`);
    const b = this.take(n);
    try {
      return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(b);
    } catch {
      throw this.fail(`${name} is not UTF-8`);
    }
  }
  option(f) {
    const b = this.u8();
    if (b === 0) return null;
    if (b === 1) return f();
    throw this.fail(`option byte ${b} is neither 0 nor 1`);
  }
  list(name, limit, f) {
    const n = this.u32();
    if (n > limit) throw this.fail(`${name} count ${n} exceeds limit ${limit}`);
    if (n > this.buf.length - this.pos) throw this.fail(`${name} count ${n} exceeds remaining input`);
    const out = [];
    for (let i = 0; i < n; i++) out.push(f());
    return out;
  }
  finish() {
    if (this.pos !== this.buf.length) throw this.fail(`${this.buf.length - this.pos} trailing bytes`);
  }
}

// ---- hashing (section 2)

export const TAG = {
  GENESIS: 'curia/v1/genesis',
  VALIDATORS: 'curia/v1/validators',
  TX: 'curia/v1/tx',
  BATCH_ITEM: 'curia/v1/batch-item',
  SALTED: 'curia/v1/salted',
  HEADER: 'curia/v1/header',
  VOTE: 'curia/v1/vote',
  CERT: 'curia/v1/cert',
  MEMBERSHIP: 'curia/v1/membership',
};

/** tagged(tag, data) = SHA-256(u8(len(tag)) || tag || data). */
export function tagged(tag, ...parts) {
  const t = utf8(tag);
  const h = sha256.create();
  h.update(Uint8Array.of(t.length));
  h.update(t);
  for (const p of parts) h.update(p);
  return h.digest();
}

export const leafHash = (d) => sha256(concat(Uint8Array.of(0), d));
export const nodeHash = (l, r) => sha256(concat(Uint8Array.of(1), l, r));

export const MAX_PROOF_LEN = 64;

function bitLength(x) {
  let n = 0;
  while (x > 0n) {
    n++;
    x >>= 1n;
  }
  return n;
}
function popcount(x) {
  let n = 0;
  while (x > 0n) {
    n += Number(x & 1n);
    x >>= 1n;
  }
  return n;
}

/**
 * RFC 9162 2.1.3.2 inclusion proof of leaf hash `leaf` at `index` (BigInt) in a tree of `size`
 * (BigInt) leaves with root `root`. Returns null if valid, else the reason (the texts of the
 * Rust `merkle::verify_inclusion`, which checks the proof length up front as `inner + border`).
 */
export function verifyInclusion(leaf, index, size, proof, root) {
  index = BigInt(index);
  size = BigInt(size);
  if (proof.length > MAX_PROOF_LEN) {
    return `proof has ${proof.length} hashes, more than the maximum ${MAX_PROOF_LEN}`;
  }
  if (index >= size) return `index ${index} out of range for tree size ${size}`;
  const inner = bitLength(index ^ (size - 1n));
  const border = popcount(index >> BigInt(inner));
  if (proof.length !== inner + border) {
    return `proof has ${proof.length} hashes, expected ${inner + border} for leaf ${index} of ${size}`;
  }
  let acc = leaf;
  for (let i = 0; i < inner; i++) {
    acc = (index >> BigInt(i)) & 1n ? nodeHash(proof[i], acc) : nodeHash(acc, proof[i]);
  }
  for (let i = inner; i < proof.length; i++) acc = nodeHash(proof[i], acc);
  if (!equal(acc, root)) return `computed root ${hex(acc)} does not match expected root ${hex(root)}`;
  return null;
}
