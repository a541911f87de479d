//! Key layouts, value encodings and checksums.
//!
//! Rules:
//! - Every stored value is `checksum || payload`, where `checksum` is the first 4 bytes of
//!   `SHA-256(u8 family number || u8 len(key) || key || payload)`; the family number is the
//!   family's position in [`crate::cf::ALL`] (part of the schema). Binding the family and the key
//!   means a value copied to another key or family fails too. A failed checksum or a payload that
//!   does not decode strictly is [`StoreError::Corrupt`], naming the family and key. (A deposit
//!   index entry hashes 50 bytes, one SHA-256 block.)
//! - Integers in keys are big-endian so byte order is numeric order; heights are `u64`.
//! - Case IDs in keys are `u8 length || bytes`, so no case ID is a prefix of another's keys.

use curia_ledger::crypto::PublicKey;
use curia_ledger::genesis::ClientRole;
use curia_ledger::hash::Hash;
use curia_ledger::state::{CaseRecord, ClientRecord, Tip};
use sha2::{Digest, Sha256};

use crate::error::StoreError;

/// Bytes of checksum in front of every value.
pub const CHECKSUM_LEN: usize = 4;

/// The checksum of `payload` stored under `key` (at most 255 bytes) in `cf`.
pub fn checksum(cf: &str, key: &[u8], payload: &[u8]) -> [u8; CHECKSUM_LEN] {
    let family = crate::cf::ALL.iter().position(|n| *n == cf).expect("known column family") as u8;
    debug_assert!(key.len() < 256);
    let mut h = Sha256::new();
    h.update([family, key.len() as u8]);
    h.update(key);
    h.update(payload);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// `checksum || payload`.
pub fn seal(cf: &str, key: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(CHECKSUM_LEN + payload.len());
    v.extend_from_slice(&checksum(cf, key, payload));
    v.extend_from_slice(payload);
    v
}

/// Check a sealed value and return its payload.
pub fn unseal<'a>(
    cf: &'static str,
    key: &[u8],
    value: &'a [u8],
    show: impl Fn() -> String,
) -> Result<&'a [u8], StoreError> {
    if value.len() < CHECKSUM_LEN {
        return Err(StoreError::Corrupt {
            cf,
            key: show(),
            reason: format!("value of {} bytes has no checksum", value.len()),
        });
    }
    let (sum, payload) = value.split_at(CHECKSUM_LEN);
    if sum != checksum(cf, key, payload) {
        return Err(StoreError::Corrupt { cf, key: show(), reason: "checksum mismatch".into() });
    }
    Ok(payload)
}

/// Key of a height.
pub fn height_key(h: u64) -> [u8; 8] {
    h.to_be_bytes()
}

/// Key prefix of a case: `u8 len || case_id`.
pub fn case_prefix(case_id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + case_id.len() + 36);
    k.push(case_id.len() as u8);
    k.extend_from_slice(case_id.as_bytes());
    k
}

/// Key of case record `seq`.
pub fn case_record_key(case_id: &str, seq: u32) -> Vec<u8> {
    let mut k = case_prefix(case_id);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// Key of an attachment.
pub fn attachment_key(case_id: &str, deposit: &Hash) -> Vec<u8> {
    let mut k = case_prefix(case_id);
    k.extend_from_slice(&deposit.0);
    k
}

/// Key of the digest index: `commitment || deposit_id`.
pub fn digest_key(commitment: &Hash, deposit: &Hash) -> [u8; 64] {
    let mut k = [0u8; 64];
    k[..32].copy_from_slice(&commitment.0);
    k[32..].copy_from_slice(&deposit.0);
    k
}

/// A strict little reader for payloads.
pub struct Cursor<'a> {
    buf: &'a [u8],
}

/// Decoding failed; the caller adds the family and key.
#[derive(Debug)]
pub struct Short(pub String);

impl<'a> Cursor<'a> {
    /// Over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Cursor { buf }
    }
    /// Take `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], Short> {
        if self.buf.len() < n {
            return Err(Short(format!("truncated: need {n} bytes, have {}", self.buf.len())));
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }
    /// A byte.
    pub fn u8(&mut self) -> Result<u8, Short> {
        Ok(self.take(1)?[0])
    }
    /// Big-endian u32.
    pub fn u32(&mut self) -> Result<u32, Short> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    /// Big-endian u64.
    pub fn u64(&mut self) -> Result<u64, Short> {
        Ok(u64::from_be_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
    /// 32 bytes.
    pub fn hash(&mut self) -> Result<Hash, Short> {
        Ok(Hash(self.take(32)?.try_into().expect("32 bytes")))
    }
    /// `u8 len || utf-8`.
    pub fn short_str(&mut self) -> Result<String, Short> {
        let n = self.u8()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| Short("invalid UTF-8".into()))
    }
    /// Fail on trailing bytes.
    pub fn finish(self) -> Result<(), Short> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(Short(format!("{} trailing bytes", self.buf.len())))
        }
    }
}

/// Where a deposit is in the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DepositLocation {
    /// Block height.
    pub height: u64,
    /// Index of the transaction in the block.
    pub tx_index: u32,
    /// Index of the item in its batch, `None` for a single deposit.
    pub item_index: Option<u32>,
}

const NO_ITEM: u32 = u32::MAX;

