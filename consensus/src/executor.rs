//! The executor: the one place where the consensus machine's effects are performed.
//!
//! The node (`node::driver`: tokio, libp2p, RocksDB) and the simulator (`curia-sim`: virtual
//! time, a simulated network, in-memory stores) both run this code; they differ only in the four
//! traits they plug in: a [`Clock`] (time and timers), a [`Network`] (send and broadcast), a
//! [`ChainStore`] (tip, blocks, certificates, state reads, commit, vote log) and a [`TxSource`]
//! (the transactions a proposer may include). Nothing here does I/O, async or randomness itself.
//!
//! Rules:
//! - X1 (order): the machine's effects are performed in the order given. Inputs an effect
//!   produces (a built block, a block verdict) are queued and fed back first in, first out,
//!   after the current list is done.
//! - X2 (persist before send): `PersistVote` and `PersistProposal` return only once the store
//!   holds the vote or proposal durably; the machine always emits them before the `Broadcast`
//!   that carries it, so nothing leaves that a restart could forget. Only proposals above the
//!   committed height are kept.
//! - X3 (blocks): a proposal is built with the ledger's `build_block` on the committed tip from
//!   the source's oldest candidates, carrying the tip's stored certificate; candidates it leaves
//!   out are removed from the source. A peer's block is judged with `apply_block` on the
//!   committed tip; its changes are kept so a commit does not execute it twice. Both skip the
//!   stateless checks (shape, batch root, signature) of the transactions the source holds
//!   equal (same ID, signature and items).
//! - X4 (pacing): a requested proposal is built once the source holds something and
//!   [`Pacing::block_interval_ms`] has passed since the last commit, or once
//!   [`Pacing::empty_block_ms`] has passed since the request; otherwise a [`Timer::Propose`]
//!   is scheduled to look again.
//! - X5 (commit): before a block is stored the executor checks that its certificate is a quorum
//!   of valid precommits for this block at this height (`CommitCertificate::verify` against the
//!   genesis) and that the block is the one after the tip; after, that the store's tip advanced
//!   by exactly one to this block. Then its transactions leave the source.
//! - X6 (serving): a `ServeBlocks` sends up to [`SERVE_BATCH`] stored blocks with their
//!   certificates to one peer; `FetchBlocks` broadcasts a `SyncRequest`.
//! - X7 (errors): a failed store read or write (a state read inside `build_block` or
//!   `apply_block` returns `LedgerError::StateStorage`, which is such a failure, never a
//!   candidate left out or a block judged invalid), or a broken invariant (the machine's, checked
//!   after every input before its effects are performed, or X5), stops the executor with an
//!   error: a node must not vote, build or commit on a state it could not read. The node exits;
//!   the simulator reports a violation and ends the run.
//! - X8 (evidence): an `Equivocation` (two verified, conflicting votes of one validator) is given
//!   to the store to keep and reported as a [`Note::Equivocation`]; a `DoubleProposal` (two
//!   verified, different proposals of one proposer for one height and round) likewise, as a
//!   [`Note::DoubleProposal`].

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use curia_ledger::block::{Block, CommitCertificate, SignedVote};
use curia_ledger::crypto::{PublicKey, SecretKey};
use curia_ledger::equivocation::Equivocation;
use curia_ledger::evidence::DoubleProposal;
use curia_ledger::genesis::ChainSpec;
use curia_ledger::limits::MAX_BLOCK_DEPOSITS;
use curia_ledger::state::{
    apply_block_with, build_block_ids, membership_of, verify_all, Change, Proposing, StateView, Tip,
};
use curia_ledger::tx::{Payload, Transaction};
use curia_ledger::Hash;

use crate::machine::{Config, Effect, Input, Machine, PeerId, SignPos, Step};
use crate::msg::{Message, SignedProposal};
use crate::ConsensusError;

/// Most committed blocks sent in answer to one sync request.
pub const SERVE_BATCH: u64 = 32;

/// Something the executor asked its [`Clock`] to hand back later through [`Executor::on_timer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// A consensus timeout (the machine's `ScheduleTimeout`).
    Consensus {
        /// Height.
        height: u64,
        /// Round.
        round: u32,
        /// Step.
        step: Step,
    },
    /// Time to look again at a pending proposal request (rule X4).
    Propose,
}

