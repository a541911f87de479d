//! Audit of a store: replay the stored chain from genesis with the ledger's [`Auditor`], and
//! check that the store's own records agree with the blocks.
//!
//! For every height from 1 to the tip: the block and certificate are read (checksums checked);
//! the stored header equals the block's; every transaction and deposit index entry points back
//! to this block; for a block written with the per-transaction layout (at or above
//! [`Store::tx_layout_from`]) every transaction stored on its own is the block's and every
//! stored tile is the block's transaction tree's, with nothing stored past them; then the
//! ledger's audit checks the certificate, links, signatures, state rules and state root.
//! Finally the recorded tip must be the last block's, and nothing may be stored above it. The
//! deposit log's entries for each block are recomputed and compared
//! ([`Store::audit_log_block`]), and the replayed log's size and root must be the store's. The
//! first failure stops the audit and is reported with its height.
//!
//! The replayed state is on disk, in a [`ScratchState`] the audit creates (under
//! [`AuditOptions::scratch_parent`] or the system temp dir) and removes when it ends, whatever the
//! outcome; its memory is meant to be bounded (about [`crate::scratch::MEMORY_BUDGET`] bytes
//! plus the store's block cache and a few blocks in flight), whatever the chain's length (not
//! yet shown flat: docs/performance.md, "Audit"). With
//! [`AuditOptions::in_memory`] it is kept in memory instead (about 100 bytes per deposit).
//!
//! Work is split over two threads: one reads each block, its certificate and header, does the
//! block's stateless work once ([`prepare_block`]: transaction IDs, batch roots, every
//! signature, deposit IDs, deposit-log leaf hashes, transaction root) and checks the indexes,
//! the per-transaction layout and the deposit log with those IDs and leaves (all of a block's
//! entries read in sorted batches); the other replays the blocks in order
//! ([`Auditor::push_prepared`]: the same checks and verdicts as [`Auditor::push`], without
//! hashing again what the first thread hashed). Both are the auditor's own computations from
//! the block's bytes; nothing the store's indexes say decides a replay verdict. A failure found
//! by either stops both; the reported failure is the one at the lowest height, store failures
//! first at the same height, exactly as if the checks ran one after the other.

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
use curia_ledger::{Hash, LedgerError};

use crate::codec::{digest_key, unseal, Cursor, DepositLocation};
use crate::error::StoreError;
use crate::scratch::ScratchState;
use crate::store::{cf, Store};

/// Blocks read ahead of the replay.
const READ_AHEAD: usize = 4;

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

