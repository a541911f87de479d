//! Assembling a node: configuration, store, network, API, ops listener and driver.

use std::sync::Arc;
use std::time::Duration;

use curia_consensus::Timeouts;
use curia_ledger::crypto::PublicKey;
use curia_ledger::genesis::Genesis;
use curia_storage::Store;
use tokio::sync::{mpsc, watch};

use crate::api::{self, ApiContext, NodeStatus};
use crate::config::{read_key, NodeConfig};
use crate::driver::{self, DriverParts, Pacing};
use crate::mempool::MempoolConfig;
use crate::net::{self, NetConfig};
use crate::ops::{self, Metrics};
use crate::NodeError;

/// Most client submissions queued between the API and the driver.
pub use crate::limits::SUBMIT_QUEUE;

/// Run a validator node until `shutdown` resolves, everything on the current runtime.
pub async fn run_node(
    cfg: NodeConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), NodeError> {
    run_node_with_api(cfg, shutdown, None).await
}

/// Run a validator node until `shutdown` resolves (SIGTERM or Ctrl-C in `curia node run`). With
/// `api`, the HTTP API's listener and connections run on that runtime and the rest on the
/// current one, which also does the work of submissions (see [`crate::priority`]).
pub async fn run_node_with_api(
    cfg: NodeConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    api: Option<tokio::runtime::Handle>,
) -> Result<(), NodeError> {
    cfg.consensus.check()?;
    cfg.checkpoints.check()?;
    let genesis_bytes = std::fs::read(&cfg.node.genesis)
        .map_err(|e| NodeError::Config(format!("cannot read genesis {}: {e}", cfg.node.genesis.display())))?;
    let spec = Arc::new(Genesis::from_json(&genesis_bytes)?);
    let key = read_key(&cfg.node.key)?;
    // TLS files are checked before anything is opened, so a bad file stops the start at once.
    let api_tls = cfg.api.tls.as_ref().map(|t| crate::tls::server_config("api", t)).transpose()?;
    let ops_tls = cfg.ops.tls.as_ref().map(|t| crate::tls::server_config("ops", t)).transpose()?;
    let signing = Arc::new(crate::signing::SigningRecord::open(&cfg.node.data_dir)?);
    let store = Arc::new(
        Store::open(cfg.node.data_dir.join(curia_storage::STORE_SUBDIR), &spec)
            .map_err(|e| NodeError::Storage(e.to_string()))?,
    );
    // A key in no set of the chain's history may still be a validator that a membership change
    // (committed, but not yet synced by this node) adds: it follows commits until then.
    let membership = crate::members::stored_membership(&spec, &store)?;
    let tip = store.tip().height;
    let known = |k| {
        spec.validator_index(k).is_some()
            || membership.latest().index_of(k).is_some()
            || membership.set_at(tip + 1).index_of(k).is_some()
    };
    if !known(&key.public()) {
        tracing::warn!(
            key = %key.public(),
            "this key is not a validator of the genesis or of the stored validator set: following the chain until a membership change adds it"
        );
    }
    let peers = crate::members::validator_peers(&membership, tip, &cfg.network.addresses)?;
    let observers = cfg
        .network
        .observers
        .iter()
        .map(|k| PublicKey::from_hex(k).map_err(|e| NodeError::Config(format!("observer key: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    for name in cfg.network.addresses.keys() {
        let named = |set: &curia_ledger::membership::ValidatorSet| set.validators.iter().any(|v| &v.name == name);
        if !spec.genesis.validators.iter().any(|v| &v.name == name) && !named(membership.latest()) {
            return Err(NodeError::Config(format!(
                "[network.addresses]: no validator named {name:?} in the genesis or the stored validator set"
            )));
        }
    }
    let listen = cfg.network.listen.parse().map_err(|e| NodeError::Config(format!("network.listen: {e}")))?;
    let net_cfg = NetConfig { listen, peers, observers, request_timeout: Duration::from_secs(10) };
    let (net, net_events) = net::spawn(&key, net_cfg)?;

    let metrics = Arc::new(Metrics::new());
    let (status_tx, status_rx) = watch::channel(NodeStatus::default());
    let (submit_tx, submit_rx) = mpsc::channel(SUBMIT_QUEUE);
    let ctx = ApiContext {
        spec: spec.clone(),
        store: store.clone(),
        submit: submit_tx,
        status: status_rx.clone(),
        metrics: metrics.clone(),
        bulk: api.as_ref().map(|_| tokio::runtime::Handle::current()),
    };

    let bind = |what: &'static str, addr| async move {
        tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| NodeError::Config(format!("cannot listen on {what} {addr}: {e}")))
    };
    // The API's listener is registered with the API runtime's reactor, so that its readiness is
    // not delivered by the bulk runtime's threads.
    let api_listener = match &api {
        Some(rt) => rt
            .spawn(bind("api", cfg.api.listen))
            .await
            .map_err(|e| NodeError::Config(format!("cannot listen on api {}: {e}", cfg.api.listen)))??,
        None => bind("api", cfg.api.listen).await?,
    };
    let ops_listener = bind("ops", cfg.ops.listen).await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = move |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let api_serve = api::serve_tls(api_listener, ctx, api_tls, stopped(stop_rx.clone()));
    let api_task = match &api {
        Some(rt) => rt.spawn(api_serve),
        None => tokio::spawn(api_serve),
    };
    let backups = ops::Backups::new(
        store.clone(),
        &cfg.node.data_dir,
        ops::BackupPolicy::from_config(&cfg.ops)?,
        metrics.clone(),
    );
    let ops_app = ops::ops_router_with_backup(metrics.clone(), status_rx, backups);
    let ops_stop = stopped(stop_rx.clone());
    let ops_task = tokio::spawn(ops::serve_tls(ops_listener, ops_app, metrics.clone(), ops_tls, ops_stop));
    let scheme = |tls: &Option<_>| if tls.is_some() { "https" } else { "http" };
    tracing::info!(
        node = %cfg.node.name,
        api = %format!("{}://{}", scheme(&cfg.api.tls), cfg.api.listen),
        ops = %format!("{}://{}", scheme(&cfg.ops.tls), cfg.ops.listen),
        p2p = %cfg.network.listen,
        "node started"
    );

    let c = &cfg.consensus;
    let parts = DriverParts {
        spec,
        key,
        next_key: cfg.node.next_key.clone().unwrap_or_else(|| crate::rotation::default_next_key_path(&cfg.node.key)),
        name: cfg.node.name.clone(),
        store: store.clone(),
        net,
        net_events,
        submissions: submit_rx,
        status: status_tx,
        metrics,
        timeouts: Timeouts {
            propose_ms: c.propose_ms,
            prevote_ms: c.prevote_ms,
            precommit_ms: c.precommit_ms,
            delta_ms: c.delta_ms,
            ..Timeouts::default()
        },
        mempool: MempoolConfig {
            max_txs: cfg.mempool.max_txs,
            max_bytes: cfg.mempool.max_bytes,
            ..MempoolConfig::default()
        },
        pacing: Pacing {
            block_interval: Duration::from_millis(c.block_interval_ms),
            empty_block_after: Duration::from_millis(c.empty_block_ms),
        },
        signing,
        address_overrides: cfg.network.addresses.clone(),
        checkpoints: cfg.checkpoints.clone(),
        peer_wait: Duration::from_millis(c.peer_wait_ms),
    };
    // Stopping, in this order (each wait bounded, `crate::limits::SHUTDOWN_BOUND` in all):
    // 1. the driver stops consensus, then cancels its witness pushes and time stamps in flight
    //    (`CHECKPOINT_STOP_WAIT`);
    // 2. the API and ops listeners stop accepting and finish their requests in flight, together,
    //    each within `SHUTDOWN_GRACE` (then the connections left are closed);
    // 3. the store is flushed (every committed write is already in its synced write-ahead log);
    // 4. the caller's runtimes wait `BLOCKING_STOP_WAIT` for blocking-pool work left
    //    (`crate::priority::Runtimes::shutdown`); the store closes when its last user is gone.
    // When the stop was asked for (the time the node takes to stop is logged).
    let asked = Arc::new(std::sync::OnceLock::new());
    let shutdown = {
        let asked = asked.clone();
        async move {
            shutdown.await;
            let _ = asked.set(std::time::Instant::now());
        }
    };
    let result = driver::run(parts, shutdown).await;
    let stopping = asked.get().copied().unwrap_or_else(std::time::Instant::now);
    let _ = stop_tx.send(true);
    let (_, _) = tokio::join!(api_task, ops_task);
    tracing::info!("API and ops listeners stopped");
    store.flush().map_err(|e| NodeError::Storage(e.to_string()))?;
    tracing::info!(took_ms = stopping.elapsed().as_millis() as u64, "store flushed; node stopped");
    result
}
