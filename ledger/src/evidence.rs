//! Misbehaviour evidence on chain: the payload of an `evidence` transaction (payload tag 9).
//!
//! Rules (bytes in `docs/receipt-format.md` 4.1.3, protocol in `docs/protocol.md`, "Evidence"):
//! - Two offences are recognised, each proved by two messages the offender signed:
//!   a **double vote** ([`Equivocation`]: two votes for one height, round and vote kind that name
//!   different blocks, nil counting as a value) and a **double proposal** ([`DoubleProposal`]:
//!   two different proposals by one proposer for one height and round).
//! - The pair is in canonical order (votes: nil first, then by block hash; proposals: by their
//!   canonical bytes), so one pair of messages has exactly one encoding.
//! - The offender is the validator with the messages' index in the set **in force at the
//!   offence's height** (`Membership::set_at`); both signatures must verify under its key. The
//!   offence's height may not be above the height of the block that records it.
//! - One record per offence: the record key is
//!   `tagged("curia/v1/evidence", chain_id || offender key || u64 height || u32 round || u8 kind)`
//!   (kind 1 prevote, 2 precommit, 3 proposal); a second transaction for the same offence is
//!   refused (`evidence_duplicate`), whichever messages it carries.
//! - The transaction is sent by a validator of the set in force at the recording block's height,
//!   signed with its consensus key (the transaction ID is tagged `curia/v1/tx`, so that signature
//!   can never be taken for a vote or a proposal).

use serde::{Deserialize, Serialize};

use crate::block::{SignedVote, VoteKind};
use crate::codec::{Canonical, Reader, Writer};
use crate::crypto::PublicKey;
use crate::equivocation::Equivocation;
use crate::hash::{Hash, TAG_EVIDENCE};
use crate::membership::ValidatorSet;
use crate::proposal::SignedProposal;
use crate::{LedgerError, Result};

/// Two different signed proposals by one proposer for one height and round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DoubleProposal {
    /// The proposal whose canonical bytes sort first.
    pub a: SignedProposal,
    /// The other proposal.
    pub b: SignedProposal,
}

fn invalid(reason: impl Into<String>) -> LedgerError {
    LedgerError::EvidenceInvalid(reason.into())
}

impl DoubleProposal {
    /// The pair `x`, `y` in canonical order, if it has the shape of a double proposal (same chain,
    /// proposer, height and round; different proposals). Signatures are not checked here.
    pub fn new(x: SignedProposal, y: SignedProposal) -> Result<DoubleProposal> {
        let (p, q) = (&x.proposal, &y.proposal);
        if p.chain_id != q.chain_id || p.proposer != q.proposer {
            return Err(invalid("the proposals are by different proposers or for different chains"));
        }
        if (p.height, p.round) != (q.height, q.round) {
            return Err(invalid("the proposals are for different heights or rounds"));
        }
        if p == q {
            return Err(invalid("the proposals are the same"));
        }
        Ok(if p.to_bytes() < q.to_bytes() { DoubleProposal { a: x, b: y } } else { DoubleProposal { a: y, b: x } })
    }
}

/// What an offence is: the vote kind, or a proposal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OffenceKind {
    /// Two prevotes.
    Prevote = 1,
    /// Two precommits.
    Precommit = 2,
    /// Two proposals.
    Proposal = 3,
}

impl OffenceKind {
    /// The name used in JSON and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            OffenceKind::Prevote => "prevote",
            OffenceKind::Precommit => "precommit",
            OffenceKind::Proposal => "proposal",
        }
    }
    /// From its code.
    pub fn from_u8(b: u8) -> Option<OffenceKind> {
        match b {
            1 => Some(OffenceKind::Prevote),
            2 => Some(OffenceKind::Precommit),
            3 => Some(OffenceKind::Proposal),
            _ => None,
        }
    }
}

/// The proof of one offence, as carried by an `evidence` transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "MisbehaviourJson", into = "MisbehaviourJson")]
pub enum Misbehaviour {
    /// Two conflicting votes (offence tag 1).
    DoubleVote(Equivocation),
    /// Two conflicting proposals (offence tag 2).
    DoubleProposal(DoubleProposal),
}

/// Where and what an offence is: the fields of its record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offence {
    /// The offender's index in the set in force at `height`.
    pub validator: u16,
    /// Height of the messages.
    pub height: u64,
    /// Round of the messages.
    pub round: u32,
    /// Kind.
    pub kind: OffenceKind,
    /// Chain ID the messages name.
    pub chain_id: Hash,
}

