//! Offline verification of a receipt against evidence and a genesis.
//!
//! Checks, each reported with pass/fail and detail (the verdict is valid only if all pass):
//! - `format`: the receipt is well formed (version, shape of the transaction, batch fields);
//! - `chain`: the receipt, its header and its transaction are for the chain the genesis founds;
//! - `digest`: the evidence's SHA-256 (salted with the receipt's salt for a salted deposit)
//!   equals the deposited commitment, and its length equals the deposited length;
//! - `deposit_id`: the deposit ID follows from the transaction (and batch index);
//! - `signature`: the depositor's ed25519 signature over the transaction ID verifies, and the key
//!   is not registered in the genesis under a role other than platform;
//! - `batch`: for a batch item, the item's proof leads to the signed batch root;
//! - `inclusion`: the transaction's proof leads to the header's transaction root;
//! - `log_position` (only for a receipt of a chain whose headers commit to the deposit log,
//!   version 3): the deposit's log leaf (`SHA-256(0x00 || deposit ID || commitment hash)`),
//!   with `log_proof` at `log_index`, yields the header's `log_root` in a tree of `log_size`
//!   leaves;
//! - `membership` (only for a receipt that embeds membership history, version 2): the history
//!   walks from the genesis set (see [`crate::history`]), and every entry is in force at the
//!   receipt's height;
//! - `certificate`: the certificate is for this header's hash and height, its validator-set hash is
//!   the hash of the set in force at its height (the genesis set, or the set the embedded history
//!   leads to), and validators with more than two thirds of that set's voting power signed it;
//! - `time`: the commit time (median of the signed clocks) is not before the genesis time.

use serde::Serialize;

use crate::block::HEADER_VERSION_LOG;
use crate::genesis::{ChainSpec, ClientRole};
use crate::hash::Hash;
use crate::history::walk_history;
use crate::membership::ValidatorSet;
use crate::receipt::{Receipt, RECEIPT_VERSION, RECEIPT_VERSION_LOG, RECEIPT_VERSION_MEMBERSHIP};
use crate::tx::{salted_commitment, Commitment, Payload, Transaction};
use crate::{merkle, LedgerError};

/// What the judge holds: the evidence itself, or only its SHA-256.
#[derive(Clone, Copy, Debug)]
pub enum Evidence<'a> {
    /// The evidence bytes.
    Bytes(&'a [u8]),
    /// The evidence's SHA-256 digest (the length cannot be checked).
    Digest(Hash),
    /// The evidence's SHA-256 and its length in bytes, computed by the caller (for example
    /// streamed from a file too large to hold in memory). Checked exactly as [`Evidence::Bytes`].
    Hashed {
        /// SHA-256 of the evidence bytes.
        sha256: Hash,
        /// Number of evidence bytes.
        len: u64,
    },
}

/// One check's result.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Check {
    /// Check name (`chain`, `digest`, ...).
    pub name: &'static str,
    /// Passed?
    pub ok: bool,
    /// What was found.
    pub detail: String,
}

/// A verification report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// `valid` or `invalid`.
    pub verdict: &'static str,
    /// Deposit ID claimed by the receipt.
    pub deposit_id: Hash,
    /// Block height.
    pub height: u64,
    /// Commit time, ms since the Unix epoch (median of signed clocks).
    pub commit_time_ms: u64,
    /// Commit time as UTC text.
    pub commit_time: String,
    /// Name of the depositor in the genesis, if registered there.
    pub depositor: Option<String>,
    /// Readings of time-service validators that signed.
    pub timesvc: Vec<TimeReading>,
    /// Every check, in order.
    pub checks: Vec<Check>,
}

/// A time-service validator's signed clock.
#[derive(Clone, Debug, Serialize)]
pub struct TimeReading {
    /// Validator name.
    pub validator: String,
    /// Its clock, ms since the Unix epoch.
    pub time_ms: u64,
    /// As UTC text.
    pub time: String,
}

impl Report {
    /// Whether every check passed.
    pub fn is_valid(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }
    /// The first failed check.
    pub fn first_failure(&self) -> Option<&Check> {
        self.checks.iter().find(|c| !c.ok)
    }
}

