//! The HTTP API under `/v1`: submit transactions, read deposits, receipts, digests, blocks, cases
//! and the node's status. Described for clients in `docs/api.md`.
//!
//! Rules:
//! - Every error is JSON `{"error": {"code": "...", "message": "..."}}` with its own HTTP status;
//!   codes are the stable short codes of [`NodeError::code`] and [`LedgerError::code`] plus a few
//!   of the API's own (`too_large`, `bad_json`, `busy`, `not_found`, ...). [`error_status`] is the
//!   one table from codes to statuses.
//! - Connections are served by [`crate::http::serve`]: connection caps (total and per address)
//!   and a deadline for request heads. All limits are in [`crate::limits`].
//! - Bodies are bounded before they are parsed ([`read_body`]): [`DEPOSIT_BODY_LIMIT`] for
//!   `POST /v1/deposits`, [`TRANSACTIONS_BODY_LIMIT`] for `POST /v1/transactions` (a bigger body
//!   gets 413 `too_large`, as soon as its `Content-Length` or its bytes say so); the whole body
//!   must arrive within [`BODY_READ_TIMEOUT`] (else 408 `body_timeout`); and all bodies being
//!   received share [`BODY_BUFFER_BUDGET`] bytes (a chunk that does not fit: 503 `busy`).
//!   A batch holds at most the mempool's submission limit of transactions (413 `too_many_txs`).
//! - A submission takes one of the [`SUBMIT_CONCURRENCY`] slots only once its body has fully
//!   arrived, so a client that stalls its body holds a connection, never a slot; it waits up to
//!   [`SUBMIT_SLOT_WAIT`] for one (then 503 `busy`). Shape, sender, signatures and registry
//!   approvals are checked on the blocking pool ([`check_admission_ids`]), never on the consensus loop.
//! - Submissions go to the driver through a bounded queue ([`ApiContext::submit`]); the API never
//!   waits for room in it. A full queue or a full mempool answers 503 with `Retry-After` (whole
//!   seconds, rounded up) so that clients back off instead of the node growing.
//! - The API reads only committed state from the store (it cannot see the mempool): a deposit is
//!   404 `deposit_not_found` until its block is committed. Store reads run on the blocking pool.
//! - Path parameters are checked before any read: a hash that is not 64 hex digits gets 400
//!   `bad_hex` naming the parameter (also when it does not even decode, e.g. `%FF`).
//! - Every error answer is JSON, the framework's own included: unknown routes (404
//!   `not_found`), methods (405 `method_not_allowed`) and path parameters that do not decode.
//! - Requests refused by the API itself (before the mempool) are counted in
//!   `curia_rejected_transactions_total` by code, `busy` included; the driver counts the
//!   mempool's refusals.
//! - Case records are served only to a signed read (`signed_reader`) by a key that
//!   [`may_read_cases`] (`check_case_reader`): `GET /v1/cases/{id}`, and `GET /v1/chain`,
//!   whose blocks hold case transactions in clear. Both check their parameters first, then the
//!   signature, then the reader, and only then read anything else.

use std::future::Future;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use curia_ledger::access::{
    may_read_cases, verify_read_request, HEADER_READER, HEADER_SIGNATURE, HEADER_TIMESTAMP, READ_MAX_SKEW_MS,
};
use curia_ledger::genesis::ChainSpec;
use curia_ledger::tx::{check_case_id, Transaction};
use curia_ledger::{Hash, LedgerError};
use curia_storage::{CaseEntry, CaseEvent as StoredEvent, Store, StoreError};
use tokio::sync::{mpsc, oneshot, watch};

use curia_api_types::{DoubleProposalInfo, EvidenceList};

use crate::http::ConnLimits;
use crate::mempool::{check_admission_ids, tx_ids, Admitted, MAX_SUBMISSION};
use crate::NodeError;

/// The answer bodies, shared with `curia-client` (`api-types/`).
pub use curia_api_types::{
    Accepted, BatchAnswer, BlockInfo, BlockTxs, CaseEvent, CaseInfo, CaseRecord, DepositInfo, DigestDeposits,
    ErrorBody, ErrorDetail, ItemResult, NodeStatus, TxBatch,
};

pub use crate::limits::{
    API_MAX_CONNECTIONS, API_MAX_CONNECTIONS_PER_IP, BODY_BUFFER_BUDGET, BODY_READ_TIMEOUT, BUSY_RETRY_AFTER_S,
    CHAIN_READ_CONCURRENCY, DEPOSIT_BODY_LIMIT, SUBMIT_CONCURRENCY, SUBMIT_SLOT_WAIT, SUBMIT_TIMEOUT,
    TRANSACTIONS_BODY_LIMIT,
};

// The limits clients see in `curia_api_types` are the node's own.
const _: () = assert!(curia_api_types::DEPOSIT_BODY_LIMIT == DEPOSIT_BODY_LIMIT);
const _: () = assert!(curia_api_types::TRANSACTIONS_BODY_LIMIT == TRANSACTIONS_BODY_LIMIT);
const _: () = assert!(curia_api_types::MAX_SUBMISSION == MAX_SUBMISSION);
const _: () = assert!(curia_api_types::MAX_CHAIN_BLOCKS == crate::limits::MAX_CHAIN_BLOCKS);

pub use crate::submission::{Submit, SubmitResult};

