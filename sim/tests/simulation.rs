//! The simulator's checks over many seeds per scenario family, and the Twins enumeration.
//! `CURIA_SIM_SEEDS=N` runs N seeds per family and `CURIA_TWINS_BUDGET=N` N Twins schedules per
//! configuration (a soak); by default a few dozen seeds each and a budget that fits in seconds.

use curia_sim::twins::{budget, TwinsSpace};
use curia_sim::{run, run_scenario, seeds_per_scenario, Byz, Kind, Report, Scenario, Violation};

/// Failing runs reported in full before a test stops (the rest of its seeds are not run: one
/// failure already fails the test, and a broken machine should not cost the whole sweep).
const MAX_FAILURES: usize = 3;

fn sweep(kind: Kind, default: u64) -> Vec<Report> {
    let seeds = seeds_per_scenario(default);
    let mut reports = Vec::new();
    let mut failures = Vec::new();
    let mut heights = 0u64;
    let (mut events, mut rounds) = (0u64, 0u32);
    let mut ran = 0u64;
    for seed in 0..seeds {
        let r = run(kind, seed);
        ran += 1;
        heights += r.heights.iter().copied().min().unwrap_or(0);
        events = events.max(r.events);
        rounds = rounds.max(r.max_round_after_heal);
        if !r.ok() {
            eprintln!("FAILED: {r}\n  re-run: cargo run -p curia-sim --example sim -- {kind:?} {seed}");
            failures.push(seed);
            if failures.len() >= MAX_FAILURES {
                break;
            }
        }
        reports.push(r);
    }
    eprintln!(
        "{kind:?}: {ran} seeds, mean lowest height {:.1}, most events {events}, highest round after healing {rounds}",
        heights as f64 / ran as f64
    );
    assert!(failures.is_empty(), "{kind:?}: failing seeds {failures:?} (details above)");
    reports
}

#[test]
fn calm() {
    sweep(Kind::Calm, 40);
}

#[test]
fn lossy() {
    sweep(Kind::Lossy, 60);
}

#[test]
fn partition() {
    sweep(Kind::Partition, 60);
}

#[test]
fn crash_restart() {
    sweep(Kind::Crash, 60);
}

#[test]
fn byzantine_one_of_four() {
    sweep(Kind::Byzantine, 80);
}

#[test]
fn byzantine_two_of_seven() {
    sweep(Kind::Byzantine7, 40);
}

#[test]
fn same_seed_same_trace() {
    for kind in [Kind::Byzantine, Kind::Crash, Kind::Byzantine7] {
        for seed in [3u64, 17] {
            let a = run(kind, seed);
            let b = run(kind, seed);
            assert_eq!(a.trace_hash, b.trace_hash, "{kind:?} seed {seed} replayed differently");
            assert_eq!(a.heights, b.heights);
            assert_eq!(a.delivered, b.delivered);
        }
        assert_ne!(run(kind, 1).trace_hash, run(kind, 2).trace_hash, "different seeds, same trace");
    }
}

/// Commit latency in message delays with a fixed latency and no faults: a proposal, a round of
/// prevotes and a round of precommits, so about three.
#[test]
fn commit_latency_in_message_delays() {
    let mut all = Vec::new();
    for seed in 0..5u64 {
        let mut sc = Scenario::generate(Kind::Calm, seed);
        sc.jitter_ms = 0;
        let r = run_scenario(sc, seed);
        assert!(r.ok(), "{r}");
        all.push(r.latency_delays.expect("commits happened"));
    }
    let mean = all.iter().sum::<f64>() / all.len() as f64;
    eprintln!("commit latency: {mean:.2} message delays (per seed {all:.2?})");
    assert!((2.5..=4.0).contains(&mean), "latency {mean} message delays");
}

fn twins(n: usize, f: usize, rounds: u32, default_budget: u64) {
    let space = TwinsSpace::new(n, f, rounds);
    let picked = space.sample(budget(default_budget));
    let mut failures = Vec::new();
    let (mut events, mut after_heal) = (0u64, 0u32);
    for &index in &picked {
        let r = run_scenario(space.schedule(index), index as u64);
        events = events.max(r.events);
        after_heal = after_heal.max(r.max_round_after_heal);
        if !r.ok() {
            eprintln!("FAILED: {r}\n  re-run: cargo run -p curia-sim --example sim -- twins{n} {index}");
            failures.push(index);
            if failures.len() >= MAX_FAILURES {
                break;
            }
        }
    }
    eprintln!(
        "twins n={n} f={f} rounds={rounds}: {} of {} schedules, most events {events}, highest round after healing {after_heal}",
        picked.len(),
        space.size()
    );
    assert!(failures.is_empty(), "twins n={n}: failing schedules {failures:?} (details above)");
}

/// Twins, n = 4: one validator as two honest instances, partitions over the first two rounds.
#[test]
fn twins_one_of_four() {
    twins(4, 1, 2, 300);
}

