//! The state machine driven by hand: rules, persistence order, restart, catch-up, refusal of bad
//! input, and the wire format.

use std::sync::Arc;

use curia_consensus::{Config, ConsensusError, Effect, Input, Machine, Message, PeerId, Proposal, Step, Timeouts};
use curia_ledger::block::{Block, CommitCertificate, SignedVote, Vote, VoteKind};
use curia_ledger::crypto::Signature;
use curia_ledger::state::build_block;
use curia_ledger::testkit::{test_key, TestChain};
use curia_ledger::Hash;
use proptest::prelude::*;

const NOW: u64 = 1_767_225_700_000;

fn cfg(chain: &TestChain, i: usize) -> Config {
    Config { spec: Arc::new(chain.spec.clone()), key: Some(test_key(&format!("v{i}"))), timeouts: Timeouts::default() }
}

fn started(chain: &TestChain, i: usize) -> (Machine, Vec<Effect>) {
    let mut m = Machine::new(cfg(chain, i), 0).unwrap();
    let fx = m.on(NOW, Input::Start { votes: vec![], proposals: vec![] });
    (m, fx)
}

fn block(chain: &TestChain, proposer: usize, tag: &str) -> Block {
    let tx = chain.deposit("platform", tag.as_bytes(), 1);
    build_block(
        &chain.spec,
        &chain.state,
        &chain.tip,
        vec![tx],
        chain.proposing(test_key(&format!("v{proposer}")).public()),
    )
    .unwrap()
    .block
}

fn proposal(chain: &TestChain, round: u32, b: &Block, pol: Option<u32>) -> Message {
    let proposer = Machine::proposer(&chain.spec, 1, round);
    let p =
        Proposal { chain_id: chain.spec.chain_id, height: 1, round, pol_round: pol, block_hash: b.hash(), proposer }
            .sign(&test_key(&format!("v{proposer}")));
    Message::Proposal { proposal: p, block: b.clone() }
}

fn vote(chain: &TestChain, i: usize, round: u32, kind: VoteKind, b: Option<Hash>) -> SignedVote {
    Vote { chain_id: chain.spec.chain_id, height: 1, round, kind, block: b, time_ms: NOW, validator: i as u16 }
        .sign(&test_key(&format!("v{i}")))
}

fn msg(from: usize, m: Message) -> Input {
    Input::Message { from: PeerId(from as u64), msg: m }
}

