//! Known-answer tests of `curia_ledger::merkle` against the RFC 6962 vectors of
//! transparency-dev/merkle (Apache-2.0), copied into `tests/data/rfc6962/` (see its README).
//!
//! Every vector file is run. Happy paths must verify; every `wantErr: true` vector must be
//! rejected, either by the verifier or because one of its values is not a 32-byte hash and so
//! cannot even be turned into a [`Hash`] (our API only takes 32-byte hashes). The two kinds of
//! rejection are counted separately, and each vector is also run with every value that is not 32
//! bytes replaced by a distinct 32-byte stand-in, to check that the verifier itself rejects
//! what it should and not only the conversion.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use curia_ledger::merkle::{
    consistency_proof, inclusion_proof, leaf_hash, root, root_from_inclusion, verify_consistency, verify_inclusion,
};
use curia_ledger::{Hash, LedgerError};
use serde_json::Value;

/// Fewest vector files of each kind the suite must find (98 inclusion and 98 consistency files
/// at the time of copying), so that it cannot pass by finding nothing.
const MIN_INCLUSION_FILES: usize = 98;
const MIN_CONSISTENCY_FILES: usize = 98;

/// Happy paths that our typed API cannot express: their roots are the 12-byte placeholder
/// "don't care 2", which the Go verifier only compares for equality. They are checked with a
/// 32-byte stand-in for the placeholder instead.
const UNREPRESENTABLE_HAPPY_PATHS: &[&str] = &["consistency/additional/sizes-are-equal-one-and-proof-is-empty.json"];

/// `wantErr` vectors that are rejected only because a value is not 32 bytes: with stand-ins our
/// verifier accepts them, and so would the upstream Go verifier if it did not check lengths.
/// - Equal sizes (zero), an empty proof and two equal placeholder roots: consistent by the rule
///   for equal sizes (later upstream versions of this file set `wantErr` to false).
/// - A one-leaf tree whose root and leaf hash are both empty: the root of a one-leaf tree is its
///   leaf hash, so equal stand-ins verify; upstream rejects it for the length of the leaf hash.
const REJECTED_ONLY_BY_CONVERSION: &[&str] = &[
    "consistency/additional/sizes-are-equal-zero-and-proof-is-empty.json",
    "inclusion/single-entry/empty-root-and-leaf.json",
];

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/rfc6962")
}

