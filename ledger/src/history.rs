//! Membership history verifiable offline (receipt format section 13).
//!
//! A history entry proves one committed membership change: the membership transaction (body and
//! signature), the header of the block `h` that committed it, that block's commit certificate
//! (signed by the set in force at `h`) and the inclusion proof of the transaction in the header's
//! `tx_root`. A verifier that trusts only the genesis walks the entries in order
//! ([`walk_history`]); for entry number `i` (0-based) it checks, naming the first failure:
//! - `history_chain`: the header is for the genesis's chain;
//! - `history_order`: `h >= 1` and `h` is not below the previous entry's height;
//! - `history_tx`: the transaction is a `membership` transaction whose fields pass
//!   `check_fields` and whose `seq` is `i`;
//! - `history_validators`: the header's `validators_hash` is the hash of the set in force at `h`;
//! - `history_certificate`: the certificate is for the header's hash and height and is valid
//!   (sorted, known indices, quorum, strict signatures) under the set in force at `h`;
//! - `history_inclusion`: the envelope's leaf is at `tx_index` of `tx_count` under `tx_root`;
//! - `history_approvals`: distinct members of the set in force at `h`, strict signatures over
//!   `tagged("curia/v1/membership", chain_id || u64 i || change)`, more than two thirds of its
//!   power;
//! - `history_change`: the change keeps the rules of [`crate::membership`] applied to the set
//!   left by the entries before it (fresh acceptable key, not a genesis client's key, at least 4
//!   validators and a court left, ...).
//!
//! The change is then in force from `h + 2`. A receipt embeds the entries whose change is in
//! force at its height (and only those); a receipt before any change embeds none and is receipt
//! version 1, byte for byte as before. The history of a whole chain is served by
//! `GET /v1/membership` and written by `curia membership export` as a [`MembershipHistory`]
//! (JSON, or canonical bytes starting with `CURIAMEM`).

use std::collections::HashSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::block::{CommitCertificate, Header};
use crate::codec::{Canonical, Reader, Writer};
use crate::crypto::{PublicKey, Signature};
use crate::genesis::ChainSpec;
use crate::hash::Hash;
use crate::membership::{check_member_approvals, MemberEntry, Membership, ValidatorSet};
use crate::merkle::{self, MAX_PROOF_LEN};
use crate::tx::{Payload, Transaction, TxBody};
use crate::{LedgerError, Result};

/// Most entries a receipt embeds (receipts are also bounded to 1 MiB in all).
pub const MAX_RECEIPT_HISTORY: usize = 1024;
/// Most entries a membership history document holds.
pub const MAX_HISTORY_ENTRIES: usize = 65_536;
/// Most bytes of a membership history document (JSON or binary).
pub const MAX_HISTORY_BYTES: usize = 64 << 20;
/// Magic bytes that start a binary membership history.
pub const HISTORY_MAGIC: &[u8; 8] = b"CURIAMEM";
/// The `format` field of a JSON membership history.
pub const HISTORY_FORMAT: &str = "curia-membership";
/// Membership history document version.
pub const HISTORY_VERSION: u16 = 1;

/// One committed membership change with the proof that the chain committed it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryEntry {
    /// The membership transaction's body (payload `membership`: seq, change, approvals).
    pub tx: TxBody,
    /// The registrar's signature over the transaction ID (part of the envelope leaf).
    pub signature: Signature,
    /// Index of the transaction in its block.
    pub tx_index: u32,
    /// RFC 6962 inclusion proof of the envelope leaf in `header.tx_root`.
    pub tx_proof: Vec<Hash>,
    /// Header of the block that committed the change.
    pub header: Header,
    /// That block's commit certificate.
    pub certificate: CommitCertificate,
}

impl HistoryEntry {
    /// The entry for transaction `tx_index` of a block, with its header, certificate and proof.
    pub fn new(
        tx: &Transaction,
        tx_index: u32,
        tx_proof: Vec<Hash>,
        header: Header,
        certificate: CommitCertificate,
    ) -> Self {
        HistoryEntry { tx: tx.body.clone(), signature: tx.signature, tx_index, tx_proof, header, certificate }
    }

