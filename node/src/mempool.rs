//! The mempool: transactions checked and waiting for a block.
//!
//! Rules:
//! - Bounded by count and by bytes. When full it refuses new transactions with
//!   [`NodeError::MempoolFull`] and a retry delay, instead of growing.
//! - Before a transaction is admitted it passes, cheapest first: shape and field limits (and a
//!   batch's items against its signed root), a registered and active sender whose role may send
//!   the kind, no replay of an applied transaction, not already pending, and the signature. The
//!   expensive part ([`check_signed`]: shape, sender and signature) needs only committed state,
//!   so the node runs it off the consensus loop, on the blocking pool; the signatures of one
//!   submission are checked together with ed25519 batch verification. For client submissions
//!   [`check_admission_at`] adds the batch size and runs the state transition's own checks on
//!   registry updates and membership changes (approvals by the set in force, the change's
//!   rules), so nothing is accepted that the proposer would drop for them. [`Mempool::admit`]
//!   does the rest on the loop, including refusing a membership change whose sequence number a
//!   pending change already holds (422 `membership_seq`: only one of them could commit).
//! - Only transactions whose shape and exact signature were checked are ever pending, so
//!   [`Mempool::holds`] (the same ID, signature and items) tells the state transition which
//!   transactions it need not check again.
//! - Order is first in, first out. A proposer takes a prefix bounded by transaction count and
//!   deposit count; committed transactions are removed by ID, whichever node proposed them.
//! - Case rules (owner, open, attached) are left to the state transition at proposal time, since
//!   they depend on transactions still pending.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use curia_ledger::codec::Canonical;
use curia_ledger::crypto::verify_batch;
use curia_ledger::genesis::ChainSpec;
use curia_ledger::state::StateView;
use curia_ledger::tx::{Payload, Transaction};
use curia_ledger::{Hash, LedgerError};

use crate::NodeError;

/// Most transactions in one submission (the API refuses more before checking any).
pub use crate::limits::MAX_SUBMISSION;

/// Limits of a mempool.
#[derive(Clone, Copy, Debug)]
pub struct MempoolConfig {
    /// Most pending transactions.
    pub max_txs: usize,
    /// Most pending bytes (canonical encoding).
    pub max_bytes: usize,
    /// Most transactions in one submission.
    pub max_submission: usize,
    /// Delay suggested to clients when full.
    pub retry_after_ms: u64,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        use crate::limits::{MEMPOOL_MAX_BYTES, MEMPOOL_MAX_TXS, MEMPOOL_RETRY_AFTER_MS};
        MempoolConfig {
            max_txs: MEMPOOL_MAX_TXS,
            max_bytes: MEMPOOL_MAX_BYTES,
            max_submission: MAX_SUBMISSION,
            retry_after_ms: MEMPOOL_RETRY_AFTER_MS,
        }
    }
}

/// A transaction the mempool accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admitted {
    /// Transaction ID.
    pub tx_id: Hash,
    /// Deposit IDs it will create (one per batch item).
    pub deposit_ids: Vec<Hash>,
}

/// Pending transactions.
pub struct Mempool {
    cfg: MempoolConfig,
    spec: Arc<ChainSpec>,
    queue: VecDeque<Hash>,
    txs: HashMap<Hash, (Transaction, usize)>,
    bytes: usize,
}

impl Mempool {
    /// An empty mempool for the chain `spec`.
    pub fn new(spec: Arc<ChainSpec>, cfg: MempoolConfig) -> Self {
        Mempool { cfg, spec, queue: VecDeque::new(), txs: HashMap::new(), bytes: 0 }
    }

