//! Blocks, votes and commit certificates.
//!
//! Rules:
//! - The block hash is `tagged("curia/v1/header", header)`.
//! - Height 1 has `prev_hash` = 32 zero bytes; height `h > 1` has the hash of block `h - 1`.
//! - Block `h > 1` carries the commit certificate of block `h - 1` (`last_commit`), and its header
//!   commits to it: `last_commit_hash = tagged("curia/v1/cert", certificate)`. Height 1 carries
//!   none and its `last_commit_hash` is 32 zero bytes. Once block `h + 1` is committed, the
//!   certificate it carries is *the* certificate of block `h` on every node, so receipts and
//!   commit times are the same whichever node serves them.
//! - `tx_root` is the RFC 6962 root over the leaf hashes of the transactions' envelopes, in
//!   block order; `tx_count` is their number.
//! - `state_root` is the state root after applying this block (see [`crate::state`]).
//! - A vote is signed over `tagged("curia/v1/vote", vote)`; the vote names the chain, height,
//!   round, kind, the block hash (or none, a nil vote), the signer's clock and its index.
//! - A commit certificate holds precommits for one block hash at one height and round, at most one
//!   per validator, sorted by validator index, whose voting power is more than two thirds of the
//!   total. The commit time is the median of the signed clocks (the lower median for an even
//!   count), so fewer than half of the signers cannot move it outside the range of the others.

use serde::{Deserialize, Serialize};

use crate::codec::{Canonical, Reader, Writer};
use crate::crypto::{PublicKey, SecretKey, Signature};
use crate::genesis::{ChainSpec, ValidatorRole};
use crate::hash::{Hash, TAG_CERT, TAG_HEADER, TAG_VOTE};
use crate::limits::*;
use crate::membership::ValidatorSet;
use crate::tx::Transaction;
use crate::{merkle, LedgerError, Result};

/// Header format version (2 added `last_commit_hash`) while the validator set has never changed.
pub const HEADER_VERSION: u16 = 2;
/// Header format version once a membership change takes effect at or before the next height:
/// version 3 adds `next_validators_hash` (see [`crate::membership`]).
pub const HEADER_VERSION_MEMBERSHIP: u16 = 3;
/// Header format version of a chain whose genesis sets `log_in_header`: every header is
/// version 4, version 3's fields (`next_validators_hash` always present) then `log_size` and
/// `log_root`, the deposit log after the block (receipt format 5.1 and 14.1).
pub const HEADER_VERSION_LOG: u16 = 4;

/// A block header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Format version (2, 3 or 4).
    pub version: u16,
    /// Chain ID (genesis hash).
    pub chain_id: Hash,
    /// Height, starting at 1.
    pub height: u64,
    /// Hash of the previous block's header (zero at height 1).
    pub prev_hash: Hash,
    /// Hash of the previous block's certificate carried in this block (zero at height 1).
    pub last_commit_hash: Hash,
    /// RFC 6962 root of the transactions' envelope leaves.
    pub tx_root: Hash,
    /// Number of transactions.
    pub tx_count: u32,
    /// State root after this block.
    pub state_root: Hash,
    /// Hash of the validator set that certifies this block (the set in force at its height).
    pub validators_hash: Hash,
    /// Versions 3 and 4: hash of the set in force at the next height. Version 2 headers (chains
    /// whose set has not changed yet) have none: the next set is the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_validators_hash: Option<Hash>,
    /// Version 4 only: number of leaves of the deposit log after this block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_size: Option<u64>,
    /// Version 4 only: RFC 6962 root of the deposit log after this block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_root: Option<Hash>,
    /// The proposer's clock when proposing, ms since the Unix epoch.
    pub time_ms: u64,
    /// The proposer's key.
    pub proposer: PublicKey,
}

impl Header {
    /// The block hash.
    pub fn hash(&self) -> Hash {
        Hash::tagged(TAG_HEADER, &[&self.to_bytes()])
    }
}

