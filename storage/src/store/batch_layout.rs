//! The batch layout: a batch item's receipt without the batch's other items.
//!
//! Rules:
//! - At commit, for every batch deposit of the block, [`cf::BATCH_TILES`] gets:
//!   - under `u64 height || u32 tx index` (12 bytes), the batch transaction without its items
//!     (canonical transaction bytes with an empty item list: body and signature, a few hundred
//!     bytes whatever the batch's size);
//!   - under `u64 height || u32 tx index || u8 band || u32 tile` (17 bytes), the tiles of the
//!     batch's item tree, cut as [`curia_ledger::merkle_tiles`] cuts a block's transaction tree,
//!     except that band 0 holds the items themselves (the 32-byte commitments) rather than their
//!     leaf hashes: a receipt needs the item's commitment, and the leaf hashes are one SHA-256
//!     each away, so the items are stored once here instead of twice.
//!
//!   They go into the commit's one `WriteBatch`, so they exist exactly when the block does. The
//!   tree is computed at commit and its root checked against the batch body's signed `root`.
//! - From `batch_slim_from` on (meta key; 1 for a store created by this build, the tip + 1 when
//!   a store written before it is first opened for writing, never below `batch_layout_from` or
//!   `tx_layout_from`) this is the only copy of a batch apart from the block: the
//!   per-transaction layout's `block_txs` has no entry for it ([`Store::block_tx`] assembles the
//!   whole batch from here). Below it a batch is also stored whole in `block_txs`. A read-only
//!   open of a store without the key treats every block as below it.
//! - Stores written before this layout have blocks without these entries. The meta key
//!   `batch_layout_from` records the first height written with it: 1 for a store created by this
//!   build, the tip + 1 when an older store is first opened for writing (nothing is migrated;
//!   batch items of older blocks get their receipts from the per-transaction layout or the whole
//!   block, as before). A read-only open of a store that has no such key (or not the family)
//!   treats every block as old.
//! - A batch item's receipt from this layout reads the header, the certificate, the batch
//!   transaction without items, at most a few tiles per band of the block's transaction tree and
//!   of the batch's item tree, and checks both proofs (the transaction's against the header's
//!   `tx_root`, the item's against the batch body's signed `root`) before returning: a bad tile
//!   or entry is [`StoreError::Corrupt`], never a wrong receipt. Its bytes are those built from
//!   the whole block.

use curia_ledger::block::Block;
use curia_ledger::codec::Canonical;
use curia_ledger::hash::Hash;
use curia_ledger::limits::MAX_BATCH_ITEMS;
use curia_ledger::merkle::{leaf_hash, verify_inclusion};
use curia_ledger::merkle_tiles::{self, TILE_WIDTH};
use curia_ledger::receipt::{BatchItem, Receipt};
use curia_ledger::tx::{Payload, Transaction};
use curia_ledger::LedgerError;
use rocksdb::WriteBatch;
use std::cell::RefCell;

use super::{cf, show_key, Store, META_BATCH_LAYOUT, META_BATCH_SLIM};
use crate::codec::{Cursor, DepositLocation};
use crate::error::StoreError;

/// Key of the item-less batch transaction `tx_index` of the block at `height`.
pub(crate) fn batch_tx_key(height: u64, tx_index: u32) -> [u8; 12] {
    crate::codec::encode_tx_location(height, tx_index)
}

/// Key of tile `tile` of band `band` of the item tree of batch `tx_index` at `height`.
pub(crate) fn item_tile_key(height: u64, tx_index: u32, band: u32, tile: u64) -> [u8; 17] {
    let mut k = [0u8; 17];
    k[..8].copy_from_slice(&height.to_be_bytes());
    k[8..12].copy_from_slice(&tx_index.to_be_bytes());
    k[12] = band as u8;
    k[13..].copy_from_slice(&(tile as u32).to_be_bytes());
    k
}

/// A band-0 tile's items and their leaf hashes.
type ItemsAndLeaves = (Vec<Hash>, Vec<Hash>);

fn hashes_of(b: &[u8]) -> Result<Vec<Hash>, String> {
    if !b.len().is_multiple_of(32) || b.is_empty() || b.len() > TILE_WIDTH * 32 {
        return Err(format!("tile of {} bytes", b.len()));
    }
    Ok(b.chunks_exact(32).map(|c| Hash(c.try_into().expect("32 bytes"))).collect())
}

