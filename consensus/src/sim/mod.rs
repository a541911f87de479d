//! A seeded, deterministic simulator for the consensus machine.
//!
//! Virtual time; a network that delays (latency plus jitter, so it reorders), loses, duplicates
//! and partitions messages (partitions heal); validators that crash, possibly halfway through
//! performing an input's effects, and restart from what they persisted; and up to f Byzantine
//! validators that equivocate, double-vote, forge signatures, replay old messages, propose
//! invalid blocks, stay silent or send garbage bytes. Blocks are real ledger blocks built with
//! `state::build_block` on each validator's own `MemState` and validated with
//! `state::apply_block`.
//!
//! Checked on every run: agreement (no two honest validators commit different blocks at a
//! height), every commit certificate verifies against the genesis alone, only valid blocks commit
//! (the committing node's `apply_block` accepts them), no honest validator signs two different
//! votes or proposals for one slot, and after the network heals every honest validator commits
//! new blocks within a bound of virtual time.
//!
//! Everything is a function of the seed: iteration is over ordered maps, the random numbers come
//! from [`Rng`], and the trace hash covers every event and effect.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use curia_ledger::block::{Block, CommitCertificate, SignedVote, Vote, VoteKind};
use curia_ledger::crypto::{SecretKey, Signature};
use curia_ledger::genesis::ChainSpec;
use curia_ledger::state::{apply_block, build_block, MemState, Proposing, Tip};
use curia_ledger::testkit::{test_genesis, test_key, TestChain, TEST_GENESIS_MS};
use curia_ledger::Hash;
use sha2::{Digest, Sha256};

use crate::machine::{Broken, Config, Effect, Input, Machine, PeerId, Step, Timeouts};
use crate::msg::{Message, Proposal, SignedProposal};

/// A small deterministic random number generator (SplitMix64). For the simulator only.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`0` if `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }
    /// True with probability `p` (in percent tenths: `per_mille` out of 1000).
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

/// The families of runs. Each seed draws concrete parameters within its family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Four honest validators, jitter only.
    Calm,
    /// Heavy loss, duplication and reordering until the heal time.
    Lossy,
    /// Partitions that heal, with some loss.
    Partition,
    /// Crashes and restarts (some halfway through an input's effects), with some loss.
    Crash,
    /// One Byzantine validator of four, with loss and a partition.
    Byzantine,
    /// Two Byzantine validators of seven, with loss, a partition and a crash.
    Byzantine7,
}

/// What a Byzantine validator does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Byz {
    /// Sends nothing at all.
    pub silent: bool,
    /// Sends different proposals and votes to different halves of the network.
    pub equivocate: bool,
    /// Sends two different votes to everyone, and prevotes and precommits every proposal it
    /// sends or receives (amnesia).
    pub double_vote: bool,
    /// Sends votes in other validators' names, with bad signatures.
    pub forge: bool,
    /// Re-sends old messages.
    pub replay: bool,
    /// Proposes blocks with a wrong state root.
    pub invalid_blocks: bool,
    /// Sends garbage and corrupted bytes.
    pub garbage: bool,
}

/// A partition: during `[from_ms, until_ms)` only validators in the same group hear each other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    /// Start.
    pub from_ms: u64,
    /// End (heal).
    pub until_ms: u64,
    /// Group of each validator.
    pub group: Vec<u8>,
}

/// A crash: the validator stops at `at_ms` (possibly in the middle of performing effects) and
/// restarts `down_ms` later from its persisted votes and committed blocks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crash {
    /// Validator index.
    pub node: usize,
    /// When.
    pub at_ms: u64,
    /// For how long.
    pub down_ms: u64,
}

