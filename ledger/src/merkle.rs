//! RFC 6962 Merkle trees: roots, inclusion proofs and consistency proofs.
//!
//! The hashing rules are those of RFC 6962 section 2.1 (unchanged in RFC 9162 section 2.1.1),
//! with SHA-256:
//!
//! - the hash of a leaf with data `d` is `SHA-256(0x00 || d)` ([`leaf_hash`]);
//! - the hash of an interior node is `SHA-256(0x01 || left || right)` ([`node_hash`]);
//! - the root of the empty tree is `SHA-256("")`, the hash of the empty string;
//! - the root of a tree of one leaf is that leaf's hash;
//! - a tree of `n > 1` leaves is split at `k`, the largest power of two smaller than `n`: its
//!   root is the node hash of the root of the first `k` leaves and the root of the other `n - k`.
//!
//! The prefix bytes `0x00` and `0x01` keep leaf and node preimages apart, and apart from every
//! tagged hash of [`crate::hash`] (whose first byte is at least 8).
//!
//! Functions that build trees ([`root`], [`inclusion_proof`], [`consistency_proof`]) take the
//! *leaf hashes*, not the leaf data. Proofs are lists of hashes ordered from the bottom of the
//! tree to the top, exactly as in RFC 6962 sections 2.1.1 and 2.1.2.
//!
//! Verification ([`verify_inclusion`], [`root_from_inclusion`], [`verify_consistency`]) follows
//! RFC 9162 sections 2.1.3.2 and 2.1.4.2 in the form used by `transparency-dev/merkle`. It never
//! panics: sizes and indices are checked before use, and proofs longer than [`MAX_PROOF_LEN`]
//! or of the wrong length for the claimed position are rejected before any hashing. Every
//! rejection is a [`LedgerError::MerkleProof`] naming the reason.

use sha2::{Digest, Sha256};

use crate::hash::Hash;
use crate::{LedgerError, Result};

/// The longest proof accepted by the verifiers; longer proofs are rejected before any hashing.
///
/// An inclusion proof in a tree of at most `u64::MAX` leaves has at most 64 hashes. A consistency
/// proof has at most 64 hashes unless the larger tree has more than 2^63 leaves, so the limit
/// only excludes trees far larger than any this ledger can hold.
pub const MAX_PROOF_LEN: usize = 64;

/// The RFC 6962 hash of a leaf: `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    Hash(h.finalize().into())
}

/// The RFC 6962 hash of an interior node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left.0);
    h.update(right.0);
    Hash(h.finalize().into())
}

/// The root of the tree whose leaves have the given leaf hashes (`SHA-256("")` if there are none).
///
/// Iterative, `O(n)` time and `O(log n)` memory: the leaves are folded left to right into a stack
/// of perfect subtrees of strictly decreasing size (the binary decomposition of the count so far),
/// and the stack is folded right to left at the end, which is the RFC 6962 split rule.
pub fn root(leaves: &[Hash]) -> Hash {
    if leaves.is_empty() {
        return Hash::sha256(b"");
    }
    // stack[i] is the root of a perfect subtree; sizes strictly decrease towards the top.
    let mut stack: Vec<Hash> = Vec::with_capacity(65);
    for (i, leaf) in leaves.iter().enumerate() {
        let mut node = *leaf;
        // After adding leaf i, the perfect subtrees ending at it have sizes 2^0..2^t, where t is
        // the number of trailing one bits of i: merge that many times.
        let mut count = i;
        while count & 1 == 1 {
            // The stack is non-empty here: bit j of i set means a subtree of size 2^j is on it.
            if let Some(left) = stack.pop() {
                node = node_hash(&left, &node);
            }
            count >>= 1;
        }
        stack.push(node);
    }
    let mut acc = stack.pop().unwrap_or_else(|| Hash::sha256(b""));
    while let Some(left) = stack.pop() {
        acc = node_hash(&left, &acc);
    }
    acc
}