impl Store {
    /// The first height whose block was committed with the batch layout (`u64::MAX`: none).
    pub fn batch_layout_from(&self) -> u64 {
        self.batch_layout_from
    }

    /// The first height whose batches have no `block_txs` entry, only the batch layout
    /// (`u64::MAX`: none).
    pub fn batch_slim_from(&self) -> u64 {
        self.batch_slim_from
    }

    /// Read `batch_slim_from` from meta (`None`: not recorded, or a layout family is missing).
    pub(super) fn read_batch_slim_from(&self) -> Result<Option<u64>, StoreError> {
        if self.db.cf_handle(cf::BATCH_TILES).is_none() || self.db.cf_handle(cf::BLOCK_TXS).is_none() {
            return Ok(None);
        }
        self.get_decoded(cf::META, META_BATCH_SLIM, |b| {
            let mut c = Cursor::new(b);
            let h = c.u64().map_err(|e| e.0)?;
            c.finish().map_err(|e| e.0)?;
            Ok(h)
        })
    }

    /// Record `batch_slim_from` (synced). Called once, before any block is committed with it.
    pub(super) fn write_batch_slim_from(&self, height: u64) -> Result<(), StoreError> {
        let mut wb = WriteBatch::default();
        self.put(&mut wb, cf::META, META_BATCH_SLIM, &height.to_be_bytes());
        self.write_synced(wb, "record the height batches leave block_txs")
    }

    /// Read `batch_layout_from` from meta (`None`: not recorded, or the family is missing).
    pub(super) fn read_batch_layout_from(&self) -> Result<Option<u64>, StoreError> {
        if self.db.cf_handle(cf::BATCH_TILES).is_none() {
            return Ok(None);
        }
        self.get_decoded(cf::META, META_BATCH_LAYOUT, |b| {
            let mut c = Cursor::new(b);
            let h = c.u64().map_err(|e| e.0)?;
            c.finish().map_err(|e| e.0)?;
            Ok(h)
        })
    }

    /// Record `batch_layout_from` (synced). Called once, before any block is committed with it.
    pub(super) fn write_batch_layout_from(&self, height: u64) -> Result<(), StoreError> {
        let mut wb = WriteBatch::default();
        self.put(&mut wb, cf::META, META_BATCH_LAYOUT, &height.to_be_bytes());
        self.write_synced(wb, "record the batch layout height")
    }

    /// Add every batch's item-less transaction and item-tree tiles to the commit batch. Computes
    /// each batch's tree (`O(items)` hashing) and refuses the block if a root is not the signed one.
    pub(super) fn put_batch_layout(&self, wb: &mut WriteBatch, block: &Block, height: u64) -> Result<(), StoreError> {
        for (i, tx) in block.txs.iter().enumerate() {
            let Payload::BatchDeposit(b) = &tx.body.payload else { continue };
            let i = i as u32;
            let leaves: Vec<Hash> = tx.items.iter().map(|c| leaf_hash(&c.0)).collect();
            let (root, bands) = merkle_tiles::bands(&leaves);
            if root != b.root || tx.items.len() != b.count as usize {
                return Err(StoreError::BadCommit {
                    height,
                    reason: format!("batch transaction {i}: its {} items do not have the signed root", tx.items.len()),
                });
            }
            let bare = Transaction { body: tx.body.clone(), signature: tx.signature, items: Vec::new() };
            self.put(wb, cf::BATCH_TILES, &batch_tx_key(height, i), &bare.to_bytes());
            for (band, hashes) in bands.iter().enumerate() {
                // Band 0 is stored as the items, whose leaf hashes it holds.
                let hashes: &[Hash] = if band == 0 { &tx.items } else { hashes };
                for (t, tile) in merkle_tiles::tiles(hashes).enumerate() {
                    let mut v = Vec::with_capacity(tile.len() * 32);
                    for h in tile {
                        v.extend_from_slice(&h.0);
                    }
                    self.put(wb, cf::BATCH_TILES, &item_tile_key(height, i, band as u32, t as u64), &v);
                }
            }
        }
        Ok(())
    }

