//! ed25519 keys and signatures.
//!
//! Rules: one signature rule everywhere, receipt format 6.3 ("cofactored verification"): canonical
//! `S`, key and `R` not of small order, `R` canonically encoded, and the cofactored equation
//! `8·(S·B − k·A − R) = identity`. Under it a signature cannot be mutated into another valid one,
//! and batch verification ([`verify_batch`]) accepts exactly what one-by-one verification accepts.
//! What is signed is always a 32-byte domain-separated hash (see [`crate::hash`]), never raw
//! structure bytes.

use std::fmt;

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use ed25519_dalek::Signer;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha512};

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
    /// Verify `sig` over `msg` with the rule of receipt format 6.3 ([`verify_cofactored`]);
    /// `what` names the signed thing in the error.
    pub fn verify(&self, what: &'static str, msg: &Hash, sig: &Signature) -> Result<()> {
        if verify_cofactored(&self.0, &msg.0, &sig.0) {
            Ok(())
        } else {
            Err(LedgerError::BadSignature { what, signer: self.to_string() })
        }
    }
    /// Check that the key is a canonically encoded curve point not of small order (a small-order
    /// key could never sign, and such a key would make forged "signatures" easy).
    pub fn check(&self) -> Result<()> {
        let bad = || LedgerError::BadKey(self.to_string());
        let vk = ed25519_dalek::VerifyingKey::from_bytes(&self.0).map_err(|_| bad())?;
        let canonical = CompressedEdwardsY(self.0).decompress().is_some_and(|p| p.compress().to_bytes() == self.0);
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

/// The signature rule of receipt format 6.3, on raw bytes (any message length): `sig = R || S`
/// by key `A` over `msg` is valid iff
/// 1. `S < L` (canonical scalar),
/// 2. `A` decodes (6.2) and is not of small order,
/// 3. `R` is canonically encoded, decodes, and is not of small order,
/// 4. `8·(S·B − k·A − R)` is the identity, with `k = SHA-512(R || A || msg) mod L` over the bytes
///    as given (the cofactored equation).
///
/// Every signature valid under the cofactorless rule (`S·B − k·A` encodes to `R`, as
/// `verify_strict` checks) is valid here; the converse fails only for an `R` or `A` with a torsion
/// component, which only the key's holder can make.
pub fn verify_cofactored(key: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    let Some(s) = canonical_s(sig) else { return false };
    let Some(a) = decode_key(key) else { return false };
    let Some(r) = decode_r(sig) else { return false };
    let k = challenge(sig, key, msg);
    // S·B − k·A, then − R, times the cofactor.
    let sb_minus_ka = EdwardsPoint::vartime_double_scalar_mul_basepoint(&-k, &a, &s);
    (sb_minus_ka - r).mul_by_cofactor().is_identity()
}

/// Step 1: `S` (bytes 32..64, little-endian) as a scalar if it is below `L`.
fn canonical_s(sig: &[u8; 64]) -> Option<Scalar> {
    let mut s = [0u8; 32];
    s.copy_from_slice(&sig[32..]);
    Scalar::from_canonical_bytes(s).into()
}

/// Step 2: the key decoded (6.2: a non-canonical encoding is accepted), if not of small order.
fn decode_key(key: &[u8; 32]) -> Option<EdwardsPoint> {
    CompressedEdwardsY(*key).decompress().filter(|a| !a.is_small_order())
}

/// Step 3: `R` decoded, if canonically encoded and not of small order.
fn decode_r(sig: &[u8; 64]) -> Option<EdwardsPoint> {
    let mut r = [0u8; 32];
    r.copy_from_slice(&sig[..32]);
    if !strict_r(&r) {
        return None;
    }
    CompressedEdwardsY(r).decompress()
}

/// `k = SHA-512(R || A || M) mod L`, over the bytes as given.
fn challenge(sig: &[u8; 64], key: &[u8; 32], msg: &[u8]) -> Scalar {
    let mut h = Sha512::new();
    h.update(&sig[..32]);
    h.update(key);
    h.update(msg);
    Scalar::from_bytes_mod_order_wide(&h.finalize().into())
}

/// Whether an encoded `R` is a canonical encoding of a point that is not of small order (steps
/// 3 of 6.3), provided it decodes at all.
///
/// Checked on the bytes, without decoding the point (decoding costs a field exponentiation, and
/// the caller decodes `R` anyway): the encoded `y` is below `p = 2^255 - 19`, and the encoding is
/// not one of the eight small-order points' encodings with either sign bit (the flipped sign bit
/// covers the non-canonical encodings of the two points with `x = 0`). An `R` that is not a
/// point at all passes this check and is refused when it is decoded.
fn strict_r(r: &[u8; 32]) -> bool {
    canonical_y(r) && !small_order_encodings().contains(r)
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

/// Domain separation of the batch coefficients' hash.
const BATCH_TAG: &[u8] = b"curia/ed25519-batch-coefficients/v1";

/// Verify many `(key, message, signature)` triples at once, with exactly the acceptance of
/// [`PublicKey::verify`] (receipt format 6.3): steps 1-3 are checked for every signature, then
/// one cofactored batch equation
/// `8·(Σ z_i·(S_i·B − k_i·A_i − R_i))` = identity, with 128-bit coefficients `z_i` derived by
/// SHA-512 from all the inputs (the ledger has no randomness; an attacker cannot choose the
/// inputs after the coefficients). Each `8·(S_i·B − k_i·A_i − R_i)` lies in the prime-order
/// subgroup, so the batch holds for every choice of coefficients when each signature is valid,
/// and only with probability about `2^-128` when one is not: acceptance does not depend on the
/// coefficients. On failure, falls back to one-by-one verification to name the first bad
/// signature.
pub fn verify_batch(what: &'static str, items: &[(PublicKey, Hash, Signature)]) -> Result<()> {
    if items.is_empty() || batch_equation_holds(items) {
        return Ok(());
    }
    for (k, m, s) in items {
        k.verify(what, m, s)?;
    }
    Ok(())
}

/// Steps 1-3 for every item and the cofactored batch equation (see [`verify_batch`]).
fn batch_equation_holds(items: &[(PublicKey, Hash, Signature)]) -> bool {
    let mut seed = Sha512::new();
    seed.update(BATCH_TAG);
    seed.update((items.len() as u64).to_le_bytes());
    for (k, m, s) in items {
        seed.update(k.0);
        seed.update(m.0);
        seed.update(s.0);
    }
    let seed: [u8; 64] = seed.finalize().into();
    let mut scalars = Vec::with_capacity(2 * items.len() + 1);
    let mut points = Vec::with_capacity(2 * items.len() + 1);
    let mut b_coefficient = Scalar::ZERO;
    // Submissions usually come from a few senders: decode each distinct key once.
    let mut keys: std::collections::HashMap<[u8; 32], Option<EdwardsPoint>> = std::collections::HashMap::new();
    for (i, (key, msg, sig)) in items.iter().enumerate() {
        let Some(s) = canonical_s(&sig.0) else { return false };
        let Some(a) = *keys.entry(key.0).or_insert_with(|| decode_key(&key.0)) else { return false };
        let Some(r) = decode_r(&sig.0) else { return false };
        let k = challenge(&sig.0, &key.0, &msg.0);
        let mut h = Sha512::new();
        h.update(seed);
        h.update((i as u64).to_le_bytes());
        let h: [u8; 64] = h.finalize().into();
        let mut z = [0u8; 16];
        z.copy_from_slice(&h[..16]);
        let z = Scalar::from(u128::from_le_bytes(z));
        b_coefficient += z * s;
        scalars.push(z);
        points.push(r);
        scalars.push(z * k);
        points.push(a);
    }
    // Σ z_i·R_i + Σ z_i·k_i·A_i − (Σ z_i·S_i)·B: the negated sum of the equations.
    scalars.push(-b_coefficient);
    points.push(curve25519_dalek::constants::ED25519_BASEPOINT_POINT);
    EdwardsPoint::vartime_multiscalar_mul(scalars, points).mul_by_cofactor().is_identity()
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
    use crate::testkit::test_key;
    use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};

    /// `k = SHA-512(R || A || M) mod L` for a signature being made.
    fn k_of(r: &[u8; 32], key: &[u8; 32], msg: &[u8]) -> Scalar {
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(r);
        challenge(&sig, key, msg)
    }

    fn sig_of(r: &[u8; 32], s: &Scalar) -> [u8; 64] {
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(r);
        sig[32..].copy_from_slice(s.as_bytes());
        sig
    }

    /// The signature with `S + L` in place of `S` (the same scalar, not canonically encoded).
    fn plus_l(mut sig: [u8; 64]) -> [u8; 64] {
        let l = Scalar::ZERO - Scalar::ONE; // L - 1
        let mut carry = 1u16; // + 1
        for (i, b) in l.as_bytes().iter().enumerate() {
            let v = u16::from(sig[32 + i]) + u16::from(*b) + carry;
            sig[32 + i] = v as u8;
            carry = v >> 8;
        }
        assert_eq!(carry, 0);
        sig
    }

    /// The cofactorless strict rule (6.4; what 6.3 was before): ed25519-dalek's `verify_strict`.
    fn cofactorless(key: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
        ed25519_dalek::VerifyingKey::from_bytes(key)
            .is_ok_and(|vk| vk.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(sig)).is_ok())
    }

    /// A "signature" with the identity as `R`: it satisfies the cofactorless equation
    /// `[S]B = R + [k]A`, so a bare batch accepts it, but step 3 (`R` of small order) refuses it.
    /// Both paths must refuse it.
    fn small_order_r_signature(key: &SecretKey, msg: &Hash) -> Signature {
        let mut r = [0u8; 32];
        r[0] = 1; // compressed identity point
        let k = k_of(&r, &key.public().0, &msg.0);
        Signature(sig_of(&r, &(k * key.0.to_scalar())))
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
        assert!(!batch_equation_holds(&items));
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

    /// A signature whose `R = rB + T` has a torsion component `T` (`torsion` indexes the eight
    /// small-order points) and `S = r + k·a`: the cofactorless equation is off by `T`, so the
    /// cofactorless strict rule refuses it; the cofactored equation holds.
    pub(crate) fn mixed_order_r_signature(key: &SecretKey, msg: &Hash, nonce: u8, torsion: usize) -> Signature {
        let r = Scalar::from_bytes_mod_order([nonce; 32]);
        let big_r = (ED25519_BASEPOINT_POINT * r + EIGHT_TORSION[torsion]).compress().to_bytes();
        let k = k_of(&big_r, &key.public().0, &msg.0);
        Signature(sig_of(&big_r, &(r + k * key.0.to_scalar())))
    }

    /// Before the cofactored rule, a mixed-order `R` was refused one by one but accepted by the
    /// batches whose coefficient killed `T`. Now single and batch agree: both accept, for every
    /// coefficient draw (each message, nonce and batch position gives other coefficients).
    #[test]
    fn batch_and_single_agree_on_a_mixed_order_r() {
        let key = SecretKey::from_seed(&[9; 32]);
        let other = SecretKey::from_seed(&[10; 32]);
        for nonce in 1..=50u8 {
            // Orders 2 (index 4), 4 (2 and 6) and 8 (the odd indices) all occur.
            let torsion = 1 + usize::from(nonce) % 7;
            let msg = Hash::sha256(&[b'v', nonce]);
            let sig = mixed_order_r_signature(&key, &msg, nonce, torsion);
            assert!(!cofactorless(&key.public().0, &msg.0, &sig.0), "nonce {nonce}: the old rule refuses it");
            assert!(key.public().verify("test", &msg, &sig).is_ok(), "nonce {nonce}: single");
            assert!(batch_equation_holds(&[(key.public(), msg, sig)]), "nonce {nonce}: batch of one");
            let honest = (other.public(), msg, other.sign(&msg));
            let mut items = vec![honest; usize::from(nonce % 5)];
            items.insert(usize::from(nonce % 3).min(items.len()), (key.public(), msg, sig));
            assert!(batch_equation_holds(&items), "nonce {nonce}: batch of {}", items.len());
            // The same signature over another message fails everywhere.
            let wrong = Hash::sha256(b"another message");
            assert!(key.public().verify("test", &wrong, &sig).is_err());
            assert!(!batch_equation_holds(&[(key.public(), wrong, sig)]));
            assert!(verify_batch("test", &[(key.public(), msg, sig), (key.public(), wrong, sig)]).is_err());
        }
    }

    /// A key with a torsion component (`A = aB + T`) and an ordinary `R = rB`, `S = r + k·a`:
    /// only the cofactored equation holds (the cofactorless one is off by `k·T`).
    fn mixed_order_key_signature(seed: u8, msg: &[u8]) -> ([u8; 32], [u8; 64]) {
        let a = Scalar::from_bytes_mod_order([seed; 32]);
        let key = (ED25519_BASEPOINT_POINT * a + EIGHT_TORSION[1]).compress().to_bytes();
        let r = Scalar::from_bytes_mod_order([seed ^ 0x55; 32]);
        let big_r = (ED25519_BASEPOINT_POINT * r).compress().to_bytes();
        let k = k_of(&big_r, &key, msg);
        (key, sig_of(&big_r, &(r + k * a)))
    }

    #[test]
    fn refusals_single_and_batch() {
        let key = test_key("platform");
        let msg = Hash::sha256(b"refusals");
        let good = key.sign(&msg);
        let ok = |k: PublicKey, m: Hash, s: Signature| {
            let single = k.verify("test", &m, &s).is_ok();
            assert_eq!(single, batch_equation_holds(&[(k, m, s)]), "single and batch differ");
            assert_eq!(single, verify_cofactored(&k.0, &m.0, &s.0));
            single
        };
        assert!(ok(key.public(), msg, good));
        // A wrong message, a wrong key.
        assert!(!ok(key.public(), Hash::sha256(b"other"), good));
        assert!(!ok(test_key("judge").public(), msg, good));
        // S + L: the same scalar, not canonical.
        assert!(!ok(key.public(), msg, Signature(plus_l(good.0))));
        // Every small-order R with S = k·a (the cofactored equation holds, step 3 refuses).
        for t in EIGHT_TORSION.iter() {
            let r = t.compress().to_bytes();
            let k = k_of(&r, &key.public().0, &msg.0);
            assert!(!ok(key.public(), msg, Signature(sig_of(&r, &(k * key.0.to_scalar())))));
            // A small-order key with R = rB, S = r: S·B − k·A − R = −k·A, killed by the cofactor.
            let rr = Scalar::from_bytes_mod_order([3; 32]);
            let big_r = (ED25519_BASEPOINT_POINT * rr).compress().to_bytes();
            assert!(!ok(PublicKey(r), msg, Signature(sig_of(&big_r, &rr))));
        }
        // A key with a torsion component is not of small order: its signatures are valid.
        let (k, s) = mixed_order_key_signature(11, &msg.0);
        assert!(ok(PublicKey(k), msg, Signature(s)));
        // R or key not a point at all.
        let mut not_point = [0u8; 32];
        not_point[0] = 2;
        assert!(CompressedEdwardsY(not_point).decompress().is_none());
        assert!(!ok(PublicKey(not_point), msg, good));
        let mut bad_r = good;
        bad_r.0[..32].copy_from_slice(&not_point);
        assert!(!ok(key.public(), msg, bad_r));
    }

    /// A certificate holding a precommit with a mixed-order `R` now verifies, as it would in a
    /// batch: one rule for both paths.
    #[test]
    fn certificates_accept_a_mixed_order_r_precommit_as_a_batch_does() {
        use crate::testkit::TestChain;
        let mut chain = TestChain::new(4);
        chain.commit(vec![]);
        let (_, cert) = chain.blocks[0].clone();
        assert!(cert.verify(&chain.spec).is_ok());
        for nonce in 1..=16u8 {
            let mut forged = cert.clone();
            let s = forged.sigs[0];
            let msg = forged.vote_of(&chain.spec.chain_id, &s).signing_hash();
            forged.sigs[0].signature = mixed_order_r_signature(&test_key("v0"), &msg, nonce, 4);
            let key = chain.spec.genesis.validators[0].key;
            assert!(verify_batch("test", &[(key, msg, forged.sigs[0].signature)]).is_ok());
            assert!(forged.verify(&chain.spec).is_ok(), "nonce {nonce}");
            // Over another message it fails.
            forged.sigs[0].signature = mixed_order_r_signature(&test_key("v0"), &Hash::sha256(b"x"), nonce, 4);
            assert!(forged.verify(&chain.spec).is_err(), "nonce {nonce}");
        }
    }

    #[test]
    fn byte_level_r_check_matches_decoding() {
        let by_decoding = |r: [u8; 32]| match CompressedEdwardsY(r).decompress() {
            Some(p) => !p.is_small_order() && p.compress().to_bytes() == r,
            None => false,
        };
        let check = |r: [u8; 32]| {
            // Where R decodes, both checks agree; where it does not, decoding refuses it anyway.
            if CompressedEdwardsY(r).decompress().is_some() {
                assert_eq!(strict_r(&r), by_decoding(r), "R = {}", hex::encode(r));
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
            assert!(!strict_r(e), "small-order R {} passed", hex::encode(e));
        }
    }

    #[test]
    fn small_order_keys_are_refused() {
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(PublicKey(identity).check().is_err());
        assert!(SecretKey::from_seed(&[1; 32]).public().check().is_ok());
    }

    /// RFC 8032 section 7.1, TEST 1 and TEST 2: (secret seed, public key, message, signature).
    const RFC8032: [(&str, &str, &str, &str, &str); 2] = [
        (
            "rfc8032-7.1-test-1",
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "",
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        ),
        (
            "rfc8032-7.1-test-2",
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "72",
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        ),
    ];

    /// Known answers: RFC 8032's own vectors verify under both rules (and the seeds give those
    /// keys and signatures).
    #[test]
    fn rfc8032_vectors_verify() {
        for (name, seed, public, msg, sig) in RFC8032 {
            let seed: [u8; 32] = hex::decode(seed).unwrap().try_into().unwrap();
            let public: [u8; 32] = hex::decode(public).unwrap().try_into().unwrap();
            let msg = hex::decode(msg).unwrap();
            let sig: [u8; 64] = hex::decode(sig).unwrap().try_into().unwrap();
            let sk = ed25519_dalek::SigningKey::from_bytes(&seed);
            assert_eq!(sk.verifying_key().to_bytes(), public, "{name}: key");
            assert_eq!(sk.sign(&msg).to_bytes(), sig, "{name}: signature");
            assert!(verify_cofactored(&public, &msg, &sig), "{name}");
            assert!(cofactorless(&public, &msg, &sig), "{name}");
            let mut flipped = msg.clone();
            flipped.push(0);
            assert!(!verify_cofactored(&public, &flipped, &sig), "{name}: longer message");
        }
    }

    /// One case of the shared fixture: key, message, signature, the reason the rule of 6.3 refuses
    /// it (None: valid), and whether the cofactorless strict rule (6.4) accepts it.
    struct Case {
        name: String,
        key: [u8; 32],
        msg: Vec<u8>,
        sig: [u8; 64],
        refused: Option<&'static str>,
        cofactorless: bool,
    }

    fn fixture_cases() -> Vec<Case> {
        let mut out = Vec::new();
        let mut push = |name: &str, key: [u8; 32], msg: &[u8], sig: [u8; 64], refused: Option<&'static str>| {
            let cofactorless = cofactorless(&key, msg, &sig);
            out.push(Case { name: name.to_string(), key, msg: msg.to_vec(), sig, refused, cofactorless });
        };
        for (name, _, public, msg, sig) in RFC8032 {
            let public = hex::decode(public).unwrap().try_into().unwrap();
            push(name, public, &hex::decode(msg).unwrap(), hex::decode(sig).unwrap().try_into().unwrap(), None);
        }
        let key = test_key("platform");
        let a = key.public().0;
        let msg = Hash::sha256(b"curia ed25519 fixture");
        let m = &msg.0[..];
        let honest = key.sign(&msg).0;
        push("honest", a, m, honest, None);
        push("mixed-order-r-order-2", a, m, mixed_order_r_signature(&key, &msg, 1, 4).0, None);
        push("mixed-order-r-order-4", a, m, mixed_order_r_signature(&key, &msg, 2, 2).0, None);
        push("mixed-order-r-order-8", a, m, mixed_order_r_signature(&key, &msg, 3, 1).0, None);
        let (mk, ms) = mixed_order_key_signature(11, m);
        push("mixed-order-key", mk, m, ms, None);
        let wrong = Hash::sha256(b"another message");
        push(
            "mixed-order-r-wrong-message",
            a,
            &wrong.0,
            mixed_order_r_signature(&key, &msg, 1, 4).0,
            Some("signature equation does not hold"),
        );
        push("wrong-message", a, &wrong.0, honest, Some("signature equation does not hold"));
        push("s-plus-l", a, m, plus_l(honest), Some("non-canonical S (S >= L)"));
        // Small-order R (identity and a point of order 8) with S = k·a: the cofactored equation
        // holds, step 3 refuses.
        for (name, t) in [("small-order-r-identity", 0), ("small-order-r-order-8", 1)] {
            let r = EIGHT_TORSION[t].compress().to_bytes();
            let k = k_of(&r, &a, m);
            push(name, a, m, sig_of(&r, &(k * key.0.to_scalar())), Some("R is of small order"));
        }
        // A small-order key (order 8) with R = rB, S = r: the cofactored equation holds.
        let t = EIGHT_TORSION[1].compress().to_bytes();
        let rr = Scalar::from_bytes_mod_order([3; 32]);
        let big_r = (ED25519_BASEPOINT_POINT * rr).compress().to_bytes();
        push("small-order-key", t, m, sig_of(&big_r, &rr), Some("key is of small order"));
        // R = the point with y = 3 of large order encoded as y = p + 3 (non-canonical).
        let mut nc = honest;
        nc[..32]
            .copy_from_slice(&hex::decode("f0ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f").unwrap());
        assert!(CompressedEdwardsY(nc[..32].try_into().unwrap()).decompress().is_some_and(|p| !p.is_small_order()));
        push("r-not-canonical", a, m, nc, Some("R is not canonically encoded"));
        out
    }

    fn fixture_json(cases: &[Case]) -> String {
        let mut s = String::from("{\n  \"about\": \"ed25519 cases of docs/receipt-format.md 6.3 (cofactored) and 6.4 (cofactorless); written by `CURIA_WRITE_ED25519_FIXTURE=1 cargo test -p curia-ledger -- ed25519_fixture`\",\n  \"cases\": [\n");
        for (i, c) in cases.iter().enumerate() {
            let refused = c.refused.map_or("null".to_string(), |r| format!("\"{r}\""));
            s.push_str(&format!(
                "    {{\"name\": \"{}\", \"key\": \"{}\", \"msg\": \"{}\", \"sig\": \"{}\", \"refused\": {}, \"cofactorless\": {}}}{}\n",
                c.name,
                hex::encode(c.key),
                hex::encode(&c.msg),
                hex::encode(c.sig),
                refused,
                c.cofactorless,
                if i + 1 < cases.len() { "," } else { "" }
            ));
        }
        s.push_str("  ]\n}\n");
        s
    }

    /// The fixture shared with the Python verifier and the judge's page
    /// (`ledger/tests/data/ed25519/cases.json`): regenerated from the code above, compared byte for
    /// byte, and every case checked on both paths.
    #[test]
    fn ed25519_fixture() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ed25519/cases.json");
        let cases = fixture_cases();
        let json = fixture_json(&cases);
        if std::env::var_os("CURIA_WRITE_ED25519_FIXTURE").is_some() {
            std::fs::write(path, &json).unwrap();
        }
        assert_eq!(std::fs::read_to_string(path).unwrap(), json, "fixture differs: regenerate it");
        for c in &cases {
            let valid = verify_cofactored(&c.key, &c.msg, &c.sig);
            assert_eq!(valid, c.refused.is_none(), "{}", c.name);
            // Superset: whatever the cofactorless rule accepts, the cofactored one accepts.
            assert!(!c.cofactorless || valid, "{}", c.name);
            if c.name.starts_with("mixed-order") && valid {
                assert!(!c.cofactorless, "{}: only the cofactored rule accepts it", c.name);
            }
            if let Ok(msg) = <[u8; 32]>::try_from(&c.msg[..]) {
                let item = (PublicKey(c.key), Hash(msg), Signature(c.sig));
                assert_eq!(batch_equation_holds(&[item]), valid, "{}: batch", c.name);
                assert_eq!(verify_batch("test", &[item]).is_ok(), valid, "{}: verify_batch", c.name);
            }
        }
    }
}
