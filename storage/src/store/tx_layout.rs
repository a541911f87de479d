//! The per-transaction layout: what a receipt needs, readable without the block it is in.
//!
//! Rules:
//! - At commit, besides the whole block, every transaction is stored on its own in
//!   [`cf::BLOCK_TXS`] under `u64 height || u32 tx index` (its canonical bytes: body, signature,
//!   batch items), except, from [`Store::batch_slim_from`] on, batch deposits, which are stored
//!   once, in the batch layout (`store/batch_layout.rs`: the transaction without its items and
//!   the items as band 0 of the item tree); the block's transaction tree in [`cf::TX_TILES`] under
//!   `u64 height || u8 band || u32 tile` (concatenated 32-byte hashes; see
//!   [`curia_ledger::merkle_tiles`] for bands and tiles). Both go into the commit's one
//!   `WriteBatch`, so they exist exactly when the block does.
//! - Stores written before this layout have blocks without these entries. The meta key
//!   `tx_layout_from` records the first height written with it: 1 for a store created by this
//!   build, the tip + 1 when an older store is first opened for writing (nothing is migrated;
//!   receipts of older blocks are built from the whole block, as before). A read-only open of a
//!   store that has no such key (or not even the two families) treats every block as old.
//! - A receipt built from this layout checks the transaction's inclusion proof against the
//!   header's `tx_root` before returning it: a bad tile or transaction is [`StoreError::Corrupt`],
//!   never a wrong receipt. The receipt's bytes are the same as those built from the block.

use std::cell::RefCell;

use curia_ledger::block::{Block, Header};
use curia_ledger::codec::Canonical;
use curia_ledger::hash::Hash;
use curia_ledger::merkle_tiles::{self, TILE_WIDTH};
use curia_ledger::receipt::Receipt;
use curia_ledger::tx::{Payload, Transaction};
use curia_ledger::LedgerError;
use rocksdb::WriteBatch;

use super::{cf, show_key, Store, META_TX_LAYOUT};
use crate::codec::{Cursor, DepositLocation};
use crate::error::StoreError;

/// Key of transaction `tx_index` of the block at `height`.
pub(crate) fn block_tx_key(height: u64, tx_index: u32) -> [u8; 12] {
    crate::codec::encode_tx_location(height, tx_index)
}

/// Key of tile `tile` of band `band` of the block at `height`.
pub(crate) fn tile_key(height: u64, band: u32, tile: u64) -> [u8; 13] {
    let mut k = [0u8; 13];
    k[..8].copy_from_slice(&height.to_be_bytes());
    k[8] = band as u8;
    k[9..].copy_from_slice(&(tile as u32).to_be_bytes());
    k
}

impl Store {
    /// The first height whose block was committed with the per-transaction layout.
    pub fn tx_layout_from(&self) -> u64 {
        self.tx_layout_from
    }

    /// Read `tx_layout_from` from meta (`None`: not recorded, or the families are missing).
    pub(super) fn read_tx_layout_from(&self) -> Result<Option<u64>, StoreError> {
        if self.db.cf_handle(cf::BLOCK_TXS).is_none() || self.db.cf_handle(cf::TX_TILES).is_none() {
            return Ok(None);
        }
        self.get_decoded(cf::META, META_TX_LAYOUT, |b| {
            let mut c = Cursor::new(b);
            let h = c.u64().map_err(|e| e.0)?;
            c.finish().map_err(|e| e.0)?;
            Ok(h)
        })
    }

    /// Record `tx_layout_from` (synced). Called once, before any block is committed with it.
    pub(super) fn write_tx_layout_from(&self, height: u64) -> Result<(), StoreError> {
        let mut wb = WriteBatch::default();
        self.put(&mut wb, cf::META, META_TX_LAYOUT, &height.to_be_bytes());
        self.write_synced(wb, "record the transaction layout height")
    }

    /// Add the block's transactions and its tree's tiles to the commit batch. `bands` are
    /// [`merkle_tiles::bands`] of the block's leaves. With `skip_batches` (blocks from
    /// [`Store::batch_slim_from`] on) batch deposits get no entry: the batch layout has them.
    pub(super) fn put_tx_layout(
        &self,
        wb: &mut WriteBatch,
        block: &Block,
        height: u64,
        bands: &[Vec<Hash>],
        skip_batches: bool,
    ) {
        for (i, tx) in block.txs.iter().enumerate() {
            if skip_batches && matches!(tx.body.payload, Payload::BatchDeposit(_)) {
                continue;
            }
            self.put(wb, cf::BLOCK_TXS, &block_tx_key(height, i as u32), &tx.to_bytes());
        }
        for (b, band) in bands.iter().enumerate() {
            for (t, tile) in merkle_tiles::tiles(band).enumerate() {
                let mut v = Vec::with_capacity(tile.len() * 32);
                for h in tile {
                    v.extend_from_slice(&h.0);
                }
                self.put(wb, cf::TX_TILES, &tile_key(height, b as u32, t as u64), &v);
            }
        }
    }

