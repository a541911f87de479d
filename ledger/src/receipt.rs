//! Receipts: everything a judge needs to verify a deposit offline.
//!
//! A receipt holds the deposit's transaction (body and signature, never a batch's other items),
//! for a batch item its commitment, index and proof inside the batch, the block header, the
//! transaction's inclusion proof in the header's transaction root, and the block's commit
//! certificate. It exists as versioned JSON (the form people exchange) and as canonical bytes
//! (magic `CURIARCT`, then the fields in order; see `docs/receipt-format.md`). Reading JSON
//! re-encodes it canonically and decodes it again, so every limit of the binary form applies.
//!
//! Version 1 is a receipt certified by the genesis set. Version 2 (receipt format 7 and 13) is
//! the same fields followed by the membership history entries (at least one) that take a
//! verifier from the genesis set to the set in force at the receipt's height; a version 1
//! receipt never carries the `membership` key, a version 2 receipt always does.

use serde::{Deserialize, Serialize};

use crate::block::{CommitCertificate, Header};
use crate::codec::{Canonical, Reader, Writer};
use crate::crypto::Signature;
use crate::hash::Hash;
use crate::history::{HistoryEntry, MAX_RECEIPT_HISTORY};
use crate::limits::MAX_RECEIPT_BYTES;
use crate::merkle::MAX_PROOF_LEN;
use crate::tx::{batch_item_id, Payload, TxBody};
use crate::{LedgerError, Result};

/// Receipt format version of a receipt certified by the genesis set.
pub const RECEIPT_VERSION: u16 = 1;
/// Receipt format version of a receipt that embeds membership history (section 13).
pub const RECEIPT_VERSION_MEMBERSHIP: u16 = 2;
/// Magic bytes that start a binary receipt.
pub const RECEIPT_MAGIC: &[u8; 8] = b"CURIARCT";
/// The `format` field of a JSON receipt.
pub const RECEIPT_FORMAT: &str = "curia-receipt";

/// A batch item's place in its batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchItem {
    /// Index of the item in the batch.
    pub index: u32,
    /// The item's commitment (a SHA-256 digest, or a salted commitment if the batch is salted).
    pub commitment: Hash,
    /// RFC 6962 inclusion proof of the item's leaf in the batch root.
    pub proof: Vec<Hash>,
}

/// A self-contained receipt for one deposit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// Always `curia-receipt`.
    pub format: String,
    /// Format version (1).
    pub version: u16,
    /// The chain the deposit is on.
    pub chain_id: Hash,
    /// The deposit ID.
    pub deposit_id: Hash,
    /// The signed transaction body.
    pub tx: TxBody,
    /// The sender's signature over the transaction ID.
    pub signature: Signature,
    /// For a batch item, its place in the batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<BatchItem>,
    /// Index of the transaction in its block.
    pub tx_index: u32,
    /// RFC 6962 inclusion proof of the transaction's envelope leaf in `header.tx_root`.
    pub tx_proof: Vec<Hash>,
    /// The block header.
    pub header: Header,
    /// The block's commit certificate.
    pub certificate: CommitCertificate,
    /// For a salted deposit, the salt (hex, 32 bytes), if the holder chooses to reveal it.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_salt")]
    pub salt: Option<[u8; 32]>,
    /// Version 2 only: the membership history entries in force at the receipt's height, in order
    /// (receipt format 13). Empty (and absent from JSON) in version 1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub membership: Vec<HistoryEntry>,
}

mod opt_salt {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &Option<[u8; 32]>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_str(&hex::encode(b)),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<[u8; 32]>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        s.map(|s| crate::hash::parse_hex_array(&s, "salt").map_err(serde::de::Error::custom)).transpose()
    }
}

impl Receipt {
    /// The deposit ID this receipt's transaction and item produce.
    pub fn computed_deposit_id(&self) -> Hash {
        let tx_id = self.tx.id(&self.chain_id);
        match &self.item {
            Some(item) => batch_item_id(&tx_id, item.index),
            None => tx_id,
        }
    }

    /// Whether this is a batch item.
    pub fn is_batch_item(&self) -> bool {
        matches!(self.tx.payload, Payload::BatchDeposit(_))
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("receipt serializes")
    }

