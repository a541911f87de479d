//! The batch layout: a batch item's receipt built from the batch without its items and the
//! batch's item-tree tiles is byte for byte the one built from the whole block, for every item of
//! batches of many sizes; it needs neither the block nor the whole transaction; older stores
//! (no layout) keep working; bad tiles or entries are refused by name, never served.

use crate::common;

use curia_ledger::codec::Canonical;
use curia_ledger::hash::Hash;
use curia_ledger::testkit::TestChain;
use curia_ledger::tx::Payload;
use curia_storage::{audit_store, cf, AuditOptions, Store, StoreError};

/// Batch sizes of block 1: the smallest, odd ones, a full tile, a tile and one more, two bands.
const SIZES: [usize; 10] = [1, 2, 3, 5, 127, 255, 256, 257, 513, 1000];

/// Block 1: a single deposit and one batch of each of [`SIZES`]; block 2: one batch of 10,000
/// items (the most a batch may hold: 40 band-0 tiles and a band 1 of 39 hashes); block 3: one deposit, so that block 2's
/// certificate is canonical.
fn batch_chain() -> TestChain {
    let mut c = TestChain::new(4);
    let mut txs = vec![c.deposit("platform", b"single", 1)];
    for (k, &n) in SIZES.iter().enumerate() {
        txs.push(c.batch("platform2", (0..n).map(|j| common::item_digest(k, j)).collect(), k as u64));
    }
    assert!(c.commit(txs).is_empty());
    let big = c.batch("platform2", (0..10_000).map(|j| common::item_digest(100, j)).collect(), 100);
    assert!(c.commit(vec![big]).is_empty());
    assert!(c.commit(vec![c.deposit("platform", b"last", 2)]).is_empty());
    c
}

fn commit_all(store: &Store, c: &TestChain) {
    for ((b, cert), ch) in c.blocks.iter().zip(common::changes(c)) {
        store.commit_block(b, cert, &ch).unwrap();
    }
}

/// The deposit IDs of transaction `tx` of block `h`.
fn deposits_of_tx(c: &TestChain, h: u64, tx: usize) -> Vec<Hash> {
    let t = &c.blocks[h as usize - 1].0.txs[tx];
    t.deposits(&t.id(&c.spec.chain_id)).into_iter().map(|d| d.0).collect()
}

fn key12(h: u64, tx: u32) -> Vec<u8> {
    let mut k = h.to_be_bytes().to_vec();
    k.extend_from_slice(&tx.to_be_bytes());
    k
}

fn tile_key(h: u64, tx: u32, band: u8, tile: u32) -> Vec<u8> {
    let mut k = key12(h, tx);
    k.push(band);
    k.extend_from_slice(&tile.to_be_bytes());
    k
}

/// Every key the batch layout writes for batch `tx` of `n` items at height `h`.
fn batch_keys(h: u64, tx: u32, n: usize) -> Vec<Vec<u8>> {
    let mut keys = vec![key12(h, tx)];
    let mut band = 0u8;
    while n >> (8 * band as usize) > 0 {
        let len = n >> (8 * band as usize);
        for t in 0..len.div_ceil(256) {
            keys.push(tile_key(h, tx, band, t as u32));
        }
        band += 1;
    }
    keys
}