/// Verify `receipt` for `evidence` against the chain founded by `spec`.
pub fn verify_receipt(evidence: Evidence<'_>, receipt: &Receipt, spec: &ChainSpec) -> Report {
    let mut checks = Vec::new();
    let mut check = |name: &'static str, r: Result<String, String>| {
        let (ok, detail) = match r {
            Ok(d) => (true, d),
            Err(d) => (false, d),
        };
        checks.push(Check { name, ok, detail });
    };
    let tx = Transaction { body: receipt.tx.clone(), signature: receipt.signature, items: Vec::new() };

    check("format", check_format(receipt, spec));

    check(
        "chain",
        if receipt.chain_id != spec.chain_id {
            Err(format!("receipt is for chain {}, genesis founds {}", receipt.chain_id, spec.chain_id))
        } else if receipt.header.chain_id != spec.chain_id {
            Err(format!("header is for chain {}", receipt.header.chain_id))
        } else {
            Ok(format!("chain {} ({})", spec.chain_id, spec.genesis.chain_name))
        },
    );

    check("digest", check_digest(evidence, receipt));

    let computed = receipt.computed_deposit_id();
    check(
        "deposit_id",
        if computed == receipt.deposit_id {
            Ok(format!("{computed}"))
        } else {
            Err(format!("receipt names deposit {}, its transaction gives {}", receipt.deposit_id, computed))
        },
    );

    let tx_id = receipt.tx.id(&spec.chain_id);
    let sender = receipt.tx.sender;
    let in_genesis = spec.genesis.clients.iter().find(|c| c.key == sender);
    check(
        "signature",
        match receipt.tx.sender.verify("transaction", &tx_id, &receipt.signature) {
            Err(e) => Err(e.to_string()),
            Ok(()) => match in_genesis {
                _ if spec.validator_index(&sender).is_some() => {
                    Err(format!("signed by {sender}, a validator key: validators do not deposit"))
                }
                Some(c) if c.role != ClientRole::Platform => {
                    Err(format!("signed by {}, whose role is {}, not platform", c.name, c.role.as_str()))
                }
                Some(c) => Ok(format!("signed by platform {} ({})", c.name, sender)),
                None => Ok(format!(
                    "signed by {sender}, a key registered on chain after genesis (an audit shows its registration)"
                )),
            },
        },
    );

    if let Payload::BatchDeposit(b) = &receipt.tx.payload {
        check(
            "batch",
            match &receipt.item {
                None => Err("batch deposit without item proof".into()),
                Some(item) => merkle::verify_inclusion(
                    &merkle::leaf_hash(&item.commitment.0),
                    item.index as u64,
                    b.count as u64,
                    &item.proof,
                    &b.root,
                )
                .map(|()| format!("item {} of {} in batch root {}", item.index, b.count, b.root))
                .map_err(|e| e.to_string()),
            },
        );
    }

    let h = &receipt.header;
    check(
        "inclusion",
        merkle::verify_inclusion(
            &tx.leaf_hash(),
            receipt.tx_index as u64,
            h.tx_count as u64,
            &receipt.tx_proof,
            &h.tx_root,
        )
        .map(|()| {
            format!("transaction {} of {} in block {} (root {})", receipt.tx_index, h.tx_count, h.height, h.tx_root)
        })
        .map_err(|e| e.to_string()),
    );

    if receipt.version == RECEIPT_VERSION_LOG {
        check("log_position", check_log_position(receipt));
    }

    // The set in force at the receipt's height: the genesis set, or the one the embedded
    // history leads to (None if the history is refused).
    let set: Option<std::sync::Arc<ValidatorSet>> = if receipt.membership.is_empty() {
        Some(spec.validator_set.clone())
    } else {
        let walked = walk_history(spec, &receipt.membership).map_err(|f| f.to_string()).and_then(|m| {
            match receipt
                .membership
                .iter()
                .position(|e| e.header.height + crate::membership::ACTIVATION_DELAY > h.height)
            {
                Some(i) => Err(format!(
                    "entry {i}: history_order: committed at {}, in force from {}, after the receipt's height {}",
                    receipt.membership[i].header.height,
                    receipt.membership[i].header.height + crate::membership::ACTIVATION_DELAY,
                    h.height
                )),
                None => Ok(m),
            }
        });
        let set = walked.as_ref().ok().map(|m| m.set_at(h.height).clone());
        check(
            "membership",
            walked.map(|m| {
                let s = m.set_at(h.height);
                format!(
                    "{} change(s) from the genesis set, each certified and approved by the set in force; {} validators in force at height {} (set {})",
                    m.len(),
                    s.len(),
                    h.height,
                    s.hash
                )
            }),
        );
        set
    };

    let cert = &receipt.certificate;
    let block_hash = h.hash();
    let genesis_set = receipt.membership.is_empty();
    check(
        "certificate",
        if cert.block_hash != block_hash {
            Err(format!("certificate is for block {}, header hashes to {}", cert.block_hash, block_hash))
        } else if cert.height != h.height {
            Err(format!("certificate is for height {}, header is {}", cert.height, h.height))
        } else {
            match &set {
                None => Err("the validator set in force is unknown: the membership history was refused".into()),
                Some(_) if genesis_set && h.validators_hash != spec.validators_hash => {
                    Err("header's validator-set hash is not the genesis validators'".into())
                }
                Some(s) if h.validators_hash != s.hash => Err(format!(
                    "header's validator-set hash {} is not the hash {} of the set the membership history leads to",
                    h.validators_hash, s.hash
                )),
                Some(s) => cert
                    .verify_in(&spec.chain_id, s)
                    .map(|p| {
                        format!(
                            "{} of {} validators signed block {} ({} of {} voting power)",
                            cert.sigs.len(),
                            s.len(),
                            block_hash,
                            p,
                            s.total_power
                        )
                    })
                    .map_err(|e| e.to_string()),
            }
        },
    );

    let commit_time_ms = cert.commit_time_ms();
    check(
        "time",
        if cert.sigs.is_empty() {
            Err("no signed clocks".into())
        } else if commit_time_ms < spec.genesis.genesis_time_ms {
            Err(format!("commit time {} is before the genesis time", format_utc(commit_time_ms)))
        } else {
            Ok(format!("committed at {} (median of {} signed clocks)", format_utc(commit_time_ms), cert.sigs.len()))
        },
    );

    let timesvc = cert
        .timesvc_readings_in(set.as_deref().unwrap_or(&spec.validator_set))
        .into_iter()
        .map(|(validator, time_ms)| TimeReading { validator, time_ms, time: format_utc(time_ms) })
        .collect();
    let valid = checks.iter().all(|c| c.ok);
    Report {
        verdict: if valid { "valid" } else { "invalid" },
        deposit_id: receipt.deposit_id,
        height: h.height,
        commit_time_ms,
        commit_time: format_utc(commit_time_ms),
        depositor: in_genesis.map(|c| c.name.clone()),
        timesvc,
        checks,
    }
}

