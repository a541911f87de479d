//! The audit checks the receipt layouts (`block_txs`, `tx_tiles`, `batch_tiles`) against the
//! blocks: a stored transaction or tile that differs, is missing, or is stored past the block's
//! (or, from `batch_slim_from` on, a batch stored in `block_txs` at all) is a failure naming the
//! height and the entry, whether the replay is on disk or in memory.

use crate::common;

use curia_ledger::audit::{AuditFailure, AuditSummary};
use curia_ledger::codec::Canonical;
use curia_ledger::testkit::TestChain;
use curia_storage::{audit_store, cf, AuditOptions, Store};

/// Block 1: 600 single deposits (three tiles in band 0, a band 1) and a batch of 300 items;
/// block 2: one deposit.
fn chain() -> TestChain {
    let mut c = TestChain::new(4);
    let mut txs: Vec<_> = (0..600).map(|i| c.deposit("platform", format!("d{i}").as_bytes(), i as u64)).collect();
    txs.push(c.batch("platform2", (0..300).map(|k| common::item_digest(1, k)).collect(), 1));
    assert!(c.commit(txs).is_empty());
    assert!(c.commit(vec![c.deposit("platform", b"last", 1_000_000)]).is_empty());
    c
}

fn tx_key(height: u64, i: u32) -> Vec<u8> {
    let mut k = height.to_be_bytes().to_vec();
    k.extend_from_slice(&i.to_be_bytes());
    k
}

fn tile_key(height: u64, band: u8, tile: u32) -> Vec<u8> {
    let mut k = height.to_be_bytes().to_vec();
    k.push(band);
    k.extend_from_slice(&tile.to_be_bytes());
    k
}

/// Audit on disk and in memory; both must agree.
fn audit(store: &Store) -> AuditSummary {
    let parent = tempfile::tempdir().unwrap();
    let disk = AuditOptions { scratch_parent: Some(parent.path().into()), ..Default::default() };
    let d = audit_store(store, None, &disk, |_| {}).unwrap();
    let m = audit_store(store, None, &AuditOptions { in_memory: true, ..Default::default() }, |_| {}).unwrap();
    assert_eq!(d.failure, m.failure);
    d
}

fn failure(store: &Store) -> AuditFailure {
    audit(store).failure.expect("the audit fails")
}

/// Run `damage`, check the audit's failure with `check`, then put the entry back and check the
/// audit passes again.
fn damaged(store: &Store, fam: &'static str, key: &[u8], damage: impl FnOnce(), check: impl FnOnce(AuditFailure)) {
    let before = store.raw_get_for_tests(fam, key).unwrap();
    damage();
    check(failure(store));
    match before {
        Some(v) => store.raw_put_for_tests(fam, key, &v).unwrap(),
        None => store.raw_delete_for_tests(fam, key).unwrap(),
    }
    assert_eq!(audit(store).failure, None, "the audit passes again once {fam} is repaired");
}

