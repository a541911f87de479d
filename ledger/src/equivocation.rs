//! Evidence of equivocation: two different signed votes by one validator for the same height,
//! round and vote kind (a "double vote").
//!
//! Rules (described for operators in `docs/api.md`, "Evidence of misbehaviour"):
//! - An [`Equivocation`] holds the two signed votes in full, so it proves itself: anyone holding
//!   the validator set in force at the votes' height (`Membership::set_at`: the genesis set, or
//!   the set the membership history leads to) can check both signatures against the validator's
//!   key ([`Equivocation::check_in`]), without trusting the node that recorded it. The validator
//!   index is an index into that set, as in the votes themselves.
//! - The two votes must agree on chain, validator, height, round and kind, and differ in the
//!   block they vote for (nil counts as a value). Two votes for the same block with different
//!   clocks are not equivocation: they count once, for one value.
//! - The pair is kept in a canonical order (nil first, then by block hash), so the same two
//!   votes always make the same record, whichever arrived first.
//! - The canonical encoding is `signed vote || signed vote` (receipt format 5.2).

use serde::{Deserialize, Serialize};

use crate::block::{SignedVote, VoteKind};
use crate::codec::{Canonical, Reader, Writer};
use crate::crypto::PublicKey;
use crate::genesis::ChainSpec;
use crate::hash::Hash;
use crate::membership::{Membership, ValidatorSet};
use crate::{LedgerError, Result};

/// Two conflicting signed votes by one validator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Equivocation {
    /// The vote for the lesser value (nil, or the smaller block hash).
    pub a: SignedVote,
    /// The vote for the greater value.
    pub b: SignedVote,
}

fn bad(reason: impl Into<String>) -> LedgerError {
    LedgerError::Invalid { what: "equivocation", reason: reason.into() }
}

impl Equivocation {
    /// The pair `x`, `y` in canonical order, if it has the shape of an equivocation (same chain,
    /// validator, height, round and kind; different values). Signatures are not checked here.
    pub fn new(x: SignedVote, y: SignedVote) -> Result<Equivocation> {
        let (p, q) = (&x.vote, &y.vote);
        if p.chain_id != q.chain_id || p.validator != q.validator {
            return Err(bad("the votes are by different validators or for different chains"));
        }
        if (p.height, p.round, p.kind) != (q.height, q.round, q.kind) {
            return Err(bad("the votes are for different heights, rounds or kinds"));
        }
        if p.block == q.block {
            return Err(bad("the votes are for the same value"));
        }
        Ok(if p.block < q.block { Equivocation { a: x, b: y } } else { Equivocation { a: y, b: x } })
    }

    /// The validator's index in the set in force at the votes' height.
    pub fn validator(&self) -> u16 {
        self.a.vote.validator
    }

    /// The votes' height.
    pub fn height(&self) -> u64 {
        self.a.vote.height
    }

    /// Check the evidence against the genesis set only ([`Equivocation::check_in`] with the
    /// genesis set): right for heights before the first membership change.
    pub fn check(&self, spec: &ChainSpec) -> Result<PublicKey> {
        self.check_in(&spec.chain_id, &spec.validator_set)
    }

    /// Check the evidence against `set`, the validator set in force at the votes' height on
    /// chain `chain_id`: a well-formed pair in canonical order for this chain, by a validator of
    /// `set`, both signatures valid for that validator's key. Returns the validator's key.
    pub fn check_in(&self, chain_id: &Hash, set: &ValidatorSet) -> Result<PublicKey> {
        let again = Equivocation::new(self.a.clone(), self.b.clone())?;
        if again != *self {
            return Err(bad("the votes are not in canonical order (nil first, then by block hash)"));
        }
        self.a.verify_in(chain_id, set)?;
        self.b.verify_in(chain_id, set)?;
        Ok(set.validators[self.validator() as usize].key)
    }

    /// Check the evidence against the set `membership` says is in force at the votes' height.
    pub fn check_at(&self, chain_id: &Hash, membership: &Membership) -> Result<PublicKey> {
        self.check_in(chain_id, membership.set_at(self.height()))
    }
}

impl Canonical for Equivocation {
    const WHAT: &'static str = "equivocation";
    fn encode(&self, w: &mut Writer) {
        self.a.encode(w);
        self.b.encode(w);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let (a, b) = (SignedVote::decode(r)?, SignedVote::decode(r)?);
        Ok(Equivocation { a, b })
    }
}

