//! The audit's scratch state: the replayed state in a throw-away RocksDB database, so that an
//! audit's memory stays bounded whatever the length of the chain.
//!
//! Rules:
//! - The database lives in a fresh directory the scratch state creates (under the directory
//!   given, or the system temp dir) and removes when it is dropped: on success, on failure, and
//!   on an unwinding panic. [`ScratchState::path`] names it so that a caller can also remove it
//!   on Ctrl-C.
//! - It holds exactly what [`curia_ledger::state::MemState`] holds, with the same meaning:
//!   applied transaction IDs, deposit IDs, clients, cases (owner, open), attachments, recorded
//!   offences (evidence record keys) and the validator-set history (kept in memory: one entry
//!   per membership change). It starts at the genesis state. Created with
//!   [`ScratchState::create_without_deposits`] it keeps no deposit IDs (only their count): the
//!   audit of a store answers `attach_deposit`'s lookups from the audited chain instead
//!   (`crate::audit`, docs/storage.md "Audit").
//! - Nothing in it must survive a crash, so writes skip the write-ahead log, and values carry no
//!   checksum. A block's changes are one `WriteBatch`.
//! - Layout, tuned for what a replay does: it inserts every deposit ID and reads one almost never
//!   (only an `attach_deposit` asks), so deposits have their own family with big memtables, no
//!   compression and bloom filters; applied transaction IDs (read once per transaction, almost
//!   always absent) have theirs with bloom filters; clients, cases and attachments share a small
//!   family. Memory is bounded by the memtables and one block cache (index and filter blocks go
//!   through it too): about [`MEMORY_BUDGET`] bytes.
//! - A failed read is [`LedgerError::StateStorage`] (code of the [`StoreError`]), which the
//!   auditor reports as an incomplete audit, never as a verdict on the block.

use std::path::{Path, PathBuf};

use curia_ledger::audit::AuditState;
use curia_ledger::crypto::PublicKey;
use curia_ledger::genesis::ChainSpec;
use curia_ledger::hash::Hash;
use curia_ledger::state::{CaseRecord, Change, ClientRecord, StateView, Stats};
use curia_ledger::LedgerError;
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DBCompressionType, Options, WriteBatch,
    WriteOptions, DB,
};

use crate::codec::{attachment_key, decode_client, encode_client};
use crate::error::StoreError;

const DEPOSITS: &str = "deposits";
const TXS: &str = "txs";
/// Clients (`c` || key), cases (`s` || case ID), attachments (`a` || attachment key) and
/// recorded offences (`e` || record key).
const OTHER: &str = "other";

/// Name prefix of scratch directories.
pub const SCRATCH_PREFIX: &str = "curia-audit-";

/// Memtable size of the deposit family.
const DEPOSIT_MEMTABLE: usize = 128 << 20;
/// Memtable size of the transaction family.
const TX_MEMTABLE: usize = 32 << 20;
/// Block cache shared by the families (data, index and filter blocks).
const CACHE: usize = 64 << 20;
/// Memtable size of the deposit family of a state that keeps no deposit IDs (it stays empty).
const UNUSED_MEMTABLE: usize = 1 << 20;
/// Memtable size of the small family.
const OTHER_MEMTABLE: usize = 8 << 20;
/// Rough upper bound of the scratch state's memory: up to 3 memtables per family, and the cache.
pub const MEMORY_BUDGET: usize = 3 * DEPOSIT_MEMTABLE + 3 * TX_MEMTABLE + 3 * OTHER_MEMTABLE + CACHE;
/// [`MEMORY_BUDGET`] of a state made by [`ScratchState::create_without_deposits`] (a store's
/// audit, `crate::audit::AUDIT_MEMORY_BUDGET`).
pub const MEMORY_BUDGET_WITHOUT_DEPOSITS: usize = 3 * UNUSED_MEMTABLE + 3 * TX_MEMTABLE + 3 * OTHER_MEMTABLE + CACHE;

/// The replayed state of an audit, on disk in a scratch directory removed on drop.
pub struct ScratchState {
    db: Option<DB>,
    dir: Option<PathBuf>,
    stats: Stats,
    members: Vec<curia_ledger::membership::MemberEntry>,
    write: WriteOptions,
    /// Whether deposit IDs are kept ([`ScratchState::create_without_deposits`]: no).
    keep_deposits: bool,
}

