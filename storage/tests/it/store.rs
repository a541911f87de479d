//! Round trips, reopen, refusals, vote log, backup and restore.

use crate::common;

use curia_ledger::block::{Vote, VoteKind};
use curia_ledger::codec::Canonical;
use curia_ledger::hash::Hash;
use curia_ledger::testkit::{test_genesis, test_key, TestChain};
use curia_storage::{audit_store, cf, AuditOptions, CaseEvent, DepositLocation, ScratchState, Store, StoreError};

fn commit_range(store: &Store, c: &TestChain, ch: &[Vec<curia_ledger::state::Change>], r: std::ops::Range<usize>) {
    for ((b, cert), ch) in c.blocks[r.clone()].iter().zip(&ch[r]) {
        store.commit_block(b, cert, ch).expect("commit");
    }
}

#[test]
fn commit_read_back_and_reopen() {
    let c = common::chain(12, 50);
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), &c.spec).unwrap();
        assert_eq!(store.tip().height, 0);
        // Execute against disk, then commit: the node's path.
        for (b, cert) in &c.blocks {
            let ch = store.execute(b).expect("block applies against the store's state");
            store.commit_block(b, cert, &ch).unwrap();
        }
    }
    let store = Store::open(dir.path(), &c.spec).unwrap();
    assert_eq!(store.tip(), c.tip);
    assert_eq!(store.stored_tip().unwrap(), c.tip);
    for (b, cert) in &c.blocks {
        let h = b.header.height;
        assert_eq!(store.block(h).unwrap().as_ref(), Some(b));
        assert_eq!(store.cert(h).unwrap().as_ref(), Some(cert));
        assert_eq!(store.header(h).unwrap().as_ref(), Some(&b.header));
        for (ti, tx) in b.txs.iter().enumerate() {
            let id = tx.id(&c.spec.chain_id);
            assert_eq!(store.tx_location(&id).unwrap(), Some((h, ti as u32)));
            for (k, (dep, commitment)) in tx.deposits(&id).into_iter().enumerate() {
                let item_index = (!tx.items.is_empty()).then_some(k as u32);
                let loc = DepositLocation { height: h, tx_index: ti as u32, item_index };
                assert_eq!(store.deposit_location(&dep).unwrap(), Some(loc));
                assert!(store.deposits_by_digest(&commitment).unwrap().contains(&dep));
            }
        }
    }
    assert_eq!(store.block(13).unwrap(), None);
    // Receipts equal the ones the test chain builds, and verify offline.
    let (b5, _) = &c.blocks[4];
    let single = b5.txs[0].id(&c.spec.chain_id);
    let item = b5.txs[1].deposits(&b5.txs[1].id(&c.spec.chain_id))[7].0;
    for dep in [single, item] {
        let r = store.receipt(&dep).unwrap().expect("receipt");
        assert_eq!(Some(&r), c.receipt(&dep).as_ref());
        assert_eq!(r.computed_deposit_id(), dep);
    }
    assert!(store.receipt(&Hash::sha256(b"nothing")).unwrap().is_none());
    // doc-1 was deposited once alone and once as the last item of every batch.
    assert_eq!(store.deposits_by_digest(&Hash::sha256(b"doc-1")).unwrap().len(), 13);
    assert!(store.deposits_by_digest(&Hash::sha256(b"never")).unwrap().is_empty());
    // Case case-7: opened and attached in block 7, verified and closed in block 8.
    let recs = store.case_records("case-7").unwrap();
    let kinds: Vec<_> = recs.iter().map(|r| (r.height, std::mem::discriminant(&r.event))).collect();
    assert_eq!(recs.len(), 4, "{recs:?}");
    assert_eq!(kinds[0].0, 7);
    assert_eq!(kinds[3].0, 8);
    assert!(matches!(recs[0].event, CaseEvent::Opened { .. }));
    assert!(matches!(recs[1].event, CaseEvent::Attached { .. }));
    assert!(matches!(recs[2].event, CaseEvent::Verified { valid: true, .. }));
    assert!(matches!(recs[3].event, CaseEvent::Closed));
    assert!(!store.case_status("case-7").unwrap().unwrap().record.open);
    assert!(store.case_records("case-70").unwrap().is_empty());
    // The audit of the store passes.
    let mut seen = 0;
    let s = audit_store(&store, Some(&c.spec), &AuditOptions::default(), |p| seen = p.height).unwrap();
    assert!(s.failure.is_none(), "{:?}", s.failure);
    assert_eq!((s.blocks, seen, s.cases), (12, 12, 3));
    assert_eq!(s.deposits, 12 * 51);
}