#[test]
fn every_item_receipt_from_the_batch_layout_equals_the_receipt_from_the_block() {
    let c = batch_chain();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &c.spec).unwrap();
    assert_eq!(store.batch_layout_from(), 1);
    commit_all(&store, &c);
    for (k, &n) in SIZES.iter().enumerate() {
        let ids = deposits_of_tx(&c, 1, k + 1);
        assert_eq!(ids.len(), n);
        for (j, id) in ids.iter().enumerate() {
            let fast = store.receipt(id).unwrap().unwrap();
            let slow = store.receipt_from_block(id).unwrap().unwrap();
            assert_eq!(fast.to_bytes(), slow.to_bytes(), "item {j} of the batch of {n}");
        }
        // The stored batch transaction is the block's, without its items.
        let bare = store.batch_tx(1, k as u32 + 1).unwrap().unwrap();
        let tx = &c.blocks[0].0.txs[k + 1];
        assert_eq!((&bare.body, &bare.signature, bare.items.len()), (&tx.body, &tx.signature, 0));
    }
    // The single deposit of block 1 is no batch: no entry, same receipt as before.
    assert!(store.batch_tx(1, 0).unwrap().is_none());
    let id = deposits_of_tx(&c, 1, 0)[0];
    assert_eq!(store.receipt(&id).unwrap().unwrap(), store.receipt_from_block(&id).unwrap().unwrap());
    // The largest batch there is, against the block and the test chain's own receipt builder:
    // every tile's first, second and last items, the right edge, and a stride through the rest
    // (each item from the block rehashes all 10,000 items, so every item would take minutes in a
    // debug build).
    let ids = deposits_of_tx(&c, 2, 0);
    assert_eq!(ids.len(), 10_000);
    let edges = (0..40).flat_map(|t| [256 * t, 256 * t + 1, 256 * t + 255]).filter(|&j| j < 10_000);
    let mut picks: Vec<usize> = edges.chain((0..10_000).step_by(53)).chain(9_984..10_000).collect();
    picks.sort_unstable();
    picks.dedup();
    for (k, j) in picks.into_iter().enumerate() {
        let id = &ids[j];
        let fast = store.receipt(id).unwrap().unwrap();
        let slow = store.receipt_from_block(id).unwrap().unwrap();
        assert_eq!(fast.to_bytes(), slow.to_bytes(), "item {j} of the batch of 10,000");
        if k % 10 == 0 || j >= 9_990 {
            assert_eq!(fast, c.receipt(id).unwrap(), "item {j} of the batch of 10,000");
        }
    }
}

#[test]
fn a_batch_item_receipt_needs_neither_the_block_nor_the_whole_transaction() {
    let c = batch_chain();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &c.spec).unwrap();
    commit_all(&store, &c);
    let ids = deposits_of_tx(&c, 2, 0);
    let picks = [0, 1, 255, 256, 4_999, 9_983, 9_999];
    let before: Vec<_> = picks.iter().map(|&j| store.receipt(&ids[j]).unwrap().unwrap()).collect();
    // Take away the block and the transaction with its 10,000 items, and every band-0 tile but
    // those of the picked items' and the right edge's: the receipts do not change.
    store.raw_delete_for_tests(cf::BLOCKS, &2u64.to_be_bytes()).unwrap();
    assert!(store.raw_get_for_tests(cf::BLOCK_TXS, &key12(2, 0)).unwrap().is_none(), "no whole copy is stored");
    let keep: Vec<u32> = picks.iter().map(|&j| (j / 256) as u32).chain([39]).collect();
    for t in (0..40u32).filter(|t| !keep.contains(t)) {
        store.raw_delete_for_tests(cf::BATCH_TILES, &tile_key(2, 0, 0, t)).unwrap();
    }
    for (r, &j) in before.iter().zip(&picks) {
        assert_eq!(&store.receipt(&ids[j]).unwrap().unwrap(), r, "item {j}");
    }
    assert!(store.receipt_from_block(&ids[0]).is_err(), "the block is gone");
}

