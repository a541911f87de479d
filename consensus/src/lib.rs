//! # curia-consensus
//!
//! Byzantine fault tolerant consensus for Curia's validators (courts, notaries, time services):
//! Tendermint (propose, prevote, precommit, with locking, round-robin proposers and growing
//! timeouts), written as a pure state machine, and the one executor that performs its effects.
//!
//! - [`machine`]: [`Machine::on`] takes one [`Input`] (a message, a timeout, a built block, a
//!   validity verdict, a restart with persisted votes) and returns the [`Effect`]s the node must
//!   perform, in order. No clock, randomness, I/O or async inside: time is an argument.
//! - [`executor`]: [`Executor`] performs those effects (persist before send, broadcast, build
//!   and validate blocks, commit, catch-up, timers, pacing) over four traits: a clock, a
//!   network, a chain store and a transaction source. The node plugs in tokio, libp2p and
//!   RocksDB; the simulator (crate `curia-sim`) plugs in virtual time, a simulated network and
//!   in-memory stores, so the code a court runs is the code that is simulated.
//! - [`msg`]: the wire messages and their canonical encoding.
//!
//! The rules cited in the code (`Rule L22`, `Rule S1`, ...) are defined in `docs/protocol.md`.

pub mod error;
pub mod executor;
pub mod machine;
pub mod msg;

pub use error::ConsensusError;
pub use executor::{ChainStore, Clock, Executor, Network, Note, Pacing, Timer, TxSource};
pub use machine::{Config, Effect, Input, Machine, PeerId, Stats, Status, Step, Timeouts};
pub use msg::{Message, Proposal, SignedProposal};
