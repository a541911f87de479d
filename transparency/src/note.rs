//! Signed notes, c2sp.org/signed-note, as implemented by Go's `golang.org/x/mod/sumdb/note`.
//!
//! Rules implemented:
//!
//! - A note is at most [`MAX_NOTE_BYTES`] bytes of UTF-8 with no ASCII control character other
//!   than newline. Its text ends at the *last* blank line (`"\n\n"`) and includes the newline
//!   before it; after the blank line come one or more signature lines, each ending in a
//!   newline: `"— " name " " base64(key ID (4 bytes, big-endian) || signature)`. At most
//!   [`MAX_SIGNATURES`] lines (Go's limit; the spec requires accepting at least 16).
//! - Key names are non-empty and hold no Unicode space and no `+`.
//! - Base64 is RFC 4648 standard base64 with padding; non-canonical encodings (non-zero
//!   trailing bits) are rejected. A decoded signature has at least 5 bytes.
//! - Key IDs: `SHA-256(name || 0x0A || type || public key)[:4]`, type `0x01` for Ed25519 note
//!   signatures and `0x04` for Ed25519 cosignatures ([`crate::cosignature`]).
//! - Verifier keys: `name+hex(key ID)+base64(type || public key)`, the key ID as 8 lowercase hex
//!   digits, which must equal the computed one. Signer keys (Go's format):
//!   `PRIVATE+KEY+name+hex(key ID)+base64(0x01 || 32-byte Ed25519 seed)`.
//! - Opening a note against trusted keys ([`open`]): a signature line whose (name, key ID)
//!   matches no trusted key is kept as unverified and otherwise ignored; one that matches two
//!   trusted keys is [`Error::AmbiguousKey`]; one that matches a key but does not verify fails
//!   the whole note ([`Error::InvalidSignature`]); repeated lines of one key count once; a note
//!   with no verified signature is [`Error::NoVerifiedSignature`]. Ed25519 verification is
//!   RFC 8032 with `verify_strict` (canonical `S`, no small-order keys, the cofactorless
//!   equation): receipt format 6.4, the rule outside tools use for signed notes. The ledger's own
//!   signatures use the cofactored rule of 6.3 instead.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::cosignature;
use crate::{Error, Result};

/// The largest note accepted, in bytes.
pub const MAX_NOTE_BYTES: usize = 64 * 1024;
/// The most signature lines a note may carry.
pub const MAX_SIGNATURES: usize = 100;
/// The prefix of a signature line: em dash (U+2014) and a space.
pub const SIG_PREFIX: &str = "\u{2014} ";

/// Signature type byte of Ed25519 note signatures.
pub const TYPE_ED25519: u8 = 0x01;
/// Signature type byte of timestamped Ed25519 cosignatures (`cosignature/v1`).
pub const TYPE_COSIGNATURE_V1: u8 = 0x04;

/// One signature line of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureLine {
    /// The key name.
    pub name: String,
    /// The 4-byte key ID.
    pub key_id: u32,
    /// The signature bytes after the key ID.
    pub signature: Vec<u8>,
}

impl SignatureLine {
    /// The line as it appears in a note, with its final newline.
    pub fn to_line(&self) -> String {
        let mut raw = self.key_id.to_be_bytes().to_vec();
        raw.extend_from_slice(&self.signature);
        format!("{SIG_PREFIX}{} {}\n", self.name, B64.encode(raw))
    }

    /// Parses one signature line, without its final newline. `line` is its 1-based number in
    /// the signature block, for the error.
    pub fn parse(text: &str, line: usize) -> Result<Self> {
        let err = |reason| Error::SignatureLine { line, reason };
        let rest = text.strip_prefix(SIG_PREFIX).ok_or(err("does not start with an em dash and a space"))?;
        let (name, b64) = rest.split_once(' ').ok_or(err("has no space between key name and signature"))?;
        check_name(name).map_err(|_| err("key name is empty or holds a space or '+'"))?;
        if b64.is_empty() {
            return Err(err("signature is empty"));
        }
        let raw = B64.decode(b64).map_err(|_| err("signature is not canonical standard base64"))?;
        if raw.len() < 5 {
            return Err(err("signature is shorter than a key ID and one byte"));
        }
        let key_id = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
        Ok(SignatureLine { name: name.to_string(), key_id, signature: raw[4..].to_vec() })
    }
}

