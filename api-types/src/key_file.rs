//! The key file `curia keygen` writes and every tool reads: one JSON object
//! `{"type": "curia-ed25519-secret-key", "public": HEX, "secret": HEX}` (the 32-byte seed), the
//! public key repeated so that a damaged or mismatched file is caught. Parsing only: reading the
//! file (bounded) and writing it (mode 0600) belong to the caller.

use curia_ledger::crypto::SecretKey;
use serde::{Deserialize, Serialize};

/// The `type` of a key file.
pub const KEY_FILE_TYPE: &str = "curia-ed25519-secret-key";

/// On-disk form of a key.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: String,
    public: String,
    secret: String,
}

/// The text of `key`'s key file (pretty JSON and a newline).
pub fn key_file_text(key: &SecretKey) -> String {
    let kf = KeyFile { kind: KEY_FILE_TYPE.into(), public: key.public().to_string(), secret: hex::encode(key.seed()) };
    serde_json::to_string_pretty(&kf).expect("key serializes") + "\n"
}

/// The key in a key file's bytes; the error says what is wrong (not which file).
pub fn parse_key_file(bytes: &[u8]) -> Result<SecretKey, String> {
    let kf: KeyFile = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if kf.kind != KEY_FILE_TYPE {
        return Err(format!("type is {:?}, expected {KEY_FILE_TYPE}", kf.kind));
    }
    let seed: [u8; 32] = hex::decode(&kf.secret)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| "secret is not 32 bytes of hex".to_string())?;
    let key = SecretKey::from_seed(&seed);
    if key.public().to_string() != kf.public {
        return Err("public key does not match the secret".into());
    }
    Ok(key)
}
