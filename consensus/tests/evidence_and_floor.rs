//! Rule E's evidence (two conflicting signed votes become one `Effect::Equivocation`, once per
//! validator and slot, only for verified votes) and rule S3 (a restored validator signs nothing
//! at or below its signing floor, where it could contradict a vote it has forgotten), and rule S4
//! (a held machine signs nothing until the node releases it).

use std::sync::Arc;

use curia_consensus::machine::SignPos;
use curia_consensus::{Config, Effect, Input, Machine, Message, PeerId, Step, Timeouts};
use curia_ledger::block::{SignedVote, Vote, VoteKind};
use curia_ledger::crypto::Signature;
use curia_ledger::testkit::{test_key, TestChain};
use curia_ledger::Hash;

const NOW: u64 = 1_767_225_700_000;

fn machine(chain: &TestChain, i: usize, floor: Option<SignPos>, votes: Vec<SignedVote>) -> (Machine, Vec<Effect>) {
    let cfg = Config {
        spec: Arc::new(chain.spec.clone()),
        key: Some(test_key(&format!("v{i}"))),
        timeouts: Timeouts::default(),
    };
    let mut m = Machine::new(cfg, 0).unwrap();
    m.set_signing_floor(floor);
    let fx = m.on(NOW, Input::Start { votes, proposals: vec![] });
    (m, fx)
}

fn vote(chain: &TestChain, i: usize, round: u32, kind: VoteKind, b: Option<Hash>) -> SignedVote {
    Vote { chain_id: chain.spec.chain_id, height: 1, round, kind, block: b, time_ms: NOW, validator: i as u16 }
        .sign(&test_key(&format!("v{i}")))
}

fn deliver(m: &mut Machine, from: usize, v: SignedVote) -> Vec<Effect> {
    m.on(NOW, Input::Message { from: PeerId(from as u64), msg: Message::Vote(v) })
}

fn evidence(fx: &[Effect]) -> Vec<curia_ledger::equivocation::Equivocation> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Equivocation(x) => Some(x.clone()),
            _ => None,
        })
        .collect()
}

fn signed(fx: &[Effect]) -> usize {
    fx.iter().filter(|e| matches!(e, Effect::PersistVote(_) | Effect::PersistProposal(_))).count()
}

#[test]
fn a_double_vote_becomes_one_self_verifying_evidence_record() {
    let chain = TestChain::new(4);
    let (mut m, _) = machine(&chain, 0, None, vec![]);
    let (x, y, z) = (Hash::sha256(b"x"), Hash::sha256(b"y"), Hash::sha256(b"z"));
    assert!(evidence(&deliver(&mut m, 3, vote(&chain, 3, 0, VoteKind::Prevote, Some(x)))).is_empty());
    // The same vote again, or the same value: no evidence.
    assert!(evidence(&deliver(&mut m, 3, vote(&chain, 3, 0, VoteKind::Prevote, Some(x)))).is_empty());
    // A second value in the same slot: one record, which checks against the genesis alone.
    let fx = deliver(&mut m, 3, vote(&chain, 3, 0, VoteKind::Prevote, None));
    let ev = evidence(&fx);
    assert_eq!(ev.len(), 1, "{fx:?}");
    assert_eq!(ev[0].check(&chain.spec).unwrap(), test_key("v3").public());
    assert_eq!((ev[0].a.vote.block, ev[0].b.vote.block), (None, Some(x)));
    // A third value in that slot is counted, but the slot already has its record.
    assert!(evidence(&deliver(&mut m, 3, vote(&chain, 3, 0, VoteKind::Prevote, Some(z)))).is_empty());
    assert_eq!(m.stats().equivocations, 2);
    // Another slot (precommit) of the same validator gets its own record.
    deliver(&mut m, 3, vote(&chain, 3, 0, VoteKind::Precommit, Some(y)));
    assert_eq!(evidence(&deliver(&mut m, 3, vote(&chain, 3, 0, VoteKind::Precommit, Some(z)))).len(), 1);
    // A forged second vote (bad signature) is refused, not evidence.
    let mut forged = vote(&chain, 2, 0, VoteKind::Prevote, Some(y));
    deliver(&mut m, 2, vote(&chain, 2, 0, VoteKind::Prevote, Some(x)));
    forged.signature = Signature([7; 64]);
    assert!(evidence(&deliver(&mut m, 2, forged)).is_empty());
}