/// The concrete parameters of one run.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Family.
    pub kind: Kind,
    /// Number of validators (power 1 each).
    pub n: usize,
    /// Byzantine validators and their behaviour.
    pub byzantine: BTreeMap<usize, Byz>,
    /// Least one-way latency.
    pub latency_ms: u64,
    /// Extra random delay, uniform in `0..=jitter_ms`.
    pub jitter_ms: u64,
    /// Loss per message, per mille, until `heal_ms`.
    pub loss_per_mille: u64,
    /// Duplication per message, per mille.
    pub dup_per_mille: u64,
    /// Partitions (all end by `heal_ms`).
    pub partitions: Vec<Partition>,
    /// Crashes (all restarted by `heal_ms`).
    pub crashes: Vec<Crash>,
    /// From then on: no loss, no partition, every honest validator up.
    pub heal_ms: u64,
    /// After healing, every honest validator must commit this many more blocks...
    pub blocks_after_heal: u64,
    /// ...within this much virtual time.
    pub liveness_bound_ms: u64,
    /// Timeouts of every machine.
    pub timeouts: Timeouts,
    /// Deliberate protocol breakage (tests of the checks).
    pub broken: Broken,
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?}: n={} byzantine={:?} latency={}+{}ms loss={}‰ dup={}‰ partitions={:?} crashes={:?} heal={}ms broken={:?}",
            self.kind,
            self.n,
            self.byzantine,
            self.latency_ms,
            self.jitter_ms,
            self.loss_per_mille,
            self.dup_per_mille,
            self.partitions,
            self.crashes,
            self.heal_ms,
            self.broken
        )
    }
}

/// Timeouts used in the simulator (milliseconds of virtual time).
pub const SIM_TIMEOUTS: Timeouts =
    Timeouts { propose_ms: 400, prevote_ms: 200, precommit_ms: 200, delta_ms: 100, sync_retry_ms: 400 };

impl Scenario {
    /// Draw the parameters of a run of family `kind` from `seed`.
    pub fn generate(kind: Kind, seed: u64) -> Scenario {
        let mut rng = Rng::new(seed.wrapping_mul(31).wrapping_add(kind as u64));
        let n = if kind == Kind::Byzantine7 { 7 } else { 4 };
        let mut s = Scenario {
            kind,
            n,
            byzantine: BTreeMap::new(),
            latency_ms: rng.range(5, 30),
            jitter_ms: rng.range(0, 60),
            loss_per_mille: 0,
            dup_per_mille: rng.range(0, 50),
            partitions: Vec::new(),
            crashes: Vec::new(),
            heal_ms: rng.range(2000, 4000),
            blocks_after_heal: 3,
            liveness_bound_ms: 30_000,
            timeouts: SIM_TIMEOUTS,
            broken: Broken::default(),
        };
        let random_partition = |rng: &mut Rng, heal: u64, n: usize| {
            let from_ms = rng.range(0, heal / 2);
            let until_ms = rng.range(from_ms + 200, heal);
            let mut group: Vec<u8> = (0..n).map(|_| rng.below(2) as u8).collect();
            // Make sure it splits.
            group[0] = 0;
            group[n - 1] = 1;
            Partition { from_ms, until_ms, group }
        };
        match kind {
            Kind::Calm => {
                s.dup_per_mille = 0;
            }
            Kind::Lossy => {
                s.loss_per_mille = rng.range(100, 300);
                s.dup_per_mille = rng.range(50, 200);
                s.jitter_ms = rng.range(50, 200);
            }
            Kind::Partition => {
                s.loss_per_mille = rng.range(0, 50);
                for _ in 0..rng.range(1, 2) {
                    let p = random_partition(&mut rng, s.heal_ms, n);
                    s.partitions.push(p);
                }
            }
            Kind::Crash => {
                s.loss_per_mille = rng.range(0, 50);
                for _ in 0..rng.range(1, 3) {
                    let at_ms = rng.range(0, s.heal_ms - 600);
                    let down_ms = rng.range(50, (s.heal_ms - at_ms).min(1500));
                    s.crashes.push(Crash { node: rng.below(n as u64) as usize, at_ms, down_ms });
                }
            }
            Kind::Byzantine | Kind::Byzantine7 => {
                let f = (n - 1) / 3;
                s.loss_per_mille = rng.range(0, 80);
                let p = random_partition(&mut rng, s.heal_ms, n);
                s.partitions.push(p);
                let mut picked = Vec::new();
                while picked.len() < f {
                    let b = rng.below(n as u64) as usize;
                    if !picked.contains(&b) {
                        picked.push(b);
                    }
                }
                for b in picked {
                    let byz = if rng.chance(150) {
                        Byz { silent: true, ..Byz::default() }
                    } else {
                        Byz {
                            silent: false,
                            equivocate: rng.chance(700),
                            double_vote: rng.chance(500),
                            forge: rng.chance(500),
                            replay: rng.chance(500),
                            invalid_blocks: rng.chance(500),
                            garbage: rng.chance(500),
                        }
                    };
                    s.byzantine.insert(b, byz);
                }
                if kind == Kind::Byzantine7 {
                    let honest: Vec<usize> = (0..n).filter(|i| !s.byzantine.contains_key(i)).collect();
                    let node = honest[rng.below(honest.len() as u64) as usize];
                    let at_ms = rng.range(0, s.heal_ms - 600);
                    let down_ms = rng.range(50, (s.heal_ms - at_ms).min(1500));
                    s.crashes.push(Crash { node, at_ms, down_ms });
                }
            }
        }
        s
    }
}

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// Two honest validators committed different blocks at one height.
    Agreement {
        /// Height.
        height: u64,
        /// Description.
        detail: String,
    },
    /// A committed certificate does not verify against the genesis.
    BadCertificate {
        /// Height.
        height: u64,
        /// Why.
        detail: String,
    },
    /// A committed block does not apply on the committer's state.
    InvalidBlock {
        /// Height.
        height: u64,
        /// Why.
        detail: String,
    },
    /// An honest validator signed two different votes or proposals for one slot.
    DoubleSign {
        /// Description.
        detail: String,
    },
    /// After healing, an honest validator did not commit enough blocks in time.
    Liveness {
        /// Description.
        detail: String,
    },
}

