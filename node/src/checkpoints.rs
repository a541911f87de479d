//! Checkpoints of the deposit log signed by the validators, and their push to witnesses
//! (`docs/receipt-format.md` section 14.2, `docs/transparency.md` §7).
//!
//! Rules:
//! - **When** (the same decision on every node, from the chain alone): after block `H` if `H` is
//!   a multiple of `[checkpoints] every_blocks`, or if `H`'s header time is in a later period of
//!   `every_secs` seconds (since the epoch) than block `H - 1`'s; always after block 1.
//! - **What**: the checkpoint text of the log after `H` (origin `curia/<chain ID>`, size, root,
//!   extension line `height <H>`), built by `curia_transparency::validators`. The size after `H`
//!   is counted from the commits this node saw (the tip's log size when the driver starts, plus
//!   each committed block's deposits), and the root read from the store.
//! - **Signing**: a validator of the set in force at `H` signs the text as a C2SP note signature
//!   with its consensus key under its validator name, and broadcasts a [`FRAME_CHECKPOINT_SIG`]
//!   frame: exactly `u8 tag || u64 H || u64 size || key (32) || signature (64)` (113 bytes; any
//!   other length is refused).
//! - **Collecting**: a signature is kept only if its key is a validator of the set in force at
//!   `H`, the size is the one this node computed for `H`, and the signature verifies over the
//!   text; a new valid signature is relayed once. Frames for heights this node has not committed
//!   yet are kept (at most [`CHECKPOINT_EARLY_SIGS`], at most [`CHECKPOINT_EARLY_HEIGHTS`] ahead)
//!   and checked when it commits that height; other frames are dropped. At most
//!   [`CHECKPOINT_PENDING`] checkpoints are collected at once (one signature per validator
//!   each); the oldest is dropped first. Each validator sends its own signatures again every
//!   [`CHECKPOINT_RESEND`] for [`CHECKPOINT_RESEND_FOR`].
//! - **Complete**: once the signers hold at least the quorum power of the set in force at `H`,
//!   the note (text, blank line, signature lines in validator order) is checked once more with
//!   `check_validator_note` and written to the store in one synced write, replacing a record
//!   of the same size only if it is for an earlier height; later signatures are ignored.
//! - **Witnesses**: each configured witness has its own task, fed the latest complete checkpoint
//!   through a watch channel (so a slow witness never blocks consensus, and it only ever gets
//!   the newest). The task POSTs `old <size the witness is known to have>`, the consistency
//!   proof and the note to `URL/add-checkpoint` ([`WITNESS_TIMEOUT`] per exchange); a `409`
//!   names the witness's size and is followed (at most [`WITNESS_MAX_409`] times); a `200`
//!   answer's cosignature is verified with the configured vkey and appended to the stored note;
//!   other answers and errors wait [`WITNESS_BACKOFF_MIN`], doubling to [`WITNESS_BACKOFF_MAX`].
//!   Only `http://` witnesses are supported.
//! - **Time stamps** (`[checkpoints] tsa_url`, `tsa_cert`; `docs/receipt-format.md` 15.1, 15.2):
//!   one more task, fed the same way (newest only, never blocking consensus), asks the TSA for
//!   a token over each complete checkpoint's text: a `TimeStampReq` with a fresh random 64-bit
//!   nonce and `certReq`, POSTed as `application/timestamp-query` ([`TSA_TIMEOUT`] per
//!   exchange, at most [`TSA_MAX_ANSWER`] read). The token must verify against the configured
//!   certificate, with the nonce, over that text; it is then stored under the checkpoint's size
//!   with its height (one synced write) and served at `GET /v1/checkpoint/tsa?size=N`.
//!   Failures back off from [`TSA_BACKOFF_MIN`] to [`WITNESS_BACKOFF_MAX`]; a newer checkpoint
//!   replaces one not yet stamped. Only `http://` TSAs are supported.
//! - **Exchanges** with witnesses and the TSA are asynchronous socket I/O (no blocking-pool
//!   thread), bounded as a whole by their timeout; dropping one closes its connection.
//! - **Stopping** ([`Checkpoints::stop`], when the node stops): every task is told to stop and
//!   ends at once, cancelling an exchange in flight rather than waiting for its answer or its
//!   timeout, and a back-off wait; a stored write (a cosignature, a token) is never cut in the
//!   middle (those happen after the exchange). Each task with a checkpoint not yet pushed or
//!   stamped says so at INFO (`... abandoned at shutdown`). The node waits at most
//!   [`CHECKPOINT_STOP_WAIT`] for them, then aborts what is left.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use curia_ledger::crypto::{PublicKey, SecretKey};
use curia_ledger::genesis::ChainSpec;
use curia_ledger::membership::ValidatorSet;
use curia_storage::{Store, StoredCheckpoint, StoredTsaToken};
use curia_transparency::note::{KeyKind, Note, SignatureLine, Signer, Verifier};
use curia_transparency::rfc3161::{self, StampRequest, TsaCertificate};
use curia_transparency::validators::{check_validator_note, checkpoint_text, validator_verifier};
use curia_transparency::witness::AddCheckpoint;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::{CheckpointSection, WitnessSection};
use crate::limits::{
    CHECKPOINT_EARLY_HEIGHTS, CHECKPOINT_EARLY_SIGS, CHECKPOINT_PENDING, CHECKPOINT_RESEND, CHECKPOINT_RESEND_FOR,
    CHECKPOINT_STOP_WAIT, TSA_BACKOFF_MIN, TSA_MAX_ANSWER, TSA_TIMEOUT, WITNESS_BACKOFF_MAX, WITNESS_BACKOFF_MIN,
    WITNESS_MAX_409, WITNESS_MAX_ANSWER, WITNESS_TIMEOUT,
};
use crate::net::NetHandle;
use crate::NodeError;

