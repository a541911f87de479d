//! Consensus messages and their canonical wire encoding.
//!
//! Byte layout (see `docs/protocol.md`): a message is one tag byte followed by the fields of the
//! variant in the ledger's canonical encoding (fixed-width big-endian integers, raw hashes, keys
//! and signatures, `u32`-counted lists with limits, `0x00`/`0x01` options).
//!
//! | tag | message       | fields                                            |
//! |-----|---------------|---------------------------------------------------|
//! | 1   | `Proposal`    | signed proposal, block                            |
//! | 2   | `Vote`        | signed vote (the ledger's `SignedVote`)           |
//! | 3   | `SyncRequest` | `u64` first height wanted                         |
//! | 4   | `Commit`      | block, commit certificate                         |
//!
//! Decoding rejects unknown tags, trailing bytes and messages over [`MAX_MESSAGE_BYTES`]; it
//! never panics on any input.

use curia_ledger::block::{Block, CommitCertificate, SignedVote};
use curia_ledger::codec::{Canonical, Reader, Writer};
use curia_ledger::limits::MAX_BLOCK_BYTES;
use curia_ledger::Result as LedgerResult;

use crate::ConsensusError;

/// Largest consensus message on the wire: a largest block plus room for the certificate.
pub const MAX_MESSAGE_BYTES: usize = MAX_BLOCK_BYTES + (64 << 10);

pub use curia_ledger::proposal::{Proposal, SignedProposal, TAG_PROPOSAL};

/// A consensus message between validators.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A signed proposal with the full block.
    Proposal {
        /// The signed proposal.
        proposal: SignedProposal,
        /// The block it names.
        block: Block,
    },
    /// A prevote or precommit.
    Vote(SignedVote),
    /// Please send committed blocks with certificates from this height on.
    SyncRequest {
        /// First height wanted.
        from_height: u64,
    },
    /// A committed block with its certificate: an answer to a sync request, or an announcement.
    Commit {
        /// The block.
        block: Block,
        /// Its commit certificate.
        cert: CommitCertificate,
    },
}

impl Message {
    /// Canonical bytes for the wire.
    pub fn to_wire(&self) -> Vec<u8> {
        self.to_bytes()
    }
    /// Decode bytes from the wire, refusing oversized input. Never panics.
    pub fn from_wire(bytes: &[u8]) -> Result<Message, ConsensusError> {
        if bytes.len() > MAX_MESSAGE_BYTES {
            return Err(ConsensusError::MessageTooLarge { len: bytes.len(), max: MAX_MESSAGE_BYTES });
        }
        Message::from_bytes(bytes).map_err(ConsensusError::Decode)
    }
    /// Height the message is about.
    pub fn height(&self) -> u64 {
        match self {
            Message::Proposal { proposal, .. } => proposal.proposal.height,
            Message::Vote(v) => v.vote.height,
            Message::SyncRequest { from_height } => *from_height,
            Message::Commit { cert, .. } => cert.height,
        }
    }
    /// A short description for traces and logs.
    pub fn summary(&self) -> String {
        match self {
            Message::Proposal { proposal: p, .. } => {
                let q = &p.proposal;
                format!("proposal h{} r{} pol{:?} {:?} by {}", q.height, q.round, q.pol_round, q.block_hash, q.proposer)
            }
            Message::Vote(v) => {
                let q = &v.vote;
                format!("{:?} h{} r{} {:?} by {}", q.kind, q.height, q.round, q.block, q.validator)
            }
            Message::SyncRequest { from_height } => format!("sync-request from h{from_height}"),
            Message::Commit { cert, .. } => format!("commit h{} r{} {:?}", cert.height, cert.round, cert.block_hash),
        }
    }
}

impl Canonical for Message {
    const WHAT: &'static str = "consensus message";
    fn encode(&self, w: &mut Writer) {
        match self {
            Message::Proposal { proposal, block } => {
                w.u8(1);
                proposal.encode(w);
                block.encode(w);
            }
            Message::Vote(v) => {
                w.u8(2);
                v.encode(w);
            }
            Message::SyncRequest { from_height } => {
                w.u8(3);
                w.u64(*from_height);
            }
            Message::Commit { block, cert } => {
                w.u8(4);
                block.encode(w);
                cert.encode(w);
            }
        }
    }
    fn decode(r: &mut Reader<'_>) -> LedgerResult<Self> {
        Ok(match r.u8()? {
            1 => Message::Proposal { proposal: SignedProposal::decode(r)?, block: Block::decode(r)? },
            2 => Message::Vote(SignedVote::decode(r)?),
            3 => Message::SyncRequest { from_height: r.u64()? },
            4 => Message::Commit { block: Block::decode(r)?, cert: CommitCertificate::decode(r)? },
            t => return Err(r.bad_tag("consensus message", t)),
        })
    }
}

/// Most proposals in a persisted proposal list (only those above the committed height are kept,
/// at most one per round).
pub const MAX_PERSISTED_PROPOSALS: usize = 1024;

/// Encode the list of this validator's signed proposals for the store (a `u32`-counted list of
/// canonical signed proposals).
pub fn encode_proposals(proposals: &[SignedProposal]) -> Vec<u8> {
    let mut w = Writer::new();
    w.list(proposals, |w, p| p.encode(w));
    w.into_bytes()
}

/// Decode what [`encode_proposals`] wrote; refuses trailing bytes and over-long lists.
pub fn decode_proposals(blob: &[u8]) -> LedgerResult<Vec<SignedProposal>> {
    let mut r = Reader::new(blob, "persisted proposals");
    let v = r.list("proposals", MAX_PERSISTED_PROPOSALS, SignedProposal::decode)?;
    r.finish()?;
    Ok(v)
}
