//! Audit of a store: replay the stored chain from genesis with the ledger's [`Auditor`], and
//! check that the store's own records agree with the blocks.
//!
//! For every height from 1 to the tip: the block and certificate are read (checksums checked);
//! the stored header equals the block's; for a block written with the per-transaction layout
//! (at or above [`Store::tx_layout_from`]) every transaction stored on its own is the block's
//! (no batch from [`Store::batch_slim_from`] on) and every stored tile is the block's
//! transaction tree's, and for a block written with the batch layout (at or above
//! [`Store::batch_layout_from`]) every batch's item-less transaction and item-tree tile is the
//! block's, with nothing stored past them; the deposit log's stored hashes for the block are
//! recomputed and compared ([`Store::audit_log_block`]); the index entries the block implies
//! are recorded ([`Expected`]); then the ledger's audit checks the certificate, links,
//! signatures, state rules and state root. After the last block, the recorded index entries
//! are merged in key order with the `txs`, `deposits`, `digests` and `tlog_index` families (a
//! missing, different or extra entry fails: `crate::audit_index`). Finally the recorded tip
//! must be the last block's, the replayed log's size and root must be the store's, and nothing
//! may be stored above the tip. The failure at the lowest height is reported (the store's
//! first at the same height; docs/storage.md "Audit").
//!
//! The replayed state is on disk, in a [`ScratchState`] the audit creates (under
//! [`AuditOptions::scratch_parent`] or the system temp dir) and removes when it ends, whatever the
//! outcome; the index check's bucket files go beside it (about 130 bytes per deposit) and are
//! removed too. The audit's memory is bounded by [`AUDIT_MEMORY_BUDGET`], whatever the chain's
//! length (its parts are sized below and their sum checked at build time). With
//! [`AuditOptions::in_memory`] the replayed state is kept in memory instead (about 100 bytes
//! per deposit, outside the budget).
//!
//! Work is split over two threads: one reads each block, its certificate and header, does the
//! block's stateless work once ([`prepare_block`]: transaction IDs, batch roots, every
//! signature, deposit IDs, deposit-log leaf hashes, transaction root), checks the
//! per-transaction layout and the deposit log and records the index entries with those IDs and
//! leaves; the other replays the blocks in order ([`Auditor::push_prepared`]: the same checks
//! and verdicts as [`Auditor::push`], without hashing again what the first thread hashed).
//! Both are the auditor's own computations from the block's bytes. A failure found by either
//! stops both; the index merge then runs over the blocks read.

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;

use curia_ledger::audit::{AuditFailure, AuditState, AuditSummary, Auditor};
use curia_ledger::block::{Block, CommitCertificate};
use curia_ledger::codec::Canonical;
use curia_ledger::crypto::PublicKey;
use curia_ledger::deposit_log::Frontier;
use curia_ledger::genesis::ChainSpec;
use curia_ledger::membership::MemberEntry;
use curia_ledger::merkle_tiles;
use curia_ledger::state::{
    prepare_block, verify_all, CaseRecord, Change, ClientRecord, PreparedBlock, StateView, Stats,
};
use curia_ledger::tx::{batch_item_id, Payload, Transaction};
use curia_ledger::{Hash, LedgerError};

use crate::audit_index::{Expected, Scope};
use crate::error::StoreError;
use crate::scratch::ScratchState;
use crate::store::{cf, Store};

/// Blocks read ahead of the replay.
pub const READ_AHEAD: usize = 2;

// ----- The audit's memory (a store's audit, on disk; docs/storage.md "Audit") -----

