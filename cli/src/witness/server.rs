//! The witness's HTTP/1.1 server.
//!
//! Routes (c2sp.org/tlog-witness; submission and monitoring prefix are both `/`):
//! - `POST /add-checkpoint`: the body (at most `MAX_REQUEST_BYTES`, received within
//!   [`BODY_TIMEOUT`]) goes to `curia_transparency::witness`; the answer is 200 with the
//!   cosignature line, or the refusal's status and body (409: the witness's size, content type
//!   `text/x.tlog.size`). An oversized body is 413, a slow one 408, a store failure 500.
//! - `GET /<hex SHA-256 of origin>/checkpoint`: the latest cosigned checkpoint (log signatures
//!   and the witness's cosignature), 404 if none.
//!
//! Bounds: at most [`MAX_CONNECTIONS`] connections (more are closed at once), a request head
//! within [`HEADER_TIMEOUT`] and [`MAX_HEAD_BYTES`]. Check, cosign and persist run under one
//! lock on the blocking pool, and the record is on disk before the 200 leaves.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use curia_transparency::witness::{AddCheckpoint, Refusal, Witness, MAX_REQUEST_BYTES};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::config::Config;
use super::store::{Record, Store};

/// Most open connections.
pub const MAX_CONNECTIONS: usize = 256;
/// Time allowed for a request head (and idle time between kept-alive requests).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head.
pub const MAX_HEAD_BYTES: usize = 16 << 10;
/// Time allowed to receive a request body.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

struct Shared {
    witness: Witness,
    store: Store,
    /// Held while a request is checked, cosigned and persisted.
    lock: Mutex<()>,
}

/// Runs the server until SIGINT or SIGTERM. Prints `listening on ADDR` to stdout once bound.
pub async fn run(cfg: Config) -> Result<()> {
    let store = Store::open(&cfg.state_dir)?;
    // Read every log's state now: a corrupt file stops the witness before it answers anything.
    for log in cfg.witness.logs() {
        store.load(&log.origin)?;
    }
    let listener = TcpListener::bind(cfg.listen).await.with_context(|| format!("listen on {}", cfg.listen))?;
    println!("listening on {}", listener.local_addr()?);
    eprintln!("witness key {}", cfg.witness.verifier().to_vkey());
    let shared = Arc::new(Shared { witness: cfg.witness, store, lock: Mutex::new(()) });
    let app = Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/{origin_hash}/checkpoint", get(latest))
        .with_state(shared);

    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT).max_buf_size(MAX_HEAD_BYTES);
    let builder = Arc::new(builder);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(_) => { tokio::time::sleep(Duration::from_millis(50)).await; continue; }
            },
            () = &mut shutdown => return Ok(()),
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let (builder, app) = (builder.clone(), app.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let _ = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app)).await;
        });
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! { _ = term.recv() => {}, _ = tokio::signal::ctrl_c() => {} }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

fn text(status: u16, content_type: &'static str, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

const PLAIN: &str = "text/plain; charset=utf-8";

async fn add_checkpoint(State(s): State<Arc<Shared>>, req: Request<Body>) -> Response {
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_REQUEST_BYTES as u64) {
        return text(413, PLAIN, format!("request body larger than {MAX_REQUEST_BYTES} bytes\n"));
    }
    let body = match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(req.into_body(), MAX_REQUEST_BYTES)).await
    {
        Err(_) => return text(408, PLAIN, "request body not received in time\n".into()),
        Ok(Err(_)) => {
            return text(413, PLAIN, format!("request body unreadable or larger than {MAX_REQUEST_BYTES} bytes\n"))
        }
        Ok(Ok(b)) => b,
    };
    match tokio::task::spawn_blocking(move || s.handle(&body)).await {
        Ok(r) => r,
        Err(_) => text(500, PLAIN, "internal error\n".into()),
    }
}

impl Shared {
    /// Checks, cosigns and persists one request (blocking: runs under the lock, syncs to disk).
    fn handle(&self, body: &[u8]) -> Response {
        let refuse = |r: Refusal| text(r.status(), r.content_type(), r.body());
        let req = match AddCheckpoint::parse(body) {
            Ok(r) => r,
            Err(e) => return refuse(Refusal::BadRequest(e)),
        };
        let origin = match Witness::origin_of(&req) {
            Ok(o) => o,
            Err(r) => return refuse(r),
        };
        if self.witness.log(&origin).is_none() {
            return refuse(Refusal::UnknownOrigin(origin));
        }
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let current = match self.store.load(&origin) {
            Ok(c) => c.map(|r| r.state),
            Err(e) => return text(500, PLAIN, format!("witness state unreadable: {e:#}\n")),
        };
        let accepted = match self.witness.check(&req, current) {
            Ok(a) => a,
            Err(r) => return refuse(r),
        };
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let cosig = match self.witness.cosign(&accepted, now) {
            Ok(c) => c,
            Err(e) => return text(500, PLAIN, format!("cannot cosign: {e}\n")),
        };
        let record = Record { state: accepted.state(), note: Witness::cosigned_note(&accepted, &cosig) };
        if let Err(e) = self.store.save(&origin, &record) {
            return text(500, PLAIN, format!("cannot persist: {e:#}\n"));
        }
        text(200, PLAIN, cosig.to_line())
    }
}

async fn latest(State(s): State<Arc<Shared>>, Path(origin_hash): Path<String>) -> Response {
    let origins: Vec<String> = s.witness.logs().iter().map(|l| l.origin.clone()).collect();
    let found = tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = origins.iter().map(String::as_str).collect();
        s.store.load_by_hash(&origin_hash, &refs)
    })
    .await;
    match found {
        Ok(Ok(Some(r))) => {
            text(200, PLAIN, String::from_utf8(r.note).unwrap_or_else(|_| String::from("corrupt record\n")))
        }
        Ok(Ok(None)) => text(404, PLAIN, "no checkpoint cosigned for this log\n".into()),
        _ => text(500, PLAIN, "witness state unreadable\n".into()),
    }
}
