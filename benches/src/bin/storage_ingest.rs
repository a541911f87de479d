//! Storage ingest benchmark: commit blocks of realistic batch and single deposits to a fresh
//! store, then measure random lookups and bytes on disk. Prints JSON on stdout.
//!
//! ```text
//! cargo run --release -p curia-benches --bin storage_ingest -- --deposits 10000000
//! ```
//!
//! Options: `--deposits N` (default 10,000,000), `--lookups N` (default 100,000), `--dir DIR`
//! (default a fresh directory under the system temp dir, removed afterwards unless `--keep`),
//! `--batches-per-block N` (default 8), `--singles-per-block N` (default 100), `--seed N`,
//! `--compact` (also measure size after a full compaction), `--fixture DIR` (write the chain's
//! genesis and the keys of validator `v0` and of the auditor client there, to serve the store
//! with `curia node run` for `curia audit --node`); `--help` lists them (clap).
//!
//! Blocks are built (and signed, and certified by 4 validators) in chunks of 100 blocks, so memory
//! stays bounded at any `--deposits`; only the commits are timed, so the
//! ingest figure measures `Store::commit_block` only: checks, encoding, checksums, the synced
//! atomic write, and the background flushes and compactions it causes.

use std::path::{Path, PathBuf};

use clap::{CommandFactory, Parser};
use std::time::{Duration, Instant};

use curia_ledger::block::{Block, CommitCertificate};
use curia_ledger::hash::Hash;
use curia_ledger::state::{next_header, Change, Proposing, Tip};
use curia_ledger::testkit::TestChain;
use curia_ledger::tx::{batch_item_id, Transaction};
use curia_storage::Store;

/// A whole number; `_` separators allowed (`--deposits 10_000_000`).
fn count<T: std::str::FromStr>(v: &str) -> Result<T, String> {
    v.replace('_', "").parse::<T>().map_err(|_| format!("not a whole number: {v}"))
}

/// Storage ingest benchmark: commit blocks of batch and single deposits to a fresh store, then
/// time random lookups and measure bytes on disk. JSON on stdout.
#[derive(Parser, Debug)]
#[command(name = "storage_ingest", about, long_about = None)]
struct Args {
    /// Deposits to ingest.
    #[arg(long, value_name = "N", default_value = "10000000", value_parser = count::<u64>)]
    deposits: u64,
    /// Random lookups (by deposit ID, by digest, missing IDs) after reopening.
    #[arg(long, value_name = "N", default_value = "100000", value_parser = count::<usize>)]
    lookups: usize,
    /// The store's directory (must not exist; default: a fresh one under the temp dir).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Keep the store afterwards (a default directory is otherwise removed).
    #[arg(long)]
    keep: bool,
    /// Batch deposits per block (1,000..=10,000 items each).
    #[arg(long = "batches-per-block", value_name = "N", default_value = "8", value_parser = count::<usize>)]
    batches: usize,
    /// Single deposits per block.
    #[arg(long = "singles-per-block", value_name = "N", default_value = "100", value_parser = count::<usize>)]
    singles: usize,
    /// Seed of the digests and the sampling.
    #[arg(long, value_name = "N", default_value = "24301", value_parser = count::<u64>)]
    seed: u64,
    /// Also measure the size after a full compaction.
    #[arg(long)]
    compact: bool,
    /// Write DIR/genesis.json (the chain's genesis), DIR/v0.key (validator v0's key) and
    /// DIR/auditor.key (a registered auditor client's key): what `curia node run` needs to
    /// serve the store and `curia audit --node` to read it. Test keys: never for a real chain.
    #[arg(long, value_name = "DIR")]
    fixture: Option<PathBuf>,
    /// Ignored (passed by `cargo bench` to every target).
    #[arg(long, hide = true)]
    bench: bool,
}

fn parse_args() -> Args {
    let a = Args::parse();
    if a.deposits == 0 || a.batches + a.singles == 0 {
        Args::command()
            .error(clap::error::ErrorKind::ValueValidation, "--deposits and a block's deposits must be positive")
            .exit();
    }
    a
}

/// xorshift64*: deterministic, fast, good enough for test digests and sampling.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn hash(&mut self) -> Hash {
        let mut h = [0u8; 32];
        for c in h.chunks_mut(8) {
            c.copy_from_slice(&self.next().to_le_bytes());
        }
        Hash(h)
    }
}

/// The transactions and changes of one block (headers are chained afterwards).
struct Body {
    txs: Vec<Transaction>,
    changes: Vec<Change>,
    deposits: u64,
}