impl Canonical for Header {
    const WHAT: &'static str = "header";
    fn encode(&self, w: &mut Writer) {
        w.u16(self.version);
        self.chain_id.encode(w);
        w.u64(self.height);
        self.prev_hash.encode(w);
        self.last_commit_hash.encode(w);
        self.tx_root.encode(w);
        w.u32(self.tx_count);
        self.state_root.encode(w);
        self.validators_hash.encode(w);
        if let Some(n) = &self.next_validators_hash {
            n.encode(w);
        }
        if let Some(s) = self.log_size {
            w.u64(s);
        }
        if let Some(r) = &self.log_root {
            r.encode(w);
        }
        w.u64(self.time_ms);
        self.proposer.encode(w);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let version = r.u16()?;
        if !(HEADER_VERSION..=HEADER_VERSION_LOG).contains(&version) {
            return Err(LedgerError::UnsupportedVersion {
                what: "header",
                found: version as u64,
                supported: HEADER_VERSION_LOG as u64,
            });
        }
        let log = version == HEADER_VERSION_LOG;
        Ok(Header {
            version,
            chain_id: Hash::decode(r)?,
            height: r.u64()?,
            prev_hash: Hash::decode(r)?,
            last_commit_hash: Hash::decode(r)?,
            tx_root: Hash::decode(r)?,
            tx_count: r.u32()?,
            state_root: Hash::decode(r)?,
            validators_hash: Hash::decode(r)?,
            next_validators_hash: if version != HEADER_VERSION { Some(Hash::decode(r)?) } else { None },
            log_size: if log { Some(r.u64()?) } else { None },
            log_root: if log { Some(Hash::decode(r)?) } else { None },
            time_ms: r.u64()?,
            proposer: PublicKey::decode(r)?,
        })
    }
}

/// A block: header, the previous block's certificate and transactions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Block {
    /// The header.
    pub header: Header,
    /// The certificate of block `height - 1` (none at height 1).
    pub last_commit: Option<CommitCertificate>,
    /// The transactions, in order.
    pub txs: Vec<Transaction>,
}

/// The `last_commit_hash` a header has for `last_commit`: zero for none.
pub fn last_commit_hash(last_commit: Option<&CommitCertificate>) -> Hash {
    match last_commit {
        None => Hash::ZERO,
        Some(c) => c.hash(),
    }
}

impl Block {
    /// The block hash.
    pub fn hash(&self) -> Hash {
        self.header.hash()
    }
    /// Leaf hashes of the transactions.
    pub fn leaves(&self) -> Vec<Hash> {
        self.txs.iter().map(Transaction::leaf_hash).collect()
    }
    /// Check that the header commits to this body: `tx_root` and `tx_count` match the
    /// transactions and `last_commit_hash` the carried certificate.
    pub fn check_body(&self) -> Result<()> {
        self.check_body_root(&merkle::root(&self.leaves()))
    }
    /// [`Block::check_body`] with the root of [`Block::leaves`] already computed (`tx_root`).
    pub fn check_body_root(&self, tx_root: &Hash) -> Result<()> {
        let h = self.header.height;
        let lc = last_commit_hash(self.last_commit.as_ref());
        if lc != self.header.last_commit_hash {
            return Err(LedgerError::InvalidBlock {
                height: h,
                reason: format!("carried certificate hash {lc} does not match header {}", self.header.last_commit_hash),
            });
        }
        if self.txs.len() != self.header.tx_count as usize {
            return Err(LedgerError::InvalidBlock {
                height: h,
                reason: format!("header says {} transactions, block has {}", self.header.tx_count, self.txs.len()),
            });
        }
        let root = *tx_root;
        if root != self.header.tx_root {
            return Err(LedgerError::InvalidBlock {
                height: h,
                reason: format!("transaction root {} does not match header {}", root, self.header.tx_root),
            });
        }
        Ok(())
    }
}

impl Canonical for Block {
    const WHAT: &'static str = "block";
    fn encode(&self, w: &mut Writer) {
        self.header.encode(w);
        w.option(&self.last_commit, |w, c| c.encode(w));
        w.list(&self.txs, |w, t| t.encode(w));
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Block {
            header: Header::decode(r)?,
            last_commit: r.option(CommitCertificate::decode)?,
            txs: r.list("transactions", MAX_BLOCK_TXS as usize, Transaction::decode)?,
        })
    }
}

/// Kind of vote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VoteKind {
    /// First round of voting.
    Prevote = 1,
    /// Second round; 2f+1 precommits for a block commit it.
    Precommit = 2,
}