#[test]
fn a_wrong_or_missing_batch_entry_is_refused_not_served() {
    let c = batch_chain();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &c.spec).unwrap();
    commit_all(&store, &c);
    let ids = deposits_of_tx(&c, 2, 0);
    let id = ids[3];
    let expect_corrupt = |what: &str, family: &str, needle: &str| match store.receipt(&id) {
        Err(e @ StoreError::Corrupt { .. }) => {
            let StoreError::Corrupt { cf, .. } = &e else { unreachable!() };
            assert_eq!(*cf, family, "{what}: {e}");
            assert!(e.to_string().contains(needle), "{what}: {e}");
        }
        other => panic!("{what}: expected a corrupt entry, got {other:?}"),
    };
    let band0 = tile_key(2, 0, 0, 0);
    let good = store.raw_get_for_tests(cf::BATCH_TILES, &band0).unwrap().unwrap();
    // Well sealed but another commitment for the item: the proof does not reach the signed root.
    let mut items = good[4..].to_vec();
    items[3 * 32] ^= 1;
    store.raw_put_for_tests(cf::BATCH_TILES, &band0, &common::seal(cf::BATCH_TILES, &band0, &items)).unwrap();
    expect_corrupt("another commitment", "batch_tiles", "batch proof");
    // A sibling changed instead (the item itself intact).
    let mut items = good[4..].to_vec();
    items[200 * 32] ^= 1;
    store.raw_put_for_tests(cf::BATCH_TILES, &band0, &common::seal(cf::BATCH_TILES, &band0, &items)).unwrap();
    expect_corrupt("a sibling", "batch_tiles", "batch proof");
    // Short, missing, unchecksummed.
    store.raw_put_for_tests(cf::BATCH_TILES, &band0, &common::seal(cf::BATCH_TILES, &band0, &good[4..4 + 64])).unwrap();
    expect_corrupt("a short tile", "batch_tiles", "expected 256");
    store.raw_delete_for_tests(cf::BATCH_TILES, &band0).unwrap();
    expect_corrupt("a missing tile", "batch_tiles", "missing");
    store.raw_put_for_tests(cf::BATCH_TILES, &band0, &[1, 2, 3, 4, 5]).unwrap();
    expect_corrupt("bytes that fail their checksum", "batch_tiles", "checksum");
    store.raw_put_for_tests(cf::BATCH_TILES, &band0, &good).unwrap();
    assert_eq!(store.receipt(&id).unwrap().unwrap(), store.receipt_from_block(&id).unwrap().unwrap());
    // A wrong band 1 tile (roots of 256 items), then a missing one.
    let band1 = tile_key(2, 0, 1, 0);
    let good1 = store.raw_get_for_tests(cf::BATCH_TILES, &band1).unwrap().unwrap();
    assert_eq!(good1.len(), 4 + 39 * 32, "band 1 of 10,000 items: 39 roots of 256");
    let mut hashes = good1[4..].to_vec();
    hashes[5 * 32] ^= 1;
    store.raw_put_for_tests(cf::BATCH_TILES, &band1, &common::seal(cf::BATCH_TILES, &band1, &hashes)).unwrap();
    expect_corrupt("a wrong band 1 tile", "batch_tiles", "batch proof");
    store.raw_delete_for_tests(cf::BATCH_TILES, &band1).unwrap();
    expect_corrupt("a missing band 1 tile", "batch_tiles", "tile 0 of band 1 is missing");
    store.raw_put_for_tests(cf::BATCH_TILES, &band1, &good1).unwrap();
    assert!(store.raw_get_for_tests(cf::BATCH_TILES, &tile_key(2, 0, 2, 0)).unwrap().is_none(), "no band 2");
    // The batch transaction replaced by another batch (well sealed, decodes): its envelope is not
    // the block's leaf, so the transaction proof fails.
    let envelope = key12(2, 0);
    let good_tx = store.raw_get_for_tests(cf::BATCH_TILES, &envelope).unwrap().unwrap();
    let mut other = c.blocks[0].0.txs[10].clone();
    other.items.clear();
    store
        .raw_put_for_tests(cf::BATCH_TILES, &envelope, &common::seal(cf::BATCH_TILES, &envelope, &other.to_bytes()))
        .unwrap();
    expect_corrupt("another batch transaction", "tx_tiles", "block 2 transaction 0");
    // A batch transaction that carries items, or is no batch at all.
    let mut with_items = c.blocks[1].0.txs[0].clone();
    with_items.items.truncate(2);
    store
        .raw_put_for_tests(
            cf::BATCH_TILES,
            &envelope,
            &common::seal(cf::BATCH_TILES, &envelope, &with_items.to_bytes()),
        )
        .unwrap();
    expect_corrupt("a batch transaction with items", "batch_tiles", "carries 2 items");
    let single = &c.blocks[0].0.txs[0];
    assert!(matches!(single.body.payload, Payload::Deposit(_)));
    store
        .raw_put_for_tests(cf::BATCH_TILES, &envelope, &common::seal(cf::BATCH_TILES, &envelope, &single.to_bytes()))
        .unwrap();
    expect_corrupt("a single deposit", "batch_tiles", "no batch");
    store.raw_delete_for_tests(cf::BATCH_TILES, &envelope).unwrap();
    assert!(matches!(store.receipt(&id), Err(StoreError::NotFound { what: "batch transaction", .. })));
    store.raw_put_for_tests(cf::BATCH_TILES, &envelope, &good_tx).unwrap();
    // Restored: served again, and the slow path never depended on any of it.
    let r = store.receipt(&id).unwrap().unwrap();
    assert_eq!(r.to_bytes(), store.receipt_from_block(&id).unwrap().unwrap().to_bytes());
}

