//! The chain store: one RocksDB database with one column family per kind of record.
//!
//! Rules:
//! - A store is created for one chain: the schema version, the chain ID and the canonical
//!   genesis are written when it is created and checked on every open.
//! - [`Store::commit_block`] writes the block, its certificate, its header, every state change,
//!   every index entry and the new tip in one RocksDB `WriteBatch`, with a synced WAL write: when
//!   it returns the block survives a crash or power loss, and a crash before it returns leaves
//!   the store at the previous block (the batch is all or nothing). The deposit log's entries
//!   (`store/deposit_log.rs`) are part of that batch.
//! - A block is committed only on top of the tip: its height is the next one, its previous hash
//!   is the tip's hash, its certificate names its hash and height, and its header's state root is
//!   the one its changes produce on top of the tip's state root.
//! - The vote log and the consensus state are written with synced writes before the call
//!   returns, so a validator that sends a vote after `append_vote` returns never forgets it.
//! - Every value is checksummed (see [`crate::codec`]) and checked again when read; a read that
//!   fails its check returns [`StoreError::Corrupt`] and never the bad bytes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use curia_ledger::block::{Block, CommitCertificate, Header, SignedVote};
use curia_ledger::codec::Canonical;
use curia_ledger::crypto::PublicKey;
use curia_ledger::equivocation::Equivocation;
use curia_ledger::genesis::{ChainSpec, Genesis};
use curia_ledger::hash::Hash;
use curia_ledger::receipt::Receipt;
use curia_ledger::state::{apply_block, next_state_root, CaseRecord, Change, ClientRecord, StateView, Tip};
use curia_ledger::tx::Payload;
use curia_ledger::LedgerError;
use rocksdb::{
    BlockBasedOptions, Cache, ChecksumType, ColumnFamily, ColumnFamilyDescriptor, DBCompressionType, Direction,
    IteratorMode, Options, ReadOptions, SliceTransform, WriteBatch, WriteOptions, DB,
};

use crate::codec::*;
use crate::error::StoreError;

/// Schema version this build reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// Column family names.
pub mod cf {
    /// Schema version, chain ID, genesis, tip, consensus state.
    pub const META: &str = "meta";
    /// Height -> canonical block.
    pub const BLOCKS: &str = "blocks";
    /// Height -> canonical commit certificate.
    pub const CERTS: &str = "certs";
    /// Height -> canonical header.
    pub const HEADERS: &str = "headers";
    /// Deposit ID -> location (height, tx index, item index). Also the state's deposit set.
    pub const DEPOSITS: &str = "deposits";
    /// `commitment || deposit ID` -> nothing (prefix-scanned by commitment).
    pub const DIGESTS: &str = "digests";
    /// `u8 len || case ID || u32 seq` -> case record.
    pub const CASES: &str = "cases";
    /// Transaction ID -> (height, tx index). Also the state's applied-transaction set.
    pub const TXS: &str = "txs";
    /// Client key -> client record.
    pub const CLIENTS: &str = "clients";
    /// Case ID -> owner, open flag, record count.
    pub const CASE_STATUS: &str = "case_status";
    /// `u8 len || case ID || deposit ID` -> nothing.
    pub const ATTACHMENTS: &str = "attachments";
    /// `u64 height || u64 seq` -> canonical signed vote.
    pub const VOTES: &str = "votes";
    /// `u64 height || u32 tx index` -> canonical transaction (see `store/tx_layout.rs`).
    pub const BLOCK_TXS: &str = "block_txs";
    /// `u64 height || u8 band || u32 tile` -> the hashes of one tile of the block's transaction
    /// tree (see `store/tx_layout.rs`).
    pub const TX_TILES: &str = "tx_tiles";
    /// `u64 stored-hash index` -> 32-byte hash of the deposit log (see `store/deposit_log.rs`).
    pub const TLOG: &str = "tlog";
    /// Deposit ID -> `u64` leaf index in the deposit log.
    pub const TLOG_INDEX: &str = "tlog_index";
    /// `u64 height || u32 tx index` -> a batch transaction without its items, and
    /// `u64 height || u32 tx index || u8 band || u32 tile` -> one tile of the batch's item tree
    /// (band 0: the items themselves; see `store/batch_layout.rs`).
    pub const BATCH_TILES: &str = "batch_tiles";
    /// Every column family. A family's position is part of its values' checksums: new
    /// families go at the end.
    pub const ALL: [&str; 17] = [
        META,
        BLOCKS,
        CERTS,
        HEADERS,
        DEPOSITS,
        DIGESTS,
        CASES,
        TXS,
        CLIENTS,
        CASE_STATUS,
        ATTACHMENTS,
        VOTES,
        BLOCK_TXS,
        TX_TILES,
        TLOG,
        TLOG_INDEX,
        BATCH_TILES,
    ];
}

const META_SCHEMA: &[u8] = b"schema";
const META_CHAIN: &[u8] = b"chain_id";
const META_GENESIS: &[u8] = b"genesis";
const META_TIP: &[u8] = b"tip";
const META_CONSENSUS: &[u8] = b"consensus_state";
/// Prefix of equivocation evidence keys in `meta`: `equivocation/ || u64 height || u32 round ||
/// u8 kind || u16 validator` -> canonical [`Equivocation`].
const META_EQUIVOCATION: &[u8] = b"equivocation/";
/// Most equivocation records kept; later ones are not stored (the first are the proof needed).
pub const MAX_EQUIVOCATIONS: usize = 1024;
const META_TX_LAYOUT: &[u8] = b"tx_layout_from";
/// First height committed with the batch layout (see `store/batch_layout.rs`).
const META_BATCH_LAYOUT: &[u8] = b"batch_layout_from";
/// First height whose batches are stored without a `block_txs` entry (see `store/batch_layout.rs`).
const META_BATCH_SLIM: &[u8] = b"batch_slim_from";
/// `u64 height || u64 size` of the deposit log (see `store/deposit_log.rs`).
const META_TLOG: &[u8] = b"tlog";

mod batch_layout;
mod checkpoints;
mod deposit_log;
mod tx_layout;

pub use checkpoints::{StoredCheckpoint, StoredTsaToken, MAX_CHECKPOINT_NOTE, MAX_TSA_TOKEN};
pub use deposit_log::LogState;

fn show_height(k: &[u8]) -> String {
    match <[u8; 8]>::try_from(k) {
        Ok(b) => format!("height {}", u64::from_be_bytes(b)),
        Err(_) => format!("key {}", hex::encode(k)),
    }
}

