//! Load generator: pre-signed deposits sent at a chosen rate to every node of a running network,
//! with the commit of each one timed. Prints a JSON report on stdout (progress on stderr).
//!
//! ```text
//! curia testnet init --validators 4 --out /tmp/net && (start the four nodes)
//! cargo run --release -p curia-benches --bin loadgen -- --net /tmp/net --rate 5000 --duration 30
//! ```
//!
//! Options:
//! - `--net DIR`: a directory written by `curia testnet init` (genesis, `clients/platform.key`,
//!   and each node's API address from its `node.toml`); or `--nodes URL,URL,...`,
//!   `--genesis FILE` and `--key FILE` separately.
//! - `--mode single|batch` (default single): single deposit transactions, or batch deposits of
//!   `--batch-size N` items (default 1000).
//! - `--rate N`: deposits per second offered (default 5000); `--duration S` (default 30).
//! - `--chunk N`: transactions per HTTP request (default: as many as 50 ms of load, at least 1).
//! - `--workers N`: concurrent HTTP senders (default 8); `--drain S`: how long to wait for the
//!   last commits after sending stops (default 30).
//! - `--ceiling-secs S` (default 3; 0 skips it): first measure the signature ceiling for
//!   S seconds (`curia_benches::ceiling`: ed25519 batch verification on all cores, divided by
//!   the validators on the machine); the report then gives the committed rate as a fraction of
//!   it (`committed_over_ceiling`). `--local-validators N`: validators sharing this machine
//!   (default: the number of nodes).
//! - `--receipt-rate N` (default 0: none) and `--receipt-workers N` (default 4): while
//!   depositing, fetch `GET /v1/deposits/{id}/receipt` N times a second (open-loop, from the
//!   first block of this run that has two successors on node 0), each for a deposit of this run
//!   drawn uniformly from those whose block has two successors on node 0 (one is enough for a
//!   receipt, the second lets the other nodes catch up), from the nodes in turn; the report's
//!   `receipts` gives their latency p50/p90/p99/p99.9/max in ms to 0.1 ms (`latency_ms`, from
//!   each request's scheduled time), split into `wait_ms` (scheduled time to a fetcher starting
//!   the request: the load generator's own scheduling, and its backlog when every fetcher is
//!   busy) and `service_ms` (request start to the answer parsed), the refusals by code, and the
//!   requests skipped because every fetcher was busy for too long. `--receipt-slice-us US`
//!   (default 100, 0: the kernel's): the scheduler slice the fetchers ask for (Linux 6.12+).
//! - `--binary`: send the canonical binary transaction list (`application/octet-stream`)
//!   instead of JSON (the report's `body` says which).
//!
//! Arguments are parsed by clap (`loadgen --help`); numbers may carry `_` separators. A bad
//! argument exits with code 2 before anything is signed or sent.
//!
//! Method: every transaction is built and signed before the clock starts (a fresh run ID goes
//! into every nonce, so runs never collide). Requests are scheduled open-loop at `rate`; each
//! one goes to the next node in turn. A transaction's latency is its block's commit time (the
//! certificate's median validator clock) minus the time its request was *scheduled*, so a slow
//! sender cannot hide queueing delay. Commits are found by following node 0's blocks
//! (`GET /v1/blocks/{h}/txs`). Committed deposits/s counts deposits whose block committed,
//! over the time from the first scheduled request to the last commit.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{CommandFactory, Parser};
use curia_benches::ceiling::{self, Ceiling, CeilingOptions};
use curia_client::types::TxBatch;
use curia_client::{Client, Error as ClientError};
use curia_ledger::crypto::SecretKey;
use curia_ledger::genesis::Genesis;
use curia_ledger::hash::Hash;
use curia_ledger::tx::{batch_body, batch_item_id, Commitment, Deposit, Payload, Transaction, TxBody};

/// A thread named `name` (so that per-thread scheduler figures, `/proc/PID/task/*/comm` or
/// `perf sched`, can tell the receipt fetchers from the deposit senders).
fn named<T: Send + 'static>(name: &str, f: impl FnOnce() -> T + Send + 'static) -> std::thread::JoinHandle<T> {
    std::thread::Builder::new().name(name.into()).spawn(f).expect("spawn a thread")
}

