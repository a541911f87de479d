//! The consensus state machine: Tendermint (arXiv:1807.04938, Algorithm 1) as a pure function of
//! its inputs. Rules are named as in `docs/protocol.md` and cited where they are implemented.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use curia_ledger::block::{Block, CommitCertificate, SignedVote, Vote, VoteKind};
use curia_ledger::crypto::SecretKey;
use curia_ledger::equivocation::Equivocation;
use curia_ledger::evidence::DoubleProposal;
use curia_ledger::genesis::ChainSpec;
use curia_ledger::membership::{Membership, ValidatorSet, ACTIVATION_DELAY};
use curia_ledger::Hash;

use crate::msg::{Message, Proposal, SignedProposal};
use crate::ConsensusError;

/// How far ahead of the current round votes and proposals are stored. Messages for later rounds
/// only update the sender's highest round seen (for rule L55), so memory stays bounded.
pub const ROUND_WINDOW: u32 = 8;
/// How many messages for the next height are buffered, per validator.
pub const FUTURE_PER_VALIDATOR: usize = 6;
/// How many heights ahead verified sync commits are buffered.
pub const SYNC_WINDOW: u64 = 64;
/// Most peers whose last serve time is remembered (rate limiting of sync answers).
const MAX_SERVE_PEERS: usize = 1024;

/// Identity of the peer a message came from, as the node's network layer assigns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerId(pub u64);

/// Step within a round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// Waiting for the proposal.
    Propose,
    /// Prevoted; waiting for a quorum of prevotes.
    Prevote,
    /// Precommitted; waiting for a quorum of precommits.
    Precommit,
}

/// Timeouts: `base + delta * round` milliseconds for each step (rule T1: they grow with the
/// round, so after the network stabilises some round is long enough for everyone).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Propose step, round 0.
    pub propose_ms: u64,
    /// Prevote step, round 0.
    pub prevote_ms: u64,
    /// Precommit step, round 0.
    pub precommit_ms: u64,
    /// Added per round to each of the three.
    pub delta_ms: u64,
    /// Least time between two block fetches, and between two answers to one peer.
    pub sync_retry_ms: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts { propose_ms: 3000, prevote_ms: 1000, precommit_ms: 1000, delta_ms: 500, sync_retry_ms: 1000 }
    }
}

impl Timeouts {
    /// The timeout of `step` in `round`.
    pub fn of(&self, step: Step, round: u32) -> u64 {
        let base = match step {
            Step::Propose => self.propose_ms,
            Step::Prevote => self.prevote_ms,
            Step::Precommit => self.precommit_ms,
        };
        base.saturating_add(self.delta_ms.saturating_mul(round as u64))
    }
}

/// Configuration of a machine.
#[derive(Clone, Debug)]
pub struct Config {
    /// The chain.
    pub spec: Arc<ChainSpec>,
    /// This validator's signing key; `None` for a non-voting observer that only follows commits.
    pub key: Option<SecretKey>,
    /// Timeouts.
    pub timeouts: Timeouts,
}

/// Something the node tells the machine.
#[derive(Clone, Debug)]
pub enum Input {
    /// The first input after construction: this validator's persisted votes and proposals (all
    /// of them, or those above the committed height). Until it arrives other inputs are ignored.
    Start {
        /// Votes this validator signed before (from [`Effect::PersistVote`]).
        votes: Vec<SignedVote>,
        /// Proposals this validator signed before (from [`Effect::PersistProposal`]).
        proposals: Vec<SignedProposal>,
    },
    /// A decoded message from a peer.
    Message {
        /// Who sent it.
        from: PeerId,
        /// The message.
        msg: Message,
    },
    /// Raw bytes from a peer; decoded here, garbage is counted and dropped.
    Bytes {
        /// Who sent them.
        from: PeerId,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// A timeout scheduled by [`Effect::ScheduleTimeout`] fired.
    Timeout {
        /// Height.
        height: u64,
        /// Round.
        round: u32,
        /// Step.
        step: Step,
    },
    /// The block the node built in answer to [`Effect::RequestProposal`].
    ProposalBlock {
        /// Height asked for.
        height: u64,
        /// Round asked for.
        round: u32,
        /// The block (built on the node's committed tip).
        block: Block,
    },
    /// The node's verdict on a block it was asked to validate with [`Effect::ValidateBlock`].
    BlockValidity {
        /// Block hash.
        hash: Hash,
        /// Whether the block applies on the committed tip.
        valid: bool,
    },
}

/// Something the node must do. Effects must be performed in the order given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Send to every peer. (Answers to one peer go through [`Effect::ServeBlocks`], as only the
    /// node's storage holds committed blocks.)
    Broadcast(Message),
    /// Durably store this vote before performing any later effect (it precedes its broadcast).
    PersistVote(SignedVote),
    /// Durably store this proposal before performing any later effect.
    PersistProposal(SignedProposal),
    /// Feed [`Input::Timeout`] back after `after_ms`.
    ScheduleTimeout {
        /// Height.
        height: u64,
        /// Round.
        round: u32,
        /// Step.
        step: Step,
        /// Delay in milliseconds.
        after_ms: u64,
    },
    /// Build a block on the committed tip and feed it back as [`Input::ProposalBlock`].
    RequestProposal {
        /// Height.
        height: u64,
        /// Round.
        round: u32,
    },
    /// Check the block against the committed tip (`state::apply_block`) and feed back
    /// [`Input::BlockValidity`].
    ValidateBlock {
        /// The block.
        block: Block,
    },
    /// The block is decided: store it with its certificate and apply it. Its height is one more
    /// than the previous commit's.
    Commit {
        /// The block.
        block: Block,
        /// Its certificate (a quorum of precommits).
        cert: CommitCertificate,
    },
    /// Ask peers for committed blocks from this height on (send them [`Message::SyncRequest`]);
    /// their answers come back as [`Message::Commit`].
    FetchBlocks {
        /// First missing height.
        from_height: u64,
    },
    /// Send this peer [`Message::Commit`] for committed heights from `from_height` on (a bounded
    /// batch, from storage).
    ServeBlocks {
        /// The peer.
        peer: PeerId,
        /// First height it lacks.
        from_height: u64,
    },
    /// Rule E: a validator signed two different votes for one slot; keep this evidence (both
    /// votes verified). Emitted once per validator and slot, for the first two values seen.
    Equivocation(Equivocation),
    /// Rule E: the proposer of a height and round signed two different proposals for it; keep
    /// this evidence (both verified). Emitted once per height and round, for the first two seen.
    DoubleProposal(DoubleProposal),
}