#[test]
fn audit_names_a_wrong_missing_or_extra_stored_transaction() {
    let c = chain();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &c.spec).unwrap();
    for ((b, cert), ch) in c.blocks.iter().zip(common::changes(&c)) {
        store.commit_block(b, cert, &ch).unwrap();
    }
    assert_eq!(store.tx_layout_from(), 1);
    let s = audit(&store);
    assert_eq!(s.failure, None);
    assert_eq!(s.deposits, 901);

    // Transaction 5 of block 1 replaced by (well-sealed) transaction 6.
    let key = tx_key(1, 5);
    let other = c.blocks[0].0.txs[6].to_bytes();
    damaged(
        &store,
        cf::BLOCK_TXS,
        &key,
        || store.raw_put_for_tests(cf::BLOCK_TXS, &key, &common::seal(cf::BLOCK_TXS, &key, &other)).unwrap(),
        |f| {
            assert_eq!((f.height, f.code), (1, "storage_corrupt"), "{f:?}");
            assert!(f.reason.contains("height 1 transaction 5"), "{}", f.reason);
            assert!(f.reason.contains("differs from the block's transaction 5"), "{}", f.reason);
        },
    );
    // A single deposit (transaction 7) with a byte flipped: its checksum fails.
    let key = tx_key(1, 7);
    damaged(
        &store,
        cf::BLOCK_TXS,
        &key,
        || {
            let mut v = store.raw_get_for_tests(cf::BLOCK_TXS, &key).unwrap().unwrap();
            let last = v.len() - 1;
            v[last] ^= 1;
            store.raw_put_for_tests(cf::BLOCK_TXS, &key, &v).unwrap();
        },
        |f| {
            assert_eq!((f.height, f.code), (1, "storage_corrupt"), "{f:?}");
            assert!(f.reason.contains("height 1 transaction 7"), "{}", f.reason);
        },
    );
    // The batch (transaction 600) is stored once, in batch_tiles: a copy in block_txs, whole or
    // without its items, is an entry this store must not have.
    assert_eq!(store.batch_slim_from(), 1);
    let key = tx_key(1, 600);
    assert!(store.raw_get_for_tests(cf::BLOCK_TXS, &key).unwrap().is_none());
    let whole = c.blocks[0].0.txs[600].clone();
    let mut bare = whole.clone();
    bare.items.clear();
    for tx in [whole, bare] {
        damaged(
            &store,
            cf::BLOCK_TXS,
            &key,
            || store.raw_put_sealed_for_tests(cf::BLOCK_TXS, &key, &tx.to_bytes()).unwrap(),
            |f| {
                assert_eq!((f.height, f.code), (1, "storage_corrupt"), "{f:?}");
                assert!(f.reason.contains("height 1 transaction 600"), "{}", f.reason);
                assert!(f.reason.contains("belongs in batch_tiles only"), "{}", f.reason);
            },
        );
    }
    // Block 2's only transaction missing.
    let key = tx_key(2, 0);
    damaged(
        &store,
        cf::BLOCK_TXS,
        &key,
        || store.raw_delete_for_tests(cf::BLOCK_TXS, &key).unwrap(),
        |f| {
            assert_eq!((f.height, f.code), (2, "storage_missing"), "{f:?}");
            assert!(f.reason.contains("height 2 transaction 0"), "{}", f.reason);
        },
    );
    // A transaction stored past block 2's one.
    let key = tx_key(2, 1);
    let tx = c.blocks[1].0.txs[0].to_bytes();
    damaged(
        &store,
        cf::BLOCK_TXS,
        &key,
        || store.raw_put_for_tests(cf::BLOCK_TXS, &key, &common::seal(cf::BLOCK_TXS, &key, &tx)).unwrap(),
        |f| {
            assert_eq!((f.height, f.code), (2, "storage_corrupt"), "{f:?}");
            assert!(f.reason.contains("height 2 transaction 1"), "{}", f.reason);
            assert!(f.reason.contains("past the block's 1"), "{}", f.reason);
        },
    );
}

#[test]
fn audit_names_a_wrong_missing_or_extra_tile() {
    let c = chain();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &c.spec).unwrap();
    for ((b, cert), ch) in c.blocks.iter().zip(common::changes(&c)) {
        store.commit_block(b, cert, &ch).unwrap();
    }
    assert_eq!(audit(&store).failure, None);
    // Block 1 has 601 transactions: band 0 has tiles 0..=2, band 1 tile 0 (3 hashes).
    assert!(store.raw_get_for_tests(cf::TX_TILES, &tile_key(1, 0, 2)).unwrap().is_some());
    assert!(store.raw_get_for_tests(cf::TX_TILES, &tile_key(1, 1, 0)).unwrap().is_some());

    // A well-sealed tile of the right length with one hash changed.
    let key = tile_key(1, 0, 1);
    damaged(
        &store,
        cf::TX_TILES,
        &key,
        || {
            let v = store.raw_get_for_tests(cf::TX_TILES, &key).unwrap().unwrap();
            let mut payload = v[4..].to_vec();
            payload[32 * 17] ^= 0x80;
            store.raw_put_for_tests(cf::TX_TILES, &key, &common::seal(cf::TX_TILES, &key, &payload)).unwrap();
        },
        |f| {
            assert_eq!((f.height, f.code), (1, "storage_corrupt"), "{f:?}");
            assert!(f.reason.contains("height 1 band 0 tile 1"), "{}", f.reason);
            assert!(f.reason.contains("differs from the block's transaction tree"), "{}", f.reason);
        },
    );
    // The upper band's tile missing.
    let key = tile_key(1, 1, 0);
    damaged(
        &store,
        cf::TX_TILES,
        &key,
        || store.raw_delete_for_tests(cf::TX_TILES, &key).unwrap(),
        |f| {
            assert_eq!((f.height, f.code), (1, "storage_missing"), "{f:?}");
            assert!(f.reason.contains("height 1 band 1 tile 0"), "{}", f.reason);
        },
    );
    // A tile past band 0's last, and a band past the tree's last.
    for key in [tile_key(1, 0, 3), tile_key(1, 2, 0)] {
        damaged(
            &store,
            cf::TX_TILES,
            &key,
            || store.raw_put_for_tests(cf::TX_TILES, &key, &common::seal(cf::TX_TILES, &key, &[7u8; 32])).unwrap(),
            |f| {
                assert_eq!((f.height, f.code), (1, "storage_corrupt"), "{f:?}");
                assert!(f.reason.contains("past the block's transaction tree"), "{}", f.reason);
            },
        );
    }
}

