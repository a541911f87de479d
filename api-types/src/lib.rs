//! # curia-api-types
//!
//! The JSON bodies of the node's HTTP API, in one place: the node serializes these structs
//! (`node/src/api.rs`, `node/src/ops.rs`) and `curia-client` deserializes the same structs, so
//! the two cannot drift. `docs/api.md` is the contract; the tests of `curia-client` parse its
//! examples into these types.
//!
//! Rules (also stated in `docs/api.md`, "Conventions"):
//! - **Requests are strict**: a request body with an unknown field is refused (400 `bad_json`),
//!   so [`TxBatch`] denies unknown fields, as the ledger's transaction types do.
//! - **Answers are open**: a later node may add fields to an answer, and a client ignores the
//!   fields it does not know. The answer structs here therefore do not deny unknown fields. The
//!   ledger structures embedded in answers (a block [`Header`], a [`CommitCertificate`], a
//!   receipt) are the receipt format's exact structures and stay strict.
//! - Hashes and keys are the ledger's [`Hash`] and [`PublicKey`] (lower-case hex on output,
//!   either case on input); times are milliseconds since the Unix epoch.
//!
//! This crate depends only on the ledger and serde: no HTTP, async runtime or storage.

pub mod key_file;

/// `GET /v1/membership`: the chain's whole membership history (receipt format 13), exactly the
/// document `curia membership export` writes and `curia verify --membership` reads. It is the
/// ledger's strict structure (like a receipt), not an open answer.
pub use curia_ledger::history::{HistoryEntry, MembershipHistory};

use std::borrow::Cow;

use curia_ledger::block::{CommitCertificate, Header};
use curia_ledger::crypto::PublicKey;
use curia_ledger::tx::Transaction;
use curia_ledger::Hash;
use serde::{Deserialize, Serialize};

/// Every error answer, on every endpoint: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The `error` object of an error answer, and of a refused item in a [`BatchAnswer`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable machine-readable code (`docs/api.md`, "Errors").
    pub code: String,
    /// What is wrong, for people (untrusted text: escape it before showing it).
    pub message: String,
}

/// `202 Accepted` answer of `POST /v1/deposits`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    /// The transaction's ID.
    pub tx_id: Hash,
    /// The deposit IDs it creates: its own ID for a single deposit, one per item for a batch.
    pub deposit_ids: Vec<Hash>,
}

/// Body of `POST /v1/transactions`: 1 to the submission limit of transactions. Strict: an
/// unknown field is 400 `bad_json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TxBatch<'a> {
    /// The transactions, in order (borrowed when a client sends, owned when the node parses).
    pub txs: Cow<'a, [Transaction]>,
}

/// Answer of `POST /v1/transactions`: one result per transaction, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchAnswer {
    /// How many were accepted.
    pub accepted: usize,
    /// How many were refused.
    pub rejected: usize,
    /// Per-transaction results.
    pub results: Vec<ItemResult>,
}

/// One transaction's result in a [`BatchAnswer`]: `deposit_ids` if accepted, `error` if not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemResult {
    /// Position in the request.
    pub index: usize,
    /// The transaction's ID.
    pub tx_id: Hash,
    /// Deposit IDs of an accepted transaction (empty for case and registry transactions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deposit_ids: Option<Vec<Hash>>,
    /// Why it was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

/// `GET /v1/deposits/{id}`: where a committed deposit is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepositInfo {
    /// The deposit ID.
    pub deposit_id: Hash,
    /// Always `committed` (an uncommitted deposit is 404 `deposit_not_found`).
    pub status: String,
    /// Height of its block.
    pub height: u64,
    /// Index of its transaction in the block.
    pub tx_index: u32,
    /// Index in its batch, for a batch item only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_index: Option<u32>,
    /// Hash of its block.
    pub block_hash: Hash,
    /// The block's proposer time.
    pub block_time_ms: u64,
    /// The commit time (median of the certificate's signed clocks).
    pub commit_time_ms: u64,
    /// Whether its receipt is issued (false while its block is the node's tip).
    pub receipt_ready: bool,
    /// Path of its receipt.
    pub receipt: String,
}

/// `GET /v1/digests/{sha256}`: the committed deposits of a commitment, in key order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestDeposits {
    /// The commitment asked for.
    pub commitment: Hash,
    /// Its deposits (empty if none).
    pub deposit_ids: Vec<Hash>,
}