fn own_votes(fx: &[Effect]) -> Vec<SignedVote> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::PersistVote(v) => Some(v.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn proposer_rotates_round_robin() {
    let chain = TestChain::new(4);
    let ps: Vec<u16> = (0..6).map(|r| Machine::proposer(&chain.spec, 1, r)).collect();
    assert_eq!(ps, vec![1, 2, 3, 0, 1, 2]);
    assert_eq!(Machine::proposer(&chain.spec, 2, 0), 2);
}

#[test]
fn proposer_asks_for_a_block_and_proposes_it() {
    let chain = TestChain::new(4);
    let (mut m, fx) = started(&chain, 1);
    assert!(fx.contains(&Effect::RequestProposal { height: 1, round: 0 }));
    let b = block(&chain, 1, "a");
    let fx = m.on(NOW, Input::ProposalBlock { height: 1, round: 0, block: b.clone() });
    let persist = fx.iter().position(|e| matches!(e, Effect::PersistProposal(_))).unwrap();
    let bcast = fx.iter().position(|e| matches!(e, Effect::Broadcast(Message::Proposal { .. }))).unwrap();
    assert!(persist < bcast, "proposal persisted before it is sent");
    assert!(fx.contains(&Effect::ValidateBlock { block: b }));
}

/// One height by hand, checking rules L22, L36, L49 and the persistence order.
#[test]
fn happy_path_commits_with_a_verifiable_certificate() {
    let chain = TestChain::new(4);
    let (mut m, fx) = started(&chain, 0);
    assert!(fx.iter().any(|e| matches!(e, Effect::ScheduleTimeout { step: Step::Propose, .. })));
    let b = block(&chain, 1, "a");
    let h = b.hash();
    let fx = m.on(NOW, msg(1, proposal(&chain, 0, &b, None)));
    assert_eq!(fx, vec![Effect::ValidateBlock { block: b.clone() }]);
    // Rule L22: prevote once the node says the block is valid; persisted before broadcast.
    let fx = m.on(NOW, Input::BlockValidity { hash: h, valid: true });
    let p = fx.iter().position(|e| matches!(e, Effect::PersistVote(_))).unwrap();
    let s = fx.iter().position(|e| matches!(e, Effect::Broadcast(Message::Vote(_)))).unwrap();
    assert!(p < s);
    assert_eq!(own_votes(&fx)[0].vote.block, Some(h));
    assert_eq!(m.status().step, Step::Prevote);
    // Rule L36: a quorum of prevotes locks and precommits.
    m.on(NOW, msg(1, Message::Vote(vote(&chain, 1, 0, VoteKind::Prevote, Some(h)))));
    let fx = m.on(NOW, msg(2, Message::Vote(vote(&chain, 2, 0, VoteKind::Prevote, Some(h)))));
    let pc = own_votes(&fx);
    assert_eq!(pc.len(), 1);
    assert_eq!(pc[0].vote.kind, VoteKind::Precommit);
    assert_eq!(m.status().locked, Some((0, h)));
    // Rule L49: a quorum of precommits commits.
    m.on(NOW, msg(1, Message::Vote(vote(&chain, 1, 0, VoteKind::Precommit, Some(h)))));
    let fx = m.on(NOW, msg(3, Message::Vote(vote(&chain, 3, 0, VoteKind::Precommit, Some(h)))));
    let Some(Effect::Commit { block: cb, cert }) = fx.first() else { panic!("no commit: {fx:?}") };
    assert_eq!(cb, &b);
    assert!(cert.verify(&chain.spec).unwrap() >= chain.spec.quorum_power());
    assert_eq!(m.status().height, 2);
    assert_eq!(m.stats().commits, 1);
}

#[test]
fn invalid_block_gets_a_nil_prevote() {
    let chain = TestChain::new(4);
    let (mut m, _) = started(&chain, 0);
    let mut b = block(&chain, 1, "a");
    b.header.state_root = Hash::sha256(b"wrong");
    m.on(NOW, msg(1, proposal(&chain, 0, &b, None)));
    let fx = m.on(NOW, Input::BlockValidity { hash: b.hash(), valid: false });
    assert_eq!(own_votes(&fx)[0].vote.block, None);
}

#[test]
fn timeouts_grow_with_the_round_and_lead_to_the_next_round() {
    let t = Timeouts::default();
    assert!(t.of(Step::Propose, 5) > t.of(Step::Propose, 0));
    let chain = TestChain::new(4);
    let (mut m, _) = started(&chain, 0);
    let fx = m.on(NOW, Input::Timeout { height: 1, round: 0, step: Step::Propose });
    assert_eq!(own_votes(&fx)[0].vote.block, None); // Rule L57
    let fx = m.on(NOW, Input::Timeout { height: 1, round: 0, step: Step::Prevote });
    assert_eq!(own_votes(&fx)[0].vote.kind, VoteKind::Precommit); // Rule L61
    let fx = m.on(NOW, Input::Timeout { height: 1, round: 0, step: Step::Precommit });
    assert_eq!(m.status().round, 1); // Rule L65
    let after = fx.iter().find_map(|e| match e {
        Effect::ScheduleTimeout { round: 1, step: Step::Propose, after_ms, .. } => Some(*after_ms),
        _ => None,
    });
    assert_eq!(after, Some(t.of(Step::Propose, 1)));
    // A stale timeout does nothing.
    assert!(m.on(NOW, Input::Timeout { height: 1, round: 0, step: Step::Propose }).is_empty());
}

/// Rule L55: f+1 validators at a later round pull us there.
#[test]
fn skips_to_a_round_that_f_plus_one_validators_are_in() {
    let chain = TestChain::new(4);
    let (mut m, _) = started(&chain, 0);
    m.on(NOW, msg(1, Message::Vote(vote(&chain, 1, 3, VoteKind::Prevote, None))));
    assert_eq!(m.status().round, 0, "one validator is not enough");
    m.on(NOW, msg(2, Message::Vote(vote(&chain, 2, 3, VoteKind::Prevote, None))));
    assert_eq!(m.status().round, 3);
}

/// Rule L22 with a lock: a validator locked on A prevotes nil for a fresh B; rule L28 lets it
/// prevote A again when re-proposed with its proof of lock.
#[test]
fn lock_is_respected_and_released_by_a_proof_of_lock() {
    let chain = TestChain::new(4);
    let (mut m, _) = started(&chain, 0);
    let a = block(&chain, 1, "a");
    let ha = a.hash();
    m.on(NOW, msg(1, proposal(&chain, 0, &a, None)));
    m.on(NOW, Input::BlockValidity { hash: ha, valid: true });
    m.on(NOW, msg(1, Message::Vote(vote(&chain, 1, 0, VoteKind::Prevote, Some(ha)))));
    m.on(NOW, msg(2, Message::Vote(vote(&chain, 2, 0, VoteKind::Prevote, Some(ha)))));
    assert_eq!(m.status().locked, Some((0, ha)));
    m.on(NOW, Input::Timeout { height: 1, round: 0, step: Step::Precommit });
    // Round 1: a fresh block B from validator 2.
    let b = block(&chain, 2, "b");
    m.on(NOW, msg(2, proposal(&chain, 1, &b, None)));
    let fx = m.on(NOW, Input::BlockValidity { hash: b.hash(), valid: true });
    assert_eq!(own_votes(&fx)[0].vote.block, None, "locked on A");
    m.on(NOW, Input::Timeout { height: 1, round: 1, step: Step::Prevote });
    m.on(NOW, Input::Timeout { height: 1, round: 1, step: Step::Precommit });
    // Round 2: validator 3 re-proposes A with pol round 0.
    let fx = m.on(NOW, msg(3, proposal(&chain, 2, &a, Some(0))));
    assert_eq!(own_votes(&fx)[0].vote.block, Some(ha));
}

/// Rule S1: a restarted validator re-sends what it persisted instead of signing anew.
#[test]
fn restart_never_signs_a_different_vote() {
    let chain = TestChain::new(4);
    let (mut m, _) = started(&chain, 0);
    let a = block(&chain, 1, "a");
    m.on(NOW, msg(1, proposal(&chain, 0, &a, None)));
    let fx = m.on(NOW, Input::BlockValidity { hash: a.hash(), valid: true });
    let persisted = own_votes(&fx);
    assert_eq!(persisted[0].vote.block, Some(a.hash()));
    // Crash; restart with the persisted vote. The prevote timeout path would make it vote nil
    // in a fresh machine; this one must re-send its prevote for A.
    let mut m2 = Machine::new(cfg(&chain, 0), 0).unwrap();
    let fx = m2.on(NOW + 5, Input::Start { votes: persisted.clone(), proposals: vec![] });
    assert_eq!(m2.status().step, Step::Prevote);
    assert!(fx.contains(&Effect::Broadcast(Message::Vote(persisted[0].clone()))));
    assert!(own_votes(&fx).is_empty(), "nothing new signed");
    // Even if it sees a proposal it would prevote differently, it does not sign again.
    let b = block(&chain, 1, "b");
    let fx = m2.on(NOW + 6, msg(1, proposal(&chain, 0, &b, None)));
    let fx2 = m2.on(NOW + 6, Input::BlockValidity { hash: b.hash(), valid: true });
    assert!(own_votes(&fx).is_empty() && own_votes(&fx2).is_empty());
    // A restart in the precommit step with a lock restores the lock.
    let pc = vote(&chain, 0, 0, VoteKind::Precommit, Some(a.hash()));
    let mut m3 = Machine::new(cfg(&chain, 0), 0).unwrap();
    m3.on(NOW, Input::Start { votes: vec![persisted[0].clone(), pc], proposals: vec![] });
    assert_eq!(m3.status().locked, Some((0, a.hash())));
    assert_eq!(m3.status().step, Step::Precommit);
}

#[test]
fn refuses_bad_signatures_unknown_validators_other_chains_and_wrong_proposers() {
    let chain = TestChain::new(4);
    let other = TestChain::new(5);
    let (mut m, _) = started(&chain, 0);
    let mut bad = vote(&chain, 1, 0, VoteKind::Prevote, None);
    bad.signature = Signature([7; 64]);
    assert!(m.on(NOW, msg(1, Message::Vote(bad))).is_empty());
    let forged = Vote { validator: 2, ..vote(&chain, 1, 0, VoteKind::Prevote, None).vote }.sign(&test_key("v1"));
    assert!(m.on(NOW, msg(1, Message::Vote(forged))).is_empty());
    let unknown = Vote { validator: 9, ..vote(&chain, 1, 0, VoteKind::Prevote, None).vote }.sign(&test_key("v9"));
    assert!(m.on(NOW, msg(1, Message::Vote(unknown))).is_empty());
    let foreign = Vote { chain_id: other.spec.chain_id, ..vote(&chain, 1, 0, VoteKind::Prevote, None).vote }
        .sign(&test_key("v1"));
    assert!(m.on(NOW, msg(1, Message::Vote(foreign))).is_empty());
    // Validator 2 is not the proposer of round 0.
    let b = block(&chain, 2, "x");
    let p = Proposal {
        chain_id: chain.spec.chain_id,
        height: 1,
        round: 0,
        pol_round: None,
        block_hash: b.hash(),
        proposer: 2,
    }
    .sign(&test_key("v2"));
    assert!(m.on(NOW, msg(2, Message::Proposal { proposal: p, block: b })).is_empty());
    // A proposal whose block is not the one it names.
    let b1 = block(&chain, 1, "y");
    let Message::Proposal { proposal: p, .. } = proposal(&chain, 0, &b1, None) else { unreachable!() };
    assert!(m.on(NOW, msg(1, Message::Proposal { proposal: p, block: block(&chain, 1, "z") })).is_empty());
    assert_eq!(m.stats().rejected, 6);
    // Garbage bytes are counted and dropped.
    assert!(m.on(NOW, Input::Bytes { from: PeerId(1), bytes: vec![9, 9, 9] }).is_empty());
    assert_eq!(m.stats().decode_errors, 1);
    assert_eq!(m.status().step, Step::Propose);
}

/// Rule E: equivocating votes count once per value, and are bounded.
#[test]
fn equivocation_is_bounded() {
    let chain = TestChain::new(4);
    let (mut m, _) = started(&chain, 0);
    for k in 0..20u8 {
        m.on(NOW, msg(1, Message::Vote(vote(&chain, 1, 0, VoteKind::Prevote, Some(Hash::sha256(&[k]))))));
    }
    assert_eq!(m.stats().equivocations, 19);
    assert!(m.stats().dropped >= 15);
}

/// Rule C1: a node that is behind fetches, then commits only blocks whose certificates verify and
/// which the node finds valid.
#[test]
fn catches_up_from_verified_certificates() {
    let mut chain = TestChain::new(4);
    let tx = chain.deposit("platform", b"one", 1);
    chain.commit(vec![tx]);
    let tx = chain.deposit("platform", b"two", 2);
    chain.commit(vec![tx]);
    let (b1, c1) = chain.blocks[0].clone();
    let (b2, c2) = chain.blocks[1].clone();
    let fresh = TestChain::new(4);
    let (mut m, _) = started(&fresh, 0);
    // Votes at a later height make it fetch after a precommit timeout.
    let later = Vote { height: 3, ..vote(&fresh, 1, 0, VoteKind::Prevote, None).vote }.sign(&test_key("v1"));
    m.on(NOW, msg(1, Message::Vote(later.clone())));
    let fx =
        m.on(NOW + 5_000, msg(2, Message::Vote(Vote { validator: 2, ..later.vote.clone() }.sign(&test_key("v2")))));
    assert!(fx.contains(&Effect::FetchBlocks { from_height: 1 }));
    // A certificate with too few signatures is refused.
    let mut weak = c1.clone();
    weak.sigs.truncate(2);
    assert!(m.on(NOW, msg(1, Message::Commit { block: b1.clone(), cert: weak })).is_empty());
    // A certificate for another block is refused.
    assert!(m.on(NOW, msg(1, Message::Commit { block: b2.clone(), cert: c1.clone() })).is_empty());
    // The next height arrives first: buffered.
    assert!(m.on(NOW, msg(1, Message::Commit { block: b2.clone(), cert: c2.clone() })).is_empty());
    let fx = m.on(NOW, msg(1, Message::Commit { block: b1.clone(), cert: c1.clone() }));
    assert_eq!(fx, vec![Effect::ValidateBlock { block: b1.clone() }]);
    let fx = m.on(NOW, Input::BlockValidity { hash: b1.hash(), valid: true });
    assert_eq!(fx[0], Effect::Commit { block: b1, cert: c1 });
    assert!(fx.contains(&Effect::ValidateBlock { block: b2.clone() }));
    let fx = m.on(NOW, Input::BlockValidity { hash: b2.hash(), valid: true });
    assert_eq!(fx[0], Effect::Commit { block: b2, cert: c2 });
    assert_eq!(m.status().height, 3);
}

/// Rule C2: a peer that shows it is behind is served; requests are rate limited.
#[test]
fn serves_lagging_peers_rate_limited() {
    let mut chain = TestChain::new(4);
    let tx = chain.deposit("platform", b"one", 1);
    chain.commit(vec![tx]);
    let (b1, c1) = chain.blocks[0].clone();
    let (mut m, _) = started(&TestChain::new(4), 0);
    m.on(NOW, msg(1, Message::Commit { block: b1.clone(), cert: c1 }));
    m.on(NOW, Input::BlockValidity { hash: b1.hash(), valid: true });
    assert_eq!(m.status().height, 2);
    let fx = m.on(NOW, msg(3, Message::SyncRequest { from_height: 1 }));
    assert_eq!(fx, vec![Effect::ServeBlocks { peer: PeerId(3), from_height: 1 }]);
    assert!(m.on(NOW + 1, msg(3, Message::SyncRequest { from_height: 1 })).is_empty());
    assert!(m.on(NOW + 1, msg(3, Message::SyncRequest { from_height: 2 })).is_empty(), "nothing to serve");
}

#[test]
fn future_messages_are_bounded() {
    let chain = TestChain::new(4);
    let (mut m, _) = started(&chain, 0);
    for r in 0..50u32 {
        let v = Vote { height: 2, round: r, ..vote(&chain, 1, 0, VoteKind::Prevote, None).vote }.sign(&test_key("v1"));
        m.on(NOW, msg(1, Message::Vote(v)));
    }
    assert!(m.stats().dropped >= 44);
}

#[test]
fn observer_and_non_validator_keys() {
    let chain = TestChain::new(4);
    let mut c = cfg(&chain, 0);
    c.key = Some(test_key("stranger"));
    assert!(matches!(Machine::new(c.clone(), 0), Err(ConsensusError::NotAValidator(_))));
    c.key = None;
    let mut m = Machine::new(c, 0).unwrap();
    let fx = m.on(NOW, Input::Start { votes: vec![], proposals: vec![] });
    assert!(own_votes(&fx).is_empty());
    assert_eq!(m.validator_index(), None);
}

fn sample_messages() -> Vec<Message> {
    let mut chain = TestChain::new(4);
    let b = block(&chain, 1, "a");
    let tx = chain.deposit("platform", b"one", 1);
    chain.commit(vec![tx]);
    let (cb, cert): (Block, CommitCertificate) = chain.blocks[0].clone();
    vec![
        proposal(&chain, 0, &b, Some(0)).clone(),
        proposal(&chain, 2, &b, None),
        Message::Vote(vote(&chain, 2, 1, VoteKind::Precommit, Some(b.hash()))),
        Message::Vote(vote(&chain, 2, 1, VoteKind::Prevote, None)),
        Message::SyncRequest { from_height: 7 },
        Message::Commit { block: cb, cert },
    ]
}

#[test]
fn wire_format_round_trips_and_refuses_bad_input() {
    for m in sample_messages() {
        let bytes = m.to_wire();
        assert_eq!(Message::from_wire(&bytes).unwrap(), m);
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(Message::from_wire(&trailing).is_err());
        for cut in [0, 1, bytes.len() / 2, bytes.len() - 1] {
            assert!(Message::from_wire(&bytes[..cut]).is_err());
        }
    }
    assert!(Message::from_wire(&[5]).is_err(), "unknown tag");
    assert_eq!(Message::from_wire(&[3, 0, 0, 0, 0, 0, 0, 0, 9]).unwrap(), Message::SyncRequest { from_height: 9 });
    let huge = vec![0u8; curia_consensus::msg::MAX_MESSAGE_BYTES + 1];
    assert!(matches!(Message::from_wire(&huge), Err(ConsensusError::MessageTooLarge { .. })));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn decoding_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Message::from_wire(&bytes);
    }

    #[test]
    fn decoding_mutated_messages_never_panics(which in 0usize..6, pos in any::<usize>(), val in any::<u8>(), cut in any::<usize>()) {
        let msgs = sample_messages();
        let mut bytes = msgs[which].to_wire();
        let p = pos % bytes.len();
        bytes[p] = val;
        let _ = Message::from_wire(&bytes);
        bytes.truncate(cut % (bytes.len() + 1));
        let _ = Message::from_wire(&bytes);
    }
}

