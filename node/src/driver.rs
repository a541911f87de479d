//! The consensus driver: the loop that connects the pure consensus machine to the world.
//!
//! Rules:
//! - Inputs (peer bytes, fired timeouts, client submissions) are handled one at a time; the
//!   machine's effects are performed in the order given, and a vote or proposal is written to the
//!   store (synced) before any later effect, so it is on disk before it can leave the node.
//! - A proposal is built from the mempool's oldest transactions with the ledger's `build_block`
//!   on the committed tip; transactions it leaves out are dropped from the mempool with their
//!   reason counted. A peer's block is checked with `apply_block` on the committed tip, and the
//!   resulting changes are kept so that a commit does not execute the block twice. Both skip the
//!   signature check of transactions the mempool holds with the same signature (verified on
//!   admission), and only that check.
//! - Pacing: when asked for a proposal, the driver builds it once the mempool holds something
//!   and [`Pacing::block_interval`] has passed since the last commit (so that under load blocks
//!   are few and full rather than many and small), or once [`Pacing::empty_block_after`] has
//!   passed (an empty block keeps rounds short and clocks moving on an idle chain). Both must be
//!   shorter than the propose timeout.
//! - Client submissions arrive with their signatures already checked by the API, on the blocking
//!   pool; gossiped transactions are decoded and checked on the blocking pool too, at most
//!   [`MAX_GOSSIP_CHECKS`] frames at a time (further frames are dropped and counted, since the
//!   transactions still reach every node inside blocks). The loop only runs the cheap state
//!   checks of admission.
//! - A commit writes block, certificate, state changes and indexes in one atomic store batch,
//!   then removes the block's transactions from the mempool.
//! - Wire frames start with one byte: [`FRAME_CONSENSUS`] for a consensus message,
//!   [`FRAME_TXS`] for gossiped transactions (canonical encoding, a `u32` count then each).
//!   Every frame from a peer is acknowledged at once; its content is untrusted until checked.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use curia_consensus::{Config, Effect, Input, Machine, Message, PeerId, SignedProposal, Timeouts};
use curia_ledger::codec::{Canonical, Reader, Writer};
use curia_ledger::crypto::SecretKey;
use curia_ledger::genesis::ChainSpec;
use curia_ledger::limits::MAX_BLOCK_DEPOSITS;
use curia_ledger::state::{apply_block_with, build_block_with, Change, Proposing};
use curia_ledger::tx::Transaction;
use curia_ledger::Hash;
use curia_storage::Store;
use tokio::sync::{mpsc, watch};

use crate::api::{NodeStatus, Submit};
use crate::mempool::{check_signed, Mempool, MempoolConfig};
use crate::net::{NetEvent, NetHandle};
use crate::ops::Metrics;
use crate::NodeError;

/// Frame tag of a consensus message.
pub const FRAME_CONSENSUS: u8 = 0;
/// Frame tag of gossiped transactions.
pub const FRAME_TXS: u8 = 1;
/// Most committed blocks sent in answer to one sync request.
pub const SERVE_BATCH: u64 = 32;
/// Most transactions gossiped in one frame.
pub const MAX_GOSSIP_TXS: usize = 10_000;
/// Most gossip frames being checked at the same time.
pub const MAX_GOSSIP_CHECKS: usize = 4;

/// When a proposer builds its block (see the module rules).
#[derive(Clone, Copy, Debug)]
pub struct Pacing {
    /// Least time from the last commit to the next proposal when transactions are waiting.
    pub block_interval: Duration,
    /// Time after which an empty block is proposed when nothing is waiting.
    pub empty_block_after: Duration,
}

impl Default for Pacing {
    fn default() -> Self {
        Pacing { block_interval: Duration::from_millis(200), empty_block_after: Duration::from_millis(1000) }
    }
}

/// Something the driver asked to be woken for.
enum Wake {
    /// A consensus timeout.
    Consensus(Box<Input>),
    /// Time to look again at a pending proposal request.
    Propose,
    /// Gossiped transactions with their check results.
    Gossip(Vec<Transaction>, Vec<Result<Hash, NodeError>>),
}

