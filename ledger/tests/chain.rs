//! End-to-end ledger tests: build chains, issue receipts, verify, tamper, audit.

use curia_ledger::audit::Auditor;
use curia_ledger::codec::Canonical;
use curia_ledger::hash::Hash;
use curia_ledger::receipt::Receipt;
use curia_ledger::testkit::{test_key, TestChain};
use curia_ledger::tx::{Payload, RegistryAction, Transaction};
use curia_ledger::verify::{verify_receipt, Evidence};
use curia_ledger::LedgerError;

fn chain_with_deposits() -> (TestChain, Vec<Hash>) {
    let mut c = TestChain::new(4);
    let txs: Vec<_> = (0..5).map(|i| c.deposit("platform", format!("evidence {i}").as_bytes(), i)).collect();
    let ids: Vec<Hash> = txs.iter().map(|t| t.id(&c.spec.chain_id)).collect();
    assert!(c.commit(txs).is_empty());
    let digests: Vec<Hash> = (0..7).map(|i| Hash::sha256(format!("batch item {i}").as_bytes())).collect();
    let batch = c.batch("platform2", digests, 1);
    assert!(c.commit(vec![batch]).is_empty());
    (c, ids)
}

#[test]
fn single_deposit_receipt_verifies_and_tampering_fails() {
    let (c, ids) = chain_with_deposits();
    let r = c.receipt(&ids[3]).expect("receipt");
    let rep = verify_receipt(Evidence::Bytes(b"evidence 3"), &r, &c.spec);
    assert!(rep.is_valid(), "{:#?}", rep.checks);
    assert_eq!(rep.height, 1);

    let rep = verify_receipt(Evidence::Bytes(b"evidence 4"), &r, &c.spec);
    assert_eq!(rep.first_failure().unwrap().name, "digest");

    // JSON and binary round trips.
    assert_eq!(Receipt::from_json(r.to_json().as_bytes()).unwrap(), r);
    assert_eq!(Receipt::parse(&r.to_bytes()).unwrap(), r);
}

#[test]
fn batch_item_receipt_verifies() {
    let (c, _) = chain_with_deposits();
    let (block, _) = &c.blocks[1];
    let tx = &block.txs[0];
    let ids = tx.deposits(&tx.id(&c.spec.chain_id));
    for (i, (dep, _)) in ids.iter().enumerate() {
        let r = c.receipt(dep).expect("receipt");
        let data = format!("batch item {i}");
        let rep = verify_receipt(Evidence::Bytes(data.as_bytes()), &r, &c.spec);
        assert!(rep.is_valid(), "{:#?}", rep.checks);
        let wrong = verify_receipt(Evidence::Bytes(b"other"), &r, &c.spec);
        assert!(!wrong.is_valid());
    }
}

#[test]
fn every_bit_of_a_receipt_matters() {
    let (c, ids) = chain_with_deposits();
    let r = c.receipt(&ids[0]).unwrap();
    let bytes = r.to_bytes();
    let mut rejected = 0;
    for i in 0..bytes.len() {
        for bit in [0u8, 3, 7] {
            let mut b = bytes.clone();
            b[i] ^= 1 << bit;
            match Receipt::from_bytes(&b) {
                Err(_) => rejected += 1,
                Ok(m) => {
                    let rep = verify_receipt(Evidence::Bytes(b"evidence 0"), &m, &c.spec);
                    assert!(!rep.is_valid(), "flip of bit {bit} at byte {i} still verifies");
                    rejected += 1;
                }
            }
        }
    }
    assert_eq!(rejected, bytes.len() * 3);
}

#[test]
fn every_bit_of_the_genesis_matters() {
    let (c, ids) = chain_with_deposits();
    let r = c.receipt(&ids[0]).unwrap();
    let json = c.spec.genesis.to_json();
    // Flip a bit in every hex digit of every key and in the name: each changes the chain.
    let mut checked = 0;
    for (i, ch) in json.char_indices() {
        if !ch.is_ascii_hexdigit() || !ch.is_ascii_digit() {
            continue;
        }
        let mut s = json.clone().into_bytes();
        s[i] = if ch == '0' { b'1' } else { b'0' };
        if let Ok(spec) = curia_ledger::genesis::Genesis::from_json(&s) {
            let rep = verify_receipt(Evidence::Bytes(b"evidence 0"), &r, &spec);
            assert!(!rep.is_valid(), "changed genesis at {i} still verifies");
            checked += 1;
        }
    }
    assert!(checked > 100);
}

