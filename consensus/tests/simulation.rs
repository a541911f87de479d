//! The simulator's checks over many seeds per scenario family. `CURIA_SIM_SEEDS=N` runs N seeds
//! per family (a soak); by default a few dozen each.

use curia_consensus::sim::{run, run_scenario, seeds_per_scenario, Kind, Scenario, Violation};

fn sweep(kind: Kind, default: u64) {
    let seeds = seeds_per_scenario(default);
    let mut failures = Vec::new();
    let mut heights = 0u64;
    for seed in 0..seeds {
        let r = run(kind, seed);
        heights += r.heights.iter().copied().min().unwrap_or(0);
        if !r.ok() {
            eprintln!("FAILED: {r}\n  re-run: curia_consensus::sim::run(Kind::{kind:?}, {seed})");
            failures.push(seed);
        }
    }
    eprintln!("{kind:?}: {seeds} seeds, mean lowest height {:.1}", heights as f64 / seeds as f64);
    assert!(failures.is_empty(), "{kind:?}: failing seeds {failures:?} (details above)");
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

/// A quorum of 2f instead of 2f+1: the simulator must find two honest validators committing
/// different blocks.
#[test]
fn broken_quorum_is_caught() {
    let mut found = None;
    for seed in 0..40u64 {
        let mut sc = Scenario::generate(Kind::Partition, seed);
        sc.broken.quorum_2f = true;
        let r = run_scenario(sc, seed);
        if r.violations.iter().any(|v| matches!(v, Violation::Agreement { .. })) {
            found = Some(r);
            break;
        }
    }
    let r = found.expect("the simulator did not find the safety violation of a 2f quorum");
    eprintln!("found as expected: {r}");
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
