//! Flipped bytes on disk make reads fail loudly, naming the family and key, and the audit names
//! the height.

use crate::common;

use curia_ledger::audit::{AuditSummary, Auditor};
use curia_ledger::block::Block;
use curia_ledger::state::{next_header, Change};
use curia_ledger::testkit::TestChain;
use curia_ledger::LedgerError;
use curia_storage::{audit_store, cf, AuditOptions, ScratchState, Store, StoreError};

fn store_with_chain(c: &TestChain) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &c.spec).unwrap();
    for ((b, cert), ch) in c.blocks.iter().zip(common::changes(c)) {
        store.commit_block(b, cert, &ch).unwrap();
    }
    (dir, store)
}

/// Audit with the replay state on disk and in memory: both must give the same verdict, and the
/// scratch directory must be gone afterwards.
fn audit_both(store: &Store) -> AuditSummary {
    let parent = tempfile::tempdir().unwrap();
    let disk = AuditOptions { scratch_parent: Some(parent.path().into()), ..Default::default() };
    let d = audit_store(store, None, &disk, |_| {}).unwrap();
    assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 0, "scratch state left behind");
    let m = audit_store(store, None, &AuditOptions { in_memory: true, ..Default::default() }, |_| {}).unwrap();
    assert_eq!(d.failure, m.failure);
    assert_eq!((d.blocks, d.txs, d.deposits, d.height), (m.blocks, m.txs, m.deposits, m.height));
    d
}

fn flip(store: &Store, fam: &'static str, key: &[u8], at: usize) {
    let mut v = store.raw_get_for_tests(fam, key).unwrap().expect("value exists");
    let i = at.min(v.len() - 1);
    v[i] ^= 0x40;
    store.raw_put_for_tests(fam, key, &v).unwrap();
}

fn assert_corrupt(e: StoreError, fam: &str, key_part: &str) {
    match &e {
        StoreError::Corrupt { cf, key, .. } => {
            assert_eq!(*cf, fam, "{e}");
            assert!(key.contains(key_part), "{e}");
        }
        other => panic!("expected corruption in {fam}, got {other}"),
    }
}

/// A state read that failed on corruption in `fam` at a key naming `key_part`: the ledger's
/// storage error (never a verdict on the block), carrying the store's code and message.
fn assert_state_corrupt(e: StoreError, fam: &str, key_part: &str) {
    match &e {
        StoreError::Ledger(LedgerError::StateStorage { reason, code }) => {
            assert_eq!(*code, "storage_corrupt", "{e}");
            assert!(reason.contains(&format!("column family {fam} at ")) && reason.contains(key_part), "{e}");
        }
        other => panic!("expected a state read failing on corruption in {fam}, got {other}"),
    }
}

#[test]
fn flipped_block_byte_fails_read_and_audit_names_height() {
    let c = common::chain(8, 30);
    let (_d, store) = store_with_chain(&c);
    for at in [0usize, 3, 4, 100, 10_000] {
        flip(&store, cf::BLOCKS, &5u64.to_be_bytes(), at);
        let e = store.block(5).unwrap_err();
        assert_eq!(e.to_string(), "corrupt value in column family blocks at height 5: checksum mismatch");
        let s = audit_both(&store);
        let f = s.failure.expect("audit fails");
        assert_eq!(f.height, 5);
        assert_eq!(f.code, "storage_corrupt");
        assert!(f.reason.contains("blocks at height 5"), "{}", f.reason);
        assert_eq!(s.blocks, 4);
        flip(&store, cf::BLOCKS, &5u64.to_be_bytes(), at); // flip back
        store.block(5).unwrap().unwrap();
    }
    // Receipts no longer read the whole block (issue 14: one stored transaction and its tiles),
    // so a receipt depends on the transaction's own entry: damage there fails the receipt,
    // never serving bad data.
    let dep = c.blocks[4].0.txs[0].id(&c.spec.chain_id);
    store.receipt(&dep).unwrap().expect("receipt before the damage");
    let mut key = 5u64.to_be_bytes().to_vec();
    key.extend_from_slice(&0u32.to_be_bytes());
    flip(&store, cf::BLOCK_TXS, &key, 20);
    assert_corrupt(store.receipt(&dep).unwrap_err(), cf::BLOCK_TXS, "height 5");
}

