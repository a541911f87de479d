//! The node's one error type.

use curia_ledger::{Hash, LedgerError};

/// Everything the node reports to clients and operators.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeError {
    /// The mempool is full; the client should retry after the given delay.
    #[error("mempool is full ({pending} transactions, {bytes} bytes pending); retry after {retry_after_ms} ms")]
    MempoolFull {
        /// Transactions pending.
        pending: usize,
        /// Bytes pending.
        bytes: usize,
        /// Suggested delay.
        retry_after_ms: u64,
    },
    /// The transaction is already pending.
    #[error("transaction {0} is already pending")]
    AlreadyPending(Hash),
    /// Another membership change with the same sequence number is already pending: only one of
    /// them could commit (approvals are bound to the number), so the second is refused.
    #[error(
        "membership change number {seq} is already pending (transaction {pending}); only one change can take \
         that place: once it commits, propose this one again as number {next}",
        next = seq + 1
    )]
    MembershipSeqPending {
        /// The sequence number both carry.
        seq: u64,
        /// The pending transaction that holds it.
        pending: Hash,
    },
    /// A submission holds too many transactions.
    #[error("submission holds {got} transactions, limit {max}")]
    TooManyTxs {
        /// Count submitted.
        got: usize,
        /// Limit.
        max: usize,
    },
    /// A configuration value is wrong.
    #[error("configuration: {0}")]
    Config(String),
    /// The network could not start or failed.
    #[error("network: {0}")]
    Network(String),
    /// The store failed; the node cannot continue safely.
    #[error("storage: {0}")]
    Storage(String),
    /// The ledger rejected the transaction (bad shape, signature, sender, role, replay, ...).
    /// Never a storage failure: [`LedgerError::StateStorage`] converts to [`NodeError::Storage`].
    #[error(transparent)]
    Rejected(LedgerError),
}

impl From<LedgerError> for NodeError {
    /// A rejection, except that a failed state read is a storage error (no verdict on the
    /// transaction).
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::StateStorage { .. } => NodeError::Storage(e.to_string()),
            e => NodeError::Rejected(e),
        }
    }
}

impl NodeError {
    /// A short, stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            NodeError::MempoolFull { .. } => "mempool_full",
            NodeError::AlreadyPending(_) => "already_pending",
            NodeError::MembershipSeqPending { .. } => "membership_seq",
            NodeError::TooManyTxs { .. } => "too_many_txs",
            NodeError::Config(_) => "config",
            NodeError::Network(_) => "network",
            NodeError::Storage(_) => "storage",
            NodeError::Rejected(e) => e.code(),
        }
    }
}
