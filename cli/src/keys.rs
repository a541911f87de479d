//! Key files: JSON with the public and secret key in hex, written with mode 0600.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use curia_ledger::crypto::SecretKey;
use serde::{Deserialize, Serialize};

/// On-disk form of a key.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: String,
    public: String,
    secret: String,
}

const KEY_TYPE: &str = "curia-ed25519-secret-key";

/// A new key from the operating system's randomness.
pub fn generate() -> Result<SecretKey> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(|e| anyhow::anyhow!("no randomness from the operating system: {e}"))?;
    Ok(SecretKey::from_seed(&seed))
}

/// Write `key` to `path` (mode 0600), refusing to overwrite unless `force`.
pub fn write(path: &Path, key: &SecretKey, force: bool) -> Result<()> {
    let kf = KeyFile { kind: KEY_TYPE.into(), public: key.public().to_string(), secret: hex::encode(key.seed()) };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true);
    if force {
        opts.create(true).truncate(true);
    } else {
        opts.create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f =
        opts.open(path).with_context(|| format!("cannot create {} (use --force to overwrite)", path.display()))?;
    f.write_all(serde_json::to_string_pretty(&kf)?.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    Ok(())
}

/// Read a key file, checking that its public key matches its secret.
#[allow(dead_code)] // used by the node commands
pub fn read(path: &Path) -> Result<SecretKey> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read key {}", path.display()))?;
    anyhow::ensure!(bytes.len() < 4096, "key file {} is too large", path.display());
    let kf: KeyFile = serde_json::from_slice(&bytes).with_context(|| format!("key file {}", path.display()))?;
    anyhow::ensure!(kf.kind == KEY_TYPE, "key file {} has type {:?}, expected {KEY_TYPE}", path.display(), kf.kind);
    let seed: [u8; 32] = hex::decode(&kf.secret)
        .ok()
        .and_then(|b| b.try_into().ok())
        .with_context(|| format!("key file {}: secret is not 32 bytes of hex", path.display()))?;
    let key = SecretKey::from_seed(&seed);
    anyhow::ensure!(
        key.public().to_string() == kf.public,
        "key file {}: public key does not match secret",
        path.display()
    );
    Ok(key)
}