/// Frame tag of a validator's checkpoint signature.
pub const FRAME_CHECKPOINT_SIG: u8 = 2;
/// Length of a checkpoint signature frame.
pub const SIG_FRAME_LEN: usize = 1 + 8 + 8 + 32 + 64;

/// One validator's signature on the checkpoint after `height`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigMsg {
    /// The block.
    pub height: u64,
    /// The log size after it.
    pub size: u64,
    /// The signer's consensus key.
    pub key: PublicKey,
    /// Its Ed25519 signature over the checkpoint text.
    pub sig: [u8; 64],
}

impl SigMsg {
    /// The frame.
    pub fn to_frame(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(SIG_FRAME_LEN);
        b.push(FRAME_CHECKPOINT_SIG);
        b.extend_from_slice(&self.height.to_be_bytes());
        b.extend_from_slice(&self.size.to_be_bytes());
        b.extend_from_slice(&self.key.0);
        b.extend_from_slice(&self.sig);
        b
    }

    /// Parses a frame (tag included); `None` unless it is exactly [`SIG_FRAME_LEN`] bytes with
    /// the tag.
    pub fn from_frame(b: &[u8]) -> Option<SigMsg> {
        if b.len() != SIG_FRAME_LEN || b[0] != FRAME_CHECKPOINT_SIG {
            return None;
        }
        Some(SigMsg {
            height: u64::from_be_bytes(b[1..9].try_into().ok()?),
            size: u64::from_be_bytes(b[9..17].try_into().ok()?),
            key: PublicKey(b[17..49].try_into().ok()?),
            sig: b[49..113].try_into().ok()?,
        })
    }
}

/// Whether a checkpoint follows block `height` (time of it and of the block before, in ms).
pub fn is_due(cfg: &CheckpointSection, height: u64, time_ms: u64, prev_time_ms: Option<u64>) -> bool {
    let period = cfg.every_secs.saturating_mul(1000).max(1);
    height == 1
        || height.is_multiple_of(cfg.every_blocks.max(1))
        || prev_time_ms.is_some_and(|p| time_ms / period > p / period)
}

/// A checkpoint being collected.
struct Pending {
    size: u64,
    text: String,
    set: Arc<ValidatorSet>,
    /// Signatures by validator index.
    sigs: BTreeMap<usize, [u8; 64]>,
    mine: Vec<SigMsg>,
    complete: bool,
    since: Instant,
}

/// Serialises writes of checkpoint records (the driver's and the witness tasks').
type WriteLock = Arc<Mutex<()>>;

/// The driver's checkpoint collector.
pub struct Checkpoints {
    spec: Arc<ChainSpec>,
    store: Arc<Store>,
    net: NetHandle,
    cfg: CheckpointSection,
    keys: Vec<SecretKey>,
    /// Log size after the last block this collector saw committed.
    size: u64,
    /// That block's height.
    height: u64,
    pending: BTreeMap<u64, Pending>,
    early: Vec<SigMsg>,
    last_resend: Instant,
    write: WriteLock,
    latest: watch::Sender<Option<StoredCheckpoint>>,
    /// Set to `true` to stop the push and time-stamp tasks.
    stop: watch::Sender<bool>,
    /// Those tasks (aborted if this collector is dropped without [`Checkpoints::stop`]).
    tasks: JoinSet<()>,
}

impl Checkpoints {
    /// A collector starting at the store's tip, and one push task per configured witness
    /// (spawned on the current tokio runtime).
    pub fn start(
        spec: Arc<ChainSpec>,
        store: Arc<Store>,
        net: NetHandle,
        cfg: CheckpointSection,
        key: SecretKey,
    ) -> Result<Checkpoints, NodeError> {
        let write: WriteLock = Arc::new(Mutex::new(()));
        let (latest, _) = watch::channel(None);
        let (stop, _) = watch::channel(false);
        let mut tasks = JoinSet::new();
        for w in &cfg.witness {
            let target = WitnessTarget::new(w)?;
            tasks.spawn(push_loop(target, store.clone(), write.clone(), latest.subscribe(), stop.subscribe()));
        }
        if let Some(tsa) = cfg.tsa()? {
            tasks.spawn(tsa_loop(tsa, store.clone(), latest.subscribe(), stop.subscribe()));
        }
        let tip = store.tip().height;
        let size = store.log_state().filter(|s| s.height == tip).map_or(0, |s| s.size);
        Ok(Checkpoints {
            spec,
            store,
            net,
            cfg,
            keys: vec![key],
            size,
            height: tip,
            pending: BTreeMap::new(),
            early: Vec::new(),
            last_resend: Instant::now(),
            write,
            latest,
            stop,
            tasks,
        })
    }

    /// Stop the push and time-stamp tasks (see the module rules): each ends at once, cancelling
    /// an exchange in flight; waits at most [`CHECKPOINT_STOP_WAIT`], then aborts the rest.
    pub async fn stop(&mut self) {
        let _ = self.stop.send(true);
        let tasks = &mut self.tasks;
        if tokio::time::timeout(CHECKPOINT_STOP_WAIT, async { while tasks.join_next().await.is_some() {} })
            .await
            .is_err()
        {
            tracing::info!(
                left = tasks.len(),
                wait = ?CHECKPOINT_STOP_WAIT,
                "checkpoint tasks still running after the stop wait: aborted"
            );
            tasks.abort_all();
        }
    }