/// Numbers may carry `_` separators (`--rate 15_000`).
fn num(v: &str) -> Result<f64, String> {
    v.replace('_', "").parse::<f64>().map_err(|_| format!("not a number: {v}"))
}

/// A whole number (`_` separators allowed).
fn count(v: &str) -> Result<usize, String> {
    v.replace('_', "").parse::<usize>().map_err(|_| format!("not a whole number: {v}"))
}

/// Load generator for a running Curia network: pre-signed deposits at a chosen rate, every
/// commit timed, optionally receipts fetched under load; JSON report on stdout.
#[derive(Parser, Debug)]
#[command(name = "loadgen", about, long_about = None)]
struct Cli {
    /// A directory written by `curia testnet init` (genesis, clients/platform.key, nodes' API
    /// addresses).
    #[arg(long, value_name = "DIR")]
    net: Option<PathBuf>,
    /// Node API URLs, comma-separated (instead of the ones in --net).
    #[arg(long, value_name = "URL,URL,...", value_delimiter = ',')]
    nodes: Vec<String>,
    /// The chain's genesis file (default: DIR/genesis.json of --net).
    #[arg(long, value_name = "FILE")]
    genesis: Option<PathBuf>,
    /// The platform client's key file (default: DIR/clients/platform.key of --net).
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// single (one deposit per transaction) or batch (--batch-size items per transaction).
    #[arg(long, value_name = "MODE", default_value = "single")]
    mode: String,
    /// Items per batch deposit in --mode batch (1..=10000).
    #[arg(long, value_name = "N", default_value = "1000", value_parser = count)]
    batch_size: usize,
    /// Deposits per second offered.
    #[arg(long, value_name = "N", default_value = "5000", value_parser = num)]
    rate: f64,
    /// Seconds of sending.
    #[arg(long, value_name = "S", default_value = "30", value_parser = num)]
    duration: f64,
    /// Transactions per HTTP request (default: as many as 50 ms of load, at least 1).
    #[arg(long, value_name = "N", value_parser = count)]
    chunk: Option<usize>,
    /// Concurrent HTTP senders.
    #[arg(long, value_name = "N", default_value = "8", value_parser = count)]
    workers: usize,
    /// Seconds to wait for the last commits after sending stops.
    #[arg(long, value_name = "S", default_value = "30", value_parser = num)]
    drain: f64,
    /// Seconds to measure the signature ceiling first (0 skips it).
    #[arg(long, value_name = "S", default_value = "3", value_parser = num)]
    ceiling_secs: f64,
    /// Validators sharing this machine (default: the number of nodes).
    #[arg(long, value_name = "N", value_parser = count)]
    local_validators: Option<usize>,
    /// Receipt requests per second for already-committed deposits of this run, while
    /// depositing (0: none).
    #[arg(long, value_name = "N", default_value = "0", value_parser = num)]
    receipt_rate: f64,
    /// Concurrent receipt fetchers (with --receipt-rate).
    #[arg(long, value_name = "N", default_value = "4", value_parser = count)]
    receipt_workers: usize,
    /// Scheduler slice the receipt fetchers ask for, in microseconds (Linux 6.12+; 100 to
    /// 100000, or 0 for the kernel's default). They stand for judges' clients on other machines:
    /// a short slice keeps them from waiting behind this machine's deposit senders.
    #[arg(long, value_name = "US", default_value = "100", value_parser = count)]
    receipt_slice_us: usize,
    /// Send the binary body (`Content-Type: application/octet-stream`, the canonical
    /// transaction list) instead of JSON.
    #[arg(long)]
    binary: bool,
}

struct Args {
    nodes: Vec<String>,
    genesis: PathBuf,
    key: PathBuf,
    batch: Option<usize>,
    rate: f64,
    duration: f64,
    chunk: Option<usize>,
    workers: usize,
    drain: f64,
    ceiling_secs: f64,
    local_validators: Option<usize>,
    receipt_rate: f64,
    receipt_workers: usize,
    receipt_slice: Option<Duration>,
    binary: bool,
}

