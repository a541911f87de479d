//! The store's integration tests in one test binary (one link of RocksDB instead of one per
//! file). Each module is one former test file; `common` builds the test chains.

mod common;

mod audit_layout;
mod batch_layout;
mod cli_audit;
mod corruption;
mod crash;
mod index_merge;
mod log_header;
mod store;
mod tx_layout;