/// The largest power of two strictly smaller than `n`; requires `n >= 2`.
fn split_point(n: usize) -> usize {
    debug_assert!(n >= 2);
    1usize << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// Converts a `u64` position to an index into `leaves`, if it is at most `leaves.len()`.
fn to_len(n: u64, leaves: &[Hash]) -> Option<usize> {
    usize::try_from(n).ok().filter(|&n| n <= leaves.len())
}

/// The RFC 6962 audit path (inclusion proof) of leaf `index` in the tree of `leaves`, bottom up.
///
/// Fails if `index` is not less than the number of leaves. Runs in `O(n)` time.
pub fn inclusion_proof(leaves: &[Hash], index: u64) -> Result<Vec<Hash>> {
    let n = leaves.len();
    let idx = match to_len(index, leaves) {
        Some(i) if i < n => i,
        _ => return Err(LedgerError::MerkleProof(format!("index {index} out of range for tree size {n}"))),
    };
    // Walk down from the root as in PATH(m, D[n]) and collect the siblings top down, then
    // reverse so that the proof runs from the leaf up.
    let (mut lo, mut hi, mut m) = (0usize, n, idx);
    let mut path = Vec::new();
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if m < k {
            path.push(root(&leaves[lo + k..hi]));
            hi = lo + k;
        } else {
            path.push(root(&leaves[lo..lo + k]));
            lo += k;
            m -= k;
        }
    }
    path.reverse();
    Ok(path)
}

/// The RFC 6962 consistency proof between the tree of the first `size1` leaves and the tree of
/// all of `leaves` (the tree of size `size2 = leaves.len()`).
///
/// The proof is empty if `size1 == size2`. Fails if `size1 > size2`, and if `size1 == 0 < size2`
/// (a proof from the empty tree is meaningless and [`verify_consistency`] rejects it).
pub fn consistency_proof(leaves: &[Hash], size1: u64) -> Result<Vec<Hash>> {
    let n = leaves.len();
    let m = match to_len(size1, leaves) {
        Some(m) => m,
        None => return Err(LedgerError::MerkleProof(format!("size1 {size1} is greater than size2 {n}"))),
    };
    if m == n {
        return Ok(Vec::new());
    }
    if m == 0 {
        return Err(LedgerError::MerkleProof(format!(
            "consistency proof from the empty tree to size {n} is meaningless"
        )));
    }
    // SUBPROOF(m, D[lo..hi], b) of RFC 6962 section 2.1.2, unrolled: the hashes found on the way
    // down come after the sub-proof, so they are collected top down and reversed at the end.
    let (mut lo, mut hi, mut m) = (0usize, n, m);
    let mut whole_old_tree = true; // the `b` flag: the subtree is the whole old tree
    let mut path = Vec::new();
    while m != hi - lo {
        let k = split_point(hi - lo);
        if m <= k {
            path.push(root(&leaves[lo + k..hi]));
            hi = lo + k;
        } else {
            path.push(root(&leaves[lo..lo + k]));
            lo += k;
            m -= k;
            whole_old_tree = false;
        }
    }
    if !whole_old_tree {
        path.push(root(&leaves[lo..hi]));
    }
    path.reverse();
    Ok(path)
}

/// Verifies that `leaf` (a leaf hash) is at position `index` of the tree of `size` leaves whose
/// root is `root`, given the inclusion proof `proof` (RFC 9162 section 2.1.3.2).
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> Result<()> {
    let computed = root_from_inclusion(leaf, index, size, proof)?;
    check_root(&computed, root, "root")
}

/// The root of the tree of `size` leaves implied by `leaf` being at position `index` with the
/// inclusion proof `proof`.
///
/// Fails if `index >= size` or if `proof` does not have exactly the length a proof for that
/// position must have; the result is only meaningful when compared with a trusted root.
pub fn root_from_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash]) -> Result<Hash> {
    check_max_len(proof)?;
    if index >= size {
        return Err(LedgerError::MerkleProof(format!("index {index} out of range for tree size {size}")));
    }
    let (inner, border) = decompose(index, size);
    if proof.len() != inner + border {
        return Err(LedgerError::MerkleProof(format!(
            "proof has {} hashes, expected {} for leaf {index} of {size}",
            proof.len(),
            inner + border
        )));
    }
    let (inner_part, border_part) = proof.split_at(inner);
    let acc = chain_inner(*leaf, inner_part, index);
    Ok(chain_border_right(acc, border_part))
}