/// A commit no longer holds the tip's lock across its synced write (readers such as receipts
/// used to wait for it): a reader running beside the commits must still never see a tip whose
/// block, header, certificate or deposit log entries are not yet readable, nor a tip that moves
/// back, and the receipts of the blocks below the tip it sees must be issuable.
#[test]
fn readers_beside_commits_never_see_a_tip_ahead_of_its_records() {
    let c = common::chain_on(TestChain::new_with_log(4), 24, 200);
    let ch = common::changes(&c);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &c.spec).unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    let reads = std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let (mut reads, mut last) = (0u64, 0u64);
            loop {
                // Read `done` first: the reads after it see every commit.
                let finished = done.load(std::sync::atomic::Ordering::Acquire);
                let t = store.tip();
                assert!(t.height >= last, "the tip moved back from {last} to {}", t.height);
                last = t.height;
                if t.height > 0 {
                    let header = store.header(t.height).unwrap().expect("the tip's header is stored");
                    assert_eq!(header.hash(), t.block_hash);
                    assert!(store.block(t.height).unwrap().is_some(), "the tip's block is stored");
                    assert!(store.cert(t.height).unwrap().is_some(), "the tip's certificate is stored");
                    let log = store.log_state().expect("the store keeps a deposit log");
                    assert!(log.height >= t.height, "the log ends at {} below the tip {}", log.height, t.height);
                }
                if t.height > 1 {
                    let (b, _) = &c.blocks[t.height as usize - 2];
                    let id = b.txs[0].id(&c.spec.chain_id);
                    let r = store.receipt(&id).unwrap().expect("a receipt below the tip");
                    assert_eq!(Some(&r), c.receipt(&id).as_ref());
                }
                reads += 1;
                if finished {
                    assert_eq!(t, c.tip);
                    return reads;
                }
            }
        });
        commit_range(&store, &c, &ch, 0..c.blocks.len());
        done.store(true, std::sync::atomic::Ordering::Release);
        reader.join().unwrap()
    });
    assert!(reads > 0);
}

#[test]
fn refuses_what_does_not_extend_the_tip() {
    let c = common::chain(3, 4);
    let ch = common::changes(&c);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &c.spec).unwrap();
    let (b1, c1) = &c.blocks[0];
    let (b2, c2) = &c.blocks[1];
    let e = store.commit_block(b2, c2, &ch[1]).unwrap_err();
    assert_eq!(e.to_string(), "cannot commit block 2: the tip is at height 0");
    let e = store.commit_block(b1, c2, &ch[0]).unwrap_err();
    assert!(e.to_string().contains("certificate is for block"), "{e}");
    let e = store.commit_block(b1, c1, &ch[1]).unwrap_err();
    assert!(e.to_string().contains("state root"), "{e}");
    store.commit_block(b1, c1, &ch[0]).unwrap();
    let e = store.commit_block(b1, c1, &ch[0]).unwrap_err();
    assert!(matches!(e, StoreError::BadCommit { height: 1, .. }), "{e}");
    // A block that breaks a state rule is refused by execute: replaying block 2's case opening.
    let mut other = TestChain::new(4);
    other.commit(vec![c.deposit("platform", b"x", 999)]);
    assert!(store.execute(&other.blocks[0].0).is_err());
}

