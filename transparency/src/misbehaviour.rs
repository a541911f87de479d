//! Proofs of a split view (`docs/receipt-format.md` section 16): a self-contained file showing
//! that two signed checkpoints of one Curia deposit log cannot both describe one append-only
//! log, and who signed (or cosigned) both.
//!
//! Rules implemented:
//!
//! - The file is JSON (at most [`MAX_FILE_BYTES`]), exactly the members `format`
//!   (`"curia-split-view/v1"`), `first` and `second` (two signed checkpoint notes, byte for
//!   byte, `first`'s size not above `second`'s), `prefix_root` (64 lowercase hex digits: the
//!   root of `second`'s tree at `first`'s size), `consistency` (at most [`MAX_CONSISTENCY`] such
//!   hashes: the RFC 9162 consistency proof from `first`'s size to `second`'s), and the optional
//!   informative `first_from` / `second_from` (where the notes were fetched; at most
//!   [`MAX_FROM_BYTES`] each, covered by nothing). Anything else is malformed
//!   ([`Error::SplitViewFormat`]).
//! - It proves a split view when both checkpoints are of the chain's log (origin
//!   `curia/<chain ID>`), `consistency` verifies from (`first` size, `prefix_root`) to
//!   (`second` size, `second` root) (for equal sizes: empty, and `prefix_root` is `second`'s
//!   root), and `prefix_root` differs from `first`'s root: under SHA-256 collision resistance
//!   no log holds both trees. Then it names who vouched for both: the validators, if each note
//!   is complete under the set in force at its `height` line ([`crate::validators`]); and each
//!   witness key given whose valid `cosignature/v1` is on both notes. At least one of the two
//!   is required, else [`Error::NotASplitView`].
//! - A missing or refused consistency proof is never misbehaviour: the file must show the
//!   conflict itself.

use curia_ledger::membership::Membership;
use curia_ledger::merkle::verify_consistency;
use curia_ledger::Hash;
use serde::{Deserialize, Serialize};

use crate::checkpoint::Checkpoint;
use crate::note::{KeyKind, Note, Verifier};
use crate::validators::{check_validator_note, checkpoint_height, origin};
use crate::{Error, Result};

/// The `format` member.
pub const FORMAT: &str = "curia-split-view/v1";
/// Largest proof file: two notes (JSON escaping adds at most half) and a proof.
pub const MAX_FILE_BYTES: usize = 256 * 1024;
/// Most hashes in the consistency proof (RFC 9162 proofs of logs up to 2^62 leaves are shorter).
pub const MAX_CONSISTENCY: usize = 63;
/// Largest informative `first_from` / `second_from`.
pub const MAX_FROM_BYTES: usize = 1024;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    format: String,
    first: String,
    second: String,
    prefix_root: String,
    consistency: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    first_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    second_from: Option<String>,
}

/// A parsed proof file (syntax checked, nothing verified).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitView {
    /// The checkpoint note of the smaller (or equal) size.
    pub first: Vec<u8>,
    /// The other checkpoint note.
    pub second: Vec<u8>,
    /// The root of `second`'s tree at `first`'s size.
    pub prefix_root: Hash,
    /// Consistency proof from `first`'s size to `second`'s.
    pub consistency: Vec<Hash>,
    /// Where `first` came from (informative).
    pub first_from: Option<String>,
    /// Where `second` came from (informative).
    pub second_from: Option<String>,
}

fn format_err(m: impl Into<String>) -> Error {
    Error::SplitViewFormat(m.into())
}

fn parse_hash(s: &str, what: &str) -> Result<Hash> {
    if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(format_err(format!("{what} is not 64 lowercase hex digits")));
    }
    Hash::from_hex(s).map_err(|_| format_err(format!("{what} is not 64 lowercase hex digits")))
}

/// Parses a note and its checkpoint text, naming the member in errors.
fn parse_checkpoint(note: &[u8], what: &str) -> Result<(Note, Checkpoint)> {
    let n = Note::parse(note).map_err(|e| format_err(format!("{what}: {e}")))?;
    let cp = Checkpoint::parse(&n.text).map_err(|e| format_err(format!("{what}: {e}")))?;
    Ok((n, cp))
}

