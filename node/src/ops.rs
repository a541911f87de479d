//! The ops listener: `/healthz`, Prometheus `/metrics` and `POST /admin/backup`, on their own
//! address.
//!
//! Rules:
//! - Metrics are in base units (seconds, bytes) and named `curia_*`; counters end in `_total`.
//!   The full list, with types and meanings, is in `docs/api.md` ("Ops listener").
//! - Recording a metric never blocks and never fails: every metric is an atomic, and the
//!   rejected-transaction family is labelled only by the short stable error codes of
//!   [`crate::NodeError::code`] (a bounded set).
//! - A transaction gossiped by a peer and refused because this node already has it
//!   ([`ALREADY_KNOWN`]: pending, committed, or its offence already recorded) is a race between
//!   honest nodes (every validator that detects an offence submits its own evidence, and the
//!   losers' transactions reach nodes that have recorded the winner's): it is counted in
//!   `curia_gossip_already_known_total`, not in `curia_rejected_transactions_total`, so the
//!   rejection counter shows refusals worth a look ([`Metrics::count_refusal`]). The same codes
//!   from a client's submission stay rejections.
//! - `/healthz` answers 200 as long as the process serves requests, with the node's status.
//! - `POST /admin/backup` ([`ops_router_with_backup`]) writes an online backup of the store
//!   ([`Store::checkpoint`]) into a folder the node chooses, `DATA_DIR/backups/backup-H-MS`
//!   ([`Backups`]); nothing in the request (whose body is ignored) names a path. Checked in this
//!   order: the operator's token (`Authorization: Bearer TOKEN`, compared in constant time:
//!   401 `unauthorized`; no token configured: 403 `admin_disabled`); one backup at a time (409
//!   `backup_in_progress`); at least [`BackupPolicy::min_interval`] since the last successful
//!   backup began (429 `rate_limited` with `Retry-After`). The checkpoint runs on the blocking
//!   pool; a failure is 500 `backup_failed` with the store's error. After a backup, the oldest
//!   backups beyond [`BackupPolicy::keep`] are deleted (only folders named `backup-H-MS`).
//! - Every error, unknown routes and methods included, is JSON
//!   `{"error": {"code": "...", "message": "..."}}`, like the API's. Refusals are counted in
//!   `curia_rejected_transactions_total` by code.
//! - The listener is served by [`crate::http::serve`] with [`OPS_CONN_LIMITS`]. It must still stay
//!   on an address only the operator reaches: `/metrics` and `/healthz` are not authenticated.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use curia_storage::Store;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use tokio::sync::watch;

use crate::http::ConnLimits;
use crate::limits::OPS_MAX_CONNECTIONS;
use curia_api_types::Health;
use curia_api_types::NodeStatus;

/// Content type of the `/metrics` answer (OpenMetrics text, which Prometheus reads).
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Label set of the rejected-transactions family.
type ReasonLabels = Vec<(&'static str, String)>;

/// The node's metrics, registered in one Prometheus registry.
pub struct Metrics {
    registry: Registry,
    height: Gauge,
    commit_latency: Histogram,
    mempool_txs: Gauge,
    mempool_bytes: Gauge,
    peers: Gauge,
    rejected: Family<ReasonLabels, Counter>,
    refused_connections: Family<ReasonLabels, Counter>,
    http_connections: Family<ReasonLabels, Gauge>,
    committed_txs: Counter,
    committed_deposits: Counter,
    equivocations: Family<ReasonLabels, Counter>,
    withheld_signatures: Gauge,
    gossip_already_known: Family<ReasonLabels, Counter>,
    rejected_consensus: Counter,
}

/// Refusal codes that mean "this node already has it": for a peer's gossip, an honest race
/// (module rules), not a rejection.
pub const ALREADY_KNOWN: [&str; 3] = ["evidence_duplicate", "already_pending", "duplicate"];

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").field("height", &self.height.get()).finish_non_exhaustive()
    }
}