#[test]
fn the_next_block_makes_a_certificate_canonical() {
    let c = common::chain(3, 2);
    let ch = common::changes(&c);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &c.spec).unwrap();
    // This node collected a smaller quorum for block 1 than the one block 2 carries.
    let carried = c.blocks[1].0.last_commit.clone().unwrap();
    let mut local = c.blocks[0].1.clone();
    local.sigs.remove(0);
    store.commit_block(&c.blocks[0].0, &local, &ch[0]).unwrap();
    assert_eq!(store.cert(1).unwrap(), Some(local.clone()));
    // A block carrying a certificate for another block is refused and changes nothing.
    let mut wrong = c.blocks[1].0.clone();
    wrong.last_commit.as_mut().unwrap().height = 2;
    let e = store.commit_block(&wrong, &c.blocks[1].1, &ch[1]).unwrap_err();
    assert!(e.to_string().contains("carried certificate"), "{e}");
    assert_eq!((store.tip().height, store.cert(1).unwrap()), (1, Some(local)));
    // Committing block 2 stores the carried certificate as block 1's, in the same write.
    store.commit_block(&c.blocks[1].0, &c.blocks[1].1, &ch[1]).unwrap();
    assert_eq!(store.cert(1).unwrap(), Some(carried));
    store.commit_block(&c.blocks[2].0, &c.blocks[2].1, &ch[2]).unwrap();
    let s = audit_store(&store, Some(&c.spec), &AuditOptions::default(), |_| {}).unwrap();
    assert!(s.failure.is_none(), "{:?}", s.failure);

    // An audit catches a chain whose certificate for block 2 (valid, but a smaller quorum) is not
    // the one block 3 carries.
    let mut stale = c.blocks[1].1.clone();
    stale.sigs.remove(1);
    let mut a = curia_ledger::audit::Auditor::in_memory(&c.spec);
    a.push(&c.blocks[0].0, &c.blocks[0].1).unwrap();
    a.push(&c.blocks[1].0, &stale).unwrap();
    let f = a.push(&c.blocks[2].0, &c.blocks[2].1).unwrap_err();
    assert_eq!(f.height, 3);
    assert!(f.reason.contains("not the one the chain gave for block 2"), "{f:?}");
}

#[test]
fn wrong_chain_and_schema_version_are_named() {
    let c = common::chain(1, 2);
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path(), &c.spec).unwrap());
    let mut g = test_genesis(4);
    g.chain_name = "other-chain".into();
    let other = g.into_spec().unwrap();
    let e = Store::open(dir.path(), &other).err().expect("wrong chain");
    assert!(matches!(e, StoreError::WrongChain { .. }), "{e}");
    assert!(e.to_string().contains(&c.spec.chain_id.to_hex()), "{e}");
    {
        let store = Store::open(dir.path(), &c.spec).unwrap();
        let v = 7u32.to_be_bytes();
        let mut sealed = common::seal(cf::META, b"schema", &v);
        store.raw_put_for_tests(cf::META, b"schema", &sealed).unwrap();
        sealed.clear();
    }
    let e = Store::open(dir.path(), &c.spec).err().expect("schema");
    assert!(matches!(e, StoreError::SchemaVersion { found: 7, expected: 1, .. }), "{e}");
    assert!(e.to_string().contains("schema version 7"), "{e}");
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(Store::open_existing(empty.path()).err(), Some(StoreError::NotAStore { .. })));
}

#[test]
fn vote_log_survives_reopen_and_prunes() {
    let c = TestChain::new(4);
    let dir = tempfile::tempdir().unwrap();
    let vote = |height: u64, round: u32| {
        Vote {
            chain_id: c.spec.chain_id,
            height,
            round,
            kind: VoteKind::Prevote,
            block: Some(Hash::sha256(&height.to_be_bytes())),
            time_ms: 5,
            validator: 1,
        }
        .sign(&test_key("v1"))
    };
    let all: Vec<_> = (1..=5).flat_map(|h| [vote(h, 0), vote(h, 1)]).collect();
    {
        let store = Store::open(dir.path(), &c.spec).unwrap();
        for v in &all {
            store.append_vote(v).unwrap();
        }
        store.put_consensus_state(b"locked at 5/1").unwrap();
    }
    let store = Store::open(dir.path(), &c.spec).unwrap();
    assert_eq!(store.votes().unwrap(), all);
    assert_eq!(store.consensus_state().unwrap().as_deref(), Some(&b"locked at 5/1"[..]));
    store.prune_votes_below(4).unwrap();
    assert_eq!(store.votes().unwrap(), all[6..].to_vec());
    // Appending after reopen continues the sequence (no overwrite of older entries).
    store.append_vote(&vote(5, 2)).unwrap();
    let got = store.votes().unwrap();
    assert_eq!(got.len(), 5);
    assert_eq!(got.last().unwrap().to_bytes(), vote(5, 2).to_bytes());
}

