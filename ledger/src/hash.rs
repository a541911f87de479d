//! SHA-256 digests and domain separation.
//!
//! Rules:
//! - Every hashed kind has its own tag. A tagged hash is
//!   `SHA-256(len(tag) as one byte || tag || data)`; tags are ASCII and at least 8 bytes long.
//! - RFC 6962 Merkle hashing (see [`crate::merkle`]) uses the single prefix bytes `0x00` (leaf)
//!   and `0x01` (node). Because every tag is at least 8 bytes, the first byte of a tagged
//!   preimage is at least 8, so no tagged preimage can equal a Merkle preimage, and two tagged
//!   preimages with different tags differ in their first `1 + len(tag)` bytes.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::LedgerError;

/// Tag of a transaction ID: the hash of the chain ID and the signed body of a transaction.
pub const TAG_TX: &str = "curia/v1/tx";
/// Tag of a block hash: the hash of a canonical block header.
pub const TAG_HEADER: &str = "curia/v1/header";
/// Tag of a vote's signing hash.
pub const TAG_VOTE: &str = "curia/v1/vote";
/// Tag of a commit certificate carried in the next block.
pub const TAG_CERT: &str = "curia/v1/cert";
/// Tag of the chain ID: the hash of the canonical genesis.
pub const TAG_GENESIS: &str = "curia/v1/genesis";
/// Tag of the validator-set hash carried in every header.
pub const TAG_VALIDATORS: &str = "curia/v1/validators";
/// Tag of the state root chain.
pub const TAG_STATE: &str = "curia/v1/state";
/// Tag of the hash of one block's state changes.
pub const TAG_STATE_DELTA: &str = "curia/v1/state-delta";
/// Tag of a batch item's deposit ID.
pub const TAG_BATCH_ITEM: &str = "curia/v1/batch-item";
/// Tag of a salted evidence commitment.
pub const TAG_SALTED: &str = "curia/v1/salted";
/// Tag of a court's approval of a registry update.
pub const TAG_REGISTRY: &str = "curia/v1/registry";
/// Tag of a validator's approval of a membership change.
pub const TAG_MEMBERSHIP: &str = "curia/v1/membership";
/// Tag of an offence's record key (misbehaviour evidence).
pub const TAG_EVIDENCE: &str = "curia/v1/evidence";

/// A SHA-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The all-zero hash, used as the previous hash of height 1 and the initial state root.
    pub const ZERO: Hash = Hash([0u8; 32]);

    /// Plain SHA-256 of `data` (the digest of a piece of evidence).
    pub fn sha256(data: &[u8]) -> Hash {
        Hash(Sha256::digest(data).into())
    }

    /// Domain-separated SHA-256: `SHA-256(len(tag) || tag || parts...)`.
    pub fn tagged(tag: &str, parts: &[&[u8]]) -> Hash {
        debug_assert!(tag.len() >= 8 && tag.len() < 256);
        let mut h = Sha256::new();
        h.update([tag.len() as u8]);
        h.update(tag.as_bytes());
        for p in parts {
            h.update(p);
        }
        Hash(h.finalize().into())
    }

    /// [`Hash::tagged`] fed piecewise: a hasher already holding the tag, to which the parts are
    /// given in order (`Hash(h.finalize().into())` then is `Hash::tagged(tag, parts)`).
    pub(crate) fn tagged_hasher(tag: &str) -> Sha256 {
        debug_assert!(tag.len() >= 8 && tag.len() < 256);
        let mut h = Sha256::new();
        h.update([tag.len() as u8]);
        h.update(tag.as_bytes());
        h
    }

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parse 64 hex digits.
    pub fn from_hex(s: &str) -> Result<Hash, LedgerError> {
        Ok(Hash(parse_hex_array(s, "hash")?))
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Parse exactly `N` bytes of hex, naming `what` in the error.
pub(crate) fn parse_hex_array<const N: usize>(s: &str, what: &'static str) -> Result<[u8; N], LedgerError> {
    let bytes = hex::decode(s).map_err(|e| LedgerError::Hex { what, reason: e.to_string() })?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| LedgerError::Hex { what, reason: format!("expected {N} bytes, got {}", b.len()) })
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", &self.to_hex()[..16])
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for Hash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Hash::from_hex(&s).map_err(serde::de::Error::custom)
    }
}
