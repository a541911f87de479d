//! Building a deposit's receipt from the store, as `GET /v1/deposits/{id}/receipt` does, for a
//! deposit in a block of 43,000 deposits (42 batches of 1,000 items and 1,000 single deposits)
//! and for an item of a batch of 10,000 items (the most a batch may hold, in the next block):
//! - `layout`: `Store::receipt`, the current path: the deposit's index entry and the block's
//!   Merkle path from the stored tree tiles; for a single deposit its transaction read alone,
//!   for a batch item its batch read without items and the batch's Merkle path from the stored
//!   item-tree tiles (`O(log n)` reads and hashing in the block's and the batch's size);
//! - `tx_layout`: `Store::receipt` on a copy of the store opened as a store written before the
//!   batch layout (batch items only): the batch transaction read with all its items and the
//!   batch tree hashed whole, the path every batch item took before the batch layout and older
//!   blocks still take;
//! - `whole_block`: `Store::receipt_from_block`, the path of blocks committed before the
//!   per-transaction layout: decode the whole block and hash every leaf;
//! - `batch10k/read_whole_tx` and `batch10k/read_bare_tx`: reading the batch of 10,000 items
//!   with its items as stored whole before `batch_slim_from` (`Store::block_tx` on the old copy,
//!   what `tx_layout` reads) and without (`Store::batch_tx`, what `layout` reads);
//!   `batch10k/assemble_whole_tx`: `Store::block_tx` on the current store, which has no whole
//!   copy of a batch and assembles it from the batch layout (tiles read, root checked).
//!
//! Every receipt includes the membership history embedded in it. Bounded by the CPU and RocksDB
//! reads (block cache warm after the first iteration).
//! Run: `cargo bench -p curia-benches --bench receipt`.

// criterion's macros generate undocumented functions.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use curia_benches::fixtures;
use curia_ledger::codec::Canonical;
use curia_storage::{cf, Store};

fn bench(c: &mut Criterion) {
    let (chain, store, deposits) = fixtures::store_of("receipt", 1, 42, 1000, 1000);
    assert_eq!(deposits, 43_000);
    let mut chain = chain;
    // Block 2: one batch of 10,000 items.
    let (block, changes) = fixtures::next_block(&chain, fixtures::batches(&chain, 1, 10_000));
    fixtures::commit(&mut chain, Some(store.store()), block, &changes);
    // One more block, so that the deposits' blocks are not the tip.
    let (block, changes) = fixtures::next_block(&chain, Vec::new());
    fixtures::commit(&mut chain, Some(store.store()), block, &changes);
    let id_of = |h: usize, i: usize| {
        let tx = &chain.blocks[h - 1].0.txs[i];
        let id = tx.id(&chain.spec.chain_id);
        let deps = tx.deposits(&id);
        deps[deps.len() / 2].0
    };
    let cases = [
        ("batch_item", id_of(1, 21), true),
        ("single", id_of(1, 42 + 500), false),
        ("batch10k_item", id_of(2, 0), true),
    ];
    let s = store.store();
    // A copy of the store as a store written before the batch layout: without the meta keys, it
    // is reopened with the layout from the block after its tip, so blocks 1 and 2 take the old
    // path (their tiles stay on disk, unread), with their batches stored whole in block_txs as
    // such a store has them.
    let old_dir = fixtures::temp_dir("receipt-old");
    s.checkpoint(&old_dir).expect("checkpoint");
    {
        let o = Store::open_existing(&old_dir).expect("open copy");
        o.raw_delete_for_tests(cf::META, b"batch_layout_from").expect("delete");
        o.raw_delete_for_tests(cf::META, b"batch_slim_from").expect("delete");
        for (h, (b, _)) in chain.blocks.iter().enumerate().take(2) {
            for (i, tx) in b.txs.iter().enumerate().filter(|(_, tx)| !tx.items.is_empty()) {
                let mut key = (h as u64 + 1).to_be_bytes().to_vec();
                key.extend_from_slice(&(i as u32).to_be_bytes());
                o.raw_put_sealed_for_tests(cf::BLOCK_TXS, &key, &tx.to_bytes()).expect("put");
            }
        }
    }
    let old = Store::open_existing(&old_dir).expect("reopen copy");
    assert_eq!((old.batch_layout_from(), old.batch_slim_from()), (4, 4));
    assert_eq!(s.block_tx(2, 0).expect("reads"), old.block_tx(2, 0).expect("reads"), "assembled = stored whole");
    for (_, id, _) in &cases {
        let a = s.receipt(id).expect("reads").expect("found");
        let b = s.receipt_from_block(id).expect("reads").expect("found");
        let o = old.receipt(id).expect("reads").expect("found");
        assert_eq!(a, b, "both paths build the same receipt");
        assert_eq!(a, o, "the old path builds the same receipt");
        assert_eq!(a.deposit_id, *id);
    }
    let mut g = c.benchmark_group("receipt_43k_block");
    for (what, id, batch) in &cases {
        g.bench_function(format!("{what}/layout"), |b| b.iter(|| s.receipt(id).expect("reads").expect("found")));
        if *batch {
            g.bench_function(format!("{what}/tx_layout"), |b| {
                b.iter(|| old.receipt(id).expect("reads").expect("found"))
            });
        }
        g.bench_function(format!("{what}/whole_block"), |b| {
            b.iter(|| s.receipt_from_block(id).expect("reads").expect("found"))
        });
    }
    g.bench_function("batch10k/read_whole_tx", |b| b.iter(|| old.block_tx(2, 0).expect("reads").expect("found")));
    g.bench_function("batch10k/assemble_whole_tx", |b| b.iter(|| s.block_tx(2, 0).expect("reads").expect("found")));
    g.bench_function("batch10k/read_bare_tx", |b| b.iter(|| s.batch_tx(2, 0).expect("reads").expect("found")));
    g.finish();
    drop(old);
    let _ = std::fs::remove_dir_all(&old_dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