    /// The batch transaction `tx_index` of the block at `height` without its items (`None` if
    /// the store has no such entry: not a batch, or a block older than
    /// [`Store::batch_layout_from`]).
    pub fn batch_tx(&self, height: u64, tx_index: u32) -> Result<Option<Transaction>, StoreError> {
        if self.db.cf_handle(cf::BATCH_TILES).is_none() {
            return Ok(None);
        }
        self.get_decoded(cf::BATCH_TILES, &batch_tx_key(height, tx_index), |b| {
            let tx = Transaction::from_bytes(b).map_err(|e| e.to_string())?;
            match &tx.body.payload {
                Payload::BatchDeposit(_) if tx.items.is_empty() => Ok(tx),
                Payload::BatchDeposit(_) => Err(format!("carries {} items", tx.items.len())),
                p => Err(format!("a {} is no batch", p.kind())),
            }
        })
    }

    fn item_tile(&self, height: u64, tx_index: u32, band: u32, tile: u64) -> Result<Option<Vec<Hash>>, StoreError> {
        self.get_decoded(cf::BATCH_TILES, &item_tile_key(height, tx_index, band, tile), hashes_of)
    }

    /// The batch transaction `tx_index` at `height` with all its items, from the batch layout:
    /// the transaction without items and every band-0 tile, whose items must have the signed
    /// root (`None`: no batch stored there). `O(items)` reads and hashing.
    pub(super) fn whole_batch(&self, height: u64, tx_index: u32) -> Result<Option<Transaction>, StoreError> {
        let Some(mut tx) = self.batch_tx(height, tx_index)? else { return Ok(None) };
        let Payload::BatchDeposit(batch) = &tx.body.payload else { unreachable!("batch_tx checks the kind") };
        let (count, root) = (batch.count as usize, batch.root);
        let corrupt = |reason: String| StoreError::Corrupt {
            cf: cf::BATCH_TILES,
            key: format!("block {height} transaction {tx_index}"),
            reason,
        };
        if count > MAX_BATCH_ITEMS as usize {
            return Err(corrupt(format!("a batch of {count} items")));
        }
        let mut items = Vec::with_capacity(count);
        for t in 0..count.div_ceil(TILE_WIDTH) {
            let want = (count - t * TILE_WIDTH).min(TILE_WIDTH);
            let tile = self
                .item_tile(height, tx_index, 0, t as u64)?
                .ok_or_else(|| corrupt(format!("tile {t} of band 0 is missing")))?;
            if tile.len() != want {
                return Err(corrupt(format!("tile {t} of band 0 has {} hashes, expected {want}", tile.len())));
            }
            items.extend(tile);
        }
        let leaves: Vec<Hash> = items.iter().map(|c| leaf_hash(&c.0)).collect();
        if curia_ledger::merkle::root(&leaves) != root {
            return Err(corrupt("the stored items do not have the signed root".into()));
        }
        tx.items = items;
        Ok(Some(tx))
    }

