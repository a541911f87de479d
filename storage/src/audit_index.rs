//! The audit's index check, with reads in key order (docs/storage.md, "Audit").
//!
//! While the chain is read, the reading thread appends the entries each block implies for the
//! four index families to bucket files in a scratch directory ([`Expected::record_block`]):
//! - per deposit, one record `deposit ID -> (height, tx index, item index, log leaf)`: it
//!   covers [`cf::DEPOSITS`] and [`cf::TLOG_INDEX`] (same key);
//! - per deposit, one record `commitment || deposit ID -> height` for [`cf::DIGESTS`];
//! - per transaction, one record `transaction ID -> (height, tx index)` for [`cf::TXS`].
//!
//! The bucket of a record is the top bits of its key (keys are hashes, so buckets are even).
//! Once the chain is read, [`Expected::merge`] takes the buckets in key order: it loads one
//! (in passes over sub-ranges of its keys if it is bigger than [`SORT_BUDGET`]), sorts it, and
//! walks each family's keys in that range with one forward iterator (read-ahead, no block
//! cache fill), comparing: an expected entry the store lacks is `storage_missing`; a different
//! value, a value that fails its checksum, or an entry the chain does not imply (an extra one)
//! is `storage_corrupt`. Each fault carries the height it belongs to (the chain's height for a
//! missing or different entry, the height the entry claims for an extra one); the merge goes
//! through every bucket and keeps the fault at the lowest height (at the same height: `txs`,
//! `deposits`, `digests`, `tlog_index`, then key order). Each bucket file is deleted as soon as
//! it is merged, and the directory when the [`Expected`] is dropped.
//!
//! Disk: 57 bytes per deposit record, 73 per digest record, 45 per transaction: about 130
//! bytes per deposit.
//!
//! `curia audit --node` uses the same buckets, passes and threads for another check
//! ([`Expected::check_claims`], `crate::audit_claims`): per deposit a block created, a record
//! `deposit ID -> height` (41 bytes); per `attach_deposit` lookup its replay assumed true, a
//! claim `deposit ID -> (height, transaction index)` (45 bytes); a claim holds when its
//! deposit was created below its height.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use curia_ledger::block::Block;
use curia_ledger::state::PreparedBlock;
use rocksdb::ReadOptions;

use crate::codec::{unseal, Cursor, DepositLocation};
use crate::error::StoreError;
use crate::store::{cf, Store};

/// Most bucket files (and open writers) of one audit.
pub(crate) const MAX_BUCKETS: usize = 256;
/// Write buffer of each bucket file.
pub(crate) const BUCKET_BUFFER: usize = 64 << 10;
/// Most bytes of records loaded and sorted at once by the merge (a bucket bigger than this is
/// merged in several passes over sub-ranges of its keys).
pub(crate) const SORT_BUDGET: usize = 64 << 20;
/// Read-ahead of each family iterator of the merge.
pub(crate) const MERGE_READAHEAD: usize = 2 << 20;
/// Threads merging buckets side by side (each holds one pass of records, a read buffer and an
/// iterator's read-ahead at a time).
pub(crate) const MERGE_THREADS: usize = 2;
/// Read buffer of a bucket file while it is loaded.
pub(crate) const BUCKET_READ_BUFFER: usize = 1 << 20;
/// Estimated bytes of bucket records per deposit (a deposit record, a digest record and a
/// share of a transaction record), to choose the number of buckets.
const BYTES_PER_DEPOSIT: u64 = 57 + 73 + 45;

const TAG_DEPOSIT: u8 = 0;
const TAG_DIGEST: u8 = 1;
const TAG_TX: u8 = 2;
/// A deposit a replayed block created (`curia audit --node`: [`Expected::record_created`]).
const TAG_CREATED: u8 = 3;
/// A deposit an `attach_deposit` assumed to exist ([`Expected::record_claim`]).
const TAG_CLAIM: u8 = 4;
/// Record kinds (tags `0..TAGS`).
const TAGS: usize = 5;
const DEPOSIT_LEN: usize = 1 + 32 + 8 + 4 + 4 + 8;
const DIGEST_LEN: usize = 1 + 64 + 8;
const TX_LEN: usize = 1 + 32 + 8 + 4;
const CREATED_LEN: usize = 1 + 32 + 8;
const CLAIM_LEN: usize = 1 + 32 + 8 + 4;

/// Leaf index of a deposit record when the store has no deposit log.
const NO_LEAF: u64 = u64::MAX;

