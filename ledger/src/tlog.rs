//! An append-only transparency log: RFC 6962 / RFC 9162 tree hashes, inclusion proofs and
//! consistency proofs computed from *stored hashes* in `O(log n)` reads, so a log of billions of
//! leaves never has to be held in memory.
//!
//! Hashing is exactly [`crate::merkle`]'s ([`leaf_hash`](crate::merkle::leaf_hash), [`node_hash`], the
//! empty tree's root `SHA-256("")`); proofs are in the RFC 6962 order (bottom up) and are
//! verified by `merkle::verify_inclusion` and `merkle::verify_consistency`, re-exported
//! here as [`verify_inclusion`] and [`verify_consistency`]. This module only adds the storage
//! layout and the provers that read it.
//!
//! # Storage layout
//!
//! The layout is that of Go's `golang.org/x/mod/sumdb/tlog` (BSD-3-Clause), reimplemented here.
//! A log stores, for every complete (perfect) subtree, its hash, in one linear sequence of
//! *stored hashes*:
//!
//! - the hash of the subtree at `level` whose leaves are `n * 2^level .. (n + 1) * 2^level` is
//!   stored at index [`stored_hash_index`]`(level, n)`;
//! - appending leaf `n` appends the leaf hash and then the hash of every subtree the leaf
//!   completes, bottom up ([`stored_hashes_for_leaf`]); on average two hashes per leaf, and a
//!   log of `n` leaves has [`stored_hash_count`]`(n)` stored hashes;
//! - level `L`'s hash `n` is stored right after level `L+1`'s hash `2n+1` would be, so the
//!   sequence only ever grows at its end: a store can be an append-only file or key space.
//!
//! The tree hash of any size `t <= n`, and every proof about it, needs only hashes of complete
//! subtrees, so they are computed from at most about `2 log2(n)` stored hashes, read through
//! [`HashReader`] in one call, in increasing index order.
//!
//! # Limits
//!
//! Sizes and indices are checked before any read: a log holds at most [`MAX_LOG_SIZE`] leaves
//! (2^62, which keeps every stored-hash index within `u64`), an inclusion proof needs
//! `index < size`, a consistency proof `0 < size1 <= size2` (as in `merkle::consistency_proof`,
//! a proof from the empty tree is meaningless). Bad arguments and a reader that answers with
//! the wrong number of hashes are [`LedgerError::MerkleProof`] errors naming the reason; nothing
//! here panics.

use crate::hash::Hash;
use crate::merkle::node_hash;
use crate::LedgerError;

pub use crate::merkle::{verify_consistency, verify_inclusion};

/// The largest log size this module accepts: 2^62 leaves. Stored-hash indices of such a log
/// stay below 2^63.
pub const MAX_LOG_SIZE: u64 = 1 << 62;

/// Reads stored hashes by index (see the module's storage layout).
///
/// Implemented by the storage layer; `[Hash]` and `Vec<Hash>` implement it for a log held in
/// memory (index = position). Its error type must accept the [`LedgerError`]s this module
/// raises for bad arguments, so one `?` carries both.
pub trait HashReader {
    /// The reader's error (a storage failure, say).
    type Error: From<LedgerError>;
    /// The stored hashes at `indexes`, in the same order. This module always asks for indexes
    /// in strictly increasing order, all below the [`stored_hash_count`] of the size in question.
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Self::Error>;
}

impl HashReader for [Hash] {
    type Error = LedgerError;
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, LedgerError> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i).ok().and_then(|i| self.get(i)).copied().ok_or_else(|| {
                    LedgerError::MerkleProof(format!("stored hash {i} is not in a store of {}", self.len()))
                })
            })
            .collect()
    }
}

impl HashReader for Vec<Hash> {
    type Error = LedgerError;
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, LedgerError> {
        self.as_slice().read_hashes(indexes)
    }
}

/// The index of the stored hash of the subtree at `level` (0 for leaves) numbered `n` on that
/// level, i.e. the subtree of leaves `n * 2^level .. (n + 1) * 2^level`.
///
/// Requires `(n + 1) * 2^level <= MAX_LOG_SIZE` (callers in this module check sizes first).
pub fn stored_hash_index(level: u32, n: u64) -> u64 {
    // Level L's n-th hash is stored right after level L+1's (2n+1)-th would be: go down to
    // level 0 numbering, where leaf n is stored at n + n/2 + n/4 + ..., then add the level back.
    let mut n = n;
    for _ in 0..level {
        n = 2 * n + 1;
    }
    let mut i = 0u64;
    while n > 0 {
        i += n;
        n >>= 1;
    }
    i + u64::from(level)
}

