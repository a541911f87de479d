//! The HTTP API and the ops listener over real TCP on loopback, with a real store holding a test
//! chain and a fake driver that answers submissions with a real mempool.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use curia_ledger::access::{sign_read_request, HEADER_READER, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use curia_ledger::hash::Hash;
use curia_ledger::receipt::Receipt;
use curia_ledger::testkit::{test_key, TestChain};
use curia_ledger::tx::{Payload, Transaction};
use curia_ledger::verify::{verify_receipt, Evidence};
use curia_node::api::{self, ApiContext, NodeStatus, Submit, DEPOSIT_BODY_LIMIT, TRANSACTIONS_BODY_LIMIT};
use curia_node::mempool::{Mempool, MempoolConfig};
use curia_node::ops::{self, Metrics};
use curia_storage::Store;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot, watch};

/// A plain HTTP/1.1 answer.
struct Answer {
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// The error code of an error answer.
    fn code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or_else(|| panic!("no error code in {}", self.text())).to_owned()
    }
}

/// One request with `Connection: close`; the answer is read to the end.
async fn http(addr: SocketAddr, method: &str, path: &str, body: Vec<u8>) -> Answer {
    http_with(addr, method, path, &[], body).await
}

/// [`http`] with extra request headers.
async fn http_with(addr: SocketAddr, method: &str, path: &str, extra: &[(&str, String)], body: Vec<u8>) -> Answer {
    // JSON unless the caller names another content type.
    let json_type = if extra.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
        ""
    } else {
        "Content-Type: application/json\r\n"
    };
    let extra: String = extra.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{json_type}Content-Length: {}\r\n{extra}Connection: close\r\n\r\n",
        body.len()
    );
    tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.write_all(head.as_bytes()).unwrap();
        // The server may answer (413) before reading all of a big body; keep going to the answer.
        let _ = s.write_all(&body);
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete HTTP head");
        let head = String::from_utf8(raw[..split].to_vec()).unwrap();
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect::<HashMap<_, _>>();
        let body = raw[split + 4..].to_vec();
        if let Some(n) = headers.get("content-length") {
            assert_eq!(body.len(), n.parse::<usize>().unwrap(), "whole body read");
        }
        Answer { status, headers, body }
    })
    .await
    .unwrap()
}

async fn get(addr: SocketAddr, path: &str) -> Answer {
    http(addr, "GET", path, Vec::new()).await
}

async fn post(addr: SocketAddr, path: &str, body: &Value) -> Answer {
    http(addr, "POST", path, serde_json::to_vec(body).unwrap()).await
}

/// The signed-read headers of `GET path` by `reader` at `ts` on `chain_id` (`docs/api.md`).
fn read_headers(chain_id: &Hash, reader: &str, path: &str, ts: u64) -> Vec<(&'static str, String)> {
    let key = test_key(reader);
    let sig = sign_read_request(&key, chain_id, "GET", path, ts);
    vec![
        (HEADER_READER, key.public().to_string()),
        (HEADER_TIMESTAMP, ts.to_string()),
        (HEADER_SIGNATURE, hex::encode(sig.0)),
    ]
}

/// `GET path`, signed by test client or validator `reader` now.
async fn signed_get(addr: SocketAddr, chain_id: &Hash, reader: &str, path: &str) -> Answer {
    let headers = read_headers(chain_id, reader, path, curia_node::driver::now_ms());
    http_with(addr, "GET", path, &headers, Vec::new()).await
}

fn tx_json(tx: &Transaction) -> Value {
    serde_json::to_value(tx).unwrap()
}

/// A running API over a store that holds `chain`'s blocks.
struct Harness {
    api: SocketAddr,
    ops: SocketAddr,
    chain: TestChain,
    submit: mpsc::Sender<Submit>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    dir: PathBuf,
    store: Arc<Store>,
}

impl Harness {
    /// Store the chain, start the API and the ops listener, and (if `mempool` is given) a fake
    /// driver; the submission queue holds `queue` submissions.
    async fn start(chain: TestChain, mempool: Option<MempoolConfig>, queue: usize) -> Harness {
        Harness::start_with(chain, mempool, queue, None).await
    }

    /// [`Harness::start`], with submissions' work on `bulk` ([`ApiContext::bulk`]).
    async fn start_with(
        chain: TestChain,
        mempool: Option<MempoolConfig>,
        queue: usize,
        bulk: Option<tokio::runtime::Handle>,
    ) -> Harness {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("curia-api-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Arc::new(Store::open(&dir, &chain.spec).unwrap());
        for (block, cert) in &chain.blocks {
            let changes = store.execute(block).unwrap();
            store.commit_block(block, cert, &changes).unwrap();
        }
        let spec = Arc::new(chain.spec.clone());
        let metrics = Arc::new(Metrics::new());
        let tip = store.tip();
        let status = NodeStatus {
            chain_id: spec.chain_id.to_hex(),
            chain_name: spec.genesis.chain_name.clone(),
            node: "v0".into(),
            height: tip.height,
            tip_hash: tip.block_hash.to_hex(),
            ..Default::default()
        };
        let (_status_tx, status_rx) = watch::channel(status);
        let (submit, mut submissions) = mpsc::channel::<Submit>(queue);
        if let Some(cfg) = mempool {
            let (store, spec) = (store.clone(), spec.clone());
            tokio::spawn(async move {
                let mut pool = Mempool::new(spec, cfg);
                while let Some(s) = submissions.recv().await {
                    let r = {
                        let state = store.state();
                        Ok(pool.admit(&state, s.txs, s.checks))
                    };
                    let _ = s.reply.send(r);
                }
            });
        } else {
            // Nobody reads: the queue fills. Keep the receiver alive so it is full, not closed.
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                drop(submissions);
            });
        }
        let ctx = ApiContext {
            spec,
            store: store.clone(),
            submit: submit.clone(),
            status: status_rx.clone(),
            metrics: metrics.clone(),
            bulk,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(api::serve(listener, ctx, async move {
            let _ = stopped.await;
        }));
        let ops_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ops = ops_listener.local_addr().unwrap();
        let ops_app = ops::ops_router(metrics, status_rx);
        tokio::spawn(async move { axum::serve(ops_listener, ops_app).await });
        Harness { api, ops, chain, submit, stop: Some(stop), server: Some(server), dir, store }
    }

