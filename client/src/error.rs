//! The client's one error type, [`Error`]: every failure of a call, local or from the node.
//!
//! Rules:
//! - A JSON error answer `{"error": {"code", "message"}}` becomes the variant of its `code`
//!   ([`Error::from_api`]); every code of `docs/api.md` ("Errors", and the ops listener's table)
//!   has its own variant, other 422 codes are ledger rules ([`Error::Rule`]), and a code this
//!   client does not know is [`Error::Unknown`]. An error answer that is not such JSON (the
//!   node's empty 400 or 431 for an unreadable request, or a proxy's page) is [`Error::Http`].
//! - Each API variant carries an [`ApiFailure`]: the HTTP status, the code, the node's message
//!   and, for push-back (503, 429, `receipt_pending`), the `Retry-After` delay.
//! - The node's message is untrusted text: it is cut to [`MAX_MESSAGE`] characters and escaped
//!   for a terminal (control, bidirectional and invisible characters) before it is stored, so
//!   printing an error cannot drive a terminal.

use std::path::PathBuf;
use std::time::Duration;

/// Longest node message kept, in characters.
pub const MAX_MESSAGE: usize = 1000;

/// What the node said when it refused a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiFailure {
    /// HTTP status.
    pub status: u16,
    /// The stable error code.
    pub code: String,
    /// The node's message, bounded and escaped.
    pub message: String,
    /// The `Retry-After` delay, when the answer carried one.
    pub retry_after: Option<Duration>,
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "node answered {} {}: {}", self.status, self.code, self.message)?;
        if let Some(d) = self.retry_after {
            write!(f, " (retry after {} s)", d.as_secs())?;
        }
        Ok(())
    }
}