fn check_log_position(receipt: &Receipt) -> Result<String, String> {
    let h = &receipt.header;
    let (Some(index), Some(proof), Some(size), Some(root)) =
        (receipt.log_index, receipt.log_proof.as_ref(), h.log_size, h.log_root.as_ref())
    else {
        return Err("the receipt or its header lacks the deposit-log fields".into());
    };
    let commitment = receipt.commitment_hash().ok_or_else(|| "receipt holds no deposit".to_string())?;
    let leaf = crate::deposit_log::leaf_hash(&receipt.deposit_id, &commitment);
    merkle::verify_inclusion(&leaf, index, size, proof, root)
        .map(|()| {
            format!("deposit is leaf {index} of {size} in the deposit log (root {root}) named by block {}", h.height)
        })
        .map_err(|e| format!("deposit log leaf {index} of {size}: {e}"))
}

fn check_format(receipt: &Receipt, spec: &ChainSpec) -> Result<String, String> {
    let log_header = receipt.header.version == HEADER_VERSION_LOG;
    match (receipt.version, receipt.membership.is_empty()) {
        (RECEIPT_VERSION, true) | (RECEIPT_VERSION_MEMBERSHIP, false) | (RECEIPT_VERSION_LOG, _) => {}
        (RECEIPT_VERSION, false) => return Err("a version 1 receipt carries membership history".into()),
        (RECEIPT_VERSION_MEMBERSHIP, true) => return Err("a version 2 receipt without membership history".into()),
        (v, _) => {
            return Err(format!(
                "version {v} is not {RECEIPT_VERSION}, {RECEIPT_VERSION_MEMBERSHIP} or {RECEIPT_VERSION_LOG}"
            ))
        }
    }
    if (receipt.version == RECEIPT_VERSION_LOG) != log_header {
        return Err(format!(
            "a version {} receipt with a version {} header (version {RECEIPT_VERSION_LOG} receipts go with version {HEADER_VERSION_LOG} headers)",
            receipt.version, receipt.header.version
        ));
    }
    if log_header != spec.genesis.log_in_header {
        return Err(format!(
            "header version {} on a chain whose genesis {} the deposit log in headers",
            receipt.header.version,
            if spec.genesis.log_in_header { "puts" } else { "does not put" }
        ));
    }
    if (receipt.version == RECEIPT_VERSION_LOG) != (receipt.log_index.is_some() && receipt.log_proof.is_some()) {
        return Err(format!(
            "a version {} receipt {} log_index and log_proof",
            receipt.version,
            if receipt.version == RECEIPT_VERSION_LOG { "lacks" } else { "carries" }
        ));
    }
    receipt.tx.check_fields().map_err(|e| e.to_string())?;
    match (&receipt.tx.payload, &receipt.item) {
        (Payload::Deposit(_), None) => Ok("single deposit".into()),
        (Payload::BatchDeposit(b), Some(i)) if (i.index as u64) < b.count as u64 => {
            Ok(format!("batch item {}", i.index))
        }
        (Payload::BatchDeposit(b), Some(i)) => {
            Err(format!("item index {} is outside the batch of {}", i.index, b.count))
        }
        (Payload::Deposit(_), Some(_)) => Err("single deposit carries a batch item".into()),
        (Payload::BatchDeposit(_), None) => Err("batch deposit without its item".into()),
        (p, _) => Err(format!("a {} transaction is not a deposit", p.kind())),
    }
}