#[test]
fn checkpoint_and_restore() {
    let c = common::chain(6, 20);
    let ch = common::changes(&c);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &c.spec).unwrap();
    commit_range(&store, &c, &ch, 0..4);
    let backups = tempfile::tempdir().unwrap();
    let backup = backups.path().join("b1");
    assert_eq!(store.checkpoint(&backup).unwrap().height, 4, "the tip the copy holds");
    assert!(store.checkpoint(&backup).is_err(), "a second checkpoint into the same directory is refused");
    // The store keeps going after the backup.
    commit_range(&store, &c, &ch, 4..6);
    let target = backups.path().join("restored");
    let tip = Store::restore(&backup, &target, &c.spec).unwrap();
    assert_eq!(tip.height, 4);
    let restored = Store::open(&target, &c.spec).unwrap();
    assert_eq!(restored.tip().block_hash, c.blocks[3].0.hash());
    let s = audit_store(&restored, None, &AuditOptions::default(), |_| {}).unwrap();
    assert!(s.failure.is_none(), "{:?}", s.failure);
    assert_eq!(s.blocks, 4);
    // The restored store continues the chain.
    restored.commit_block(&c.blocks[4].0, &c.blocks[4].1, &ch[4]).unwrap();
    // Restoring over a non-empty directory or for another chain is refused.
    assert!(matches!(Store::restore(&backup, &target, &c.spec), Err(StoreError::Backup { .. })));
    let mut g = test_genesis(4);
    g.chain_name = "other".into();
    let e = Store::restore(&backup, backups.path().join("x"), &g.into_spec().unwrap()).unwrap_err();
    assert!(matches!(e, StoreError::WrongChain { .. }), "{e}");
}

#[test]
fn read_only_open_sees_committed_blocks() {
    let c = common::chain(3, 5);
    let ch = common::changes(&c);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &c.spec).unwrap();
    commit_range(&store, &c, &ch, 0..3);
    let ro = Store::open_read_only(dir.path()).unwrap();
    assert_eq!(ro.tip(), c.tip);
    assert!(matches!(
        ro.append_vote(
            &Vote {
                chain_id: c.spec.chain_id,
                height: 1,
                round: 0,
                kind: VoteKind::Prevote,
                block: None,
                time_ms: 0,
                validator: 0,
            }
            .sign(&test_key("v0"))
        ),
        Err(StoreError::ReadOnly { .. })
    ));
}

#[test]
fn audit_replays_into_a_scratch_store() {
    // The ledger's Auditor over the disk-backed scratch state instead of memory.
    let c = common::chain(8, 10);
    let parent = tempfile::tempdir().unwrap();
    let scratch = ScratchState::create(&c.spec, Some(parent.path())).unwrap();
    let path = scratch.path().to_path_buf();
    assert!(path.starts_with(parent.path()) && path.is_dir());
    let mut auditor = curia_ledger::audit::Auditor::new(&c.spec, scratch);
    for (b, cert) in &c.blocks {
        auditor.push(b, cert).expect("block replays on the scratch state");
    }
    assert_eq!(auditor.tip(), c.tip);
    assert!(auditor.state_error().is_none());
    // Same counts as the in-memory replay.
    let mut mem = curia_ledger::audit::Auditor::in_memory(&c.spec);
    for (b, cert) in &c.blocks {
        mem.push(b, cert).unwrap();
    }
    let (disk, memory) = (auditor.finish(), mem.finish());
    assert_eq!((disk.deposits, disk.txs, disk.blocks), (memory.deposits, memory.txs, memory.blocks));
    assert!(disk.deposits > 0);
    // The scratch directory goes with the state.
    drop(auditor);
    assert!(!path.exists());
    assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 0);
}