    /// Transaction `tx_index` of the block at `height` with its items, read on its own (`None`
    /// if the store has no such entry, e.g. for a block older than [`Store::tx_layout_from`]).
    /// From [`Store::batch_slim_from`] on a batch is assembled from the batch layout (its
    /// transaction without items and its band-0 tiles, checked against the signed root); a
    /// batch item's receipt reads far less than this (`Store::receipt`).
    pub fn block_tx(&self, height: u64, tx_index: u32) -> Result<Option<Transaction>, StoreError> {
        if self.db.cf_handle(cf::BLOCK_TXS).is_none() {
            return Ok(None);
        }
        let stored = self.get_decoded(cf::BLOCK_TXS, &block_tx_key(height, tx_index), |b| {
            Transaction::from_bytes(b).map_err(|e| e.to_string())
        })?;
        if stored.is_some() || height < self.batch_slim_from {
            return Ok(stored);
        }
        self.whole_batch(height, tx_index)
    }

    fn tile(&self, height: u64, band: u32, tile: u64) -> Result<Option<Vec<Hash>>, StoreError> {
        let key = tile_key(height, band, tile);
        self.get_decoded(cf::TX_TILES, &key, |b| {
            if b.len() % 32 != 0 || b.is_empty() || b.len() > TILE_WIDTH * 32 {
                return Err(format!("tile of {} bytes", b.len()));
            }
            Ok(b.chunks_exact(32).map(|c| Hash(c.try_into().expect("32 bytes"))).collect())
        })
    }

    /// The inclusion proof of transaction `tx_index` (whose envelope leaf hash is `leaf`) in
    /// `header.tx_root`, from the block's stored tree tiles, checked against that root: a missing
    /// or bad tile is [`StoreError::Corrupt`] (or a read error), never a wrong proof.
    pub(super) fn tx_proof_from_tiles(
        &self,
        header: &Header,
        tx_index: u32,
        leaf: &Hash,
    ) -> Result<Vec<Hash>, StoreError> {
        let height = header.height;
        let read_error: RefCell<Option<StoreError>> = RefCell::new(None);
        let corrupt = |e: LedgerError| StoreError::Corrupt {
            cf: cf::TX_TILES,
            key: format!("block {height} transaction {tx_index}"),
            reason: e.to_string(),
        };
        let proof = merkle_tiles::inclusion_proof(header.tx_count as u64, tx_index as u64, |b, t| {
            self.tile(height, b, t).map_err(|e| {
                read_error.borrow_mut().get_or_insert(e);
                LedgerError::MerkleProof("tile read failed".into())
            })
        });
        if let Some(e) = read_error.into_inner() {
            return Err(e);
        }
        let proof = proof.map_err(corrupt)?;
        curia_ledger::merkle::verify_inclusion(leaf, tx_index as u64, header.tx_count as u64, &proof, &header.tx_root)
            .map_err(corrupt)?;
        Ok(proof)
    }

    /// The receipt of the deposit at `loc`, from the per-transaction layout: the header, the
    /// certificate, one transaction and at most a few tiles per band, whatever the block's size.
    pub(super) fn receipt_from_layout(&self, deposit_id: &Hash, loc: DepositLocation) -> Result<Receipt, StoreError> {
        let height = loc.height;
        let missing = |what| StoreError::NotFound { what, key: format!("at height {height} (deposit {deposit_id})") };
        let header = self.header(height)?.ok_or_else(|| missing("header"))?;
        let cert = self.cert(height)?.ok_or_else(|| missing("certificate"))?;
        let tx = self.block_tx(height, loc.tx_index)?.ok_or_else(|| missing("transaction"))?;
        let proof = self.tx_proof_from_tiles(&header, loc.tx_index, &tx.leaf_hash())?;
        let chain_id = self.spec.chain_id;
        let bad_index = |reason: String| StoreError::Corrupt {
            cf: cf::DEPOSITS,
            key: show_key(cf::DEPOSITS, &deposit_id.0),
            reason,
        };
        let r = Receipt::build_from_parts(&chain_id, &header, &cert, &tx, loc.tx_index, proof, loc.item_index)
            .map_err(|e| bad_index(e.to_string()))?;
        if r.deposit_id != *deposit_id {
            return Err(bad_index(format!("index points to deposit {} instead", r.deposit_id)));
        }
        Ok(r)
    }
}

/// Keys of a height in the two families, for messages.
pub(super) fn show_layout_key(k: &[u8]) -> String {
    match k.len() {
        12 => format!(
            "height {} transaction {}",
            u64::from_be_bytes(k[..8].try_into().expect("8 bytes")),
            u32::from_be_bytes(k[8..].try_into().expect("4 bytes"))
        ),
        13 => format!(
            "height {} band {} tile {}",
            u64::from_be_bytes(k[..8].try_into().expect("8 bytes")),
            k[8],
            u32::from_be_bytes(k[9..].try_into().expect("4 bytes"))
        ),
        _ => format!("key {}", hex::encode(k)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_height_then_position() {
        assert!(block_tx_key(1, u32::MAX) < block_tx_key(2, 0));
        assert!(tile_key(1, 0, 5) < tile_key(1, 1, 0));
        assert!(tile_key(1, 9, 9) < tile_key(2, 0, 0));
        assert_eq!(show_layout_key(&tile_key(7, 1, 3)), "height 7 band 1 tile 3");
        assert_eq!(show_layout_key(&block_tx_key(7, 2)), "height 7 transaction 2");
    }
}