/// The inverse of [`stored_hash_index`]: the `(level, n)` of the subtree stored at `index`.
pub fn split_stored_hash_index(index: u64) -> (u32, u64) {
    // Leaf n is stored at about 2n, and never after index: start at index/2 and walk forward.
    let mut n = index / 2;
    let mut index_n = stored_hash_index(0, n);
    loop {
        // After leaf n come the hashes it completes (trailing ones of n), then leaf n+1.
        let next = index_n + 1 + u64::from((n + 1).trailing_zeros());
        if next > index {
            break;
        }
        n += 1;
        index_n = next;
    }
    let level = (index - index_n) as u32;
    (level, n >> level)
}

/// The number of stored hashes of a log of `n` leaves.
pub fn stored_hash_count(n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    // The last leaf's own index, plus one, plus one for each subtree it completes.
    stored_hash_index(0, n - 1) + 1 + u64::from((n - 1).trailing_ones())
}

/// The stored hashes to append when leaf `n` (0-based, with RFC 6962 leaf hash `leaf`) is added
/// to a log of `n` leaves: the leaf hash, then the hash of each subtree it completes, bottom up.
///
/// Reads the left siblings of those subtrees from `reader`. The caller appends the result at
/// index [`stored_hash_count`]`(n)`; afterwards the store holds `stored_hash_count(n + 1)`.
pub fn stored_hashes_for_leaf<R: HashReader + ?Sized>(n: u64, leaf: Hash, reader: &R) -> Result<Vec<Hash>, R::Error> {
    check_size(n + 1)?;
    let completes = (n + 1).trailing_zeros();
    // The left sibling at level i is the subtree numbered (n >> i) - 1; read lowest level last
    // so that the indexes increase.
    let indexes: Vec<u64> = (0..completes).rev().map(|level| stored_hash_index(level, (n >> level) - 1)).collect();
    let old = read_exact(reader, &indexes)?;
    let mut out = Vec::with_capacity(1 + old.len());
    let mut h = leaf;
    out.push(h);
    for left in old.iter().rev() {
        h = node_hash(left, &h);
        out.push(h);
    }
    Ok(out)
}

/// The RFC 6962 root of the first `size` leaves of the log stored in `reader`.
pub fn tree_hash<R: HashReader + ?Sized>(size: u64, reader: &R) -> Result<Hash, R::Error> {
    check_size(size)?;
    if size == 0 {
        return Ok(Hash::sha256(b""));
    }
    let mut need = Vec::new();
    subtree_indexes(0, size, &mut need);
    let hashes = read_exact(reader, &need)?;
    let mut it = hashes.iter();
    Ok(subtree_hash(0, size, &mut it))
}

/// The RFC 6962 inclusion proof (audit path, bottom up) of leaf `index` in the tree of the first
/// `size` leaves of the log stored in `reader`; verify it with [`verify_inclusion`].
pub fn prove_inclusion<R: HashReader + ?Sized>(size: u64, index: u64, reader: &R) -> Result<Vec<Hash>, R::Error> {
    check_size(size)?;
    if index >= size {
        return Err(LedgerError::MerkleProof(format!("index {index} out of range for tree size {size}")).into());
    }
    let mut need = Vec::new();
    leaf_proof_indexes(0, size, index, &mut need);
    let hashes = read_exact(reader, &need)?;
    let mut it = hashes.iter();
    let mut proof = Vec::new();
    leaf_proof(0, size, index, &mut it, &mut proof);
    Ok(proof)
}

/// The RFC 6962 consistency proof from the tree of the first `size1` leaves to the tree of the
/// first `size2` leaves of the log stored in `reader`; verify it with [`verify_consistency`].
///
/// Empty if `size1 == size2`. Fails if `size1 > size2` or `size1 == 0`.
pub fn prove_consistency<R: HashReader + ?Sized>(size1: u64, size2: u64, reader: &R) -> Result<Vec<Hash>, R::Error> {
    check_size(size2)?;
    if size1 > size2 {
        return Err(LedgerError::MerkleProof(format!("size1 {size1} is greater than size2 {size2}")).into());
    }
    if size1 == 0 {
        return Err(LedgerError::MerkleProof(format!(
            "consistency proof from the empty tree to size {size2} is meaningless"
        ))
        .into());
    }
    let mut need = Vec::new();
    tree_proof_indexes(0, size2, size1, &mut need);
    let hashes = read_exact(reader, &need)?;
    let mut it = hashes.iter();
    let mut proof = Vec::new();
    tree_proof(0, size2, size1, &mut it, &mut proof);
    Ok(proof)
}

/// A log held in memory: its stored hashes in a `Vec`. For tests, tools and small logs; a node
/// keeps the same sequence in its store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemLog {
    stored: Vec<Hash>,
    size: u64,
}

