//! # curia-sim
//!
//! A seeded, deterministic simulator that runs Curia's consensus **executor** (the same
//! `curia_consensus::Executor` a node runs, with the same machine) for every validator, on
//! virtual time, a simulated network and in-memory stores ([`env`]).
//!
//! Faults: a network that delays (latency plus jitter, so it reorders), loses, duplicates and
//! partitions messages (partitions heal); validators that crash, possibly halfway through
//! performing an input's effects, and restart from what their store holds; up to f Byzantine
//! validators that equivocate, double-vote, forge signatures and certificates, replay old
//! messages, propose invalid blocks, rush to the next round, push to far-future rounds, stay
//! silent or send garbage bytes; and Twins
//! ([`twins`]): a Byzantine validator run as two honest instances sharing one key, under an
//! enumerated partition schedule. Blocks are real ledger blocks built and checked by the
//! executor with `state::build_block` and `state::apply_block`.
//!
//! Checked on every run: agreement (no two honest validators commit different blocks at a
//! height), every committed certificate verifies against the set in force at its height as
//! [`members::SetModel`] computes it from the genesis and the committed changes, only valid blocks
//! commit (the in-memory store re-applies each one), no honest validator signs two different
//! votes or proposals for one slot, the executor's and the machine's invariants (a broken one
//! ends the run at once), the round rules from outside ([`rounds`]: no honest validator changes
//! round except on its own timeout, a new height, or `f + 1` validators seen ahead), and after
//! the network heals every honest validator commits new blocks within a bound of virtual time,
//! and decides every height it enters after healing within a bound of rounds.
//!
//! Every run is bounded: by virtual time, and by a budget of simulated events
//! ([`Scenario::max_events`]); a run that exceeds it fails ([`Violation::Budget`]) rather than
//! running on, so no planted bug can make the simulation hang.
//!
//! Everything is a function of the seed: iteration is over ordered maps, the random numbers come
//! from [`Rng`], and the trace hash covers every event and effect.

pub mod env;
pub mod members;
pub mod rng;
pub mod rounds;
pub mod scenario;
pub mod twins;

use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;

use curia_consensus::machine::PeerId;
use curia_consensus::msg::{Message, Proposal};
use curia_consensus::{ChainStore, Config, ConsensusError, Executor, Note, Pacing, Step, Timer};
use curia_ledger::block::{CommitCertificate, SignedVote, Vote, VoteKind};
use curia_ledger::crypto::{SecretKey, Signature};
use curia_ledger::genesis::ChainSpec;
use curia_ledger::membership::MemberChange;
use curia_ledger::testkit::{test_genesis, test_key, TestChain};
use curia_ledger::tx::{Payload, Transaction};
use curia_ledger::Hash;
use sha2::{Digest, Sha256};

pub use env::{Io, MemStore, SharedIo, SimClock, SimError, SimNet, SimPool};
pub use members::{Op, Planned, SetModel, Swap};
pub use rng::Rng;
pub use scenario::{Byz, Crash, Kind, Partition, Scenario, MAX_EVENTS, MAX_ROUNDS_AFTER_HEAL, SIM_TIMEOUTS};

/// Proposal pacing in the simulator (virtual milliseconds): the node's rule, shorter.
pub const SIM_PACING: Pacing = Pacing { block_interval_ms: 30, empty_block_ms: 100 };

/// How many rounds ahead a round-pushing Byzantine validator votes (`Byz::push`).
pub const PUSH_AHEAD: u32 = 5;

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
    /// An honest validator signed two different votes or proposals for one slot.
    DoubleSign {
        /// Description.
        detail: String,
    },
    /// An executor stopped with an error: a broken invariant of the machine (I1-I3) or of the
    /// executor (X5), or a commit its store refused (an invalid block).
    Executor {
        /// Instance.
        node: usize,
        /// The error.
        detail: String,
    },
    /// After healing, an honest validator did not commit enough blocks in time, or took too
    /// many rounds for a height it entered after healing.
    Liveness {
        /// Description.
        detail: String,
    },
    /// An honest validator changed round in a way no round rule allows (checked from the
    /// outside by [`rounds::RoundWatch`]: a skip without `f + 1` validators ahead).
    RoundSkip {
        /// Instance.
        node: usize,
        /// Description.
        detail: String,
    },
    /// The run used up its budget of simulated events (a run that would not end).
    Budget {
        /// Description.
        detail: String,
    },
    /// A membership rule seen from outside broke: an honest instance signed a vote or proposal
    /// at a height where its key is not the set's key at the index it signed as (by the
    /// simulator's own model of the set in force), or a committed change had a wrong sequence
    /// number, approvals short of more than two thirds of the set in force, or could not apply.
    Membership {
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
    /// Committed height of each instance at the end.
    pub heights: Vec<u64>,
    /// Virtual time at the end.
    pub end_ms: u64,
    /// Mean commit latency in message delays (proposal broadcast to commit, divided by the least
    /// latency), over honest commits of blocks decided in consensus; `None` if none.
    pub latency_delays: Option<f64>,
    /// Messages delivered.
    pub delivered: u64,
    /// Each instance's machine status and counters at the end (for failure reports).
    pub statuses: Vec<String>,
    /// Events (deliveries, timers, crashes, restarts) simulated.
    pub events: u64,
    /// Highest round an honest validator reached at a height it entered after healing.
    pub max_round_after_heal: u32,
    /// The committed validator-set changes: what, committed at which height, in force from
    /// which height.
    pub changes: Vec<String>,
    /// For the last change with a subject (the joiner, the rotated or re-powered validator):
    /// the first height at or after its activation whose committed certificate holds the
    /// subject's signature under its key in force.
    pub subject_signed_from: Option<u64>,
    /// For a removal: the activation height, the round its block was decided in, and whether
    /// the removed validator would have proposed its round 0 under the set before.
    pub removal: Option<(u64, u32, bool)>,
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
            "seed {} scenario {} -> heights {:?} at {}ms after {} events, {} violations: {:?}\n  machines: {:#?}",
            self.seed,
            self.scenario,
            self.heights,
            self.end_ms,
            self.events,
            self.violations.len(),
            self.violations,
            self.statuses
        )
    }
}

