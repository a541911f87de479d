// ed25519 as docs/receipt-format.md section 6 specifies it, on @noble/curves' point arithmetic.
//
// - Point decoding (6.2): little-endian, bit 255 is the sign of x, y is reduced modulo p (a
//   non-canonical y >= p is accepted), x = 0 with the sign bit set decodes as x = 0. This is
//   @noble/curves' `Point.fromBytes(bytes, zip215 = true)`.
// - Signature verification (6.3, cofactored): S < L; A decodes and is not of small order; R
//   decodes, is not of small order and is canonically encoded; and the *cofactored* equation
//   8·(S·B − k·A − R) = identity holds, with k = SHA-512(R bytes || A bytes || M) mod L over the
//   bytes as given. (noble's own `verify` with zip215 checks the cofactored equation but neither
//   small order nor R's encoding, so it is not used.)
// - The cofactorless strict rule (6.4, signed notes): steps 1-3 as above and encode(S·B − k·A)
//   == R bytes. The page verifies no notes; it is here for the tests (a subset of 6.3).
// - A genesis key (3.1) must also be canonically encoded: re-encoding the decoded point gives the
//   same 32 bytes (so y < p, and no sign bit on x = 0).

import { ed25519 } from '@noble/curves/ed25519.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { concat, equal } from './codec.js';

const Point = ed25519.Point;
export const L = 2n ** 252n + 27742317777372353535851937790883648493n;

function le(b) {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]);
  return n;
}

/** Decode a point per 6.2, or null if the bytes are not a point. */
export function decodePoint(b) {
  if (b.length !== 32) return null;
  try {
    return Point.fromBytes(b, true);
  } catch {
    return null;
  }
}

/** Whether 8·P is the identity. */
export const isSmallOrder = (p) => p.isSmallOrder();

/** Section 3.1 / 6.2: a genesis key decodes, is canonically encoded and not of small order. */
export function checkGenesisKey(b) {
  const p = decodePoint(b);
  return p !== null && !p.isSmallOrder() && equal(p.toBytes(), b);
}

/** Steps 1-3 of 6.3: the reason for a refusal, or the decoded key and R with S and k. */
function precheck(key, msg, sig) {
  if (key.length !== 32 || sig.length !== 64) return { why: 'wrong key or signature length' };
  const s = le(sig.subarray(32));
  if (s >= L) return { why: 'non-canonical S (S >= L)' };
  const a = decodePoint(key);
  if (a === null) return { why: 'key is not a curve point' };
  if (a.isSmallOrder()) return { why: 'key is of small order' };
  const rBytes = sig.subarray(0, 32);
  const r = decodePoint(rBytes);
  if (r === null) return { why: 'R is not a curve point' };
  if (r.isSmallOrder()) return { why: 'R is of small order' };
  if (!equal(r.toBytes(), rBytes)) return { why: 'R is not canonically encoded' };
  const k = le(sha512(concat(rBytes, key, msg))) % L;
  return { a, r, rBytes, s, k };
}

/** Signature verification (6.3, cofactored). Returns null if the signature is valid, else the reason. */
export function verifySignature(key, msg, sig) {
  const p = precheck(key, msg, sig);
  if (p.why) return p.why;
  const e = Point.BASE.multiplyUnsafe(p.s).subtract(p.a.multiplyUnsafe(p.k)).subtract(p.r);
  if (!e.clearCofactor().is0()) return 'signature equation does not hold';
  return null;
}

/** The cofactorless strict rule (6.4). Returns null if the signature is valid, else the reason. */
export function verifyCofactorless(key, msg, sig) {
  const p = precheck(key, msg, sig);
  if (p.why) return p.why;
  const check = Point.BASE.multiplyUnsafe(p.s).subtract(p.a.multiplyUnsafe(p.k));
  if (!equal(check.toBytes(), p.rBytes)) return 'signature equation does not hold';
  return null;
}