    /// Pending transaction count.
    pub fn len(&self) -> usize {
        self.txs.len()
    }
    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }
    /// Pending bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
    /// Whether a transaction is pending.
    pub fn contains(&self, id: &Hash) -> bool {
        self.txs.contains_key(id)
    }

    /// Whether exactly this transaction is pending under `id`: equal in body, signature and
    /// items, which means its shape (a batch's items against its signed root) and its signature
    /// were checked on admission ([`check_signed`], whose results [`Mempool::admit`] takes).
    /// The state transition's `SigChecked` predicate: a block's transaction it vouches for is
    /// not checked again. Comparing the items is what makes that safe for a batch: the ID and
    /// the signature cover its root but not its items, so a proposer could otherwise pair a
    /// pending batch's ID and signature with other items; the comparison (32 bytes an item)
    /// costs far less than hashing the item tree again.
    pub fn holds(&self, id: &Hash, tx: &Transaction) -> bool {
        self.txs.get(id).is_some_and(|(pending, _)| pending == tx)
    }

    /// Most transactions in one submission.
    pub fn max_submission(&self) -> usize {
        self.cfg.max_submission
    }

    /// Check and admit a submission: [`check_admission`] then [`Mempool::admit`]. Each
    /// transaction gets its own result, in order; a bad one does not stop the others.
    pub fn submit(
        &mut self,
        state: &dyn StateView,
        txs: Vec<Transaction>,
    ) -> Result<Vec<Result<Admitted, NodeError>>, NodeError> {
        if txs.len() > self.cfg.max_submission {
            return Err(NodeError::TooManyTxs { got: txs.len(), max: self.cfg.max_submission });
        }
        let checks = check_admission(&self.spec, state, &txs);
        Ok(self.admit(state, txs, checks))
    }

    /// Admit transactions whose shape and signatures [`check_signed`] checked (its results, in
    /// the same order): the sender, role, replay and pending checks, then room. Each admitted
    /// transaction is answered with the deposit IDs it will create.
    pub fn admit(
        &mut self,
        state: &dyn StateView,
        txs: Vec<Transaction>,
        checks: Vec<Result<Hash, NodeError>>,
    ) -> Vec<Result<Admitted, NodeError>> {
        let results = self.admit_ids(state, txs, checks);
        results
            .into_iter()
            .map(|r| {
                let tx_id = r?;
                let deposit_ids = match self.txs.get(&tx_id) {
                    Some((tx, _)) => tx.deposits(&tx_id).into_iter().map(|(d, _)| d).collect(),
                    None => Vec::new(),
                };
                Ok(Admitted { tx_id, deposit_ids })
            })
            .collect()
    }

    /// [`Mempool::admit`] answering each admitted transaction with its ID alone, for
    /// transactions nobody waits on (a peer's gossip): a batch's deposit IDs (one SHA-256 an
    /// item) are not computed.
    pub fn admit_ids(
        &mut self,
        state: &dyn StateView,
        txs: Vec<Transaction>,
        checks: Vec<Result<Hash, NodeError>>,
    ) -> Vec<Result<Hash, NodeError>> {
        debug_assert_eq!(txs.len(), checks.len());
        txs.into_iter()
            .zip(checks)
            .map(|(tx, check)| {
                let id = check?;
                self.precheck(state, &tx, &id)?;
                self.insert(tx, id)
            })
            .collect()
    }

    /// The state checks: a registered, active sender whose role may send the kind; no replay of
    /// an applied transaction; not already pending.
    fn precheck(&self, state: &dyn StateView, tx: &Transaction, id: &Hash) -> Result<(), NodeError> {
        check_sender(state, tx)?;
        check_evidence(&self.spec, state, tx, id)?;
        if state.tx_applied(id)? {
            return Err(LedgerError::DuplicateTx(*id).into());
        }
        if self.txs.contains_key(id) {
            return Err(NodeError::AlreadyPending(*id));
        }
        if let Payload::Membership { seq, .. } = &tx.body.payload {
            if let Some(pending) = self.pending_membership(*seq) {
                return Err(NodeError::MembershipSeqPending { seq: *seq, pending });
            }
        }
        Ok(())
    }

    /// The pending membership change with sequence number `seq`, if any (a scan: membership
    /// changes are rare, and only they pay for it).
    fn pending_membership(&self, seq: u64) -> Option<Hash> {
        self.txs.iter().find_map(|(id, (tx, _))| match &tx.body.payload {
            Payload::Membership { seq: s, .. } if *s == seq => Some(*id),
            _ => None,
        })
    }

    fn insert(&mut self, tx: Transaction, id: Hash) -> Result<Hash, NodeError> {
        if self.txs.contains_key(&id) {
            return Err(NodeError::AlreadyPending(id));
        }
        let size = tx.to_bytes().len();
        if self.txs.len() >= self.cfg.max_txs || self.bytes + size > self.cfg.max_bytes {
            return Err(NodeError::MempoolFull {
                pending: self.txs.len(),
                bytes: self.bytes,
                retry_after_ms: self.cfg.retry_after_ms,
            });
        }
        self.bytes += size;
        self.txs.insert(id, (tx, size));
        self.queue.push_back(id);
        Ok(id)
    }

    /// The oldest pending transactions, at most `max_txs` of them and at most `max_deposits`
    /// deposits (a batch counts its items), for a proposal. They stay pending until removed.
    pub fn peek(&self, max_txs: usize, max_deposits: usize) -> Vec<Transaction> {
        self.peek_ids(max_txs, max_deposits).into_iter().map(|(tx, _)| tx).collect()
    }

    /// [`Mempool::peek`] with each transaction's ID (the mempool's key: not hashed again).
    pub fn peek_ids(&self, max_txs: usize, max_deposits: usize) -> Vec<(Transaction, Hash)> {
        let mut out = Vec::new();
        let mut deposits = 0;
        for id in &self.queue {
            let Some((tx, _)) = self.txs.get(id) else { continue };
            let w = tx.items.len().max(1);
            if out.len() >= max_txs || deposits + w > max_deposits {
                break;
            }
            deposits += w;
            out.push((tx.clone(), *id));
        }
        out
    }

    /// Remove transactions (committed, or rejected by the state transition).
    pub fn remove(&mut self, ids: &[Hash]) {
        for id in ids {
            if let Some((_, size)) = self.txs.remove(id) {
                self.bytes -= size;
            }
        }
        // Drop queue entries whose transaction is gone, from the front (amortised O(1)).
        while let Some(front) = self.queue.front() {
            if self.txs.contains_key(front) {
                break;
            }
            self.queue.pop_front();
        }
        if self.queue.len() > 2 * self.txs.len() + 1024 {
            self.queue.retain(|id| self.txs.contains_key(id));
        }
    }
}

