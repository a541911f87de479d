//! Scenarios: the parameters of one run, drawn from a seed within a family, or built by the
//! Twins enumeration (`crate::twins`).

use std::collections::BTreeMap;
use std::fmt;

use curia_consensus::Timeouts;
use curia_ledger::genesis::ValidatorRole;

use crate::members::{Op, Planned, Swap};
use crate::rng::Rng;

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
    /// Twins: some validators run as two honest instances with one key, under an enumerated
    /// partition schedule (built by `crate::twins`, not drawn from a seed).
    Twins,
    /// A validator joins (a real `add` transaction) while it is cut off by a partition, alone
    /// or with one of the four; it must catch up across the change and vote from its
    /// activation height. With loss.
    Join,
    /// Five validators; after a period of loss and a partition, the validator that would
    /// propose the first round of the change's activation height is removed; its node stops
    /// there (or runs on as a follower) and its key may go on voting (a leaked key).
    RemoveProposer,
    /// A validator's key is rotated while rounds run under loss and a partition; its node is
    /// restarted with the new key at the commit, at the activation or later, and the old key
    /// goes on voting after the activation (a leaked key).
    Rotate,
    /// One validator's power becomes 2 or 3, so the quorum moves from 3 of 4 to a quorum that
    /// needs it; it is cut off around the activation height. With loss.
    PowerShift,
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
    /// Sends votes in other validators' names, with bad signatures (for junk and for the value
    /// it votes for).
    pub forge: bool,
    /// Re-sends old messages.
    pub replay: bool,
    /// Proposes blocks with a wrong state root.
    pub invalid_blocks: bool,
    /// Sends garbage and corrupted bytes.
    pub garbage: bool,
    /// With each proposal, announces its block as committed with a certificate of forged
    /// precommits.
    pub fake_commits: bool,
    /// On hearing anything of a round, sends a (validly signed) nil prevote for the next round
    /// at once, trying to drag honest validators into later rounds before they decide.
    pub rush: bool,
    /// On hearing anything of a round, sends a (validly signed) nil prevote for a round
    /// `PUSH_AHEAD` rounds later at once: one validator's far-future votes, which must not move
    /// an honest validator (rule L55 needs f + 1; checked by `crate::rounds`).
    pub push: bool,
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
    /// A height an honest validator enters after healing must be decided by then before its
    /// round exceeds this bound.
    pub max_rounds_after_heal: u32,
    /// Most events (deliveries, timers, crashes, restarts) a run may simulate; a run that needs
    /// more fails (`Violation::Budget`) instead of running on.
    pub max_events: u64,
    /// Timeouts of every machine.
    pub timeouts: Timeouts,
    /// Validators that run as two honest instances sharing one key (Twins): instance `n + k`
    /// is the second instance of validator `twins[k]`. Twinned validators count as Byzantine.
    pub twins: Vec<usize>,
    /// Twins partition schedule: for messages of height 1 about round `r` (proposals and
    /// prevotes: phase 0; precommits: phase 1), the group of each instance in slot
    /// `(r, phase)`; a message crosses groups only after `heal_ms`. Other messages use the slot
    /// the sender is in (its round at height 1 and whether it has precommitted in it).
    pub slots: BTreeMap<(u32, u8), Vec<u8>>,
    /// Instances that are not in the genesis set (keys `v<n + twins + k>`), after the twins.
    pub joiners: usize,
    /// Validator-set changes the registrar sends (`crate::members`).
    pub changes: Vec<Planned>,
    /// After a change that removes a key (remove, rotate) is in force, the old key keeps
    /// signing prevotes and precommits for every proposal it sees (a leaked or stale key).
    pub ghosts: bool,
    /// From a change's first commit on: after `.1` ms, instance `.0` is cut off from everyone
    /// for `.2` ms (ending by `heal_ms` at the latest).
    pub isolate_on_commit: Option<(usize, u64, u64)>,
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?}: n={} byzantine={:?} twins={:?} slots={:?} latency={}+{}ms loss={}‰ dup={}‰ partitions={:?} crashes={:?} heal={}ms",
            self.kind,
            self.n,
            self.byzantine,
            self.twins,
            self.slots,
            self.latency_ms,
            self.jitter_ms,
            self.loss_per_mille,
            self.dup_per_mille,
            self.partitions,
            self.crashes,
            self.heal_ms,
        )?;
        if self.joiners > 0 || !self.changes.is_empty() {
            write!(
                f,
                " joiners={} changes={:?} ghosts={} isolate_on_commit={:?}",
                self.joiners, self.changes, self.ghosts, self.isolate_on_commit
            )?;
        }
        Ok(())
    }
}

