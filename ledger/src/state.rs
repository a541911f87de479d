//! The deterministic state transition.
//!
//! Rules:
//! - The state is: the client registry (genesis clients, then registry updates), the set of
//!   applied transaction IDs (replay protection), the set of deposit IDs, and the cases with
//!   their owner, status and attached deposits.
//! - A transaction is applied only if every rule holds, otherwise it is rejected with a specific
//!   [`LedgerError`] and changes nothing:
//!   1. the sender is a registered, active client whose role may send the payload kind;
//!   2. its ID was never applied before (replay);
//!   3. a batch's items hash to its signed root (checked statelessly);
//!   4. cases: `open_case` needs an unused case ID; `attach_deposit`, `record_verification` and
//!      `close_case` need an existing, open case whose owner (the judge who opened it) is the
//!      sender; `attach_deposit` needs an existing deposit not yet attached to that case;
//!      `record_verification` needs a deposit attached to that case;
//!   5. registry updates need distinct, valid approvals of more than half of the court validators
//!      of the set in force at the block's height (approvals name validators by their index in
//!      that set); no key any validator of the chain ever held may become a client's;
//!      `add` needs an unknown key that is no validator's, `remove` an active client, `rotate` an
//!      active old key and an unknown new key.
//!   6. membership changes follow [`crate::membership`]: approvals by more than two thirds of
//!      the power in force at the block's height, sequence number = changes committed before,
//!      and the change keeps the set valid. A change committed in block `h` is in force from
//!      `h + 2`.
//!   7. evidence (`evidence`, [`crate::evidence`]): the sender is a validator of the set in
//!      force at the block's height (not a client); the two messages conflict, are signed by the
//!      offender of the set in force at the offence's height (at most the block's height), and
//!      the offence (offender, height, round, kind) is not recorded yet. It emits an `evidence`
//!      change holding the record.
//! - Headers: `validators_hash` is the hash of the set in force at the block's height; while no
//!   membership change takes effect at or before the next height the header is version 2,
//!   afterwards version 3 with `next_validators_hash`, the set in force at the next height. On a
//!   chain whose genesis sets `log_in_header` every header is version 4: version 3's fields and
//!   `log_size`, `log_root`, the deposit log ([`crate::deposit_log`]) after the block; a block
//!   whose header names another log is refused with [`LedgerError::LogCommitmentMismatch`].
//! - A block is valid only if every transaction in it applies, in order, on top of the state
//!   left by the previous one (a proposer leaves rejected transactions out), and, above height 1,
//!   it carries a verifying certificate for the tip block (`last_commit`, see [`crate::block`]).
//! - The state root after block `h` is `tagged("curia/v1/state", root(h-1) || u64 h ||
//!   tagged("curia/v1/state-delta", changes))`, starting from 32 zero bytes. The state is a
//!   deterministic function of its change log, so this chain commits to the state while costing
//!   O(changes) per block, whatever the size of the state.
//! - Stateless checks: `apply_block` and `build_block` check every transaction's shape (field
//!   limits, a batch's items against its signed root) and signature. Their `_with` forms take a
//!   [`SigChecked`] predicate naming transactions the caller already checked so, such as a node's
//!   mempool, which admits only checked transactions; it must vouch only for a transaction equal
//!   to the checked one (same ID, signature and items: the ID covers the body, not the items).
//!   Only those two stateless checks are skipped for them, never a rule of the state.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use crate::block::HEADER_VERSION_LOG;
use crate::block::{last_commit_hash, Block, CommitCertificate, Header, HEADER_VERSION, HEADER_VERSION_MEMBERSHIP};
use crate::codec::{Canonical, Writer};
use crate::crypto::{verify_batch, PublicKey};
use crate::deposit_log::Frontier;
use crate::evidence::{record_key, Misbehaviour, OffenceKind};
use crate::genesis::{ChainSpec, ClientRole, ValidatorRole};
use crate::hash::{Hash, TAG_STATE, TAG_STATE_DELTA};
use crate::limits::MAX_BLOCK_DEPOSITS;
use crate::membership::{check_member_approvals, MemberEntry, Membership, ValidatorSet};
use crate::tx::{Payload, RegistryAction, Transaction};
use crate::{merkle, LedgerError, Result};

/// A client as the state knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientRecord {
    /// Name.
    pub name: String,
    /// Role.
    pub role: ClientRole,
    /// False once removed or rotated away.
    pub active: bool,
}

/// A case as the state knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseRecord {
    /// The judge who opened it.
    pub owner: PublicKey,
    /// False once closed.
    pub open: bool,
}

/// Read access to the state. Implemented in memory by [`MemState`] and on disk by storage.
///
/// Every read can fail: a state that cannot answer (a storage failure) returns
/// [`LedgerError::StateStorage`], never a default answer ("not applied", "no such deposit").
/// The state transition passes that error on unchanged ([`LedgerError::is_storage`]): it is no
/// verdict on the block or transaction being checked, and is never wrapped as a rule violation
/// ([`LedgerError::TxInBlock`], [`LedgerError::InvalidBlock`]).
pub trait StateView {
    /// A client by key.
    fn client(&self, key: &PublicKey) -> Result<Option<ClientRecord>>;
    /// Whether a transaction ID was applied.
    fn tx_applied(&self, id: &Hash) -> Result<bool>;
    /// Whether a deposit ID exists.
    fn deposit_exists(&self, id: &Hash) -> Result<bool>;
    /// A case by ID.
    fn case(&self, id: &str) -> Result<Option<CaseRecord>>;
    /// Whether a deposit is attached to a case.
    fn attached(&self, case: &str, deposit: &Hash) -> Result<bool>;
    /// The committed membership changes, in order (the validator-set history; empty while the
    /// genesis set has never changed).
    fn member_entries(&self) -> Result<Vec<MemberEntry>> {
        Ok(Vec::new())
    }
    /// Whether an offence with this record key ([`crate::evidence::record_key`]) is recorded.
    fn evidence_recorded(&self, key: &Hash) -> Result<bool>;
    /// The deposit log's frontier (size and perfect-subtree roots) after this state's last
    /// block. Only chains whose genesis sets `log_in_header` read it.
    fn log_frontier(&self) -> Result<Frontier>;
}

/// The validator-set history of `state`: the genesis set and its committed changes. A
/// storage failure is [`LedgerError::StateStorage`]; a history that does not apply, some other
/// error.
pub fn membership_of(spec: &ChainSpec, state: &dyn StateView) -> Result<Membership> {
    Membership::with_entries(spec.validator_set.clone(), &state.member_entries()?)
}

