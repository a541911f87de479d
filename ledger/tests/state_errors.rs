//! A state that cannot be read gives its storage error, never a verdict: `apply_block`,
//! `apply_block_prepared`, `build_block` and the auditor, driven over a test double that fails
//! exactly one read (the N-th) and answers every other one correctly, return
//! `LedgerError::StateStorage` for every N below the number of reads the work makes: never a
//! rule violation (`TxInBlock`, `InvalidBlock`, ...), never a rejected candidate, never an
//! audit failure that is not marked as incomplete. Failing one read only (and not every read
//! after it) also catches a transition that would swallow the error and carry on.

use std::cell::Cell;

use curia_ledger::audit::{AuditState, Auditor};
use curia_ledger::block::{Block, CommitCertificate};
use curia_ledger::crypto::PublicKey;
use curia_ledger::deposit_log::Frontier;
use curia_ledger::genesis::{Client, ClientRole};
use curia_ledger::hash::Hash;
use curia_ledger::membership::MemberEntry;
use curia_ledger::state::{
    apply_block, apply_block_prepared, build_block, prepare_block, verify_all, CaseRecord, Change, ClientRecord,
    MemState, StateView, Stats, Tip,
};
use curia_ledger::testkit::{test_key, TestChain};
use curia_ledger::tx::{Approval, Payload, RegistryAction};
use curia_ledger::LedgerError;

const CODE: &str = "test_read_failed";

/// `state`, except that read number `fail_at` (counting from 0) fails.
struct Flaky {
    state: MemState,
    reads: Cell<u64>,
    fail_at: Option<u64>,
}

impl Flaky {
    fn new(state: MemState, fail_at: Option<u64>) -> Self {
        Flaky { state, reads: Cell::new(0), fail_at }
    }

    fn read<T>(&self, answer: Result<T, LedgerError>) -> Result<T, LedgerError> {
        let n = self.reads.get();
        self.reads.set(n + 1);
        if Some(n) == self.fail_at {
            return Err(LedgerError::StateStorage { reason: format!("read {n} failed"), code: CODE });
        }
        answer
    }
}

impl StateView for Flaky {
    fn client(&self, key: &PublicKey) -> Result<Option<ClientRecord>, LedgerError> {
        self.read(self.state.client(key))
    }
    fn tx_applied(&self, id: &Hash) -> Result<bool, LedgerError> {
        self.read(self.state.tx_applied(id))
    }
    fn deposit_exists(&self, id: &Hash) -> Result<bool, LedgerError> {
        self.read(self.state.deposit_exists(id))
    }
    fn case(&self, id: &str) -> Result<Option<CaseRecord>, LedgerError> {
        self.read(self.state.case(id))
    }
    fn attached(&self, case: &str, deposit: &Hash) -> Result<bool, LedgerError> {
        self.read(self.state.attached(case, deposit))
    }
    fn member_entries(&self) -> Result<Vec<MemberEntry>, LedgerError> {
        self.read(self.state.member_entries())
    }
    fn evidence_recorded(&self, key: &Hash) -> Result<bool, LedgerError> {
        self.read(self.state.evidence_recorded(key))
    }
    fn log_frontier(&self) -> Result<Frontier, LedgerError> {
        self.read(self.state.log_frontier())
    }
}

impl AuditState for Flaky {
    fn apply_changes(&mut self, changes: &[Change]) -> Result<(), LedgerError> {
        self.state.apply(changes);
        Ok(())
    }
    fn stats(&self) -> Stats {
        self.state.stats
    }
}

/// The storage error of read `n`, and nothing else.
fn assert_read_failed(r: Result<impl std::fmt::Debug, LedgerError>, n: u64, what: &str) {
    match r {
        Err(LedgerError::StateStorage { reason, code: CODE }) if reason == format!("read {n} failed") => {}
        other => panic!("{what}, read {n} failing: {other:?}, not the storage error"),
    }
}

/// Every kind of client transaction: deposits, a batch, a case opened, attached to (in the
/// same block as the open), verified and closed, a client added, rotated and removed by the
/// courts, refused transactions (replay, unknown deposit) in the blocks a proposer builds.
fn every_kind(mut c: TestChain) -> TestChain {
    let deps: Vec<_> = (0..3).map(|i| c.deposit("platform", format!("evidence {i}").as_bytes(), i)).collect();
    let ids: Vec<Hash> = deps.iter().map(|t| t.id(&c.spec.chain_id)).collect();
    assert!(c.commit(deps).is_empty());
    let batch = c.batch("platform2", (0..5).map(|i| Hash::sha256(format!("item {i}").as_bytes())).collect(), 1);
    let open = Payload::OpenCase { case_id: "C-1".into(), title: "Smith v. Jones".into() };
    let attach = |d: Hash| Payload::AttachDeposit { case_id: "C-1".into(), deposit_id: d };
    let rej = c.commit(vec![batch, c.tx("judge", open, 10), c.tx("judge", attach(ids[0]), 11)]);
    assert!(rej.is_empty(), "{rej:?}");
    let verified = Payload::RecordVerification {
        case_id: "C-1".into(),
        deposit_id: ids[0],
        valid: true,
        report: Hash::sha256(b"report"),
        note: "ok".into(),
    };
    let close = Payload::CloseCase { case_id: "C-1".into(), note: "judgment".into() };
    let rej = c.commit(vec![
        c.tx("judge", attach(ids[1]), 12),
        c.tx("judge", verified, 13),
        c.tx("judge", close, 14),
        c.tx("judge", attach(ids[2]), 15), // closed meanwhile: refused
    ]);
    assert_eq!(rej.iter().map(|(_, e)| e.code()).collect::<Vec<_>>(), ["case_closed"]);
    let registry = |c: &TestChain, action: RegistryAction, nonce: u64| {
        let msg = action.approval_hash(&c.spec.chain_id);
        let approvals =
            (0..2).map(|i| Approval { validator: i, signature: test_key(&format!("v{i}")).sign(&msg) }).collect();
        c.tx("registrar", Payload::Registry { action, approvals }, nonce)
    };
    let (new, rotated) = (test_key("newplatform").public(), test_key("newplatform-2").public());
    let add = RegistryAction::Add(Client { name: "newplatform".into(), role: ClientRole::Platform, key: new });
    let rej = c.commit(vec![registry(&c, add, 1), c.deposit("platform", b"evidence 0", 0)]);
    assert_eq!(rej.iter().map(|(_, e)| e.code()).collect::<Vec<_>>(), ["duplicate"]);
    let rotate = RegistryAction::Rotate { old: new, new: rotated };
    assert!(c.commit(vec![registry(&c, rotate, 2)]).is_empty());
    assert!(c.commit(vec![registry(&c, RegistryAction::Remove { key: rotated }, 3)]).is_empty());
    c
}