fn as_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Metrics {
    /// Every metric at zero, registered.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let height = Gauge::default();
        registry.register("curia_height", "Height of the last committed block", height.clone());
        // 5 ms .. ~41 s.
        let commit_latency = Histogram::new(exponential_buckets(0.005, 2.0, 14));
        registry.register_with_unit(
            "curia_commit_latency",
            "Time from starting a height to committing its block",
            Unit::Seconds,
            commit_latency.clone(),
        );
        let mempool_txs = Gauge::default();
        registry.register("curia_mempool_transactions", "Transactions pending in the mempool", mempool_txs.clone());
        let mempool_bytes = Gauge::default();
        registry.register_with_unit(
            "curia_mempool",
            "Canonical bytes pending in the mempool",
            Unit::Bytes,
            mempool_bytes.clone(),
        );
        let peers = Gauge::default();
        registry.register("curia_peers", "Connected validator and observer peers", peers.clone());
        let rejected = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "curia_rejected_transactions",
            "Transactions and requests refused, by reason code",
            rejected.clone(),
        );
        let refused_connections = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "curia_refused_connections",
            "HTTP connections closed by the node's limits (connection caps, header timeout), by reason",
            refused_connections.clone(),
        );
        let http_connections = Family::<ReasonLabels, Gauge>::default();
        registry.register("curia_http_connections", "Open HTTP connections, by listener", http_connections.clone());
        let committed_txs = Counter::default();
        registry.register("curia_committed_transactions", "Transactions committed", committed_txs.clone());
        let committed_deposits = Counter::default();
        registry.register(
            "curia_committed_deposits",
            "Deposits committed (a batch counts its items)",
            committed_deposits.clone(),
        );
        let equivocations = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "curia_equivocations",
            "Conflicting signed votes seen (one per validator and vote slot), by validator name; evidence at \
             GET /v1/evidence",
            equivocations.clone(),
        );
        let withheld_signatures = Gauge::default();
        registry.register(
            "curia_withheld_signatures",
            "Votes and proposals this validator did not sign because it may have signed there before a restore",
            withheld_signatures.clone(),
        );
        let gossip_already_known = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "curia_gossip_already_known",
            "Transactions gossiped by peers and refused because this node already has them (pending, committed, \
             or the offence already recorded): races between honest nodes, not rejections; by reason code",
            gossip_already_known.clone(),
        );
        let rejected_consensus = Counter::default();
        registry.register(
            "curia_rejected_consensus_messages",
            "Consensus messages refused: a signature that does not verify under the key the set in force at \
             their height names (e.g. a rotated-away or removed key), an unknown validator, another chain, a \
             wrong proposer or a bad shape",
            rejected_consensus.clone(),
        );
        Metrics {
            gossip_already_known,
            registry,
            height,
            commit_latency,
            mempool_txs,
            mempool_bytes,
            peers,
            rejected,
            refused_connections,
            http_connections,
            committed_txs,
            committed_deposits,
            equivocations,
            withheld_signatures,
            rejected_consensus,
        }
    }

    /// `n` more consensus messages refused by the machine (`curia_consensus::Stats::rejected`).
    pub fn add_rejected_consensus(&self, n: u64) {
        self.rejected_consensus.inc_by(n);
    }

    /// Validator `name` was seen signing two different votes for one slot.
    pub fn inc_equivocation(&self, name: &str) {
        self.equivocations.get_or_create(&vec![("validator", name.to_owned())]).inc();
    }

    /// Signatures withheld by the signing floor since start.
    pub fn set_withheld_signatures(&self, n: u64) {
        self.withheld_signatures.set(as_i64(n));
    }

    /// The height of the last committed block.
    pub fn set_height(&self, height: u64) {
        self.height.set(as_i64(height));
    }

    /// One commit's latency, in seconds.
    pub fn observe_commit_latency(&self, seconds: f64) {
        self.commit_latency.observe(seconds);
    }

    /// The mempool's size: pending transactions and bytes.
    pub fn set_mempool(&self, txs: u64, bytes: u64) {
        self.mempool_txs.set(as_i64(txs));
        self.mempool_bytes.set(as_i64(bytes));
    }

    /// Connected peers.
    pub fn set_peers(&self, n: u64) {
        self.peers.set(as_i64(n));
    }

    /// One transaction (or request) refused for `reason`, a short error code such as
    /// `bad_signature`.
    pub fn inc_rejected(&self, reason: &str) {
        self.rejected.get_or_create(&vec![("reason", reason.to_owned())]).inc();
    }

    /// One transaction refused with error code `code`, from a peer's gossip (`from_peer`) or
    /// from a client: a peer's transaction this node already has ([`ALREADY_KNOWN`]) is counted
    /// in `curia_gossip_already_known_total`, every other refusal in
    /// `curia_rejected_transactions_total`.
    pub fn count_refusal(&self, code: &str, from_peer: bool) {
        if from_peer && ALREADY_KNOWN.contains(&code) {
            self.gossip_already_known.get_or_create(&vec![("reason", code.to_owned())]).inc();
        } else {
            self.inc_rejected(code);
        }
    }

    /// One HTTP connection closed by a limit: `reason` is `too_many_connections`,
    /// `too_many_connections_from_address` or `header_timeout`.
    pub fn inc_refused_connection(&self, reason: &str) {
        self.refused_connections.get_or_create(&vec![("reason", reason.to_owned())]).inc();
    }

    /// Open HTTP connections on `listener` (`api` or `ops`).
    pub fn set_http_connections(&self, listener: &str, n: u64) {
        self.http_connections.get_or_create(&vec![("listener", listener.to_owned())]).set(as_i64(n));
    }

    /// `n` transactions committed.
    pub fn inc_committed_txs(&self, n: u64) {
        self.committed_txs.inc_by(n);
    }

    /// `n` deposits committed.
    pub fn inc_committed_deposits(&self, n: u64) {
        self.committed_deposits.inc_by(n);
    }

    /// The registry in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

