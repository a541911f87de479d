//! Run one simulator seed (or one Twins schedule) and print its report:
//! `cargo run -p curia-sim --example sim -- KIND SEED` (KIND is one of calm, lossy, partition,
//! crash, byzantine, byzantine7, join, remove, rotate, power, twins4, twins7; for twins, SEED is
//! the schedule number).

use curia_sim::twins::TwinsSpace;
use curia_sim::{run, run_scenario, Kind};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seed: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0);
    let kind = args.get(1).map(|s| s.to_ascii_lowercase()).unwrap_or_else(|| "calm".into());
    let r = match kind.as_str() {
        "twins4" => run_scenario(TwinsSpace::new(4, 1, 2).schedule(seed as u128), seed),
        "twins7" => run_scenario(TwinsSpace::new(7, 2, 2).schedule(seed as u128), seed),
        k => {
            let kind = match k {
                "lossy" => Kind::Lossy,
                "partition" => Kind::Partition,
                "crash" => Kind::Crash,
                "byzantine" => Kind::Byzantine,
                "byzantine7" => Kind::Byzantine7,
                "join" => Kind::Join,
                "remove" | "removeproposer" => Kind::RemoveProposer,
                "rotate" => Kind::Rotate,
                "power" | "powershift" => Kind::PowerShift,
                _ => Kind::Calm,
            };
            run(kind, seed)
        }
    };
    println!("{r}");
    if !r.changes.is_empty() {
        println!("changes {:?}, subject signed from {:?}, removal {:?}", r.changes, r.subject_signed_from, r.removal);
    }
    println!("trace {}", r.trace_hash.iter().map(|b| format!("{b:02x}")).collect::<String>());
    if let Some(l) = r.latency_delays {
        println!("commit latency {l:.2} message delays, {} messages delivered", r.delivered);
    }
    std::process::exit(if r.ok() { 0 } else { 1 });
}
