//! Evidence transactions (payload tag 9): a valid double vote and double proposal are recorded
//! once; duplicates, offenders outside the set in force, forged signatures, messages that do not
//! conflict and senders that are not validators are refused with their own codes; the audit
//! replay lists what was recorded.

use curia_ledger::audit::Auditor;
use curia_ledger::block::{SignedVote, Vote, VoteKind};
use curia_ledger::codec::Canonical;
use curia_ledger::crypto::SecretKey;
use curia_ledger::equivocation::Equivocation;
use curia_ledger::evidence::{DoubleProposal, Misbehaviour};
use curia_ledger::genesis::{Validator, ValidatorRole};
use curia_ledger::hash::Hash;
use curia_ledger::membership::{approval_hash, MemberApproval, MemberChange, ACTIVATION_DELAY};
use curia_ledger::proposal::{Proposal, SignedProposal};
use curia_ledger::testkit::{test_key, TestChain};
use curia_ledger::tx::{Payload, Transaction, TxBody};
use curia_ledger::LedgerError;

fn vote(c: &TestChain, signer: &SecretKey, index: u16, height: u64, round: u32, block: Option<Hash>) -> SignedVote {
    Vote { chain_id: c.spec.chain_id, height, round, kind: VoteKind::Prevote, block, time_ms: 5, validator: index }
        .sign(signer)
}

fn double_vote(c: &TestChain, who: &str, index: u16, height: u64) -> Misbehaviour {
    let k = test_key(who);
    let x = vote(c, &k, index, height, 0, Some(Hash::sha256(b"x")));
    let y = vote(c, &k, index, height, 0, None);
    Misbehaviour::DoubleVote(Equivocation::new(x, y).unwrap())
}

/// An evidence transaction sent by validator (or client) key `sender`.
fn evidence_tx(c: &TestChain, sender: &str, evidence: Misbehaviour, nonce: u64) -> Transaction {
    let k = test_key(sender);
    TxBody { sender: k.public(), nonce, payload: Payload::Evidence { evidence } }.sign(&c.spec.chain_id, &k)
}

/// [`refusal`] of a transaction built from the chain (built first, then committed).
macro_rules! refuse {
    ($c:ident, $tx:expr) => {{
        let tx = $tx;
        refusal(&mut $c, tx)
    }};
}

/// Commit `tx` alone and return its refusal, if any.
fn refusal(c: &mut TestChain, tx: Transaction) -> Option<LedgerError> {
    c.commit(vec![tx]).pop().map(|(_, e)| e)
}

fn code(e: Option<LedgerError>) -> &'static str {
    e.map_or("accepted", |e| e.code())
}

#[test]
fn a_double_vote_is_recorded_once_and_the_audit_lists_it() {
    let mut c = TestChain::new(4);
    c.commit(vec![c.deposit("platform", b"one", 1)]);
    let e = double_vote(&c, "v1", 1, 1);
    let tx = evidence_tx(&c, "v0", e.clone(), 1);
    // The canonical encoding and the JSON form both round-trip.
    assert_eq!(Transaction::from_bytes(&tx.to_bytes()).unwrap(), tx);
    let json = serde_json::to_string(&tx).unwrap();
    assert!(json.contains("\"kind\":\"evidence\"") && json.contains("\"type\":\"double_vote\""), "{json}");
    assert_eq!(serde_json::from_str::<Transaction>(&json).unwrap(), tx);

    assert_eq!(code(refuse!(c, tx.clone())), "accepted");
    assert_eq!(c.state.stats.evidence, 1);
    let recorded_at = c.tip.height;
    // The same transaction again: a replay.
    assert_eq!(code(refuse!(c, tx)), "duplicate");
    // The same offence by another sender, with other messages (a third value in the same slot):
    // one record per (offender, height, round, kind).
    let k1 = test_key("v1");
    let third = vote(&c, &k1, 1, 1, 0, Some(Hash::sha256(b"z")));
    let other = Misbehaviour::DoubleVote(Equivocation::new(third, vote(&c, &k1, 1, 1, 0, None)).unwrap());
    assert_eq!(code(refuse!(c, evidence_tx(&c, "v2", other, 1))), "evidence_duplicate");
    // Another round is another offence.
    let r1 = Misbehaviour::DoubleVote(
        Equivocation::new(vote(&c, &k1, 1, 1, 1, Some(Hash::sha256(b"x"))), vote(&c, &k1, 1, 1, 1, None)).unwrap(),
    );
    assert_eq!(code(refuse!(c, evidence_tx(&c, "v2", r1, 2))), "accepted");

    let mut audit = Auditor::in_memory(&c.spec);
    for (b, cert) in &c.blocks {
        audit.push(b, cert).unwrap();
    }
    let s = audit.finish();
    assert_eq!(s.evidence.len(), 2);
    let first = &s.evidence[0];
    assert_eq!((first.offender.as_str(), first.height, first.round, first.kind), ("v1", 1, 0, "prevote"));
    assert_eq!(first.block_height, recorded_at);
    assert_eq!(first.offender_key, test_key("v1").public().to_string());
}

