//! The audit's index check (a merge of the chain's expected entries with the index families,
//! in key order): in each of `txs`, `deposits`, `digests` and `tlog_index`, an entry the chain
//! does not imply (extra), a wrong one and a missing one fail the audit with the right code,
//! family, key and height, on disk and in memory, with one bucket or many buckets merged in
//! several passes; and the bucket files are gone afterwards.

use crate::common;

use curia_ledger::audit::AuditFailure;
use curia_ledger::Hash;
use curia_storage::{audit_store, cf, AuditOptions, DepositLocation, Store};

fn store_with_chain() -> (tempfile::TempDir, Store, curia_ledger::testkit::TestChain) {
    let c = common::chain(8, 30);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &c.spec).unwrap();
    for ((b, cert), ch) in c.blocks.iter().zip(common::changes(&c)) {
        store.commit_block(b, cert, &ch).unwrap();
    }
    (dir, store, c)
}

/// The audit's failure, the same on disk and in memory and with each bucket layout (one
/// bucket; 8 buckets merged 512 bytes at a time: many passes). Nothing is left in the scratch
/// parent.
fn audit_failure(store: &Store) -> Option<AuditFailure> {
    let mut seen = None;
    for layout in [None, Some((3, 512))] {
        for in_memory in [false, true] {
            let parent = tempfile::tempdir().unwrap();
            let o = AuditOptions {
                scratch_parent: Some(parent.path().into()),
                in_memory,
                index_layout: layout,
                ..Default::default()
            };
            let s = audit_store(store, None, &o, |_| {}).unwrap();
            assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 0, "scratch or bucket files left behind");
            match &seen {
                None => seen = Some(s.failure),
                Some(f) => assert_eq!(f, &s.failure, "layout {layout:?}, in memory {in_memory}"),
            }
        }
    }
    seen.unwrap()
}

