//! The `curia` binary's integration tests, in one test binary: one link of the node, the store
//! and libp2p instead of one per file (CI time on two cores). Each module is one former test
//! file; `common` holds the shared four-node harness. Tests that start `curia node run`
//! processes hold `common::serial()` (the `Cluster` harness does it for them), so they run one
//! at a time as they did when each file was its own binary, and never share ports.

mod common;

mod audit_node;
mod backup;
mod cases;
mod cli;
mod client;
mod display;
mod dns_peers;
mod evidence;
mod genesis_ceremony;
mod log_header;
mod log_monitor;
mod membership;
mod membership_verify;
mod netns;
mod network;
mod shutdown;
mod slow_clients;
mod tls;
mod tsa;
mod upgrade;
mod witness;