/// One change to the state. A block's changes, in order, are its state delta.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A transaction was applied.
    TxApplied {
        /// Its ID.
        id: Hash,
    },
    /// A deposit was created.
    Deposit {
        /// Deposit ID.
        id: Hash,
        /// Its commitment.
        commitment: Hash,
    },
    /// A client was added or changed.
    ClientPut {
        /// Key.
        key: PublicKey,
        /// New record.
        record: ClientRecord,
    },
    /// A case was opened.
    CaseOpened {
        /// Case ID.
        case_id: String,
        /// Judge.
        owner: PublicKey,
    },
    /// A deposit was attached to a case.
    Attached {
        /// Case ID.
        case_id: String,
        /// Deposit ID.
        deposit: Hash,
    },
    /// A verification result was recorded.
    Verified {
        /// Case ID.
        case_id: String,
        /// Deposit ID.
        deposit: Hash,
        /// Result.
        valid: bool,
    },
    /// A case was closed.
    CaseClosed {
        /// Case ID.
        case_id: String,
    },
    /// A membership change was committed (appended to the validator-set history).
    Member {
        /// The entry.
        entry: MemberEntry,
    },
    /// Evidence of an offence was recorded.
    Evidence {
        /// The record key ([`crate::evidence::record_key`]).
        key: Hash,
        /// The offender's key.
        offender: PublicKey,
        /// Height of the offence.
        height: u64,
        /// Round of the offence.
        round: u32,
        /// Kind of the offence.
        kind: OffenceKind,
    },
}

impl Change {
    fn encode(&self, w: &mut Writer) {
        match self {
            Change::TxApplied { id } => {
                w.u8(1);
                id.encode(w);
            }
            Change::Deposit { id, commitment } => {
                w.u8(2);
                id.encode(w);
                commitment.encode(w);
            }
            Change::ClientPut { key, record } => {
                w.u8(3);
                key.encode(w);
                w.str(&record.name);
                w.u8(record.role as u8);
                w.u8(record.active as u8);
            }
            Change::CaseOpened { case_id, owner } => {
                w.u8(4);
                w.str(case_id);
                owner.encode(w);
            }
            Change::Attached { case_id, deposit } => {
                w.u8(5);
                w.str(case_id);
                deposit.encode(w);
            }
            Change::Verified { case_id, deposit, valid } => {
                w.u8(6);
                w.str(case_id);
                deposit.encode(w);
                w.u8(*valid as u8);
            }
            Change::CaseClosed { case_id } => {
                w.u8(7);
                w.str(case_id);
            }
            Change::Member { entry } => {
                w.u8(8);
                w.u64(entry.height);
                entry.change.encode(w);
            }
            Change::Evidence { key, offender, height, round, kind } => {
                w.u8(9);
                key.encode(w);
                offender.encode(w);
                w.u64(*height);
                w.u32(*round);
                w.u8(*kind as u8);
            }
        }
    }
}

/// The state root after a block at `height` with `changes`, on top of `prev_root`.
pub fn next_state_root(prev_root: &Hash, height: u64, changes: &[Change]) -> Hash {
    use sha2::Digest;
    // `tagged(TAG_STATE_DELTA, u32 count || each change)`, hashed 16 KiB at a time rather than
    // encoded whole first (a block of many deposits would otherwise grow a buffer of 65 bytes a
    // deposit): the same bytes in the same order, so the same hash.
    const CHUNK: usize = 16 << 10;
    let mut h = Hash::tagged_hasher(TAG_STATE_DELTA);
    let mut w = Writer::new();
    w.u32(changes.len() as u32);
    for c in changes {
        c.encode(&mut w);
        if w.as_bytes().len() >= CHUNK {
            h.update(w.as_bytes());
            w.clear();
        }
    }
    h.update(w.as_bytes());
    let delta = Hash(h.finalize().into());
    Hash::tagged(TAG_STATE, &[&prev_root.0, &height.to_be_bytes(), &delta.0])
}

/// The head of the chain a block builds on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Tip {
    /// Height of the last block (0 before the first).
    pub height: u64,
    /// Hash of the last block (zero before the first).
    pub block_hash: Hash,
    /// State root after the last block (zero before the first).
    pub state_root: Hash,
    /// Proposer time of the last block (genesis time before the first).
    pub time_ms: u64,
}

impl Tip {
    /// The tip before the first block.
    pub fn genesis(spec: &ChainSpec) -> Tip {
        Tip { height: 0, block_hash: Hash::ZERO, state_root: Hash::ZERO, time_ms: spec.genesis.genesis_time_ms }
    }
    /// The tip after `header`.
    pub fn after(header: &Header) -> Tip {
        Tip { height: header.height, block_hash: header.hash(), state_root: header.state_root, time_ms: header.time_ms }
    }
}

/// Pending changes on top of a [`StateView`], visible to later transactions of the same block.
pub struct Overlay<'a> {
    base: &'a dyn StateView,
    clients: HashMap<PublicKey, ClientRecord>,
    txs: HashSet<Hash>,
    /// The deposit IDs of `changes[..n]`, with `n`: filled on a `deposit_exists` question (only
    /// an `attach_deposit` asks), so a block of many deposits and no attachment never puts its
    /// deposit IDs in a set.
    deposits: RefCell<(HashSet<Hash>, usize)>,
    cases: HashMap<String, CaseRecord>,
    attached: HashSet<(String, Hash)>,
    member: Vec<MemberEntry>,
    evidence: HashSet<Hash>,
    height: Option<u64>,
    changes: Vec<Change>,
}

impl<'a> Overlay<'a> {
    /// An empty overlay on `base`.
    pub fn new(base: &'a dyn StateView) -> Self {
        Overlay {
            base,
            clients: HashMap::new(),
            txs: HashSet::new(),
            deposits: RefCell::new((HashSet::new(), 0)),
            cases: HashMap::new(),
            attached: HashSet::new(),
            member: Vec::new(),
            evidence: HashSet::new(),
            height: None,
            changes: Vec::new(),
        }
    }

    /// An empty overlay on `base` for the block at `height` (membership approvals are checked
    /// against the set in force there; without a height, against the latest set).
    pub fn at_height(base: &'a dyn StateView, height: u64) -> Self {
        Overlay { height: Some(height), ..Overlay::new(base) }
    }

    /// The changes so far.
    pub fn into_changes(self) -> Vec<Change> {
        self.changes
    }