/// `GET /v1/blocks/{height}`: a committed block's header and certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockInfo {
    /// Height.
    pub height: u64,
    /// Block hash.
    pub block_hash: Hash,
    /// Number of transactions.
    pub tx_count: u32,
    /// Commit time of its certificate.
    pub commit_time_ms: u64,
    /// The header.
    pub header: Header,
    /// The commit certificate.
    pub certificate: CommitCertificate,
}

/// `GET /v1/blocks/{height}/txs`: a committed block's transaction IDs, in block order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockTxs {
    /// Height.
    pub height: u64,
    /// Commit time of its certificate.
    pub commit_time_ms: u64,
    /// Transaction IDs.
    pub tx_ids: Vec<Hash>,
}

/// `GET /v1/cases/{id}` (a signed read): a case's owner, state and records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseInfo {
    /// The case ID.
    pub case_id: String,
    /// The judge who opened it.
    pub owner: PublicKey,
    /// Whether it is still open.
    pub open: bool,
    /// Number of records.
    pub record_count: u32,
    /// Its records, in chain order.
    pub records: Vec<CaseRecord>,
}

/// One record of a case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseRecord {
    /// Block height.
    pub height: u64,
    /// Transaction index in the block.
    pub tx_index: u32,
    /// What happened (`event` and its fields).
    #[serde(flatten)]
    pub event: CaseEvent,
}

/// What happened to a case: `{"event": "opened", "owner": ...}` and so on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum CaseEvent {
    /// Opened by `owner`.
    Opened {
        /// The judge.
        owner: PublicKey,
    },
    /// A deposit was attached.
    Attached {
        /// Deposit ID.
        deposit: Hash,
    },
    /// A verification result was recorded.
    Verified {
        /// Deposit ID.
        deposit: Hash,
        /// The result.
        valid: bool,
    },
    /// Closed.
    Closed,
}

/// `GET /v1/status`: the node's latest status as its driver publishes it (also inside `/healthz`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// Chain ID (hex).
    pub chain_id: String,
    /// Chain name from the genesis.
    pub chain_name: String,
    /// This node's name.
    pub node: String,
    /// Height of the last committed block.
    pub height: u64,
    /// Hash of the last committed block (hex).
    pub tip_hash: String,
    /// Current consensus round.
    pub round: u32,
    /// Connected peers.
    pub peers: usize,
    /// Transactions pending in the mempool.
    pub mempool_txs: usize,
    /// Bytes pending in the mempool.
    pub mempool_bytes: usize,
    /// Time of the last commit, ms since the Unix epoch.
    pub last_commit_ms: u64,
}

/// Answer of `GET /v1/validators?height=H`: the validator set in force at one height.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorsAnswer {
    /// The height asked for (default: the next height, tip + 1).
    pub height: u64,
    /// Height of the node's last committed block when it answered.
    pub tip: u64,
    /// `validators_hash` of the set (receipt format 3.3).
    pub set_hash: Hash,
    /// Sum of the validators' powers.
    pub total_power: u64,
    /// Least approving (or signing) power that is a quorum: more than two thirds of the total.
    pub quorum_power: u64,
    /// Membership changes committed so far: the sequence number the next change must carry.
    pub next_seq: u64,
    /// The validators, in index order.
    pub validators: Vec<ValidatorInfo>,
}

/// One validator in a [`ValidatorsAnswer`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorInfo {
    /// Its place in the set (the index certificates and registry approvals name).
    pub index: u32,
    /// Unique name.
    pub name: String,
    /// Role.
    pub role: curia_ledger::genesis::ValidatorRole,
    /// Consensus key, also the node's network identity.
    pub key: PublicKey,
    /// Voting power.
    pub power: u64,
    /// Registered network address.
    pub address: String,
}

/// `GET /healthz` on the ops listener.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `ok`.
    pub status: String,
    /// The node's status.
    pub node: NodeStatus,
}

/// `GET /v1/evidence`: the evidence of misbehaviour a node has kept (what it saw itself, whether
/// or not it is on chain yet), oldest height first. Every record proves itself: its signed
/// messages are in canonical hex.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceList {
    /// The chain.
    pub chain_id: Hash,
    /// Double votes (`curia_ledger::equivocation`), each summarised (index, key) under the set in
    /// force at its height.
    pub evidence: Vec<curia_ledger::equivocation::EquivocationJson>,
    /// Double proposals, by height, round and proposer.
    #[serde(default)]
    pub double_proposals: Vec<DoubleProposalInfo>,
}

/// One double proposal of an [`EvidenceList`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoubleProposalInfo {
    /// The proposer's index in the set in force at `height`.
    pub proposer: u16,
    /// Height.
    pub height: u64,
    /// Round.
    pub round: u32,
    /// The two signed proposals, as an `evidence` transaction carries them
    /// (`{"type": "double_proposal", "a": hex, "b": hex}`).
    pub evidence: curia_ledger::evidence::Misbehaviour,
}

