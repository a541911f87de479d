//! The consensus driver: the async shell that feeds the world into the consensus executor.
//!
//! The effects of the consensus machine are performed by `curia_consensus::Executor`, the same
//! code the simulator (`curia-sim`) runs; this module only plugs in the node's clock (tokio
//! timers), network (libp2p), chain store (RocksDB) and transaction source (the mempool), and
//! turns the executor's notes into metrics and logs. See the executor's rules X1-X7 for what is
//! performed and in which order (votes and proposals are synced to disk before they are sent;
//! blocks are built and judged on the committed tip; pacing; commit checks; serving catch-up).
//!
//! Rules of the shell:
//! - Inputs (peer bytes, fired timers, client submissions) are handled one at a time.
//! - Pacing: [`Pacing::block_interval`] and [`Pacing::empty_block_after`] become the executor's
//!   rule X4; both must be shorter than the propose timeout.
//! - Client submissions arrive with their signatures already checked by the API, on the blocking
//!   pool; gossiped transactions are decoded and checked on the blocking pool too, at most
//!   [`MAX_GOSSIP_CHECKS`] frames at a time (further frames are dropped and counted, since the
//!   transactions still reach every node inside blocks). The loop only runs the cheap state
//!   checks of admission.
//! - Store reads that fail surface as errors (each state read returns
//!   `LedgerError::StateStorage`, which the executor turns into a store error), and the driver
//!   stops with it: a node must not vote or commit on a state it could not read. A submission
//!   whose state checks could not read the store is refused with `storage` (500).
//! - Wire frames start with one byte: [`FRAME_CONSENSUS`] for a consensus message,
//!   [`FRAME_TXS`] for gossiped transactions (canonical encoding, a `u32` count then each),
//!   [`crate::checkpoints::FRAME_CHECKPOINT_SIG`] for a validator's checkpoint signature,
//!   [`crate::peer_gate::STATUS_FRAME`] for the sender's committed tip height (sent to a peer
//!   when it connects and to all after each commit).
//!   Every frame from a peer is acknowledged at once; its content is untrusted until checked.
//! - Signing is held at start until the peers' heights are known and this node has caught up,
//!   or the bounded wait has passed ([`crate::peer_gate`], the machine's rule S4).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use curia_consensus::executor::{self, ChainStore, Clock, Executor, Network, Note, Timer, TxSource};
use curia_consensus::machine::SignPos;
use curia_consensus::msg::{decode_proposals, encode_proposals};
use curia_consensus::{Config, ConsensusError, Message, PeerId, SignedProposal, Timeouts};
use curia_ledger::block::{Block, CommitCertificate, SignedVote};
use curia_ledger::codec::{Canonical, Reader, Writer};
use curia_ledger::crypto::SecretKey;
use curia_ledger::equivocation::Equivocation;
use curia_ledger::evidence::DoubleProposal;
use curia_ledger::evidence::Misbehaviour;
use curia_ledger::genesis::ChainSpec;
use curia_ledger::state::{Change, StateView, Tip};
use curia_ledger::tx::{Payload, Transaction, TxBody};
use curia_ledger::Hash;
use curia_storage::{Store, StoreError};
use tokio::sync::{mpsc, watch};

use crate::mempool::{check_admission, Mempool, MempoolConfig};
use crate::net::{NetEvent, NetHandle};
use crate::ops::Metrics;
use crate::signing::SigningRecord;
use crate::submission::Submit;
use crate::NodeError;
use curia_api_types::NodeStatus;

