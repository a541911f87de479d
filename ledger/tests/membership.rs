//! Membership changes: every refusal, the activation height, headers naming the set in force and
//! the next one, and certificates checked against the set in force at their height.

use curia_ledger::block::{HEADER_VERSION, HEADER_VERSION_MEMBERSHIP};
use curia_ledger::crypto::{PublicKey, SecretKey};
use curia_ledger::genesis::{Validator, ValidatorRole};
use curia_ledger::hash::Hash;
use curia_ledger::membership::{approval_hash, MemberApproval, MemberChange, ACTIVATION_DELAY};
use curia_ledger::state::{apply_block, build_block, membership_of};
use curia_ledger::testkit::{test_genesis, test_key, TestChain};
use curia_ledger::tx::{Payload, Transaction};
use curia_ledger::LedgerError;

fn key(name: &str) -> SecretKey {
    test_key(name)
}

/// A membership transaction for change `seq` approved by the secret keys `by`.
fn member_tx(c: &TestChain, seq: u64, change: MemberChange, by: &[SecretKey], nonce: u64) -> Transaction {
    let msg = approval_hash(&c.spec.chain_id, seq, &change);
    let approvals = by.iter().map(|k| MemberApproval { key: k.public(), signature: k.sign(&msg) }).collect();
    c.tx("registrar", Payload::Membership { seq, change, approvals }, nonce)
}

fn add(name: &str, role: ValidatorRole) -> MemberChange {
    MemberChange::Add {
        validator: Validator {
            name: name.into(),
            role,
            key: key(name).public(),
            power: 1,
            address: "/ip4/127.0.0.1/tcp/1".into(),
        },
    }
}

fn vkeys(names: &[&str]) -> Vec<SecretKey> {
    names.iter().map(|n| key(n)).collect()
}

/// Commit `tx` alone and return its refusal, if any.
fn refusal(c: &mut TestChain, make: impl FnOnce(&TestChain) -> Transaction) -> Option<LedgerError> {
    let tx = make(c);
    c.commit(vec![tx]).pop().map(|(_, e)| e)
}

#[test]
fn an_added_validator_is_in_force_two_heights_after_its_commit() {
    let mut c = TestChain::new(4);
    c.commit(vec![c.deposit("platform", b"before", 1)]);
    let tx = member_tx(&c, 0, add("v4", ValidatorRole::Forensic), &vkeys(&["v0", "v1", "v2"]), 1);
    assert!(c.commit(vec![tx]).is_empty(), "three of four approve: more than two thirds");
    let h = c.tip.height; // committed at h
    let m = membership_of(&c.spec, &c.state).unwrap();
    assert_eq!(m.len(), 1);
    assert_eq!(m.set_at(h).len(), 4);
    assert_eq!(m.set_at(h + 1).len(), 4, "not yet at h + 1");
    assert_eq!(m.set_at(h + ACTIVATION_DELAY).len(), 5, "in force at h + 2");
    // The committing block names the genesis set only (version 2); the next names the new set.
    let (block_h, _) = c.blocks.last().unwrap().clone();
    assert_eq!(block_h.header.version, HEADER_VERSION);
    assert_eq!(block_h.header.next_validators_hash, None);
    c.commit(vec![c.deposit("platform", b"h+1", 2)]);
    let (b1, _) = c.blocks.last().unwrap().clone();
    assert_eq!(b1.header.version, HEADER_VERSION_MEMBERSHIP);
    assert_eq!(b1.header.validators_hash, c.spec.validators_hash);
    assert_eq!(b1.header.next_validators_hash, Some(m.set_at(h + 2).hash));
    c.commit(vec![c.deposit("platform", b"h+2", 3)]);
    let (b2, cert2) = c.blocks.last().unwrap().clone();
    assert_eq!(b2.header.validators_hash, m.set_at(h + 2).hash);
    assert_eq!(cert2.sigs.len(), 5, "five validators certify from h + 2");
    assert!(cert2.verify_in(&c.spec.chain_id, m.set_at(h + 2)).is_ok());
    // A certificate of the new set's block does not verify against the genesis set alone...
    let mut four = cert2.clone();
    four.sigs.retain(|s| s.validator == 4 || s.validator == 0);
    assert!(four.verify_in(&c.spec.chain_id, m.set_at(h + 2)).is_err());
    // ...and the next block still applies (it carries cert2, checked against the new set).
    assert!(c.commit(vec![c.deposit("platform", b"h+3", 4)]).is_empty());
    assert_eq!(c.tip.height, h + 3);
}

