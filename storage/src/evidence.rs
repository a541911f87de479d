//! Misbehaviour on disk, in the `meta` family.
//!
//! - Offences recorded on chain by `evidence` transactions: `evidence_record/ || record key`
//!   ([`curia_ledger::evidence::record_key`]) -> `u64` height of the recording block. Written in
//!   the block's commit batch (a state change, [`curia_ledger::state::Change::Evidence`]); read by
//!   the state transition to refuse a second record of one offence.
//! - Double proposals this node saw (kept like double votes, `Store::record_equivocation`):
//!   `double_proposal/ || u64 height || u32 round || u16 proposer` -> canonical pair
//!   (`signed proposal a || signed proposal b`), at most [`MAX_DOUBLE_PROPOSALS`], first kept.

use curia_ledger::codec::{Canonical, Reader};
use curia_ledger::evidence::DoubleProposal;
use curia_ledger::hash::Hash;
use curia_ledger::proposal::SignedProposal;
use rocksdb::{Direction, IteratorMode, WriteBatch};

use crate::codec::unseal;
use crate::error::StoreError;
use crate::store::{cf, Store};

const META_EVIDENCE_RECORD: &[u8] = b"evidence_record/";
const META_DOUBLE_PROPOSAL: &[u8] = b"double_proposal/";
/// Most double-proposal records kept; later ones are not stored.
pub const MAX_DOUBLE_PROPOSALS: usize = 1024;

fn record_key(key: &Hash) -> Vec<u8> {
    let mut k = META_EVIDENCE_RECORD.to_vec();
    k.extend_from_slice(&key.0);
    k
}

impl Store {
    /// Add the record of an offence committed at `height` to `wb`.
    pub(crate) fn put_evidence_record(&self, wb: &mut WriteBatch, key: &Hash, height: u64) {
        self.put(wb, cf::META, &record_key(key), &height.to_be_bytes());
    }

    /// Whether an offence with this record key is recorded on the chain.
    pub fn evidence_recorded(&self, key: &Hash) -> Result<bool, StoreError> {
        Ok(self.get(cf::META, &record_key(key))?.is_some())
    }

    /// Keep a double proposal this node saw. Returns `false` (and stores nothing) if the slot
    /// already has a record or [`MAX_DOUBLE_PROPOSALS`] are kept. The caller checks the evidence.
    pub fn record_double_proposal(&self, d: &DoubleProposal) -> Result<bool, StoreError> {
        let p = &d.a.proposal;
        let mut key = META_DOUBLE_PROPOSAL.to_vec();
        key.extend_from_slice(&p.height.to_be_bytes());
        key.extend_from_slice(&p.round.to_be_bytes());
        key.extend_from_slice(&p.proposer.to_be_bytes());
        if self.get(cf::META, &key)?.is_some() || self.double_proposals()?.len() >= MAX_DOUBLE_PROPOSALS {
            return Ok(false);
        }
        let mut bytes = d.a.to_bytes();
        bytes.extend_from_slice(&d.b.to_bytes());
        let mut wb = WriteBatch::default();
        self.put(&mut wb, cf::META, &key, &bytes);
        self.write_synced(wb, "record double proposal")?;
        Ok(true)
    }

    /// Every kept double proposal, by height, round and proposer.
    pub fn double_proposals(&self) -> Result<Vec<DoubleProposal>, StoreError> {
        let fam = cf::META;
        let mut out = Vec::new();
        let iter = self.db.iterator_cf(self.cf(fam), IteratorMode::From(META_DOUBLE_PROPOSAL, Direction::Forward));
        for kv in iter {
            let (k, v) = kv.map_err(StoreError::rocks("scan double proposals"))?;
            if !k.starts_with(META_DOUBLE_PROPOSAL) {
                break;
            }
            let show = || format!("key {}", String::from_utf8_lossy(&k));
            let payload = unseal(fam, &k, &v, show)?;
            let decoded = (|| {
                let mut r = Reader::new(payload, "double proposal");
                let (a, b) = (SignedProposal::decode(&mut r)?, SignedProposal::decode(&mut r)?);
                r.finish()?;
                Ok::<_, curia_ledger::LedgerError>(DoubleProposal { a, b })
            })();
            out.push(decoded.map_err(|err| StoreError::Corrupt { cf: fam, key: show(), reason: err.to_string() })?);
        }
        Ok(out)
    }
}