    /// A key this validator also signs with (the next key of a rotation, once due).
    pub fn add_key(&mut self, key: SecretKey) {
        if !self.keys.iter().any(|k| k.public() == key.public()) {
            self.keys.push(key);
        }
    }

    /// Block `height` with `deposits` deposits was committed (called in commit order).
    pub fn after_commit(&mut self, height: u64, deposits: u64) -> Result<(), NodeError> {
        if height != self.height + 1 {
            // Not the next block (should not happen): resynchronise from the store's log.
            tracing::warn!(height, expected = self.height + 1, "checkpoints: commit out of order; resynchronising");
            self.height = height;
            self.size = self.store.log_state().filter(|s| s.height == height).map_or(self.size, |s| s.size);
            return Ok(());
        }
        self.height = height;
        self.size += deposits;
        let header = self.read(self.store.header(height))?;
        let prev = if height > 1 { self.read(self.store.header(height - 1))?.map(|h| h.time_ms) } else { None };
        let Some(header) = header else { return Ok(()) };
        if is_due(&self.cfg, height, header.time_ms, prev) {
            self.open(height)?;
        }
        // Early signatures for this height (or now too old) leave the buffer.
        let (now, keep): (Vec<SigMsg>, Vec<SigMsg>) = std::mem::take(&mut self.early)
            .into_iter()
            .filter(|m| m.height >= height)
            .partition(|m| m.height == height);
        self.early = keep;
        for m in now {
            self.on_sig(m);
        }
        Ok(())
    }

    fn read<T>(&self, r: Result<T, curia_storage::StoreError>) -> Result<T, NodeError> {
        r.map_err(|e| NodeError::Storage(e.to_string()))
    }

    /// Start collecting the checkpoint after `height` and sign it if this node is a validator.
    fn open(&mut self, height: u64) -> Result<(), NodeError> {
        let size = self.size;
        let root = self.read(self.store.log_root(size))?;
        let text = checkpoint_text(&self.spec.chain_id, height, size, root);
        let membership = crate::members::stored_membership(&self.spec, &self.store)?;
        let set = membership.set_at(height).clone();
        let mut p = Pending {
            size,
            text,
            set,
            sigs: BTreeMap::new(),
            mine: Vec::new(),
            complete: false,
            since: Instant::now(),
        };
        for k in &self.keys {
            let Some(i) = p.set.index_of(&k.public()) else { continue };
            let signer = Signer::from_seed(&p.set.validators[i].name, &k.seed())
                .map_err(|e| NodeError::Config(format!("validator name as a note key name: {e}")))?;
            let line = signer.sign(&p.text).map_err(|e| NodeError::Storage(format!("sign checkpoint: {e}")))?;
            let sig: [u8; 64] = line.signature.as_slice().try_into().expect("Ed25519 signature");
            let m = SigMsg { height, size, key: k.public(), sig };
            self.net.broadcast(m.to_frame());
            p.mine.push(m);
            p.sigs.insert(i, sig);
        }
        self.pending.insert(height, p);
        while self.pending.len() > CHECKPOINT_PENDING {
            self.pending.pop_first();
        }
        self.try_complete(height);
        Ok(())
    }

    /// A signature frame from a peer. Returns whether it was new and valid (then relayed).
    pub fn on_frame(&mut self, bytes: &[u8]) -> Result<bool, &'static str> {
        let m = SigMsg::from_frame(bytes).ok_or("bad_checkpoint_frame")?;
        if m.height > self.height {
            if m.height <= self.height + CHECKPOINT_EARLY_HEIGHTS
                && self.early.len() < CHECKPOINT_EARLY_SIGS
                && !self.early.contains(&m)
            {
                self.early.push(m);
            }
            return Ok(false);
        }
        Ok(self.on_sig(m))
    }

    fn on_sig(&mut self, m: SigMsg) -> bool {
        let Some(p) = self.pending.get_mut(&m.height) else { return false };
        if p.complete || m.size != p.size {
            return false;
        }
        let Some(i) = p.set.index_of(&m.key) else { return false };
        if p.sigs.contains_key(&i) {
            return false;
        }
        let ok = validator_verifier(&p.set.validators[i].name, &m.key)
            .ok()
            .and_then(|v| v.verify(&p.text, &m.sig))
            .is_some();
        if !ok {
            return false;
        }
        p.sigs.insert(i, m.sig);
        self.net.broadcast(m.to_frame());
        self.try_complete(m.height);
        true
    }

    fn try_complete(&mut self, height: u64) {
        let Some(p) = self.pending.get_mut(&height) else { return };
        let power: u64 = p.sigs.keys().map(|&i| p.set.validators[i].power).sum();
        if p.complete || power < p.set.quorum_power() {
            return;
        }
        p.complete = true;
        let mut note = format!("{}\n", p.text).into_bytes();
        for (&i, sig) in &p.sigs {
            let v = &p.set.validators[i];
            let Ok(ver) = validator_verifier(&v.name, &v.key) else { return };
            let line = SignatureLine { name: v.name.clone(), key_id: ver.key_id, signature: sig.to_vec() };
            note.extend_from_slice(line.to_line().as_bytes());
        }
        if let Err(e) = check_validator_note(&note, &self.spec.chain_id, &p.set) {
            tracing::error!(height, error = %e, "checkpoint note does not check; not stored");
            return;
        }
        let cp = StoredCheckpoint { size: p.size, height, note };
        let stored = {
            let _w = self.write.lock().expect("checkpoint write lock");
            match self.store.log_checkpoint(cp.size) {
                Ok(Some(old)) if old.height >= height => Ok(false),
                Ok(_) => self.store.put_log_checkpoint(&cp).map(|()| true),
                Err(e) => Err(e),
            }
        };
        match stored {
            Ok(true) => {
                tracing::info!(height, size = cp.size, signers = p.sigs.len(), "checkpoint complete");
                self.latest.send_replace(Some(cp));
            }
            Ok(false) => {}
            Err(e) => tracing::error!(height, error = %e, "cannot store the checkpoint"),
        }
    }

    /// Send this validator's signatures again (called on every driver wake-up; acts every
    /// [`CHECKPOINT_RESEND`]).
    pub fn tick(&mut self) {
        if self.last_resend.elapsed() < CHECKPOINT_RESEND {
            return;
        }
        self.last_resend = Instant::now();
        for p in self.pending.values().filter(|p| p.since.elapsed() < CHECKPOINT_RESEND_FOR) {
            for m in &p.mine {
                self.net.broadcast(m.to_frame());
            }
        }
    }
}

