//! Twins (Bano, Sonnino, Chursin, Perelman, Li, Ching, Malkhi: "Twins: BFT Systems Made
//! Robust", OPODIS 2022): a Byzantine validator is modelled as two *honest* instances that
//! share one key. Each instance follows the protocol, but as they see different parts of the
//! network they sign conflicting proposals and votes, which is what equivocation looks like to
//! everyone else, without writing any Byzantine code. The adversary is then a schedule of
//! partitions, enumerated rather than drawn at random.
//!
//! The space searched here, for `n` validators of which `f` are twinned:
//! - **Leader assignment**: which validators are twinned. Curia's proposer rule is fixed
//!   round robin (`(height + round) mod n`), so choosing the twinned validators chooses which
//!   of the first rounds are led by a Byzantine proposer (and which by each honest one).
//! - **Partition schedule**: for each of the first `rounds` rounds of height 1 and each of its
//!   two voting phases (proposal and prevotes; precommits), a partition of the `n + f`
//!   instances into two groups; a message of that round and phase reaches only its own group
//!   until `heal_ms`. Every partition in the space splits each twin pair (one instance per
//!   side), so that the twins act; one more choice per slot is "no partition". Messages that
//!   are not about height 1 (sync answers, later heights) follow the sender's current slot.
//! - After `heal_ms` the network is whole and every honest validator must commit
//!   `blocks_after_heal` more blocks: the liveness half of the check.
//!
//! Every schedule is a number in a mixed-radix space; [`TwinsSpace::schedule`] decodes one.
//! [`TwinsSpace::sample`] visits `budget` of them spread evenly over the whole space (a fixed
//! stride coprime to its size), or all of them if the budget allows. The default test run uses
//! a budget that fits in seconds; `CURIA_TWINS_BUDGET` raises it (a soak).

use std::collections::BTreeMap;

use crate::scenario::{Kind, Scenario, SIM_TIMEOUTS};

/// The enumeration space of one Twins configuration.
#[derive(Clone, Debug)]
pub struct TwinsSpace {
    /// Validators.
    pub n: usize,
    /// Twinned validators (Byzantine, at most `(n - 1) / 3`).
    pub f: usize,
    /// Rounds of height 1 with a partition schedule.
    pub rounds: u32,
    /// Every choice of `f` twinned validators (leader assignments).
    leaders: Vec<Vec<usize>>,
    /// Every partition of the instances considered per slot (`None`: no partition).
    partitions: Vec<Option<Vec<u8>>>,
}

fn choose(n: usize, k: usize) -> Vec<Vec<usize>> {
    if k == 0 {
        return vec![Vec::new()];
    }
    let mut out = Vec::new();
    for first in 0..n {
        for mut rest in choose(n, k - 1) {
            if rest.first().is_none_or(|&r| r > first) {
                rest.insert(0, first);
                out.push(rest);
            }
        }
    }
    out
}

fn gcd(a: u128, b: u128) -> u128 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

impl TwinsSpace {
    /// The space for `n` validators with `f` of them twinned, partitioning the first `rounds`
    /// rounds.
    pub fn new(n: usize, f: usize, rounds: u32) -> TwinsSpace {
        assert!(f >= 1 && 3 * f < n, "twins need 1 <= f < n/3");
        let leaders = choose(n, f);
        // A partition is described by the side of each honest validator (n - f of them) and of
        // the first instance of each twin pair after the first (f - 1); see `layout`.
        let free = n - 1;
        let mut partitions = vec![None];
        for bits in 0..(1u32 << free) {
            partitions.push(Some((0..free).map(|b| ((bits >> b) & 1) as u8).collect()));
        }
        TwinsSpace { n, f, rounds, leaders, partitions }
    }

    /// How many schedules the space holds.
    pub fn size(&self) -> u128 {
        let slots = 2 * self.rounds;
        (self.leaders.len() as u128) * (self.partitions.len() as u128).pow(slots)
    }

    /// Decode schedule number `index` into a scenario.
    pub fn schedule(&self, index: u128) -> Scenario {
        let mut i = index % self.size();
        let twins = self.leaders[(i % self.leaders.len() as u128) as usize].clone();
        i /= self.leaders.len() as u128;
        let honest: Vec<usize> = (0..self.n).filter(|v| !twins.contains(v)).collect();
        let mut slots = BTreeMap::new();
        for r in 0..self.rounds {
            for phase in 0..2u8 {
                let p = (i % self.partitions.len() as u128) as usize;
                i /= self.partitions.len() as u128;
                if let Some(desc) = &self.partitions[p] {
                    slots.insert((r, phase), self.layout(&twins, &honest, desc));
                }
            }
        }
        Scenario {
            kind: Kind::Twins,
            n: self.n,
            byzantine: BTreeMap::new(),
            latency_ms: 10,
            jitter_ms: 4,
            loss_per_mille: 0,
            dup_per_mille: 0,
            partitions: Vec::new(),
            crashes: Vec::new(),
            heal_ms: self.heal_ms(),
            blocks_after_heal: 2,
            liveness_bound_ms: 30_000,
            max_rounds_after_heal: crate::scenario::MAX_ROUNDS_AFTER_HEAL,
            max_events: crate::scenario::MAX_EVENTS,
            timeouts: SIM_TIMEOUTS,
            twins,
            slots,
            joiners: 0,
            changes: Vec::new(),
            ghosts: false,
            isolate_on_commit: None,
        }
    }

    /// When the network heals: after the partitioned rounds have run out on timeouts alone.
    pub fn heal_ms(&self) -> u64 {
        let t = SIM_TIMEOUTS;
        (0..self.rounds)
            .map(|r| t.of(curia_consensus::Step::Propose, r) + 2 * t.of(curia_consensus::Step::Prevote, r))
            .sum::<u64>()
            + 200
    }

    /// Map a partition description onto instances: `desc[k]` for `k < n - f` is the side of the
    /// k-th honest validator; `desc[n - f + j]` the side of the first instance of twin pair
    /// `j + 1` (pair 0's first instance is always on side 0). Second instances are opposite.
    fn layout(&self, twins: &[usize], honest: &[usize], desc: &[u8]) -> Vec<u8> {
        let mut g = vec![0u8; self.n + self.f];
        for (k, &v) in honest.iter().enumerate() {
            g[v] = desc[k];
        }
        for (j, &v) in twins.iter().enumerate() {
            let side = if j == 0 { 0 } else { desc[self.n - self.f + j - 1] };
            g[v] = side;
            g[self.n + j] = 1 - side;
        }
        g
    }

    /// Up to `budget` schedule numbers spread evenly over the space (all of them if it is
    /// small enough), in a fixed order.
    pub fn sample(&self, budget: u64) -> Vec<u128> {
        let size = self.size();
        if (budget as u128) >= size {
            return (0..size).collect();
        }
        // A stride near size / budget, made coprime to the size so the visits never repeat.
        let mut stride = (size / budget as u128).max(1) | 1;
        while gcd(stride, size) != 1 {
            stride += 2;
        }
        (0..budget as u128).map(|k| (k * stride) % size).collect()
    }
}

/// The Twins budget: `CURIA_TWINS_BUDGET` if set, else `default`.
pub fn budget(default: u64) -> u64 {
    std::env::var("CURIA_TWINS_BUDGET").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}
