//! # curia-node
//!
//! The I/O shell around `ledger`, `consensus` and `storage`. Built so far: the [`mempool`].
//! Not built yet (issue 5): the libp2p network, the consensus driver, the executor, the HTTP
//! API and the metrics listener.

pub mod error;
pub mod mempool;
pub mod net;

pub use error::NodeError;