/// Verifies that the tree of `size1` leaves with root `root1` is a prefix of the tree of `size2`
/// leaves with root `root2`, given the consistency proof `proof` (RFC 9162 section 2.1.4.2).
///
/// Edge cases, as in `transparency-dev/merkle`: `size1 > size2` is rejected; `size1 == size2`
/// requires an empty proof and `root1 == root2`; `size1 == 0 < size2` is rejected (a proof from
/// the empty tree is meaningless); otherwise an empty proof, or one of the wrong length for the
/// two sizes, is rejected.
pub fn verify_consistency(size1: u64, size2: u64, root1: &Hash, root2: &Hash, proof: &[Hash]) -> Result<()> {
    check_max_len(proof)?;
    if size1 > size2 {
        return Err(LedgerError::MerkleProof(format!("size1 {size1} is greater than size2 {size2}")));
    }
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(LedgerError::MerkleProof(format!(
                "proof has {} hashes, expected 0 for equal sizes {size1}",
                proof.len()
            )));
        }
        return check_root(root1, root2, "root2");
    }
    if size1 == 0 {
        return Err(LedgerError::MerkleProof(format!(
            "consistency proof from the empty tree to size {size2} is meaningless"
        )));
    }
    if proof.is_empty() {
        return Err(LedgerError::MerkleProof(format!("empty proof for sizes {size1} and {size2}")));
    }

    // 0 < size1 < size2 from here on.
    let (inner, border) = decompose(size1 - 1, size2);
    let shift = size1.trailing_zeros() as usize;
    // The paths to leaves size1-1 and size2-1 diverge above level `shift` (size1 - 1 ends in
    // `shift` one bits and size2 - 1 > size1 - 1), so this never saturates.
    let inner = inner.saturating_sub(shift);
    // If size1 is a power of two, the old root is itself a node of the new tree and is the seed;
    // otherwise the proof starts with the hash of the subtree of size 2^shift holding leaf size1-1.
    let (seed, rest) = if size1 == 1u64 << shift { (*root1, proof) } else { (proof[0], &proof[1..]) };
    let expected = usize::from(size1 != 1u64 << shift) + inner + border;
    if proof.len() != expected {
        return Err(LedgerError::MerkleProof(format!(
            "proof has {} hashes, expected {expected} for sizes {size1} and {size2}",
            proof.len()
        )));
    }
    let (inner_part, border_part) = rest.split_at(inner);
    let mask = (size1 - 1) >> shift;

    let hash1 = chain_border_right(chain_inner_right(seed, inner_part, mask), border_part);
    check_root(&hash1, root1, "root1")?;
    let hash2 = chain_border_right(chain_inner(seed, inner_part, mask), border_part);
    check_root(&hash2, root2, "root2")
}

/// Rejects proofs longer than [`MAX_PROOF_LEN`].
fn check_max_len(proof: &[Hash]) -> Result<()> {
    if proof.len() > MAX_PROOF_LEN {
        return Err(LedgerError::MerkleProof(format!(
            "proof has {} hashes, more than the maximum {MAX_PROOF_LEN}",
            proof.len()
        )));
    }
    Ok(())
}

/// Fails unless the computed root equals the expected one.
fn check_root(computed: &Hash, expected: &Hash, what: &str) -> Result<()> {
    if computed != expected {
        return Err(LedgerError::MerkleProof(format!(
            "computed {what} {computed} does not match expected {what} {expected}"
        )));
    }
    Ok(())
}

/// Splits the inclusion proof of leaf `index` in a tree of `size > index` leaves into its inner
/// part (below the level where the paths to `index` and `size - 1` meet) and its border part
/// (left siblings along the right border above it). Returns their lengths.
fn decompose(index: u64, size: u64) -> (usize, usize) {
    debug_assert!(index < size);
    let inner = (u64::BITS - (index ^ (size - 1)).leading_zeros()) as usize;
    let border = index.checked_shr(inner as u32).unwrap_or(0).count_ones() as usize;
    (inner, border)
}

