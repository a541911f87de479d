//! Interactive reads ahead of bulk work: the node's two tokio runtimes and their priorities.
//!
//! `curia node run` ([`Runtimes::build`], then [`crate::run::run_node_with_api`]) runs the HTTP
//! API (its listener, connections and reads such as `GET /v1/deposits/{id}/receipt`) on a small
//! runtime of its own at the process's priority, and everything else on the bulk runtime:
//! consensus and the driver (building, checking and committing blocks, the synced writes), the
//! peer network, the ops listener, and the work of a submission that arrives through the API
//! (parsing, admission's signature checks, the wait for the driver; see `crate::api`). Every
//! thread of the bulk runtime, its blocking pool included, lowers its own priority by the given
//! steps of `nice` when it starts (Linux keeps a nice value per thread, and raising one's own
//! needs no privilege). Threads that those threads start inherit it: RocksDB's flush and
//! compaction threads are started by the store, which the bulk runtime opens.
//!
//! Why: on a machine where the validators' bulk work keeps every core busy, a receipt request
//! otherwise waits for a core behind a commit's work (the scheduler's slices are milliseconds),
//! while the receipt itself takes 0.1-0.35 ms (docs/performance.md, "Receipts under load").
//! When nothing interactive runs, the bulk runtime has the whole machine as before: a nice value
//! only weighs threads against each other when they compete.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::runtime::{Builder, Runtime};

use crate::limits::{API_MAX_BLOCKING_THREADS, API_WORKER_THREADS, MAX_NICE};

/// The environment variable that overrides [`crate::limits::BULK_NICE`] for `curia node run`.
pub const BULK_NICE_ENV: &str = "CURIA_BULK_NICE";

/// The bulk runtime's nice step: `value` of [`BULK_NICE_ENV`] when given (0 to 19), else
/// [`crate::limits::BULK_NICE`].
pub fn bulk_nice_from(value: Option<&str>) -> Result<i32, crate::NodeError> {
    match value {
        None => Ok(crate::limits::BULK_NICE),
        Some(v) => match v.trim().parse::<i32>() {
            Ok(n) if (0..=MAX_NICE).contains(&n) => Ok(n),
            _ => Err(crate::NodeError::Config(format!(
                "{BULK_NICE_ENV} must be a whole number from 0 to {MAX_NICE}, not {:?}",
                v.chars().take(40).collect::<String>()
            ))),
        },
    }
}

/// The calling thread's nice value (Linux: the thread's own).
pub fn current_nice() -> std::io::Result<i32> {
    Ok(rustix::process::getpriority_process(None)?)
}

/// Lower the calling thread's priority to nice `target` (at most 19), unless it is already that
/// low or lower (a thread started by a lowered thread inherits its value). Returns the thread's
/// nice value after.
pub fn lower_current_thread_to(target: i32) -> std::io::Result<i32> {
    let now = current_nice()?;
    let target = target.min(MAX_NICE);
    if now >= target {
        return Ok(now);
    }
    rustix::process::setpriority_process(None, target)?;
    Ok(target)
}

/// The node's two runtimes: `api` at the process's priority, `bulk` [`Runtimes::bulk_nice`]
/// steps of `nice` below it.
pub struct Runtimes {
    /// The HTTP API's runtime ([`API_WORKER_THREADS`] workers).
    pub api: Runtime,
    /// Everything else (one worker per core, tokio's default).
    pub bulk: Runtime,
    /// The nice step of the bulk runtime's threads.
    pub bulk_nice: i32,
}

impl Runtimes {
    /// Build both runtimes; `bulk_nice` is 0 to 19. A thread that cannot lower its priority
    /// (not expected on Linux) runs at the process's and says so once in the log.
    pub fn build(bulk_nice: i32) -> std::io::Result<Runtimes> {
        let api = Builder::new_multi_thread()
            .worker_threads(API_WORKER_THREADS)
            .max_blocking_threads(API_MAX_BLOCKING_THREADS)
            .thread_name("curia-api")
            .enable_all()
            .build()?;
        let steps = bulk_nice.clamp(0, MAX_NICE);
        // Relative to the building thread's value, not to each new thread's: a blocking thread
        // started by a bulk worker already has the lowered value, and keeps it.
        let target = current_nice()?.saturating_add(steps).min(MAX_NICE);
        static WARNED: AtomicBool = AtomicBool::new(false);
        let bulk = Builder::new_multi_thread()
            .thread_name("curia-bulk")
            .on_thread_start(move || {
                if let Err(e) = lower_current_thread_to(target) {
                    if !WARNED.swap(true, Ordering::Relaxed) {
                        tracing::warn!("cannot lower the bulk threads' priority: {e}");
                    }
                }
            })
            .enable_all()
            .build()?;
        Ok(Runtimes { api, bulk, bulk_nice: steps })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nice_step_is_bounded() {
        assert_eq!(bulk_nice_from(None).unwrap(), crate::limits::BULK_NICE);
        assert_eq!(bulk_nice_from(Some("0")).unwrap(), 0);
        assert_eq!(bulk_nice_from(Some(" 19 ")).unwrap(), 19);
        for bad in ["20", "-1", "ten", "", "1e3"] {
            assert!(bulk_nice_from(Some(bad)).is_err(), "{bad:?} accepted");
        }
    }

    /// Each runtime's threads run at their own priority: the bulk runtime's workers and
    /// blocking threads lowered, the API's not, and a thread started by a bulk thread inherits
    /// the bulk priority.
    #[test]
    fn bulk_threads_run_below_api_threads() {
        let base = rustix::process::getpriority_process(None).unwrap();
        let rt = Runtimes::build(3).unwrap();
        let nice = || rustix::process::getpriority_process(None).unwrap();
        let want_bulk = (base + 3).min(MAX_NICE);
        // A blocking thread started by a (lowered) worker: lowered once, not twice.
        let from_worker = rt.bulk.block_on(async {
            tokio::spawn(async move { tokio::task::spawn_blocking(nice).await.unwrap() }).await.unwrap()
        });
        assert_eq!(from_worker, want_bulk);
        let on_worker = rt.bulk.block_on(async { tokio::spawn(async move { nice() }).await.unwrap() });
        let on_blocking = rt.bulk.block_on(async { tokio::task::spawn_blocking(nice).await.unwrap() });
        let inherited = rt.bulk.block_on(async {
            tokio::task::spawn_blocking(move || std::thread::spawn(nice).join().unwrap()).await.unwrap()
        });
        assert_eq!((on_worker, on_blocking, inherited), (want_bulk, want_bulk, want_bulk));
        let api_worker = rt.api.block_on(async { tokio::spawn(async move { nice() }).await.unwrap() });
        let api_blocking = rt.api.block_on(async { tokio::task::spawn_blocking(nice).await.unwrap() });
        assert_eq!((api_worker, api_blocking), (base, base));
        // This (test) thread is unchanged.
        assert_eq!(nice(), base);
    }
}