/// Time and timers.
pub trait Clock {
    /// Milliseconds since the Unix epoch: what the machine and block headers see.
    fn now_ms(&self) -> u64;
    /// Milliseconds on a clock that never goes back (pacing).
    fn monotonic_ms(&self) -> u64;
    /// Hand `timer` back to [`Executor::on_timer`] after `after_ms`.
    fn schedule(&mut self, after_ms: u64, timer: Timer);
}

/// The validators' network.
pub trait Network {
    /// Send to every peer.
    fn broadcast(&mut self, msg: &Message);
    /// Send to one peer (unknown peers are ignored).
    fn send(&mut self, to: PeerId, msg: &Message);
}

/// The committed chain and the consensus log. Every read that can fail returns its error.
pub trait ChainStore {
    /// The store's error.
    type Error: std::fmt::Display;
    /// The last committed block's height, hash, state root and time.
    fn tip(&self) -> Tip;
    /// The committed block at `height`.
    fn block(&self, height: u64) -> Result<Option<Block>, Self::Error>;
    /// The certificate of the committed block at `height` (for the tip: the one collected
    /// locally; below it: the one the next block carries).
    fn cert(&self, height: u64) -> Result<Option<CommitCertificate>, Self::Error>;
    /// Run `f` over the committed state (an error if the state cannot be had at all). A read
    /// that fails inside `f` returns `LedgerError::StateStorage`, which the executor treats as a
    /// store error: never as a verdict on a block or transaction.
    fn read_state<R>(&self, f: impl FnOnce(&dyn StateView) -> R) -> Result<R, Self::Error>;
    /// Store a block with its certificate and changes atomically and durably; returns the new tip.
    fn commit_block(&mut self, block: &Block, cert: &CommitCertificate, changes: &[Change])
        -> Result<Tip, Self::Error>;
    /// Append a vote to the log, durably, before returning.
    fn append_vote(&mut self, vote: &SignedVote) -> Result<(), Self::Error>;
    /// Every logged vote.
    fn votes(&self) -> Result<Vec<SignedVote>, Self::Error>;
    /// Replace the saved list of this validator's proposals, durably, before returning.
    fn save_proposals(&mut self, proposals: &[SignedProposal]) -> Result<(), Self::Error>;
    /// The saved proposals.
    fn proposals(&self) -> Result<Vec<SignedProposal>, Self::Error>;
    /// Drop logged votes below `height`.
    fn prune_votes_below(&mut self, height: u64) -> Result<(), Self::Error>;
    /// Keep evidence of equivocation durably (rule X8). The default keeps nothing: a store with
    /// no place for evidence (the simulator's) leaves it to [`Note::Equivocation`].
    fn record_equivocation(&mut self, _evidence: &Equivocation) -> Result<(), Self::Error> {
        Ok(())
    }
    /// Keep evidence of a double proposal durably (rule X8). The default keeps nothing.
    fn record_double_proposal(&mut self, _evidence: &DoubleProposal) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Where a proposer's transactions come from (the node's mempool).
pub trait TxSource {
    /// Whether nothing is waiting.
    fn is_empty(&self) -> bool;
    /// The oldest waiting transactions with their IDs (each its [`Transaction::id`] on this
    /// chain, so that the proposer does not hash them again), at most `max_txs` of them and
    /// `max_deposits` deposits.
    fn candidates(&mut self, max_txs: usize, max_deposits: usize) -> Vec<(Transaction, Hash)>;
    /// Whether the source holds transaction `id` equal to `tx` (same signature and items), whose
    /// stateless checks (shape, a batch's root, the signature) already passed: the ledger's
    /// `SigChecked` predicate (`curia_ledger::state::SigChecked` says why that is safe).
    fn holds(&self, id: &Hash, tx: &Transaction) -> bool;
    /// Forget these transactions (committed or refused).
    fn remove(&mut self, ids: &[Hash]);
}