/// A vote (unsigned part).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Vote {
    /// Chain ID.
    pub chain_id: Hash,
    /// Height.
    pub height: u64,
    /// Round.
    pub round: u32,
    /// Kind.
    pub kind: VoteKind,
    /// Block hash, or `None` for nil.
    pub block: Option<Hash>,
    /// Signer's clock, ms since the Unix epoch.
    pub time_ms: u64,
    /// Signer's index in the validator set.
    pub validator: u16,
}

impl Vote {
    /// What is signed.
    pub fn signing_hash(&self) -> Hash {
        Hash::tagged(TAG_VOTE, &[&self.to_bytes()])
    }
    /// Sign.
    pub fn sign(self, key: &SecretKey) -> SignedVote {
        let signature = key.sign(&self.signing_hash());
        SignedVote { vote: self, signature }
    }
}

impl Canonical for Vote {
    const WHAT: &'static str = "vote";
    fn encode(&self, w: &mut Writer) {
        self.chain_id.encode(w);
        w.u64(self.height);
        w.u32(self.round);
        w.u8(self.kind as u8);
        w.option(&self.block, |w, h| h.encode(w));
        w.u64(self.time_ms);
        w.u16(self.validator);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Vote {
            chain_id: Hash::decode(r)?,
            height: r.u64()?,
            round: r.u32()?,
            kind: match r.u8()? {
                1 => VoteKind::Prevote,
                2 => VoteKind::Precommit,
                t => return Err(r.bad_tag("vote kind", t)),
            },
            block: r.option(Hash::decode)?,
            time_ms: r.u64()?,
            validator: r.u16()?,
        })
    }
}

/// A vote with its signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedVote {
    /// The vote.
    pub vote: Vote,
    /// Signature by the validator over [`Vote::signing_hash`].
    pub signature: Signature,
}

impl SignedVote {
    /// Verify against the chain's genesis validator set.
    pub fn verify(&self, spec: &ChainSpec) -> Result<()> {
        self.verify_in(&spec.chain_id, &spec.validator_set)
    }

    /// Verify against `set` (the set in force at the vote's height) on chain `chain_id`.
    pub fn verify_in(&self, chain_id: &Hash, set: &ValidatorSet) -> Result<()> {
        let v = set.get(self.vote.validator as usize).ok_or_else(|| LedgerError::Invalid {
            what: "vote",
            reason: format!("no validator with index {}", self.vote.validator),
        })?;
        if self.vote.chain_id != *chain_id {
            return Err(LedgerError::Invalid { what: "vote", reason: "vote is for another chain".into() });
        }
        v.key.verify("vote", &self.vote.signing_hash(), &self.signature)
    }
}

impl Canonical for SignedVote {
    const WHAT: &'static str = "signed vote";
    fn encode(&self, w: &mut Writer) {
        self.vote.encode(w);
        self.signature.encode(w);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        Ok(SignedVote { vote: Vote::decode(r)?, signature: Signature::decode(r)? })
    }
}

/// One validator's precommit inside a certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitSig {
    /// Validator index.
    pub validator: u16,
    /// The validator's signed clock.
    pub time_ms: u64,
    /// Signature over the precommit vote.
    pub signature: Signature,
}

/// Proof that a quorum of validators committed a block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitCertificate {
    /// Height.
    pub height: u64,
    /// Round in which the quorum precommitted.
    pub round: u32,
    /// The committed block hash.
    pub block_hash: Hash,
    /// Precommit signatures, sorted by validator index, no repeats.
    pub sigs: Vec<CommitSig>,
}

impl CommitCertificate {
    /// Build a certificate from precommit votes for one block (sorts and deduplicates).
    pub fn from_votes(height: u64, round: u32, block_hash: Hash, votes: &[SignedVote]) -> Self {
        let mut sigs: Vec<CommitSig> = votes
            .iter()
            .filter(|v| v.vote.block == Some(block_hash) && v.vote.kind == VoteKind::Precommit)
            .map(|v| CommitSig { validator: v.vote.validator, time_ms: v.vote.time_ms, signature: v.signature })
            .collect();
        sigs.sort_by_key(|s| s.validator);
        sigs.dedup_by_key(|s| s.validator);
        CommitCertificate { height, round, block_hash, sigs }
    }