/// Everything the API handlers need.
#[derive(Clone)]
pub struct ApiContext {
    /// The chain.
    pub spec: Arc<ChainSpec>,
    /// The committed chain.
    pub store: Arc<Store>,
    /// Submissions to the driver (bounded; the API uses `try_send`).
    pub submit: mpsc::Sender<Submit>,
    /// The driver's latest status.
    pub status: watch::Receiver<NodeStatus>,
    /// Metrics (the API counts the requests it refuses itself).
    pub metrics: Arc<crate::ops::Metrics>,
    /// The runtime of the node's bulk work, when the API runs on a runtime of its own
    /// ([`crate::priority`]): submissions (parsing, signature checks, the wait for the driver)
    /// run there, not on the API's threads. `None`: everything on the API's runtime.
    pub bulk: Option<tokio::runtime::Handle>,
}

// ----- errors -----

/// An API error: status, stable code, message, and for push-back a retry delay.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable short code.
    pub code: &'static str,
    /// What is wrong, for people.
    pub message: String,
    /// `Retry-After` seconds, for 503.
    pub retry_after_s: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status: error_status(code), code, message: message.into(), retry_after_s: None }
    }

    fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_s = Some(seconds.max(1));
        self
    }
}

impl From<NodeError> for ApiError {
    fn from(e: NodeError) -> Self {
        let retry = match &e {
            NodeError::MempoolFull { retry_after_ms, .. } => Some(retry_after_ms.div_ceil(1000)),
            _ => None,
        };
        let err = ApiError::new(e.code(), e.to_string());
        match retry {
            Some(s) => err.retry_after(s),
            None => err,
        }
    }
}

impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> Self {
        // A failed state read is the node's failure (500 `storage`), not a refusal of the request.
        if e.is_storage() {
            tracing::error!(error = %e, "store read failed");
            return ApiError::new("storage", e.to_string());
        }
        ApiError::new(e.code(), e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store read failed");
        ApiError::new("storage", e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: ErrorDetail { code: self.code.to_owned(), message: self.message } };
        let mut r = (self.status, Json(body)).into_response();
        if let Some(s) = self.retry_after_s {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        r
    }
}

/// The HTTP status of an error code: the table of [`curia_api_types::error_status`], shared with
/// clients. Unknown codes are 422 (a transaction the rules refuse).
pub fn error_status(code: &str) -> StatusCode {
    StatusCode::from_u16(curia_api_types::error_status(code)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

// ----- router -----

/// The `/v1` API.
pub fn router(ctx: ApiContext) -> Router {
    Router::new()
        .route("/v1/deposits", post(post_deposit))
        .route("/v1/transactions", post(post_transactions))
        .route("/v1/deposits/{id}", get(get_deposit))
        .route("/v1/deposits/{id}/receipt", get(get_receipt))
        .route("/v1/digests/{sha256}", get(get_digest))
        .route("/v1/blocks/{height}", get(get_block))
        .route("/v1/blocks/{height}/txs", get(get_block_txs))
        .route("/v1/cases/{id}", get(get_case))
        .route("/v1/status", get(get_status))
        .route("/v1/chain", get(get_chain))
        .route("/v1/genesis", get(get_genesis))
        .route("/v1/membership", get(get_membership))
        .route("/v1/evidence", get(get_evidence))
        .route("/v1/validators", get(get_validators))
        .route("/v1/log", get(crate::log_api::get_log))
        .route("/v1/log/inclusion", get(crate::log_api::get_inclusion))
        .route("/v1/log/consistency", get(crate::log_api::get_consistency))
        .route("/v1/log/index", get(crate::log_api::get_log_index))
        .route("/v1/checkpoint", get(crate::log_api::get_checkpoint))
        .route("/v1/checkpoint/tsa", get(crate::log_api::get_checkpoint_tsa))
        .route("/verify", get(get_verify_page))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(ctx)
}

/// The API's connection caps.
pub const API_CONN_LIMITS: ConnLimits =
    ConnLimits { name: "api", max_connections: API_MAX_CONNECTIONS, max_per_ip: API_MAX_CONNECTIONS_PER_IP };

/// Serve the API on `listener` until `shutdown` completes; requests in flight are finished.
/// Connections are bounded as [`crate::http`] says, with [`API_CONN_LIMITS`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    ctx: ApiContext,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_tls(listener, ctx, None, shutdown).await
}

/// [`serve`], speaking TLS with `tls` when it is given (`[api.tls]`).
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    ctx: ApiContext,
    tls: Option<crate::tls::TlsConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let metrics = ctx.metrics.clone();
    crate::http::serve_tls(listener, router(ctx), API_CONN_LIMITS, metrics, tls, shutdown).await
}

/// Submissions parsed, checked and waiting for the driver at once; a submission takes a slot only
/// once its body has arrived, and waits up to [`SUBMIT_SLOT_WAIT`] for one.
static SUBMIT_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(SUBMIT_CONCURRENCY);

/// Take a submission slot, or 503 `busy` (counted) after [`SUBMIT_SLOT_WAIT`].
async fn submit_slot(ctx: &ApiContext) -> ApiResult<tokio::sync::SemaphorePermit<'static>> {
    match tokio::time::timeout(SUBMIT_SLOT_WAIT, SUBMIT_SLOTS.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => {
            ctx.metrics.inc_rejected("busy");
            Err(ApiError::new("busy", "too many submissions in progress; retry later").retry_after(BUSY_RETRY_AFTER_S))
        }
    }
}

/// Body bytes held by the submissions being received (see [`BODY_BUFFER_BUDGET`]).
static BODY_BUDGET: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(BODY_BUFFER_BUDGET);

/// A share of [`BODY_BUDGET`], given back when dropped.
struct BodyShare(usize);

impl Drop for BodyShare {
    fn drop(&mut self) {
        BODY_BUDGET.add_permits(self.0);
    }
}

