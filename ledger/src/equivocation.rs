//! Evidence of equivocation: two different signed votes by one validator for the same height,
//! round and vote kind (a "double vote").
//!
//! Rules (described for operators in `docs/api.md`, "Evidence of misbehaviour"):
//! - An [`Equivocation`] holds the two signed votes in full, so it proves itself: anyone holding
//!   the genesis can check both signatures against the validator's key ([`Equivocation::check`]),
//!   without trusting the node that recorded it.
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

    /// The validator's index in the genesis.
    pub fn validator(&self) -> u16 {
        self.a.vote.validator
    }

    /// Check the evidence against the chain: a well-formed pair in canonical order for this
    /// chain, by a validator of its genesis, both signatures valid for that validator's key.
    /// Returns the validator's key.
    pub fn check(&self, spec: &ChainSpec) -> Result<PublicKey> {
        let again = Equivocation::new(self.a.clone(), self.b.clone())?;
        if again != *self {
            return Err(bad("the votes are not in canonical order (nil first, then by block hash)"));
        }
        self.a.verify(spec)?;
        self.b.verify(spec)?;
        Ok(spec.genesis.validators[self.validator() as usize].key)
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
    /// Validator index in the genesis.
    pub validator: u16,
    /// The validator's key.
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
    /// The JSON form of `e` (whose validator is in `spec`: check it first).
    pub fn from_evidence(e: &Equivocation, spec: &ChainSpec) -> Result<EquivocationJson> {
        let key = e.check(spec)?;
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

    /// Decode the two signed votes, check the evidence against `spec` ([`Equivocation::check`])
    /// and that the summary fields say what the votes say.
    pub fn check(&self, spec: &ChainSpec) -> Result<Equivocation> {
        if self.kind != DOUBLE_VOTE {
            return Err(bad(format!("type is {:?}, expected {DOUBLE_VOTE:?}", self.kind)));
        }
        let decode = |j: &VoteJson| -> Result<SignedVote> {
            let bytes = hex::decode(&j.signed_vote)
                .map_err(|e| LedgerError::Hex { what: "signed_vote", reason: e.to_string() })?;
            SignedVote::from_bytes(&bytes)
        };
        let e = Equivocation { a: decode(&self.votes[0])?, b: decode(&self.votes[1])? };
        let again = EquivocationJson::from_evidence(&e, spec)?;
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
}
