//! Headers that commit to the deposit log (genesis `log_in_header`, header version 4, receipt
//! version 3; receipt format 5.1, 7, 8 and 14.1): proposers fill `log_size` and `log_root`,
//! validation and audits refuse a header naming another log, receipts carry the deposit's log
//! position, and chains without the switch keep their version 2 headers.

use curia_ledger::audit::Auditor;
use curia_ledger::block::{HEADER_VERSION, HEADER_VERSION_LOG};
use curia_ledger::codec::Canonical;
use curia_ledger::deposit_log::block_leaves;
use curia_ledger::genesis::Genesis;
use curia_ledger::hash::Hash;
use curia_ledger::receipt::{Receipt, RECEIPT_VERSION, RECEIPT_VERSION_LOG};
use curia_ledger::state::{apply_block, build_block};
use curia_ledger::testkit::{test_genesis, TestChain};
use curia_ledger::tlog::MemLog;
use curia_ledger::verify::{verify_receipt, Evidence};
use curia_ledger::LedgerError;

/// Three blocks: five deposits, an empty block, a batch of seven and a single deposit.
fn log_chain() -> (TestChain, Vec<Hash>) {
    let mut c = TestChain::new_with_log(4);
    let txs: Vec<_> = (0..5).map(|i| c.deposit("platform", format!("evidence {i}").as_bytes(), i)).collect();
    let ids: Vec<Hash> = txs.iter().map(|t| t.id(&c.spec.chain_id)).collect();
    assert!(c.commit(txs).is_empty());
    assert!(c.commit(vec![]).is_empty());
    let digests: Vec<Hash> = (0..7).map(|i| Hash::sha256(format!("batch item {i}").as_bytes())).collect();
    let batch = c.batch("platform2", digests, 1);
    let tail = c.deposit("platform", b"evidence tail", 9);
    assert!(c.commit(vec![batch, tail]).is_empty());
    (c, ids)
}

#[test]
fn headers_commit_to_the_log_after_their_block() {
    let (c, _) = log_chain();
    let mut log = MemLog::new();
    for (block, _) in &c.blocks {
        for (_, leaf) in block_leaves(&c.spec.chain_id, block) {
            log.append(leaf).unwrap();
        }
        let h = &block.header;
        assert_eq!(h.version, HEADER_VERSION_LOG);
        assert_eq!(h.log_size, Some(log.size()), "block {}", h.height);
        assert_eq!(h.log_root, Some(log.root()), "block {}", h.height);
        assert!(h.next_validators_hash.is_some(), "version 4 keeps version 3's fields");
        // Canonical round trip of a version 4 header.
        assert_eq!(&curia_ledger::block::Header::from_bytes(&h.to_bytes()).unwrap(), h);
    }
    assert_eq!(log.size(), 13);
    // The empty block repeats the log of the block before it.
    assert_eq!(c.blocks[1].0.header.log_root, c.blocks[0].0.header.log_root);
    // Every block replays in an audit.
    let mut a = Auditor::in_memory(&c.spec);
    for (b, cert) in &c.blocks {
        a.push(b, cert).unwrap();
    }
    assert_eq!(a.log().root(), log.root());
}

#[test]
fn a_header_naming_another_log_is_refused() {
    let (c, _) = log_chain();
    let tx = c.deposit("platform", b"one more", 20);
    let proposer = c.set_at(c.tip.height + 1).validators[0].key;
    let built = build_block(&c.spec, &c.state, &c.tip, vec![tx], c.proposing(proposer)).unwrap();
    assert!(built.rejected.is_empty());
    // The honest block applies.
    apply_block(&c.spec, &c.state, &c.tip, &built.block).unwrap();
    for (size, root) in [
        (built.block.header.log_size.unwrap(), Hash::sha256(b"another root")),
        (built.block.header.log_size.unwrap() - 1, built.block.header.log_root.unwrap()),
    ] {
        let mut forged = built.block.clone();
        forged.header.log_size = Some(size);
        forged.header.log_root = Some(root);
        let e = apply_block(&c.spec, &c.state, &c.tip, &forged).unwrap_err();
        assert!(matches!(e, LedgerError::LogCommitmentMismatch { .. }), "{e}");
        assert_eq!(e.code(), "log_commitment_mismatch");
        // An audit of a chain holding it (certified by a quorum) stops there.
        let cert = c.certify(&forged, 0);
        let mut a = Auditor::in_memory(&c.spec);
        for (b, cert) in &c.blocks {
            a.push(b, cert).unwrap();
        }
        let f = a.push(&forged, &cert).unwrap_err();
        assert_eq!(f.code, "log_commitment_mismatch");
        assert_eq!(f.height, c.tip.height + 1);
    }
    // A version 3 header (no log fields) on this chain is refused too.
    let mut old = built.block.clone();
    old.header.version = 3;
    old.header.log_size = None;
    old.header.log_root = None;
    let e = apply_block(&c.spec, &c.state, &c.tip, &old).unwrap_err();
    assert!(e.to_string().contains("header version 3 is not 4"), "{e}");
}