/// An expected `deposits` (and `tlog_index`) entry.
#[derive(Clone, Copy)]
struct DepRec {
    id: [u8; 32],
    loc: DepositLocation,
    leaf: u64,
}

/// An expected `digests` entry.
#[derive(Clone, Copy)]
struct DigestRec {
    key: [u8; 64],
    height: u64,
}

/// An expected `txs` entry.
#[derive(Clone, Copy)]
struct TxRec {
    id: [u8; 32],
    height: u64,
    index: u32,
}

/// A deposit a replayed block created (`--node`).
#[derive(Clone, Copy)]
struct CreatedRec {
    id: [u8; 32],
    height: u64,
}

/// A deposit assumed to exist before the block at `height` (by its transaction `tx`).
#[derive(Clone, Copy)]
struct ClaimRec {
    id: [u8; 32],
    height: u64,
    tx: u32,
}

/// An `attach_deposit` whose deposit did not exist before its block: the lowest one the claim
/// check found ([`Expected::check_claims`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FalseClaim {
    /// Height of the block whose transaction attached it.
    pub height: u64,
    /// That transaction's index in the block.
    pub tx_index: u32,
    /// The deposit it attached.
    pub deposit: [u8; 32],
    /// The lowest height at which the chain created that deposit (`None`: never, in the blocks
    /// replayed).
    pub created_at: Option<u64>,
}

impl FalseClaim {
    fn before(&self, other: &FalseClaim) -> bool {
        (self.height, self.tx_index, self.deposit) < (other.height, other.tx_index, other.deposit)
    }
}

/// One fault found by the merge.
#[derive(Debug)]
pub(crate) struct IndexFault {
    /// Height it belongs to.
    pub height: u64,
    /// Order among faults at the same height (family, then key).
    rank: (u8, Vec<u8>),
    /// The error reported.
    pub error: StoreError,
}

impl IndexFault {
    fn new(height: u64, fam: &'static str, key: &[u8], error: StoreError) -> IndexFault {
        let f = match fam {
            cf::TXS => 0,
            cf::DEPOSITS => 1,
            cf::DIGESTS => 2,
            _ => 3,
        };
        IndexFault { height, rank: (f, key.to_vec()), error }
    }

    fn before(&self, other: &IndexFault) -> bool {
        (self.height, &self.rank) < (other.height, &other.rank)
    }
}

/// Keep in `best` the lower of it and `f` (the fault reported is the lowest found).
fn keep_lowest(best: &mut Option<IndexFault>, f: Option<IndexFault>) {
    if let Some(f) = f {
        if best.as_ref().is_none_or(|b| f.before(b)) {
            *best = Some(f);
        }
    }
}

/// How far the merge looks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scope {
    /// Heights below this were all recorded: an extra entry claiming a height below it is
    /// reported at that height.
    pub below: u64,
    /// Where any other extra entry (one claiming a height at or above `below`, or whose height
    /// is unknown: a `digests` or `tlog_index` entry, or a value that does not decode) is
    /// reported: the tip when the whole chain was read, `None` (not judged) when it was not.
    pub unknown_at: Option<u64>,
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io { op, path: path.to_path_buf(), source }
}

/// The expected index entries, in bucket files under a directory removed on drop.
pub(crate) struct Expected {
    dir: PathBuf,
    bits: u32,
    writers: Vec<Option<BufWriter<File>>>,
    /// Whether deposit records carry a log leaf (the store has a deposit log).
    has_log: bool,
    /// Most bytes of a bucket file merged in one pass.
    sort_budget: u64,
    /// Records written to each bucket, by tag: deposits, digests, transactions, created
    /// deposits, claims.
    counts: Vec<[u64; TAGS]>,
}

