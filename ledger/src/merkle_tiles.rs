//! Merkle tiles: a block's transaction tree stored in pieces, so that an inclusion proof needs
//! `O(log n)` stored hashes and a bounded amount of hashing instead of every leaf.
//!
//! Rules (the tree is the RFC 6962 tree of [`crate::merkle`]; nothing here changes a root or
//! a proof, only how they are computed):
//! - The tree's *bands* are the levels `0, 8, 16, ...` (multiples of [`TILE_LEVELS`]). Band `b`
//!   holds the hashes of the perfect, aligned subtrees of `2^(8b)` leaves, left to right: band 0
//!   is the leaf hashes, band 1 the roots of leaves `0..256`, `256..512`, ..., and so on; a band
//!   has `n >> 8b` hashes, and the bands stop at the first empty one.
//! - A band is cut into *tiles* of [`TILE_WIDTH`] consecutive hashes; tile `t` of band `b` holds
//!   hashes `256 t .. min(256 (t + 1), len)`. Only the last tile of a band may be short.
//! - The hash of a perfect aligned subtree at level `l` comes from the `2^(l - 8b)` hashes of band
//!   `b = l / 8` below it, which lie in one tile (at most 127 node hashes). The root of any other
//!   subtree an inclusion proof names (only ever at the right edge of the tree) is the RFC 6962
//!   fold of the perfect subtrees of its size's binary decomposition.
//! - So a proof reads at most one tile per band (two for a block of 65,536 transactions or
//!   fewer, three up to 16 M) and hashes at most 255 nodes per band.

use std::collections::HashMap;

use crate::hash::Hash;
use crate::merkle::{node_hash, root};
use crate::{LedgerError, Result};

/// Levels per band.
pub const TILE_LEVELS: u32 = 8;
/// Hashes per tile.
pub const TILE_WIDTH: usize = 1 << TILE_LEVELS;

/// The bands of the tree over `leaves` (band 0 is a copy of `leaves`), and the tree's root.
/// `n - 1` node hashes, as many as [`crate::merkle::root`].
///
/// Level `l` is computed whole, bottom-up: node `j` is the RFC 6962 root of leaves
/// `j 2^l .. min((j + 1) 2^l, n)`. A pair is hashed; a last unpaired node (the right edge's
/// smaller subtree) goes up unchanged, which is the RFC 6962 split: a range of `m` leaves with
/// `2^l < m <= 2^(l+1)` splits at `2^l`. So the top node is the root, and the first `n >> l`
/// nodes of level `l` are the perfect aligned subtrees a band holds.
pub fn bands(leaves: &[Hash]) -> (Hash, Vec<Vec<Hash>>) {
    let mut out: Vec<Vec<Hash>> = Vec::new();
    if leaves.is_empty() {
        return (root(leaves), out);
    }
    out.push(leaves.to_vec());
    let n = leaves.len();
    let up = |level: &[Hash]| -> Vec<Hash> {
        level.chunks(2).map(|p| if let [l, r] = p { node_hash(l, r) } else { p[0] }).collect()
    };
    let mut level = up(leaves);
    let mut l = 1u32;
    loop {
        if l.is_multiple_of(TILE_LEVELS) && n >> l > 0 {
            out.push(level[..n >> l].to_vec());
        }
        if level.len() == 1 {
            break;
        }
        level = up(&level);
        l += 1;
    }
    (level[0], out)
}

/// The tiles of a band, in order.
pub fn tiles(band: &[Hash]) -> impl Iterator<Item = &[Hash]> {
    band.chunks(TILE_WIDTH)
}

/// The RFC 6962 root of leaves `lo..hi`, from the perfect subtrees of the binary decomposition of
/// `hi - lo` (which must be aligned: `lo` a multiple of the largest piece).
fn fold_root(n: u64, lo: u64, hi: u64, perfect: &mut impl FnMut(u32, u64) -> Result<Hash>) -> Result<Hash> {
    debug_assert!(lo < hi && hi <= n);
    let mut pieces = Vec::with_capacity(64);
    let mut at = lo;
    let mut size = hi - lo;
    while size > 0 {
        let l = 63 - size.leading_zeros();
        pieces.push(perfect(l, at >> l)?);
        at += 1 << l;
        size -= 1 << l;
    }
    let mut acc = pieces.pop().expect("at least one piece");
    while let Some(left) = pieces.pop() {
        acc = node_hash(&left, &acc);
    }
    Ok(acc)
}

