//! The replayed state of `curia audit --node` without deposit IDs (docs/storage.md, "Audit of a
//! node").
//!
//! A replay needs the set of deposit IDs for one rule only: `attach_deposit` names a deposit
//! that exists (created by an earlier block, or earlier in the same block). An audit of a store
//! looks it up in the audited store (`crate::audit`); an audit of a node has no store, and a
//! set of every deposit ID grows with the chain. So [`ClaimingState`] answers "yes" to every
//! lookup that reaches it and writes the claim down instead: `deposit D exists before block H`,
//! with the transaction that made it ([`DepositClaims`]); every deposit a replayed block creates
//! is written down too. Both go to the bucket files of `crate::audit_index` (keyed by deposit
//! ID), and once the chain is read the same key-order merge checks every claim: it holds when
//! the chain created `D` at a height below `H` (a deposit created earlier in the same block never
//! reaches the state: the block's overlay answers for it).
//!
//! The verdict is the one a state holding every deposit ID gives. Until the lowest false claim
//! (height `H`, transaction `i`) every answer was right, so the replay's state is the true
//! one up to there, and in block `H` transactions `0..i` were checked exactly as with the
//! set; transaction `i` reached the lookup, so with the set it fails there, with
//! `DepositNotFound` (an attach names one deposit). The replay only stops at its own first
//! failure, so any failure it reported is at or after that point (at `H`, or later): the false
//! claim is the verdict. [`DepositClaims::settle`] then rewrites the summary to what it was
//! after block `H - 1` (counts, tip, evidence), from a small file of one record per block
//! ([`DepositClaims::end_block`]).
//!
//! Disk: 41 bytes per deposit, 45 per attach, 88 per block, in one scratch directory removed
//! on drop. Memory: the bucket write buffers while replaying, then the merge's passes (sized in
//! `crate::audit`, the same budget as a store's audit).

use std::cell::RefCell;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use curia_ledger::audit::{AuditFailure, AuditState, AuditSummary};
use curia_ledger::block::Block;
use curia_ledger::crypto::PublicKey;
use curia_ledger::deposit_log::Frontier;
use curia_ledger::genesis::ChainSpec;
use curia_ledger::membership::MemberEntry;
use curia_ledger::state::{CaseRecord, Change, ClientRecord, StateView, Stats, Tip};
use curia_ledger::tx::Payload;
use curia_ledger::{Hash, LedgerError};

use crate::audit_index::{Expected, FalseClaim};
use crate::error::StoreError;
use crate::scratch::ScratchState;

/// Bytes of one record of the per-block file: height, block hash, the six counts of [`Stats`].
const TIP_RECORD: usize = 8 + 32 + 6 * 8;
/// Write buffer of the per-block file.
pub(crate) const TIP_BUFFER: usize = 64 << 10;

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io { op, path: path.to_path_buf(), source }
}

/// The deposits a replay created and the ones its `attach_deposit`s assumed, in bucket files,
/// and the replay's tip and counts after each block (see the module's doc).
pub struct DepositClaims {
    index: Expected,
    /// Height of the block being replayed.
    height: u64,
    /// The block's `attach_deposit`s: (transaction index, deposit ID), in block order.
    attaches: Vec<(u32, Hash)>,
    /// The next of `attaches` a lookup can come from.
    cursor: usize,
    tips: Option<BufWriter<File>>,
    tips_path: PathBuf,
    /// Records in the per-block file (the next height to record).
    tips_written: u64,
}

impl DepositClaims {
    /// Empty bucket files in a fresh directory under `parent` (the system temp dir if `None`),
    /// and the per-block file with its first record: `genesis` (the tip before block 1) and the
    /// genesis state's counts.
    pub fn create(parent: Option<&Path>, genesis: &Tip, stats: Stats) -> Result<DepositClaims, StoreError> {
        DepositClaims::create_with(parent, genesis, stats, None)
    }