    /// Record a change of a transaction by `sender` that passed [`Overlay::check_tx_with`].
    fn push(&mut self, c: Change, sender: &PublicKey) {
        match &c {
            Change::TxApplied { id } => {
                self.txs.insert(*id);
            }
            // Indexed lazily (see `deposits`).
            Change::Deposit { .. } => {}
            Change::ClientPut { key, record } => {
                self.clients.insert(*key, record.clone());
            }
            Change::CaseOpened { case_id, owner } => {
                self.cases.insert(case_id.clone(), CaseRecord { owner: *owner, open: true });
            }
            Change::Attached { case_id, deposit } => {
                self.attached.insert((case_id.clone(), *deposit));
            }
            Change::Verified { .. } => {}
            Change::Member { entry } => self.member.push(entry.clone()),
            Change::Evidence { key, .. } => {
                self.evidence.insert(*key);
            }
            Change::CaseClosed { case_id } => {
                // The check found the case open and owned by the sender: no read needed here.
                self.cases.insert(case_id.clone(), CaseRecord { owner: *sender, open: false });
            }
        }
        self.changes.push(c);
    }

    /// Apply one transaction whose stateless checks (shape, signature) have passed.
    /// On error nothing changes. A failed read is [`LedgerError::StateStorage`], not a
    /// rejection of the transaction.
    pub fn apply_tx(&mut self, spec: &ChainSpec, tx: &Transaction, id: &Hash) -> Result<()> {
        let changes = self.check_tx(spec, tx, id)?;
        for c in changes {
            self.push(c, &tx.body.sender);
        }
        Ok(())
    }

    /// [`Overlay::apply_tx`] for a transaction whose deposits (deposit ID, commitment) the
    /// caller already derived: `deposits` must be `tx.deposits(id)` (see [`PreparedBlock`]).
    fn apply_tx_deposits(
        &mut self,
        spec: &ChainSpec,
        tx: &Transaction,
        id: &Hash,
        deposits: &[(Hash, Hash)],
    ) -> Result<()> {
        let changes = self.check_tx_with(spec, tx, id, Some(deposits))?;
        for c in changes {
            self.push(c, &tx.body.sender);
        }
        Ok(())
    }

    fn check_tx(&self, spec: &ChainSpec, tx: &Transaction, id: &Hash) -> Result<Vec<Change>> {
        self.check_tx_with(spec, tx, id, None)
    }

    fn check_tx_with(
        &self,
        spec: &ChainSpec,
        tx: &Transaction,
        id: &Hash,
        deposits: Option<&[(Hash, Hash)]>,
    ) -> Result<Vec<Change>> {
        if let Payload::Evidence { evidence } = &tx.body.payload {
            return self.check_evidence(spec, tx, evidence, id);
        }
        let sender = &tx.body.sender;
        let client =
            self.client(sender)?.filter(|c| c.active).ok_or_else(|| LedgerError::UnknownSender(sender.to_string()))?;
        let payload = &tx.body.payload;
        // Rule 1: role.
        if client.role != payload.allowed_role() {
            return Err(LedgerError::WrongRole {
                role: client.role.as_str().into(),
                kind: payload.kind(),
                allowed: payload.allowed_role().as_str(),
            });
        }
        // Rule 2: replay.
        if self.tx_applied(id)? {
            return Err(LedgerError::DuplicateTx(*id));
        }
        let mut out = vec![Change::TxApplied { id: *id }];
        match payload {
            Payload::Deposit(_) | Payload::BatchDeposit(_) => {
                if let Payload::BatchDeposit(b) = payload {
                    if b.count > spec.genesis.params.max_batch_items {
                        return Err(LedgerError::TooLarge {
                            what: "batch",
                            len: b.count as u64,
                            max: spec.genesis.params.max_batch_items as u64,
                        });
                    }
                }
                match deposits {
                    Some(given) => {
                        debug_assert_eq!(given, &tx.deposits(id)[..], "prepared deposits are not the transaction's");
                        out.reserve(given.len());
                        out.extend(given.iter().map(|&(dep, commitment)| Change::Deposit { id: dep, commitment }));
                    }
                    None => {
                        for (dep, commitment) in tx.deposits(id) {
                            out.push(Change::Deposit { id: dep, commitment });
                        }
                    }
                }
            }
            // Rule 4: case lifecycle.
            Payload::OpenCase { case_id, .. } => {
                if self.case(case_id)?.is_some() {
                    return Err(LedgerError::CaseExists(case_id.clone()));
                }
                out.push(Change::CaseOpened { case_id: case_id.clone(), owner: *sender });
            }
            Payload::AttachDeposit { case_id, deposit_id } => {
                self.owned_open_case(case_id, sender)?;
                if !self.deposit_exists(deposit_id)? {
                    return Err(LedgerError::DepositNotFound(*deposit_id));
                }
                if self.attached(case_id, deposit_id)? {
                    return Err(LedgerError::AlreadyAttached { case: case_id.clone(), deposit: *deposit_id });
                }
                out.push(Change::Attached { case_id: case_id.clone(), deposit: *deposit_id });
            }
            Payload::RecordVerification { case_id, deposit_id, valid, .. } => {
                self.owned_open_case(case_id, sender)?;
                if !self.attached(case_id, deposit_id)? {
                    return Err(LedgerError::NotAttached { case: case_id.clone(), deposit: *deposit_id });
                }
                out.push(Change::Verified { case_id: case_id.clone(), deposit: *deposit_id, valid: *valid });
            }
            Payload::CloseCase { case_id, .. } => {
                self.owned_open_case(case_id, sender)?;
                out.push(Change::CaseClosed { case_id: case_id.clone() });
            }
            // Rule 5: registry.
            Payload::Registry { action, approvals } => {
                let m = membership_of(spec, self)?;
                let in_force = match self.height {
                    Some(h) => m.set_at(h),
                    None => m.latest(),
                };
                check_approvals(spec, in_force, action, approvals)?;
                // A key any validator of this chain ever held (genesis, added, rotated to) is
                // never a client's.
                let is_validator = |k: &PublicKey| m.key_used(k) || m.latest().index_of(k).is_some();
                match action {
                    RegistryAction::Add(c) => {
                        c.key.check()?;
                        if self.client(&c.key)?.is_some() || is_validator(&c.key) {
                            return Err(LedgerError::Registry(format!("key {} is already registered", c.key)));
                        }
                        out.push(Change::ClientPut {
                            key: c.key,
                            record: ClientRecord { name: c.name.clone(), role: c.role, active: true },
                        });
                    }
                    RegistryAction::Remove { key: k } => {
                        let mut rec = self
                            .client(k)?
                            .filter(|c| c.active)
                            .ok_or_else(|| LedgerError::Registry(format!("no active client with key {k}")))?;
                        rec.active = false;
                        out.push(Change::ClientPut { key: *k, record: rec });
                    }
                    RegistryAction::Rotate { old, new } => {
                        new.check()?;
                        let rec = self
                            .client(old)?
                            .filter(|c| c.active)
                            .ok_or_else(|| LedgerError::Registry(format!("no active client with key {old}")))?;
                        if self.client(new)?.is_some() || is_validator(new) {
                            return Err(LedgerError::Registry(format!("key {new} is already registered")));
                        }
                        out.push(Change::ClientPut { key: *new, record: rec.clone() });
                        out.push(Change::ClientPut { key: *old, record: ClientRecord { active: false, ..rec } });
                    }
                }
            }
            // Rule 6: membership.
            // Rule 7 is checked by `check_evidence`, before the client rules.
            Payload::Evidence { .. } => unreachable!("evidence is checked before the client rules"),
            Payload::Membership { seq, change, approvals } => {
                let m = membership_of(spec, self)?;
                if *seq != m.len() {
                    return Err(LedgerError::MembershipSeq { expected: m.len(), got: *seq });
                }
                let in_force = match self.height {
                    Some(h) => m.set_at(h),
                    None => m.latest(),
                };
                check_member_approvals(&spec.chain_id, in_force, *seq, change, approvals)?;
                m.apply(change, &|k| Ok(self.client(k)?.is_some()))?;
                let height = self.height.unwrap_or(0);
                out.push(Change::Member { entry: MemberEntry { height, change: change.clone() } });
            }
        }
        Ok(out)
    }

