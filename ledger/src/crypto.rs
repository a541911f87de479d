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
    /// Check that the key is a canonically encoded curve point not of small order (a small-order
    /// key could never sign, and such a key would make forged "signatures" easy).
    pub fn check(&self) -> Result<()> {
        let bad = || LedgerError::BadKey(self.to_string());
        let vk = ed25519_dalek::VerifyingKey::from_bytes(&self.0).map_err(|_| bad())?;
        let canonical = curve25519_dalek::edwards::CompressedEdwardsY(self.0)
            .decompress()
            .is_some_and(|p| p.compress().to_bytes() == self.0);
        if vk.is_weak() || !canonical {
            return Err(bad());
        }
        Ok(())
    }
    /// Parse 64 hex digits.
    pub fn from_hex(s: &str) -> Result<Self> {
        Ok(PublicKey(parse_hex_array(s, "public key")?))
    }
}

/// Whether a signature's `R` is a canonical encoding of a point that is not of small order, as
/// strict verification requires. Batch verification works on decoded points, so it would accept a
/// small-order or non-canonically encoded `R` that `verify_strict` rejects; checking `R` first
/// makes batch and one-by-one verification accept exactly the same signatures.
///
/// Checked on the bytes, without decoding the point (decoding costs a field exponentiation, and
/// the batch decodes `R` anyway): the encoded `y` is below `p = 2^255 - 19`, and the encoding is
/// not one of the eight small-order points' encodings with either sign bit (the flipped sign bit
/// covers the non-canonical encodings of the two points with `x = 0`). An `R` that is not a
/// point at all passes this check and is refused by the batch, then by one-by-one verification.
fn strict_r(sig: &Signature) -> bool {
    let mut r = [0u8; 32];
    r.copy_from_slice(&sig.0[..32]);
    canonical_y(&r) && !small_order_encodings().contains(&r)
}

/// Whether the 255-bit `y` of a point encoding is reduced, i.e. below `2^255 - 19`.
fn canonical_y(e: &[u8; 32]) -> bool {
    !(e[31] & 0x7f == 0x7f && e[1..31].iter().all(|&b| b == 0xff) && e[0] >= 0xed)
}

/// The encodings of the eight small-order points, each with both sign bits.
fn small_order_encodings() -> &'static [[u8; 32]; 16] {
    static SET: std::sync::OnceLock<[[u8; 32]; 16]> = std::sync::OnceLock::new();
    SET.get_or_init(|| {
        let mut out = [[0u8; 32]; 16];
        for (i, p) in curve25519_dalek::constants::EIGHT_TORSION.iter().enumerate() {
            let e = p.compress().to_bytes();
            let mut flipped = e;
            flipped[31] ^= 0x80;
            out[2 * i] = e;
            out[2 * i + 1] = flipped;
        }
        out
    })
}