/// Read a submission's whole body: at most `limit` bytes (413 `too_large`, at once if the
/// `Content-Length` says so), within [`BODY_READ_TIMEOUT`] (408 `body_timeout`), each chunk
/// counted against [`BODY_BUFFER_BUDGET`] (503 `busy`). Every refusal is counted.
async fn read_body(ctx: &ApiContext, headers: &HeaderMap, body: Body, limit: usize) -> ApiResult<(Vec<u8>, BodyShare)> {
    use futures::StreamExt;
    let refuse = |e: ApiError| {
        ctx.metrics.inc_rejected(e.code);
        e
    };
    let too_large = || ApiError::new("too_large", format!("request body is larger than the limit of {limit} bytes"));
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(refuse(too_large()));
    }
    let deadline = tokio::time::Instant::now() + BODY_READ_TIMEOUT;
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    let mut share = BodyShare(0);
    loop {
        let chunk = match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => {
                return Err(refuse(ApiError::new(
                    "body_timeout",
                    format!("the request body did not arrive within {} s", BODY_READ_TIMEOUT.as_secs()),
                )))
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                return Err(refuse(ApiError::new("bad_body", format!("cannot read the request body: {e}"))))
            }
            Ok(Some(Ok(chunk))) => chunk,
        };
        if bytes.len() + chunk.len() > limit {
            return Err(refuse(too_large()));
        }
        // Fits in u32: chunks are bounded by the limit, itself bounded by the budget.
        match BODY_BUDGET.try_acquire_many(chunk.len() as u32) {
            Ok(p) => {
                p.forget();
                share.0 += chunk.len();
            }
            Err(_) => {
                return Err(refuse(
                    ApiError::new("busy", "the node is receiving too many request bodies; retry later")
                        .retry_after(BUSY_RETRY_AFTER_S),
                ))
            }
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok((bytes, share))
}

/// A path parameter, or 400 with `code` naming it when it does not even decode (such as `%FF`,
/// which is not UTF-8).
fn path_param(p: Result<Path<String>, PathRejection>, name: &str, code: &'static str) -> ApiResult<String> {
    p.map(|Path(s)| s)
        .map_err(|e| ApiError::new(code, format!("path parameter {name} is not valid: {}", e.body_text())))
}

async fn not_found() -> ApiError {
    ApiError::new("not_found", "no such endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new("method_not_allowed", "method not allowed on this endpoint")
}

// ----- submissions -----

fn parse_json<T: serde::de::DeserializeOwned>(ctx: &ApiContext, bytes: &[u8], what: &str) -> ApiResult<T> {
    serde_json::from_slice(bytes).map_err(|e| {
        ctx.metrics.inc_rejected("bad_json");
        ApiError::new("bad_json", format!("body is not a valid {what}: {e}"))
    })
}

/// Hash `txs` (their IDs, once: every later step gets them passed) and check them (shape,
/// sender, signatures) on the blocking pool, hand them to the driver and wait for its answer.
/// Returns the IDs with the answers, in the client's order.
async fn submit(ctx: &ApiContext, txs: Vec<Transaction>) -> ApiResult<(Vec<Hash>, Vec<Result<Admitted, NodeError>>)> {
    if txs.len() > MAX_SUBMISSION {
        ctx.metrics.inc_rejected("too_many_txs");
        return Err(NodeError::TooManyTxs { got: txs.len(), max: MAX_SUBMISSION }.into());
    }
    let (store, spec) = (ctx.store.clone(), ctx.spec.clone());
    let (txs, ids, checks) = tokio::task::spawn_blocking(move || {
        let next_height = store.tip().height + 1;
        let ids = tx_ids(&spec.chain_id, &txs);
        let checks = check_admission_ids(&spec, &store.state(), Some(next_height), &txs, &ids);
        (txs, ids, checks)
    })
    .await
    .map_err(|e| ApiError::new("internal", format!("signature check task failed: {e}")))?;
    let (reply, answer) = oneshot::channel();
    match ctx.submit.try_send(Submit { txs, checks, reply }) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(_)) => {
            ctx.metrics.inc_rejected("busy");
            return Err(ApiError::new("busy", "the node's submission queue is full; retry later")
                .retry_after(BUSY_RETRY_AFTER_S));
        }
        Err(mpsc::error::TrySendError::Closed(_)) => {
            return Err(ApiError::new("unavailable", "the node is shutting down").retry_after(BUSY_RETRY_AFTER_S))
        }
    }
    match tokio::time::timeout(SUBMIT_TIMEOUT, answer).await {
        Ok(Ok(r)) => Ok((ids, r?)),
        Ok(Err(_)) => {
            Err(ApiError::new("unavailable", "the node dropped the submission").retry_after(BUSY_RETRY_AFTER_S))
        }
        Err(_) => {
            Err(ApiError::new("timeout", format!("the node did not answer within {} s", SUBMIT_TIMEOUT.as_secs()))
                .retry_after(BUSY_RETRY_AFTER_S))
        }
    }
}

/// Run a submission's work on the bulk runtime when the node has one ([`ApiContext::bulk`]):
/// receiving and parsing its body, admission's signature checks and the wait for the driver are
/// bulk work and must not take the API's threads (or their priority) from reads that clients
/// wait on (docs/performance.md, "Receipts under load"). The task is aborted when the request is
/// dropped (the client went away), as the handler itself would be; it holds the same submission
/// slot and body budget as before, so it is bounded the same way. A panic is `internal`.
async fn on_bulk<F>(bulk: Option<tokio::runtime::Handle>, work: F) -> ApiResult<Response>
where
    F: Future<Output = ApiResult<Response>> + Send + 'static,
{
    let Some(bulk) = bulk else { return work.await };
    /// Aborts the task when dropped (a no-op once it has finished).
    struct AbortOnDrop(tokio::task::JoinHandle<ApiResult<Response>>);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    let mut task = AbortOnDrop(bulk.spawn(work));
    (&mut task.0).await.map_err(|e| ApiError::new("internal", format!("submission task failed: {e}")))?
}

