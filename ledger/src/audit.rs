//! Audit replay: re-check a whole chain from genesis.
//!
//! For every block, in order: the certificate is for this block's hash and height and verifies
//! against the validator set in force at its height; the header links to the previous block;
//! the transaction root, every signature, every state rule and the state root hold
//! ([`crate::state::apply_block`]); on a chain whose headers commit to the deposit log, each
//! header's `log_size` and `log_root` are those of the log replayed so far;
//! and the certificate the block carries for the previous block is exactly the one the chain
//! gave for that block (so every stored certificate below the tip is the canonical one).
//! The first failure stops the replay and is reported with its height and reason.
//!
//! The replayed state is an [`AuditState`]: [`MemState`] for small chains and tests, or a state
//! on disk (storage's scratch state) whose size is bounded by the disk, not the RAM. A state
//! that cannot be read or written (a read or [`AuditState::apply_changes`] returns
//! [`LedgerError::StateStorage`], which the state transition passes on unwrapped) stops the
//! replay too, but it is no verdict on the chain: [`Auditor::state_error`] tells the caller the
//! audit is incomplete.
//!
//! Evidence transactions replayed are listed in the summary ([`AuditEvidence`]), with the
//! offender's name in the set in force at the offence's height.

use serde::Serialize;

use crate::block::{Block, CommitCertificate};
use crate::deposit_log::{deposit_leaves, Frontier};
use crate::genesis::ChainSpec;
use crate::state::{
    apply_block, apply_block_prepared, membership_of, Applied, Change, MemState, PreparedBlock, StateView, Stats, Tip,
    WithLog,
};
use crate::LedgerError;

/// A state an audit can replay into.
pub trait AuditState: StateView {
    /// Apply a block's changes. An error is a storage failure ([`LedgerError::StateStorage`]:
    /// the state is then unusable).
    fn apply_changes(&mut self, changes: &[Change]) -> Result<(), LedgerError>;
    /// Counts of what the state holds.
    fn stats(&self) -> Stats;
}

impl AuditState for MemState {
    fn apply_changes(&mut self, changes: &[Change]) -> Result<(), LedgerError> {
        self.apply(changes);
        Ok(())
    }
    fn stats(&self) -> Stats {
        self.stats
    }
}

/// Where and why an audit failed.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct AuditFailure {
    /// Height of the first bad block.
    pub height: u64,
    /// What is wrong.
    pub reason: String,
    /// Machine-readable code.
    pub code: &'static str,
}

/// Summary of a replay.
#[derive(Clone, Debug, Serialize, Default)]
pub struct AuditSummary {
    /// Blocks checked.
    pub blocks: u64,
    /// Transactions.
    pub txs: u64,
    /// Deposits (single deposits plus batch items).
    pub deposits: u64,
    /// Cases opened.
    pub cases: u64,
    /// Case records.
    pub case_records: u64,
    /// Registry changes.
    pub registry_changes: u64,
    /// Misbehaviour evidence recorded by the replayed blocks, in chain order.
    pub evidence: Vec<AuditEvidence>,
    /// Height of the last good block.
    pub height: u64,
    /// Hash of the last good block (hex).
    pub tip_hash: String,
    /// The first problem, if any.
    pub failure: Option<AuditFailure>,
}

/// One offence recorded on the chain, as an audit reports it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct AuditEvidence {
    /// Height of the block whose evidence transaction recorded it.
    pub block_height: u64,
    /// The offender's name in the set in force at the offence's height.
    pub offender: String,
    /// The offender's key (hex).
    pub offender_key: String,
    /// Height of the offence.
    pub height: u64,
    /// Round of the offence.
    pub round: u32,
    /// `prevote`, `precommit` (double vote) or `proposal` (double proposal).
    pub kind: &'static str,
}