/// Rule Q with unequal voting power from the genesis: powers 3, 1, 1, 1 (total 6, quorum 5).
#[test]
fn quorums_count_voting_power() {
    let mut g = curia_ledger::testkit::test_genesis(4);
    g.validators[0].power = 3;
    let spec = Arc::new(g.into_spec().unwrap());
    assert_eq!(spec.quorum_power(), 5);
    let chain = TestChain::new(4);
    let c = Config { spec: spec.clone(), ..cfg(&chain, 3) };
    let mut m = Machine::new(c, 0).unwrap();
    m.on(NOW, Input::Start { votes: vec![], proposals: vec![] });
    let v = |i: usize, round: u32| {
        Message::Vote(
            Vote {
                chain_id: spec.chain_id,
                height: 1,
                round,
                kind: VoteKind::Prevote,
                block: None,
                time_ms: NOW,
                validator: i as u16,
            }
            .sign(&test_key(&format!("v{i}"))),
        )
    };
    // Rule L55: at most total - quorum = 1 unit of power may be faulty, so the weak threshold is
    // 2: validator 1 alone (power 1) is not enough, validators 1 and 2 are.
    m.on(NOW, msg(1, v(1, 4)));
    assert_eq!(m.status().round, 0);
    m.on(NOW, msg(2, v(2, 4)));
    assert_eq!(m.status().round, 4);
    m.on(NOW, msg(0, v(0, 4)));
    // Rule L44: nil prevotes of power 3 + 1 + 1 = 5 are a quorum; our own nil prevote first.
    m.on(NOW, Input::Timeout { height: 1, round: 4, step: Step::Propose });
    assert_eq!(m.status().step, Step::Precommit, "power 3+1+1 of 6 is a quorum");
    // Without validator 0, powers 1+1+1 are not.
    let mut m2 = Machine::new(Config { spec: spec.clone(), ..cfg(&chain, 3) }, 0).unwrap();
    m2.on(NOW, Input::Start { votes: vec![], proposals: vec![] });
    m2.on(NOW, Input::Timeout { height: 1, round: 0, step: Step::Propose });
    m2.on(NOW, msg(1, v(1, 0)));
    m2.on(NOW, msg(2, v(2, 0)));
    assert_eq!(m2.status().step, Step::Prevote, "power 1+1+1 of 6 is not a quorum");
}