fn show_key(cf: &str, k: &[u8]) -> String {
    match cf {
        cf::BLOCKS | cf::CERTS | cf::HEADERS => show_height(k),
        cf::META => {
            checkpoints::show_checkpoint_key(k).unwrap_or_else(|| format!("key {}", String::from_utf8_lossy(k)))
        }
        cf::DEPOSITS => format!("deposit {}", hex::encode(k)),
        cf::TXS => format!("transaction {}", hex::encode(k)),
        cf::DIGESTS if k.len() == 64 => {
            format!("digest {} deposit {}", hex::encode(&k[..32]), hex::encode(&k[32..]))
        }
        cf::VOTES if k.len() == 16 => format!("vote at height {}", u64::from_be_bytes(k[..8].try_into().unwrap())),
        cf::BLOCK_TXS | cf::TX_TILES => tx_layout::show_layout_key(k),
        cf::BATCH_TILES => batch_layout::show_batch_key(k),
        cf::TLOG | cf::TLOG_INDEX => deposit_log::show_log_key(cf, k),
        _ => format!("key {}", hex::encode(k)),
    }
}

/// The chain store.
pub struct Store {
    pub(crate) db: DB,
    path: PathBuf,
    spec: ChainSpec,
    read_only: bool,
    /// Held for a whole [`Store::commit_block`] (checks, hashing, the synced write), so commits
    /// are serialized. Readers never take it.
    commit_lock: Mutex<()>,
    /// The tip. Locked only to copy it or, once a commit's synced write has returned, to replace
    /// it: never across hashing or I/O, so a reader (a receipt, `/v1/status`) does not wait for
    /// a commit's fsync (it used to: receipts' latency tail under load, docs/performance.md).
    tip: Mutex<Tip>,
    next_vote_seq: AtomicU64,
    /// First height committed with the per-transaction layout (`u64::MAX`: none).
    tx_layout_from: u64,
    /// First height committed with the batch layout (`u64::MAX`: none).
    batch_layout_from: u64,
    /// First height whose batches have no `block_txs` entry (`u64::MAX`: none); never below
    /// `batch_layout_from` or `tx_layout_from`.
    batch_slim_from: u64,
    /// Deposit log: the last block it covers and its leaves, read and replaced together (`None`:
    /// no log; read-only stores written before it). Updated under the tip lock with the tip
    /// after each commit.
    log: Mutex<Option<LogState>>,
    /// The first membership history entries with their proofs, once built
    /// (`crate::membership`): receipts embed them without decoding their blocks again.
    pub(crate) history_cache: Mutex<Vec<curia_ledger::history::HistoryEntry>>,
}

/// The WAL files kept before the oldest are freed by flushing the families that pin them.
const MAX_TOTAL_WAL_BYTES: u64 = 1 << 30;

/// Tuning knobs; the defaults suit a node.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Block cache size in bytes, shared by every column family.
    pub block_cache_bytes: usize,
    /// Memtable size per column family for the big index families.
    pub index_write_buffer_bytes: usize,
    /// Background flush and compaction jobs.
    pub background_jobs: i32,
    /// Most table files kept open (-1: all; each open table keeps a reader in memory).
    pub max_open_files: i32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            block_cache_bytes: 256 << 20,
            index_write_buffer_bytes: 128 << 20,
            background_jobs: 2,
            max_open_files: -1,
        }
    }
}

impl StoreOptions {
    /// The tuning of a store's audit (its memory budget: [`crate::AUDIT_MEMORY_BUDGET`]).
    pub fn audit() -> StoreOptions {
        StoreOptions {
            block_cache_bytes: crate::audit::AUDIT_STORE_CACHE,
            max_open_files: crate::audit::AUDIT_MAX_OPEN_FILES,
            ..StoreOptions::default()
        }
    }
}

fn db_options(o: &StoreOptions) -> (Options, Vec<ColumnFamilyDescriptor>) {
    let mut db = Options::default();
    db.create_if_missing(true);
    db.create_missing_column_families(true);
    db.set_max_background_jobs(o.background_jobs);
    db.set_bytes_per_sync(1 << 20);
    db.set_paranoid_checks(true);
    // Without a cap RocksDB keeps every WAL file until each family's memtable holding part of it
    // is flushed; a rarely written family (meta, cases) then pins them all, up to four times
    // the memtables' total (~15 GB here: a 100 M-deposit ingest had 9 GB of WAL at 22 M), and a
    // restart replays all of it. Over the cap, the families pinning the oldest file are flushed.
    db.set_max_total_wal_size(MAX_TOTAL_WAL_BYTES);
    db.set_max_open_files(o.max_open_files);
    let cache = Cache::new_lru_cache(o.block_cache_bytes);
    let cfs = cf::ALL
        .iter()
        .map(|name| {
            let mut opts = Options::default();
            let mut table = BlockBasedOptions::default();
            table.set_block_cache(&cache);
            table.set_format_version(5);
            // XXH3 block checksums: this build's CRC32c is the portable software one.
            table.set_checksum_type(ChecksumType::XXH3);
            table.set_bloom_filter(10.0, false);
            table.set_cache_index_and_filter_blocks(true);
            opts.set_level_compaction_dynamic_level_bytes(true);
            match *name {
                cf::BLOCKS => {
                    // Large, append-only values: keep them in blob files so compaction does not
                    // rewrite them.
                    opts.set_enable_blob_files(true);
                    opts.set_min_blob_size(4096);
                    opts.set_write_buffer_size(64 << 20);
                    opts.set_compression_type(DBCompressionType::Lz4);
                }
                // Hashes do not compress.
                cf::TLOG | cf::BATCH_TILES => opts.set_compression_type(DBCompressionType::None),
                cf::DEPOSITS | cf::DIGESTS | cf::TXS | cf::TLOG_INDEX => {
                    // Random 32-byte keys: incompressible, so no compression; big memtables cut
                    // the number of level-0 files and the write amplification.
                    opts.set_compression_type(DBCompressionType::None);
                    opts.set_write_buffer_size(o.index_write_buffer_bytes);
                    opts.set_max_write_buffer_number(4);
                    opts.set_target_file_size_base(64 << 20);
                    opts.set_max_bytes_for_level_base(512 << 20);
                    opts.set_level_zero_slowdown_writes_trigger(40);
                    opts.set_level_zero_stop_writes_trigger(64);
                    if *name == cf::DIGESTS {
                        opts.set_prefix_extractor(SliceTransform::create_fixed_prefix(32));
                        table.set_whole_key_filtering(false);
                    }
                    if *name == cf::TXS || *name == cf::DEPOSITS {
                        // Each single deposit is looked up in `txs` (is it applied?) on admission
                        // and again in every block check, and the answer is almost always "no":
                        // a bloom filter over each memtable answers that without searching its
                        // skip list (up to four memtables per lookup). In memory only: the files
                        // on disk are unchanged (docs/performance.md, "Single deposits").
                        opts.set_memtable_prefix_bloom_ratio(0.02);
                        opts.set_memtable_whole_key_filtering(true);
                    }
                }
                _ => opts.set_compression_type(DBCompressionType::Lz4),
            }
            opts.set_block_based_table_factory(&table);
            ColumnFamilyDescriptor::new(*name, opts)
        })
        .collect();
    (db, cfs)
}

impl Store {
    /// Open the store at `dir` for `spec`'s chain, creating it if the directory holds none.
    /// Fails if the store was made by another schema version or for another chain.
    pub fn open(dir: impl AsRef<Path>, spec: &ChainSpec) -> Result<Store, StoreError> {
        Store::open_with(dir, spec, &StoreOptions::default())
    }