/// Check that the indexes point at this block's transactions and deposits (IDs from
/// `prepared`, computed from the block by the ledger). Entries are read in one sorted batch per
/// family; the error reported is the first in block order (for each transaction: its own entry,
/// then for each of its deposits the deposit entry and the digest entry).
fn check_indexes(store: &Store, block: &Block, prepared: &PreparedBlock) -> Result<(), StoreError> {
    let height = block.header.height;
    let tx_keys: Vec<&[u8]> = prepared.ids.iter().map(|id| &id.0[..]).collect();
    let tx_found = sorted_get(store, cf::TXS, &tx_keys, |k, v| {
        decode_tx_location(&curia_ledger::Hash(k.try_into().expect("32-byte key")), v)
    });
    let dep_keys: Vec<&[u8]> = prepared.deposits.iter().map(|(d, _)| &d.0[..]).collect();
    let dep_found = sorted_get(store, cf::DEPOSITS, &dep_keys, |k, v| {
        DepositLocation::decode(v).map_err(|e| StoreError::Corrupt {
            cf: cf::DEPOSITS,
            key: format!("deposit {}", hex::encode(k)),
            reason: e.0,
        })
    });
    let digest_keys: Vec<[u8; 64]> = prepared.deposits.iter().map(|(d, c)| digest_key(c, d)).collect();
    let digest_refs: Vec<&[u8]> = digest_keys.iter().map(|k| &k[..]).collect();
    let digest_found = sorted_get(store, cf::DIGESTS, &digest_refs, |_, _| Ok(()));
    let mut tx_found = tx_found.into_iter();
    let mut dep_found = dep_found.into_iter();
    let mut digest_found = digest_found.into_iter();
    for (ti, (id, tx)) in prepared.ids.iter().zip(&block.txs).enumerate() {
        let want = (height, ti as u32);
        let got = tx_found.next().expect("one answer per key")?;
        if got != Some(want) {
            return Err(StoreError::Corrupt {
                cf: cf::TXS,
                key: format!("transaction {id}"),
                reason: format!("index says {got:?}, the block has it at {want:?}"),
            });
        }
        let batch = !tx.items.is_empty();
        for (k, (dep, commitment)) in prepared.deposits_of(ti).iter().enumerate() {
            let want = DepositLocation { height, tx_index: ti as u32, item_index: batch.then_some(k as u32) };
            let got = dep_found.next().expect("one answer per key")?;
            if got != Some(want) {
                return Err(StoreError::Corrupt {
                    cf: cf::DEPOSITS,
                    key: format!("deposit {dep}"),
                    reason: format!("index says {got:?}, the block has it at {want:?}"),
                });
            }
            if digest_found.next().expect("one answer per key")?.is_none() {
                return Err(StoreError::NotFound {
                    what: "digest index entry",
                    key: format!("{commitment} -> {dep} (block {height})"),
                });
            }
        }
    }
    Ok(())
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

/// For a block written with the per-transaction layout (height at or above
/// [`Store::tx_layout_from`]): every transaction stored on its own is the block's (same bytes),
/// every stored tile is the block's transaction tree's, and nothing is stored just past them
/// (the entry after the last transaction, after each band's last tile, and a band past the
/// last). Everything read in one sorted batch per family; the first difference in key order is
/// reported: a missing entry is `storage_missing`, a different or extra one `storage_corrupt`,
/// named with its height.
fn check_tx_layout(store: &Store, block: &Block) -> Result<(), StoreError> {
    let height = block.header.height;
    if height < store.tx_layout_from() {
        return Ok(());
    }
    let n = u32::try_from(block.txs.len()).expect("a decoded block's transactions fit a u32");
    let tx_keys: Vec<[u8; 12]> = (0..=n).map(|i| block_tx_key(height, i)).collect();
    let refs: Vec<&[u8]> = tx_keys.iter().map(|k| &k[..]).collect();
    for (i, got) in store.multi_get(cf::BLOCK_TXS, &refs, true).into_iter().enumerate() {
        let at = format!("height {height} transaction {i}");
        match (block.txs.get(i), got?) {
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

/// The checked values of `keys` (any order) in `fam`, each passed to `f` as read (no copy), in
/// the order of `keys`, read in one sorted batch.
fn sorted_get<T>(
    store: &Store,
    fam: &'static str,
    keys: &[&[u8]],
    f: impl Fn(&[u8], &[u8]) -> Result<T, StoreError>,
) -> Vec<Result<Option<T>, StoreError>> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_unstable_by_key(|&i| keys[i]);
    let sorted: Vec<&[u8]> = order.iter().map(|&i| keys[i]).collect();
    let mut out: Vec<Option<Result<Option<T>, StoreError>>> = (0..keys.len()).map(|_| None).collect();
    let found = store.db.batched_multi_get_cf(store.cf(fam), &sorted, true);
    for ((r, &i), key) in found.into_iter().zip(&order).zip(&sorted) {
        out[i] = Some(match r.map_err(StoreError::rocks(format!("read {fam}"))) {
            Err(e) => Err(e),
            Ok(None) => Ok(None),
            Ok(Some(v)) => unseal(fam, key, &v, || show(fam, key)).and_then(|payload| f(key, payload)).map(Some),
        });
    }
    out.into_iter().map(|r| r.expect("every key answered")).collect()
}

/// A key of the index families, for messages.
fn show(fam: &str, key: &[u8]) -> String {
    match fam {
        cf::TXS => format!("transaction {}", hex::encode(key)),
        cf::DEPOSITS => format!("deposit {}", hex::encode(key)),
        cf::DIGESTS if key.len() == 64 => {
            format!("digest {} deposit {}", hex::encode(&key[..32]), hex::encode(&key[32..]))
        }
        _ => format!("key {}", hex::encode(key)),
    }
}

fn decode_tx_location(id: &curia_ledger::Hash, b: &[u8]) -> Result<(u64, u32), StoreError> {
    let corrupt = |e: crate::codec::Short| StoreError::Corrupt {
        cf: cf::TXS,
        key: format!("transaction {}", hex::encode(id.0)),
        reason: e.0,
    };
    let mut c = Cursor::new(b);
    let r = (c.u64().map_err(corrupt)?, c.u32().map_err(corrupt)?);
    c.finish().map_err(corrupt)?;
    Ok(r)
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
/// work ([`prepare_block`]: every signature is verified) and check the indexes, the
/// per-transaction layout and (if `log_size` is given: the leaves before this block) the
/// deposit log against it. The index checks run beside the layout and log checks, on a second
/// thread (both are mostly index reads); the error reported is the first in that order
/// (indexes, layout, log), whichever finished first. Returns the log's size after the block.
fn read_checked(
    store: &Store,
    spec: &ChainSpec,
    height: u64,
    log_size: Option<u64>,
) -> Result<(Checked, Option<u64>), StoreError> {
    let missing = |what| StoreError::NotFound { what, key: format!("at height {height}") };
    let block = store.block(height)?.ok_or_else(|| missing("block"))?;
    let cert = store.cert(height)?.ok_or_else(|| missing("certificate"))?;
    let header = store.header(height)?.ok_or_else(|| missing("header"))?;
    if header != block.header {
        return Err(StoreError::Corrupt {
            cf: cf::HEADERS,
            key: format!("height {height}"),
            reason: "stored header differs from the block's header".into(),
        });
    }
    let prepared = prepare_block(spec, &block, &verify_all);
    let (indexes, rest) = std::thread::scope(|s| {
        let rest = s.spawn(|| {
            check_tx_layout(store, &block)?;
            log_size
                .map(|size| {
                    let p = &prepared;
                    let leaves: Vec<(Hash, Hash)> =
                        p.deposits.iter().zip(&p.leaves).map(|(&(id, _), &leaf)| (id, leaf)).collect();
                    store.audit_log_block(size, &leaves)
                })
                .transpose()
        });
        let indexes = check_indexes(store, &block, &prepared);
        (indexes, rest.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
    });
    indexes?;
    let log_size = rest?;
    Ok((Checked { block, cert, prepared }, log_size))
}

/// The replayed state of an audit of a store: a [`ScratchState`] without deposit IDs, whose
/// `attach_deposit` lookups are answered from the audited chain. A deposit exists before the
/// block being replayed exactly when the store's deposit index names a place at or below the
/// replayed height and the deposit the chain has at that place (recomputed from the stored
/// transaction) is the one asked for. Sound because the reading thread has already checked,
/// for every block up to the replayed height, that each of its deposits has an index entry
/// naming its place (a missing or wrong entry stops the audit at that lower height first), and
/// the recomputation refuses an entry that names some other deposit's place. So the answer is
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
        let Some(loc) = self.store.deposit_location(id)? else { return Ok(false) };
        if loc.height == 0 || loc.height > self.height {
            return Ok(false);
        }
        let missing = |what| StoreError::NotFound { what, key: format!("at height {}", loc.height) };
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
    let mut storage_failure = None;
    let mut interrupted = false;
    std::thread::scope(|scope| {
        let (tx, rx) = sync_channel(READ_AHEAD);
        // A read-only store written before the deposit log has none to check.
        let has_log = store.log_state().is_some();
        scope.spawn(move || {
            let mut log_size = has_log.then_some(0u64);
            for height in 1..=tip.height {
                let r = read_checked(store, spec, height, log_size).map(|(c, size)| {
                    log_size = size;
                    c
                });
                let last = r.is_err();
                if tx.send((height, r)).is_err() || last {
                    break;
                }
            }
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
    });
    if interrupted {
        return Err(StoreError::Interrupted { height: auditor.tip().height });
    }
    if let Some(e) = auditor.state_error() {
        return Err(StoreError::Ledger(e.clone()));
    }
    let mut summary = auditor.finish();
    if summary.failure.is_none() && storage_failure.is_none() {
        let replayed = auditor.tip();
        if replayed != tip {
            storage_failure = Some(AuditFailure {
                height: tip.height,
                reason: format!("recorded tip {tip:?} is not the replayed tip {replayed:?}"),
                code: "storage_corrupt",
            });
        } else if let Some(reason) = log_mismatch(store, auditor.log())? {
            storage_failure = Some(AuditFailure { height: tip.height, reason, code: "storage_corrupt" });
        } else if store.raw_get(cf::BLOCKS, &(tip.height + 1).to_be_bytes())?.is_some() {
            storage_failure = Some(AuditFailure {
                height: tip.height + 1,
                reason: format!("a block is stored at height {} above the tip", tip.height + 1),
                code: "storage_corrupt",
            });
        }
    }
    if summary.failure.is_none() {
        summary.failure = storage_failure;
    }
    Ok(summary)
}