/// What a run produced.
#[derive(Clone, Debug)]
pub struct Report {
    /// The seed.
    pub seed: u64,
    /// The scenario (printable).
    pub scenario: String,
    /// Broken invariants (empty if the run passed).
    pub violations: Vec<Violation>,
    /// SHA-256 over every event and effect of the run.
    pub trace_hash: [u8; 32],
    /// Committed height of each validator at the end.
    pub heights: Vec<u64>,
    /// Virtual time at the end.
    pub end_ms: u64,
    /// Mean commit latency in message delays (proposal broadcast to commit, divided by the least
    /// latency), over honest commits of blocks decided in consensus; `None` if none.
    pub latency_delays: Option<f64>,
    /// Messages delivered.
    pub delivered: u64,
    /// Each validator's machine status and counters at the end (for failure reports).
    pub statuses: Vec<String>,
}

impl Report {
    /// Whether every check passed.
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed {} scenario {} -> heights {:?} at {}ms, {} violations: {:?}\n  machines: {:#?}",
            self.seed,
            self.scenario,
            self.heights,
            self.end_ms,
            self.violations.len(),
            self.violations,
            self.statuses
        )
    }
}

enum Event {
    Deliver { to: usize, from: usize, bytes: Vec<u8> },
    Timeout { node: usize, incarnation: u64, height: u64, round: u32, step: Step },
    Crash { node: usize, down_ms: u64 },
    Restart { node: usize },
}

struct Node {
    machine: Option<Machine>,
    incarnation: u64,
    key: SecretKey,
    state: MemState,
    tip: Tip,
    chain: Vec<(Block, CommitCertificate)>,
    votes: Vec<SignedVote>,
    proposals: Vec<SignedProposal>,
    crash_pending: Option<u64>,
    byz: Option<Byz>,
    pool: Vec<Vec<u8>>,
}

/// The simulation of one run.
pub struct Sim {
    sc: Scenario,
    seed: u64,
    spec: Arc<ChainSpec>,
    helper: TestChain,
    rng: Rng,
    now: u64,
    seq: u64,
    events: BTreeMap<(u64, u64), Event>,
    nodes: Vec<Node>,
    trace: Sha256,
    violations: Vec<Violation>,
    committed: BTreeMap<u64, (Hash, usize)>,
    signed: BTreeMap<(u16, u64, u32, u8), Hash>,
    proposal_sent: BTreeMap<(u64, u32), u64>,
    latencies: Vec<u64>,
    delivered: u64,
}