    /// [`Store::open`] with tuning options.
    pub fn open_with(dir: impl AsRef<Path>, spec: &ChainSpec, o: &StoreOptions) -> Result<Store, StoreError> {
        let path = dir.as_ref().to_path_buf();
        let (opts, cfs) = db_options(o);
        let db = DB::open_cf_descriptors(&opts, &path, cfs)
            .map_err(StoreError::rocks(format!("open {}", path.display())))?;
        let meta = db.cf_handle(cf::META).expect("meta family exists");
        let fresh = db.get_cf(meta, META_SCHEMA).map_err(StoreError::rocks("read schema"))?.is_none();
        if fresh {
            let mut b = WriteBatch::default();
            let put = |b: &mut WriteBatch, fam: &'static str, k: &[u8], v: &[u8]| {
                b.put_cf(db.cf_handle(fam).expect("family exists"), k, seal(fam, k, v))
            };
            put(&mut b, cf::META, META_CHAIN, &spec.chain_id.0);
            put(&mut b, cf::META, META_GENESIS, &spec.genesis.to_bytes());
            put(&mut b, cf::META, META_TIP, &encode_tip(&Tip::genesis(spec)));
            put(&mut b, cf::META, META_TX_LAYOUT, &1u64.to_be_bytes());
            put(&mut b, cf::META, META_BATCH_LAYOUT, &1u64.to_be_bytes());
            put(&mut b, cf::META, META_BATCH_SLIM, &1u64.to_be_bytes());
            put(&mut b, cf::META, META_TLOG, &[0u8; 16]);
            for c in &spec.genesis.clients {
                let rec = ClientRecord { name: c.name.clone(), role: c.role, active: true };
                put(&mut b, cf::CLIENTS, &c.key.0, &encode_client(&rec));
            }
            // The schema key goes last in the same batch: a store with a schema key is complete.
            put(&mut b, cf::META, META_SCHEMA, &SCHEMA_VERSION.to_be_bytes());
            let mut w = WriteOptions::default();
            w.set_sync(true);
            db.write_opt(b, &w).map_err(StoreError::rocks("initialize store"))?;
        }
        Store::finish_open(db, path, Some(spec), false)
    }

    /// Open an existing store, taking the chain from the genesis it holds.
    pub fn open_existing(dir: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = dir.as_ref().to_path_buf();
        Store::check_exists(&path)?;
        let (mut opts, cfs) = db_options(&StoreOptions::default());
        opts.create_if_missing(false);
        let db = DB::open_cf_descriptors(&opts, &path, cfs)
            .map_err(StoreError::rocks(format!("open {}", path.display())))?;
        Store::finish_open(db, path, None, false)
    }

    /// Open an existing store read-only (for audits and inspection; another process may be
    /// writing it). Sees the store as of the moment it was opened.
    pub fn open_read_only(dir: impl AsRef<Path>) -> Result<Store, StoreError> {
        Store::open_read_only_with(dir, &StoreOptions::default())
    }

    /// [`Store::open_read_only`] with other tuning (an audit's bigger block cache, say).
    pub fn open_read_only_with(dir: impl AsRef<Path>, o: &StoreOptions) -> Result<Store, StoreError> {
        let path = dir.as_ref().to_path_buf();
        Store::check_exists(&path)?;
        let (opts, mut cfs) = db_options(o);
        // A store older than the per-transaction layout lacks its two families; a read-only
        // open cannot create them.
        if let Ok(existing) = DB::list_cf(&opts, &path) {
            cfs.retain(|d| existing.iter().any(|e| e.as_str() == d.name()));
        }
        let db = DB::open_cf_descriptors_read_only(&opts, &path, cfs, false)
            .map_err(StoreError::rocks(format!("open {} read-only", path.display())))?;
        Store::finish_open(db, path, None, true)
    }

    fn check_exists(path: &Path) -> Result<(), StoreError> {
        if !path.join("CURRENT").is_file() {
            return Err(StoreError::NotAStore { path: path.into(), reason: "no RocksDB database in it".into() });
        }
        Ok(())
    }

    fn finish_open(db: DB, path: PathBuf, spec: Option<&ChainSpec>, read_only: bool) -> Result<Store, StoreError> {
        let meta = |k: &[u8]| -> Result<Option<Vec<u8>>, StoreError> {
            let h = db.cf_handle(cf::META).expect("meta family exists");
            match db.get_pinned_cf(h, k).map_err(StoreError::rocks("read meta"))? {
                None => Ok(None),
                Some(v) => Ok(Some(unseal(cf::META, k, &v, || show_key(cf::META, k))?.to_vec())),
            }
        };
        let corrupt =
            |k: &[u8], reason: String| StoreError::Corrupt { cf: cf::META, key: show_key(cf::META, k), reason };
        let schema = meta(META_SCHEMA)?
            .ok_or_else(|| StoreError::NotAStore { path: path.clone(), reason: "no schema version recorded".into() })?;
        let found = u32::from_be_bytes(
            schema.as_slice().try_into().map_err(|_| corrupt(META_SCHEMA, "schema version is not 4 bytes".into()))?,
        );
        if found != SCHEMA_VERSION {
            return Err(StoreError::SchemaVersion { path, found, expected: SCHEMA_VERSION });
        }
        let chain = meta(META_CHAIN)?.ok_or_else(|| corrupt(META_CHAIN, "missing".into()))?;
        let chain = Hash(chain.as_slice().try_into().map_err(|_| corrupt(META_CHAIN, "not 32 bytes".into()))?);
        let genesis = meta(META_GENESIS)?.ok_or_else(|| corrupt(META_GENESIS, "missing".into()))?;
        let stored_spec = Genesis::from_bytes(&genesis)
            .and_then(Genesis::into_spec)
            .map_err(|e| corrupt(META_GENESIS, e.to_string()))?;
        if stored_spec.chain_id != chain {
            return Err(corrupt(META_GENESIS, "genesis does not hash to the recorded chain ID".into()));
        }
        if let Some(spec) = spec {
            if spec.chain_id != chain {
                return Err(StoreError::WrongChain { path, found: chain.to_hex(), expected: spec.chain_id.to_hex() });
            }
        }
        let tip = meta(META_TIP)?.ok_or_else(|| corrupt(META_TIP, "missing".into()))?;
        let tip = decode_tip(&tip).map_err(|e| corrupt(META_TIP, e.0))?;
        let votes = db.cf_handle(cf::VOTES).expect("votes family exists");
        let next_vote_seq = match db.iterator_cf(votes, IteratorMode::End).next() {
            None => 0,
            Some(kv) => {
                let (k, _) = kv.map_err(StoreError::rocks("scan votes"))?;
                if k.len() != 16 {
                    return Err(StoreError::Corrupt {
                        cf: cf::VOTES,
                        key: show_key(cf::VOTES, &k),
                        reason: "bad key".into(),
                    });
                }
                u64::from_be_bytes(k[8..].try_into().expect("8 bytes")) + 1
            }
        };
        let mut store = Store {
            db,
            path,
            spec: stored_spec,
            read_only,
            commit_lock: Mutex::new(()),
            tip: Mutex::new(tip),
            next_vote_seq: AtomicU64::new(next_vote_seq),
            tx_layout_from: u64::MAX,
            batch_layout_from: u64::MAX,
            batch_slim_from: u64::MAX,
            log: Mutex::new(None),
            history_cache: Mutex::new(Vec::new()),
        };
        store.tx_layout_from = match store.read_tx_layout_from()? {
            Some(h) => h,
            None if read_only => u64::MAX,
            None => {
                // A store written before the per-transaction layout: blocks from the next one on
                // get it; receipts of older blocks are built from the whole block.
                store.write_tx_layout_from(tip.height + 1)?;
                tip.height + 1
            }
        };
        store.batch_layout_from = match store.read_batch_layout_from()? {
            Some(h) => h,
            None if read_only => u64::MAX,
            None => {
                // A store written before the batch layout: batches from the next block on get it.
                store.write_batch_layout_from(tip.height + 1)?;
                tip.height + 1
            }
        };
        store.batch_slim_from = match store.read_batch_slim_from()? {
            // Below either layout a batch's block_txs entry is its only stored copy apart from
            // the block: a recorded height there is not one this code writes.
            Some(h) if h < store.batch_layout_from || h < store.tx_layout_from => {
                return Err(corrupt(
                    META_BATCH_SLIM,
                    format!(
                        "batch_slim_from {h} is below batch_layout_from {} or tx_layout_from {}",
                        store.batch_layout_from, store.tx_layout_from
                    ),
                ))
            }
            Some(h) => h,
            None if read_only => u64::MAX,
            None => {
                // A store written before batches left block_txs: from the next block on.
                store.write_batch_slim_from(tip.height + 1)?;
                tip.height + 1
            }
        };
        store.open_log(tip.height)?;
        Ok(store)
    }

    /// The chain this store holds (from its recorded genesis).
    pub fn spec(&self) -> &ChainSpec {
        &self.spec
    }

    /// The store's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn cf(&self, name: &'static str) -> &ColumnFamily {
        self.db.cf_handle(name).expect("every family is opened")
    }

    /// The families this store has open (a read-only old store may lack the newest ones).
    fn open_families(&self) -> impl Iterator<Item = (&'static str, &ColumnFamily)> + '_ {
        cf::ALL.iter().filter_map(|n| self.db.cf_handle(n).map(|h| (*n, h)))
    }

    pub(crate) fn get(&self, fam: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.db.get_pinned_cf(self.cf(fam), key).map_err(StoreError::rocks(format!("read {fam}")))? {
            None => Ok(None),
            Some(v) => Ok(Some(unseal(fam, key, &v, || show_key(fam, key))?.to_vec())),
        }
    }

    /// Checked values of `keys` in one family, read together (`sorted`: the keys are in
    /// ascending order, which lets RocksDB read them faster). Used by the audit.
    pub(crate) fn multi_get(
        &self,
        fam: &'static str,
        keys: &[&[u8]],
        sorted: bool,
    ) -> Vec<Result<Option<Vec<u8>>, StoreError>> {
        let cf = self.cf(fam);
        self.db
            .batched_multi_get_cf(cf, keys, sorted)
            .into_iter()
            .zip(keys)
            .map(|(r, key)| match r.map_err(StoreError::rocks(format!("read {fam}")))? {
                None => Ok(None),
                Some(v) => Ok(Some(unseal(fam, key, &v, || show_key(fam, key))?.to_vec())),
            })
            .collect()
    }

    fn get_decoded<T>(
        &self,
        fam: &'static str,
        key: &[u8],
        f: impl FnOnce(&[u8]) -> Result<T, String>,
    ) -> Result<Option<T>, StoreError> {
        match self.db.get_pinned_cf(self.cf(fam), key).map_err(StoreError::rocks(format!("read {fam}")))? {
            None => Ok(None),
            Some(v) => {
                let payload = unseal(fam, key, &v, || show_key(fam, key))?;
                f(payload).map(Some).map_err(|reason| StoreError::Corrupt { cf: fam, key: show_key(fam, key), reason })
            }
        }
    }

    fn canonical<T: Canonical>(&self, fam: &'static str, height: u64) -> Result<Option<T>, StoreError> {
        self.get_decoded(fam, &height_key(height), |b| T::from_bytes(b).map_err(|e| e.to_string()))
    }

    pub(crate) fn write_synced(&self, b: WriteBatch, op: &str) -> Result<(), StoreError> {
        if self.read_only {
            return Err(StoreError::ReadOnly { path: self.path.clone() });
        }
        let mut w = WriteOptions::default();
        w.set_sync(true);
        self.db.write_opt(b, &w).map_err(StoreError::rocks(op))
    }

    // ----- chain reads -----

    /// The tip: height, hash and state root of the last committed block.
    pub fn tip(&self) -> Tip {
        *self.tip.lock().expect("tip lock")
    }

    /// The tip as recorded on disk (re-read and checked).
    pub fn stored_tip(&self) -> Result<Tip, StoreError> {
        self.get_decoded(cf::META, META_TIP, |b| decode_tip(b).map_err(|e| e.0))?
            .ok_or_else(|| StoreError::NotFound { what: "meta", key: "tip".into() })
    }

    /// The block at `height`, checked against its checksum and its height.
    pub fn block(&self, height: u64) -> Result<Option<Block>, StoreError> {
        let b: Option<Block> = self.canonical(cf::BLOCKS, height)?;
        if let Some(b) = &b {
            self.check_height(cf::BLOCKS, height, b.header.height)?;
        }
        Ok(b)
    }

    /// The header at `height`.
    pub fn header(&self, height: u64) -> Result<Option<Header>, StoreError> {
        let h: Option<Header> = self.canonical(cf::HEADERS, height)?;
        if let Some(h) = &h {
            self.check_height(cf::HEADERS, height, h.height)?;
        }
        Ok(h)
    }

    /// The commit certificate of the block at `height`.
    pub fn cert(&self, height: u64) -> Result<Option<CommitCertificate>, StoreError> {
        let c: Option<CommitCertificate> = self.canonical(cf::CERTS, height)?;
        if let Some(c) = &c {
            self.check_height(cf::CERTS, height, c.height)?;
        }
        Ok(c)
    }

    fn check_height(&self, fam: &'static str, key: u64, found: u64) -> Result<(), StoreError> {
        if key != found {
            return Err(StoreError::Corrupt {
                cf: fam,
                key: format!("height {key}"),
                reason: format!("value is for height {found}"),
            });
        }
        Ok(())
    }

    /// Where a deposit is.
    pub fn deposit_location(&self, deposit_id: &Hash) -> Result<Option<DepositLocation>, StoreError> {
        self.get_decoded(cf::DEPOSITS, &deposit_id.0, |b| DepositLocation::decode(b).map_err(|e| e.0))
    }

    /// Where a transaction is: height and index in the block.
    pub fn tx_location(&self, tx_id: &Hash) -> Result<Option<(u64, u32)>, StoreError> {
        self.get_decoded(cf::TXS, &tx_id.0, |b| {
            let mut c = Cursor::new(b);
            let r = (c.u64().map_err(|e| e.0)?, c.u32().map_err(|e| e.0)?);
            c.finish().map_err(|e| e.0)?;
            Ok(r)
        })
    }

    /// Every deposit ID of a commitment (evidence digest), in key order.
    pub fn deposits_by_digest(&self, commitment: &Hash) -> Result<Vec<Hash>, StoreError> {
        let fam = cf::DIGESTS;
        let mut ro = ReadOptions::default();
        ro.set_prefix_same_as_start(true);
        let it = self.db.iterator_cf_opt(self.cf(fam), ro, IteratorMode::From(&commitment.0, Direction::Forward));
        let mut out = Vec::new();
        for kv in it {
            let (k, v) = kv.map_err(StoreError::rocks("scan digests"))?;
            if !k.starts_with(&commitment.0) {
                break;
            }
            let payload = unseal(fam, &k, &v, || show_key(fam, &k))?;
            if k.len() != 64 || !payload.is_empty() {
                return Err(StoreError::Corrupt { cf: fam, key: show_key(fam, &k), reason: "bad key or value".into() });
            }
            out.push(Hash(k[32..].try_into().expect("32 bytes")));
        }
        Ok(out)
    }

    /// The records of a case, in chain order.
    pub fn case_records(&self, case_id: &str) -> Result<Vec<CaseEntry>, StoreError> {
        let fam = cf::CASES;
        let prefix = case_prefix(case_id);
        let it = self.db.iterator_cf(self.cf(fam), IteratorMode::From(&prefix, Direction::Forward));
        let mut out = Vec::new();
        for kv in it {
            let (k, v) = kv.map_err(StoreError::rocks("scan cases"))?;
            if !k.starts_with(&prefix) {
                break;
            }
            let show = || format!("case {case_id} record {}", hex::encode(&k[prefix.len()..]));
            let payload = unseal(fam, &k, &v, show)?;
            let e =
                decode_case_entry(payload).map_err(|e| StoreError::Corrupt { cf: fam, key: show(), reason: e.0 })?;
            out.push(e);
        }
        Ok(out)
    }

    /// A case's owner, open flag and record count.
    pub fn case_status(&self, case_id: &str) -> Result<Option<CaseStatus>, StoreError> {
        self.get_decoded(cf::CASE_STATUS, case_id.as_bytes(), |b| decode_case_status(b).map_err(|e| e.0))
    }

    /// The self-contained receipt of a deposit, with the membership history in force at its
    /// height (receipt format 13): from the deposit's transaction and its block's
    /// tree tiles (`O(log n)` reads and hashing, see `store/tx_layout.rs`), for a batch item from
    /// its batch without items and the batch's item-tree tiles (`store/batch_layout.rs`); for a
    /// block committed before these layouts from the transaction with all its items, or the whole
    /// stored block.
    pub fn receipt(&self, deposit_id: &Hash) -> Result<Option<Receipt>, StoreError> {
        let Some(loc) = self.deposit_location(deposit_id)? else { return Ok(None) };
        let r = if loc.item_index.is_some() && loc.height >= self.tx_layout_from.max(self.batch_layout_from) {
            self.receipt_from_batch_layout(deposit_id, loc)?
        } else if loc.height >= self.tx_layout_from {
            self.receipt_from_layout(deposit_id, loc)?
        } else {
            self.receipt_at(deposit_id, loc)?
        };
        self.embed_history(r).and_then(|r| self.with_log_position(r)).map(Some)
    }

    /// The receipt of a deposit built from its whole stored block, whatever the layout (the way
    /// every receipt was built before the per-transaction layout; kept for older blocks and to
    /// compare against).
    pub fn receipt_from_block(&self, deposit_id: &Hash) -> Result<Option<Receipt>, StoreError> {
        let Some(loc) = self.deposit_location(deposit_id)? else { return Ok(None) };
        let r = self.receipt_at(deposit_id, loc)?;
        self.embed_history(r).and_then(|r| self.with_log_position(r)).map(Some)
    }

    fn receipt_at(&self, deposit_id: &Hash, loc: DepositLocation) -> Result<Receipt, StoreError> {
        let missing =
            |what| StoreError::NotFound { what, key: format!("at height {} (deposit {deposit_id})", loc.height) };
        let block = self.block(loc.height)?.ok_or_else(|| missing("block"))?;
        let cert = self.cert(loc.height)?.ok_or_else(|| missing("certificate"))?;
        let r = Receipt::build(&self.spec.chain_id, &block, &cert, loc.tx_index, loc.item_index)?;
        if r.deposit_id != *deposit_id {
            return Err(StoreError::Corrupt {
                cf: cf::DEPOSITS,
                key: show_key(cf::DEPOSITS, &deposit_id.0),
                reason: format!("index points to deposit {} instead", r.deposit_id),
            });
        }
        Ok(r)
    }

    // ----- executing and committing -----

    /// A [`StateView`] over the store's committed state.
    pub fn state(&self) -> StoreState<'_> {
        StoreState { store: self }
    }

    /// Run the ledger's state transition for `block` on top of the tip, against the state on disk.
    /// Returns the block's changes, ready for [`Store::commit_block`]. A failed read is
    /// `StoreError::Ledger(LedgerError::StateStorage { .. })` (its code is the storage error's),
    /// never the block's verdict.
    pub fn execute(&self, block: &Block) -> Result<Vec<Change>, StoreError> {
        let tip = self.tip();
        Ok(apply_block(&self.spec, &self.state(), &tip, block)?)
    }

    /// Commit a block: block, certificate, header, state changes, indexes, the new tip and the
    /// tip block's canonical certificate (the one this block carries) in one atomic, synced write. `changes` must be the block's changes (from
    /// [`curia_ledger::state::apply_block`] or [`Store::execute`]); the certificate must have
    /// been verified by the caller. Checks the links to the tip and the state root.
    pub fn commit_block(&self, block: &Block, cert: &CommitCertificate, changes: &[Change]) -> Result<Tip, StoreError> {
        if self.read_only {
            return Err(StoreError::ReadOnly { path: self.path.clone() });
        }
        let _commit = self.commit_lock.lock().expect("commit lock");
        // Only this commit can move the tip until it returns.
        let tip = self.tip();
        let h = &block.header;
        let height = h.height;
        let bad = |reason: String| StoreError::BadCommit { height, reason };
        if h.chain_id != self.spec.chain_id {
            return Err(bad(format!("chain ID {} is not this store's {}", h.chain_id, self.spec.chain_id)));
        }
        if height != tip.height + 1 {
            return Err(bad(format!("the tip is at height {}", tip.height)));
        }
        if h.prev_hash != tip.block_hash {
            return Err(bad(format!("previous hash {} is not the tip's {}", h.prev_hash, tip.block_hash)));
        }
        let hash = h.hash();
        if cert.block_hash != hash || cert.height != height {
            return Err(bad(format!(
                "certificate is for block {} at height {}, not {hash}",
                cert.block_hash, cert.height
            )));
        }
        if next_state_root(&tip.state_root, height, changes) != h.state_root {
            return Err(bad("the changes do not produce the header's state root".into()));
        }
        // The tree's bands are stored for receipts; their root is the body's transaction root.
        let (tx_root, bands) = curia_ledger::merkle_tiles::bands(&block.leaves());
        block.check_body_root(&tx_root).map_err(|e| bad(e.to_string()))?;
        let block_bytes = block.to_bytes();
        // Sized for the whole commit up front (the block, then per change a few index entries
        // and log records of 100-300 bytes each), so that RocksDB's buffer is not grown and
        // copied over and over while a block of thousands of deposits is written.
        let mut wb = WriteBatch::with_capacity_bytes(4096 + 2 * block_bytes.len() + 256 * changes.len());
        // The certificate this block carries for the tip becomes the tip's certificate, so every
        // node stores (and serves in receipts) the same one below its tip.
        match &block.last_commit {
            Some(lc) if lc.height == tip.height && lc.block_hash == tip.block_hash => {
                self.put(&mut wb, cf::CERTS, &height_key(tip.height), &lc.to_bytes());
            }
            None if tip.height == 0 => {}
            _ => return Err(bad(format!("carried certificate is not for the tip block {}", tip.height))),
        }
        let hk = height_key(height);
        self.put(&mut wb, cf::BLOCKS, &hk, &block_bytes);
        drop(block_bytes);
        self.put(&mut wb, cf::CERTS, &hk, &cert.to_bytes());
        self.put(&mut wb, cf::HEADERS, &hk, &h.to_bytes());
        self.put_changes(&mut wb, Some((block, height)), changes)?;
        let log = self.put_block_log(&mut wb, height, changes)?;
        if height >= self.tx_layout_from {
            // From batch_slim_from on a batch is stored once, in batch_tiles (written below).
            self.put_tx_layout(&mut wb, block, height, &bands, height >= self.batch_slim_from);
        }
        if height >= self.batch_layout_from {
            self.put_batch_layout(&mut wb, block, height)?;
        }
        let new_tip = Tip::after(h);
        self.put(&mut wb, cf::META, META_TIP, &encode_tip(&new_tip));
        self.write_synced(wb, &format!("commit block {height}"))?;
        // The block is durable; readers see the new tip (and the log's new state) from here.
        // Until here they saw the previous tip: the write added records above it and, at the
        // tip's height, only the canonical certificate the new block carries.
        {
            let mut tip_guard = self.tip.lock().expect("tip lock");
            if let Some(log) = log {
                self.set_log_state(log);
            }
            *tip_guard = new_tip;
        }
        Ok(new_tip)
    }

    pub(crate) fn put(&self, wb: &mut WriteBatch, fam: &'static str, key: &[u8], payload: &[u8]) {
        wb.put_cf(self.cf(fam), key, seal(fam, key, payload));
    }

    /// Add state changes and, when the block is given, the location indexes, to `wb`.
    fn put_changes(
        &self,
        wb: &mut WriteBatch,
        block: Option<(&Block, u64)>,
        changes: &[Change],
    ) -> Result<(), StoreError> {
        let height = block.map(|b| b.1).unwrap_or(0);
        let bad = |reason: String| StoreError::BadCommit { height, reason };
        // Changes come in block order: each transaction's `TxApplied`, then its own changes.
        let mut tx_index: Option<u32> = None;
        let mut item: u32 = 0;
        let mut cases: HashMap<String, CaseStatus> = HashMap::new();
        // At most one entry per change each.
        let mut txs = Vec::with_capacity(block.map_or(0, |(b, _)| b.txs.len()));
        let mut deposits = Vec::with_capacity(changes.len());
        let mut digests = Vec::with_capacity(changes.len());
        let mut members = Vec::new();
        for c in changes {
            match c {
                Change::TxApplied { id } => {
                    let i = tx_index.map_or(0, |i| i + 1);
                    tx_index = Some(i);
                    item = 0;
                    if let Some((b, _)) = block {
                        if i as usize >= b.txs.len() {
                            return Err(bad(format!(
                                "changes name more transactions than the block's {}",
                                b.txs.len()
                            )));
                        }
                    }
                    txs.push((id.0, encode_tx_location(height, i)));
                }
                Change::Deposit { id, commitment } => {
                    let ti = tx_index.ok_or_else(|| bad("a deposit change before any transaction".into()))?;
                    let item_index = match block {
                        Some((b, _)) => match &b.txs[ti as usize].body.payload {
                            Payload::BatchDeposit(_) => Some(item),
                            Payload::Deposit(_) => None,
                            _ => return Err(bad(format!("transaction {ti} is no deposit but has deposit changes"))),
                        },
                        None => None,
                    };
                    item += 1;
                    let loc = DepositLocation { height, tx_index: ti, item_index };
                    deposits.push((id.0, loc.encode()));
                    digests.push(digest_key(commitment, id));
                }
                Change::ClientPut { key, record } => self.put(wb, cf::CLIENTS, &key.0, &encode_client(record)),
                Change::CaseOpened { case_id, owner } => {
                    let st = CaseStatus { record: CaseRecord { owner: *owner, open: true }, records: 0 };
                    cases.insert(case_id.clone(), st);
                    self.case_record(wb, &mut cases, case_id, height, tx_index, CaseEvent::Opened { owner: *owner })?;
                }
                Change::Attached { case_id, deposit } => {
                    self.put(wb, cf::ATTACHMENTS, &attachment_key(case_id, deposit), &[]);
                    self.case_record(
                        wb,
                        &mut cases,
                        case_id,
                        height,
                        tx_index,
                        CaseEvent::Attached { deposit: *deposit },
                    )?;
                }
                Change::Verified { case_id, deposit, valid } => {
                    let ev = CaseEvent::Verified { deposit: *deposit, valid: *valid };
                    self.case_record(wb, &mut cases, case_id, height, tx_index, ev)?;
                }
                Change::CaseClosed { case_id } => {
                    self.case_record(wb, &mut cases, case_id, height, tx_index, CaseEvent::Closed)?;
                    if let Some(st) = cases.get_mut(case_id) {
                        st.record.open = false;
                    }
                }
                Change::Member { entry } => members.push(entry.clone()),
                Change::Evidence { key, .. } => self.put_evidence_record(wb, key, height),
            }
        }
        if !members.is_empty() {
            let mut all = self.member_entries()?;
            all.extend(members);
            let b = crate::membership::encode_entries(&all);
            self.put(wb, cf::META, crate::membership::META_MEMBERSHIP, &b);
        }
        if let Some((b, _)) = block {
            if tx_index.map_or(0, |i| i as usize + 1) != b.txs.len() {
                return Err(bad(format!(
                    "changes name {} transactions, the block has {}",
                    tx_index.map_or(0, |i| i + 1),
                    b.txs.len()
                )));
            }
        }
        // Index keys are random hashes. Inserting them in key order lets RocksDB's memtable
        // skip list reuse its insert position from one key to the next, which makes a block of
        // tens of thousands of deposits several times cheaper to write.
        txs.sort_unstable_by_key(|e| e.0);
        for (k, v) in &txs {
            self.put(wb, cf::TXS, k, v);
        }
        deposits.sort_unstable_by_key(|e| e.0);
        for (k, v) in &deposits {
            self.put(wb, cf::DEPOSITS, k, v);
        }
        digests.sort_unstable();
        for k in &digests {
            self.put(wb, cf::DIGESTS, k, &[]);
        }
        for (case_id, st) in &cases {
            self.put(wb, cf::CASE_STATUS, case_id.as_bytes(), &encode_case_status(st));
        }
        Ok(())
    }

    fn case_record(
        &self,
        wb: &mut WriteBatch,
        cases: &mut HashMap<String, CaseStatus>,
        case_id: &str,
        height: u64,
        tx_index: Option<u32>,
        event: CaseEvent,
    ) -> Result<(), StoreError> {
        if !cases.contains_key(case_id) {
            let st = self.case_status(case_id)?.ok_or_else(|| StoreError::BadCommit {
                height,
                reason: format!("case {case_id} has a record but was never opened"),
            })?;
            cases.insert(case_id.to_string(), st);
        }
        let st = cases.get_mut(case_id).expect("inserted above");
        let entry = CaseEntry { height, tx_index: tx_index.unwrap_or(0), event };
        self.put(wb, cf::CASES, &case_record_key(case_id, st.records), &encode_case_entry(&entry));
        st.records += 1;
        Ok(())
    }

    // ----- vote log -----

    /// Append a vote to the log, synced to disk before returning.
    pub fn append_vote(&self, vote: &SignedVote) -> Result<(), StoreError> {
        let seq = self.next_vote_seq.fetch_add(1, Ordering::SeqCst);
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&vote.vote.height.to_be_bytes());
        key[8..].copy_from_slice(&seq.to_be_bytes());
        let mut wb = WriteBatch::default();
        self.put(&mut wb, cf::VOTES, &key, &vote.to_bytes());
        self.write_synced(wb, "append vote")
    }

    /// Every logged vote, by height, then in the order appended.
    pub fn votes(&self) -> Result<Vec<SignedVote>, StoreError> {
        let fam = cf::VOTES;
        let mut out = Vec::new();
        for kv in self.db.iterator_cf(self.cf(fam), IteratorMode::Start) {
            let (k, v) = kv.map_err(StoreError::rocks("scan votes"))?;
            let payload = unseal(fam, &k, &v, || show_key(fam, &k))?;
            let vote = SignedVote::from_bytes(payload).map_err(|e| StoreError::Corrupt {
                cf: fam,
                key: show_key(fam, &k),
                reason: e.to_string(),
            })?;
            out.push(vote);
        }
        Ok(out)
    }

    /// Drop logged votes below `height`, synced.
    pub fn prune_votes_below(&self, height: u64) -> Result<(), StoreError> {
        let mut wb = WriteBatch::default();
        let mut to = [0u8; 16];
        to[..8].copy_from_slice(&height.to_be_bytes());
        wb.delete_range_cf(self.cf(cf::VOTES), [0u8; 16], to);
        self.write_synced(wb, "prune votes")
    }

    /// Save the consensus state blob (opaque to storage), synced to disk before returning.
    pub fn put_consensus_state(&self, blob: &[u8]) -> Result<(), StoreError> {
        let mut wb = WriteBatch::default();
        self.put(&mut wb, cf::META, META_CONSENSUS, blob);
        self.write_synced(wb, "save consensus state")
    }

    /// The consensus state blob last saved.
    pub fn consensus_state(&self) -> Result<Option<Vec<u8>>, StoreError> {
        self.get(cf::META, META_CONSENSUS)
    }

    // ----- evidence of misbehaviour -----

    /// Keep `e` durably (synced), once per validator and vote slot. Returns false when that slot
    /// already has a record or [`MAX_EQUIVOCATIONS`] are kept. The caller checks the evidence.
    pub fn record_equivocation(&self, e: &Equivocation) -> Result<bool, StoreError> {
        let v = &e.a.vote;
        let mut key = META_EQUIVOCATION.to_vec();
        key.extend_from_slice(&v.height.to_be_bytes());
        key.extend_from_slice(&v.round.to_be_bytes());
        key.push(v.kind as u8);
        key.extend_from_slice(&v.validator.to_be_bytes());
        if self.get(cf::META, &key)?.is_some() || self.equivocations()?.len() >= MAX_EQUIVOCATIONS {
            return Ok(false);
        }
        let mut wb = WriteBatch::default();
        self.put(&mut wb, cf::META, &key, &e.to_bytes());
        self.write_synced(wb, "record equivocation")?;
        Ok(true)
    }

    /// Every kept equivocation record, by height, round, kind and validator.
    pub fn equivocations(&self) -> Result<Vec<Equivocation>, StoreError> {
        let fam = cf::META;
        let mut out = Vec::new();
        let iter = self.db.iterator_cf(self.cf(fam), IteratorMode::From(META_EQUIVOCATION, Direction::Forward));
        for kv in iter {
            let (k, v) = kv.map_err(StoreError::rocks("scan equivocations"))?;
            if !k.starts_with(META_EQUIVOCATION) {
                break;
            }
            let payload = unseal(fam, &k, &v, || show_key(fam, &k))?;
            let e = Equivocation::from_bytes(payload).map_err(|err| StoreError::Corrupt {
                cf: fam,
                key: show_key(fam, &k),
                reason: err.to_string(),
            })?;
            out.push(e);
        }
        Ok(out)
    }

    // ----- backup -----

    /// Write a consistent online backup (a RocksDB checkpoint: hard links where possible) to
    /// `dest`, which must not exist. The store stays open and writable meanwhile, so blocks may
    /// commit while the checkpoint is taken: the tip returned is read from the copy itself, not
    /// from this store.
    pub fn checkpoint(&self, dest: impl AsRef<Path>) -> Result<Tip, StoreError> {
        let dest = dest.as_ref();
        if dest.exists() {
            return Err(StoreError::Backup { path: dest.into(), reason: "already exists".into() });
        }
        let cp = rocksdb::checkpoint::Checkpoint::new(&self.db).map_err(StoreError::rocks("start checkpoint"))?;
        cp.create_checkpoint(dest).map_err(StoreError::rocks(format!("checkpoint to {}", dest.display())))?;
        Ok(Store::open_read_only(dest)?.tip())
    }

    /// Restore a backup made by [`Store::checkpoint`] into `target` (which must not exist or be
    /// empty): copy the files, open the copy, check it holds `spec`'s chain and that its tip,
    /// header and certificate agree. Returns the restored tip.
    pub fn restore(backup: impl AsRef<Path>, target: impl AsRef<Path>, spec: &ChainSpec) -> Result<Tip, StoreError> {
        let (backup, target) = (backup.as_ref(), target.as_ref());
        if target.exists() && std::fs::read_dir(target).map(|mut d| d.next().is_some()).unwrap_or(true) {
            return Err(StoreError::Backup { path: target.into(), reason: "restore target is not empty".into() });
        }
        Store::check_exists(backup)?;
        let io = |op, path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Io { op, path, source }
        };
        std::fs::create_dir_all(target).map_err(io("create", target))?;
        for entry in std::fs::read_dir(backup).map_err(io("read", backup))? {
            let entry = entry.map_err(io("read", backup))?;
            let to = target.join(entry.file_name());
            std::fs::copy(entry.path(), &to).map_err(io("copy to", &to))?;
        }
        let store = Store::open_existing(target)?;
        if store.spec.chain_id != spec.chain_id {
            return Err(StoreError::WrongChain {
                path: target.into(),
                found: store.spec.chain_id.to_hex(),
                expected: spec.chain_id.to_hex(),
            });
        }
        let tip = store.tip();
        if tip.height > 0 {
            let header = store
                .header(tip.height)?
                .ok_or_else(|| StoreError::NotFound { what: "header", key: format!("at tip height {}", tip.height) })?;
            let cert = store.cert(tip.height)?.ok_or_else(|| StoreError::NotFound {
                what: "certificate",
                key: format!("at tip height {}", tip.height),
            })?;
            if header.hash() != tip.block_hash || cert.block_hash != tip.block_hash {
                return Err(StoreError::Backup {
                    path: target.into(),
                    reason: format!("tip, header and certificate at height {} disagree", tip.height),
                });
            }
        }
        Ok(tip)
    }

    /// Flush memtables to disk (for measuring size; not needed for durability).
    pub fn flush(&self) -> Result<(), StoreError> {
        for (name, h) in self.open_families() {
            self.db.flush_cf(h).map_err(StoreError::rocks(format!("flush {name}")))?;
        }
        Ok(())
    }

    /// Compact every column family fully (slow; for measurements and maintenance).
    pub fn compact(&self) -> Result<(), StoreError> {
        for (_, h) in self.open_families() {
            self.db.compact_range_cf::<&[u8], &[u8]>(h, None, None);
        }
        Ok(())
    }

    /// Approximate live bytes per column family (SST and blob files), from RocksDB properties.
    pub fn family_sizes(&self) -> Result<Vec<(&'static str, u64)>, StoreError> {
        let mut out = Vec::new();
        for (name, h) in self.open_families() {
            let sst = self
                .db
                .property_int_value_cf(h, "rocksdb.total-sst-files-size")
                .map_err(StoreError::rocks("read property"))?
                .unwrap_or(0);
            let blob = self
                .db
                .property_int_value_cf(h, "rocksdb.total-blob-file-size")
                .map_err(StoreError::rocks("read property"))?
                .unwrap_or(0);
            out.push((name, sst + blob));
        }
        Ok(out)
    }

    /// Test hook: write raw bytes under a key, bypassing checksums. For corruption tests only.
    #[doc(hidden)]
    pub fn raw_put_for_tests(&self, fam: &'static str, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let mut wb = WriteBatch::default();
        wb.put_cf(self.cf(fam), key, value);
        self.write_synced(wb, "raw put")
    }

    /// Test hook: write `payload` under a key sealed as the store seals it (checksum over
    /// family, key and payload): well-formed entries, e.g. to simulate stores written by older
    /// builds. For tests and benchmarks only.
    #[doc(hidden)]
    pub fn raw_put_sealed_for_tests(&self, fam: &'static str, key: &[u8], payload: &[u8]) -> Result<(), StoreError> {
        let mut wb = WriteBatch::default();
        self.put(&mut wb, fam, key, payload);
        self.write_synced(wb, "raw put")
    }

    /// Test hook: delete a key. For tests that simulate older stores only.
    #[doc(hidden)]
    pub fn raw_delete_for_tests(&self, fam: &'static str, key: &[u8]) -> Result<(), StoreError> {
        let mut wb = WriteBatch::default();
        wb.delete_cf(self.cf(fam), key);
        self.write_synced(wb, "raw delete")
    }

    /// Raw value (checksum not checked) under a key; used for existence checks.
    pub(crate) fn raw_get(&self, fam: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.db.get_cf(self.cf(fam), key).map_err(StoreError::rocks(format!("read {fam}")))
    }

    /// Test hook: read raw bytes (checksum included).
    #[doc(hidden)]
    pub fn raw_get_for_tests(&self, fam: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.db.get_cf(self.cf(fam), key).map_err(StoreError::rocks("raw get"))
    }
}