impl Misbehaviour {
    /// `"double_vote"` or `"double_proposal"`.
    pub fn name(&self) -> &'static str {
        match self {
            Misbehaviour::DoubleVote(_) => "double_vote",
            Misbehaviour::DoubleProposal(_) => "double_proposal",
        }
    }

    /// Where and what the offence is (as the first message says; [`Misbehaviour::check_in`]
    /// checks that the second agrees).
    pub fn offence(&self) -> Offence {
        match self {
            Misbehaviour::DoubleVote(e) => Offence {
                validator: e.a.vote.validator,
                height: e.a.vote.height,
                round: e.a.vote.round,
                kind: match e.a.vote.kind {
                    VoteKind::Prevote => OffenceKind::Prevote,
                    VoteKind::Precommit => OffenceKind::Precommit,
                },
                chain_id: e.a.vote.chain_id,
            },
            Misbehaviour::DoubleProposal(d) => Offence {
                validator: d.a.proposal.proposer,
                height: d.a.proposal.height,
                round: d.a.proposal.round,
                kind: OffenceKind::Proposal,
                chain_id: d.a.proposal.chain_id,
            },
        }
    }

    /// The shape checks that need no keys: a conflicting pair, in canonical order, for chain
    /// `chain_id`, at a height from 1 to `max_height`.
    pub fn check_shape(&self, chain_id: &Hash, max_height: u64) -> Result<Offence> {
        let again = match self {
            Misbehaviour::DoubleVote(e) => {
                Misbehaviour::DoubleVote(Equivocation::new(e.a.clone(), e.b.clone()).map_err(|e| match e {
                    LedgerError::Invalid { reason, .. } => invalid(reason),
                    other => other,
                })?)
            }
            Misbehaviour::DoubleProposal(d) => {
                Misbehaviour::DoubleProposal(DoubleProposal::new(d.a.clone(), d.b.clone())?)
            }
        };
        if again != *self {
            return Err(invalid("the two messages are not in canonical order"));
        }
        let o = self.offence();
        if o.chain_id != *chain_id {
            return Err(invalid("the messages are for another chain"));
        }
        if o.height == 0 || o.height > max_height {
            return Err(invalid(format!(
                "the offence's height {} is not in 1..={max_height} (the recording block's height)",
                o.height
            )));
        }
        Ok(o)
    }

    /// Check the evidence in full against `set`, the validator set in force at the offence's
    /// height: [`Misbehaviour::check_shape`], an offender in `set`, and both signatures valid
    /// under its key. Returns the offence and the offender's key.
    pub fn check_in(&self, chain_id: &Hash, set: &ValidatorSet, max_height: u64) -> Result<(Offence, PublicKey)> {
        let o = self.check_shape(chain_id, max_height)?;
        let v = set.get(o.validator as usize).ok_or_else(|| {
            LedgerError::EvidenceOffenderUnknown(format!(
                "no validator with index {} in the set in force at height {}",
                o.validator, o.height
            ))
        })?;
        let bad_sig =
            |_| LedgerError::EvidenceBadSignature(format!("a message is not signed by {} ({})", v.name, v.key));
        match self {
            Misbehaviour::DoubleVote(e) => {
                for s in [&e.a, &e.b] {
                    v.key.verify("vote", &s.vote.signing_hash(), &s.signature).map_err(bad_sig)?;
                }
            }
            Misbehaviour::DoubleProposal(d) => {
                for s in [&d.a, &d.b] {
                    v.key.verify("proposal", &s.proposal.signing_hash(), &s.signature).map_err(bad_sig)?;
                }
            }
        }
        Ok((o, v.key))
    }
}

/// The key of an offence's record (module rules): one per offender, height, round and kind.
pub fn record_key(chain_id: &Hash, offender: &PublicKey, height: u64, round: u32, kind: OffenceKind) -> Hash {
    Hash::tagged(TAG_EVIDENCE, &[&chain_id.0, &offender.0, &height.to_be_bytes(), &round.to_be_bytes(), &[kind as u8]])
}

impl Misbehaviour {
    /// The canonical encoding (receipt format 4.1.3): `u8 offence tag || message a || message b`.
    pub fn encode(&self, w: &mut Writer) {
        match self {
            Misbehaviour::DoubleVote(e) => {
                w.u8(1);
                e.encode(w);
            }
            Misbehaviour::DoubleProposal(d) => {
                w.u8(2);
                d.a.encode(w);
                d.b.encode(w);
            }
        }
    }
    /// Decode the canonical encoding.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self> {
        Ok(match r.u8()? {
            1 => Misbehaviour::DoubleVote(Equivocation::decode(r)?),
            2 => Misbehaviour::DoubleProposal(DoubleProposal {
                a: SignedProposal::decode(r)?,
                b: SignedProposal::decode(r)?,
            }),
            t => return Err(r.bad_tag("offence", t)),
        })
    }
}

/// The JSON form of a [`Misbehaviour`]: `{"type": "double_vote" | "double_proposal", "a": hex,
/// "b": hex}`, each message in its canonical signed encoding (receipt format 5.2 for a vote,
/// 5.2.1 for a proposal).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MisbehaviourJson {
    /// `double_vote` or `double_proposal`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The first message, canonical hex.
    pub a: String,
    /// The second message, canonical hex.
    pub b: String,
}

impl From<Misbehaviour> for MisbehaviourJson {
    fn from(m: Misbehaviour) -> Self {
        let kind = m.name().to_string();
        let (a, b) = match &m {
            Misbehaviour::DoubleVote(e) => (e.a.to_bytes(), e.b.to_bytes()),
            Misbehaviour::DoubleProposal(d) => (d.a.to_bytes(), d.b.to_bytes()),
        };
        MisbehaviourJson { kind, a: hex::encode(a), b: hex::encode(b) }
    }
}

impl TryFrom<MisbehaviourJson> for Misbehaviour {
    type Error = LedgerError;
    fn try_from(j: MisbehaviourJson) -> Result<Self> {
        // A signed vote or proposal is under 200 bytes; refuse long hex before decoding it.
        let bytes = |what: &'static str, s: &str| -> Result<Vec<u8>> {
            if s.len() > 1024 {
                return Err(LedgerError::TooLarge { what, len: s.len() as u64, max: 1024 });
            }
            hex::decode(s).map_err(|e| LedgerError::Hex { what, reason: e.to_string() })
        };
        let (a, b) = (bytes("evidence a", &j.a)?, bytes("evidence b", &j.b)?);
        Ok(match j.kind.as_str() {
            "double_vote" => Misbehaviour::DoubleVote(Equivocation {
                a: SignedVote::from_bytes(&a)?,
                b: SignedVote::from_bytes(&b)?,
            }),
            "double_proposal" => Misbehaviour::DoubleProposal(DoubleProposal {
                a: SignedProposal::from_bytes(&a)?,
                b: SignedProposal::from_bytes(&b)?,
            }),
            other => return Err(invalid(format!("type {other:?} is neither double_vote nor double_proposal"))),
        })
    }
}