    /// Parse JSON, enforcing the format, the version and every limit of the canonical form.
    pub fn from_json(bytes: &[u8]) -> Result<Receipt> {
        if bytes.len() > MAX_RECEIPT_BYTES {
            return Err(LedgerError::TooLarge {
                what: "receipt",
                len: bytes.len() as u64,
                max: MAX_RECEIPT_BYTES as u64,
            });
        }
        let v: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| LedgerError::Json { what: "receipt", reason: e.to_string() })?;
        match v.get("format").and_then(|f| f.as_str()) {
            Some(RECEIPT_FORMAT) => {}
            other => {
                return Err(LedgerError::Json {
                    what: "receipt",
                    reason: format!("format is {other:?}, expected \"{RECEIPT_FORMAT}\""),
                })
            }
        }
        let has_history = v.get("membership").is_some();
        match v.get("version").and_then(|f| f.as_u64()) {
            Some(1) if has_history => {
                return Err(LedgerError::Json {
                    what: "receipt",
                    reason: "a version 1 receipt carries no membership history".into(),
                })
            }
            Some(2) if !has_history => {
                return Err(LedgerError::Json { what: "receipt", reason: "missing membership history".into() })
            }
            Some(1) | Some(2) => {}
            Some(n) => {
                return Err(LedgerError::UnsupportedVersion {
                    what: "receipt",
                    found: n,
                    supported: RECEIPT_VERSION_MEMBERSHIP as u64,
                })
            }
            None => return Err(LedgerError::Json { what: "receipt", reason: "missing version".into() }),
        }
        let r: Receipt =
            serde_json::from_value(v).map_err(|e| LedgerError::Json { what: "receipt", reason: e.to_string() })?;
        // Round trip through the canonical form so every binary limit applies to JSON too.
        let back = Receipt::from_bytes(&r.to_bytes())?;
        if back != r {
            return Err(LedgerError::Json { what: "receipt", reason: "not representable canonically".into() });
        }
        Ok(r)
    }

    /// Parse a receipt in either form: canonical bytes (starting with the magic) or JSON.
    pub fn parse(bytes: &[u8]) -> Result<Receipt> {
        if bytes.starts_with(RECEIPT_MAGIC) {
            if bytes.len() > MAX_RECEIPT_BYTES {
                return Err(LedgerError::TooLarge {
                    what: "receipt",
                    len: bytes.len() as u64,
                    max: MAX_RECEIPT_BYTES as u64,
                });
            }
            Receipt::from_bytes(bytes)
        } else {
            Receipt::from_json(bytes)
        }
    }
}

impl Canonical for Receipt {
    const WHAT: &'static str = "receipt";
    fn encode(&self, w: &mut Writer) {
        w.fixed(RECEIPT_MAGIC);
        w.u16(self.version);
        self.chain_id.encode(w);
        self.deposit_id.encode(w);
        self.tx.encode(w);
        self.signature.encode(w);
        w.option(&self.item, |w, i| {
            w.u32(i.index);
            i.commitment.encode(w);
            w.list(&i.proof, |w, h| h.encode(w));
        });
        w.u32(self.tx_index);
        w.list(&self.tx_proof, |w, h| h.encode(w));
        self.header.encode(w);
        self.certificate.encode(w);
        w.option(&self.salt, |w, s| w.fixed(s));
        if self.version == RECEIPT_VERSION_MEMBERSHIP {
            w.list(&self.membership, |w, e| e.encode(w));
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let magic = r.take(8)?;
        if magic != RECEIPT_MAGIC {
            return Err(LedgerError::Decode { what: "receipt", reason: "missing CURIARCT magic".into() });
        }
        let version = r.u16()?;
        if version != RECEIPT_VERSION && version != RECEIPT_VERSION_MEMBERSHIP {
            return Err(LedgerError::UnsupportedVersion {
                what: "receipt",
                found: version as u64,
                supported: RECEIPT_VERSION_MEMBERSHIP as u64,
            });
        }
        let mut rc = Receipt {
            format: RECEIPT_FORMAT.into(),
            version,
            chain_id: Hash::decode(r)?,
            deposit_id: Hash::decode(r)?,
            tx: TxBody::decode(r)?,
            signature: Signature::decode(r)?,
            item: r.option(|r| {
                Ok(BatchItem {
                    index: r.u32()?,
                    commitment: Hash::decode(r)?,
                    proof: r.list("batch proof", MAX_PROOF_LEN, Hash::decode)?,
                })
            })?,
            tx_index: r.u32()?,
            tx_proof: r.list("transaction proof", MAX_PROOF_LEN, Hash::decode)?,
            header: Header::decode(r)?,
            certificate: CommitCertificate::decode(r)?,
            salt: r.option(|r| r.array::<32>())?,
            membership: Vec::new(),
        };
        if version == RECEIPT_VERSION_MEMBERSHIP {
            rc.membership = r.list("membership history", MAX_RECEIPT_HISTORY, HistoryEntry::decode)?;
            if rc.membership.is_empty() {
                return Err(LedgerError::Decode {
                    what: "receipt",
                    reason: "a version 2 receipt carries at least one membership history entry".into(),
                });
            }
        }
        Ok(rc)
    }
}

impl Receipt {
    /// Embed `entries` (the history in force at the receipt's height, section 13): version 2 if
    /// there are any, version 1 (no history) otherwise.
    pub fn with_history(mut self, entries: Vec<HistoryEntry>) -> Receipt {
        self.version = if entries.is_empty() { RECEIPT_VERSION } else { RECEIPT_VERSION_MEMBERSHIP };
        self.membership = entries;
        self
    }