#[derive(Clone)]
struct OpsState {
    metrics: Arc<Metrics>,
    status: watch::Receiver<NodeStatus>,
}

/// The ops listener's connection caps (one listener for the operator's hosts: no separate cap
/// per address).
pub const OPS_CONN_LIMITS: ConnLimits =
    ConnLimits { name: "ops", max_connections: OPS_MAX_CONNECTIONS, max_per_ip: OPS_MAX_CONNECTIONS };

/// Serve the ops listener's `app` until `shutdown` completes, bounded as [`crate::http`] says.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    crate::http::serve(listener, app, OPS_CONN_LIMITS, metrics, shutdown).await
}

/// [`serve`], speaking TLS with `tls` when it is given (`[ops.tls]`).
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    app: Router,
    metrics: Arc<Metrics>,
    tls: Option<crate::tls::TlsConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    crate::http::serve_tls(listener, app, OPS_CONN_LIMITS, metrics, tls, shutdown).await
}

/// `/healthz`, `/metrics`, and JSON answers for unknown routes and methods.
fn base_router() -> Router<OpsState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .fallback(|| async { ops_error(StatusCode::NOT_FOUND, "not_found", "no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ops_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed on this endpoint")
        })
}

/// The ops listener's routes: `GET /healthz` and `GET /metrics`.
pub fn ops_router(metrics: Arc<Metrics>, status: watch::Receiver<NodeStatus>) -> Router {
    base_router().with_state(OpsState { metrics, status })
}

/// [`ops_router`] and `POST /admin/backup`, which writes backups as `backups` says (any other
/// method on that path: 405 `method_not_allowed`).
pub fn ops_router_with_backup(metrics: Arc<Metrics>, status: watch::Receiver<NodeStatus>, backups: Backups) -> Router {
    base_router()
        .route("/admin/backup", post(post_backup).fallback(backup_method_not_allowed).with_state(backups))
        .with_state(OpsState { metrics, status })
}

/// The folder, inside the data directory, where `POST /admin/backup` writes backups.
pub const BACKUP_SUBDIR: &str = "backups";

/// Who may ask for backups, how many are kept and how often they may be made. Its `Debug` form
/// does not show the token.
#[derive(Clone)]
pub struct BackupPolicy {
    /// The operator's token; `None` refuses every backup request (403 `admin_disabled`).
    pub token: Option<String>,
    /// Backups kept (at least 1); older ones are deleted after each new backup.
    pub keep: usize,
    /// Least time from the start of one successful backup to the next request.
    pub min_interval: Duration,
}

