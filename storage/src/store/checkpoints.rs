//! Complete checkpoints of the deposit log (`docs/receipt-format.md` section 14.2), kept in
//! the `meta` family.
//!
//! Rules:
//! - Key `checkpoint/ || u64 size` (big-endian), value `u64 height || note bytes`: the signed
//!   note of the checkpoint of that log size (the validators' signatures, then any witness
//!   cosignatures). One record per size: a later checkpoint of the same size (a later height,
//!   no deposit in between) replaces it.
//! - The store does not interpret the note (the node checks it before writing); it bounds it
//!   to [`MAX_CHECKPOINT_NOTE`] bytes and writes each record in one synced write.
//! - The latest checkpoint is the record with the largest size.
//! - RFC 3161 time-stamp tokens over a checkpoint's text (`docs/receipt-format.md` 15.1, 15.2):
//!   key `checkpoint_tsa/ || u64 size`, value `u64 height || token DER` (at most
//!   [`MAX_TSA_TOKEN`] bytes), one synced write; the height names which checkpoint of that size
//!   the token stamps (a later checkpoint of the same size has another text). The node checks
//!   the token against its TSA certificate before writing; the store does not interpret it.

use rocksdb::{Direction, IteratorMode, WriteBatch};

use super::{cf, Store};
use crate::codec::{unseal, Cursor};
use crate::error::StoreError;

/// Prefix of checkpoint keys in `meta`.
pub(super) const META_CHECKPOINT: &[u8] = b"checkpoint/";
/// Largest note kept (a C2SP note is at most 64 KiB).
pub const MAX_CHECKPOINT_NOTE: usize = 65_536;
/// Prefix of time-stamp token keys in `meta` (sorts after every `checkpoint/` key).
pub(super) const META_CHECKPOINT_TSA: &[u8] = b"checkpoint_tsa/";
/// Largest time-stamp token kept (as `curia_transparency::rfc3161::MAX_TOKEN_BYTES`).
pub const MAX_TSA_TOKEN: usize = 65_536;

/// A stored checkpoint: the block it follows and its signed note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// The log size.
    pub size: u64,
    /// The block after which the log had that size.
    pub height: u64,
    /// The signed note.
    pub note: Vec<u8>,
}

fn key(size: u64) -> Vec<u8> {
    let mut k = META_CHECKPOINT.to_vec();
    k.extend_from_slice(&size.to_be_bytes());
    k
}

fn tsa_key(size: u64) -> Vec<u8> {
    let mut k = META_CHECKPOINT_TSA.to_vec();
    k.extend_from_slice(&size.to_be_bytes());
    k
}

/// Show a checkpoint or time-stamp key.
pub(super) fn show_checkpoint_key(k: &[u8]) -> Option<String> {
    if let Some(rest) = k.strip_prefix(META_CHECKPOINT_TSA) {
        return Some(format!("time stamp of the checkpoint of size {}", u64::from_be_bytes(rest.try_into().ok()?)));
    }
    let rest = k.strip_prefix(META_CHECKPOINT)?;
    Some(format!("checkpoint of size {}", u64::from_be_bytes(rest.try_into().ok()?)))
}

/// A stored time-stamp token: the checkpoint (by size and height) it stamps, and its DER.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredTsaToken {
    /// The checkpoint's log size.
    pub size: u64,
    /// The block of the checkpoint whose text was stamped.
    pub height: u64,
    /// The `TimeStampToken` (CMS `ContentInfo`), DER.
    pub token: Vec<u8>,
}

fn decode(size: u64, k: &[u8], payload: &[u8]) -> Result<StoredCheckpoint, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt { cf: cf::META, key: super::show_key(cf::META, k), reason };
    let mut c = Cursor::new(payload);
    let height = c.u64().map_err(|e| corrupt(e.0))?;
    let note = payload[8..].to_vec();
    if note.len() > MAX_CHECKPOINT_NOTE {
        return Err(corrupt(format!("note of {} bytes exceeds {MAX_CHECKPOINT_NOTE}", note.len())));
    }
    Ok(StoredCheckpoint { size, height, note })
}