/// A note split into its text and its signature lines (not yet verified).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// The signed text, ending in a newline.
    pub text: String,
    /// The signature lines, in order.
    pub signatures: Vec<SignatureLine>,
}

impl Note {
    /// Splits `bytes` into text and signature lines, checking the note's syntax (size, UTF-8,
    /// control characters, blank line, signature line syntax and count). Verifies nothing.
    pub fn parse(bytes: &[u8]) -> Result<Note> {
        if bytes.len() > MAX_NOTE_BYTES {
            return Err(Error::NoteTooLarge { len: bytes.len(), max: MAX_NOTE_BYTES });
        }
        let s = std::str::from_utf8(bytes).map_err(|e| Error::NoteNotUtf8 { offset: e.valid_up_to() })?;
        if let Some(offset) = s.bytes().position(|b| b < 0x20 && b != b'\n') {
            return Err(Error::NoteControlChar { byte: bytes[offset], offset });
        }
        let split = s.rfind("\n\n").ok_or(Error::NoteNoSeparator)?;
        let (text, sigs) = (&s[..split + 1], &s[split + 2..]);
        if sigs.is_empty() {
            return Err(Error::NoteSignatureBlock("is empty"));
        }
        let body = sigs.strip_suffix('\n').ok_or(Error::NoteSignatureBlock("does not end with a newline"))?;
        let mut signatures = Vec::new();
        for (i, line) in body.split('\n').enumerate() {
            if i >= MAX_SIGNATURES {
                return Err(Error::NoteTooManySignatures { max: MAX_SIGNATURES });
            }
            signatures.push(SignatureLine::parse(line, i + 1)?);
        }
        Ok(Note { text: text.to_string(), signatures })
    }

    /// The note's bytes: text, blank line, signature lines.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.text.clone();
        out.push('\n');
        for s in &self.signatures {
            out.push_str(&s.to_line());
        }
        out.into_bytes()
    }
}

/// Checks the rules for a note text that is to be signed: at most [`MAX_NOTE_BYTES`], no
/// control characters but newline, ends in a newline, and no blank line at its end (the text
/// `"\n"` alone aside, a text ending in `"\n\n"` would be split differently when parsed).
pub fn check_text(text: &str) -> Result<()> {
    if text.len() > MAX_NOTE_BYTES {
        return Err(Error::NoteTooLarge { len: text.len(), max: MAX_NOTE_BYTES });
    }
    if let Some(offset) = text.bytes().position(|b| b < 0x20 && b != b'\n') {
        return Err(Error::NoteControlChar { byte: text.as_bytes()[offset], offset });
    }
    if !text.ends_with('\n') {
        return Err(Error::NoteText("does not end with a newline"));
    }
    if text.ends_with("\n\n") {
        return Err(Error::NoteText("ends with a blank line"));
    }
    Ok(())
}

/// Checks a key name: non-empty, no Unicode white space, no `+`.
pub fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(Error::KeyName(name.to_string()));
    }
    Ok(())
}

/// The key ID `SHA-256(name || 0x0A || type || public key)[:4]` as a big-endian `u32`.
pub fn key_id(name: &str, sig_type: u8, public_key: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', sig_type]);
    h.update(public_key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// What a trusted key verifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// Ed25519 signatures over the note text (type `0x01`).
    Ed25519,
    /// Timestamped Ed25519 cosignatures `cosignature/v1` (type `0x04`).
    CosignatureV1,
}

impl KeyKind {
    /// The signature type byte.
    pub fn type_byte(self) -> u8 {
        match self {
            KeyKind::Ed25519 => TYPE_ED25519,
            KeyKind::CosignatureV1 => TYPE_COSIGNATURE_V1,
        }
    }
}

/// A trusted public key: name, key ID, kind and Ed25519 key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verifier {
    /// The key name.
    pub name: String,
    /// The key ID.
    pub key_id: u32,
    /// What it verifies.
    pub kind: KeyKind,
    /// The Ed25519 public key.
    pub key: VerifyingKey,
}