fn vote_slot_hash(b: &Option<Hash>) -> Hash {
    b.unwrap_or(Hash::ZERO)
}

impl Sim {
    /// Set up a run.
    pub fn new(sc: Scenario, seed: u64) -> Sim {
        let helper = TestChain::new(sc.n);
        let spec = Arc::new(test_genesis(sc.n).into_spec().expect("test genesis is valid"));
        let nodes = (0..sc.n)
            .map(|i| Node {
                machine: None,
                incarnation: 0,
                key: test_key(&format!("v{i}")),
                state: MemState::genesis(&spec),
                tip: Tip::genesis(&spec),
                chain: Vec::new(),
                votes: Vec::new(),
                proposals: Vec::new(),
                crash_pending: None,
                byz: sc.byzantine.get(&i).copied(),
                pool: Vec::new(),
            })
            .collect();
        let mut sim = Sim {
            rng: Rng::new(seed),
            seed,
            spec,
            helper,
            now: 0,
            seq: 0,
            events: BTreeMap::new(),
            nodes,
            trace: Sha256::new(),
            violations: Vec::new(),
            committed: BTreeMap::new(),
            signed: BTreeMap::new(),
            proposal_sent: BTreeMap::new(),
            latencies: Vec::new(),
            delivered: 0,
            sc,
        };
        for c in sim.sc.crashes.clone() {
            sim.push(c.at_ms, Event::Crash { node: c.node, down_ms: c.down_ms });
        }
        for i in 0..sim.sc.n {
            sim.boot(i);
        }
        sim
    }

    fn honest(&self, i: usize) -> bool {
        self.nodes[i].byz.is_none()
    }

    fn push(&mut self, at: u64, e: Event) {
        self.seq += 1;
        self.events.insert((at, self.seq), e);
    }

    fn wall(&self) -> u64 {
        TEST_GENESIS_MS + 1000 + self.now
    }

    fn boot(&mut self, i: usize) {
        let cfg = Config {
            spec: self.spec.clone(),
            key: Some(self.nodes[i].key.clone()),
            timeouts: self.sc.timeouts,
            broken: self.sc.broken,
        };
        let node = &mut self.nodes[i];
        node.incarnation += 1;
        node.machine = Some(Machine::new(cfg, node.tip.height).expect("validator key"));
        let input = Input::Start { votes: node.votes.clone(), proposals: node.proposals.clone() };
        self.feed(i, input);
    }

    /// Run to the end; returns the report.
    pub fn run(mut self) -> Report {
        let heal = self.sc.heal_ms;
        let deadline = heal + self.sc.liveness_bound_ms;
        let mut heal_target: Option<u64> = None;
        while let Some(((t, _), ev)) = self.events.pop_first() {
            if t > deadline {
                break;
            }
            if heal_target.is_none() && t >= heal {
                let max = (0..self.sc.n).filter(|&i| self.honest(i)).map(|i| self.nodes[i].tip.height).max();
                heal_target = Some(max.unwrap_or(0) + self.sc.blocks_after_heal);
            }
            self.now = t;
            self.step(ev);
            if let Some(target) = heal_target {
                if (0..self.sc.n).filter(|&i| self.honest(i)).all(|i| self.nodes[i].tip.height >= target) {
                    break;
                }
            }
        }
        let target = heal_target.unwrap_or(0);
        for i in 0..self.sc.n {
            if self.honest(i) && self.nodes[i].tip.height < target {
                self.violations.push(Violation::Liveness {
                    detail: format!(
                        "validator {i} at height {} did not reach {target} within {}ms after healing at {heal}ms",
                        self.nodes[i].tip.height, self.sc.liveness_bound_ms
                    ),
                });
            }
        }
        let latency_delays = if self.latencies.is_empty() {
            None
        } else {
            let l = self.sc.latency_ms.max(1) as f64;
            Some(self.latencies.iter().sum::<u64>() as f64 / self.latencies.len() as f64 / l)
        };
        Report {
            seed: self.seed,
            scenario: self.sc.to_string(),
            violations: self.violations,
            trace_hash: self.trace.finalize().into(),
            heights: self.nodes.iter().map(|n| n.tip.height).collect(),
            end_ms: self.now,
            latency_delays,
            delivered: self.delivered,
            statuses: self
                .nodes
                .iter()
                .map(|n| match &n.machine {
                    Some(m) => format!("{:?} {:?}", m.status(), m.stats()),
                    None => "down".into(),
                })
                .collect(),
        }
    }