enum Event {
    Deliver {
        to: usize,
        from: usize,
        bytes: Vec<u8>,
    },
    Timer {
        node: usize,
        incarnation: u64,
        timer: Timer,
    },
    Crash {
        node: usize,
        down_ms: u64,
    },
    Restart {
        node: usize,
    },
    /// The registrar sends planned change `k` (again).
    Submit {
        k: usize,
    },
    /// The operator restarts the node with its rotated key.
    Rekey {
        node: usize,
    },
    /// The operator stops the node for good.
    Stop {
        node: usize,
    },
}

type SimExecutor = Executor<MemStore, SimNet, SimClock, SimPool>;

struct Node {
    exec: Option<SimExecutor>,
    /// The store while the instance is down.
    parked: Option<MemStore>,
    io: SharedIo,
    incarnation: u64,
    key: SecretKey,
    validator: usize,
    byz: Option<Byz>,
    twin: bool,
    /// Bytes received (Byzantine replay).
    heard: Vec<Vec<u8>>,
    /// Restart delay of a planned crash.
    crash_down: Option<u64>,
    /// Highest round of height 1 this instance has rushed to (Byzantine `rush`).
    rushed: BTreeMap<u64, u32>,
    /// Twins: the slot (round at height 1, phase) this instance is in.
    slot: (u32, u8),
    /// Highest round of each height this instance has pushed to (Byzantine `push`).
    pushed: BTreeMap<u64, u32>,
    /// The outside check of the round rules on what this instance received.
    watch: rounds::RoundWatch,
    /// The height this instance is deciding and the virtual time it entered it.
    entered: (u64, u64),
    /// Stopped for good (a removed validator's node shut down): no longer held to liveness.
    retired: bool,
    /// Messages sent in its name are checked (its old key is used by a ghost).
    verify_sends: bool,
}

/// Progress of one planned membership change.
#[derive(Clone, Debug, Default)]
struct ChangeState {
    /// The transaction once built.
    tx: Option<Transaction>,
    /// Height of the block that committed it.
    committed_at: Option<u64>,
    /// The instance the change is about (joiner, rotated, re-powered, removed).
    subject: Option<usize>,
}

/// An old key that goes on voting after it left the set.
#[derive(Clone)]
struct Ghost {
    /// The instance whose key it was (messages are sent in its name).
    owner: usize,
    key: SecretKey,
    /// Its index in the set before the change.
    index: u16,
    /// The first height where it is no longer in force.
    from_height: u64,
}

impl Node {
    fn height(&self) -> u64 {
        match (&self.exec, &self.parked) {
            (Some(x), _) => x.store().tip().height,
            (None, Some(s)) => s.tip().height,
            (None, None) => 0,
        }
    }
}

/// The simulation of one run.
pub struct Sim {
    sc: Scenario,
    seed: u64,
    spec: Arc<ChainSpec>,
    helper: Rc<TestChain>,
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
    /// The validator set in force at each height, computed from the spec and the committed
    /// changes (powers and the weak threshold for the outside check of rule L55, certificate
    /// checks, who may sign where).
    model: SetModel,
    plan: Vec<ChangeState>,
    ghosts: Vec<Ghost>,
    /// Partitions that start once a change is committed (`Scenario::isolate_on_commit`).
    dyn_partitions: Vec<Partition>,
    subject_signed_from: Option<u64>,
    removal: Option<(u64, u32, bool)>,
    events_done: u64,
    max_round_after_heal: u32,
}

fn vote_slot_hash(b: &Option<Hash>) -> Hash {
    b.unwrap_or(Hash::ZERO)
}