/// Rule R: a new round re-sends our non-nil votes of the height; rule L36b: a quorum of prevotes
/// seen late for an earlier round makes that block the valid value we propose.
#[test]
fn retransmits_votes_and_learns_valid_values_late() {
    let chain = TestChain::new(4);
    let (mut m, _) = started(&chain, 3);
    let a = block(&chain, 1, "a");
    let ha = a.hash();
    m.on(NOW, msg(1, proposal(&chain, 0, &a, None)));
    let fx = m.on(NOW, Input::BlockValidity { hash: ha, valid: true });
    let pv = own_votes(&fx)[0].clone();
    m.on(NOW, Input::Timeout { height: 1, round: 0, step: Step::Prevote });
    let fx = m.on(NOW, Input::Timeout { height: 1, round: 0, step: Step::Precommit });
    assert!(fx.contains(&Effect::Broadcast(Message::Vote(pv))), "own prevote for A re-sent");
    // Round 1 to 2; then the missing prevotes of round 0 arrive: A had a quorum there.
    m.on(NOW, Input::Timeout { height: 1, round: 1, step: Step::Propose });
    m.on(NOW, Input::Timeout { height: 1, round: 1, step: Step::Prevote });
    m.on(NOW, msg(1, Message::Vote(vote(&chain, 1, 0, VoteKind::Prevote, Some(ha)))));
    m.on(NOW, msg(2, Message::Vote(vote(&chain, 2, 0, VoteKind::Prevote, Some(ha)))));
    assert_eq!(m.status().locked, None, "a late quorum does not lock");
    // Move on to the next round that validator 3 proposes: it re-proposes A with pol round 0.
    let next = (2..10).find(|r| Machine::proposer(&chain.spec, 1, *r) == 3).unwrap();
    let mut fx = Vec::new();
    for r in 1..next {
        fx = m.on(NOW, Input::Timeout { height: 1, round: r, step: Step::Precommit });
        if r + 1 < next {
            m.on(NOW, Input::Timeout { height: 1, round: r + 1, step: Step::Propose });
            m.on(NOW, Input::Timeout { height: 1, round: r + 1, step: Step::Prevote });
        }
    }
    let re = fx.iter().find_map(|e| match e {
        Effect::Broadcast(Message::Proposal { proposal, .. }) => Some(proposal.proposal.clone()),
        _ => None,
    });
    let re = re.expect("re-proposal");
    assert_eq!((re.block_hash, re.pol_round), (ha, Some(0)));
}