/// When a proposer builds its block (rule X4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pacing {
    /// Least time from the last commit to the next proposal when transactions are waiting.
    pub block_interval_ms: u64,
    /// Time after the request at which a block is built whatever is waiting.
    pub empty_block_ms: u64,
}

impl Default for Pacing {
    fn default() -> Self {
        Pacing { block_interval_ms: 200, empty_block_ms: 1000 }
    }
}

/// Something that happened, for the caller's metrics, logs and checks. Drained with
/// [`Executor::take_notes`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// A block was committed.
    Committed {
        /// Height.
        height: u64,
        /// Block hash.
        hash: Hash,
        /// Round of its certificate.
        round: u32,
        /// Transactions in it.
        txs: usize,
        /// Deposits it creates.
        deposits: usize,
    },
    /// A peer's block did not apply on the committed tip.
    InvalidBlock {
        /// Its height.
        height: u64,
        /// Why.
        reason: String,
    },
    /// A candidate transaction was left out of a proposal and dropped from the source.
    LeftOut {
        /// The ledger's error code.
        code: &'static str,
    },
    /// A validator signed two different votes for one slot (rule X8); the evidence was given to
    /// the store.
    Equivocation(Box<Equivocation>),
    /// A proposer signed two different proposals for one height and round (rule X8); the
    /// evidence was given to the store.
    DoubleProposal(Box<DoubleProposal>),
}

/// The executor of one validator: its machine and the four things it acts on.
pub struct Executor<S, N, C, P> {
    machine: Machine,
    spec: Arc<ChainSpec>,
    proposer: Option<PublicKey>,
    store: S,
    net: N,
    clock: C,
    pool: P,
    pacing: Pacing,
    /// A proposal the machine asked for and not yet built: height, round, when asked.
    pending_proposal: Option<(u64, u32, u64)>,
    /// When the earliest scheduled proposal wake-up fires.
    wake_at: Option<u64>,
    /// This validator's proposals above the committed height (as saved).
    proposals: Vec<SignedProposal>,
    /// Changes of blocks judged valid at this height, by hash.
    checked: BTreeMap<Hash, Vec<Change>>,
    last_commit_at: u64,
    notes: Vec<Note>,
}

fn store_err<E: std::fmt::Display>(e: E) -> ConsensusError {
    ConsensusError::Store(e.to_string())
}

impl<S: ChainStore, N: Network, C: Clock, P: TxSource> Executor<S, N, C, P> {
    /// Start a validator: read the tip, the vote log and the saved proposals from `store`, build
    /// the machine and feed it its `Start` input.
    pub fn start(cfg: Config, store: S, net: N, clock: C, pool: P, pacing: Pacing) -> Result<Self, ConsensusError> {
        Self::start_with_floor(cfg, store, net, clock, pool, pacing, None)
    }

    /// [`Executor::start`] with a signing floor (the machine's rule S3): nothing new is signed at
    /// or below `floor`.
    pub fn start_with_floor(
        cfg: Config,
        store: S,
        net: N,
        clock: C,
        pool: P,
        pacing: Pacing,
        floor: Option<SignPos>,
    ) -> Result<Self, ConsensusError> {
        Self::start_held(cfg, store, net, clock, pool, pacing, floor, false)
    }

    /// [`Executor::start_with_floor`] that also holds signing from the start when `hold` is set
    /// (the machine's rule S4), until [`Executor::set_signing_hold`] clears it.
    #[allow(clippy::too_many_arguments)]
    pub fn start_held(
        cfg: Config,
        store: S,
        net: N,
        clock: C,
        pool: P,
        pacing: Pacing,
        floor: Option<SignPos>,
        hold: bool,
    ) -> Result<Self, ConsensusError> {
        let tip = store.tip();
        let votes = store.votes().map_err(store_err)?;
        let proposals = store.proposals().map_err(store_err)?;
        let spec = cfg.spec.clone();
        let proposer = cfg.key.as_ref().map(|k| k.public());
        let membership = store.read_state(|st| membership_of(&cfg.spec, st)).map_err(store_err)?.map_err(store_err)?;
        let mut machine = Machine::with_membership(cfg, tip.height, membership)?;
        machine.set_signing_floor(floor);
        machine.set_signing_hold(hold);
        let last_commit_at = clock.monotonic_ms();
        let mut x = Executor {
            machine,
            spec,
            proposer,
            store,
            net,
            clock,
            pool,
            pacing,
            pending_proposal: None,
            wake_at: None,
            proposals: proposals.clone(),
            checked: BTreeMap::new(),
            last_commit_at,
            notes: Vec::new(),
        };
        x.feed(Input::Start { votes, proposals })?;
        Ok(x)
    }