#[test]
fn a_store_from_before_the_batch_layout_gets_it_from_the_next_block_on() {
    let c = batch_chain();
    let dir = tempfile::tempdir().unwrap();
    let changes = common::changes(&c);
    {
        let store = Store::open(dir.path(), &c.spec).unwrap();
        store.commit_block(&c.blocks[0].0, &c.blocks[0].1, &changes[0]).unwrap();
        // As a store written before the layout: no layout heights, no entries for block 1, and
        // its batches stored whole in block_txs.
        store.raw_delete_for_tests(cf::META, b"batch_layout_from").unwrap();
        store.raw_delete_for_tests(cf::META, b"batch_slim_from").unwrap();
        for (k, &n) in SIZES.iter().enumerate() {
            for key in batch_keys(1, k as u32 + 1, n) {
                assert!(store.raw_get_for_tests(cf::BATCH_TILES, &key).unwrap().is_some(), "{key:?} was written");
                store.raw_delete_for_tests(cf::BATCH_TILES, &key).unwrap();
            }
            let key = key12(1, k as u32 + 1);
            assert!(store.raw_get_for_tests(cf::BLOCK_TXS, &key).unwrap().is_none(), "stored once");
            store.raw_put_sealed_for_tests(cf::BLOCK_TXS, &key, &c.blocks[0].0.txs[k + 1].to_bytes()).unwrap();
        }
    }
    // Read-only, such a store has no batch layout at all, and every batch is stored whole.
    let ro = Store::open_read_only(dir.path()).unwrap();
    assert_eq!((ro.batch_layout_from(), ro.batch_slim_from()), (u64::MAX, u64::MAX));
    assert_eq!(audit_failure(&ro), None);
    drop(ro);
    let store = Store::open(dir.path(), &c.spec).unwrap();
    assert_eq!(store.batch_layout_from(), 2, "an old store gets the layout from the block after its tip");
    assert_eq!(store.batch_slim_from(), 2, "and its batches leave block_txs from there on");
    assert_eq!(store.tx_layout_from(), 1);
    for h in 2..=3 {
        let i = h as usize - 1;
        store.commit_block(&c.blocks[i].0, &c.blocks[i].1, &changes[i]).unwrap();
    }
    assert!(store.batch_tx(1, 1).unwrap().is_none());
    assert!(store.batch_tx(2, 0).unwrap().is_some());
    // Block 1's batches are read whole from block_txs, block 2's assembled from batch_tiles.
    assert!(store.raw_get_for_tests(cf::BLOCK_TXS, &key12(2, 0)).unwrap().is_none());
    assert_eq!(store.block_tx(1, 9).unwrap().as_ref(), Some(&c.blocks[0].0.txs[9]));
    assert_eq!(store.block_tx(2, 0).unwrap().as_ref(), Some(&c.blocks[1].0.txs[0]));
    // Block 1's items come from the whole transaction (today's path), block 2's from the tiles.
    for k in [0, 3, 8, 9] {
        for id in deposits_of_tx(&c, 1, k + 1).iter().step_by(7) {
            assert_eq!(store.receipt(id).unwrap().unwrap().to_bytes(), c.receipt(id).unwrap().to_bytes());
        }
    }
    for id in deposits_of_tx(&c, 2, 0).iter().step_by(101) {
        assert_eq!(store.receipt(id).unwrap().unwrap().to_bytes(), c.receipt(id).unwrap().to_bytes());
    }
    assert_eq!(audit_failure(&store), None, "old and new blocks audit clean");
    drop(store);
    // The recorded heights survive a reopen, read-only included.
    let s = Store::open(dir.path(), &c.spec).unwrap();
    assert_eq!((s.batch_layout_from(), s.batch_slim_from()), (2, 2));
    drop(s);
    let ro = Store::open_read_only(dir.path()).unwrap();
    assert_eq!((ro.batch_layout_from(), ro.batch_slim_from()), (2, 2));
    assert_eq!(audit_failure(&ro), None);
}

