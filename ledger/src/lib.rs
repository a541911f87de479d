//! # curia-ledger
//!
//! The chain's data model and rules. Pure: no I/O, no async, no clock, no randomness. Everything
//! a judge's machine needs to verify a receipt offline lives here.
//!
//! - [`codec`]: the canonical binary encoding; [`hash`]: domain-separated SHA-256;
//!   [`crypto`]: ed25519; [`merkle`]: RFC 6962 trees and proofs; [`tlog`]: an append-only log's
//!   stored hashes and the proofs computed from them.
//! - [`genesis`]: the founding document; [`tx`]: transactions; [`block`]: headers, votes and
//!   commit certificates; [`state`]: the deterministic state transition; [`membership`]: the
//!   validator set in force at each height and the transactions that change it; [`history`]:
//!   the membership history a receipt embeds, verifiable from the genesis alone.
//! - [`receipt`]: self-contained receipts; [`verify`]: offline verification reports;
//!   [`audit`]: full replay from genesis.

pub mod access;
pub mod audit;
pub mod block;
pub mod codec;
pub mod crypto;
pub mod equivocation;
pub mod error;
pub mod evidence;
pub mod genesis;
pub mod hash;
pub mod history;
pub mod limits;
pub mod membership;
pub mod merkle;
pub mod merkle_tiles;
pub mod proposal;
pub mod receipt;
pub mod state;
pub mod testkit;
pub mod tlog;
pub mod tx;
pub mod verify;

pub use error::LedgerError;
pub use hash::Hash;

/// Result with the ledger's error.
pub type Result<T, E = LedgerError> = std::result::Result<T, E>;
