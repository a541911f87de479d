//! Admission of client submissions, as `POST /v1/deposits` and `POST /v1/transactions` run it
//! before the mempool: parsing the body and the checks of `curia_node::mempool` (IDs hashed once
//! with `tx_ids`, shape, registered sender and role, and the signature: `check_admission_ids`).
//!
//! Cases:
//! - `single_json_admission`: one single deposit, JSON parse + checks (one strict signature
//!   verification: a batch of one). Compare with `signatures/one_by_one_strict`: the rest is
//!   parsing and hashing.
//! - `list64_parse_json` vs `list64_parse_binary`: parsing a list of 64 single deposits as the
//!   JSON `{"txs": [...]}` body against the canonical binary list (`application/octet-stream`).
//! - `list64_json_admission` vs `list64_binary_admission`: parse + checks of the 64 (one batch
//!   verification of 64 signatures).
//!
//! Throughput is in deposits. Bounded by the CPU (one core), the signature checks above all; the
//! state reads are from an in-memory state here (the node reads RocksDB).
//! Run: `cargo bench -p curia-benches --bench submission`.

// criterion's macros generate undocumented functions.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use curia_benches::fixtures;
use curia_client::types::TxBatch;
use curia_ledger::codec::{Canonical, Reader, Writer};
use curia_ledger::testkit::TestChain;
use curia_ledger::tx::Transaction;
use curia_node::mempool::{check_admission_ids, tx_ids, MAX_SUBMISSION};

fn binary_list(txs: &[Transaction]) -> Vec<u8> {
    let mut w = Writer::new();
    w.list(txs, |w, t| t.encode(w));
    w.into_bytes()
}

fn parse_binary(bytes: &[u8]) -> Vec<Transaction> {
    let mut r = Reader::new(bytes, "transaction list");
    let txs = r.list("transactions", MAX_SUBMISSION, Transaction::decode).expect("decodes");
    r.finish().expect("nothing after the list");
    txs
}

fn parse_json(bytes: &[u8]) -> Vec<Transaction> {
    serde_json::from_slice::<TxBatch>(bytes).expect("parses").txs.into_owned()
}

fn admit(chain: &TestChain, txs: &[Transaction]) -> usize {
    let ids = tx_ids(&chain.spec.chain_id, txs);
    let checks = check_admission_ids(&chain.spec, &chain.state, Some(1), txs, &ids);
    checks.iter().filter(|r| r.is_ok()).count()
}

fn bench(c: &mut Criterion) {
    let chain = TestChain::new(4);
    let one = fixtures::singles(&chain, 1).pop().expect("one");
    let one_json = serde_json::to_vec(&one).expect("serializes");
    let list = fixtures::singles(&chain, 64);
    let list_json = serde_json::to_vec(&TxBatch { txs: list.as_slice().into() }).expect("serializes");
    let list_bin = binary_list(&list);
    assert_eq!(parse_json(&list_json), list);
    assert_eq!(parse_binary(&list_bin), list);
    assert_eq!(admit(&chain, &list), 64, "every fixture deposit is admissible");

    let mut g = c.benchmark_group("submission");
    g.throughput(Throughput::Elements(1));
    g.bench_function("single_json_admission", |b| {
        b.iter(|| {
            let tx: Transaction = serde_json::from_slice(&one_json).expect("parses");
            assert_eq!(admit(&chain, std::slice::from_ref(&tx)), 1);
        })
    });
    g.throughput(Throughput::Elements(64));
    g.bench_function("list64_parse_json", |b| b.iter(|| parse_json(&list_json)));
    g.bench_function("list64_parse_binary", |b| b.iter(|| parse_binary(&list_bin)));
    g.bench_function("list64_json_admission", |b| b.iter(|| assert_eq!(admit(&chain, &parse_json(&list_json)), 64)));
    g.bench_function("list64_binary_admission", |b| b.iter(|| assert_eq!(admit(&chain, &parse_binary(&list_bin)), 64)));
    g.finish();
    eprintln!("submission: 64 singles are {} bytes as JSON, {} bytes binary", list_json.len(), list_bin.len());
}

criterion_group!(benches, bench);
criterion_main!(benches);
