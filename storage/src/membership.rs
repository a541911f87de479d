//! The validator-set history on disk: every committed membership change, in order, under one key
//! of the `meta` family (`membership`), as `list of (u64 height || change)` in the ledger's
//! canonical encoding. It is written in the same synced batch as the block that commits the
//! change, and is small (one entry per change, at most a few hundred bytes each).

use curia_ledger::codec::{Reader, Writer};
use curia_ledger::membership::{MemberChange, MemberEntry};

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