/// `POST /v1/deposits`: one deposit or batch deposit transaction.
async fn post_deposit(State(ctx): State<ApiContext>, headers: HeaderMap, body: Body) -> ApiResult<Response> {
    on_bulk(ctx.bulk.clone(), post_deposit_work(ctx, headers, body)).await
}

/// [`post_deposit`]'s work.
async fn post_deposit_work(ctx: ApiContext, headers: HeaderMap, body: Body) -> ApiResult<Response> {
    let (bytes, share) = read_body(&ctx, &headers, body, DEPOSIT_BODY_LIMIT).await?;
    let _slot = submit_slot(&ctx).await?;
    let tx: Transaction = parse_json(&ctx, &bytes, "transaction")?;
    drop((bytes, share));
    let kind = tx.body.payload.kind();
    if !matches!(kind, "deposit" | "batch_deposit") {
        ctx.metrics.inc_rejected("wrong_kind");
        return Err(ApiError::new(
            "wrong_kind",
            format!("POST /v1/deposits takes deposit or batch_deposit transactions, not {kind}; use /v1/transactions"),
        ));
    }
    let (_, mut results) = submit(&ctx, vec![tx]).await?;
    match results.pop() {
        Some(Ok(a)) if results.is_empty() => {
            Ok((StatusCode::ACCEPTED, Json(Accepted { tx_id: a.tx_id, deposit_ids: a.deposit_ids })).into_response())
        }
        Some(Err(e)) if results.is_empty() => Err(e.into()),
        _ => Err(ApiError::new("internal", "the node answered a submission of one with another count")),
    }
}

/// Whether the request says its body is `application/octet-stream`.
fn is_octet_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/octet-stream"))
}

/// The binary form of a `POST /v1/transactions` body: the canonical list of transactions
/// (`u32` count, big-endian, then each canonical transaction), nothing after it. A count above
/// [`MAX_SUBMISSION`] is `too_many_txs` before anything is decoded; anything else that does not
/// decode strictly is 400 `decode`.
fn parse_binary_txs(ctx: &ApiContext, bytes: &[u8]) -> ApiResult<Vec<Transaction>> {
    use curia_ledger::codec::{Canonical, Reader};
    if let Some(n) = bytes.get(..4).map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")) as usize) {
        if n > MAX_SUBMISSION {
            ctx.metrics.inc_rejected("too_many_txs");
            return Err(NodeError::TooManyTxs { got: n, max: MAX_SUBMISSION }.into());
        }
    }
    let mut r = Reader::new(bytes, "transaction list");
    let txs = r.list("transactions", MAX_SUBMISSION, Transaction::decode).and_then(|t| r.finish().map(|()| t));
    txs.map_err(|e| {
        ctx.metrics.inc_rejected("decode");
        ApiError::new("decode", format!("body is not a canonical transaction list: {e}"))
    })
}

/// `POST /v1/transactions`: a batch of transactions of any kind, each with its own result, as
/// JSON or (with `Content-Type: application/octet-stream`) as the canonical binary list.
async fn post_transactions(State(ctx): State<ApiContext>, headers: HeaderMap, body: Body) -> ApiResult<Response> {
    on_bulk(ctx.bulk.clone(), post_transactions_work(ctx, headers, body)).await
}

/// [`post_transactions`]'s work.
async fn post_transactions_work(ctx: ApiContext, headers: HeaderMap, body: Body) -> ApiResult<Response> {
    let (bytes, share) = read_body(&ctx, &headers, body, TRANSACTIONS_BODY_LIMIT).await?;
    let _slot = submit_slot(&ctx).await?;
    let txs = if is_octet_stream(&headers) {
        parse_binary_txs(&ctx, &bytes)?
    } else {
        parse_json::<TxBatch>(&ctx, &bytes, "{\"txs\": [...]} batch")?.txs.into_owned()
    };
    drop((bytes, share));
    if txs.is_empty() {
        ctx.metrics.inc_rejected("invalid_field");
        return Err(ApiError::new("invalid_field", "txs is empty"));
    }
    let (ids, results) = submit(&ctx, txs).await?;
    if results.len() != ids.len() {
        return Err(ApiError::new("internal", "the node answered a submission with another count"));
    }
    let mut answer = BatchAnswer { accepted: 0, rejected: 0, results: Vec::with_capacity(ids.len()) };
    let mut retry_after = None;
    let mut all_full = true;
    for (index, (tx_id, r)) in ids.into_iter().zip(results).enumerate() {
        match r {
            Ok(a) => {
                answer.accepted += 1;
                all_full = false;
                answer.results.push(ItemResult { index, tx_id, deposit_ids: Some(a.deposit_ids), error: None });
            }
            Err(e) => {
                answer.rejected += 1;
                match &e {
                    NodeError::MempoolFull { retry_after_ms, .. } => {
                        retry_after = retry_after.max(Some(retry_after_ms.div_ceil(1000).max(1)));
                    }
                    _ => all_full = false,
                }
                let error = Some(ErrorDetail { code: e.code().to_owned(), message: e.to_string() });
                answer.results.push(ItemResult { index, tx_id, deposit_ids: None, error });
            }
        }
    }
    // Nothing accepted and everything refused for room: the whole request is pushed back.
    let status = if all_full { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
    let mut r = (status, Json(answer)).into_response();
    if let Some(s) = retry_after {
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    Ok(r)
}

// ----- reads -----

fn hash_param(name: &'static str, s: &str) -> ApiResult<Hash> {
    Hash::from_hex(s).map_err(|e| {
        let reason = match e {
            LedgerError::Hex { reason, .. } => reason,
            other => other.to_string(),
        };
        ApiError::new("bad_hex", format!("path parameter {name} is not 64 hex digits: {reason}"))
    })
}

/// Run a store read on the blocking pool.
pub(crate) async fn read<T: Send + 'static>(
    ctx: &ApiContext,
    f: impl FnOnce(&Store) -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    let store = ctx.store.clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| ApiError::new("internal", format!("store read task failed: {e}")))?
}