#[test]
fn case_lifecycle_rules() {
    let (mut c, ids) = chain_with_deposits();
    let open = |id: &str| Payload::OpenCase { case_id: id.into(), title: "Smith v. Jones".into() };
    let attach = |id: &str, d: Hash| Payload::AttachDeposit { case_id: id.into(), deposit_id: d };
    let close = |id: &str| Payload::CloseCase { case_id: id.into(), note: "judgment".into() };

    // A platform may not open a case.
    let rej = c.commit(vec![c.tx("platform", open("C-1"), 10)]);
    assert!(matches!(rej[0].1, LedgerError::WrongRole { .. }));

    // Attach before open: case not found.
    let rej = c.commit(vec![c.tx("judge", attach("C-1", ids[0]), 11)]);
    assert!(matches!(rej[0].1, LedgerError::CaseNotFound(_)));

    // Open and attach in one block works (the overlay sees the open).
    let rej = c.commit(vec![c.tx("judge", open("C-1"), 12), c.tx("judge", attach("C-1", ids[0]), 13)]);
    assert!(rej.is_empty(), "{rej:?}");

    let verify_rec = |d: Hash| Payload::RecordVerification {
        case_id: "C-1".into(),
        deposit_id: d,
        valid: true,
        report: Hash::sha256(b"report"),
        note: "ok".into(),
    };
    let rej = c.commit(vec![
        c.tx("judge", open("C-1"), 14),               // exists
        c.tx("judge", attach("C-1", ids[0]), 15),     // already attached
        c.tx("judge", attach("C-1", Hash::ZERO), 16), // unknown deposit
        c.tx("judge2", attach("C-1", ids[1]), 17),    // not the owner
        c.tx("judge", verify_rec(ids[2]), 18),        // not attached
        c.tx("judge", verify_rec(ids[0]), 19),        // fine
    ]);
    let codes: Vec<_> = rej.iter().map(|(_, e)| e.code()).collect();
    assert_eq!(codes, ["case_exists", "already_attached", "deposit_not_found", "not_case_owner", "not_attached"]);

    assert!(c.commit(vec![c.tx("judge", close("C-1"), 20)]).is_empty());
    let rej = c.commit(vec![c.tx("judge", attach("C-1", ids[1]), 21)]);
    assert!(matches!(rej[0].1, LedgerError::CaseClosed(_)));

    // Replay of an applied transaction.
    let again = c.tx("judge", close("C-1"), 20);
    let rej = c.commit(vec![again]);
    assert!(matches!(rej[0].1, LedgerError::DuplicateTx(_)));
}

#[test]
fn registry_needs_court_majority() {
    let mut c = TestChain::new(4); // courts are v0 and v1
    let newkey = test_key("newplatform").public();
    let action = RegistryAction::Add(curia_ledger::genesis::Client {
        name: "newplatform".into(),
        role: curia_ledger::genesis::ClientRole::Platform,
        key: newkey,
    });
    let msg = action.approval_hash(&c.spec.chain_id);
    let approve =
        |i: u16| curia_ledger::tx::Approval { validator: i, signature: test_key(&format!("v{i}")).sign(&msg) };
    let one = Payload::Registry { action: action.clone(), approvals: vec![approve(0)] };
    let rej = c.commit(vec![c.tx("registrar", one, 1)]);
    assert!(matches!(rej[0].1, LedgerError::NotEnoughApprovals { needed: 2, got: 1 }));
    let notary = Payload::Registry { action: action.clone(), approvals: vec![approve(0), approve(2)] };
    let rej = c.commit(vec![c.tx("registrar", notary, 2)]);
    assert!(matches!(rej[0].1, LedgerError::Registry(_)));
    let both = Payload::Registry { action, approvals: vec![approve(0), approve(1)] };
    assert!(c.commit(vec![c.tx("registrar", both, 3)]).is_empty());
    // The new platform can deposit.
    assert!(c.commit(vec![c.deposit("newplatform", b"x", 1)]).is_empty());
}

#[test]
fn audit_replays_and_catches_tampering() {
    let (c, _) = chain_with_deposits();
    let mut a = Auditor::in_memory(&c.spec);
    for (b, cert) in &c.blocks {
        a.push(b, cert).unwrap();
    }
    let s = a.finish();
    assert_eq!((s.blocks, s.deposits), (2, 12));

    // Tamper with block 2's label: the tx root no longer matches.
    let mut blocks = c.blocks.clone();
    if let Payload::BatchDeposit(b) = &mut blocks[1].0.txs[0].body.payload {
        b.label.push('!');
    }
    let mut a = Auditor::in_memory(&c.spec);
    a.push(&blocks[0].0, &blocks[0].1).unwrap();
    let f = a.push(&blocks[1].0, &blocks[1].1).unwrap_err();
    assert_eq!(f.height, 2);
}

