//! Validating a peer's block (`curia_ledger::state::apply_block_with`, what a validator runs on
//! every proposal): header links, transaction root, every state rule, the state root, and the
//! stateless checks of each transaction (shape, a batch's items against its signed root, the
//! signature):
//! - `validate_1000_singles/mempool_known`: 1,000 single deposits, every one already in this
//!   validator's mempool (a real [`curia_node::mempool::Mempool`], whose `holds` is the
//!   executor's predicate), so what the mempool vouches for is not checked again (the usual case
//!   under load, since deposits are gossiped before they are proposed);
//! - `validate_1000_singles/verify_signatures`: none known, so all 1,000 signatures are
//!   batch-verified;
//! - `validate_8_batches_of_1000/mempool_known` and `/not_known`: a block of 8 batch deposits of
//!   1,000 items (8,000 deposits), all in the mempool, or none (then each batch's item tree is
//!   hashed and its 8 signatures verified): the per-item work of a validator under batch load;
//! - `admit_8_batches_of_1000/client_with_deposit_ids` and `/gossip_ids_only`: admitting those
//!   8 batches to a mempool once their checks passed, answered with every deposit ID (a
//!   client's submission) or with the transaction IDs alone (a peer's gossip).
//!
//! Throughput is in deposits. Bounded by the CPU (one core): SHA-256 (transaction IDs, batch
//! item trees, deposit IDs, Merkle leaves, state root) when known, plus ed25519 when not; state
//! reads are from an in-memory state here.
//! Run: `cargo bench -p curia-benches --bench block`.

// criterion's macros generate undocumented functions.
#![allow(missing_docs)]

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use curia_benches::fixtures;
use curia_ledger::state::{apply_block_with, verify_all};
use curia_ledger::testkit::TestChain;
use curia_ledger::tx::Transaction;
use curia_node::mempool::{Mempool, MempoolConfig};

const SINGLES: usize = 1000;
const BATCHES: usize = 8;
const ITEMS: usize = 1000;

/// A mempool holding `txs`, each admitted with the node's own checks.
fn mempool_of(chain: &TestChain, txs: &[Transaction]) -> Mempool {
    let mut pool = Mempool::new(Arc::new(chain.spec.clone()), MempoolConfig::default());
    for r in pool.submit(&chain.state, txs.to_vec()).expect("a submission within the limit") {
        r.expect("the fixture transaction is admitted");
    }
    pool
}

fn bench(c: &mut Criterion) {
    let chain = TestChain::new(4);
    let mut g = c.benchmark_group("block");
    let cases = [
        ("validate_1000_singles", SINGLES, fixtures::singles(&chain, SINGLES)),
        ("validate_8_batches_of_1000", BATCHES * ITEMS, fixtures::batches(&chain, BATCHES, ITEMS)),
    ];
    for (name, deposits, txs) in cases {
        let pool = mempool_of(&chain, &txs);
        let (block, changes) = fixtures::next_block(&chain, txs);
        let holds = |id: &_, tx: &_| pool.holds(id, tx);
        let check =
            apply_block_with(&chain.spec, &chain.state, &chain.tip, &block, &holds).expect("the block is valid");
        assert_eq!(check, changes);
        g.throughput(Throughput::Elements(deposits as u64));
        g.bench_function(format!("{name}/mempool_known"), |b| {
            b.iter(|| apply_block_with(&chain.spec, &chain.state, &chain.tip, &block, &holds).expect("valid"))
        });
        let unknown = if deposits == SINGLES { "verify_signatures" } else { "not_known" };
        g.bench_function(format!("{name}/{unknown}"), |b| {
            b.iter(|| apply_block_with(&chain.spec, &chain.state, &chain.tip, &block, &verify_all).expect("valid"))
        });
    }
    // Admitting a submission of 8 batches of 1,000 whose checks passed (`check_admission`, done
    // beforehand): as a client's (answered with the deposit IDs) and as a peer's gossip (IDs
    // alone, what every validator but the one the client chose does).
    let txs = fixtures::batches(&chain, BATCHES, ITEMS);
    let checks = curia_node::mempool::check_admission(&chain.spec, &chain.state, &txs);
    let spec = Arc::new(chain.spec.clone());
    let fresh = || (Mempool::new(spec.clone(), MempoolConfig::default()), txs.clone(), checks.clone());
    g.throughput(Throughput::Elements((BATCHES * ITEMS) as u64));
    g.bench_function("admit_8_batches_of_1000/client_with_deposit_ids", |b| {
        b.iter_batched(fresh, |(mut m, t, c)| m.admit(&chain.state, t, c), BatchSize::LargeInput)
    });
    g.bench_function("admit_8_batches_of_1000/gossip_ids_only", |b| {
        b.iter_batched(fresh, |(mut m, t, c)| m.admit_ids(&chain.state, t, c), BatchSize::LargeInput)
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
