//! # curia-transparency
//!
//! The text formats of Curia's transparency log and the rules of its witnesses, following the
//! C2SP specifications (see `docs/transparency.md` for the formats as implemented):
//!
//! - [`note`]: signed notes (c2sp.org/signed-note): note text, signature lines with 4-byte key
//!   IDs, Ed25519 signer and verifier keys (`name+hash+base64` vkeys, Go's `PRIVATE+KEY+...`
//!   signer keys), and opening a note against a set of trusted keys;
//! - [`checkpoint`]: checkpoints (c2sp.org/tlog-checkpoint): origin, tree size, root hash;
//! - [`cosignature`]: timestamped Ed25519 cosignatures (c2sp.org/tlog-cosignature,
//!   `cosignature/v1`, signature type `0x04`);
//! - [`witness`]: the decisions of a witness (c2sp.org/tlog-witness `add-checkpoint`): request
//!   parsing, the 400/403/404/409/422 answers, and what to persist before cosigning.
//!
//! Pure like `curia-ledger`: no I/O, async, clock or randomness (the caller passes the time and
//! the keys), so the offline verifier can use it. Every rejection is a specific [`Error`].

pub mod checkpoint;
pub mod cosignature;
pub mod note;
pub mod witness;

/// Everything that can be wrong with a note, key, checkpoint, cosignature or witness request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A note is larger than [`note::MAX_NOTE_BYTES`].
    #[error("note is too large: {len} bytes > limit {max}")]
    NoteTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A note is not valid UTF-8.
    #[error("note is not valid UTF-8 (at byte {offset})")]
    NoteNotUtf8 {
        /// Where the invalid sequence starts.
        offset: usize,
    },
    /// A note holds an ASCII control character other than newline.
    #[error("note holds control character 0x{byte:02x} at byte {offset}")]
    NoteControlChar {
        /// The character.
        byte: u8,
        /// Where.
        offset: usize,
    },
    /// A note has no blank line separating its text from its signatures.
    #[error("note has no blank line before its signatures")]
    NoteNoSeparator,
    /// A note has a blank line but no signature lines after it, or its last line lacks a newline.
    #[error("note's signature block {0}")]
    NoteSignatureBlock(&'static str),
    /// A note carries more signature lines than [`note::MAX_SIGNATURES`].
    #[error("note has more than {max} signature lines")]
    NoteTooManySignatures {
        /// The limit.
        max: usize,
    },
    /// A note's text (to be signed) is malformed.
    #[error("note text {0}")]
    NoteText(&'static str),
    /// A signature line is malformed.
    #[error("signature line {line}: {reason}")]
    SignatureLine {
        /// 1-based line number within the signature block.
        line: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A key name is empty or holds a space or a plus sign.
    #[error("invalid key name {0:?}: must be non-empty, without spaces or '+'")]
    KeyName(String),
    /// A verifier key (`name+hash+base64`) is malformed.
    #[error("invalid verifier key: {0}")]
    VerifierKey(&'static str),
    /// A signer key (`PRIVATE+KEY+name+hash+base64`) is malformed.
    #[error("invalid signer key: {0}")]
    SignerKey(&'static str),
    /// Two trusted keys share a name and key ID, so a signature cannot be attributed.
    #[error("ambiguous key {name}+{id:08x}")]
    AmbiguousKey {
        /// The key name.
        name: String,
        /// The key ID.
        id: u32,
    },
    /// A signature by a trusted key does not verify.
    #[error("invalid signature for key {name}+{id:08x}")]
    InvalidSignature {
        /// The key name.
        name: String,
        /// The key ID.
        id: u32,
    },
    /// No signature by a trusted key is present.
    #[error("note has no verifiable signatures")]
    NoVerifiedSignature,
    /// Fewer distinct trusted keys signed than the quorum requires.
    #[error("{have} of the log's trusted keys signed, {need} required")]
    QuorumNotMet {
        /// Distinct trusted keys whose signatures verified.
        have: usize,
        /// Required.
        need: usize,
    },
    /// A checkpoint's text is malformed.
    #[error("checkpoint line {line}: {reason}")]
    Checkpoint {
        /// 1-based line number in the note text.
        line: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A cosignature is malformed (wrong length, timestamp out of range).
    #[error("cosignature: {0}")]
    Cosignature(&'static str),
    /// An `add-checkpoint` request body is malformed.
    #[error("add-checkpoint request line {line}: {reason}")]
    Request {
        /// 1-based line number in the body.
        line: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A Merkle proof or tree does not verify (from `curia_ledger::merkle`).
    #[error("{0}")]
    Proof(String),
    /// A witness or log configuration is invalid.
    #[error("configuration: {0}")]
    Config(String),
}

/// Result with this crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