impl SplitView {
    /// Parses a proof file, checking every syntax rule (module docs).
    pub fn parse(bytes: &[u8]) -> Result<SplitView> {
        if bytes.len() > MAX_FILE_BYTES {
            return Err(format_err(format!("file is {} bytes, more than {MAX_FILE_BYTES}", bytes.len())));
        }
        let raw: Raw = serde_json::from_slice(bytes).map_err(|e| format_err(format!("not a proof file: {e}")))?;
        if raw.format != FORMAT {
            return Err(format_err(format!("format is not {FORMAT:?}")));
        }
        for (from, what) in [(&raw.first_from, "first_from"), (&raw.second_from, "second_from")] {
            if from.as_ref().is_some_and(|f| f.len() > MAX_FROM_BYTES) {
                return Err(format_err(format!("{what} is longer than {MAX_FROM_BYTES} bytes")));
            }
        }
        let (_, a) = parse_checkpoint(raw.first.as_bytes(), "first")?;
        let (_, b) = parse_checkpoint(raw.second.as_bytes(), "second")?;
        if a.size > b.size {
            return Err(format_err(format!("first's size {} is larger than second's {}", a.size, b.size)));
        }
        if raw.consistency.len() > MAX_CONSISTENCY {
            return Err(format_err(format!("consistency has more than {MAX_CONSISTENCY} hashes")));
        }
        let prefix_root = parse_hash(&raw.prefix_root, "prefix_root")?;
        let consistency = raw
            .consistency
            .iter()
            .enumerate()
            .map(|(i, h)| parse_hash(h, &format!("consistency[{i}]")))
            .collect::<Result<Vec<_>>>()?;
        Ok(SplitView {
            first: raw.first.into_bytes(),
            second: raw.second.into_bytes(),
            prefix_root,
            consistency,
            first_from: raw.first_from,
            second_from: raw.second_from,
        })
    }

    /// The file's JSON (pretty, members in the order of the spec).
    pub fn to_json(&self) -> String {
        let raw = Raw {
            format: FORMAT.to_string(),
            first: String::from_utf8_lossy(&self.first).into_owned(),
            second: String::from_utf8_lossy(&self.second).into_owned(),
            prefix_root: self.prefix_root.to_hex(),
            consistency: self.consistency.iter().map(Hash::to_hex).collect(),
            first_from: self.first_from.clone(),
            second_from: self.second_from.clone(),
        };
        let mut s = serde_json::to_string_pretty(&raw).expect("proof serializes");
        s.push('\n');
        s
    }
}

/// A validator whose signature is on both notes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DoubleSigner {
    /// Its name.
    pub name: String,
    /// Its consensus key.
    pub key: curia_ledger::crypto::PublicKey,
}

/// What the validators' signatures show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorsVerdict {
    /// Power that signed `first`, and the quorum power of the set in force at its height.
    pub first_power: (u64, u64),
    /// The same for `second`.
    pub second_power: (u64, u64),
    /// Validators (same name and key) that signed both, in `first`'s set order.
    pub signed_both: Vec<DoubleSigner>,
}

/// A witness whose cosignature is on both notes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DoubleCosigner {
    /// Its vkey.
    pub vkey: String,
    /// Its cosignature timestamps on `first` and `second`.
    pub times: (u64, u64),
}

/// What a valid proof shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The log's origin.
    pub origin: String,
    /// The smaller checkpoint.
    pub first: Checkpoint,
    /// The larger (or equal-sized) one.
    pub second: Checkpoint,
    /// Both notes complete under the validator sets in force at their heights, or why not.
    pub validators: std::result::Result<ValidatorsVerdict, String>,
    /// Given witness keys that cosigned both.
    pub witnesses: Vec<DoubleCosigner>,
}