/// Each transaction's ID (one SHA-256 of its canonical body), computed once where the
/// transactions enter the node and passed along the submission path ([`check_signed_ids`],
/// [`check_admission_ids`], the mempool's key, the proposal's and the commit's removal).
pub fn tx_ids(chain_id: &Hash, txs: &[Transaction]) -> Vec<Hash> {
    txs.iter().map(|t| t.id(chain_id)).collect()
}

/// The checks done before admission, off the consensus loop, for each transaction, cheapest
/// first: shape and field limits, a batch's items against its signed root, a registered and
/// active sender whose role may send the kind (on the committed `state`), and the signature (one
/// batch verification for all that pass; on failure each is verified alone to name the bad
/// ones). Returns each ID. [`Mempool::admit`] repeats the cheap state checks, since the state
/// may have moved on meanwhile.
pub fn check_signed(chain_id: &Hash, state: &dyn StateView, txs: &[Transaction]) -> Vec<Result<Hash, NodeError>> {
    check_signed_ids(state, txs, &tx_ids(chain_id, txs))
}

/// [`check_signed`] with the IDs already computed ([`tx_ids`], same order and length as `txs`).
pub fn check_signed_ids(state: &dyn StateView, txs: &[Transaction], ids: &[Hash]) -> Vec<Result<Hash, NodeError>> {
    assert_eq!(txs.len(), ids.len(), "one ID per transaction");
    let mut results: Vec<Result<Hash, NodeError>> = Vec::with_capacity(txs.len());
    let mut sig_items = Vec::new();
    let mut sig_owner = Vec::new();
    for (i, (tx, id)) in txs.iter().zip(ids).enumerate() {
        let id = *id;
        match tx.check_shape().map_err(NodeError::from).and_then(|()| check_sender(state, tx)) {
            Ok(()) => {
                sig_items.push((tx.body.sender, id, tx.signature));
                sig_owner.push(i);
                results.push(Ok(id));
            }
            Err(e) => results.push(Err(e)),
        }
    }
    if verify_batch("transaction", &sig_items).is_err() {
        for (k, (key, msg, sig)) in sig_items.iter().enumerate() {
            if let Err(e) = key.verify("transaction", msg, sig) {
                results[sig_owner[k]] = Err(e.into());
            }
        }
    }
    results
}

/// What a node checks before admitting a client's transactions: [`check_admission_at`] against
/// the latest validator set (no block height known).
pub fn check_admission(spec: &ChainSpec, state: &dyn StateView, txs: &[Transaction]) -> Vec<Result<Hash, NodeError>> {
    check_admission_at(spec, state, None, txs)
}

