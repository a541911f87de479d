// Precommit signatures whose R has a small-order component: R = r·B + T, with T the point of
// order 2, and S = r + k·a for k = SHA-512(R || A || M) mod L, made with a golden validator's test
// key (seed = SHA-256("curia-test-key/" || name)). The cofactorless equation (docs/receipt-format.md
// 6.4) fails (S·B − k·A = r·B ≠ R); the cofactored equation of 6.3, the rule of receipts, holds
// (8·T is the identity), and R is neither of small order nor non-canonically encoded, so every
// Curia verifier accepts them (the node's batch too, whatever its coefficients).

import { createHash } from 'node:crypto';
import { ed25519 } from '../../web/node_modules/@noble/curves/ed25519.js';
import { voteSigningHash, parseGenesis } from '../../web/src/chain.js';
import { hex, fromHex } from '../../web/src/codec.js';

const Point = ed25519.Point;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const le = (b) => b.reduceRight((n, x) => (n << 8n) | BigInt(x), 0n);
const le32 = (n) => Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn));

function secretScalar(name) {
  const seed = createHash('sha256').update(`curia-test-key/${name}`).digest();
  const h = createHash('sha512').update(seed).digest();
  h[0] &= 248;
  h[31] &= 127;
  h[31] |= 64;
  return le(h.subarray(0, 32)) % L;
}

/** `count` variants of `receipt` (golden, parsed JSON) with validator 0's precommit re-made so. */
export function mixedOrderReceipts(receipt, genesisBytes, count) {
  const spec = parseGenesis(genesisBytes);
  const c = receipt.certificate;
  const s0 = c.sigs[0];
  const v = spec.validators[s0.validator];
  const a = secretScalar(v.name);
  const msg = voteSigningHash(spec.chainId, BigInt(c.height), c.round, fromHex(c.block_hash), BigInt(s0.time_ms), s0.validator);
  const T = Point.fromBytes(fromHex('ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'), true);
  const out = [];
  for (let i = 0; i < count; i++) {
    const r = le(createHash('sha512').update(`mixed-order r ${i}`).digest()) % L;
    const R = Point.BASE.multiply(r).add(T).toBytes();
    const k = le(createHash('sha512').update(Buffer.concat([R, v.key, msg])).digest()) % L;
    const sig = new Uint8Array(64);
    sig.set(R, 0);
    sig.set(le32((r + k * a) % L), 32);
    const variant = structuredClone(receipt);
    variant.certificate.sigs[0].signature = hex(sig);
    out.push(variant);
  }
  return out;
}