/// Memory budget of a store's audit (`curia audit --data-dir` without `--in-memory`), whatever
/// the chain's length: everything below is sized from it, and the build checks the sum.
pub const AUDIT_MEMORY_BUDGET: usize = 768 << 20;
/// Block cache of the audited store (open it with [`crate::StoreOptions::audit`]):
/// the audit reads blocks and layouts in height order and the index families with iterators
/// that do not fill the cache, so the cache holds index and filter blocks of what is being read.
pub const AUDIT_STORE_CACHE: usize = 128 << 20;
/// Most table files the audited store keeps open (each open table keeps a reader in memory).
pub const AUDIT_MAX_OPEN_FILES: i32 = 1000;
/// Allowance per open table reader outside the block cache (properties, file handle, buffers).
const TABLE_READER: usize = 64 << 10;
/// Allowance for one block in flight: the decoded block (at most
/// [`curia_ledger::limits::MAX_BLOCK_BYTES`] canonical) and its prepared IDs, deposits and
/// leaves (at most [`curia_ledger::limits::MAX_BLOCK_DEPOSITS`], about 100 bytes each).
const BLOCK_IN_FLIGHT: usize =
    2 * curia_ledger::limits::MAX_BLOCK_BYTES + curia_ledger::limits::MAX_BLOCK_DEPOSITS * 100;
/// Blocks in flight: those queued, the one being read and the one being replayed.
const BLOCKS_IN_FLIGHT: usize = READ_AHEAD + 2;
/// While the chain is read and replayed: the scratch state, the blocks in flight and the
/// index check's bucket write buffers.
const REPLAY_PHASE: usize = crate::scratch::MEMORY_BUDGET_WITHOUT_DEPOSITS
    + BLOCKS_IN_FLIGHT * BLOCK_IN_FLIGHT
    + crate::audit_index::MAX_BUCKETS * crate::audit_index::BUCKET_BUFFER;
/// After it (the replayed state, the blocks and the write buffers are dropped first): each
/// merging thread's pass of records (in memory about 1.25 times their bytes on disk), read
/// buffer and iterator read-ahead.
const MERGE_PHASE: usize = crate::audit_index::MERGE_THREADS
    * (crate::audit_index::SORT_BUDGET / 4 * 5
        + crate::audit_index::BUCKET_READ_BUFFER
        + crate::audit_index::MERGE_READAHEAD);
/// What the sized parts add up to at the busier phase (the rest of the budget is for allocator
/// slack, thread stacks and the program itself).
pub const AUDIT_MEMORY_SIZED: usize = AUDIT_STORE_CACHE
    + AUDIT_MAX_OPEN_FILES as usize * TABLE_READER
    + if REPLAY_PHASE > MERGE_PHASE { REPLAY_PHASE } else { MERGE_PHASE };
const _: () = assert!(AUDIT_MEMORY_SIZED + (64 << 20) <= AUDIT_MEMORY_BUDGET, "the audit's parts exceed its budget");
const _: () = assert!(AUDIT_MEMORY_BUDGET < 1 << 30, "issue 14: under 1 GiB");

// ----- The memory of `curia audit --node` (docs/storage.md "Audit of a node") -----
//
// The same budget, without the audited store: the replayed state without deposit IDs
// (`crate::ClaimingState`), the claim check's bucket write buffers and per-block file, and the
// blocks and frames in flight, which the caller sizes (`cli/src/audit_node.rs` adds them up and
// checks the sum against [`AUDIT_MEMORY_BUDGET`] at build time); then the same merge.

/// Allowance for one block in flight in an audit (decoded, with its prepared IDs and leaves).
pub const AUDIT_BLOCK_IN_FLIGHT: usize = BLOCK_IN_FLIGHT;
/// The replayed state of `curia audit --node` and its claim check's write buffers, while the
/// chain is read (the blocks and frames in flight not included).
pub const NODE_AUDIT_REPLAY_STATE: usize = crate::scratch::MEMORY_BUDGET_WITHOUT_DEPOSITS
    + crate::audit_index::MAX_BUCKETS * crate::audit_index::BUCKET_BUFFER
    + crate::audit_claims::TIP_BUFFER;
/// The claim check's merge (after the replayed state and the blocks are dropped): as a store's.
pub const NODE_AUDIT_MERGE_PHASE: usize = MERGE_PHASE;