/// Whether two checkpoints are shown to conflict: same origin, `first` not larger, `proof`
/// verifies from (`first.size`, `prefix_root`) to `second`, and `prefix_root` is not `first`'s
/// root. `Ok(())` when they conflict, else [`Error::NotASplitView`] with the reason.
pub fn check_conflict(first: &Checkpoint, second: &Checkpoint, prefix_root: &Hash, proof: &[Hash]) -> Result<()> {
    let not = |m: String| Err(Error::NotASplitView(m));
    if first.origin != second.origin {
        return not(format!("the checkpoints are of two logs ({:?} and {:?})", first.origin, second.origin));
    }
    if first.size > second.size {
        return not("the first checkpoint is larger than the second".into());
    }
    if let Err(e) = verify_consistency(first.size, second.size, prefix_root, &second.root, proof) {
        return not(format!(
            "the consistency proof from size {} to the second checkpoint does not verify ({e}): the file does not show what the second log held at size {}",
            first.size, first.size
        ));
    }
    if *prefix_root == first.root {
        return not(format!(
            "the two checkpoints are consistent: the second log's first {} leaves have the first checkpoint's root",
            first.size
        ));
    }
    Ok(())
}

/// Verifies a proof against the chain (`chain_id`, the validator sets of `members`: the genesis
/// set and the membership history walked from it, covering both heights) and the witness
/// cosignature keys the verifier trusts. [`Error::NotASplitView`] if it proves nothing.
pub fn verify(view: &SplitView, chain_id: &Hash, members: &Membership, witnesses: &[Verifier]) -> Result<Verdict> {
    if let Some(w) = witnesses.iter().find(|w| w.kind != KeyKind::CosignatureV1) {
        return Err(Error::VerifierKey(if w.kind == KeyKind::Ed25519 {
            "a witness key must be a cosignature/v1 (type 0x04) key, not a note key"
        } else {
            "a witness key must be a cosignature/v1 (type 0x04) key"
        }));
    }
    let (na, a) = parse_checkpoint(&view.first, "first")?;
    let (nb, b) = parse_checkpoint(&view.second, "second")?;
    let want = origin(chain_id);
    if a.origin != want {
        return Err(Error::NotASplitView(format!("the first checkpoint is not of this chain's log {want:?}")));
    }
    check_conflict(&a, &b, &view.prefix_root, &view.consistency)?;

    let complete = |bytes: &[u8], cp: &Checkpoint, what: &str| -> std::result::Result<_, String> {
        let h = checkpoint_height(cp).map_err(|e| format!("{what}: {e}"))?;
        let set = members.set_at(h);
        let ok = check_validator_note(bytes, chain_id, set)
            .map_err(|e| format!("{what} (height {h}) is not complete under the validator set in force: {e}"))?;
        Ok((ok, set.clone()))
    };
    let validators = complete(&view.first, &a, "first").and_then(|(va, sa)| {
        let (vb, sb) = complete(&view.second, &b, "second")?;
        let signed_both = va
            .signers
            .iter()
            .map(|&i| &sa.validators[i])
            .filter(|v| vb.signers.iter().any(|&j| sb.validators[j].name == v.name && sb.validators[j].key == v.key))
            .map(|v| DoubleSigner { name: v.name.clone(), key: v.key })
            .collect();
        Ok(ValidatorsVerdict {
            first_power: (va.power, sa.quorum_power()),
            second_power: (vb.power, sb.quorum_power()),
            signed_both,
        })
    });

    let cosigned = |n: &Note, w: &Verifier| {
        n.signatures
            .iter()
            .filter(|s| s.name == w.name && s.key_id == w.key_id)
            .find_map(|s| w.verify(&n.text, &s.signature).flatten())
    };
    let witnesses: Vec<DoubleCosigner> = witnesses
        .iter()
        .filter_map(|w| Some(DoubleCosigner { vkey: w.to_vkey(), times: (cosigned(&na, w)?, cosigned(&nb, w)?) }))
        .collect();
    if let (Err(why), true) = (&validators, witnesses.is_empty()) {
        return Err(Error::NotASplitView(format!(
            "the checkpoints conflict but nobody is shown to vouch for both: {why}; and no given witness key cosigned both"
        )));
    }
    Ok(Verdict { origin: want, first: a, second: b, validators, witnesses })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cosignature::cosign;
    use crate::note::Signer;
    use crate::validators::checkpoint_text;
    use curia_ledger::genesis::{Validator, ValidatorRole};
    use curia_ledger::membership::ValidatorSet;
    use curia_ledger::merkle::leaf_hash;
    use curia_ledger::tlog::MemLog;
    use std::sync::Arc;

    const CHAIN: Hash = Hash([7; 32]);

    fn chain() -> (Membership, Vec<Signer>) {
        let mut vals = Vec::new();
        let mut signers = Vec::new();
        for i in 0..4u8 {
            let seed = [i + 1; 32];
            let name = format!("court-{i}");
            vals.push(Validator {
                name: name.clone(),
                role: ValidatorRole::Court,
                key: curia_ledger::crypto::SecretKey::from_seed(&seed).public(),
                power: 1,
                address: String::new(),
            });
            signers.push(Signer::from_seed(&name, &seed).unwrap());
        }
        (Membership::new(Arc::new(ValidatorSet::new(vals))), signers)
    }

    fn log(n: u64, tag: &str) -> MemLog {
        let mut l = MemLog::new();
        for i in 0..n {
            l.append(leaf_hash(format!("{tag}{i}").as_bytes())).unwrap();
        }
        l
    }

    /// A note of the checkpoint after `height` of `l` at `size`, signed by `signers` and
    /// cosigned by `witnesses` at time 1000.
    fn note(l: &MemLog, size: u64, height: u64, signers: &[&Signer], witnesses: &[&Signer]) -> Vec<u8> {
        let text = checkpoint_text(&CHAIN, height, size, l.root_at(size).unwrap());
        let mut sigs: Vec<_> = signers.iter().map(|s| s.sign(&text).unwrap()).collect();
        sigs.extend(witnesses.iter().map(|w| cosign(w, &text, 1000).unwrap()));
        Note { text, signatures: sigs }.to_bytes()
    }

    fn view(first: Vec<u8>, second: Vec<u8>, second_log: &MemLog, a: u64, b: u64) -> SplitView {
        let proof = if a == b { vec![] } else { second_log.consistency_proof(a, b).unwrap() };
        SplitView {
            first,
            second,
            prefix_root: second_log.root_at(a).unwrap(),
            consistency: proof,
            first_from: Some("http://127.0.0.1:1/v1/checkpoint".into()),
            second_from: None,
        }
    }

    fn reparse(v: &SplitView) -> SplitView {
        let back = SplitView::parse(v.to_json().as_bytes()).unwrap();
        assert_eq!(&back, v);
        back
    }

    #[test]
    fn same_size_different_roots_names_the_double_signers() {
        let (m, s) = chain();
        let (honest, fork) = (log(5, "h"), log(5, "f"));
        let first = note(&fork, 5, 9, &[&s[0], &s[1], &s[2]], &[]);
        let second = note(&honest, 5, 8, &[&s[1], &s[2], &s[3]], &[]);
        let v = reparse(&view(first, second, &honest, 5, 5));
        let verdict = verify(&v, &CHAIN, &m, &[]).unwrap();
        let vals = verdict.validators.unwrap();
        let names: Vec<&str> = vals.signed_both.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["court-1", "court-2"]);
        assert_eq!((vals.first_power, vals.second_power), ((3, 3), (3, 3)));
        assert_eq!((verdict.first.size, verdict.second.size), (5, 5));
        assert!(verdict.witnesses.is_empty());
    }

    #[test]
    fn smaller_fork_shown_by_the_larger_logs_consistency_proof() {
        let (m, s) = chain();
        // The fork rewrites leaf 1 of a log of 3; the honest log grew to 7.
        let honest = log(7, "h");
        let mut fork = MemLog::new();
        for i in 0..3u64 {
            fork.append(leaf_hash(
                if i == 1 { b"rewritten".to_vec() } else { format!("h{i}").into_bytes() }.as_slice(),
            ))
            .unwrap();
        }
        let w = Signer::from_seed("witness.test/w1", &[50; 32]).unwrap();
        let first = note(&fork, 3, 4, &[&s[0], &s[1], &s[3]], &[&w]);
        let second = note(&honest, 7, 10, &s.iter().collect::<Vec<_>>(), &[&w]);
        let v = reparse(&view(first.clone(), second.clone(), &honest, 3, 7));
        let wk = w.verifier(KeyKind::CosignatureV1);
        let verdict = verify(&v, &CHAIN, &m, std::slice::from_ref(&wk)).unwrap();
        assert_eq!(verdict.validators.unwrap().signed_both.len(), 3);
        assert_eq!(verdict.witnesses, vec![DoubleCosigner { vkey: wk.to_vkey(), times: (1000, 1000) }]);

        // The honest log's own older checkpoint is consistent with it: no proof.
        let older = note(&honest, 3, 4, &[&s[0], &s[1], &s[3]], &[]);
        let e = verify(&view(older, second.clone(), &honest, 3, 7), &CHAIN, &m, &[]).unwrap_err();
        assert!(matches!(&e, Error::NotASplitView(m) if m.contains("consistent")), "{e}");

        // The file must show the larger log's prefix: the fork's own root with the honest
        // proof does not verify, and neither does a missing proof.
        let mut lying = v.clone();
        lying.prefix_root = fork.root();
        assert!(
            matches!(verify(&lying, &CHAIN, &m, &[]), Err(Error::NotASplitView(m)) if m.contains("does not verify"))
        );
        let mut no_proof = v.clone();
        no_proof.consistency.clear();
        assert!(matches!(verify(&no_proof, &CHAIN, &m, &[]), Err(Error::NotASplitView(_))));
        let mut bent = v.clone();
        bent.consistency[0].0[0] ^= 1;
        assert!(matches!(verify(&bent, &CHAIN, &m, &[]), Err(Error::NotASplitView(_))));
    }

    #[test]
    fn tampered_and_trivial_files_prove_nothing() {
        let (m, s) = chain();
        let (honest, fork) = (log(5, "h"), log(5, "f"));
        let first = note(&fork, 5, 9, &[&s[0], &s[1], &s[2]], &[]);
        let second = note(&honest, 5, 8, &[&s[1], &s[2], &s[3]], &[]);
        let good = view(first.clone(), second.clone(), &honest, 5, 5);
        assert!(verify(&good, &CHAIN, &m, &[]).is_ok());

        // The same note twice, and two heights of one tree, are no conflict.
        let same = view(second.clone(), second.clone(), &honest, 5, 5);
        assert!(matches!(verify(&same, &CHAIN, &m, &[]), Err(Error::NotASplitView(m)) if m.contains("consistent")));
        let later = note(&honest, 5, 12, &[&s[0], &s[1], &s[2]], &[]);
        let heights = view(second.clone(), later, &honest, 5, 5);
        assert!(matches!(verify(&heights, &CHAIN, &m, &[]), Err(Error::NotASplitView(_))));

        // A signature altered (one byte of the base64 of the fork's last validator line): that
        // note no longer verifies, so nobody is shown to have signed both.
        let text = String::from_utf8(first.clone()).unwrap();
        let last = text.trim_end().rsplit(' ').next().unwrap().to_string();
        let mut chars: Vec<char> = last.chars().collect();
        chars[10] = if chars[10] == 'A' { 'B' } else { 'A' };
        let tampered = text.replace(&last, &chars.into_iter().collect::<String>());
        let mut t = good.clone();
        t.first = tampered.into_bytes();
        let e = verify(&t, &CHAIN, &m, &[]).unwrap_err();
        assert!(matches!(&e, Error::NotASplitView(m) if m.contains("invalid signature")), "{e}");

        // The fork's root changed after signing: signatures fail again.
        let mut t = good.clone();
        let other_root = crate::validators::checkpoint_text(&CHAIN, 9, 5, Hash([1; 32]));
        let old_text = Note::parse(&first).unwrap().text;
        t.first = String::from_utf8(first.clone()).unwrap().replace(&old_text, &other_root).into_bytes();
        assert!(matches!(verify(&t, &CHAIN, &m, &[]), Err(Error::NotASplitView(_))));

        // Only two validators signed the fork: not complete, and no witness vouches.
        let weak = note(&fork, 5, 9, &[&s[0], &s[1]], &[]);
        let e = verify(&view(weak, second.clone(), &honest, 5, 5), &CHAIN, &m, &[]).unwrap_err();
        assert!(
            matches!(&e, Error::NotASplitView(m) if m.contains("2 of the log's trusted keys") || m.contains("not complete")),
            "{e}"
        );

        // Another chain's log.
        assert!(matches!(verify(&good, &Hash([8; 32]), &m, &[]), Err(Error::NotASplitView(_))));
    }

    #[test]
    fn a_witness_that_cosigned_both_is_enough() {
        let (m, s) = chain();
        let (honest, fork) = (log(4, "h"), log(4, "f"));
        let w = Signer::from_seed("bar.example/w1", &[60; 32]).unwrap();
        let other = Signer::from_seed("procur.example/w1", &[61; 32]).unwrap();
        let first = note(&fork, 4, 3, &[&s[0]], &[&w, &other]);
        let second = note(&honest, 4, 3, &[&s[1]], &[&w]);
        let v = view(first, second, &honest, 4, 4);
        let keys = [w.verifier(KeyKind::CosignatureV1), other.verifier(KeyKind::CosignatureV1)];
        let verdict = verify(&v, &CHAIN, &m, &keys).unwrap();
        assert!(verdict.validators.is_err());
        assert_eq!(verdict.witnesses.len(), 1);
        assert_eq!(verdict.witnesses[0].vkey, keys[0].to_vkey());
        // Without that witness's key, nothing is proved.
        assert!(matches!(verify(&v, &CHAIN, &m, &keys[1..]), Err(Error::NotASplitView(_))));
        // A note key is not a witness key.
        assert!(matches!(verify(&v, &CHAIN, &m, &[s[0].verifier(KeyKind::Ed25519)]), Err(Error::VerifierKey(_))));
    }

    #[test]
    fn malformed_files_are_refused_with_their_reason() {
        let (_, s) = chain();
        let (honest, fork) = (log(5, "h"), log(3, "f"));
        let small = note(&fork, 3, 2, &[&s[0], &s[1], &s[2]], &[]);
        let big = note(&honest, 5, 8, &[&s[1], &s[2], &s[3]], &[]);
        let good = view(small.clone(), big.clone(), &honest, 3, 5).to_json();
        assert!(SplitView::parse(good.as_bytes()).is_ok());
        let v: serde_json::Value = serde_json::from_str(&good).unwrap();
        let edit = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut x = v.clone();
            f(&mut x);
            SplitView::parse(x.to_string().as_bytes()).unwrap_err().to_string()
        };
        for (got, want) in [
            (edit(&|x| x["format"] = "curia-split-view/v2".into()), "format is not"),
            (edit(&|x| x["extra"] = 1.into()), "unknown field"),
            (edit(&|x| x.as_object_mut().unwrap().remove("consistency").map(|_| ()).unwrap()), "missing field"),
            (
                edit(&|x| x["prefix_root"] = x["prefix_root"].as_str().unwrap().to_uppercase().into()),
                "prefix_root is not 64",
            ),
            (edit(&|x| x["consistency"][0] = "00".into()), "consistency[0] is not 64"),
            (edit(&|x| x["consistency"] = vec![Hash([0; 32]).to_hex(); 64].into()), "more than 63"),
            (edit(&|x| x["first"] = "no note\n".into()), "first: note has no blank line"),
            (
                edit(&|x| x["second"] = x["second"].as_str().unwrap().replacen("\n5\n", "\n05\n", 1).into()),
                "second: checkpoint line 2",
            ),
            (edit(&|x| x.as_object_mut().unwrap().remove("first").map(|_| ()).unwrap()), "missing field"),
            (edit(&|x| x["first_from"] = "u".repeat(1025).into()), "first_from is longer"),
        ] {
            assert!(got.contains(want), "{got:?} lacks {want:?}");
        }
        // Swapped: the larger first.
        let swapped = SplitView { first: big, second: small, ..view(vec![], vec![], &honest, 3, 5) };
        let e = SplitView::parse(swapped.to_json().as_bytes()).unwrap_err().to_string();
        assert!(e.contains("larger than second"), "{e}");
        assert!(SplitView::parse(b"not json").unwrap_err().to_string().contains("not a proof file"));
        let huge = vec![b' '; MAX_FILE_BYTES + 1];
        assert!(SplitView::parse(&huge).unwrap_err().to_string().contains("more than"));
    }
}