#[test]
fn every_family_is_checked() {
    let c = common::chain(8, 30);
    let (_d, store) = store_with_chain(&c);
    let (b3, _) = &c.blocks[2];
    let tx = &b3.txs[1];
    let tx_id = tx.id(&c.spec.chain_id);
    let (dep, commitment) = tx.deposits(&tx_id)[3];

    flip(&store, cf::CERTS, &3u64.to_be_bytes(), 20);
    assert_corrupt(store.cert(3).unwrap_err(), cf::CERTS, "height 3");
    let s = audit_both(&store);
    assert_eq!(s.failure.as_ref().map(|f| f.height), Some(3), "{:?}", s.failure);
    flip(&store, cf::CERTS, &3u64.to_be_bytes(), 20);

    flip(&store, cf::HEADERS, &6u64.to_be_bytes(), 50);
    assert_corrupt(store.header(6).unwrap_err(), cf::HEADERS, "height 6");
    let s = audit_both(&store);
    assert_eq!(s.failure.as_ref().map(|f| f.height), Some(6));
    flip(&store, cf::HEADERS, &6u64.to_be_bytes(), 50);

    flip(&store, cf::DEPOSITS, &dep.0, 9);
    assert_corrupt(store.deposit_location(&dep).unwrap_err(), cf::DEPOSITS, &dep.to_hex());
    let s = audit_both(&store);
    let f = s.failure.unwrap();
    assert_eq!(f.height, 3);
    assert!(f.reason.contains(&dep.to_hex()), "{}", f.reason);
    flip(&store, cf::DEPOSITS, &dep.0, 9);

    let mut dk = commitment.0.to_vec();
    dk.extend_from_slice(&dep.0);
    flip(&store, cf::DIGESTS, &dk, 0);
    assert_corrupt(store.deposits_by_digest(&commitment).unwrap_err(), cf::DIGESTS, &commitment.to_hex());
    let s = audit_both(&store);
    assert_eq!(s.failure.map(|f| f.height), Some(3));
    flip(&store, cf::DIGESTS, &dk, 0);

    flip(&store, cf::TXS, &tx_id.0, 5);
    // A read of the flipped entry fails; execute reports it instead of a wrong answer.
    let next = common::chain(9, 30);
    if let Err(e) = store.execute(&next.blocks[8].0) {
        assert_state_corrupt(e, cf::TXS, &tx_id.to_hex());
    }
    let s = audit_both(&store);
    assert_eq!(s.failure.map(|f| f.height), Some(3));
    flip(&store, cf::TXS, &tx_id.0, 5);

    // A value moved to another key fails: the checksum binds the key.
    let v4 = store.raw_get_for_tests(cf::BLOCKS, &4u64.to_be_bytes()).unwrap().unwrap();
    store.raw_put_for_tests(cf::BLOCKS, &2u64.to_be_bytes(), &v4).unwrap();
    assert_corrupt(store.block(2).unwrap_err(), cf::BLOCKS, "height 2");

    // A truncated value.
    store.raw_put_for_tests(cf::META, b"tip", &[1, 2]).unwrap();
    assert_corrupt(store.stored_tip().unwrap_err(), cf::META, "tip");
}

#[test]
fn state_read_errors_are_not_answers() {
    let c = common::chain(6, 5);
    let (_d, store) = store_with_chain(&c);
    // Corrupt the judge's client record: executing a block of judge transactions must fail with
    // the corruption, not with "unknown sender".
    let judge = curia_ledger::testkit::test_key("judge").public();
    flip(&store, cf::CLIENTS, &judge.0, 2);
    let full = common::chain(7, 5);
    let e = store.execute(&full.blocks[6].0).unwrap_err();
    assert_state_corrupt(e, cf::CLIENTS, "key");
}

#[test]
fn a_batch_replayed_in_a_later_block_is_caught_on_disk_as_in_memory() {
    // Block 7 repeats block 4's batch, with the changes it would have if it were new: the same
    // deposit IDs a second time. (Committing it to a store would overwrite block 4's index
    // entries, which the store audit reports at height 4; here the replay itself must refuse
    // block 7, on the scratch state as in memory.)
    let c = common::chain(6, 20);
    let dup = c.blocks[3].0.txs[1].clone();
    let id = dup.id(&c.spec.chain_id);
    let mut changes = vec![Change::TxApplied { id }];
    for (dep, commitment) in dup.deposits(&id) {
        changes.push(Change::Deposit { id: dep, commitment });
    }
    let proposing = c.proposing(c.spec.genesis.validators[c.tip.height as usize % 4].key);
    let header = next_header(&c.spec, &c.tip, std::slice::from_ref(&dup), &changes, &proposing);
    let block = Block { header, last_commit: proposing.last_commit, txs: vec![dup] };
    let cert = c.certify(&block, 0);
    let parent = tempfile::tempdir().unwrap();
    let mut disk = Auditor::new(&c.spec, ScratchState::create(&c.spec, Some(parent.path())).unwrap());
    let mut mem = Auditor::in_memory(&c.spec);
    for (b, cert) in &c.blocks {
        disk.push(b, cert).unwrap();
        mem.push(b, cert).unwrap();
    }
    let f = disk.push(&block, &cert).expect_err("the replayed batch is refused");
    assert_eq!(Err(f.clone()), mem.push(&block, &cert));
    assert_eq!((f.height, f.code), (7, "invalid_tx_in_block"), "{}", f.reason);
    assert!(f.reason.contains(&format!("duplicate transaction {id}")), "{}", f.reason);
    assert!(disk.state_error().is_none());
    assert_eq!(disk.finish().blocks, 6);
    drop(disk);
    assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 0, "scratch state left behind");
}