/// How to run an audit.
#[derive(Debug, Default)]
pub struct AuditOptions<'a> {
    /// Where to create the scratch state's directory (the system temp dir if `None`).
    pub scratch_parent: Option<PathBuf>,
    /// Keep the replayed state in memory instead of a scratch state on disk.
    pub in_memory: bool,
    /// Set (by a Ctrl-C handler, say) to stop the audit after the current block; the audit then
    /// returns [`StoreError::Interrupted`].
    pub stop: Option<&'a AtomicBool>,
    /// Tests only: the index check's bucket bits and bytes merged per pass (to exercise many
    /// buckets and passes on a small chain). `None`: sized from the chain.
    #[doc(hidden)]
    pub index_layout: Option<(u32, usize)>,
}

/// Progress of an audit, passed to the callback after each block.
#[derive(Clone, Copy, Debug)]
pub struct AuditProgress {
    /// Height just checked.
    pub height: u64,
    /// Height of the store's tip.
    pub tip: u64,
    /// Deposits checked so far.
    pub deposits: u64,
}

fn fail(height: u64, e: &StoreError) -> AuditFailure {
    AuditFailure { height, reason: e.to_string(), code: e.code() }
}

/// Key of transaction `i` of the block at `height` in [`cf::BLOCK_TXS`].
fn block_tx_key(height: u64, i: u32) -> [u8; 12] {
    crate::codec::encode_tx_location(height, i)
}

/// Key of tile `tile` of band `band` of the block at `height` in [`cf::TX_TILES`].
fn tile_key(height: u64, band: u8, tile: u32) -> [u8; 13] {
    let mut k = [0u8; 13];
    k[..8].copy_from_slice(&height.to_be_bytes());
    k[8] = band;
    k[9..].copy_from_slice(&tile.to_be_bytes());
    k
}

/// The receipt layouts of a block: the per-transaction layout ([`check_block_txs`]), then the
/// batch layout ([`check_batch_layout`]).
fn check_tx_layout(store: &Store, block: &Block) -> Result<(), StoreError> {
    check_block_txs(store, block)?;
    check_batch_layout(store, block)
}

fn is_batch(tx: &Transaction) -> bool {
    matches!(tx.body.payload, Payload::BatchDeposit(_))
}

