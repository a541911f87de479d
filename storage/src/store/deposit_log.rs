//! The deposit log on disk (`curia_ledger::deposit_log`, `docs/receipt-format.md` section 14).
//!
//! Rules:
//! - [`cf::TLOG`] holds the log's stored hashes (`curia_ledger::tlog` layout) under the
//!   8-byte big-endian stored-hash index; [`cf::TLOG_INDEX`] maps a deposit ID to its 8-byte
//!   leaf index; the meta key `tlog` holds `u64 height || u64 size`: the log holds every deposit
//!   of blocks `1..=height`, `size` leaves.
//! - [`Store::commit_block`] appends the block's leaves, their index entries and the new `tlog`
//!   record in the block's one `WriteBatch`: after a crash at any instant the log and the chain
//!   end at the same block.
//! - A store written before the log (no `tlog` record, or one below the tip) is brought up to
//!   the tip from its blocks when it is opened for writing, one block per write batch (each
//!   batch records how far it got, so a crash during the catch-up resumes where it stopped). A
//!   read-only open of such a store serves the log as far as it is recorded.
//! - Reads check each value's checksum, and a stored hash or index entry that is missing below
//!   the recorded size is [`StoreError::Corrupt`].

use curia_ledger::block::Block;
use curia_ledger::deposit_log;
use curia_ledger::hash::Hash;
use curia_ledger::receipt::Receipt;
use curia_ledger::state::Change;
use curia_ledger::tlog::{self, HashReader, MAX_LOG_SIZE};
use rocksdb::WriteBatch;

use super::{cf, show_key, Store, META_TLOG};
use crate::codec::Cursor;
use crate::error::StoreError;

/// Where the log stands: it holds the deposits of blocks `1..=height`, `size` leaves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogState {
    /// Last block whose deposits are in the log.
    pub height: u64,
    /// Number of leaves.
    pub size: u64,
}

impl LogState {
    fn encode(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.height.to_be_bytes());
        b[8..].copy_from_slice(&self.size.to_be_bytes());
        b
    }

    pub(super) fn decode(b: &[u8]) -> Result<LogState, String> {
        let mut c = Cursor::new(b);
        let s = LogState { height: c.u64().map_err(|e| e.0)?, size: c.u64().map_err(|e| e.0)? };
        c.finish().map_err(|e| e.0)?;
        Ok(s)
    }
}

/// Show a key of the log's families.
pub(super) fn show_log_key(fam: &str, k: &[u8]) -> String {
    match (fam, <[u8; 8]>::try_from(k)) {
        (cf::TLOG, Ok(b)) => format!("stored hash {}", u64::from_be_bytes(b)),
        _ => format!("deposit {}", hex::encode(k)),
    }
}

/// The store's log as a [`HashReader`].
struct Reader<'a> {
    store: &'a Store,
}

impl HashReader for Reader<'_> {
    type Error = StoreError;
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError> {
        indexes
            .iter()
            .map(|i| {
                let k = i.to_be_bytes();
                let corrupt =
                    |reason: String| StoreError::Corrupt { cf: cf::TLOG, key: show_key(cf::TLOG, &k), reason };
                let v = self.store.get(cf::TLOG, &k)?.ok_or_else(|| corrupt("missing below the log's size".into()))?;
                Ok(Hash(v.as_slice().try_into().map_err(|_| corrupt(format!("{} bytes, not 32", v.len())))?))
            })
            .collect()
    }
}

impl Store {
    /// Where the deposit log stands (`None`: a read-only store written before the log).
    /// Its height and size are one consistent pair (one lock, not two atomics read one
    /// after the other while a commit may store between them).
    pub fn log_state(&self) -> Option<LogState> {
        *self.log.lock().expect("log state lock")
    }

    /// Number of deposits in the log (0 if the store has none).
    pub fn log_size(&self) -> u64 {
        self.log_state().map_or(0, |s| s.size)
    }

    fn check_log_size(&self, size: u64) -> Result<(), StoreError> {
        let have = self.log_size();
        if size > have {
            return Err(StoreError::Ledger(curia_ledger::LedgerError::MerkleProof(format!(
                "tree size {size} is larger than the log's {have}"
            ))));
        }
        Ok(())
    }

    /// The RFC 6962 root of the log's first `size` deposits.
    pub fn log_root(&self, size: u64) -> Result<Hash, StoreError> {
        self.check_log_size(size)?;
        tlog::tree_hash(size, &Reader { store: self })
    }

    /// The inclusion proof of leaf `index` in the tree of the first `size` deposits.
    pub fn log_inclusion_proof(&self, size: u64, index: u64) -> Result<Vec<Hash>, StoreError> {
        self.check_log_size(size)?;
        tlog::prove_inclusion(size, index, &Reader { store: self })
    }