    /// The committed change as the state keeps it.
    pub fn member_entry(&self) -> Option<MemberEntry> {
        match &self.tx.payload {
            Payload::Membership { change, .. } => {
                Some(MemberEntry { height: self.header.height, change: change.clone() })
            }
            _ => None,
        }
    }
}

impl Canonical for HistoryEntry {
    const WHAT: &'static str = "membership history entry";
    fn encode(&self, w: &mut Writer) {
        self.tx.encode(w);
        self.signature.encode(w);
        w.u32(self.tx_index);
        w.list(&self.tx_proof, |w, h| h.encode(w));
        self.header.encode(w);
        self.certificate.encode(w);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        Ok(HistoryEntry {
            tx: TxBody::decode(r)?,
            signature: Signature::decode(r)?,
            tx_index: r.u32()?,
            tx_proof: r.list("transaction proof", MAX_PROOF_LEN, Hash::decode)?,
            header: Header::decode(r)?,
            certificate: CommitCertificate::decode(r)?,
        })
    }
}

/// Why a history was refused: the entry (0-based), the failure's name and the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryFailure {
    /// Index of the refused entry.
    pub index: usize,
    /// The failure's name (`history_chain`, `history_order`, `history_tx`, `history_validators`,
    /// `history_certificate`, `history_inclusion`, `history_approvals`, `history_change`).
    pub code: &'static str,
    /// What was found.
    pub reason: String,
}

impl std::fmt::Display for HistoryFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "entry {}: {}: {}", self.index, self.code, self.reason)
    }
}

impl From<HistoryFailure> for LedgerError {
    fn from(f: HistoryFailure) -> Self {
        LedgerError::MembershipHistory { index: f.index, code: f.code, reason: f.reason }
    }
}

/// Walk `entries` from the genesis set of `spec` (module docs), returning the history they
/// prove or the first failure.
pub fn walk_history(spec: &ChainSpec, entries: &[HistoryEntry]) -> std::result::Result<Membership, HistoryFailure> {
    let genesis_clients: HashSet<PublicKey> = spec.genesis.clients.iter().map(|c| c.key).collect();
    let mut m = Membership::new(spec.validator_set.clone());
    let mut prev_height = 0u64;
    for (i, e) in entries.iter().enumerate() {
        let fail = |code: &'static str, reason: String| HistoryFailure { index: i, code, reason };
        let h = e.header.height;
        if e.header.chain_id != spec.chain_id {
            return Err(fail("history_chain", format!("header is for chain {}", e.header.chain_id)));
        }
        if h == 0 || h < prev_height {
            return Err(fail("history_order", format!("height {h} is below the previous entry's {prev_height}")));
        }
        let (seq, change, approvals) = match &e.tx.payload {
            Payload::Membership { seq, change, approvals } => (*seq, change, approvals),
            p => return Err(fail("history_tx", format!("a {} transaction is not a membership change", p.kind()))),
        };
        e.tx.check_fields().map_err(|err| fail("history_tx", err.to_string()))?;
        if seq != i as u64 {
            return Err(fail("history_tx", format!("change number {seq} at place {i} of the history")));
        }
        let in_force: Arc<ValidatorSet> = m.set_at(h).clone();
        if e.header.validators_hash != in_force.hash {
            return Err(fail(
                "history_validators",
                format!(
                    "header {h} names validator set {}, the set in force is {}",
                    e.header.validators_hash, in_force.hash
                ),
            ));
        }
        let block_hash = e.header.hash();
        let cert = &e.certificate;
        if cert.block_hash != block_hash {
            return Err(fail(
                "history_certificate",
                format!("certificate is for block {}, header hashes to {block_hash}", cert.block_hash),
            ));
        }
        if cert.height != h {
            return Err(fail(
                "history_certificate",
                format!("certificate is for height {}, header is {h}", cert.height),
            ));
        }
        cert.verify_in(&spec.chain_id, &in_force).map_err(|err| fail("history_certificate", err.to_string()))?;
        let tx = Transaction { body: e.tx.clone(), signature: e.signature, items: Vec::new() };
        merkle::verify_inclusion(
            &tx.leaf_hash(),
            e.tx_index as u64,
            e.header.tx_count as u64,
            &e.tx_proof,
            &e.header.tx_root,
        )
        .map_err(|err| fail("history_inclusion", err.to_string()))?;
        check_member_approvals(&spec.chain_id, &in_force, seq, change, approvals)
            .map_err(|err| fail("history_approvals", err.to_string()))?;
        m.push(MemberEntry { height: h, change: change.clone() }, &|k| Ok(genesis_clients.contains(k)))
            .map_err(|err| fail("history_change", format!("{} ({})", err, err.code())))?;
        prev_height = h;
    }
    Ok(m)
}