fn family_options(cache: &Cache, memtable: usize) -> Options {
    let mut opts = Options::default();
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    table.set_bloom_filter(10.0, false);
    table.set_cache_index_and_filter_blocks(true);
    table.set_pin_l0_filter_and_index_blocks_in_cache(true);
    opts.set_block_based_table_factory(&table);
    // Hashes do not compress.
    opts.set_compression_type(DBCompressionType::None);
    opts.set_write_buffer_size(memtable);
    opts.set_max_write_buffer_number(3);
    opts.set_min_write_buffer_number_to_merge(1);
    opts.set_level_compaction_dynamic_level_bytes(true);
    opts.set_target_file_size_base(128 << 20);
    opts.set_max_bytes_for_level_base(1 << 30);
    opts.set_level_zero_file_num_compaction_trigger(4);
    opts.set_level_zero_slowdown_writes_trigger(40);
    opts.set_level_zero_stop_writes_trigger(64);
    opts
}

impl ScratchState {
    /// A scratch state at genesis in a fresh directory under `parent` (the system temp dir if
    /// `None`).
    pub fn create(spec: &ChainSpec, parent: Option<&Path>) -> Result<ScratchState, StoreError> {
        ScratchState::create_with(spec, parent, true)
    }

    /// [`ScratchState::create`] for a replay that finds deposits elsewhere: deposit IDs are
    /// counted but not written, and [`StateView::deposit_exists`] must not be asked (it returns
    /// an error, which stops the audit as incomplete). The audit of a store
    /// wraps it so that `attach_deposit` looks the deposit up in the audited chain instead
    /// (docs/storage.md, "Audit"): a replay then writes one key per transaction, not one per
    /// deposit.
    pub fn create_without_deposits(spec: &ChainSpec, parent: Option<&Path>) -> Result<ScratchState, StoreError> {
        ScratchState::create_with(spec, parent, false)
    }

    fn create_with(spec: &ChainSpec, parent: Option<&Path>, keep_deposits: bool) -> Result<ScratchState, StoreError> {
        let dir = new_dir(parent)?;
        match ScratchState::open(spec, &dir, keep_deposits) {
            Ok(s) => Ok(s),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                Err(e)
            }
        }
    }

    fn open(spec: &ChainSpec, dir: &Path, keep_deposits: bool) -> Result<ScratchState, StoreError> {
        let mut db_opts = Options::default();
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        db_opts.set_max_background_jobs(2);
        db_opts.set_max_open_files(1000);
        db_opts.set_bytes_per_sync(1 << 20);
        let cache = Cache::new_lru_cache(CACHE);
        let cfs = vec![
            ColumnFamilyDescriptor::new(
                DEPOSITS,
                family_options(&cache, if keep_deposits { DEPOSIT_MEMTABLE } else { UNUSED_MEMTABLE }),
            ),
            ColumnFamilyDescriptor::new(TXS, family_options(&cache, TX_MEMTABLE)),
            ColumnFamilyDescriptor::new(OTHER, family_options(&cache, OTHER_MEMTABLE)),
        ];
        let db = DB::open_cf_descriptors(&db_opts, dir, cfs)
            .map_err(StoreError::rocks(format!("open scratch state {}", dir.display())))?;
        let mut write = WriteOptions::default();
        write.disable_wal(true);
        let mut s = ScratchState {
            db: Some(db),
            dir: Some(dir.to_path_buf()),
            stats: Stats::default(),
            members: Vec::new(),
            write,
            keep_deposits,
        };
        let mut wb = WriteBatch::default();
        for c in &spec.genesis.clients {
            let rec = ClientRecord { name: c.name.clone(), role: c.role, active: true };
            wb.put_cf(s.cf(OTHER), client_key(&c.key), encode_client(&rec));
        }
        s.write(wb)?;
        Ok(s)
    }

    /// The scratch directory (removed when the state is dropped).
    pub fn path(&self) -> &Path {
        self.dir.as_ref().expect("open until dropped")
    }

    /// Close the database and remove the directory, reporting a failure to remove it (dropping
    /// does the same silently).
    pub fn remove(mut self) -> Result<(), StoreError> {
        self.db.take();
        let path = self.dir.take().expect("open until dropped");
        std::fs::remove_dir_all(&path).map_err(|source| StoreError::Io { op: "remove scratch directory", path, source })
    }

    fn db(&self) -> &DB {
        self.db.as_ref().expect("open until dropped")
    }

    fn cf(&self, name: &str) -> &ColumnFamily {
        self.db().cf_handle(name).expect("scratch family exists")
    }

    fn write(&mut self, wb: WriteBatch) -> Result<(), StoreError> {
        self.db().write_opt(wb, &self.write).map_err(StoreError::rocks("write scratch state"))
    }

    fn get(&self, fam: &str, key: &[u8]) -> Result<Option<Vec<u8>>, LedgerError> {
        match self.db().get_pinned_cf(self.cf(fam), key) {
            Ok(v) => Ok(v.map(|v| v.to_vec())),
            Err(e) => Err(ledger_error(StoreError::rocks(format!("read scratch {fam}"))(e))),
        }
    }

    fn exists(&self, fam: &str, key: &[u8]) -> Result<bool, LedgerError> {
        match self.db().get_pinned_cf(self.cf(fam), key) {
            Ok(v) => Ok(v.is_some()),
            Err(e) => Err(ledger_error(StoreError::rocks(format!("read scratch {fam}"))(e))),
        }
    }
}