/// One vote of an [`EquivocationJson`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoteJson {
    /// The block voted for, or `null` for nil.
    pub block: Option<Hash>,
    /// The signer's clock in the vote.
    pub time_ms: u64,
    /// The canonical signed vote (receipt format 5.2: vote || signature), hex: what is checked.
    pub signed_vote: String,
}

/// The JSON form of an [`Equivocation`] (`GET /v1/evidence`, `curia evidence verify`): a
/// readable summary, and the two signed votes in canonical hex. Only the hex is trusted when
/// checking; the summary must agree with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EquivocationJson {
    /// `"double_vote"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Chain ID.
    pub chain_id: Hash,
    /// Validator index in the set in force at `height`.
    pub validator: u16,
    /// The validator's key (in that set).
    pub validator_key: PublicKey,
    /// Height.
    pub height: u64,
    /// Round.
    pub round: u32,
    /// `prevote` or `precommit`.
    pub vote_kind: String,
    /// The two votes, in canonical order.
    pub votes: [VoteJson; 2],
}

/// The `type` of an [`EquivocationJson`].
pub const DOUBLE_VOTE: &str = "double_vote";

fn kind_name(k: VoteKind) -> &'static str {
    match k {
        VoteKind::Prevote => "prevote",
        VoteKind::Precommit => "precommit",
    }
}

impl EquivocationJson {
    /// The JSON form of `e`, checked against the genesis set of `spec` only
    /// ([`EquivocationJson::from_evidence_at`] for a chain whose set changed).
    pub fn from_evidence(e: &Equivocation, spec: &ChainSpec) -> Result<EquivocationJson> {
        EquivocationJson::from_evidence_at(e, &spec.chain_id, &Membership::new(spec.validator_set.clone()))
    }

    /// The JSON form of `e`, checked first against the set `membership` says is in force at its
    /// height ([`Equivocation::check_at`]).
    pub fn from_evidence_at(e: &Equivocation, chain_id: &Hash, membership: &Membership) -> Result<EquivocationJson> {
        let key = e.check_at(chain_id, membership)?;
        let v = |s: &SignedVote| VoteJson {
            block: s.vote.block,
            time_ms: s.vote.time_ms,
            signed_vote: hex::encode(s.to_bytes()),
        };
        Ok(EquivocationJson {
            kind: DOUBLE_VOTE.into(),
            chain_id: e.a.vote.chain_id,
            validator: e.validator(),
            validator_key: key,
            height: e.a.vote.height,
            round: e.a.vote.round,
            vote_kind: kind_name(e.a.vote.kind).into(),
            votes: [v(&e.a), v(&e.b)],
        })
    }

    /// [`EquivocationJson::check_at`] against the genesis set of `spec` only.
    pub fn check(&self, spec: &ChainSpec) -> Result<Equivocation> {
        self.check_at(&spec.chain_id, &Membership::new(spec.validator_set.clone()))
    }