/// A store's audit keeps no deposit IDs: `attach_deposit` finds the deposit through the store's
/// index, confirmed from the chain. An attach of an earlier block's batch item and single
/// deposit passes as in memory; an index entry that is missing or names another place stops the
/// audit at the deposit's own height (checked there first), never as a verdict on the attach.
#[test]
fn attach_lookups_use_the_checked_chain() {
    use curia_ledger::tx::Payload;
    let mut c = TestChain::new(4);
    let batch = c.batch("platform2", (0..20).map(|k| common::item_digest(7, k)).collect(), 1);
    let item = batch.deposits(&batch.id(&c.spec.chain_id))[9].0;
    let single = c.deposit("platform", b"single", 2);
    let single_id = single.id(&c.spec.chain_id);
    assert!(c.commit(vec![batch, single]).is_empty());
    let open = Payload::OpenCase { case_id: "C-9".into(), title: "t".into() };
    let attach = |d| Payload::AttachDeposit { case_id: "C-9".into(), deposit_id: d };
    let rej = c.commit(vec![
        c.tx("judge", open, 1),
        c.tx("judge", attach(item), 2),
        c.tx("judge", attach(single_id), 3),
        c.tx("judge", attach(curia_ledger::Hash::ZERO), 4),
    ]);
    // The unknown deposit is refused when the block is built, so it is not in the chain.
    assert_eq!(rej.len(), 1);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &c.spec).unwrap();
    for ((b, cert), ch) in c.blocks.iter().zip(common::changes(&c)) {
        store.commit_block(b, cert, &ch).unwrap();
    }
    let s = audit(&store);
    assert_eq!((s.failure, s.cases, s.case_records), (None, 1, 3));

    // The batch item's index entry now names item 10 (well sealed): caught at block 1.
    let other = store
        .raw_get_for_tests(
            cf::DEPOSITS,
            &c.blocks[0].0.txs[0].deposits(&c.blocks[0].0.txs[0].id(&c.spec.chain_id))[10].0 .0,
        )
        .unwrap()
        .unwrap();
    damaged(
        &store,
        cf::DEPOSITS,
        &item.0,
        || store.raw_put_for_tests(cf::DEPOSITS, &item.0, &common::seal(cf::DEPOSITS, &item.0, &other[4..])).unwrap(),
        |f| {
            assert_eq!((f.height, f.code), (1, "storage_corrupt"), "{f:?}");
            assert!(f.reason.contains(&item.to_hex()), "{}", f.reason);
        },
    );
    // The single deposit's entry missing: caught at block 1 too (before the replay's refusal of
    // block 2's attachment, which the missing entry causes on disk).
    damaged(
        &store,
        cf::DEPOSITS,
        &single_id.0,
        || store.raw_delete_for_tests(cf::DEPOSITS, &single_id.0).unwrap(),
        |f| assert_eq!((f.height, f.code), (1, "storage_missing"), "{f:?}"),
    );
}

fn item_tile_key(height: u64, tx: u32, band: u8, tile: u32) -> Vec<u8> {
    let mut k = tx_key(height, tx);
    k.push(band);
    k.extend_from_slice(&tile.to_be_bytes());
    k
}