/// A refusal of the arguments, in clap's format, with exit code 2.
fn bad_args(msg: &str) -> ! {
    Cli::command().error(clap::error::ErrorKind::ValueValidation, msg).exit()
}

/// A failure before anything is sent (unreadable file, node not answering): exit code 2.
fn usage(msg: &str) -> ! {
    eprintln!("loadgen: {msg}\nsee `loadgen --help` for the options");
    std::process::exit(2)
}

fn parse_args() -> Args {
    let c = Cli::parse();
    let (mut genesis, mut key, mut nodes) = (c.genesis, c.key, c.nodes);
    nodes = nodes.into_iter().map(|s| s.trim_end_matches('/').to_string()).filter(|s| !s.is_empty()).collect();
    if let Some(dir) = c.net {
        genesis.get_or_insert(dir.join("genesis.json"));
        key.get_or_insert(dir.join("clients/platform.key"));
        if nodes.is_empty() {
            nodes = api_urls(&dir);
        }
    }
    let genesis = genesis.unwrap_or_else(|| bad_args("give --net DIR or --genesis FILE"));
    let key = key.unwrap_or_else(|| bad_args("give --net DIR or --key FILE"));
    if nodes.is_empty() {
        bad_args("no nodes: give --net DIR or --nodes URL,...");
    }
    let batch = match c.mode.as_str() {
        "single" => None,
        "batch" if (1..=10_000).contains(&c.batch_size) => Some(c.batch_size),
        "batch" => bad_args("--batch-size must be 1..=10000"),
        m => bad_args(&format!("--mode is single or batch, not {m}")),
    };
    let finite = c.rate.is_finite() && c.duration.is_finite();
    if !(finite && c.rate > 0.0 && c.duration > 0.0 && c.workers > 0) {
        bad_args("--rate, --duration and --workers must be positive");
    }
    if !(c.ceiling_secs >= 0.0 && c.ceiling_secs.is_finite()) || c.local_validators == Some(0) {
        bad_args("--ceiling-secs must be >= 0 and --local-validators positive");
    }
    if !(c.drain >= 0.0 && c.drain.is_finite()) {
        bad_args("--drain must be >= 0");
    }
    if !(c.receipt_rate >= 0.0 && c.receipt_rate.is_finite()) || c.receipt_workers == 0 {
        bad_args("--receipt-rate must be >= 0 and --receipt-workers positive");
    }
    let us = c.receipt_slice_us as u64;
    let (lo, hi) = (curia_node::limits::MIN_SLICE_US, curia_node::limits::MAX_SLICE_US);
    if us != 0 && !(lo..=hi).contains(&us) {
        bad_args(&format!("--receipt-slice-us must be 0 or {lo} to {hi}"));
    }
    Args {
        nodes,
        genesis,
        key,
        batch,
        rate: c.rate,
        duration: c.duration,
        chunk: c.chunk,
        workers: c.workers,
        drain: c.drain,
        ceiling_secs: c.ceiling_secs,
        local_validators: c.local_validators,
        receipt_rate: c.receipt_rate,
        receipt_workers: c.receipt_workers,
        receipt_slice: (us > 0).then(|| Duration::from_micros(us)),
        binary: c.binary,
    }
}

/// The API URLs of the nodes of a `curia testnet init` directory, in name order.
fn api_urls(dir: &Path) -> Vec<String> {
    let mut tomls: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| usage(&format!("cannot read {}: {e}", dir.display())))
        .filter_map(|e| e.ok().map(|e| e.path().join("node.toml")))
        .filter(|p| p.exists())
        .collect();
    tomls.sort();
    tomls
        .iter()
        .map(|p| {
            let cfg = curia_node::config::NodeConfig::load(p).unwrap_or_else(|e| usage(&e.to_string()));
            format!("http://{}", cfg.api.listen)
        })
        .collect()
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// One HTTP request's worth of transactions, ready to send.
struct Chunk {
    index: usize,
    body: Vec<u8>,
    tx_ids: Vec<Hash>,
    deposits: usize,
}