/// Frame tag of a consensus message.
pub const FRAME_CONSENSUS: u8 = 0;
/// Frame tag of gossiped transactions.
pub const FRAME_TXS: u8 = 1;
// Every frame kind has its own tag (two branches once both took 2: the first match arm would
// have read the other kind's frames).
const _: () = {
    let tags = [FRAME_CONSENSUS, FRAME_TXS, crate::checkpoints::FRAME_CHECKPOINT_SIG, crate::peer_gate::STATUS_FRAME];
    let mut i = 0;
    while i < tags.len() {
        let mut j = i + 1;
        while j < tags.len() {
            assert!(tags[i] != tags[j], "two wire frame kinds share a tag");
            j += 1;
        }
        i += 1;
    }
};
/// Most committed blocks sent in answer to one sync request.
pub const SERVE_BATCH: u64 = executor::SERVE_BATCH;
/// Most transactions gossiped in one frame (defined with the node's other limits).
pub use crate::limits::MAX_GOSSIP_TXS;
/// Most gossip frames being checked at the same time.
pub const MAX_GOSSIP_CHECKS: usize = 4;

/// When a proposer builds its block (the executor's rule X4).
#[derive(Clone, Copy, Debug)]
pub struct Pacing {
    /// Least time from the last commit to the next proposal when transactions are waiting.
    pub block_interval: Duration,
    /// Time after which an empty block is proposed when nothing is waiting.
    pub empty_block_after: Duration,
}

impl Default for Pacing {
    fn default() -> Self {
        let p = executor::Pacing::default();
        Pacing {
            block_interval: Duration::from_millis(p.block_interval_ms),
            empty_block_after: Duration::from_millis(p.empty_block_ms),
        }
    }
}

/// Something the driver asked to be woken for.
enum Wake {
    /// A timer of the executor.
    Timer(Timer),
    /// The peer gate's bounded wait has passed.
    GateDeadline,
    /// Gossiped transactions with their check results.
    Gossip(Vec<Transaction>, Vec<Result<Hash, NodeError>>),
}

/// What the driver needs to run.
pub struct DriverParts {
    /// The chain.
    pub spec: Arc<ChainSpec>,
    /// This validator's key.
    pub key: SecretKey,
    /// The next key file of a rotation ([`crate::rotation`]).
    pub next_key: std::path::PathBuf,
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
    /// Where this validator records the positions it signs at; its value at start is the
    /// signing floor (rule S3).
    pub signing: Arc<SigningRecord>,
    /// node.toml `[network.addresses]`: a validator's address by name, replacing the registered one.
    pub address_overrides: std::collections::BTreeMap<String, String>,
    /// node.toml `[checkpoints]` ([`crate::checkpoints`]).
    pub checkpoints: crate::config::CheckpointSection,
    /// The peer gate's bounded wait (`[consensus] peer_wait_ms`, [`crate::peer_gate`]).
    pub peer_wait: Duration,
}

/// Milliseconds since the Unix epoch by the local clock (moved to [`crate::clock`]; kept here
/// for callers outside the crate).
pub use crate::clock::now_ms;

// ---------------------------------------------------------------- the executor's four traits

/// The RocksDB store as the executor's chain store. State reads run on the blocking-aware
/// path (`block_in_place`) and report the first failed read as the error.
pub struct NodeStore(pub Arc<Store>, pub Option<Arc<SigningRecord>>);

impl NodeStore {
    /// Rule S3: record where this validator signs before the vote or proposal is logged.
    fn note_signing(&self, pos: SignPos) -> Result<(), StoreError> {
        match &self.1 {
            None => Ok(()),
            Some(r) => r.note(pos).map_err(|source| StoreError::Io {
                op: "write the signing record",
                path: r.path().to_path_buf(),
                source,
            }),
        }
    }
}