/// Twins, n = 7: two validators as twin pairs, partitions over the first two rounds.
#[test]
fn twins_two_of_seven() {
    twins(7, 2, 2, 40);
}

/// Byzantine validators that only push: each answers anything of round `r` with a signed nil
/// prevote for round `r + 5`. f of them (1 of 4, 2 of 7) hold less than f + 1, so no honest
/// validator may move (rule L55, checked from outside on every input), and the chain goes on.
#[test]
fn round_pushers_move_nobody() {
    for (n, pushers) in [(4usize, vec![2usize]), (7, vec![1, 4])] {
        for seed in 0..4u64 {
            let mut sc = Scenario::generate(Kind::Calm, seed);
            sc.n = n;
            sc.loss_per_mille = 100;
            for &b in &pushers {
                sc.byzantine.insert(b, Byz { push: true, ..Byz::default() });
            }
            let r = run_scenario(sc, seed);
            assert!(r.ok(), "{r}");
            let honest = (0..n).filter(|i| !pushers.contains(i));
            assert!(honest.clone().all(|i| r.heights[i] >= 3), "{r}");
        }
    }
}

/// The bounds that turn a run that would not end into a failure do fail.
#[test]
fn bounds_fail_runs() {
    // The event budget.
    let mut sc = Scenario::generate(Kind::Calm, 1);
    sc.max_events = 500;
    let r = run_scenario(sc, 1);
    assert!(matches!(r.violations.as_slice(), [Violation::Budget { .. }]), "{r}");
    assert_eq!(r.events, 500);
    // The round bound after healing: validator 1 is silent, so height 1 (entered at time 0,
    // after healing at 0) needs round 1, one more than allowed here.
    let mut sc = Scenario::generate(Kind::Calm, 1);
    sc.heal_ms = 0;
    sc.max_rounds_after_heal = 0;
    sc.byzantine.insert(1, Byz { silent: true, ..Byz::default() });
    let r = run_scenario(sc, 1);
    assert!(
        matches!(r.violations.as_slice(), [Violation::Liveness { detail }] if detail.contains("round 1 at height 1")),
        "{r}"
    );
}

/// A sweep of a family with one validator-set change per run: every run committed exactly that
/// change (through the real executor; the simulator checked its approvals against the set in
/// force, every certificate against the set it computes, and who signed where), and its
/// subject, if any, signed a committed certificate under its key in force after the activation.
fn membership_sweep(kind: Kind, default: u64, what: &str, subject_signs: bool) -> Vec<Report> {
    let reports = sweep(kind, default);
    for r in &reports {
        assert!(matches!(r.changes.as_slice(), [c] if c.starts_with(what)), "{kind:?}: expected one {what}: {r}");
        if subject_signs {
            assert!(r.subject_signed_from.is_some(), "{kind:?}: the subject never signed after activation: {r}");
        }
    }
    let signed: Vec<Option<u64>> = reports.iter().map(|r| r.subject_signed_from).collect();
    eprintln!(
        "{kind:?}: changes {:?}; subject signed from {signed:?}",
        reports.iter().map(|r| &r.changes[0]).collect::<Vec<_>>()
    );
    reports
}

/// A validator joins while a partition cuts it off (alone or with one of the four): it catches
/// up across the change and its key signs certificates from its activation height on, never
/// before (the outside check of who signs where fails a run at the first such vote).
#[test]
fn membership_join_during_partition() {
    membership_sweep(Kind::Join, 16, "add v4", true);
}

/// The validator that would propose round 0 of the activation height under the old set is
/// removed (five validators, after loss and a partition); its node stops there or runs on as a
/// follower, and its key may go on voting: no certificate from the activation on holds it, and
/// the activation height does not wait on it.
#[test]
fn membership_remove_next_proposer() {
    let reports = membership_sweep(Kind::RemoveProposer, 16, "remove", false);
    let mut next = 0;
    for r in &reports {
        let (a, round, was_next) = r.removal.expect("a removal");
        assert_ne!(round, u32::MAX, "activation height {a} decided: {r}");
        if was_next {
            next += 1;
            assert_eq!(round, 0, "height {a} waited on its removed proposer: {r}");
        }
    }
    eprintln!("RemoveProposer: the removed validator was the old set's proposer of the activation height in {next} of {} runs", reports.len());
    assert!(next * 2 >= reports.len(), "the family must mostly remove the next proposer ({next} of {})", reports.len());
}

/// A key is rotated while rounds run under loss and a partition; the node restarts with the new
/// key at the commit, at the activation or later, the old key keeps voting after the activation
/// (refused: no certificate holds it) and the new key signs certificates.
#[test]
fn membership_rotate_key_in_flight() {
    membership_sweep(Kind::Rotate, 16, "rotate", true);
}

/// A power change moves the quorum (3 of 4 to one that needs the re-powered validator), which
/// is cut off around the activation: certificates hold the new quorum of power.
#[test]
fn membership_power_moves_quorum() {
    membership_sweep(Kind::PowerShift, 16, "set power", true);
}
