//! The simulated world one validator's executor runs in: the executor's four traits
//! implemented on virtual time, an outbox the simulator routes, an in-memory store and a
//! transaction source that always has a deposit waiting.
//!
//! Crashes: a validator's [`Io`] can be given a budget of side effects (store writes, sends,
//! timers). Once it is spent the process is dead: store operations fail with
//! [`SimError::Crashed`] (so the executor stops, as a node whose process died would), and sends
//! and timers vanish. What the store held before that survives the restart, as on disk.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use curia_consensus::machine::PeerId;
use curia_consensus::msg::{Message, SignedProposal};
use curia_consensus::{ChainStore, Clock, Network, Timer, TxSource};
use curia_ledger::block::{Block, CommitCertificate, SignedVote};
use curia_ledger::genesis::ChainSpec;
use curia_ledger::state::{apply_block, Change, MemState, StateView, Tip};
use curia_ledger::testkit::TestChain;
use curia_ledger::tx::Transaction;
use curia_ledger::Hash;

/// The simulator's error: what its in-memory store refuses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// The simulated process has crashed; nothing more is written or read.
    #[error("the process has crashed")]
    Crashed,
    /// A block that does not extend the tip, does not apply, or whose changes are not the ones
    /// it produces was offered for commit.
    #[error("refused commit at height {height}: {reason}")]
    BadCommit {
        /// Height.
        height: u64,
        /// Why.
        reason: String,
    },
    /// A read failure injected by a test.
    #[error("injected read failure")]
    ReadFailure,
}

/// What one incarnation of a validator sent and scheduled, and whether it is still alive.
#[derive(Debug, Default)]
pub struct Io {
    /// Messages sent: `None` for a broadcast, else the peer.
    pub sent: Vec<(Option<PeerId>, Message)>,
    /// Timers scheduled: virtual time at which to fire, and the timer.
    pub timers: Vec<(u64, Timer)>,
    /// Side effects left before the process dies (`None`: no crash planned).
    pub budget: Option<u32>,
    /// The process has died.
    pub dead: bool,
    /// Virtual time now.
    pub now: u64,
}

impl Io {
    /// Spend one side effect; false if the process is (now) dead.
    fn spend(&mut self) -> bool {
        if self.dead {
            return false;
        }
        if let Some(b) = &mut self.budget {
            if *b == 0 {
                self.dead = true;
                return false;
            }
            *b -= 1;
        }
        true
    }
}

/// Shared between one incarnation's network, clock and store.
pub type SharedIo = Rc<RefCell<Io>>;

/// Milliseconds since the Unix epoch at virtual time 0.
pub const WALL_BASE_MS: u64 = curia_ledger::testkit::TEST_GENESIS_MS + 1000;

/// Virtual time.
pub struct SimClock(pub SharedIo);

impl Clock for SimClock {
    fn now_ms(&self) -> u64 {
        WALL_BASE_MS + self.0.borrow().now
    }
    fn monotonic_ms(&self) -> u64 {
        self.0.borrow().now
    }
    fn schedule(&mut self, after_ms: u64, timer: Timer) {
        let mut io = self.0.borrow_mut();
        if io.spend() {
            let at = io.now + after_ms;
            io.timers.push((at, timer));
        }
    }
}

/// An outbox the simulator routes (with delay, loss, partitions and Byzantine rewriting).
pub struct SimNet(pub SharedIo);

impl Network for SimNet {
    fn broadcast(&mut self, msg: &Message) {
        let mut io = self.0.borrow_mut();
        if io.spend() {
            io.sent.push((None, msg.clone()));
        }
    }
    fn send(&mut self, to: PeerId, msg: &Message) {
        let mut io = self.0.borrow_mut();
        if io.spend() {
            io.sent.push((Some(to), msg.clone()));
        }
    }
}

/// A validator's durable state in memory: the chain, the state, the vote log and proposals.
pub struct MemStore {
    spec: Arc<ChainSpec>,
    /// The incarnation using the store (replaced on restart).
    pub io: SharedIo,
    state: MemState,
    tip: Tip,
    chain: Vec<(Block, CommitCertificate)>,
    votes: Vec<SignedVote>,
    proposals: Vec<SignedProposal>,
    /// Fail every read from then on (tests of error propagation).
    pub fail_reads: bool,
}

impl MemStore {
    /// An empty store at genesis.
    pub fn new(spec: Arc<ChainSpec>, io: SharedIo) -> Self {
        let state = MemState::genesis(&spec);
        let tip = Tip::genesis(&spec);
        MemStore {
            spec,
            io,
            state,
            tip,
            chain: Vec::new(),
            votes: Vec::new(),
            proposals: Vec::new(),
            fail_reads: false,
        }
    }

    /// The committed blocks with their certificates.
    pub fn chain(&self) -> &[(Block, CommitCertificate)] {
        &self.chain
    }