    /// The receipt of the batch item at `loc` (which names an item), from the batch layout and
    /// the per-transaction layout's transaction tree: `O(log n)` reads and hashing in both the
    /// block's size and the batch's.
    pub(super) fn receipt_from_batch_layout(
        &self,
        deposit_id: &Hash,
        loc: DepositLocation,
    ) -> Result<Receipt, StoreError> {
        let (height, tx_index) = (loc.height, loc.tx_index);
        let missing = |what| StoreError::NotFound { what, key: format!("at height {height} (deposit {deposit_id})") };
        let bad_index = |reason: String| StoreError::Corrupt {
            cf: cf::DEPOSITS,
            key: show_key(cf::DEPOSITS, &deposit_id.0),
            reason,
        };
        let index = loc.item_index.ok_or_else(|| bad_index("not a batch item".into()))?;
        let header = self.header(height)?.ok_or_else(|| missing("header"))?;
        let cert = self.cert(height)?.ok_or_else(|| missing("certificate"))?;
        let tx = self.batch_tx(height, tx_index)?.ok_or_else(|| missing("batch transaction"))?;
        let Payload::BatchDeposit(batch) = &tx.body.payload else { unreachable!("batch_tx checks the kind") };
        let (count, batch_root) = (batch.count as u64, batch.root);
        if index as u64 >= count {
            return Err(bad_index(format!("item {index} of a batch of {count}")));
        }
        // The envelope (body and signature) is the block tree's leaf: the items are not in it.
        let tx_proof = self.tx_proof_from_tiles(&header, tx_index, &tx.leaf_hash())?;

        let corrupt = |e: String| StoreError::Corrupt {
            cf: cf::BATCH_TILES,
            key: format!("block {height} transaction {tx_index} item {index}"),
            reason: e,
        };
        // Band 0 tiles hold the items: the proof needs their leaf hashes, the receipt the item.
        let band0 = |t: u64| -> Result<Option<ItemsAndLeaves>, StoreError> {
            Ok(self.item_tile(height, tx_index, 0, t)?.map(|items| {
                let leaves = items.iter().map(|c| leaf_hash(&c.0)).collect();
                (items, leaves)
            }))
        };
        let own = index as u64 / TILE_WIDTH as u64;
        let want = (count - own * TILE_WIDTH as u64).min(TILE_WIDTH as u64) as usize;
        let (items, own_leaves) = band0(own)?.ok_or_else(|| corrupt(format!("tile {own} of band 0 is missing")))?;
        if items.len() != want {
            return Err(corrupt(format!("tile {own} of band 0 has {} hashes, expected {want}", items.len())));
        }
        let commitment = items[index as usize % TILE_WIDTH];
        let mut own_leaves = Some(own_leaves);
        let read_error: RefCell<Option<StoreError>> = RefCell::new(None);
        let proof = merkle_tiles::inclusion_proof(count, index as u64, |b, t| {
            let r = match (b, t) {
                (0, t) if t == own => Ok(own_leaves.take()),
                (0, t) => band0(t).map(|o| o.map(|(_, leaves)| leaves)),
                (b, t) => self.item_tile(height, tx_index, b, t),
            };
            r.map_err(|e| {
                read_error.borrow_mut().get_or_insert(e);
                LedgerError::MerkleProof("tile read failed".into())
            })
        });
        if let Some(e) = read_error.into_inner() {
            return Err(e);
        }
        let proof = proof.map_err(|e| corrupt(e.to_string()))?;
        verify_inclusion(&leaf_hash(&commitment.0), index as u64, count, &proof, &batch_root)
            .map_err(|e| corrupt(format!("batch proof: {e}")))?;
        let item = BatchItem { index, commitment, proof };
        let chain_id = self.spec.chain_id;
        let r = Receipt::build_batch_item_from_parts(&chain_id, &header, &cert, &tx, tx_index, tx_proof, item)
            .map_err(|e| bad_index(e.to_string()))?;
        if r.deposit_id != *deposit_id {
            return Err(bad_index(format!("index points to deposit {} instead", r.deposit_id)));
        }
        Ok(r)
    }
}

/// Keys of the batch family, for messages.
pub(super) fn show_batch_key(k: &[u8]) -> String {
    let be32 = |b: &[u8]| u32::from_be_bytes(b.try_into().expect("4 bytes"));
    match k.len() {
        12 | 17 => {
            let at = format!(
                "height {} transaction {}",
                u64::from_be_bytes(k[..8].try_into().expect("8 bytes")),
                be32(&k[8..12])
            );
            if k.len() == 12 {
                format!("{at} (batch without items)")
            } else {
                format!("{at} item band {} tile {}", k[12], be32(&k[13..]))
            }
        }
        _ => format!("key {}", hex::encode(k)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_height_then_transaction_then_position() {
        assert!(batch_tx_key(1, 3)[..] < item_tile_key(1, 3, 0, 0)[..]);
        assert!(item_tile_key(1, 3, 9, 9)[..] < batch_tx_key(1, 4)[..]);
        assert!(item_tile_key(1, 3, 0, 5) < item_tile_key(1, 3, 1, 0));
        assert!(item_tile_key(1, u32::MAX, 9, 9)[..] < batch_tx_key(2, 0)[..]);
        assert_eq!(show_batch_key(&item_tile_key(7, 2, 1, 3)), "height 7 transaction 2 item band 1 tile 3");
        assert_eq!(show_batch_key(&batch_tx_key(7, 2)), "height 7 transaction 2 (batch without items)");
    }
}