/// What a node checks before admitting a client's transactions: [`check_signed`], then the
/// ledger rules that the proposer would otherwise drop the transaction for later:
/// - a batch's size against the genesis parameters;
/// - a registry update or a membership change is checked in full by the state transition itself
///   (`Overlay::apply_tx`) on the committed `state`, as if in the block at `next_height` (the
///   node's tip + 1; `None`: against the latest set): approvals by the set in force (registry:
///   more than half of its courts, 422 `not_enough_approvals` or `registry`; membership: more
///   than two thirds of its power, 422 `approval_not_member`, `duplicate_approval`,
///   `not_enough_approval_power`), 400 `bad_signature` for a forged approval, the change's own
///   rules (422 `membership_seq`, `validator_key_used_before`, `too_few_validators`, ...).
///
/// A check that cannot read `state` answers that transaction with [`NodeError::Storage`] (the
/// ledger's `StateStorage`), never with a rule's refusal.
///
/// So a refusal names its reason at submission, never "accepted" then dropped. A second
/// membership change with the sequence number of one pending in this mempool is refused by
/// [`Mempool::admit`] (422 `membership_seq`). What can still be dropped later: two changes with
/// one sequence number submitted to two different nodes at the same time (each node admits its
/// own before the other's gossip arrives, then refuses the other's; the one that reaches a block
/// first wins and the other fails `membership_seq` at proposal time), and a change whose set
/// changes between admission and commit (a change committed in the last two blocks).
pub fn check_admission_at(
    spec: &ChainSpec,
    state: &dyn StateView,
    next_height: Option<u64>,
    txs: &[Transaction],
) -> Vec<Result<Hash, NodeError>> {
    check_admission_ids(spec, state, next_height, txs, &tx_ids(&spec.chain_id, txs))
}

/// [`check_admission_at`] with the IDs already computed ([`tx_ids`], same order and length as
/// `txs`): the submission path hashes each transaction once.
pub fn check_admission_ids(
    spec: &ChainSpec,
    state: &dyn StateView,
    next_height: Option<u64>,
    txs: &[Transaction],
    ids: &[Hash],
) -> Vec<Result<Hash, NodeError>> {
    let mut results = check_signed_ids(state, txs, ids);
    for (tx, r) in txs.iter().zip(results.iter_mut()) {
        if let Ok(id) = r {
            if let Err(e) = check_with_state(spec, state, next_height, tx, id) {
                *r = Err(e.into());
            }
        }
    }
    results
}

/// An `evidence` transaction: every rule the ledger applies (rule 7 of `curia_ledger::state`)
/// as the next block would, on the committed `state`: a sender in the set in force, conflicting
/// messages signed by the offender of the set in force at the offence's height, and an offence
/// not recorded yet (422 `evidence_sender_not_validator`, `evidence_invalid`,
/// `evidence_offender_unknown`, `evidence_bad_signature`, `evidence_duplicate`). Other kinds pass.
/// The sender is checked against the latest set (which differs from the set in force only
/// while a committed membership change waits to take effect) and the offence's height is not
/// bounded here; the proposer's checks at the block's height add both.
pub fn check_evidence(spec: &ChainSpec, state: &dyn StateView, tx: &Transaction, id: &Hash) -> Result<(), NodeError> {
    if !tx.body.payload.sent_by_validator() {
        return Ok(());
    }
    Ok(curia_ledger::state::check_tx_at(spec, state, None, tx, id)?)
}

/// The rules of the state transition that [`check_signed`] leaves out, for the payloads whose
/// refusal a client must hear about (see [`check_admission_at`]).
fn check_with_state(
    spec: &ChainSpec,
    state: &dyn StateView,
    next_height: Option<u64>,
    tx: &Transaction,
    id: &Hash,
) -> Result<(), LedgerError> {
    use curia_ledger::state::Overlay;
    match &tx.body.payload {
        _ if tx.body.payload.sent_by_validator() => curia_ledger::state::check_tx_at(spec, state, next_height, tx, id),
        Payload::Registry { .. } | Payload::Membership { .. } => {
            let mut overlay = match next_height {
                Some(h) => Overlay::at_height(state, h),
                None => Overlay::new(state),
            };
            overlay.apply_tx(spec, tx, id)
        }
        Payload::BatchDeposit(b) if b.count > spec.genesis.params.max_batch_items => Err(LedgerError::TooLarge {
            what: "batch",
            len: u64::from(b.count),
            max: u64::from(spec.genesis.params.max_batch_items),
        }),
        _ => Ok(()),
    }
}

