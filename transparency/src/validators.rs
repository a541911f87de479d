//! Checkpoints signed by a chain's validators (`docs/receipt-format.md` section 14.2).
//!
//! Rules implemented:
//!
//! - The log's origin is `curia/<chain ID as 64 lowercase hex digits>` ([`origin`]).
//! - The checkpoint after block `H` is the C2SP checkpoint text of the deposit log's size and
//!   root after `H`, with one extension line `height <H>` ([`checkpoint_text`]): the height
//!   names the validator set in force (the set that certified block `H`).
//! - A validator signs that text as a C2SP signed-note Ed25519 signature (type `0x01`) with its
//!   consensus key, under the key name of its validator name ([`validator_verifier`]). The text
//!   is always longer than 32 bytes, and the consensus key otherwise signs only 32-byte tagged
//!   hashes, so a note signature can never be taken for a vote or proposal signature.
//! - A checkpoint note is **complete** under a set when the distinct validators of the set whose
//!   signature lines verify hold at least the set's quorum power (more than two thirds of the
//!   total, [`curia_ledger::membership::ValidatorSet::quorum_power`]); lines of other keys (for
//!   example witness cosignatures) are ignored, a line of a validator key that does not verify
//!   fails the note ([`check_validator_note`]).

use curia_ledger::crypto::PublicKey;
use curia_ledger::membership::ValidatorSet;
use curia_ledger::Hash;
use ed25519_dalek::VerifyingKey;

use crate::checkpoint::{parse_decimal, Checkpoint};
use crate::note::{KeyKind, Note, SignatureLine, Verifier};
use crate::{Error, Result};

/// The deposit log's origin line for a chain.
pub fn origin(chain_id: &Hash) -> String {
    format!("curia/{}", chain_id.to_hex())
}

/// The checkpoint (with its `height <H>` extension line) of a log of `size` leaves with `root`
/// after block `height`.
pub fn checkpoint(chain_id: &Hash, height: u64, size: u64, root: Hash) -> Checkpoint {
    let mut cp = Checkpoint::new(&origin(chain_id), size, root);
    cp.extensions.push(format!("height {height}"));
    cp
}

/// The text a validator signs for the log after block `height`.
pub fn checkpoint_text(chain_id: &Hash, height: u64, size: u64, root: Hash) -> String {
    checkpoint(chain_id, height, size, root).to_text()
}

/// The note verifier (type `0x01`) of a validator: its name and consensus key.
pub fn validator_verifier(name: &str, key: &PublicKey) -> Result<Verifier> {
    let vk = VerifyingKey::from_bytes(&key.0).map_err(|_| Error::VerifierKey("not a valid Ed25519 public key"))?;
    Verifier::new(name, KeyKind::Ed25519, vk)
}

/// The block height a Curia checkpoint names (its one `height <H>` extension line).
pub fn checkpoint_height(cp: &Checkpoint) -> Result<u64> {
    let err = |reason| Error::Checkpoint { line: 4, reason };
    match cp.extensions.as_slice() {
        [line] => line
            .strip_prefix("height ")
            .and_then(parse_decimal)
            .ok_or(err("extension line is not \"height <decimal>\"")),
        _ => Err(err("a Curia checkpoint has exactly one extension line, \"height <H>\"")),
    }
}

/// What a complete validator checkpoint proved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorCheckpoint {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// The block it follows.
    pub height: u64,
    /// Indexes (in the set) of the validators whose signatures verified, ascending.
    pub signers: Vec<usize>,
    /// Their summed power.
    pub power: u64,
}

/// Checks a checkpoint note of chain `chain_id` against `set`, the validator set in force at
/// the height the checkpoint names (the caller looks it up with [`checkpoint_height`] first, or
/// passes the set it expects): origin, height line, and validators holding at least the set's
/// quorum power signed. Returns [`Error::QuorumNotMet`] with powers when too few signed.
pub fn check_validator_note(bytes: &[u8], chain_id: &Hash, set: &ValidatorSet) -> Result<ValidatorCheckpoint> {
    let note = Note::parse(bytes)?;
    let cp = Checkpoint::parse(&note.text)?;
    if cp.origin != origin(chain_id) {
        return Err(Error::Checkpoint { line: 1, reason: "origin is not this chain's log" });
    }
    let height = checkpoint_height(&cp)?;
    let mut signers = Vec::new();
    for sig in &note.signatures {
        if let Some(i) = signer_of(sig, set)? {
            let v = validator_verifier(&set.validators[i].name, &set.validators[i].key)?;
            if v.verify(&note.text, &sig.signature).is_none() {
                return Err(Error::InvalidSignature { name: sig.name.clone(), id: sig.key_id });
            }
            if !signers.contains(&i) {
                signers.push(i);
            }
        }
    }
    signers.sort_unstable();
    let power: u64 = signers.iter().map(|&i| set.validators[i].power).sum();
    if power < set.quorum_power() {
        return Err(Error::QuorumNotMet { have: power as usize, need: set.quorum_power() as usize });
    }
    Ok(ValidatorCheckpoint { checkpoint: cp, height, signers, power })
}