/// Replays blocks one at a time.
pub struct Auditor<'s, S: AuditState> {
    spec: &'s ChainSpec,
    state: S,
    tip: Tip,
    last_cert: Option<CommitCertificate>,
    blocks: u64,
    failure: Option<AuditFailure>,
    /// The deposit log replayed so far (`deposit_log`).
    log: Frontier,
    state_error: Option<LedgerError>,
    evidence: Vec<AuditEvidence>,
}

impl<'s> Auditor<'s, MemState> {
    /// An auditor over an in-memory state, starting at genesis.
    pub fn in_memory(spec: &'s ChainSpec) -> Self {
        Auditor::new(spec, MemState::genesis(spec))
    }
}

impl<'s, S: AuditState> Auditor<'s, S> {
    /// An auditor starting at genesis with `state` (which must be the genesis state).
    pub fn new(spec: &'s ChainSpec, state: S) -> Self {
        Auditor {
            spec,
            state,
            tip: Tip::genesis(spec),
            last_cert: None,
            blocks: 0,
            failure: None,
            log: Frontier::new(),
            state_error: None,
            evidence: Vec::new(),
        }
    }

    /// Check the next block and its certificate. After the first failure, every call fails.
    pub fn push(&mut self, block: &Block, cert: &CommitCertificate) -> Result<(), AuditFailure> {
        self.push_inner(block, cert, None)
    }

    /// [`Auditor::push`] for a block whose stateless work ([`crate::state::prepare_block`], with
    /// [`crate::state::verify_all`]: every signature) was done beforehand, on another thread
    /// say: the same checks and verdicts, without hashing the block's transactions, deposits
    /// and deposit-log leaves again.
    pub fn push_prepared(
        &mut self,
        block: &Block,
        cert: &CommitCertificate,
        prepared: &PreparedBlock,
    ) -> Result<(), AuditFailure> {
        self.push_inner(block, cert, Some(prepared))
    }

    fn push_inner(
        &mut self,
        block: &Block,
        cert: &CommitCertificate,
        prepared: Option<&PreparedBlock>,
    ) -> Result<(), AuditFailure> {
        if let Some(f) = &self.failure {
            return Err(f.clone());
        }
        let height = block.header.height;
        let r = (|| -> Result<(Vec<Change>, Frontier), LedgerError> {
            let hash = block.hash();
            if cert.block_hash != hash || cert.height != height {
                return Err(LedgerError::InvalidCertificate {
                    height,
                    reason: format!(
                        "certificate is for block {} at height {}, not {hash}",
                        cert.block_hash, cert.height
                    ),
                });
            }
            // Against the set in force at this height (the genesis set until a membership change
            // takes effect), not the genesis set: after a change the certificates are the new set's.
            let m = membership_of(self.spec, &self.state)?;
            cert.verify_in(&self.spec.chain_id, m.set_at(height))?;
            // The replayed log stands beside the state, so a version 4 header's `log_size` and
            // `log_root` are checked against it (LogCommitmentMismatch) by `apply_block`.
            let view = WithLog { base: &self.state, log: &self.log };
            // A failed read comes back as it is (`StateStorage`), not as the block's verdict.
            let Applied { changes, log } = match prepared {
                None => apply_block(self.spec, &view, &self.tip, block).map(|changes| Applied { changes, log: None }),
                Some(p) => apply_block_prepared(self.spec, &view, &self.tip, block, p),
            }?;
            if block.last_commit != self.last_cert {
                return Err(LedgerError::InvalidBlock {
                    height,
                    reason: format!("carried certificate is not the one the chain gave for block {}", self.tip.height),
                });
            }
            // The deposit log grows by this block's deposits in commit order (already appended
            // by `apply_block_prepared` on a chain whose headers commit to it).
            let log = match (log, prepared) {
                (Some(log), _) => log,
                (None, Some(p)) => {
                    // The block applied, so its deposits are exactly the prepared ones.
                    debug_assert_eq!(
                        p.leaves,
                        deposit_leaves(&changes).into_iter().map(|(_, l)| l).collect::<Vec<_>>()
                    );
                    let mut log = self.log.clone();
                    for leaf in &p.leaves {
                        log.append(*leaf)?;
                    }
                    log
                }
                (None, None) => {
                    let mut log = self.log.clone();
                    for (_, leaf) in deposit_leaves(&changes) {
                        log.append(leaf)?;
                    }
                    log
                }
            };
            Ok((changes, log))
        })();
        // Offences are named from the history up to the previous block, so before applying.
        let r = r.and_then(|(changes, log)| {
            let evidence = self.evidence_in(height, &changes)?;
            self.state.apply_changes(&changes)?;
            Ok((evidence, log))
        });
        match r {
            Ok((evidence, log)) => {
                self.evidence.extend(evidence);
                self.log = log;
                self.tip = Tip::after(&block.header);
                self.last_cert = Some(cert.clone());
                self.blocks += 1;
                Ok(())
            }
            Err(e) => {
                let f = AuditFailure { height: self.tip.height + 1, reason: e.to_string(), code: e.code() };
                if e.is_storage() {
                    self.state_error = Some(e);
                }
                self.failure = Some(f.clone());
                Err(f)
            }
        }
    }