// ---------------------------------------------------------------- witnesses

/// An `http://HOST:PORT[/PATH]` URL, checked: host and path of allowed characters, no query.
#[derive(Clone, Debug, PartialEq, Eq)]
struct HttpUrl {
    host: String,
    port: u16,
    /// The path as given (`""` when none).
    path: String,
}

impl HttpUrl {
    fn parse(url: &str) -> Result<HttpUrl, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or("only http:// URLs are supported (https:// is not: put a local TLS proxy in front)")?;
        let (hostport, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (host, port) = hostport.rsplit_once(':').ok_or("no :PORT")?;
        let port: u16 = port.parse().map_err(|_| format!("port {port:?} is not a number"))?;
        let host_ok = !host.is_empty()
            && host.len() <= 253
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b':' || b == b'[' || b == b']');
        let path_ok = path.len() <= 256 && path.bytes().all(|b| b.is_ascii_graphic() && b != b'?' && b != b'#');
        if !host_ok || !path_ok {
            return Err("host or path holds characters not allowed".into());
        }
        Ok(HttpUrl { host: host.to_string(), port, path: path.to_string() })
    }
}

/// A configured witness: where to post and the key its cosignatures must verify with.
#[derive(Clone, Debug)]
pub struct WitnessTarget {
    url: HttpUrl,
    vkey: Verifier,
}

impl WitnessTarget {
    /// Checks a `[[checkpoints.witness]]` entry.
    pub fn new(w: &WitnessSection) -> Result<WitnessTarget, NodeError> {
        let bad = |m: String| NodeError::Config(format!("[[checkpoints.witness]] {:?}: {m}", w.url));
        let mut url = HttpUrl::parse(&w.url).map_err(bad)?;
        url.path = url.path.trim_end_matches('/').to_string();
        let vkey = Verifier::parse(&w.vkey).map_err(|e| bad(format!("vkey: {e}")))?;
        if vkey.kind != KeyKind::CosignatureV1 {
            return Err(bad("vkey is not a cosignature/v1 key (type 0x04)".into()));
        }
        Ok(WitnessTarget { url, vkey })
    }
}

/// The configured Time-Stamping Authority: where to post and the certificate its tokens must
/// verify against.
#[derive(Clone, Debug)]
pub struct TsaTarget {
    url: HttpUrl,
    cert: Arc<TsaCertificate>,
}

impl TsaTarget {
    /// Checks `[checkpoints] tsa_url` and reads and checks `tsa_cert` (PEM or DER, at most
    /// [`rfc3161::MAX_CERT_BYTES`], extended key usage timeStamping alone and critical).
    pub fn new(url: &str, cert: &std::path::Path) -> Result<TsaTarget, NodeError> {
        let parsed =
            HttpUrl::parse(url).map_err(|m| NodeError::Config(format!("[checkpoints] tsa_url {url:?}: {m}")))?;
        let bad = |m: String| NodeError::Config(format!("[checkpoints] tsa_cert {}: {m}", cert.display()));
        let meta = std::fs::metadata(cert).map_err(|e| bad(format!("cannot read: {e}")))?;
        if meta.len() > rfc3161::MAX_CERT_BYTES as u64 {
            return Err(bad(format!("larger than {} bytes", rfc3161::MAX_CERT_BYTES)));
        }
        let bytes = std::fs::read(cert).map_err(|e| bad(format!("cannot read: {e}")))?;
        let c = TsaCertificate::parse(&bytes).map_err(|e| bad(e.to_string()))?;
        c.check_time_stamping_usage().map_err(|e| bad(format!("not a TSA certificate: {e}")))?;
        let mut path = parsed.path.clone();
        if path.is_empty() {
            path.push('/');
        }
        Ok(TsaTarget { url: HttpUrl { path, ..parsed }, cert: Arc::new(c) })
    }
}