/// Rule V1 / C1: a block whose body does not match its header (same hash, other transactions) is
/// refused, so it cannot poison the verdict on the real block.
#[test]
fn corrupted_bodies_under_good_headers_are_refused() {
    let mut chain = TestChain::new(4);
    let (mut m, _) = started(&chain, 0);
    let a = block(&chain, 1, "a");
    let mut bad = a.clone();
    bad.txs.clear();
    assert_eq!(bad.hash(), a.hash());
    let Message::Proposal { proposal: p, .. } = proposal(&chain, 0, &a, None) else { unreachable!() };
    assert!(m.on(NOW, msg(1, Message::Proposal { proposal: p.clone(), block: bad })).is_empty());
    assert_eq!(m.stats().rejected, 1);
    let fx = m.on(NOW, msg(1, Message::Proposal { proposal: p, block: a.clone() }));
    assert_eq!(fx, vec![Effect::ValidateBlock { block: a }]);
    // The same for a committed block with a good certificate.
    let tx = chain.deposit("platform", b"one", 1);
    chain.commit(vec![tx]);
    let (b1, c1) = chain.blocks[0].clone();
    let (mut m, _) = started(&TestChain::new(4), 0);
    let mut bad = b1.clone();
    bad.txs.clear();
    assert!(m.on(NOW, msg(1, Message::Commit { block: bad, cert: c1.clone() })).is_empty());
    let fx = m.on(NOW, msg(1, Message::Commit { block: b1.clone(), cert: c1 }));
    assert_eq!(fx, vec![Effect::ValidateBlock { block: b1 }]);
}