/// Run a short store read on this thread, out of the async scheduler's way
/// ([`tokio::task::block_in_place`]: the worker hands its other tasks to another thread first).
/// For reads of a few hundred microseconds that clients wait on (a receipt): [`read`] hands the
/// work to a blocking-pool thread and back, two thread wake-ups that cost milliseconds at the
/// tail on a loaded machine (docs/performance.md, "Receipts under load"). Falls back to [`read`]
/// on a current-thread runtime, where `block_in_place` is not allowed. A panic is the same
/// `internal` error as in [`read`].
pub(crate) async fn read_now<T: Send + 'static>(
    ctx: &ApiContext,
    f: impl FnOnce(&Store) -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    if tokio::runtime::Handle::current().runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
        return read(ctx, f).await;
    }
    let store = ctx.store.clone();
    tokio::task::block_in_place(|| std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&store))))
        .map_err(|_| ApiError::new("internal", "store read task failed: it panicked"))?
}

/// `GET /v1/evidence`: the evidence of misbehaviour this node has kept (see
/// `curia_ledger::equivocation` and `curia_ledger::evidence`), oldest height first. Public: it
/// names validators, not clients, and every record proves itself.
async fn get_evidence(State(ctx): State<ApiContext>) -> ApiResult<Json<EvidenceList>> {
    let spec = ctx.spec.clone();
    let (evidence, double_proposals) = read(&ctx, move |store| {
        let kept = store.equivocations()?;
        // Each double vote is summarised (index, key) under the set in force at its height, as
        // the machine checked it before keeping it: a record that no longer checks is a damaged
        // store, reported as such.
        let members =
            crate::members::stored_membership(&spec, store).map_err(|e| ApiError::new("storage", e.to_string()))?;
        let votes = kept
            .iter()
            .map(|e| curia_ledger::equivocation::EquivocationJson::from_evidence_at(e, &spec.chain_id, &members))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ApiError::new("storage", format!("a kept evidence record does not check: {e}")))?;
        let proposals = store
            .double_proposals()?
            .into_iter()
            .map(|d| DoubleProposalInfo {
                proposer: d.a.proposal.proposer,
                height: d.a.proposal.height,
                round: d.a.proposal.round,
                evidence: curia_ledger::evidence::Misbehaviour::DoubleProposal(d),
            })
            .collect();
        Ok((votes, proposals))
    })
    .await?;
    Ok(Json(EvidenceList { chain_id: ctx.spec.chain_id, evidence, double_proposals }))
}

/// `GET /v1/deposits/{id}`.
async fn get_deposit(
    State(ctx): State<ApiContext>,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<DepositInfo>> {
    let deposit_id = hash_param("id", &path_param(id, "id", "bad_hex")?)?;
    let info = read(&ctx, move |store| {
        let not_found = || ApiError::new("deposit_not_found", format!("deposit {deposit_id} is not committed"));
        let loc = store.deposit_location(&deposit_id)?.ok_or_else(not_found)?;
        let missing = |what: &str| {
            ApiError::new("storage", format!("{what} at height {} of deposit {deposit_id} is missing", loc.height))
        };
        let header = store.header(loc.height)?.ok_or_else(|| missing("header"))?;
        let cert = store.cert(loc.height)?.ok_or_else(|| missing("certificate"))?;
        Ok(DepositInfo {
            deposit_id,
            status: "committed".into(),
            height: loc.height,
            tx_index: loc.tx_index,
            item_index: loc.item_index,
            block_hash: header.hash(),
            block_time_ms: header.time_ms,
            commit_time_ms: cert.commit_time_ms(),
            receipt_ready: loc.height < store.tip().height,
            receipt: format!("/v1/deposits/{deposit_id}/receipt"),
        })
    })
    .await?;
    Ok(Json(info))
}

/// `GET /v1/deposits/{id}/receipt`: exactly [`curia_ledger::receipt::Receipt::to_json`].
async fn get_receipt(State(ctx): State<ApiContext>, id: Result<Path<String>, PathRejection>) -> ApiResult<Response> {
    let deposit_id = hash_param("id", &path_param(id, "id", "bad_hex")?)?;
    let json = read_now(&ctx, move |store| {
        let not_committed = || ApiError::new("deposit_not_found", format!("deposit {deposit_id} is not committed"));
        // The tip block's certificate is this node's own quorum until the next block carries
        // the canonical one; a receipt is issued only then, so every node issues the same bytes.
        // Checked on the location first: clients poll while it is pending, and building a
        // receipt decodes the whole block.
        let h = store.deposit_location(&deposit_id)?.ok_or_else(not_committed)?.height;
        if h >= store.tip().height {
            return Err(ApiError::new(
                "receipt_pending",
                format!(
                    "deposit {deposit_id} is committed in block {h}; its receipt is issued once block {} carries \
                     the block's final certificate (about one block interval)",
                    h + 1
                ),
            )
            .retry_after(1));
        }
        let r = store.receipt(&deposit_id)?.ok_or_else(not_committed)?;
        Ok(r.to_json())
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], json).into_response())
}

