//! A store of a chain whose headers commit to the deposit log (genesis `log_in_header`): the
//! store's state transition reads the log frontier, refuses a header naming another log, and
//! both receipt builders add each deposit's log position, which verifies.

use crate::common;

use curia_ledger::deposit_log::block_leaves;
use curia_ledger::testkit::TestChain;
use curia_ledger::verify::{verify_receipt, Evidence};
use curia_storage::{audit_store, AuditOptions, Store};

#[test]
fn log_in_header_store_executes_and_serves_log_positions() {
    let c = common::chain_on(TestChain::new_with_log(4), 7, 6);
    let ch = common::changes(&c);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &c.spec).unwrap();
    let last = c.blocks.len() - 1;
    for ((b, cert), changes) in c.blocks[..last].iter().zip(&ch) {
        // The store's own state transition (StoreState, its log frontier read from disk).
        assert_eq!(&store.execute(b).unwrap(), changes, "block {}", b.header.height);
        store.commit_block(b, cert, changes).unwrap();
        assert_eq!(store.log_frontier().unwrap().root(), b.header.log_root.unwrap());
    }
    // The next block with another log root or size is refused by the store's execution.
    let (next, _) = &c.blocks[last];
    for (size, root) in
        [(next.header.log_size.unwrap(), curia_ledger::Hash::sha256(b"x")), (0, next.header.log_root.unwrap())]
    {
        let mut forged = next.clone();
        forged.header.log_size = Some(size);
        forged.header.log_root = Some(root);
        let e = store.execute(&forged).unwrap_err();
        assert_eq!(e.code(), "log_commitment_mismatch", "{e}");
    }
    assert_eq!(store.execute(next).unwrap(), ch[last]);
    store.commit_block(next, &c.blocks[last].1, &ch[last]).unwrap();

    // Every deposit's receipt is version 3 with its leaf index, from both builders, and verifies.
    let mut index = 0u64;
    for (b, _) in &c.blocks {
        for (id, _) in block_leaves(&c.spec.chain_id, b) {
            let r = store.receipt(&id).unwrap().unwrap();
            assert_eq!((r.version, r.log_index), (3, Some(index)), "deposit {id}");
            assert_eq!(store.receipt_from_block(&id).unwrap().unwrap(), r);
            assert_eq!(r, c.receipt(&id).unwrap(), "the store and the test chain agree");
            let rep = verify_receipt(Evidence::Digest(r.commitment_hash().unwrap()), &r, &c.spec);
            assert!(rep.is_valid(), "{:?}", rep.first_failure());
            assert!(rep.checks.iter().any(|k| k.name == "log_position" && k.ok));
            index += 1;
        }
    }
    assert_eq!(index, 7 * 7);
    let s = audit_store(&store, Some(&c.spec), &AuditOptions::default(), |_| {}).unwrap();
    assert!(s.failure.is_none(), "{:?}", s.failure);
    assert_eq!(s.blocks, 7);
}

/// Readers see the log's height and size as one pair while blocks commit: every pair read
/// during the commits is the log's state after some committed block (its leaves counted from
/// the blocks), never one block's height with another's size.
#[test]
fn log_state_is_one_consistent_pair_under_commits() {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicBool, Ordering};

    let c = common::chain(40, 3);
    let ch = common::changes(&c);
    let mut size_at = HashMap::new();
    let mut size = 0u64;
    for (b, _) in &c.blocks {
        size += block_leaves(&c.spec.chain_id, b).len() as u64;
        size_at.insert(b.header.height, size);
    }
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &c.spec).unwrap();
    size_at.insert(0, 0);
    let done = AtomicBool::new(false);
    let reads = std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut reads = 0u64;
            while !done.load(Ordering::Acquire) {
                let st = store.log_state().expect("a writable store has a log");
                assert_eq!(Some(&st.size), size_at.get(&st.height), "height {} read with size {}", st.height, st.size);
                reads += 1;
            }
            reads
        });
        for ((b, cert), changes) in c.blocks.iter().zip(&ch) {
            store.commit_block(b, cert, changes).unwrap();
        }
        done.store(true, Ordering::Release);
        reader.join().unwrap()
    });
    assert!(reads > 0);
    let last = store.log_state().unwrap();
    assert_eq!((last.height, last.size), (40, size));
}
