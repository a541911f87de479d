//! Validating a peer's block of 1,000 single deposits (`curia_ledger::state::apply_block_with`,
//! what a validator runs on every proposal): header links, transaction root, every state rule,
//! the state root, and the signatures:
//! - `mempool_known`: every transaction already in this validator's mempool, so its signature
//!   is not verified again (the executor's `pool.holds` check; the usual case under load, since
//!   deposits are gossiped before they are proposed);
//! - `verify_signatures`: none known, so all 1,000 signatures are batch-verified.
//!
//! Throughput is in deposits. Bounded by the CPU (one core): SHA-256 (transaction IDs, Merkle
//! leaves, state root) for `mempool_known`, ed25519 for `verify_signatures`; state reads are
//! from an in-memory state here.
//! Run: `cargo bench -p curia-benches --bench block`.

// criterion's macros generate undocumented functions.
#![allow(missing_docs)]

use std::collections::HashSet;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use curia_benches::fixtures;
use curia_ledger::state::{apply_block_with, verify_all};
use curia_ledger::testkit::TestChain;

const N: usize = 1000;

fn bench(c: &mut Criterion) {
    let chain = TestChain::new(4);
    let txs = fixtures::singles(&chain, N);
    let known: HashSet<_> = txs.iter().map(|t| (t.id(&chain.spec.chain_id), t.signature.0)).collect();
    let (block, changes) = fixtures::next_block(&chain, txs);
    let holds = |id: &_, sig: &curia_ledger::crypto::Signature| known.contains(&(*id, sig.0));
    let check = apply_block_with(&chain.spec, &chain.state, &chain.tip, &block, &holds).expect("the block is valid");
    assert_eq!(check, changes);

    let mut g = c.benchmark_group("block");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("validate_1000_singles/mempool_known", |b| {
        b.iter(|| apply_block_with(&chain.spec, &chain.state, &chain.tip, &block, &holds).expect("valid"))
    });
    g.bench_function("validate_1000_singles/verify_signatures", |b| {
        b.iter(|| apply_block_with(&chain.spec, &chain.state, &chain.tip, &block, &verify_all).expect("valid"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