impl std::fmt::Debug for BackupPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackupPolicy")
            .field("token", &self.token.as_ref().map(|_| "(set)"))
            .field("keep", &self.keep)
            .field("min_interval", &self.min_interval)
            .finish()
    }
}

impl BackupPolicy {
    /// The policy of an `[ops]` section, reading its token file.
    pub fn from_config(ops: &crate::config::OpsSection) -> Result<BackupPolicy, crate::NodeError> {
        ops.check()?;
        let token = ops.token_file.as_deref().map(crate::config::read_token).transpose()?;
        Ok(BackupPolicy { token, keep: ops.backup_keep, min_interval: Duration::from_secs(ops.backup_min_interval_s) })
    }
}

/// What `POST /admin/backup` needs: the open store, the folder backups go to, the policy, the
/// lock that lets one backup run at a time, and when the last successful one began.
#[derive(Clone)]
pub struct Backups {
    store: Arc<Store>,
    dir: PathBuf,
    policy: Arc<BackupPolicy>,
    running: Arc<tokio::sync::Mutex<()>>,
    last: Arc<std::sync::Mutex<Option<Instant>>>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Backups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backups").field("dir", &self.dir).finish_non_exhaustive()
    }
}

/// The answer of `POST /admin/backup` (shared with `curia-client`).
pub use curia_api_types::BackupAnswer;

/// The folder a backup is written to before it is named after the height it holds.
const STAGING: &str = "backup-staging";

impl Backups {
    /// Backups of `store` in `DATA_DIR/`[`BACKUP_SUBDIR`] (on the store's file system, so the
    /// checkpoint can hard-link the store's immutable files).
    /// `policy` says who may ask and how often; refusals are counted in `metrics`.
    pub fn new(store: Arc<Store>, data_dir: &Path, policy: BackupPolicy, metrics: Arc<Metrics>) -> Backups {
        Backups {
            store,
            dir: data_dir.join(BACKUP_SUBDIR),
            policy: Arc::new(policy),
            running: Arc::new(tokio::sync::Mutex::new(())),
            last: Arc::new(std::sync::Mutex::new(None)),
            metrics,
        }
    }

    /// The folder backups are written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Write one backup (blocking): checkpoint the store into a staging folder, read the tip the
    /// copy holds (blocks keep committing meanwhile, so the live tip read before or after could
    /// name another height), then rename it to `backup-HEIGHT-UNIX_MS`. A staging folder left by
    /// a crash is removed first (backups never run two at a time).
    fn write(&self) -> Result<BackupAnswer, String> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| format!("cannot create the backup folder {}: {e}", self.dir.display()))?;
        let dir = std::fs::canonicalize(&self.dir)
            .map_err(|e| format!("cannot resolve the backup folder {}: {e}", self.dir.display()))?;
        let staging = dir.join(STAGING);
        if staging.exists() {
            std::fs::remove_dir_all(&staging)
                .map_err(|e| format!("cannot remove the unfinished backup {}: {e}", staging.display()))?;
        }
        let tip = self.store.checkpoint(&staging).map_err(|e| e.to_string())?;
        let mut ms = crate::clock::now_ms();
        let mut dest = dir.join(format!("backup-{}-{ms}", tip.height));
        // Two backups in the same millisecond at the same height: take the next free name.
        while dest.exists() {
            ms += 1;
            dest = dir.join(format!("backup-{}-{ms}", tip.height));
        }
        std::fs::rename(&staging, &dest)
            .map_err(|e| format!("cannot rename {} to {}: {e}", staging.display(), dest.display()))?;
        let removed = self.prune(&dir);
        Ok(BackupAnswer {
            path: dest.display().to_string(),
            height: tip.height,
            block_hash: tip.block_hash.to_hex(),
            removed,
        })
    }

    /// Delete the oldest backups (by the time in their name) beyond the policy's count. Only
    /// folders named `backup-HEIGHT-UNIXMS` are touched; a deletion that fails is logged and
    /// left for the next backup.
    fn prune(&self, dir: &Path) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
        let mut backups: Vec<(u64, u64, PathBuf)> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let (h, ms) = name.strip_prefix("backup-")?.split_once('-')?;
                Some((ms.parse().ok()?, h.parse().ok()?, e.path()))
            })
            .collect();
        backups.sort();
        let excess = backups.len().saturating_sub(self.policy.keep);
        let mut removed = Vec::new();
        for (_, _, path) in backups.into_iter().take(excess) {
            match std::fs::remove_dir_all(&path) {
                Ok(()) => removed.push(path.display().to_string()),
                Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot delete an old backup"),
            }
        }
        removed
    }

    /// The request's `Authorization: Bearer TOKEN` against the policy's token, compared in
    /// constant time (of their SHA-256, so the length does not show either).
    #[allow(clippy::result_large_err)] // the refusal is the answer itself, built once per request
    fn authorize(&self, headers: &HeaderMap) -> Result<(), Response> {
        use subtle::ConstantTimeEq;
        let Some(expected) = &self.policy.token else {
            return Err(ops_error(
                StatusCode::FORBIDDEN,
                "admin_disabled",
                "operator actions are disabled on this node: set [ops] token_file in its configuration",
            ));
        };
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .unwrap_or("");
        let (given_hash, expected_hash) =
            (curia_ledger::Hash::sha256(given.as_bytes()), curia_ledger::Hash::sha256(expected.as_bytes()));
        let same: bool = given_hash.0[..].ct_eq(&expected_hash.0[..]).into();
        if given.is_empty() || !same {
            let mut r = ops_error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "send the node's ops token ([ops] token_file) as Authorization: Bearer TOKEN",
            );
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return Err(r);
        }
        Ok(())
    }

    /// 429 with `Retry-After` if the last successful backup began less than the minimum
    /// interval ago.
    #[allow(clippy::result_large_err)] // the refusal is the answer itself, built once per request
    fn check_rate(&self) -> Result<(), Response> {
        let last = *self.last.lock().unwrap_or_else(|e| e.into_inner());
        let Some(wait) = last.and_then(|t| self.policy.min_interval.checked_sub(t.elapsed())) else { return Ok(()) };
        let secs = wait.as_millis().div_ceil(1000).max(1) as u64;
        let mut r = ops_error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            &format!("the last backup began less than {} s ago; retry in {secs} s", self.policy.min_interval.as_secs()),
        );
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        Err(r)
    }
}

