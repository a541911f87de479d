//! The storage crate's one error type.

use std::path::PathBuf;

use curia_ledger::LedgerError;

/// Everything that can go wrong in the store. Messages name the thing and where it is.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// RocksDB reported an error.
    #[error("rocksdb {op} failed: {source}")]
    Rocks {
        /// What the store was doing.
        op: String,
        /// The RocksDB error.
        source: rocksdb::Error,
    },
    /// A file-system operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What the store was doing.
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The store on disk has a schema version this build does not read.
    #[error("store at {path} has schema version {found}, this build reads version {expected}")]
    SchemaVersion {
        /// The store directory.
        path: PathBuf,
        /// Version found on disk.
        found: u32,
        /// Version this build reads and writes.
        expected: u32,
    },
    /// The store belongs to another chain.
    #[error("store at {path} holds chain {found}, not chain {expected}")]
    WrongChain {
        /// The store directory.
        path: PathBuf,
        /// Chain ID recorded in the store.
        found: String,
        /// Chain ID asked for.
        expected: String,
    },
    /// The directory holds no initialized Curia store.
    #[error("no Curia store at {path}: {reason}")]
    NotAStore {
        /// The directory.
        path: PathBuf,
        /// Why it is not usable.
        reason: String,
    },
    /// A stored value failed its checksum or could not be decoded: corruption on disk.
    #[error("corrupt value in column family {cf} at {key}: {reason}")]
    Corrupt {
        /// Column family.
        cf: &'static str,
        /// Key, rendered for people (`height 812`, `deposit 3fa0…`).
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// Something the chain says must exist is missing.
    #[error("{what} {key} not found")]
    NotFound {
        /// Kind of thing (`block`, `certificate`, `header`).
        what: &'static str,
        /// Which one.
        key: String,
    },
    /// A block was refused by `commit_block` because it does not extend the tip.
    #[error("cannot commit block {height}: {reason}")]
    BadCommit {
        /// Height of the refused block.
        height: u64,
        /// Why.
        reason: String,
    },
    /// The ledger rejected something (state transition, receipt building).
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// Backup or restore could not be done.
    #[error("backup {path}: {reason}")]
    Backup {
        /// Backup or target directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A write was attempted on a store opened read-only.
    #[error("store at {path} is open read-only")]
    ReadOnly {
        /// The store directory.
        path: PathBuf,
    },
    /// An audit was stopped (Ctrl-C) before it finished.
    #[error("the audit was interrupted after block {height}")]
    Interrupted {
        /// The last block checked.
        height: u64,
    },
}

impl StoreError {
    pub(crate) fn rocks(op: impl Into<String>) -> impl FnOnce(rocksdb::Error) -> StoreError {
        let op = op.into();
        move |source| StoreError::Rocks { op, source }
    }

    /// A short machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Rocks { .. } => "storage_io",
            StoreError::Io { .. } => "storage_io",
            StoreError::SchemaVersion { .. } => "schema_version",
            StoreError::WrongChain { .. } => "wrong_chain",
            StoreError::NotAStore { .. } => "not_a_store",
            StoreError::Corrupt { .. } => "storage_corrupt",
            StoreError::NotFound { .. } => "storage_missing",
            StoreError::BadCommit { .. } => "bad_commit",
            StoreError::Ledger(e) => e.code(),
            StoreError::Backup { .. } => "backup",
            StoreError::ReadOnly { .. } => "read_only",
            StoreError::Interrupted { .. } => "interrupted",
        }
    }
}