/// For a block written with the per-transaction layout (height at or above
/// [`Store::tx_layout_from`]): every transaction stored on its own is the block's (same bytes),
/// except that from [`Store::batch_slim_from`] on a batch deposit must have no entry (the batch
/// layout holds it); every stored tile is the block's transaction tree's, and nothing is stored
/// just past them (the entry after the last transaction, after each band's last tile, and a
/// band past the last). Everything read in one sorted batch per family; the first difference in
/// key order is reported: a missing entry is `storage_missing`, a different or extra one
/// `storage_corrupt`, named with its height.
fn check_block_txs(store: &Store, block: &Block) -> Result<(), StoreError> {
    let height = block.header.height;
    if height < store.tx_layout_from() {
        return Ok(());
    }
    let slim = height >= store.batch_slim_from();
    let n = u32::try_from(block.txs.len()).expect("a decoded block's transactions fit a u32");
    let tx_keys: Vec<[u8; 12]> = (0..=n).map(|i| block_tx_key(height, i)).collect();
    let refs: Vec<&[u8]> = tx_keys.iter().map(|k| &k[..]).collect();
    for (i, got) in store.multi_get(cf::BLOCK_TXS, &refs, true).into_iter().enumerate() {
        let at = format!("height {height} transaction {i}");
        match (block.txs.get(i), got?) {
            (Some(tx), Some(_)) if slim && is_batch(tx) => {
                return Err(StoreError::Corrupt {
                    cf: cf::BLOCK_TXS,
                    key: at,
                    reason: format!(
                        "a batch is stored here at or above batch_slim_from {}: it belongs in batch_tiles only",
                        store.batch_slim_from()
                    ),
                })
            }
            (Some(tx), None) if slim && is_batch(tx) => {}
            (Some(_), None) => return Err(StoreError::NotFound { what: "stored transaction", key: at }),
            (Some(tx), Some(v)) => {
                if v != tx.to_bytes() {
                    return Err(StoreError::Corrupt {
                        cf: cf::BLOCK_TXS,
                        key: at,
                        reason: format!("stored transaction differs from the block's transaction {i}"),
                    });
                }
            }
            (None, Some(_)) => {
                return Err(StoreError::Corrupt {
                    cf: cf::BLOCK_TXS,
                    key: at,
                    reason: format!("a transaction is stored past the block's {n}"),
                })
            }
            (None, None) => {}
        }
    }
    let (_, bands) = merkle_tiles::bands(&block.leaves());
    // (key, the tile's bytes; None: nothing may be stored there)
    let mut want: Vec<([u8; 13], Option<Vec<u8>>)> = Vec::new();
    for (b, band) in bands.iter().enumerate() {
        let b = u8::try_from(b).expect("a block's tree has few bands");
        let mut count = 0u32;
        for (t, tile) in merkle_tiles::tiles(band).enumerate() {
            let t = u32::try_from(t).expect("a block's tiles fit a u32");
            want.push((tile_key(height, b, t), Some(tile.iter().flat_map(|h| h.0).collect())));
            count = t + 1;
        }
        want.push((tile_key(height, b, count), None));
    }
    let next_band = u8::try_from(bands.len()).expect("a block's tree has few bands");
    want.push((tile_key(height, next_band, 0), None));
    let refs: Vec<&[u8]> = want.iter().map(|(k, _)| &k[..]).collect();
    for ((key, expected), got) in want.iter().zip(store.multi_get(cf::TX_TILES, &refs, true)) {
        let at = || {
            format!(
                "height {height} band {} tile {}",
                key[8],
                u32::from_be_bytes(key[9..].try_into().expect("4 bytes"))
            )
        };
        match (expected, got?) {
            (Some(_), None) => return Err(StoreError::NotFound { what: "transaction tree tile", key: at() }),
            (Some(e), Some(v)) if *e != v => {
                return Err(StoreError::Corrupt {
                    cf: cf::TX_TILES,
                    key: at(),
                    reason: "stored tile differs from the block's transaction tree".into(),
                })
            }
            (None, Some(_)) => {
                return Err(StoreError::Corrupt {
                    cf: cf::TX_TILES,
                    key: at(),
                    reason: "a tile is stored past the block's transaction tree".into(),
                })
            }
            _ => {}
        }
    }
    Ok(())
}

/// Key of tile `tile` of band `band` of batch `i`'s item tree at `height` in [`cf::BATCH_TILES`]
/// (the batch itself, without items, is under [`block_tx_key`]).
fn item_tile_key(height: u64, i: u32, band: u8, tile: u32) -> [u8; 17] {
    let mut k = [0u8; 17];
    k[..12].copy_from_slice(&block_tx_key(height, i));
    k[12] = band;
    k[13..].copy_from_slice(&tile.to_be_bytes());
    k
}