#[test]
fn membership_changes_and_evidence_audit_on_disk_as_in_memory() {
    // Certificates by a later validator set, a rotated key and two recorded offences: the
    // scratch state must hold the validator-set history and the evidence records as memory does.
    let c = TestChain::membership_evidence_fixture();
    let later = c.blocks.iter().filter(|(b, _)| b.header.validators_hash != c.spec.validators_hash).count();
    assert!(later > 0, "the fixture must hold blocks certified by a later set");
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &c.spec).unwrap();
    let ch = common::changes(&c);
    commit_range(&store, &c, &ch, 0..c.blocks.len());
    let parent = tempfile::tempdir().unwrap();
    let disk_opts = AuditOptions { scratch_parent: Some(parent.path().into()), ..Default::default() };
    let disk = audit_store(&store, None, &disk_opts, |_| {}).unwrap();
    assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 0, "scratch state left behind");
    let memory = audit_store(&store, None, &AuditOptions { in_memory: true, ..Default::default() }, |_| {}).unwrap();
    assert!(disk.failure.is_none(), "{:?}", disk.failure);
    assert!(memory.failure.is_none(), "{:?}", memory.failure);
    assert_eq!(disk.height, c.tip.height);
    assert_eq!((disk.blocks, disk.txs, disk.deposits), (memory.blocks, memory.txs, memory.deposits));
    assert_eq!(disk.evidence, memory.evidence);
    let named: Vec<(&str, u64)> = disk.evidence.iter().map(|e| (e.offender.as_str(), e.height)).collect();
    assert_eq!(named, [("v1", 1), ("v4", c.tip.height - 1)]);

    // A damaged certificate of the last block (certified by the later set): the same failure
    // on disk as in memory, at that height.
    let h = c.tip.height.to_be_bytes();
    let mut v = store.raw_get_for_tests(cf::CERTS, &h).unwrap().expect("certificate stored");
    let at = v.len() - 10;
    v[at] ^= 1;
    store.raw_put_for_tests(cf::CERTS, &h, &v).unwrap();
    let disk = audit_store(&store, None, &disk_opts, |_| {}).unwrap();
    let memory = audit_store(&store, None, &AuditOptions { in_memory: true, ..Default::default() }, |_| {}).unwrap();
    assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 0, "scratch state left behind");
    let f = disk.failure.expect("a damaged certificate fails the audit");
    assert_eq!(f.height, c.tip.height, "{f:?}");
    assert_eq!(Some(f), memory.failure);
}