#[test]
fn vouched_signatures_are_skipped_only_for_the_exact_signature() {
    use curia_ledger::state::{apply_block_with, build_block_with, Tip};
    let c = TestChain::new(4);
    let good = c.deposit("platform", b"vouched", 1);
    let good_id = good.id(&c.spec.chain_id);
    let checked = good.clone();
    let vouch = move |id: &Hash, tx: &Transaction| *id == good_id && *tx == checked;
    let proposer = c.spec.genesis.validators[0].key;
    let built = build_block_with(&c.spec, &c.state, &c.tip, vec![good.clone()], c.proposing(proposer), &vouch).unwrap();
    assert!(built.rejected.is_empty());
    assert!(apply_block_with(&c.spec, &c.state, &Tip::genesis(&c.spec), &built.block, &vouch).is_ok());

    // Same body (same ID), another signature: the predicate does not vouch, so it is verified
    // and refused, both when building and when applying.
    let mut forged = good;
    forged.signature.0[10] ^= 1;
    let built =
        build_block_with(&c.spec, &c.state, &c.tip, vec![forged.clone()], c.proposing(proposer), &vouch).unwrap();
    assert!(matches!(built.rejected[0].1, LedgerError::BadSignature { .. }), "{:?}", built.rejected);
    let mut block = build_block_with(&c.spec, &c.state, &c.tip, vec![], c.proposing(proposer), &vouch).unwrap().block;
    block.txs = vec![forged];
    block.header.tx_root = curia_ledger::merkle::root(&block.txs.iter().map(|t| t.leaf_hash()).collect::<Vec<_>>());
    block.header.tx_count = 1;
    let err = apply_block_with(&c.spec, &c.state, &c.tip, &block, &vouch).unwrap_err();
    assert!(err.to_string().contains("signature"), "{err}");
}

/// A deposit made earlier in the same block can be attached, including one made after an
/// earlier attachment in that block (the overlay's deposit index follows the block), and a
/// deposit not made yet cannot.
#[test]
fn deposits_of_the_same_block_can_be_attached() {
    use curia_ledger::state::apply_block;
    use curia_ledger::tx::batch_item_id;
    let mut c = TestChain::new(4);
    let attach = |d: Hash| Payload::AttachDeposit { case_id: "C-9".into(), deposit_id: d };
    let single = c.deposit("platform", b"same block", 1);
    let single_id = single.id(&c.spec.chain_id);
    let batch = c.batch("platform2", (0..3u8).map(|i| Hash::sha256(&[i])).collect(), 2);
    let item = batch_item_id(&batch.id(&c.spec.chain_id), 2);
    let late = c.deposit("platform", b"later in the block", 3);
    let late_id = late.id(&c.spec.chain_id);
    let txs = vec![
        c.tx("judge", Payload::OpenCase { case_id: "C-9".into(), title: "t".into() }, 10),
        single,
        c.tx("judge", attach(single_id), 11),
        batch,
        c.tx("judge", attach(item), 12),
        c.tx("judge", attach(late_id), 13), // made later in the block: not found
        late,
    ];
    let tip = c.tip;
    let state_before = c.state.clone();
    let rej = c.commit(txs);
    let codes: Vec<_> = rej.iter().map(|(_, e)| e.code()).collect();
    assert_eq!(codes, ["deposit_not_found"]);
    let (block, _) = c.blocks.last().unwrap();
    assert_eq!(block.txs.len(), 6);
    assert!(apply_block(&c.spec, &state_before, &tip, block).is_ok());
}