#[test]
fn a_validator_with_a_signing_floor_signs_nothing_at_or_below_it() {
    let chain = TestChain::new(4);
    // Validator 0 signed up to the precommit of round 1 at height 1, but its store (restored
    // from an old backup) remembers none of it.
    let floor = SignPos { height: 1, round: 1, step: 2 };
    let (mut m, fx) = machine(&chain, 0, Some(floor), vec![]);
    assert_eq!(signed(&fx), 0);
    // Round 0 times out: without a floor it would prevote nil, possibly contradicting the vote
    // it forgot. With the floor it stays silent, and moves on through the rounds.
    let mut all = Vec::new();
    for (round, step) in [(0, Step::Propose), (0, Step::Prevote)] {
        all.extend(m.on(NOW, Input::Timeout { height: 1, round, step }));
    }
    assert_eq!(signed(&all), 0, "{all:?}");
    assert!(m.stats().withheld >= 1);
    // Quorums of others move it to round 2 (above the floor): there it signs again.
    for i in 1..4 {
        all.extend(deliver(&mut m, i, vote(&chain, i, 2, VoteKind::Prevote, None)));
    }
    let st = m.status();
    assert_eq!(st.round, 2, "{st:?}");
    all.extend(m.on(NOW, Input::Timeout { height: 1, round: 2, step: Step::Propose }));
    let persisted: Vec<_> = all
        .iter()
        .filter_map(|e| match e {
            Effect::PersistVote(v) => Some(SignPos::of_vote(&v.vote)),
            _ => None,
        })
        .collect();
    assert!(!persisted.is_empty() && persisted.iter().all(|p| *p > floor), "{persisted:?}");

    // The same timeouts without a floor: the machine signs at round 0 (what the floor prevents).
    let (mut free, _) = machine(&chain, 0, None, vec![]);
    let fx = free.on(NOW, Input::Timeout { height: 1, round: 0, step: Step::Propose });
    assert_eq!(signed(&fx), 1);

    // A vote the store does remember is re-sent, not withheld: the floor guards new signatures.
    let old = vote(&chain, 0, 1, VoteKind::Prevote, None);
    let (_, fx) = machine(&chain, 0, Some(floor), vec![old.clone()]);
    assert!(fx.iter().any(|e| matches!(e, Effect::Broadcast(Message::Vote(v)) if *v == old)), "{fx:?}");
}

#[test]
fn a_proposer_does_not_propose_at_or_below_its_floor() {
    let chain = TestChain::new(4);
    let me = Machine::proposer(&chain.spec, 1, 0) as usize;
    let floor = SignPos { height: 1, round: 0, step: 0 };
    let (mut m, fx) = machine(&chain, me, Some(floor), vec![]);
    let asked = fx.iter().any(|e| matches!(e, Effect::RequestProposal { .. }));
    let tx = chain.deposit("platform", b"p", 1);
    let b = curia_ledger::state::build_block(
        &chain.spec,
        &chain.state,
        &chain.tip,
        vec![tx],
        chain.proposing(test_key(&format!("v{me}")).public()),
    )
    .unwrap()
    .block;
    let fx = m.on(NOW, Input::ProposalBlock { height: 1, round: 0, block: b });
    assert!(asked);
    assert!(!fx.iter().any(|e| matches!(e, Effect::PersistProposal(_) | Effect::Broadcast(Message::Proposal { .. }))));
}

/// Rule S4: while the node holds signing (at start, until it has learned the peers' heights),
/// the machine signs nothing, even where its timeouts would have it prevote nil; once released
/// it signs again. Votes its store remembers are still re-sent while held.
#[test]
fn a_held_machine_signs_nothing_until_released() {
    let chain = TestChain::new(4);
    let cfg = Config { spec: Arc::new(chain.spec.clone()), key: Some(test_key("v0")), timeouts: Timeouts::default() };
    let mut m = Machine::new(cfg.clone(), 0).unwrap();
    m.set_signing_hold(true);
    let mut all = m.on(NOW, Input::Start { votes: vec![], proposals: vec![] });
    for (round, step) in [(0, Step::Propose), (0, Step::Prevote), (0, Step::Precommit)] {
        all.extend(m.on(NOW, Input::Timeout { height: 1, round, step }));
    }
    assert_eq!(signed(&all), 0, "{all:?}");
    assert!(m.stats().held >= 1 && m.signing_hold());
    m.set_signing_hold(false);
    let fx = m.on(NOW, Input::Timeout { height: 1, round: 1, step: Step::Propose });
    assert_eq!(signed(&fx), 1, "released: the round-1 prevote nil is signed: {fx:?}");

    // A remembered vote is re-sent while held.
    let old = vote(&chain, 0, 0, VoteKind::Prevote, None);
    let mut m = Machine::new(cfg, 0).unwrap();
    m.set_signing_hold(true);
    let fx = m.on(NOW, Input::Start { votes: vec![old.clone()], proposals: vec![] });
    assert!(fx.iter().any(|e| matches!(e, Effect::Broadcast(Message::Vote(v)) if *v == old)), "{fx:?}");
}
