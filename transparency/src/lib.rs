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
//! - [`rfc3161`]: RFC 3161 time-stamp requests and the offline verification of a TSA's token
//!   over a checkpoint's text, against the TSA certificate a judge supplies;
//! - [`policy`]: C2SP tlog-policy files (logs, witnesses, k-of-n groups, quorum) and the check
//!   that a checkpoint carries the quorum of valid `cosignature/v1` lines;
//! - [`upgrade`]: upgraded receipts: the `log` member (a C2SP tlog-proof to a cosigned
//!   checkpoint, an optional RFC 3161 token) and its verification under a policy;
//! - [`misbehaviour`]: proofs of a split view: two signed checkpoints of one log that no
//!   append-only log can both hold, and who signed or cosigned both;
//! - [`validators`]: checkpoints of a Curia chain's deposit log signed by its validators (origin,
//!   `height <H>` line, key names, more than two thirds of the power in force);
//! - [`witness`]: the decisions of a witness (c2sp.org/tlog-witness `add-checkpoint`): request
//!   parsing, the 400/403/404/409/422 answers, and what to persist before cosigning.
//!
//! Pure like `curia-ledger`: no I/O, async, clock or randomness (the caller passes the time and
//! the keys), so the offline verifier can use it. Every rejection is a specific [`Error`].

pub mod checkpoint;
pub mod cosignature;
pub mod misbehaviour;
pub mod note;
pub mod policy;
pub mod rfc3161;
pub mod upgrade;
pub mod validators;
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
    /// A time stamp or TSA certificate is larger than the limit.
    #[error("{what} is too large: {len} bytes > limit {max}")]
    TsaTooLarge {
        /// What.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A time-stamp structure or the TSA certificate is not valid DER of its ASN.1 type.
    #[error("{what} is malformed: {reason}")]
    TsaDer {
        /// Which structure.
        what: &'static str,
        /// The decoder's message.
        reason: String,
    },
    /// The TSA refused: the response's status is neither granted (0) nor grantedWithMods (1).
    #[error("the TSA did not grant the time stamp: status {status} {text:?}")]
    TsaStatus {
        /// PKIStatus (`u64::MAX` if out of range).
        status: u64,
        /// The status strings, joined.
        text: String,
    },
    /// A granted response carries no token.
    #[error("the TSA's response carries no time-stamp token")]
    TsaNoToken,
    /// The token's CMS structure is not that of a time-stamp token.
    #[error("time-stamp token: {0}")]
    TsaStructure(&'static str),
    /// The token has other than one signer.
    #[error("time-stamp token has {0} signers, exactly 1 required")]
    TsaSignerCount(usize),
    /// An algorithm other than the supported ones.
    #[error("unsupported {what} algorithm {oid}")]
    TsaAlgorithm {
        /// Where.
        what: &'static str,
        /// The OID found.
        oid: String,
    },
    /// A required signed attribute is missing.
    #[error("time-stamp token lacks the {0} signed attribute")]
    TsaMissingAttribute(&'static str),
    /// A signed attribute is malformed or repeated.
    #[error("time-stamp token: {0}")]
    TsaAttribute(&'static str),
    /// The message-digest attribute is not the SHA-256 of the encapsulated TSTInfo.
    #[error("time-stamp token: message-digest attribute does not match the TSTInfo (content altered)")]
    TsaMessageDigest,
    /// The signing-certificate attribute does not name the TSA certificate.
    #[error("time-stamp token: {0}")]
    TsaCertId(&'static str),
    /// The signer identifier does not name the TSA certificate.
    #[error("time-stamp token was signed by another certificate than the TSA certificate given")]
    TsaSignerId,
    /// The signature does not verify under the TSA certificate's key.
    #[error("time-stamp token signature does not verify under the TSA certificate")]
    TsaSignature,
    /// The TSA certificate is not a time-stamping certificate (RFC 3161 section 2.3).
    #[error("{0}")]
    TsaKeyUsage(&'static str),
    /// genTime falls outside the TSA certificate's validity.
    #[error(
        "genTime {gen_time} is outside the TSA certificate's validity ({not_before} to {not_after}, Unix seconds)"
    )]
    TsaCertValidity {
        /// genTime, RFC 3339.
        gen_time: String,
        /// notBefore, Unix seconds.
        not_before: i64,
        /// notAfter, Unix seconds.
        not_after: i64,
    },
    /// The token stamps another hash than the expected one.
    #[error("time-stamp token stamps {found}, not the expected {expected} (other data)")]
    TsaImprintMismatch {
        /// The expected SHA-256, hex.
        expected: String,
        /// The stamped hash, hex.
        found: String,
    },
    /// A nonce is invalid, or the token's is not the request's.
    #[error("time-stamp nonce: {0}")]
    TsaNonce(&'static str),
    /// genTime is not a valid RFC 3161 GeneralizedTime.
    #[error("time-stamp token: {0}")]
    TsaGenTime(&'static str),
    /// A tlog-policy file is malformed.
    #[error("policy line {line}: {reason}")]
    Policy {
        /// 1-based line number (0: the file as a whole).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A checkpoint does not satisfy a policy.
    #[error("policy not satisfied: {0}")]
    PolicyNotSatisfied(String),
    /// A tlog-proof text is malformed.
    #[error("tlog-proof line {line}: {reason}")]
    LogProof {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A tlog-proof text is larger than the limit.
    #[error("tlog-proof is too large: {len} bytes > limit {max}")]
    LogProofTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A split-view proof file is malformed (`docs/receipt-format.md` 16).
    #[error("split-view proof: {0}")]
    SplitViewFormat(String),
    /// A well-formed split-view proof file does not prove misbehaviour.
    #[error("does not prove a split view: {0}")]
    NotASplitView(String),
    /// A receipt's `log` member is malformed.
    #[error("receipt log member: {0}")]
    ReceiptLog(String),
}

/// Result with this crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