/// `GET /v1/digests/{sha256}`: every committed deposit of a commitment (empty list if none).
async fn get_digest(
    State(ctx): State<ApiContext>,
    d: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<DigestDeposits>> {
    let commitment = hash_param("sha256", &path_param(d, "sha256", "bad_hex")?)?;
    let deposit_ids = read(&ctx, move |store| Ok(store.deposits_by_digest(&commitment)?)).await?;
    Ok(Json(DigestDeposits { commitment, deposit_ids }))
}

/// `GET /v1/blocks/{height}`.
async fn get_block(
    State(ctx): State<ApiContext>,
    h: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<BlockInfo>> {
    let h = path_param(h, "height", "bad_height")?;
    let height: u64 = h
        .parse()
        .map_err(|_| ApiError::new("bad_height", format!("path parameter height is not a decimal number: {h:?}")))?;
    let info = read(&ctx, move |store| {
        let not_found = || ApiError::new("block_not_found", format!("block {height} not found"));
        let header = store.header(height)?.ok_or_else(not_found)?;
        let certificate = store.cert(height)?.ok_or_else(not_found)?;
        Ok(BlockInfo {
            height,
            block_hash: header.hash(),
            tx_count: header.tx_count,
            commit_time_ms: certificate.commit_time_ms(),
            header,
            certificate,
        })
    })
    .await?;
    Ok(Json(info))
}

/// `GET /v1/blocks/{height}/txs`: the IDs of a committed block's transactions, in order.
async fn get_block_txs(
    State(ctx): State<ApiContext>,
    h: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<BlockTxs>> {
    let h = path_param(h, "height", "bad_height")?;
    let height: u64 = h
        .parse()
        .map_err(|_| ApiError::new("bad_height", format!("path parameter height is not a decimal number: {h:?}")))?;
    let chain_id = ctx.spec.chain_id;
    let info = read(&ctx, move |store| {
        let not_found = || ApiError::new("block_not_found", format!("block {height} not found"));
        let block = store.block(height)?.ok_or_else(not_found)?;
        let cert = store.cert(height)?.ok_or_else(not_found)?;
        let tx_ids = block.txs.iter().map(|t| t.id(&chain_id)).collect();
        Ok(BlockTxs { height, commit_time_ms: cert.commit_time_ms(), tx_ids })
    })
    .await?;
    Ok(Json(info))
}

/// The reader of a signed read request (`docs/api.md`, "Signed reads"): its three headers are
/// present and well formed, its time is within [`READ_MAX_SKEW_MS`] of this node's clock, and its
/// signature covers this chain, `method` and `path`. Who may read is checked by the caller.
fn signed_reader(
    ctx: &ApiContext,
    method: &str,
    path: &str,
    headers: &axum::http::HeaderMap,
) -> ApiResult<curia_ledger::crypto::PublicKey> {
    use curia_ledger::crypto::{PublicKey, Signature};
    let value = |name: &'static str| -> ApiResult<String> {
        let v = headers.get(name).ok_or_else(|| {
            ApiError::new(
                "unsigned_request",
                format!(
                    "reading case records needs a signed request: header {name} is missing (send \
                     {HEADER_READER}, {HEADER_TIMESTAMP} and {HEADER_SIGNATURE}; see docs/api.md)"
                ),
            )
        })?;
        Ok(String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
    };
    let (reader, ts, sig) = (value(HEADER_READER)?, value(HEADER_TIMESTAMP)?, value(HEADER_SIGNATURE)?);
    let reader = PublicKey::from_hex(&reader)
        .and_then(|k| k.check().map(|()| k))
        .map_err(|e| ApiError::new("bad_key", format!("header {HEADER_READER}: {e}")))?;
    let timestamp_ms: u64 = (!ts.is_empty() && ts.len() <= 20 && ts.bytes().all(|b| b.is_ascii_digit()))
        .then(|| ts.parse().ok())
        .flatten()
        .ok_or_else(|| {
            ApiError::new("bad_timestamp", format!("header {HEADER_TIMESTAMP} is not decimal milliseconds: {ts:?}"))
        })?;
    let signature =
        Signature::from_hex(&sig).map_err(|e| ApiError::new("bad_hex", format!("header {HEADER_SIGNATURE}: {e}")))?;
    let now = crate::clock::now_ms();
    verify_read_request(&ctx.spec.chain_id, method, path, &reader, timestamp_ms, &signature, now, READ_MAX_SKEW_MS)
        .map_err(|e| ApiError::new(e.code(), e.to_string()))?;
    Ok(reader)
}

/// What a signed read signs as its path: the path and the query as the request carries them
/// (`/v1/chain?from=1&count=2`), the path alone when there is no query.
fn request_target(uri: &axum::http::Uri) -> &str {
    uri.path_and_query().map_or(uri.path(), |pq| pq.as_str())
}

/// A refused signed read as a response: every 401 carries `WWW-Authenticate: Curia-Signature`.
fn read_refusal(e: ApiError) -> Response {
    let challenge = e.status == StatusCode::UNAUTHORIZED;
    let mut r = e.into_response();
    if challenge {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Curia-Signature"));
    }
    r
}

/// 403 `forbidden_reader` unless `reader` [`may_read_cases`] in the committed state (a store
/// read: call it on the blocking pool).
fn check_case_reader(spec: &ChainSpec, store: &Store, reader: &curia_ledger::crypto::PublicKey) -> ApiResult<()> {
    if !may_read_cases(spec, &store.state(), reader)? {
        return Err(ApiError::new(
            "forbidden_reader",
            format!("key {reader} may not read cases (only judges, auditors and court validators may)"),
        ));
    }
    Ok(())
}

/// `GET /v1/cases/{id}`: only for a signed request ([`signed_reader`]) by a key that
/// [`may_read_cases`] (an active judge or auditor client, or a court validator). Refusals are
/// 401 (`unsigned_request`, `stale_request`, `bad_read_signature`, with `WWW-Authenticate`), 400
/// for malformed headers and 403 `forbidden_reader`, all before the case is looked up.
async fn get_case(
    State(ctx): State<ApiContext>,
    id: Result<Path<String>, PathRejection>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> Result<Json<CaseInfo>, Response> {
    let id = path_param(id, "id", "bad_case_id").map_err(IntoResponse::into_response)?;
    check_case_id(&id).map_err(|e| ApiError::new("bad_case_id", format!("path parameter id: {e}")).into_response())?;
    let reader = signed_reader(&ctx, "GET", request_target(&uri), &headers).map_err(read_refusal)?;
    let spec = ctx.spec.clone();
    let info = read(&ctx, move |store| {
        check_case_reader(&spec, store, &reader)?;
        let status =
            store.case_status(&id)?.ok_or_else(|| ApiError::new("case_not_found", format!("case {id} not found")))?;
        let records = store.case_records(&id)?.into_iter().map(case_record).collect();
        Ok(CaseInfo {
            case_id: id,
            owner: status.record.owner,
            open: status.record.open,
            record_count: status.records,
            records,
        })
    })
    .await
    .map_err(IntoResponse::into_response)?;
    Ok(Json(info))
}

/// A stored case record as the API shows it.
fn case_record(e: CaseEntry) -> CaseRecord {
    let event = match e.event {
        StoredEvent::Opened { owner } => CaseEvent::Opened { owner },
        StoredEvent::Attached { deposit } => CaseEvent::Attached { deposit },
        StoredEvent::Verified { deposit, valid } => CaseEvent::Verified { deposit, valid },
        StoredEvent::Closed => CaseEvent::Closed,
    };
    CaseRecord { height: e.height, tx_index: e.tx_index, event }
}

/// `GET /v1/status`.
async fn get_status(State(ctx): State<ApiContext>) -> Json<NodeStatus> {
    Json(ctx.status.borrow().clone())
}

/// Chain frames being built at the same time (each holds up to
/// [`crate::chain_stream::CHAIN_BYTE_BUDGET`] bytes); more get 503 `busy`.
static CHAIN_READS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(CHAIN_READ_CONCURRENCY);

/// The query of `GET /v1/chain`: `from` (at least 1) and `count` (1 to
/// [`crate::chain_stream::MAX_CHAIN_BLOCKS`], default the maximum). Anything else is 400 `bad_query`.
fn chain_query(q: Option<&str>) -> ApiResult<(u64, u32)> {
    use crate::chain_stream::MAX_CHAIN_BLOCKS;
    let bad = |m: String| ApiError::new("bad_query", m);
    let (mut from, mut count) = (None, None);
    for pair in q.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').ok_or_else(|| bad(format!("query parameter {pair:?} has no value")))?;
        let slot = match k {
            "from" => &mut from,
            "count" => &mut count,
            _ => return Err(bad(format!("unknown query parameter {k:?} (expected from, count)"))),
        };
        if slot.is_some() {
            return Err(bad(format!("query parameter {k} is given twice")));
        }
        if v.is_empty() || v.len() > 20 || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(format!("query parameter {k} is not a decimal number: {v:?}")));
        }
        *slot = Some(v.parse::<u64>().map_err(|_| bad(format!("query parameter {k} is too large: {v}")))?);
    }
    let from = from.ok_or_else(|| bad("query parameter from is missing (the first height, at least 1)".into()))?;
    if from == 0 {
        return Err(bad("from must be at least 1 (height 0 is the genesis, served by /v1/genesis)".into()));
    }
    let count = count.unwrap_or(u64::from(MAX_CHAIN_BLOCKS));
    if count == 0 || count > u64::from(MAX_CHAIN_BLOCKS) {
        return Err(bad(format!("count must be 1 to {MAX_CHAIN_BLOCKS}, not {count}")));
    }
    Ok((from, count as u32))
}

/// `GET /v1/chain?from=H&count=N`: committed blocks and their certificates from height `H`, in
/// the binary frame of [`crate::chain_stream`], for auditors. Stops early at the tip, at `N`
/// blocks, or at the frame's byte budget; the frame's header says how many it holds.
///
/// The blocks hold case transactions in clear, so this is a case read: like `GET /v1/cases/{id}`
/// it needs a signed request ([`signed_reader`]) by a key that [`may_read_cases`]. The signed
/// path includes the query (`/v1/chain?from=1&count=256`; see `docs/api.md`, "Signed reads"),
/// so a captured request cannot be replayed for another range. Order:
/// 400 `bad_query`; 401 / 400 for the signature and its headers; 403 `forbidden_reader`; then
/// 503 `busy`, so a refused request never takes one of the [`CHAIN_READ_CONCURRENCY`] slots.
async fn get_chain(
    State(ctx): State<ApiContext>,
    axum::extract::RawQuery(q): axum::extract::RawQuery,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> Result<Response, Response> {
    use crate::chain_stream::FrameWriter;
    use curia_ledger::codec::Canonical;
    let (from, count) = chain_query(q.as_deref()).map_err(IntoResponse::into_response)?;
    let reader = signed_reader(&ctx, "GET", request_target(&uri), &headers).map_err(read_refusal)?;
    let spec = ctx.spec.clone();
    read(&ctx, move |store| check_case_reader(&spec, store, &reader)).await.map_err(IntoResponse::into_response)?;
    let _permit = CHAIN_READS.try_acquire().map_err(|_| {
        ctx.metrics.inc_rejected("busy");
        ApiError::new("busy", "too many chain reads in progress; retry later")
            .retry_after(BUSY_RETRY_AFTER_S)
            .into_response()
    })?;
    let frame = read(&ctx, move |store| {
        let tip = store.tip().height;
        let mut w = FrameWriter::new(&store.spec().chain_id, from, tip);
        let last = tip.min(from.saturating_add(u64::from(count) - 1));
        let mut h = from;
        while h <= last {
            let missing =
                |what: &str| ApiError::new("storage", format!("{what} at height {h} is missing below the tip {tip}"));
            let block = store.block(h)?.ok_or_else(|| missing("block"))?;
            let cert = store.cert(h)?.ok_or_else(|| missing("certificate"))?;
            if !w.push(h, &block.to_bytes(), &cert.to_bytes()) {
                break;
            }
            h += 1;
        }
        Ok(w.finish())
    })
    .await
    .map_err(IntoResponse::into_response)?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], frame).into_response())
}