    /// Rule 7: an evidence transaction.
    fn check_evidence(
        &self,
        spec: &ChainSpec,
        tx: &Transaction,
        evidence: &Misbehaviour,
        id: &Hash,
    ) -> Result<Vec<Change>> {
        let m = membership_of(spec, self)?;
        let sender = &tx.body.sender;
        let in_force = match self.height {
            Some(h) => m.set_at(h),
            None => m.latest(),
        };
        if in_force.index_of(sender).is_none() {
            return Err(LedgerError::EvidenceSenderNotValidator(sender.to_string()));
        }
        if self.tx_applied(id)? {
            return Err(LedgerError::DuplicateTx(*id));
        }
        let max_height = self.height.unwrap_or(u64::MAX);
        let o = evidence.check_shape(&spec.chain_id, max_height)?;
        let (o, offender) = evidence.check_in(&spec.chain_id, m.set_at(o.height), max_height)?;
        let key = record_key(&spec.chain_id, &offender, o.height, o.round, o.kind);
        if self.evidence_recorded(&key)? {
            return Err(LedgerError::EvidenceDuplicate(format!(
                "{} by {offender} at height {} round {}",
                o.kind.as_str(),
                o.height,
                o.round
            )));
        }
        Ok(vec![
            Change::TxApplied { id: *id },
            Change::Evidence { key, offender, height: o.height, round: o.round, kind: o.kind },
        ])
    }

    fn owned_open_case(&self, case_id: &str, sender: &PublicKey) -> Result<()> {
        let case = self.case(case_id)?.ok_or_else(|| LedgerError::CaseNotFound(case_id.into()))?;
        if !case.open {
            return Err(LedgerError::CaseClosed(case_id.into()));
        }
        if &case.owner != sender {
            return Err(LedgerError::NotCaseOwner { case: case_id.into() });
        }
        Ok(())
    }
}

/// Every state rule for `tx` (whose stateless checks passed) on top of `state`, changing
/// nothing: for admission of transactions whose rules need the state in full (`evidence`).
/// With `height`, as the block at that height would apply it; without, against the latest
/// validator set and with no bound on an offence's height (the block's checks add those).
pub fn check_tx_at(
    spec: &ChainSpec,
    state: &dyn StateView,
    height: Option<u64>,
    tx: &Transaction,
    id: &Hash,
) -> Result<()> {
    let ov = match height {
        Some(h) => Overlay::at_height(state, h),
        None => Overlay::new(state),
    };
    ov.check_tx(spec, tx, id).map(|_| ())
}

/// Rule 5: distinct court approvals, each valid, from more than half of the courts of the set
/// in force (`in_force`: at the height of the block that commits the update; an approval names a
/// validator by its index in that set). Public so that a node can refuse a registry
/// transaction at admission for the same reason.
pub fn check_approvals(
    spec: &ChainSpec,
    in_force: &ValidatorSet,
    action: &RegistryAction,
    approvals: &[crate::tx::Approval],
) -> Result<()> {
    let courts = in_force.validators.iter().filter(|v| v.role == ValidatorRole::Court).count();
    let needed = courts / 2 + 1;
    let msg = action.approval_hash(&spec.chain_id);
    let mut seen = HashSet::new();
    let mut items = Vec::new();
    for a in approvals {
        let v = in_force
            .validators
            .get(a.validator as usize)
            .ok_or_else(|| LedgerError::Registry(format!("approval by unknown validator index {}", a.validator)))?;
        if v.role != ValidatorRole::Court {
            return Err(LedgerError::Registry(format!("approval by {}, which is not a court", v.name)));
        }
        if !seen.insert(a.validator) {
            return Err(LedgerError::Registry(format!("repeated approval by {}", v.name)));
        }
        items.push((v.key, msg, a.signature));
    }
    verify_batch("registry approval", &items)?;
    if seen.len() < needed {
        return Err(LedgerError::NotEnoughApprovals { needed, got: seen.len() });
    }
    Ok(())
}

impl StateView for Overlay<'_> {
    fn client(&self, key: &PublicKey) -> Result<Option<ClientRecord>> {
        match self.clients.get(key) {
            Some(c) => Ok(Some(c.clone())),
            None => self.base.client(key),
        }
    }
    fn tx_applied(&self, id: &Hash) -> Result<bool> {
        Ok(self.txs.contains(id) || self.base.tx_applied(id)?)
    }
    fn deposit_exists(&self, id: &Hash) -> Result<bool> {
        let mut d = self.deposits.borrow_mut();
        let (set, indexed) = &mut *d;
        for c in &self.changes[*indexed..] {
            if let Change::Deposit { id, .. } = c {
                set.insert(*id);
            }
        }
        *indexed = self.changes.len();
        Ok(set.contains(id) || self.base.deposit_exists(id)?)
    }
    fn case(&self, id: &str) -> Result<Option<CaseRecord>> {
        match self.cases.get(id) {
            Some(c) => Ok(Some(c.clone())),
            None => self.base.case(id),
        }
    }
    fn attached(&self, case: &str, deposit: &Hash) -> Result<bool> {
        Ok(self.attached.contains(&(case.to_string(), *deposit)) || self.base.attached(case, deposit)?)
    }
    fn member_entries(&self) -> Result<Vec<MemberEntry>> {
        let mut e = self.base.member_entries()?;
        e.extend(self.member.iter().cloned());
        Ok(e)
    }
    fn evidence_recorded(&self, key: &Hash) -> Result<bool> {
        Ok(self.evidence.contains(key) || self.base.evidence_recorded(key)?)
    }
    fn log_frontier(&self) -> Result<Frontier> {
        let mut f = self.base.log_frontier()?;
        f.append_changes(&self.changes)?;
        Ok(f)
    }
}