impl Drop for Expected {
    fn drop(&mut self) {
        self.writers.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn bucket_path(dir: &Path, b: usize) -> PathBuf {
    dir.join(format!("bucket-{b:03}"))
}

/// The number of bucket bits for about `deposits` deposits: buckets of about the sort budget
/// (one pass each), at most [`MAX_BUCKETS`] (bigger buckets take several passes).
fn bucket_bits(deposits: u64) -> u32 {
    let bytes = deposits.saturating_mul(BYTES_PER_DEPOSIT);
    let want = bytes.div_ceil(SORT_BUDGET as u64).max(1);
    let bits = 64 - (want - 1).leading_zeros();
    bits.min(MAX_BUCKETS.trailing_zeros())
}

impl Expected {
    /// Bucket files in a fresh directory under `parent` (the system temp dir if `None`), for
    /// about `deposits` deposits (an estimate: a wrong one costs passes, not correctness).
    /// `layout` (tests only) forces the bucket bits and the bytes merged per pass.
    pub(crate) fn create(
        parent: Option<&Path>,
        deposits: u64,
        has_log: bool,
        layout: Option<(u32, usize)>,
    ) -> Result<Expected, StoreError> {
        let dir = crate::scratch::new_dir(parent)?;
        let (bits, sort_budget) = match layout {
            Some((bits, budget)) => (bits.min(MAX_BUCKETS.trailing_zeros()), budget.max(1) as u64),
            None => (bucket_bits(deposits), SORT_BUDGET as u64),
        };
        let mut e =
            Expected { dir, bits, writers: Vec::new(), has_log, sort_budget, counts: vec![[0; TAGS]; 1 << bits] };
        for b in 0..1usize << bits {
            let path = bucket_path(&e.dir, b);
            let f = File::create(&path).map_err(io("create audit bucket", &path))?;
            e.writers.push(Some(BufWriter::with_capacity(BUCKET_BUFFER, f)));
        }
        Ok(e)
    }

    fn bucket(&self, key: &[u8]) -> usize {
        if self.bits == 0 {
            0
        } else {
            (key[0] >> (8 - self.bits)) as usize
        }
    }

    fn append(&mut self, key_first: &[u8], rec: &[u8]) -> Result<(), StoreError> {
        let b = self.bucket(key_first);
        self.counts[b][rec[0] as usize] += 1;
        let w = self.writers[b].as_mut().expect("writers open while recording");
        w.write_all(rec).map_err(|source| StoreError::Io {
            op: "write audit bucket",
            path: bucket_path(&self.dir, b),
            source,
        })
    }

    /// Append the entries `block` implies (IDs from `prepared`); `log_size` is the deposit
    /// log's size before the block (`None`: the store has no log).
    pub(crate) fn record_block(
        &mut self,
        block: &Block,
        prepared: &PreparedBlock,
        log_size: Option<u64>,
    ) -> Result<(), StoreError> {
        let height = block.header.height;
        let mut leaf = log_size;
        let mut rec = [0u8; DIGEST_LEN];
        for (ti, (id, tx)) in prepared.ids.iter().zip(&block.txs).enumerate() {
            let ti = u32::try_from(ti).expect("a decoded block's transactions fit a u32");
            rec[0] = TAG_TX;
            rec[1..33].copy_from_slice(&id.0);
            rec[33..41].copy_from_slice(&height.to_be_bytes());
            rec[41..45].copy_from_slice(&ti.to_be_bytes());
            self.append(&id.0, &rec[..TX_LEN])?;
            let batch = !tx.items.is_empty();
            for (k, (dep, commitment)) in prepared.deposits_of(ti as usize).iter().enumerate() {
                let item = if batch { u32::try_from(k).expect("a batch's items fit a u32") } else { u32::MAX };
                rec[0] = TAG_DEPOSIT;
                rec[1..33].copy_from_slice(&dep.0);
                rec[33..41].copy_from_slice(&height.to_be_bytes());
                rec[41..45].copy_from_slice(&ti.to_be_bytes());
                rec[45..49].copy_from_slice(&item.to_be_bytes());
                let l = match leaf.as_mut() {
                    Some(l) => {
                        *l += 1;
                        *l - 1
                    }
                    None => NO_LEAF,
                };
                rec[49..57].copy_from_slice(&l.to_be_bytes());
                self.append(&dep.0, &rec[..DEPOSIT_LEN])?;
                rec[0] = TAG_DIGEST;
                rec[1..33].copy_from_slice(&commitment.0);
                rec[33..65].copy_from_slice(&dep.0);
                rec[65..73].copy_from_slice(&height.to_be_bytes());
                self.append(&commitment.0, &rec[..DIGEST_LEN])?;
            }
        }
        Ok(())
    }

    /// Record that the block at `height` (which applied) created deposit `id` (`curia audit
    /// --node`, [`crate::DepositClaims`]).
    pub(crate) fn record_created(&mut self, id: &[u8; 32], height: u64) -> Result<(), StoreError> {
        let mut rec = [0u8; CREATED_LEN];
        rec[0] = TAG_CREATED;
        rec[1..33].copy_from_slice(id);
        rec[33..41].copy_from_slice(&height.to_be_bytes());
        self.append(id, &rec)
    }

    /// Record that transaction `tx` of the block at `height` attached deposit `id`, assumed to
    /// exist before that block ([`Expected::check_claims`] checks it).
    pub(crate) fn record_claim(&mut self, id: &[u8; 32], height: u64, tx: u32) -> Result<(), StoreError> {
        let mut rec = [0u8; CLAIM_LEN];
        rec[0] = TAG_CLAIM;
        rec[1..33].copy_from_slice(id);
        rec[33..41].copy_from_slice(&height.to_be_bytes());
        rec[41..45].copy_from_slice(&tx.to_be_bytes());
        self.append(id, &rec)
    }

    /// The directory of the bucket files (removed on drop).
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Flush and close every bucket file.
    pub(crate) fn finish_writing(&mut self) -> Result<(), StoreError> {
        for (b, w) in self.writers.iter_mut().enumerate() {
            if let Some(w) = w.take() {
                let path = bucket_path(&self.dir, b);
                w.into_inner().map_err(|e| io("flush audit bucket", &path)(e.into_error()))?;
            }
        }
        Ok(())
    }

    /// Merge every bucket against the store's four index families (see the module's doc);
    /// returns the fault at the lowest height, if any. Deletes each bucket file once merged.
    /// Buckets are disjoint key ranges, so [`MERGE_THREADS`] threads merge them side by side,
    /// each taking the next bucket not yet taken; the fault kept is the lowest over all of them
    /// ([`IndexFault::before`]), whichever thread found it, so the verdict does not depend on
    /// the order the buckets were merged in.
    pub(crate) fn merge(&mut self, store: &Store, scope: Scope) -> Result<Option<IndexFault>, StoreError> {
        self.finish_writing()?;
        let this = &*self;
        this.over_buckets(|b| this.merge_bucket(store, scope, b), IndexFault::before)
    }

    /// Check every claim ([`Expected::record_claim`]) against the created deposits
    /// ([`Expected::record_created`]) in the same buckets, in key order: a claim at height `h`
    /// holds when the deposit was created at a height below `h`. Returns the false claim at the
    /// lowest (height, transaction index), if any. Deletes each bucket file once checked; same
    /// threads and passes as [`Expected::merge`].
    pub(crate) fn check_claims(&mut self) -> Result<Option<FalseClaim>, StoreError> {
        self.finish_writing()?;
        let this = &*self;
        this.over_buckets(|b| this.claims_bucket(b), FalseClaim::before)
    }

    /// Run `per_bucket` on every bucket, [`MERGE_THREADS`] at a time, each thread taking the
    /// next bucket not yet taken; returns the lowest result by `before`, whichever thread found
    /// it.
    fn over_buckets<T: Send>(
        &self,
        per_bucket: impl Fn(usize) -> Result<Option<T>, StoreError> + Sync,
        before: fn(&T, &T) -> bool,
    ) -> Result<Option<T>, StoreError> {
        let n = 1usize << self.bits;
        let next = AtomicUsize::new(0);
        let keep = |best: &mut Option<T>, f: Option<T>| {
            if let Some(f) = f {
                if best.as_ref().is_none_or(|b| before(&f, b)) {
                    *best = Some(f);
                }
            }
        };
        let results: Vec<Result<Option<T>, StoreError>> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..MERGE_THREADS.min(n))
                .map(|_| {
                    s.spawn(|| {
                        let mut best: Option<T> = None;
                        loop {
                            let b = next.fetch_add(1, Ordering::Relaxed);
                            if b >= n {
                                return Ok(best);
                            }
                            keep(&mut best, per_bucket(b)?);
                        }
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
        });
        let mut best: Option<T> = None;
        for r in results {
            keep(&mut best, r?);
        }
        Ok(best)
    }

    /// The passes over bucket `b`: at most the sort budget of its file each, as key ranges
    /// (first 8 bytes in `[lo, hi)`; hi = 2^64 for the last), with first capacities for the
    /// records of each tag (keys are uniform: each pass holds about its share).
    fn passes(&self, b: usize) -> Result<Vec<(Range, [usize; TAGS])>, StoreError> {
        let path = bucket_path(&self.dir, b);
        let len = std::fs::metadata(&path).map_err(io("read audit bucket", &path))?.len();
        let passes = len.div_ceil(self.sort_budget).max(1);
        let width: u128 = 1u128 << (64 - self.bits);
        let lo = b as u128 * width;
        let share = |n: u64| (n / passes + n / passes / 16 + 64) as usize;
        Ok((0..passes as u128)
            .map(|p| {
                let range = Range { lo: lo + width * p / passes as u128, hi: lo + width * (p + 1) / passes as u128 };
                (range, self.counts[b].map(share))
            })
            .collect())
    }

    /// Check the claims of bucket `b` (in passes) and delete its file.
    fn claims_bucket(&self, b: usize) -> Result<Option<FalseClaim>, StoreError> {
        let mut best: Option<FalseClaim> = None;
        let path = bucket_path(&self.dir, b);
        for (range, cap) in self.passes(b)? {
            let Loaded { mut created, mut claims, .. } = load(&path, range, cap)?;
            created.sort_unstable_by_key(|c| (c.id, c.height));
            claims.sort_unstable_by_key(|c| (c.id, c.height, c.tx));
            // Both sorted by ID: walk them side by side; the first created record of an ID is
            // its lowest height.
            let mut made = created.iter().peekable();
            for c in &claims {
                while made.next_if(|m| m.id < c.id).is_some() {}
                let first = made.peek().filter(|m| m.id == c.id).map(|m| m.height);
                if first.is_none_or(|h| h >= c.height) {
                    let f = FalseClaim { height: c.height, tx_index: c.tx, deposit: c.id, created_at: first };
                    if best.as_ref().is_none_or(|b| f.before(b)) {
                        best = Some(f);
                    }
                }
            }
        }
        std::fs::remove_file(&path).map_err(io("remove audit bucket", &path))?;
        Ok(best)
    }

    /// Merge bucket `b` (in passes of at most the sort budget) and delete its file; returns its
    /// fault at the lowest height, if any.
    fn merge_bucket(&self, store: &Store, scope: Scope, b: usize) -> Result<Option<IndexFault>, StoreError> {
        let mut best: Option<IndexFault> = None;
        let path = bucket_path(&self.dir, b);
        for (range, cap) in self.passes(b)? {
            let Loaded { mut deps, mut digests, mut txs, .. } = load(&path, range, cap)?;
            deps.sort_unstable_by_key(|a| (a.id, a.loc.height));
            digests.sort_unstable_by_key(|a| (a.key, a.height));
            txs.sort_unstable_by_key(|a| (a.id, a.height));
            let mut keep = |f: Option<IndexFault>| keep_lowest(&mut best, f);
            keep(merge_family(store, cf::TXS, range, scope, &txs, TxView)?);
            keep(merge_family(store, cf::DEPOSITS, range, scope, &deps, DepView)?);
            keep(merge_family(store, cf::DIGESTS, range, scope, &digests, DigestView)?);
            if self.has_log {
                keep(merge_family(store, cf::TLOG_INDEX, range, scope, &deps, LeafView)?);
            }
        }
        std::fs::remove_file(&path).map_err(io("remove audit bucket", &path))?;
        Ok(best)
    }
}

/// Keys whose first 8 bytes are in `[lo, hi)`.
#[derive(Clone, Copy)]
struct Range {
    lo: u128,
    hi: u128,
}

fn prefix(key: &[u8]) -> u128 {
    let mut p = [0u8; 8];
    p.copy_from_slice(&key[..8]);
    u64::from_be_bytes(p) as u128
}

/// The records of one pass, by kind.
#[derive(Default)]
struct Loaded {
    deps: Vec<DepRec>,
    digests: Vec<DigestRec>,
    txs: Vec<TxRec>,
    created: Vec<CreatedRec>,
    claims: Vec<ClaimRec>,
}

/// The records of the bucket file at `path` whose key's first 8 bytes are in `range`.
/// `cap`: the vectors' first capacities, by tag.
fn load(path: &Path, range: Range, cap: [usize; TAGS]) -> Result<Loaded, StoreError> {
    let f = File::open(path).map_err(io("read audit bucket", path))?;
    let mut r = BufReader::with_capacity(BUCKET_READ_BUFFER, f);
    let mut out = Loaded {
        deps: Vec::with_capacity(cap[TAG_DEPOSIT as usize]),
        digests: Vec::with_capacity(cap[TAG_DIGEST as usize]),
        txs: Vec::with_capacity(cap[TAG_TX as usize]),
        created: Vec::with_capacity(cap[TAG_CREATED as usize]),
        claims: Vec::with_capacity(cap[TAG_CLAIM as usize]),
    };
    let mut rec = [0u8; DIGEST_LEN];
    let bad = |what: &str| StoreError::Io {
        op: "read audit bucket",
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string()),
    };
    loop {
        match r.read_exact(&mut rec[..1]) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(io("read audit bucket", path)(e)),
        }
        let len = match rec[0] {
            TAG_DEPOSIT => DEPOSIT_LEN,
            TAG_DIGEST => DIGEST_LEN,
            TAG_TX => TX_LEN,
            TAG_CREATED => CREATED_LEN,
            TAG_CLAIM => CLAIM_LEN,
            _ => return Err(bad("unknown record tag")),
        };
        r.read_exact(&mut rec[1..len]).map_err(io("read audit bucket", path))?;
        let p = prefix(&rec[1..9]);
        if p < range.lo || p >= range.hi {
            continue;
        }
        let u64_at = |i: usize| u64::from_be_bytes(rec[i..i + 8].try_into().expect("8 bytes"));
        let u32_at = |i: usize| u32::from_be_bytes(rec[i..i + 4].try_into().expect("4 bytes"));
        let id = || -> [u8; 32] { rec[1..33].try_into().expect("32 bytes") };
        match rec[0] {
            TAG_DEPOSIT => {
                let item = u32_at(45);
                out.deps.push(DepRec {
                    id: id(),
                    loc: DepositLocation {
                        height: u64_at(33),
                        tx_index: u32_at(41),
                        item_index: (item != u32::MAX).then_some(item),
                    },
                    leaf: u64_at(49),
                })
            }
            TAG_DIGEST => {
                out.digests.push(DigestRec { key: rec[1..65].try_into().expect("64 bytes"), height: u64_at(65) })
            }
            TAG_TX => out.txs.push(TxRec { id: id(), height: u64_at(33), index: u32_at(41) }),
            TAG_CREATED => out.created.push(CreatedRec { id: id(), height: u64_at(33) }),
            _ => out.claims.push(ClaimRec { id: id(), height: u64_at(33), tx: u32_at(41) }),
        }
    }
    Ok(out)
}

/// What a family must hold for one expected record (a cheap view of it: no allocation until
/// a fault is described).
trait Expect {
    fn key(&self) -> &[u8];
    fn height(&self) -> u64;
    /// Check the stored payload; `Err(reason)` if it differs.
    fn check(&self, payload: &[u8]) -> Result<(), String>;
    /// Name of the entry, for a missing one.
    fn what(&self) -> &'static str;
    fn show(&self) -> String;
}

struct TxView<'a>(&'a TxRec);
struct DepView<'a>(&'a DepRec);
struct LeafView<'a>(&'a DepRec);
struct DigestView<'a>(&'a DigestRec);

