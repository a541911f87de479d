//! The signature ceiling: how many single deposits per second this machine could commit if
//! nothing but signature verification cost anything.
//!
//! Rules:
//! - Every validator verifies every deposit's signature once, with ed25519 batch verification
//!   ([`curia_ledger::crypto::verify_batch`], the node's own code path and crate). The rate is
//!   measured on all cores at once: one thread per core, each verifying batches of
//!   [`CeilingOptions::batch`] distinct signatures (distinct messages, a handful of keys, as the
//!   node sees from a few platform senders) for [`CeilingOptions::duration`].
//! - The ceiling is that rate divided by the number of validators sharing the machine: they share
//!   its cores, and each must verify every signature.
//! - A measurement that verified nothing, or whose batches failed, is an error, never a zero.
//!
//! The figure is only meaningful next to a committed rate measured in the same run, on the same
//! machine load: [`Ceiling::ratio`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use curia_ledger::crypto::{verify_batch, PublicKey, SecretKey, Signature};
use curia_ledger::hash::Hash;

/// How to measure.
#[derive(Clone, Debug)]
pub struct CeilingOptions {
    /// Verifier threads; `None` for one per core (`std::thread::available_parallelism`).
    pub threads: Option<usize>,
    /// Signatures per batch verification.
    pub batch: usize,
    /// How long to measure (after a short warm-up of one batch per thread).
    pub duration: Duration,
}

impl Default for CeilingOptions {
    fn default() -> Self {
        CeilingOptions { threads: None, batch: 256, duration: Duration::from_secs(3) }
    }
}

/// A measured ceiling.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Ceiling {
    /// Threads used (cores).
    pub threads: usize,
    /// Signatures per batch.
    pub batch: usize,
    /// ed25519 batch-verified signatures per second, all threads together.
    pub verify_rate_per_s: f64,
    /// Validators sharing the machine.
    pub validators: usize,
    /// `verify_rate_per_s / validators`: single deposits per second the machine could commit.
    pub ceiling_deposits_per_s: f64,
}

impl Ceiling {
    /// `committed / ceiling` (0 if the ceiling is 0).
    pub fn ratio(&self, committed_per_s: f64) -> f64 {
        if self.ceiling_deposits_per_s > 0.0 {
            committed_per_s / self.ceiling_deposits_per_s
        } else {
            0.0
        }
    }
}

/// Distinct signed messages for one thread: `batch` items signed by a few keys.
fn signed_items(thread: usize, batch: usize) -> Vec<(PublicKey, Hash, Signature)> {
    let keys: Vec<SecretKey> = (0..4u8).map(|k| SecretKey::from_seed(&[k + 1; 32])).collect();
    (0..batch)
        .map(|i| {
            let key = &keys[i % keys.len()];
            let msg = Hash::sha256(format!("ceiling thread {thread} item {i}").as_bytes());
            (key.public(), msg, key.sign(&msg))
        })
        .collect()
}

/// Measure the batch-verification rate on all cores and derive the ceiling for `validators`
/// validators on this machine.
pub fn measure(validators: usize, o: &CeilingOptions) -> Result<Ceiling, String> {
    if validators == 0 {
        return Err("the number of validators on the machine must be positive".into());
    }
    if o.batch == 0 || o.duration.is_zero() {
        return Err("the batch size and the duration must be positive".into());
    }
    let threads =
        o.threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)).max(1);
    let items: Vec<_> = (0..threads).map(|t| signed_items(t, o.batch)).collect();
    // Warm up (tables, caches) and check the items verify at all.
    for it in &items {
        verify_batch("ceiling", it).map_err(|e| format!("ceiling batch does not verify: {e}"))?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let verified = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let handles: Vec<_> = items
        .into_iter()
        .map(|it| {
            let (stop, verified, failed) = (stop.clone(), verified.clone(), failed.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if verify_batch("ceiling", &it).is_err() {
                        failed.store(true, Ordering::Relaxed);
                        return;
                    }
                    verified.fetch_add(it.len() as u64, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(o.duration);
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().map_err(|_| "a verifier thread panicked".to_string())?;
    }
    // Batches in flight when `stop` was set finish and count, so time them too.
    let secs = start.elapsed().as_secs_f64();
    if failed.load(Ordering::Relaxed) {
        return Err("a batch verification failed".into());
    }
    let n = verified.load(Ordering::Relaxed);
    if n == 0 {
        return Err("no batch finished within the measuring time".into());
    }
    let rate = n as f64 / secs;
    Ok(Ceiling {
        threads,
        batch: o.batch,
        verify_rate_per_s: rate,
        validators,
        ceiling_deposits_per_s: rate / validators as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_a_positive_rate_and_divides_it_by_the_validators() {
        let o = CeilingOptions { threads: Some(1), batch: 8, duration: Duration::from_millis(50) };
        let c = measure(4, &o).unwrap();
        assert_eq!((c.threads, c.batch, c.validators), (1, 8, 4));
        assert!(c.verify_rate_per_s > 0.0);
        assert!((c.ceiling_deposits_per_s * 4.0 - c.verify_rate_per_s).abs() < 1e-6);
        assert!((c.ratio(c.ceiling_deposits_per_s / 2.0) - 0.5).abs() < 1e-9);
    }

    #[test]
    fn refuses_nonsense_options() {
        assert!(measure(0, &CeilingOptions::default()).is_err());
        let o = CeilingOptions { threads: Some(1), batch: 0, duration: Duration::from_millis(10) };
        assert!(measure(1, &o).is_err());
    }
}