/// The time-stamping task: forever, get a token for the latest complete checkpoint not yet
/// stamped (rules in the module documentation).
async fn tsa_loop(
    target: TsaTarget,
    store: Arc<Store>,
    mut latest: watch::Receiver<Option<StoredCheckpoint>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = TSA_BACKOFF_MIN;
    let mut done: Option<(u64, u64)> = None;
    let abandoned = |cp: &StoredCheckpoint, what: &str| {
        tracing::info!(
            tsa = %format!("{}:{}", target.url.host, target.url.port),
            size = cp.size,
            height = cp.height,
            "time stamp of the checkpoint abandoned at shutdown ({what}); after a restart the TSA is asked for the next checkpoint"
        );
    };
    loop {
        let cp = latest.borrow_and_update().clone();
        let pending = cp.filter(|c| done != Some((c.size, c.height)));
        let Some(cp) = pending else {
            tokio::select! {
                r = latest.changed() => if r.is_err() { return },
                () = stopped(&mut stop) => return,
            }
            continue;
        };
        // Already stamped (before a restart, say): nothing to ask.
        let (st, size) = (store.clone(), cp.size);
        let have = tokio::task::spawn_blocking(move || st.checkpoint_tsa(size)).await;
        if let Ok(Ok(Some(t))) = have {
            if t.height == cp.height {
                done = Some((cp.size, cp.height));
                continue;
            }
        }
        if *stop.borrow() {
            abandoned(&cp, "not asked yet");
            return;
        }
        // Only the exchange is cancelled; the store write after it is not cut.
        let asked = tokio::select! {
            r = ask_stamp(&target, &cp) => r,
            () = stopped(&mut stop) => {
                abandoned(&cp, "request in flight, cancelled");
                return;
            }
        };
        let stamped = match asked {
            Ok((token, gen_time)) => store_stamp(&store, &cp, token, gen_time).await,
            Err(e) => Err(e),
        };
        match stamped {
            Ok(gen_time) => {
                tracing::info!(size = cp.size, height = cp.height, %gen_time, "checkpoint time-stamped");
                done = Some((cp.size, cp.height));
                backoff = TSA_BACKOFF_MIN;
            }
            Err(e) => {
                tracing::warn!(size = cp.size, height = cp.height, error = %e, retry_in = ?backoff, "time stamp failed");
                tokio::select! {
                    _ = tokio::time::timeout(backoff, latest.changed()) => {}
                    () = stopped(&mut stop) => {
                        abandoned(&cp, "waiting to retry");
                        return;
                    }
                }
                backoff = (backoff * 2).min(WITNESS_BACKOFF_MAX);
            }
        }
    }
}

/// Resolves once `stop` is set (or its sender is gone: the collector was dropped).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Ask the TSA for a token over `cp`'s text and check it: the token and its genTime.
async fn ask_stamp(target: &TsaTarget, cp: &StoredCheckpoint) -> Result<(Vec<u8>, String), String> {
    let text = Note::parse(&cp.note).map_err(|e| format!("stored note: {e}"))?.text;
    let mut nonce = [0u8; 8];
    getrandom::getrandom(&mut nonce).map_err(|e| format!("no randomness from the operating system: {e}"))?;
    nonce[0] |= 0x01; // never zero
    let req = StampRequest::new(text.as_bytes(), &nonce).map_err(|e| e.to_string())?;
    let (status, answer) =
        post(&target.url, &target.url.path, rfc3161::QUERY_CONTENT_TYPE, &req.der, TSA_TIMEOUT, TSA_MAX_ANSWER).await?;
    if status != 200 {
        let text = String::from_utf8_lossy(&answer[..answer.len().min(200)]).trim().to_string();
        return Err(format!("HTTP {status}: {text:?}"));
    }
    let (token, stamp) =
        rfc3161::accept_response(&answer, &req, Some(target.cert.as_ref())).map_err(|e| e.to_string())?;
    let gen_time = stamp.map(|s| s.gen_time.to_string()).unwrap_or_default();
    Ok((token, gen_time))
}

/// Store the token [`ask_stamp`] got for `cp` (one synced write); its genTime.
async fn store_stamp(
    store: &Arc<Store>,
    cp: &StoredCheckpoint,
    token: Vec<u8>,
    gen_time: String,
) -> Result<String, String> {
    let rec = StoredTsaToken { size: cp.size, height: cp.height, token };
    let st = store.clone();
    tokio::task::spawn_blocking(move || st.put_checkpoint_tsa(&rec))
        .await
        .map_err(|e| format!("store task failed: {e}"))?
        .map_err(|e| e.to_string())?;
    Ok(gen_time)
}

/// One witness's push task: forever, push the latest complete checkpoint.
async fn push_loop(
    target: WitnessTarget,
    store: Arc<Store>,
    write: WriteLock,
    mut latest: watch::Receiver<Option<StoredCheckpoint>>,
    mut stop: watch::Receiver<bool>,
) {
    let name = target.vkey.name.clone();
    let mut known: u64 = 0; // the size the witness is believed to hold
    let mut backoff = WITNESS_BACKOFF_MIN;
    let mut done: HashSet<(u64, u64)> = HashSet::new();
    let abandoned = |cp: &StoredCheckpoint, what: &str| {
        tracing::info!(
            witness = %name,
            size = cp.size,
            height = cp.height,
            "checkpoint push to the witness abandoned at shutdown ({what}); after a restart the witness gets the next checkpoint"
        );
    };
    loop {
        let cp = latest.borrow_and_update().clone();
        let Some(cp) = cp.filter(|c| !done.contains(&(c.size, c.height))) else {
            tokio::select! {
                r = latest.changed() => if r.is_err() { return },
                () = stopped(&mut stop) => return,
            }
            continue;
        };
        if *stop.borrow() {
            abandoned(&cp, "not sent yet");
            return;
        }
        // `push_one` awaits nothing but its exchanges (its store reads and writes are
        // synchronous), so cancelling it never cuts a write.
        let pushed = tokio::select! {
            r = push_one(&target, &store, &write, &cp, &mut known) => r,
            () = stopped(&mut stop) => {
                abandoned(&cp, "exchange in flight, cancelled");
                return;
            }
        };
        match pushed {
            Ok(()) => {
                tracing::info!(witness = %name, size = cp.size, height = cp.height, "checkpoint cosigned by witness");
                done.clear();
                done.insert((cp.size, cp.height));
                backoff = WITNESS_BACKOFF_MIN;
            }
            Err(PushError::Ahead(s)) => {
                tracing::info!(witness = %name, witness_size = s, size = cp.size, "witness is ahead; waiting for a newer checkpoint");
                done.insert((cp.size, cp.height));
            }
            Err(PushError::Failed(e)) => {
                tracing::warn!(witness = %name, size = cp.size, error = %e, retry_in = ?backoff, "witness push failed");
                // A newer checkpoint cuts the wait short.
                tokio::select! {
                    _ = tokio::time::timeout(backoff, latest.changed()) => {}
                    () = stopped(&mut stop) => {
                        abandoned(&cp, "waiting to retry");
                        return;
                    }
                }
                backoff = (backoff * 2).min(WITNESS_BACKOFF_MAX);
            }
        }
    }
}

