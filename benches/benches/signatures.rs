//! ed25519 signature verification, the ceiling of single deposits (every validator verifies every
//! deposit's signature once): one-by-one verification (receipt format 6.3, cofactored)
//! (`curia_ledger::crypto::PublicKey::verify`, what a lone transaction costs) against batch
//! verification (`curia_ledger::crypto::verify_batch`, what the mempool does per submission and
//! a validator per block) of 64 and 1,000 signatures, with one key for all (one sender) and a
//! distinct key per signature (many senders: each key is decoded once per batch).
//!
//! One more case prices what an exact batch would have cost under the old cofactorless rule
//! (now receipt format 6.4): a batch cannot tell a signature whose `R` has a small-order
//! component, which that rule refuses, so it would also have had to check that every `R` is in
//! the prime-order subgroup (`r_subgroup_check`: decode `R` and test `l·R = 0`, per signature).
//! Under the cofactored rule of 6.3 the batch is exact without it.
//!
//! Throughput is in signatures. Bounded by the CPU (one core: criterion runs one thread), so the
//! figure is per core; `curia_benches::ceiling` measures all cores at once.
//! Run: `cargo bench -p curia-benches --bench signatures` (`cargo test -p curia-benches --benches`
//! runs each case once, as a check).

// criterion's macros generate undocumented functions.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use curia_ledger::crypto::{verify_batch, PublicKey, SecretKey, Signature};
use curia_ledger::hash::Hash;

/// `n` signed messages by `keys` distinct keys (round robin).
fn items(n: usize, keys: usize) -> Vec<(PublicKey, Hash, Signature)> {
    let keys: Vec<SecretKey> = (0..keys)
        .map(|k| {
            let mut seed = [7u8; 32];
            seed[..8].copy_from_slice(&(k as u64).to_le_bytes());
            SecretKey::from_seed(&seed)
        })
        .collect();
    (0..n)
        .map(|i| {
            let key = &keys[i % keys.len()];
            let msg = Hash::sha256(format!("signature bench {i}").as_bytes());
            (key.public(), msg, key.sign(&msg))
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("signatures");
    for (n, keys, name) in [(64, 1, "one_key"), (64, 64, "many_keys"), (1000, 1, "one_key"), (1000, 1000, "many_keys")]
    {
        let items = items(n, keys);
        verify_batch("bench", &items).expect("the fixture verifies");
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new(format!("batch_{name}"), n), &items, |b, items| {
            b.iter(|| verify_batch("bench", items).expect("verifies"))
        });
        if n == 64 && keys == 64 {
            g.bench_with_input(BenchmarkId::new("r_subgroup_check", n), &items, |b, items| {
                b.iter(|| {
                    for (_, _, s) in items {
                        let r = curve25519_dalek::edwards::CompressedEdwardsY(s.0[..32].try_into().expect("32 bytes"));
                        assert!(r.decompress().expect("R decodes").is_torsion_free());
                    }
                })
            });
        }
        if n == 64 {
            g.bench_with_input(BenchmarkId::new(format!("one_by_one_strict_{name}"), n), &items, |b, items| {
                b.iter(|| {
                    for (k, m, s) in items {
                        k.verify("bench", m, s).expect("verifies");
                    }
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
