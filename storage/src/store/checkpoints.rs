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

use rocksdb::{Direction, IteratorMode, WriteBatch};

use super::{cf, Store};
use crate::codec::{unseal, Cursor};
use crate::error::StoreError;

/// Prefix of checkpoint keys in `meta`.
pub(super) const META_CHECKPOINT: &[u8] = b"checkpoint/";
/// Largest note kept (a C2SP note is at most 64 KiB).
pub const MAX_CHECKPOINT_NOTE: usize = 65_536;

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

/// Show a checkpoint key.
pub(super) fn show_checkpoint_key(k: &[u8]) -> Option<String> {
    let rest = k.strip_prefix(META_CHECKPOINT)?;
    Some(format!("checkpoint of size {}", u64::from_be_bytes(rest.try_into().ok()?)))
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