fn audit_failure(store: &Store) -> Option<curia_ledger::audit::AuditFailure> {
    let parent = tempfile::tempdir().unwrap();
    let o = AuditOptions { scratch_parent: Some(parent.path().into()), ..Default::default() };
    audit_store(store, None, &o, |_| {}).unwrap().failure
}

/// From `batch_slim_from` on a batch is stored once (in `batch_tiles`): `block_txs` has the
/// block's other transactions only, and `Store::block_tx` still returns every transaction whole,
/// a batch assembled from its tiles and checked against its signed root.
#[test]
fn a_batch_is_stored_once_and_still_read_whole() {
    let c = batch_chain();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &c.spec).unwrap();
    assert_eq!((store.batch_slim_from(), store.batch_layout_from(), store.tx_layout_from()), (1, 1, 1));
    commit_all(&store, &c);
    for (h, (b, _)) in c.blocks.iter().enumerate() {
        let h = h as u64 + 1;
        for (i, tx) in b.txs.iter().enumerate() {
            let batch = matches!(tx.body.payload, Payload::BatchDeposit(_));
            let raw = store.raw_get_for_tests(cf::BLOCK_TXS, &key12(h, i as u32)).unwrap();
            assert_eq!(raw.is_some(), !batch, "block {h} transaction {i}: only non-batches in block_txs");
            assert_eq!(store.block_tx(h, i as u32).unwrap().as_ref(), Some(tx), "block {h} transaction {i}");
        }
        assert!(store.block_tx(h, b.txs.len() as u32).unwrap().is_none());
    }
    // A wrong, short or missing band-0 tile: the assembled batch is refused, never returned.
    let band0 = tile_key(2, 0, 0, 7);
    let good = store.raw_get_for_tests(cf::BATCH_TILES, &band0).unwrap().unwrap();
    let expect_corrupt = |what: &str, needle: &str| match store.block_tx(2, 0) {
        Err(e @ StoreError::Corrupt { cf: "batch_tiles", .. }) => {
            assert!(e.to_string().contains(needle), "{what}: {e}")
        }
        other => panic!("{what}: expected a corrupt batch_tiles entry, got {other:?}"),
    };
    let mut items = good[4..].to_vec();
    items[100] ^= 1;
    store.raw_put_sealed_for_tests(cf::BATCH_TILES, &band0, &items).unwrap();
    expect_corrupt("another item", "do not have the signed root");
    store.raw_put_sealed_for_tests(cf::BATCH_TILES, &band0, &good[4..4 + 32 * 255]).unwrap();
    expect_corrupt("a short tile", "tile 7 of band 0 has 255 hashes, expected 256");
    store.raw_delete_for_tests(cf::BATCH_TILES, &band0).unwrap();
    expect_corrupt("a missing tile", "tile 7 of band 0 is missing");
    store.raw_put_for_tests(cf::BATCH_TILES, &band0, &good).unwrap();
    assert_eq!(store.block_tx(2, 0).unwrap().as_ref(), Some(&c.blocks[1].0.txs[0]));
    // A recorded height below the batch layout's is not one this code writes: refused at open.
    store.raw_put_sealed_for_tests(cf::META, b"batch_layout_from", &2u64.to_be_bytes()).unwrap();
    drop(store);
    match Store::open(dir.path(), &c.spec) {
        Err(e @ StoreError::Corrupt { .. }) => assert!(e.to_string().contains("batch_slim_from 1"), "{e}"),
        other => panic!("expected a corrupt meta entry, got {:?}", other.map(|s| s.tip())),
    }
}
