//! The witness's durable record: for each log, the latest checkpoint it cosigned.
//!
//! One file per log, `<state_dir>/<hex SHA-256 of the origin>.state`:
//!
//! ```text
//! curia-witness-state/v1\n
//! <origin>\n
//! <size>\n
//! <base64 root>\n
//! \n
//! <the cosigned checkpoint note: log signatures and the witness's cosignature>
//! ```
//!
//! Rules:
//! - A write goes to a temporary file in the same directory, which is synced, renamed over the
//!   state file, and the directory is synced: after a crash (kill -9, power cut) the file holds
//!   either the old or the new record, never a mix, and a record the witness answered 200 for
//!   is on disk (it is written before the answer).
//! - A missing file means "never cosigned" (size 0). A file that exists but does not parse, or
//!   names another origin, is an error that stops the witness: treating it as size 0 would let
//!   it cosign a tree inconsistent with one it already cosigned.
//! - One process per state directory (the operator's duty; not enforced by a lock yet).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use curia_ledger::Hash;
use curia_transparency::checkpoint::parse_decimal;
use curia_transparency::witness::LogState;

const MAGIC: &str = "curia-witness-state/v1";
/// Largest state file read back.
const MAX_STATE_BYTES: u64 = 256 * 1024;

/// The state directory.
pub struct Store {
    dir: PathBuf,
}

/// A log's record: its state and the cosigned note served to monitors.
pub struct Record {
    /// Size and root of the latest cosigned checkpoint.
    pub state: LogState,
    /// That checkpoint with the log's signatures and the witness's cosignature.
    pub note: Vec<u8>,
}

impl Store {
    /// Opens (creating) the state directory.
    pub fn open(dir: &Path) -> Result<Store> {
        fs::create_dir_all(dir).with_context(|| format!("state directory {}", dir.display()))?;
        Ok(Store { dir: dir.to_path_buf() })
    }

    /// The file name for an origin: hex SHA-256 of it (also the monitoring URL's path segment).
    pub fn origin_hash(origin: &str) -> String {
        Hash::sha256(origin.as_bytes()).to_hex()
    }

    fn path(&self, origin: &str) -> PathBuf {
        self.dir.join(format!("{}.state", Self::origin_hash(origin)))
    }

    /// The record of `origin`, or `None` if the witness never cosigned for it.
    pub fn load(&self, origin: &str) -> Result<Option<Record>> {
        let path = self.path(origin);
        let meta = match fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("state file {}", path.display())),
        };
        if meta.len() > MAX_STATE_BYTES {
            bail!("state file {} is larger than {MAX_STATE_BYTES} bytes", path.display());
        }
        let bytes = fs::read(&path).with_context(|| format!("state file {}", path.display()))?;
        parse(&bytes, origin).with_context(|| format!("state file {} is corrupt; refusing to guess", path.display()))
    }

    /// The record for the origin whose [`Store::origin_hash`] is `hash`, if any (lower-case hex
    /// only; anything else is `None`).
    pub fn load_by_hash(&self, hash: &str, origins: &[&str]) -> Result<Option<Record>> {
        match origins.iter().find(|o| Self::origin_hash(o) == hash) {
            Some(o) => self.load(o),
            None => Ok(None),
        }
    }

    /// Durably replaces the record of `origin` (temporary file, sync, rename, sync directory).
    pub fn save(&self, origin: &str, record: &Record) -> Result<()> {
        let path = self.path(origin);
        let tmp = self.dir.join(format!("{}.tmp", Self::origin_hash(origin)));
        let mut text =
            format!("{MAGIC}\n{origin}\n{}\n{}\n\n", record.state.size, B64.encode(record.state.root.0)).into_bytes();
        text.extend_from_slice(&record.note);
        {
            let mut f = fs::File::create(&tmp).with_context(|| format!("write {}", tmp.display()))?;
            f.write_all(&text)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, &path).with_context(|| format!("rename to {}", path.display()))?;
        fs::File::open(&self.dir)?.sync_all().with_context(|| format!("sync directory {}", self.dir.display()))?;
        Ok(())
    }
}

/// Parses a state file's bytes, checking its origin.
fn parse(bytes: &[u8], origin: &str) -> Result<Option<Record>> {
    let mut parts = bytes.splitn(6, |&b| b == b'\n');
    let mut line = |what: &str| -> Result<String> {
        let l = parts.next().with_context(|| format!("missing {what}"))?;
        String::from_utf8(l.to_vec()).with_context(|| format!("{what} is not UTF-8"))
    };
    if line("magic")? != MAGIC {
        bail!("not a {MAGIC} file");
    }
    if line("origin")? != origin {
        bail!("it records another origin");
    }
    let size = parse_decimal(&line("size")?).context("size is not a decimal")?;
    let root =
        B64.decode(line("root")?).ok().and_then(|r| <[u8; 32]>::try_from(r).ok()).context("root is not a hash")?;
    if !line("separator")?.is_empty() {
        bail!("no blank line after the root");
    }
    let note = parts.next().unwrap_or_default().to_vec();
    Ok(Some(Record { state: LogState { size, root: Hash(root) }, note }))
}