#[test]
fn a_block_that_names_the_old_set_after_activation_is_refused() {
    let mut c = TestChain::new(4);
    c.commit(vec![member_tx(&c, 0, add("v4", ValidatorRole::Court), &vkeys(&["v0", "v1", "v2", "v3"]), 1)]);
    c.commit(vec![]);
    // Height h + 2: build with the right history, then forge the header to the genesis set.
    let set = c.set_at(c.tip.height + 1);
    let proposer = set.validators[0].key;
    let built = build_block(&c.spec, &c.state, &c.tip, vec![], c.proposing(proposer)).unwrap();
    assert!(apply_block(&c.spec, &c.state, &c.tip, &built.block).is_ok());
    let mut forged = built.block.clone();
    forged.header.validators_hash = c.spec.validators_hash;
    let e = apply_block(&c.spec, &c.state, &c.tip, &forged).unwrap_err();
    assert!(e.to_string().contains("validator-set hash does not match the set in force"), "{e}");
    let mut forged = built.block.clone();
    forged.header.next_validators_hash = Some(Hash::ZERO);
    let e = apply_block(&c.spec, &c.state, &c.tip, &forged).unwrap_err();
    assert!(e.to_string().contains("next validator-set hash"), "{e}");
    let mut forged = built.block;
    forged.header.version = HEADER_VERSION;
    forged.header.next_validators_hash = None;
    let e = apply_block(&c.spec, &c.state, &c.tip, &forged).unwrap_err();
    assert!(e.to_string().contains("header version 2 is not 3"), "{e}");
}

#[test]
fn approvals_need_more_than_two_thirds_of_the_power_of_distinct_members() {
    let mut c = TestChain::new(4);
    let ch = || add("v4", ValidatorRole::Court);
    let e = refusal(&mut c, |c| member_tx(c, 0, ch(), &vkeys(&["v0", "v1"]), 1)).unwrap();
    assert!(matches!(e, LedgerError::NotEnoughApprovalPower { got: 2, needed: 3 }), "{e}");
    let e = refusal(&mut c, |c| member_tx(c, 0, ch(), &vkeys(&["v0", "v1", "v1"]), 2)).unwrap();
    assert!(matches!(e, LedgerError::DuplicateApproval(_)), "{e}");
    let e = refusal(&mut c, |c| member_tx(c, 0, ch(), &vkeys(&["v0", "v1", "platform"]), 3)).unwrap();
    assert!(matches!(e, LedgerError::ApprovalNotMember(_)), "{e}");
    assert_eq!(e.code(), "approval_not_member");
    // A signature over another change (here: another sequence number) does not count.
    let mut tx = member_tx(&c, 0, ch(), &vkeys(&["v0", "v1", "v2"]), 4);
    let wrong = member_tx(&c, 1, ch(), &vkeys(&["v2"]), 4);
    if let (Payload::Membership { approvals, .. }, Payload::Membership { approvals: w, .. }) =
        (&mut tx.body.payload, &wrong.body.payload)
    {
        approvals[2] = w[0];
    }
    let tx = c.tx("registrar", tx.body.payload, 4);
    let e = refusal(&mut c, |_| tx).unwrap();
    assert!(matches!(e, LedgerError::BadSignature { .. }), "{e}");
    // The wrong sequence number.
    let e = refusal(&mut c, |c| member_tx(c, 1, ch(), &vkeys(&["v0", "v1", "v2"]), 5)).unwrap();
    assert!(matches!(e, LedgerError::MembershipSeq { expected: 0, got: 1 }), "{e}");
    // Only a registrar sends membership changes.
    let mut tx = member_tx(&c, 0, ch(), &vkeys(&["v0", "v1", "v2"]), 6);
    tx = c.tx("judge", tx.body.payload, 6);
    let e = refusal(&mut c, |_| tx).unwrap();
    assert!(matches!(e, LedgerError::WrongRole { .. }), "{e}");
    assert!(membership_of(&c.spec, &c.state).unwrap().is_empty(), "nothing changed");
}