/// For a block written with the batch layout (height at or above [`Store::batch_layout_from`]):
/// for every batch deposit, its stored transaction without items is the block's (body and
/// signature, no items) and every stored tile of its item tree is the one the block's items
/// imply (band 0: the items; band `b > 0`: the roots of `256^b` items), with nothing stored just
/// past them (the tile after each band's last, a band past the last); for every other
/// transaction, and the index just past the block's last, nothing is stored (neither a
/// transaction nor a band-0 tile). Read in one sorted batch; the first difference in key order is
/// reported, named with height, transaction, band and tile: missing is `storage_missing`,
/// different or extra `storage_corrupt`. Costs about two SHA-256 per batch item (the item tree).
fn check_batch_layout(store: &Store, block: &Block) -> Result<(), StoreError> {
    let height = block.header.height;
    if height < store.batch_layout_from() {
        return Ok(());
    }
    // (key, the payload; None: nothing may be stored there)
    let mut want: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
    let n = u32::try_from(block.txs.len()).expect("a decoded block's transactions fit a u32");
    for i in 0..=n {
        match block.txs.get(i as usize).filter(|tx| is_batch(tx)) {
            None => {
                want.push((block_tx_key(height, i).to_vec(), None));
                want.push((item_tile_key(height, i, 0, 0).to_vec(), None));
            }
            Some(tx) => {
                let bare = Transaction { body: tx.body.clone(), signature: tx.signature, items: Vec::new() };
                want.push((block_tx_key(height, i).to_vec(), Some(bare.to_bytes())));
                let leaves: Vec<Hash> = tx.items.iter().map(|c| curia_ledger::merkle::leaf_hash(&c.0)).collect();
                let (_, bands) = merkle_tiles::bands(&leaves);
                for (b, band) in bands.iter().enumerate() {
                    let b = u8::try_from(b).expect("a batch's tree has few bands");
                    let hashes: &[Hash] = if b == 0 { &tx.items } else { band };
                    let mut count = 0u32;
                    for (t, tile) in merkle_tiles::tiles(hashes).enumerate() {
                        let t = u32::try_from(t).expect("a batch's tiles fit a u32");
                        want.push((
                            item_tile_key(height, i, b, t).to_vec(),
                            Some(tile.iter().flat_map(|h| h.0).collect()),
                        ));
                        count = t + 1;
                    }
                    want.push((item_tile_key(height, i, b, count).to_vec(), None));
                }
                let next_band = u8::try_from(bands.len()).expect("a batch's tree has few bands");
                want.push((item_tile_key(height, i, next_band, 0).to_vec(), None));
            }
        }
    }
    let refs: Vec<&[u8]> = want.iter().map(|(k, _)| &k[..]).collect();
    for ((key, expected), got) in want.iter().zip(store.multi_get(cf::BATCH_TILES, &refs, true)) {
        let tx = u32::from_be_bytes(key[8..12].try_into().expect("4 bytes"));
        let at = || match key.len() {
            12 => format!("height {height} transaction {tx} (batch without items)"),
            _ => format!(
                "height {height} transaction {tx} item band {} tile {}",
                key[12],
                u32::from_be_bytes(key[13..].try_into().expect("4 bytes"))
            ),
        };
        let what = if key.len() == 12 { "batch transaction" } else { "tile" };
        match (expected, got?) {
            (Some(_), None) => {
                return Err(StoreError::NotFound {
                    what: if key.len() == 12 { "stored batch transaction" } else { "batch item tree tile" },
                    key: at(),
                })
            }
            (Some(e), Some(v)) if *e != v => {
                return Err(StoreError::Corrupt {
                    cf: cf::BATCH_TILES,
                    key: at(),
                    reason: format!("stored {what} differs from the block's batch"),
                })
            }
            (None, Some(_)) => {
                return Err(StoreError::Corrupt {
                    cf: cf::BATCH_TILES,
                    key: at(),
                    reason: match block.txs.get(tx as usize) {
                        Some(t) if is_batch(t) => format!("a {what} is stored past the batch's item tree"),
                        Some(_) => format!("a {what} is stored for a transaction that is no batch"),
                        None => format!("a {what} is stored past the block's {n} transactions"),
                    },
                })
            }
            _ => {}
        }
    }
    Ok(())
}

/// Whether the store's deposit log differs from the replayed one (`None`: it agrees, or the
/// store has no log).
fn log_mismatch(store: &Store, replayed: &Frontier) -> Result<Option<String>, StoreError> {
    let Some(state) = store.log_state() else { return Ok(None) };
    if state.size != replayed.size() {
        return Ok(Some(format!("the deposit log holds {} leaves, the chain {}", state.size, replayed.size())));
    }
    let root = store.log_root(state.size)?;
    Ok((root != replayed.root())
        .then(|| format!("the deposit log's root {root} is not the replayed root {}", replayed.root())))
}

/// A block read and checked against the store, ready for the replay.
struct Checked {
    block: Block,
    cert: CommitCertificate,
    prepared: PreparedBlock,
}