impl Verifier {
    /// A verifier for `key` under `name`, with the key ID the spec derives.
    pub fn new(name: &str, kind: KeyKind, key: VerifyingKey) -> Result<Verifier> {
        check_name(name)?;
        let key_id = key_id(name, kind.type_byte(), key.as_bytes());
        Ok(Verifier { name: name.to_string(), key_id, kind, key })
    }

    /// Parses a vkey `name+hex(key ID)+base64(type || public key)` (types `0x01` and `0x04`).
    pub fn parse(vkey: &str) -> Result<Verifier> {
        let e = Error::VerifierKey;
        let mut parts = vkey.splitn(3, '+');
        let (name, id_hex, b64) = match (parts.next(), parts.next(), parts.next()) {
            (Some(n), Some(i), Some(b)) => (n, i, b),
            _ => return Err(e("not of the form name+hash+key")),
        };
        check_name(name).map_err(|_| e("key name is empty or holds a space or '+'"))?;
        let id = parse_key_id(id_hex).ok_or(e("key ID is not 8 lowercase hex digits"))?;
        let raw = B64.decode(b64).map_err(|_| e("key is not canonical standard base64"))?;
        let (&ty, pk) = raw.split_first().ok_or(e("key is empty"))?;
        let kind = match ty {
            TYPE_ED25519 => KeyKind::Ed25519,
            TYPE_COSIGNATURE_V1 => KeyKind::CosignatureV1,
            _ => return Err(e("unsupported signature type (only 0x01 and 0x04)")),
        };
        let pk: [u8; 32] = pk.try_into().map_err(|_| e("Ed25519 public key is not 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&pk).map_err(|_| e("not a valid Ed25519 public key"))?;
        if id != key_id(name, ty, &pk) {
            return Err(e("key ID does not match the name and key"));
        }
        Ok(Verifier { name: name.to_string(), key_id: id, kind, key })
    }

    /// The vkey text `name+hex(key ID)+base64(type || public key)`.
    pub fn to_vkey(&self) -> String {
        let mut raw = vec![self.kind.type_byte()];
        raw.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.key_id, B64.encode(raw))
    }

    /// Whether `sig` (after the key ID) is this key's valid signature over note `text`.
    /// For a cosignature key, also returns its timestamp.
    pub fn verify(&self, text: &str, sig: &[u8]) -> Option<Option<u64>> {
        match self.kind {
            KeyKind::Ed25519 => {
                let s = ed25519_dalek::Signature::from_slice(sig).ok()?;
                self.key.verify_strict(text.as_bytes(), &s).ok().map(|()| None)
            }
            KeyKind::CosignatureV1 => cosignature::verify(&self.key, text, sig).ok().map(Some),
        }
    }
}

/// Parses exactly 8 lowercase hex digits.
fn parse_key_id(s: &str) -> Option<u32> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

/// An Ed25519 note signer (type `0x01`): a name and a secret key.
#[derive(Clone)]
pub struct Signer {
    name: String,
    key: SigningKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({})", self.name)
    }
}