/// Build and sign every transaction, grouped into request bodies.
fn prepare(a: &Args, key: &SecretKey, chain_id: &Hash, per_chunk: usize) -> Vec<Chunk> {
    let run = now_ms();
    let total_deposits = (a.rate * a.duration).ceil() as usize;
    let per_tx = a.batch.unwrap_or(1);
    let n_txs = total_deposits.div_ceil(per_tx);
    let mut txs: Vec<Transaction> = Vec::with_capacity(n_txs);
    for i in 0..n_txs {
        let nonce = (run << 20) ^ i as u64;
        let digest = |j: usize| Hash::sha256(format!("loadgen {run} tx {i} item {j}").as_bytes());
        let tx = match a.batch {
            None => TxBody {
                sender: key.public(),
                nonce,
                payload: Payload::Deposit(Deposit {
                    commitment: Commitment::Sha256(digest(0)),
                    media_type: "application/octet-stream".into(),
                    byte_length: 1024,
                    label: format!("load {i}"),
                    reference: format!("run-{run}"),
                }),
            }
            .sign(chain_id, key),
            Some(n) => {
                let items: Vec<Hash> = (0..n).map(digest).collect();
                let body = batch_body(&items, false, "application/octet-stream", "load", &format!("run-{run}"));
                let mut tx =
                    TxBody { sender: key.public(), nonce, payload: Payload::BatchDeposit(body) }.sign(chain_id, key);
                tx.items = items;
                tx
            }
        };
        txs.push(tx);
    }
    txs.chunks(per_chunk)
        .enumerate()
        .map(|(index, c)| Chunk {
            index,
            body: if a.binary {
                curia_client::binary_transactions_body(c)
            } else {
                serde_json::to_vec(&TxBatch { txs: c.into() }).expect("transactions serialize")
            },
            tx_ids: c.iter().map(|t| t.id(chain_id)).collect(),
            deposits: c.iter().map(|t| t.items.len().max(1)).sum(),
        })
        .collect()
}

#[derive(Default)]
struct Tally {
    accepted_txs: u64,
    rejected: HashMap<String, u64>,
    http_errors: HashMap<String, u64>,
}

/// A client of one node: no retries (the schedule is open-loop; refusals are counted).
fn client(url: &str, timeout: Duration) -> Client {
    Client::builder(url)
        .timeout(timeout)
        .submit_deadline(Duration::ZERO)
        .build()
        .unwrap_or_else(|e| usage(&format!("node {url}: {e}")))
}

fn send(client: &Client, chunk: &Chunk, binary: bool, tally: &Mutex<Tally>) {
    let answer = if binary {
        client.submit_binary_body(&chunk.body, chunk.tx_ids.len())
    } else {
        client.submit_batch_body(&chunk.body, chunk.tx_ids.len())
    };
    let mut t = tally.lock().unwrap();
    match answer {
        Ok(b) => {
            t.accepted_txs += b.accepted as u64;
            for r in &b.results {
                if let Some(e) = &r.error {
                    *t.rejected.entry(e.code.clone()).or_default() += 1;
                }
            }
        }
        Err(e) => {
            *t.http_errors.entry(error_key(&e)).or_default() += chunk.tx_ids.len() as u64;
        }
    }
}

/// The key under which a failed request is counted: HTTP status and error code, or transport.
fn error_key(e: &ClientError) -> String {
    match (e.status(), e.code(), e) {
        (Some(status), code, _) => format!("{status} {}", code.unwrap_or("?")),
        (None, _, ClientError::Transport { .. }) => "transport".to_string(),
        (None, _, other) => other.to_string(),
    }
}

/// What the receipt load saw.
#[derive(Default)]
struct ReceiptTally {
    scheduled: u64,
    /// Requests not sent because every fetcher was busy for longer than [`MAX_RECEIPT_BACKLOG`]
    /// request intervals per fetcher.
    skipped_queue_full: u64,
    /// Scheduled time to answer read, per answered request (µs).
    latencies_us: Vec<u64>,
    /// Scheduled time to the request's start by a fetcher (µs): the load generator's own
    /// scheduling, and its backlog when every fetcher was busy.
    waits_us: Vec<u64>,
    /// Request start to answer read (µs): connection, node, answer parsing.
    services_us: Vec<u64>,
    errors: HashMap<String, u64>,
}