/// The inclusion proof of leaf `index` in a tree of `n` leaves stored as tiles: `tile(band,
/// tile)` returns that tile's hashes. Each tile is asked for at most once. The result equals
/// [`crate::merkle::inclusion_proof`] over the leaves; a tile that is missing or of the wrong
/// length is an error, never a wrong proof (the caller should still check the proof against
/// the header's root, which catches a tile whose hashes are wrong).
pub fn inclusion_proof(
    n: u64,
    index: u64,
    mut tile: impl FnMut(u32, u64) -> Result<Option<Vec<Hash>>>,
) -> Result<Vec<Hash>> {
    if index >= n {
        return Err(LedgerError::MerkleProof(format!("index {index} out of range for tree size {n}")));
    }
    let mut cache: HashMap<(u32, u64), Vec<Hash>> = HashMap::new();
    let mut perfect = |l: u32, j: u64| -> Result<Hash> {
        let band = l / TILE_LEVELS;
        let shift = l - band * TILE_LEVELS;
        let lo = j << shift; // index in the band
        let t = lo / TILE_WIDTH as u64;
        if let std::collections::hash_map::Entry::Vacant(slot) = cache.entry((band, t)) {
            let band_len = n >> (band * TILE_LEVELS);
            let want = (band_len - t * TILE_WIDTH as u64).min(TILE_WIDTH as u64) as usize;
            let hashes = tile(band, t)?
                .ok_or_else(|| LedgerError::MerkleProof(format!("tile {t} of band {band} is missing")))?;
            if hashes.len() != want {
                return Err(LedgerError::MerkleProof(format!(
                    "tile {t} of band {band} has {} hashes, expected {want}",
                    hashes.len()
                )));
            }
            slot.insert(hashes);
        }
        let hashes = &cache[&(band, t)];
        let off = (lo - t * TILE_WIDTH as u64) as usize;
        Ok(root(&hashes[off..off + (1usize << shift)]))
    };
    // The walk of `merkle::inclusion_proof`, with subtree roots from the tiles.
    let (mut lo, mut hi, mut m) = (0u64, n, index);
    let mut path = Vec::new();
    while hi - lo > 1 {
        let k = 1u64 << (63 - (hi - lo - 1).leading_zeros());
        if m < k {
            path.push(fold_root(n, lo + k, hi, &mut perfect)?);
            hi = lo + k;
        } else {
            path.push(fold_root(n, lo, lo + k, &mut perfect)?);
            lo += k;
            m -= k;
        }
    }
    path.reverse();
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| merkle::leaf_hash(&(i as u64).to_be_bytes())).collect()
    }

    fn check(n: usize, indices: impl Iterator<Item = usize>) {
        let ls = leaves(n);
        let (r, bands) = bands(&ls);
        assert_eq!(r, merkle::root(&ls), "root of {n}");
        for (b, band) in bands.iter().enumerate() {
            assert_eq!(band.len(), n >> (8 * b), "band {b} of {n}");
            assert!(!band.is_empty());
        }
        assert_eq!(n >> (8 * bands.len()), 0, "a band is missing for {n}");
        for i in indices {
            let mut asked = Vec::new();
            let p = inclusion_proof(n as u64, i as u64, |b, t| {
                asked.push((b, t));
                Ok(tiles(&bands[b as usize]).nth(t as usize).map(|s| s.to_vec()))
            })
            .unwrap();
            assert_eq!(p, merkle::inclusion_proof(&ls, i as u64).unwrap(), "leaf {i} of {n}");
            assert!(asked.len() <= 2 * bands.len(), "{} tiles read for {n}", asked.len());
        }
    }

    #[test]
    fn proofs_equal_the_plain_ones_for_every_leaf_of_small_trees() {
        for n in 1..=300 {
            check(n, 0..n);
        }
    }

    #[test]
    fn roots_and_band_sizes_equal_the_plain_ones_up_to_1100_leaves() {
        for n in 301..=1100 {
            check(n, [0, n / 3, n - 1].into_iter());
        }
    }

    #[test]
    fn proofs_equal_the_plain_ones_in_big_trees() {
        for n in [511, 512, 513, 65_535, 65_536, 65_537, 70_001] {
            check(n, [0, 1, 255, 256, n / 2, n - 257, n - 2, n - 1].into_iter().filter(|&i| i < n));
        }
    }

    #[test]
    fn missing_or_short_tiles_and_bad_indices_are_errors() {
        assert!(inclusion_proof(0, 0, |_, _| Ok(None)).is_err());
        assert!(inclusion_proof(5, 5, |_, _| Ok(None)).is_err());
        let e = inclusion_proof(600, 3, |_, _| Ok(None)).unwrap_err();
        assert!(e.to_string().contains("missing"), "{e}");
        let e = inclusion_proof(600, 3, |_, _| Ok(Some(vec![Hash::ZERO; 3]))).unwrap_err();
        assert!(e.to_string().contains("expected"), "{e}");
    }
}