    /// Stop the API gracefully and check it ended cleanly.
    async fn stop(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        let server = self.server.take().unwrap();
        tokio::time::timeout(Duration::from_secs(10), server).await.unwrap().unwrap().unwrap();
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A chain with a single deposit, a batch, and a case with the single deposit attached.
fn committed_chain() -> (TestChain, Transaction, Transaction) {
    let mut c = TestChain::new(4);
    let single = c.deposit("platform", b"contract.pdf bytes", 1);
    let batch = c.batch("platform", (0..5u8).map(|i| Hash::sha256(&[i])).collect(), 2);
    assert!(c.commit(vec![single.clone(), batch.clone()]).is_empty());
    let single_id = single.id(&c.spec.chain_id);
    let open = c.tx("judge", Payload::OpenCase { case_id: "CASE-1".into(), title: "A v. B".into() }, 3);
    assert!(c.commit(vec![open]).is_empty());
    let attach = c.tx("judge", Payload::AttachDeposit { case_id: "CASE-1".into(), deposit_id: single_id }, 4);
    assert!(c.commit(vec![attach]).is_empty());
    (c, single, batch)
}

/// The receipt endpoint reads with `block_in_place`, which a current-thread runtime does not
/// allow: there it falls back to the blocking pool, with the same answers.
#[tokio::test(flavor = "current_thread")]
async fn receipts_are_served_on_a_current_thread_runtime_too() {
    let (mut chain, single, _) = committed_chain();
    let late = chain.deposit("platform", b"late.pdf bytes", 5);
    assert!(chain.commit(vec![late.clone()]).is_empty());
    let h = Harness::start(chain, Some(MempoolConfig::default()), 16).await;
    let spec = h.chain.spec.clone();
    let single_id = single.id(&spec.chain_id);
    let a = get(h.api, &format!("/v1/deposits/{single_id}/receipt")).await;
    assert_eq!(a.status, 200, "{}", a.text());
    let receipt = Receipt::from_json(&a.body).unwrap();
    assert_eq!(Some(&receipt), h.store.receipt(&single_id).unwrap().as_ref());
    assert!(verify_receipt(Evidence::Bytes(b"contract.pdf bytes"), &receipt, &spec).is_valid());
    let a = get(h.api, &format!("/v1/deposits/{}/receipt", late.id(&spec.chain_id))).await;
    assert_eq!((a.status, a.code().as_str()), (404, "receipt_pending"), "{}", a.text());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_serve_the_committed_chain() {
    let (mut chain, single, batch) = committed_chain();
    // A deposit in the tip block: committed, but its receipt waits for the next block.
    let late = chain.deposit("platform", b"late.pdf bytes", 5);
    assert!(chain.commit(vec![late.clone()]).is_empty());
    // Block 1 is stored first with a smaller (still valid) quorum than the one block 2 carries,
    // as when this node collected other precommits than the proposer of block 2.
    let carried = chain.blocks[1].0.last_commit.clone().expect("block 2 carries block 1's certificate");
    chain.blocks[0].1.sigs.pop();
    assert_ne!(chain.blocks[0].1, carried);
    let h = Harness::start(chain, Some(MempoolConfig::default()), 16).await;
    let spec = h.chain.spec.clone();
    let single_id = single.id(&spec.chain_id);

    // The receipt is exactly Receipt::to_json and verifies offline against the evidence.
    let a = get(h.api, &format!("/v1/deposits/{single_id}/receipt")).await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.headers["content-type"], "application/json");
    let receipt = Receipt::from_json(&a.body).unwrap();
    assert_eq!(a.text(), receipt.to_json());
    let report = verify_receipt(Evidence::Bytes(b"contract.pdf bytes"), &receipt, &spec);
    assert!(report.is_valid(), "{:?}", report.first_failure());
    assert!(!verify_receipt(Evidence::Bytes(b"tampered"), &receipt, &spec).is_valid());
    // Its certificate is the canonical one, carried by block 2, not the one stored with block 1.
    assert_eq!(receipt.certificate, carried);

    // The tip block's deposit: its receipt is pending (404 with Retry-After) until block 5.
    let late_id = late.id(&spec.chain_id);
    let a = get(h.api, &format!("/v1/deposits/{late_id}/receipt")).await;
    assert_eq!((a.status, a.code().as_str()), (404, "receipt_pending"), "{}", a.text());
    assert_eq!(a.headers["retry-after"], "1");
    let v = get(h.api, &format!("/v1/deposits/{late_id}")).await.json();
    assert_eq!(
        (v["status"].as_str(), v["height"].as_u64(), v["receipt_ready"].as_bool()),
        (Some("committed"), Some(4), Some(false))
    );
    let v = get(h.api, &format!("/v1/deposits/{single_id}")).await.json();
    assert_eq!(v["receipt_ready"], true);

    // A batch item's receipt verifies against its digest.
    let batch_id = batch.id(&spec.chain_id);
    let item3 = batch.deposits(&batch_id)[3].0;
    let a = get(h.api, &format!("/v1/deposits/{item3}/receipt")).await;
    assert_eq!(a.status, 200, "{}", a.text());
    let receipt = Receipt::from_json(&a.body).unwrap();
    assert!(verify_receipt(Evidence::Digest(Hash::sha256(&[3])), &receipt, &spec).is_valid());

    // Deposit status.
    let a = get(h.api, &format!("/v1/deposits/{item3}")).await;
    assert_eq!(a.status, 200, "{}", a.text());
    let v = a.json();
    assert_eq!(v["status"], "committed");
    assert_eq!(v["height"], 1);
    assert_eq!(v["tx_index"], 1);
    assert_eq!(v["item_index"], 3);
    assert_eq!(v["block_hash"], h.chain.blocks[0].0.hash().to_hex());
    assert_eq!(v["receipt"], format!("/v1/deposits/{item3}/receipt"));

    // Digests.
    let digest = Hash::sha256(b"contract.pdf bytes");
    let a = get(h.api, &format!("/v1/digests/{digest}")).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json(), json!({"commitment": digest.to_hex(), "deposit_ids": [single_id.to_hex()]}));
    let a = get(h.api, &format!("/v1/digests/{}", Hash::sha256(b"never deposited"))).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["deposit_ids"], json!([]));

    // Blocks.
    let a = get(h.api, "/v1/blocks/1").await;
    assert_eq!(a.status, 200, "{}", a.text());
    let v = a.json();
    assert_eq!(v["tx_count"], 2);
    assert_eq!(v["header"]["height"], 1);
    assert_eq!(v["certificate"]["sigs"].as_array().unwrap().len(), 4);
    assert_eq!(v["block_hash"], h.chain.blocks[0].0.hash().to_hex());
    let a = get(h.api, "/v1/blocks/99").await;
    assert_eq!((a.status, a.code().as_str()), (404, "block_not_found"));
    let a = get(h.api, "/v1/blocks/one").await;
    assert_eq!((a.status, a.code().as_str()), (400, "bad_height"));