/// Put `value` (None: delete) at `key` in `fam`, check the audit's failure, restore the entry
/// and check the audit passes again.
fn planted(store: &Store, fam: &'static str, key: &[u8], value: Option<Vec<u8>>, check: impl FnOnce(&AuditFailure)) {
    let before = store.raw_get_for_tests(fam, key).unwrap();
    match value {
        Some(v) => store.raw_put_for_tests(fam, key, &v).unwrap(),
        None => store.raw_delete_for_tests(fam, key).unwrap(),
    }
    let f = audit_failure(store).unwrap_or_else(|| panic!("the audit passes with a planted {fam} entry"));
    assert!(f.reason.contains(fam), "{}", f.reason);
    check(&f);
    match before {
        Some(v) => store.raw_put_for_tests(fam, key, &v).unwrap(),
        None => store.raw_delete_for_tests(fam, key).unwrap(),
    }
    assert_eq!(audit_failure(store), None, "the audit passes again once {fam} is repaired");
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn extra_wrong_and_missing_entries_of_every_index_family_fail_the_audit() {
    let (_d, store, c) = store_with_chain();
    let tip = c.tip.height;
    assert_eq!(tip, 8);
    assert_eq!(audit_failure(&store), None);
    let chain_id = c.spec.chain_id;
    // Block 4's batch: its transaction, an item's deposit and commitment.
    let batch = &c.blocks[3].0.txs[1];
    let batch_id = batch.id(&chain_id);
    let (item, commitment) = batch.deposits(&batch_id)[7];
    let stranger = Hash::sha256(b"not in the chain");

    // txs: an extra entry naming block 3, then a wrong one (block 4's batch said to be at 4/9).
    let v = common::seal(cf::TXS, &stranger.0, &[&3u64.to_be_bytes()[..], &0u32.to_be_bytes()].concat());
    planted(&store, cf::TXS, &stranger.0, Some(v), |f| {
        assert_eq!((f.height, f.code), (3, "storage_corrupt"), "{f:?}");
        assert!(f.reason.contains(&stranger.to_hex()) && f.reason.contains("does not imply"), "{}", f.reason);
    });
    // ... claiming a height above the tip: reported at the tip.
    let v = common::seal(cf::TXS, &stranger.0, &[&999u64.to_be_bytes()[..], &0u32.to_be_bytes()].concat());
    planted(&store, cf::TXS, &stranger.0, Some(v), |f| {
        assert_eq!((f.height, f.code), (tip, "storage_corrupt"), "{f:?}");
        assert!(f.reason.contains("height 999"), "{}", f.reason);
    });
    let v = common::seal(cf::TXS, &batch_id.0, &[&4u64.to_be_bytes()[..], &9u32.to_be_bytes()].concat());
    planted(&store, cf::TXS, &batch_id.0, Some(v), |f| {
        assert_eq!((f.height, f.code), (4, "storage_corrupt"), "{f:?}");
        assert!(f.reason.contains(&batch_id.to_hex()), "{}", f.reason);
    });
    planted(&store, cf::TXS, &batch_id.0, None, |f| {
        assert_eq!((f.height, f.code), (4, "storage_missing"), "{f:?}");
        assert!(f.reason.contains(&batch_id.to_hex()), "{}", f.reason);
    });

    // deposits: an extra entry naming block 2, a wrong one, a missing one.
    let loc = DepositLocation { height: 2, tx_index: 0, item_index: None };
    let v = common::seal(cf::DEPOSITS, &stranger.0, &loc.encode());
    planted(&store, cf::DEPOSITS, &stranger.0, Some(v), |f| {
        assert_eq!((f.height, f.code), (2, "storage_corrupt"), "{f:?}");
        assert!(f.reason.contains(&stranger.to_hex()), "{}", f.reason);
    });
    let loc = DepositLocation { height: 4, tx_index: 1, item_index: Some(8) };
    let v = common::seal(cf::DEPOSITS, &item.0, &loc.encode());
    planted(&store, cf::DEPOSITS, &item.0, Some(v), |f| {
        assert_eq!((f.height, f.code), (4, "storage_corrupt"), "{f:?}");
        assert!(f.reason.contains(&item.to_hex()), "{}", f.reason);
    });
    planted(&store, cf::DEPOSITS, &item.0, None, |f| {
        assert_eq!((f.height, f.code), (4, "storage_missing"), "{f:?}");
        assert!(f.reason.contains(&item.to_hex()), "{}", f.reason);
    });

    // digests: an extra entry (its height is unknown: reported at the tip), a wrong value (not
    // empty), a missing one.
    let mut extra = stranger.0.to_vec();
    extra.extend_from_slice(&item.0);
    let v = common::seal(cf::DIGESTS, &extra, &[]);
    planted(&store, cf::DIGESTS, &extra, Some(v), |f| {
        assert_eq!((f.height, f.code), (tip, "storage_corrupt"), "{f:?}");
        assert!(f.reason.contains(&stranger.to_hex()), "{}", f.reason);
    });
    let mut key = commitment.0.to_vec();
    key.extend_from_slice(&item.0);
    planted(&store, cf::DIGESTS, &key, Some(common::seal(cf::DIGESTS, &key, &[1])), |f| {
        assert_eq!((f.height, f.code), (4, "storage_corrupt"), "{f:?}");
        assert!(f.reason.contains(&hex(&commitment.0)) && f.reason.contains(&item.to_hex()), "{}", f.reason);
    });
    planted(&store, cf::DIGESTS, &key, None, |f| {
        assert_eq!((f.height, f.code), (4, "storage_missing"), "{f:?}");
        assert!(f.reason.contains(&item.to_hex()), "{}", f.reason);
    });

    // tlog_index: an extra entry (reported at the tip), a wrong leaf, a missing one.
    let v = common::seal(cf::TLOG_INDEX, &stranger.0, &5u64.to_be_bytes());
    planted(&store, cf::TLOG_INDEX, &stranger.0, Some(v), |f| {
        assert_eq!((f.height, f.code), (tip, "storage_corrupt"), "{f:?}");
        assert!(f.reason.contains(&stranger.to_hex()), "{}", f.reason);
    });
    let leaf = store.log_index(&item).unwrap().expect("the item is in the log");
    let v = common::seal(cf::TLOG_INDEX, &item.0, &(leaf + 1).to_be_bytes());
    planted(&store, cf::TLOG_INDEX, &item.0, Some(v), |f| {
        assert_eq!((f.height, f.code), (4, "storage_corrupt"), "{f:?}");
        assert!(f.reason.contains(&item.to_hex()) && f.reason.contains(&format!("leaf {leaf}")), "{}", f.reason);
    });
    planted(&store, cf::TLOG_INDEX, &item.0, None, |f| {
        assert_eq!((f.height, f.code), (4, "storage_missing"), "{f:?}");
    });

    // Several faults: the lowest height is reported (an extra deposit entry claiming block 6
    // and a wrong transaction entry at block 4).
    let loc = DepositLocation { height: 6, tx_index: 0, item_index: None };
    store
        .raw_put_for_tests(cf::DEPOSITS, &stranger.0, &common::seal(cf::DEPOSITS, &stranger.0, &loc.encode()))
        .unwrap();
    let v = common::seal(cf::TXS, &batch_id.0, &[&4u64.to_be_bytes()[..], &9u32.to_be_bytes()].concat());
    store.raw_put_for_tests(cf::TXS, &batch_id.0, &v).unwrap();
    let f = audit_failure(&store).expect("the audit fails");
    assert_eq!((f.height, f.code), (4, "storage_corrupt"), "{f:?}");
    assert!(f.reason.contains("txs") && f.reason.contains(&batch_id.to_hex()), "{}", f.reason);
}