impl MemLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a leaf by its RFC 6962 leaf hash; returns the leaf's index.
    pub fn append(&mut self, leaf: Hash) -> Result<u64, LedgerError> {
        let n = self.size;
        let new = stored_hashes_for_leaf(n, leaf, &self.stored)?;
        self.stored.extend(new);
        self.size = n + 1;
        Ok(n)
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The stored hashes (the sequence a store would hold).
    pub fn stored(&self) -> &[Hash] {
        &self.stored
    }

    /// The root of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash, LedgerError> {
        self.check_within(size)?;
        tree_hash(size, &self.stored)
    }

    /// The root of the whole log.
    pub fn root(&self) -> Hash {
        // Cannot fail: the store holds every hash of its own size.
        self.root_at(self.size).unwrap_or_else(|_| Hash::sha256(b""))
    }

    /// The inclusion proof of leaf `index` in the tree of the first `size` leaves.
    pub fn inclusion_proof(&self, size: u64, index: u64) -> Result<Vec<Hash>, LedgerError> {
        self.check_within(size)?;
        prove_inclusion(size, index, &self.stored)
    }

    /// The consistency proof from size `size1` to size `size2`.
    pub fn consistency_proof(&self, size1: u64, size2: u64) -> Result<Vec<Hash>, LedgerError> {
        self.check_within(size2)?;
        prove_consistency(size1, size2, &self.stored)
    }

    fn check_within(&self, size: u64) -> Result<(), LedgerError> {
        if size > self.size {
            return Err(LedgerError::MerkleProof(format!("tree size {size} is beyond the log's size {}", self.size)));
        }
        Ok(())
    }
}

/// Rejects sizes above [`MAX_LOG_SIZE`].
fn check_size(size: u64) -> Result<(), LedgerError> {
    if size > MAX_LOG_SIZE {
        return Err(LedgerError::MerkleProof(format!("tree size {size} exceeds the maximum {MAX_LOG_SIZE}")));
    }
    Ok(())
}

/// Reads `indexes` and checks that the reader answered with exactly one hash each.
fn read_exact<R: HashReader + ?Sized>(reader: &R, indexes: &[u64]) -> Result<Vec<Hash>, R::Error> {
    if indexes.is_empty() {
        return Ok(Vec::new());
    }
    let hashes = reader.read_hashes(indexes)?;
    if hashes.len() != indexes.len() {
        return Err(LedgerError::MerkleProof(format!(
            "hash reader returned {} hashes for {} indexes",
            hashes.len(),
            indexes.len()
        ))
        .into());
    }
    Ok(hashes)
}

/// The largest power of two not above `n` (`n >= 1`), and its base-2 logarithm.
fn largest_pow2_at_most(n: u64) -> (u64, u32) {
    let level = 63 - n.leading_zeros();
    (1 << level, level)
}

/// The largest power of two strictly below `n` (`n >= 2`): RFC 6962's split point.
fn split(n: u64) -> u64 {
    largest_pow2_at_most(n - 1).0
}

/// Appends the stored-hash indexes of the complete subtrees that make up leaves `lo..hi`
/// (`lo` a multiple of the first one's size), largest first.
fn subtree_indexes(mut lo: u64, hi: u64, need: &mut Vec<u64>) {
    while lo < hi {
        let (k, level) = largest_pow2_at_most(hi - lo);
        need.push(stored_hash_index(level, lo >> level));
        lo += k;
    }
}

/// The hash of leaves `lo..hi`, from the hashes of the complete subtrees [`subtree_indexes`]
/// named, taken from `hashes` in that order.
fn subtree_hash<'a>(mut lo: u64, hi: u64, hashes: &mut impl Iterator<Item = &'a Hash>) -> Hash {
    let mut parts = Vec::new();
    while lo < hi {
        let (k, _) = largest_pow2_at_most(hi - lo);
        // read_exact guaranteed one hash per index, and the index lists mirror these walks.
        parts.push(hashes.next().copied().unwrap_or_default());
        lo += k;
    }
    let mut h = parts.pop().unwrap_or_default();
    while let Some(left) = parts.pop() {
        h = node_hash(&left, &h);
    }
    h
}

/// Indexes needed for the inclusion proof of leaf `n` in leaves `lo..hi` (`lo <= n < hi`).
fn leaf_proof_indexes(lo: u64, hi: u64, n: u64, need: &mut Vec<u64>) {
    if lo + 1 == hi {
        return;
    }
    let k = split(hi - lo);
    if n < lo + k {
        leaf_proof_indexes(lo, lo + k, n, need);
        subtree_indexes(lo + k, hi, need);
    } else {
        subtree_indexes(lo, lo + k, need);
        leaf_proof_indexes(lo + k, hi, n, need);
    }
}

