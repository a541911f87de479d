//! The signing record: the highest place (height, round, step) this validator has signed at,
//! kept in `DATA_DIR/signing-high-water`, beside the store, not in it.
//!
//! Rules (the machine's rule S3; `docs/operator-guide.md`, "Backup and restore"):
//! - Before a vote or a proposal is written to the store's log (and so before it is sent), its
//!   position is written here, synced, when it is higher than the one recorded.
//! - The file is outside `DATA_DIR/chain`, so backups do not hold it and `curia node restore`
//!   does not replace it: after a restore from an old backup it still names the highest
//!   position signed. At start the node gives it to the consensus machine as its signing floor:
//!   nothing new is signed at or below it, so a restored validator cannot sign a second, different
//!   vote for a slot it voted in before the restore. It says so in its log.
//! - A missing file means nothing was signed from this data directory (a new node, or one whose
//!   data directory was moved without the file: the log warns when the store is not empty).
//!   An unreadable or malformed file stops the node: it must not guess.
//! - Format: one line `HEIGHT ROUND STEP` in decimal, STEP 0 proposal, 1 prevote, 2 precommit.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use curia_consensus::machine::SignPos;

use crate::NodeError;

/// The file's name in the data directory.
pub const SIGNING_FILE: &str = "signing-high-water";

/// The signing record of one data directory.
#[derive(Debug)]
pub struct SigningRecord {
    path: PathBuf,
    high: Mutex<Option<SignPos>>,
}

fn parse(text: &str) -> Option<SignPos> {
    let mut it = text.trim().split(' ');
    let pos = SignPos {
        height: it.next()?.parse().ok()?,
        round: it.next()?.parse().ok()?,
        step: it.next()?.parse().ok().filter(|s: &u8| *s <= 2)?,
    };
    it.next().is_none().then_some(pos)
}

impl SigningRecord {
    /// Read the record of `data_dir` (none yet: no floor).
    pub fn open(data_dir: &Path) -> Result<SigningRecord, NodeError> {
        let path = data_dir.join(SIGNING_FILE);
        let high = match std::fs::read(&path) {
            Ok(bytes) if bytes.len() <= 64 => {
                let text = String::from_utf8_lossy(&bytes);
                Some(parse(&text).ok_or_else(|| {
                    NodeError::Config(format!(
                        "signing record {} is malformed ({text:?}); it must be `HEIGHT ROUND STEP`. \
                         Do not delete it: it keeps a restored validator from signing twice",
                        path.display()
                    ))
                })?)
            }
            Ok(_) => return Err(NodeError::Config(format!("signing record {} is too large", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(NodeError::Config(format!("cannot read signing record {}: {e}", path.display()))),
        };
        Ok(SigningRecord { path, high: Mutex::new(high) })
    }

    /// The highest position recorded: the signing floor at start.
    pub fn high(&self) -> Option<SignPos> {
        *self.high.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Record that this validator signs at `pos` (durably, before returning) if it is higher
    /// than the recorded position.
    pub fn note(&self, pos: SignPos) -> std::io::Result<()> {
        let mut high = self.high.lock().unwrap_or_else(|e| e.into_inner());
        if high.is_some_and(|h| pos <= h) {
            return Ok(());
        }
        let tmp = self.path.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp)?;
        writeln!(f, "{} {} {}", pos.height, pos.round, pos.step)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        *high = Some(pos);
        Ok(())
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_highest_position_across_reopening_and_refuses_garbage() {
        let tmp = tempfile::Builder::new().prefix("curia-signing-").tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let r = SigningRecord::open(&dir).unwrap();
        assert_eq!(r.high(), None);
        let p = |height, round, step| SignPos { height, round, step };
        r.note(p(5, 0, 1)).unwrap();
        r.note(p(5, 1, 0)).unwrap();
        r.note(p(4, 9, 2)).unwrap(); // lower: ignored
        assert_eq!(SigningRecord::open(&dir).unwrap().high(), Some(p(5, 1, 0)));
        for bad in ["", "5 1", "5 1 3", "5 1 0 0", "x 1 0"] {
            std::fs::write(dir.join(SIGNING_FILE), bad).unwrap();
            let e = SigningRecord::open(&dir).unwrap_err().to_string();
            assert!(e.contains("malformed"), "{bad:?}: {e}");
        }
    }
}