fn chains() -> Vec<(&'static str, TestChain)> {
    vec![
        ("every kind", every_kind(TestChain::new(4))),
        ("every kind, log in headers", every_kind(TestChain::new_with_log(4))),
        ("membership changes and evidence", TestChain::membership_evidence_fixture()),
    ]
}

/// Calls `check` with the state and tip before each block of `c`.
fn before_each_block(c: &TestChain, mut check: impl FnMut(&MemState, &Tip, &Block, &CommitCertificate)) {
    let mut state = MemState::genesis(&c.spec);
    let mut tip = Tip::genesis(&c.spec);
    for (block, cert) in &c.blocks {
        check(&state, &tip, block, cert);
        let changes = apply_block(&c.spec, &state, &tip, block).expect("the chain's blocks apply");
        state.apply(&changes);
        tip = Tip::after(&block.header);
    }
}

#[test]
fn a_failed_read_while_checking_a_block_is_the_storage_error() {
    for (name, c) in chains() {
        let mut total = 0;
        before_each_block(&c, |state, tip, block, _| {
            let h = block.header.height;
            let prepared = prepare_block(&c.spec, block, &verify_all);
            let good = Flaky::new(state.clone(), None);
            let changes = apply_block(&c.spec, &good, tip, block).expect("applies");
            let reads = good.reads.get();
            assert!(reads > 0, "{name}: block {h} reads the state");
            total += reads;
            for n in 0..reads {
                let flaky = Flaky::new(state.clone(), Some(n));
                assert_read_failed(apply_block(&c.spec, &flaky, tip, block), n, &format!("{name}: block {h}"));
                let flaky = Flaky::new(state.clone(), Some(n));
                let r = apply_block_prepared(&c.spec, &flaky, tip, block, &prepared).map(|a| a.changes);
                assert_read_failed(r, n, &format!("{name}: prepared block {h}"));
            }
            // The double answers correctly once no read fails: the same changes as the state.
            let past = Flaky::new(state.clone(), Some(reads));
            assert_eq!(apply_block(&c.spec, &past, tip, block).expect("applies"), changes);
        });
        assert!(total > 3 * c.blocks.len() as u64, "{name}: {total} reads");
    }
}

#[test]
fn a_failed_read_while_building_refuses_no_candidate() {
    for (name, c) in chains() {
        before_each_block(&c, |state, tip, block, _| {
            let h = block.header.height;
            // The block's own transactions and one of them again (refused: a replay in the block).
            let mut candidates = block.txs.clone();
            candidates.extend(block.txs.first().cloned());
            let proposing = c.proposing(block.header.proposer);
            let good = Flaky::new(state.clone(), None);
            let built = build_block(&c.spec, &good, tip, candidates.clone(), proposing.clone()).expect("builds");
            assert_eq!(built.block.txs, block.txs, "{name}: block {h}");
            assert_eq!(built.rejected.len(), usize::from(!block.txs.is_empty()), "{name}: block {h}");
            for n in 0..good.reads.get() {
                let flaky = Flaky::new(state.clone(), Some(n));
                let r = build_block(&c.spec, &flaky, tip, candidates.clone(), proposing.clone()).map(|b| b.rejected);
                assert_read_failed(r, n, &format!("{name}: building block {h}"));
            }
        });
    }
}

#[test]
fn a_failed_read_stops_an_audit_as_incomplete() {
    for (name, c) in chains() {
        let mut good = Auditor::new(&c.spec, Flaky::new(MemState::genesis(&c.spec), None));
        // The height at which each read is made.
        let mut read_height = Vec::new();
        for (block, cert) in &c.blocks {
            good.push(block, cert).unwrap_or_else(|f| panic!("{name}: {f:?}"));
            let reads = good.state().reads.get() as usize;
            read_height.resize(reads, block.header.height);
        }
        assert_eq!(good.finish().failure, None);
        for (n, &height) in read_height.iter().enumerate() {
            let n = n as u64;
            let mut a = Auditor::new(&c.spec, Flaky::new(MemState::genesis(&c.spec), Some(n)));
            let failure = c.blocks.iter().find_map(|(b, cert)| a.push(b, cert).err());
            let failure = failure.unwrap_or_else(|| panic!("{name}: read {n} failed and the audit passed"));
            assert_eq!((failure.height, failure.code), (height, CODE), "{name}: read {n}: {failure:?}");
            assert_read_failed(a.state_error().cloned().map_or(Ok(()), Err), n, name);
            assert_eq!(a.finish().failure, Some(failure));
        }
    }
}
