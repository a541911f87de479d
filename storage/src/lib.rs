//! # curia-storage
//!
//! Everything a node keeps on disk, in one RocksDB database: blocks, commit certificates,
//! headers, the state (clients, applied transactions, deposits, cases, attachments), the indexes
//! (deposit ID to its place in the chain, evidence digest to its deposits, case to its records),
//! the tip, and the consensus vote log.
//!
//! - [`Store`]: open or create a store for a chain, commit blocks atomically, read back with
//!   checksums, log votes, back up and restore. See `docs/storage.md`.
//! - [`StoreState`]: the committed state as a ledger [`curia_ledger::state::StateView`].
//! - [`audit_store`]: replay a store from genesis with the ledger's audit, into a
//!   [`ScratchState`] on disk (bounded memory at any chain length).

mod audit;
mod audit_claims;
mod audit_index;
mod codec;
mod error;
mod evidence;
mod membership;
mod scratch;
mod store;

pub use audit::{
    audit_store, AuditOptions, AuditProgress, AUDIT_BLOCK_IN_FLIGHT, AUDIT_MEMORY_BUDGET, AUDIT_MEMORY_SIZED,
    AUDIT_STORE_CACHE, NODE_AUDIT_MERGE_PHASE, NODE_AUDIT_REPLAY_STATE,
};
pub use audit_claims::{ClaimingState, DepositClaims};
pub use audit_index::FalseClaim;
pub use codec::{CaseEntry, CaseEvent, CaseStatus, DepositLocation, CHECKSUM_LEN};
pub use error::StoreError;
pub use scratch::{ScratchState, MEMORY_BUDGET as SCRATCH_MEMORY_BUDGET};
pub use store::{
    cf, LogState, Store, StoreOptions, StoreState, StoredCheckpoint, StoredTsaToken, MAX_CHECKPOINT_NOTE,
    MAX_TSA_TOKEN, SCHEMA_VERSION,
};

/// Where a node keeps its store inside its data directory.
pub const STORE_SUBDIR: &str = "chain";

/// The store directory for a data directory: `DIR/chain` if it holds a store, else `DIR` itself.
pub fn locate_store(data_dir: &std::path::Path) -> std::path::PathBuf {
    let sub = data_dir.join(STORE_SUBDIR);
    if sub.join("CURRENT").is_file() {
        sub
    } else {
        data_dir.to_path_buf()
    }
}

/// Result with the store's error.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
