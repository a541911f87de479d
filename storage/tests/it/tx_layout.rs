//! The per-transaction layout: receipts built from one stored transaction and the block's tree
//! tiles are byte for byte those built from the whole block; older stores (no layout) keep
//! working; corrupt tiles are refused by name.

use crate::common;

use curia_ledger::codec::Canonical;
use curia_ledger::hash::Hash;
use curia_ledger::receipt::Receipt;
use curia_ledger::testkit::TestChain;
use curia_storage::{cf, Store, StoreError};

/// Block 1: `singles` single deposits (more than a tile's 256, so the tree has two bands) and
/// one batch of 300 items; block 2: one deposit, so block 1's certificate is canonical.
fn big_chain(singles: usize) -> TestChain {
    let mut c = TestChain::new(4);
    let mut txs: Vec<_> = (0..singles).map(|i| c.deposit("platform", format!("d{i}").as_bytes(), i as u64)).collect();
    txs.push(c.batch("platform2", (0..300).map(|k| common::item_digest(1, k)).collect(), 1));
    assert!(c.commit(txs).is_empty());
    assert!(c.commit(vec![c.deposit("platform", b"last", 1_000_000)]).is_empty());
    c
}

fn commit_all(store: &Store, c: &TestChain) {
    for ((b, cert), ch) in c.blocks.iter().zip(common::changes(c)) {
        store.commit_block(b, cert, &ch).unwrap();
    }
}

/// Every deposit of block `h` with its (tx index, item index).
fn deposits_of(c: &TestChain, h: u64) -> Vec<Hash> {
    let (b, _) = &c.blocks[h as usize - 1];
    b.txs.iter().flat_map(|tx| tx.deposits(&tx.id(&c.spec.chain_id)).into_iter().map(|d| d.0)).collect()
}

#[test]
fn receipts_from_tiles_equal_receipts_from_the_block() {
    let c = big_chain(600);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &c.spec).unwrap();
    assert_eq!(store.tx_layout_from(), 1);
    commit_all(&store, &c);
    for h in 1..=2 {
        for (k, id) in deposits_of(&c, h).iter().enumerate() {
            if h == 1 && k % 7 != 0 && k < 590 {
                continue; // every 7th, plus the tree's right edge and the whole batch
            }
            let fast = store.receipt(id).unwrap().unwrap();
            let slow = store.receipt_from_block(id).unwrap().unwrap();
            assert_eq!(fast.to_bytes(), slow.to_bytes(), "deposit {k} of block {h}");
            let expected = c.receipt(id).unwrap();
            assert_eq!(fast, expected, "deposit {k} of block {h}");
        }
    }
    // The stored transaction is the block's.
    assert_eq!(store.block_tx(1, 5).unwrap().as_ref(), Some(&c.blocks[0].0.txs[5]));
    assert!(store.block_tx(1, 601).unwrap().is_none());
    assert!(store.receipt(&Hash::sha256(b"nothing")).unwrap().is_none());
}

#[test]
fn a_store_from_before_the_layout_gets_it_from_the_next_block_on() {
    let c = big_chain(300);
    let dir = tempfile::tempdir().unwrap();
    let changes = common::changes(&c);
    {
        let store = Store::open(dir.path(), &c.spec).unwrap();
        store.commit_block(&c.blocks[0].0, &c.blocks[0].1, &changes[0]).unwrap();
        // As a store written before the layout: no layout heights (nor the later batch layout's,
        // whose block-1 tiles stay on disk, unread) and no entries for block 1.
        for k in [&b"tx_layout_from"[..], b"batch_layout_from", b"batch_slim_from"] {
            store.raw_delete_for_tests(cf::META, k).unwrap();
        }
        for i in 0..c.blocks[0].0.txs.len() as u32 {
            let mut k = 1u64.to_be_bytes().to_vec();
            k.extend_from_slice(&i.to_be_bytes());
            store.raw_delete_for_tests(cf::BLOCK_TXS, &k).unwrap();
        }
    }
    let store = Store::open(dir.path(), &c.spec).unwrap();
    assert_eq!(store.tx_layout_from(), 2, "an old store gets the layout from the block after its tip");
    store.commit_block(&c.blocks[1].0, &c.blocks[1].1, &changes[1]).unwrap();
    assert!(store.block_tx(1, 0).unwrap().is_none());
    assert!(store.block_tx(2, 0).unwrap().is_some());
    for h in 1..=2 {
        for id in deposits_of(&c, h).iter().step_by(13) {
            let r = store.receipt(id).unwrap().unwrap();
            assert_eq!(r.to_bytes(), c.receipt(id).unwrap().to_bytes());
        }
    }
    drop(store);
    // The recorded height survives a reopen, read-only included.
    assert_eq!(Store::open(dir.path(), &c.spec).unwrap().tx_layout_from(), 2);
    assert_eq!(Store::open_read_only(dir.path()).unwrap().tx_layout_from(), 2);
}

#[test]
fn a_wrong_or_missing_tile_is_refused_not_served() {
    let c = big_chain(600);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &c.spec).unwrap();
    commit_all(&store, &c);
    let id = deposits_of(&c, 1)[3];
    let mut key = 1u64.to_be_bytes().to_vec();
    key.push(0); // band 0 (leaf hashes)
    key.extend_from_slice(&0u32.to_be_bytes()); // tile 0: leaves 0..256, leaf 3 and its lower siblings
                                                // Well sealed but wrong hashes: the proof does not reach the header's root.
    store.raw_put_for_tests(cf::TX_TILES, &key, &common::seal(cf::TX_TILES, &key, &[7u8; 256 * 32])).unwrap();
    match store.receipt(&id) {
        Err(StoreError::Corrupt { cf, .. }) => assert_eq!(cf, "tx_tiles"),
        other => panic!("expected a corrupt tile, got {other:?}"),
    }
    // A tile of the wrong length.
    store.raw_put_for_tests(cf::TX_TILES, &key, &common::seal(cf::TX_TILES, &key, &[7u8; 32])).unwrap();
    let e = store.receipt(&id).unwrap_err().to_string();
    assert!(e.contains("expected 256"), "{e}");
    // Bytes that fail their checksum.
    store.raw_put_for_tests(cf::TX_TILES, &key, &[1, 2, 3, 4, 5]).unwrap();
    let e = store.receipt(&id).unwrap_err().to_string();
    assert!(e.contains("checksum"), "{e}");
    // The block itself is intact, so the slow path still serves the same deposit.
    let r: Receipt = store.receipt_from_block(&id).unwrap().unwrap();
    assert_eq!(r.deposit_id, id);
}