    /// Decode the two signed votes, check the evidence against the set `membership` says is in
    /// force at their height ([`Equivocation::check_at`]) and that the summary fields say what
    /// the votes say.
    pub fn check_at(&self, chain_id: &Hash, membership: &Membership) -> Result<Equivocation> {
        if self.kind != DOUBLE_VOTE {
            return Err(bad(format!("type is {:?}, expected {DOUBLE_VOTE:?}", self.kind)));
        }
        let decode = |j: &VoteJson| -> Result<SignedVote> {
            let bytes = hex::decode(&j.signed_vote)
                .map_err(|e| LedgerError::Hex { what: "signed_vote", reason: e.to_string() })?;
            SignedVote::from_bytes(&bytes)
        };
        let e = Equivocation { a: decode(&self.votes[0])?, b: decode(&self.votes[1])? };
        let again = EquivocationJson::from_evidence_at(&e, chain_id, membership)?;
        if again != *self {
            return Err(bad("the summary fields do not match the signed votes"));
        }
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::Vote;
    use crate::testkit::{test_genesis, test_key};

    fn vote(spec: &ChainSpec, who: u16, block: Option<Hash>, key: &str) -> SignedVote {
        Vote {
            chain_id: spec.chain_id,
            height: 5,
            round: 1,
            kind: VoteKind::Prevote,
            block,
            time_ms: 7,
            validator: who,
        }
        .sign(&test_key(key))
    }

    #[test]
    fn a_double_vote_checks_and_forgeries_do_not() {
        let spec = test_genesis(4).into_spec().unwrap();
        let (x, y) = (vote(&spec, 1, Some(Hash::sha256(b"x")), "v1"), vote(&spec, 1, None, "v1"));
        let e = Equivocation::new(x.clone(), y.clone()).unwrap();
        assert_eq!(e, Equivocation::new(y.clone(), x.clone()).unwrap(), "order does not matter");
        assert_eq!(e.a.vote.block, None);
        assert_eq!(e.check(&spec).unwrap(), spec.genesis.validators[1].key);
        assert_eq!(Equivocation::from_bytes(&e.to_bytes()).unwrap(), e);
        let j = EquivocationJson::from_evidence(&e, &spec).unwrap();
        let text = serde_json::to_string(&j).unwrap();
        let back: EquivocationJson = serde_json::from_str(&text).unwrap();
        assert_eq!(back.check(&spec).unwrap(), e);

        // Same value twice, different heights, different validators: not equivocation.
        assert!(Equivocation::new(x.clone(), x.clone()).is_err());
        let mut other = y.clone();
        other.vote.height = 6;
        assert!(Equivocation::new(x.clone(), other).is_err());
        assert!(Equivocation::new(x.clone(), vote(&spec, 2, None, "v2")).is_err());
        // A vote signed by another key than the validator's: the evidence does not check.
        let forged = Equivocation::new(x.clone(), vote(&spec, 1, None, "v2")).unwrap();
        assert!(forged.check(&spec).is_err());
        // Out of canonical order.
        let swapped = Equivocation { a: e.b.clone(), b: e.a.clone() };
        assert!(swapped.check(&spec).is_err());
        // A summary that lies about the votes.
        let mut lie = j.clone();
        lie.height = 9;
        assert!(lie.check(&spec).is_err());
        let mut lie = j;
        lie.validator = 2;
        assert!(lie.check(&spec).is_err());
    }

    /// The set in force at the votes' height decides: a validator added after genesis is
    /// checkable, and after a key rotation the new key signs for the index, not the old one.
    #[test]
    fn a_double_vote_is_checked_against_the_set_in_force() {
        use crate::genesis::{Validator, ValidatorRole};
        use crate::membership::{MemberChange, MemberEntry};
        let spec = test_genesis(4).into_spec().unwrap();
        let mut m = Membership::new(spec.validator_set.clone());
        let joiner = Validator {
            name: "court-e".into(),
            role: ValidatorRole::Court,
            key: test_key("v4").public(),
            power: 1,
            address: "/ip4/127.0.0.1/tcp/1".into(),
        };
        // Committed at 1 and 2: in force from 3 and 4; the votes are at height 5.
        m.push(MemberEntry { height: 1, change: MemberChange::Add { validator: joiner } }, &|_| Ok(false)).unwrap();
        let rotate = MemberChange::Rotate { old: test_key("v1").public(), new: test_key("v1-new").public() };
        m.push(MemberEntry { height: 2, change: rotate }, &|_| Ok(false)).unwrap();

        let joined =
            Equivocation::new(vote(&spec, 4, Some(Hash::sha256(b"x")), "v4"), vote(&spec, 4, None, "v4")).unwrap();
        assert!(joined.check(&spec).is_err(), "index 4 is not in the genesis set");
        assert_eq!(joined.check_at(&spec.chain_id, &m).unwrap(), test_key("v4").public());
        let j = EquivocationJson::from_evidence_at(&joined, &spec.chain_id, &m).unwrap();
        assert_eq!((j.validator, j.validator_key), (4, test_key("v4").public()));
        assert_eq!(j.check_at(&spec.chain_id, &m).unwrap(), joined);
        assert!(j.check(&spec).is_err());

        let new_key =
            Equivocation::new(vote(&spec, 1, Some(Hash::sha256(b"x")), "v1-new"), vote(&spec, 1, None, "v1-new"))
                .unwrap();
        assert_eq!(new_key.check_at(&spec.chain_id, &m).unwrap(), test_key("v1-new").public());
        assert!(new_key.check(&spec).is_err(), "the genesis key of index 1 did not sign these");
        // Votes signed with the retired key at a height where the new one is in force prove
        // nothing against index 1 (the genesis check alone would have accepted them).
        let old_key =
            Equivocation::new(vote(&spec, 1, Some(Hash::sha256(b"x")), "v1"), vote(&spec, 1, None, "v1")).unwrap();
        assert!(old_key.check(&spec).is_ok());
        assert!(old_key.check_at(&spec.chain_id, &m).is_err());
        // A summary naming the old key for the new key's votes is refused.
        let mut lie = EquivocationJson::from_evidence_at(&new_key, &spec.chain_id, &m).unwrap();
        lie.validator_key = test_key("v1").public();
        assert!(lie.check_at(&spec.chain_id, &m).is_err());
    }
}
