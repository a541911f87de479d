//! `witness.toml`: where to listen, the witness key, where to keep state, and the logs.
//!
//! ```toml
//! listen = "127.0.0.1:7380"          # address:port; port 0 picks a free one (printed at start)
//! key_file = "witness.key"           # relative paths are relative to this file's directory
//! state_dir = "state"
//!
//! [[log]]
//! origin = "curia.example/log"       # the checkpoint origin line
//! keys = ["validator1+1a2b3c4d+AQ...", "..."]   # the log's Ed25519 note vkeys (type 0x01)
//! quorum = 3                         # distinct keys of `keys` that must sign a checkpoint
//! ```
//!
//! Unknown fields are errors; at least one log is required; the file is at most 1 MiB.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use curia_transparency::note::Verifier;
use curia_transparency::witness::{LogPolicy, Witness};
use serde::Deserialize;

/// The file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    listen: SocketAddr,
    key_file: PathBuf,
    state_dir: PathBuf,
    #[serde(default)]
    log: Vec<LogEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogEntry {
    origin: String,
    keys: Vec<String>,
    quorum: usize,
}

/// A loaded, checked configuration.
pub struct Config {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Where the state files live.
    pub state_dir: PathBuf,
    /// The witness: its key and logs.
    pub witness: Witness,
}

/// Loads and checks `path`.
pub fn load(path: &Path) -> Result<Config> {
    let meta = std::fs::metadata(path).with_context(|| format!("config {}", path.display()))?;
    if meta.len() > 1 << 20 {
        bail!("config {} is larger than 1 MiB", path.display());
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("config {}", path.display()))?;
    let file: File = toml::from_str(&text).with_context(|| format!("config {}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let signer = super::read_secret(&base.join(&file.key_file))?;
    if file.log.is_empty() {
        bail!("config {}: no [[log]] to witness", path.display());
    }
    let mut logs = Vec::new();
    for l in &file.log {
        let keys = l
            .keys
            .iter()
            .map(|k| Verifier::parse(k).with_context(|| format!("log {:?}: key {k:?}", l.origin)))
            .collect::<Result<Vec<_>>>()?;
        logs.push(LogPolicy::new(&l.origin, keys, l.quorum)?);
    }
    Ok(Config { listen: file.listen, state_dir: base.join(&file.state_dir), witness: Witness::new(signer, logs)? })
}
