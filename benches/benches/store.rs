//! Committing a block to the store (`curia_storage::Store::commit_block`, the node's commit after
//! consensus): block, certificate, state changes, indexes and the new tip in one atomic, synced
//! RocksDB write, in a fresh store under the system temp dir.
//! - `singles_1000`: a block of 1,000 single deposits (one transaction each);
//! - `batches_4x1000`: a block of 4 batch deposits of 1,000 items.
//!
//! Throughput is in deposits; each iteration commits a new block on top of the last (built
//! before the clock starts). Bounded by the CPU (encoding, checksums, hashing of the deposit
//! log and transaction layout, RocksDB's memtable) and by the disk's sync latency, which on a
//! shared machine varies from run to run; later iterations also pay for background flushes and
//! compactions of the earlier ones.
//! Run: `cargo bench -p curia-benches --bench store`.

// criterion's macros generate undocumented functions.
#![allow(missing_docs)]

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use curia_benches::fixtures::{self, TempStore};
use curia_ledger::testkit::TestChain;
use curia_ledger::tx::Transaction;

/// Makes the transactions of one block on a chain.
type MakeTxs<'a> = &'a dyn Fn(&TestChain) -> Vec<Transaction>;

/// Time `iters` commits of blocks made by `make`, each on top of the last.
fn commits(chain: &mut TestChain, store: &TempStore, iters: u64, make: MakeTxs) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let (block, changes) = fixtures::next_block(chain, make(chain));
        let cert = chain.certify(&block, 0);
        let t = Instant::now();
        store.store().commit_block(&block, &cert, &changes).expect("commits");
        total += t.elapsed();
        chain.state.apply(&changes);
        chain.tip = curia_ledger::state::Tip::after(&block.header);
        chain.blocks.clear();
        chain.blocks.push((block, cert));
        chain.now_ms += 1000;
    }
    total
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("store");
    g.sample_size(10);
    let cases: [(&str, u64, MakeTxs); 2] = [
        ("commit/singles_1000", 1000, &|c| fixtures::singles(c, 1000)),
        ("commit/batches_4x1000", 4000, &|c| fixtures::batches(c, 4, 1000)),
    ];
    for (name, deposits, make) in cases {
        let mut chain = TestChain::new(4);
        let store = TempStore::new(&chain, "store");
        g.throughput(Throughput::Elements(deposits));
        g.bench_function(name, |b| b.iter_custom(|iters| commits(&mut chain, &store, iters, make)));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