/// The entries of `history` a receipt at `height` embeds: those whose change is in force at
/// `height` (committed at `h` with `h + 2 <= height`).
pub fn entries_for_height(history: &[HistoryEntry], height: u64) -> Vec<HistoryEntry> {
    history.iter().take_while(|e| e.header.height + crate::membership::ACTIVATION_DELAY <= height).cloned().collect()
}

/// A chain's whole membership history, as `GET /v1/membership` serves it and
/// `curia membership export` writes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MembershipHistory {
    /// Always `curia-membership`.
    pub format: String,
    /// Document version (1).
    pub version: u16,
    /// The chain.
    pub chain_id: Hash,
    /// Every committed change, in order.
    pub entries: Vec<HistoryEntry>,
}

impl MembershipHistory {
    /// The document for `entries` of chain `chain_id`.
    pub fn new(chain_id: Hash, entries: Vec<HistoryEntry>) -> Self {
        MembershipHistory { format: HISTORY_FORMAT.into(), version: HISTORY_VERSION, chain_id, entries }
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("history serializes")
    }

    /// Parse either form (binary if it starts with `CURIAMEM`), enforcing every limit.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_HISTORY_BYTES {
            return Err(LedgerError::TooLarge {
                what: "membership history",
                len: bytes.len() as u64,
                max: MAX_HISTORY_BYTES as u64,
            });
        }
        if bytes.starts_with(HISTORY_MAGIC) {
            return MembershipHistory::from_bytes(bytes);
        }
        let bad = |reason: String| LedgerError::Json { what: "membership history", reason };
        let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        match v.get("format").and_then(|f| f.as_str()) {
            Some(HISTORY_FORMAT) => {}
            other => return Err(bad(format!("format is {other:?}, expected \"{HISTORY_FORMAT}\""))),
        }
        match v.get("version").and_then(|f| f.as_u64()) {
            Some(1) => {}
            Some(n) => {
                return Err(LedgerError::UnsupportedVersion { what: "membership history", found: n, supported: 1 })
            }
            None => return Err(bad("missing version".into())),
        }
        let h: MembershipHistory = serde_json::from_value(v).map_err(|e| bad(e.to_string()))?;
        let back = MembershipHistory::from_bytes(&h.to_bytes())?;
        if back != h {
            return Err(bad("not representable canonically".into()));
        }
        Ok(h)
    }
}

impl Canonical for MembershipHistory {
    const WHAT: &'static str = "membership history";
    fn encode(&self, w: &mut Writer) {
        w.fixed(HISTORY_MAGIC);
        w.u16(self.version);
        self.chain_id.encode(w);
        w.list(&self.entries, |w, e| e.encode(w));
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        if r.take(8)? != HISTORY_MAGIC {
            return Err(LedgerError::Decode { what: "membership history", reason: "missing CURIAMEM magic".into() });
        }
        let version = r.u16()?;
        if version != HISTORY_VERSION {
            return Err(LedgerError::UnsupportedVersion {
                what: "membership history",
                found: version as u64,
                supported: HISTORY_VERSION as u64,
            });
        }
        Ok(MembershipHistory {
            format: HISTORY_FORMAT.into(),
            version,
            chain_id: Hash::decode(r)?,
            entries: r.list("membership history entries", MAX_HISTORY_ENTRIES, HistoryEntry::decode)?,
        })
    }
}