/// Default [`Scenario::max_rounds_after_heal`]. Once the network is whole, a height needs a
/// round with an honest proposer whose timeouts exceed the delays: with at most f of n
/// proposers Byzantine and the simulator's timeouts (400 ms and up) far above its delays
/// (under 100 ms), that is within the first few rounds. The highest measured over the default
/// run is 5 (n = 7, two Byzantine); the bound leaves a wide margin.
pub const MAX_ROUNDS_AFTER_HEAL: u32 = 12;
/// Default [`Scenario::max_events`]: about seven times the most any run of the default run
/// needs (42 451, a Byzantine7 seed with flooding Byzantine validators), so a run that would
/// go on and on (a machine stuck changing rounds, a message storm) fails within seconds to tens
/// of seconds instead of hanging.
pub const MAX_EVENTS: u64 = 300_000;

/// Timeouts used in the simulator (milliseconds of virtual time).
pub const SIM_TIMEOUTS: Timeouts =
    Timeouts { propose_ms: 400, prevote_ms: 200, precommit_ms: 200, delta_ms: 100, sync_retry_ms: 400 };

impl Scenario {
    /// Number of simulated instances: one per validator, plus the second instance of each twin.
    pub fn instances(&self) -> usize {
        self.n + self.twins.len() + self.joiners
    }

    /// The validator (key) an instance runs as.
    pub fn validator_of(&self, instance: usize) -> usize {
        if instance < self.n {
            instance
        } else if instance < self.n + self.twins.len() {
            self.twins[instance - self.n]
        } else {
            instance - self.twins.len()
        }
    }

    /// Draw the parameters of a run of family `kind` from `seed`.
    pub fn generate(kind: Kind, seed: u64) -> Scenario {
        let mut rng = Rng::new(seed.wrapping_mul(31).wrapping_add(kind as u64));
        let n = match kind {
            Kind::Byzantine7 => 7,
            Kind::RemoveProposer => 5,
            _ => 4,
        };
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
            max_rounds_after_heal: MAX_ROUNDS_AFTER_HEAL,
            max_events: MAX_EVENTS,
            timeouts: SIM_TIMEOUTS,
            twins: Vec::new(),
            slots: BTreeMap::new(),
            joiners: 0,
            changes: Vec::new(),
            ghosts: false,
            isolate_on_commit: None,
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
            Kind::Twins => {}
            Kind::Join => {
                s.joiners = 1;
                s.loss_per_mille = rng.range(0, 50);
                let at_ms = rng.range(100, 700);
                let roles = [
                    ValidatorRole::Court,
                    ValidatorRole::Notary,
                    ValidatorRole::Timesvc,
                    ValidatorRole::Mediation,
                    ValidatorRole::Forensic,
                ];
                let role = roles[rng.below(roles.len() as u64) as usize];
                let power = rng.range(1, 2);
                s.changes.push(Planned { at_ms, op: Op::Join { instance: n, power, role } });
                // The joiner is cut off from the start, alone or with one of the four, until
                // after the change is sent.
                let mut group = vec![0u8; n + 1];
                group[n] = 1;
                if rng.chance(500) {
                    group[rng.below(n as u64) as usize] = 1;
                }
                let until_ms = rng.range(at_ms + 300, s.heal_ms);
                s.partitions.push(Partition { from_ms: 0, until_ms, group });
            }
            Kind::RemoveProposer => {
                s.loss_per_mille = rng.range(0, 50);
                let p = random_partition(&mut rng, s.heal_ms, n);
                s.partitions.push(p);
                let at_ms = s.heal_ms + rng.range(0, 200);
                s.changes.push(Planned { at_ms, op: Op::RemoveNextProposer { stop: rng.chance(750) } });
                s.ghosts = rng.chance(700);
            }
            Kind::Rotate => {
                s.loss_per_mille = rng.range(0, 80);
                let p = random_partition(&mut rng, s.heal_ms, n);
                s.partitions.push(p);
                let instance = rng.below(n as u64) as usize;
                let swap = match rng.below(3) {
                    0 => Swap::AtCommit,
                    1 => Swap::AtActivation,
                    _ => Swap::Late(rng.range(100, 600)),
                };
                let at_ms = rng.range(100, 900);
                s.changes.push(Planned { at_ms, op: Op::Rotate { instance, swap } });
                s.ghosts = true;
            }
            Kind::PowerShift => {
                s.loss_per_mille = rng.range(0, 50);
                let instance = rng.below(n as u64) as usize;
                let power = rng.range(2, 3);
                let at_ms = rng.range(100, 600);
                s.changes.push(Planned { at_ms, op: Op::Power { instance, power } });
                s.isolate_on_commit = Some((instance, rng.range(0, 150), rng.range(300, 1000)));
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
                            fake_commits: rng.chance(500),
                            rush: rng.chance(500),
                            push: false,
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
                // Drawn last, so the other parameters of a seed are what they were before the
                // round pusher existed.
                for b in s.byzantine.values_mut().filter(|b| !b.silent) {
                    b.push = rng.chance(500);
                }
            }
        }
        s
    }
}