impl ReceiptTally {
    fn merge(&mut self, o: ReceiptTally) {
        self.scheduled += o.scheduled;
        self.skipped_queue_full += o.skipped_queue_full;
        self.latencies_us.extend(o.latencies_us);
        self.waits_us.extend(o.waits_us);
        self.services_us.extend(o.services_us);
        for (k, v) in o.errors {
            *self.errors.entry(k).or_default() += v;
        }
    }
}

/// A request is skipped when it is more than this many request intervals per fetcher late when
/// a fetcher is free for it (every fetcher was busy meanwhile): the backlog is bounded.
const MAX_RECEIPT_BACKLOG: u64 = 4;

/// Receipt requests under load: open-loop at `rate` per second from the first committed deposit
/// of this run until `stop`, each for a deposit drawn uniformly from `committed` (transaction
/// IDs of this run whose block is followed by two others on node 0, so that every node can issue
/// the receipt), sent to the nodes in turn by `workers` threads.
///
/// The k-th request is due at `start + k / rate`. A free fetcher claims the next unclaimed
/// request (a shared counter), sleeps until it is due and sends it itself: no dispatcher thread
/// hands it over, so the only wake-up before a request is the fetcher's own. A request waits
/// past its due time only when every fetcher is busy (or the machine is slow to wake one). A
/// request's latency runs from its due time to its answer, so that wait counts; it is also split
/// into the wait (due time to the request's start) and the request itself (start to answer
/// parsed), so that the load generator's own delays can be told from the node's. A request
/// claimed more than [`MAX_RECEIPT_BACKLOG`] intervals per fetcher late is skipped and counted,
/// never queued without bound.
///
/// With `slice`, the fetchers ask the kernel for that scheduler slice
/// ([`curia_node::priority::request_slice`]): they stand for judges' clients, which run on other
/// machines, and should not wait for a core behind this machine's deposit senders' slices.
fn receipt_load(
    a: &Args,
    committed: Arc<Mutex<Vec<Hash>>>,
    stop: Arc<AtomicBool>,
) -> Option<std::thread::JoinHandle<ReceiptTally>> {
    if a.receipt_rate == 0.0 {
        return None;
    }
    let (rate, n_workers, nodes, batch) = (a.receipt_rate, a.receipt_workers, a.nodes.clone(), a.batch);
    let slice = a.receipt_slice;
    Some(named("receipts", move || {
        // Wait for the first receipt-ready deposit (bounded by `stop`).
        while committed.lock().unwrap().is_empty() && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let interval = Duration::from_secs_f64(1.0 / rate);
        let late_limit = interval.mul_f64((MAX_RECEIPT_BACKLOG * n_workers as u64) as f64);
        let start = Instant::now();
        let next = Arc::new(AtomicU64::new(0));
        let seed = now_ms() | 1;
        let slice_warned = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..n_workers)
            .map(|w| {
                let (committed, stop, next, slice_warned) =
                    (committed.clone(), stop.clone(), next.clone(), slice_warned.clone());
                let clients: Vec<Client> = nodes.iter().map(|n| client(n, Duration::from_secs(30))).collect();
                named("fetcher", move || {
                    if let Some(s) = slice {
                        if let Err(e) = curia_node::priority::request_slice(s) {
                            if !slice_warned.swap(true, Ordering::Relaxed) {
                                eprintln!("loadgen: the receipt fetchers keep the kernel's slice: {e}");
                            }
                        }
                    }
                    let mut t = ReceiptTally::default();
                    let mut rng = seed.wrapping_add((w as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1;
                    let mut turn = w;
                    loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        let due = start + interval.mul_f64(k as f64);
                        // Sleep until due, in steps short enough to notice `stop`.
                        loop {
                            if stop.load(Ordering::Relaxed) {
                                return t;
                            }
                            let now = Instant::now();
                            if due <= now {
                                break;
                            }
                            std::thread::sleep((due - now).min(Duration::from_millis(100)));
                        }
                        t.scheduled += 1;
                        if Instant::now().saturating_duration_since(due) > late_limit {
                            t.skipped_queue_full += 1;
                            continue;
                        }
                        // xorshift64
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        let id = {
                            let c = committed.lock().unwrap();
                            let tx = c[(rng % c.len() as u64) as usize];
                            match batch {
                                Some(n) => batch_item_id(&tx, ((rng >> 32) % n as u64) as u32),
                                None => tx,
                            }
                        };
                        turn += 1;
                        let sent = Instant::now();
                        let r = clients[turn % clients.len()].receipt(&id);
                        let done = Instant::now();
                        match r {
                            Ok(_) => {
                                t.latencies_us.push((done - due).as_micros() as u64);
                                t.waits_us.push(sent.saturating_duration_since(due).as_micros() as u64);
                                t.services_us.push((done - sent).as_micros() as u64);
                            }
                            Err(e) => *t.errors.entry(error_key(&e)).or_default() += 1,
                        }
                    }
                })
            })
            .collect();
        let mut tally = ReceiptTally::default();
        for w in workers {
            tally.merge(w.join().expect("receipt fetcher"));
        }
        tally
    }))
}