fn corrupt(what: &str, key: &[u8], reason: String) -> LedgerError {
    ledger_error(StoreError::Corrupt { cf: "audit scratch", key: format!("{what} {}", hex::encode(key)), reason })
}

impl Drop for ScratchState {
    fn drop(&mut self) {
        // Close the database before its directory goes.
        self.db.take();
        if let Some(dir) = self.dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A directory `curia-audit-<pid>-<n>` under `parent` (the system temp dir if `None`) that did
/// not exist before.
pub(crate) fn new_dir(parent: Option<&Path>) -> Result<PathBuf, StoreError> {
    let parent = parent.map(Path::to_path_buf).unwrap_or_else(std::env::temp_dir);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let mut last = None;
    for n in 0..100u32 {
        let dir = parent.join(format!("{SCRATCH_PREFIX}{}-{}", std::process::id(), nanos.wrapping_add(n)));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(source) => return Err(StoreError::Io { op: "create scratch directory", path: dir, source }),
        }
    }
    Err(StoreError::Io {
        op: "create scratch directory in",
        path: parent,
        source: last.unwrap_or_else(|| std::io::Error::other("no free name")),
    })
}

fn client_key(key: &PublicKey) -> Vec<u8> {
    let mut k = Vec::with_capacity(33);
    k.push(b'c');
    k.extend_from_slice(&key.0);
    k
}

fn case_key(id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + id.len());
    k.push(b's');
    k.extend_from_slice(id.as_bytes());
    k
}

fn attached_key(case: &str, deposit: &Hash) -> Vec<u8> {
    let mut k = vec![b'a'];
    k.extend_from_slice(&attachment_key(case, deposit));
    k
}

fn evidence_key(key: &Hash) -> [u8; 33] {
    let mut k = [b'e'; 33];
    k[1..].copy_from_slice(&key.0);
    k
}

fn encode_case(r: &CaseRecord) -> [u8; 33] {
    let mut v = [0u8; 33];
    v[..32].copy_from_slice(&r.owner.0);
    v[32] = r.open as u8;
    v
}

