//! Run one simulator seed and print its report: `cargo run -p curia-consensus --example sim -- KIND SEED`
//! (KIND is one of calm, lossy, partition, crash, byzantine, byzantine7).

use curia_consensus::sim::{run, Kind};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let kind = match args.get(1).map(String::as_str).unwrap_or("calm") {
        "lossy" => Kind::Lossy,
        "partition" => Kind::Partition,
        "crash" => Kind::Crash,
        "byzantine" => Kind::Byzantine,
        "byzantine7" => Kind::Byzantine7,
        _ => Kind::Calm,
    };
    let seed: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0);
    let r = run(kind, seed);
    println!("{r}");
    println!("trace {}", r.trace_hash.iter().map(|b| format!("{b:02x}")).collect::<String>());
    if let Some(l) = r.latency_delays {
        println!("commit latency {l:.2} message delays, {} messages delivered", r.delivered);
    }
    std::process::exit(if r.ok() { 0 } else { 1 });
}