impl ChainStore for NodeStore {
    type Error = StoreError;
    fn tip(&self) -> Tip {
        self.0.tip()
    }
    fn block(&self, height: u64) -> Result<Option<Block>, StoreError> {
        self.0.block(height)
    }
    fn cert(&self, height: u64) -> Result<Option<CommitCertificate>, StoreError> {
        self.0.cert(height)
    }
    fn read_state<R>(&self, f: impl FnOnce(&dyn StateView) -> R) -> Result<R, StoreError> {
        Ok(tokio::task::block_in_place(|| f(&self.0.state())))
    }
    fn commit_block(&mut self, block: &Block, cert: &CommitCertificate, changes: &[Change]) -> Result<Tip, StoreError> {
        self.0.commit_block(block, cert, changes)
    }
    fn append_vote(&mut self, vote: &SignedVote) -> Result<(), StoreError> {
        self.note_signing(SignPos::of_vote(&vote.vote))?;
        self.0.append_vote(vote)
    }
    fn votes(&self) -> Result<Vec<SignedVote>, StoreError> {
        self.0.votes()
    }
    fn save_proposals(&mut self, proposals: &[SignedProposal]) -> Result<(), StoreError> {
        if let Some(top) = proposals.iter().map(|p| SignPos::of_proposal(&p.proposal)).max() {
            self.note_signing(top)?;
        }
        self.0.put_consensus_state(&encode_proposals(proposals))
    }
    fn proposals(&self) -> Result<Vec<SignedProposal>, StoreError> {
        match self.0.consensus_state()? {
            None => Ok(Vec::new()),
            Some(blob) => decode_proposals(&blob).map_err(|e| StoreError::Corrupt {
                cf: curia_storage::cf::META,
                key: "consensus state".into(),
                reason: format!("persisted proposals: {e}"),
            }),
        }
    }
    fn prune_votes_below(&mut self, height: u64) -> Result<(), StoreError> {
        self.0.prune_votes_below(height)
    }
    fn record_equivocation(&mut self, evidence: &Equivocation) -> Result<(), StoreError> {
        self.0.record_equivocation(evidence).map(|_| ())
    }
    fn record_double_proposal(&mut self, evidence: &DoubleProposal) -> Result<(), StoreError> {
        self.0.record_double_proposal(evidence).map(|_| ())
    }
}

/// libp2p as the executor's network: consensus frames, and the table of peer numbers.
pub struct NodeNet {
    handle: NetHandle,
    ids: HashMap<libp2p::PeerId, PeerId>,
    peers: Vec<libp2p::PeerId>,
}

impl NodeNet {
    /// The executor's number for a libp2p peer (assigned on first sight).
    pub fn peer(&mut self, p: libp2p::PeerId) -> PeerId {
        if let Some(id) = self.ids.get(&p) {
            return *id;
        }
        let id = PeerId(self.peers.len() as u64);
        self.peers.push(p);
        self.ids.insert(p, id);
        id
    }
}

fn consensus_frame(msg: &Message) -> Vec<u8> {
    let wire = msg.to_wire();
    let mut bytes = Vec::with_capacity(1 + wire.len());
    bytes.push(FRAME_CONSENSUS);
    bytes.extend_from_slice(&wire);
    bytes
}

impl Network for NodeNet {
    fn broadcast(&mut self, msg: &Message) {
        self.handle.broadcast(consensus_frame(msg));
    }
    fn send(&mut self, to: PeerId, msg: &Message) {
        if let Some(&p) = self.peers.get(to.0 as usize) {
            self.handle.send(p, consensus_frame(msg));
        }
    }
}

/// Tokio time as the executor's clock: timers are tasks that wake the driver loop.
pub struct NodeClock {
    started: Instant,
    wake: mpsc::UnboundedSender<Wake>,
}

impl Clock for NodeClock {
    fn now_ms(&self) -> u64 {
        now_ms()
    }
    fn monotonic_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }
    fn schedule(&mut self, after_ms: u64, timer: Timer) {
        let wake = self.wake.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(after_ms)).await;
            let _ = wake.send(Wake::Timer(timer));
        });
    }
}

/// The mempool as the executor's transaction source.
pub struct NodePool(pub Mempool);

impl TxSource for NodePool {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    fn candidates(&mut self, max_txs: usize, max_deposits: usize) -> Vec<(Transaction, Hash)> {
        self.0.peek_ids(max_txs, max_deposits)
    }
    fn holds(&self, id: &Hash, tx: &Transaction) -> bool {
        self.0.holds(id, tx)
    }
    fn remove(&mut self, ids: &[Hash]) {
        self.0.remove(ids)
    }
}

type NodeExecutor = Executor<NodeStore, NodeNet, NodeClock, NodePool>;

// ---------------------------------------------------------------- the loop

