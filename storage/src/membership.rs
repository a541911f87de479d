//! The validator-set history on disk: every committed membership change, in order, under one key
//! of the `meta` family (`membership`), as `list of (u64 height || change)` in the ledger's
//! canonical encoding. It is written in the same synced batch as the block that commits the
//! change, and is small (one entry per change, at most a few hundred bytes each).
//!
//! The proofs of the history (receipt format 13: each change's transaction, block header,
//! certificate and inclusion proof) need no index of their own: an entry's height names the
//! block that committed it, and the change is the membership transaction of that block whose
//! `seq` is the entry's place. Receipts embed the entries in force at their height.

use curia_ledger::codec::{Reader, Writer};
use curia_ledger::history::HistoryEntry;
use curia_ledger::membership::{MemberChange, MemberEntry};
use curia_ledger::merkle;
use curia_ledger::receipt::Receipt;
use curia_ledger::tx::Payload;

use crate::error::StoreError;
use crate::store::{cf, Store};

/// Key of the history in the `meta` family.
pub(crate) const META_MEMBERSHIP: &[u8] = b"membership";
/// Most entries the history holds (far above any real chain's changes; bounds decoding).
const MAX_ENTRIES: usize = 1 << 20;

pub(crate) fn encode_entries(entries: &[MemberEntry]) -> Vec<u8> {
    let mut w = Writer::new();
    w.list(entries, |w, e| {
        w.u64(e.height);
        e.change.encode(w);
    });
    w.into_bytes()
}

fn decode_entries(b: &[u8]) -> Result<Vec<MemberEntry>, curia_ledger::LedgerError> {
    let mut r = Reader::new(b, "membership history");
    let v = r.list("membership entries", MAX_ENTRIES, |r| {
        Ok(MemberEntry { height: r.u64()?, change: MemberChange::decode(r)? })
    })?;
    r.finish()?;
    Ok(v)
}

impl Store {
    /// The committed membership changes, in order (empty while the genesis set never changed).
    pub fn member_entries(&self) -> Result<Vec<MemberEntry>, StoreError> {
        match self.get(cf::META, META_MEMBERSHIP)? {
            None => Ok(Vec::new()),
            Some(b) => decode_entries(&b).map_err(|e| StoreError::Corrupt {
                cf: cf::META,
                key: "membership".into(),
                reason: e.to_string(),
            }),
        }
    }
}

impl Store {
    /// The membership history with its proofs (receipt format 13): for each committed change,
    /// the membership transaction found in the block that committed it (the one whose `seq` is
    /// the change's place), that block's header and stored certificate, and the transaction's
    /// inclusion proof computed from the block. No extra index: the history's heights locate
    /// the blocks.
    pub fn membership_history(&self) -> Result<Vec<HistoryEntry>, StoreError> {
        let entries = self.member_entries()?;
        self.history_for(&entries, entries.len())
    }

    /// The first `n` entries of [`Store::membership_history`] for the committed changes `entries`.
    fn history_for(&self, entries: &[MemberEntry], n: usize) -> Result<Vec<HistoryEntry>, StoreError> {
        let mut out = Vec::with_capacity(n);
        for (i, e) in entries.iter().take(n).enumerate() {
            let missing =
                |what| StoreError::NotFound { what, key: format!("height {} (membership change {i})", e.height) };
            let block = self.block(e.height)?.ok_or_else(|| missing("block"))?;
            let cert = self.cert(e.height)?.ok_or_else(|| missing("certificate"))?;
            let found = block.txs.iter().enumerate().find(
                |(_, t)| matches!(&t.body.payload, Payload::Membership { seq, change, .. } if *seq == i as u64 && *change == e.change),
            );
            let (ti, tx) = found.ok_or_else(|| StoreError::Corrupt {
                cf: cf::META,
                key: "membership".into(),
                reason: format!("block {} holds no membership change number {i}", e.height),
            })?;
            let proof = merkle::inclusion_proof(&block.leaves(), ti as u64).map_err(|err| StoreError::Corrupt {
                cf: cf::BLOCKS,
                key: format!("height {}", e.height),
                reason: err.to_string(),
            })?;
            out.push(HistoryEntry::new(tx, ti as u32, proof, block.header.clone(), cert));
        }
        Ok(out)
    }

    /// `r` with the history in force at its height embedded (version 2), or unchanged (version
    /// 1) while no change is in force there.
    pub(crate) fn embed_history(&self, r: Receipt) -> Result<Receipt, StoreError> {
        let entries = self.member_entries()?;
        let n = entries.iter().take_while(|e| e.effective_height() <= r.header.height).count();
        if n == 0 {
            return Ok(r);
        }
        let history = self.history_for(&entries, n)?;
        Ok(r.with_history(history))
    }
}