impl Expect for TxView<'_> {
    fn key(&self) -> &[u8] {
        &self.0.id
    }
    fn height(&self) -> u64 {
        self.0.height
    }
    fn check(&self, v: &[u8]) -> Result<(), String> {
        let want = (self.0.height, self.0.index);
        match decode_tx_location(v) {
            Ok(got) if got == want => Ok(()),
            got => Err(format!("index says {}, the block has it at {want:?}", shown(got))),
        }
    }
    fn what(&self) -> &'static str {
        "txs index entry"
    }
    fn show(&self) -> String {
        format!("transaction {}", hex::encode(self.0.id))
    }
}

impl Expect for DepView<'_> {
    fn key(&self) -> &[u8] {
        &self.0.id
    }
    fn height(&self) -> u64 {
        self.0.loc.height
    }
    fn check(&self, v: &[u8]) -> Result<(), String> {
        let want = self.0.loc;
        match DepositLocation::decode(v) {
            Ok(got) if got == want => Ok(()),
            got => Err(format!("index says {}, the block has it at {want:?}", shown(got.map_err(|e| e.0)))),
        }
    }
    fn what(&self) -> &'static str {
        "deposits index entry"
    }
    fn show(&self) -> String {
        format!("deposit {}", hex::encode(self.0.id))
    }
}

