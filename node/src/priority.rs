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
//!
//! A nice value decides how much CPU a thread gets over time, not how soon it runs when it
//! wakes: on Linux 6.6+ (EEVDF) a woken API thread may still wait for the running thread's
//! slice to end (1.4 ms by default on this 2-core machine). So the API runtime's threads also
//! ask for a short slice ([`request_slice`], Linux 6.12+; [`crate::limits::API_SLICE_US`],
//! `CURIA_API_SLICE_US`): a thread whose requested slice is shorter than the running one's may
//! take the core when it wakes. It asks for no more CPU, only to be scheduled in smaller pieces;
//! older kernels ignore the request.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::runtime::{Builder, Runtime};

use crate::limits::{API_MAX_BLOCKING_THREADS, API_WORKER_THREADS, MAX_NICE, MAX_SLICE_US, MIN_SLICE_US};

/// The environment variable that overrides [`crate::limits::BULK_NICE`] for `curia node run`.
pub const BULK_NICE_ENV: &str = "CURIA_BULK_NICE";
/// The environment variable that overrides [`crate::limits::API_SLICE_US`] for `curia node run`.
pub const API_SLICE_ENV: &str = "CURIA_API_SLICE_US";

/// The API runtime's requested slice: `value` of [`API_SLICE_ENV`] when given (0: none, the
/// kernel's default; else [`MIN_SLICE_US`] to [`MAX_SLICE_US`] microseconds), else
/// [`crate::limits::API_SLICE_US`].
pub fn api_slice_from(value: Option<&str>) -> Result<Option<Duration>, crate::NodeError> {
    let us = env_number(
        API_SLICE_ENV,
        value,
        crate::limits::API_SLICE_US,
        |n| n == 0 || (MIN_SLICE_US..=MAX_SLICE_US).contains(&n),
        &format!("0 (the kernel's default) or a whole number of microseconds from {MIN_SLICE_US} to {MAX_SLICE_US}"),
    )?;
    Ok((us > 0).then(|| Duration::from_micros(us)))
}

/// `value` of the environment variable `name` as a number `ok` accepts, or `default` when unset;
/// otherwise a configuration error saying what `expected` (the value shown quoted, at most 40
/// characters).
fn env_number<T: std::str::FromStr + Copy>(
    name: &str,
    value: Option<&str>,
    default: T,
    ok: impl Fn(T) -> bool,
    expected: &str,
) -> Result<T, crate::NodeError> {
    let Some(v) = value else { return Ok(default) };
    match v.trim().parse::<T>() {
        Ok(n) if ok(n) => Ok(n),
        _ => Err(crate::NodeError::Config(format!(
            "{name} must be {expected}, not {:?}",
            v.chars().take(40).collect::<String>()
        ))),
    }
}

/// Ask the kernel to run the calling thread in slices of `slice`, keeping its nice value
/// ([`curia_sched::request_slice`]: Linux 6.12+, clamped to 0.1-100 ms, ignored by older
/// kernels; no privilege needed).
pub fn request_slice(slice: Duration) -> std::io::Result<()> {
    curia_sched::request_slice(slice, current_nice()?)
}