enum PushError {
    /// The witness holds a larger tree than this checkpoint.
    Ahead(u64),
    /// Anything else (retried with backoff).
    Failed(String),
}

async fn push_one(
    target: &WitnessTarget,
    store: &Store,
    write: &WriteLock,
    cp: &StoredCheckpoint,
    known: &mut u64,
) -> Result<(), PushError> {
    let f = PushError::Failed;
    // The validators' note only: earlier cosignatures are not the witness's business.
    let validators_note = strip_cosignatures(&cp.note).map_err(|e| f(format!("stored note: {e}")))?;
    for _ in 0..=WITNESS_MAX_409 {
        if *known > cp.size {
            return Err(PushError::Ahead(*known));
        }
        let proof = if *known == 0 || *known == cp.size {
            Vec::new()
        } else {
            store.log_consistency_proof(*known, cp.size).map_err(|e| f(format!("consistency proof: {e}")))?
        };
        let body = AddCheckpoint { old_size: *known, proof, checkpoint: validators_note.clone() }.to_body();
        let path = format!("{}/add-checkpoint", target.url.path);
        let (status, answer) =
            post(&target.url, &path, "text/plain", &body, WITNESS_TIMEOUT, WITNESS_MAX_ANSWER).await.map_err(f)?;
        match status {
            200 => {
                let cosig = check_cosignature(target, &validators_note, &answer).map_err(f)?;
                *known = cp.size;
                append_cosignature(store, write, cp, &cosig).map_err(f)?;
                return Ok(());
            }
            409 => {
                let s = std::str::from_utf8(&answer)
                    .ok()
                    .and_then(|t| t.strip_suffix('\n'))
                    .and_then(curia_transparency::checkpoint::parse_decimal)
                    .ok_or_else(|| f("409 answer is not a tree size".into()))?;
                if s == *known {
                    return Err(f(format!("409 names the size sent ({s})")));
                }
                *known = s;
            }
            s => {
                let text = String::from_utf8_lossy(&answer[..answer.len().min(200)]).trim().to_string();
                return Err(f(format!("HTTP {s}: {text}")));
            }
        }
    }
    Err(f(format!("more than {WITNESS_MAX_409} answers 409 in a row")))
}

/// The note with only its text and the lines that are not cosignatures (type `0x04` lines are
/// recognised by their 72-byte signatures).
fn strip_cosignatures(note: &[u8]) -> Result<Vec<u8>, curia_transparency::Error> {
    let n = Note::parse(note)?;
    let mut out = format!("{}\n", n.text).into_bytes();
    for s in n.signatures.iter().filter(|s| s.signature.len() != 72) {
        out.extend_from_slice(s.to_line().as_bytes());
    }
    Ok(out)
}

/// The witness's answer must be one cosignature line of its configured key over the note text.
fn check_cosignature(target: &WitnessTarget, note: &[u8], answer: &[u8]) -> Result<SignatureLine, String> {
    let text = std::str::from_utf8(answer).map_err(|_| "answer is not UTF-8".to_string())?;
    let line = text.strip_suffix('\n').filter(|l| !l.contains('\n')).ok_or("answer is not one line")?;
    let sig = SignatureLine::parse(line, 1).map_err(|e| e.to_string())?;
    if sig.name != target.vkey.name || sig.key_id != target.vkey.key_id {
        return Err(format!("cosignature by {}+{:08x}, not the configured key", sig.name, sig.key_id));
    }
    let n = Note::parse(note).map_err(|e| e.to_string())?;
    target.vkey.verify(&n.text, &sig.signature).ok_or("cosignature does not verify")?;
    Ok(sig)
}

/// Add a witness's cosignature to the stored record of `cp` (if it is still the record of its
/// size), replacing an older cosignature of the same witness.
fn append_cosignature(
    store: &Store,
    write: &WriteLock,
    cp: &StoredCheckpoint,
    sig: &SignatureLine,
) -> Result<(), String> {
    let _w = write.lock().expect("checkpoint write lock");
    let Some(cur) = store.log_checkpoint(cp.size).map_err(|e| e.to_string())? else { return Ok(()) };
    if cur.height != cp.height {
        return Ok(());
    }
    let n = Note::parse(&cur.note).map_err(|e| e.to_string())?;
    let mut out = format!("{}\n", n.text).into_bytes();
    for s in n.signatures.iter().filter(|s| !(s.name == sig.name && s.key_id == sig.key_id)) {
        out.extend_from_slice(s.to_line().as_bytes());
    }
    out.extend_from_slice(sig.to_line().as_bytes());
    store.put_log_checkpoint(&StoredCheckpoint { note: out, ..cur }).map_err(|e| e.to_string())
}