impl Expect for LeafView<'_> {
    fn key(&self) -> &[u8] {
        &self.0.id
    }
    fn height(&self) -> u64 {
        self.0.loc.height
    }
    fn check(&self, v: &[u8]) -> Result<(), String> {
        let want = self.0.leaf;
        match decode_leaf(v) {
            Ok(got) if got == want => Ok(()),
            got => Err(format!("index says {}, the chain has it at leaf {want}", shown(got))),
        }
    }
    fn what(&self) -> &'static str {
        "tlog_index entry"
    }
    fn show(&self) -> String {
        format!("deposit {}", hex::encode(self.0.id))
    }
}

impl Expect for DigestView<'_> {
    fn key(&self) -> &[u8] {
        &self.0.key
    }
    fn height(&self) -> u64 {
        self.0.height
    }
    fn check(&self, v: &[u8]) -> Result<(), String> {
        if v.is_empty() {
            Ok(())
        } else {
            Err(format!("{} bytes, not empty", v.len()))
        }
    }
    fn what(&self) -> &'static str {
        "digests index entry"
    }
    fn show(&self) -> String {
        show_digest(&self.0.key)
    }
}

fn shown<T: std::fmt::Debug>(r: Result<T, String>) -> String {
    match r {
        Ok(v) => format!("{v:?}"),
        Err(e) => format!("an undecodable value ({e})"),
    }
}