/// Counters of what the machine saw and refused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages received (decoded).
    pub messages: u64,
    /// Undecodable byte strings.
    pub decode_errors: u64,
    /// Messages with bad signatures, unknown validators, wrong chain, wrong proposer, bad shape.
    pub rejected: u64,
    /// Second, different votes or proposals by one validator for one slot.
    pub equivocations: u64,
    /// Messages dropped as too old, too far ahead, or over a buffer bound.
    pub dropped: u64,
    /// Blocks committed.
    pub commits: u64,
    /// Votes and proposals not signed because they were at or below the signing floor (rule S3).
    pub withheld: u64,
}

/// A place where a validator signs: height, round and step (0 proposal, 1 prevote, 2
/// precommit), ordered as the machine moves through them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SignPos {
    /// Height.
    pub height: u64,
    /// Round.
    pub round: u32,
    /// 0 proposal, 1 prevote, 2 precommit (the vote kind's code).
    pub step: u8,
}

impl SignPos {
    /// Where a vote is signed.
    pub fn of_vote(v: &Vote) -> SignPos {
        SignPos { height: v.height, round: v.round, step: v.kind as u8 }
    }
    /// Where a proposal is signed.
    pub fn of_proposal(p: &Proposal) -> SignPos {
        SignPos { height: p.height, round: p.round, step: 0 }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Validity {
    Pending,
    Valid,
    Invalid,
}

/// Most different values one validator's votes are kept for in one slot (rule E), apart from
/// nil and blocks proposed at this height.
pub const MAX_VALUES_PER_SLOT: usize = 4;

/// Votes of one kind in one round. A validator counts once towards each value it signed; an
/// equivocating validator may count towards several (rule E), so every node counts the same
/// votes for a value whatever order they arrived in.
#[derive(Default, Debug)]
struct RoundVotes {
    by: BTreeMap<u16, Vec<SignedVote>>,
    power: BTreeMap<Option<Hash>, u64>,
}

impl RoundVotes {
    fn power_for(&self, b: &Option<Hash>) -> u64 {
        self.power.get(b).copied().unwrap_or(0)
    }
    fn for_value<'a>(&'a self, b: &'a Option<Hash>) -> impl Iterator<Item = &'a SignedVote> + 'a {
        self.by.values().flatten().filter(move |v| &v.vote.block == b)
    }
}

/// Where the machine is; for status pages and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// Height being decided.
    pub height: u64,
    /// Round.
    pub round: u32,
    /// Step.
    pub step: Step,
    /// Locked round and block, if locked.
    pub locked: Option<(u32, Hash)>,
}

/// The consensus state machine of one validator (or observer).
#[derive(Debug)]
pub struct Machine {
    cfg: Config,
    /// The validator-set history known to this machine, complete up to `known_tip`.
    membership: Membership,
    known_tip: u64,
    /// The set in force at `height`; `me`, `powers`, `quorum` and `weak` follow it.
    set: Arc<ValidatorSet>,
    me: Option<u16>,
    /// Keys besides `cfg.key` (a rotated validator's next key, [`Machine::add_key`]): the
    /// machine signs with whichever of its keys the set in force names.
    extra_keys: Vec<SecretKey>,
    powers: Vec<u64>,
    quorum: u64,
    weak: u64,
    started: bool,
    now: u64,

    height: u64,
    round: u32,
    step: Step,
    locked: Option<(u32, Hash)>,
    valid: Option<(u32, Hash)>,
    l36_done: bool,
    awaiting_block: Option<(u64, u32)>,

    proposals: BTreeMap<u32, SignedProposal>,
    /// Rounds of this height whose double proposal was reported.
    double_proposals: std::collections::BTreeSet<u32>,
    blocks: BTreeMap<Hash, Block>,
    validity: BTreeMap<Hash, Validity>,
    votes: BTreeMap<(u32, VoteKind), RoundVotes>,
    max_round_seen: Vec<Option<u32>>,
    own_votes: BTreeMap<(u32, VoteKind), SignedVote>,
    own_proposals: BTreeMap<u32, SignedProposal>,
    sync_certs: BTreeMap<u64, (Block, CommitCertificate)>,

    future: Vec<(PeerId, Message)>,
    queue: VecDeque<(PeerId, Message, bool)>,
    ahead_since: Option<u64>,
    last_fetch: Option<u64>,
    last_serve: BTreeMap<PeerId, u64>,
    stats: Stats,
    /// Rule S3: nothing is signed at or below this position.
    signing_floor: Option<SignPos>,
    /// The first broken invariant (see [`Machine::check_invariants`]).
    broken: Option<String>,
}

impl Machine {
    /// A machine for a node whose last committed block has height `committed_height` (0 before
    /// the first block). It decides height `committed_height + 1` once given [`Input::Start`].
    pub fn new(cfg: Config, committed_height: u64) -> Result<Machine, ConsensusError> {
        let spec = cfg.spec.clone();
        if let Some(k) = &cfg.key {
            spec.validator_index(&k.public()).ok_or_else(|| ConsensusError::NotAValidator(k.public().to_string()))?;
        }
        Machine::with_membership(cfg, committed_height, Membership::new(spec.validator_set.clone()))
    }

