//! # curia-node
//!
//! The I/O shell around `ledger`, `consensus` and `storage`:
//!
//! - [`net`]: libp2p (TCP, noise, yamux) between genesis validators, with an allow list.
//! - [`mempool`]: bounded, checked, deduplicated pending transactions.
//! - [`driver`]: performs the consensus machine's effects (persist, broadcast, build and check
//!   blocks, commit to storage, sync).
//! - [`api`]: the HTTP API under `/v1`; [`ops`]: `/healthz` and Prometheus `/metrics`.
//! - [`chain_stream`]: the binary frame of `GET /v1/chain` (blocks and certificates for audits).
//! - [`http`]: serving a router with connection caps and request-head deadlines; [`limits`]:
//!   every limit of the node, with compile-time checks of how they relate.
//! - [`signing`]: the signing high-water mark kept outside the store (no double signing after
//!   a restore).
//! - [`tls`]: TLS on the API and ops listeners (rustls).
//! - [`config`]: the TOML configuration and key files; [`run`]: assembling a node;
//!   [`priority`]: the API's runtime ahead of the bulk runtime (consensus, commits, admission).
//!
//! Each node stores the quorum of precommits it collected, so two nodes may hold different (both
//! valid) certificates for one block; the load generator is `benches/src/bin/loadgen.rs`.

pub mod api;
pub mod chain_stream;
pub mod checkpoints;
pub mod clock;
pub mod config;
pub mod driver;
pub mod error;
pub mod http;
pub mod limits;
pub mod log_api;
pub mod members;
pub mod mempool;
pub mod net;
pub mod ops;
pub mod peer_gate;
pub mod priority;
pub mod rotation;
pub mod run;
pub mod signing;
pub mod submission;
pub mod tls;

pub use error::NodeError;