/// Every failure of the client. API refusals have one variant per code of `docs/api.md`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ----- local -----
    /// An argument breaks a rule (a field rule, a size limit, a malformed URL); nothing was sent.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A local file (key, CA file, evidence) cannot be read.
    #[error("cannot read {}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The CA file holds no usable certificate, or TLS cannot be set up.
    #[error("TLS: {0}")]
    Tls(String),
    /// The node could not be reached, or the connection broke before a whole answer.
    #[error("cannot reach node: {reason}")]
    Transport {
        /// The request's URL.
        url: String,
        /// What failed (connection refused, TLS handshake, timeout, ...).
        reason: String,
    },
    /// The node's answer is malformed or contradicts what was sent.
    #[error("the node's answer to {url} is not usable: {reason}")]
    Protocol {
        /// The request's URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The node's answer is longer than the client accepts for this request.
    #[error("the node's answer to {url} is over {limit} bytes")]
    AnswerTooLarge {
        /// The request's URL.
        url: String,
        /// The limit.
        limit: usize,
    },
    /// A wait ([`crate::Client::wait_receipt`], a submission's retries) ran out of time.
    #[error("{what}: still not done after {:.1} s (last answer: {last})", .waited.as_secs_f64())]
    WaitTimeout {
        /// What was waited for.
        what: String,
        /// How long.
        waited: Duration,
        /// The last answer or failure seen.
        last: String,
    },
    /// Offline verification could not be carried out (unreadable evidence file, ...).
    #[error(transparent)]
    Verify(#[from] curia_verifier::Error),
    /// An error answer that is not the API's JSON error body.
    #[error("node answered HTTP {status}: {body}")]
    Http {
        /// HTTP status.
        status: u16,
        /// The start of the body, escaped.
        body: String,
    },

    // ----- 400 -----
    /// 400 `bad_json`: the body is not JSON of the expected shape.
    #[error("{0}")]
    BadJson(ApiFailure),
    /// 400 `bad_body`: the body could not be read.
    #[error("{0}")]
    BadBody(ApiFailure),
    /// 400 `bad_hex`: a hash path parameter or the `Curia-Signature` header is not hex.
    #[error("{0}")]
    BadHex(ApiFailure),
    /// 400 `bad_height`: a height is not a decimal number.
    #[error("{0}")]
    BadHeight(ApiFailure),
    /// 400 `bad_query`: the query of `GET /v1/chain` is wrong.
    #[error("{0}")]
    BadQuery(ApiFailure),
    /// 400 `bad_case_id`: the case ID is not 1-64 characters of `[A-Za-z0-9._-]`.
    #[error("{0}")]
    BadCaseId(ApiFailure),
    /// 400 `bad_signature`: a transaction's or a registry approval's signature does not verify.
    #[error("{0}")]
    BadSignature(ApiFailure),
    /// 400 `bad_key`: a key is not a valid ed25519 public key.
    #[error("{0}")]
    BadKey(ApiFailure),
    /// 400 `bad_timestamp`: the `Curia-Timestamp` header is not decimal milliseconds.
    #[error("{0}")]
    BadTimestamp(ApiFailure),
    /// 400 `decode`: an encoded value cannot be decoded.
    #[error("{0}")]
    Decode(ApiFailure),
    /// 400 `tls_required`: plain HTTP was sent to a TLS listener (use an https URL).
    #[error("{0}")]
    TlsRequired(ApiFailure),
    /// 400 `unsupported_version`: an encoded value has an unknown version.
    #[error("{0}")]
    UnsupportedVersion(ApiFailure),

    // ----- 401, 403 -----
    /// 401 `unsigned_request`: a signed read without its headers.
    #[error("{0}")]
    UnsignedRequest(ApiFailure),
    /// 401 `stale_request`: a signed read's timestamp is more than 300 s from the node's clock.
    #[error("{0}")]
    StaleRequest(ApiFailure),
    /// 401 `bad_read_signature`: a signed read's signature does not verify.
    #[error("{0}")]
    BadReadSignature(ApiFailure),
    /// 401 `unauthorized` (ops listener): no or wrong operator token.
    #[error("{0}")]
    Unauthorized(ApiFailure),
    /// 403 `forbidden_reader`: the key may not read cases.
    #[error("{0}")]
    ForbiddenReader(ApiFailure),
    /// 403 `unknown_sender`: the sender is not a registered, active client.
    #[error("{0}")]
    UnknownSender(ApiFailure),
    /// 403 `wrong_role`: the sender's role may not send this kind of transaction.
    #[error("{0}")]
    WrongRole(ApiFailure),
    /// 403 `admin_disabled` (ops listener): the node has no operator token.
    #[error("{0}")]
    AdminDisabled(ApiFailure),

    // ----- 404, 405, 408, 409 -----
    /// 404 `deposit_not_found`: no committed deposit has this ID (it may still be pending).
    #[error("{0}")]
    DepositNotFound(ApiFailure),
    /// 404 `receipt_pending`: committed, its receipt comes with the next block.
    #[error("{0}")]
    ReceiptPending(ApiFailure),
    /// 404 `block_not_found`.
    #[error("{0}")]
    BlockNotFound(ApiFailure),
    /// 404 `case_not_found`.
    #[error("{0}")]
    CaseNotFound(ApiFailure),
    /// 404 `not_found`: no such endpoint.
    #[error("{0}")]
    NotFound(ApiFailure),
    /// 405 `method_not_allowed`.
    #[error("{0}")]
    MethodNotAllowed(ApiFailure),
    /// 408 `body_timeout`: the body did not arrive within 20 s.
    #[error("{0}")]
    BodyTimeout(ApiFailure),
    /// 409 `already_pending`: the same transaction is in the node's mempool.
    #[error("{0}")]
    AlreadyPending(ApiFailure),
    /// 409 `duplicate`: the same transaction is already committed.
    #[error("{0}")]
    Duplicate(ApiFailure),
    /// 409 `backup_in_progress` (ops listener).
    #[error("{0}")]
    BackupInProgress(ApiFailure),

    // ----- 413, 422, 429 -----
    /// 413 `too_large`: the body is over the endpoint's limit.
    #[error("{0}")]
    TooLarge(ApiFailure),
    /// 413 `too_many_txs`: a batch holds more transactions than the submission limit.
    #[error("{0}")]
    TooManyTxs(ApiFailure),
    /// 422 `invalid_field`: a field breaks a rule; [`Error::invalid_field`] names it.
    #[error("{0}")]
    InvalidField(ApiFailure),
    /// 422 `wrong_kind`: `POST /v1/deposits` got a transaction that is not a deposit.
    #[error("{0}")]
    WrongKind(ApiFailure),
    /// 422 `not_enough_approvals`: a registry change lacks court approvals.
    #[error("{0}")]
    NotEnoughApprovals(ApiFailure),
    /// 422 `registry`: a registry change's approvals name an unknown, non-court or repeated validator.
    #[error("{0}")]
    Registry(ApiFailure),
    /// 422 with a membership change's rule code (`approval_not_member`, `duplicate_approval`,
    /// `not_enough_approval_power`, `membership_seq`, `validator_key_in_use`,
    /// `validator_key_used_before`, `not_a_validator`, `too_few_validators`, `no_court_left`);
    /// [`Error::code`] names which.
    #[error("{0}")]
    Membership(ApiFailure),
    /// 422 with an evidence transaction's code (`evidence_invalid`, `evidence_offender_unknown`,
    /// `evidence_bad_signature`, `evidence_duplicate`, `evidence_sender_not_validator`).
    #[error("{0}")]
    Evidence(ApiFailure),
    /// 404 `height_not_known`: the validator set at a height above the tip + 2 is not decided.
    #[error("{0}")]
    HeightNotKnown(ApiFailure),
    /// 404 from the deposit log's reads (`log_size_not_reached`: the node's log is smaller than
    /// the size asked for; `checkpoint_not_found`: no complete checkpoint of that size;
    /// `tsa_token_not_found`: that checkpoint has no RFC 3161 time stamp on this node).
    #[error("{0}")]
    Log(ApiFailure),
    /// 422 with another ledger rule code (`batch_root_mismatch`, `bad_proof`, ...).
    #[error("{0}")]
    Rule(ApiFailure),
    /// 429 `rate_limited` (ops listener): a backup was made too recently.
    #[error("{0}")]
    RateLimited(ApiFailure),

    // ----- 500, 503 -----
    /// 500 `storage`: the node's store failed a read.
    #[error("{0}")]
    Storage(ApiFailure),
    /// 500 `internal`: a bug in the node.
    #[error("{0}")]
    Internal(ApiFailure),
    /// 500 `backup_failed` (ops listener).
    #[error("{0}")]
    BackupFailed(ApiFailure),
    /// 503 `mempool_full`: retry after `Retry-After`.
    #[error("{0}")]
    MempoolFull(ApiFailure),
    /// 503 `busy`: the node's submission capacity is used; retry after `Retry-After`.
    #[error("{0}")]
    Busy(ApiFailure),
    /// 503 `too_many_connections`: retry after `Retry-After`.
    #[error("{0}")]
    TooManyConnections(ApiFailure),
    /// 503 `unavailable`: the node is shutting down or dropped the submission.
    #[error("{0}")]
    Unavailable(ApiFailure),
    /// 503 `timeout`: the node did not answer the submission within 30 s.
    #[error("{0}")]
    NodeTimeout(ApiFailure),
    /// A code this client does not know.
    #[error("{0}")]
    Unknown(ApiFailure),
}

impl Error {
    /// The variant for a JSON error answer (see the module rules). `message` is bounded and
    /// escaped here.
    pub fn from_api(status: u16, code: &str, message: &str, retry_after: Option<Duration>) -> Error {
        let f = ApiFailure { status, code: clean(code, 64), message: clean(message, MAX_MESSAGE), retry_after };
        match code {
            "bad_json" => Error::BadJson(f),
            "bad_body" => Error::BadBody(f),
            "bad_hex" => Error::BadHex(f),
            "bad_height" => Error::BadHeight(f),
            "bad_query" => Error::BadQuery(f),
            "bad_case_id" => Error::BadCaseId(f),
            "bad_signature" => Error::BadSignature(f),
            "bad_key" => Error::BadKey(f),
            "bad_timestamp" => Error::BadTimestamp(f),
            "decode" => Error::Decode(f),
            "tls_required" => Error::TlsRequired(f),
            "unsupported_version" => Error::UnsupportedVersion(f),
            "unsigned_request" => Error::UnsignedRequest(f),
            "stale_request" => Error::StaleRequest(f),
            "bad_read_signature" => Error::BadReadSignature(f),
            "unauthorized" => Error::Unauthorized(f),
            "forbidden_reader" => Error::ForbiddenReader(f),
            "unknown_sender" => Error::UnknownSender(f),
            "wrong_role" => Error::WrongRole(f),
            "admin_disabled" => Error::AdminDisabled(f),
            "deposit_not_found" => Error::DepositNotFound(f),
            "receipt_pending" => Error::ReceiptPending(f),
            "block_not_found" => Error::BlockNotFound(f),
            "case_not_found" => Error::CaseNotFound(f),
            "not_found" => Error::NotFound(f),
            "method_not_allowed" => Error::MethodNotAllowed(f),
            "body_timeout" => Error::BodyTimeout(f),
            "already_pending" => Error::AlreadyPending(f),
            "duplicate" => Error::Duplicate(f),
            "backup_in_progress" => Error::BackupInProgress(f),
            "too_large" => Error::TooLarge(f),
            "too_many_txs" => Error::TooManyTxs(f),
            "invalid_field" => Error::InvalidField(f),
            "wrong_kind" => Error::WrongKind(f),
            "not_enough_approvals" => Error::NotEnoughApprovals(f),
            "registry" => Error::Registry(f),
            "approval_not_member"
            | "duplicate_approval"
            | "not_enough_approval_power"
            | "membership_seq"
            | "validator_key_in_use"
            | "validator_key_used_before"
            | "not_a_validator"
            | "too_few_validators"
            | "no_court_left" => Error::Membership(f),
            "evidence_invalid"
            | "evidence_offender_unknown"
            | "evidence_bad_signature"
            | "evidence_duplicate"
            | "evidence_sender_not_validator" => Error::Evidence(f),
            "height_not_known" => Error::HeightNotKnown(f),
            "log_size_not_reached" | "checkpoint_not_found" | "tsa_token_not_found" => Error::Log(f),
            "rate_limited" => Error::RateLimited(f),
            "storage" => Error::Storage(f),
            "internal" => Error::Internal(f),
            "backup_failed" => Error::BackupFailed(f),
            "mempool_full" => Error::MempoolFull(f),
            "busy" => Error::Busy(f),
            "too_many_connections" => Error::TooManyConnections(f),
            "unavailable" => Error::Unavailable(f),
            "timeout" => Error::NodeTimeout(f),
            _ if status == 422 && is_code(code) => Error::Rule(f),
            _ => Error::Unknown(f),
        }
    }

    /// The variant of a refused item of a `POST /v1/transactions` answer (its status is the
    /// code's documented one, [`curia_api_types::error_status`]).
    pub fn from_item(e: &curia_api_types::ErrorDetail) -> Error {
        Error::from_api(curia_api_types::error_status(&e.code), &e.code, &e.message, None)
    }

    /// What the node said, for an API refusal.
    pub fn api(&self) -> Option<&ApiFailure> {
        use Error::*;
        match self {
            BadJson(f)
            | BadBody(f)
            | BadHex(f)
            | BadHeight(f)
            | BadQuery(f)
            | BadCaseId(f)
            | BadSignature(f)
            | BadKey(f)
            | BadTimestamp(f)
            | Decode(f)
            | TlsRequired(f)
            | UnsupportedVersion(f)
            | UnsignedRequest(f)
            | StaleRequest(f)
            | BadReadSignature(f)
            | Unauthorized(f)
            | ForbiddenReader(f)
            | UnknownSender(f)
            | WrongRole(f)
            | AdminDisabled(f)
            | DepositNotFound(f)
            | ReceiptPending(f)
            | BlockNotFound(f)
            | CaseNotFound(f)
            | NotFound(f)
            | MethodNotAllowed(f)
            | BodyTimeout(f)
            | AlreadyPending(f)
            | Duplicate(f)
            | BackupInProgress(f)
            | TooLarge(f)
            | TooManyTxs(f)
            | InvalidField(f)
            | WrongKind(f)
            | NotEnoughApprovals(f)
            | Registry(f)
            | Membership(f)
            | Evidence(f)
            | HeightNotKnown(f)
            | Log(f)
            | Rule(f)
            | RateLimited(f)
            | Storage(f)
            | Internal(f)
            | BackupFailed(f)
            | MempoolFull(f)
            | Busy(f)
            | TooManyConnections(f)
            | Unavailable(f)
            | NodeTimeout(f)
            | Unknown(f) => Some(f),
            InvalidInput(_)
            | Io { .. }
            | Tls(_)
            | Transport { .. }
            | Protocol { .. }
            | AnswerTooLarge { .. }
            | WaitTimeout { .. }
            | Verify(_)
            | Http { .. } => None,
        }
    }

    /// The API's error code, for an API refusal.
    pub fn code(&self) -> Option<&str> {
        self.api().map(|f| f.code.as_str())
    }

    /// The HTTP status of an error answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Http { status, .. } => Some(*status),
            e => e.api().map(|f| f.status),
        }
    }

    /// The delay the node asked for before a retry (`Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        self.api().and_then(|f| f.retry_after)
    }

    /// Whether the same request may succeed later: the node pushed back (503, 429), or the
    /// connection failed before an answer.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::MempoolFull(_)
                | Error::Busy(_)
                | Error::TooManyConnections(_)
                | Error::Unavailable(_)
                | Error::NodeTimeout(_)
                | Error::RateLimited(_)
                | Error::Transport { .. }
        ) || matches!(self, Error::Unknown(f) if f.status == 503)
    }

    /// For [`Error::InvalidField`]: the field the node named (its message starts `invalid FIELD:`).
    pub fn invalid_field(&self) -> Option<&str> {
        match self {
            Error::InvalidField(f) => f.message.strip_prefix("invalid ")?.split(':').next(),
            _ => None,
        }
    }
}

/// A code is short snake case; anything else is not trusted as one.
fn is_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 64
        && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
}

/// `s` cut to `max` characters and escaped for a terminal.
pub(crate) fn clean(s: &str, max: usize) -> String {
    let cut: String = s.chars().take(max).collect();
    let mut out = curia_verifier::escape::terminal(&cut).into_owned();
    if s.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}