    /// The consistency proof from the tree of `size1` deposits to that of `size2`.
    pub fn log_consistency_proof(&self, size1: u64, size2: u64) -> Result<Vec<Hash>, StoreError> {
        self.check_log_size(size2)?;
        tlog::prove_consistency(size1, size2, &Reader { store: self })
    }

    /// The leaf index of a deposit in the log (`None`: no such deposit in the log).
    pub fn log_index(&self, deposit_id: &Hash) -> Result<Option<u64>, StoreError> {
        if self.db.cf_handle(cf::TLOG_INDEX).is_none() {
            return Ok(None);
        }
        self.get_decoded(cf::TLOG_INDEX, &deposit_id.0, |b| {
            b.try_into().map(u64::from_be_bytes).map_err(|_| format!("{} bytes, not 8", b.len()))
        })
    }

    /// The leaf hash stored for leaf `index` (for checks; `None` beyond the log's size).
    pub fn log_leaf_hash(&self, index: u64) -> Result<Option<Hash>, StoreError> {
        if index >= self.log_size() {
            return Ok(None);
        }
        let i = tlog::stored_hash_index(0, index);
        Ok(Reader { store: self }.read_hashes(&[i])?.pop())
    }

    /// The log's frontier at the tip (for validating and proposing headers that commit to the
    /// log). Errors if the store keeps no log or its log does not end at the tip.
    pub fn log_frontier(&self) -> Result<deposit_log::Frontier, StoreError> {
        let tip = self.tip().height;
        match self.log_state() {
            Some(s) if s.height == tip => deposit_log::Frontier::read(s.size, &Reader { store: self }),
            other => Err(StoreError::Corrupt {
                cf: cf::META,
                key: show_key(cf::META, META_TLOG),
                reason: format!("the deposit log ends at {other:?}, the chain at block {tip}"),
            }),
        }
    }

    /// Add the deposit's position in the log to a receipt whose header commits to the log
    /// (header version 4, receipt version 3): its leaf index and the inclusion proof in the
    /// tree of the header's `log_size` leaves, checked against the header's `log_root` before
    /// it is served. Any other receipt is returned as it is. Used by both receipt builders.
    pub(crate) fn with_log_position(&self, r: Receipt) -> Result<Receipt, StoreError> {
        let (Some(size), Some(root)) = (r.header.log_size, r.header.log_root) else { return Ok(r) };
        let id = r.deposit_id;
        let index = self
            .log_index(&id)?
            .ok_or_else(|| StoreError::NotFound { what: "deposit log entry", key: format!("deposit {id}") })?;
        let corrupt =
            |reason: String| StoreError::Corrupt { cf: cf::TLOG_INDEX, key: show_key(cf::TLOG_INDEX, &id.0), reason };
        if index >= size {
            return Err(corrupt(format!("leaf {index} is beyond the log size {size} of block {}", r.header.height)));
        }
        let proof = self.log_inclusion_proof(size, index)?;
        let commitment = r.commitment_hash().ok_or_else(|| corrupt("the receipt holds no deposit".into()))?;
        tlog::verify_inclusion(&deposit_log::leaf_hash(&id, &commitment), index, size, &proof, &root)
            .map_err(|e| corrupt(format!("the stored log does not give block {}'s log root: {e}", r.header.height)))?;
        Ok(r.with_log_position(index, proof))
    }

    /// Audit one block's part of the log: recompute the stored hashes that the block's
    /// `leaves` append to a log of `size` leaves (from earlier stored hashes, already audited)
    /// and compare them with the store. Returns the new size. The deposits' `tlog_index`
    /// entries are checked by the audit's index merge (`crate::audit_index`), in key order.
    pub fn audit_log_block(&self, size: u64, leaves: &[Hash]) -> Result<u64, StoreError> {
        let new_size = size + leaves.len() as u64;
        if new_size > self.log_size() {
            return Err(StoreError::Corrupt {
                cf: cf::META,
                key: show_key(cf::META, META_TLOG),
                reason: format!("the deposit log holds {} leaves, the chain at least {new_size}", self.log_size()),
            });
        }
        let reader = Reader { store: self };
        let want = deposit_log::append_leaves(size, leaves, &reader)?;
        let first = tlog::stored_hash_count(size);
        // The block's stored hashes are consecutive keys: one forward scan reads them.
        let got = self.read_stored_range(first, want.len())?;
        if let Some(k) = (0..want.len()).find(|&k| got[k] != want[k]) {
            let key = (first + k as u64).to_be_bytes();
            return Err(StoreError::Corrupt {
                cf: cf::TLOG,
                key: show_key(cf::TLOG, &key),
                reason: format!("stored {}, the deposits give {}", got[k], want[k]),
            });
        }
        Ok(new_size)
    }