/// All `.json` files under `dir`, recursively, sorted.
fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = fs::read_dir(&d).unwrap_or_else(|e| panic!("read {}: {e}", d.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "json") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Path of a vector relative to the data directory, with `/` separators.
fn rel(path: &Path) -> String {
    path.strip_prefix(data_dir())
        .expect("under data dir")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

fn get_u64(v: &Value, field: &str, file: &str) -> u64 {
    v[field].as_u64().unwrap_or_else(|| panic!("{file}: field {field} is not a u64"))
}

/// The raw bytes of a base64 field; `null` is the empty string.
fn get_bytes(v: &Value, field: &str, file: &str) -> Vec<u8> {
    match &v[field] {
        Value::Null => Vec::new(),
        Value::String(s) => B64.decode(s).unwrap_or_else(|e| panic!("{file}: field {field} is not base64: {e}")),
        other => panic!("{file}: field {field} is not a string: {other}"),
    }
}

/// The raw bytes of each element of the `proof` array; `null` is the empty proof.
fn get_proof(v: &Value, file: &str) -> Vec<Vec<u8>> {
    match &v["proof"] {
        Value::Null => Vec::new(),
        Value::Array(items) => items
            .iter()
            .map(|item| {
                let s = item.as_str().unwrap_or_else(|| panic!("{file}: proof element is not a string"));
                B64.decode(s).unwrap_or_else(|e| panic!("{file}: proof element is not base64: {e}"))
            })
            .collect(),
        other => panic!("{file}: proof is not an array: {other}"),
    }
}

/// Strict conversion: a value is a hash only if it is exactly 32 bytes.
fn strict(bytes: &[u8], what: &str) -> Result<Hash, String> {
    <[u8; 32]>::try_from(bytes).map(Hash).map_err(|_| format!("{what} has {} bytes, not 32", bytes.len()))
}

fn strict_proof(proof: &[Vec<u8>]) -> Result<Vec<Hash>, String> {
    proof.iter().enumerate().map(|(i, p)| strict(p, &format!("proof[{i}]"))).collect()
}

/// Lenient conversion: 32-byte values are kept, any other value is replaced by a stand-in that
/// is a 32-byte hash of a tagged copy of it. Equal values get equal stand-ins, different values
/// get different ones, and no stand-in equals a real tree hash.
fn lenient(bytes: &[u8]) -> Hash {
    strict(bytes, "").unwrap_or_else(|_| {
        let mut pre = b"curia test stand-in for a value that is not 32 bytes:".to_vec();
        pre.extend_from_slice(bytes);
        Hash::sha256(&pre)
    })
}

#[derive(Debug)]
enum Outcome {
    Accepted,
    /// Rejected by the merkle verifier, with its message.
    RejectedByVerifier(String),
    /// A value is not a 32-byte hash, so the vector cannot be passed to the verifier.
    RejectedByConversion(String),
}

fn verifier_outcome(r: curia_ledger::Result<()>) -> Outcome {
    match r {
        Ok(()) => Outcome::Accepted,
        Err(LedgerError::MerkleProof(msg)) => Outcome::RejectedByVerifier(msg),
        Err(other) => panic!("verifier returned a non-MerkleProof error: {other:?}"),
    }
}

struct Inclusion {
    index: u64,
    size: u64,
    root: Vec<u8>,
    leaf: Vec<u8>,
    proof: Vec<Vec<u8>>,
}

impl Inclusion {
    fn parse(v: &Value, file: &str) -> Self {
        Inclusion {
            index: get_u64(v, "leafIdx", file),
            size: get_u64(v, "treeSize", file),
            root: get_bytes(v, "root", file),
            leaf: get_bytes(v, "leafHash", file),
            proof: get_proof(v, file),
        }
    }

    fn run_strict(&self) -> Outcome {
        let converted = (|| {
            Ok::<_, String>((strict(&self.leaf, "leafHash")?, strict(&self.root, "root")?, strict_proof(&self.proof)?))
        })();
        match converted {
            Err(why) => Outcome::RejectedByConversion(why),
            Ok((leaf, root, proof)) => {
                let outcome = verifier_outcome(verify_inclusion(&leaf, self.index, self.size, &proof, &root));
                // root_from_inclusion agrees with verify_inclusion.
                match root_from_inclusion(&leaf, self.index, self.size, &proof) {
                    Ok(r) => assert_eq!(
                        r == root,
                        matches!(outcome, Outcome::Accepted),
                        "root_from_inclusion disagrees with verify_inclusion"
                    ),
                    Err(_) => assert!(!matches!(outcome, Outcome::Accepted)),
                }
                outcome
            }
        }
    }

    fn run_lenient(&self) -> Outcome {
        let proof: Vec<Hash> = self.proof.iter().map(|p| lenient(p)).collect();
        verifier_outcome(verify_inclusion(&lenient(&self.leaf), self.index, self.size, &proof, &lenient(&self.root)))
    }
}

struct Consistency {
    size1: u64,
    size2: u64,
    root1: Vec<u8>,
    root2: Vec<u8>,
    proof: Vec<Vec<u8>>,
}

impl Consistency {
    fn parse(v: &Value, file: &str) -> Self {
        Consistency {
            size1: get_u64(v, "size1", file),
            size2: get_u64(v, "size2", file),
            root1: get_bytes(v, "root1", file),
            root2: get_bytes(v, "root2", file),
            proof: get_proof(v, file),
        }
    }

    fn run_strict(&self) -> Outcome {
        let converted = (|| {
            Ok::<_, String>((strict(&self.root1, "root1")?, strict(&self.root2, "root2")?, strict_proof(&self.proof)?))
        })();
        match converted {
            Err(why) => Outcome::RejectedByConversion(why),
            Ok((root1, root2, proof)) => {
                verifier_outcome(verify_consistency(self.size1, self.size2, &root1, &root2, &proof))
            }
        }
    }

    fn run_lenient(&self) -> Outcome {
        let proof: Vec<Hash> = self.proof.iter().map(|p| lenient(p)).collect();
        verifier_outcome(verify_consistency(
            self.size1,
            self.size2,
            &lenient(&self.root1),
            &lenient(&self.root2),
            &proof,
        ))
    }
}

#[derive(Default, Debug)]
struct Tally {
    files: usize,
    happy_accepted: usize,
    happy_accepted_with_stand_ins: usize,
    rejected_by_verifier: usize,
    rejected_by_conversion: usize,
    /// Conversion-rejected vectors that the verifier also rejects when given stand-ins.
    conversion_rejects_also_rejected_by_verifier: usize,
    /// Conversion-rejected vectors that the verifier accepts when given stand-ins.
    rejected_only_by_conversion: Vec<String>,
    /// Verifier rejections by kind of reason.
    verifier_reasons: BTreeMap<&'static str, usize>,
    /// Vectors that did not behave as required, with the reason.
    failures: Vec<String>,
}

fn check(tally: &mut Tally, file: &str, want_err: bool, strict: Outcome, lenient: Outcome) {
    tally.files += 1;
    match (want_err, strict) {
        (false, Outcome::Accepted) => tally.happy_accepted += 1,
        (false, Outcome::RejectedByConversion(why)) if UNREPRESENTABLE_HAPPY_PATHS.contains(&file) => match lenient {
            Outcome::Accepted => tally.happy_accepted_with_stand_ins += 1,
            other => tally.failures.push(format!("{file}: happy path ({why}) rejected with stand-ins: {other:?}")),
        },
        (false, other) => tally.failures.push(format!("{file}: happy path not accepted: {other:?}")),
        (true, Outcome::Accepted) => tally.failures.push(format!("{file}: wantErr vector was accepted")),
        (true, Outcome::RejectedByVerifier(msg)) => {
            tally.rejected_by_verifier += 1;
            *tally.verifier_reasons.entry(reason(&msg)).or_default() += 1;
        }
        (true, Outcome::RejectedByConversion(_)) => {
            tally.rejected_by_conversion += 1;
            match lenient {
                Outcome::Accepted => tally.rejected_only_by_conversion.push(file.to_string()),
                _ => tally.conversion_rejects_also_rejected_by_verifier += 1,
            }
        }
    }
}

/// The kind of a verifier rejection message.
fn reason(msg: &str) -> &'static str {
    if msg.contains("does not match") {
        "root mismatch"
    } else if msg.contains("more than the maximum") {
        "proof too long"
    } else if msg.starts_with("proof has") {
        "wrong proof length"
    } else if msg.contains("out of range") {
        "index out of range"
    } else if msg.contains("is greater than") {
        "size1 > size2"
    } else if msg.contains("empty tree") {
        "size1 = 0 < size2"
    } else if msg.starts_with("empty proof") {
        "empty proof"
    } else {
        panic!("unclassified verifier message: {msg}")
    }
}

fn want_err(v: &Value, file: &str) -> bool {
    v["wantErr"].as_bool().unwrap_or_else(|| panic!("{file}: wantErr is not a bool"))
}

/// The tree of `tree.json`: leaf hashes of its leaf inputs, and the root of every prefix.
fn tree() -> (Vec<Hash>, Vec<Hash>) {
    let v = read_json(&data_dir().join("tree.json"));
    let leaves: Vec<Hash> = v["leaf_inputs_hex"]
        .as_array()
        .expect("leaf_inputs_hex")
        .iter()
        .map(|s| leaf_hash(&hex::decode(s.as_str().expect("hex string")).expect("hex")))
        .collect();
    let roots: Vec<Hash> = v["root_hex_by_size"]
        .as_array()
        .expect("root_hex_by_size")
        .iter()
        .map(|s| Hash::from_hex(s.as_str().expect("hex string")).expect("32-byte hex"))
        .collect();
    assert_eq!(roots.len(), leaves.len() + 1, "one root per size 0..=n");
    (leaves, roots)
}

#[test]
fn merkle_tree_roots() {
    let (leaves, roots) = tree();
    assert_eq!(leaves.len(), 8);
    for (size, want) in roots.iter().enumerate() {
        assert_eq!(&root(&leaves[..size]), want, "root of size {size}");
    }
    // Every proof our generators make for these trees verifies against the published roots.
    for n in 1..=leaves.len() {
        let d = &leaves[..n];
        for i in 0..n {
            let p = inclusion_proof(d, i as u64).expect("index in range");
            verify_inclusion(&d[i], i as u64, n as u64, &p, &roots[n]).expect("inclusion");
        }
        for m in 1..=n {
            let p = consistency_proof(d, m as u64).expect("size1 in range");
            verify_consistency(m as u64, n as u64, &roots[m], &roots[n], &p).expect("consistency");
        }
    }
}

#[test]
fn merkle_inclusion_vectors() {
    let (leaves, _) = tree();
    let mut tally = Tally::default();
    let mut generated_matches = 0;
    for path in json_files(&data_dir().join("inclusion")) {
        let file = rel(&path);
        let v = read_json(&path);
        let want_err = want_err(&v, &file);
        let vector = Inclusion::parse(&v, &file);
        check(&mut tally, &file, want_err, vector.run_strict(), vector.run_lenient());
        // The happy-path proofs over the tree.json leaves are the ones our generator makes.
        if !want_err && vector.size as usize <= leaves.len() {
            let d = &leaves[..vector.size as usize];
            if vector.leaf == d[vector.index as usize].0 {
                let mine: Vec<Vec<u8>> =
                    inclusion_proof(d, vector.index).expect("in range").iter().map(|h| h.0.to_vec()).collect();
                assert_eq!(mine, vector.proof, "{file}: generated proof differs");
                generated_matches += 1;
            }
        }
    }
    report("inclusion", &tally, MIN_INCLUSION_FILES);
    assert!(generated_matches >= 5, "only {generated_matches} generated proofs compared");
}

#[test]
fn merkle_consistency_vectors() {
    let (leaves, roots) = tree();
    let mut tally = Tally::default();
    let mut generated_matches = 0;
    for path in json_files(&data_dir().join("consistency")) {
        let file = rel(&path);
        let v = read_json(&path);
        let want_err = want_err(&v, &file);
        let vector = Consistency::parse(&v, &file);
        check(&mut tally, &file, want_err, vector.run_strict(), vector.run_lenient());
        let (m, n) = (vector.size1 as usize, vector.size2 as usize);
        if !want_err && m <= n && n <= leaves.len() && vector.root2 == roots[n].0 {
            let mine: Vec<Vec<u8>> =
                consistency_proof(&leaves[..n], m as u64).expect("in range").iter().map(|h| h.0.to_vec()).collect();
            assert_eq!(mine, vector.proof, "{file}: generated proof differs");
            generated_matches += 1;
        }
    }
    report("consistency", &tally, MIN_CONSISTENCY_FILES);
    assert!(generated_matches >= 5, "only {generated_matches} generated proofs compared");
}

fn report(kind: &str, t: &Tally, min_files: usize) {
    eprintln!("{kind} vectors: {t:#?}");
    assert!(t.failures.is_empty(), "{kind} failures:\n{}", t.failures.join("\n"));
    assert!(t.files >= min_files, "{kind}: checked {} files, expected at least {min_files}", t.files);
    let total = t.happy_accepted + t.happy_accepted_with_stand_ins + t.rejected_by_verifier + t.rejected_by_conversion;
    assert_eq!(total, t.files, "{kind}: every file is counted once");
    assert!(t.happy_accepted >= 5, "{kind}: too few happy paths");
    // Most rejections must come from the verifier, not from the conversion to Hash.
    assert!(
        t.rejected_by_verifier > 2 * t.rejected_by_conversion,
        "{kind}: {} rejected by the verifier, {} by conversion",
        t.rejected_by_verifier,
        t.rejected_by_conversion
    );
    // Exactly the listed unrepresentable happy paths needed stand-ins.
    let unrepresentable = UNREPRESENTABLE_HAPPY_PATHS.iter().filter(|f| f.starts_with(kind)).count();
    assert_eq!(t.happy_accepted_with_stand_ins, unrepresentable, "{kind}");
    // Conversion rejections are backed by the verifier, apart from the listed exceptions.
    let expected: BTreeSet<&str> =
        REJECTED_ONLY_BY_CONVERSION.iter().copied().filter(|f| f.starts_with(kind)).collect();
    let found: BTreeSet<&str> = t.rejected_only_by_conversion.iter().map(String::as_str).collect();
    assert_eq!(found, expected, "{kind}: vectors rejected only because a value is not 32 bytes");
}
