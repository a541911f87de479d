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
//! - [`config`]: the TOML configuration and key files; [`run`]: assembling a node.
//!
//! Not built yet (issue 5): the load generator and its figures; a canonical commit certificate
//! shared by all nodes (today each node stores the quorum of precommits it collected).

pub mod api;
pub mod chain_stream;
pub mod config;
pub mod driver;
pub mod error;
pub mod http;
pub mod limits;
pub mod members;
pub mod mempool;
pub mod net;
pub mod ops;
pub mod run;

pub use error::NodeError;