/// Read the block at `height` with its certificate, check its header, do the block's stateless
/// work ([`prepare_block`]: every signature is verified), check the per-transaction layout and
/// (if `log_size` is given: the leaves before this block) the deposit log's stored hashes
/// against it, and record the index entries it implies in `expected` (checked at the end,
/// [`Expected::merge`]). The error reported is the first in that order. Returns the log's size
/// after the block.
fn read_checked(
    store: &Store,
    spec: &ChainSpec,
    height: u64,
    log_size: Option<u64>,
    expected: &mut Expected,
) -> Result<(Checked, Option<u64>), Stop> {
    let missing = |what| StoreError::NotFound { what, key: format!("at height {height}") };
    let block = store.block(height)?.ok_or_else(|| missing("block"))?;
    let cert = store.cert(height)?.ok_or_else(|| missing("certificate"))?;
    let header = store.header(height)?.ok_or_else(|| missing("header"))?;
    if header != block.header {
        return Err(Stop::Chain(StoreError::Corrupt {
            cf: cf::HEADERS,
            key: format!("height {height}"),
            reason: "stored header differs from the block's header".into(),
        }));
    }
    let prepared = prepare_block(spec, &block, &verify_all);
    check_tx_layout(store, &block)?;
    let after = log_size.map(|size| store.audit_log_block(size, &prepared.leaves)).transpose()?;
    // A failure here is the audit's own (its bucket files), not the store's.
    expected.record_block(&block, &prepared, log_size).map_err(Stop::Audit)?;
    Ok((Checked { block, cert, prepared }, after))
}

/// Why the reading thread stopped early.
enum Stop {
    /// The store is wrong at this height: the audit's verdict.
    Chain(StoreError),
    /// The audit could not go on (writing its bucket files failed).
    Audit(StoreError),
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Stop {
        Stop::Chain(e)
    }
}

/// The replayed state of an audit of a store: a [`ScratchState`] without deposit IDs, whose
/// `attach_deposit` lookups are answered from the audited chain. A deposit exists before the
/// block being replayed exactly when the store's deposit index names a place at or below the
/// replayed height and the deposit the chain has at that place (recomputed from the stored
/// transaction) is the one asked for. A "yes" is always right (the recomputation refuses an
/// entry that names some other deposit's place); a wrong "no" needs a missing, wrong or
/// unchecksummed entry for a deposit at a lower height, which the index merge then reports at
/// that lower height, before the replay's refusal. So if the audit passes, every answer was
/// the one a state holding every deposit ID would give (docs/storage.md, "Audit").
struct ChainDeposits<'a> {
    scratch: ScratchState,
    store: &'a Store,
    /// Height of the last block applied.
    height: u64,
    /// The last whole block read for a lookup (blocks from before the per-transaction layout).
    cached: RefCell<Option<Block>>,
}

impl ChainDeposits<'_> {
    fn lookup(&self, id: &Hash) -> Result<bool, StoreError> {
        // A deposit entry that fails its checksum or does not decode answers "no such deposit
        // here": the index merge reports it (as a wrong or extra entry) at a height no higher
        // than any replay failure this answer can cause.
        let loc = match self.store.deposit_location(id) {
            Ok(Some(loc)) => loc,
            Ok(None) | Err(StoreError::Corrupt { cf: cf::DEPOSITS, .. }) => return Ok(false),
            Err(e) => return Err(e),
        };
        if loc.height == 0 || loc.height > self.height {
            return Ok(false);
        }
        let missing = |what| StoreError::NotFound { what, key: format!("at height {}", loc.height) };
        if let (Some(i), true) = (loc.item_index, loc.height >= self.store.batch_slim_from()) {
            // The batch without its items (checked against the block by check_batch_layout)
            // names the item: its ID is the batch's transaction ID and the index.
            let Some(tx) = self.store.batch_tx(loc.height, loc.tx_index)? else { return Ok(false) };
            let Payload::BatchDeposit(b) = &tx.body.payload else { return Ok(false) };
            return Ok(i < b.count && batch_item_id(&tx.id(&self.store.spec().chain_id), i) == *id);
        }
        let tx = if loc.height >= self.store.tx_layout_from() {
            match self.store.block_tx(loc.height, loc.tx_index)? {
                Some(tx) => tx,
                None => return Ok(false),
            }
        } else {
            let mut cached = self.cached.borrow_mut();
            if cached.as_ref().map(|b| b.header.height) != Some(loc.height) {
                *cached = Some(self.store.block(loc.height)?.ok_or_else(|| missing("block"))?);
            }
            match cached.as_ref().and_then(|b| b.txs.get(loc.tx_index as usize)) {
                Some(tx) => tx.clone(),
                None => return Ok(false),
            }
        };
        let tx_id = tx.id(&self.store.spec().chain_id);
        let deposits = tx.deposits(&tx_id);
        Ok(match loc.item_index {
            None => tx.items.is_empty() && deposits.len() == 1 && deposits[0].0 == *id,
            Some(i) => !tx.items.is_empty() && deposits.get(i as usize).is_some_and(|d| d.0 == *id),
        })
    }
}

