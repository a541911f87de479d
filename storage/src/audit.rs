//! Audit of a store: replay the stored chain from genesis with the ledger's [`Auditor`], and
//! check that the store's own records agree with the blocks.
//!
//! For every height from 1 to the tip: the block and certificate are read (checksums checked);
//! the stored header equals the block's; every transaction and deposit index entry points back
//! to this block; then the ledger's audit checks the certificate, links, signatures, state rules
//! and state root. Finally the recorded tip must be the last block's, and nothing may be stored
//! above it. The deposit log's entries for each block are recomputed and compared
//! ([`Store::audit_log_block`]), and the replayed log's size and root must be the store's. The
//! first failure stops the audit and is reported with its height.
//!
//! The replayed state is on disk, in a [`ScratchState`] the audit creates (under
//! [`AuditOptions::scratch_parent`] or the system temp dir) and removes when it ends, whatever the
//! outcome; its memory is bounded (about [`crate::scratch::MEMORY_BUDGET`] bytes plus the store's
//! block cache and a few blocks in flight), whatever the chain's length. With
//! [`AuditOptions::in_memory`] it is kept in memory instead (about 100 bytes per deposit).
//!
//! Work is split over two threads: one reads each block, its certificate and header, and checks
//! the indexes (all of a block's index entries read in one sorted batch per family); the other
//! replays the blocks in order. A failure found by either stops both; the reported failure is
//! the one at the lowest height, index failures first at the same height, exactly as if the
//! checks ran one after the other.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;

use curia_ledger::audit::{AuditFailure, AuditState, AuditSummary, Auditor};
use curia_ledger::block::{Block, CommitCertificate};
use curia_ledger::deposit_log::{block_leaves, Frontier};
use curia_ledger::genesis::ChainSpec;

use crate::codec::{digest_key, Cursor, DepositLocation};
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

/// Check that the indexes point at this block's transactions and deposits. Entries are read in
/// one sorted batch per family; the error reported is the first in block order (for each
/// transaction: its own entry, then for each of its deposits the deposit entry and the digest
/// entry).
fn check_indexes(store: &Store, spec: &ChainSpec, block: &Block) -> Result<(), StoreError> {
    let height = block.header.height;
    let mut tx_ids = Vec::with_capacity(block.txs.len());
    // (deposit, commitment, where the block has it)
    let mut deps = Vec::new();
    // Index in `deps` of each transaction's first deposit.
    let mut first_dep = Vec::with_capacity(block.txs.len() + 1);
    for (ti, tx) in block.txs.iter().enumerate() {
        let id = tx.id(&spec.chain_id);
        tx_ids.push(id);
        first_dep.push(deps.len());
        let batch = !tx.items.is_empty();
        for (k, (dep, commitment)) in tx.deposits(&id).into_iter().enumerate() {
            let want = DepositLocation { height, tx_index: ti as u32, item_index: batch.then_some(k as u32) };
            deps.push((dep, commitment, want));
        }
    }
    first_dep.push(deps.len());
    let tx_keys: Vec<&[u8]> = tx_ids.iter().map(|id| &id.0[..]).collect();
    let tx_found = sorted_get(store, cf::TXS, &tx_keys);
    let dep_keys: Vec<&[u8]> = deps.iter().map(|(d, _, _)| &d.0[..]).collect();
    let dep_found = sorted_get(store, cf::DEPOSITS, &dep_keys);
    let digest_keys: Vec<[u8; 64]> = deps.iter().map(|(d, c, _)| digest_key(c, d)).collect();
    let digest_refs: Vec<&[u8]> = digest_keys.iter().map(|k| &k[..]).collect();
    let digest_found = sorted_get(store, cf::DIGESTS, &digest_refs);
    let mut tx_found = tx_found.into_iter();
    let mut dep_found = dep_found.into_iter();
    let mut digest_found = digest_found.into_iter();
    for (ti, id) in tx_ids.iter().enumerate() {
        let want = (height, ti as u32);
        let got = tx_found.next().expect("one answer per key")?.map(|v| decode_tx_location(id, &v)).transpose()?;
        if got != Some(want) {
            return Err(StoreError::Corrupt {
                cf: cf::TXS,
                key: format!("transaction {id}"),
                reason: format!("index says {got:?}, the block has it at {want:?}"),
            });
        }
        for (dep, commitment, want) in &deps[first_dep[ti]..first_dep[ti + 1]] {
            let got = dep_found
                .next()
                .expect("one answer per key")?
                .map(|v| {
                    DepositLocation::decode(&v).map_err(|e| StoreError::Corrupt {
                        cf: cf::DEPOSITS,
                        key: format!("deposit {}", hex::encode(dep.0)),
                        reason: e.0,
                    })
                })
                .transpose()?;
            if got != Some(*want) {
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

/// The checked values of `keys` (any order) in `fam`, in the order of `keys`, read in one
/// sorted batch.
fn sorted_get(store: &Store, fam: &'static str, keys: &[&[u8]]) -> Vec<Result<Option<Vec<u8>>, StoreError>> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_unstable_by_key(|&i| keys[i]);
    let sorted: Vec<&[u8]> = order.iter().map(|&i| keys[i]).collect();
    let mut out: Vec<Option<Result<Option<Vec<u8>>, StoreError>>> = (0..keys.len()).map(|_| None).collect();
    for (r, &i) in store.multi_get(fam, &sorted, true).into_iter().zip(&order) {
        out[i] = Some(r);
    }
    out.into_iter().map(|r| r.expect("every key answered")).collect()
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

/// Read the block at `height` with its certificate, check its header and indexes.
fn read_checked(store: &Store, spec: &ChainSpec, height: u64) -> Result<(Block, CommitCertificate), StoreError> {
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
    check_indexes(store, spec, &block)?;
    Ok((block, cert))
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
        let scratch = ScratchState::create(spec, options.scratch_parent.as_deref())?;
        let path = scratch.path().to_path_buf();
        let r = replay(store, options, Auditor::new(spec, scratch), progress);
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
            let mut log_size = 0u64;
            for height in 1..=tip.height {
                let r = read_checked(store, spec, height).and_then(|(block, cert)| {
                    if has_log {
                        log_size = store.audit_log_block(log_size, &block_leaves(&spec.chain_id, &block))?;
                    }
                    Ok((block, cert))
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
                Ok((block, cert)) => {
                    if auditor.push(&block, &cert).is_err() {
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