fn check_digest(evidence: Evidence<'_>, receipt: &Receipt) -> Result<String, String> {
    let (digest, len) = match evidence {
        Evidence::Bytes(b) => (Hash::sha256(b), Some(b.len() as u64)),
        Evidence::Digest(d) => (d, None),
        Evidence::Hashed { sha256, len } => (sha256, Some(len)),
    };
    let (salted, committed, deposited_len) = match (&receipt.tx.payload, &receipt.item) {
        (Payload::Deposit(d), _) => (d.commitment.is_salted(), d.commitment.hash(), Some(d.byte_length)),
        (Payload::BatchDeposit(b), Some(i)) => (b.salted, i.commitment, None),
        _ => return Err("receipt holds no deposit".into()),
    };
    if !salted && receipt.salt.is_some() {
        return Err("receipt carries a salt but the deposit is not salted".into());
    }
    let computed = if salted {
        match &receipt.salt {
            Some(s) => salted_commitment(s, &digest),
            None => return Err("deposit is salted and the receipt carries no salt".into()),
        }
    } else {
        digest
    };
    if computed != committed {
        return Err(format!(
            "evidence SHA-256 {digest}{} does not match the deposited {}",
            if salted { " (salted)" } else { "" },
            committed
        ));
    }
    if let (Some(have), Some(want)) = (len, deposited_len) {
        if have != want {
            return Err(format!("evidence is {have} bytes, the deposit says {want}"));
        }
    }
    Ok(format!("SHA-256 {digest}{}", if salted { " matches the salted commitment" } else { " matches" }))
}

/// Check that `commitment` commits to `digest` (with `salt` if salted).
pub fn commitment_matches(commitment: &Commitment, digest: &Hash, salt: Option<&[u8; 32]>) -> Result<(), LedgerError> {
    let ok = match (commitment, salt) {
        (Commitment::Sha256(h), _) => h == digest,
        (Commitment::Salted(h), Some(s)) => *h == salted_commitment(s, digest),
        (Commitment::Salted(_), None) => false,
    };
    if ok {
        Ok(())
    } else {
        Err(LedgerError::Invalid { what: "commitment", reason: "does not match the evidence".into() })
    }
}

/// Format ms since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ` (proleptic Gregorian, UTC).
pub fn format_utc(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z", rem / 3600, rem % 3600 / 60, rem % 60, ms % 1000)
}