    /// Build the receipt of the deposit made by transaction `tx_index` of `block` (item
    /// `item_index` for a batch), committed by `cert`.
    pub fn build(
        chain_id: &Hash,
        block: &crate::block::Block,
        cert: &CommitCertificate,
        tx_index: u32,
        item_index: Option<u32>,
    ) -> Result<Receipt> {
        let not_found = || LedgerError::Invalid {
            what: "receipt request",
            reason: format!("block {} has no deposit at {tx_index}/{item_index:?}", block.header.height),
        };
        let tx = block.txs.get(tx_index as usize).ok_or_else(not_found)?;
        let leaves = block.leaves();
        let tx_proof = crate::merkle::inclusion_proof(&leaves, tx_index as u64)?;
        Receipt::build_from_parts(chain_id, &block.header, cert, tx, tx_index, tx_proof, item_index)
    }

    /// [`Receipt::build`] from the parts a receipt needs, without the rest of the block: the
    /// header, the transaction at `tx_index` and its inclusion proof in `header.tx_root` (which
    /// the caller computed, e.g. from stored tiles; it is taken as given, so check it with
    /// [`crate::merkle::verify_inclusion`] if it comes from storage).
    pub fn build_from_parts(
        chain_id: &Hash,
        header: &Header,
        cert: &CommitCertificate,
        tx: &crate::tx::Transaction,
        tx_index: u32,
        tx_proof: Vec<Hash>,
        item_index: Option<u32>,
    ) -> Result<Receipt> {
        let not_found = || LedgerError::Invalid {
            what: "receipt request",
            reason: format!("block {} has no deposit at {tx_index}/{item_index:?}", header.height),
        };
        let tx_id = tx.id(chain_id);
        let (item, deposit_id) = match (&tx.body.payload, item_index) {
            (Payload::Deposit(_), None) => (None, tx_id),
            (Payload::BatchDeposit(_), Some(i)) => {
                let commitment = *tx.items.get(i as usize).ok_or_else(not_found)?;
                let item_leaves: Vec<Hash> = tx.items.iter().map(|c| crate::merkle::leaf_hash(&c.0)).collect();
                let proof = crate::merkle::inclusion_proof(&item_leaves, i as u64)?;
                (Some(BatchItem { index: i, commitment, proof }), batch_item_id(&tx_id, i))
            }
            _ => return Err(not_found()),
        };
        Ok(Receipt {
            format: RECEIPT_FORMAT.into(),
            version: RECEIPT_VERSION,
            chain_id: *chain_id,
            deposit_id,
            tx: tx.body.clone(),
            signature: tx.signature,
            item,
            tx_index,
            tx_proof,
            header: header.clone(),
            certificate: cert.clone(),
            salt: None,
            membership: Vec::new(),
        })
    }
}