    /// The machine (status and counters).
    pub fn machine(&self) -> &Machine {
        &self.machine
    }
    /// Hold or release signing (the machine's rule S4).
    pub fn set_signing_hold(&mut self, hold: bool) {
        self.machine.set_signing_hold(hold);
    }
    /// Give the machine another key to sign with from the heights whose set names it (a
    /// rotation's new key, [`Machine::add_key`]); blocks it proposes then name that key.
    pub fn add_key(&mut self, key: SecretKey) {
        self.machine.add_key(key);
    }
    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }
    /// The network.
    pub fn net(&self) -> &N {
        &self.net
    }
    /// The network, mutably (peer tables, outboxes).
    pub fn net_mut(&mut self) -> &mut N {
        &mut self.net
    }
    /// The clock, mutably (virtual time, timer outboxes).
    pub fn clock_mut(&mut self) -> &mut C {
        &mut self.clock
    }
    /// The transaction source.
    pub fn pool(&self) -> &P {
        &self.pool
    }
    /// The transaction source, mutably (admission).
    pub fn pool_mut(&mut self) -> &mut P {
        &mut self.pool
    }
    /// Take the store back (a simulated restart keeps it).
    pub fn into_store(self) -> S {
        self.store
    }
    /// What happened since the last call.
    pub fn take_notes(&mut self) -> Vec<Note> {
        std::mem::take(&mut self.notes)
    }

    /// Raw bytes from a peer.
    pub fn on_bytes(&mut self, from: PeerId, bytes: Vec<u8>) -> Result<(), ConsensusError> {
        self.feed(Input::Bytes { from, bytes })
    }

    /// A timer scheduled through the [`Clock`] fired.
    pub fn on_timer(&mut self, timer: Timer) -> Result<(), ConsensusError> {
        match timer {
            Timer::Consensus { height, round, step } => self.feed(Input::Timeout { height, round, step }),
            Timer::Propose => {
                self.wake_at = None;
                self.pool_changed()
            }
        }
    }

    /// The transaction source changed (new transactions): build a pending proposal if its time
    /// has come.
    pub fn pool_changed(&mut self) -> Result<(), ConsensusError> {
        match self.take_ready_proposal()? {
            Some(input) => self.feed(input),
            None => Ok(()),
        }
    }

    /// Feed one input and perform its effects, then the effects of the inputs they feed back
    /// (rule X1).
    pub fn feed(&mut self, first: Input) -> Result<(), ConsensusError> {
        let mut inputs = VecDeque::from([first]);
        while let Some(input) = inputs.pop_front() {
            let effects = self.machine.on(self.clock.now_ms(), input);
            self.machine.check_invariants()?;
            for e in effects {
                if let Some(next) = self.perform(e)? {
                    inputs.push_back(next);
                }
            }
        }
        Ok(())
    }

    fn perform(&mut self, effect: Effect) -> Result<Option<Input>, ConsensusError> {
        match effect {
            Effect::Broadcast(msg) => self.net.broadcast(&msg),
            Effect::PersistVote(v) => self.store.append_vote(&v).map_err(store_err)?,
            Effect::PersistProposal(p) => {
                let committed = self.store.tip().height;
                self.proposals.retain(|q| q.proposal.height > committed);
                self.proposals.push(p);
                self.store.save_proposals(&self.proposals).map_err(store_err)?;
            }
            Effect::ScheduleTimeout { height, round, step, after_ms } => {
                self.clock.schedule(after_ms, Timer::Consensus { height, round, step })
            }
            Effect::RequestProposal { height, round } => {
                self.pending_proposal = Some((height, round, self.clock.monotonic_ms()));
                return self.take_ready_proposal();
            }
            Effect::ValidateBlock { block } => return self.validate(block).map(Some),
            Effect::Commit { block, cert } => self.commit(block, cert)?,
            Effect::FetchBlocks { from_height } => self.net.broadcast(&Message::SyncRequest { from_height }),
            Effect::ServeBlocks { peer, from_height } => self.serve(peer, from_height)?,
            Effect::Equivocation(e) => {
                self.store.record_equivocation(&e).map_err(store_err)?;
                self.notes.push(Note::Equivocation(Box::new(e)));
            }
            Effect::DoubleProposal(d) => {
                self.store.record_double_proposal(&d).map_err(store_err)?;
                self.notes.push(Note::DoubleProposal(Box::new(d)));
            }
        }
        Ok(None)
    }

    /// Rule X4: if a proposal is pending and its time has come, build it and return it as the
    /// machine's input; otherwise make sure a wake-up is scheduled.
    fn take_ready_proposal(&mut self) -> Result<Option<Input>, ConsensusError> {
        let Some((height, round, asked)) = self.pending_proposal else { return Ok(None) };
        let now = self.clock.monotonic_ms();
        let full_at = self.last_commit_at.saturating_add(self.pacing.block_interval_ms);
        let empty_at = asked.saturating_add(self.pacing.empty_block_ms);
        if (!self.pool.is_empty() && now >= full_at) || now >= empty_at {
            self.pending_proposal = None;
            let block = self.build_proposal()?;
            return Ok(Some(Input::ProposalBlock { height, round, block }));
        }
        let at = if self.pool.is_empty() { empty_at } else { full_at.min(empty_at) };
        if self.wake_at.is_none_or(|w| w > at) {
            self.wake_at = Some(at);
            self.clock.schedule(at - now, Timer::Propose);
        }
        Ok(None)
    }

    /// Rule X3: build a block from the source on the committed tip, carrying the tip's
    /// certificate.
    fn build_proposal(&mut self) -> Result<Block, ConsensusError> {
        // The key the set in force names for this validator (a rotated key from its activation).
        let Some(proposer) = self.machine.signing_key().map(|k| k.public()).or(self.proposer) else {
            return Err(ConsensusError::Invariant("an observer was asked for a proposal".into()));
        };
        let tip = self.store.tip();
        let last_commit = match tip.height {
            0 => None,
            h => Some(
                self.store
                    .cert(h)
                    .map_err(store_err)?
                    .ok_or_else(|| ConsensusError::Store(format!("no certificate for the tip at height {h}")))?,
            ),
        };
        let proposing = Proposing { proposer, time_ms: self.clock.now_ms(), last_commit };
        let candidates = self.pool.candidates(self.spec.genesis.params.max_block_txs as usize, MAX_BLOCK_DEPOSITS);
        let (spec, pool) = (&self.spec, &self.pool);
        let built = self
            .store
            .read_state(|state| build_block_ids(spec, state, &tip, candidates, proposing, &|id, tx| pool.holds(id, tx)))
            .map_err(store_err)?
            .map_err(store_err)?;
        for (_, e) in &built.rejected {
            self.notes.push(Note::LeftOut { code: e.code() });
        }
        self.pool.remove(&built.rejected_ids);
        self.checked.insert(built.block.hash(), built.changes);
        Ok(built.block)
    }

    /// Rule X3: judge a peer's block on the committed tip.
    fn validate(&mut self, block: Block) -> Result<Input, ConsensusError> {
        let tip = self.store.tip();
        let hash = block.hash();
        let (spec, pool) = (&self.spec, &self.pool);
        let r = self
            .store
            .read_state(|state| apply_block_with(spec, state, &tip, &block, &|id, tx| pool.holds(id, tx)))
            .map_err(store_err)?;
        let valid = match r {
            Ok(changes) => {
                self.checked.insert(hash, changes);
                true
            }
            // A state read failed: no verdict, so no vote either way.
            Err(e) if e.is_storage() => return Err(store_err(e)),
            Err(e) => {
                self.notes.push(Note::InvalidBlock { height: block.header.height, reason: e.to_string() });
                false
            }
        };
        Ok(Input::BlockValidity { hash, valid })
    }

    /// Rule X5.
    fn commit(&mut self, block: Block, cert: CommitCertificate) -> Result<(), ConsensusError> {
        let tip = self.store.tip();
        let hash = block.hash();
        let h = block.header.height;
        let broken = |what: String| Err(ConsensusError::Invariant(format!("X5: commit at height {h}: {what}")));
        if h != tip.height + 1 {
            return broken(format!("the tip is at height {}", tip.height));
        }
        if cert.height != h || cert.block_hash != hash {
            return broken(format!("the certificate is for {:?} at height {}", cert.block_hash, cert.height));
        }
        let spec = &self.spec;
        let membership = self.store.read_state(|st| membership_of(spec, st)).map_err(store_err)?.map_err(store_err)?;
        if let Err(e) = cert.verify_in(&spec.chain_id, membership.set_at(h)) {
            return broken(format!("the certificate is not a quorum of valid precommits: {e}"));
        }
        let changes = match self.checked.remove(&hash) {
            Some(c) => c,
            None => {
                let spec = &self.spec;
                let r = self.store.read_state(|state| apply_block_with(spec, state, &tip, &block, &verify_all));
                match r.map_err(store_err)? {
                    Ok(c) => c,
                    Err(e) if e.is_storage() => return Err(store_err(e)),
                    Err(e) => return broken(format!("the block does not apply: {e}")),
                }
            }
        };
        let new_tip = self.store.commit_block(&block, &cert, &changes).map_err(store_err)?;
        if new_tip != Tip::after(&block.header) || self.store.tip() != new_tip {
            return broken(format!(
                "the store's tip moved from {} to {} instead of by one",
                tip.height, new_tip.height
            ));
        }
        self.checked.clear();
        // The history now holds this block's membership changes: the machine learns the set in
        // force two heights on.
        if changes.iter().any(|c| matches!(c, Change::Member { .. })) {
            let spec = &self.spec;
            let m = self.store.read_state(|st| membership_of(spec, st)).map_err(store_err)?.map_err(store_err)?;
            self.machine.set_membership(m, h);
        } else {
            self.machine.set_membership(membership, h);
        }
        // The committed transactions' IDs, from their `TxApplied` changes (one per transaction,
        // in block order, computed when the block was checked) rather than hashed again.
        let ids: Vec<Hash> =
            changes.iter().filter_map(|c| if let Change::TxApplied { id } = c { Some(*id) } else { None }).collect();
        if ids.len() != block.txs.len() {
            return broken(format!("{} transactions but {} applied", block.txs.len(), ids.len()));
        }
        self.pool.remove(&ids);
        self.last_commit_at = self.clock.monotonic_ms();
        // Votes of the committed height are kept one height longer for peers that lag; a failed
        // prune only leaves old votes, which `Start` ignores.
        let _ = self.store.prune_votes_below(h.saturating_sub(1));
        let deposits = block.txs.iter().map(deposit_count).sum();
        self.notes.push(Note::Committed { height: h, hash, round: cert.round, txs: ids.len(), deposits });
        Ok(())
    }

    /// Rule X6.
    fn serve(&mut self, peer: PeerId, from_height: u64) -> Result<(), ConsensusError> {
        let tip = self.store.tip().height;
        let end = tip.min(from_height.saturating_add(SERVE_BATCH - 1));
        for h in from_height.max(1)..=end {
            let block = self.store.block(h).map_err(store_err)?;
            let cert = self.store.cert(h).map_err(store_err)?;
            let (Some(block), Some(cert)) = (block, cert) else {
                return Err(ConsensusError::Store(format!("committed height {h} has no block or certificate")));
            };
            self.net.send(peer, &Message::Commit { block, cert });
        }
        Ok(())
    }
}

/// Deposits a transaction creates.
pub fn deposit_count(tx: &Transaction) -> usize {
    match &tx.body.payload {
        Payload::Deposit(_) => 1,
        Payload::BatchDeposit(_) => tx.items.len(),
        _ => 0,
    }
}