impl StateView for ChainDeposits<'_> {
    fn client(&self, key: &PublicKey) -> Result<Option<ClientRecord>, LedgerError> {
        self.scratch.client(key)
    }
    fn tx_applied(&self, id: &Hash) -> Result<bool, LedgerError> {
        self.scratch.tx_applied(id)
    }
    fn deposit_exists(&self, id: &Hash) -> Result<bool, LedgerError> {
        self.lookup(id)
            .map_err(|e| LedgerError::StateStorage { reason: format!("audit deposit lookup: {e}"), code: e.code() })
    }
    fn case(&self, id: &str) -> Result<Option<CaseRecord>, LedgerError> {
        self.scratch.case(id)
    }
    fn attached(&self, case: &str, deposit: &Hash) -> Result<bool, LedgerError> {
        self.scratch.attached(case, deposit)
    }
    fn member_entries(&self) -> Result<Vec<MemberEntry>, LedgerError> {
        self.scratch.member_entries()
    }
    fn evidence_recorded(&self, key: &Hash) -> Result<bool, LedgerError> {
        self.scratch.evidence_recorded(key)
    }
    fn log_frontier(&self) -> Result<Frontier, LedgerError> {
        self.scratch.log_frontier()
    }
}

impl AuditState for ChainDeposits<'_> {
    fn apply_changes(&mut self, changes: &[Change]) -> Result<(), LedgerError> {
        self.scratch.apply_changes(changes)?;
        self.height += 1;
        Ok(())
    }
    fn stats(&self) -> Stats {
        self.scratch.stats()
    }
}

/// Replay `store` from genesis. `spec`, if given, must be the store's chain. Calls `progress`
/// after every block. Returns the summary, whose `failure` names the first bad height; an `Err`
/// means the audit could not start, could not finish (its scratch state failed), or was
/// stopped.
pub fn audit_store(
    store: &Store,
    spec: Option<&ChainSpec>,
    options: &AuditOptions<'_>,
    progress: impl FnMut(AuditProgress),
) -> Result<AuditSummary, StoreError> {
    if let Some(spec) = spec {
        if spec.chain_id != store.spec().chain_id {
            return Err(StoreError::WrongChain {
                path: store.path().into(),
                found: store.spec().chain_id.to_hex(),
                expected: spec.chain_id.to_hex(),
            });
        }
    }
    let spec = store.spec();
    if options.in_memory {
        replay(store, options, Auditor::in_memory(spec), progress)
    } else {
        let scratch = ScratchState::create_without_deposits(spec, options.scratch_parent.as_deref())?;
        let path = scratch.path().to_path_buf();
        let state = ChainDeposits { scratch, store, height: 0, cached: RefCell::new(None) };
        let r = replay(store, options, Auditor::new(spec, state), progress);
        // The scratch state was dropped (and its directory removed) inside `replay`.
        debug_assert!(!path.exists());
        r
    }
}