fn show_digest(key: &[u8]) -> String {
    format!("digest {} deposit {}", hex::encode(&key[..32]), hex::encode(&key[32..]))
}

fn show_key(fam: &str, key: &[u8]) -> String {
    match fam {
        cf::TXS => format!("transaction {}", hex::encode(key)),
        cf::DIGESTS if key.len() == 64 => show_digest(key),
        _ => format!("deposit {}", hex::encode(key)),
    }
}

fn decode_tx_location(b: &[u8]) -> Result<(u64, u32), String> {
    let mut c = Cursor::new(b);
    let r = (c.u64().map_err(|e| e.0)?, c.u32().map_err(|e| e.0)?);
    c.finish().map_err(|e| e.0)?;
    Ok(r)
}

fn decode_leaf(b: &[u8]) -> Result<u64, String> {
    <[u8; 8]>::try_from(b).map(u64::from_be_bytes).map_err(|_| format!("{} bytes, not 8", b.len()))
}

/// The height an entry the chain does not imply claims (`None`: unknown).
fn claimed_height(fam: &str, payload: &[u8]) -> Option<u64> {
    match fam {
        cf::TXS => decode_tx_location(payload).ok().map(|l| l.0),
        cf::DEPOSITS => DepositLocation::decode(payload).ok().map(|l| l.height),
        _ => None,
    }
}