/// A [`StateView`] whose deposit log is given: `base` for everything else. For a state that
/// does not keep the log itself (an audit's replayed state keeps a [`Frontier`] beside it).
pub struct WithLog<'a> {
    /// The state.
    pub base: &'a dyn StateView,
    /// The deposit log after the state's last block.
    pub log: &'a Frontier,
}

impl StateView for WithLog<'_> {
    fn client(&self, key: &PublicKey) -> Result<Option<ClientRecord>> {
        self.base.client(key)
    }
    fn tx_applied(&self, id: &Hash) -> Result<bool> {
        self.base.tx_applied(id)
    }
    fn deposit_exists(&self, id: &Hash) -> Result<bool> {
        self.base.deposit_exists(id)
    }
    fn case(&self, id: &str) -> Result<Option<CaseRecord>> {
        self.base.case(id)
    }
    fn attached(&self, case: &str, deposit: &Hash) -> Result<bool> {
        self.base.attached(case, deposit)
    }
    fn member_entries(&self) -> Result<Vec<MemberEntry>> {
        self.base.member_entries()
    }
    fn evidence_recorded(&self, key: &Hash) -> Result<bool> {
        self.base.evidence_recorded(key)
    }
    fn log_frontier(&self) -> Result<Frontier> {
        Ok(self.log.clone())
    }
}

/// Whether the caller already ran this exact transaction's stateless checks
/// ([`Transaction::check_shape`] and the signature over its ID) and they passed: called with the
/// transaction's ID (on this chain) and the transaction. See the module rules.
///
/// Why skipping them is safe: both checks are pure functions of the transaction's bytes (body,
/// signature, items) and of the chain ID. A predicate that says yes only when it holds a checked
/// transaction with the same ID, the same signature and the same items (a node's mempool
/// compares them: [`Transaction`]'s `==`) vouches for a transaction on which the checks would
/// give the same verdict. The ID alone would not do: it covers the body (and so the batch's
/// signed root) but not the items, so a proposer could pair a known ID and signature with other
/// items; comparing the items (32 bytes each) costs far less than hashing their tree again.
pub type SigChecked<'a> = &'a dyn Fn(&Hash, &Transaction) -> bool;

/// A [`SigChecked`] that vouches for nothing: every transaction is checked.
pub fn verify_all(_: &Hash, _: &Transaction) -> bool {
    false
}

/// Stateless checks of a list of transactions (shape, then one batch signature verification)
/// of those `checked` does not vouch for. Returns each transaction's ID.
pub fn check_txs_stateless(spec: &ChainSpec, txs: &[Transaction], checked: SigChecked) -> Result<Vec<Hash>> {
    let mut ids = Vec::with_capacity(txs.len());
    let mut items = Vec::with_capacity(txs.len());
    for tx in txs {
        let id = tx.id(&spec.chain_id);
        if !checked(&id, tx) {
            tx.check_shape()?;
            items.push((tx.body.sender, id, tx.signature));
        }
        ids.push(id);
    }
    verify_batch("transaction", &items)?;
    Ok(ids)
}

/// Check a proposed or replayed block against the tip and the state, and return its changes.
/// Verifies header links, the transaction root, every signature and every state rule, and that
/// the header's state root is the one the changes produce. A failed state read stops the check
/// with that [`LedgerError::StateStorage`], unwrapped: the block is then neither valid nor
/// invalid ([`LedgerError::is_storage`]).
pub fn apply_block(spec: &ChainSpec, state: &dyn StateView, tip: &Tip, block: &Block) -> Result<Vec<Change>> {
    apply_block_with(spec, state, tip, block, &verify_all)
}

/// [`apply_block`], skipping the signature check of the transactions `checked` vouches for.
pub fn apply_block_with(
    spec: &ChainSpec,
    state: &dyn StateView,
    tip: &Tip,
    block: &Block,
    checked: SigChecked,
) -> Result<Vec<Change>> {
    apply_block_inner(spec, state, tip, block, Stateless::Check(checked)).map(|a| a.changes)
}

/// The part of checking a block that needs neither the state nor the chain before it, done
/// once (on any thread, ahead of the block's turn) and handed to [`apply_block_prepared`]: each
/// transaction's ID, the deposits the block creates and their deposit-log leaf hashes, and the
/// verdicts of the stateless checks (transaction root and count, each transaction's shape and
/// batch root, the transactions' signatures). An audit computes it on its reading thread and
/// also uses the IDs to check a store's indexes, so nothing is hashed twice.
#[derive(Clone, Debug)]
pub struct PreparedBlock {
    /// Each transaction's ID ([`Transaction::id`]), in block order.
    pub ids: Vec<Hash>,
    /// `(deposit ID, commitment)` of every deposit the block creates if it applies
    /// ([`Transaction::deposits`] of each transaction, in block order: commit order).
    pub deposits: Vec<(Hash, Hash)>,
    /// Transaction `i`'s deposits are `deposits[first_deposit[i]..first_deposit[i + 1]]`.
    pub first_deposit: Vec<usize>,
    /// The deposit-log leaf hash ([`crate::deposit_log::leaf_hash`]) of each of `deposits`.
    pub leaves: Vec<Hash>,
    /// [`Block::check_body`]'s verdict.
    body: Result<()>,
    /// [`check_txs_stateless`]'s verdict.
    stateless: Result<()>,
}

impl PreparedBlock {
    /// Transaction `i`'s deposits.
    pub fn deposits_of(&self, i: usize) -> &[(Hash, Hash)] {
        &self.deposits[self.first_deposit[i]..self.first_deposit[i + 1]]
    }
}

/// Prepare `block` for [`apply_block_prepared`], skipping the signature check of the
/// transactions `checked` vouches for (as [`apply_block_with`]).
pub fn prepare_block(spec: &ChainSpec, block: &Block, checked: SigChecked) -> PreparedBlock {
    let n = block.txs.len();
    let mut ids = Vec::with_capacity(n);
    let mut first_deposit = Vec::with_capacity(n + 1);
    let items: usize = block.txs.iter().map(|t| t.items.len().max(1)).sum();
    let mut deposits = Vec::with_capacity(items);
    let mut leaves = Vec::with_capacity(items);
    // As `check_txs_stateless`: the first bad shape, else one batch verification of the
    // signatures `checked` does not vouch for.
    let mut shape = Ok(());
    let mut sigs = Vec::new();
    for tx in &block.txs {
        let id = tx.id(&spec.chain_id);
        if shape.is_ok() && !checked(&id, tx) {
            shape = tx.check_shape();
            sigs.push((tx.body.sender, id, tx.signature));
        }
        first_deposit.push(deposits.len());
        for (dep, commitment) in tx.deposits(&id) {
            leaves.push(crate::deposit_log::leaf_hash(&dep, &commitment));
            deposits.push((dep, commitment));
        }
        ids.push(id);
    }
    first_deposit.push(deposits.len());
    let stateless = shape.and_then(|()| verify_batch("transaction", &sigs));
    PreparedBlock { ids, deposits, first_deposit, leaves, body: block.check_body(), stateless }
}

