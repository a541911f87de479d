//! ed25519 keys and signatures.
//!
//! Rules: signatures are verified with `verify_strict` (RFC 8032 with canonical `S`, no small-order
//! keys), so a signature cannot be mutated into another valid one. What is signed is always a
//! 32-byte domain-separated hash (see [`crate::hash`]), never raw structure bytes.

use std::fmt;

use ed25519_dalek::Signer;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::codec::{Canonical, Reader, Writer};
use crate::hash::{parse_hex_array, Hash};
use crate::{LedgerError, Result};

/// An ed25519 public key (32 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey(pub [u8; 32]);

/// An ed25519 signature (64 bytes).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; 64]);

/// A signing key. Created from 32 secret bytes supplied by the caller (the ledger has no randomness).
#[derive(Clone)]
pub struct SecretKey(ed25519_dalek::SigningKey);

impl SecretKey {
    /// The key whose secret seed is `seed`.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        SecretKey(ed25519_dalek::SigningKey::from_bytes(seed))
    }
    /// The secret seed.
    pub fn seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }
    /// The public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key().to_bytes())
    }
    /// Sign a 32-byte hash.
    pub fn sign(&self, msg: &Hash) -> Signature {
        Signature(self.0.sign(&msg.0).to_bytes())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(public {})", self.public())
    }
}

impl PublicKey {
    /// Verify `sig` over `msg`; `what` names the signed thing in the error.
    pub fn verify(&self, what: &'static str, msg: &Hash, sig: &Signature) -> Result<()> {
        let bad = || LedgerError::BadSignature { what, signer: self.to_string() };
        let vk = ed25519_dalek::VerifyingKey::from_bytes(&self.0).map_err(|_| bad())?;
        let s = ed25519_dalek::Signature::from_bytes(&sig.0);
        vk.verify_strict(&msg.0, &s).map_err(|_| bad())
    }
    /// Check that the key is a valid curve point.
    pub fn check(&self) -> Result<()> {
        ed25519_dalek::VerifyingKey::from_bytes(&self.0).map(|_| ()).map_err(|_| LedgerError::BadKey(self.to_string()))
    }
    /// Parse 64 hex digits.
    pub fn from_hex(s: &str) -> Result<Self> {
        Ok(PublicKey(parse_hex_array(s, "public key")?))
    }
}

/// Verify many `(key, message, signature)` triples at once (ed25519 batch verification).
/// On failure, falls back to one-by-one verification to name the first bad signature.
pub fn verify_batch(what: &'static str, items: &[(PublicKey, Hash, Signature)]) -> Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    let mut keys = Vec::with_capacity(items.len());
    for (k, _, _) in items {
        match ed25519_dalek::VerifyingKey::from_bytes(&k.0) {
            Ok(vk) => keys.push(vk),
            Err(_) => return Err(LedgerError::BadSignature { what, signer: k.to_string() }),
        }
    }
    let msgs: Vec<&[u8]> = items.iter().map(|(_, m, _)| &m.0[..]).collect();
    let sigs: Vec<ed25519_dalek::Signature> =
        items.iter().map(|(_, _, s)| ed25519_dalek::Signature::from_bytes(&s.0)).collect();
    if ed25519_dalek::verify_batch(&msgs, &sigs, &keys).is_ok() {
        // Batch verification is the cofactored equation; strict checks (canonical S, no small
        // order keys) are applied one by one only where cheap: reject small-order keys here.
        if keys.iter().all(|k| !k.is_weak()) {
            return Ok(());
        }
    }
    for (k, m, s) in items {
        k.verify(what, m, s)?;
    }
    Ok(())
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}
impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", &hex::encode(self.0)[..12])
    }
}
impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sig({})", &hex::encode(self.0)[..12])
    }
}
impl Signature {
    /// Parse 128 hex digits.
    pub fn from_hex(s: &str) -> Result<Self> {
        Ok(Signature(parse_hex_array(s, "signature")?))
    }
}

macro_rules! hex_serde {
    ($t:ty, $from:path) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(&hex::encode(self.0))
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $from(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}
hex_serde!(PublicKey, PublicKey::from_hex);
hex_serde!(Signature, Signature::from_hex);

impl Canonical for PublicKey {
    const WHAT: &'static str = "public key";
    fn encode(&self, w: &mut Writer) {
        w.fixed(&self.0);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        Ok(PublicKey(r.array()?))
    }
}
impl Canonical for Signature {
    const WHAT: &'static str = "signature";
    fn encode(&self, w: &mut Writer) {
        w.fixed(&self.0);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Signature(r.array()?))
    }
}