/// The deposit log: every deposit in commit order, written with its block, kept on reopen,
/// rebuilt for stores written before it, proofs that verify, and an audit that recomputes it.
#[test]
fn deposit_log_follows_the_chain() {
    use curia_ledger::deposit_log::{block_leaves, Frontier};
    use curia_ledger::tlog::{stored_hash_count, verify_consistency, verify_inclusion};

    let c = common::chain(9, 20);
    let ch = common::changes(&c);
    let dir = tempfile::tempdir().unwrap();
    // Expected: leaves from the blocks, independently of the store.
    let mut sizes = vec![0u64];
    let mut roots = vec![Frontier::new().root()];
    let mut all = Vec::new();
    let mut front = Frontier::new();
    for (b, _) in &c.blocks {
        for (id, leaf) in block_leaves(&c.spec.chain_id, b) {
            all.push((id, leaf));
            front.append(leaf).unwrap();
        }
        sizes.push(front.size());
        roots.push(front.root());
    }
    assert_eq!(front.size(), 9 * 21);
    {
        let store = Store::open(dir.path(), &c.spec).unwrap();
        assert_eq!(store.log_state(), Some(curia_storage::LogState { height: 0, size: 0 }));
        for h in 0..9 {
            commit_range(&store, &c, &ch, h..h + 1);
            let s = store.log_state().unwrap();
            assert_eq!((s.height, s.size), (h as u64 + 1, sizes[h + 1]));
            assert_eq!(store.log_root(s.size).unwrap(), roots[h + 1]);
        }
    }
    let store = Store::open(dir.path(), &c.spec).unwrap();
    let n = store.log_size();
    assert_eq!(n, front.size());
    // Every earlier root, every leaf's index and inclusion proof, consistency between block sizes.
    for (h, size) in sizes.iter().enumerate() {
        assert_eq!(store.log_root(*size).unwrap(), roots[h]);
    }
    for (i, (id, leaf)) in all.iter().enumerate() {
        let i = i as u64;
        assert_eq!(store.log_index(id).unwrap(), Some(i));
        assert_eq!(store.log_leaf_hash(i).unwrap(), Some(*leaf));
        let proof = store.log_inclusion_proof(n, i).unwrap();
        verify_inclusion(leaf, i, n, &proof, &roots[9]).unwrap();
    }
    for a in 1..sizes.len() {
        for b in a..sizes.len() {
            let p = store.log_consistency_proof(sizes[a], sizes[b]).unwrap();
            verify_consistency(sizes[a], sizes[b], &roots[a], &roots[b], &p).unwrap();
        }
    }
    assert!(store.log_root(n + 1).is_err(), "a size beyond the log");
    assert!(store.log_inclusion_proof(n, n).is_err());
    assert!(store.log_consistency_proof(0, n).is_err());
    assert!(store.log_consistency_proof(5, n + 1).is_err());
    assert_eq!(store.log_index(&Hash::sha256(b"nothing")).unwrap(), None);
    let s = audit_store(&store, None, &AuditOptions::default(), |_| {}).unwrap();
    assert!(s.failure.is_none(), "{:?}", s.failure);

    // A validly sealed but wrong stored hash (the last leaf's) is found by the audit.
    let last_leaf = curia_ledger::tlog::stored_hash_index(0, n - 1).to_be_bytes();
    let good = store.raw_get_for_tests(cf::TLOG, &last_leaf).unwrap().unwrap();
    store.raw_put_for_tests(cf::TLOG, &last_leaf, &common::seal(cf::TLOG, &last_leaf, &[7; 32])).unwrap();
    let f = audit_store(&store, None, &AuditOptions::default(), |_| {}).unwrap().failure.expect("audit fails");
    assert_eq!((f.height, f.code), (9, "storage_corrupt"), "{}", f.reason);
    assert!(f.reason.contains("tlog") && f.reason.contains("stored hash"), "{}", f.reason);
    store.raw_put_for_tests(cf::TLOG, &last_leaf, &good).unwrap();
    // A deposit's index entry pointing elsewhere.
    let (id, _) = all[30];
    let good = store.raw_get_for_tests(cf::TLOG_INDEX, &id.0).unwrap().unwrap();
    store.raw_put_for_tests(cf::TLOG_INDEX, &id.0, &common::seal(cf::TLOG_INDEX, &id.0, &31u64.to_be_bytes())).unwrap();
    let f = audit_store(&store, None, &AuditOptions::default(), |_| {}).unwrap().failure.expect("audit fails");
    assert!(f.reason.contains("leaf 30"), "{}", f.reason);
    store.raw_put_for_tests(cf::TLOG_INDEX, &id.0, &good).unwrap();
    assert!(audit_store(&store, None, &AuditOptions::default(), |_| {}).unwrap().failure.is_none());

    // A store written before the log (no record, no entries): opening it for writing rebuilds
    // the log from its blocks, with the same hashes.
    for i in 0..stored_hash_count(n) {
        store.raw_delete_for_tests(cf::TLOG, &i.to_be_bytes()).unwrap();
    }
    store.raw_delete_for_tests(cf::META, b"tlog").unwrap();
    drop(store);
    let ro = Store::open_read_only(dir.path()).unwrap();
    assert_eq!(ro.log_state(), None, "read-only: no log recorded");
    assert_eq!(ro.log_size(), 0);
    assert!(
        audit_store(&ro, None, &AuditOptions::default(), |_| {}).unwrap().failure.is_none(),
        "no log, nothing to check"
    );
    drop(ro);
    let store = Store::open(dir.path(), &c.spec).unwrap();
    assert_eq!(store.log_state(), Some(curia_storage::LogState { height: 9, size: n }));
    assert_eq!(store.log_root(n).unwrap(), roots[9]);
    assert!(audit_store(&store, None, &AuditOptions::default(), |_| {}).unwrap().failure.is_none());
    // ... and it keeps growing with new blocks.
    let c2 = common::chain(10, 20);
    let ch2 = common::changes(&c2);
    commit_range(&store, &c2, &ch2, 9..10);
    assert_eq!(store.log_size(), n + 21);
    assert!(audit_store(&store, None, &AuditOptions::default(), |_| {}).unwrap().failure.is_none());
}