struct Driver {
    spec: Arc<ChainSpec>,
    /// Keeps the network's peers on the validator set (`crate::members`).
    peers_follow: crate::members::PeerFollower,
    /// The next key of a rotation, loaded when the rotation commits.
    next_key: crate::rotation::NextKey,
    /// That key once loaded, and whether the network identity has switched to it.
    rotated: Option<(SecretKey, bool)>,
    name: String,
    store: Arc<Store>,
    net: NetHandle,
    exec: NodeExecutor,
    wake: mpsc::UnboundedSender<Wake>,
    /// Gossip frames being checked on the blocking pool.
    gossip_checks: usize,
    connected: usize,
    status: watch::Sender<NodeStatus>,
    metrics: Arc<Metrics>,
    height_started: Instant,
    last_commit_ms: u64,
    /// Votes and proposals withheld by the signing floor, as last logged.
    withheld: u64,
    /// Consensus messages the machine refused, as last counted in the metrics.
    rejected: u64,
    /// This validator's key: signs the evidence transactions it submits.
    key: SecretKey,
    /// Checkpoints of the deposit log being signed and collected.
    checkpoints: crate::checkpoints::Checkpoints,
    /// Holds signing until the peers' heights are known ([`crate::peer_gate`]).
    gate: crate::peer_gate::PeerGate,
    /// When the driver started (the gate's bounded wait runs from here).
    started: Instant,
}

/// Run the driver until the network and API channels close or `shutdown` resolves.
pub async fn run(parts: DriverParts, shutdown: impl std::future::Future<Output = ()>) -> Result<(), NodeError> {
    let DriverParts {
        spec,
        key,
        next_key,
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
        signing,
        address_overrides,
        checkpoints,
        peer_wait,
    } = parts;
    let checkpoints =
        crate::checkpoints::Checkpoints::start(spec.clone(), store.clone(), net.clone(), checkpoints, key.clone())?;
    let next_key = crate::rotation::NextKey::new(next_key, key.public());
    let cfg = Config { spec: spec.clone(), key: Some(key.clone()), timeouts };
    let (wake_tx, mut wake_rx) = mpsc::unbounded_channel();
    tracing::info!(height = store.tip().height, "consensus starting");
    let floor = signing.high();
    if let Some(f) = floor {
        tracing::info!(
            height = f.height,
            round = f.round,
            step = f.step,
            record = %signing.path().display(),
            "signing floor: this validator signed up to here before; it will sign nothing new at or below it"
        );
    } else if store.tip().height > 0 {
        tracing::warn!(
            record = %signing.path().display(),
            "no signing record beside a store that is not empty: if this data directory was moved or restored \
             without it, this validator may sign twice where it signed before"
        );
    }
    tracing::info!(
        wait_s = peer_wait.as_secs_f64(),
        "holding signatures until the peers' heights are heard and this node has caught up to within one \
         height of a quorum (or the bounded wait passes)"
    );
    let exec = Executor::start_held(
        cfg,
        NodeStore(store.clone(), Some(signing)),
        NodeNet { handle: net.clone(), ids: HashMap::new(), peers: Vec::new() },
        NodeClock { started: Instant::now(), wake: wake_tx.clone() },
        NodePool(Mempool::new(spec.clone(), mempool)),
        executor::Pacing {
            block_interval_ms: pacing.block_interval.as_millis() as u64,
            empty_block_ms: pacing.empty_block_after.as_millis() as u64,
        },
        floor,
        true,
    )
    .map_err(consensus_err)?;
    {
        let wake = wake_tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(peer_wait).await;
            let _ = wake.send(Wake::GateDeadline);
        });
    }
    let membership = crate::members::stored_membership(&spec, &store)?;
    let peers_follow = crate::members::PeerFollower::new(&membership, store.tip().height, address_overrides);
    let mut d = Driver {
        next_key,
        rotated: None,
        peers_follow,
        spec,
        name,
        store,
        net,
        exec,
        wake: wake_tx,
        gossip_checks: 0,
        connected: 0,
        status,
        metrics,
        height_started: Instant::now(),
        last_commit_ms: 0,
        withheld: 0,
        rejected: 0,
        key,
        checkpoints,
        gate: crate::peer_gate::PeerGate::new(peer_wait),
        started: Instant::now(),
    };
    d.notes();
    d.poll_next_key();
    // The next-key file is also looked for on a timer: a node whose file was missing when its
    // rotation took effect is refused by its peers and commits nothing, so it would never look.
    let mut next_key_poll = tokio::time::interval(crate::limits::NEXT_KEY_POLL);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = next_key_poll.tick() => {
                if d.rotated.is_none() {
                    d.poll_next_key();
                }
            }
            Some(wake) = wake_rx.recv() => d.on_wake(wake)?,
            ev = net_events.recv() => match ev {
                None => break,
                Some(ev) => d.on_net(ev)?,
            },
            sub = submissions.recv() => match sub {
                None => break,
                Some(s) => d.on_submit(s)?,
            },
        }
        d.checkpoints.tick();
        d.check_gate();
        d.publish();
    }
    // Consensus has stopped (nothing more is voted or committed); the witness pushes and time
    // stamps in flight are cancelled, not awaited (bounded by `CHECKPOINT_STOP_WAIT`).
    tracing::info!(height = d.store.tip().height, "consensus stopped");
    d.checkpoints.stop().await;
    Ok(())
}