impl Sim {
    /// Set up a run.
    pub fn new(sc: Scenario, seed: u64) -> Sim {
        let helper = Rc::new(TestChain::new(sc.n));
        let spec = Arc::new(test_genesis(sc.n).into_spec().expect("test genesis is valid"));
        let model = SetModel::new(&spec);
        let nodes = (0..sc.instances())
            .map(|i| {
                let validator = sc.validator_of(i);
                let io = SharedIo::default();
                Node {
                    exec: None,
                    parked: Some(MemStore::new(spec.clone(), io.clone())),
                    io,
                    incarnation: 0,
                    key: test_key(&format!("v{validator}")),
                    validator,
                    byz: sc.byzantine.get(&i).copied(),
                    twin: sc.twins.contains(&validator),
                    heard: Vec::new(),
                    crash_down: None,
                    rushed: BTreeMap::new(),
                    slot: (0, 0),
                    pushed: BTreeMap::new(),
                    watch: rounds::RoundWatch::default(),
                    entered: (0, 0),
                    retired: false,
                    verify_sends: false,
                }
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
            model,
            plan: vec![ChangeState::default(); sc.changes.len()],
            ghosts: Vec::new(),
            dyn_partitions: Vec::new(),
            subject_signed_from: None,
            removal: None,
            events_done: 0,
            max_round_after_heal: 0,
            sc,
        };
        for c in sim.sc.crashes.clone() {
            sim.push(c.at_ms, Event::Crash { node: c.node, down_ms: c.down_ms });
        }
        for (k, c) in sim.sc.changes.clone().into_iter().enumerate() {
            sim.push(c.at_ms, Event::Submit { k });
        }
        for i in 0..sim.nodes.len() {
            sim.boot(i);
        }
        sim
    }

    fn honest(&self, i: usize) -> bool {
        self.nodes[i].byz.is_none() && !self.nodes[i].twin
    }

    /// Honest and not stopped for good: held to liveness.
    fn required(&self, i: usize) -> bool {
        self.honest(i) && !self.nodes[i].retired
    }

    /// Every planned change is committed, every required instance has committed two blocks
    /// past its activation height, and the subject of a change that leaves it voting (joiner,
    /// rotated or re-powered validator) has signed a committed certificate since.
    fn members_done(&self) -> bool {
        let signs = |k: usize| !matches!(self.sc.changes[k].op, Op::RemoveNextProposer { .. });
        let last = self.plan.len().checked_sub(1);
        self.plan.iter().enumerate().all(|(k, p)| {
            p.committed_at.is_some_and(|c| {
                let a = c + members::ACTIVATION;
                (0..self.nodes.len()).filter(|&i| self.required(i)).all(|i| self.nodes[i].height() > a)
            }) && (Some(k) != last || !signs(k) || self.subject_signed_from.is_some())
        })
    }

    /// Highest height any honest instance committed (the model knows sets up to it + 2).
    fn model_tip(&self) -> u64 {
        self.committed.last_key_value().map_or(0, |(h, _)| *h)
    }

    fn push(&mut self, at: u64, e: Event) {
        self.seq += 1;
        self.events.insert((at, self.seq), e);
    }

    fn wall(&self) -> u64 {
        env::WALL_BASE_MS + self.now
    }

    /// Start (or restart) instance `i` on the store it had.
    fn boot(&mut self, i: usize) {
        let cfg = Config { spec: self.spec.clone(), key: Some(self.nodes[i].key.clone()), timeouts: self.sc.timeouts };
        let io = SharedIo::default();
        io.borrow_mut().now = self.now;
        let node = &mut self.nodes[i];
        node.incarnation += 1;
        node.io = io.clone();
        let mut store = node.parked.take().expect("a down instance has its store");
        store.io = io.clone();
        let pool = SimPool::new(self.helper.clone(), format!("{} {i} {}", self.seed, node.incarnation));
        let r = Executor::start(cfg, store, SimNet(io.clone()), SimClock(io.clone()), pool, SIM_PACING);
        match r {
            Ok(x) => {
                let st = x.machine().status();
                self.nodes[i].watch.boot(st.height, st.round);
                self.nodes[i].entered = (st.height, self.now);
                self.nodes[i].exec = Some(x);
                self.after(i, Ok(()), None);
            }
            Err(e) => self.violations.push(Violation::Executor { node: i, detail: format!("start: {e}") }),
        }
    }

    /// Run to the end; returns the report.
    pub fn run(mut self) -> Report {
        let heal = self.sc.heal_ms;
        let deadline = heal + self.sc.liveness_bound_ms;
        let mut heal_target: Option<u64> = None;
        while let Some(((t, _), ev)) = self.events.pop_first() {
            if t > deadline || !self.violations.is_empty() {
                break;
            }
            if self.events_done >= self.sc.max_events {
                let heights: Vec<u64> = self.nodes.iter().map(Node::height).collect();
                self.violations.push(Violation::Budget {
                    detail: format!(
                        "{} events simulated by {t}ms (heal at {heal}ms) without finishing; heights {heights:?}",
                        self.events_done
                    ),
                });
                break;
            }
            self.events_done += 1;
            if heal_target.is_none() && t >= heal {
                let max = (0..self.nodes.len()).filter(|&i| self.required(i)).map(|i| self.nodes[i].height()).max();
                heal_target = Some(max.unwrap_or(0) + self.sc.blocks_after_heal);
            }
            self.now = t;
            self.step(ev);
            if let Some(target) = heal_target {
                if (0..self.nodes.len()).filter(|&i| self.required(i)).all(|i| self.nodes[i].height() >= target)
                    && self.members_done()
                {
                    break;
                }
            }
        }
        if self.violations.is_empty() {
            let target = heal_target.unwrap_or(0);
            if !self.members_done() {
                let progress: Vec<String> = self
                    .plan
                    .iter()
                    .zip(&self.sc.changes)
                    .map(|(p, c)| format!("{:?} committed at {:?}", c.op, p.committed_at))
                    .collect();
                let heights: Vec<u64> = self.nodes.iter().map(Node::height).collect();
                self.violations.push(Violation::Liveness {
                    detail: format!(
                        "membership changes not in force and two blocks past by {}ms after healing at {heal}ms: \
                         {progress:?}, heights {heights:?}",
                        self.sc.liveness_bound_ms
                    ),
                });
            }
            for i in 0..self.nodes.len() {
                if self.required(i) && self.nodes[i].height() < target {
                    self.violations.push(Violation::Liveness {
                        detail: format!(
                            "validator {i} at height {} did not reach {target} within {}ms after healing at {heal}ms",
                            self.nodes[i].height(),
                            self.sc.liveness_bound_ms
                        ),
                    });
                }
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
            heights: self.nodes.iter().map(Node::height).collect(),
            end_ms: self.now,
            latency_delays,
            delivered: self.delivered,
            events: self.events_done,
            max_round_after_heal: self.max_round_after_heal,
            changes: self
                .model
                .committed()
                .iter()
                .map(|(h, c)| format!("{} committed at {h}, in force from {}", c.describe(), h + members::ACTIVATION))
                .collect(),
            subject_signed_from: self.subject_signed_from,
            removal: self.removal,
            statuses: self
                .nodes
                .iter()
                .map(|n| match &n.exec {
                    Some(x) => format!("{:?} {:?}", x.machine().status(), x.machine().stats()),
                    None => "down".into(),
                })
                .collect(),
        }
    }

    fn step(&mut self, ev: Event) {
        match ev {
            Event::Deliver { to, from, bytes } => {
                if self.nodes[to].exec.is_none() {
                    return;
                }
                self.delivered += 1;
                self.trace.update(format!("{} deliver {from}->{to} ", self.now));
                self.trace.update(&bytes);
                if self.honest(to) {
                    self.watch_delivery(to, from, &bytes);
                }
                if let Some(byz) = self.nodes[to].byz.filter(|b| !b.silent) {
                    if byz.replay && self.nodes[to].heard.len() < 64 {
                        self.nodes[to].heard.push(bytes.clone());
                    }
                    if byz.double_vote {
                        self.amnesia(to, &bytes);
                    }
                    if byz.rush {
                        self.rush(to, &bytes);
                    }
                    if byz.push {
                        self.push_rounds(to, &bytes);
                    }
                }
                let r = self.with_exec(to, |x| x.on_bytes(PeerId(from as u64), bytes));
                self.after(to, r, None);
            }
            Event::Timer { node, incarnation, timer } => {
                if self.nodes[node].incarnation == incarnation && self.nodes[node].exec.is_some() {
                    self.trace.update(format!("{} timer {node} {timer:?}", self.now));
                    let r = self.with_exec(node, |x| x.on_timer(timer));
                    let timeout = match timer {
                        Timer::Consensus { height, round, step: Step::Precommit } => Some((height, round)),
                        _ => None,
                    };
                    self.after(node, r, timeout);
                }
            }
            Event::Crash { node, down_ms } => {
                self.trace.update(format!("{} crash {node}", self.now));
                if self.nodes[node].exec.is_some() {
                    // Die after a random number of further side effects: possibly halfway
                    // through performing one input's effects.
                    let budget = self.rng.below(6) as u32;
                    self.nodes[node].io.borrow_mut().budget = Some(budget);
                    self.nodes[node].crash_down = Some(down_ms);
                }
            }
            Event::Restart { node } => {
                self.trace.update(format!("{} restart {node}", self.now));
                if self.nodes[node].exec.is_none() && !self.nodes[node].retired {
                    self.boot(node);
                }
            }
            Event::Submit { k } => self.submit(k),
            Event::Rekey { node } => {
                let new = members::rotated_key(node);
                if self.nodes[node].key.public() == new.public() {
                    return;
                }
                self.trace.update(format!("{} rekey {node}", self.now));
                self.nodes[node].key = new;
                if let Some(x) = self.nodes[node].exec.take() {
                    self.nodes[node].parked = Some(x.into_store());
                    self.boot(node);
                }
            }
            Event::Stop { node } => {
                self.trace.update(format!("{} stop {node}", self.now));
                self.nodes[node].retired = true;
                if let Some(x) = self.nodes[node].exec.take() {
                    self.nodes[node].parked = Some(x.into_store());
                }
            }
        }
    }

    /// The registrar sends planned change `k` to every running instance's transaction source,
    /// and again every `RESEND_MS` until it is committed. A change waits until the one before
    /// it is in force.
    fn submit(&mut self, k: usize) {
        if self.plan[k].committed_at.is_some() {
            return;
        }
        let tip = self.model_tip();
        let earlier_pending = self.plan[..k].iter().any(|p| p.committed_at.is_none_or(|c| tip < c + 1));
        if earlier_pending {
            self.push(self.now + members::RESEND_MS, Event::Submit { k });
            return;
        }
        if self.plan[k].tx.is_none() {
            let set = self.model.latest().clone();
            let instance_of = |key: &curia_ledger::crypto::PublicKey| {
                (0..self.nodes.len()).find(|&i| self.nodes[i].key.public() == *key)
            };
            let (change, subject) = match self.sc.changes[k].op {
                Op::Join { instance, power, role } => {
                    (MemberChange::Add { validator: members::joining_validator(instance, power, role) }, Some(instance))
                }
                Op::RemoveNextProposer { .. } => {
                    // Committed in the next block whose proposal is not out yet, it is in force
                    // two heights later.
                    let proposed = self.proposal_sent.range((tip + 1, 0)..).next().is_some();
                    let c = tip + 1 + u64::from(proposed);
                    let v = &set.validators[((c + members::ACTIVATION) % set.len() as u64) as usize];
                    (MemberChange::Remove { key: v.key }, instance_of(&v.key))
                }
                Op::Rotate { instance, .. } => (
                    MemberChange::Rotate {
                        old: self.nodes[instance].key.public(),
                        new: members::rotated_key(instance).public(),
                    },
                    Some(instance),
                ),
                Op::Power { instance, power } => {
                    (MemberChange::Power { key: self.nodes[instance].key.public(), power }, Some(instance))
                }
            };
            let approvers: Vec<SecretKey> = set.validators.iter().filter_map(|v| self.secret_of(&v.key)).collect();
            self.plan[k].tx = Some(members::member_tx(&self.spec, self.model.len(), change, &approvers));
            self.plan[k].subject = subject;
        }
        let tx = self.plan[k].tx.clone().expect("built");
        self.trace.update(format!("{} submit {k}", self.now));
        for i in 0..self.nodes.len() {
            if let Some(x) = self.nodes[i].exec.as_mut() {
                x.pool_mut().submit(tx.clone());
            }
        }
        self.push(self.now + members::RESEND_MS, Event::Submit { k });
    }

    /// The secret key of a validator key the simulator handed out.
    fn secret_of(&self, key: &curia_ledger::crypto::PublicKey) -> Option<SecretKey> {
        (0..self.nodes.len())
            .flat_map(|i| [test_key(&format!("v{}", self.nodes[i].validator)), members::rotated_key(i)])
            .find(|k| k.public() == *key)
    }

    /// The first honest commit of block `h`: record its membership changes in the model, each
    /// checked (sequence number, approvals by the set in force at `h`, applies).
    fn learn_block(&mut self, h: u64, block: &curia_ledger::block::Block) {
        for tx in &block.txs {
            let Payload::Membership { seq, change, approvals } = &tx.body.payload else { continue };
            if *seq != self.model.len() {
                self.violations.push(Violation::Membership {
                    detail: format!(
                        "change {} committed at {h} with seq {seq}, expected {}",
                        change.describe(),
                        self.model.len()
                    ),
                });
                continue;
            }
            if let Err(e) = self.model.check_approvals(&self.spec.chain_id, h, *seq, change, approvals) {
                self.violations.push(Violation::Membership { detail: format!("change committed at {h}: {e}") });
            }
            let before = self.model.latest().clone();
            if let Err(e) = self.model.commit(h, change) {
                self.violations.push(Violation::Membership { detail: format!("change committed at {h}: {e}") });
                continue;
            }
            let id = tx.id(&self.spec.chain_id);
            let k = self.plan.iter().position(|p| p.tx.as_ref().is_some_and(|t| t.id(&self.spec.chain_id) == id));
            let Some(k) = k else { continue };
            self.plan[k].committed_at = Some(h);
            let activation = h + members::ACTIVATION;
            // A key that leaves the set may go on voting (a leaked or stale key).
            let gone = match change {
                MemberChange::Remove { key } => Some(*key),
                MemberChange::Rotate { old, .. } => Some(*old),
                _ => None,
            };
            if let (Some(key), true) = (gone, self.sc.ghosts) {
                if let (Some(index), Some(owner), Some(secret)) =
                    (before.index_of(&key), self.plan[k].subject, self.secret_of(&key))
                {
                    self.nodes[owner].verify_sends = true;
                    self.ghosts.push(Ghost { owner, key: secret, index: index as u16, from_height: activation });
                }
            }
            if let MemberChange::Remove { key } = change {
                // Would the removed validator have proposed round 0 of the activation height
                // under the set before?
                let old = &before.validators[(activation % before.len() as u64) as usize];
                self.removal = Some((activation, u32::MAX, old.key == *key));
            }
            if let Some((node, after_ms, for_ms)) = self.sc.isolate_on_commit {
                let from_ms = self.now + after_ms;
                let until_ms = (from_ms + for_ms).min(self.sc.heal_ms);
                let group = (0..self.nodes.len()).map(|i| u8::from(i == node)).collect();
                self.dyn_partitions.push(Partition { from_ms, until_ms, group });
            }
        }
    }

    /// The operators' part after instance `i` committed height `h`: a rotated validator's node
    /// is restarted with its new key, a removed one is stopped at the activation height.
    fn operate(&mut self, i: usize, h: u64) {
        for k in 0..self.plan.len() {
            let Some(c) = self.plan[k].committed_at else { continue };
            if self.plan[k].subject != Some(i) {
                continue;
            }
            match self.sc.changes[k].op {
                Op::Rotate { swap, .. } => {
                    let at = match swap {
                        Swap::AtCommit if h == c => Some(self.now),
                        Swap::AtActivation if h + 1 == c + members::ACTIVATION => Some(self.now),
                        Swap::Late(ms) if h + 1 == c + members::ACTIVATION => Some(self.now + ms),
                        _ => None,
                    };
                    if let Some(at) = at {
                        self.push(at, Event::Rekey { node: i });
                    }
                }
                Op::RemoveNextProposer { stop: true } if h + 1 == c + members::ACTIVATION => {
                    self.push(self.now, Event::Stop { node: i });
                }
                _ => {}
            }
        }
    }

    /// Old keys vote for the proposal `p` of an honest instance, at heights where they are out
    /// of the set: prevote and precommit, under the index they had.
    fn ghost_votes(&mut self, p: &Proposal) {
        let ghosts: Vec<Ghost> = self.ghosts.iter().filter(|g| p.height >= g.from_height).cloned().collect();
        for g in ghosts {
            for kind in [VoteKind::Prevote, VoteKind::Precommit] {
                let v = Vote {
                    chain_id: self.spec.chain_id,
                    height: p.height,
                    round: p.round,
                    kind,
                    block: Some(p.block_hash),
                    time_ms: self.wall(),
                    validator: g.index,
                }
                .sign(&g.key);
                let bytes = Message::Vote(v).to_wire();
                for t in (0..self.nodes.len()).filter(|&t| t != g.owner) {
                    self.transmit(g.owner, t, bytes.clone());
                }
            }
        }
    }

    fn with_exec(
        &mut self,
        i: usize,
        f: impl FnOnce(&mut SimExecutor) -> Result<(), ConsensusError>,
    ) -> Result<(), ConsensusError> {
        self.nodes[i].io.borrow_mut().now = self.now;
        match self.nodes[i].exec.as_mut() {
            Some(x) => f(x),
            None => Ok(()),
        }
    }

    /// After instance `i` handled an input (`timeout`: the precommit timeout `(height, round)`
    /// it was, if it was one): route what it sent, schedule its timers, check its commits and
    /// its round change, and take it down if it died or stopped with an error.
    fn after(&mut self, i: usize, r: Result<(), ConsensusError>, timeout: Option<(u64, u32)>) {
        let (sent, timers, dead) = {
            let mut io = self.nodes[i].io.borrow_mut();
            (std::mem::take(&mut io.sent), std::mem::take(&mut io.timers), io.dead)
        };
        let incarnation = self.nodes[i].incarnation;
        for (at, timer) in timers {
            self.push(at, Event::Timer { node: i, incarnation, timer });
        }
        for (to, msg) in sent {
            self.trace.update(format!("{i} sends {}", msg.summary()));
            self.check_signed(i, &msg);
            if let (Message::Proposal { proposal, .. }, false) = (&msg, self.ghosts.is_empty()) {
                if self.honest(i) {
                    self.ghost_votes(&proposal.proposal);
                }
            }
            let to: Vec<usize> = match to {
                None => (0..self.nodes.len()).filter(|&j| j != i).collect(),
                Some(p) if (p.0 as usize) < self.nodes.len() => vec![p.0 as usize],
                Some(_) => continue,
            };
            self.send_msg(i, &to, msg);
        }
        let notes = self.nodes[i].exec.as_mut().map(|x| x.take_notes()).unwrap_or_default();
        for n in notes {
            if let Note::Committed { height, hash, round, .. } = n {
                self.on_commit(i, height, hash, round);
                if !self.plan.is_empty() {
                    self.operate(i, height);
                }
            }
        }
        if let Some(x) = &self.nodes[i].exec {
            let st = x.machine().status();
            if st.height == 1 {
                self.nodes[i].slot = (st.round, u8::from(st.step == Step::Precommit));
            }
            if self.honest(i) {
                self.check_round(i, st.height, st.round, timeout);
            }
        }
        if dead {
            let x = self.nodes[i].exec.take().expect("was up");
            self.nodes[i].parked = Some(x.into_store());
            let down = self.nodes[i].crash_down.take().unwrap_or(0);
            self.trace.update(format!("{} died {i}", self.now));
            let at = self.now + down;
            self.push(at, Event::Restart { node: i });
            return;
        }
        if let Err(e) = r {
            self.violations.push(Violation::Executor { node: i, detail: e.to_string() });
        }
    }

    /// The round rules seen from outside (see [`rounds`]), and the per-height round bound after
    /// healing.
    fn check_round(&mut self, i: usize, height: u64, round: u32, timeout: Option<(u64, u32)>) {
        let (powers, weak) = members::powers_and_weak(self.model.set_at(height));
        if let Err(detail) = self.nodes[i].watch.check(height, round, timeout, &powers, weak) {
            let detail = format!("at {}ms (seed {}): {detail}", self.now, self.seed);
            self.violations.push(Violation::RoundSkip { node: i, detail });
        }
        if self.nodes[i].entered.0 != height {
            self.nodes[i].entered = (height, self.now);
        }
        if self.nodes[i].entered.1 >= self.sc.heal_ms {
            self.max_round_after_heal = self.max_round_after_heal.max(round);
            if round > self.sc.max_rounds_after_heal {
                self.violations.push(Violation::Liveness {
                    detail: format!(
                        "validator {i} reached round {round} at height {height}, which it entered at {}ms, after \
                         healing at {}ms (seed {}); the bound is {} rounds",
                        self.nodes[i].entered.1, self.sc.heal_ms, self.seed, self.sc.max_rounds_after_heal
                    ),
                });
            }
        }
    }

    /// Record, for the outside round check, a vote or proposal delivered to honest instance
    /// `to`. Bytes from honest senders are the executor's own, so their signatures are valid;
    /// from Byzantine senders a message counts only if its signature verifies.
    fn watch_delivery(&mut self, to: usize, from: usize, bytes: &[u8]) {
        let Some(current) = self.nodes[to].exec.as_ref().map(|x| x.machine().status().height) else { return };
        let checked = self.nodes[from].byz.is_some() || self.nodes[from].verify_sends;
        let set = |h: u64| self.model.set_at(h);
        let id = &self.spec.chain_id;
        let (height, validator, round) = match Message::from_wire(bytes) {
            Ok(Message::Vote(v)) if !checked || v.verify_in(id, set(v.vote.height)).is_ok() => {
                (v.vote.height, v.vote.validator as usize, v.vote.round)
            }
            Ok(Message::Proposal { proposal, .. })
                if !checked || proposal.verify_in(id, set(proposal.proposal.height)).is_ok() =>
            {
                (proposal.proposal.height, proposal.proposal.proposer as usize, proposal.proposal.round)
            }
            _ => return,
        };
        let n = self.model.set_at(height).len();
        self.nodes[to].watch.saw(current, height, validator, round, n);
    }

    /// An honest commit: agreement, and the certificate (and the one the block carries for the
    /// height before) verifies against the set in force at its height, as the simulator's model
    /// computes it from the genesis and the committed changes.
    fn on_commit(&mut self, i: usize, h: u64, hash: Hash, round: u32) {
        if !self.honest(i) {
            return;
        }
        // Several commits can come from one input (a sync batch): look the height up.
        let stored = self.nodes[i]
            .exec
            .as_ref()
            .and_then(|x| h.checked_sub(1).and_then(|k| x.store().chain().get(k as usize)).cloned());
        if let Some((block, _)) = &stored {
            if !self.committed.contains_key(&h) && block.hash() == hash {
                self.learn_block(h, block);
            }
        }
        match stored {
            Some((block, c)) if c.height == h && c.block_hash == hash => {
                if let Err(e) = c.verify_in(&self.spec.chain_id, self.model.set_at(h)) {
                    self.violations
                        .push(Violation::BadCertificate { height: h, detail: format!("validator {i}: {e}") });
                }
                if let Some(lc) = block.last_commit.as_ref().filter(|_| !self.model.is_empty()) {
                    if let Err(e) = lc.verify_in(&self.spec.chain_id, self.model.set_at(h - 1)) {
                        self.violations.push(Violation::BadCertificate {
                            height: h - 1,
                            detail: format!("validator {i}: carried by block {h}: {e}"),
                        });
                    }
                }
                self.note_signers(h, &c);
            }
            _ => self.violations.push(Violation::BadCertificate {
                height: h,
                detail: format!("validator {i}: the stored certificate is not for the committed block"),
            }),
        }
        if let Some(t) = self.proposal_sent.get(&(h, round)) {
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

    /// Whether the subject of the last committed change signed certificate `c` (of height `h`,
    /// at or after the change's activation) under its key in force; and the round the
    /// activation height of a removal was decided in.
    fn note_signers(&mut self, h: u64, c: &CommitCertificate) {
        if let Some((a, r, _)) = &mut self.removal {
            if *a == h && *r == u32::MAX {
                *r = c.round;
            }
        }
        let Some(p) = self.plan.iter().rev().find(|p| p.committed_at.is_some()) else { return };
        let (Some(subject), Some(at)) = (p.subject, p.committed_at) else { return };
        if h < at + members::ACTIVATION || self.subject_signed_from.is_some_and(|f| f <= h) {
            return;
        }
        let set = self.model.set_at(h);
        let key = self.nodes[subject].key.public();
        if c.sigs.iter().any(|s| set.get(s.validator as usize).is_some_and(|v| v.key == key)) {
            self.subject_signed_from = Some(h);
        }
    }

    /// A Byzantine validator prevotes and precommits every proposal it receives, whatever it
    /// voted before in that round or any other.
    fn amnesia(&mut self, i: usize, bytes: &[u8]) {
        let Ok(Message::Proposal { proposal, .. }) = Message::from_wire(bytes) else { return };
        let q = &proposal.proposal;
        for kind in [VoteKind::Prevote, VoteKind::Precommit] {
            let v = self.vote_as(i, q.height, q.round, kind, Some(q.block_hash));
            self.send_to_all(i, Message::Vote(v).to_wire());
        }
    }

    /// A rushing Byzantine validator answers anything of round `r` with a nil prevote for
    /// round `r + 1` (once per round).
    fn rush(&mut self, i: usize, bytes: &[u8]) {
        let (h, r) = match Message::from_wire(bytes) {
            Ok(Message::Proposal { proposal, .. }) => (proposal.proposal.height, proposal.proposal.round),
            Ok(Message::Vote(v)) => (v.vote.height, v.vote.round),
            _ => return,
        };
        let next = r.saturating_add(1);
        if self.nodes[i].rushed.get(&h).is_some_and(|&x| x >= next) {
            return;
        }
        self.nodes[i].rushed.insert(h, next);
        let v = self.vote_as(i, h, next, VoteKind::Prevote, None);
        self.send_to_all(i, Message::Vote(v).to_wire());
    }

    /// A round-pushing Byzantine validator answers anything of round `r` with a well-formed,
    /// validly signed nil prevote for round `r + PUSH_AHEAD` (once per target round): one
    /// validator's messages for far-future rounds, which must not move anyone (rule L55 needs
    /// f + 1).
    fn push_rounds(&mut self, i: usize, bytes: &[u8]) {
        let (h, r) = match Message::from_wire(bytes) {
            Ok(Message::Proposal { proposal, .. }) => (proposal.proposal.height, proposal.proposal.round),
            Ok(Message::Vote(v)) => (v.vote.height, v.vote.round),
            _ => return,
        };
        let target = r.saturating_add(PUSH_AHEAD);
        if self.nodes[i].pushed.get(&h).is_some_and(|&x| x >= target) {
            return;
        }
        self.nodes[i].pushed.insert(h, target);
        let v = self.vote_as(i, h, target, VoteKind::Prevote, None);
        self.send_to_all(i, Message::Vote(v).to_wire());
    }

    fn vote_as(&self, i: usize, height: u64, round: u32, kind: VoteKind, block: Option<Hash>) -> SignedVote {
        let validator = self.nodes[i].validator as u16;
        Vote { chain_id: self.spec.chain_id, height, round, kind, block, time_ms: self.wall(), validator }
            .sign(&self.nodes[i].key)
    }

    fn send_to_all(&mut self, i: usize, bytes: Vec<u8>) {
        for t in (0..self.nodes.len()).filter(|&t| t != i) {
            self.transmit(i, t, bytes.clone());
        }
    }

    /// Honest validators never sign two different things for one slot (checked on what leaves).
    fn check_signed(&mut self, i: usize, msg: &Message) {
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
        if !self.honest(i) {
            return;
        }
        // Once the set has changed: signed only where its key is in force, at its own index.
        // (Honest instances also relay others' votes, so a vote under another index is a
        // violation only if its own key signed it.)
        let (index, height) = (slot.0, slot.1);
        if !self.model.is_empty() && height <= self.model_tip() + members::ACTIVATION {
            let key = self.nodes[i].key.public();
            let in_force = self.model.set_at(height).get(index as usize).is_some_and(|v| v.key == key);
            let own = match msg {
                Message::Vote(v) => key.verify("vote", &v.vote.signing_hash(), &v.signature).is_ok(),
                Message::Proposal { proposal: p, .. } => {
                    key.verify("proposal", &p.proposal.signing_hash(), &p.signature).is_ok()
                }
                _ => false,
            };
            if !in_force && own {
                self.violations.push(Violation::Membership {
                    detail: format!(
                        "instance {i} signed {slot:?} as validator {index} at height {height}, where its key is not that \
                         validator's in the set in force"
                    ),
                });
            }
        }
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
        if let Message::Proposal { proposal, block } = &msg {
            let q = &proposal.proposal;
            // Vote for whatever is proposed, in both steps (amnesia).
            if byz.double_vote {
                for kind in [VoteKind::Prevote, VoteKind::Precommit] {
                    let m = Message::Vote(self.vote_as(from, q.height, q.round, kind, Some(q.block_hash))).to_wire();
                    for &t in to {
                        out.push((t, m.clone()));
                    }
                }
            }
            // Announce the block as committed, with precommits forged in every name.
            if byz.fake_commits {
                let votes: Vec<SignedVote> = (0..self.sc.n)
                    .map(|j| {
                        let mut v = self.vote_as(from, q.height, q.round, VoteKind::Precommit, Some(q.block_hash));
                        v.vote.validator = j as u16;
                        v
                    })
                    .collect();
                let cert = CommitCertificate::from_votes(q.height, q.round, q.block_hash, &votes);
                let m = Message::Commit { block: block.clone(), cert }.to_wire();
                for &t in to {
                    out.push((t, m.clone()));
                }
            }
        }
        if byz.forge {
            if let Message::Vote(v) = &msg {
                // In other validators' names: a vote for junk, and one for the value it votes for.
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
                let mut forged = vec![Message::Vote(f).to_wire()];
                for j in (0..self.sc.n as u16).filter(|&j| j != v.vote.validator) {
                    let same = Vote { validator: j, ..v.vote.clone() }.sign(&key);
                    forged.push(Message::Vote(same).to_wire());
                }
                for &t in to {
                    for m in &forged {
                        out.push((t, m.clone()));
                    }
                }
            }
        }
        if byz.replay && !self.nodes[from].heard.is_empty() {
            for &t in to {
                let k = self.rng.below(self.nodes[from].heard.len() as u64) as usize;
                out.push((t, self.nodes[from].heard[k].clone()));
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

    fn partitioned(&self, a: usize, b: usize, bytes: &[u8]) -> bool {
        if self.now >= self.sc.heal_ms {
            return false;
        }
        if self
            .sc
            .partitions
            .iter()
            .chain(&self.dyn_partitions)
            .any(|p| self.now >= p.from_ms && self.now < p.until_ms && p.group[a] != p.group[b])
        {
            return true;
        }
        if self.sc.slots.is_empty() {
            return false;
        }
        // Twins: the slot a message belongs to.
        let slot = match Message::from_wire(bytes) {
            Ok(Message::Proposal { proposal, .. }) if proposal.proposal.height == 1 => (proposal.proposal.round, 0),
            Ok(Message::Vote(v)) if v.vote.height == 1 => (v.vote.round, u8::from(v.vote.kind == VoteKind::Precommit)),
            _ => self.nodes[a].slot,
        };
        self.sc.slots.get(&slot).is_some_and(|g| g[a] != g[b])
    }

    fn transmit(&mut self, from: usize, to: usize, bytes: Vec<u8>) {
        if self.partitioned(from, to, &bytes) {
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