/// The receipts part of the report.
fn receipt_report(a: &Args, t: &mut ReceiptTally) -> serde_json::Value {
    let ms = |v: &mut Vec<u64>| {
        v.sort_unstable();
        let f = |us: u64| (us as f64 / 100.0).round() / 10.0;
        serde_json::json!({
            "p50": f(percentile(v, 50.0)),
            "p90": f(percentile(v, 90.0)),
            "p99": f(percentile(v, 99.0)),
            "p999": f(percentile(v, 99.9)),
            "max": f(v.last().copied().unwrap_or(0)),
        })
    };
    let (latency, wait, service) = (ms(&mut t.latencies_us), ms(&mut t.waits_us), ms(&mut t.services_us));
    serde_json::json!({
        "rate_offered_per_s": a.receipt_rate,
        "workers": a.receipt_workers,
        "fetcher_slice_us": a.receipt_slice.map_or(0, |s| s.as_micros() as u64),
        "scheduled": t.scheduled,
        "skipped_queue_full": t.skipped_queue_full,
        "ok": t.latencies_us.len(),
        "errors": t.errors,
        "latency_ms": latency,
        "wait_ms": wait,
        "service_ms": service,
    })
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The signature ceiling, measured before anything is signed or sent (`--ceiling-secs 0`: none).
fn measure_ceiling(a: &Args) -> Option<Ceiling> {
    if a.ceiling_secs == 0.0 {
        return None;
    }
    let validators = a.local_validators.unwrap_or(a.nodes.len());
    eprintln!("loadgen: measuring the signature ceiling for {:.1} s ...", a.ceiling_secs);
    let o = CeilingOptions { duration: Duration::from_secs_f64(a.ceiling_secs), ..CeilingOptions::default() };
    let c = ceiling::measure(validators, &o).unwrap_or_else(|e| usage(&format!("ceiling: {e}")));
    eprintln!(
        "loadgen: {:.0} signatures/s on {} threads / {validators} validators = ceiling {:.0} deposits/s",
        c.verify_rate_per_s, c.threads, c.ceiling_deposits_per_s
    );
    Some(c)
}

/// The report with the ceiling and the committed rate's fraction of it.
fn with_ceiling(mut report: serde_json::Value, c: Option<&Ceiling>) -> serde_json::Value {
    if let Some(c) = c {
        let committed = report["committed_deposits_per_s"].as_f64().unwrap_or(0.0);
        report["ceiling"] = serde_json::to_value(c).expect("ceiling serializes");
        report["committed_over_ceiling"] = serde_json::json!((c.ratio(committed) * 1000.0).round() / 1000.0);
    }
    report
}

fn main() {
    let a = parse_args();
    let spec = Genesis::from_json(
        &std::fs::read(&a.genesis).unwrap_or_else(|e| usage(&format!("cannot read {}: {e}", a.genesis.display()))),
    )
    .unwrap_or_else(|e| usage(&format!("genesis: {e}")));
    let key = curia_node::config::read_key(&a.key).unwrap_or_else(|e| usage(&e.to_string()));
    let per_tx = a.batch.unwrap_or(1) as f64;
    let per_chunk = a.chunk.unwrap_or_else(|| ((a.rate / per_tx) * 0.05).ceil().max(1.0) as usize).clamp(1, 10_000);
    let start_height = client(&a.nodes[0], Duration::from_secs(60))
        .status()
        .map(|s| s.height)
        .unwrap_or_else(|e| usage(&format!("node {} does not answer /v1/status: {e}", a.nodes[0])));

    let ceiling = measure_ceiling(&a);
    eprintln!("loadgen: signing {} deposits ...", (a.rate * a.duration).ceil());
    let t = Instant::now();
    let chunks = prepare(&a, &key, &spec.chain_id, per_chunk);
    let n_txs: usize = chunks.iter().map(|c| c.tx_ids.len()).sum();
    let n_deposits: usize = chunks.iter().map(|c| c.deposits).sum();
    eprintln!(
        "loadgen: {n_txs} transactions in {} requests of {per_chunk}, signed in {:.1} s; sending to {} nodes",
        chunks.len(),
        t.elapsed().as_secs_f64(),
        a.nodes.len()
    );
    let deposits_of: HashMap<Hash, usize> =
        chunks.iter().flat_map(|c| c.tx_ids.iter().map(move |id| (*id, c.deposits / c.tx_ids.len()))).collect();
    let chunk_of: HashMap<Hash, usize> =
        chunks.iter().flat_map(|c| c.tx_ids.iter().map(move |id| (*id, c.index))).collect();

    // Open-loop schedule: chunk k is due at start + k * interval.
    let interval = Duration::from_secs_f64(per_chunk as f64 * per_tx / a.rate);
    let start = Instant::now() + Duration::from_millis(200);
    let start_ms = now_ms() + 200;
    let due_ms = |k: usize| start_ms + (interval.as_secs_f64() * 1000.0 * k as f64) as u64;
    let tally = Arc::new(Mutex::new(Tally::default()));
    let late = Arc::new(AtomicU64::new(0));
    let chunks = Arc::new(chunks);
    let (job_tx, job_rx) = mpsc::sync_channel::<usize>(a.workers * 4);
    let job_rx = Arc::new(Mutex::new(job_rx));
    let mut workers = Vec::new();
    for _ in 0..a.workers {
        let (rx, chunks, tally, nodes) = (job_rx.clone(), chunks.clone(), tally.clone(), a.nodes.clone());
        let binary = a.binary;
        let clients: Vec<Client> = nodes.iter().map(|n| client(n, Duration::from_secs(60))).collect();
        workers.push(named("sender", move || loop {
            let k = match rx.lock().unwrap().recv() {
                Ok(k) => k,
                Err(_) => return,
            };
            send(&clients[k % clients.len()], &chunks[k], binary, &tally);
        }));
    }

    // Commit watcher: follows node 0's blocks and times every transaction it knows.
    // Transactions of this run whose block has two successors on node 0, for the receipt load:
    // a receipt can be issued once the block has one, but the other nodes may be committing
    // that one while node 0 has it (they answer `receipt_pending` until then).
    let receipt_ready: Arc<Mutex<Vec<Hash>>> = Arc::new(Mutex::new(Vec::new()));
    let ours: Arc<std::collections::HashSet<Hash>> = Arc::new(chunk_of.keys().copied().collect());
    let watch_until = Arc::new(AtomicU64::new(u64::MAX));
    let watcher = {
        let (node, watch_until) = (a.nodes[0].clone(), watch_until.clone());
        let (ready, ours) = (receipt_ready.clone(), ours.clone());
        let want = n_txs;
        named("watcher", move || {
            let client = client(&node, Duration::from_secs(30));
            let mut next = start_height + 1;
            let mut commits: Vec<(Hash, u64)> = Vec::with_capacity(want);
            let mut blocks = 0u64;
            // Our transactions of the last two blocks seen, oldest first.
            let mut recent: [Vec<Hash>; 2] = Default::default();
            while now_ms() < watch_until.load(Ordering::Relaxed) && commits.len() < want {
                let Ok(b) = client.block_txs(next) else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                ready.lock().unwrap().append(&mut recent[0]);
                recent.swap(0, 1);
                recent[1] = b.tx_ids.iter().filter(|id| ours.contains(id)).copied().collect();
                commits.extend(b.tx_ids.into_iter().map(|h| (h, b.commit_time_ms)));
                blocks += 1;
                next += 1;
            }
            (commits, blocks, next - 1)
        })
    };

    let receipts_stop = Arc::new(AtomicBool::new(false));
    let receipts = receipt_load(&a, receipt_ready.clone(), receipts_stop.clone());

    for k in 0..chunks.len() {
        let due = start + interval.mul_f64(k as f64);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        } else if now - due > Duration::from_millis(100) {
            late.fetch_add(1, Ordering::Relaxed);
        }
        if job_tx.send(k).is_err() {
            break;
        }
        if k % (chunks.len() / 10).max(1) == 0 {
            eprintln!("loadgen: {:>3}% sent", k * 100 / chunks.len());
        }
    }
    drop(job_tx);
    for w in workers {
        let _ = w.join();
    }
    let send_end_ms = now_ms();
    receipts_stop.store(true, Ordering::Relaxed);
    let receipts = receipts.map(|h| h.join().expect("receipt load thread"));
    eprintln!("loadgen: all sent in {:.1} s; waiting up to {} s for commits", start.elapsed().as_secs_f64(), a.drain);
    watch_until.store(send_end_ms + (a.drain * 1000.0) as u64, Ordering::Relaxed);
    let (commits, blocks, last_height) = watcher.join().expect("watcher thread");

    let mut latencies: Vec<u64> = Vec::new();
    let mut committed_deposits = 0usize;
    let mut last_commit_ms = start_ms;
    for (id, at) in &commits {
        if let (Some(&k), Some(&d)) = (chunk_of.get(id), deposits_of.get(id)) {
            let lat = at.saturating_sub(due_ms(k));
            committed_deposits += d;
            last_commit_ms = last_commit_ms.max(*at);
            latencies.extend(std::iter::repeat_n(lat, d));
        }
    }
    latencies.sort_unstable();
    let span_s = (last_commit_ms.saturating_sub(start_ms)) as f64 / 1000.0;
    let t = tally.lock().unwrap();
    let report = serde_json::json!({
        "mode": if a.batch.is_some() { "batch" } else { "single" },
        "body": if a.binary { "binary" } else { "json" },
        "batch_size": a.batch.unwrap_or(1),
        "nodes": a.nodes.len(),
        "offered_rate_deposits_per_s": a.rate,
        "duration_s": a.duration,
        "txs_per_request": per_chunk,
        "requests_sent_late_100ms": late.load(Ordering::Relaxed),
        "deposits_offered": n_deposits,
        "txs_offered": n_txs,
        "txs_accepted": t.accepted_txs,
        "txs_rejected": t.rejected,
        "txs_failed_http": t.http_errors,
        "deposits_committed": committed_deposits,
        "committed_deposits_per_s": if span_s > 0.0 { (committed_deposits as f64 / span_s).round() } else { 0.0 },
        "span_s": span_s,
        "latency_ms": {
            "p50": percentile(&latencies, 50.0),
            "p90": percentile(&latencies, 90.0),
            "p99": percentile(&latencies, 99.0),
            "max": latencies.last().copied().unwrap_or(0),
        },
        "blocks": blocks,
        "deposits_per_block": (committed_deposits as u64).checked_div(blocks).unwrap_or(0),
        "heights": [start_height + 1, last_height],
        "sent_s": (send_end_ms.saturating_sub(start_ms)) as f64 / 1000.0,
    });
    let mut report = with_ceiling(report, ceiling.as_ref());
    if let Some(mut r) = receipts {
        report["receipts"] = receipt_report(&a, &mut r);
    }
    println!("{}", serde_json::to_string_pretty(&report).expect("report serializes"));
    if committed_deposits < n_deposits {
        eprintln!(
            "loadgen: {} of {n_deposits} deposits did not commit within the drain time",
            n_deposits - committed_deposits
        );
        std::process::exit(1);
    }
}
