// Membership history (docs/receipt-format.md section 13): walking the entries a version 2
// receipt embeds from the genesis set, naming the first failure as the Rust verifier does
// (ledger/src/history.rs): history_chain, history_order, history_tx, history_validators,
// history_certificate, history_inclusion, history_approvals, history_change.

import { tagged, TAG, hex, equal, leafHash, verifyInclusion, concat, Writer, utf8Len } from './codec.js';
import { verifySignature, checkGenesisKey } from './ed25519.js';
import { LIMITS as L, checkFields, encodeBody, encodeChange, blockHash, validatorsHash, isName } from './chain.js';

export const ACTIVATION_DELAY = 2n;
const MIN_VALIDATORS = 4;

/** A validator set with its hash and powers. */
export function makeSet(validators) {
  const totalPower = validators.reduce((s, v) => s + v.power, 0n);
  return { validators, hash: validatorsHash(validators), totalPower, quorumPower: (totalPower * 2n) / 3n + 1n };
}

/** The changes applied so far (13.2): `setAt(x)`, `latest()`, the keys ever used. */
class History {
  constructor(spec) {
    this.genesis = makeSet(spec.validators);
    this.sets = []; // [height committed, set after the change]
    this.used = new Set(spec.validators.map((v) => hex(v.key)));
  }
  latest() {
    return this.sets.length ? this.sets[this.sets.length - 1][1] : this.genesis;
  }
  setAt(x) {
    for (let i = this.sets.length - 1; i >= 0; i--) if (this.sets[i][0] + ACTIVATION_DELAY <= x) return this.sets[i][1];
    return this.genesis;
  }
  /** The set `c` leaves on the latest set, or the rule it breaks: [error|null, validators]. */
  apply(c, genesisClients) {
    const cur = this.latest().validators;
    const vs = cur.map((v) => ({ ...v }));
    const idx = (k) => cur.findIndex((v) => equal(v.key, k));
    const fresh = (k) => {
      if (!checkGenesisKey(k)) return `key ${hex(k)} is not an acceptable ed25519 key`;
      if (idx(k) >= 0) return `key ${hex(k)} is already a validator's`;
      if (this.used.has(hex(k))) return `key ${hex(k)} was a validator key before`;
      if (genesisClients.has(hex(k))) return `key ${hex(k)} is a client's key`;
      return null;
    };
    const powerOk = (p) => (p >= 1n && p <= L.MAX_POWER ? null : `power ${p} is not in 1..=${L.MAX_POWER}`);
    if (c.op === 'add') {
      const v = c.validator;
      if (!isName(v.name)) return ['invalid validator name', null];
      if (utf8Len(v.address) > L.MAX_ADDRESS) return ['validator address too long', null];
      const e = fresh(v.key) || powerOk(v.power);
      if (e) return [e, null];
      if (vs.some((o) => o.name === v.name)) return [`${v.name} is already a validator's name`, null];
      if (vs.length >= L.MAX_VALIDATORS) return ['the validator set is full', null];
      vs.push({ name: v.name, role: v.role, key: v.key, power: v.power, address: v.address });
    } else if (c.op === 'remove') {
      const i = idx(c.key);
      if (i < 0) return [`${hex(c.key)} is not a validator`, null];
      vs.splice(i, 1);
      if (vs.length < MIN_VALIDATORS) return [`the change would leave ${vs.length} validators, fewer than ${MIN_VALIDATORS}`, null];
      if (!vs.some((v) => v.role === 'court')) return ['the change would leave no court', null];
    } else if (c.op === 'rotate') {
      const i = idx(c.old);
      if (i < 0) return [`${hex(c.old)} is not a validator`, null];
      const e = fresh(c.new);
      if (e) return [e, null];
      vs[i].key = c.new;
    } else {
      const i = idx(c.key);
      if (i < 0) return [`${hex(c.key)} is not a validator`, null];
      const e = powerOk(c.power);
      if (e) return [e, null];
      vs[i].power = c.power;
    }
    return [null, vs];
  }
  push(h, c, vs) {
    this.sets.push([h, makeSet(vs)]);
    if (c.op === 'add') this.used.add(hex(c.validator.key));
    else if (c.op === 'rotate') this.used.add(hex(c.new));
  }
}