/// The executor stops on a failed store read or write and on a broken invariant; the node stops
/// with it.
fn consensus_err(e: ConsensusError) -> NodeError {
    match e {
        ConsensusError::Store(s) => NodeError::Storage(s),
        e => NodeError::Storage(format!("consensus stopped: {e}")),
    }
}

impl Driver {
    /// Give consensus the rotation's next key once it is due ([`crate::rotation`]).
    fn poll_next_key(&mut self) {
        match crate::members::stored_membership(&self.spec, &self.store) {
            Ok(m) => {
                if let Some(k) = self.next_key.poll(&m) {
                    self.checkpoints.add_key(k.clone());
                    self.exec.add_key(k.clone());
                    self.rotated = Some((k, false));
                }
                self.follow_rotation(&m);
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the validator set to check the next key"),
        }
    }

    /// After a rotation of this validator's key (`crate::members`, `crate::rotation`): switch the
    /// network identity to the new key once the set at `tip + 2` names it (the rotation has
    /// committed; peers then allow both keys until the old one leaves the set at their next
    /// height), and sign evidence with it once the set at `tip + 1` names it.
    fn follow_rotation(&mut self, m: &curia_ledger::membership::Membership) {
        let Some((k, switched)) = &mut self.rotated else { return };
        let tip = self.store.tip().height;
        let public = k.public();
        if !*switched && m.set_at(tip + curia_ledger::membership::ACTIVATION_DELAY).index_of(&public).is_some() {
            *switched = true;
            let (net, k) = (self.net.clone(), k.clone());
            tokio::spawn(async move {
                if let Err(e) = net.rekey(k).await {
                    tracing::error!(error = %e, "cannot switch the network identity to the rotated key");
                }
            });
        }
        if self.key.public() != public && m.set_at(tip + 1).index_of(&public).is_some() {
            self.key = k.clone();
        }
    }

    /// Pass one input to the executor, then turn its notes into metrics and logs.
    fn exec(&mut self, f: impl FnOnce(&mut NodeExecutor) -> Result<(), ConsensusError>) -> Result<(), NodeError> {
        let r = f(&mut self.exec);
        self.notes();
        r.map_err(consensus_err)
    }

    fn notes(&mut self) {
        for n in self.exec.take_notes() {
            match n {
                Note::Committed { height, hash, txs, deposits, .. } => {
                    self.metrics.inc_committed_txs(txs as u64);
                    self.metrics.inc_committed_deposits(deposits as u64);
                    self.metrics.set_height(height);
                    self.metrics.observe_commit_latency(self.height_started.elapsed().as_secs_f64());
                    self.height_started = Instant::now();
                    self.last_commit_ms = now_ms();
                    tracing::info!(height, txs, deposits, block = %hash, "committed");
                    self.net.broadcast(crate::peer_gate::status_frame(height));
                    self.peers_follow.after_commit(&self.spec, &self.store, &self.net, height);
                    self.poll_next_key();
                    if let Err(e) = self.checkpoints.after_commit(height, deposits as u64) {
                        tracing::error!(height, error = %e, "checkpoint after commit failed");
                    }
                }
                Note::InvalidBlock { height, reason } => {
                    tracing::warn!(height, error = %reason, "peer block is invalid");
                    self.metrics.inc_rejected("invalid_block");
                }
                // Another validator's evidence of the same offence won: expected, not a problem.
                Note::LeftOut { code: "evidence_duplicate" } => {
                    tracing::debug!("evidence transaction left out: the offence is already recorded")
                }
                Note::LeftOut { code } => self.metrics.inc_rejected(code),
                Note::Equivocation(e) => {
                    let v = &e.a.vote;
                    let name = self.offender_name(v.validator, v.height);
                    let name = name.as_str();
                    tracing::warn!(
                        validator = v.validator,
                        name,
                        height = v.height,
                        round = v.round,
                        kind = ?v.kind,
                        "equivocation: a validator signed two different votes for one slot; evidence kept \
                         (GET /v1/evidence)"
                    );
                    self.metrics.inc_equivocation(name);
                    self.submit_evidence(Misbehaviour::DoubleVote(*e));
                }
                Note::DoubleProposal(d) => {
                    let p = &d.a.proposal;
                    let name = self.offender_name(p.proposer, p.height);
                    let name = name.as_str();
                    tracing::warn!(
                        validator = p.proposer,
                        name,
                        height = p.height,
                        round = p.round,
                        "equivocation: a proposer signed two different proposals for one height and round; \
                         evidence kept (GET /v1/evidence)"
                    );
                    self.metrics.inc_equivocation(name);
                    self.submit_evidence(Misbehaviour::DoubleProposal(*d));
                }
            }
        }
        let rejected = self.exec.machine().stats().rejected;
        if rejected > self.rejected {
            self.metrics.add_rejected_consensus(rejected - self.rejected);
            self.rejected = rejected;
        }
        let withheld = self.exec.machine().stats().withheld;
        if withheld > self.withheld {
            self.withheld = withheld;
            let st = self.exec.machine().status();
            let floor = self.exec.machine().signing_floor();
            tracing::warn!(
                height = st.height,
                round = st.round,
                withheld,
                floor = ?floor,
                "not signing: at or below the signing floor (this validator may have signed here before a \
                 restore); waiting for the network to move past it"
            );
            self.metrics.set_withheld_signatures(withheld);
        }
    }

    fn on_net(&mut self, ev: NetEvent) -> Result<(), NodeError> {
        match ev {
            NetEvent::Connected(p) => {
                self.net.send(p, crate::peer_gate::status_frame(self.store.tip().height));
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
                let from = self.exec.net_mut().peer(from);
                let bytes = rest.to_vec();
                self.exec(|x| x.on_bytes(from, bytes))
            }
            Some((&crate::peer_gate::STATUS_FRAME, rest)) => {
                match crate::peer_gate::parse_status(rest) {
                    Some(tip) => self.on_status(from, tip),
                    None => self.metrics.inc_rejected("bad_frame"),
                }
                Ok(())
            }
            Some((&FRAME_TXS, _)) => {
                if self.gossip_checks >= MAX_GOSSIP_CHECKS {
                    self.metrics.inc_rejected("gossip_dropped");
                    return Ok(());
                }
                self.gossip_checks += 1;
                let (store, spec, wake) = (self.store.clone(), self.spec.clone(), self.wake.clone());
                tokio::task::spawn_blocking(move || {
                    let mut r = Reader::new(&bytes[1..], "gossiped transactions");
                    let txs = r
                        .list("transactions", MAX_GOSSIP_TXS, Transaction::decode)
                        .and_then(|v| r.finish().map(|()| v))
                        .unwrap_or_default();
                    let checks = check_admission(&spec, &store.state(), &txs);
                    let _ = wake.send(Wake::Gossip(txs, checks));
                });
                Ok(())
            }
            Some((&crate::checkpoints::FRAME_CHECKPOINT_SIG, _)) => {
                if let Err(code) = self.checkpoints.on_frame(&bytes) {
                    self.metrics.inc_rejected(code);
                }
                Ok(())
            }
            _ => {
                self.metrics.inc_rejected("bad_frame");
                Ok(())
            }
        }
    }

    /// The name of validator `index` in the set in force at `height` (offences are rare, so the
    /// stored membership is read here rather than kept), or `?`.
    fn offender_name(&self, index: u16, height: u64) -> String {
        match crate::members::stored_membership(&self.spec, &self.store) {
            Ok(m) => m.set_at(height).get(index as usize).map_or("?".into(), |v| v.name.clone()),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the membership to name an offender");
                "?".into()
            }
        }
    }