    /// A machine whose chain's validator-set history up to `committed_height` is `membership`.
    /// Its key need not be in the set in force: it votes at the heights where it is (a validator
    /// that joins follows commits until its activation height).
    pub fn with_membership(
        cfg: Config,
        committed_height: u64,
        membership: Membership,
    ) -> Result<Machine, ConsensusError> {
        if cfg.spec.total_power == 0 {
            return Err(ConsensusError::NoPower);
        }
        let set = membership.set_at(committed_height + 1).clone();
        let mut m = Machine {
            cfg,
            membership,
            known_tip: committed_height,
            set,
            me: None,
            extra_keys: Vec::new(),
            powers: Vec::new(),
            quorum: 0,
            weak: 0,
            started: false,
            now: 0,
            height: committed_height + 1,
            round: 0,
            step: Step::Propose,
            locked: None,
            valid: None,
            l36_done: false,
            awaiting_block: None,
            proposals: BTreeMap::new(),
            double_proposals: Default::default(),
            blocks: BTreeMap::new(),
            validity: BTreeMap::new(),
            votes: BTreeMap::new(),
            max_round_seen: Vec::new(),
            own_votes: BTreeMap::new(),
            own_proposals: BTreeMap::new(),
            sync_certs: BTreeMap::new(),
            future: Vec::new(),
            queue: VecDeque::new(),
            ahead_since: None,
            last_fetch: None,
            last_serve: BTreeMap::new(),
            stats: Stats::default(),
            signing_floor: None,
            broken: None,
        };
        m.enter_set();
        Ok(m)
    }

    /// Take the set in force at the current height: this validator's index in it, the powers,
    /// the quorum and the weak threshold (rule Q: a quorum is more than 2/3 of the power; "f+1"
    /// is any power no quorum can avoid).
    fn enter_set(&mut self) {
        let set = self.membership.set_at(self.height).clone();
        self.me = self.my_index(&set);
        self.powers = set.validators.iter().map(|v| v.power).collect();
        self.quorum = set.quorum_power();
        self.weak = set.total_power - set.quorum_power() + 1;
        self.max_round_seen = vec![None; set.len()];
        self.set = set;
    }

    /// This machine's index in `set`: the place of the first of its keys that `set` holds.
    fn my_index(&self, set: &ValidatorSet) -> Option<u16> {
        self.cfg.key.iter().chain(&self.extra_keys).find_map(|k| set.index_of(&k.public())).map(|i| i as u16)
    }

    /// Another key this validator may sign with: the new key of a rotation (`rotate old new`).
    /// It is used only at heights whose set in force names it, so from the rotation's activation
    /// height on the machine signs with it, and never with the old key again (which that set no
    /// longer holds). Adding a key the machine has is a no-op.
    pub fn add_key(&mut self, key: SecretKey) {
        let p = key.public();
        if self.cfg.key.as_ref().is_some_and(|k| k.public() == p) || self.extra_keys.iter().any(|k| k.public() == p) {
            return;
        }
        self.extra_keys.push(key);
        self.me = self.my_index(&self.set.clone());
    }

    /// The key this machine signs with at the current height: the one the set in force names
    /// at its index (`None` while it is not a member of that set).
    pub fn signing_key(&self) -> Option<&SecretKey> {
        let want = self.set.get(usize::from(self.me?))?.key;
        self.cfg.key.iter().chain(&self.extra_keys).find(|k| k.public() == want)
    }

    /// The validator-set history after the block at `committed_height` (given by the executor
    /// after each commit). Sets are known up to `committed_height + 2`.
    pub fn set_membership(&mut self, membership: Membership, committed_height: u64) {
        self.membership = membership;
        self.known_tip = committed_height;
        if self.membership.set_at(self.height).hash != self.set.hash {
            self.enter_set();
        }
    }

    /// The set in force at `height`, if this machine knows it yet.
    fn set_for(&self, height: u64) -> Option<&Arc<ValidatorSet>> {
        (height <= self.known_tip + ACTIVATION_DELAY).then(|| self.membership.set_at(height))
    }

    /// The set in force at `height`, or the last one this machine knows for a later height.
    fn set_for_or_latest(&self, height: u64) -> &Arc<ValidatorSet> {
        self.membership.set_at(height.min(self.known_tip + ACTIVATION_DELAY))
    }

    /// The set in force at the current height.
    pub fn validator_set(&self) -> &Arc<ValidatorSet> {
        &self.set
    }

    /// Where the machine is.
    pub fn status(&self) -> Status {
        Status { height: self.height, round: self.round, step: self.step, locked: self.locked }
    }

    /// The signing floor (rule S3), if one is set.
    pub fn signing_floor(&self) -> Option<SignPos> {
        self.signing_floor
    }

    /// Rule S3 (restored validator): never sign a vote or a proposal at a position at or below
    /// `floor`: the highest position this validator may have signed before, as recorded outside
    /// its store (a store restored from a backup has forgotten what it signed since). Votes and
    /// proposals already in the store's log are still re-sent; new ones there are withheld
    /// (counted in [`Stats::withheld`]) as if lost, so the validator is silent until the
    /// network has moved past `floor`. Set it before [`Input::Start`].
    pub fn set_signing_floor(&mut self, floor: Option<SignPos>) {
        self.signing_floor = floor;
    }