/// What [`apply_block_prepared`] found.
#[derive(Clone, Debug)]
pub struct Applied {
    /// The block's changes (as [`apply_block`] returns them).
    pub changes: Vec<Change>,
    /// On a chain whose headers commit to the deposit log: the log after the block (checked
    /// against the header); `None` otherwise.
    pub log: Option<Frontier>,
}

/// [`apply_block`] for a block whose stateless work was done by [`prepare_block`] (on this
/// block, on this chain): the same checks in the same order with the same verdicts, without
/// hashing the transactions, deposits and leaves again.
pub fn apply_block_prepared(
    spec: &ChainSpec,
    state: &dyn StateView,
    tip: &Tip,
    block: &Block,
    prepared: &PreparedBlock,
) -> Result<Applied> {
    assert_eq!(prepared.ids.len(), block.txs.len(), "a prepared block is for another block");
    apply_block_inner(spec, state, tip, block, Stateless::Prepared(prepared))
}

/// How [`apply_block_inner`] gets the stateless checks' verdicts and the IDs.
enum Stateless<'a> {
    /// Check now, skipping the signatures this vouches for.
    Check(SigChecked<'a>),
    /// Already done.
    Prepared(&'a PreparedBlock),
}

fn apply_block_inner(
    spec: &ChainSpec,
    state: &dyn StateView,
    tip: &Tip,
    block: &Block,
    stateless: Stateless<'_>,
) -> Result<Applied> {
    let h = &block.header;
    let bad = |reason: String| LedgerError::InvalidBlock { height: h.height, reason };
    // A storage failure is passed on as it is: no verdict on the block.
    let m = membership_of(spec, state).map_err(|e| {
        if e.is_storage() {
            e
        } else {
            bad(format!("validator-set history: {e}"))
        }
    })?;
    let version = header_version(spec, &m, h.height);
    if h.version != version {
        return Err(bad(format!("header version {} is not {version}", h.version)));
    }
    if h.chain_id != spec.chain_id {
        return Err(bad(format!("chain ID {} is not this chain's {}", h.chain_id, spec.chain_id)));
    }
    if h.height != tip.height + 1 {
        return Err(bad(format!("height {} does not follow {}", h.height, tip.height)));
    }
    if h.prev_hash != tip.block_hash {
        return Err(bad(format!(
            "previous hash {} is not block {}'s hash {}",
            h.prev_hash, tip.height, tip.block_hash
        )));
    }
    let in_force = m.set_at(h.height);
    if h.validators_hash != in_force.hash {
        return Err(bad(format!("validator-set hash does not match the set in force at height {}", h.height)));
    }
    if h.next_validators_hash != next_validators_hash(spec, &m, h.height) {
        return Err(bad(format!("next validator-set hash does not match the set in force at height {}", h.height + 1)));
    }
    if h.time_ms < tip.time_ms {
        return Err(bad(format!("time {} is before the previous block's {}", h.time_ms, tip.time_ms)));
    }
    if in_force.index_of(&h.proposer).is_none() {
        return Err(bad(format!("proposer {} is not a validator", h.proposer)));
    }
    if block.txs.len() > spec.genesis.params.max_block_txs as usize {
        return Err(bad(format!(
            "{} transactions exceed the limit {}",
            block.txs.len(),
            spec.genesis.params.max_block_txs
        )));
    }
    let items: usize = block.txs.iter().map(|t| t.items.len().max(1)).sum();
    if items > MAX_BLOCK_DEPOSITS {
        return Err(bad(format!("{items} deposits exceed the limit {MAX_BLOCK_DEPOSITS}")));
    }
    match &stateless {
        Stateless::Check(_) => block.check_body()?,
        Stateless::Prepared(p) => p.body.clone()?,
    }
    check_last_commit(spec, &m, tip, block)?;
    let mut ov = Overlay::at_height(state, h.height);
    let in_block = |i: usize| {
        move |e: LedgerError| {
            if e.is_storage() {
                e
            } else {
                LedgerError::TxInBlock { height: h.height, index: i, source: Box::new(e) }
            }
        }
    };
    match &stateless {
        Stateless::Check(checked) => {
            let ids = check_txs_stateless(spec, &block.txs, *checked).map_err(|e| bad(e.to_string()))?;
            for (i, (tx, id)) in block.txs.iter().zip(&ids).enumerate() {
                ov.apply_tx(spec, tx, id).map_err(in_block(i))?;
            }
        }
        Stateless::Prepared(p) => {
            p.stateless.clone().map_err(|e| bad(e.to_string()))?;
            for (i, (tx, id)) in block.txs.iter().zip(&p.ids).enumerate() {
                ov.apply_tx_deposits(spec, tx, id, p.deposits_of(i)).map_err(in_block(i))?;
            }
        }
    }
    let changes = ov.into_changes();
    let root = next_state_root(&tip.state_root, h.height, &changes);
    if root != h.state_root {
        return Err(bad(format!("state root {} is not the computed {}", h.state_root, root)));
    }
    let mut log_after = None;
    if spec.genesis.log_in_header {
        let mut log = state.log_frontier()?;
        match &stateless {
            Stateless::Check(_) => log.append_changes(&changes)?,
            // The block applied, so its deposits are exactly the prepared ones, in order.
            Stateless::Prepared(p) => {
                for leaf in &p.leaves {
                    log.append(*leaf)?;
                }
            }
        }
        let (size, root) = (log.size(), log.root());
        if h.log_size != Some(size) || h.log_root != Some(root) {
            let claimed = match (h.log_size, h.log_root) {
                (Some(s), Some(r)) => format!("size {s} root {r}"),
                _ => "no deposit log".into(),
            };
            return Err(LedgerError::LogCommitmentMismatch {
                height: h.height,
                reason: format!("header commits to deposit log {claimed}, the block gives size {size} root {root}"),
            });
        }
        log_after = Some(log);
    }
    Ok(Applied { changes, log: log_after })
}

/// The carried certificate: none at height 1; above, one for the tip's height and hash that
/// verifies against the validators.
fn check_last_commit(spec: &ChainSpec, m: &Membership, tip: &Tip, block: &Block) -> Result<()> {
    let bad = |reason: String| LedgerError::InvalidBlock { height: block.header.height, reason };
    match (&block.last_commit, tip.height) {
        (None, 0) => Ok(()),
        (Some(_), 0) => Err(bad("the first block carries a previous certificate".into())),
        (None, _) => Err(bad(format!("block carries no certificate for block {}", tip.height))),
        (Some(c), _) => {
            if c.height != tip.height || c.block_hash != tip.block_hash {
                return Err(bad(format!(
                    "carried certificate is for block {} at height {}, not block {} at height {}",
                    c.block_hash, c.height, tip.block_hash, tip.height
                )));
            }
            c.verify_in(&spec.chain_id, m.set_at(tip.height)).map_err(|e| bad(format!("carried certificate: {e}")))?;
            Ok(())
        }
    }
}

/// What a proposer puts in a block besides the transactions.
#[derive(Clone, Debug)]
pub struct Proposing {
    /// The proposer's key.
    pub proposer: PublicKey,
    /// The proposer's clock, ms since the Unix epoch (raised to the tip's time if earlier).
    pub time_ms: u64,
    /// The certificate of the tip block (none for the first block).
    pub last_commit: Option<CommitCertificate>,
}

/// A block a proposer built, with its changes and the transactions it left out.
pub struct Built {
    /// The block.
    pub block: Block,
    /// Its state changes.
    pub changes: Vec<Change>,
    /// Candidates left out, with the reason.
    pub rejected: Vec<(Transaction, LedgerError)>,
    /// The IDs of the candidates left out, in the order of `rejected` (so that a proposer can
    /// drop them from its mempool without hashing them again).
    pub rejected_ids: Vec<Hash>,
}

/// Build the next block from candidate transactions: each candidate that passes every check is
/// included, in order; the others are returned with their reason. A failed state read stops the
/// build with that [`LedgerError::StateStorage`] (no candidate is refused for it): the only
/// error.
pub fn build_block(
    spec: &ChainSpec,
    state: &dyn StateView,
    tip: &Tip,
    candidates: Vec<Transaction>,
    proposing: Proposing,
) -> Result<Built> {
    build_block_with(spec, state, tip, candidates, proposing, &verify_all)
}

/// [`build_block`], skipping the signature check of the candidates `checked` vouches for.
pub fn build_block_with(
    spec: &ChainSpec,
    state: &dyn StateView,
    tip: &Tip,
    candidates: Vec<Transaction>,
    proposing: Proposing,
    checked: SigChecked,
) -> Result<Built> {
    let candidates = candidates
        .into_iter()
        .map(|tx| {
            let id = tx.id(&spec.chain_id);
            (tx, id)
        })
        .collect();
    build_block_ids(spec, state, tip, candidates, proposing, checked)
}

/// [`build_block_with`] for candidates whose IDs the caller already computed (a mempool keys its
/// transactions by ID): each ID must be its transaction's [`Transaction::id`] on this chain; a
/// wrong one gives a block whose state root no validator accepts.
pub fn build_block_ids(
    spec: &ChainSpec,
    state: &dyn StateView,
    tip: &Tip,
    candidates: Vec<(Transaction, Hash)>,
    proposing: Proposing,
    checked: SigChecked,
) -> Result<Built> {
    let mut ov = Overlay::at_height(state, tip.height + 1);
    let mut txs = Vec::new();
    let mut rejected = Vec::new();
    let mut rejected_ids = Vec::new();
    let mut deposits = 0usize;
    let max_txs = spec.genesis.params.max_block_txs as usize;
    for (tx, id) in candidates {
        debug_assert_eq!(id, tx.id(&spec.chain_id), "a candidate's ID is not its transaction's");
        let weight = tx.items.len().max(1);
        if txs.len() >= max_txs || deposits + weight > MAX_BLOCK_DEPOSITS {
            rejected.push((tx, LedgerError::Invalid { what: "block", reason: "block is full".into() }));
            rejected_ids.push(id);
            continue;
        }
        let r = match checked(&id, &tx) {
            true => Ok(()),
            false => tx.check_shape().and_then(|()| tx.body.sender.verify("transaction", &id, &tx.signature)),
        }
        .and_then(|()| ov.apply_tx(spec, &tx, &id));
        match r {
            Ok(()) => {
                deposits += weight;
                txs.push(tx);
            }
            // A failed read refuses no candidate: the build stops.
            Err(e) if e.is_storage() => return Err(e),
            Err(e) => {
                rejected.push((tx, e));
                rejected_ids.push(id);
            }
        }
    }
    let changes = ov.into_changes();
    // The log after this block, on a chain whose headers commit to it. A failed read stops the
    // build; a log that cannot grow (past its size limit) gives a header naming the empty log,
    // which every validator refuses.
    let log = match spec.genesis.log_in_header {
        false => None,
        true => match state.log_frontier() {
            Err(e) if e.is_storage() => return Err(e),
            f => Some(
                f.and_then(|mut f| f.append_changes(&changes).map(|()| (f.size(), f.root())))
                    .unwrap_or((0, Hash::sha256(b""))),
            ),
        },
    };
    let header = match membership_of(spec, state) {
        Ok(m) => next_header_in(spec, &m, tip, &txs, &changes, &proposing, log),
        Err(e) if e.is_storage() => return Err(e),
        // The history was stored by this node; if it does not apply, this header names the
        // genesis set and every validator will refuse the block.
        Err(_) => {
            next_header_in(spec, &Membership::new(spec.validator_set.clone()), tip, &txs, &changes, &proposing, log)
        }
    };
    Ok(Built { block: Block { header, last_commit: proposing.last_commit, txs }, changes, rejected, rejected_ids })
}

/// The header version at `height`: 4 on a chain whose genesis sets `log_in_header`; else 2
/// until a membership change takes effect at or before `height + 1`, then 3.
pub fn header_version(spec: &ChainSpec, m: &Membership, height: u64) -> u16 {
    if spec.genesis.log_in_header {
        HEADER_VERSION_LOG
    } else if m.changed_by(height + 1) {
        HEADER_VERSION_MEMBERSHIP
    } else {
        HEADER_VERSION
    }
}

/// The `next_validators_hash` of the header at `height`: none in a version 2 header, else the
/// hash of the set in force at `height + 1`.
pub fn next_validators_hash(spec: &ChainSpec, m: &Membership, height: u64) -> Option<Hash> {
    (header_version(spec, m, height) != HEADER_VERSION).then(|| m.set_at(height + 1).hash)
}

/// The header of the block after `tip` holding `txs` with state `changes` (its time is never
/// before the tip's), on a chain whose validator set never changed. On a chain with
/// `log_in_header` it names the empty log: use [`next_header_in`] with the log there.
pub fn next_header(
    spec: &ChainSpec,
    tip: &Tip,
    txs: &[Transaction],
    changes: &[Change],
    proposing: &Proposing,
) -> Header {
    next_header_in(spec, &Membership::new(spec.validator_set.clone()), tip, txs, changes, proposing, None)
}

/// [`next_header`] on a chain with validator-set history `m` (every change committed up to the
/// tip) whose deposit log after this block is `log` (size, root; used only on a chain with
/// `log_in_header`, where `None` names the empty log).
pub fn next_header_in(
    spec: &ChainSpec,
    m: &Membership,
    tip: &Tip,
    txs: &[Transaction],
    changes: &[Change],
    proposing: &Proposing,
    log: Option<(u64, Hash)>,
) -> Header {
    let height = tip.height + 1;
    let log = spec.genesis.log_in_header.then(|| log.unwrap_or((0, Hash::sha256(b""))));
    let leaves: Vec<Hash> = txs.iter().map(Transaction::leaf_hash).collect();
    Header {
        version: header_version(spec, m, height),
        chain_id: spec.chain_id,
        height,
        prev_hash: tip.block_hash,
        last_commit_hash: last_commit_hash(proposing.last_commit.as_ref()),
        tx_root: merkle::root(&leaves),
        tx_count: txs.len() as u32,
        state_root: next_state_root(&tip.state_root, height, changes),
        validators_hash: m.set_at(height).hash,
        next_validators_hash: next_validators_hash(spec, m, height),
        log_size: log.map(|l| l.0),
        log_root: log.map(|l| l.1),
        time_ms: proposing.time_ms.max(tip.time_ms),
        proposer: proposing.proposer,
    }
}

/// The whole state in memory: for tests, the simulator, small chains and audits.
#[derive(Clone, Debug, Default)]
pub struct MemState {
    clients: HashMap<PublicKey, ClientRecord>,
    txs: HashSet<Hash>,
    deposits: HashMap<Hash, Hash>,
    cases: HashMap<String, CaseRecord>,
    attached: HashSet<(String, Hash)>,
    member: Vec<MemberEntry>,
    evidence: HashSet<Hash>,
    log: Frontier,
    /// Counts for summaries.
    pub stats: Stats,
}

/// Counts of what a state holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Transactions applied.
    pub txs: u64,
    /// Deposits.
    pub deposits: u64,
    /// Cases opened.
    pub cases: u64,
    /// Case records (open, attach, verification, close).
    pub case_records: u64,
    /// Registry changes.
    pub registry_changes: u64,
    /// Offences recorded by evidence transactions.
    pub evidence: u64,
}

