// The verification procedure of docs/receipt-format.md section 8, check by check, with the
// check names and detail texts of the Rust verifier (ledger/src/verify.rs).
//
// Every check runs, even after a failure; the verdict is valid iff all pass; the first failed
// check is the headline reason. `batch` is reported only for batch deposits, `log_position` only for
// version 3 receipts (a chain whose headers commit to the deposit log), `membership` only for
// receipts that embed membership history (version 2 or 3, section 13). The evidence is
// given as its SHA-256 digest and, when the bytes were hashed, their length (a digest alone
// leaves the length unchecked, like `curia verify --digest`).

import { sha256 } from '@noble/hashes/sha2.js';
import { Unusable } from './json.js';
import { tagged, TAG, hex, equal, leafHash, verifyInclusion, concat, Writer } from './codec.js';
import { verifySignature } from './ed25519.js';
import { parseGenesis, parseReceipt, checkFields, blockHash, voteSigningHash, HEADER_VERSION_LOG,
  RECEIPT_VERSION_LOG } from './chain.js';
import { walkHistory, verifyCertificateIn, makeSet, ACTIVATION_DELAY } from './history.js';

/** `YYYY-MM-DDTHH:MM:SS.mmmZ` for ms (BigInt) since the epoch, proleptic Gregorian (as Rust). */
export function formatUtc(ms) {
  ms = BigInt(ms);
  const secs = ms / 1000n;
  const days = secs / 86400n;
  const rem = secs % 86400n;
  const z = days + 719468n;
  const era = z / 146097n;
  const doe = z - era * 146097n;
  const yoe = (doe - doe / 1460n + doe / 36524n - doe / 146096n) / 365n;
  const doy = doe - (365n * yoe + yoe / 4n - yoe / 100n);
  const mp = (5n * doy + 2n) / 153n;
  const d = doy - (153n * mp + 2n) / 5n + 1n;
  const m = mp < 10n ? mp + 3n : mp - 9n;
  const y = yoe + era * 400n + (m <= 2n ? 1n : 0n);
  const p = (v, n) => String(v).padStart(n, '0');
  return `${p(y, 4)}-${p(m, 2)}-${p(d, 2)}T${p(rem / 3600n, 2)}:${p((rem % 3600n) / 60n, 2)}:${p(rem % 60n, 2)}.${p(ms % 1000n, 3)}Z`;
}

const txId = (chainId, bodyBytes) => tagged(TAG.TX, chainId, bodyBytes);
const batchItemId = (id, index) => tagged(TAG.BATCH_ITEM, id, new Writer().u32(index).bytes());

/** Commit time (5.4): the lower median of the signed clocks; 0 for an empty certificate. */
export function commitTimeMs(cert) {
  const t = cert.sigs.map((s) => s.time_ms).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return t.length ? t[Math.floor((t.length - 1) / 2)] : 0n;
}

/** Certificate validity (5.3) under the genesis set (the spec holds its validators and powers). */
export function verifyCertificate(c, spec) {
  return verifyCertificateIn(c, spec.chainId, spec, voteSigningHash);
}

/**
 * Verify a parsed receipt against a chain spec. `evidence` is `{digest: Uint8Array(32), length:
 * BigInt | null}`. Returns the report: {verdict, valid, checks: [{name, ok, detail}], ...}.
 */