impl DepositLocation {
    /// 16 bytes: height, tx index, item index (`u32::MAX` for none).
    pub fn encode(&self) -> [u8; 16] {
        let mut v = [0u8; 16];
        v[..8].copy_from_slice(&self.height.to_be_bytes());
        v[8..12].copy_from_slice(&self.tx_index.to_be_bytes());
        v[12..].copy_from_slice(&self.item_index.unwrap_or(NO_ITEM).to_be_bytes());
        v
    }
    /// Inverse of [`DepositLocation::encode`].
    pub fn decode(b: &[u8]) -> Result<Self, Short> {
        let mut c = Cursor::new(b);
        let height = c.u64()?;
        let tx_index = c.u32()?;
        let item = c.u32()?;
        c.finish()?;
        Ok(DepositLocation { height, tx_index, item_index: (item != NO_ITEM).then_some(item) })
    }
}

/// Where a transaction is.
pub fn encode_tx_location(height: u64, tx_index: u32) -> [u8; 12] {
    let mut v = [0u8; 12];
    v[..8].copy_from_slice(&height.to_be_bytes());
    v[8..].copy_from_slice(&tx_index.to_be_bytes());
    v
}

/// Tip: height, block hash, state root, time.
pub fn encode_tip(t: &Tip) -> Vec<u8> {
    let mut v = Vec::with_capacity(80);
    v.extend_from_slice(&t.height.to_be_bytes());
    v.extend_from_slice(&t.block_hash.0);
    v.extend_from_slice(&t.state_root.0);
    v.extend_from_slice(&t.time_ms.to_be_bytes());
    v
}

/// Inverse of [`encode_tip`].
pub fn decode_tip(b: &[u8]) -> Result<Tip, Short> {
    let mut c = Cursor::new(b);
    let t = Tip { height: c.u64()?, block_hash: c.hash()?, state_root: c.hash()?, time_ms: c.u64()? };
    c.finish()?;
    Ok(t)
}

/// Client record: role, active, name.
pub fn encode_client(r: &ClientRecord) -> Vec<u8> {
    let mut v = vec![r.role as u8, r.active as u8, r.name.len() as u8];
    v.extend_from_slice(r.name.as_bytes());
    v
}

/// Inverse of [`encode_client`].
pub fn decode_client(b: &[u8]) -> Result<ClientRecord, Short> {
    let mut c = Cursor::new(b);
    let role = c.u8()?;
    let role = ClientRole::from_u8(role).ok_or_else(|| Short(format!("unknown client role {role}")))?;
    let active = decode_bool(c.u8()?)?;
    let name = c.short_str()?;
    c.finish()?;
    Ok(ClientRecord { name, role, active })
}

fn decode_bool(b: u8) -> Result<bool, Short> {
    match b {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(Short(format!("boolean byte {b}"))),
    }
}

/// A case's status plus how many records it has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseStatus {
    /// Owner and open flag.
    pub record: CaseRecord,
    /// Number of records in the cases family.
    pub records: u32,
}

/// Case status: owner, open, record count.
pub fn encode_case_status(s: &CaseStatus) -> Vec<u8> {
    let mut v = Vec::with_capacity(37);
    v.extend_from_slice(&s.record.owner.0);
    v.push(s.record.open as u8);
    v.extend_from_slice(&s.records.to_be_bytes());
    v
}

/// Inverse of [`encode_case_status`].
pub fn decode_case_status(b: &[u8]) -> Result<CaseStatus, Short> {
    let mut c = Cursor::new(b);
    let owner = PublicKey(c.take(32)?.try_into().expect("32 bytes"));
    let open = decode_bool(c.u8()?)?;
    let records = c.u32()?;
    c.finish()?;
    Ok(CaseStatus { record: CaseRecord { owner, open }, records })
}

/// What happened to a case, as recorded.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum CaseEvent {
    /// Opened by `owner`.
    Opened {
        /// The judge.
        owner: PublicKey,
    },
    /// A deposit was attached.
    Attached {
        /// Deposit ID.
        deposit: Hash,
    },
    /// A verification result was recorded.
    Verified {
        /// Deposit ID.
        deposit: Hash,
        /// The result.
        valid: bool,
    },
    /// Closed.
    Closed,
}

/// One record of a case, in chain order.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CaseEntry {
    /// Block height.
    pub height: u64,
    /// Transaction index in the block.
    pub tx_index: u32,
    /// What happened.
    #[serde(flatten)]
    pub event: CaseEvent,
}

/// Case entry: height, tx index, tag, fields.
pub fn encode_case_entry(e: &CaseEntry) -> Vec<u8> {
    let mut v = Vec::with_capacity(48);
    v.extend_from_slice(&e.height.to_be_bytes());
    v.extend_from_slice(&e.tx_index.to_be_bytes());
    match &e.event {
        CaseEvent::Opened { owner } => {
            v.push(1);
            v.extend_from_slice(&owner.0);
        }
        CaseEvent::Attached { deposit } => {
            v.push(2);
            v.extend_from_slice(&deposit.0);
        }
        CaseEvent::Verified { deposit, valid } => {
            v.push(3);
            v.extend_from_slice(&deposit.0);
            v.push(*valid as u8);
        }
        CaseEvent::Closed => v.push(4),
    }
    v
}

/// Inverse of [`encode_case_entry`].
pub fn decode_case_entry(b: &[u8]) -> Result<CaseEntry, Short> {
    let mut c = Cursor::new(b);
    let height = c.u64()?;
    let tx_index = c.u32()?;
    let event = match c.u8()? {
        1 => CaseEvent::Opened { owner: PublicKey(c.take(32)?.try_into().expect("32 bytes")) },
        2 => CaseEvent::Attached { deposit: c.hash()? },
        3 => CaseEvent::Verified { deposit: c.hash()?, valid: decode_bool(c.u8()?)? },
        4 => CaseEvent::Closed,
        t => return Err(Short(format!("unknown case event {t}"))),
    };
    c.finish()?;
    Ok(CaseEntry { height, tx_index, event })
}
