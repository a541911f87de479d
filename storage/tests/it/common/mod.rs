//! Deterministic test chains for the storage tests.
#![allow(dead_code)]

use curia_ledger::hash::Hash;
use curia_ledger::state::{apply_block, Change, MemState, Tip};
use curia_ledger::testkit::TestChain;
use curia_ledger::tx::Payload;

/// The digest of batch item `k` of block `i`.
pub fn item_digest(i: usize, k: usize) -> Hash {
    Hash::sha256(format!("item-{i}-{k}").as_bytes())
}

/// A chain of `blocks` blocks. Block `i` (from 1) holds a single deposit of `doc-{i}`, a batch of
/// `batch` items (the last item repeats the digest of `doc-1`, so that digest has many deposits),
/// and case activity: at `i % 5 == 2` a judge opens `case-{i}` and attaches the previous block's
/// single deposit; at `i % 5 == 3` records a verification and closes it.
pub fn chain(blocks: usize, batch: usize) -> TestChain {
    chain_on(TestChain::new(4), blocks, batch)
}

/// [`chain`]'s blocks on `c` (a fresh chain, e.g. `TestChain::new_with_log`).
pub fn chain_on(mut c: TestChain, blocks: usize, batch: usize) -> TestChain {
    let mut prev_single = Hash::ZERO;
    for i in 1..=blocks {
        let single = c.deposit("platform", format!("doc-{i}").as_bytes(), i as u64);
        let single_id = single.id(&c.spec.chain_id);
        let mut txs = vec![single];
        if batch > 0 {
            let mut digests: Vec<Hash> = (0..batch).map(|k| item_digest(i, k)).collect();
            *digests.last_mut().expect("batch > 0") = Hash::sha256(b"doc-1");
            txs.push(c.batch("platform2", digests, i as u64));
        }
        if i % 5 == 2 && i > 1 {
            let case_id = format!("case-{i}");
            txs.push(c.tx("judge", Payload::OpenCase { case_id: case_id.clone(), title: "t".into() }, i as u64));
            txs.push(c.tx("judge", Payload::AttachDeposit { case_id, deposit_id: prev_single }, i as u64 + 1));
        }
        if i % 5 == 3 && i > 2 {
            let case_id = format!("case-{}", i - 1);
            let p = Payload::RecordVerification {
                case_id: case_id.clone(),
                deposit_id: c.blocks[i - 3].0.txs[0].id(&c.spec.chain_id),
                valid: true,
                report: Hash::sha256(b"report"),
                note: "matches".into(),
            };
            txs.push(c.tx("judge", p, i as u64 + 2));
            txs.push(c.tx("judge", Payload::CloseCase { case_id, note: "done".into() }, i as u64 + 3));
        }
        let rejected = c.commit(txs);
        assert!(
            rejected.is_empty(),
            "test chain block {i} rejected {:?}",
            rejected.iter().map(|r| &r.1).collect::<Vec<_>>()
        );
        prev_single = single_id;
    }
    c
}

/// Every block's changes, recomputed with the ledger.
pub fn changes(c: &TestChain) -> Vec<Vec<Change>> {
    let mut state = MemState::genesis(&c.spec);
    let mut tip = Tip::genesis(&c.spec);
    c.blocks
        .iter()
        .map(|(b, _)| {
            let ch = apply_block(&c.spec, &state, &tip, b).expect("test block applies");
            state.apply(&ch);
            tip = Tip::after(&b.header);
            ch
        })
        .collect()
}

/// A value as the store seals it (a 4-byte checksum over family, key and payload, then the
/// payload), so that a test can plant well-formed but wrong data rather than a checksum failure.
pub fn seal(fam: &str, key: &[u8], payload: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    let family = curia_storage::cf::ALL.iter().position(|n| *n == fam).unwrap() as u8;
    let mut h = sha2::Sha256::new();
    h.update([family, key.len() as u8]);
    h.update(key);
    h.update(payload);
    let mut v = h.finalize()[..4].to_vec();
    v.extend_from_slice(payload);
    v
}
