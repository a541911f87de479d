//! Serving a router over HTTP/1.1 with the bounds a listener open to other institutions needs
//! (used for the API and the ops listener; `axum::serve` has none of them).
//!
//! Rules:
//! - At most [`ConnLimits::max_connections`] open connections, and at most
//!   [`ConnLimits::max_per_ip`] from one IP address. A connection over either cap is answered at
//!   once, without reading its request, with 503 `too_many_connections` (JSON, `Retry-After`) and
//!   closed; it is counted in `curia_refused_connections_total{reason}` (`too_many_connections`,
//!   `too_many_connections_from_address`).
//! - A request head must arrive within [`HEADER_READ_TIMEOUT`] (also the idle time allowed
//!   between requests on a kept-alive connection) and fit [`MAX_HEAD_BYTES`]; otherwise hyper
//!   closes the connection (431 for an oversized head). Timeouts are counted as `header_timeout`.
//!   So a connection costs at most one small read buffer, and not for long, unless it is
//!   sending a body, which the handlers bound ([`crate::api`]: body deadline and byte budget).
//! - On a TLS listener ([`crate::tls`]) the handshake happens after admission, so it counts
//!   towards both caps, and must finish within [`TLS_HANDSHAKE_TIMEOUT`]; a plain-HTTP client
//!   gets a JSON 400 `tls_required` and is closed. Counted as `tls_handshake_timeout`,
//!   `tls_handshake_failed`, `tls_required`.
//! - On shutdown the server stops accepting, lets each connection finish the request in flight
//!   (idle ones close at once), and after [`SHUTDOWN_GRACE`] closes whatever is left.
//! - A request that hyper cannot parse gets hyper's own empty 400 and the connection closes:
//!   the one kind of error answer that is not JSON (there is no request to answer in JSON).

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::limits::{BUSY_RETRY_AFTER_S, HEADER_READ_TIMEOUT, MAX_HEAD_BYTES, SHUTDOWN_GRACE, TLS_HANDSHAKE_TIMEOUT};
use crate::ops::Metrics;
use crate::tls::{TlsConfig, TLS_HANDSHAKE_RECORD};

/// Connection caps of one listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnLimits {
    /// The listener's name in metrics (`api`, `ops`).
    pub name: &'static str,
    /// Most open connections.
    pub max_connections: usize,
    /// Most open connections from one IP address.
    pub max_per_ip: usize,
}

/// Open connections, in total and per address. Each admitted connection holds a [`ConnGuard`].
#[derive(Debug)]
struct Tracker {
    limits: ConnLimits,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
    metrics: Arc<Metrics>,
}

/// One admitted connection; dropping it frees its place.
struct ConnGuard {
    tracker: Arc<Tracker>,
    ip: IpAddr,
}

impl Tracker {
    /// Admit a connection from `ip`, or say which cap refuses it.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<ConnGuard, &'static str> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.0 >= self.limits.max_connections {
            return Err("too_many_connections");
        }
        let n = open.1.entry(ip).or_insert(0);
        if *n >= self.limits.max_per_ip {
            return Err("too_many_connections_from_address");
        }
        *n += 1;
        open.0 += 1;
        self.metrics.set_http_connections(self.limits.name, open.0 as u64);
        Ok(ConnGuard { tracker: self.clone(), ip })
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        let mut open = self.tracker.open.lock().unwrap_or_else(|e| e.into_inner());
        open.0 -= 1;
        if let Some(n) = open.1.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.1.remove(&self.ip);
            }
        }
        self.tracker.metrics.set_http_connections(self.tracker.limits.name, open.0 as u64);
    }
}

