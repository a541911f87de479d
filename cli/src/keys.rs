//! Key generation; key files are read and written by `curia_node::config`.

use anyhow::Result;
use curia_ledger::crypto::SecretKey;

/// A new key from the operating system's randomness.
pub fn generate() -> Result<SecretKey> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(|e| anyhow::anyhow!("no randomness from the operating system: {e}"))?;
    Ok(SecretKey::from_seed(&seed))
}
