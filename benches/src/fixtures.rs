//! Data for the criterion benchmarks (`benches/benches/*.rs`): signed transactions, blocks built
//! on a [`TestChain`], and stores committed to a fresh directory under the system temp dir that
//! is removed when the [`TempStore`] is dropped.
//!
//! Everything is deterministic (test keys, nonces from a counter) and built with the node's own
//! code (`curia_ledger::state::build_block_with`, `Store::commit_block`), so the benchmarks time
//! exactly the code paths a node runs.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use curia_ledger::block::Block;
use curia_ledger::hash::Hash;
use curia_ledger::state::{build_block_with, Change, Tip};
use curia_ledger::testkit::TestChain;
use curia_ledger::tx::Transaction;
use curia_storage::Store;

/// Nonces unique within one process, so that no two fixtures collide as replays.
static NONCE: AtomicU64 = AtomicU64::new(1);

fn nonce() -> u64 {
    NONCE.fetch_add(1, Ordering::Relaxed)
}

/// `n` single deposits by the genesis client `platform`, each of distinct data.
pub fn singles(chain: &TestChain, n: usize) -> Vec<Transaction> {
    (0..n)
        .map(|_| {
            let k = nonce();
            chain.deposit("platform", format!("bench single {k}").as_bytes(), k)
        })
        .collect()
}

/// `n` batch deposits of `items` digests each by the genesis client `platform2`.
pub fn batches(chain: &TestChain, n: usize, items: usize) -> Vec<Transaction> {
    (0..n)
        .map(|_| {
            let k = nonce();
            let digests = (0..items).map(|i| Hash::sha256(format!("bench batch {k} item {i}").as_bytes())).collect();
            chain.batch("platform2", digests, k)
        })
        .collect()
}

/// The next block on `chain` holding `txs` (signatures not verified again: the fixtures signed
/// them), with its state changes. Panics if any transaction is left out, so a benchmark never
/// times a smaller block than it says.
pub fn next_block(chain: &TestChain, txs: Vec<Transaction>) -> (Block, Vec<Change>) {
    let set = chain.set_at(chain.tip.height + 1);
    let proposer = set.validators[(chain.tip.height as usize) % set.len()].key;
    let n = txs.len();
    let built =
        build_block_with(&chain.spec, &chain.state, &chain.tip, txs, chain.proposing(proposer), &|_, _| true).unwrap();
    assert!(built.rejected.is_empty(), "fixture transactions left out: {:?}", built.rejected.first());
    assert_eq!(built.block.txs.len(), n);
    (built.block, built.changes)
}

/// Append `block` (with `changes`) to `chain` as committed, certified by every validator, and
/// to `store` if given.
pub fn commit(chain: &mut TestChain, store: Option<&Store>, block: Block, changes: &[Change]) {
    let cert = chain.certify(&block, 0);
    if let Some(store) = store {
        store.commit_block(&block, &cert, changes).expect("fixture block commits");
    }
    chain.state.apply(changes);
    chain.tip = Tip::after(&block.header);
    chain.blocks.push((block, cert));
    chain.now_ms += 1000;
}

/// A store in a fresh temporary directory, removed on drop.
pub struct TempStore {
    /// The store (an `Option` only so that drop can close it before removing the directory).
    store: Option<Store>,
    dir: PathBuf,
}

impl TempStore {
    /// A fresh store for `chain`'s spec in a new directory named after `what`.
    pub fn new(chain: &TestChain, what: &str) -> TempStore {
        let dir = temp_dir(what);
        let store = Store::open(&dir, &chain.spec).expect("open the fixture store");
        TempStore { store: Some(store), dir }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        self.store.as_ref().expect("open until dropped")
    }

    /// The directory (for scratch directories next to the store).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for TempStore {
    fn drop(&mut self) {
        drop(self.store.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A new, not yet existing directory under the system temp dir.
pub fn temp_dir(what: &str) -> PathBuf {
    std::env::temp_dir().join(format!("curia-bench-{what}-{}-{}", std::process::id(), nonce()))
}

/// A chain of `blocks` blocks, each of `batches_per_block` batches of `items` items plus
/// `singles_per_block` single deposits, committed to a fresh store. Returns the chain (its
/// blocks and state), the store, and the number of deposits.
pub fn store_of(
    what: &str,
    blocks: usize,
    batches_per_block: usize,
    items: usize,
    singles_per_block: usize,
) -> (TestChain, TempStore, u64) {
    let mut chain = TestChain::new(4);
    let store = TempStore::new(&chain, what);
    let mut deposits = 0u64;
    for _ in 0..blocks {
        let mut txs = batches(&chain, batches_per_block, items);
        txs.extend(singles(&chain, singles_per_block));
        deposits += (batches_per_block * items + singles_per_block) as u64;
        let (block, changes) = next_block(&chain, txs);
        commit(&mut chain, Some(store.store()), block, &changes);
    }
    (chain, store, deposits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixture_store_holds_every_deposit_and_is_removed_on_drop() {
        let (chain, store, deposits) = store_of("fixture-test", 2, 2, 10, 3);
        assert_eq!(deposits, 46);
        assert_eq!(store.store().tip().height, 2);
        for (block, _) in &chain.blocks {
            for tx in &block.txs {
                let id = tx.id(&chain.spec.chain_id);
                for (dep, _) in tx.deposits(&id) {
                    assert!(store.store().deposit_location(&dep).unwrap().is_some());
                }
            }
        }
        let dir = store.dir().to_path_buf();
        assert!(dir.exists());
        drop(store);
        assert!(!dir.exists());
    }
}