    /// [`DepositClaims::create`] with a forced bucket layout (bucket bits, bytes per pass), for
    /// tests that want many buckets and passes on a small chain.
    #[doc(hidden)]
    pub fn create_with(
        parent: Option<&Path>,
        genesis: &Tip,
        stats: Stats,
        layout: Option<(u32, usize)>,
    ) -> Result<DepositClaims, StoreError> {
        // The chain's length is not known ahead: as many buckets as a long chain needs (a
        // short one has small buckets).
        let index = Expected::create(parent, u64::MAX, false, layout)?;
        let tips_path = index.dir().join("tips");
        let f = File::create(&tips_path).map_err(io("create audit tip file", &tips_path))?;
        let mut c = DepositClaims {
            index,
            height: 0,
            attaches: Vec::new(),
            cursor: 0,
            tips: Some(BufWriter::with_capacity(TIP_BUFFER, f)),
            tips_path,
            tips_written: 0,
        };
        c.end_block(genesis, stats)?;
        Ok(c)
    }

    /// The replay is about to check `block`: its `attach_deposit`s are the only transactions
    /// whose lookups can reach the state.
    pub fn begin_block(&mut self, block: &Block) {
        self.height = block.header.height;
        self.attaches.clear();
        self.cursor = 0;
        for (i, tx) in block.txs.iter().enumerate() {
            if let Payload::AttachDeposit { deposit_id, .. } = &tx.body.payload {
                let i = u32::try_from(i).expect("a decoded block's transactions fit a u32");
                self.attaches.push((i, *deposit_id));
            }
        }
    }

    /// A lookup of deposit `id` reached the state: record the claim with the transaction that
    /// asked (the block's next `attach_deposit` of `id`: lookups come in block order, one per
    /// such transaction at most).
    fn claim(&mut self, id: &Hash) -> Result<(), StoreError> {
        let Some(k) = self.attaches[self.cursor..].iter().position(|(_, d)| d == id) else {
            return Err(StoreError::Io {
                op: "record an audit claim",
                path: self.index.dir().to_path_buf(),
                source: std::io::Error::other(format!(
                    "a lookup of deposit {id} that no attach_deposit of block {} left to check asks for",
                    self.height
                )),
            });
        };
        let (tx, _) = self.attaches[self.cursor + k];
        self.cursor += k + 1;
        self.index.record_claim(&id.0, self.height, tx)
    }

    /// The block applied with `changes`: record the deposits it created.
    fn created(&mut self, changes: &[Change]) -> Result<(), StoreError> {
        for c in changes {
            if let Change::Deposit { id, .. } = c {
                self.index.record_created(&id.0, self.height)?;
            }
        }
        Ok(())
    }

    /// Record the replay's tip and counts after the block at `tip.height` (the next height, in
    /// order from genesis).
    pub fn end_block(&mut self, tip: &Tip, stats: Stats) -> Result<(), StoreError> {
        assert_eq!(tip.height, self.tips_written, "blocks are recorded in order");
        let mut rec = [0u8; TIP_RECORD];
        rec[..8].copy_from_slice(&tip.height.to_be_bytes());
        rec[8..40].copy_from_slice(&tip.block_hash.0);
        let counts =
            [stats.txs, stats.deposits, stats.cases, stats.case_records, stats.registry_changes, stats.evidence];
        for (k, n) in counts.iter().enumerate() {
            rec[40 + 8 * k..48 + 8 * k].copy_from_slice(&n.to_be_bytes());
        }
        let w = self.tips.as_mut().expect("open until settled");
        w.write_all(&rec).map_err(io("write audit tip file", &self.tips_path))?;
        self.tips_written += 1;
        Ok(())
    }

    /// The tip and counts recorded after the block at `height`.
    fn tip_at(&mut self, height: u64) -> Result<(Hash, Stats), StoreError> {
        if let Some(w) = self.tips.take() {
            w.into_inner().map_err(|e| io("flush audit tip file", &self.tips_path)(e.into_error()))?;
        }
        let mut f = File::open(&self.tips_path).map_err(io("read audit tip file", &self.tips_path))?;
        let mut rec = [0u8; TIP_RECORD];
        f.seek(SeekFrom::Start(height * TIP_RECORD as u64)).map_err(io("read audit tip file", &self.tips_path))?;
        f.read_exact(&mut rec).map_err(io("read audit tip file", &self.tips_path))?;
        let at = |i: usize| u64::from_be_bytes(rec[i..i + 8].try_into().expect("8 bytes"));
        if at(0) != height {
            return Err(StoreError::Io {
                op: "read audit tip file",
                path: self.tips_path.clone(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, format!("no record of height {height}")),
            });
        }
        let stats = Stats {
            txs: at(40),
            deposits: at(48),
            cases: at(56),
            case_records: at(64),
            registry_changes: at(72),
            evidence: at(80),
        };
        Ok((Hash(rec[8..40].try_into().expect("32 bytes")), stats))
    }