/// A registered, active sender whose role may send the transaction's kind. An `evidence`
/// transaction is sent by a validator, not a client: [`check_evidence`] checks its sender.
fn check_sender(state: &dyn StateView, tx: &Transaction) -> Result<(), NodeError> {
    if tx.body.payload.sent_by_validator() {
        return Ok(());
    }
    let sender = &tx.body.sender;
    let client =
        state.client(sender)?.filter(|c| c.active).ok_or_else(|| LedgerError::UnknownSender(sender.to_string()))?;
    let role = tx.body.payload.allowed_role();
    if client.role != role {
        return Err(LedgerError::WrongRole {
            role: client.role.as_str().into(),
            kind: tx.body.payload.kind(),
            allowed: role.as_str(),
        }
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use curia_ledger::hash::Hash;
    use curia_ledger::state::MemState;
    use curia_ledger::testkit::TestChain;

    fn setup(cfg: MempoolConfig) -> (TestChain, MemState, Mempool) {
        let c = TestChain::new(4);
        let state = MemState::genesis(&c.spec);
        let m = Mempool::new(Arc::new(c.spec.clone()), cfg);
        (c, state, m)
    }

    /// A membership change `seq` adding validator `name`, approved by v0, v1, v2 (quorum of 4).
    fn add_change(c: &TestChain, seq: u64, name: &str, nonce: u64) -> Transaction {
        use curia_ledger::genesis::{Validator, ValidatorRole};
        use curia_ledger::membership::{approval_hash, MemberApproval, MemberChange};
        use curia_ledger::testkit::test_key;
        let change = MemberChange::Add {
            validator: Validator {
                name: name.into(),
                role: ValidatorRole::Court,
                key: test_key(name).public(),
                power: 1,
                address: "/ip4/127.0.0.1/tcp/1".into(),
            },
        };
        let msg = approval_hash(&c.spec.chain_id, seq, &change);
        let approvals = ["v0", "v1", "v2"]
            .iter()
            .map(|n| MemberApproval { key: test_key(n).public(), signature: test_key(n).sign(&msg) })
            .collect();
        c.tx("registrar", Payload::Membership { seq, change, approvals }, nonce)
    }

    #[test]
    fn a_second_pending_membership_change_with_the_same_seq_is_refused() {
        let (c, state, mut m) = setup(MempoolConfig::default());
        let first = add_change(&c, 0, "court-x", 1);
        let second = add_change(&c, 0, "court-y", 2);
        let later = add_change(&c, 1, "court-z", 3);
        let r = m.submit(&state, vec![first.clone(), second.clone()]).unwrap();
        assert!(r[0].is_ok(), "{:?}", r[0]);
        let e = r[1].as_ref().unwrap_err();
        assert_eq!(e.code(), "membership_seq");
        assert!(e.to_string().contains("number 0 is already pending"), "{e}");
        assert!(e.to_string().contains(&first.id(&c.spec.chain_id).to_string()), "{e}");
        assert_eq!(m.len(), 1);
        // Number 1 is not the next number on the committed state: refused by the ledger's rule.
        let r = m.submit(&state, vec![later]).unwrap();
        assert_eq!(r[0].as_ref().unwrap_err().code(), "membership_seq");
        // Once the first leaves the mempool (committed or dropped), number 0 is free again.
        m.remove(&[first.id(&c.spec.chain_id)]);
        let r = m.submit(&state, vec![second]).unwrap();
        assert!(r[0].is_ok(), "{:?}", r[0]);
        assert_eq!(m.len(), 1);
    }

    /// `holds` vouches only for the pending transaction itself: a batch with the same ID and
    /// signature but other items (the ID does not cover them) is not vouched for, and a block
    /// carrying it is refused for its root even with the mempool as the predicate.
    #[test]
    fn holds_only_the_same_items_and_gossip_admission_skips_deposit_ids() {
        let (c, state, mut m) = setup(MempoolConfig::default());
        let items: Vec<Hash> = (0..4u8).map(|i| Hash::sha256(&[i])).collect();
        let batch = c.batch("platform", items, 1);
        let id = batch.id(&c.spec.chain_id);
        let checks = check_admission(&c.spec, &state, std::slice::from_ref(&batch));
        assert_eq!(m.admit_ids(&state, vec![batch.clone()], checks), vec![Ok(id)]);
        assert!(m.holds(&id, &batch));
        let mut other = batch.clone();
        other.items[3] = Hash::sha256(b"not the signed item");
        assert_eq!(other.id(&c.spec.chain_id), id);
        assert!(!m.holds(&id, &other));
        let mut forged = batch.clone();
        forged.signature.0[0] ^= 1;
        assert!(!m.holds(&id, &forged));

        let proposer = c.spec.genesis.validators[0].key;
        let holds = |i: &Hash, t: &Transaction| m.holds(i, t);
        let built = curia_ledger::state::build_block_with(
            &c.spec,
            &state,
            &c.tip,
            vec![batch.clone()],
            c.proposing(proposer),
            &holds,
        )
        .unwrap();
        assert!(built.rejected.is_empty(), "{:?}", built.rejected);
        assert!(curia_ledger::state::apply_block_with(&c.spec, &state, &c.tip, &built.block, &holds).is_ok());
        let mut block = built.block;
        block.txs[0].items = other.items.clone();
        let e = curia_ledger::state::apply_block_with(&c.spec, &state, &c.tip, &block, &holds).unwrap_err();
        assert!(e.to_string().contains("batch root mismatch"), "{e}");

        // A client's submission is answered with the deposit IDs, one per item.
        let (c2, state2, mut m2) = setup(MempoolConfig::default());
        let r = m2.submit(&state2, vec![c2.batch("platform", (0..3u8).map(|i| Hash::sha256(&[i])).collect(), 2)]);
        let a = r.unwrap().pop().unwrap().unwrap();
        assert_eq!(a.deposit_ids.len(), 3);
    }

    #[test]
    fn admits_good_and_names_each_bad_transaction() {
        let (c, state, mut m) = setup(MempoolConfig::default());
        let good = c.deposit("platform", b"a", 1);
        let mut forged = c.deposit("platform", b"b", 2);
        forged.signature.0[5] ^= 1;
        let stranger = {
            let mut t = c.deposit("platform", b"c", 3);
            t.body.sender = curia_ledger::testkit::test_key("nobody").public();
            t
        };
        let judge_deposit = c.deposit("judge", b"d", 4);
        let platform_case = c.tx("platform", Payload::OpenCase { case_id: "C".into(), title: String::new() }, 5);
        let mut bad_batch = c.batch("platform", vec![Hash::sha256(b"x"), Hash::sha256(b"y")], 6);
        bad_batch.items.pop();
        let r = m
            .submit(&state, vec![good.clone(), forged, stranger, judge_deposit, platform_case, bad_batch, good])
            .unwrap();
        let codes: Vec<&str> = r.iter().map(|x| x.as_ref().map(|_| "ok").unwrap_or_else(|e| e.code())).collect();
        assert_eq!(
            codes,
            ["ok", "bad_signature", "unknown_sender", "wrong_role", "wrong_role", "invalid_field", "already_pending"]
        );
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn full_mempool_pushes_back_and_recovers() {
        let (c, state, mut m) = setup(MempoolConfig { max_txs: 3, ..Default::default() });
        let txs: Vec<_> = (0..5).map(|i| c.deposit("platform", &[i as u8], i)).collect();
        let r = m.submit(&state, txs.clone()).unwrap();
        assert_eq!(r.iter().filter(|x| x.is_ok()).count(), 3);
        assert!(matches!(r[3], Err(NodeError::MempoolFull { retry_after_ms: 1000, .. })));
        let taken = m.peek(2, 100);
        assert_eq!(taken, txs[..2].to_vec());
        m.remove(&taken.iter().map(|t| t.id(&c.spec.chain_id)).collect::<Vec<_>>());
        assert_eq!(m.len(), 1);
        let r = m.submit(&state, txs[3..].to_vec()).unwrap();
        assert!(r.iter().all(|x| x.is_ok()));
        assert_eq!(m.peek(10, 100).len(), 3);
    }

    #[test]
    fn peek_respects_deposit_budget_and_replay_is_refused() {
        let (mut c, _, _) = setup(MempoolConfig::default());
        let batch = c.batch("platform", (0..10u8).map(|i| Hash::sha256(&[i])).collect(), 1);
        let single = c.deposit("platform", b"s", 2);
        c.commit(vec![single.clone()]);
        let mut m = Mempool::new(Arc::new(c.spec.clone()), MempoolConfig::default());
        let r = m.submit(&c.state, vec![batch.clone(), single]).unwrap();
        assert!(r[0].is_ok());
        assert_eq!(r[0].as_ref().unwrap().deposit_ids.len(), 10);
        assert_eq!(r[1].as_ref().unwrap_err().code(), "duplicate");
        assert!(m.peek(10, 9).is_empty(), "a batch of 10 does not fit a budget of 9 deposits");
        assert_eq!(m.peek(10, 10), vec![batch]);
        let too_many = vec![c.deposit("platform", b"z", 9); 10_001];
        assert!(matches!(m.submit(&c.state, too_many), Err(NodeError::TooManyTxs { .. })));
    }
}