impl Store {
    /// Keep checkpoint `cp` durably (one synced write), replacing the record of its size.
    pub fn put_log_checkpoint(&self, cp: &StoredCheckpoint) -> Result<(), StoreError> {
        if cp.note.len() > MAX_CHECKPOINT_NOTE {
            return Err(StoreError::BadCommit {
                height: cp.height,
                reason: format!("checkpoint note of {} bytes exceeds {MAX_CHECKPOINT_NOTE}", cp.note.len()),
            });
        }
        let mut v = cp.height.to_be_bytes().to_vec();
        v.extend_from_slice(&cp.note);
        let mut wb = WriteBatch::default();
        self.put(&mut wb, cf::META, &key(cp.size), &v);
        self.write_synced(wb, "store checkpoint")
    }

    /// The checkpoint of log size `size`, if one is kept.
    pub fn log_checkpoint(&self, size: u64) -> Result<Option<StoredCheckpoint>, StoreError> {
        let k = key(size);
        match self.get(cf::META, &k)? {
            None => Ok(None),
            Some(v) => decode(size, &k, &v).map(Some),
        }
    }

    /// Keep time-stamp token `t` durably (one synced write), replacing the token of its size.
    pub fn put_checkpoint_tsa(&self, t: &StoredTsaToken) -> Result<(), StoreError> {
        if t.token.is_empty() || t.token.len() > MAX_TSA_TOKEN {
            return Err(StoreError::BadCommit {
                height: t.height,
                reason: format!("time-stamp token of {} bytes (1 to {MAX_TSA_TOKEN})", t.token.len()),
            });
        }
        let mut v = t.height.to_be_bytes().to_vec();
        v.extend_from_slice(&t.token);
        let mut wb = WriteBatch::default();
        self.put(&mut wb, cf::META, &tsa_key(t.size), &v);
        self.write_synced(wb, "store checkpoint time stamp")
    }

    /// The time-stamp token kept for the checkpoint of log size `size`, if any.
    pub fn checkpoint_tsa(&self, size: u64) -> Result<Option<StoredTsaToken>, StoreError> {
        let k = tsa_key(size);
        let Some(v) = self.get(cf::META, &k)? else { return Ok(None) };
        let corrupt = |reason: String| StoreError::Corrupt { cf: cf::META, key: super::show_key(cf::META, &k), reason };
        let mut c = Cursor::new(&v);
        let height = c.u64().map_err(|e| corrupt(e.0))?;
        let token = v[8..].to_vec();
        if token.is_empty() || token.len() > MAX_TSA_TOKEN {
            return Err(corrupt(format!("token of {} bytes (1 to {MAX_TSA_TOKEN})", token.len())));
        }
        Ok(Some(StoredTsaToken { size, height, token }))
    }

    /// The kept checkpoint of the largest size.
    pub fn latest_log_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        let fam = cf::META;
        let top = key(u64::MAX);
        let mut iter = self.db.iterator_cf(self.cf(fam), IteratorMode::From(&top, Direction::Reverse));
        match iter.next() {
            None => Ok(None),
            Some(kv) => {
                let (k, v) = kv.map_err(StoreError::rocks("scan checkpoints"))?;
                let Some(rest) = k.strip_prefix(META_CHECKPOINT) else { return Ok(None) };
                let size = <[u8; 8]>::try_from(rest).map_err(|_| StoreError::Corrupt {
                    cf: fam,
                    key: super::show_key(fam, &k),
                    reason: "checkpoint key is not prefix || u64 size".into(),
                })?;
                let payload = unseal(fam, &k, &v, || super::show_key(fam, &k))?;
                decode(u64::from_be_bytes(size), &k, payload).map(Some)
            }
        }
    }
}