    fn below_floor(&mut self, pos: SignPos) -> bool {
        let below = self.signing_floor.is_some_and(|f| pos <= f);
        if below {
            self.stats.withheld += 1;
        }
        below
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// This validator's index, if it votes.
    pub fn validator_index(&self) -> Option<u16> {
        self.me
    }

    /// Check the machine's invariants (rule I in `docs/protocol.md`); the first broken one, if
    /// any, as [`ConsensusError::Invariant`]. The executor calls this after every input and
    /// before performing its effects, so a broken machine stops before its votes leave.
    ///
    /// - I1: `locked.round <= round` and `valid.round <= round`; `valid` is at least as recent
    ///   as `locked`.
    /// - I2: the lock is our highest-round non-nil precommit of this height (only L36 locks, and
    ///   it precommits the value it locks on, in the round it locks in).
    /// - I3: we prevote a value other than the one we are locked on only with a proof of lock:
    ///   a quorum of prevotes for it in a round from the lock's round up to before ours (checked
    ///   when the prevote is signed).
    pub fn check_invariants(&self) -> Result<(), ConsensusError> {
        if let Some(b) = &self.broken {
            return Err(ConsensusError::Invariant(b.clone()));
        }
        let fail = |what: String| Err(ConsensusError::Invariant(format!("h{} r{}: {what}", self.height, self.round)));
        if let Some((lr, _)) = self.locked {
            if lr > self.round {
                return fail(format!("I1: locked in round {lr}, above the current round"));
            }
            if self.valid.is_none_or(|(vr, _)| vr < lr) {
                return fail(format!("I1: locked in round {lr} but valid is {:?}", self.valid));
            }
        }
        if let Some((vr, _)) = self.valid {
            if vr > self.round {
                return fail(format!("I1: valid value from round {vr}, above the current round"));
            }
        }
        let lock = self.own_lock(u32::MAX);
        if lock != self.locked {
            return fail(format!("I2: locked on {:?}, but the highest non-nil precommit is {lock:?}", self.locked));
        }
        Ok(())
    }

    /// Our highest-round non-nil precommit of this height in a round below `below`.
    fn own_lock(&self, below: u32) -> Option<(u32, Hash)> {
        self.own_votes
            .iter()
            .filter(|((r, k), _)| *k == VoteKind::Precommit && *r < below)
            .filter_map(|((r, _), v)| v.vote.block.map(|b| (*r, b)))
            .max_by_key(|(r, _)| *r)
    }

    /// Invariant I3, checked as a prevote for `v` is signed in the current round.
    fn check_prevote(&mut self, v: Hash) {
        let Some((lr, lv)) = self.own_lock(self.round) else { return };
        if lv == v || self.broken.is_some() {
            return;
        }
        let quorum = self.quorum;
        if !(lr..self.round).any(|vr| self.prevotes(vr, &Some(v)) >= quorum) {
            self.broken = Some(format!(
                "I3: h{} r{}: prevote for {v:?} while locked on {lv:?} in round {lr}, without a quorum of prevotes for it since",
                self.height, self.round
            ));
        }
    }

    /// The proposer of `(height, round)` on a chain whose set never changed.
    pub fn proposer(spec: &ChainSpec, height: u64, round: u32) -> u16 {
        Self::proposer_in(&spec.validator_set, height, round)
    }

    /// The proposer of `(height, round)`: rule P, round robin over `set`, the set in force at
    /// `height`.
    pub fn proposer_in(set: &ValidatorSet, height: u64, round: u32) -> u16 {
        let n = set.len() as u64;
        ((height.wrapping_add(round as u64)) % n) as u16
    }

    /// Feed one input at local time `now_ms`; returns the effects to perform, in order.
    pub fn on(&mut self, now_ms: u64, input: Input) -> Vec<Effect> {
        self.now = now_ms;
        let mut out = Vec::new();
        match input {
            Input::Start { votes, proposals } => {
                if !self.started {
                    self.started = true;
                    self.restore(votes, proposals, &mut out);
                }
            }
            _ if !self.started => {}
            Input::Message { from, msg } => self.queue.push_back((from, msg, false)),
            Input::Bytes { from, bytes } => match Message::from_wire(&bytes) {
                Ok(msg) => self.queue.push_back((from, msg, false)),
                Err(_) => self.stats.decode_errors += 1,
            },
            Input::Timeout { height, round, step } => self.on_timeout(height, round, step, &mut out),
            Input::ProposalBlock { height, round, block } => self.on_proposal_block(height, round, block, &mut out),
            Input::BlockValidity { hash, valid } => {
                if let Some(v) = self.validity.get_mut(&hash) {
                    if *v == Validity::Pending {
                        *v = if valid { Validity::Valid } else { Validity::Invalid };
                    }
                }
            }
        }
        if self.started {
            self.progress(&mut out);
            while let Some((from, msg, verified)) = self.queue.pop_front() {
                self.on_message(from, msg, verified, &mut out);
                self.progress(&mut out);
            }
            self.maybe_fetch(&mut out);
        }
        out
    }

    // ---------------------------------------------------------------- restart

    /// Rule S1 (restart): restore own votes and proposals of the current height, the round and
    /// step they imply, and the lock (the highest-round non-nil precommit). Later rules never
    /// sign a second vote for a slot that has one: they re-send the persisted one.
    fn restore(&mut self, votes: Vec<SignedVote>, proposals: Vec<SignedProposal>, out: &mut Vec<Effect>) {
        let me = self.me;
        for v in votes {
            let q = &v.vote;
            if Some(q.validator) != me || q.height != self.height || q.chain_id != self.cfg.spec.chain_id {
                continue;
            }
            self.own_votes.entry((q.round, q.kind)).or_insert(v);
        }
        for p in proposals {
            let q = &p.proposal;
            if Some(q.proposer) != me || q.height != self.height || q.chain_id != self.cfg.spec.chain_id {
                continue;
            }
            self.own_proposals.entry(q.round).or_insert(p);
        }
        let own: Vec<SignedVote> = self.own_votes.values().cloned().collect();
        for v in &own {
            self.add_vote(v.clone());
            if v.vote.kind == VoteKind::Precommit {
                if let Some(b) = v.vote.block {
                    if self.locked.is_none_or(|(r, _)| v.vote.round > r) {
                        self.locked = Some((v.vote.round, b));
                        self.valid = Some((v.vote.round, b));
                    }
                }
            }
        }
        let round = self.own_votes.keys().map(|(r, _)| *r).max().unwrap_or(0);
        if self.own_votes.contains_key(&(round, VoteKind::Precommit)) {
            self.round = round;
            self.enter_step(Step::Precommit, out);
        } else if self.own_votes.contains_key(&(round, VoteKind::Prevote)) {
            self.round = round;
            self.enter_step(Step::Prevote, out);
        } else {
            self.start_round(round, out);
            return;
        }
        // Re-send what was signed in this round: peers may not have received it.
        for v in self.own_votes.range((round, VoteKind::Prevote)..).map(|(_, v)| v.clone()).collect::<Vec<_>>() {
            out.push(Effect::Broadcast(Message::Vote(v)));
        }
    }

    // ---------------------------------------------------------------- rounds

    /// Rule L11 (start round).
    fn start_round(&mut self, round: u32, out: &mut Vec<Effect>) {
        self.round = round;
        self.step = Step::Propose;
        self.l36_done = false;
        self.awaiting_block = None;
        let h = self.height;
        // Rule T1: every step has a timer.
        out.push(Effect::ScheduleTimeout {
            height: h,
            round,
            step: Step::Propose,
            after_ms: self.cfg.timeouts.of(Step::Propose, round),
        });
        // Rule R (retransmission): our non-nil votes of this height are sent again in every new
        // round, so quorums that formed while messages were lost (or while peers were down)
        // become known to everyone once the network heals. Nil votes matter only in their round.
        let again: Vec<SignedVote> = self.own_votes.values().filter(|v| v.vote.block.is_some()).cloned().collect();
        for v in again {
            out.push(Effect::Broadcast(Message::Vote(v)));
        }
        if self.me.is_none() || self.me != Some(Self::proposer_in(&self.set, h, round)) {
            return;
        }
        // Rule S2: a proposal signed before a restart is re-sent, never replaced.
        if let Some(p) = self.own_proposals.get(&round).cloned() {
            if let Some(block) = self.blocks.get(&p.proposal.block_hash).cloned() {
                self.send_own_proposal(p, block, false, out);
            }
            return;
        }
        // Rule L14: re-propose the valid value if there is one, else ask the node for a block.
        if let Some((vr, hash)) = self.valid {
            if let Some(block) = self.blocks.get(&hash).cloned() {
                self.sign_proposal(Some(vr), block, out);
                return;
            }
        }
        self.awaiting_block = Some((h, round));
        out.push(Effect::RequestProposal { height: h, round });
    }

    fn on_proposal_block(&mut self, height: u64, round: u32, block: Block, out: &mut Vec<Effect>) {
        if self.awaiting_block != Some((height, round)) || height != self.height || round != self.round {
            return;
        }
        self.awaiting_block = None;
        if block.header.height != height || self.step != Step::Propose || self.own_proposals.contains_key(&round) {
            return;
        }
        self.sign_proposal(None, block, out);
    }

    fn sign_proposal(&mut self, pol_round: Option<u32>, block: Block, out: &mut Vec<Effect>) {
        if self.below_floor(SignPos { height: self.height, round: self.round, step: 0 }) {
            return;
        }
        let (Some(me), Some(key)) = (self.me, self.signing_key()) else { return };
        let p = Proposal {
            chain_id: self.cfg.spec.chain_id,
            height: self.height,
            round: self.round,
            pol_round,
            block_hash: block.hash(),
            proposer: me,
        }
        .sign(key);
        self.own_proposals.insert(self.round, p.clone());
        self.send_own_proposal(p, block, true, out);
    }

    fn send_own_proposal(&mut self, p: SignedProposal, block: Block, persist: bool, out: &mut Vec<Effect>) {
        if persist {
            out.push(Effect::PersistProposal(p.clone()));
        }
        let pol = p.proposal.pol_round.map(|vr| (vr, p.proposal.block_hash));
        out.push(Effect::Broadcast(Message::Proposal { proposal: p.clone(), block: block.clone() }));
        // Rule L14b: a re-proposal carries its proof of lock. The prevotes of the pol round are
        // re-sent with it, so peers that missed them (loss, partition) can accept it (rule L28).
        if let Some((vr, hash)) = pol {
            if let Some(rv) = self.votes.get(&(vr, VoteKind::Prevote)) {
                for v in rv.for_value(&Some(hash)) {
                    out.push(Effect::Broadcast(Message::Vote(v.clone())));
                }
            }
        }
        self.store_proposal(p, block, out);
    }

    fn enter_step(&mut self, step: Step, out: &mut Vec<Effect>) {
        self.step = step;
        if step != Step::Propose {
            // Rule T1: the prevote and precommit timers start on entering the step (a
            // liveness-only change from L34/L47, so progress needs no reliable links).
            out.push(Effect::ScheduleTimeout {
                height: self.height,
                round: self.round,
                step,
                after_ms: self.cfg.timeouts.of(step, self.round),
            });
        }
    }

    /// Sign (or, Rule S1, re-send the already signed) vote of this round, persist it, then
    /// broadcast it.
    fn cast(&mut self, kind: VoteKind, block: Option<Hash>, out: &mut Vec<Effect>) {
        if self.me.is_none() || self.signing_key().is_none() {
            return;
        }
        if let Some(v) = self.own_votes.get(&(self.round, kind)) {
            out.push(Effect::Broadcast(Message::Vote(v.clone())));
            return;
        }
        // Rule S3: nothing new is signed at or below the signing floor.
        if self.below_floor(SignPos { height: self.height, round: self.round, step: kind as u8 }) {
            return;
        }
        if let (VoteKind::Prevote, Some(b)) = (kind, block) {
            self.check_prevote(b);
        }
        let (Some(me), Some(key)) = (self.me, self.signing_key()) else { return };
        let v = Vote {
            chain_id: self.cfg.spec.chain_id,
            height: self.height,
            round: self.round,
            kind,
            block,
            time_ms: self.now,
            validator: me,
        }
        .sign(key);
        self.own_votes.insert((self.round, kind), v.clone());
        // Rule S1: persist before the vote leaves the machine.
        out.push(Effect::PersistVote(v.clone()));
        out.push(Effect::Broadcast(Message::Vote(v.clone())));
        self.add_vote(v);
    }

    fn on_timeout(&mut self, height: u64, round: u32, step: Step, out: &mut Vec<Effect>) {
        if height != self.height || round != self.round || step != self.step {
            return;
        }
        match step {
            // Rule L57 (timeout propose): prevote nil.
            Step::Propose => {
                self.cast(VoteKind::Prevote, None, out);
                self.enter_step(Step::Prevote, out);
            }
            // Rule L61 (timeout prevote): precommit nil.
            Step::Prevote => {
                self.cast(VoteKind::Precommit, None, out);
                self.enter_step(Step::Precommit, out);
            }
            // Rule L65 (timeout precommit): next round.
            Step::Precommit => self.start_round(round + 1, out),
        }
    }

    // ---------------------------------------------------------------- messages

    fn on_message(&mut self, from: PeerId, msg: Message, verified: bool, out: &mut Vec<Effect>) {
        self.stats.messages += 1;
        match msg {
            Message::Vote(v) => self.on_vote(from, v, verified, out),
            Message::Proposal { proposal, block } => self.on_proposal(from, proposal, block, verified, out),
            Message::SyncRequest { from_height } => {
                if from_height < self.height {
                    self.serve(from, from_height, out);
                }
            }
            Message::Commit { block, cert } => self.on_commit_msg(block, cert, out),
        }
    }

    /// Rule C2: a peer that shows it is at an older height is sent the commits it lacks.
    fn serve(&mut self, peer: PeerId, from_height: u64, out: &mut Vec<Effect>) {
        if from_height == 0 || from_height >= self.height {
            return;
        }
        let retry = self.cfg.timeouts.sync_retry_ms;
        if self.last_serve.get(&peer).is_some_and(|t| self.now < t.saturating_add(retry)) {
            return;
        }
        if self.last_serve.len() >= MAX_SERVE_PEERS {
            self.last_serve.clear();
        }
        self.last_serve.insert(peer, self.now);
        out.push(Effect::ServeBlocks { peer, from_height });
    }

    /// A verified message shows that the sender is at a later height.
    fn note_ahead(&mut self) {
        self.ahead_since.get_or_insert(self.now);
    }

    /// Rule C1 (catch-up): if peers have been at a later height for a precommit timeout, or a
    /// quorum precommitted a block we do not have, fetch committed blocks (rate limited).
    fn maybe_fetch(&mut self, out: &mut Vec<Effect>) {
        let Some(since) = self.ahead_since else { return };
        if self.now < since.saturating_add(self.cfg.timeouts.precommit_ms) {
            return;
        }
        if self.last_fetch.is_some_and(|t| self.now < t.saturating_add(self.cfg.timeouts.sync_retry_ms)) {
            return;
        }
        self.last_fetch = Some(self.now);
        out.push(Effect::FetchBlocks { from_height: self.height });
    }

    fn buffer_future(&mut self, from: PeerId, msg: Message, sender: u16) {
        let count = self
            .future
            .iter()
            .filter(|(_, m)| match m {
                Message::Vote(v) => v.vote.validator == sender,
                Message::Proposal { proposal, .. } => proposal.proposal.proposer == sender,
                _ => false,
            })
            .count();
        if count >= FUTURE_PER_VALIDATOR {
            self.stats.dropped += 1;
            return;
        }
        self.future.push((from, msg));
    }

    fn on_vote(&mut self, from: PeerId, v: SignedVote, verified: bool, out: &mut Vec<Effect>) {
        let q = &v.vote;
        if q.height < self.height {
            // Stale precommits arrive after every commit; only prevotes reveal a lagging peer.
            if q.kind == VoteKind::Prevote && q.height + 1 == self.height {
                self.serve(from, q.height, out);
            }
            self.stats.dropped += 1;
            return;
        }
        if q.chain_id != self.cfg.spec.chain_id
            || (q.height == self.height && q.validator as usize >= self.powers.len())
        {
            self.stats.rejected += 1;
            return;
        }
        if q.height > self.height {
            // Checked against the set in force at its height, or, for a height whose set is not
            // known yet (too far ahead to buffer anyway), the latest set known: enough to learn
            // that peers are ahead.
            let set = self.set_for_or_latest(q.height);
            if !verified && v.verify_in(&self.cfg.spec.chain_id, set).is_err() {
                self.stats.rejected += 1;
                return;
            }
            self.note_ahead();
            if q.height == self.height + 1 {
                let sender = q.validator;
                self.buffer_future(from, Message::Vote(v), sender);
            } else {
                self.stats.dropped += 1;
            }
            return;
        }
        // A vote for a value this validator already has a vote for in this slot (a duplicate
        // from the network, a re-send, or the same value with another clock): nothing to do.
        let slot = (q.round, q.kind);
        let known = self.votes.get(&slot).and_then(|rv| rv.by.get(&q.validator)).map_or(&[][..], |v| &v[..]);
        if known.iter().any(|o| o.vote.block == q.block) {
            return;
        }
        let others = known.len();
        // The vote already held, for evidence if this one conflicts with it (rule E).
        let first = if others == 1 { known.first().cloned() } else { None };
        if !verified && v.verify_in(&self.cfg.spec.chain_id, &self.set).is_err() {
            self.stats.rejected += 1;
            return;
        }
        self.see_round(q.validator, q.round);
        if q.round > self.round.saturating_add(ROUND_WINDOW) {
            self.stats.dropped += 1;
            return;
        }
        if others > 0 {
            // Rule E: a second vote for another value in one slot is equivocation. It is kept
            // (up to a bound) and counts towards its value: quorum intersection still holds, as
            // an honest validator never equivocates, and every node sees the same tallies.
            self.stats.equivocations += 1;
            if let Some(Ok(e)) = first.map(|f| Equivocation::new(f, v.clone())) {
                out.push(Effect::Equivocation(e));
            }
            // Beyond the bound, only votes for nil or for a block we hold (a proposal of this
            // height, so itself bounded) are kept: a flood of junk values cannot hide a vote
            // that a proof of lock needs.
            let useful = q.block.is_none_or(|b| self.blocks.contains_key(&b));
            if others >= MAX_VALUES_PER_SLOT && !useful {
                self.stats.dropped += 1;
                return;
            }
        }
        self.add_vote(v);
    }

    fn add_vote(&mut self, v: SignedVote) {
        let power = self.powers[v.vote.validator as usize];
        let rv = self.votes.entry((v.vote.round, v.vote.kind)).or_default();
        let mine = rv.by.entry(v.vote.validator).or_default();
        if mine.iter().any(|o| o.vote.block == v.vote.block) {
            return;
        }
        *rv.power.entry(v.vote.block).or_insert(0) += power;
        mine.push(v);
    }

    fn see_round(&mut self, validator: u16, round: u32) {
        let m = &mut self.max_round_seen[validator as usize];
        if m.is_none_or(|r| round > r) {
            *m = Some(round);
        }
    }

    fn on_proposal(&mut self, from: PeerId, p: SignedProposal, block: Block, verified: bool, out: &mut Vec<Effect>) {
        let q = &p.proposal;
        if q.height < self.height {
            if q.height + 1 == self.height {
                self.serve(from, q.height, out);
            }
            self.stats.dropped += 1;
            return;
        }
        // Rule V1: the proposer of (h, r) in the set in force at h, a pol round below r, the
        // block it names at height h.
        let set = self.set_for_or_latest(q.height).clone();
        let shape_ok = q.chain_id == self.cfg.spec.chain_id
            && q.proposer == Self::proposer_in(&set, q.height, q.round)
            && q.pol_round.is_none_or(|vr| vr < q.round)
            && block.header.height == q.height
            && block.hash() == q.block_hash
            // The header hash names the body only through the transaction root and the carried
            // certificate's hash: check them, so a corrupted body under a good header cannot be
            // taken for (and judged as) the block.
            && block.check_body().is_ok();
        if !shape_ok || (!verified && p.verify_in(&self.cfg.spec.chain_id, &set).is_err()) {
            self.stats.rejected += 1;
            return;
        }
        if q.height > self.height {
            self.note_ahead();
            if q.height == self.height + 1 {
                let sender = q.proposer;
                self.buffer_future(from, Message::Proposal { proposal: p, block }, sender);
            } else {
                self.stats.dropped += 1;
            }
            return;
        }
        self.see_round(q.proposer, q.round);
        if q.round > self.round.saturating_add(ROUND_WINDOW) {
            self.stats.dropped += 1;
            return;
        }
        if let Some(old) = self.proposals.get(&q.round) {
            if old != &p {
                self.stats.equivocations += 1;
                // Both are verified (ours on arrival, this one above) and by the one proposer
                // of (h, r); only the first conflicting pair is reported: the first is kept.
                if self.double_proposals.insert(q.round) {
                    if let Ok(d) = DoubleProposal::new(old.clone(), p.clone()) {
                        out.push(Effect::DoubleProposal(d));
                    }
                }
            }
            return;
        }
        self.store_proposal(p, block, out);
    }

    fn store_proposal(&mut self, p: SignedProposal, block: Block, out: &mut Vec<Effect>) {
        let hash = p.proposal.block_hash;
        self.proposals.entry(p.proposal.round).or_insert(p);
        self.want_validity(hash, block, out);
    }

    fn want_validity(&mut self, hash: Hash, block: Block, out: &mut Vec<Effect>) {
        if let std::collections::btree_map::Entry::Vacant(e) = self.validity.entry(hash) {
            e.insert(Validity::Pending);
            out.push(Effect::ValidateBlock { block: block.clone() });
        }
        self.blocks.entry(hash).or_insert(block);
    }

    /// Rule C1: a committed block from a peer is taken only with a certificate that verifies
    /// against the set in force at its height, and is committed only once the node finds it
    /// valid. A certificate for a height whose set is not known yet (more than two heights above
    /// the tip, across a membership change) is kept unverified and verified when its height
    /// comes (see `try_commit`).
    fn on_commit_msg(&mut self, block: Block, cert: CommitCertificate, out: &mut Vec<Effect>) {
        let h = cert.height;
        if h < self.height || h > self.height + SYNC_WINDOW || self.sync_certs.contains_key(&h) {
            self.stats.dropped += 1;
            return;
        }
        let hash = block.hash();
        let cert_bad = match self.set_for(h) {
            Some(set) => cert.verify_in(&self.cfg.spec.chain_id, set).is_err(),
            None => false,
        };
        if block.header.height != h || cert.block_hash != hash || block.check_body().is_err() || cert_bad {
            self.stats.rejected += 1;
            return;
        }
        if h > self.height {
            self.note_ahead();
        } else {
            self.want_validity(hash, block.clone(), out);
        }
        self.sync_certs.insert(h, (block, cert));
    }

    // ---------------------------------------------------------------- rules

    fn prevotes(&self, round: u32, b: &Option<Hash>) -> u64 {
        self.votes.get(&(round, VoteKind::Prevote)).map_or(0, |rv| rv.power_for(b))
    }

    fn validity_of(&self, hash: &Hash) -> Option<Validity> {
        self.validity.get(hash).copied()
    }

    /// Evaluate the upon-rules until none fires.
    fn progress(&mut self, out: &mut Vec<Effect>) {
        for _ in 0..64 {
            if !self.step_once(out) {
                return;
            }
        }
    }

    fn step_once(&mut self, out: &mut Vec<Effect>) -> bool {
        if self.try_commit(out) {
            return true;
        }
        let lock = self.locked;
        // Rule L55 (round skip): if validators with more than 1/3 of the power are at a later
        // round, move to the latest such round.
        let mut seen: Vec<(u32, u64)> =
            self.max_round_seen.iter().zip(&self.powers).filter_map(|(r, p)| r.map(|r| (r, *p))).collect();
        seen.sort_by_key(|s| std::cmp::Reverse(s.0));
        let mut acc = 0;
        for (r, p) in seen {
            acc += p;
            if acc >= self.weak {
                if r > self.round {
                    self.start_round(r, out);
                    return true;
                }
                break;
            }
        }
        let round = self.round;
        let proposal = self.proposals.get(&round).map(|p| (p.proposal.block_hash, p.proposal.pol_round));
        if self.step == Step::Propose {
            if let Some((v, pol)) = proposal {
                let validity = self.validity_of(&v);
                if validity.is_some_and(|x| x != Validity::Pending) {
                    let ok = validity == Some(Validity::Valid);
                    match pol {
                        // Rule L22: a fresh proposal; prevote it if valid and not locked on
                        // something else.
                        None => {
                            let vote = ok && lock.is_none_or(|(_, lv)| lv == v);
                            self.cast(VoteKind::Prevote, vote.then_some(v), out);
                            self.enter_step(Step::Prevote, out);
                            return true;
                        }
                        // Rule L28: a re-proposal with a quorum of prevotes in its pol round;
                        // prevote it if valid and locked no later than that round (or on it).
                        Some(vr) if self.prevotes(vr, &Some(v)) >= self.quorum => {
                            let vote = ok && lock.is_none_or(|(lr, lv)| lr <= vr || lv == v);
                            self.cast(VoteKind::Prevote, vote.then_some(v), out);
                            self.enter_step(Step::Prevote, out);
                            return true;
                        }
                        Some(_) => {}
                    }
                }
            }
        }
        if self.step >= Step::Prevote && !self.l36_done {
            if let Some((v, _)) = proposal {
                // Rule L36 (lock): a valid proposal with a quorum of prevotes in this round.
                if self.validity_of(&v) == Some(Validity::Valid) && self.prevotes(round, &Some(v)) >= self.quorum {
                    self.l36_done = true;
                    if self.step == Step::Prevote {
                        self.cast(VoteKind::Precommit, Some(v), out);
                        // The lock is our own precommit (I2): a machine that signed none (its
                        // key not in the set in force here, or the signing floor) does not lock.
                        if self.own_votes.get(&(round, VoteKind::Precommit)).is_some_and(|p| p.vote.block == Some(v)) {
                            self.locked = Some((round, v));
                        }
                        self.enter_step(Step::Precommit, out);
                    }
                    self.valid = Some((round, v));
                    return true;
                }
            }
        }
        // Rule L36b (valid value from an earlier round): a quorum of prevotes in a round above
        // `valid.round` (and not above ours) for a block we hold and found valid. It only
        // changes what we propose (L14), and a proposal's proof of lock is checked by its
        // receivers (L28), so it is safe; it lets a value locked while messages were lost be
        // re-proposed.
        let better = self
            .votes
            .iter()
            .rev()
            .filter(|((r, k), _)| *k == VoteKind::Prevote && *r <= round && self.valid.is_none_or(|(vr, _)| *r > vr))
            .find_map(|((r, _), rv)| {
                rv.power.iter().find_map(|(b, p)| match b {
                    Some(b) if *p >= self.quorum && self.validity_of(b) == Some(Validity::Valid) => Some((*r, *b)),
                    _ => None,
                })
            });
        if let Some(better) = better {
            self.valid = Some(better);
            return true;
        }
        // Rule L44: a quorum of nil prevotes; precommit nil.
        if self.step == Step::Prevote && self.prevotes(round, &None) >= self.quorum {
            self.cast(VoteKind::Precommit, None, out);
            self.enter_step(Step::Precommit, out);
            return true;
        }
        false
    }

    /// Rule L49 (decide): a quorum of precommits for a block in any round of this height, or a
    /// verified certificate from a peer (rule C1), and the node found the block valid.
    fn try_commit(&mut self, out: &mut Vec<Effect>) -> bool {
        let mut candidates: Vec<(Hash, Option<u32>)> = Vec::new();
        for ((round, kind), rv) in &self.votes {
            if *kind != VoteKind::Precommit {
                continue;
            }
            for (b, p) in &rv.power {
                if let (Some(b), true) = (b, *p >= self.quorum) {
                    candidates.push((*b, Some(*round)));
                }
            }
        }
        if let Some((_, cert)) = self.sync_certs.get(&self.height) {
            candidates.push((cert.block_hash, None));
        }
        for (hash, round) in candidates {
            match (self.blocks.get(&hash), self.validity_of(&hash)) {
                (Some(_), Some(Validity::Valid)) => {
                    let block = self.blocks.remove(&hash).expect("present");
                    let cert = match round {
                        Some(r) => {
                            let rv = &self.votes[&(r, VoteKind::Precommit)];
                            let vs: Vec<SignedVote> = rv.for_value(&Some(hash)).cloned().collect();
                            CommitCertificate::from_votes(self.height, r, hash, &vs)
                        }
                        None => self.sync_certs.remove(&self.height).expect("present").1,
                    };
                    self.commit(block, cert, out);
                    return true;
                }
                (Some(_), _) => {}
                // A quorum decided a block we never received: fetch it (rule C1).
                (None, _) => self.note_ahead(),
            }
        }
        false
    }

    fn commit(&mut self, block: Block, cert: CommitCertificate, out: &mut Vec<Effect>) {
        out.push(Effect::Commit { block, cert });
        self.stats.commits += 1;
        self.height += 1;
        self.round = 0;
        self.step = Step::Propose;
        self.locked = None;
        self.valid = None;
        self.l36_done = false;
        self.awaiting_block = None;
        self.proposals.clear();
        self.double_proposals.clear();
        self.blocks.clear();
        self.validity.clear();
        self.votes.clear();
        self.enter_set();
        self.own_votes.clear();
        self.own_proposals.clear();
        self.ahead_since = None;
        self.last_fetch = None;
        let h = self.height;
        self.sync_certs = std::mem::take(&mut self.sync_certs).into_iter().filter(|(k, _)| *k >= h).collect();
        // A certificate kept unverified (its set was unknown when it arrived) is checked now,
        // once, against the set in force at its height (verifying a verified one again is cheap).
        if self.sync_certs.get(&h).is_some_and(|(_, c)| c.verify_in(&self.cfg.spec.chain_id, &self.set).is_err()) {
            self.sync_certs.remove(&h);
            self.stats.rejected += 1;
        }
        if let Some((block, _)) = self.sync_certs.get(&h) {
            let block = block.clone();
            self.want_validity(block.hash(), block, out);
        }
        if self.sync_certs.keys().any(|k| *k > h) {
            self.note_ahead();
        }
        self.start_round(0, out);
        // Messages buffered for this height were verified when they arrived.
        for (from, msg) in std::mem::take(&mut self.future) {
            self.queue.push_back((from, msg, true));
        }
    }
}
