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
//!
//! Version 3 is the receipt of a chain whose headers commit to the deposit log (header version
//! 4, receipt format 7): version 2's fields, the membership history possibly empty, then
//! `log_index` (the deposit's leaf index in the deposit log) and `log_proof` (its RFC 9162
//! inclusion proof in the tree of the header's `log_size` leaves). A receipt carries the log
//! fields exactly when it is version 3, and is version 3 exactly when its header is version 4.

use serde::{Deserialize, Serialize};

use crate::block::{CommitCertificate, Header, HEADER_VERSION_LOG};
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
/// Receipt format version of a receipt of a chain whose headers commit to the deposit log
/// (header version 4): it carries the deposit's log position (section 7).
pub const RECEIPT_VERSION_LOG: u16 = 3;
/// Magic bytes that start a binary receipt.
pub const RECEIPT_MAGIC: &[u8; 8] = b"CURIARCT";
/// The `format` field of a JSON receipt.
pub const RECEIPT_FORMAT: &str = "curia-receipt";
/// The top-level member of an upgraded JSON receipt that carries its place in the deposit log
/// (receipt format 15.4); reading a receipt ignores it.
pub const RECEIPT_LOG_MEMBER: &str = "log";

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
    /// Version 3 only: the deposit's leaf index in the deposit log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_index: Option<u64>,
    /// Version 3 only: RFC 9162 inclusion proof of the deposit's leaf in the deposit log of
    /// `header.log_size` leaves, whose root is `header.log_root`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_proof: Option<Vec<Hash>>,
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

    /// Parse JSON, enforcing the format, the version and every limit of the canonical form. A
    /// top-level `log` member (an upgraded receipt, receipt format 15.4) is ignored here.
    pub fn from_json(bytes: &[u8]) -> Result<Receipt> {
        if bytes.len() > MAX_RECEIPT_BYTES {
            return Err(LedgerError::TooLarge {
                what: "receipt",
                len: bytes.len() as u64,
                max: MAX_RECEIPT_BYTES as u64,
            });
        }
        let mut v: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| LedgerError::Json { what: "receipt", reason: e.to_string() })?;
        // An upgraded receipt's `log` member (receipt format 15.4) is not part of the receipt's
        // canonical bytes: it is checked, under a witness policy, by `curia verify --policy`.
        if let Some(o) = v.as_object_mut() {
            o.remove(RECEIPT_LOG_MEMBER);
        }
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
        let has_log = v.get("log_index").is_some() || v.get("log_proof").is_some();
        match v.get("version").and_then(|f| f.as_u64()) {
            Some(3) if !(v.get("log_index").is_some() && v.get("log_proof").is_some()) => {
                return Err(LedgerError::Json {
                    what: "receipt",
                    reason: "a version 3 receipt carries log_index and log_proof".into(),
                })
            }
            Some(1) | Some(2) if has_log => {
                return Err(LedgerError::Json {
                    what: "receipt",
                    reason: "only a version 3 receipt carries log_index and log_proof".into(),
                })
            }
            Some(1) if has_history => {
                return Err(LedgerError::Json {
                    what: "receipt",
                    reason: "a version 1 receipt carries no membership history".into(),
                })
            }
            Some(2) if !has_history => {
                return Err(LedgerError::Json { what: "receipt", reason: "missing membership history".into() })
            }
            Some(1) | Some(2) | Some(3) => {}
            Some(n) => {
                return Err(LedgerError::UnsupportedVersion {
                    what: "receipt",
                    found: n,
                    supported: RECEIPT_VERSION_LOG as u64,
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
        if self.version == RECEIPT_VERSION_MEMBERSHIP || self.version == RECEIPT_VERSION_LOG {
            w.list(&self.membership, |w, e| e.encode(w));
        }
        if self.version == RECEIPT_VERSION_LOG {
            w.u64(self.log_index.unwrap_or(0));
            w.list(self.log_proof.as_deref().unwrap_or(&[]), |w, h| h.encode(w));
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let magic = r.take(8)?;
        if magic != RECEIPT_MAGIC {
            return Err(LedgerError::Decode { what: "receipt", reason: "missing CURIARCT magic".into() });
        }
        let version = r.u16()?;
        if !(RECEIPT_VERSION..=RECEIPT_VERSION_LOG).contains(&version) {
            return Err(LedgerError::UnsupportedVersion {
                what: "receipt",
                found: version as u64,
                supported: RECEIPT_VERSION_LOG as u64,
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
            log_index: None,
            log_proof: None,
        };
        if version == RECEIPT_VERSION_LOG {
            rc.membership = r.list("membership history", MAX_RECEIPT_HISTORY, HistoryEntry::decode)?;
            rc.log_index = Some(r.u64()?);
            rc.log_proof = Some(r.list("log proof", MAX_PROOF_LEN, Hash::decode)?);
        }
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
    /// Embed `entries` (the history in force at the receipt's height, section 13): version 3
    /// (whatever the history) if the header is version 4; else version 2 if there are any,
    /// version 1 (no history) otherwise.
    pub fn with_history(mut self, entries: Vec<HistoryEntry>) -> Receipt {
        self.version = if self.header.version == HEADER_VERSION_LOG {
            RECEIPT_VERSION_LOG
        } else if entries.is_empty() {
            RECEIPT_VERSION
        } else {
            RECEIPT_VERSION_MEMBERSHIP
        };
        self.membership = entries;
        self
    }

    /// Set the deposit's position in the deposit log (a receipt whose header is version 4):
    /// its leaf index and inclusion proof in the tree of `header.log_size` leaves. Makes the
    /// receipt version 3.
    pub fn with_log_position(mut self, index: u64, proof: Vec<Hash>) -> Receipt {
        self.version = RECEIPT_VERSION_LOG;
        self.log_index = Some(index);
        self.log_proof = Some(proof);
        self
    }

    /// The deposit's commitment hash as the state and the deposit log record it (section 14.1):
    /// a single deposit's `Commitment::hash`, a batch item's commitment.
    pub fn commitment_hash(&self) -> Option<Hash> {
        match (&self.tx.payload, &self.item) {
            (Payload::Deposit(d), None) => Some(d.commitment.hash()),
            (Payload::BatchDeposit(_), Some(i)) => Some(i.commitment),
            _ => None,
        }
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
        match (&tx.body.payload, item_index) {
            (Payload::Deposit(_), None) => {
                Ok(Receipt::assemble(chain_id, header, cert, tx, tx_index, tx_proof, tx.id(chain_id), None))
            }
            (Payload::BatchDeposit(_), Some(i)) => {
                let commitment = *tx.items.get(i as usize).ok_or_else(not_found)?;
                let item_leaves: Vec<Hash> = tx.items.iter().map(|c| crate::merkle::leaf_hash(&c.0)).collect();
                let proof = crate::merkle::inclusion_proof(&item_leaves, i as u64)?;
                let item = BatchItem { index: i, commitment, proof };
                Receipt::build_batch_item_from_parts(chain_id, header, cert, tx, tx_index, tx_proof, item)
            }
            _ => Err(not_found()),
        }
    }

    /// [`Receipt::build_from_parts`] for a batch item whose place in the batch the caller
    /// computed (e.g. from stored tiles of the batch's item tree), without the batch's other
    /// items: `tx` is the batch transaction, whose `items` are not read (they may be empty);
    /// `item` is the item's index, commitment and inclusion proof in the batch body's `root`.
    /// Both proofs are taken as given: check them with [`crate::merkle::verify_inclusion`] if
    /// they come from storage. The receipt is the one [`Receipt::build`] makes from the block.
    pub fn build_batch_item_from_parts(
        chain_id: &Hash,
        header: &Header,
        cert: &CommitCertificate,
        tx: &crate::tx::Transaction,
        tx_index: u32,
        tx_proof: Vec<Hash>,
        item: BatchItem,
    ) -> Result<Receipt> {
        let count = match &tx.body.payload {
            Payload::BatchDeposit(b) => b.count,
            _ => 0,
        };
        if item.index >= count {
            return Err(LedgerError::Invalid {
                what: "receipt request",
                reason: format!("block {} has no deposit at {tx_index}/{:?}", header.height, Some(item.index)),
            });
        }
        let deposit_id = batch_item_id(&tx.id(chain_id), item.index);
        Ok(Receipt::assemble(chain_id, header, cert, tx, tx_index, tx_proof, deposit_id, Some(item)))
    }

    /// A receipt of `deposit_id` from its parts, without membership history or log position.
    #[allow(clippy::too_many_arguments)]
    fn assemble(
        chain_id: &Hash,
        header: &Header,
        cert: &CommitCertificate,
        tx: &crate::tx::Transaction,
        tx_index: u32,
        tx_proof: Vec<Hash>,
        deposit_id: Hash,
        item: Option<BatchItem>,
    ) -> Receipt {
        Receipt {
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
            log_index: None,
            log_proof: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::TestChain;

    #[test]
    fn a_batch_item_from_its_parts_is_the_receipt_from_the_block() {
        let mut c = TestChain::new(4);
        let items: Vec<Hash> = (0..7u8).map(|i| Hash::sha256(&[i])).collect();
        let batch = c.batch("platform2", items.clone(), 1);
        assert!(c.commit(vec![c.deposit("platform", b"d", 1), batch]).is_empty());
        let (block, cert) = &c.blocks[0];
        let chain_id = c.spec.chain_id;
        let tx_proof = crate::merkle::inclusion_proof(&block.leaves(), 1).unwrap();
        let leaves: Vec<Hash> = items.iter().map(|c| crate::merkle::leaf_hash(&c.0)).collect();
        // The transaction without its items is enough.
        let mut bare = block.txs[1].clone();
        bare.items.clear();
        for i in 0..7u32 {
            let item = BatchItem {
                index: i,
                commitment: items[i as usize],
                proof: crate::merkle::inclusion_proof(&leaves, i as u64).unwrap(),
            };
            let r =
                Receipt::build_batch_item_from_parts(&chain_id, &block.header, cert, &bare, 1, tx_proof.clone(), item)
                    .unwrap();
            assert_eq!(r, Receipt::build(&chain_id, block, cert, 1, Some(i)).unwrap(), "item {i}");
        }
        let past = BatchItem { index: 7, commitment: Hash::ZERO, proof: Vec::new() };
        let e = Receipt::build_batch_item_from_parts(&chain_id, &block.header, cert, &bare, 1, tx_proof.clone(), past);
        assert!(e.unwrap_err().to_string().contains("no deposit at 1/Some(7)"));
        let single = BatchItem { index: 0, commitment: Hash::ZERO, proof: Vec::new() };
        let e =
            Receipt::build_batch_item_from_parts(&chain_id, &block.header, cert, &block.txs[0], 0, tx_proof, single);
        assert!(e.is_err(), "a single deposit has no items");
    }
}