/// The store's committed state as a [`StateView`]. A failed read (RocksDB, checksum, decoding)
/// is [`LedgerError::StateStorage`] carrying the [`StoreError`]'s message and code
/// ([`state_error`]).
pub struct StoreState<'a> {
    store: &'a Store,
}

/// A store failure as the ledger's storage error: `what` was being read.
fn state_error(what: &str, e: StoreError) -> LedgerError {
    LedgerError::StateStorage { reason: format!("{what}: {e}"), code: e.code() }
}

impl StateView for StoreState<'_> {
    fn client(&self, key: &PublicKey) -> Result<Option<ClientRecord>, LedgerError> {
        let s = self.store;
        s.get_decoded(cf::CLIENTS, &key.0, |b| decode_client(b).map_err(|e| e.0)).map_err(|e| state_error("client", e))
    }
    fn tx_applied(&self, id: &Hash) -> Result<bool, LedgerError> {
        self.store.get(cf::TXS, &id.0).map(|v| v.is_some()).map_err(|e| state_error("applied transaction", e))
    }
    fn deposit_exists(&self, id: &Hash) -> Result<bool, LedgerError> {
        self.store.get(cf::DEPOSITS, &id.0).map(|v| v.is_some()).map_err(|e| state_error("deposit", e))
    }
    fn case(&self, id: &str) -> Result<Option<CaseRecord>, LedgerError> {
        self.store.case_status(id).map(|s| s.map(|s| s.record)).map_err(|e| state_error("case", e))
    }
    fn attached(&self, case: &str, deposit: &Hash) -> Result<bool, LedgerError> {
        let key = attachment_key(case, deposit);
        self.store.get(cf::ATTACHMENTS, &key).map(|v| v.is_some()).map_err(|e| state_error("attachment", e))
    }
    fn member_entries(&self) -> Result<Vec<curia_ledger::membership::MemberEntry>, LedgerError> {
        self.store.member_entries().map_err(|e| state_error("validator-set history", e))
    }
    fn evidence_recorded(&self, key: &Hash) -> Result<bool, LedgerError> {
        self.store.evidence_recorded(key).map_err(|e| state_error("evidence record", e))
    }
    fn log_frontier(&self) -> Result<curia_ledger::deposit_log::Frontier, LedgerError> {
        self.store.log_frontier().map_err(|e| state_error("deposit log", e))
    }
}