/// Verify many `(key, message, signature)` triples at once (ed25519 batch verification), with
/// the same acceptance as [`PublicKey::verify`]: canonical `S` (checked by the batch), keys and
/// `R` not of small order, `R` canonically encoded. On failure, falls back to one-by-one
/// verification to name the first bad signature.
pub fn verify_batch(what: &'static str, items: &[(PublicKey, Hash, Signature)]) -> Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    let mut keys = Vec::with_capacity(items.len());
    let mut strict = true;
    // Submissions usually come from a few senders: decode each distinct key once.
    let mut decoded: std::collections::HashMap<[u8; 32], (ed25519_dalek::VerifyingKey, bool)> =
        std::collections::HashMap::new();
    for (k, _, s) in items {
        let (vk, weak) = match decoded.get(&k.0) {
            Some(d) => *d,
            None => match ed25519_dalek::VerifyingKey::from_bytes(&k.0) {
                Ok(vk) => *decoded.entry(k.0).or_insert((vk, vk.is_weak())),
                Err(_) => return Err(LedgerError::BadSignature { what, signer: k.to_string() }),
            },
        };
        strict &= !weak && strict_r(s);
        keys.push(vk);
    }
    if strict {
        let msgs: Vec<&[u8]> = items.iter().map(|(_, m, _)| &m.0[..]).collect();
        let sigs: Vec<ed25519_dalek::Signature> =
            items.iter().map(|(_, _, s)| ed25519_dalek::Signature::from_bytes(&s.0)).collect();
        if ed25519_dalek::verify_batch(&msgs, &sigs, &keys).is_ok() {
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

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::scalar::Scalar;
    use sha2::{Digest, Sha512};

    /// A "signature" with the identity as `R`: it satisfies the cofactorless equation
    /// `[S]B = R + [k]A`, so plain batch verification accepts it, but strict verification
    /// rejects it (small-order R). Both paths must reject it.
    fn small_order_r_signature(key: &SecretKey, msg: &Hash) -> Signature {
        let mut r = [0u8; 32];
        r[0] = 1; // compressed identity point
        let a = key.0.to_scalar();
        let mut h = Sha512::new();
        h.update(r);
        h.update(key.public().0);
        h.update(msg.0);
        let k = Scalar::from_bytes_mod_order_wide(&h.finalize().into());
        let s = k * a;
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&r);
        sig[32..].copy_from_slice(s.as_bytes());
        Signature(sig)
    }

    #[test]
    fn batch_and_single_verification_agree_on_small_order_r() {
        let key = SecretKey::from_seed(&[7; 32]);
        let msg = Hash::sha256(b"precommit");
        let forged = small_order_r_signature(&key, &msg);
        assert!(key.public().verify("test", &msg, &forged).is_err());
        let good = SecretKey::from_seed(&[8; 32]);
        let items = vec![(good.public(), msg, good.sign(&msg)), (key.public(), msg, forged)];
        assert!(verify_batch("test", &items).is_err(), "batch must reject a small-order R");
        assert!(verify_batch("test", &items[..1]).is_ok());
        // The raw dalek batch alone would accept it: this is what the R check guards against.
        let vk = |k: &PublicKey| ed25519_dalek::VerifyingKey::from_bytes(&k.0).unwrap();
        assert!(ed25519_dalek::verify_batch(
            &[&msg.0[..]],
            &[ed25519_dalek::Signature::from_bytes(&forged.0)],
            &[vk(&key.public())]
        )
        .is_ok());
    }

    /// A "signature" whose `R = rB + T` has a component `T` of order 2 and `S = r + k·a`: the
    /// cofactorless equation is off by `T`, so strict verification refuses it, but a batch whose
    /// random coefficient for it is even cannot see `T`.
    pub(crate) fn mixed_order_r_signature(key: &SecretKey, msg: &Hash, nonce: u8) -> Signature {
        use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
        use curve25519_dalek::edwards::CompressedEdwardsY;
        // (0, -1), the point of order 2: y = p - 1, x = 0.
        let mut t = [0xff; 32];
        t[0] = 0xec;
        t[31] = 0x7f;
        let t = CompressedEdwardsY(t).decompress().expect("order-2 point");
        let r = Scalar::from_bytes_mod_order([nonce; 32]);
        let big_r = (ED25519_BASEPOINT_POINT * r + t).compress().to_bytes();
        let mut h = Sha512::new();
        h.update(big_r);
        h.update(key.public().0);
        h.update(msg.0);
        let k = Scalar::from_bytes_mod_order_wide(&h.finalize().into());
        let s = r + k * key.0.to_scalar();
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&big_r);
        sig[32..].copy_from_slice(s.as_bytes());
        Signature(sig)
    }

    /// Documents a known gap of [`verify_batch`] (receipt format 6.3): a mixed-order `R` is
    /// refused one by one but accepted by some batches. Certificates are therefore verified one
    /// by one (`CommitCertificate::verify`); transaction batches still have the gap.
    #[test]
    fn batch_can_accept_a_mixed_order_r_that_strict_verification_refuses() {
        let key = SecretKey::from_seed(&[9; 32]);
        let msg = Hash::sha256(b"vote");
        let mut batch_accepted = 0;
        for nonce in 1..=16u8 {
            let sig = mixed_order_r_signature(&key, &msg, nonce);
            assert!(key.public().verify("test", &msg, &sig).is_err(), "strict must refuse nonce {nonce}");
            if verify_batch("test", &[(key.public(), msg, sig)]).is_ok() {
                batch_accepted += 1;
            }
        }
        assert!(batch_accepted > 0, "the batch gap is closed: update receipt format 6.3 and this test");
    }

    /// A certificate holding a precommit with a mixed-order `R` is refused, also where a batch
    /// would have accepted that precommit.
    #[test]
    fn certificates_refuse_a_mixed_order_r_precommit() {
        use crate::testkit::{test_key, TestChain};
        let mut chain = TestChain::new(4);
        chain.commit(vec![]);
        let (block, cert) = chain.blocks[0].clone();
        assert!(cert.verify(&chain.spec).is_ok());
        let mut batch_would_accept = 0;
        for nonce in 1..=16u8 {
            let mut forged = cert.clone();
            let s = forged.sigs[0];
            let msg = forged.vote_of(&chain.spec.chain_id, &s).signing_hash();
            forged.sigs[0].signature = mixed_order_r_signature(&test_key("v0"), &msg, nonce);
            let key = chain.spec.genesis.validators[0].key;
            if verify_batch("test", &[(key, msg, forged.sigs[0].signature)]).is_ok() {
                batch_would_accept += 1;
            }
            assert!(forged.verify(&chain.spec).is_err(), "nonce {nonce} for block {}", block.header.height);
        }
        assert!(batch_would_accept > 0, "no case where the batch path would have accepted");
    }

    #[test]
    fn byte_level_r_check_matches_decoding() {
        use curve25519_dalek::edwards::CompressedEdwardsY;
        let by_decoding = |r: [u8; 32]| match CompressedEdwardsY(r).decompress() {
            Some(p) => !p.is_small_order() && p.compress().to_bytes() == r,
            None => false,
        };
        let check = |r: [u8; 32]| {
            let mut sig = [0u8; 64];
            sig[..32].copy_from_slice(&r);
            let decodes = CompressedEdwardsY(r).decompress().is_some();
            // Where R decodes, both checks agree; where it does not, the batch refuses it anyway.
            if decodes {
                assert_eq!(strict_r(&Signature(sig)), by_decoding(r), "R = {}", hex::encode(r));
            }
        };
        let mut cases: Vec<[u8; 32]> = small_order_encodings().to_vec();
        // Every non-reduced y (p .. 2^255 - 1), with both sign bits.
        for low in 0xedu8..=0xff {
            for sign in [0u8, 0x80] {
                let mut e = [0xffu8; 32];
                e[0] = low;
                e[31] = 0x7f | sign;
                cases.push(e);
            }
        }
        // Real points (R of real signatures) and pseudo-random byte strings.
        for i in 0..2000u32 {
            let key = SecretKey::from_seed(&Hash::sha256(&i.to_be_bytes()).0);
            let sig = key.sign(&Hash::sha256(b"r check"));
            cases.push(sig.0[..32].try_into().unwrap());
            cases.push(Hash::sha256(&(i + 1_000_000).to_be_bytes()).0);
        }
        for r in cases {
            check(r);
        }
        for e in small_order_encodings() {
            let mut sig = [0u8; 64];
            sig[..32].copy_from_slice(e);
            assert!(!strict_r(&Signature(sig)), "small-order R {} passed", hex::encode(e));
        }
    }

    #[test]
    fn small_order_keys_are_refused() {
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(PublicKey(identity).check().is_err());
        assert!(SecretKey::from_seed(&[1; 32]).public().check().is_ok());
    }
}