/// Walk `fam`'s keys in `range` against `expected` (sorted by key), returning the fault at the
/// lowest height.
fn merge_family<'r, R, V: Expect>(
    store: &Store,
    fam: &'static str,
    range: Range,
    scope: Scope,
    expected: &'r [R],
    view: impl Fn(&'r R) -> V,
) -> Result<Option<IndexFault>, StoreError> {
    let mut best: Option<IndexFault> = None;
    let mut keep = |f: IndexFault| keep_lowest(&mut best, Some(f));
    let missing = |w: &V| {
        IndexFault::new(
            w.height(),
            fam,
            w.key(),
            StoreError::NotFound { what: w.what(), key: format!("{} (block {})", w.show(), w.height()) },
        )
    };
    let Some(handle) = store.db.cf_handle(fam) else {
        // A store older than the family: every expected entry is missing.
        if let Some(w) = expected.iter().map(&view).min_by_key(|w| w.height()) {
            keep(missing(&w));
        }
        return Ok(best);
    };
    let mut ro = ReadOptions::default();
    ro.fill_cache(false);
    ro.set_readahead_size(MERGE_READAHEAD);
    ro.set_total_order_seek(true);
    let lo = (range.lo as u64).to_be_bytes();
    if range.hi <= u64::MAX as u128 {
        ro.set_iterate_upper_bound((range.hi as u64).to_be_bytes().to_vec());
    }
    let mut it = store.db.raw_iterator_cf_opt(handle, ro);
    it.seek(lo);
    let mut next = expected.iter().map(&view).peekable();
    while let (Some(key), Some(value)) = (it.key(), it.value()) {
        // Expected entries before this key are missing.
        while let Some(w) = next.next_if(|w| w.key() < key) {
            keep(missing(&w));
        }
        let payload = unseal(fam, key, value, || show_key(fam, key));
        let mut matched = false;
        while let Some(w) = next.next_if(|w| w.key() == key) {
            matched = true;
            let reason = match &payload {
                Err(StoreError::Corrupt { reason, .. }) => Some(reason.clone()),
                Err(other) => Some(other.to_string()),
                Ok(p) => w.check(p).err(),
            };
            if let Some(reason) = reason {
                let at = format!("{} (block {})", w.show(), w.height());
                keep(IndexFault::new(w.height(), fam, key, StoreError::Corrupt { cf: fam, key: at, reason }));
            }
        }
        if !matched {
            // An entry the chain does not imply.
            let claimed = payload.as_ref().ok().and_then(|p| claimed_height(fam, p));
            // At the height it claims if the chain was read that far; above the tip, or of
            // unknown height, at the tip if the whole chain was read; else not judged.
            let at = match claimed {
                Some(h) if h < scope.below => Some(h.max(1)),
                _ => scope.unknown_at,
            };
            if let Some(h) = at {
                let says = match (&payload, claimed) {
                    (Err(_), _) => " (its value fails its checksum)".to_string(),
                    (Ok(_), Some(c)) => format!(" (it says height {c})"),
                    (Ok(_), None) => String::new(),
                };
                let reason = format!("an entry the chain does not imply{says}");
                keep(IndexFault::new(h, fam, key, StoreError::Corrupt { cf: fam, key: show_key(fam, key), reason }));
            }
        }
        it.next();
    }
    it.status().map_err(StoreError::rocks(format!("read {fam}")))?;
    for w in next {
        keep(missing(&w));
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_bits_grow_with_the_chain_and_stop_at_the_maximum() {
        assert_eq!(bucket_bits(0), 0);
        assert_eq!(bucket_bits(1000), 0);
        // 100 M deposits: about 17.5 GB of records: 256 buckets (of two passes each).
        assert_eq!(bucket_bits(100_000_000), 8);
        assert_eq!(bucket_bits(3_000_000_000), 8);
        let bits = bucket_bits(3_000_000);
        assert!((1..=4).contains(&bits), "{bits}");
    }

    /// The lowest false claim by brute force: a claim at height `h` holds when its deposit was
    /// created below `h`.
    fn brute(created: &[([u8; 32], u64)], claims: &[([u8; 32], u64, u32)]) -> Option<FalseClaim> {
        let mut first = std::collections::HashMap::new();
        for (id, h) in created {
            let e = first.entry(*id).or_insert(*h);
            *e = (*e).min(*h);
        }
        claims
            .iter()
            .filter_map(|(id, h, tx)| {
                let at = first.get(id).copied();
                at.is_none_or(|c| c >= *h).then_some(FalseClaim {
                    height: *h,
                    tx_index: *tx,
                    deposit: *id,
                    created_at: at,
                })
            })
            .min_by_key(|f| (f.height, f.tx_index, f.deposit))
    }

    #[test]
    fn the_claim_check_finds_the_lowest_false_claim_over_buckets_and_passes() {
        // Deposits created at heights 1..=400, 20 per block; claims of most of them at later
        // heights (true), plus false ones: a deposit never created, one created at the claim's
        // height, one created later, and a created ID claimed twice. Checked with one bucket in
        // one pass and with 4 buckets in passes of 2 KiB (many passes): the same lowest false
        // claim as the brute force, and none once the false ones are removed.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut id = || {
            let mut k = [0u8; 32];
            for c in k.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                c.copy_from_slice(&x.to_be_bytes());
            }
            k
        };
        let mut created = Vec::new();
        let mut claims = Vec::new();
        for h in 1..=400u64 {
            for k in 0..20u32 {
                let d = id();
                created.push((d, h));
                if k % 3 != 0 {
                    claims.push((d, h + 1 + u64::from(k), k));
                }
            }
        }
        let honest = claims.clone();
        let (a, b, c) = (id(), created[7500].0, created[7000].0);
        claims.push((a, 390, 4)); // never created
        claims.push((b, created[7500].1, 2)); // created at the claim's own height
        claims.push((c, created[7000].1 - 3, 9)); // created later
        claims.push((c, created[7000].1 - 3, 1)); // the same claim by an earlier transaction
        let want = brute(&created, &claims).expect("false claims");
        assert_eq!((want.deposit, want.tx_index), (c, 1), "{want:?}");
        assert_eq!(want.created_at, Some(created[7000].1));
        for layout in [(0, 64 << 20), (2, 2 << 10)] {
            for (claims, want) in [(&claims, Some(want)), (&honest, None)] {
                let mut e = Expected::create(None, 0, false, Some(layout)).unwrap();
                for (d, h) in &created {
                    e.record_created(d, *h).unwrap();
                }
                for (d, h, tx) in claims.iter() {
                    e.record_claim(d, *h, *tx).unwrap();
                }
                let dir = e.dir().to_path_buf();
                assert_eq!(e.check_claims().unwrap(), want, "{layout:?}");
                assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "bucket files are deleted once checked");
                drop(e);
                assert!(!dir.exists());
            }
        }
    }
}