export function verifyReceipt(evidence, rc, spec) {
  const checks = [];
  const check = (name, err, okDetail) => checks.push({ name, ok: err === null, detail: err === null ? okDetail : err });
  const p = rc.tx.payload;
  const body = rc.bodyBytes;

  // 1. format
  let err = null;
  const isLog = rc.version === RECEIPT_VERSION_LOG;
  const logHeader = rc.header.version === HEADER_VERSION_LOG;
  if (rc.version !== 1 && rc.version !== 2 && !isLog) err = `version ${rc.version} is not 1, 2 or 3`;
  else if (!isLog && (rc.version === 2) !== (rc.membership.length > 0)) {
    err = rc.version === 1 ? 'a version 1 receipt carries membership history' : 'a version 2 receipt without membership history';
  } else if (isLog !== logHeader) {
    err = `a version ${rc.version} receipt with a version ${rc.header.version} header (version 3 receipts go with version 4 headers)`;
  } else if (logHeader !== spec.logInHeader) {
    err = `header version ${rc.header.version} on a chain whose genesis ${spec.logInHeader ? 'puts' : 'does not put'} the deposit log in headers`;
  } else if (isLog !== (rc.log_index !== null && rc.log_proof !== null)) {
    err = `a version ${rc.version} receipt ${isLog ? 'lacks' : 'carries'} log_index and log_proof`;
  } else {
    err = checkFields(rc.tx);
    if (err === null) {
      if (p.kind === 'deposit') err = rc.item !== null ? 'single deposit carries a batch item' : null;
      else if (p.kind === 'batch_deposit') {
        if (rc.item === null) err = 'batch deposit without its item';
        else if (rc.item.index >= p.count) err = `item index ${rc.item.index} is outside the batch of ${p.count}`;
      } else err = `a ${p.kind} transaction is not a deposit`;
    }
  }
  check('format', err, rc.item === null ? 'single deposit' : `batch item ${rc.item.index}`);

  // 2. chain
  if (!equal(rc.chain_id, spec.chainId)) err = `receipt is for chain ${hex(rc.chain_id)}, genesis founds ${hex(spec.chainId)}`;
  else if (!equal(rc.header.chain_id, spec.chainId)) err = `header is for chain ${hex(rc.header.chain_id)}`;
  else err = null;
  check('chain', err, `chain ${hex(spec.chainId)} (${spec.chainName})`);

  // 3. digest
  const digest = evidence.digest;
  let okDetail = '';
  let salted;
  let committed;
  let length = null;
  err = null;
  if (p.kind === 'deposit') [salted, committed, length] = [p.commitmentKind === 'salted', p.commitment, p.byte_length];
  else if (p.kind === 'batch_deposit' && rc.item !== null) [salted, committed] = [p.salted, rc.item.commitment];
  else err = 'receipt holds no deposit';
  if (err === null) {
    if (!salted && rc.salt !== null) err = 'receipt carries a salt but the deposit is not salted';
    else if (salted && rc.salt === null) err = 'deposit is salted and the receipt carries no salt';
    else {
      const computed = salted ? tagged(TAG.SALTED, rc.salt, digest) : digest;
      if (!equal(computed, committed)) {
        err = `evidence SHA-256 ${hex(digest)}${salted ? ' (salted)' : ''} does not match the deposited ${hex(committed)}`;
      } else if (length !== null && evidence.length !== null && evidence.length !== length) {
        err = `evidence is ${evidence.length} bytes, the deposit says ${length}`;
      }
      okDetail = `SHA-256 ${hex(digest)}${salted ? ' matches the salted commitment' : ' matches'}`;
    }
  }
  check('digest', err, okDetail);

  // 4. deposit_id, with the receipt's chain ID
  const own = txId(rc.chain_id, body);
  const computedId = rc.item === null ? own : batchItemId(own, rc.item.index);
  check('deposit_id',
    equal(computedId, rc.deposit_id) ? null : `receipt names deposit ${hex(rc.deposit_id)}, its transaction gives ${hex(computedId)}`,
    hex(computedId));

  // 5. signature, with the genesis's chain ID
  const id = txId(spec.chainId, body);
  const sender = rc.tx.sender;
  const client = spec.clients.find((c) => equal(c.key, sender)) || null;
  const sigErr = verifySignature(sender, id, rc.signature);
  if (sigErr) err = `bad signature by ${hex(sender)} on transaction (${sigErr})`;
  else if (spec.validators.some((v) => equal(v.key, sender))) err = `signed by ${hex(sender)}, a validator key: validators do not deposit`;
  else if (client !== null && client.role !== 'platform') err = `signed by ${client.name}, whose role is ${client.role}, not platform`;
  else err = null;
  check('signature', err, client !== null ? `signed by platform ${client.name} (${hex(sender)})`
    : `signed by ${hex(sender)}, a key registered on chain after genesis (an audit shows its registration)`);

  // 6. batch, only for batch deposits
  if (p.kind === 'batch_deposit') {
    if (rc.item === null) check('batch', 'batch deposit without item proof', '');
    else {
      const e = verifyInclusion(leafHash(rc.item.commitment), rc.item.index, p.count, rc.item.proof, p.root);
      check('batch', e ? `Merkle proof rejected: ${e}` : null, `item ${rc.item.index} of ${p.count} in batch root ${hex(p.root)}`);
    }
  }

  // 7. inclusion
  const h = rc.header;
  const e7 = verifyInclusion(leafHash(concat(body, rc.signature)), rc.tx_index, h.tx_count, rc.tx_proof, h.tx_root);
  check('inclusion', e7 ? `Merkle proof rejected: ${e7}` : null,
    `transaction ${rc.tx_index} of ${h.tx_count} in block ${h.height} (root ${hex(h.tx_root)})`);

  // 7a. log_position (version 3 only): the deposit's leaf SHA-256(0x00 || deposit_id || commitment)
  // (14.1) at log_index in the deposit log of log_size leaves named by the header (log_root).
  let logPosition = null;
  if (isLog) {
    const commitment = p.kind === 'deposit' ? p.commitment : p.kind === 'batch_deposit' && rc.item !== null ? rc.item.commitment : null;
    const hasFields = rc.log_index !== null && rc.log_proof !== null && h.log_size !== undefined && h.log_root !== undefined;
    if (!hasFields) err = 'the receipt or its header lacks the deposit-log fields';
    else if (commitment === null) err = 'receipt holds no deposit';
    else {
      const e = verifyInclusion(leafHash(concat(rc.deposit_id, commitment)), rc.log_index, h.log_size, rc.log_proof, h.log_root);
      err = e ? `deposit log leaf ${rc.log_index} of ${h.log_size}: Merkle proof rejected: ${e}` : null;
    }
    if (hasFields) logPosition = { index: rc.log_index, size: h.log_size, root: hex(h.log_root), ok: err === null };
    check('log_position', err, hasFields
      ? `deposit is leaf ${rc.log_index} of ${h.log_size} in the deposit log (root ${hex(h.log_root)}) named by block ${h.height}` : '');
  }

  // 8. membership (version 2, or version 3 with history): the set in force at the receipt's height (13.3)
  let set = makeSet(spec.validators);
  const genesisSet = rc.membership.length === 0;
  if (!genesisSet) {
    const walked = walkHistory(spec, rc.membership, voteSigningHash);
    err = walked.error;
    if (err === null) {
      const late = rc.membership.findIndex((e) => e.header.height + ACTIVATION_DELAY > h.height);
      if (late >= 0) {
        const eh = rc.membership[late].header.height;
        err = `entry ${late}: history_order: committed at ${eh}, in force from ${eh + ACTIVATION_DELAY}, after the receipt's height ${h.height}`;
      }
    }
    set = err === null ? walked.history.setAt(h.height) : null;
    check('membership', err, set === null ? '' : `${rc.membership.length} change(s) from the genesis set, each certified and approved by the set in force; ${set.validators.length} validators in force at height ${h.height} (set ${hex(set.hash)})`);
  }

  // 9. certificate
  const c = rc.certificate;
  const bh = blockHash(h);
  let power = 0n;
  if (!equal(c.block_hash, bh)) err = `certificate is for block ${hex(c.block_hash)}, header hashes to ${hex(bh)}`;
  else if (c.height !== h.height) err = `certificate is for height ${c.height}, header is ${h.height}`;
  else if (set === null) err = 'the validator set in force is unknown: the membership history was refused';
  else if (genesisSet && !equal(h.validators_hash, spec.validatorsHash)) err = "header's validator-set hash is not the genesis validators'";
  else if (!equal(h.validators_hash, set.hash)) {
    err = `header's validator-set hash ${hex(h.validators_hash)} is not the hash ${hex(set.hash)} of the set the membership history leads to`;
  } else [err, power] = genesisSet ? verifyCertificate(c, spec) : verifyCertificateIn(c, spec.chainId, set, voteSigningHash);
  const vs = set ? set.validators : spec.validators;
  check('certificate', err, `${c.sigs.length} of ${vs.length} validators signed block ${hex(bh)} (${power} of ${set ? set.totalPower : spec.totalPower} voting power)`);

  // 10. time
  const ct = commitTimeMs(c);
  if (c.sigs.length === 0) err = 'no signed clocks';
  else if (ct < spec.genesisTimeMs) err = `commit time ${formatUtc(ct)} is before the genesis time`;
  else err = null;
  check('time', err, `committed at ${formatUtc(ct)} (median of ${c.sigs.length} signed clocks)`);

  const timesvc = c.sigs
    .filter((s) => s.validator < vs.length && vs[s.validator].role === 'timesvc')
    .map((s) => ({ validator: vs[s.validator].name, time_ms: s.time_ms, time: formatUtc(s.time_ms) }));
  const signers = c.sigs
    .filter((s) => s.validator < vs.length)
    .map((s) => ({ name: vs[s.validator].name, role: vs[s.validator].role, time_ms: s.time_ms }));
  const valid = checks.every((x) => x.ok);
  return {
    verdict: valid ? 'valid' : 'invalid',
    valid,
    deposit_id: hex(rc.deposit_id),
    height: h.height,
    commit_time_ms: ct,
    commit_time: formatUtc(ct),
    depositor: client ? client.name : null,
    sender: hex(sender),
    timesvc,
    signers,
    log_position: logPosition,
    checks,
    firstFailure: checks.find((x) => !x.ok) || null,
  };
}

/**
 * Everything from the three inputs: `{code: 0|1|2, report?, spec?, receipt?, error?}` as
 * `curia verify` exits. `evidence` is `{digest, length}` or raw bytes (Uint8Array).
 */
export function verifyAll(evidence, receiptBytes, genesisBytes) {
  let spec;
  let rc;
  try {
    spec = parseGenesis(genesisBytes);
    rc = parseReceipt(receiptBytes);
  } catch (e) {
    if (e instanceof Unusable) return { code: 2, error: e.message, stage: spec ? 'receipt' : 'genesis' };
    return { code: 2, error: `internal error: ${e && e.message}`, stage: spec ? 'receipt' : 'genesis' };
  }
  const ev = evidence instanceof Uint8Array ? { digest: sha256(evidence), length: BigInt(evidence.length) } : evidence;
  const report = verifyReceipt(ev, rc, spec);
  return { code: report.valid ? 0 : 1, report, spec, receipt: rc };
}