/** Certificate validity (5.3) under `set`. Returns [null or reason, signed power]. */
export function verifyCertificateIn(c, chainId, set, voteSigningHash) {
  const bad = (m) => `invalid commit certificate for height ${c.height}: ${m}`;
  let power = 0n;
  let prev = -1;
  for (const s of c.sigs) {
    if (s.validator <= prev) return [bad(`signatures not sorted by validator or repeated at index ${s.validator}`), power];
    prev = s.validator;
    if (s.validator >= set.validators.length) return [bad(`signature by unknown validator index ${s.validator}`), power];
    power += set.validators[s.validator].power;
  }
  if (power < set.quorumPower) {
    return [bad(`signed voting power ${power} is not more than two thirds of ${set.totalPower} (need ${set.quorumPower})`), power];
  }
  for (const s of c.sigs) {
    const v = set.validators[s.validator];
    const msg = voteSigningHash(chainId, c.height, c.round, c.block_hash, s.time_ms, s.validator);
    const e = verifySignature(v.key, msg, s.signature);
    if (e) return [bad(`bad signature by ${hex(v.key)} on precommit (${e})`), power];
  }
  return [null, power];
}

/** Walk `entries` from the genesis set (13.2). Returns {error: null | 'entry i: name: reason', history}. */
export function walkHistory(spec, entries, voteSigningHash) {
  const hist = new History(spec);
  const genesisClients = new Set(spec.clients.map((c) => hex(c.key)));
  let prev = 0n;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    const fail = (name, reason) => ({ error: `entry ${i}: ${name}: ${reason}`, history: hist });
    const hd = e.header;
    const c = e.certificate;
    const p = e.tx.payload;
    const h = hd.height;
    if (!equal(hd.chain_id, spec.chainId)) return fail('history_chain', `header is for chain ${hex(hd.chain_id)}`);
    if (h < 1n || h < prev) return fail('history_order', `height ${h} is below the previous entry's ${prev}`);
    if (p.kind !== 'membership') return fail('history_tx', `a ${p.kind} transaction is not a membership change`);
    const fe = checkFields(e.tx);
    if (fe) return fail('history_tx', fe);
    if (p.seq !== BigInt(i)) return fail('history_tx', `change number ${p.seq} at place ${i} of the history`);
    const inForce = hist.setAt(h);
    if (!equal(hd.validators_hash, inForce.hash)) {
      return fail('history_validators', `header ${h} names validator set ${hex(hd.validators_hash)}, the set in force is ${hex(inForce.hash)}`);
    }
    const bh = blockHash(hd);
    if (!equal(c.block_hash, bh)) return fail('history_certificate', `certificate is for block ${hex(c.block_hash)}, header hashes to ${hex(bh)}`);
    if (c.height !== h) return fail('history_certificate', `certificate is for height ${c.height}, header is ${h}`);
    const [ce] = verifyCertificateIn(c, spec.chainId, inForce, voteSigningHash);
    if (ce) return fail('history_certificate', ce);
    const ie = verifyInclusion(leafHash(concat(encodeBody(e.tx), e.signature)), e.tx_index, hd.tx_count, e.tx_proof, hd.tx_root);
    if (ie) return fail('history_inclusion', `Merkle proof rejected: ${ie}`);
    const msg = tagged(TAG.MEMBERSHIP, spec.chainId, new Writer().u64(p.seq).bytes(), encodeChange(p.change));
    const seen = new Set();
    let power = 0n;
    for (const ap of p.approvals) {
      const v = inForce.validators.find((x) => equal(x.key, ap.key));
      if (!v) return fail('history_approvals', `approval by ${hex(ap.key)}, not a member of the set in force`);
      if (seen.has(hex(ap.key))) return fail('history_approvals', `two approvals by ${hex(ap.key)}`);
      seen.add(hex(ap.key));
      const se = verifySignature(ap.key, msg, ap.signature);
      if (se) return fail('history_approvals', `bad approval signature by ${hex(ap.key)} (${se})`);
      power += v.power;
    }
    if (power < inForce.quorumPower) {
      return fail('history_approvals', `approvals hold ${power} of ${inForce.totalPower} voting power, need ${inForce.quorumPower}`);
    }
    const [ae, vs] = hist.apply(p.change, genesisClients);
    if (ae) return fail('history_change', ae);
    hist.push(h, p.change, vs);
    prev = h;
  }
  return { error: null, history: hist };
}
