//! # curia-consensus
//!
//! Byzantine fault tolerant consensus for Curia's validators (courts, notaries, time services):
//! Tendermint (propose, prevote, precommit, with locking, round-robin proposers and growing
//! timeouts), written as a pure state machine, and a deterministic simulator that tests it.
//!
//! - [`machine`]: [`Machine::on`] takes one [`Input`] (a message, a timeout, a built block, a
//!   validity verdict, a restart with persisted votes) and returns the [`Effect`]s the node must
//!   perform, in order. No clock, randomness, I/O or async inside: time is an argument.
//! - [`msg`]: the wire messages and their canonical encoding.
//! - [`sim`]: the seeded simulator (virtual time, lossy network, partitions, crashes, Byzantine
//!   validators) and its invariant checks.
//!
//! The rules cited in the code (`Rule L22`, `Rule S1`, ...) are defined in `docs/protocol.md`.

pub mod error;
pub mod machine;
pub mod msg;
pub mod sim;

pub use error::ConsensusError;
pub use machine::{Config, Effect, Input, Machine, PeerId, Stats, Status, Step, Timeouts};
pub use msg::{Message, Proposal, SignedProposal};