impl Signer {
    /// A signer from a name and a 32-byte Ed25519 seed.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Signer> {
        check_name(name)?;
        Ok(Signer { name: name.to_string(), key: SigningKey::from_bytes(seed) })
    }

    /// Parses Go's signer key format `PRIVATE+KEY+name+hex(key ID)+base64(0x01 || seed)`.
    pub fn parse(skey: &str) -> Result<Signer> {
        let e = Error::SignerKey;
        let rest = skey.strip_prefix("PRIVATE+KEY+").ok_or(e("does not start with PRIVATE+KEY+"))?;
        let mut parts = rest.splitn(3, '+');
        let (name, id_hex, b64) = match (parts.next(), parts.next(), parts.next()) {
            (Some(n), Some(i), Some(b)) => (n, i, b),
            _ => return Err(e("not of the form PRIVATE+KEY+name+hash+key")),
        };
        check_name(name).map_err(|_| e("key name is empty or holds a space or '+'"))?;
        let id = parse_key_id(id_hex).ok_or(e("key ID is not 8 lowercase hex digits"))?;
        let raw = B64.decode(b64).map_err(|_| e("key is not canonical standard base64"))?;
        let (&ty, seed) = raw.split_first().ok_or(e("key is empty"))?;
        if ty != TYPE_ED25519 {
            return Err(e("unsupported signature type (only 0x01)"));
        }
        let seed: [u8; 32] = seed.try_into().map_err(|_| e("Ed25519 seed is not 32 bytes"))?;
        let signer = Signer::from_seed(name, &seed)?;
        if id != signer.verifier(KeyKind::Ed25519).key_id {
            return Err(e("key ID does not match the name and key"));
        }
        Ok(signer)
    }

    /// The signer key text (Go's format). Secret: store it with care.
    pub fn to_skey(&self) -> String {
        let mut raw = vec![TYPE_ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        format!("PRIVATE+KEY+{}+{:08x}+{}", self.name, self.verifier(KeyKind::Ed25519).key_id, B64.encode(raw))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The Ed25519 secret key.
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// The public key as a verifier of the given kind (the same key serves both kinds, with
    /// different key IDs; the cosignature spec asks for distinct keys per cosigner, not per kind).
    pub fn verifier(&self, kind: KeyKind) -> Verifier {
        Verifier {
            name: self.name.clone(),
            key_id: key_id(&self.name, kind.type_byte(), self.key.verifying_key().as_bytes()),
            kind,
            key: self.key.verifying_key(),
        }
    }

    /// The Ed25519 (type `0x01`) signature line over `text`.
    pub fn sign(&self, text: &str) -> Result<SignatureLine> {
        check_text(text)?;
        Ok(SignatureLine {
            name: self.name.clone(),
            key_id: self.verifier(KeyKind::Ed25519).key_id,
            signature: self.key.sign(text.as_bytes()).to_bytes().to_vec(),
        })
    }
}

/// A note whose signatures were checked against trusted keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    /// The note text.
    pub text: String,
    /// Signature lines that verified, one per trusted key, in order of appearance, with the
    /// verifier's index in the trusted list and (for cosignatures) the timestamp.
    pub verified: Vec<(SignatureLine, usize, Option<u64>)>,
    /// Signature lines from unknown keys (ignored), without repeats.
    pub unverified: Vec<SignatureLine>,
}

/// Parses `bytes` as a note and verifies its signatures against `trusted` (rules in the module
/// documentation). Fails with [`Error::NoVerifiedSignature`] if no trusted key signed.
pub fn open(bytes: &[u8], trusted: &[Verifier]) -> Result<Opened> {
    let note = Note::parse(bytes)?;
    let mut verified: Vec<(SignatureLine, usize, Option<u64>)> = Vec::new();
    let mut unverified: Vec<SignatureLine> = Vec::new();
    for sig in note.signatures {
        let mut matches = trusted.iter().enumerate().filter(|(_, v)| v.name == sig.name && v.key_id == sig.key_id);
        let Some((index, v)) = matches.next() else {
            if !unverified.contains(&sig) {
                unverified.push(sig);
            }
            continue;
        };
        if matches.next().is_some() {
            return Err(Error::AmbiguousKey { name: sig.name, id: sig.key_id });
        }
        if verified.iter().any(|(_, i, _)| *i == index) {
            continue;
        }
        let Some(time) = v.verify(&note.text, &sig.signature) else {
            return Err(Error::InvalidSignature { name: sig.name, id: sig.key_id });
        };
        verified.push((sig, index, time));
    }
    if verified.is_empty() {
        return Err(Error::NoVerifiedSignature);
    }
    Ok(Opened { text: note.text, verified, unverified })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_id_and_vkey_roundtrip() {
        let s = Signer::from_seed("example.com/log", &[7; 32]).unwrap();
        for kind in [KeyKind::Ed25519, KeyKind::CosignatureV1] {
            let v = s.verifier(kind);
            assert_eq!(Verifier::parse(&v.to_vkey()).unwrap(), v);
        }
        assert_ne!(s.verifier(KeyKind::Ed25519).key_id, s.verifier(KeyKind::CosignatureV1).key_id);
        assert_eq!(Signer::parse(&s.to_skey()).unwrap().to_skey(), s.to_skey());
    }

    #[test]
    fn check_text_rules() {
        assert!(check_text("a\n").is_ok());
        assert_eq!(check_text("a"), Err(Error::NoteText("does not end with a newline")));
        assert_eq!(check_text("a\n\n"), Err(Error::NoteText("ends with a blank line")));
        assert_eq!(check_text("a\tb\n"), Err(Error::NoteControlChar { byte: 9, offset: 1 }));
    }
}