    // Cases (signed reads; the access rules are tested in case_reads_need_a_signed_request...).
    let a = signed_get(h.api, &spec.chain_id, "judge", "/v1/cases/CASE-1").await;
    assert_eq!(a.status, 200, "{}", a.text());
    let v = a.json();
    assert_eq!(v["open"], true);
    assert_eq!(v["owner"], test_key("judge").public().to_string());
    assert_eq!(v["record_count"], 2);
    assert_eq!(v["records"][0]["event"], "opened");
    assert_eq!(v["records"][1]["event"], "attached");
    assert_eq!(v["records"][1]["deposit"], single_id.to_hex());
    let a = signed_get(h.api, &spec.chain_id, "judge", "/v1/cases/CASE-2").await;
    assert_eq!((a.status, a.code().as_str()), (404, "case_not_found"));
    let a = get(h.api, "/v1/cases/bad%20id").await;
    assert_eq!((a.status, a.code().as_str()), (400, "bad_case_id"));

    // The deposit log: block 1's single deposit and five batch items, then block 4's deposit.
    let mut log = curia_ledger::deposit_log::Frontier::new();
    let mut leaves = Vec::new();
    for (b, _) in &h.chain.blocks {
        for (_, leaf) in curia_ledger::deposit_log::block_leaves(&spec.chain_id, b) {
            log.append(leaf).unwrap();
            leaves.push(leaf);
        }
    }
    assert_eq!(log.size(), 7);
    let head: curia_api_types::LogHead = serde_json::from_slice(&get(h.api, "/v1/log").await.body).unwrap();
    assert_eq!((head.size, head.root, head.height), (7, log.root(), 4));
    let a = get(h.api, "/v1/log/inclusion?index=3&size=7").await;
    assert_eq!(a.status, 200, "{}", a.text());
    let inc: curia_api_types::LogInclusion = serde_json::from_slice(&a.body).unwrap();
    assert_eq!(
        inc.leaf_hash,
        curia_ledger::deposit_log::leaf_hash(&batch.deposits(&batch_id)[2].0, &Hash::sha256(&[2]))
    );
    assert_eq!(inc.leaf_hash, leaves[3]);
    curia_ledger::tlog::verify_inclusion(&inc.leaf_hash, 3, 7, &inc.proof, &log.root()).unwrap();
    let a = get(h.api, "/v1/log/consistency?from=2&to=7").await;
    assert_eq!(a.status, 200, "{}", a.text());
    let cons: curia_api_types::LogConsistency = serde_json::from_slice(&a.body).unwrap();
    assert_eq!(cons.from_root, curia_ledger::merkle::root(&leaves[..2]));
    assert_eq!(cons.to_root, log.root());
    curia_ledger::tlog::verify_consistency(2, 7, &cons.from_root, &cons.to_root, &cons.proof).unwrap();
    for (path, status, code) in [
        ("/v1/log/inclusion?index=0&size=8", 404, "log_size_not_reached"),
        ("/v1/log/consistency?from=1&to=8", 404, "log_size_not_reached"),
        ("/v1/log/inclusion?index=7&size=7", 400, "bad_query"),
        ("/v1/log/inclusion?index=1", 400, "bad_query"),
        ("/v1/log/consistency?from=0&to=7", 400, "bad_query"),
        ("/v1/log/consistency?from=5&to=4", 400, "bad_query"),
        ("/v1/log/consistency?from=1&to=7&x=1", 400, "bad_query"),
    ] {
        let a = get(h.api, path).await;
        assert_eq!((a.status, a.code().as_str()), (status, code), "{path}: {}", a.text());
    }

    // Status.
    let a = get(h.api, "/v1/status").await;
    assert_eq!(a.status, 200);
    let v = a.json();
    assert_eq!(v["height"], 4);
    assert_eq!(v["chain_id"], spec.chain_id.to_hex());
    assert_eq!(v["chain_name"], "curia-test");