/// POST `body` to `path` on `url`'s host; the status and body of its answer, at most `max`
/// bytes of it. Asynchronous socket I/O, the whole exchange (lookup, connect, send, answer)
/// bounded by `timeout`; dropping the future (a stopping node) closes the connection at once.
async fn post(
    url: &HttpUrl,
    path: &str,
    content_type: &'static str,
    body: &[u8],
    timeout: std::time::Duration,
    max: usize,
) -> Result<(u16, Vec<u8>), String> {
    match tokio::time::timeout(timeout, exchange(url, path, content_type, body, max)).await {
        Err(_) => Err(format!("no answer within {timeout:?}")),
        Ok(r) => r,
    }
}

async fn exchange(
    url: &HttpUrl,
    path: &str,
    content_type: &str,
    body: &[u8],
    max: usize,
) -> Result<(u16, Vec<u8>), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = url.host.trim_matches(['[', ']']);
    // An IP address is parsed on the spot; a name is resolved on the blocking pool.
    let addr = tokio::net::lookup_host((host, url.port))
        .await
        .map_err(|e| format!("resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("resolve {host}: no address"))?;
    let mut s = tokio::net::TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {}:{}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        url.host,
        url.port,
        body.len()
    );
    s.write_all(head.as_bytes()).await.map_err(|e| format!("send: {e}"))?;
    s.write_all(body).await.map_err(|e| format!("send: {e}"))?;
    let mut buf = Vec::new();
    (&mut s).take(max as u64 + 1).read_to_end(&mut buf).await.map_err(|e| format!("read: {e}"))?;
    if buf.len() > max {
        return Err(format!("answer larger than {max} bytes"));
    }
    parse_response(&buf)
}