    /// The `n` stored hashes from index `first` on, read with one forward scan (checked; a
    /// missing one is [`StoreError::Corrupt`], as for [`Reader`]).
    fn read_stored_range(&self, first: u64, n: usize) -> Result<Vec<Hash>, StoreError> {
        let mut out = Vec::with_capacity(n);
        let mut it = self.db.raw_iterator_cf(self.cf(cf::TLOG));
        it.seek(first.to_be_bytes());
        for i in first..first + n as u64 {
            let k = i.to_be_bytes();
            let corrupt = |reason: String| StoreError::Corrupt { cf: cf::TLOG, key: show_key(cf::TLOG, &k), reason };
            let v = match (it.key(), it.value()) {
                (Some(key), Some(v)) if key == k => v,
                _ => {
                    it.status().map_err(StoreError::rocks("read tlog"))?;
                    return Err(corrupt("missing below the log's size".into()));
                }
            };
            let payload = crate::codec::unseal(cf::TLOG, &k, v, || show_key(cf::TLOG, &k))?;
            out.push(Hash(payload.try_into().map_err(|_| corrupt(format!("{} bytes, not 32", payload.len())))?));
            it.next();
        }
        Ok(out)
    }

    /// Add the log entries of the block at `height` whose deposits are `leaves` (deposit ID,
    /// leaf hash) to `wb`, on top of `state`; returns the new state.
    fn put_log(
        &self,
        wb: &mut WriteBatch,
        state: LogState,
        height: u64,
        leaves: &[(Hash, Hash)],
    ) -> Result<LogState, StoreError> {
        let hashes: Vec<Hash> = leaves.iter().map(|l| l.1).collect();
        let add = deposit_log::append_leaves(state.size, &hashes, &Reader { store: self })?;
        for (i, h) in (tlog::stored_hash_count(state.size)..).zip(&add) {
            self.put(wb, cf::TLOG, &i.to_be_bytes(), &h.0);
        }
        // In key order, like the other deposit indexes: the memtable's skip list then inserts
        // each key next to the previous one instead of searching from the top for every random
        // deposit ID (that search was 30% of a validator's CPU under batch load).
        let mut index: Vec<(&Hash, u64)> =
            leaves.iter().enumerate().map(|(k, (id, _))| (id, state.size + k as u64)).collect();
        index.sort_unstable_by_key(|e| e.0 .0);
        for (id, i) in index {
            self.put(wb, cf::TLOG_INDEX, &id.0, &i.to_be_bytes());
        }
        let next = LogState { height, size: state.size + leaves.len() as u64 };
        self.put(wb, cf::META, META_TLOG, &next.encode());
        Ok(next)
    }

    /// For [`Store::commit_block`]: add the block's log entries (from its changes) to `wb`.
    /// The caller holds the commit lock and calls [`Store::set_log_state`] after the write.
    pub(super) fn put_block_log(
        &self,
        wb: &mut WriteBatch,
        height: u64,
        changes: &[Change],
    ) -> Result<Option<LogState>, StoreError> {
        let Some(state) = self.log_state() else { return Ok(None) };
        if state.height + 1 != height {
            return Err(StoreError::BadCommit {
                height,
                reason: format!("the deposit log ends at block {}", state.height),
            });
        }
        Ok(Some(self.put_log(wb, state, height, &deposit_log::deposit_leaves(changes))?))
    }

    pub(super) fn set_log_state(&self, s: LogState) {
        *self.log.lock().expect("log state lock") = Some(s);
    }

    /// At open: read the log's record; a writable store behind its tip is caught up from its
    /// blocks (see the module rules).
    pub(super) fn open_log(&mut self, tip_height: u64) -> Result<(), StoreError> {
        let have_families = self.db.cf_handle(cf::TLOG).is_some() && self.db.cf_handle(cf::TLOG_INDEX).is_some();
        let recorded = if have_families { self.get_decoded(cf::META, META_TLOG, LogState::decode)? } else { None };
        if self.read_only {
            if let Some(s) = recorded {
                self.set_log_state(s);
            }
            return Ok(());
        }
        let mut state = recorded.unwrap_or_default();
        if state.height > tip_height || state.size > MAX_LOG_SIZE {
            return Err(StoreError::Corrupt {
                cf: cf::META,
                key: show_key(cf::META, META_TLOG),
                reason: format!("log record {state:?} is beyond the tip {tip_height}"),
            });
        }
        while state.height < tip_height {
            let height = state.height + 1;
            let block: Block = self
                .block(height)?
                .ok_or_else(|| StoreError::NotFound { what: "block", key: format!("at height {height}") })?;
            let leaves = deposit_log::block_leaves(&self.spec.chain_id, &block);
            let mut wb = WriteBatch::default();
            state = self.put_log(&mut wb, state, height, &leaves)?;
            self.write_synced(wb, &format!("add block {height} to the deposit log"))?;
        }
        if recorded.is_none() && tip_height == 0 {
            let mut wb = WriteBatch::default();
            self.put(&mut wb, cf::META, META_TLOG, &state.encode());
            self.write_synced(wb, "start the deposit log")?;
        }
        self.set_log_state(state);
        Ok(())
    }
}
