//! The simulator's checks over many seeds per scenario family, and the Twins enumeration.
//! `CURIA_SIM_SEEDS=N` runs N seeds per family and `CURIA_TWINS_BUDGET=N` N Twins schedules per
//! configuration (a soak); by default a few dozen seeds each and a budget that fits in seconds.

use curia_sim::twins::{budget, TwinsSpace};
use curia_sim::{run, run_scenario, seeds_per_scenario, Kind, Scenario};

fn sweep(kind: Kind, default: u64) {
    let seeds = seeds_per_scenario(default);
    let mut failures = Vec::new();
    let mut heights = 0u64;
    for seed in 0..seeds {
        let r = run(kind, seed);
        heights += r.heights.iter().copied().min().unwrap_or(0);
        if !r.ok() {
            eprintln!("FAILED: {r}\n  re-run: cargo run -p curia-sim --example sim -- {kind:?} {seed}");
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
    for &index in &picked {
        let r = run_scenario(space.schedule(index), index as u64);
        if !r.ok() {
            eprintln!("FAILED: {r}\n  re-run: cargo run -p curia-sim --example sim -- twins{n} {index}");
            failures.push(index);
            if failures.len() >= 3 {
                break;
            }
        }
    }
    eprintln!("twins n={n} f={f} rounds={rounds}: {} of {} schedules", picked.len(), space.size());
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
