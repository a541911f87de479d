//! Offline verification of a receipt, with the same code as `curia verify` and `curia-verify`
//! (the `curia-verifier` crate and the ledger's [`verify_receipt`]): no network.
//!
//! Rules:
//! - The genesis must be one obtained independently (the court's published copy), not the
//!   node's `GET /v1/genesis`: a receipt is only as good as the validator keys it is checked
//!   against.
//! - An evidence file is hashed streaming, any size ([`curia_verifier::hashing`]); its length is
//!   checked against the deposited length. A digest alone cannot check the length.

use std::path::Path;

use curia_ledger::genesis::ChainSpec;
use curia_ledger::receipt::Receipt;
pub use curia_ledger::verify::{verify_receipt, Evidence, Report};
use curia_ledger::Hash;
use curia_verifier::hashing::{hash_file, Progress};

use crate::Error;

/// Verify `receipt` for the evidence file at `path` against `spec`: the report, check by check
/// ([`Report::is_valid`] says whether every check passed). An unreadable file is an error.
pub fn verify_file(path: &Path, receipt: &Receipt, spec: &ChainSpec) -> Result<Report, Error> {
    let h = hash_file(path, Progress::Hidden)?;
    Ok(verify_receipt(Evidence::Hashed { sha256: h.sha256, len: h.len }, receipt, spec))
}

/// Verify `receipt` for evidence known by its SHA-256 only (its length is not checked).
pub fn verify_digest(sha256: Hash, receipt: &Receipt, spec: &ChainSpec) -> Report {
    verify_receipt(Evidence::Digest(sha256), receipt, spec)
}