/// What the driver needs to run.
pub struct DriverParts {
    /// The chain.
    pub spec: Arc<ChainSpec>,
    /// This validator's key.
    pub key: SecretKey,
    /// This node's name (for status).
    pub name: String,
    /// The store.
    pub store: Arc<Store>,
    /// The network.
    pub net: NetHandle,
    /// Network events.
    pub net_events: mpsc::Receiver<NetEvent>,
    /// Client submissions from the API.
    pub submissions: mpsc::Receiver<Submit>,
    /// Where to publish status.
    pub status: watch::Sender<NodeStatus>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Consensus timeouts.
    pub timeouts: Timeouts,
    /// Mempool limits.
    pub mempool: MempoolConfig,
    /// Proposal pacing.
    pub pacing: Pacing,
}

/// Milliseconds since the Unix epoch by the local clock.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

struct Driver {
    spec: Arc<ChainSpec>,
    key: SecretKey,
    name: String,
    store: Arc<Store>,
    net: NetHandle,
    machine: Machine,
    mempool: Mempool,
    wake: mpsc::UnboundedSender<Wake>,
    pacing: Pacing,
    /// A proposal the machine asked for and not yet built: height, round, when asked.
    pending_proposal: Option<(u64, u32, Instant)>,
    /// When the earliest scheduled proposal wake-up fires.
    wake_at: Option<Instant>,
    /// Gossip frames being checked on the blocking pool.
    gossip_checks: usize,
    peer_ids: HashMap<libp2p::PeerId, PeerId>,
    peers: Vec<libp2p::PeerId>,
    connected: usize,
    proposals: Vec<SignedProposal>,
    checked: HashMap<Hash, Vec<Change>>,
    status: watch::Sender<NodeStatus>,
    metrics: Arc<Metrics>,
    height_started: Instant,
    last_commit_ms: u64,
    last_commit_at: Instant,
}

/// Run the driver until the network and API channels close or `shutdown` resolves.
pub async fn run(parts: DriverParts, shutdown: impl std::future::Future<Output = ()>) -> Result<(), NodeError> {
    let DriverParts {
        spec,
        key,
        name,
        store,
        net,
        mut net_events,
        mut submissions,
        status,
        metrics,
        timeouts,
        mempool,
        pacing,
    } = parts;
    let tip = store.tip();
    let cfg = Config { spec: spec.clone(), key: Some(key.clone()), timeouts, broken: Default::default() };
    let machine = Machine::new(cfg, tip.height).map_err(|e| NodeError::Config(e.to_string()))?;
    let (wake_tx, mut wake_rx) = mpsc::unbounded_channel();
    let mut d = Driver {
        mempool: Mempool::new(spec.clone(), mempool),
        spec,
        key,
        name,
        store,
        net,
        machine,
        wake: wake_tx,
        pacing,
        pending_proposal: None,
        wake_at: None,
        gossip_checks: 0,
        peer_ids: HashMap::new(),
        peers: Vec::new(),
        connected: 0,
        proposals: Vec::new(),
        checked: HashMap::new(),
        status,
        metrics,
        height_started: Instant::now(),
        last_commit_ms: 0,
        last_commit_at: Instant::now(),
    };
    let votes = d.store.votes().map_err(store_err)?;
    d.proposals = match d.store.consensus_state().map_err(store_err)? {
        Some(blob) => decode_proposals(&blob)?,
        None => Vec::new(),
    };
    tracing::info!(height = tip.height, votes = votes.len(), "consensus starting");
    let start = Input::Start { votes, proposals: d.proposals.clone() };
    d.feed(start)?;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return Ok(()),
            Some(wake) = wake_rx.recv() => d.on_wake(wake)?,
            ev = net_events.recv() => match ev {
                None => return Ok(()),
                Some(ev) => d.on_net(ev)?,
            },
            sub = submissions.recv() => match sub {
                None => return Ok(()),
                Some(s) => d.on_submit(s)?,
            },
        }
        d.publish();
    }
}

fn store_err(e: curia_storage::StoreError) -> NodeError {
    NodeError::Storage(e.to_string())
}

fn decode_proposals(blob: &[u8]) -> Result<Vec<SignedProposal>, NodeError> {
    let mut r = Reader::new(blob, "persisted proposals");
    let v = r
        .list("proposals", 1024, SignedProposal::decode)
        .and_then(|v| r.finish().map(|()| v))
        .map_err(|e| NodeError::Storage(format!("persisted proposals are corrupt: {e}")))?;
    Ok(v)
}

impl Driver {
    fn peer(&mut self, p: libp2p::PeerId) -> PeerId {
        if let Some(id) = self.peer_ids.get(&p) {
            return *id;
        }
        let id = PeerId(self.peers.len() as u64);
        self.peers.push(p);
        self.peer_ids.insert(p, id);
        id
    }