#[test]
fn approvals_after_a_change_come_from_the_set_in_force() {
    let mut c = TestChain::new(4);
    c.commit(vec![member_tx(&c, 0, add("v4", ValidatorRole::Court), &vkeys(&["v0", "v1", "v2"]), 1)]);
    // At h + 1 the new validator is not in force yet: its approval is a non-member's.
    let e = refusal(&mut c, |c| member_tx(c, 1, add("v5", ValidatorRole::Court), &vkeys(&["v0", "v1", "v4"]), 2));
    assert!(matches!(e, Some(LedgerError::ApprovalNotMember(_))), "{e:?}");
    // At h + 2 it is, and four of five are needed (quorum of 5 is 4).
    let e = refusal(&mut c, |c| member_tx(c, 1, add("v5", ValidatorRole::Court), &vkeys(&["v0", "v1", "v4"]), 3));
    assert!(matches!(e, Some(LedgerError::NotEnoughApprovalPower { got: 3, needed: 4 })), "{e:?}");
    let ok =
        refusal(&mut c, |c| member_tx(c, 1, add("v5", ValidatorRole::Court), &vkeys(&["v0", "v1", "v2", "v4"]), 4));
    assert!(ok.is_none(), "{ok:?}");
}

#[test]
fn added_keys_must_be_fresh_acceptable_and_not_a_clients() {
    let mut c = TestChain::new(4);
    let by = vkeys(&["v0", "v1", "v2"]);
    let with_key = |k: PublicKey| MemberChange::Add {
        validator: Validator { name: "x".into(), role: ValidatorRole::Court, key: k, power: 1, address: String::new() },
    };
    let e = refusal(&mut c, |c| member_tx(c, 0, with_key(key("v1").public()), &by, 1)).unwrap();
    assert!(matches!(e, LedgerError::ValidatorKeyInUse(_)), "{e}");
    // The identity point: small order.
    let mut small = [0u8; 32];
    small[0] = 1;
    let e = refusal(&mut c, |c| member_tx(c, 0, with_key(PublicKey(small)), &by, 2)).unwrap();
    assert!(matches!(e, LedgerError::BadKey(_)), "{e}");
    let e = refusal(&mut c, |c| member_tx(c, 0, with_key(key("judge").public()), &by, 3)).unwrap();
    assert!(matches!(e, LedgerError::ValidatorKeyInUse(ref m) if m.contains("client")), "{e}");
    let e = refusal(&mut c, |c| member_tx(c, 0, add("v1", ValidatorRole::Court), &by, 4));
    assert!(e.is_some(), "a name already in the set (the key is v1's too)");
    let mut dup_name = add("fresh", ValidatorRole::Court);
    if let MemberChange::Add { validator } = &mut dup_name {
        validator.name = "v2".into();
    }
    let e = refusal(&mut c, |c| member_tx(c, 0, dup_name, &by, 5)).unwrap();
    assert!(matches!(e, LedgerError::Invalid { what: "validator name", .. }), "{e}");
    let mut zero = add("fresh", ValidatorRole::Court);
    if let MemberChange::Add { validator } = &mut zero {
        validator.power = 0;
    }
    let e = refusal(&mut c, |c| member_tx(c, 0, zero, &by, 6)).unwrap();
    assert!(matches!(e, LedgerError::Invalid { what: "power", .. }), "{e}");
}

#[test]
fn a_rotation_takes_a_key_never_used_before_and_the_old_key_stops_counting() {
    let mut c = TestChain::new(4);
    let by = vkeys(&["v1", "v2", "v3"]);
    let new0 = key("v0-2027");
    c.extra_keys.push(new0.clone());
    let rot = MemberChange::Rotate { old: key("v0").public(), new: new0.public() };
    assert!(refusal(&mut c, |c| member_tx(c, 0, rot, &by, 1)).is_none());
    // v0's old key is now "used before": no validator may rotate to it or be added with it.
    let back = MemberChange::Rotate { old: key("v1").public(), new: key("v0").public() };
    let e = refusal(&mut c, |c| member_tx(c, 1, back, &by, 2)).unwrap();
    assert!(matches!(e, LedgerError::ValidatorKeyUsedBefore(_)), "{e}");
    assert_eq!(e.code(), "validator_key_used_before");
    let readd = MemberChange::Add {
        validator: Validator {
            name: "again".into(),
            role: ValidatorRole::Court,
            key: key("v0").public(),
            power: 1,
            address: String::new(),
        },
    };
    let e = refusal(&mut c, |c| member_tx(c, 1, readd, &by, 3)).unwrap();
    assert!(matches!(e, LedgerError::ValidatorKeyUsedBefore(_)), "{e}");
    let e = refusal(&mut c, |c| {
        member_tx(c, 1, MemberChange::Rotate { old: key("v1").public(), new: new0.public() }, &by, 4)
    });
    assert!(matches!(e, Some(LedgerError::ValidatorKeyInUse(_))), "{e:?}");
    let e = refusal(&mut c, |c| {
        member_tx(c, 1, MemberChange::Rotate { old: key("nobody").public(), new: key("n").public() }, &by, 5)
    });
    assert!(matches!(e, Some(LedgerError::NotAValidator(_))), "{e:?}");
    // Once in force, the old key's approval is a non-member's and the new key's counts.
    let h = c.tip.height;
    while c.tip.height < h + 2 {
        c.commit(vec![]);
    }
    let ch = MemberChange::Power { key: key("v1").public(), power: 2 };
    let e = refusal(&mut c, |c| member_tx(c, 1, ch.clone(), &vkeys(&["v0", "v1", "v2"]), 6));
    assert!(matches!(e, Some(LedgerError::ApprovalNotMember(_))), "{e:?}");
    let by_new = vec![new0.clone(), key("v1"), key("v2")];
    assert!(refusal(&mut c, |c| member_tx(c, 1, ch, &by_new, 7)).is_none());
    let m = membership_of(&c.spec, &c.state).unwrap();
    assert_eq!(m.latest().validators[1].power, 2);
    assert_eq!(m.latest().total_power, 5);
    assert_eq!(m.latest().validators[0].key, new0.public(), "a rotated validator keeps its place");
}