    fn step(&mut self, ev: Event) {
        match ev {
            Event::Deliver { to, from, bytes } => {
                self.delivered += 1;
                self.trace.update(format!("{} deliver {from}->{to} ", self.now));
                self.trace.update(&bytes);
                if self.nodes[to].byz.is_some_and(|b| b.replay) && self.nodes[to].pool.len() < 64 {
                    self.nodes[to].pool.push(bytes.clone());
                }
                if self.nodes[to].byz.is_some_and(|b| b.double_vote && !b.silent) && self.nodes[to].machine.is_some() {
                    self.amnesia(to, &bytes);
                }
                self.feed(to, Input::Bytes { from: PeerId(from as u64), bytes });
            }
            Event::Timeout { node, incarnation, height, round, step } => {
                if self.nodes[node].incarnation == incarnation && self.nodes[node].machine.is_some() {
                    self.trace.update(format!("{} timeout {node} h{height} r{round} {step:?}", self.now));
                    self.feed(node, Input::Timeout { height, round, step });
                }
            }
            Event::Crash { node, down_ms } => {
                self.trace.update(format!("{} crash {node}", self.now));
                if self.nodes[node].machine.is_some() {
                    self.nodes[node].crash_pending = Some(down_ms);
                }
            }
            Event::Restart { node } => {
                self.trace.update(format!("{} restart {node}", self.now));
                self.boot(node);
            }
        }
    }

    /// A Byzantine validator prevotes and precommits every proposal it receives, whatever it
    /// voted before in that round or any other.
    fn amnesia(&mut self, i: usize, bytes: &[u8]) {
        let Ok(Message::Proposal { proposal, .. }) = Message::from_wire(bytes) else { return };
        let q = &proposal.proposal;
        let key = self.nodes[i].key.clone();
        for kind in [VoteKind::Prevote, VoteKind::Precommit] {
            let v = Vote {
                chain_id: self.spec.chain_id,
                height: q.height,
                round: q.round,
                kind,
                block: Some(q.block_hash),
                time_ms: self.wall(),
                validator: i as u16,
            }
            .sign(&key);
            let m = Message::Vote(v).to_wire();
            for t in (0..self.sc.n).filter(|&t| t != i) {
                self.transmit(i, t, m.clone());
            }
        }
    }

    /// Give a node an input and perform the effects (and any inputs they feed back).
    fn feed(&mut self, i: usize, input: Input) {
        let mut inputs = vec![input];
        while let Some(input) = inputs.pop() {
            let wall = self.wall();
            let Some(m) = self.nodes[i].machine.as_mut() else { return };
            let effects = m.on(wall, input);
            let mut upto = effects.len();
            if let Some(down) = self.nodes[i].crash_pending.take() {
                // Crash halfway through performing the effects of this input.
                upto = self.rng.below(effects.len() as u64 + 1) as usize;
                self.trace.update(format!("crash-after {upto}"));
                self.nodes[i].machine = None;
                self.nodes[i].incarnation += 1;
                let at = self.now + down;
                self.push(at, Event::Restart { node: i });
            }
            let mut back = Vec::new();
            for e in effects.into_iter().take(upto) {
                self.trace.update(effect_summary(&e));
                self.perform(i, e, &mut back);
            }
            if self.nodes[i].machine.is_none() {
                return;
            }
            // Feed answers in the order they were produced.
            back.reverse();
            inputs.extend(back);
        }
    }

