//! The deposit log: one append-only RFC 6962 log over every deposit of a chain, in commit order
//! (`docs/receipt-format.md` section 14).
//!
//! Rules:
//! - Leaves are the chain's deposits in commit order: block by block, transaction by
//!   transaction, a batch's items in item order; exactly the order of the
//!   [`Change::Deposit`]s that [`crate::state::apply_block`] returns.
//! - A leaf's data is 64 bytes, `deposit ID || commitment hash` ([`leaf_data`]); its hash is the
//!   RFC 6962 leaf hash `SHA-256(0x00 || data)` ([`leaf_hash`]). The commitment hash is the one
//!   the state records for the deposit (`Commitment::hash`), so a log leaf names the evidence
//!   without the block.
//! - A store keeps the log as stored hashes ([`crate::tlog`]); [`append_leaves`] computes the
//!   hashes a block appends, reading earlier ones through a [`HashReader`]. An audit keeps only
//!   a [`Frontier`] (the roots of the log's perfect subtrees, at most 62 hashes) and compares
//!   its size and root with the store's.

use crate::block::Block;
use crate::hash::Hash;
use crate::merkle::{self, node_hash};
use crate::state::Change;
use crate::tlog::{self, HashReader, MAX_LOG_SIZE};
use crate::LedgerError;

/// Bytes of a leaf's data: deposit ID then commitment hash.
pub const LEAF_DATA_LEN: usize = 64;

/// A deposit's leaf data: `deposit ID (32 bytes) || commitment hash (32 bytes)`.
pub fn leaf_data(deposit_id: &Hash, commitment: &Hash) -> [u8; LEAF_DATA_LEN] {
    let mut d = [0u8; LEAF_DATA_LEN];
    d[..32].copy_from_slice(&deposit_id.0);
    d[32..].copy_from_slice(&commitment.0);
    d
}

/// A deposit's RFC 6962 leaf hash: `SHA-256(0x00 || deposit ID || commitment hash)`.
pub fn leaf_hash(deposit_id: &Hash, commitment: &Hash) -> Hash {
    merkle::leaf_hash(&leaf_data(deposit_id, commitment))
}

/// The leaves a block appends, from its changes: `(deposit ID, leaf hash)` in commit order.
pub fn deposit_leaves(changes: &[Change]) -> Vec<(Hash, Hash)> {
    changes
        .iter()
        .filter_map(|c| match c {
            Change::Deposit { id, commitment } => Some((*id, leaf_hash(id, commitment))),
            _ => None,
        })
        .collect()
}

/// The leaves of a block, from its transactions (the same as [`deposit_leaves`] of its
/// changes, for a block that applies): `(deposit ID, leaf hash)` in commit order.
pub fn block_leaves(chain_id: &Hash, block: &Block) -> Vec<(Hash, Hash)> {
    block.txs.iter().flat_map(|tx| tx.deposits(&tx.id(chain_id))).map(|(id, c)| (id, leaf_hash(&id, &c))).collect()
}

/// Reads `base` below `base_count` and the not yet written hashes of a batch above it.
struct Overlay<'a, R: ?Sized> {
    base: &'a R,
    base_count: u64,
    pending: &'a [Hash],
}

impl<R: HashReader + ?Sized> HashReader for Overlay<'_, R> {
    type Error = R::Error;
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, R::Error> {
        // Indexes come in increasing order: the stored ones first, then the pending ones.
        let split = indexes.partition_point(|&i| i < self.base_count);
        let mut out = if split > 0 { self.base.read_hashes(&indexes[..split])? } else { Vec::new() };
        for &i in &indexes[split..] {
            let h = usize::try_from(i - self.base_count)
                .ok()
                .and_then(|p| self.pending.get(p))
                .ok_or_else(|| LedgerError::MerkleProof(format!("stored hash {i} is neither stored nor pending")))?;
            out.push(*h);
        }
        Ok(out)
    }
}

/// The stored hashes to append, in order at index [`tlog::stored_hash_count`]`(size)`, when
/// `leaves` (RFC 6962 leaf hashes) are added to a log of `size` leaves held by `reader`.
pub fn append_leaves<R: HashReader + ?Sized>(size: u64, leaves: &[Hash], reader: &R) -> Result<Vec<Hash>, R::Error> {
    let new_size = size
        .checked_add(leaves.len() as u64)
        .filter(|&s| s <= MAX_LOG_SIZE)
        .ok_or_else(|| LedgerError::MerkleProof(format!("log of {size} leaves cannot grow by {}", leaves.len())))?;
    let base_count = tlog::stored_hash_count(size);
    let mut pending: Vec<Hash> = Vec::with_capacity(2 * leaves.len());
    for (k, leaf) in leaves.iter().enumerate() {
        let n = size + k as u64;
        let add = tlog::stored_hashes_for_leaf(n, *leaf, &Overlay { base: reader, base_count, pending: &pending })?;
        pending.extend(add);
    }
    debug_assert_eq!(base_count + pending.len() as u64, tlog::stored_hash_count(new_size));
    Ok(pending)
}