impl MemState {
    /// The state at genesis.
    pub fn genesis(spec: &ChainSpec) -> Self {
        let mut s = MemState::default();
        for c in &spec.genesis.clients {
            s.clients.insert(c.key, ClientRecord { name: c.name.clone(), role: c.role, active: true });
        }
        s
    }

    /// Apply a block's changes.
    pub fn apply(&mut self, changes: &[Change]) {
        for c in changes {
            match c {
                Change::TxApplied { id } => {
                    self.txs.insert(*id);
                    self.stats.txs += 1;
                }
                Change::Deposit { id, commitment } => {
                    self.deposits.insert(*id, *commitment);
                    self.log
                        .append(crate::deposit_log::leaf_hash(id, commitment))
                        .expect("an in-memory log stays far below 2^62 deposits");
                    self.stats.deposits += 1;
                }
                Change::ClientPut { key, record } => {
                    self.clients.insert(*key, record.clone());
                    self.stats.registry_changes += 1;
                }
                Change::CaseOpened { case_id, owner } => {
                    self.cases.insert(case_id.clone(), CaseRecord { owner: *owner, open: true });
                    self.stats.cases += 1;
                    self.stats.case_records += 1;
                }
                Change::Attached { case_id, deposit } => {
                    self.attached.insert((case_id.clone(), *deposit));
                    self.stats.case_records += 1;
                }
                Change::Verified { .. } => self.stats.case_records += 1,
                Change::Member { entry } => self.member.push(entry.clone()),
                Change::Evidence { key, .. } => {
                    self.evidence.insert(*key);
                    self.stats.evidence += 1;
                }
                Change::CaseClosed { case_id } => {
                    if let Some(c) = self.cases.get_mut(case_id) {
                        c.open = false;
                    }
                    self.stats.case_records += 1;
                }
            }
        }
    }

