//! Building a deposit's receipt from the store, for a deposit in a block of 43,000 deposits
//! (42 batches of 1,000 items and 1,000 single deposits), as `GET /v1/deposits/{id}/receipt`
//! does:
//! - `layout`: `Store::receipt`, the current path: the deposit's index entry, its transaction
//!   read alone, and the block's Merkle path from the stored tree tiles (`O(log n)` reads and
//!   hashing);
//! - `whole_block`: `Store::receipt_from_block`, the old path still used for blocks committed
//!   before the per-transaction layout: decode the whole block and hash every leaf.
//!
//! Each for a batch item and a single deposit in the middle of the block. Both include the
//! membership history embedded in every receipt. Bounded by the CPU and RocksDB reads (block
//! cache warm after the first iteration); `whole_block` grows with the block, `layout` with its
//! logarithm.
//! Run: `cargo bench -p curia-benches --bench receipt`.

// criterion's macros generate undocumented functions.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use curia_benches::fixtures;

fn bench(c: &mut Criterion) {
    let (chain, store, deposits) = fixtures::store_of("receipt", 1, 42, 1000, 1000);
    assert_eq!(deposits, 43_000);
    // One more block, so that the deposit's block is not the tip.
    let mut chain = chain;
    let (block, changes) = fixtures::next_block(&chain, Vec::new());
    fixtures::commit(&mut chain, Some(store.store()), block, &changes);
    let (block, _) = &chain.blocks[0];
    let id_of = |i: usize| {
        let tx = &block.txs[i];
        let id = tx.id(&chain.spec.chain_id);
        let deps = tx.deposits(&id);
        deps[deps.len() / 2].0
    };
    let cases = [("batch_item", id_of(21)), ("single", id_of(42 + 500))];
    let s = store.store();
    for (_, id) in &cases {
        let a = s.receipt(id).expect("reads").expect("found");
        let b = s.receipt_from_block(id).expect("reads").expect("found");
        assert_eq!(a, b, "both paths build the same receipt");
        assert_eq!(a.deposit_id, *id);
    }
    let mut g = c.benchmark_group("receipt_43k_block");
    for (what, id) in &cases {
        g.bench_function(format!("{what}/layout"), |b| b.iter(|| s.receipt(id).expect("reads").expect("found")));
        g.bench_function(format!("{what}/whole_block"), |b| {
            b.iter(|| s.receipt_from_block(id).expect("reads").expect("found"))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