fn replay<S: AuditState>(
    store: &Store,
    options: &AuditOptions<'_>,
    mut auditor: Auditor<'_, S>,
    mut progress: impl FnMut(AuditProgress),
) -> Result<AuditSummary, StoreError> {
    let spec = store.spec();
    let tip = store.stored_tip()?;
    let stopped = || options.stop.is_some_and(|s| s.load(Ordering::Relaxed));
    // A read-only store written before the deposit log has none to check.
    let has_log = store.log_state().is_some();
    let mut expected =
        Expected::create(options.scratch_parent.as_deref(), estimated_deposits(store), has_log, options.index_layout)?;
    let mut storage_failure = None;
    let mut interrupted = false;
    let read = std::thread::scope(|scope| {
        let (tx, rx) = sync_channel(READ_AHEAD);
        let expected = &mut expected;
        let reader = scope.spawn(move || {
            let mut log_size = has_log.then_some(0u64);
            for height in 1..=tip.height {
                let r = match read_checked(store, spec, height, log_size, expected) {
                    Ok((c, size)) => {
                        log_size = size;
                        Ok(c)
                    }
                    Err(Stop::Chain(e)) => Err(e),
                    Err(Stop::Audit(e)) => return Err(e),
                };
                let last = r.is_err();
                if tx.send((height, r)).is_err() || last {
                    break;
                }
            }
            Ok(())
        });
        for (height, r) in rx {
            if stopped() {
                interrupted = true;
                break;
            }
            match r {
                Ok(c) => {
                    if auditor.push_prepared(&c.block, &c.cert, &c.prepared).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    storage_failure = Some(fail(height, &e));
                    break;
                }
            }
            progress(AuditProgress { height, tip: tip.height, deposits: auditor.state().stats().deposits });
        }
        // Dropping the receiver stops the reader at its next block.
        reader.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
    });
    if interrupted {
        return Err(StoreError::Interrupted { height: auditor.tip().height });
    }
    read?;
    if let Some(e) = auditor.state_error() {
        return Err(StoreError::Ledger(e.clone()));
    }
    let mut summary = auditor.finish();
    let replayed = auditor.tip();
    let replayed_log = auditor.log().clone();
    // The replayed state is no longer needed: free its memory (and disk) before the merge.
    drop(auditor);
    // The index merge judges what the chain was read for: every block if nothing failed, else
    // the blocks below the first failure (and the replay's failing block, whose entries were
    // recorded).
    let below = match (&storage_failure, &summary.failure) {
        (Some(f), _) => f.height,
        (None, Some(f)) => f.height + 1,
        (None, None) => tip.height + 1,
    };
    let complete = storage_failure.is_none() && summary.failure.is_none();
    let scope = Scope { below, unknown_at: complete.then_some(tip.height) };
    if let Some(fault) = expected.merge(store, scope)? {
        if storage_failure.as_ref().is_none_or(|f| fault.height < f.height) {
            storage_failure = Some(fail(fault.height, &fault.error));
        }
    }
    drop(expected);
    if summary.failure.is_none() && storage_failure.is_none() {
        if replayed != tip {
            storage_failure = Some(AuditFailure {
                height: tip.height,
                reason: format!("recorded tip {tip:?} is not the replayed tip {replayed:?}"),
                code: "storage_corrupt",
            });
        } else if let Some(reason) = log_mismatch(store, &replayed_log)? {
            storage_failure = Some(AuditFailure { height: tip.height, reason, code: "storage_corrupt" });
        } else if store.raw_get(cf::BLOCKS, &(tip.height + 1).to_be_bytes())?.is_some() {
            storage_failure = Some(AuditFailure {
                height: tip.height + 1,
                reason: format!("a block is stored at height {} above the tip", tip.height + 1),
                code: "storage_corrupt",
            });
        }
    }
    // The failure at the lowest height; the store's at the same height.
    match (&summary.failure, storage_failure) {
        (Some(replay), Some(store)) if store.height <= replay.height => summary.failure = Some(store),
        (None, Some(store)) => summary.failure = Some(store),
        _ => {}
    }
    Ok(summary)
}

/// About how many deposits the store holds (to size the index check's buckets): the deposit
/// log's size, else RocksDB's estimate of the deposit index's keys.
fn estimated_deposits(store: &Store) -> u64 {
    if let Some(state) = store.log_state() {
        return state.size;
    }
    store.db.property_int_value_cf(store.cf(cf::DEPOSITS), "rocksdb.estimate-num-keys").ok().flatten().unwrap_or(0)
}