    /// Put evidence this validator detected on chain: an `evidence` transaction signed with its
    /// key, checked like a client's and gossiped. Each offence is detected once per node, so a
    /// node submits it once; several nodes may submit the same offence, and the ledger records
    /// only the first: the others' refusal (`evidence_duplicate`, here or when the proposer
    /// leaves them out) is logged at debug level and not counted as a rejection.
    fn submit_evidence(&mut self, evidence: Misbehaviour) {
        let body = TxBody { sender: self.key.public(), nonce: now_ms(), payload: Payload::Evidence { evidence } };
        let tx = body.sign(&self.spec.chain_id, &self.key);
        let checks = check_admission(&self.spec, &self.store.state(), std::slice::from_ref(&tx));
        let quiet = |e: &NodeError| matches!(e.code(), "evidence_duplicate" | "already_pending" | "duplicate");
        if let Some(Err(e)) = checks.first() {
            if quiet(e) {
                tracing::debug!(error = %e, "evidence not submitted: already recorded or pending");
            } else {
                tracing::warn!(error = %e, "evidence not submitted");
            }
            return;
        }
        match self.admit(vec![tx], checks).pop() {
            Some(Ok(a)) => tracing::info!(tx = %a.tx_id, "evidence transaction submitted"),
            Some(Err(e)) => tracing::debug!(error = %e, "evidence not submitted"),
            None => {}
        }
    }