    /// The offences `changes` record (before they are applied: names come from the
    /// validator-set history up to the previous block, which fixes every set up to `height`).
    /// A history that cannot be read is a storage error; one that does not apply names no one
    /// (`?`).
    fn evidence_in(&self, block_height: u64, changes: &[Change]) -> Result<Vec<AuditEvidence>, LedgerError> {
        let mut found = Vec::new();
        let mut history = None;
        for c in changes {
            if let Change::Evidence { offender, height, round, kind, .. } = c {
                if history.is_none() {
                    history = Some(match membership_of(self.spec, &self.state) {
                        Err(e) if e.is_storage() => return Err(e),
                        m => m.ok(),
                    });
                }
                let m = history.as_ref().expect("set above");
                let name = m
                    .as_ref()
                    .and_then(|m| {
                        let set = m.set_at(*height);
                        set.index_of(offender).and_then(|i| set.get(i)).map(|v| v.name.clone())
                    })
                    .unwrap_or_else(|| "?".into());
                found.push(AuditEvidence {
                    block_height,
                    offender: name,
                    offender_key: offender.to_string(),
                    height: *height,
                    round: *round,
                    kind: kind.as_str(),
                });
            }
        }
        Ok(found)
    }

    /// The offences recorded so far.
    pub fn evidence(&self) -> &[AuditEvidence] {
        &self.evidence
    }

    /// The tip after the last good block.
    pub fn tip(&self) -> Tip {
        self.tip
    }

    /// The deposit log after the last good block (its size and root).
    pub fn log(&self) -> &Frontier {
        &self.log
    }

    /// The replayed state.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// The storage failure of the replayed state that stopped the audit, if any: the audit is
    /// then incomplete, and its failure says nothing about the chain.
    pub fn state_error(&self) -> Option<&LedgerError> {
        self.state_error.as_ref()
    }

    /// Give back the replayed state (to remove a scratch state on disk, say).
    pub fn into_state(self) -> S {
        self.state
    }

    /// Summary, with counts from `stats`.
    pub fn summary(&self, stats: Stats) -> AuditSummary {
        AuditSummary {
            blocks: self.blocks,
            txs: stats.txs,
            deposits: stats.deposits,
            cases: stats.cases,
            case_records: stats.case_records,
            registry_changes: stats.registry_changes,
            evidence: self.evidence.clone(),
            height: self.tip.height,
            tip_hash: self.tip.block_hash.to_hex(),
            failure: self.failure.clone(),
        }
    }
}

impl<S: AuditState> Auditor<'_, S> {
    /// Summary with the replayed state's counts.
    pub fn finish(&self) -> AuditSummary {
        self.summary(self.state.stats())
    }
}