/// PATH(n, D[lo..hi]) of RFC 6962 section 2.1.1, from the hashes [`leaf_proof_indexes`] named.
fn leaf_proof<'a>(lo: u64, hi: u64, n: u64, hashes: &mut impl Iterator<Item = &'a Hash>, proof: &mut Vec<Hash>) {
    if lo + 1 == hi {
        return;
    }
    let k = split(hi - lo);
    if n < lo + k {
        leaf_proof(lo, lo + k, n, hashes, proof);
        proof.push(subtree_hash(lo + k, hi, hashes));
    } else {
        let left = subtree_hash(lo, lo + k, hashes);
        leaf_proof(lo + k, hi, n, hashes, proof);
        proof.push(left);
    }
}

/// Indexes needed for the consistency proof from size `n` within leaves `lo..hi`
/// (`lo < n <= hi`).
fn tree_proof_indexes(lo: u64, hi: u64, n: u64, need: &mut Vec<u64>) {
    if n == hi {
        if lo != 0 {
            subtree_indexes(lo, hi, need);
        }
        return;
    }
    let k = split(hi - lo);
    if n <= lo + k {
        tree_proof_indexes(lo, lo + k, n, need);
        subtree_indexes(lo + k, hi, need);
    } else {
        subtree_indexes(lo, lo + k, need);
        tree_proof_indexes(lo + k, hi, n, need);
    }
}

/// SUBPROOF(n, D[lo..hi], lo == 0) of RFC 6962 section 2.1.2, from the hashes
/// [`tree_proof_indexes`] named.
fn tree_proof<'a>(lo: u64, hi: u64, n: u64, hashes: &mut impl Iterator<Item = &'a Hash>, proof: &mut Vec<Hash>) {
    if n == hi {
        if lo != 0 {
            proof.push(subtree_hash(lo, hi, hashes));
        }
        return;
    }
    let k = split(hi - lo);
    if n <= lo + k {
        tree_proof(lo, lo + k, n, hashes, proof);
        proof.push(subtree_hash(lo + k, hi, hashes));
    } else {
        let left = subtree_hash(lo, lo + k, hashes);
        tree_proof(lo + k, hi, n, hashes, proof);
        proof.push(left);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::leaf_hash;

    #[test]
    fn stored_hash_index_layout() {
        // Leaves 0, 1 then their parent, leaf 2, leaf 3, parent (2,3), grandparent (0..4), ...
        let expect: &[(u32, u64)] = &[(0, 0), (0, 1), (1, 0), (0, 2), (0, 3), (1, 1), (2, 0), (0, 4)];
        for (i, &(level, n)) in expect.iter().enumerate() {
            assert_eq!(stored_hash_index(level, n), i as u64, "({level}, {n})");
            assert_eq!(split_stored_hash_index(i as u64), (level, n));
        }
        for level in 0..20 {
            for n in 0..300 {
                let x = stored_hash_index(level, n);
                assert_eq!(split_stored_hash_index(x), (level, n));
            }
        }
        assert_eq!(stored_hash_count(0), 0);
        assert_eq!(stored_hash_count(1), 1);
        assert_eq!(stored_hash_count(2), 3);
        assert_eq!(stored_hash_count(4), 7);
        assert_eq!(stored_hash_count(5), 8);
        // A perfect tree of n leaves stores 2n - 1 hashes, up to the largest log.
        assert_eq!(stored_hash_count(1 << 20), (2 << 20) - 1);
        assert_eq!(stored_hash_count(MAX_LOG_SIZE), 2 * MAX_LOG_SIZE - 1);
    }

    #[test]
    fn bad_arguments_and_short_readers() {
        let mut log = MemLog::new();
        for i in 0..5u64 {
            log.append(leaf_hash(&i.to_be_bytes())).unwrap();
        }
        assert!(matches!(log.inclusion_proof(5, 5), Err(LedgerError::MerkleProof(_))));
        assert!(matches!(log.inclusion_proof(6, 0), Err(LedgerError::MerkleProof(_))));
        assert!(matches!(log.consistency_proof(0, 5), Err(LedgerError::MerkleProof(_))));
        assert!(matches!(log.consistency_proof(4, 3), Err(LedgerError::MerkleProof(_))));
        assert!(matches!(tree_hash(MAX_LOG_SIZE + 1, log.stored()), Err(LedgerError::MerkleProof(_))));
        // A store missing hashes is an error, not a panic.
        let short = &log.stored()[..3];
        assert!(tree_hash(5, short).is_err());
        assert!(prove_inclusion(5, 4, short).is_err());
        struct Liar;
        impl HashReader for Liar {
            type Error = LedgerError;
            fn read_hashes(&self, _: &[u64]) -> Result<Vec<Hash>, LedgerError> {
                Ok(vec![Hash::default()])
            }
        }
        let err = prove_inclusion(5, 0, &Liar).unwrap_err().to_string();
        assert!(err.contains("returned 1 hashes for 3 indexes"), "{err}");
    }
}