    fn on_net(&mut self, ev: NetEvent) -> Result<(), NodeError> {
        match ev {
            NetEvent::Connected(_) => {
                self.connected += 1;
                self.metrics.set_peers(self.connected as u64);
            }
            NetEvent::Disconnected(_) => {
                self.connected = self.connected.saturating_sub(1);
                self.metrics.set_peers(self.connected as u64);
            }
            NetEvent::Message { from, bytes } => self.on_frame(from, bytes)?,
            NetEvent::Request { from, bytes, reply } => {
                let _ = reply.send(Vec::new());
                self.on_frame(from, bytes)?;
            }
        }
        Ok(())
    }

    fn on_frame(&mut self, from: libp2p::PeerId, bytes: Vec<u8>) -> Result<(), NodeError> {
        match bytes.split_first() {
            Some((&FRAME_CONSENSUS, rest)) => {
                let from = self.peer(from);
                self.feed(Input::Bytes { from, bytes: rest.to_vec() })
            }
            Some((&FRAME_TXS, _)) => {
                if self.gossip_checks >= MAX_GOSSIP_CHECKS {
                    self.metrics.inc_rejected("gossip_dropped");
                    return Ok(());
                }
                self.gossip_checks += 1;
                let (store, chain_id, wake) = (self.store.clone(), self.spec.chain_id, self.wake.clone());
                tokio::task::spawn_blocking(move || {
                    let mut r = Reader::new(&bytes[1..], "gossiped transactions");
                    let txs = r
                        .list("transactions", MAX_GOSSIP_TXS, Transaction::decode)
                        .and_then(|v| r.finish().map(|()| v))
                        .unwrap_or_default();
                    let checks = check_signed(&chain_id, &store.state(), &txs);
                    let _ = wake.send(Wake::Gossip(txs, checks));
                });
                Ok(())
            }
            _ => {
                self.metrics.inc_rejected("bad_frame");
                Ok(())
            }
        }
    }

    fn on_submit(&mut self, s: Submit) -> Result<(), NodeError> {
        let Submit { txs, checks, reply } = s;
        if txs.len() > self.mempool.max_submission() || txs.len() != checks.len() {
            let _ = reply.send(Err(NodeError::TooManyTxs { got: txs.len(), max: self.mempool.max_submission() }));
            return Ok(());
        }
        let results = self.admit(txs, checks, true);
        let _ = reply.send(Ok(results));
        self.proposal_ready()
    }

    fn on_wake(&mut self, wake: Wake) -> Result<(), NodeError> {
        match wake {
            Wake::Consensus(input) => self.feed(*input),
            Wake::Propose => {
                self.wake_at = None;
                self.proposal_ready()
            }
            Wake::Gossip(txs, checks) => {
                self.gossip_checks -= 1;
                if txs.is_empty() {
                    self.metrics.inc_rejected("bad_gossip");
                }
                self.admit(txs, checks, false);
                self.proposal_ready()
            }
        }
    }

    /// Admit checked transactions to the mempool, count refusals, and gossip the accepted ones
    /// if they came from a client.
    fn admit(
        &mut self,
        txs: Vec<Transaction>,
        checks: Vec<Result<Hash, NodeError>>,
        gossip: bool,
    ) -> Vec<Result<crate::mempool::Admitted, NodeError>> {
        let state = self.store.state();
        let keep = if gossip { txs.clone() } else { Vec::new() };
        let mut results = self.mempool.admit(&state, txs, checks);
        // A failed read makes every answer above meaningless (a replay could look new): take back
        // what was admitted and refuse the submission as a storage error.
        if let Err(e) = state.finish() {
            tracing::error!(error = %e, "store read failed while admitting transactions");
            let admitted: Vec<Hash> = results.iter().filter_map(|r| r.as_ref().ok().map(|a| a.tx_id)).collect();
            self.mempool.remove(&admitted);
            results = results.iter().map(|_| Err(NodeError::Storage(e.to_string()))).collect();
        }
        for e in results.iter().filter_map(|r| r.as_ref().err()) {
            self.metrics.inc_rejected(e.code());
        }
        if gossip {
            let accepted: Vec<&Transaction> =
                keep.iter().zip(&results).filter(|(_, r)| r.is_ok()).map(|(t, _)| t).collect();
            if !accepted.is_empty() {
                let mut w = Writer::new();
                w.u8(FRAME_TXS);
                w.list(&accepted, |w, t| t.encode(w));
                self.net.broadcast(w.into_bytes());
            }
        }
        results
    }