/// The index of the validator of `set` a signature line belongs to (same name and key ID of a
/// type `0x01` key), if any.
pub fn signer_of(sig: &SignatureLine, set: &ValidatorSet) -> Result<Option<usize>> {
    for (i, v) in set.validators.iter().enumerate() {
        if v.name == sig.name && validator_verifier(&v.name, &v.key)?.key_id == sig.key_id {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::Signer;
    use curia_ledger::genesis::{Validator, ValidatorRole};

    fn set(n: usize) -> (ValidatorSet, Vec<Signer>) {
        let mut vals = Vec::new();
        let mut signers = Vec::new();
        for i in 0..n {
            let seed = [i as u8 + 1; 32];
            let sk = curia_ledger::crypto::SecretKey::from_seed(&seed);
            let name = format!("v{i}");
            vals.push(Validator {
                name: name.clone(),
                role: ValidatorRole::Court,
                key: sk.public(),
                power: 1,
                address: String::new(),
            });
            signers.push(Signer::from_seed(&name, &seed).unwrap());
        }
        (ValidatorSet::new(vals), signers)
    }

    fn note(text: &str, signers: &[&Signer]) -> Vec<u8> {
        let mut bytes = format!("{text}\n").into_bytes();
        for s in signers {
            bytes.extend_from_slice(s.sign(text).unwrap().to_line().as_bytes());
        }
        bytes
    }

    #[test]
    fn quorum_of_power_in_the_set() {
        let chain = Hash([7; 32]);
        let (set, s) = set(4);
        let text = checkpoint_text(&chain, 12, 5, Hash([9; 32]));
        assert!(text.ends_with("\nheight 12\n"), "{text}");
        // 3 of 4 equal powers: quorum (3 > 8/3).
        let ok = check_validator_note(&note(&text, &[&s[0], &s[2], &s[3], &s[2]]), &chain, &set).unwrap();
        assert_eq!((ok.height, ok.signers.clone(), ok.power), (12, vec![0, 2, 3], 3));
        assert_eq!(ok.checkpoint.size, 5);
        // 2 of 4 (one repeated): not.
        assert_eq!(
            check_validator_note(&note(&text, &[&s[0], &s[1], &s[1]]), &chain, &set),
            Err(Error::QuorumNotMet { have: 2, need: 3 })
        );
        // Another chain's origin.
        assert!(matches!(
            check_validator_note(&note(&text, &[&s[0], &s[1], &s[2]]), &Hash([8; 32]), &set),
            Err(Error::Checkpoint { line: 1, .. })
        ));
        // A key with a validator's name but another key: not counted.
        let stranger = Signer::from_seed("v1", &[99; 32]).unwrap();
        assert!(matches!(
            check_validator_note(&note(&text, &[&s[0], &stranger, &s[2]]), &chain, &set),
            Err(Error::QuorumNotMet { have: 2, .. })
        ));
        // A validator's line that does not verify (signed another text) fails the note.
        let other = checkpoint_text(&chain, 13, 5, Hash([9; 32]));
        let mut bad = note(&text, &[&s[0], &s[1], &s[2]]);
        bad.extend_from_slice(s[3].sign(&other).unwrap().to_line().as_bytes());
        assert!(matches!(check_validator_note(&bad, &chain, &set), Err(Error::InvalidSignature { .. })));
    }

    #[test]
    fn height_line_rules() {
        let chain = Hash([7; 32]);
        let cp = checkpoint(&chain, 0, 0, Hash([0; 32]));
        assert_eq!(checkpoint_height(&cp), Ok(0));
        for bad in [vec![], vec!["height 01".to_string()], vec!["h 1".into()], vec!["height 1".into(), "x".into()]] {
            let mut c = cp.clone();
            c.extensions = bad.clone();
            assert!(checkpoint_height(&c).is_err(), "{bad:?}");
        }
    }
}
