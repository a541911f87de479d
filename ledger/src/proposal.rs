//! Block proposals: what a proposer signs for `(height, round)`.
//!
//! Rules (`docs/protocol.md`, "Messages"; bytes in `docs/receipt-format.md` 5.2.1):
//! - A proposal names the chain, height, round, proof-of-lock round (or none) and block hash,
//!   and the proposer's index in the validator set in force at that height.
//! - The proposer signs `tagged("curia/v1/proposal", canonical proposal)`.
//! - It lives in the ledger (not in `consensus`) because two conflicting signed proposals are
//!   evidence of misbehaviour that the state transition checks ([`crate::evidence`]).

use crate::codec::{Canonical, Reader, Writer};
use crate::crypto::{SecretKey, Signature};
use crate::genesis::ChainSpec;
use crate::membership::ValidatorSet;
use crate::{Hash, LedgerError, Result as LedgerResult};

/// Domain-separation tag of a proposal's signing hash.
pub const TAG_PROPOSAL: &str = "curia/v1/proposal";

/// A proposal (unsigned part): the proposer of `(height, round)` proposes the block `block_hash`,
/// re-proposing a value that had a quorum of prevotes in `pol_round` if that is set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// Chain ID.
    pub chain_id: Hash,
    /// Height.
    pub height: u64,
    /// Round.
    pub round: u32,
    /// Proof-of-lock round: the round in which this block had a quorum of prevotes (Tendermint's
    /// `validRound`), or `None` (Tendermint's -1) for a fresh block.
    pub pol_round: Option<u32>,
    /// Hash of the proposed block.
    pub block_hash: Hash,
    /// Proposer's validator index.
    pub proposer: u16,
}

impl Proposal {
    /// What is signed: `tagged("curia/v1/proposal", canonical proposal)`.
    pub fn signing_hash(&self) -> Hash {
        Hash::tagged(TAG_PROPOSAL, &[&self.to_bytes()])
    }
    /// Sign.
    pub fn sign(self, key: &SecretKey) -> SignedProposal {
        let signature = key.sign(&self.signing_hash());
        SignedProposal { proposal: self, signature }
    }
}

impl Canonical for Proposal {
    const WHAT: &'static str = "proposal";
    fn encode(&self, w: &mut Writer) {
        self.chain_id.encode(w);
        w.u64(self.height);
        w.u32(self.round);
        w.option(&self.pol_round, |w, r| w.u32(*r));
        self.block_hash.encode(w);
        w.u16(self.proposer);
    }
    fn decode(r: &mut Reader<'_>) -> LedgerResult<Self> {
        Ok(Proposal {
            chain_id: Hash::decode(r)?,
            height: r.u64()?,
            round: r.u32()?,
            pol_round: r.option(|r| r.u32())?,
            block_hash: Hash::decode(r)?,
            proposer: r.u16()?,
        })
    }
}

/// A proposal with the proposer's signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedProposal {
    /// The proposal.
    pub proposal: Proposal,
    /// Signature by the proposer over [`Proposal::signing_hash`].
    pub signature: Signature,
}

impl SignedProposal {
    /// Verify the chain, the proposer index and the signature (not who should propose).
    pub fn verify(&self, spec: &ChainSpec) -> LedgerResult<()> {
        self.verify_in(&spec.chain_id, &spec.validator_set)
    }

    /// [`SignedProposal::verify`] against `set`, the set in force at the proposal's height.
    pub fn verify_in(&self, chain_id: &Hash, set: &ValidatorSet) -> LedgerResult<()> {
        let p = &self.proposal;
        let v = set.get(p.proposer as usize).ok_or_else(|| LedgerError::Invalid {
            what: "proposal",
            reason: format!("no validator with index {}", p.proposer),
        })?;
        if p.chain_id != *chain_id {
            return Err(LedgerError::Invalid { what: "proposal", reason: "proposal is for another chain".into() });
        }
        v.key.verify("proposal", &p.signing_hash(), &self.signature)
    }
}

impl Canonical for SignedProposal {
    const WHAT: &'static str = "signed proposal";
    fn encode(&self, w: &mut Writer) {
        self.proposal.encode(w);
        self.signature.encode(w);
    }
    fn decode(r: &mut Reader<'_>) -> LedgerResult<Self> {
        Ok(SignedProposal { proposal: Proposal::decode(r)?, signature: Signature::decode(r)? })
    }
}
