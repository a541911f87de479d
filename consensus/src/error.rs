//! The crate's one error type.

use curia_ledger::LedgerError;

/// What can go wrong in consensus: bad bytes from the wire, or a configuration that cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsensusError {
    /// A message is longer than [`crate::msg::MAX_MESSAGE_BYTES`].
    #[error("consensus message of {len} bytes exceeds the limit of {max}")]
    MessageTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A message could not be decoded (unknown tag, truncated, trailing bytes, over a limit).
    #[error("bad consensus message: {0}")]
    Decode(#[source] LedgerError),
    /// The signing key given to the machine is not a validator of the chain.
    #[error("key {0} is not a validator of this chain")]
    NotAValidator(String),
    /// The chain has no voting power (cannot happen with a validated genesis).
    #[error("the validator set has no voting power")]
    NoPower,
    /// The chain store failed (a read or a write); the node cannot continue safely.
    #[error("chain store: {0}")]
    Store(String),
    /// A safety invariant does not hold (a bug): the executor stops before acting on it.
    #[error("broken invariant: {0}")]
    Invariant(String),
}