fn build_body(chain: &TestChain, index: u64, sizes: &[usize], singles: usize, seed: u64) -> Body {
    let mut rng = Rng(seed ^ (index + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut txs = Vec::new();
    let mut changes = Vec::new();
    let mut deposits = 0;
    for (k, &n) in sizes.iter().enumerate() {
        let digests: Vec<Hash> = (0..n).map(|_| rng.hash()).collect();
        let tx = chain.batch("platform2", digests, index * 1000 + k as u64);
        let id = tx.id(&chain.spec.chain_id);
        changes.push(Change::TxApplied { id });
        for (i, c) in tx.items.iter().enumerate() {
            changes.push(Change::Deposit { id: batch_item_id(&id, i as u32), commitment: *c });
        }
        deposits += n as u64;
        txs.push(tx);
    }
    for s in 0..singles {
        let nonce = index * 100_000 + s as u64;
        let tx = chain.deposit("platform", &rng.next().to_le_bytes(), nonce);
        let id = tx.id(&chain.spec.chain_id);
        changes.push(Change::TxApplied { id });
        for (dep, commitment) in tx.deposits(&id) {
            changes.push(Change::Deposit { id: dep, commitment });
        }
        deposits += 1;
        txs.push(tx);
    }
    Body { txs, changes, deposits }
}

/// Blocks built and then committed per chunk: about 4.4 M deposits with the default shapes, about
/// 0.5 GB of memory, whatever `--deposits` is.
const CHUNK_BLOCKS: usize = 100;

fn dir_bytes(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_bytes(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// CPU seconds used by this process so far (all threads, user + system), from /proc.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 (utime, stime) are at 11 and 12 after the command name; 100 ticks/s.
    (ticks(11) + ticks(12)) / 100.0
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

fn main() {
    let args = parse_args();
    let dir =
        args.dir.clone().unwrap_or_else(|| std::env::temp_dir().join(format!("curia-ingest-{}", std::process::id())));
    if dir.exists() {
        panic!("{} exists; give a fresh --dir", dir.display());
    }
    let mut chain = TestChain::new(4);
    let spec = chain.spec.clone();
    if let Some(f) = &args.fixture {
        std::fs::create_dir_all(f).expect("create --fixture directory");
        std::fs::write(f.join("genesis.json"), spec.genesis.to_json() + "\n").expect("write genesis.json");
        for (name, file) in [("v0", "v0.key"), ("auditor", "auditor.key")] {
            let key = curia_ledger::testkit::test_key(name);
            curia_node::config::write_key(&f.join(file), &key, true).expect("write a key file");
        }
    }

    // Plan block shapes: `batches` batches of 1,000..=10,000 items plus `singles` single deposits.
    let mut rng = Rng(args.seed | 1);
    let mut plan: Vec<Vec<usize>> = Vec::new();
    let mut planned = 0u64;
    while planned < args.deposits {
        let mut sizes = Vec::new();
        for _ in 0..args.batches {
            let left = args.deposits - planned;
            if left <= args.singles as u64 {
                break;
            }
            let n = (1000 + rng.next() % 9001).min(left - args.singles as u64) as usize;
            sizes.push(n);
            planned += n as u64;
        }
        planned += args.singles as u64;
        plan.push(sizes);
    }

    // Blocks are built (in parallel) and committed in chunks of `CHUNK_BLOCKS`, so memory stays
    // bounded whatever `--deposits` is; only the commits are timed.
    eprintln!("building and ingesting {} blocks for {planned} deposits into {} ...", plan.len(), dir.display());
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let store = Store::open(&dir, &spec).expect("open store");
    let mut commit_times = Vec::with_capacity(plan.len());
    let mut build_s = 0.0;
    let mut ingest_s = 0.0;
    let mut ingest_cpu = 0.0;
    let mut tip = Tip::genesis(&spec);
    let mut last_cert: Option<CommitCertificate> = None;
    let mut total = 0u64;
    // Reservoir sample of deposits for the lookups.
    let mut sample: Vec<(Hash, Hash)> = Vec::with_capacity(args.lookups);
    let mut seen = 0u64;
    let mut srng = Rng(args.seed ^ 0xabcdef);
    let t_all = Instant::now();
    for chunk_start in (0..plan.len()).step_by(CHUNK_BLOCKS) {
        let chunk_plan = &plan[chunk_start..(chunk_start + CHUNK_BLOCKS).min(plan.len())];
        let t_build = Instant::now();
        let mut bodies: Vec<Option<Body>> = (0..chunk_plan.len()).map(|_| None).collect();
        std::thread::scope(|s| {
            let chunks: Vec<_> = bodies.chunks_mut(chunk_plan.len().div_ceil(threads).max(1)).collect();
            let mut start = 0usize;
            for chunk in chunks {
                let (chain, first) = (&chain, start);
                start += chunk.len();
                s.spawn(move || {
                    for (j, slot) in chunk.iter_mut().enumerate() {
                        let i = first + j;
                        let index = (chunk_start + i) as u64;
                        *slot = Some(build_body(chain, index, &chunk_plan[i], args.singles, args.seed));
                    }
                });
            }
        });
        let mut blocks: Vec<(Block, CommitCertificate, Vec<Change>)> = Vec::with_capacity(chunk_plan.len());
        for (j, body) in bodies.into_iter().enumerate() {
            let body = body.expect("built");
            total += body.deposits;
            let i = chunk_start + j;
            let proposer = spec.genesis.validators[i % spec.genesis.validators.len()].key;
            let proposing = Proposing { proposer, time_ms: chain.now_ms, last_commit: last_cert.clone() };
            let header = next_header(&spec, &tip, &body.txs, &body.changes, &proposing);
            let block = Block { header, last_commit: proposing.last_commit, txs: body.txs };
            let cert = chain.certify(&block, 0);
            chain.now_ms += 1000;
            tip = Tip::after(&block.header);
            last_cert = Some(cert.clone());
            for c in &body.changes {
                if let Change::Deposit { id, commitment } = c {
                    seen += 1;
                    if sample.len() < args.lookups {
                        sample.push((*id, *commitment));
                    } else {
                        let k = (srng.next() % seen) as usize;
                        if k < sample.len() {
                            sample[k] = (*id, *commitment);
                        }
                    }
                }
            }
            blocks.push((block, cert, body.changes));
        }
        build_s += t_build.elapsed().as_secs_f64();
        let cpu0 = cpu_seconds();
        let t_ingest = Instant::now();
        for (b, cert, changes) in &blocks {
            let t = Instant::now();
            store.commit_block(b, cert, changes).expect("commit");
            commit_times.push(t.elapsed());
        }
        ingest_s += t_ingest.elapsed().as_secs_f64();
        ingest_cpu += cpu_seconds() - cpu0;
        eprintln!(
            "  height {} {total} deposits, ingest {:.0}/s, {:.0} s elapsed",
            tip.height,
            total as f64 / ingest_s,
            t_all.elapsed().as_secs_f64()
        );
    }
    let blocks_len = plan.len();
    eprintln!("built in {build_s:.1} s, ingested {total} deposits in {ingest_s:.1} s");
    commit_times.sort();
    store.flush().expect("flush");
    let flushed_bytes = dir_bytes(&dir);
    let families = store.family_sizes().expect("sizes");
    drop(store);

    // Reopen (memtables gone, block cache cold; the OS page cache is whatever it is) and look up.
    let store = Store::open(&dir, &spec).expect("reopen");
    let mut rng = Rng(args.seed ^ 0x5a5a5a);
    let mut by_id = Vec::with_capacity(sample.len());
    for (id, _) in &sample {
        let t = Instant::now();
        let loc = store.deposit_location(id).expect("lookup");
        by_id.push(t.elapsed());
        assert!(loc.is_some(), "deposit {id} not found");
    }
    let mut by_digest = Vec::with_capacity(sample.len());
    for (id, commitment) in &sample {
        let t = Instant::now();
        let deps = store.deposits_by_digest(commitment).expect("lookup");
        by_digest.push(t.elapsed());
        assert!(deps.contains(id), "digest {commitment} misses {id}");
    }
    let mut misses = Vec::with_capacity(sample.len());
    for _ in 0..sample.len() {
        let id = rng.hash();
        let t = Instant::now();
        let loc = store.deposit_location(&id).expect("lookup");
        misses.push(t.elapsed());
        assert!(loc.is_none());
    }
    let mut receipts = Vec::new();
    for (id, _) in sample.iter().take(1000) {
        let t = Instant::now();
        let r = store.receipt(id).expect("receipt");
        receipts.push(t.elapsed());
        assert!(r.is_some());
    }
    for v in [&mut by_id, &mut by_digest, &mut misses, &mut receipts] {
        v.sort();
    }
    let compacted_bytes = if args.compact {
        eprintln!("compacting ...");
        store.compact().expect("compact");
        Some(dir_bytes(&dir))
    } else {
        None
    };
    drop(store);
    let lat = |v: &[Duration]| serde_json::json!({ "p50_us": percentile(v, 0.5), "p99_us": percentile(v, 0.99), "max_us": percentile(v, 1.0), "n": v.len() });
    let out = serde_json::json!({
        "benchmark": "storage_ingest",
        "deposits": total,
        "blocks": blocks_len,
        "batches_per_block": args.batches,
        "singles_per_block": args.singles,
        "build_seconds": build_s,
        "ingest_seconds": ingest_s,
        "deposits_per_second": total as f64 / ingest_s,
        "ingest_cpu_seconds": ingest_cpu,
        "load_average_after": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim(),
        "commit_block_ms": { "p50": percentile(&commit_times, 0.5) / 1e3, "p99": percentile(&commit_times, 0.99) / 1e3, "max": percentile(&commit_times, 1.0) / 1e3 },
        "lookup_by_deposit_id": lat(&by_id),
        "lookup_by_digest": lat(&by_digest),
        "lookup_missing_id": lat(&misses),
        "receipt_build": lat(&receipts),
        "bytes_on_disk_after_flush": flushed_bytes,
        "bytes_per_deposit": flushed_bytes as f64 / total as f64,
        "bytes_on_disk_after_full_compaction": compacted_bytes,
        "bytes_per_deposit_after_full_compaction": compacted_bytes.map(|b| b as f64 / total as f64),
        "family_bytes": families.iter().map(|(n, b)| (n.to_string(), serde_json::json!(b))).collect::<serde_json::Map<_, _>>(),
        "dir": dir.display().to_string(),
        "cores": threads,
    });
    println!("{}", serde_json::to_string_pretty(&out).expect("json"));
    if !args.keep && args.dir.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