    /// The hash a header's `last_commit_hash` holds: `tagged("curia/v1/cert", certificate)`.
    pub fn hash(&self) -> Hash {
        Hash::tagged(TAG_CERT, &[&self.to_bytes()])
    }

    /// The precommit vote that `sig` signed.
    pub fn vote_of(&self, chain_id: &Hash, sig: &CommitSig) -> Vote {
        Vote {
            chain_id: *chain_id,
            height: self.height,
            round: self.round,
            kind: VoteKind::Precommit,
            block: Some(self.block_hash),
            time_ms: sig.time_ms,
            validator: sig.validator,
        }
    }

    /// Verify against the genesis set: shape, signatures, and a quorum of voting power. Returns
    /// the signed power.
    pub fn verify(&self, spec: &ChainSpec) -> Result<u64> {
        self.verify_in(&spec.chain_id, &spec.validator_set)
    }

    /// Verify against `set` (the set in force at the certificate's height) on chain `chain_id`.
    pub fn verify_in(&self, chain_id: &Hash, set: &ValidatorSet) -> Result<u64> {
        let bad = |reason: String| LedgerError::InvalidCertificate { height: self.height, reason };
        let vs = &set.validators;
        let mut power = 0u64;
        let mut items = Vec::with_capacity(self.sigs.len());
        let mut prev: Option<u16> = None;
        for s in &self.sigs {
            if prev.is_some_and(|p| s.validator <= p) {
                return Err(bad(format!("signatures not sorted by validator or repeated at index {}", s.validator)));
            }
            prev = Some(s.validator);
            let v = vs
                .get(s.validator as usize)
                .ok_or_else(|| bad(format!("signature by unknown validator index {}", s.validator)))?;
            power += v.power;
            items.push((v.key, self.vote_of(chain_id, s).signing_hash(), s.signature));
        }
        if power < set.quorum_power() {
            return Err(bad(format!(
                "signed voting power {power} is not more than two thirds of {} (need {})",
                set.total_power,
                set.quorum_power()
            )));
        }
        // One by one, to name the failing signature; the rule is the same as the batch's
        // (receipt format 6.3, cofactored), so the verdict would be too. A certificate has at
        // most one signature per validator, so this costs little.
        for (key, msg, sig) in &items {
            key.verify("precommit", msg, sig).map_err(|e| bad(e.to_string()))?;
        }
        Ok(power)
    }

    /// The commit time: the lower median of the signed clocks.
    pub fn commit_time_ms(&self) -> u64 {
        let mut t: Vec<u64> = self.sigs.iter().map(|s| s.time_ms).collect();
        t.sort_unstable();
        if t.is_empty() {
            return 0;
        }
        t[(t.len() - 1) / 2]
    }

    /// The clocks signed by time-service validators of the genesis set, with their names.
    pub fn timesvc_readings(&self, spec: &ChainSpec) -> Vec<(String, u64)> {
        self.timesvc_readings_in(&spec.validator_set)
    }

    /// The clocks signed by time-service validators of `set`, with their names.
    pub fn timesvc_readings_in(&self, set: &ValidatorSet) -> Vec<(String, u64)> {
        self.sigs
            .iter()
            .filter_map(|s| {
                let v = set.get(s.validator as usize)?;
                (v.role == ValidatorRole::Timesvc).then(|| (v.name.clone(), s.time_ms))
            })
            .collect()
    }
}

impl Canonical for CommitCertificate {
    const WHAT: &'static str = "commit certificate";
    fn encode(&self, w: &mut Writer) {
        w.u64(self.height);
        w.u32(self.round);
        self.block_hash.encode(w);
        w.list(&self.sigs, |w, s| {
            w.u16(s.validator);
            w.u64(s.time_ms);
            s.signature.encode(w);
        });
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        Ok(CommitCertificate {
            height: r.u64()?,
            round: r.u32()?,
            block_hash: Hash::decode(r)?,
            sigs: r.list("certificate signatures", MAX_VALIDATORS, |r| {
                Ok(CommitSig { validator: r.u16()?, time_ms: r.u64()?, signature: Signature::decode(r)? })
            })?,
        })
    }
}