    fn alive(&self) -> Result<(), SimError> {
        if self.io.borrow().dead {
            return Err(SimError::Crashed);
        }
        if self.fail_reads {
            return Err(SimError::ReadFailure);
        }
        Ok(())
    }

    fn write(&self) -> Result<(), SimError> {
        if self.io.borrow_mut().spend() {
            Ok(())
        } else {
            Err(SimError::Crashed)
        }
    }
}

impl ChainStore for MemStore {
    type Error = SimError;

    fn tip(&self) -> Tip {
        self.tip
    }
    fn block(&self, height: u64) -> Result<Option<Block>, SimError> {
        self.alive()?;
        Ok(height.checked_sub(1).and_then(|i| self.chain.get(i as usize)).map(|(b, _)| b.clone()))
    }
    fn cert(&self, height: u64) -> Result<Option<CommitCertificate>, SimError> {
        self.alive()?;
        Ok(height.checked_sub(1).and_then(|i| self.chain.get(i as usize)).map(|(_, c)| c.clone()))
    }
    fn read_state<R>(&self, f: impl FnOnce(&dyn StateView) -> R) -> Result<R, SimError> {
        self.alive()?;
        Ok(f(&self.state))
    }
    /// Like the RocksDB store: the block must extend the tip and its changes must be the ones it
    /// produces (checked here by applying it again: the simulator's "only valid blocks commit");
    /// the certificate it carries replaces the one collected for the tip.
    fn commit_block(&mut self, block: &Block, cert: &CommitCertificate, changes: &[Change]) -> Result<Tip, SimError> {
        self.write()?;
        let h = block.header.height;
        let bad = |reason: String| Err(SimError::BadCommit { height: h, reason });
        if h != self.tip.height + 1 || block.header.prev_hash != self.tip.block_hash {
            return bad(format!("does not extend the tip at height {}", self.tip.height));
        }
        match apply_block(&self.spec, &self.state, &self.tip, block) {
            Ok(c) if c == changes => {}
            Ok(_) => return bad("the changes given are not the block's".into()),
            Err(e) => return bad(format!("the block does not apply: {e}")),
        }
        self.state.apply(changes);
        self.tip = Tip::after(&block.header);
        if let (Some(lc), Some(prev)) = (&block.last_commit, self.chain.last_mut()) {
            prev.1 = lc.clone();
        }
        self.chain.push((block.clone(), cert.clone()));
        Ok(self.tip)
    }
    fn append_vote(&mut self, vote: &SignedVote) -> Result<(), SimError> {
        self.write()?;
        self.votes.push(vote.clone());
        Ok(())
    }
    fn votes(&self) -> Result<Vec<SignedVote>, SimError> {
        self.alive()?;
        Ok(self.votes.clone())
    }
    fn save_proposals(&mut self, proposals: &[SignedProposal]) -> Result<(), SimError> {
        self.write()?;
        self.proposals = proposals.to_vec();
        Ok(())
    }
    fn proposals(&self) -> Result<Vec<SignedProposal>, SimError> {
        self.alive()?;
        Ok(self.proposals.clone())
    }
    fn prune_votes_below(&mut self, height: u64) -> Result<(), SimError> {
        self.write()?;
        self.votes.retain(|v| v.vote.height >= height);
        Ok(())
    }
}

/// A transaction source that always holds one fresh deposit, distinct per validator instance
/// and per request, and the transactions submitted to it (the registrar's membership changes),
/// offered first until committed or refused.
pub struct SimPool {
    chain: Rc<TestChain>,
    tag: String,
    count: u64,
    submitted: Vec<(Hash, Transaction)>,
}

impl SimPool {
    /// A source for instance `tag` of run `seed`.
    pub fn new(chain: Rc<TestChain>, tag: String) -> Self {
        SimPool { chain, tag, count: 0, submitted: Vec::new() }
    }

    /// Admit a transaction (kept once; offered before the deposit).
    pub fn submit(&mut self, tx: Transaction) {
        let id = tx.id(&self.chain.spec.chain_id);
        if !self.submitted.iter().any(|(i, _)| *i == id) {
            self.submitted.push((id, tx));
        }
    }
}

impl TxSource for SimPool {
    fn is_empty(&self) -> bool {
        false
    }
    fn candidates(&mut self, _max_txs: usize, _max_deposits: usize) -> Vec<(Transaction, Hash)> {
        self.count += 1;
        let data = format!("evidence {} {}", self.tag, self.count);
        let mut txs: Vec<(Transaction, Hash)> = self.submitted.iter().map(|(i, t)| (t.clone(), *i)).collect();
        let deposit = self.chain.deposit("platform", data.as_bytes(), self.count);
        let id = deposit.id(&self.chain.spec.chain_id);
        txs.push((deposit, id));
        txs
    }
    fn holds(&self, _id: &Hash, _tx: &Transaction) -> bool {
        false
    }
    fn remove(&mut self, ids: &[Hash]) {
        self.submitted.retain(|(i, _)| !ids.contains(i));
    }
}