    /// The commitment of a deposit.
    pub fn deposit_commitment(&self, id: &Hash) -> Option<Hash> {
        self.deposits.get(id).copied()
    }
}

impl StateView for MemState {
    fn client(&self, key: &PublicKey) -> Result<Option<ClientRecord>> {
        Ok(self.clients.get(key).cloned())
    }
    fn tx_applied(&self, id: &Hash) -> Result<bool> {
        Ok(self.txs.contains(id))
    }
    fn deposit_exists(&self, id: &Hash) -> Result<bool> {
        Ok(self.deposits.contains_key(id))
    }
    fn case(&self, id: &str) -> Result<Option<CaseRecord>> {
        Ok(self.cases.get(id).cloned())
    }
    fn attached(&self, case: &str, deposit: &Hash) -> Result<bool> {
        Ok(self.attached.contains(&(case.to_string(), *deposit)))
    }
    fn member_entries(&self) -> Result<Vec<MemberEntry>> {
        Ok(self.member.clone())
    }
    fn evidence_recorded(&self, key: &Hash) -> Result<bool> {
        Ok(self.evidence.contains(key))
    }
    fn log_frontier(&self) -> Result<Frontier> {
        Ok(self.log.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The piecewise state-root hash is the one over the whole encoding (the definition), for
    /// empty, small and many-chunk change lists.
    #[test]
    fn state_root_hashed_piecewise_is_the_defined_one() {
        let whole = |prev: &Hash, height: u64, changes: &[Change]| {
            let mut w = Writer::new();
            w.u32(changes.len() as u32);
            for c in changes {
                c.encode(&mut w);
            }
            let delta = Hash::tagged(TAG_STATE_DELTA, &[&w.into_bytes()]);
            Hash::tagged(TAG_STATE, &[&prev.0, &height.to_be_bytes(), &delta.0])
        };
        let prev = Hash::sha256(b"previous");
        for n in [0usize, 1, 3, 251, 252, 253, 1000, 5000] {
            let mut changes = vec![Change::TxApplied { id: Hash::sha256(b"tx") }];
            changes.extend((0..n).map(|i| Change::Deposit {
                id: Hash::sha256(&(i as u64).to_be_bytes()),
                commitment: Hash::sha256(&(i as u32).to_be_bytes()),
            }));
            changes.push(Change::CaseClosed { case_id: "case-1".into() });
            assert_eq!(next_state_root(&prev, 7, &changes), whole(&prev, 7, &changes), "{n} deposits");
        }
        assert_eq!(next_state_root(&prev, 1, &[]), whole(&prev, 1, &[]));
    }
}