/// The answer of `POST /admin/backup` on the ops listener.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupAnswer {
    /// The backup folder, as an absolute path on the node's machine.
    pub path: String,
    /// The tip's height read just before the checkpoint: the backup holds at least this height.
    pub height: u64,
    /// The hash of the block at `height`, in hex.
    pub block_hash: String,
    /// Older backups deleted to keep the configured count (absolute paths).
    #[serde(default)]
    pub removed: Vec<String>,
}

/// Largest body of `POST /v1/deposits` (`docs/api.md`, "Limits"); the node checks at compile time
/// that its own limit is this one.
pub const DEPOSIT_BODY_LIMIT: usize = 1 << 20;
/// Largest body of `POST /v1/transactions`.
pub const TRANSACTIONS_BODY_LIMIT: usize = 16 << 20;
/// Most transactions in one `POST /v1/transactions`.
pub const MAX_SUBMISSION: usize = 10_000;
/// Most blocks in one `GET /v1/chain` answer (and the largest `count`).
pub const MAX_CHAIN_BLOCKS: u32 = 256;

/// The HTTP status of an error code (`docs/api.md`, "Errors" and the ops listener's table): the
/// node answers with it, and a client reading a per-item error of a [`BatchAnswer`] (which has
/// no status of its own) learns it here. Unknown codes are 422 (a transaction the ledger's rules
/// refuse).
pub fn error_status(code: &str) -> u16 {
    match code {
        "bad_json"
        | "bad_query"
        | "bad_hex"
        | "bad_height"
        | "bad_case_id"
        | "bad_body"
        | "decode"
        | "unsupported_version"
        | "bad_key"
        | "bad_timestamp"
        | "bad_signature"
        | "tls_required" => 400,
        "unsigned_request" | "stale_request" | "bad_read_signature" | "unauthorized" => 401,
        "unknown_sender" | "wrong_role" | "forbidden_reader" | "admin_disabled" => 403,
        "not_found"
        | "deposit_not_found"
        | "receipt_pending"
        | "block_not_found"
        | "case_not_found"
        | "height_not_known"
        | "log_size_not_reached"
        | "checkpoint_not_found"
        | "tsa_token_not_found" => 404,
        "method_not_allowed" => 405,
        "body_timeout" => 408,
        "already_pending" | "duplicate" | "backup_in_progress" => 409,
        "too_large" | "too_many_txs" => 413,
        "rate_limited" => 429,
        "storage" | "config" | "network" | "internal" | "backup_failed" => 500,
        "mempool_full" | "busy" | "unavailable" | "timeout" | "too_many_connections" => 503,
        _ => 422,
    }
}

/// `GET /v1/log`: the deposit log as this node holds it (unsigned; a checkpoint is the signed
/// form). See `docs/receipt-format.md` section 14.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogHead {
    /// Number of deposits in the log.
    pub size: u64,
    /// RFC 6962 root of the log.
    pub root: Hash,
    /// The last block whose deposits the log holds.
    pub height: u64,
}

/// `GET /v1/log/inclusion?index=I&size=N`: the inclusion proof of leaf `index` in the tree of
/// the log's first `size` deposits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogInclusion {
    /// Leaf index.
    pub index: u64,
    /// Tree size.
    pub size: u64,
    /// The leaf's RFC 6962 hash, `SHA-256(0x00 || deposit ID || commitment)`.
    pub leaf_hash: Hash,
    /// Root of the tree of `size` deposits.
    pub root: Hash,
    /// Audit path, bottom up (RFC 9162 §2.1.3).
    pub proof: Vec<Hash>,
}

/// `GET /v1/log/index?deposit=ID`: a committed deposit's leaf index in the deposit log (the
/// node's word; an inclusion proof under a signed checkpoint is the check).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogIndex {
    /// The deposit.
    pub deposit_id: Hash,
    /// Its leaf index (0-based, commit order).
    pub index: u64,
}

/// `GET /v1/log/consistency?from=A&to=B`: the consistency proof between two sizes of the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogConsistency {
    /// The smaller size (at least 1).
    pub from: u64,
    /// The larger size.
    pub to: u64,
    /// Root of the tree of `from` deposits.
    pub from_root: Hash,
    /// Root of the tree of `to` deposits.
    pub to_root: Hash,
    /// Consistency proof (RFC 9162 §2.1.4); empty when `from == to`.
    pub proof: Vec<Hash>,
}