    /// Feed the pending proposal to the machine if its time has come.
    fn proposal_ready(&mut self) -> Result<(), NodeError> {
        match self.take_ready_proposal()? {
            Some(input) => self.feed(input),
            None => Ok(()),
        }
    }

    /// If a proposal is pending and its time has come (see [`Pacing`]), build it and return it
    /// as the machine's input; otherwise make sure a wake-up is scheduled.
    fn take_ready_proposal(&mut self) -> Result<Option<Input>, NodeError> {
        let Some((height, round, asked)) = self.pending_proposal else { return Ok(None) };
        let now = Instant::now();
        let full_at = self.last_commit_at + self.pacing.block_interval;
        let empty_at = asked + self.pacing.empty_block_after;
        if (!self.mempool.is_empty() && now >= full_at) || now >= empty_at {
            self.pending_proposal = None;
            let block = self.build_proposal()?;
            return Ok(Some(Input::ProposalBlock { height, round, block }));
        }
        let at = if self.mempool.is_empty() { empty_at } else { full_at.min(empty_at) };
        if self.wake_at.is_none_or(|w| w > at) {
            self.wake_at = Some(at);
            let wake = self.wake.clone();
            tokio::spawn(async move {
                tokio::time::sleep_until(at.into()).await;
                let _ = wake.send(Wake::Propose);
            });
        }
        Ok(None)
    }

    /// Build a block from the mempool on the committed tip, carrying the tip's certificate.
    fn build_proposal(&mut self) -> Result<curia_ledger::block::Block, NodeError> {
        let tip = self.store.tip();
        let last_commit = match tip.height {
            0 => None,
            h => Some(self.store.cert(h).map_err(store_err)?.ok_or_else(|| {
                store_err(curia_storage::StoreError::NotFound { what: "certificate", key: format!("height {h}") })
            })?),
        };
        let proposing = Proposing { proposer: self.key.public(), time_ms: now_ms(), last_commit };
        let candidates = self.mempool.peek(self.spec.genesis.params.max_block_txs as usize, MAX_BLOCK_DEPOSITS);
        let state = self.store.state();
        let mempool = &self.mempool;
        let built = tokio::task::block_in_place(|| {
            build_block_with(&self.spec, &state, &tip, candidates, proposing, &|id, sig| mempool.holds(id, sig))
        });
        // A block built on a failed read could break a rule; a node whose store fails stops.
        state.finish().map_err(store_err)?;
        let dropped: Vec<Hash> = built.rejected.iter().map(|(t, _)| t.id(&self.spec.chain_id)).collect();
        for (_, e) in &built.rejected {
            self.metrics.inc_rejected(e.code());
        }
        self.mempool.remove(&dropped);
        let hash = built.block.hash();
        self.checked.insert(hash, built.changes);
        Ok(built.block)
    }

    /// Feed one input and perform its effects, feeding back the inputs they produce.
    fn feed(&mut self, first: Input) -> Result<(), NodeError> {
        let mut inputs = vec![first];
        while let Some(input) = inputs.pop() {
            let effects = self.machine.on(now_ms(), input);
            for e in effects {
                if let Some(next) = self.perform(e)? {
                    inputs.push(next);
                }
            }
        }
        Ok(())
    }

    fn broadcast(&self, msg: &Message) {
        let mut bytes = Vec::with_capacity(1 + 256);
        bytes.push(FRAME_CONSENSUS);
        bytes.extend_from_slice(&msg.to_wire());
        self.net.broadcast(bytes);
    }