/// Status and body of an HTTP/1.1 answer read to the end (`Content-Length` or end of stream;
/// chunked bodies are refused).
fn parse_response(buf: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").ok_or("answer has no complete head")?;
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| "answer head is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.strip_prefix("HTTP/1.1 ").or_else(|| l.strip_prefix("HTTP/1.0 ")))
        .and_then(|l| l.get(..3))
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or("answer has no status line")?;
    let mut body = buf[end + 4..].to_vec();
    for l in lines {
        let Some((k, v)) = l.split_once(':') else { continue };
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
        if k == "transfer-encoding" && !v.eq_ignore_ascii_case("identity") {
            return Err("chunked answers are not supported".into());
        }
        if k == "content-length" {
            let n: usize = v.parse().map_err(|_| "bad Content-Length")?;
            if n > body.len() {
                return Err("answer shorter than its Content-Length".into());
            }
            body.truncate(n);
        }
    }
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that answers one byte at a time, slowly, does not stretch an exchange beyond
    /// its timeout; a good answer is read whole; dropping an exchange in flight closes its
    /// connection at once.
    #[tokio::test]
    async fn exchanges_are_bounded_as_a_whole_and_closed_when_dropped() {
        use std::io::{Read, Write};
        use std::time::Duration;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = HttpUrl::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
        let (closed_tx, closed_rx) = std::sync::mpsc::channel();
        let (held_tx, held_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
            for (i, conn) in listener.incoming().enumerate() {
                let mut c = conn.unwrap();
                // The whole request (its body is `x`), so that closing sends no reset.
                let (mut buf, mut got) = ([0u8; 1024], Vec::new());
                while !got.ends_with(b"\r\n\r\nx") {
                    match c.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                match i {
                    // The first answer trickles in, a byte every 50 ms (5 s in all).
                    0 => {
                        for _ in 0..100 {
                            if c.write_all(b"H").is_err() {
                                break;
                            }
                            std::thread::sleep(Duration::from_millis(50));
                        }
                    }
                    1 => {
                        let _ = c.write_all(answer);
                    }
                    // The third is held, never answered: its end is reported.
                    _ => {
                        let _ = held_tx.send(());
                        let _ = c.set_read_timeout(Some(Duration::from_secs(30)));
                        let _ = closed_tx.send(matches!(c.read(&mut buf), Ok(0)));
                        return;
                    }
                }
            }
        });
        let t = std::time::Instant::now();
        let r = post(&url, "/", "text/plain", b"x", Duration::from_millis(300), 1024).await;
        assert!(r.unwrap_err().contains("no answer within"));
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
        let r = post(&url, "/", "text/plain", b"x", Duration::from_secs(30), 1024).await;
        assert_eq!(r.unwrap(), (200, b"ok".to_vec()));
        let (stop_tx, mut stop) = watch::channel(false);
        let cancelled = tokio::spawn(async move {
            tokio::select! {
                _ = post(&url, "/", "text/plain", b"x", Duration::from_secs(30), 1024) => false,
                () = stopped(&mut stop) => true,
            }
        });
        let held = tokio::task::spawn_blocking(move || held_rx.recv_timeout(Duration::from_secs(30)));
        assert_eq!(held.await.unwrap(), Ok(()), "the third request did not arrive");
        stop_tx.send(true).unwrap();
        assert!(cancelled.await.unwrap());
        let closed = tokio::task::spawn_blocking(move || closed_rx.recv_timeout(Duration::from_secs(30)));
        assert_eq!(closed.await.unwrap(), Ok(true), "the connection was not closed by the cancelled exchange");
    }

    #[test]
    fn frame_round_trip_and_length() {
        let m = SigMsg { height: 7, size: 9, key: PublicKey([3; 32]), sig: [4; 64] };
        let f = m.to_frame();
        assert_eq!(f.len(), SIG_FRAME_LEN);
        assert_eq!(SigMsg::from_frame(&f), Some(m));
        assert_eq!(SigMsg::from_frame(&f[..f.len() - 1]), None);
        let mut long = f.clone();
        long.push(0);
        assert_eq!(SigMsg::from_frame(&long), None);
        let mut tag = f;
        tag[0] = 1;
        assert_eq!(SigMsg::from_frame(&tag), None);
    }

    #[test]
    fn due_by_blocks_or_time() {
        let cfg = CheckpointSection { every_blocks: 10, every_secs: 60, ..CheckpointSection::default() };
        assert!(is_due(&cfg, 1, 5, None));
        assert!(is_due(&cfg, 20, 1_000, Some(999)));
        assert!(!is_due(&cfg, 21, 61_000, Some(60_000)));
        assert!(is_due(&cfg, 21, 120_000, Some(119_999)));
    }

    #[test]
    fn witness_urls() {
        let vkey = Signer::from_seed("w1", &[5; 32]).unwrap().verifier(KeyKind::CosignatureV1).to_vkey();
        let w = |url: &str, vkey: &str| WitnessSection { url: url.into(), vkey: vkey.into() };
        let t = WitnessTarget::new(&w("http://127.0.0.1:7380/", &vkey)).unwrap();
        assert_eq!((t.url.host.as_str(), t.url.port, t.url.path.as_str()), ("127.0.0.1", 7380, ""));
        let t = WitnessTarget::new(&w("http://w.example:80/a/b", &vkey)).unwrap();
        assert_eq!(t.url.path, "/a/b");
        for bad in ["https://w:1", "http://w", "http://w:x", "http://w:1/a?b", "http://:1"] {
            assert!(WitnessTarget::new(&w(bad, &vkey)).is_err(), "{bad}");
        }
        let note_key = Signer::from_seed("w1", &[5; 32]).unwrap().verifier(KeyKind::Ed25519).to_vkey();
        assert!(WitnessTarget::new(&w("http://w:1", &note_key)).is_err());
    }

    #[test]
    fn tsa_settings_are_checked_at_load() {
        let tmp = tempfile::Builder::new().prefix("curia-node-tsa-cfg-").tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let sec = |url: Option<&str>, cert: Option<std::path::PathBuf>| CheckpointSection {
            tsa_url: url.map(str::to_string),
            tsa_cert: cert,
            ..CheckpointSection::default()
        };
        let err = |c: CheckpointSection| c.check().unwrap_err().to_string();
        assert!(sec(None, None).tsa().unwrap().is_none());
        assert!(err(sec(Some("http://127.0.0.1:1/"), None)).contains("tsa_url needs tsa_cert"));
        assert!(err(sec(None, Some(dir.join("c.pem")))).contains("tsa_cert is given without tsa_url"));
        let e = err(sec(Some("https://tsa.example:443/"), Some(dir.join("c.pem"))));
        assert!(e.contains("only http:// URLs are supported"), "{e}");
        let e = err(sec(Some("http://tsa.example/"), Some(dir.join("c.pem"))));
        assert!(e.contains("no :PORT"), "{e}");
        let e = err(sec(Some("http://127.0.0.1:1/"), Some(dir.join("missing.pem"))));
        assert!(e.contains("tsa_cert") && e.contains("cannot read"), "{e}");
        std::fs::write(dir.join("junk.pem"), "not a certificate").unwrap();
        let e = err(sec(Some("http://127.0.0.1:1/"), Some(dir.join("junk.pem"))));
        assert!(e.contains("tsa_cert"), "{e}");
        std::fs::write(dir.join("big.pem"), vec![b'a'; rfc3161::MAX_CERT_BYTES + 1]).unwrap();
        let e = err(sec(Some("http://127.0.0.1:1/"), Some(dir.join("big.pem"))));
        assert!(e.contains("larger than"), "{e}");
        // A certificate, but not a TSA's (no timeStamping extended key usage).
        let web = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        std::fs::write(dir.join("web.pem"), web.cert.pem()).unwrap();
        let e = err(sec(Some("http://127.0.0.1:1/"), Some(dir.join("web.pem"))));
        assert!(e.contains("not a TSA certificate"), "{e}");
    }

    #[test]
    fn responses() {
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabcdef").unwrap(),
            (200, b"abc".to_vec())
        );
        assert_eq!(parse_response(b"HTTP/1.1 409 Conflict\r\n\r\n5\n").unwrap(), (409, b"5\n".to_vec()));
        assert!(parse_response(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nabc").is_err());
        assert!(parse_response(b"garbage").is_err());
    }

    #[test]
    fn cosignatures_are_stripped_and_checked() {
        let text = "o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nheight 1\n";
        let v = Signer::from_seed("v0", &[1; 32]).unwrap();
        let w = Signer::from_seed("w1", &[2; 32]).unwrap();
        let cosig = curia_transparency::cosignature::cosign(&w, text, 5).unwrap();
        let signed = format!("{text}\n{}", v.sign(text).unwrap().to_line());
        let both = format!("{signed}{}", cosig.to_line());
        assert_eq!(strip_cosignatures(both.as_bytes()).unwrap(), signed.as_bytes());
        let target = WitnessTarget::new(&WitnessSection {
            url: "http://w:1".into(),
            vkey: w.verifier(KeyKind::CosignatureV1).to_vkey(),
        })
        .unwrap();
        assert_eq!(check_cosignature(&target, signed.as_bytes(), cosig.to_line().as_bytes()).unwrap(), cosig);
        let other =
            curia_transparency::cosignature::cosign(&w, "o\n2\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", 5)
                .unwrap();
        assert!(check_cosignature(&target, signed.as_bytes(), other.to_line().as_bytes()).is_err());
        assert!(check_cosignature(&target, signed.as_bytes(), b"").is_err());
    }
}