    fn perform(&mut self, i: usize, e: Effect, back: &mut Vec<Input>) {
        match e {
            Effect::Broadcast(msg) => {
                self.check_signed(i, &msg);
                let to: Vec<usize> = (0..self.sc.n).filter(|&j| j != i).collect();
                self.send_msg(i, &to, msg);
            }
            Effect::PersistVote(v) => self.nodes[i].votes.push(v),
            Effect::PersistProposal(p) => self.nodes[i].proposals.push(p),
            Effect::ScheduleTimeout { height, round, step, after_ms } => {
                let incarnation = self.nodes[i].incarnation;
                let at = self.now + after_ms;
                self.push(at, Event::Timeout { node: i, incarnation, height, round, step });
            }
            Effect::RequestProposal { height, round } => {
                let n = &self.nodes[i];
                let data = format!("evidence {} {height} {round} {i}", self.seed);
                let tx = self.helper.deposit("platform", data.as_bytes(), height);
                let proposing =
                    Proposing { proposer: n.key.public(), time_ms: self.wall(), last_commit: self.carried_cert(i) };
                let built = build_block(&self.spec, &n.state, &n.tip, vec![tx], proposing);
                back.push(Input::ProposalBlock { height, round, block: built.block });
            }
            Effect::ValidateBlock { block } => {
                let n = &self.nodes[i];
                let valid = apply_block(&self.spec, &n.state, &n.tip, &block).is_ok();
                back.push(Input::BlockValidity { hash: block.hash(), valid });
            }
            Effect::Commit { block, cert } => self.commit(i, block, cert),
            Effect::FetchBlocks { from_height } => {
                let to: Vec<usize> = (0..self.sc.n).filter(|&j| j != i).collect();
                self.send_msg(i, &to, Message::SyncRequest { from_height });
            }
            Effect::ServeBlocks { peer, from_height } => {
                let to = peer.0 as usize;
                if to >= self.sc.n || from_height == 0 {
                    return;
                }
                let chain = &self.nodes[i].chain;
                let first = from_height as usize - 1;
                let msgs: Vec<Message> = chain
                    .iter()
                    .skip(first)
                    .take(8)
                    .map(|(b, c)| Message::Commit { block: b.clone(), cert: c.clone() })
                    .collect();
                for m in msgs {
                    self.send_msg(i, &[to], m);
                }
            }
        }
    }

