//! Receipt latency for deposits in one big block: `Store::receipt` (one stored transaction and
//! the block's tree tiles) against `Store::receipt_from_block` (decode the whole block and hash
//! every leaf, the way every receipt was built before). Prints JSON on stdout.
//!
//! ```text
//! cargo run --profile test -p curia-storage --example receipt_latency -- --singles 19000 --batches 24
//! ```
//!
//! The store gets one block of `--singles` single deposits and `--batches` batches of
//! `--batch-size` items (at most 20,000 transactions, the block cap; defaults: 19,000 + 24 x
//! 1,000 = 43,000 deposits), then a small block so the big one's certificate is canonical, and is
//! flushed to disk. Blocks are signed and certified before the clock starts. Then `--requests`
//! receipts of random deposits of the big block are timed one by one with each method, single and
//! batch deposits apart; the two receipts are compared byte for byte every time.

use std::time::Instant;

use anyhow::{ensure, Context, Result};
use clap::Parser;
use curia_ledger::codec::Canonical;
use curia_ledger::hash::Hash;
use curia_ledger::testkit::TestChain;
use curia_storage::Store;

#[derive(Parser)]
#[command(about = "Receipt latency in a big block: per-transaction layout vs whole-block decoding")]
struct Args {
    /// Single deposits in the big block.
    #[arg(long, default_value_t = 19_000)]
    singles: usize,
    /// Batch deposits in the big block.
    #[arg(long, default_value_t = 24)]
    batches: usize,
    /// Items per batch.
    #[arg(long, default_value_t = 1000)]
    batch_size: usize,
    /// Receipts timed per method and kind.
    #[arg(long, default_value_t = 1000)]
    requests: usize,
    /// Seed of the request order.
    #[arg(long, default_value_t = 0x5eed)]
    seed: u64,
}

fn percentiles(mut us: Vec<f64>) -> serde_json::Value {
    us.sort_by(|a, b| a.total_cmp(b));
    // Nearest rank, in ms with microsecond precision.
    let ms = |q: f64| {
        let i = ((q / 100.0) * us.len() as f64).ceil() as usize;
        us[i.clamp(1, us.len()) - 1].round() / 1000.0
    };
    serde_json::json!({ "n": us.len(), "p50_ms": ms(50.0), "p99_ms": ms(99.0), "max_ms": ms(100.0) })
}

fn main() -> Result<()> {
    let a = Args::parse();
    ensure!(a.singles + a.batches <= 20_000, "at most 20000 transactions in a block (--singles + --batches)");
    ensure!(a.singles + a.batches > 0 && a.requests > 0, "nothing to measure");
    eprintln!("receipt_latency: signing {} single deposits and {} batches ...", a.singles, a.batches);
    let mut c = TestChain::new(4);
    let mut txs: Vec<_> = (0..a.singles).map(|i| c.deposit("platform", format!("s{i}").as_bytes(), i as u64)).collect();
    for b in 0..a.batches {
        let digests = (0..a.batch_size).map(|k| Hash::sha256(format!("b{b}-{k}").as_bytes())).collect();
        txs.push(c.batch("platform2", digests, b as u64));
    }
    let rejected = c.commit(txs);
    if let Some((_, e)) = rejected.first() {
        anyhow::bail!("the big block left out {} transactions, e.g.: {e}", rejected.len());
    }
    ensure!(c.commit(vec![c.deposit("platform", b"next", u64::MAX)]).is_empty(), "second block");

    let dir = tempfile::tempdir().context("temp dir")?;
    let store = Store::open(dir.path(), &c.spec)?;
    let t = Instant::now();
    for (b, cert) in &c.blocks {
        let changes = store.execute(b)?;
        store.commit_block(b, cert, &changes)?;
    }
    let commit_ms = t.elapsed().as_secs_f64() * 1000.0;
    store.flush()?;
    let (block, _) = &c.blocks[0];
    let mut singles = Vec::new();
    let mut items = Vec::new();
    for tx in &block.txs {
        let id = tx.id(&c.spec.chain_id);
        for (d, _) in tx.deposits(&id) {
            if tx.items.is_empty() {
                singles.push(d);
            } else {
                items.push(d);
            }
        }
    }
    let deposits = singles.len() + items.len();
    eprintln!("receipt_latency: block of {deposits} deposits committed in {commit_ms:.0} ms; timing receipts ...");
    let mut rng = a.seed | 1;
    let mut pick = |ids: &[Hash]| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        ids[(rng % ids.len() as u64) as usize]
    };
    let mut report = serde_json::Map::new();
    for (kind, ids) in [("single", &singles), ("batch_item", &items)] {
        if ids.is_empty() {
            continue;
        }
        let (mut fast, mut slow) = (Vec::new(), Vec::new());
        for _ in 0..a.requests {
            let id = pick(ids);
            let t = Instant::now();
            let r1 = store.receipt(&id)?.context("receipt")?;
            fast.push(t.elapsed().as_secs_f64() * 1e6);
            let t = Instant::now();
            let r2 = store.receipt_from_block(&id)?.context("receipt from block")?;
            slow.push(t.elapsed().as_secs_f64() * 1e6);
            ensure!(r1.to_bytes() == r2.to_bytes(), "the two receipts of {id} differ");
        }
        report.insert(kind.into(), serde_json::json!({ "tiles": percentiles(fast), "whole_block": percentiles(slow) }));
    }
    let out = serde_json::json!({
        "block_deposits": deposits,
        "block_txs": block.txs.len(),
        "commit_ms": commit_ms.round(),
        "requests_per_kind": a.requests,
        "latency": report,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