/// `GET /v1/validators[?height=H]`: the validator set in force at height `H` (default: the next
/// height, tip + 1), from the genesis and the committed membership changes. Sets are known up to
/// tip + 2 (a change committed at `h` is in force from `h + 2`); a later height is 404
/// `height_not_known`; a query other than one decimal `height` of at least 1 is 400 `bad_query`.
async fn get_validators(
    State(ctx): State<ApiContext>,
    axum::extract::RawQuery(q): axum::extract::RawQuery,
) -> ApiResult<Json<curia_api_types::ValidatorsAnswer>> {
    let bad = |m: String| ApiError::new("bad_query", m);
    let asked = match q.as_deref() {
        None | Some("") => None,
        Some(q) => {
            let v = q.strip_prefix("height=").ok_or_else(|| bad(format!("unknown query {q:?}; expected height=H")))?;
            let h: u64 = v.parse().map_err(|_| bad(format!("height {v:?} is not a decimal number")))?;
            if h == 0 {
                return Err(bad("height must be at least 1".into()));
            }
            Some(h)
        }
    };
    let spec = ctx.spec.clone();
    let answer = read(&ctx, move |store| {
        let tip = store.tip().height;
        let height = asked.unwrap_or(tip + 1);
        let known = tip + curia_ledger::membership::ACTIVATION_DELAY;
        if height > known {
            return Err(ApiError::new(
                "height_not_known",
                format!("the set in force at height {height} is not known yet (tip {tip}; known up to {known})"),
            ));
        }
        let m = crate::members::stored_membership(&spec, store).map_err(|e| ApiError::new("storage", e.to_string()))?;
        let set = m.set_at(height);
        Ok(curia_api_types::ValidatorsAnswer {
            height,
            tip,
            set_hash: set.hash,
            total_power: set.total_power,
            quorum_power: set.quorum_power(),
            next_seq: m.len(),
            validators: set
                .validators
                .iter()
                .enumerate()
                .map(|(i, v)| curia_api_types::ValidatorInfo {
                    index: i as u32,
                    name: v.name.clone(),
                    role: v.role,
                    key: v.key,
                    power: v.power,
                    address: v.address.clone(),
                })
                .collect(),
        })
    })
    .await?;
    Ok(Json(answer))
}