    // Unknown deposit, bad hex (naming the parameter), unknown endpoint and method.
    let unknown = Hash::sha256(b"nothing");
    for path in [format!("/v1/deposits/{unknown}"), format!("/v1/deposits/{unknown}/receipt")] {
        let a = get(h.api, &path).await;
        assert_eq!((a.status, a.code().as_str()), (404, "deposit_not_found"), "{path}");
    }
    for (path, param) in [
        ("/v1/deposits/xyz".to_string(), "id"),
        (format!("/v1/deposits/{}/receipt", &unknown.to_hex()[..62]), "id"),
        ("/v1/digests/00zz".to_string(), "sha256"),
    ] {
        let a = get(h.api, &path).await;
        assert_eq!((a.status, a.code().as_str()), (400, "bad_hex"), "{path}");
        let message = a.json()["error"]["message"].as_str().unwrap().to_owned();
        assert!(message.contains(&format!("parameter {param} ")), "{message}");
    }
    let a = get(h.api, "/v1/nothing").await;
    assert_eq!((a.status, a.code().as_str()), (404, "not_found"));
    let a = http(h.api, "DELETE", "/v1/status", Vec::new()).await;
    assert_eq!((a.status, a.code().as_str()), (405, "method_not_allowed"));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submissions_get_ids_or_their_documented_errors() {
    let (chain, single, _) = committed_chain();
    let h = Harness::start(chain, Some(MempoolConfig::default()), 16).await;
    let c = &h.chain;

    // Accepted: 202 with the transaction ID and deposit IDs, at once.
    let good = c.deposit("platform", b"new evidence", 10);
    let id = good.id(&c.spec.chain_id);
    let a = post(h.api, "/v1/deposits", &tx_json(&good)).await;
    assert_eq!(a.status, 202, "{}", a.text());
    assert_eq!(a.json(), json!({"tx_id": id.to_hex(), "deposit_ids": [id.to_hex()]}));
    let batch = c.batch("platform", (10..13u8).map(|i| Hash::sha256(&[i])).collect(), 11);
    let a = post(h.api, "/v1/deposits", &tx_json(&batch)).await;
    assert_eq!(a.status, 202, "{}", a.text());
    assert_eq!(a.json()["deposit_ids"].as_array().unwrap().len(), 3);

    // Each bad request gets its own status and code.
    let mut forged = c.deposit("platform", b"forged", 12);
    forged.signature.0[0] ^= 1;
    let mut stranger = c.deposit("platform", b"stranger", 13);
    stranger.body.sender = test_key("nobody").public();
    let stranger = stranger.body.clone().sign(&c.spec.chain_id, &test_key("nobody"));
    let judge_deposit = c.deposit("judge", b"judge", 14);
    let mut bad_batch = c.batch("platform", vec![Hash::sha256(b"x"), Hash::sha256(b"y")], 15);
    bad_batch.items.pop();
    let open_case = c.tx("judge", Payload::OpenCase { case_id: "CASE-9".into(), title: String::new() }, 16);
    let cases: Vec<(Value, u16, &str)> = vec![
        (tx_json(&good), 409, "already_pending"),
        (tx_json(&single), 409, "duplicate"),
        (tx_json(&forged), 400, "bad_signature"),
        (tx_json(&stranger), 403, "unknown_sender"),
        (tx_json(&judge_deposit), 403, "wrong_role"),
        (tx_json(&bad_batch), 422, "invalid_field"),
        (tx_json(&open_case), 422, "wrong_kind"),
        (json!({"body": 1}), 400, "bad_json"),
    ];
    for (body, status, code) in cases {
        let a = post(h.api, "/v1/deposits", &body).await;
        assert_eq!((a.status, a.code().as_str()), (status, code), "{}", a.text());
        assert!(!a.json()["error"]["message"].as_str().unwrap().is_empty());
    }
    let a = http(h.api, "POST", "/v1/deposits", b"{\"body\": ".to_vec()).await;
    assert_eq!((a.status, a.code().as_str()), (400, "bad_json"));

    // Oversized bodies, on both submission endpoints.
    let a = http(h.api, "POST", "/v1/deposits", vec![b' '; DEPOSIT_BODY_LIMIT + 1]).await;
    assert_eq!((a.status, a.code().as_str()), (413, "too_large"));
    let a = http(h.api, "POST", "/v1/transactions", vec![b' '; TRANSACTIONS_BODY_LIMIT + 1]).await;
    assert_eq!((a.status, a.code().as_str()), (413, "too_large"));

    // A batch of transactions of any kind: each gets its own result, in order.
    let fresh = c.deposit("platform", b"fresh", 20);
    let a = post(
        h.api,
        "/v1/transactions",
        &json!({"txs": [tx_json(&fresh), tx_json(&forged), tx_json(&open_case), tx_json(&fresh)]}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text());
    let v = a.json();
    assert_eq!((v["accepted"].as_u64(), v["rejected"].as_u64()), (Some(2), Some(2)));
    let r = v["results"].as_array().unwrap();
    assert_eq!(r[0]["deposit_ids"], json!([fresh.id(&c.spec.chain_id).to_hex()]));
    assert_eq!(r[1]["error"]["code"], "bad_signature");
    assert_eq!(r[1]["tx_id"], forged.id(&c.spec.chain_id).to_hex());
    assert_eq!(r[2]["deposit_ids"], json!([]));
    assert_eq!(r[3]["error"]["code"], "already_pending");
    assert_eq!(r.iter().map(|x| x["index"].as_u64().unwrap()).collect::<Vec<_>>(), [0, 1, 2, 3]);
    let a = post(h.api, "/v1/transactions", &json!({"txs": []})).await;
    assert_eq!((a.status, a.code().as_str()), (422, "invalid_field"));
    let a = post(h.api, "/v1/transactions", &json!([tx_json(&fresh)])).await;
    assert_eq!((a.status, a.code().as_str()), (400, "bad_json"));
    let too_many = vec![tx_json(&fresh); MempoolConfig::default().max_submission + 1];
    let a = post(h.api, "/v1/transactions", &json!({ "txs": too_many })).await;
    assert_eq!((a.status, a.code().as_str()), (413, "too_many_txs"));

    // Requests the API refuses itself are counted by reason on the ops listener.
    let m = get(h.ops, "/metrics").await.text();
    assert!(m.contains("curia_rejected_transactions_total{reason=\"bad_json\"} 3"), "{m}");
    assert!(m.contains("curia_rejected_transactions_total{reason=\"too_large\"} 2"), "{m}");
    h.stop().await;
}

/// As `curia node run` does it (`curia_node::priority`): the API on a runtime of its own, the
/// submissions' work (parsing, signature checks, the wait for the driver) on the lowered bulk
/// runtime. Answers are the same as on one runtime, and reads go on meanwhile.
#[test]
fn submissions_on_the_bulk_runtime_get_the_same_answers() {
    let rts = curia_node::priority::Runtimes::build(5, None).unwrap();
    let bulk = rts.bulk.handle().clone();
    rts.api.block_on(async move {
        let (chain, single, _) = committed_chain();
        let h = Harness::start_with(chain, Some(MempoolConfig::default()), 16, Some(bulk)).await;
        let c = &h.chain;
        let good = c.deposit("platform", b"bulk evidence", 10);
        let id = good.id(&c.spec.chain_id);
        let a = post(h.api, "/v1/deposits", &tx_json(&good)).await;
        assert_eq!(a.status, 202, "{}", a.text());
        assert_eq!(a.json(), json!({"tx_id": id.to_hex(), "deposit_ids": [id.to_hex()]}));
        let mut forged = c.deposit("platform", b"forged", 11);
        forged.signature.0[0] ^= 1;
        let a = post(h.api, "/v1/deposits", &tx_json(&forged)).await;
        assert_eq!((a.status, a.code().as_str()), (400, "bad_signature"), "{}", a.text());
        let a = http(h.api, "POST", "/v1/deposits", b"{\"body\": ".to_vec()).await;
        assert_eq!((a.status, a.code().as_str()), (400, "bad_json"));
        let fresh = c.deposit("platform", b"fresh", 12);
        let octet = [("Content-Type", "application/octet-stream".to_string())];
        let a = http_with(h.api, "POST", "/v1/transactions", &octet, binary_list(&[&fresh, &forged, &good])).await;
        assert_eq!(a.status, 200, "{}", a.text());
        let v = a.json();
        let codes: Vec<_> = v["results"].as_array().unwrap().iter().map(|r| r["error"]["code"].clone()).collect();
        assert_eq!(codes, [Value::Null, json!("bad_signature"), json!("already_pending")]);
        let a = get(h.api, &format!("/v1/deposits/{}/receipt", single.id(&c.spec.chain_id))).await;
        assert_eq!(a.status, 200, "{}", a.text());
        let a = http(h.api, "POST", "/v1/transactions", vec![b' '; TRANSACTIONS_BODY_LIMIT + 1]).await;
        assert_eq!((a.status, a.code().as_str()), (413, "too_large"));
        h.stop().await;
    });
}

/// The canonical list encoding of `txs`: `u32` count, then each canonical transaction.
fn binary_list(txs: &[&Transaction]) -> Vec<u8> {
    use curia_ledger::codec::{Canonical, Writer};
    let mut w = Writer::new();
    w.list(txs, |w, t| t.encode(w));
    w.into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_submissions_are_the_canonical_transaction_list() {
    let h = Harness::start(TestChain::new(4), Some(MempoolConfig::default()), 16).await;
    let c = &h.chain;
    let octet = [("Content-Type", "application/octet-stream".to_string())];
    let post_bin = |body: Vec<u8>| http_with(h.api, "POST", "/v1/transactions", &octet, body);

    let fresh = c.deposit("platform", b"binary", 1);
    let batch = c.batch("platform", (0..3u8).map(|i| Hash::sha256(&[i])).collect(), 2);
    let mut forged = c.deposit("platform", b"forged", 3);
    forged.signature.0[0] ^= 1;
    let a = post_bin(binary_list(&[&fresh, &forged, &batch])).await;
    assert_eq!(a.status, 200, "{}", a.text());
    let v = a.json();
    assert_eq!((v["accepted"].as_u64(), v["rejected"].as_u64()), (Some(2), Some(1)));
    let r = v["results"].as_array().unwrap();
    assert_eq!(r[0]["deposit_ids"], json!([fresh.id(&c.spec.chain_id).to_hex()]));
    assert_eq!(r[1]["error"]["code"], "bad_signature");
    assert_eq!(r[2]["deposit_ids"].as_array().unwrap().len(), 3, "a batch keeps its items");
    // The same transaction again, now as JSON: the two forms reach the same mempool.
    let a = post(h.api, "/v1/transactions", &json!({"txs": [tx_json(&fresh)]})).await;
    assert_eq!(a.json()["results"][0]["error"]["code"], "already_pending");

    // Refusals: trailing bytes, truncation, garbage, an empty list, too many.
    let mut trailing = binary_list(&[&c.deposit("platform", b"t", 4)]);
    trailing.push(0);
    let whole = binary_list(&[&c.deposit("platform", b"u", 5)]);
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (trailing, 400, "decode"),
        (whole[..whole.len() - 1].to_vec(), 400, "decode"),
        // JSON with the binary content type: its first four bytes read as a huge count.
        (b"{\"txs\": []}".to_vec(), 413, "too_many_txs"),
        (vec![0, 0, 0, 1, 9, 9, 9], 400, "decode"),
        (vec![1, 2], 400, "decode"),
        (binary_list(&[]), 422, "invalid_field"),
        (((MempoolConfig::default().max_submission + 1) as u32).to_be_bytes().to_vec(), 413, "too_many_txs"),
    ];
    for (body, status, code) in cases {
        let a = post_bin(body).await;
        assert_eq!((a.status, a.code().as_str()), (status, code), "{}", a.text());
    }
    let m = get(h.ops, "/metrics").await.text();
    assert!(m.contains("curia_rejected_transactions_total{reason=\"decode\"} 4"), "{m}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_mempool_or_queue_pushes_back_with_retry_after() {
    let cfg = MempoolConfig { max_txs: 1, retry_after_ms: 1500, ..Default::default() };
    let h = Harness::start(TestChain::new(4), Some(cfg), 16).await;
    let c = &h.chain;
    let a = post(h.api, "/v1/deposits", &tx_json(&c.deposit("platform", b"1", 1))).await;
    assert_eq!(a.status, 202, "{}", a.text());
    let a = post(h.api, "/v1/deposits", &tx_json(&c.deposit("platform", b"2", 2))).await;
    assert_eq!((a.status, a.code().as_str()), (503, "mempool_full"));
    assert_eq!(a.headers["retry-after"], "2", "1500 ms rounds up to 2 s");
    let txs = json!({"txs": [tx_json(&c.deposit("platform", b"3", 3)), tx_json(&c.deposit("platform", b"4", 4))]});
    let a = post(h.api, "/v1/transactions", &txs).await;
    assert_eq!(a.status, 503, "{}", a.text());
    assert_eq!(a.headers["retry-after"], "2");
    assert_eq!(a.json()["results"][1]["error"]["code"], "mempool_full");
    h.stop().await;

    // Nobody drains the submission queue: once it is full, 503 `busy` at once.
    let h = Harness::start(TestChain::new(4), None, 1).await;
    let (reply, _answer) = oneshot::channel();
    h.submit.try_send(Submit { txs: Vec::new(), checks: Vec::new(), reply }).unwrap();
    let a = post(h.api, "/v1/deposits", &tx_json(&h.chain.deposit("platform", b"1", 1))).await;
    assert_eq!((a.status, a.code().as_str()), (503, "busy"));
    assert_eq!(a.headers["retry-after"], "1");
    // Counted, as every refusal (issue 15: monitoring could not see it).
    let m = get(h.ops, "/metrics").await.text();
    assert!(m.contains("curia_rejected_transactions_total{reason=\"busy\"} 1"), "{m}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_listener_serves_health_and_metrics() {
    let h = Harness::start(TestChain::new(4), Some(MempoolConfig::default()), 16).await;
    let a = get(h.ops, "/healthz").await;
    assert_eq!(a.status, 200);
    let v = a.json();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["node"]["node"], "v0");
    let a = get(h.ops, "/metrics").await;
    assert_eq!(a.status, 200);
    assert!(a.headers["content-type"].starts_with("application/openmetrics-text"));
    let text = a.text();
    for name in [
        "curia_height",
        "curia_commit_latency_seconds",
        "curia_mempool_transactions",
        "curia_mempool_bytes",
        "curia_peers",
        "curia_rejected_transactions",
        "curia_committed_transactions",
        "curia_committed_deposits",
    ] {
        assert!(text.contains(&format!("# TYPE {name} ")), "{name} missing in\n{text}");
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_reads_need_a_signed_request_by_a_judge_auditor_or_court() {
    let (chain, _, _) = committed_chain();
    let h = Harness::start(chain, Some(MempoolConfig::default()), 16).await;
    let chain_id = h.chain.spec.chain_id;
    let path = "/v1/cases/CASE-1";
    let now = curia_node::driver::now_ms();
    let code = |a: &Answer| (a.status, a.code());

    // Allowed: judges (also one who does not own the case), the auditor, court validators.
    for reader in ["judge", "judge2", "auditor", "v0", "v1"] {
        let a = signed_get(h.api, &chain_id, reader, path).await;
        assert_eq!(a.status, 200, "{reader}: {}", a.text());
        assert_eq!(a.json()["case_id"], "CASE-1");
    }
    // Signed, but not a reader of cases: platforms, registrars, notary and time-service
    // validators, unregistered keys.
    for reader in ["platform", "registrar", "v2", "v3", "stranger"] {
        let a = signed_get(h.api, &chain_id, reader, path).await;
        assert_eq!(code(&a), (403, "forbidden_reader".into()), "{reader}: {}", a.text());
    }
    // The access check comes before the lookup: a stranger cannot learn which cases exist.
    let a = signed_get(h.api, &chain_id, "platform", "/v1/cases/NO-SUCH-CASE").await;
    assert_eq!(code(&a), (403, "forbidden_reader".into()));

    // Unsigned, or a header missing: 401 with a challenge.
    let a = get(h.api, path).await;
    assert_eq!(code(&a), (401, "unsigned_request".into()));
    assert_eq!(a.headers["www-authenticate"], "Curia-Signature");
    let good = read_headers(&chain_id, "judge", path, now);
    for skip in 0..3 {
        let headers: Vec<_> = good.iter().enumerate().filter(|(i, _)| *i != skip).map(|(_, h)| h.clone()).collect();
        let a = http_with(h.api, "GET", path, &headers, Vec::new()).await;
        assert_eq!(code(&a), (401, "unsigned_request".into()), "without {}", good[skip].0);
        assert!(a.text().contains(good[skip].0), "{}", a.text());
    }

    // Malformed headers: 400.
    let with = |i: usize, v: &str| {
        let mut hs = good.clone();
        hs[i].1 = v.into();
        hs
    };
    for (headers, want) in [
        (with(0, "zz"), "bad_key"),
        (with(0, &"00".repeat(32)), "bad_key"), // not a usable curve point (small order)
        (with(1, "soon"), "bad_timestamp"),
        (with(1, "-5"), "bad_timestamp"),
        (with(2, "abc"), "bad_hex"),
        (with(2, &"0".repeat(126)), "bad_hex"),
    ] {
        let a = http_with(h.api, "GET", path, &headers, Vec::new()).await;
        assert_eq!(code(&a), (400, want.into()), "{headers:?}: {}", a.text());
    }

    // Outside the 300 s window, either way: 401 stale_request.
    for ts in [now - 301_000, now + 301_000] {
        let a = http_with(h.api, "GET", path, &read_headers(&chain_id, "judge", path, ts), Vec::new()).await;
        assert_eq!(code(&a), (401, "stale_request".into()), "{ts}");
    }
    // A signature that does not cover this request: 401 bad_read_signature.
    let other_chain = Hash::sha256(b"another chain");
    for headers in [
        read_headers(&chain_id, "judge", "/v1/cases/CASE-2", now), // another path
        read_headers(&other_chain, "judge", path, now),            // another chain
        with(1, &(now + 1).to_string()),                           // another time
        with(0, &test_key("auditor").public().to_string()),        // another key
    ] {
        let a = http_with(h.api, "GET", path, &headers, Vec::new()).await;
        assert_eq!(code(&a), (401, "bad_read_signature".into()), "{}", a.text());
    }
    let mut flipped = good.clone();
    let mut sig = hex::decode(&flipped[2].1).unwrap();
    sig[10] ^= 4;
    flipped[2].1 = hex::encode(sig);
    let a = http_with(h.api, "GET", path, &flipped, Vec::new()).await;
    assert_eq!(code(&a), (401, "bad_read_signature".into()));
    // The path signed includes the query string: a signature over the path alone does not cover
    // the request with a query (no replay with another query), one over both does.
    let with_query = format!("{path}?x=1");
    let a = http_with(h.api, "GET", &with_query, &good, Vec::new()).await;
    assert_eq!(code(&a), (401, "bad_read_signature".into()), "{}", a.text());
    let signed = read_headers(&chain_id, "judge", &with_query, now);
    let a = http_with(h.api, "GET", &with_query, &signed, Vec::new()).await;
    assert_eq!(a.status, 200, "{}", a.text());

    // A deposit's receipt stays readable by whoever holds its ID, unsigned.
    let single = h.chain.blocks[0].0.txs[0].id(&chain_id);
    assert_eq!(get(h.api, &format!("/v1/deposits/{single}/receipt")).await.status, 200);
    h.stop().await;
}

/// A deposit transaction by the test platform with these text fields.
fn deposit_with(c: &TestChain, media_type: &str, label: &str, reference: &str, nonce: u64) -> Transaction {
    let mut tx = c.deposit("platform", format!("fields {nonce}").as_bytes(), nonce);
    if let Payload::Deposit(d) = &mut tx.body.payload {
        d.media_type = media_type.into();
        d.label = label.into();
        d.reference = reference.into();
    }
    tx.body.clone().sign(&c.spec.chain_id, &test_key("platform"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_rules_are_enforced_with_422_invalid_field_naming_the_field() {
    let h = Harness::start(TestChain::new(4), Some(MempoolConfig::default()), 16).await;
    let c = &h.chain;
    let cases: Vec<(Transaction, &str)> = vec![
        (deposit_with(c, "application/pdf", "\u{1b}[2J\u{1b}[32mVALID", "", 1), "label"),
        (deposit_with(c, "application/pdf", "", "", 2), "label"),
        (deposit_with(c, "application/pdf", &"a".repeat(300), "", 3), "label"),
        (deposit_with(c, "application/pdf", "contract\u{202e}fdp.exe", "", 4), "label"),
        (deposit_with(c, "application/pdf", "zero\u{200b}width", "", 5), "label"),
        (deposit_with(c, "", "ok", "", 6), "media_type"),
        (deposit_with(c, "pdf", "ok", "", 7), "media_type"),
        (deposit_with(c, "text/plain\r\nX-Evil: 1", "ok", "", 8), "media_type"),
        (deposit_with(c, "application/pdf", "ok", "ref\u{7}", 9), "reference"),
    ];
    for (tx, field) in &cases {
        let a = post(h.api, "/v1/deposits", &tx_json(tx)).await;
        assert_eq!((a.status, a.code().as_str()), (422, "invalid_field"), "{field}: {}", a.text());
        let message = a.json()["error"]["message"].as_str().unwrap().to_owned();
        assert!(message.starts_with(&format!("invalid {field}: ")), "{message}");
        assert!(!message.chars().any(|c| c.is_control()), "the message itself is safe to print: {message:?}");
    }
    // A batch deposit's shared label follows the same rules.
    let mut batch = c.batch("platform", vec![Hash::sha256(b"b1")], 20);
    if let Payload::BatchDeposit(b) = &mut batch.body.payload {
        b.label = "\u{1b}]0;owned\u{7}".into();
    }
    let items = batch.items.clone();
    let mut batch = batch.body.clone().sign(&c.spec.chain_id, &test_key("platform"));
    batch.items = items;
    let a = post(h.api, "/v1/deposits", &tx_json(&batch)).await;
    assert_eq!((a.status, a.code().as_str()), (422, "invalid_field"), "{}", a.text());
    // In a batch of transactions, each bad one is named in its own result; case fields too.
    let good = deposit_with(c, "text/plain; charset=utf-8", "合同 contract", "order-1", 30);
    let bad_title = c.tx("judge", Payload::OpenCase { case_id: "C-1".into(), title: "A\u{2067}B".into() }, 31);
    let bad_case = c.tx("judge", Payload::OpenCase { case_id: "C 1".into(), title: "ok".into() }, 32);
    let a = post(
        h.api,
        "/v1/transactions",
        &json!({"txs": [tx_json(&good), tx_json(&cases[0].0), tx_json(&bad_title), tx_json(&bad_case)]}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text());
    let r = a.json()["results"].clone();
    assert!(r[0]["error"].is_null(), "{r}");
    for (i, field) in [(1, "label"), (2, "title"), (3, "case_id")] {
        assert_eq!(r[i]["error"]["code"], "invalid_field", "{r}");
        assert!(r[i]["error"]["message"].as_str().unwrap().starts_with(&format!("invalid {field}")), "{r}");
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_approvals_are_checked_on_submission() {
    use curia_ledger::genesis::{Client, ClientRole};
    use curia_ledger::tx::{Approval, RegistryAction};
    let h = Harness::start(TestChain::new(4), Some(MempoolConfig::default()), 16).await;
    let c = &h.chain;
    let action = RegistryAction::Add(Client {
        name: "newplatform".into(),
        role: ClientRole::Platform,
        key: test_key("newplatform").public(),
    });
    let msg = action.approval_hash(&c.spec.chain_id);
    let approve = |i: u16| Approval { validator: i, signature: test_key(&format!("v{i}")).sign(&msg) };
    let mut forged = approve(1);
    forged.signature.0[3] ^= 1;
    let registry = |approvals: Vec<Approval>, nonce| {
        c.tx("registrar", Payload::Registry { action: action.clone(), approvals }, nonce)
    };
    for (tx, status, code, says) in [
        (registry(vec![], 1), 422, "not_enough_approvals", "needs approvals of 2 courts, has 0"),
        (registry(vec![approve(0)], 2), 422, "not_enough_approvals", "has 1"),
        (registry(vec![approve(0), forged], 3), 400, "bad_signature", "registry approval"),
        (registry(vec![approve(0), approve(2)], 4), 422, "registry", "not a court"),
        (registry(vec![approve(0), approve(0)], 5), 422, "registry", "repeated approval"),
        (registry(vec![approve(0), approve(9)], 6), 422, "registry", "unknown validator"),
    ] {
        let a = post(h.api, "/v1/transactions", &json!({"txs": [tx_json(&tx)]})).await;
        assert_eq!(a.status, 200, "{}", a.text());
        let e = &a.json()["results"][0]["error"];
        assert_eq!(e["code"], code, "{e}");
        assert_eq!(error_status_of(code), status);
        assert!(e["message"].as_str().unwrap().contains(says), "{e}");
    }
    let ok = registry(vec![approve(0), approve(1)], 7);
    let a = post(h.api, "/v1/transactions", &json!({"txs": [tx_json(&ok)]})).await;
    assert!(a.json()["results"][0]["error"].is_null(), "{}", a.text());
    h.stop().await;
}

fn error_status_of(code: &str) -> u16 {
    api::error_status(code).as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framework_rejections_are_json_too() {
    let (chain, _, _) = committed_chain();
    let h = Harness::start(chain, Some(MempoolConfig::default()), 16).await;
    for (path, status, code) in [
        ("/v1/deposits/%FF", 400, "bad_hex"),
        ("/v1/deposits/%FF/receipt", 400, "bad_hex"),
        ("/v1/digests/%C3%28", 400, "bad_hex"),
        ("/v1/blocks/%FF", 400, "bad_height"),
        ("/v1/blocks/%FF/txs", 400, "bad_height"),
        ("/v1/cases/%FF", 400, "bad_case_id"),
        ("/v1/nothing", 404, "not_found"),
        ("/", 404, "not_found"),
    ] {
        let a = get(h.api, path).await;
        assert_eq!((a.status, a.code().as_str()), (status, code), "{path}: {}", a.text());
        assert_eq!(a.headers["content-type"], "application/json", "{path}");
    }
    for (method, path) in [("GET", "/v1/deposits"), ("PUT", "/v1/transactions"), ("POST", "/v1/status")] {
        let a = http(h.api, method, path, Vec::new()).await;
        assert_eq!((a.status, a.code().as_str()), (405, "method_not_allowed"), "{method} {path}");
    }
    // Too large, before the body is read: the Content-Length says so.
    let a =
        http_with(h.api, "POST", "/v1/deposits", &[("X-Pad", "1".into())], vec![b' '; DEPOSIT_BODY_LIMIT + 1]).await;
    assert_eq!((a.status, a.code().as_str()), (413, "too_large"));
    h.stop().await;
}

/// Open a TCP connection to `addr` from the loopback address `from` (any 127.x.y.z).
async fn connect_from(from: [u8; 4], addr: SocketAddr) -> tokio::net::TcpStream {
    let s = tokio::net::TcpSocket::new_v4().unwrap();
    s.bind(SocketAddr::from((from, 0))).unwrap();
    s.connect(addr).await.unwrap()
}

/// Read what the server sends until it closes the connection (or `within` passes).
async fn read_all(s: tokio::net::TcpStream, within: Duration) -> String {
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(within, read_to_end(&s, &mut buf)).await;
    String::from_utf8_lossy(&buf).into_owned()
}

/// Write all of `buf` to `s` (tokio's `io-util` helpers are not built in this workspace).
async fn write_all(s: &tokio::net::TcpStream, mut buf: &[u8]) -> std::io::Result<()> {
    while !buf.is_empty() {
        s.writable().await?;
        match s.try_write(buf) {
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Read from `s` until the peer closes it (or an error), appending to `out`.
async fn read_to_end(s: &tokio::net::TcpStream, out: &mut Vec<u8>) -> std::io::Result<()> {
    let mut buf = [0u8; 4096];
    loop {
        s.readable().await?;
        match s.try_read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_bodies_hold_no_submission_slot_and_time_out() {
    let h = Harness::start(TestChain::new(4), Some(MempoolConfig::default()), 64).await;
    let c = &h.chain;
    // More stalled bodies than there are submission slots (issue 15: 8 of these locked out every
    // deposit), each from its own address, and a stalled head.
    let mut stalled = Vec::new();
    for i in 0..(2 * api::SUBMIT_CONCURRENCY as u8) {
        let s = connect_from([127, 0, 1, 10 + i], h.api).await;
        write_all(&s, b"POST /v1/deposits HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{").await.unwrap();
        stalled.push(s);
    }
    let head = connect_from([127, 0, 1, 200], h.api).await;
    write_all(&head, b"POST /v1/deposits HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
    // Honest deposits go through at once.
    let t = std::time::Instant::now();
    for n in 0..(api::SUBMIT_CONCURRENCY as u64 + 4) {
        let a = post(h.api, "/v1/deposits", &tx_json(&c.deposit("platform", &n.to_be_bytes(), n))).await;
        assert_eq!(a.status, 202, "{}", a.text());
    }
    assert!(t.elapsed() < Duration::from_secs(10), "honest deposits took {:?}", t.elapsed());
    // Each stalled body is answered 408 body_timeout at its deadline and closed; the stalled head
    // is closed at the header deadline.
    let limit = api::BODY_READ_TIMEOUT + Duration::from_secs(15);
    let answers = futures::future::join_all(stalled.into_iter().map(|s| read_all(s, limit))).await;
    for a in &answers {
        assert!(a.starts_with("HTTP/1.1 408 "), "{a:?}");
        assert!(a.contains(r#""code":"body_timeout""#), "{a}");
    }
    let closed = read_all(head, curia_node::limits::HEADER_READ_TIMEOUT + Duration::from_secs(15)).await;
    assert!(!closed.contains("202"), "{closed}");
    let m = get(h.ops, "/metrics").await.text();
    let n = 2 * api::SUBMIT_CONCURRENCY;
    assert!(m.contains(&format!("curia_rejected_transactions_total{{reason=\"body_timeout\"}} {n}")), "{m}");
    assert!(m.contains("curia_refused_connections_total{reason=\"header_timeout\"} 1"), "{m}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_capped_per_address() {
    let h = Harness::start(TestChain::new(4), Some(MempoolConfig::default()), 16).await;
    let from = [127, 0, 2, 1];
    let mut held = Vec::new();
    for _ in 0..api::API_MAX_CONNECTIONS_PER_IP {
        held.push(connect_from(from, h.api).await);
    }
    // The metric shows them before the next one is refused (the server counts on accept).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let gauge = format!("curia_http_connections{{listener=\"api\"}} {}", api::API_MAX_CONNECTIONS_PER_IP);
    while !get(h.ops, "/metrics").await.text().contains(&gauge) {
        assert!(std::time::Instant::now() < deadline, "the server did not accept the connections");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let refused = read_all(connect_from(from, h.api).await, Duration::from_secs(10)).await;
    assert!(refused.starts_with("HTTP/1.1 503 "), "{refused:?}");
    assert!(refused.contains(r#""code":"too_many_connections""#), "{refused}");
    assert!(refused.to_ascii_lowercase().contains("retry-after: 1"), "{refused}");
    // Another address is served meanwhile.
    let s = connect_from([127, 0, 2, 2], h.api).await;
    drop(s);
    let a = get(h.api, "/v1/status").await;
    assert_eq!(a.status, 200);
    let m = get(h.ops, "/metrics").await.text();
    assert!(m.contains("curia_refused_connections_total{reason=\"too_many_connections_from_address\"} 1"), "{m}");
    // Closing them frees the address's places.
    drop(held);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let answer = read_all(
            {
                let s = connect_from(from, h.api).await;
                write_all(&s, b"GET /v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
                s
            },
            Duration::from_secs(10),
        )
        .await;
        if answer.starts_with("HTTP/1.1 200 ") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{answer}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    h.stop().await;
}

/// `GET /v1/membership` serves the chain's membership history (receipt format 13) and receipts
/// of blocks certified after a change embed the entries in force at their height, on a chain
/// whose set changed twice (add a court, rotate a key).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_history_is_served_and_embedded_in_receipts() {
    let (mut chain, deposits) = TestChain::membership_fixture();
    chain.commit(vec![]); // so that the last deposit's block has its canonical certificate
    let history = chain.history();
    let h = Harness::start(chain, None, 4).await;
    let spec = h.chain.spec.clone();
    let a = get(h.api, "/v1/membership").await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.headers["content-type"], "application/json");
    let doc = curia_api_types::MembershipHistory::parse(&a.body).unwrap();
    assert_eq!((doc.chain_id, doc.entries.clone()), (spec.chain_id, history));
    let m = curia_ledger::history::walk_history(&spec, &doc.entries).unwrap();
    assert_eq!(m.len(), 2);
    for (name, id, evidence) in &deposits {
        let a = get(h.api, &format!("/v1/deposits/{id}/receipt")).await;
        assert_eq!(a.status, 200, "{name}: {}", a.text());
        let r = Receipt::from_json(&a.body).unwrap();
        assert_eq!(r, h.chain.receipt(id).unwrap(), "{name}");
        let want = match name.as_str() {
            "before" => 0,
            "one" => 1,
            _ => 2,
        };
        assert_eq!(r.membership.len(), want, "{name}");
        let report = verify_receipt(Evidence::Bytes(evidence), &r, &spec);
        assert!(report.is_valid(), "{name}: {:?}", report.first_failure());
    }
    h.stop().await;
}

/// `GET /v1/evidence` summarises each double vote under the set in force at its height: on a
/// chain where v4 joined and v1's key was rotated, a double vote by v4 (index 4, not in the
/// genesis) and one by index 1 signed with its new key are served with their in-force keys and
/// check offline against the walked membership history, not against the genesis set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_is_summarised_under_the_set_in_force() {
    use curia_ledger::block::{Vote, VoteKind};
    use curia_ledger::equivocation::{Equivocation, EquivocationJson};
    let (chain, _) = TestChain::membership_fixture();
    let history = chain.history();
    let h = Harness::start(chain, None, 4).await;
    let spec = h.chain.spec.clone();
    let height = h.store.tip().height;
    let double = |index: u16, key: &str| {
        let vote = |block| {
            Vote {
                chain_id: spec.chain_id,
                height,
                round: 0,
                kind: VoteKind::Prevote,
                block,
                time_ms: 1,
                validator: index,
            }
            .sign(&test_key(key))
        };
        Equivocation::new(vote(Some(Hash::sha256(b"x"))), vote(None)).unwrap()
    };
    let (joined, rotated) = (double(4, "v4"), double(1, "v1-rotated"));
    assert!(h.store.record_equivocation(&joined).unwrap());
    assert!(h.store.record_equivocation(&rotated).unwrap());
    let a = get(h.api, "/v1/evidence").await;
    assert_eq!(a.status, 200, "{}", a.text());
    let list: curia_api_types::EvidenceList = serde_json::from_slice(&a.body).unwrap();
    let m = curia_ledger::history::walk_history(&spec, &history).unwrap();
    let mut seen = Vec::new();
    for j in &list.evidence {
        let e = j.check_at(&spec.chain_id, &m).unwrap();
        assert!(j.check(&spec).is_err(), "a later set's double vote must not check against the genesis set");
        seen.push((j.validator, j.validator_key, e));
    }
    seen.sort_by_key(|s| s.0);
    assert_eq!(
        seen,
        vec![(1, test_key("v1-rotated").public(), rotated.clone()), (4, test_key("v4").public(), joined.clone())]
    );
    assert_eq!(EquivocationJson::from_evidence_at(&joined, &spec.chain_id, &m).unwrap(), list.evidence[1].clone());
    h.stop().await;
}