/// Answer a refused connection with 503 (best effort: one non-blocking write, since the socket's
/// send buffer is empty) and close it.
fn refuse(stream: TcpStream, reason: &str) {
    let message = match reason {
        "too_many_connections" => "the node has too many open connections; retry later",
        _ => "too many open connections from your address; close some, or retry later",
    };
    let body = format!(r#"{{"error":{{"code":"too_many_connections","message":"{message}"}}}}"#);
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         retry-after: {BUSY_RETRY_AFTER_S}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.try_write(answer.as_bytes());
}

/// Answer a plain-HTTP client on a TLS port with 400 `tls_required` (best effort, like
/// [`refuse`]) and close. What the client already sent is read first (at most
/// [`MAX_HEAD_BYTES`], without waiting), so that the close is a clean FIN rather than a reset
/// that could destroy the answer before the client reads it.
fn refuse_plain(stream: TcpStream) {
    let mut buf = [0u8; 4096];
    let mut drained = 0;
    while drained < MAX_HEAD_BYTES {
        match stream.try_read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
    let body = r#"{"error":{"code":"tls_required","message":"this port speaks TLS only: use https://"}}"#;
    let answer = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.try_write(answer.as_bytes());
    if let Ok(s) = stream.into_std() {
        let _ = s.shutdown(std::net::Shutdown::Write);
    }
}

/// The TLS handshake of an admitted connection, within [`TLS_HANDSHAKE_TIMEOUT`]; `Err` names
/// the refusal (already answered when that is possible).
async fn handshake(
    stream: TcpStream,
    acceptor: tokio_rustls::TlsAcceptor,
) -> Result<tokio_rustls::server::TlsStream<TcpStream>, &'static str> {
    let work = async move {
        let mut first = [0u8; 1];
        match stream.peek(&mut first).await {
            Ok(1) if first[0] == TLS_HANDSHAKE_RECORD => {}
            Ok(1) => {
                refuse_plain(stream);
                return Err("tls_required");
            }
            _ => return Err("tls_handshake_failed"),
        }
        acceptor.accept(stream).await.map_err(|_| "tls_handshake_failed")
    };
    tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, work).await.unwrap_or(Err("tls_handshake_timeout"))
}

/// Serve `app` on `listener` with `limits` until `shutdown` completes (see the module rules).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_tls(listener, app, limits, metrics, None, shutdown).await
}

/// [`serve`], speaking TLS with `tls` when it is given.
pub async fn serve_tls(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    metrics: Arc<Metrics>,
    tls: Option<TlsConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let tracker = Arc::new(Tracker { limits, open: Mutex::new((0, HashMap::new())), metrics: metrics.clone() });
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT).max_buf_size(MAX_HEAD_BYTES);
    let builder = Arc::new(builder);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors or a connection reset before accept: wait a little
                    // rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        while tasks.try_join_next().is_some() {}
        let guard = match tracker.admit(peer.ip()) {
            Ok(g) => g,
            Err(reason) => {
                metrics.inc_refused_connection(reason);
                refuse(stream, reason);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (builder, app, metrics, stop) = (builder.clone(), app.clone(), metrics.clone(), stop_rx.clone());
        let acceptor = acceptor.clone();
        tasks.spawn(async move {
            let _guard = guard;
            match acceptor {
                None => serve_conn(&builder, TokioIo::new(stream), app, &metrics, stop).await,
                Some(acceptor) => {
                    let mut stop_early = stop.clone();
                    let tls = tokio::select! {
                        r = handshake(stream, acceptor) => r,
                        // A stopping server does not wait for handshakes.
                        _ = stop_early.wait_for(|s| *s) => return,
                    };
                    match tls {
                        Ok(s) => serve_conn(&builder, TokioIo::new(s), app, &metrics, stop).await,
                        Err(reason) => metrics.inc_refused_connection(reason),
                    }
                }
            }
        });
    }
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(left = tasks.len(), "closing connections still busy after the shutdown grace period");
        tasks.abort_all();
    }
    Ok(())
}

/// Serve one admitted (and, on a TLS listener, handshaken) connection until it closes or the
/// server stops.
async fn serve_conn<I>(builder: &http1::Builder, io: I, app: Router, metrics: &Metrics, mut stop: watch::Receiver<bool>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let conn = builder.serve_connection(io, TowerToHyperService::new(app));
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        () = async { let _ = stop.wait_for(|s| *s).await; } => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        if e.is_timeout() {
            metrics.inc_refused_connection("header_timeout");
        }
    }
}