/// An error answer, shaped like the API's: `{"error": {"code": ..., "message": ...}}`.
fn ops_error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": { "code": code, "message": message } }))).into_response()
}

async fn post_backup(State(b): State<Backups>, headers: HeaderMap) -> Response {
    let refused = |r: Response, code: &str| {
        b.metrics.inc_rejected(code);
        r
    };
    if let Err(r) = b.authorize(&headers) {
        let code = if r.status() == StatusCode::FORBIDDEN { "admin_disabled" } else { "unauthorized" };
        return refused(r, code);
    }
    // The guard moves into the blocking task: if the client goes away, the lock is still held
    // until the checkpoint is done.
    let Ok(guard) = b.running.clone().try_lock_owned() else {
        let r = ops_error(
            StatusCode::CONFLICT,
            "backup_in_progress",
            "another backup is being written; retry when it has finished",
        );
        return refused(r, "backup_in_progress");
    };
    if let Err(r) = b.check_rate() {
        return refused(r, "rate_limited");
    }
    let started = Instant::now();
    let last = b.last.clone();
    let task = tokio::task::spawn_blocking(move || {
        let _guard = guard;
        let r = b.write();
        if r.is_ok() {
            *last.lock().unwrap_or_else(|e| e.into_inner()) = Some(started);
        }
        r
    });
    let result = task.await.unwrap_or_else(|e| Err(format!("the backup task failed: {e}")));
    match result {
        Ok(a) => {
            tracing::info!(path = %a.path, height = a.height, "backup written");
            (StatusCode::OK, Json(a)).into_response()
        }
        Err(message) => {
            tracing::error!(error = %message, "backup failed");
            ops_error(StatusCode::INTERNAL_SERVER_ERROR, "backup_failed", &message)
        }
    }
}

async fn backup_method_not_allowed() -> Response {
    ops_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "use POST to make a backup")
}

async fn healthz(State(s): State<OpsState>) -> Json<Health> {
    Json(Health { status: "ok".into(), node: s.status.borrow().clone() })
}

