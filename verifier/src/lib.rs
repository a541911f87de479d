//! # curia-verifier
//!
//! Offline verification of Curia receipts, linking only the ledger: no storage engine, no
//! network stack, no async runtime. It builds in minutes, so court IT can build `curia-verify`
//! and hand it out; `curia verify` calls the same code ([`cmd`]).
//!
//! - [`cmd`]: the verify command (arguments, steps, exit codes, output);
//! - [`hashing`]: streaming SHA-256 of evidence files of any size, with a progress bar;
//! - [`load`]: bounded reading of a genesis and a receipt;
//! - [`escape`]: how untrusted text is shown on a terminal and in HTML;
//! - [`text`]: the reports a person reads.

pub mod cmd;
pub mod escape;
pub mod hashing;
pub mod load;
pub mod text;

use std::path::PathBuf;

use curia_ledger::LedgerError;

/// Why a verification could not be carried out (unusable input: exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file cannot be opened or read.
    #[error("cannot read {}: {err}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        err: std::io::Error,
    },
    /// A path names a directory or something else that is not a file.
    #[error("{} is not a file", .0.display())]
    NotAFile(PathBuf),
    /// A genesis or receipt file is over the ledger's limit.
    #[error("{} is larger than {max} bytes, the most a {what} may be", .path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// What it should hold.
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// The genesis is malformed or invalid.
    #[error("genesis {}: {err}", .path.display())]
    Genesis {
        /// The file.
        path: PathBuf,
        /// Why.
        err: LedgerError,
    },
    /// The receipt cannot be read.
    #[error("receipt {}: {err}", .path.display())]
    Receipt {
        /// The file.
        path: PathBuf,
        /// Why.
        err: LedgerError,
    },
    /// The membership history file (`--membership`) cannot be read or is for another chain.
    #[error("membership history {}: {err}", .path.display())]
    Membership {
        /// The file.
        path: PathBuf,
        /// Why.
        err: LedgerError,
    },
    /// `--digest` is not 64 hex digits.
    #[error("--digest: {0}")]
    Digest(LedgerError),
    /// Neither a file nor `--digest` was given.
    #[error("give the evidence FILE or --digest HEX")]
    NoEvidence,
}