/// The batch layout (`batch_tiles`): the batch without its items and every tile of its item
/// tree must be what the block implies, with nothing stored past them or for a transaction that
/// is no batch.
#[test]
fn audit_names_a_wrong_missing_or_extra_batch_entry() {
    let c = chain();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &c.spec).unwrap();
    for ((b, cert), ch) in c.blocks.iter().zip(common::changes(&c)) {
        store.commit_block(b, cert, &ch).unwrap();
    }
    assert_eq!(store.batch_layout_from(), 1);
    assert_eq!(audit(&store).failure, None);
    // The batch of 300 items is transaction 600: band 0 tiles 0 and 1 (256 + 44 items), band 1
    // tile 0 (one root of 256 items).
    for key in [tx_key(1, 600), item_tile_key(1, 600, 0, 1), item_tile_key(1, 600, 1, 0)] {
        assert!(store.raw_get_for_tests(cf::BATCH_TILES, &key).unwrap().is_some());
    }
    let corrupt = |needle: &'static str, reason: &'static str| {
        move |f: AuditFailure| {
            assert_eq!((f.height, f.code), (1, "storage_corrupt"), "{f:?}");
            assert!(f.reason.contains(needle), "{}", f.reason);
            assert!(f.reason.contains(reason), "{}", f.reason);
        }
    };
    // A band-0 tile with one item changed (well sealed, right length).
    let key = item_tile_key(1, 600, 0, 1);
    damaged(
        &store,
        cf::BATCH_TILES,
        &key,
        || {
            let v = store.raw_get_for_tests(cf::BATCH_TILES, &key).unwrap().unwrap();
            let mut payload = v[4..].to_vec();
            payload[32 * 40] ^= 1;
            store.raw_put_sealed_for_tests(cf::BATCH_TILES, &key, &payload).unwrap();
        },
        corrupt("height 1 transaction 600 item band 0 tile 1", "differs from the block's batch"),
    );
    // The band-1 tile missing.
    let key = item_tile_key(1, 600, 1, 0);
    damaged(
        &store,
        cf::BATCH_TILES,
        &key,
        || store.raw_delete_for_tests(cf::BATCH_TILES, &key).unwrap(),
        |f| {
            assert_eq!((f.height, f.code), (1, "storage_missing"), "{f:?}");
            assert!(f.reason.contains("height 1 transaction 600 item band 1 tile 0"), "{}", f.reason);
        },
    );
    // A tile past band 0's last, and a band past the tree's last.
    for (key, needle) in [
        (item_tile_key(1, 600, 0, 2), "height 1 transaction 600 item band 0 tile 2"),
        (item_tile_key(1, 600, 2, 0), "height 1 transaction 600 item band 2 tile 0"),
    ] {
        damaged(
            &store,
            cf::BATCH_TILES,
            &key,
            || store.raw_put_sealed_for_tests(cf::BATCH_TILES, &key, &[7u8; 32]).unwrap(),
            corrupt(needle, "stored past the batch's item tree"),
        );
    }
    // The batch without items: with a flipped signature byte, then missing.
    let key = tx_key(1, 600);
    damaged(
        &store,
        cf::BATCH_TILES,
        &key,
        || {
            let mut bare = c.blocks[0].0.txs[600].clone();
            bare.items.clear();
            bare.signature.0[5] ^= 1;
            store.raw_put_sealed_for_tests(cf::BATCH_TILES, &key, &bare.to_bytes()).unwrap();
        },
        corrupt("height 1 transaction 600 (batch without items)", "differs from the block's batch"),
    );
    damaged(
        &store,
        cf::BATCH_TILES,
        &key,
        || store.raw_delete_for_tests(cf::BATCH_TILES, &key).unwrap(),
        |f| {
            assert_eq!((f.height, f.code), (1, "storage_missing"), "{f:?}");
            assert!(f.reason.contains("height 1 transaction 600 (batch without items)"), "{}", f.reason);
        },
    );
    // Entries for a single deposit (transaction 5) and past the block's 601 transactions.
    let payload = store.raw_get_for_tests(cf::BATCH_TILES, &tx_key(1, 600)).unwrap().unwrap()[4..].to_vec();
    for (key, needle, reason) in [
        (tx_key(1, 5), "height 1 transaction 5", "for a transaction that is no batch"),
        (item_tile_key(1, 5, 0, 0), "height 1 transaction 5 item band 0 tile 0", "for a transaction that is no batch"),
        (tx_key(1, 601), "height 1 transaction 601", "past the block's 601 transactions"),
        (item_tile_key(1, 601, 0, 0), "height 1 transaction 601 item band 0 tile 0", "past the block's 601"),
    ] {
        damaged(
            &store,
            cf::BATCH_TILES,
            &key,
            || store.raw_put_sealed_for_tests(cf::BATCH_TILES, &key, &payload).unwrap(),
            corrupt(needle, reason),
        );
    }
}
