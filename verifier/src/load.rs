//! Reading a genesis and a receipt from files, bounded.
//!
//! Rules: a file is read up to one byte past the ledger's limit ([`MAX_GENESIS_BYTES`],
//! [`MAX_RECEIPT_BYTES`]) and refused if it is larger, so a huge or endless file (a FIFO,
//! `/dev/zero`) costs no more memory than the limit. Parsing and validation are the ledger's.

use std::io::Read;
use std::path::Path;

use curia_ledger::genesis::{ChainSpec, Genesis};
use curia_ledger::limits::{MAX_GENESIS_BYTES, MAX_RECEIPT_BYTES};
use curia_ledger::receipt::Receipt;

use crate::Error;

/// The bytes of `path`, at most `max` of them (else [`Error::TooLarge`]).
pub fn read_bounded(path: &Path, max: usize, what: &'static str) -> Result<Vec<u8>, Error> {
    let io = |e| Error::Io { path: path.to_path_buf(), err: e };
    let f = std::fs::File::open(path).map_err(io)?;
    if f.metadata().map_err(io)?.is_dir() {
        return Err(Error::NotAFile(path.to_path_buf()));
    }
    let mut buf = Vec::new();
    f.take(max as u64 + 1).read_to_end(&mut buf).map_err(io)?;
    if buf.len() > max {
        return Err(Error::TooLarge { path: path.to_path_buf(), what, max });
    }
    Ok(buf)
}

/// The genesis JSON at `path`, parsed and validated.
pub fn genesis(path: &Path) -> Result<ChainSpec, Error> {
    let bytes = read_bounded(path, MAX_GENESIS_BYTES, "genesis")?;
    Genesis::from_json(&bytes).map_err(|e| Error::Genesis { path: path.to_path_buf(), err: e })
}

/// The receipt at `path` (JSON or canonical bytes), parsed.
pub fn receipt(path: &Path) -> Result<Receipt, Error> {
    let bytes = read_bounded(path, MAX_RECEIPT_BYTES, "receipt")?;
    Receipt::parse(&bytes).map_err(|e| Error::Receipt { path: path.to_path_buf(), err: e })
}

/// The membership history at `path` (`curia membership export`, JSON or canonical bytes),
/// parsed; refused if it is for another chain than `spec`.
pub fn membership(path: &Path, spec: &ChainSpec) -> Result<curia_ledger::history::MembershipHistory, Error> {
    use curia_ledger::history::{MembershipHistory, MAX_HISTORY_BYTES};
    let bytes = read_bounded(path, MAX_HISTORY_BYTES, "membership history")?;
    let err = |e| Error::Membership { path: path.to_path_buf(), err: e };
    let h = MembershipHistory::parse(&bytes).map_err(err)?;
    if h.chain_id != spec.chain_id {
        return Err(err(curia_ledger::LedgerError::Invalid {
            what: "membership history",
            reason: format!("it is for chain {}, the genesis founds {}", h.chain_id, spec.chain_id),
        }));
    }
    Ok(h)
}
