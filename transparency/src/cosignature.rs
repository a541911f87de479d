//! Timestamped Ed25519 cosignatures, c2sp.org/tlog-cosignature (`cosignature/v1`).
//!
//! Rules implemented:
//!
//! - The key ID is `SHA-256(name || 0x0A || 0x04 || 32-byte public key)[:4]`; the vkey's type
//!   byte is `0x04`.
//! - The signature (after the key ID) is exactly 72 bytes: an 8-byte big-endian POSIX
//!   timestamp, at most 2^63 - 1, then the 64-byte Ed25519 signature.
//! - The signed message is `"cosignature/v1\n"`, `"time " <timestamp in decimal> "\n"`, then the
//!   whole checkpoint note text (every line, extension lines included, with its final newline).
//! - A witness never emits timestamp 0 (c2sp.org/tlog-witness); [`cosign`] refuses it.

use ed25519_dalek::{Signer as _, VerifyingKey};

use crate::note::{check_text, KeyKind, SignatureLine, Signer};
use crate::{Error, Result};

/// The largest timestamp allowed, 2^63 - 1.
pub const MAX_TIMESTAMP: u64 = (1 << 63) - 1;

/// The message a `cosignature/v1` signs for note `text` at `timestamp`.
pub fn signed_message(text: &str, timestamp: u64) -> String {
    format!("cosignature/v1\ntime {timestamp}\n{text}")
}

/// The cosignature line of `signer` over note `text` at `timestamp` (seconds since the epoch).
pub fn cosign(signer: &Signer, text: &str, timestamp: u64) -> Result<SignatureLine> {
    check_text(text)?;
    if timestamp == 0 {
        return Err(Error::Cosignature("timestamp 0 is not allowed for a checkpoint cosignature"));
    }
    if timestamp > MAX_TIMESTAMP {
        return Err(Error::Cosignature("timestamp exceeds 2^63 - 1"));
    }
    let sig = signer.signing_key().sign(signed_message(text, timestamp).as_bytes());
    let mut bytes = timestamp.to_be_bytes().to_vec();
    bytes.extend_from_slice(&sig.to_bytes());
    Ok(SignatureLine {
        name: signer.name().to_string(),
        key_id: signer.verifier(KeyKind::CosignatureV1).key_id,
        signature: bytes,
    })
}

/// The timestamp of a cosignature's signature bytes (after the key ID), without verifying it.
pub fn timestamp(sig: &[u8]) -> Result<u64> {
    if sig.len() != 72 {
        return Err(Error::Cosignature("signature is not 8 + 64 bytes"));
    }
    let mut t = [0u8; 8];
    t.copy_from_slice(&sig[..8]);
    let t = u64::from_be_bytes(t);
    if t > MAX_TIMESTAMP {
        return Err(Error::Cosignature("timestamp exceeds 2^63 - 1"));
    }
    Ok(t)
}

/// Verifies cosignature bytes `sig` (after the key ID) by `key` over note `text`; returns the
/// timestamp.
pub fn verify(key: &VerifyingKey, text: &str, sig: &[u8]) -> Result<u64> {
    let t = timestamp(sig)?;
    let s = ed25519_dalek::Signature::from_slice(&sig[8..]).map_err(|_| Error::Cosignature("bad signature bytes"))?;
    key.verify_strict(signed_message(text, t).as_bytes(), &s)
        .map_err(|_| Error::Cosignature("signature does not verify"))?;
    Ok(t)
}