#[test]
fn evidence_that_proves_nothing_is_refused_with_its_reason() {
    let mut c = TestChain::new(4);
    c.commit(vec![]);
    c.commit(vec![]);
    let (k1, k2) = (test_key("v1"), test_key("v2"));
    let x = vote(&c, &k1, 1, 1, 0, Some(Hash::sha256(b"x")));
    let nil = vote(&c, &k1, 1, 1, 0, None);
    let mut n = 0;
    let mut try_ = |c: &mut TestChain, e: Misbehaviour| {
        n += 1;
        let tx = evidence_tx(c, "v0", e, n);
        code(refusal(c, tx))
    };
    // Not conflicting: the same vote twice, or votes for different heights.
    assert_eq!(
        try_(&mut c, Misbehaviour::DoubleVote(Equivocation { a: nil.clone(), b: nil.clone() })),
        "evidence_invalid"
    );
    let other_height = vote(&c, &k1, 1, 2, 0, Some(Hash::sha256(b"x")));
    assert_eq!(
        try_(&mut c, Misbehaviour::DoubleVote(Equivocation { a: nil.clone(), b: other_height })),
        "evidence_invalid"
    );
    // Out of canonical order (nil first).
    assert_eq!(
        try_(&mut c, Misbehaviour::DoubleVote(Equivocation { a: x.clone(), b: nil.clone() })),
        "evidence_invalid"
    );
    // A height above the recording block's.
    let far =
        Equivocation::new(vote(&c, &k1, 1, 99, 0, None), vote(&c, &k1, 1, 99, 0, Some(Hash::sha256(b"x")))).unwrap();
    assert_eq!(try_(&mut c, Misbehaviour::DoubleVote(far)), "evidence_invalid");
    // Forged: one vote signed by another validator's key under v1's index.
    let forged = Equivocation::new(x.clone(), vote(&c, &k2, 1, 1, 0, None)).unwrap();
    assert_eq!(try_(&mut c, Misbehaviour::DoubleVote(forged)), "evidence_bad_signature");
    // An index no validator has.
    let k9 = test_key("nobody");
    let ghost =
        Equivocation::new(vote(&c, &k9, 9, 1, 0, None), vote(&c, &k9, 9, 1, 0, Some(Hash::sha256(b"x")))).unwrap();
    assert_eq!(try_(&mut c, Misbehaviour::DoubleVote(ghost)), "evidence_offender_unknown");
    // Sent by a client, not a validator.
    let by_platform = evidence_tx(&c, "platform", double_vote(&c, "v1", 1, 1), 1);
    assert_eq!(code(refuse!(c, by_platform)), "evidence_sender_not_validator");
    assert_eq!(c.state.stats.evidence, 0, "nothing was recorded");
    // The valid one still goes through afterwards.
    let valid = double_vote(&c, "v1", 1, 1);
    assert_eq!(try_(&mut c, valid), "accepted");
}