#[test]
fn a_removal_keeps_four_validators_and_a_court() {
    // Four validators: no removal at all.
    let mut c = TestChain::new(4);
    let by = vkeys(&["v0", "v1", "v2"]);
    let e = refusal(&mut c, |c| member_tx(c, 0, MemberChange::Remove { key: key("v3").public() }, &by, 1)).unwrap();
    assert!(matches!(e, LedgerError::TooFewValidators { left: 3, min: 4 }), "{e}");
    // Five validators with one court (v0): removing it leaves none.
    let mut g = test_genesis(5);
    g.validators[1].role = ValidatorRole::Mediation;
    g.validators[4].role = ValidatorRole::Forensic;
    let spec = g.into_spec().unwrap();
    let mut c = TestChain::new(5);
    c.state = curia_ledger::state::MemState::genesis(&spec);
    c.tip = curia_ledger::state::Tip::genesis(&spec);
    c.spec = spec;
    let by = vkeys(&["v0", "v1", "v2", "v3"]);
    let e = refusal(&mut c, |c| member_tx(c, 0, MemberChange::Remove { key: key("v0").public() }, &by, 1)).unwrap();
    assert!(matches!(e, LedgerError::NoCourtLeft), "{e}");
    let ok = refusal(&mut c, |c| member_tx(c, 0, MemberChange::Remove { key: key("v4").public() }, &by, 2));
    assert!(ok.is_none(), "{ok:?}");
    let m = membership_of(&c.spec, &c.state).unwrap();
    assert_eq!(m.latest().len(), 4);
    // A removed validator's key is never usable again, and its place is taken by the next one.
    let e = refusal(&mut c, |c| member_tx(c, 1, MemberChange::Remove { key: key("v4").public() }, &by, 3)).unwrap();
    assert!(matches!(e, LedgerError::NotAValidator(_)), "{e}");
    // Blocks keep committing across the change, certified by the set in force at each height.
    for i in 0..3 {
        assert!(c.commit(vec![c.deposit("platform", &[i], 10 + i as u64)]).is_empty());
    }
    let (_, cert) = c.blocks.last().unwrap();
    assert_eq!(cert.sigs.len(), 4);
}

#[test]
fn changes_in_one_block_apply_in_order_and_membership_transactions_round_trip() {
    let mut c = TestChain::new(4);
    let by = vkeys(&["v0", "v1", "v2"]);
    let a = member_tx(&c, 0, add("v4", ValidatorRole::Court), &by, 1);
    let b = member_tx(&c, 1, add("v5", ValidatorRole::Mediation), &by, 2);
    let stale = member_tx(&c, 1, add("v6", ValidatorRole::Court), &by, 3);
    let left = c.commit(vec![a.clone(), b, stale]);
    assert_eq!(left.len(), 1, "the second change numbered 1 is refused");
    assert!(matches!(left[0].1, LedgerError::MembershipSeq { expected: 2, got: 1 }));
    let m = membership_of(&c.spec, &c.state).unwrap();
    assert_eq!(m.latest().len(), 6);
    use curia_ledger::codec::Canonical;
    let back = Transaction::from_bytes(&a.to_bytes()).unwrap();
    assert_eq!(back, a);
    let json = serde_json::to_string(&a).unwrap();
    assert!(json.contains("\"kind\":\"membership\"") && json.contains("\"op\":\"add\""), "{json}");
}
