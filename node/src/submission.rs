//! The message from the API to the driver: a checked submission and where to answer it.
//!
//! Its own module so that the API (which sends it) and the driver (which receives it) depend on
//! it, not on each other.

use curia_ledger::tx::Transaction;
use curia_ledger::Hash;
use tokio::sync::oneshot;

use crate::mempool::Admitted;
use crate::NodeError;

/// The driver's answer to a submission: per-transaction results in order, or an error for the
/// whole submission (such as [`NodeError::TooManyTxs`]).
pub type SubmitResult = Result<Vec<Result<Admitted, NodeError>>, NodeError>;

/// A submission from the API to the driver, which admits it to its mempool and answers on
/// `reply`. The API has already run [`crate::mempool::check_admission_ids`] on it, off the
/// consensus loop.
pub struct Submit {
    /// The transactions, in the client's order.
    pub txs: Vec<Transaction>,
    /// Their [`crate::mempool::check_admission_ids`] results (ID, or why it failed), in the
    /// same order.
    pub checks: Vec<Result<Hash, NodeError>>,
    /// Where the driver sends the mempool's answer.
    pub reply: oneshot::Sender<SubmitResult>,
}