/// Bit `i` of `x`, zero for `i >= 64`.
fn bit(x: u64, i: usize) -> bool {
    u32::try_from(i).ok().and_then(|i| x.checked_shr(i)).is_some_and(|v| v & 1 == 1)
}

/// Hashes `seed`, the node at position `index` on its level, up through `proof`, taking each
/// sibling from the left or the right according to the bits of `index`.
fn chain_inner(seed: Hash, proof: &[Hash], index: u64) -> Hash {
    proof.iter().enumerate().fold(
        seed,
        |acc, (i, h)| {
            if bit(index, i) {
                node_hash(h, &acc)
            } else {
                node_hash(&acc, h)
            }
        },
    )
}

/// Like [`chain_inner`] but only uses siblings on the left, which yields the root of the older,
/// smaller version of the subtree.
fn chain_inner_right(seed: Hash, proof: &[Hash], index: u64) -> Hash {
    proof.iter().enumerate().fold(seed, |acc, (i, h)| if bit(index, i) { node_hash(h, &acc) } else { acc })
}

/// Hashes `seed` up the right border of the tree, where every sibling is on the left.
fn chain_border_right(seed: Hash, proof: &[Hash]) -> Hash {
    proof.iter().fold(seed, |acc, h| node_hash(h, &acc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Leaf hashes of a tree of `n` leaves with distinct data.
    fn leaves(n: usize) -> Vec<Hash> {
        (0..n as u64).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    /// MTH of RFC 6962 section 2.1, written recursively exactly as in the RFC.
    fn reference_root(d: &[Hash]) -> Hash {
        match d.len() {
            0 => Hash::sha256(b""),
            1 => d[0],
            n => {
                let k = split_point(n);
                node_hash(&reference_root(&d[..k]), &reference_root(&d[k..]))
            }
        }
    }

    /// PATH(m, D[n]) of RFC 6962 section 2.1.1.
    fn reference_path(m: usize, d: &[Hash]) -> Vec<Hash> {
        let n = d.len();
        if n <= 1 {
            return Vec::new();
        }
        let k = split_point(n);
        if m < k {
            let mut p = reference_path(m, &d[..k]);
            p.push(reference_root(&d[k..]));
            p
        } else {
            let mut p = reference_path(m - k, &d[k..]);
            p.push(reference_root(&d[..k]));
            p
        }
    }

    /// SUBPROOF(m, D[n], b) of RFC 6962 section 2.1.2.
    fn reference_subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
        let n = d.len();
        if m == n {
            return if b { Vec::new() } else { vec![reference_root(d)] };
        }
        let k = split_point(n);
        if m <= k {
            let mut p = reference_subproof(m, &d[..k], b);
            p.push(reference_root(&d[k..]));
            p
        } else {
            let mut p = reference_subproof(m - k, &d[k..], false);
            p.push(reference_root(&d[..k]));
            p
        }
    }

    /// `h` with bit `bit` (0..256) flipped.
    fn flip(h: &Hash, bit: usize) -> Hash {
        let mut out = *h;
        out.0[bit / 8] ^= 1 << (bit % 8);
        out
    }

    fn is_proof_error<T: std::fmt::Debug>(r: Result<T>) -> bool {
        matches!(r, Err(LedgerError::MerkleProof(_)))
    }

    #[test]
    fn hashing_rules() {
        assert_eq!(root(&[]), Hash::sha256(b""));
        assert_eq!(root(&[]).to_hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(leaf_hash(b"abc"), Hash::sha256(b"\x00abc"));
        let (a, b) = (leaf_hash(b"a"), leaf_hash(b"b"));
        let mut pre = vec![1u8];
        pre.extend_from_slice(&a.0);
        pre.extend_from_slice(&b.0);
        assert_eq!(node_hash(&a, &b), Hash::sha256(&pre));
        assert_eq!(root(&[a]), a);
        assert_eq!(root(&[a, b]), node_hash(&a, &b));
    }

    #[test]
    fn split_point_is_largest_power_of_two_below() {
        for n in 2..=1025usize {
            let k = split_point(n);
            assert!(k.is_power_of_two() && k < n && 2 * k >= n, "n={n} k={k}");
        }
    }

    #[test]
    fn generators_match_rfc_definitions() {
        for n in 0..=70 {
            let d = leaves(n);
            assert_eq!(root(&d), reference_root(&d), "root of {n}");
            for m in 0..n {
                assert_eq!(inclusion_proof(&d, m as u64).unwrap(), reference_path(m, &d), "path {m} of {n}");
            }
            for m in 1..=n {
                assert_eq!(
                    consistency_proof(&d, m as u64).unwrap(),
                    reference_subproof(m, &d, true),
                    "consistency {m} to {n}"
                );
            }
        }
    }

    #[test]
    fn inclusion_all_sizes_to_40_and_bit_flips() {
        let all = leaves(40);
        for n in 1..=40u64 {
            let d = &all[..n as usize];
            let r = root(d);
            for i in 0..n {
                let leaf = d[i as usize];
                let proof = inclusion_proof(d, i).unwrap();
                verify_inclusion(&leaf, i, n, &proof, &r).unwrap();
                assert_eq!(root_from_inclusion(&leaf, i, n, &proof).unwrap(), r);
                for bit in 0..256 {
                    assert!(is_proof_error(verify_inclusion(&flip(&leaf, bit), i, n, &proof, &r)));
                    assert!(is_proof_error(verify_inclusion(&leaf, i, n, &proof, &flip(&r, bit))));
                    for j in 0..proof.len() {
                        let mut bad = proof.clone();
                        bad[j] = flip(&bad[j], bit);
                        assert!(is_proof_error(verify_inclusion(&leaf, i, n, &bad, &r)), "n={n} i={i} j={j} bit={bit}");
                    }
                }
                // Wrong positions, sizes and lengths.
                for other in 0..n {
                    if d[other as usize] != leaf {
                        assert!(is_proof_error(verify_inclusion(&d[other as usize], i, n, &proof, &r)));
                    }
                    if other != i {
                        assert!(is_proof_error(verify_inclusion(&leaf, other, n, &proof, &r)));
                    }
                }
                // A proof does not pin the tree size (a proof for size 6 also verifies as one for
                // size 7 against the same root), so only sizes that are invalid outright are tried.
                for size in [0, i, u64::MAX] {
                    assert!(is_proof_error(verify_inclusion(&leaf, i, size, &proof, &r)));
                }
                let mut longer = proof.clone();
                longer.push(r);
                assert!(is_proof_error(verify_inclusion(&leaf, i, n, &longer, &r)));
                if !proof.is_empty() {
                    let shorter = &proof[..proof.len() - 1];
                    assert!(is_proof_error(verify_inclusion(&leaf, i, n, shorter, &r)));
                }
            }
        }
    }

    #[test]
    fn consistency_all_sizes_to_40_and_bit_flips() {
        let all = leaves(40);
        for n in 1..=40u64 {
            let d2 = &all[..n as usize];
            let r2 = root(d2);
            for m in 1..=n {
                let r1 = root(&all[..m as usize]);
                let proof = consistency_proof(d2, m).unwrap();
                verify_consistency(m, n, &r1, &r2, &proof).unwrap();
                for bit in 0..256 {
                    assert!(is_proof_error(verify_consistency(m, n, &flip(&r1, bit), &r2, &proof)));
                    assert!(is_proof_error(verify_consistency(m, n, &r1, &flip(&r2, bit), &proof)));
                    for j in 0..proof.len() {
                        let mut bad = proof.clone();
                        bad[j] = flip(&bad[j], bit);
                        assert!(
                            is_proof_error(verify_consistency(m, n, &r1, &r2, &bad)),
                            "m={m} n={n} j={j} bit={bit}"
                        );
                    }
                }
                // Wrong sizes, swapped roots and wrong lengths.
                if m != n {
                    assert!(is_proof_error(verify_consistency(m, n, &r2, &r1, &proof)));
                    assert!(is_proof_error(verify_consistency(n, m, &r1, &r2, &proof)));
                    assert!(is_proof_error(verify_consistency(m, n, &r1, &r2, &[])));
                    assert!(is_proof_error(verify_consistency(m, n, &r1, &r2, &proof[..proof.len() - 1])));
                }
                // As with inclusion, only sizes that are invalid outright are tried.
                for (s1, s2) in [(0, n), (n + 1, n), (m, u64::MAX)] {
                    assert!(is_proof_error(verify_consistency(s1, s2, &r1, &r2, &proof)));
                }
                let mut longer = proof.clone();
                longer.push(r1);
                assert!(is_proof_error(verify_consistency(m, n, &r1, &r2, &longer)));
            }
        }
    }

    #[test]
    fn edge_cases() {
        let d = leaves(8);
        let r = root(&d);
        let e = root(&[]);
        // Inclusion.
        assert_eq!(
            inclusion_proof(&d, 8),
            Err(LedgerError::MerkleProof("index 8 out of range for tree size 8".into()))
        );
        assert!(is_proof_error(inclusion_proof(&[], 0)));
        assert!(is_proof_error(inclusion_proof(&d, u64::MAX)));
        let p5 = inclusion_proof(&d, 5).unwrap();
        let mut long = p5.clone();
        long.push(r);
        assert_eq!(
            verify_inclusion(&d[5], 5, 8, &long, &r),
            Err(LedgerError::MerkleProof("proof has 4 hashes, expected 3 for leaf 5 of 8".into()))
        );
        assert_eq!(
            verify_inclusion(&d[5], 9, 8, &p5, &r),
            Err(LedgerError::MerkleProof("index 9 out of range for tree size 8".into()))
        );
        assert!(is_proof_error(verify_inclusion(&e, 0, 0, &[], &e)));
        let msg = verify_inclusion(&d[5], 5, 8, &p5, &e).unwrap_err().to_string();
        assert!(msg.contains("does not match"), "{msg}");
        // Consistency.
        let r6 = root(&d[..6]);
        let mut c6 = consistency_proof(&d, 6).unwrap();
        c6.push(r);
        assert_eq!(
            verify_consistency(6, 8, &r6, &r, &c6),
            Err(LedgerError::MerkleProof("proof has 4 hashes, expected 3 for sizes 6 and 8".into()))
        );
        assert!(verify_consistency(0, 0, &e, &e, &[]).is_ok());
        assert!(verify_consistency(3, 3, &r, &r, &[]).is_ok());
        assert!(is_proof_error(verify_consistency(0, 0, &e, &r, &[])));
        assert!(is_proof_error(verify_consistency(0, 0, &e, &e, &[e])));
        assert!(is_proof_error(verify_consistency(0, 8, &e, &r, &[])));
        assert!(is_proof_error(verify_consistency(0, 8, &e, &r, &[e])));
        assert!(is_proof_error(verify_consistency(9, 8, &r, &r, &[])));
        assert!(is_proof_error(consistency_proof(&d, 0)));
        assert!(is_proof_error(consistency_proof(&d, 9)));
        assert_eq!(consistency_proof(&d, 8).unwrap(), Vec::<Hash>::new());
        assert_eq!(consistency_proof(&[], 0).unwrap(), Vec::<Hash>::new());
    }

    #[test]
    fn over_long_proofs_rejected_and_extreme_sizes_do_not_panic() {
        let h = leaf_hash(b"x");
        let long = vec![h; MAX_PROOF_LEN + 1];
        let msg = verify_inclusion(&h, 0, u64::MAX, &long, &h).unwrap_err().to_string();
        assert!(msg.contains("more than the maximum 64"), "{msg}");
        assert!(is_proof_error(verify_consistency(1, 2, &h, &h, &long)));
        let max = vec![h; MAX_PROOF_LEN];
        // A full-length proof for the last and first leaves of the largest tree is well formed.
        assert!(root_from_inclusion(&h, 0, u64::MAX, &max).is_ok());
        assert!(root_from_inclusion(&h, u64::MAX - 1, u64::MAX, &max[..63]).is_ok());
        for (m, n) in [
            (1, u64::MAX),
            (u64::MAX - 1, u64::MAX),
            (1 << 63, u64::MAX),
            ((1 << 63) + 1, u64::MAX),
            (3, u64::MAX),
            (u64::MAX, u64::MAX),
        ] {
            for len in [0, 1, 2, 63, 64] {
                let _ = verify_consistency(m, n, &h, &h, &max[..len]);
            }
        }
    }

    #[test]
    fn million_leaves() {
        let d: Vec<Hash> = (0..1u64 << 20).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        let r = root(&d);
        let i = 777_777u64;
        let p = inclusion_proof(&d, i).unwrap();
        assert_eq!(p.len(), 20);
        verify_inclusion(&d[i as usize], i, 1 << 20, &p, &r).unwrap();
        let c = consistency_proof(&d, 1_000_001).unwrap();
        let r1 = root(&d[..1_000_001]);
        verify_consistency(1_000_001, 1 << 20, &r1, &r, &c).unwrap();
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn random_trees_up_to_2000(
            n in 1usize..=2000,
            i_seed in any::<u64>(),
            m_seed in any::<u64>(),
            bit in 0usize..256,
            which in any::<u64>(),
        ) {
            let d = leaves(n);
            let r = root(&d);
            prop_assert_eq!(r, reference_root(&d));

            let i = i_seed % n as u64;
            let p = inclusion_proof(&d, i).unwrap();
            prop_assert_eq!(&p, &reference_path(i as usize, &d));
            prop_assert!(verify_inclusion(&d[i as usize], i, n as u64, &p, &r).is_ok());
            prop_assert!(is_proof_error(verify_inclusion(
                &flip(&d[i as usize], bit), i, n as u64, &p, &r
            )));
            prop_assert!(is_proof_error(verify_inclusion(
                &d[i as usize], i, n as u64, &p, &flip(&r, bit)
            )));
            if !p.is_empty() {
                let mut bad = p.clone();
                let j = (which % p.len() as u64) as usize;
                bad[j] = flip(&bad[j], bit);
                prop_assert!(is_proof_error(verify_inclusion(
                    &d[i as usize], i, n as u64, &bad, &r
                )));
            }

            let m = 1 + m_seed % n as u64;
            let r1 = root(&d[..m as usize]);
            let c = consistency_proof(&d, m).unwrap();
            prop_assert_eq!(&c, &reference_subproof(m as usize, &d, true));
            prop_assert!(verify_consistency(m, n as u64, &r1, &r, &c).is_ok());
            prop_assert!(is_proof_error(verify_consistency(
                m, n as u64, &flip(&r1, bit), &r, &c
            )));
            prop_assert!(is_proof_error(verify_consistency(
                m, n as u64, &r1, &flip(&r, bit), &c
            )));
            if !c.is_empty() {
                let mut bad = c.clone();
                let j = (which % c.len() as u64) as usize;
                bad[j] = flip(&bad[j], bit);
                prop_assert!(is_proof_error(verify_consistency(
                    m, n as u64, &r1, &r, &bad
                )));
            }
        }

        #[test]
        fn verifiers_never_panic(
            index in any::<u64>(),
            size in any::<u64>(),
            size1 in any::<u64>(),
            small in 0u64..70,
            len in 0usize..=70,
            seed in any::<u8>(),
        ) {
            let proof: Vec<Hash> = (0..len).map(|k| Hash([seed.wrapping_add(k as u8); 32])).collect();
            let h = Hash([seed; 32]);
            for (a, b) in [(index, size), (small, size), (index, small), (small, small.wrapping_mul(3))] {
                let _ = verify_inclusion(&h, a, b, &proof, &h);
                let _ = root_from_inclusion(&h, a, b, &proof);
                let _ = verify_consistency(a, b, &h, &h, &proof);
                let _ = verify_consistency(size1, b, &h, &h, &proof);
            }
        }
    }
}