    fn on_submit(&mut self, s: Submit) -> Result<(), NodeError> {
        let Submit { txs, checks, reply } = s;
        let max = self.exec.pool().0.max_submission();
        if txs.len() > max || txs.len() != checks.len() {
            let _ = reply.send(Err(NodeError::TooManyTxs { got: txs.len(), max }));
            return Ok(());
        }
        let results = self.admit(txs, checks);
        let _ = reply.send(Ok(results));
        self.exec(|x| x.pool_changed())
    }

    /// A peer's status frame: its committed tip, kept by the gate while it is closed if the
    /// peer's identity is a validator of the set in force at the next height (or that
    /// validator's key before its latest rotation).
    fn on_status(&mut self, from: libp2p::PeerId, tip: u64) {
        if self.gate.released().is_some() {
            return;
        }
        let m = match crate::members::stored_membership(&self.spec, &self.store) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the membership to place a peer's status");
                return;
            }
        };
        let set = m.set_at(self.store.tip().height + 1);
        for v in &set.validators {
            let ids = std::iter::once(v.key).chain(crate::members::previous_key(&m, &v.key));
            if ids.filter_map(|k| crate::net::peer_id_of(&k).ok()).any(|id| id == from) {
                tracing::debug!(validator = %v.name, tip, "peer status");
                self.gate.report(v.key, tip);
                return;
            }
        }
    }

    /// Release signing once the gate opens ([`crate::peer_gate`]), saying why in the log.
    fn check_gate(&mut self) {
        if self.gate.released().is_some() {
            return;
        }
        let tip = self.store.tip().height;
        let set = match crate::members::stored_membership(&self.spec, &self.store) {
            Ok(m) => m.set_at(tip + 1).clone(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the membership for the peer gate");
                return;
            }
        };
        let mut me = vec![self.key.public()];
        me.extend(self.exec.machine().signing_key().map(|k| k.public()));
        let Some(release) = self.gate.decide(&set, &me, tip, self.started.elapsed()) else { return };
        self.exec.set_signing_hold(false);
        let held = self.exec.machine().stats().held;
        match release {
            crate::peer_gate::Release::CaughtUp { quorum_height, tip } => tracing::info!(
                quorum_height,
                tip,
                held,
                "peers heard: caught up to within one height of the height a quorum reports; signing"
            ),
            crate::peer_gate::Release::TimedOut { quorum_height, tip } => tracing::warn!(
                quorum_height = ?quorum_height,
                tip,
                held,
                wait_s = self.gate.wait().as_secs_f64(),
                "bounded wait passed before a quorum's heights were heard and caught up to; signing anyway"
            ),
        }
    }

    fn on_wake(&mut self, wake: Wake) -> Result<(), NodeError> {
        match wake {
            Wake::GateDeadline => Ok(()),
            Wake::Timer(timer) => self.exec(|x| x.on_timer(timer)),
            Wake::Gossip(txs, checks) => {
                self.gossip_checks -= 1;
                if txs.is_empty() {
                    self.metrics.inc_rejected("bad_gossip");
                }
                // Nobody waits for an answer: admitted without computing deposit IDs.
                let results = self.exec.pool_mut().0.admit_ids(&self.store.state(), txs, checks);
                self.count_refusals(&results, false);
                self.exec(|x| x.pool_changed())
            }
        }
    }

    /// Admit checked transactions from a client (or this node's own) to the mempool, count
    /// refusals, and gossip the accepted ones. A peer's gossip is admitted in `on_wake`.
    fn admit(
        &mut self,
        txs: Vec<Transaction>,
        checks: Vec<Result<Hash, NodeError>>,
    ) -> Vec<Result<crate::mempool::Admitted, NodeError>> {
        let keep = txs.clone();
        // A transaction whose checks could not read the store is refused with that storage
        // error (never admitted, never a rule's refusal); the others' answers stand.
        let results = self.exec.pool_mut().0.admit(&self.store.state(), txs, checks);
        self.count_refusals(&results, true);
        let accepted: Vec<&Transaction> =
            keep.iter().zip(&results).filter(|(_, r)| r.is_ok()).map(|(t, _)| t).collect();
        if !accepted.is_empty() {
            let mut w = Writer::new();
            w.u8(FRAME_TXS);
            w.list(&accepted, |w, t| t.encode(w));
            self.net.broadcast(w.into_bytes());
        }
        results
    }

    /// Log a storage failure among admission results and count the refusals. `gossip` is true
    /// for a client's submission (this node gossips what it accepts) and false for a peer's
    /// gossip, whose already-known refusals are honest races.
    fn count_refusals<T>(&self, results: &[Result<T, NodeError>], gossip: bool) {
        if let Some(e) = results.iter().find_map(|r| r.as_ref().err().filter(|e| matches!(e, NodeError::Storage(_)))) {
            tracing::error!(error = %e, "store read failed while admitting transactions");
        }
        for e in results.iter().filter_map(|r| r.as_ref().err()) {
            self.metrics.count_refusal(e.code(), !gossip);
        }
    }

    fn publish(&self) {
        let st = self.exec.machine().status();
        let tip = self.store.tip();
        self.metrics.set_mempool(self.exec.pool().0.len() as u64, self.exec.pool().0.bytes() as u64);
        self.status.send_modify(|s| {
            s.chain_id = self.spec.chain_id.to_hex();
            s.chain_name = self.spec.genesis.chain_name.clone();
            s.node = self.name.clone();
            s.height = tip.height;
            s.tip_hash = tip.block_hash.to_hex();
            s.round = st.round;
            s.peers = self.connected;
            s.mempool_txs = self.exec.pool().0.len();
            s.mempool_bytes = self.exec.pool().0.bytes();
            s.last_commit_ms = self.last_commit_ms;
        });
    }
}