async fn metrics_text(State(s): State<OpsState>) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], s.metrics.encode()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::SocketAddr;

    use curia_ledger::testkit::TestChain;

    /// A store holding a test chain of `blocks` blocks, in a fresh temporary data directory
    /// (removed when the returned `TempDir` is dropped: bind it for the whole test).
    fn store_with_chain(name: &str, blocks: u64) -> (tempfile::TempDir, Arc<Store>, TestChain) {
        let data_dir = tempfile::Builder::new().prefix(&format!("curia-ops-{name}-")).tempdir().unwrap();
        let mut c = TestChain::new(4);
        for k in 1..=blocks {
            let tx = c.deposit("platform", format!("evidence {k}").as_bytes(), k);
            assert!(c.commit(vec![tx]).is_empty());
        }
        let store = Store::open(data_dir.path().join("chain"), &c.spec).unwrap();
        for (block, cert) in &c.blocks {
            let changes = store.execute(block).unwrap();
            store.commit_block(block, cert, &changes).unwrap();
        }
        (data_dir, Arc::new(store), c)
    }

    /// Serve the ops router with backups on a loopback port.
    async fn serve(backups: Backups) -> SocketAddr {
        let (_tx, status) = watch::channel(NodeStatus::default());
        let app = ops_router_with_backup(Arc::new(Metrics::new()), status, backups);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    /// A policy with [`TOKEN`], keeping `keep` backups, with no minimum interval.
    fn policy(keep: usize) -> BackupPolicy {
        BackupPolicy { token: Some(TOKEN.into()), keep, min_interval: Duration::ZERO }
    }

    fn backups(store: &Arc<Store>, dir: &Path, policy: BackupPolicy) -> Backups {
        Backups::new(store.clone(), dir, policy, Arc::new(Metrics::new()))
    }

    /// One HTTP/1.1 request with the test token; returns the status, the head and the body.
    async fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String, serde_json::Value) {
        http_auth(addr, method, path, body, Some(TOKEN)).await
    }

    /// One HTTP/1.1 request with `Authorization: Bearer token` if given.
    async fn http_auth(
        addr: SocketAddr,
        method: &str,
        path: &str,
        body: &str,
        token: Option<&str>,
    ) -> (u16, String, serde_json::Value) {
        let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        tokio::task::spawn_blocking(move || {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.write_all(req.as_bytes()).unwrap();
            let mut raw = String::new();
            s.read_to_string(&mut raw).unwrap();
            let (head, body) = raw.split_once("\r\n\r\n").expect("a complete answer");
            let status = head.split(' ').nth(1).unwrap().parse().unwrap();
            let json = serde_json::from_str(body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {body:?}"));
            (status, head.to_ascii_lowercase(), json)
        })
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn backup_writes_a_checkpoint_in_the_data_dir_and_ignores_the_body() {
        let (tmp, store, chain) = store_with_chain("backup", 3);
        let data_dir = tmp.path().to_path_buf();
        let addr = serve(backups(&store, &data_dir, policy(7))).await;
        // A client cannot choose where the backup goes.
        let elsewhere = data_dir.join("elsewhere");
        let body = serde_json::json!({ "path": elsewhere }).to_string();
        let (status, _, a) = http(addr, "POST", "/admin/backup", &body).await;
        assert_eq!(status, 200, "{a}");
        let a: BackupAnswer = serde_json::from_value(a).unwrap();
        assert_eq!(a.height, 3);
        assert_eq!(a.block_hash, chain.blocks[2].0.header.hash().to_hex());
        let path = PathBuf::from(&a.path);
        assert!(path.is_absolute(), "{}", a.path);
        assert_eq!(path.parent().unwrap(), std::fs::canonicalize(data_dir.join(BACKUP_SUBDIR)).unwrap());
        assert!(path.file_name().unwrap().to_str().unwrap().starts_with("backup-3-"), "{}", a.path);
        assert!(!elsewhere.exists());
        // The backup is a store holding the chain up to that tip.
        let copy = Store::open_read_only(&path).unwrap();
        assert_eq!(copy.tip(), store.tip());
        assert_eq!(copy.spec().chain_id, chain.spec.chain_id);
        drop(copy);
        // A second backup goes to a new folder.
        let (status, _, b) = http(addr, "POST", "/admin/backup", "").await;
        assert_eq!(status, 200, "{b}");
        assert_ne!(b["path"].as_str().unwrap(), a.path);
    }

    #[tokio::test]
    async fn backup_refuses_a_second_one_other_methods_and_reports_failures() {
        let (tmp, store, _) = store_with_chain("refuse", 1);
        let data_dir = tmp.path().to_path_buf();
        let backups = self::backups(&store, &data_dir, policy(7));
        let addr = serve(backups.clone()).await;

        // While one backup runs (its lock is held), another is refused and nothing is written.
        let held = backups.running.clone().try_lock_owned().unwrap();
        let (status, _, e) = http(addr, "POST", "/admin/backup", "").await;
        assert_eq!(status, 409, "{e}");
        assert_eq!(e["error"]["code"], "backup_in_progress");
        assert!(e["error"]["message"].as_str().unwrap().contains("another backup"), "{e}");
        assert!(!backups.dir().exists());
        drop(held);

        // Only POST.
        for method in ["GET", "PUT", "DELETE"] {
            let (status, head, e) = http(addr, method, "/admin/backup", "").await;
            assert_eq!(status, 405, "{method}: {e}");
            assert_eq!(e["error"]["code"], "method_not_allowed", "{method}");
            assert!(head.contains("\r\nallow: post"), "{method}: {head}");
        }

        // A backup that cannot be written: 500 with the reason, and the lock is released.
        let file = data_dir.join("not-a-folder");
        std::fs::write(&file, "x").unwrap();
        let addr = serve(self::backups(&store, &file, policy(7))).await;
        let (status, _, e) = http(addr, "POST", "/admin/backup", "").await;
        assert_eq!(status, 500, "{e}");
        assert_eq!(e["error"]["code"], "backup_failed");
        let message = e["error"]["message"].as_str().unwrap();
        assert!(message.contains("cannot create the backup folder") && message.contains("not-a-folder"), "{e}");
    }

    #[tokio::test]
    async fn backup_needs_the_token_and_is_rate_limited_and_pruned() {
        let (tmp, store, _) = store_with_chain("auth", 1);
        let data_dir = tmp.path().to_path_buf();
        // No token configured: every backup request is refused.
        let none = BackupPolicy { token: None, ..policy(7) };
        let addr = serve(backups(&store, &data_dir, none)).await;
        let (status, _, e) = http(addr, "POST", "/admin/backup", "").await;
        assert_eq!((status, e["error"]["code"].as_str()), (403, Some("admin_disabled")), "{e}");

        let limited = BackupPolicy { min_interval: Duration::from_secs(3600), ..policy(2) };
        let b = backups(&store, &data_dir, limited);
        let addr = serve(b.clone()).await;
        // Missing, wrong, or differently long tokens: 401 with a challenge, and nothing written.
        for token in [None, Some("0123456789abcdef0123456789abcdeX"), Some("0123456789abcdef"), Some("")] {
            let (status, head, e) = http_auth(addr, "POST", "/admin/backup", "", token).await;
            assert_eq!((status, e["error"]["code"].as_str()), (401, Some("unauthorized")), "{token:?}: {e}");
            assert!(head.contains("\r\nwww-authenticate: bearer"), "{head}");
        }
        assert!(!b.dir().exists());
        // The right token: a backup; then 429 with Retry-After until the interval has passed.
        let (status, _, a) = http(addr, "POST", "/admin/backup", "").await;
        assert_eq!(status, 200, "{a}");
        let (status, head, e) = http(addr, "POST", "/admin/backup", "").await;
        assert_eq!((status, e["error"]["code"].as_str()), (429, Some("rate_limited")), "{e}");
        let retry: u64 = head.split("\r\nretry-after: ").nth(1).unwrap().split("\r\n").next().unwrap().parse().unwrap();
        assert!((3500..=3600).contains(&retry), "{retry}");
        let text = b.metrics.encode();
        for line in [
            "curia_rejected_transactions_total{reason=\"unauthorized\"} 4",
            "curia_rejected_transactions_total{reason=\"rate_limited\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }

        // Retention: keep = 2 deletes the oldest backups beyond two, and only backup folders.
        let b = backups(&store, &data_dir, policy(2));
        let addr = serve(b.clone()).await;
        std::fs::remove_dir_all(b.dir()).unwrap(); // the backup made above
        std::fs::create_dir_all(b.dir().join("backup-0-1")).unwrap(); // the oldest
        std::fs::create_dir_all(b.dir().join("keep-me")).unwrap(); // not a backup: never touched
        let mut paths = Vec::new();
        for _ in 0..3 {
            let (status, _, a) = http(addr, "POST", "/admin/backup", "").await;
            assert_eq!(status, 200, "{a}");
            paths.push(serde_json::from_value::<BackupAnswer>(a).unwrap());
        }
        assert!(paths[0].removed.is_empty(), "{:?}", paths[0]);
        assert_eq!(paths[1].removed.len(), 1, "{:?}", paths[1]);
        assert!(paths[1].removed[0].ends_with("backup-0-1"), "{:?}", paths[1]);
        assert_eq!(paths[2].removed, vec![paths[0].path.clone()]);
        let mut left: Vec<String> =
            std::fs::read_dir(b.dir()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        left.sort();
        let mut want: Vec<String> = paths[1..]
            .iter()
            .map(|a| PathBuf::from(&a.path).file_name().unwrap().to_str().unwrap().to_string())
            .chain(["keep-me".to_string()])
            .collect();
        want.sort();
        assert_eq!(left, want);

        // Unknown routes and methods are JSON too.
        let (status, _, e) = http(addr, "GET", "/nothing", "").await;
        assert_eq!((status, e["error"]["code"].as_str()), (404, Some("not_found")));
        let (status, _, e) = http(addr, "POST", "/metrics", "").await;
        assert_eq!((status, e["error"]["code"].as_str()), (405, Some("method_not_allowed")));
    }

    #[test]
    fn metrics_encode_with_base_units_and_reason_labels() {
        let m = Metrics::new();
        m.set_height(7);
        m.observe_commit_latency(0.25);
        m.set_mempool(3, 900);
        m.set_peers(2);
        m.inc_rejected("bad_signature");
        m.inc_rejected("bad_signature");
        m.inc_committed_txs(4);
        m.inc_committed_deposits(40);
        let text = m.encode();
        for line in [
            "curia_height 7",
            "curia_commit_latency_seconds_count 1",
            "curia_mempool_transactions 3",
            "curia_mempool_bytes 900",
            "curia_peers 2",
            "curia_rejected_transactions_total{reason=\"bad_signature\"} 2",
            "curia_committed_transactions_total 4",
            "curia_committed_deposits_total 40",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
    }

    /// A peer's gossip refused because this node already has it is an honest race, counted
    /// apart; the same codes from a client, and a peer's other refusals, are rejections.
    #[test]
    fn already_known_gossip_is_not_a_rejection() {
        let m = Metrics::new();
        m.count_refusal("evidence_duplicate", true);
        m.count_refusal("evidence_duplicate", true);
        m.count_refusal("already_pending", true);
        m.count_refusal("duplicate", true);
        m.count_refusal("bad_signature", true);
        m.count_refusal("evidence_duplicate", false);
        m.count_refusal("already_pending", false);
        let text = m.encode();
        let value = |line: &str| {
            text.lines().find_map(|l| l.strip_prefix(line)).map(|v| v.trim().to_string()).unwrap_or_default()
        };
        assert_eq!(value("curia_gossip_already_known_total{reason=\"evidence_duplicate\"}"), "2", "{text}");
        assert_eq!(value("curia_gossip_already_known_total{reason=\"already_pending\"}"), "1", "{text}");
        assert_eq!(value("curia_gossip_already_known_total{reason=\"duplicate\"}"), "1", "{text}");
        assert_eq!(value("curia_rejected_transactions_total{reason=\"evidence_duplicate\"}"), "1", "{text}");
        assert_eq!(value("curia_rejected_transactions_total{reason=\"already_pending\"}"), "1", "{text}");
        assert_eq!(value("curia_rejected_transactions_total{reason=\"bad_signature\"}"), "1", "{text}");
        assert_eq!(value("curia_gossip_already_known_total{reason=\"bad_signature\"}"), "", "{text}");
    }
}
