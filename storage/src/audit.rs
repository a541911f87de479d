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
//! The replayed state is kept in memory ([`curia_ledger::state::MemState`]): roughly 100 bytes per deposit, so a
//! 100-million-deposit chain needs about 10 GB of RAM. Replaying into a scratch store through
//! [`crate::StoreState`]'s `AuditState` is possible but not wired up here.

use curia_ledger::audit::{AuditFailure, AuditSummary, Auditor};
use curia_ledger::block::{Block, CommitCertificate};
use curia_ledger::deposit_log::{block_leaves, Frontier};
use curia_ledger::genesis::ChainSpec;

use crate::codec::{digest_key, DepositLocation};
use crate::error::StoreError;
use crate::store::{cf, Store};

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

/// Check that the indexes point at this block's transactions and deposits.
fn check_indexes(store: &Store, spec: &ChainSpec, block: &Block) -> Result<(), StoreError> {
    let height = block.header.height;
    for (ti, tx) in block.txs.iter().enumerate() {
        let id = tx.id(&spec.chain_id);
        let want = (height, ti as u32);
        match store.tx_location(&id)? {
            Some(got) if got == want => {}
            got => {
                return Err(StoreError::Corrupt {
                    cf: cf::TXS,
                    key: format!("transaction {id}"),
                    reason: format!("index says {got:?}, the block has it at {want:?}"),
                })
            }
        }
        let batch = !tx.items.is_empty();
        for (k, (dep, commitment)) in tx.deposits(&id).into_iter().enumerate() {
            let want = DepositLocation { height, tx_index: ti as u32, item_index: batch.then_some(k as u32) };
            match store.deposit_location(&dep)? {
                Some(got) if got == want => {}
                got => {
                    return Err(StoreError::Corrupt {
                        cf: cf::DEPOSITS,
                        key: format!("deposit {dep}"),
                        reason: format!("index says {got:?}, the block has it at {want:?}"),
                    })
                }
            }
            if store.get(cf::DIGESTS, &digest_key(&commitment, &dep))?.is_none() {
                return Err(StoreError::NotFound {
                    what: "digest index entry",
                    key: format!("{commitment} -> {dep} (block {height})"),
                });
            }
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

/// Replay `store` from genesis. `spec`, if given, must be the store's chain. Calls `progress`
/// after every block. Returns the summary, whose `failure` names the first bad height; an `Err`
/// means the audit could not start.
pub fn audit_store(
    store: &Store,
    spec: Option<&ChainSpec>,
    mut progress: impl FnMut(AuditProgress),
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
    let tip = store.stored_tip()?;
    let mut auditor = Auditor::in_memory(spec);
    let mut storage_failure = None;
    // A read-only store written before the deposit log has none to check.
    let has_log = store.log_state().is_some();
    let mut log_size = 0u64;
    for height in 1..=tip.height {
        let r = (|| -> Result<(Block, CommitCertificate), StoreError> {
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
            if has_log {
                log_size = store.audit_log_block(log_size, &block_leaves(&spec.chain_id, &block))?;
            }
            Ok((block, cert))
        })();
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
        progress(AuditProgress { height, tip: tip.height, deposits: auditor.state().stats.deposits });
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