#[test]
fn log_checkpoints_are_kept_by_size_and_survive_reopen() {
    use curia_storage::{StoredCheckpoint, MAX_CHECKPOINT_NOTE};
    let c = common::chain(2, 3);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &c.spec).unwrap();
    assert_eq!(store.latest_log_checkpoint().unwrap(), None, "no checkpoint: the other meta keys are not one");
    let cp = |size, height, note: &str| StoredCheckpoint { size, height, note: note.as_bytes().to_vec() };
    store.put_log_checkpoint(&cp(3, 1, "a")).unwrap();
    store.put_log_checkpoint(&cp(10, 4, "b")).unwrap();
    store.put_log_checkpoint(&cp(7, 3, "c")).unwrap();
    assert_eq!(store.latest_log_checkpoint().unwrap(), Some(cp(10, 4, "b")));
    // One record per size: a later one of the same size replaces it.
    store.put_log_checkpoint(&cp(10, 5, "d")).unwrap();
    let too_big = "x".repeat(MAX_CHECKPOINT_NOTE + 1);
    assert!(store.put_log_checkpoint(&cp(11, 6, &too_big)).is_err());
    drop(store);
    let store = Store::open(dir.path(), &c.spec).unwrap();
    assert_eq!(store.log_checkpoint(3).unwrap(), Some(cp(3, 1, "a")));
    assert_eq!(store.log_checkpoint(7).unwrap(), Some(cp(7, 3, "c")));
    assert_eq!(store.log_checkpoint(4).unwrap(), None);
    assert_eq!(store.log_checkpoint(11).unwrap(), None);
    assert_eq!(store.latest_log_checkpoint().unwrap(), Some(cp(10, 5, "d")));
    // Time-stamp tokens, by size, naming the checkpoint's height; they never count as the
    // latest checkpoint (their keys sort after every checkpoint key).
    use curia_storage::{StoredTsaToken, MAX_TSA_TOKEN};
    let tok = |size, height, t: &[u8]| StoredTsaToken { size, height, token: t.to_vec() };
    assert_eq!(store.checkpoint_tsa(10).unwrap(), None);
    store.put_checkpoint_tsa(&tok(10, 4, b"token-4")).unwrap();
    store.put_checkpoint_tsa(&tok(10, 5, b"token-5")).unwrap();
    store.put_checkpoint_tsa(&tok(u64::MAX, 9, b"top")).unwrap();
    assert!(store.put_checkpoint_tsa(&tok(3, 1, &vec![1; MAX_TSA_TOKEN + 1])).is_err());
    assert!(store.put_checkpoint_tsa(&tok(3, 1, b"")).is_err());
    drop(store);
    let store = Store::open(dir.path(), &c.spec).unwrap();
    assert_eq!(store.checkpoint_tsa(10).unwrap(), Some(tok(10, 5, b"token-5")));
    assert_eq!(store.checkpoint_tsa(3).unwrap(), None);
    assert_eq!(store.latest_log_checkpoint().unwrap(), Some(cp(10, 5, "d")));
    // The records are checksummed like every value: the audit of the store still passes.
    audit_store(&store, None, &AuditOptions::default(), |_| {}).unwrap();
}