/// A vouched batch is one equal to the checked one, items included: the same ID and signature
/// with other items (which the ID does not cover) is checked again and refused for its root, both
/// when building and when applying.
#[test]
fn vouched_batches_are_skipped_only_with_the_same_items() {
    use curia_ledger::state::{apply_block_with, build_block_with, Tip};
    let c = TestChain::new(4);
    let items: Vec<Hash> = (0..5u8).map(|i| Hash::sha256(&[i])).collect();
    let good = c.batch("platform", items, 1);
    let good_id = good.id(&c.spec.chain_id);
    let checked = good.clone();
    let vouch = move |id: &Hash, tx: &Transaction| *id == good_id && *tx == checked;
    let proposer = c.spec.genesis.validators[0].key;
    let built = build_block_with(&c.spec, &c.state, &c.tip, vec![good.clone()], c.proposing(proposer), &vouch).unwrap();
    assert!(built.rejected.is_empty(), "{:?}", built.rejected);
    assert!(apply_block_with(&c.spec, &c.state, &Tip::genesis(&c.spec), &built.block, &vouch).is_ok());

    let mut swapped = good;
    swapped.items.swap(0, 1);
    assert_eq!(swapped.id(&c.spec.chain_id), good_id, "the items are not in the ID");
    let built =
        build_block_with(&c.spec, &c.state, &c.tip, vec![swapped.clone()], c.proposing(proposer), &vouch).unwrap();
    assert!(matches!(built.rejected[0].1, LedgerError::BatchRootMismatch { .. }), "{:?}", built.rejected);
    let mut block = build_block_with(&c.spec, &c.state, &c.tip, vec![], c.proposing(proposer), &vouch).unwrap().block;
    block.txs = vec![swapped];
    block.header.tx_root = curia_ledger::merkle::root(&block.txs.iter().map(|t| t.leaf_hash()).collect::<Vec<_>>());
    block.header.tx_count = 1;
    let err = apply_block_with(&c.spec, &c.state, &c.tip, &block, &vouch).unwrap_err();
    assert!(err.to_string().contains("root"), "{err}");
}

/// Block `h + 1` must carry a valid certificate of block `h`, committed to by its header; the
/// first block carries none.
#[test]
fn blocks_carry_the_previous_certificate() {
    use curia_ledger::block::last_commit_hash;
    use curia_ledger::state::{apply_block, build_block, Tip};
    let (c, _) = chain_with_deposits();
    let proposer = c.spec.genesis.validators[2].key;
    let next = || build_block(&c.spec, &c.state, &c.tip, vec![], c.proposing(proposer)).unwrap().block;
    let good = next();
    assert_eq!(good.last_commit.as_ref(), Some(&c.blocks[1].1));
    assert!(apply_block(&c.spec, &c.state, &c.tip, &good).is_ok());
    // Re-hash the header after changing what the block carries, so only the rule under test fails.
    let refused = |mutate: &dyn Fn(&mut curia_ledger::block::Block), want: &str| {
        let mut b = next();
        mutate(&mut b);
        b.header.last_commit_hash = last_commit_hash(b.last_commit.as_ref());
        let e = apply_block(&c.spec, &c.state, &c.tip, &b).unwrap_err().to_string();
        assert!(e.contains(want), "{want}: {e}");
    };
    refused(&|b| b.last_commit = None, "carries no certificate for block 2");
    refused(&|b| b.last_commit = Some(c.blocks[0].1.clone()), "carried certificate is for block");
    refused(&|b| b.last_commit.as_mut().unwrap().sigs.truncate(2), "not more than two thirds");
    refused(&|b| b.last_commit.as_mut().unwrap().sigs[1].signature.0[5] ^= 1, "carried certificate");
    // The header commits to the carried certificate: swapping it (even for another valid
    // certificate of the same block) without the header is caught.
    let mut b = next();
    b.last_commit.as_mut().unwrap().sigs.pop();
    let e = apply_block(&c.spec, &c.state, &c.tip, &b).unwrap_err().to_string();
    assert!(e.contains("carried certificate hash"), "{e}");
    // The first block carries nothing.
    let fresh = TestChain::new(4);
    let mut first =
        build_block(&fresh.spec, &fresh.state, &fresh.tip, vec![], fresh.proposing(proposer)).unwrap().block;
    assert_eq!((first.last_commit.is_none(), first.header.last_commit_hash), (true, Hash::ZERO));
    first.last_commit = Some(c.blocks[0].1.clone());
    first.header.last_commit_hash = last_commit_hash(first.last_commit.as_ref());
    let e = apply_block(&fresh.spec, &fresh.state, &Tip::genesis(&fresh.spec), &first).unwrap_err();
    assert!(e.to_string().contains("first block carries"), "{e}");
}

/// An audit checks each certificate under the set in force at its height: after a membership
/// change the blocks are certified by the new set, and the replay must accept them (it checked
/// every certificate against the genesis set before, and so refused such a chain).
#[test]
fn audit_follows_membership_changes() {
    let (c, _) = TestChain::membership_fixture();
    let genesis_hash = c.spec.validators_hash;
    let later = c.blocks.iter().filter(|(b, _)| b.header.validators_hash != genesis_hash).count();
    assert!(later > 0, "the fixture must hold blocks certified by a later set");
    let mut a = Auditor::in_memory(&c.spec);
    for (b, cert) in &c.blocks {
        a.push(b, cert).unwrap_or_else(|f| panic!("height {}: {}", f.height, f.reason));
    }
    assert_eq!(a.finish().blocks, c.blocks.len() as u64);
}