/// The bulk runtime's nice step: `value` of [`BULK_NICE_ENV`] when given (0 to 19), else
/// [`crate::limits::BULK_NICE`].
pub fn bulk_nice_from(value: Option<&str>) -> Result<i32, crate::NodeError> {
    env_number(
        BULK_NICE_ENV,
        value,
        crate::limits::BULK_NICE,
        |n| (0..=MAX_NICE).contains(&n),
        &format!("a whole number from 0 to {MAX_NICE}"),
    )
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

/// The node's two runtimes: `api` at the process's priority (and, if asked, in short scheduler
/// slices), `bulk` [`Runtimes::bulk_nice`] steps of `nice` below it.
pub struct Runtimes {
    /// The HTTP API's runtime ([`API_WORKER_THREADS`] workers).
    pub api: Runtime,
    /// Everything else (one worker per core, tokio's default).
    pub bulk: Runtime,
    /// The nice step of the bulk runtime's threads.
    pub bulk_nice: i32,
}

impl Runtimes {
    /// Build both runtimes; `bulk_nice` is 0 to 19, `api_slice` the slice the API's threads ask
    /// for ([`request_slice`]). A thread that cannot lower its priority or set its slice (not
    /// expected on Linux) runs as it is and says so once in the log.
    pub fn build(bulk_nice: i32, api_slice: Option<Duration>) -> std::io::Result<Runtimes> {
        static SLICE_WARNED: AtomicBool = AtomicBool::new(false);
        let api = Builder::new_multi_thread()
            .worker_threads(API_WORKER_THREADS)
            .max_blocking_threads(API_MAX_BLOCKING_THREADS)
            .thread_name("curia-api")
            .on_thread_start(move || {
                if let Some(slice) = api_slice {
                    if let Err(e) = request_slice(slice) {
                        if !SLICE_WARNED.swap(true, Ordering::Relaxed) {
                            tracing::warn!("cannot set the API threads' scheduler slice: {e}");
                        }
                    }
                }
            })
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

    /// Shut both runtimes down, waiting at most `within` in all for work still running on their
    /// blocking pools (dropping a runtime would wait for it without bound); their async tasks
    /// are dropped at once. True if everything ended in time; otherwise the work left keeps its
    /// threads until the process exits, and this says so at INFO.
    pub fn shutdown(self, within: Duration) -> bool {
        let start = std::time::Instant::now();
        self.api.shutdown_timeout(within);
        self.bulk.shutdown_timeout(within.saturating_sub(start.elapsed()));
        let ended = start.elapsed() < within;
        if !ended {
            tracing::info!(
                waited = ?within,
                "blocking work still running at shutdown (a backup, a store read, a name lookup): abandoned"
            );
        }
        ended
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
        let rt = Runtimes::build(3, None).unwrap();
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

    /// A blocking task that runs on does not hold the shutdown beyond its bound; one that ends
    /// does not make it wait the bound.
    #[test]
    fn shutdown_waits_for_blocking_work_within_its_bound() {
        let rt = Runtimes::build(0, None).unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        rt.bulk.spawn_blocking(move || {
            // Held until the test ends (the sender is dropped then): far beyond the bound.
            let _ = rx.recv_timeout(Duration::from_secs(600));
        });
        rt.api.spawn(std::future::pending::<()>());
        let t = std::time::Instant::now();
        assert!(!rt.shutdown(Duration::from_millis(300)));
        assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
        drop(tx);

        let rt = Runtimes::build(0, None).unwrap();
        rt.bulk.spawn_blocking(|| std::thread::sleep(Duration::from_millis(10)));
        assert!(rt.shutdown(Duration::from_secs(60)));
    }

    #[test]
    fn the_slice_is_bounded() {
        assert_eq!(api_slice_from(None).unwrap(), Some(Duration::from_micros(crate::limits::API_SLICE_US)));
        assert_eq!(api_slice_from(Some("0")).unwrap(), None);
        assert_eq!(api_slice_from(Some(" 100 ")).unwrap(), Some(Duration::from_micros(100)));
        assert_eq!(api_slice_from(Some("100000")).unwrap(), Some(Duration::from_millis(100)));
        for bad in ["99", "1", "100001", "-5", "fast", ""] {
            assert!(api_slice_from(Some(bad)).is_err(), "{bad:?} accepted");
        }
    }

    /// The API runtime's threads, workers and blocking ones, run in the slice they asked for;
    /// the bulk runtime's keep the kernel's default. Needs a kernel that reports a normal
    /// thread's slice (Linux 6.12+): on an older one the request is ignored, and so is the test.
    #[test]
    fn api_threads_ask_for_a_short_slice() {
        let slice = Duration::from_micros(250);
        let probe = std::thread::spawn(move || {
            let before = curia_sched::current_slice_ns().unwrap();
            request_slice(slice).unwrap();
            (before, curia_sched::current_slice_ns().unwrap())
        });
        let (default, after) = probe.join().unwrap();
        if after != slice.as_nanos() as u64 {
            eprintln!("this kernel does not report scheduler slices (got {after} ns): nothing to check");
            return;
        }
        assert_ne!(default, after, "the kernel's default slice is the one asked for: pick another");
        let rt = Runtimes::build(2, Some(slice)).unwrap();
        let got = || curia_sched::current_slice_ns().unwrap();
        let api_worker = rt.api.block_on(async { tokio::spawn(async move { got() }).await.unwrap() });
        let api_blocking = rt.api.block_on(async { tokio::task::spawn_blocking(got).await.unwrap() });
        assert_eq!((api_worker, api_blocking), (after, after));
        let bulk_worker = rt.bulk.block_on(async { tokio::spawn(async move { got() }).await.unwrap() });
        assert_eq!(bulk_worker, default);
        // The nice value is kept when the slice is set.
        let api_nice = rt.api.block_on(async { tokio::spawn(async move { current_nice().unwrap() }).await.unwrap() });
        assert_eq!(api_nice, current_nice().unwrap());
    }
}