    /// The certificate validator `i` carries in its next proposal: the one it holds for its tip.
    /// With the deliberately broken 2f quorum, that certificate may be too small for the ledger's
    /// block rule, which would stall the chain before the machine's own safety bug shows; the
    /// mutation test is about the machine, so the simulator re-signs it with every validator.
    fn carried_cert(&self, i: usize) -> Option<CommitCertificate> {
        let c = self.nodes[i].chain.last().map(|(_, c)| c.clone())?;
        if !self.sc.broken.quorum_2f {
            return Some(c);
        }
        let votes: Vec<SignedVote> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(j, n)| {
                let vote = Vote {
                    chain_id: self.spec.chain_id,
                    height: c.height,
                    round: c.round,
                    kind: VoteKind::Precommit,
                    block: Some(c.block_hash),
                    time_ms: self.wall(),
                    validator: j as u16,
                };
                vote.sign(&n.key)
            })
            .collect();
        Some(CommitCertificate::from_votes(c.height, c.round, c.block_hash, &votes))
    }

    fn commit(&mut self, i: usize, block: Block, cert: CommitCertificate) {
        let h = block.header.height;
        let honest = self.honest(i);
        let n = &mut self.nodes[i];
        if h != n.tip.height + 1 {
            self.violations.push(Violation::InvalidBlock {
                height: h,
                detail: format!("validator {i} committed height {h} on tip {}", n.tip.height),
            });
            return;
        }
        if let Err(e) = cert.verify(&self.spec) {
            if honest {
                self.violations.push(Violation::BadCertificate { height: h, detail: format!("validator {i}: {e}") });
            }
        } else if cert.block_hash != block.hash() || cert.height != h {
            self.violations
                .push(Violation::BadCertificate { height: h, detail: format!("validator {i}: for another block") });
        }
        match apply_block(&self.spec, &n.state, &n.tip, &block) {
            Ok(changes) => {
                n.state.apply(&changes);
                n.tip = Tip::after(&block.header);
            }
            Err(e) => {
                self.violations.push(Violation::InvalidBlock { height: h, detail: format!("validator {i}: {e}") });
                return;
            }
        }
        let hash = block.hash();
        // Like the node's store: the certificate this block carries replaces the one this
        // validator collected for the previous block.
        if let (Some(lc), Some(prev)) = (&block.last_commit, n.chain.last_mut()) {
            prev.1 = lc.clone();
        }
        n.chain.push((block, cert.clone()));
        if !honest {
            return;
        }
        if let Some(t) = self.proposal_sent.get(&(h, cert.round)) {
            self.latencies.push(self.now - t);
        }
        match self.committed.get(&h) {
            None => {
                self.committed.insert(h, (hash, i));
            }
            Some((other, j)) if *other != hash => {
                let detail = format!("validator {j} committed {other:?}, validator {i} committed {hash:?}");
                self.violations.push(Violation::Agreement { height: h, detail });
            }
            Some(_) => {}
        }
    }

    /// Honest validators never sign two different things for one slot (checked on what leaves).
    fn check_signed(&mut self, i: usize, msg: &Message) {
        if !self.honest(i) {
            return;
        }
        let (slot, hash) = match msg {
            Message::Vote(v) => {
                let q = &v.vote;
                ((q.validator, q.height, q.round, q.kind as u8), vote_slot_hash(&q.block))
            }
            Message::Proposal { proposal, .. } => {
                let q = &proposal.proposal;
                self.proposal_sent.entry((q.height, q.round)).or_insert(self.now);
                ((q.proposer, q.height, q.round, 0), q.block_hash)
            }
            _ => return,
        };
        if let Some(old) = self.signed.insert(slot, hash) {
            if old != hash {
                self.violations.push(Violation::DoubleSign {
                    detail: format!("validator {i} signed {old:?} and {hash:?} for {slot:?}"),
                });
            }
        }
    }

    fn send_msg(&mut self, from: usize, to: &[usize], msg: Message) {
        let Some(byz) = self.nodes[from].byz else {
            let bytes = msg.to_wire();
            for &t in to {
                self.transmit(from, t, bytes.clone());
            }
            return;
        };
        if byz.silent {
            return;
        }
        let key = self.nodes[from].key.clone();
        let mut out: Vec<(usize, Vec<u8>)> = Vec::new();
        let half = |j: usize| j & 1 == 0;
        match &msg {
            Message::Proposal { proposal, block } if byz.invalid_blocks || byz.equivocate => {
                let mut bad = block.clone();
                if byz.invalid_blocks && self.rng.chance(600) {
                    bad.header.state_root = Hash::sha256(b"wrong state root");
                } else {
                    bad.header.time_ms += 1 + self.rng.below(5);
                }
                let p2 = Proposal { block_hash: bad.hash(), ..proposal.proposal.clone() }.sign(&key);
                let m2 = Message::Proposal { proposal: p2, block: bad }.to_wire();
                let m1 = msg.to_wire();
                for &t in to {
                    let second = !byz.equivocate || half(t);
                    out.push((t, if second { m2.clone() } else { m1.clone() }));
                }
            }
            Message::Vote(v) if byz.equivocate || byz.double_vote => {
                let other = match v.vote.block {
                    Some(_) => None,
                    None => Some(Hash::sha256(&self.rng.next_u64().to_be_bytes())),
                };
                let v2 = Vote { block: other, ..v.vote.clone() }.sign(&key);
                let m1 = msg.to_wire();
                let m2 = Message::Vote(v2).to_wire();
                for &t in to {
                    if byz.double_vote {
                        out.push((t, m1.clone()));
                        out.push((t, m2.clone()));
                    } else {
                        out.push((t, if half(t) { m2.clone() } else { m1.clone() }));
                    }
                }
            }
            _ => {
                let m = msg.to_wire();
                for &t in to {
                    out.push((t, m.clone()));
                }
            }
        }
        // Vote for whatever is proposed, in both steps (amnesia).
        if byz.double_vote {
            if let Message::Proposal { proposal, .. } = &msg {
                let q = &proposal.proposal;
                for kind in [VoteKind::Prevote, VoteKind::Precommit] {
                    let v = Vote {
                        chain_id: self.spec.chain_id,
                        height: q.height,
                        round: q.round,
                        kind,
                        block: Some(q.block_hash),
                        time_ms: self.wall(),
                        validator: q.proposer,
                    }
                    .sign(&key);
                    let m = Message::Vote(v).to_wire();
                    for &t in to {
                        out.push((t, m.clone()));
                    }
                }
            }
        }
        if byz.forge {
            if let Message::Vote(v) = &msg {
                let victim = self.rng.below(self.sc.n as u64) as u16;
                let mut f =
                    Vote { validator: victim, block: Some(Hash::sha256(b"forged")), ..v.vote.clone() }.sign(&key);
                if self.rng.chance(500) {
                    let mut sig = [0u8; 64];
                    for c in sig.chunks_mut(8) {
                        c.copy_from_slice(&self.rng.next_u64().to_be_bytes());
                    }
                    f.signature = Signature(sig);
                }
                let m = Message::Vote(f).to_wire();
                for &t in to {
                    out.push((t, m.clone()));
                }
            }
        }
        if byz.replay && !self.nodes[from].pool.is_empty() {
            for &t in to {
                let k = self.rng.below(self.nodes[from].pool.len() as u64) as usize;
                out.push((t, self.nodes[from].pool[k].clone()));
            }
        }
        if byz.garbage {
            for &t in to {
                let mut g = msg.to_wire();
                if self.rng.chance(500) && !g.is_empty() {
                    let k = self.rng.below(g.len() as u64) as usize;
                    g[k] ^= 1 << self.rng.below(8);
                    g.truncate(self.rng.range(k as u64, g.len() as u64) as usize);
                } else {
                    let len = self.rng.below(200) as usize;
                    g = (0..len).map(|_| self.rng.next_u64() as u8).collect();
                    if let Some(b) = g.first_mut() {
                        *b = 1 + (*b % 4);
                    }
                }
                out.push((t, g));
            }
        }
        for (t, b) in out {
            self.transmit(from, t, b);
        }
    }

    fn partitioned(&self, a: usize, b: usize) -> bool {
        self.sc.partitions.iter().any(|p| self.now >= p.from_ms && self.now < p.until_ms && p.group[a] != p.group[b])
    }

    fn transmit(&mut self, from: usize, to: usize, bytes: Vec<u8>) {
        if self.partitioned(from, to) {
            return;
        }
        if self.now < self.sc.heal_ms && self.rng.chance(self.sc.loss_per_mille) {
            return;
        }
        let copies = if self.rng.chance(self.sc.dup_per_mille) { 2 } else { 1 };
        for _ in 0..copies {
            let delay = self.sc.latency_ms + self.rng.range(0, self.sc.jitter_ms);
            let at = self.now + delay;
            self.push(at, Event::Deliver { to, from, bytes: bytes.clone() });
        }
    }
}