#[test]
fn the_offender_is_looked_up_in_the_set_in_force_at_the_offence_height() {
    let mut c = TestChain::new(4);
    c.commit(vec![]);
    let before = c.tip.height; // v4 is not a validator here
    let v4 = test_key("v4");
    let change = MemberChange::Add {
        validator: Validator {
            name: "v4".into(),
            role: ValidatorRole::Forensic,
            key: v4.public(),
            power: 1,
            address: "/ip4/127.0.0.1/tcp/1".into(),
        },
    };
    let msg = approval_hash(&c.spec.chain_id, 0, &change);
    let approvals = ["v0", "v1", "v2"]
        .iter()
        .map(|n| MemberApproval { key: test_key(n).public(), signature: test_key(n).sign(&msg) })
        .collect();
    let add = c.tx("registrar", Payload::Membership { seq: 0, change, approvals }, 1);
    assert!(c.commit(vec![add]).is_empty());
    c.extra_keys.push(v4.clone());
    let in_force = c.tip.height + ACTIVATION_DELAY;
    c.commit(vec![]);
    c.commit(vec![]);
    assert!(c.tip.height >= in_force);
    // v4 (index 4) double-voting at a height where the set had four validators: unknown there.
    assert_eq!(
        code(refuse!(c, evidence_tx(&c, "v0", double_vote(&c, "v4", 4, before), 1))),
        "evidence_offender_unknown"
    );
    // At a height where v4 is in force: recorded.
    assert_eq!(code(refuse!(c, evidence_tx(&c, "v0", double_vote(&c, "v4", 4, in_force), 2))), "accepted");
    // And v4, now a validator, may itself send evidence.
    assert_eq!(code(refuse!(c, evidence_tx(&c, "v4", double_vote(&c, "v2", 2, in_force), 3))), "accepted");
    assert_eq!(c.state.stats.evidence, 2);
}

#[test]
fn a_double_proposal_is_recorded_and_a_forged_one_is_not() {
    let mut c = TestChain::new(4);
    c.commit(vec![]);
    let chain_id = c.spec.chain_id;
    let p = |block: &[u8], pol: Option<u32>| Proposal {
        chain_id,
        height: 1,
        round: 2,
        pol_round: pol,
        block_hash: Hash::sha256(block),
        proposer: 3,
    };
    let k3 = test_key("v3");
    let (a, b) = (p(b"a", None).sign(&k3), p(b"b", None).sign(&k3));
    // The same proposal twice proves nothing; a forged second proposal fails.
    assert!(DoubleProposal::new(a.clone(), a.clone()).is_err());
    let forged: SignedProposal = p(b"b", None).sign(&test_key("v0"));
    let bad = Misbehaviour::DoubleProposal(DoubleProposal::new(a.clone(), forged).unwrap());
    assert_eq!(code(refuse!(c, evidence_tx(&c, "v0", bad, 1))), "evidence_bad_signature");
    let good = Misbehaviour::DoubleProposal(DoubleProposal::new(b, a).unwrap());
    let tx = evidence_tx(&c, "v0", good, 2);
    assert_eq!(Transaction::from_bytes(&tx.to_bytes()).unwrap(), tx);
    assert_eq!(code(refuse!(c, tx)), "accepted");
    // The same proposer's other conflicting pair at that height and round: the same offence.
    let again =
        Misbehaviour::DoubleProposal(DoubleProposal::new(p(b"a", Some(1)).sign(&k3), p(b"c", None).sign(&k3)).unwrap());
    assert_eq!(code(refuse!(c, evidence_tx(&c, "v1", again, 1))), "evidence_duplicate");
    let mut audit = Auditor::in_memory(&c.spec);
    for (b, cert) in &c.blocks {
        audit.push(b, cert).unwrap();
    }
    let s = audit.finish();
    assert_eq!(s.evidence.len(), 1);
    assert_eq!((s.evidence[0].offender.as_str(), s.evidence[0].kind, s.evidence[0].round), ("v3", "proposal", 2));
}
