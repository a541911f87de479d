//! The ledger's one error type. Every variant names the thing that is wrong.
//!
//! Transaction rejections by the state transition are variants here too, so that a node can
//! report the specific reason to the sender and count rejections by [`LedgerError::code`].

use crate::hash::Hash;

/// Everything that can go wrong in the ledger: bad encodings, bad proofs, rejected transactions,
/// invalid blocks and failed verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    // ---- encoding ----
    /// Canonical bytes could not be decoded.
    #[error("cannot decode {what}: {reason}")]
    Decode {
        /// What was being decoded.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// A hex field is malformed.
    #[error("bad hex in {what}: {reason}")]
    Hex {
        /// Which field.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// A JSON document is malformed or does not match its schema.
    #[error("bad {what} JSON: {reason}")]
    Json {
        /// Which document.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// A document declares a version this code does not know.
    #[error("unsupported {what} version {found} (this build reads version {supported})")]
    UnsupportedVersion {
        /// Which document.
        what: &'static str,
        /// The version found.
        found: u64,
        /// The version supported.
        supported: u64,
    },
    /// A field exceeds its limit.
    #[error("{what} is too large: {len} > limit {max}")]
    TooLarge {
        /// Which field.
        what: &'static str,
        /// Its length.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// A field has a value that is not allowed.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// Which field.
        what: &'static str,
        /// Why.
        reason: String,
    },

    // ---- cryptography ----
    /// A public key is not a valid ed25519 point.
    #[error("invalid public key {0}")]
    BadKey(String),
    /// A signature does not verify.
    #[error("bad signature by {signer} on {what}")]
    BadSignature {
        /// What was signed.
        what: &'static str,
        /// Who was supposed to have signed (hex key or name).
        signer: String,
    },
    /// A Merkle proof is malformed or does not verify.
    #[error("Merkle proof rejected: {0}")]
    MerkleProof(String),

    // ---- transaction rejections (state transition) ----
    /// The sender's key is not a registered, active client.
    #[error("unknown sender {0}")]
    UnknownSender(String),
    /// The sender's role may not send this kind of transaction.
    #[error("role {role} may not send {kind} (allowed: {allowed})")]
    WrongRole {
        /// The sender's role.
        role: String,
        /// The transaction kind.
        kind: &'static str,
        /// The roles that may.
        allowed: &'static str,
    },
    /// The transaction is already on the chain (replay).
    #[error("duplicate transaction {0}")]
    DuplicateTx(Hash),
    /// A batch's items do not hash to the signed root.
    #[error("batch root mismatch: items hash to {computed}, body signs {signed}")]
    BatchRootMismatch {
        /// Root of the carried items.
        computed: Hash,
        /// Root in the signed body.
        signed: Hash,
    },
    /// A case ID is already in use.
    #[error("case {0} already exists")]
    CaseExists(String),
    /// No case with this ID.
    #[error("case {0} not found")]
    CaseNotFound(String),
    /// The case is closed.
    #[error("case {0} is closed")]
    CaseClosed(String),
    /// Only the judge who opened a case may write its records.
    #[error("case {case} belongs to another judge")]
    NotCaseOwner {
        /// The case.
        case: String,
    },
    /// No deposit with this ID.
    #[error("deposit {0} not found")]
    DepositNotFound(Hash),
    /// The deposit is already attached to the case.
    #[error("deposit {deposit} is already attached to case {case}")]
    AlreadyAttached {
        /// The case.
        case: String,
        /// The deposit.
        deposit: Hash,
    },
    /// A verification result names a deposit not attached to that case.
    #[error("deposit {deposit} is not attached to case {case}")]
    NotAttached {
        /// The case.
        case: String,
        /// The deposit.
        deposit: Hash,
    },
    /// A registry update lacks enough court approvals.
    #[error("registry update needs approvals of {needed} courts, has {got}")]
    NotEnoughApprovals {
        /// Courts needed.
        needed: usize,
        /// Valid distinct court approvals found.
        got: usize,
    },
    /// A registry update names a client key that exists or does not exist, as the case may be.
    #[error("registry: {0}")]
    Registry(String),

    // ---- membership ----
    /// A membership approval is signed by a key outside the set in force.
    #[error("membership approval by {0}, which is not a validator of the set in force")]
    ApprovalNotMember(String),
    /// Two approvals of one membership change by the same validator.
    #[error("repeated membership approval by {0}")]
    DuplicateApproval(String),
    /// The approvals of a membership change hold too little power.
    #[error("membership change approved by power {got}, needs more than two thirds of the set in force ({needed})")]
    NotEnoughApprovalPower {
        /// Power of the valid approvals.
        got: u64,
        /// Quorum power of the set in force.
        needed: u64,
    },
    /// A new validator key is already in the set (or is a client's key).
    #[error("key {0} is already in use")]
    ValidatorKeyInUse(String),
    /// A new validator key was used by a validator of this chain before.
    #[error("key {0} was a validator key of this chain before and cannot be used again")]
    ValidatorKeyUsedBefore(String),
    /// A membership change names a key outside the latest set.
    #[error("{0} is not a validator")]
    NotAValidator(String),
    /// A removal would leave too few validators.
    #[error("the change would leave {left} validators, fewer than {min}")]
    TooFewValidators {
        /// Validators left.
        left: usize,
        /// The least allowed.
        min: usize,
    },
    /// A removal would leave no court.
    #[error("the change would leave no court among the validators")]
    NoCourtLeft,
    /// A membership history entry (receipt format 13) was refused.
    #[error("membership history entry {index}: {code}: {reason}")]
    MembershipHistory {
        /// Index of the entry.
        index: usize,
        /// The failure's name (`history_...`).
        code: &'static str,
        /// What was found.
        reason: String,
    },
    /// A membership change's sequence number is not the next one.
    #[error("membership change number {got}, expected {expected}")]
    MembershipSeq {
        /// The next sequence number.
        expected: u64,
        /// The one in the transaction.
        got: u64,
    },

    // ---- misbehaviour evidence ----
    /// An evidence transaction's messages do not prove an offence (they do not conflict, are
    /// out of canonical order, name another chain or a height out of range).
    #[error("invalid evidence: {0}")]
    EvidenceInvalid(String),
    /// The offender's index names no validator of the set in force at the offence's height.
    #[error("evidence names an unknown offender: {0}")]
    EvidenceOffenderUnknown(String),
    /// A message of the evidence is not signed by the offender's key.
    #[error("evidence signature does not verify: {0}")]
    EvidenceBadSignature(String),
    /// This offence (offender, height, round, kind) is already recorded on the chain.
    #[error("evidence of this offence is already recorded: {0}")]
    EvidenceDuplicate(String),
    /// An evidence transaction's sender is not a validator of the set in force.
    #[error("evidence sender {0} is not a validator of the set in force")]
    EvidenceSenderNotValidator(String),

    // ---- blocks, certificates, chains ----
    /// A block or header breaks a chain rule.
    #[error("invalid block at height {height}: {reason}")]
    InvalidBlock {
        /// Height of the block.
        height: u64,
        /// The rule broken.
        reason: String,
    },
    /// A transaction inside a block is rejected.
    #[error("block {height} transaction {index} rejected: {source}")]
    TxInBlock {
        /// Height of the block.
        height: u64,
        /// Position of the transaction in the block.
        index: usize,
        /// The rejection.
        source: Box<LedgerError>,
    },
    /// A version 4 header's deposit-log fields are not the log after its block.
    #[error("invalid block at height {height}: {reason}")]
    LogCommitmentMismatch {
        /// Height of the block.
        height: u64,
        /// The sizes and roots, claimed and computed.
        reason: String,
    },
    /// A commit certificate does not verify.
    #[error("invalid commit certificate for height {height}: {reason}")]
    InvalidCertificate {
        /// Height of the certificate.
        height: u64,
        /// Why.
        reason: String,
    },
    /// The genesis document is invalid.
    #[error("invalid genesis: {0}")]
    Genesis(String),
    /// The state could not be read or written (a storage failure, not a rule of the chain):
    /// whatever was being checked has no answer.
    #[error("state storage failed: {reason}")]
    StateStorage {
        /// What failed.
        reason: String,
        /// The storage's own error code.
        code: &'static str,
    },
}

impl LedgerError {
    /// Whether this is a storage failure ([`LedgerError::StateStorage`]): no verdict on what was
    /// being checked, which must be neither accepted nor refused for it.
    pub fn is_storage(&self) -> bool {
        matches!(self, LedgerError::StateStorage { .. })
    }

    /// A short, stable, machine-readable code for this error (used in API errors and metrics).
    pub fn code(&self) -> &'static str {
        match self {
            LedgerError::Decode { .. } => "decode",
            LedgerError::Hex { .. } => "bad_hex",
            LedgerError::Json { .. } => "bad_json",
            LedgerError::UnsupportedVersion { .. } => "unsupported_version",
            LedgerError::TooLarge { .. } => "too_large",
            LedgerError::Invalid { .. } => "invalid_field",
            LedgerError::BadKey(_) => "bad_key",
            LedgerError::BadSignature { .. } => "bad_signature",
            LedgerError::MerkleProof(_) => "bad_proof",
            LedgerError::UnknownSender(_) => "unknown_sender",
            LedgerError::WrongRole { .. } => "wrong_role",
            LedgerError::DuplicateTx(_) => "duplicate",
            LedgerError::BatchRootMismatch { .. } => "batch_root_mismatch",
            LedgerError::CaseExists(_) => "case_exists",
            LedgerError::CaseNotFound(_) => "case_not_found",
            LedgerError::CaseClosed(_) => "case_closed",
            LedgerError::NotCaseOwner { .. } => "not_case_owner",
            LedgerError::DepositNotFound(_) => "deposit_not_found",
            LedgerError::AlreadyAttached { .. } => "already_attached",
            LedgerError::NotAttached { .. } => "not_attached",
            LedgerError::NotEnoughApprovals { .. } => "not_enough_approvals",
            LedgerError::Registry(_) => "registry",
            LedgerError::ApprovalNotMember(_) => "approval_not_member",
            LedgerError::DuplicateApproval(_) => "duplicate_approval",
            LedgerError::NotEnoughApprovalPower { .. } => "not_enough_approval_power",
            LedgerError::ValidatorKeyInUse(_) => "validator_key_in_use",
            LedgerError::ValidatorKeyUsedBefore(_) => "validator_key_used_before",
            LedgerError::NotAValidator(_) => "not_a_validator",
            LedgerError::TooFewValidators { .. } => "too_few_validators",
            LedgerError::NoCourtLeft => "no_court_left",
            LedgerError::MembershipSeq { .. } => "membership_seq",
            LedgerError::MembershipHistory { .. } => "membership_history",
            LedgerError::EvidenceInvalid(_) => "evidence_invalid",
            LedgerError::EvidenceOffenderUnknown(_) => "evidence_offender_unknown",
            LedgerError::EvidenceBadSignature(_) => "evidence_bad_signature",
            LedgerError::EvidenceDuplicate(_) => "evidence_duplicate",
            LedgerError::EvidenceSenderNotValidator(_) => "evidence_sender_not_validator",
            LedgerError::InvalidBlock { .. } => "invalid_block",
            LedgerError::TxInBlock { .. } => "invalid_tx_in_block",
            LedgerError::LogCommitmentMismatch { .. } => "log_commitment_mismatch",
            LedgerError::InvalidCertificate { .. } => "invalid_certificate",
            LedgerError::Genesis(_) => "invalid_genesis",
            LedgerError::StateStorage { code, .. } => code,
        }
    }
}