/// The compact state of a log: its size and the roots of its perfect subtrees, largest first
/// (one per set bit of the size). Enough to append and to compute the root; no proofs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    peaks: Vec<Hash>,
}

impl Frontier {
    /// The empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The frontier of the first `size` leaves of a log held by `reader` (stored hashes in
    /// [`crate::tlog`]'s layout): one read of at most 62 stored hashes, the roots of the perfect
    /// subtrees, largest first.
    pub fn read<R: HashReader + ?Sized>(size: u64, reader: &R) -> Result<Frontier, R::Error> {
        if size > MAX_LOG_SIZE {
            return Err(LedgerError::MerkleProof(format!("log size {size} exceeds {MAX_LOG_SIZE}")).into());
        }
        let mut indexes = Vec::new();
        let mut start = 0u64;
        for level in (0..64u32).rev() {
            if size & (1u64 << level) != 0 {
                indexes.push(tlog::stored_hash_index(level, start >> level));
                start += 1u64 << level;
            }
        }
        let peaks = if indexes.is_empty() { Vec::new() } else { reader.read_hashes(&indexes)? };
        if peaks.len() != indexes.len() {
            return Err(LedgerError::MerkleProof(format!(
                "asked for {} stored hashes, got {}",
                indexes.len(),
                peaks.len()
            ))
            .into());
        }
        Ok(Frontier { size, peaks })
    }

    /// Append the RFC 6962 leaf hashes of the deposits among `changes` (a block's changes, in
    /// order): the log after that block.
    pub fn append_changes(&mut self, changes: &[Change]) -> Result<(), LedgerError> {
        for (_, leaf) in deposit_leaves(changes) {
            self.append(leaf)?;
        }
        Ok(())
    }

    /// Append one leaf by its RFC 6962 leaf hash.
    pub fn append(&mut self, leaf: Hash) -> Result<(), LedgerError> {
        if self.size >= MAX_LOG_SIZE {
            return Err(LedgerError::MerkleProof(format!("log is full at {} leaves", self.size)));
        }
        // Each trailing one bit of the old size is a perfect subtree the new leaf completes.
        let mut h = leaf;
        for _ in 0..self.size.trailing_ones() {
            let left = self.peaks.pop().expect("one peak per set bit");
            h = node_hash(&left, &h);
        }
        self.peaks.push(h);
        self.size += 1;
        Ok(())
    }

    /// The RFC 6962 root (`SHA-256("")` for the empty log).
    pub fn root(&self) -> Hash {
        // The root folds the peaks right to left: the smallest subtree is the rightmost.
        let mut it = self.peaks.iter().rev();
        match it.next() {
            None => Hash::sha256(b""),
            Some(last) => it.fold(*last, |acc, left| node_hash(left, &acc)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tlog::MemLog;

    fn leaf(i: u64) -> Hash {
        merkle::leaf_hash(&i.to_be_bytes())
    }

    #[test]
    fn frontier_and_batched_appends_match_the_stored_log() {
        let mut mem = MemLog::new();
        let mut front = Frontier::new();
        let mut stored: Vec<Hash> = Vec::new();
        // Blocks of varying sizes, including empty ones, appended in one call each.
        let mut n = 0u64;
        for block in [0u64, 1, 1, 2, 3, 0, 5, 8, 13, 1, 31, 64, 7] {
            let leaves: Vec<Hash> = (n..n + block).map(leaf).collect();
            let add = append_leaves(n, &leaves, &stored).unwrap();
            stored.extend(add);
            for l in &leaves {
                mem.append(*l).unwrap();
                front.append(*l).unwrap();
                assert_eq!(front.root(), mem.root(), "size {}", mem.size());
            }
            n += block;
            assert_eq!(stored, mem.stored(), "after {n} leaves");
            assert_eq!(front.size(), n);
            let all: Vec<Hash> = (0..n).map(leaf).collect();
            assert_eq!(front.root(), merkle::root(&all));
            assert_eq!(Frontier::read(n, &stored).unwrap(), front, "frontier read back at {n}");
        }
    }

    #[test]
    fn leaf_is_id_then_commitment() {
        let id = Hash([1; 32]);
        let c = Hash([2; 32]);
        let mut want = vec![0u8];
        want.extend([1u8; 32]);
        want.extend([2u8; 32]);
        assert_eq!(leaf_hash(&id, &c), Hash::sha256(&want));
    }

    #[test]
    fn a_reader_missing_hashes_is_an_error() {
        let stored: Vec<Hash> = Vec::new();
        // A log of 1 leaf whose hashes are not in the reader.
        assert!(append_leaves(1, &[leaf(1)], &stored).is_err());
        assert!(append_leaves(MAX_LOG_SIZE, &[leaf(1)], &stored).is_err());
    }
}