/// `GET /v1/genesis`: the node's genesis JSON, for auditors to compare with the published one.
async fn get_genesis(State(ctx): State<ApiContext>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], ctx.spec.genesis.to_json()).into_response()
}

/// `GET /v1/membership`: the membership history (every committed validator-set change with the
/// header, certificate and inclusion proof of the block that committed it; receipt format 13),
/// as [`curia_api_types::MembershipHistory`] JSON. Public, like the genesis.
async fn get_membership(State(ctx): State<ApiContext>) -> ApiResult<Response> {
    let chain_id = ctx.spec.chain_id;
    let json = read(&ctx, move |store| {
        let entries = store.membership_history()?;
        Ok(curia_api_types::MembershipHistory::new(chain_id, entries).to_json())
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], json).into_response())
}

/// `GET /verify`: the judge's offline verification page, `web/dist/verify.html` (built from `web/`
/// and committed), served as is with the Content-Security-Policy it was built with
/// (`web/dist/verify.csp`: only its own inline script and style, WebAssembly compiled from that
/// script, no request of any kind).
async fn get_verify_page() -> Response {
    const PAGE: &str = include_str!("../../web/dist/verify.html");
    const CSP: &str = include_str!("../../web/dist/verify.csp");
    let csp = HeaderValue::from_str(&format!("{}; frame-ancestors 'none'", CSP.trim()))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"));
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
            (header::CONTENT_SECURITY_POLICY, csp),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        ],
        PAGE,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_node_and_ledger_code_has_a_deliberate_status() {
        assert_eq!(error_status("bad_json"), StatusCode::BAD_REQUEST);
        assert_eq!(error_status("bad_signature"), StatusCode::BAD_REQUEST);
        assert_eq!(error_status("unknown_sender"), StatusCode::FORBIDDEN);
        assert_eq!(error_status("wrong_role"), StatusCode::FORBIDDEN);
        assert_eq!(error_status("duplicate"), StatusCode::CONFLICT);
        assert_eq!(error_status("mempool_full"), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(error_status("invalid_field"), StatusCode::UNPROCESSABLE_ENTITY);
        for code in ["unsigned_request", "stale_request", "bad_read_signature"] {
            assert_eq!(error_status(code), StatusCode::UNAUTHORIZED, "{code}");
        }
        assert_eq!(error_status("forbidden_reader"), StatusCode::FORBIDDEN);
        assert_eq!(error_status("bad_timestamp"), StatusCode::BAD_REQUEST);
        let full = ApiError::from(NodeError::MempoolFull { pending: 1, bytes: 2, retry_after_ms: 1500 });
        assert_eq!(full.retry_after_s, Some(2));
        let full = ApiError::from(NodeError::MempoolFull { pending: 1, bytes: 2, retry_after_ms: 0 });
        assert_eq!(full.retry_after_s, Some(1));
    }
}
