//! `Auditor::push_prepared` (the stateless work done beforehand by `prepare_block`, as the
//! storage audit does on its reading thread) gives exactly `Auditor::push`'s verdicts: on good
//! chains (deposits, batches, cases, membership changes, evidence, headers committing to the
//! deposit log) and on blocks broken in each of the checks the prepared work stands in for.

use curia_ledger::audit::{AuditFailure, AuditSummary, Auditor};
use curia_ledger::block::{Block, CommitCertificate};
use curia_ledger::hash::Hash;
use curia_ledger::state::{prepare_block, verify_all};
use curia_ledger::testkit::TestChain;
use curia_ledger::tx::Payload;

/// Replay `blocks` with `push` and with `push_prepared`; both must agree on every block, and
/// the summaries must be equal. Returns the first failure.
fn replay_both(c: &TestChain, blocks: &[(Block, CommitCertificate)]) -> (AuditSummary, Option<AuditFailure>) {
    let mut plain = Auditor::in_memory(&c.spec);
    let mut prepared = Auditor::in_memory(&c.spec);
    let mut first = None;
    for (b, cert) in blocks {
        let p = prepare_block(&c.spec, b, &verify_all);
        let r1 = plain.push(b, cert);
        let r2 = prepared.push_prepared(b, cert, &p);
        assert_eq!(r1, r2, "block {}", b.header.height);
        if let Err(f) = r1 {
            first.get_or_insert(f);
        }
    }
    let (s1, s2) = (plain.finish(), prepared.finish());
    assert_eq!(
        (s1.blocks, s1.txs, s1.deposits, s1.cases, s1.case_records, s1.registry_changes, s1.height),
        (s2.blocks, s2.txs, s2.deposits, s2.cases, s2.case_records, s2.registry_changes, s2.height)
    );
    assert_eq!((&s1.tip_hash, &s1.evidence, &s1.failure), (&s2.tip_hash, &s2.evidence, &s2.failure));
    assert_eq!(plain.log(), prepared.log());
    (s1, first)
}

/// Deposits, a batch, a case with a single deposit and a batch item attached (one of them made
/// in the same block as the attach).
fn busy_chain(mut c: TestChain) -> TestChain {
    let txs: Vec<_> = (0..5).map(|i| c.deposit("platform", format!("evidence {i}").as_bytes(), i)).collect();
    let single = txs[1].id(&c.spec.chain_id);
    assert!(c.commit(txs).is_empty());
    let batch = c.batch("platform2", (0..7).map(|i| Hash::sha256(format!("item {i}").as_bytes())).collect(), 1);
    let item = batch.deposits(&batch.id(&c.spec.chain_id))[3].0;
    let late = c.deposit("platform", b"late", 99);
    let late_id = late.id(&c.spec.chain_id);
    let open = Payload::OpenCase { case_id: "C-1".into(), title: "Smith v. Jones".into() };
    let attach = |d: Hash| Payload::AttachDeposit { case_id: "C-1".into(), deposit_id: d };
    let rej = c.commit(vec![
        batch,
        c.tx("judge", open, 10),
        c.tx("judge", attach(single), 11),
        c.tx("judge", attach(item), 12),
        late,
        c.tx("judge", attach(late_id), 13),
    ]);
    assert!(rej.is_empty(), "{rej:?}");
    assert!(c.commit(vec![c.deposit("platform", b"after", 100)]).is_empty());
    c
}

#[test]
fn good_chains_give_the_same_summary() {
    for c in [
        busy_chain(TestChain::new(4)),
        busy_chain(TestChain::new_with_log(4)),
        TestChain::membership_fixture().0,
        TestChain::membership_evidence_fixture(),
    ] {
        let (s, f) = replay_both(&c, &c.blocks);
        assert_eq!(f, None);
        assert_eq!(s.blocks, c.blocks.len() as u64);
    }
}

/// Block 2 of `c` changed by `mutate`; with `fix`, its header's transaction root and count are
/// recomputed and it is certified again, so that only the rule under test fails.
fn broken(c: &TestChain, fix: bool, mutate: impl FnOnce(&mut Block)) -> Vec<(Block, CommitCertificate)> {
    let mut blocks = c.blocks[..2].to_vec();
    let b = &mut blocks[1].0;
    mutate(b);
    if fix {
        b.header.tx_root = curia_ledger::merkle::root(&b.leaves());
        b.header.tx_count = b.txs.len() as u32;
        blocks[1].1 = c.certify(&blocks[1].0, 0);
    }
    blocks
}

/// A change to a block.
type Mutation = Box<dyn Fn(&mut Block)>;

#[test]
fn broken_blocks_get_the_same_verdict() {
    for c in [busy_chain(TestChain::new(4)), busy_chain(TestChain::new_with_log(4))] {
        let cases: Vec<(&str, bool, Mutation)> = vec![
            // Body no longer matches the header's transaction root.
            (
                "transaction root",
                false,
                Box::new(|b| {
                    if let Payload::BatchDeposit(d) = &mut b.txs[0].body.payload {
                        d.label.push('!');
                    }
                }),
            ),
            ("batch root", true, Box::new(|b| b.txs[0].items[2].0[0] ^= 1)),
            ("signature", true, Box::new(|b| b.txs[1].signature.0[7] ^= 1)),
            ("replayed transaction", true, Box::new(|b| b.txs.push(b.txs[0].clone()))),
            // The attach of a deposit made later in the same block.
            ("deposit not found", true, Box::new(|b| b.txs.swap(4, 5))),
            ("state root", true, Box::new(|b| b.txs.truncate(4))),
            (
                "deposit log",
                true,
                Box::new(|b| {
                    if b.header.log_root.is_some() {
                        b.header.log_root = Some(Hash::ZERO);
                    } else {
                        b.header.state_root = Hash::ZERO;
                    }
                }),
            ),
        ];
        for (what, fix, mutate) in cases {
            let blocks = broken(&c, fix, mutate);
            let (_, f) = replay_both(&c, &blocks);
            let f = f.unwrap_or_else(|| panic!("{what}: the broken block passed"));
            assert_eq!(f.height, 2, "{what}: {f:?}");
            let want = match what {
                "transaction root" => "transaction root",
                "batch root" => "batch root mismatch",
                "signature" => "bad signature",
                "replayed transaction" => "duplicate transaction",
                "deposit not found" => "not found",
                "deposit log" if c.spec.genesis.log_in_header => "header commits to deposit log",
                _ => "state root",
            };
            assert!(f.reason.contains(want), "{what}: {f:?}");
        }
    }
}

#[test]
fn prepared_ids_and_leaves_are_the_blocks() {
    let c = busy_chain(TestChain::new(4));
    for (b, _) in &c.blocks {
        let p = prepare_block(&c.spec, b, &verify_all);
        let ids: Vec<Hash> = b.txs.iter().map(|t| t.id(&c.spec.chain_id)).collect();
        assert_eq!(p.ids, ids);
        let leaves = curia_ledger::deposit_log::block_leaves(&c.spec.chain_id, b);
        assert_eq!(p.deposits.iter().map(|d| d.0).collect::<Vec<_>>(), leaves.iter().map(|l| l.0).collect::<Vec<_>>());
        assert_eq!(p.leaves, leaves.iter().map(|l| l.1).collect::<Vec<_>>());
        for (i, tx) in b.txs.iter().enumerate() {
            assert_eq!(p.deposits_of(i), &tx.deposits(&ids[i])[..]);
        }
    }
}