impl StateView for ScratchState {
    fn client(&self, key: &PublicKey) -> Result<Option<ClientRecord>, LedgerError> {
        let k = client_key(key);
        let Some(v) = self.get(OTHER, &k)? else { return Ok(None) };
        decode_client(&v).map(Some).map_err(|e| corrupt("client", &k, e.0))
    }
    fn tx_applied(&self, id: &Hash) -> Result<bool, LedgerError> {
        self.exists(TXS, &id.0)
    }
    fn deposit_exists(&self, id: &Hash) -> Result<bool, LedgerError> {
        if !self.keep_deposits {
            return Err(corrupt("deposit", &id.0, "this scratch state keeps no deposit IDs".into()));
        }
        self.exists(DEPOSITS, &id.0)
    }
    fn case(&self, id: &str) -> Result<Option<CaseRecord>, LedgerError> {
        let k = case_key(id);
        let Some(v) = self.get(OTHER, &k)? else { return Ok(None) };
        match <[u8; 33]>::try_from(v.as_slice()) {
            Ok(b) if b[32] <= 1 => {
                Ok(Some(CaseRecord { owner: PublicKey(b[..32].try_into().expect("32 bytes")), open: b[32] == 1 }))
            }
            _ => Err(corrupt("case", &k, format!("{} bytes, not a case record", v.len()))),
        }
    }
    fn attached(&self, case: &str, deposit: &Hash) -> Result<bool, LedgerError> {
        self.exists(OTHER, &attached_key(case, deposit))
    }
    fn member_entries(&self) -> Result<Vec<curia_ledger::membership::MemberEntry>, LedgerError> {
        Ok(self.members.clone())
    }
    fn evidence_recorded(&self, key: &Hash) -> Result<bool, LedgerError> {
        self.exists(OTHER, &evidence_key(key))
    }
    /// The scratch state keeps no deposit log: the auditor replays the log beside it and hands
    /// it to the state transition (`curia_ledger::state::WithLog`).
    fn log_frontier(&self) -> Result<curia_ledger::deposit_log::Frontier, LedgerError> {
        Err(LedgerError::StateStorage {
            reason: "the audit scratch state keeps no deposit log (the auditor supplies it)".into(),
            code: "no_deposit_log",
        })
    }
}

fn ledger_error(e: StoreError) -> LedgerError {
    LedgerError::StateStorage { reason: format!("audit scratch state: {e}"), code: e.code() }
}

impl AuditState for ScratchState {
    fn apply_changes(&mut self, changes: &[Change]) -> Result<(), LedgerError> {
        let mut wb = WriteBatch::default();
        let mut stats = self.stats;
        let mut members = Vec::new();
        {
            let (deposits, txs, other) = (self.cf(DEPOSITS), self.cf(TXS), self.cf(OTHER));
            for c in changes {
                match c {
                    Change::TxApplied { id } => {
                        wb.put_cf(txs, id.0, []);
                        stats.txs += 1;
                    }
                    Change::Deposit { id, .. } => {
                        if self.keep_deposits {
                            wb.put_cf(deposits, id.0, []);
                        }
                        stats.deposits += 1;
                    }
                    Change::ClientPut { key, record } => {
                        wb.put_cf(other, client_key(key), encode_client(record));
                        stats.registry_changes += 1;
                    }
                    Change::CaseOpened { case_id, owner } => {
                        wb.put_cf(other, case_key(case_id), encode_case(&CaseRecord { owner: *owner, open: true }));
                        stats.cases += 1;
                        stats.case_records += 1;
                    }
                    Change::Attached { case_id, deposit } => {
                        wb.put_cf(other, attached_key(case_id, deposit), []);
                        stats.case_records += 1;
                    }
                    Change::Verified { .. } => stats.case_records += 1,
                    // The validator-set history is small (one entry per change): kept in memory.
                    Change::Member { entry } => members.push(entry.clone()),
                    Change::Evidence { key, .. } => {
                        wb.put_cf(other, evidence_key(key), []);
                        stats.evidence += 1;
                    }
                    Change::CaseClosed { case_id } => {
                        // As in memory: the case keeps its owner and is no longer open. A case
                        // opened in this same block is in the batch, not yet readable.
                        let opened = changes.iter().rev().find_map(|c| match c {
                            Change::CaseOpened { case_id: id, owner } if id == case_id => Some(*owner),
                            _ => None,
                        });
                        let owner = match opened {
                            Some(owner) => Some(owner),
                            None => self.case(case_id)?.map(|r| r.owner),
                        };
                        if let Some(owner) = owner {
                            wb.put_cf(other, case_key(case_id), encode_case(&CaseRecord { owner, open: false }));
                        }
                        stats.case_records += 1;
                    }
                }
            }
        }
        self.write(wb).map_err(ledger_error)?;
        self.stats = stats;
        self.members.extend(members);
        Ok(())
    }

    fn stats(&self) -> Stats {
        self.stats
    }
}