fn effect_summary(e: &Effect) -> String {
    match e {
        Effect::Broadcast(m) => format!("bcast {}", m.summary()),
        Effect::PersistVote(v) => format!("persist {:?}", v.vote),
        Effect::PersistProposal(p) => format!("persist {:?}", p.proposal),
        Effect::ScheduleTimeout { height, round, step, after_ms } => {
            format!("timeout h{height} r{round} {step:?} {after_ms}")
        }
        Effect::RequestProposal { height, round } => format!("request h{height} r{round}"),
        Effect::ValidateBlock { block } => format!("validate {:?}", block.hash()),
        Effect::Commit { block, cert } => format!("commit h{} {:?} r{}", block.header.height, block.hash(), cert.round),
        Effect::FetchBlocks { from_height } => format!("fetch {from_height}"),
        Effect::ServeBlocks { peer, from_height } => format!("serve {} {from_height}", peer.0),
    }
}

/// Run one seed of a scenario family.
pub fn run(kind: Kind, seed: u64) -> Report {
    Sim::new(Scenario::generate(kind, seed), seed).run()
}

/// Run a concrete scenario.
pub fn run_scenario(sc: Scenario, seed: u64) -> Report {
    Sim::new(sc, seed).run()
}

/// Seeds per scenario: `CURIA_SIM_SEEDS` if set, else `default`.
pub fn seeds_per_scenario(default: u64) -> u64 {
    std::env::var("CURIA_SIM_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}
