//! The audit replay (`curia_storage::audit_store`, what `curia audit --data-dir` runs): every
//! block read, its indexes checked, and the ledger's audit (certificate, links, signatures, state
//! rules, state root, deposit log) replayed, over a store of 10 blocks of 4 batches of 1,000
//! items and 100 single deposits (41,000 deposits):
//! - `scratch`: the replayed state in a scratch RocksDB on disk (the default; bounded memory);
//! - `in_memory`: the replayed state in memory (`--in-memory`, about 100 bytes per deposit).
//!
//! Throughput is in deposits, so the figure is the cost of the audit step per deposit. Bounded by
//! the index reads (three random reads per deposit: `deposits`, `digests`, `tlog_index`) and
//! hashing (each deposit ID and leaf once, the state root), spread over two reading threads and
//! the replay thread; one scratch write per transaction (a store's audit keeps no deposit IDs);
//! `scratch` also pays for creating and removing its RocksDB each iteration.
//! Run: `cargo bench -p curia-benches --bench audit`.

// criterion's macros generate undocumented functions.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use curia_benches::fixtures;
use curia_storage::{audit_store, AuditOptions};

fn bench(c: &mut Criterion) {
    let (_chain, store, deposits) = fixtures::store_of("audit", 10, 4, 1000, 100);
    let s = store.store();
    let mut g = c.benchmark_group("audit");
    g.sample_size(10);
    g.throughput(Throughput::Elements(deposits));
    for (name, in_memory) in [("scratch", false), ("in_memory", true)] {
        let options = AuditOptions { in_memory, ..AuditOptions::default() };
        let summary = audit_store(s, None, &options, |_| {}).expect("the audit runs");
        assert!(summary.failure.is_none(), "the fixture store audits clean: {:?}", summary.failure);
        assert_eq!(summary.deposits, deposits);
        g.bench_function(name, |b| b.iter(|| audit_store(s, None, &options, |_| {}).expect("the audit runs")));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