    fn perform(&mut self, effect: Effect) -> Result<Option<Input>, NodeError> {
        match effect {
            Effect::Broadcast(msg) => self.broadcast(&msg),
            Effect::PersistVote(v) => self.store.append_vote(&v).map_err(store_err)?,
            Effect::PersistProposal(p) => {
                let committed = self.store.tip().height;
                self.proposals.retain(|q| q.proposal.height > committed);
                self.proposals.push(p);
                let mut w = Writer::new();
                w.list(&self.proposals, |w, p| p.encode(w));
                self.store.put_consensus_state(&w.into_bytes()).map_err(store_err)?;
            }
            Effect::ScheduleTimeout { height, round, step, after_ms } => {
                let wake = self.wake.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(after_ms)).await;
                    let _ = wake.send(Wake::Consensus(Box::new(Input::Timeout { height, round, step })));
                });
            }
            Effect::RequestProposal { height, round } => {
                self.pending_proposal = Some((height, round, Instant::now()));
                return self.take_ready_proposal();
            }
            Effect::ValidateBlock { block } => {
                let tip = self.store.tip();
                let state = self.store.state();
                let hash = block.hash();
                let mempool = &self.mempool;
                let r = tokio::task::block_in_place(|| {
                    apply_block_with(&self.spec, &state, &tip, &block, &|id, sig| mempool.holds(id, sig))
                });
                // A verdict reached on a failed read means nothing; a node whose store fails stops.
                state.finish().map_err(store_err)?;
                let valid = match r {
                    Ok(changes) => {
                        self.checked.insert(hash, changes);
                        true
                    }
                    Err(e) => {
                        tracing::warn!(height = block.header.height, error = %e, "peer block is invalid");
                        self.metrics.inc_rejected("invalid_block");
                        false
                    }
                };
                return Ok(Some(Input::BlockValidity { hash, valid }));
            }
            Effect::Commit { block, cert } => self.commit(block, cert)?,
            Effect::FetchBlocks { from_height } => self.broadcast(&Message::SyncRequest { from_height }),
            Effect::ServeBlocks { peer, from_height } => self.serve(peer, from_height)?,
        }
        Ok(None)
    }

    fn commit(
        &mut self,
        block: curia_ledger::block::Block,
        cert: curia_ledger::block::CommitCertificate,
    ) -> Result<(), NodeError> {
        let hash = block.hash();
        let changes = match self.checked.remove(&hash) {
            Some(c) => c,
            None => tokio::task::block_in_place(|| self.store.execute(&block)).map_err(store_err)?,
        };
        self.store.commit_block(&block, &cert, &changes).map_err(store_err)?;
        self.checked.clear();
        let ids: Vec<Hash> = block.txs.iter().map(|t| t.id(&self.spec.chain_id)).collect();
        self.mempool.remove(&ids);
        let deposits: usize = block.txs.iter().map(deposit_count).sum();
        self.metrics.inc_committed_txs(ids.len() as u64);
        self.metrics.inc_committed_deposits(deposits as u64);
        self.metrics.set_height(block.header.height);
        self.metrics.observe_commit_latency(self.height_started.elapsed().as_secs_f64());
        self.height_started = Instant::now();
        self.last_commit_ms = now_ms();
        self.last_commit_at = Instant::now();
        let _ = self.store.prune_votes_below(block.header.height.saturating_sub(1));
        tracing::info!(height = block.header.height, txs = ids.len(), deposits, block = %hash, "committed");
        Ok(())
    }

    fn serve(&mut self, peer: PeerId, from_height: u64) -> Result<(), NodeError> {
        let Some(&to) = self.peers.get(peer.0 as usize) else { return Ok(()) };
        let tip = self.store.tip().height;
        let end = tip.min(from_height.saturating_add(SERVE_BATCH - 1));
        for h in from_height.max(1)..=end {
            let (Some(block), Some(cert)) =
                (self.store.block(h).map_err(store_err)?, self.store.cert(h).map_err(store_err)?)
            else {
                break;
            };
            let mut bytes = vec![FRAME_CONSENSUS];
            bytes.extend_from_slice(&Message::Commit { block, cert }.to_wire());
            self.net.send(to, bytes);
        }
        Ok(())
    }

    fn publish(&self) {
        let st = self.machine.status();
        let tip = self.store.tip();
        self.metrics.set_mempool(self.mempool.len() as u64, self.mempool.bytes() as u64);
        self.status.send_modify(|s| {
            s.chain_id = self.spec.chain_id.to_hex();
            s.chain_name = self.spec.genesis.chain_name.clone();
            s.node = self.name.clone();
            s.height = tip.height;
            s.tip_hash = tip.block_hash.to_hex();
            s.round = st.round;
            s.peers = self.connected;
            s.mempool_txs = self.mempool.len();
            s.mempool_bytes = self.mempool.bytes();
            s.last_commit_ms = self.last_commit_ms;
        });
    }
}

/// Deposits a transaction creates.
fn deposit_count(tx: &Transaction) -> usize {
    match &tx.body.payload {
        curia_ledger::tx::Payload::Deposit(_) => 1,
        curia_ledger::tx::Payload::BatchDeposit(_) => tx.items.len(),
        _ => 0,
    }
}