#[test]
fn receipts_carry_the_log_position_and_verify() {
    let (c, ids) = log_chain();
    let r = c.receipt(&ids[2]).unwrap();
    assert_eq!(r.version, RECEIPT_VERSION_LOG);
    assert_eq!(r.log_index, Some(2));
    let rep = verify_receipt(Evidence::Bytes(b"evidence 2"), &r, &c.spec);
    assert!(rep.is_valid(), "{:#?}", rep.checks);
    let check = rep.checks.iter().find(|k| k.name == "log_position").expect("log_position check");
    assert!(check.detail.contains("leaf 2 of 5"), "{}", check.detail);
    assert_eq!(Receipt::from_json(r.to_json().as_bytes()).unwrap(), r);
    assert_eq!(Receipt::parse(&r.to_bytes()).unwrap(), r);
    // A batch item in block 3: leaf 5 + 4.
    let (block, _) = &c.blocks[2];
    let batch_id = block.txs[0].deposits(&block.txs[0].id(&c.spec.chain_id))[4].0;
    let r = c.receipt(&batch_id).unwrap();
    assert_eq!(r.log_index, Some(9));
    let rep = verify_receipt(Evidence::Digest(Hash::sha256(b"batch item 4")), &r, &c.spec);
    assert!(rep.is_valid(), "{:#?}", rep.checks);
    // Another deposit's proof at this index, or a proof for a smaller tree, fails log_position.
    let mut bad = r.clone();
    bad.log_proof = c.receipt(&ids[0]).unwrap().log_proof;
    let rep = verify_receipt(Evidence::Digest(Hash::sha256(b"batch item 4")), &bad, &c.spec);
    assert_eq!(rep.first_failure().unwrap().name, "log_position");
    let mut bad = r.clone();
    bad.log_proof.as_mut().unwrap().pop();
    let rep = verify_receipt(Evidence::Digest(Hash::sha256(b"batch item 4")), &bad, &c.spec);
    assert_eq!(rep.first_failure().unwrap().name, "log_position");
    // A version 1 receipt with a version 4 header is malformed.
    let mut v1 = r.clone();
    v1.version = RECEIPT_VERSION;
    v1.log_index = None;
    v1.log_proof = None;
    let rep = verify_receipt(Evidence::Digest(Hash::sha256(b"batch item 4")), &v1, &c.spec);
    assert_eq!(rep.first_failure().unwrap().name, "format");
}

#[test]
fn chains_without_the_switch_are_unchanged() {
    let g = test_genesis(4);
    assert!(!g.log_in_header);
    assert!(!g.to_json().contains("log_in_header"), "the switch is absent from JSON when off");
    let on = Genesis { log_in_header: true, ..test_genesis(4) };
    assert!(on.to_json().contains("\"log_in_header\": true"));
    assert_eq!(on.to_bytes().len(), g.to_bytes().len() + 1);
    let back: Genesis = Genesis::from_bytes(&on.to_bytes()).unwrap();
    assert!(back.log_in_header);
    assert!(!Genesis::from_bytes(&g.to_bytes()).unwrap().log_in_header);
    let mut bad = g.to_bytes();
    bad.push(2);
    assert!(Genesis::from_bytes(&bad).is_err(), "a flag byte other than 1");
    let mut c = TestChain::new(4);
    let tx = c.deposit("platform", b"x", 1);
    let id = tx.id(&c.spec.chain_id);
    assert!(c.commit(vec![tx]).is_empty());
    let h = &c.blocks[0].0.header;
    assert_eq!(h.version, HEADER_VERSION);
    assert_eq!((h.log_size, h.log_root), (None, None));
    let r = c.receipt(&id).unwrap();
    assert_eq!(r.version, RECEIPT_VERSION);
    assert!(!r.to_json().contains("log_"));
}