    /// Check every claim (the module's doc) and, if one is false, make `summary` the one a
    /// replay with every deposit ID gives: the failure `DepositNotFound` in that transaction,
    /// and the counts, tip and evidence after the block before it. Call once, after the replay
    /// (its scratch state may be dropped first); the bucket files are deleted as they are
    /// checked. Returns the false claim, if any.
    pub fn settle(&mut self, summary: &mut AuditSummary) -> Result<Option<FalseClaim>, StoreError> {
        let Some(f) = self.index.check_claims()? else { return Ok(None) };
        let before = f.height - 1;
        let (hash, stats) = self.tip_at(before)?;
        let e = LedgerError::TxInBlock {
            height: f.height,
            index: f.tx_index as usize,
            source: Box::new(LedgerError::DepositNotFound(Hash(f.deposit))),
        };
        summary.blocks = before;
        summary.height = before;
        summary.tip_hash = hash.to_hex();
        summary.txs = stats.txs;
        summary.deposits = stats.deposits;
        summary.cases = stats.cases;
        summary.case_records = stats.case_records;
        summary.registry_changes = stats.registry_changes;
        summary.evidence.retain(|ev| ev.block_height < f.height);
        summary.failure = Some(AuditFailure { height: f.height, reason: e.to_string(), code: e.code() });
        Ok(Some(f))
    }
}

fn ledger_error(e: StoreError) -> LedgerError {
    LedgerError::StateStorage { reason: format!("audit deposit claims: {e}"), code: e.code() }
}

/// The replayed state of `curia audit --node`: a [`ScratchState`] without deposit IDs whose
/// deposit lookups are recorded as claims in a [`DepositClaims`] (see the module's doc).
pub struct ClaimingState<'a> {
    scratch: ScratchState,
    claims: &'a RefCell<DepositClaims>,
}

impl<'a> ClaimingState<'a> {
    /// A state at genesis: a fresh scratch state without deposit IDs under `parent` (the system
    /// temp dir if `None`), with lookups and created deposits recorded in `claims`.
    pub fn create(
        spec: &ChainSpec,
        parent: Option<&Path>,
        claims: &'a RefCell<DepositClaims>,
    ) -> Result<ClaimingState<'a>, StoreError> {
        Ok(ClaimingState { scratch: ScratchState::create_without_deposits(spec, parent)?, claims })
    }

    /// The scratch state's directory (removed when the state is dropped).
    pub fn path(&self) -> &Path {
        self.scratch.path()
    }
}

impl StateView for ClaimingState<'_> {
    fn client(&self, key: &PublicKey) -> Result<Option<ClientRecord>, LedgerError> {
        self.scratch.client(key)
    }
    fn tx_applied(&self, id: &Hash) -> Result<bool, LedgerError> {
        self.scratch.tx_applied(id)
    }
    /// "Yes", with the claim recorded for the merge; a failure to record it stops the audit as
    /// incomplete.
    fn deposit_exists(&self, id: &Hash) -> Result<bool, LedgerError> {
        self.claims.borrow_mut().claim(id).map(|()| true).map_err(ledger_error)
    }
    fn case(&self, id: &str) -> Result<Option<CaseRecord>, LedgerError> {
        self.scratch.case(id)
    }
    fn attached(&self, case: &str, deposit: &Hash) -> Result<bool, LedgerError> {
        self.scratch.attached(case, deposit)
    }
    fn member_entries(&self) -> Result<Vec<MemberEntry>, LedgerError> {
        self.scratch.member_entries()
    }
    fn evidence_recorded(&self, key: &Hash) -> Result<bool, LedgerError> {
        self.scratch.evidence_recorded(key)
    }
    fn log_frontier(&self) -> Result<Frontier, LedgerError> {
        self.scratch.log_frontier()
    }
}

impl AuditState for ClaimingState<'_> {
    fn apply_changes(&mut self, changes: &[Change]) -> Result<(), LedgerError> {
        self.scratch.apply_changes(changes)?;
        self.claims.borrow_mut().created(changes).map_err(ledger_error)
    }
    fn stats(&self) -> Stats {
        self.scratch.stats()
    }
}