/// A rotated key: from the rotation's activation height the set names the new key, so a vote
/// signed with the old key is refused, one signed with the new key counts, and a validator
/// given its new key ([`Machine::add_key`]) signs with it; without it, it is no member and
/// signs nothing.
#[test]
fn rotated_key_signs_from_activation_and_old_key_votes_are_refused() {
    use curia_ledger::membership::{MemberChange, MemberEntry, Membership};
    let chain = TestChain::new(4);
    let (old, new) = (test_key("v1"), test_key("v1-next"));
    let rotate = MemberEntry { height: 0, change: MemberChange::Rotate { old: old.public(), new: new.public() } };
    let membership =
        || Membership::with_entries(chain.spec.validator_set.clone(), std::slice::from_ref(&rotate)).unwrap();
    assert_eq!(rotate.effective_height(), 2);
    // Validator 0 at height 2 (the rotation is in force).
    let mut m = Machine::with_membership(cfg(&chain, 0), 1, membership()).unwrap();
    m.on(NOW, Input::Start { votes: vec![], proposals: vec![] });
    let v = |key: &curia_ledger::crypto::SecretKey| {
        Vote {
            chain_id: chain.spec.chain_id,
            height: 2,
            round: 0,
            kind: VoteKind::Prevote,
            block: None,
            time_ms: NOW,
            validator: 1,
        }
        .sign(key)
    };
    let before = m.stats().rejected;
    m.on(NOW, msg(1, Message::Vote(v(&old))));
    assert_eq!(m.stats().rejected, before + 1, "a vote under the rotated-away key is refused");
    m.on(NOW, msg(1, Message::Vote(v(&new))));
    assert_eq!(m.stats().rejected, before + 1, "a vote under the new key counts");
    // Validator 1 with only its old key is not a member at height 2.
    let mut stale = Machine::with_membership(cfg(&chain, 1), 1, membership()).unwrap();
    assert!(stale.signing_key().is_none());
    let fx = stale.on(NOW, Input::Start { votes: vec![], proposals: vec![] });
    assert!(own_votes(&fx).is_empty());
    // Given its new key, it signs with it.
    let mut rotated = Machine::with_membership(cfg(&chain, 1), 1, membership()).unwrap();
    rotated.add_key(new.clone());
    assert_eq!(rotated.signing_key().map(|k| k.public()), Some(new.public()));
    rotated.on(NOW, Input::Start { votes: vec![], proposals: vec![] });
    let fx = rotated.on(NOW + 10_000, Input::Timeout { height: 2, round: 0, step: Step::Propose });
    let votes = own_votes(&fx);
    assert_eq!(votes.len(), 1, "{fx:?}");
    assert!(votes[0].verify_in(&chain.spec.chain_id, rotated.validator_set()).is_ok(), "signed with the new key");
    assert!(votes[0].verify_in(&chain.spec.chain_id, &chain.spec.validator_set).is_err(), "not with the old one");
    // Before activation (height 1) the same machine signs with the old key.
    let mut early = Machine::with_membership(cfg(&chain, 1), 0, membership()).unwrap();
    early.add_key(new);
    assert_eq!(early.signing_key().map(|k| k.public()), Some(old.public()));
}
