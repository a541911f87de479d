//! The ops listener: `/healthz` and Prometheus `/metrics`, on their own address.
//!
//! Rules:
//! - Metrics are in base units (seconds, bytes) and named `curia_*`; counters end in `_total`.
//!   The full list, with types and meanings, is in `docs/api.md` ("Ops listener").
//! - Recording a metric never blocks and never fails: every metric is an atomic, and the
//!   rejected-transaction family is labelled only by the short stable error codes of
//!   [`crate::NodeError::code`] (a bounded set).
//! - `/healthz` answers 200 as long as the process serves requests, with the node's status.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use tokio::sync::watch;

use crate::api::NodeStatus;

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
    committed_txs: Counter,
    committed_deposits: Counter,
}

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
        let committed_txs = Counter::default();
        registry.register("curia_committed_transactions", "Transactions committed", committed_txs.clone());
        let committed_deposits = Counter::default();
        registry.register(
            "curia_committed_deposits",
            "Deposits committed (a batch counts its items)",
            committed_deposits.clone(),
        );
        Metrics {
            registry,
            height,
            commit_latency,
            mempool_txs,
            mempool_bytes,
            peers,
            rejected,
            committed_txs,
            committed_deposits,
        }
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

/// The ops listener's routes: `GET /healthz` and `GET /metrics`.
pub fn ops_router(metrics: Arc<Metrics>, status: watch::Receiver<NodeStatus>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .with_state(OpsState { metrics, status })
}

#[derive(serde::Serialize)]
struct Health {
    status: &'static str,
    node: NodeStatus,
}

async fn healthz(State(s): State<OpsState>) -> Json<Health> {
    Json(Health { status: "ok", node: s.status.borrow().clone() })
}

async fn metrics_text(State(s): State<OpsState>) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], s.metrics.encode()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
