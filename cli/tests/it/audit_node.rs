//! `curia audit --node URL` against a real local network, and against a small HTTP server that
//! replays a real node's answers with one block tampered with, a truncated or garbage frame, or
//! no blocks at all: each must be caught and named by height, never trusted and never a panic.
//! `/v1/chain` serves case records, so it needs a signed read by an auditor, judge or court key:
//! the audit signs with `--key`, and an unsigned or platform-signed request is refused.

use crate::common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::{curia, Cluster, TestDir};
use curia_ledger::access::{sign_read_request, HEADER_READER, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use curia_ledger::block::{Block, CommitCertificate};
use curia_ledger::codec::Canonical;
use curia_ledger::crypto::SecretKey;
use curia_ledger::tx::{Commitment, Payload};
use curia_ledger::Hash;
use curia_node::chain_stream::{read_frame, FrameWriter, MAX_CHAIN_BLOCKS};
use curia_node::config::read_key;

/// Run `curia audit ARGS --json`; return the exit code and the JSON summary.
/// `curia audit --node API --genesis G --key K --scratch-dir S`, as [`audit`] reports it.
fn audit_node(api: &str, genesis: &Path, key: &Path, scratch: &Path) -> (i32, serde_json::Value, String) {
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let (genesis, key, scratch) = (s(genesis), s(key), s(scratch));
    audit(&["--node", api, "--genesis", &genesis, "--key", &key, "--scratch-dir", &scratch])
}

fn audit(args: &[&str]) -> (i32, serde_json::Value, String) {
    let out = curia().arg("audit").args(args).arg("--json").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let v = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\n{stderr}"));
    (out.status.code().unwrap(), v, stderr)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

/// `GET {api}{path_query}`, signed by `key` at `ts` over `signed_path` (the API path without the
/// query, as the node checks it).
fn signed_get_at(
    api: &str,
    path_query: &str,
    signed_path: &str,
    key: &SecretKey,
    chain_id: &Hash,
    ts: u64,
) -> Result<ureq::Response, Box<ureq::Error>> {
    let sig = sign_read_request(key, chain_id, "GET", signed_path, ts);
    ureq::get(&format!("{api}{path_query}"))
        .set(HEADER_READER, &key.public().to_string())
        .set(HEADER_TIMESTAMP, &ts.to_string())
        .set(HEADER_SIGNATURE, &hex::encode(sig.0))
        .call()
        .map_err(Box::new)
}

/// `GET {api}/v1/chain{query}`, signed now by `key`.
fn signed_chain(api: &str, query: &str, key: &SecretKey, chain_id: &Hash) -> Result<ureq::Response, Box<ureq::Error>> {
    let target = format!("/v1/chain{query}");
    signed_get_at(api, &target, &target, key, chain_id, now_ms())
}

/// The status and error code of a refused request.
fn refusal(r: Result<ureq::Response, Box<ureq::Error>>) -> (u16, String, Option<String>) {
    match r.map_err(|e| *e) {
        Err(ureq::Error::Status(status, resp)) => {
            let challenge = resp.header("WWW-Authenticate").map(str::to_string);
            let v: serde_json::Value = resp.into_json().unwrap();
            (status, v["error"]["code"].as_str().unwrap().to_string(), challenge)
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// An answer of the fake node: status code, content type, body.
type Answer = (u16, &'static str, Vec<u8>);

/// A minimal HTTP/1.1 server on a loopback port, answering each GET with `respond(path)` and
/// closing the connection. Returns its base URL; the thread lives as long as the test process.
fn serve(respond: impl Fn(&str) -> Answer + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let respond = Arc::new(respond);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let respond = respond.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    return;
                }
                // Skip the headers.
                loop {
                    let mut line = String::new();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) if line == "\r\n" || line == "\n" => break,
                        Ok(_) => {}
                    }
                }
                let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_string();
                let (status, content_type, body) = respond(&path);
                let head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = conn.write_all(head.as_bytes());
                let _ = conn.write_all(&body);
                let _ = conn.flush();
            });
        }
    });
    url
}

/// The query parameters `from` and `count` of a `/v1/chain` path.
fn chain_query(path: &str) -> (u64, u64) {
    let q = path.split_once('?').map(|(_, q)| q).unwrap_or("");
    let get =
        |k: &str| q.split('&').find_map(|p| p.strip_prefix(&format!("{k}="))).and_then(|v| v.parse().ok()).unwrap();
    (get("from"), get("count"))
}

/// A snapshot of a real node's answers up to a fixed tip.
#[derive(Clone)]
struct Snapshot {
    status: Vec<u8>,
    genesis: Vec<u8>,
    chain_id: Hash,
    blocks: Vec<(Block, CommitCertificate)>,
}

impl Snapshot {
    fn take(api: &str, key: &SecretKey) -> Snapshot {
        let status: serde_json::Value = ureq::get(&format!("{api}/v1/status")).call().unwrap().into_json().unwrap();
        let tip = status["height"].as_u64().unwrap();
        assert!(tip < u64::from(MAX_CHAIN_BLOCKS), "the test chain fits one frame");
        let genesis = ureq::get(&format!("{api}/v1/genesis")).call().unwrap().into_string().unwrap().into_bytes();
        let chain_id = Hash::from_hex(status["chain_id"].as_str().unwrap()).unwrap();
        let resp = signed_chain(api, &format!("?from=1&count={tip}"), key, &chain_id).unwrap();
        assert_eq!(resp.content_type(), "application/octet-stream");
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut resp.into_reader(), &mut bytes).unwrap();
        let frame = read_frame(&bytes, 1).unwrap();
        assert_eq!(frame.header().count as u64, tip, "the node serves every block up to its status height");
        assert_eq!(frame.header().chain_id, chain_id);
        let blocks: Vec<_> = frame.map(Result::unwrap).collect();
        Snapshot { status: serde_json::to_vec(&status).unwrap(), genesis, chain_id, blocks }
    }

    fn tip(&self) -> u64 {
        self.blocks.len() as u64
    }

    /// A frame of the snapshot's blocks for a `/v1/chain` request, as an honest node builds it.
    fn frame(&self, path: &str) -> Vec<u8> {
        let (from, count) = chain_query(path);
        let mut w = FrameWriter::new(&self.chain_id, from, self.tip());
        for h in from..(from + count).min(self.tip() + 1) {
            let (b, c) = &self.blocks[h as usize - 1];
            if !w.push(h, &b.to_bytes(), &c.to_bytes()) {
                break;
            }
        }
        w.finish()
    }

    /// Serve the snapshot, with `chain` answering `/v1/chain` requests.
    fn serve(self, chain: impl Fn(&Snapshot, &str) -> Answer + Send + Sync + 'static) -> String {
        serve(move |path| {
            if path == "/v1/status" {
                (200, "application/json", self.status.clone())
            } else if path == "/v1/genesis" {
                (200, "application/json", self.genesis.clone())
            } else if path.starts_with("/v1/chain?") {
                chain(&self, path)
            } else {
                (404, "application/json", br#"{"error":{"code":"not_found","message":"no"}}"#.to_vec())
            }
        })
    }
}

fn octets(b: Vec<u8>) -> Answer {
    (200, "application/octet-stream", b)
}

#[test]
fn usage_errors_exit_2() {
    // Neither or both sources: clap refuses with exit code 2.
    let out = curia().arg("audit").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = curia().args(["audit", "--data-dir", "x", "--node", "http://127.0.0.1:1"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    // --key belongs to --node.
    let out = curia().args(["audit", "--data-dir", "x", "--key", "k"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    // No key: exit 2 before any request, saying which key is needed (in JSON and in text).
    let (code, v, _) = audit(&["--node", "http://127.0.0.1:1"]);
    assert_eq!(code, 2);
    assert_eq!(v["exit_code"], 2);
    let e = v["error"].as_str().unwrap();
    assert!(e.contains("--key") && e.contains("auditor") && e.contains("judge") && e.contains("court"), "{v}");
    let out = curia().args(["audit", "--node", "http://127.0.0.1:1"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs --key FILE"));
    // A key file that cannot be read: exit 2, naming it.
    let dir = TestDir::new("audit-usage");
    let missing = dir.join("missing.key");
    let (code, v, _) = audit(&["--node", "http://127.0.0.1:1", "--key", missing.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(v["error"].as_str().unwrap().contains("missing.key"), "{v}");
    // Nothing listens on port 1: a network error, exit 2, reported in JSON. (No port is bound
    // here: this test runs beside the cluster test, whose nodes need their fixed ports.)
    let key = dir.join("auditor.key");
    curia_node::config::write_key(&key, &SecretKey::from_seed(&[7; 32]), true).unwrap();
    let (code, v, _) = audit(&["--node", "http://127.0.0.1:1", "--key", key.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert_eq!(v["exit_code"], 2);
    assert!(v["error"].as_str().unwrap().contains("/v1/genesis"), "{v}");
}

#[test]
fn audits_a_real_network_and_catches_a_node_that_tampers() {
    let c = Cluster::start(3);
    let api = c.api(0);
    let genesis_file = c.dir.join("genesis.json");
    let genesis = genesis_file.to_str().unwrap().to_string();
    let spec = c.genesis();
    let key_file = c.dir.join("clients/auditor.key");
    let key = key_file.to_str().unwrap().to_string();
    let auditor = read_key(&key_file).unwrap();
    let platform_file = c.dir.join("clients/platform.key");
    let platform = read_key(&platform_file).unwrap();
    let mut deposit_heights = vec![];
    for k in 0..3 {
        let (_, r) = c.deposit(k, &format!("exhibit {k}: minutes of the hearing\n"));
        deposit_heights.push(r.header.height);
    }
    let last = *deposit_heights.iter().max().unwrap();
    assert!(c.wait_height(0, last, Duration::from_secs(20)));

    // The API: bad queries are 400 bad_query (checked before the signature); the genesis is the
    // node's.
    for q in ["", "?from=0", "?from=abc", "?from=1&count=0", "?from=1&count=257", "?from=1&from=2", "?from=1&x=2"] {
        match ureq::get(&format!("{api}/v1/chain{q}")).call() {
            Err(ureq::Error::Status(400, r)) => {
                let v: serde_json::Value = r.into_json().unwrap();
                assert_eq!(v["error"]["code"], "bad_query", "{q}: {v}");
            }
            other => panic!("{q}: expected 400, got {other:?}"),
        }
    }
    let g = ureq::get(&format!("{api}/v1/genesis")).call().unwrap().into_string().unwrap();
    assert_eq!(curia_ledger::genesis::Genesis::from_json(g.as_bytes()).unwrap().chain_id, spec.chain_id);
    // Past the tip: an empty frame.
    let resp = signed_chain(&api, "?from=100000&count=5", &auditor, &spec.chain_id).unwrap();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut resp.into_reader(), &mut bytes).unwrap();
    assert_eq!(read_frame(&bytes, 100000).unwrap().header().count, 0);

    // The chain holds case records: only a signed read by an auditor, judge or court key gets it.
    let q = "?from=1&count=2";
    let (status, code, challenge) = refusal(ureq::get(&format!("{api}/v1/chain{q}")).call().map_err(Box::new));
    assert_eq!((status, code.as_str(), challenge.as_deref()), (401, "unsigned_request", Some("Curia-Signature")));
    let (status, code, challenge) = refusal(signed_chain(&api, q, &platform, &spec.chain_id));
    assert_eq!((status, code.as_str(), challenge), (403, "forbidden_reader", None));
    let stranger = SecretKey::from_seed(&[9; 32]);
    let (status, code, _) = refusal(signed_chain(&api, q, &stranger, &spec.chain_id));
    assert_eq!((status, code.as_str()), (403, "forbidden_reader"));
    let stale = now_ms() - 301_000;
    let with_query = format!("/v1/chain{q}");
    let (status, code, _) = refusal(signed_get_at(&api, &with_query, &with_query, &auditor, &spec.chain_id, stale));
    assert_eq!((status, code.as_str()), (401, "stale_request"));
    // The signed path includes the query: a signature over the path alone, or over another
    // range (a captured request replayed with another query), is refused.
    let (status, code, _) = refusal(signed_get_at(&api, &with_query, "/v1/chain", &auditor, &spec.chain_id, now_ms()));
    assert_eq!((status, code.as_str()), (401, "bad_read_signature"));
    let other = "/v1/chain?from=1&count=256";
    let (status, code, _) = refusal(signed_get_at(&api, other, &with_query, &auditor, &spec.chain_id, now_ms()));
    assert_eq!((status, code.as_str()), (401, "bad_read_signature"));
    // A judge's and a court validator's keys are served too.
    let judge = read_key(&c.dir.join("clients/judge.key")).unwrap();
    let court = read_key(&c.dir.join("court-a/validator.key")).unwrap();
    for k in [&auditor, &judge, &court] {
        let resp = signed_chain(&api, q, k, &spec.chain_id).unwrap();
        assert_eq!(resp.content_type(), "application/octet-stream");
    }
    // The audit refuses to start without a key, and reports the node's refusal of a platform key.
    let (code, v, _) = audit(&["--node", &api, "--genesis", &genesis]);
    assert_eq!(code, 2, "{v}");
    assert!(v["error"].as_str().unwrap().contains("needs --key"), "{v}");
    let (code, v, _) = audit(&["--node", &api, "--genesis", &genesis, "--key", platform_file.to_str().unwrap()]);
    assert_eq!(code, 2, "{v}");
    let e = v["error"].as_str().unwrap();
    assert!(e.contains("403") && e.contains("forbidden_reader") && e.contains("refused the key"), "{v}");

    // (a) The real network, with the auditor's own genesis: clean, and the counts add up.
    let before = c.height(0);
    let (code, v, stderr) = audit(&["--node", &api, "--genesis", &genesis, "--key", &key]);
    let after = c.height(0);
    assert_eq!(code, 0, "{v}\n{stderr}");
    assert_eq!(v["ok"], true);
    assert_eq!(v["chain_id"], spec.chain_id.to_hex());
    assert_eq!(v["genesis_checked"], true);
    let blocks = v["blocks"].as_u64().unwrap();
    assert!(blocks >= before && blocks <= after, "audited {blocks} blocks; the node was at {before}..{after}");
    assert_eq!(v["height"].as_u64().unwrap(), blocks);
    assert_eq!(v["deposits"], 3);
    assert_eq!(v["txs"], 3);
    assert!(v["failure"].is_null());
    assert_eq!(v["tip_hash"].as_str().unwrap(), c.block_hash(0, blocks));
    // The same chain audited from the node's own store (opened read-only while it runs).
    let (code, v2, stderr) = audit(&["--data-dir", c.dir.join("court-b/data").to_str().unwrap()]);
    assert_eq!(code, 0, "{v2}\n{stderr}");
    assert_eq!(v2["deposits"], 3);
    // Without --genesis: the node's genesis is used, with a loud warning naming its chain ID.
    let (code, v, stderr) = audit(&["--node", &api, "--key", &key]);
    assert_eq!(code, 0, "{v}\n{stderr}");
    assert_eq!(v["genesis_checked"], false);
    assert!(stderr.contains("WARNING") && stderr.contains(&spec.chain_id.to_hex()), "{stderr}");
    // A genesis of another chain: unusable input.
    let mut other = spec.genesis.clone();
    other.chain_name = "another-chain".into();
    let other_file = c.dir.join("other-genesis.json");
    std::fs::write(&other_file, other.to_json()).unwrap();
    let (code, v, _) = audit(&["--node", &api, "--genesis", other_file.to_str().unwrap(), "--key", &key]);
    assert_eq!(code, 2, "{v}");
    assert!(v["error"].as_str().unwrap().contains("serves chain"), "{v}");

    // (b) A node that replays the real answers but tampers with them.
    let snap = Snapshot::take(&api, &auditor);
    // The network is stopped and its folder removed; keep the auditor's copies of the genesis
    // and its key (the fake node ignores the signature headers).
    let kept_dir = TestDir::new("audit-kept");
    let kept = kept_dir.join("genesis.json");
    std::fs::copy(&genesis_file, &kept).unwrap();
    let genesis = kept.to_str().unwrap().to_string();
    let kept_key = kept_dir.join("auditor.key");
    std::fs::copy(&key_file, &kept_key).unwrap();
    let key = kept_key.to_str().unwrap().to_string();
    drop(c);
    let tip = snap.tip();
    let (t1, t2) = (deposit_heights[0], deposit_heights[1]);
    let run = |url: &str| audit(&["--node", url, "--genesis", &genesis, "--key", &key]);

    // An honest replay passes (the fake node itself is sound).
    let honest = snap.clone().serve(|s, p| octets(s.frame(p)));
    let (code, v, stderr) = run(&honest);
    assert_eq!(code, 0, "{v}\n{stderr}");
    assert_eq!(v["blocks"], tip);

    // A node answering one block at a time (as a node does at its byte budget) is followed to
    // its tip, one request per block.
    let requests = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let seen = requests.clone();
    let one_by_one = snap.clone().serve(move |s, p| {
        seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let (from, _) = chain_query(p);
        octets(s.frame(&format!("/v1/chain?from={from}&count=1")))
    });
    let (code, v, stderr) = run(&one_by_one);
    assert_eq!(code, 0, "{v}\n{stderr}");
    assert_eq!(v["blocks"], tip);
    assert_eq!(v["deposits"], 3);
    assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), tip);

    // One byte flipped inside a transaction of block t1 (its last transaction's signature).
    let url = snap.clone().serve(move |s, p| {
        let mut s = s.clone();
        let (b, c) = &s.blocks[t1 as usize - 1];
        let mut bytes = b.to_bytes();
        let n = bytes.len();
        bytes[n - 4 - 1] ^= 0x01; // before the last transaction's empty item list
        s.blocks[t1 as usize - 1] = (Block::from_bytes(&bytes).unwrap(), c.clone());
        octets(s.frame(p))
    });
    let (code, v, stderr) = run(&url);
    assert_eq!(code, 1, "{v}\n{stderr}");
    assert_eq!(v["failure"]["height"], t1, "{v}");
    assert_eq!(v["blocks"], t1 - 1);
    assert_eq!(v["ok"], false);

    // A deposit's digest swapped in block t2.
    let url = snap.clone().serve(move |s, p| {
        let mut s = s.clone();
        let block = &mut s.blocks[t2 as usize - 1].0;
        let swapped = block.txs.iter_mut().any(|tx| match &mut tx.body.payload {
            Payload::Deposit(d) => {
                d.commitment = Commitment::Sha256(Hash::sha256(b"a fabricated exhibit"));
                true
            }
            _ => false,
        });
        assert!(swapped);
        octets(s.frame(p))
    });
    let (code, v, _) = run(&url);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["failure"]["height"], t2, "{v}");
    // The text summary names the height too.
    let out = curia().args(["audit", "--node", &url, "--genesis", &genesis, "--key", &key]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("FAILED at height {t2}")), "{text}");

    // A certificate signature flipped at t1.
    let url = snap.clone().serve(move |s, p| {
        let mut s = s.clone();
        s.blocks[t1 as usize - 1].1.sigs[0].signature.0[10] ^= 0x80;
        octets(s.frame(p))
    });
    let (code, v, _) = run(&url);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["failure"]["height"], t1, "{v}");
    assert_eq!(v["failure"]["code"], "invalid_certificate", "{v}");

    // A frame cut in the middle of block t1's entry: a problem at t1, not a crash.
    let url = snap.clone().serve(move |s, p| {
        let (from, _) = chain_query(p);
        let mut f = s.frame(p);
        if from <= t1 {
            // Keep the entries before t1 and half of t1's.
            let mut keep = curia_node::chain_stream::HEADER_LEN;
            for h in from..t1 {
                let (b, c) = &s.blocks[h as usize - 1];
                keep += 16 + b.to_bytes().len() + c.to_bytes().len();
            }
            keep += 12 + s.blocks[t1 as usize - 1].0.to_bytes().len() / 2;
            f.truncate(keep);
        }
        octets(f)
    });
    let (code, v, stderr) = run(&url);
    assert_eq!(code, 1, "{v}\n{stderr}");
    assert_eq!(v["failure"]["height"], t1, "{v}");
    assert_eq!(v["failure"]["code"], "bad_frame", "{v}");
    assert_eq!(v["blocks"], t1 - 1);

    // Garbage instead of a frame.
    let url = snap.clone().serve(|_, _| (200, "text/html", b"<html>maintenance</html>".to_vec()));
    let (code, v, stderr) = run(&url);
    assert_eq!(code, 1, "{v}\n{stderr}");
    assert_eq!(v["failure"]["height"], 1, "{v}");
    assert_eq!(v["failure"]["code"], "bad_frame");

    // An answer with no blocks though the status promised some.
    let url = snap.clone().serve(|s, p| octets(FrameWriter::new(&s.chain_id, chain_query(p).0, 0).finish()));
    let (code, v, _) = run(&url);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["failure"]["code"], "short_answer", "{v}");

    // Block t2's entry labelled with another height.
    let url = snap.clone().serve(move |s, p| {
        let (from, count) = chain_query(p);
        let mut w = FrameWriter::new(&s.chain_id, from, s.tip());
        for h in from..(from + count).min(s.tip() + 1) {
            let (b, c) = &s.blocks[h as usize - 1];
            w.push(if h == t2 { h + 1 } else { h }, &b.to_bytes(), &c.to_bytes());
        }
        octets(w.finish())
    });
    let (code, v, _) = run(&url);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["failure"]["height"], t2, "{v}");
    assert_eq!(v["failure"]["code"], "wrong_height", "{v}");

    // A node refusing to serve (500): the audit cannot finish, exit 2.
    let url = snap.clone().serve(|_, _| (500, "application/json", br#"{"error":{"code":"storage"}}"#.to_vec()));
    let (code, v, _) = run(&url);
    assert_eq!(code, 2, "{v}");

    // A status claiming a tip the chain does not end at.
    let mut lying = snap.clone();
    let mut st: serde_json::Value = serde_json::from_slice(&lying.status).unwrap();
    st["tip_hash"] = serde_json::Value::String("ab".repeat(32));
    lying.status = serde_json::to_vec(&st).unwrap();
    let url = lying.serve(|s, p| octets(s.frame(p)));
    let (code, v, _) = run(&url);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["failure"]["code"], "tip_mismatch", "{v}");
}

/// The answers of a node holding `c`'s chain, for [`Snapshot::serve`].
fn snapshot_of(c: &curia_ledger::testkit::TestChain) -> Snapshot {
    let tip = c.blocks.last().map(|(b, _)| b).unwrap();
    let status = serde_json::json!({
        "chain_id": c.spec.chain_id.to_hex(),
        "chain_name": c.spec.genesis.chain_name,
        "node": "fixture",
        "height": c.tip.height,
        "tip_hash": tip.hash().to_hex(),
        "round": 0,
        "peers": 0,
        "mempool_txs": 0,
        "mempool_bytes": 0,
        "last_commit_ms": 0,
    });
    Snapshot {
        status: serde_json::to_vec(&status).unwrap(),
        genesis: c.spec.genesis.to_json().into_bytes(),
        chain_id: c.spec.chain_id,
        blocks: c.blocks.clone(),
    }
}

#[test]
fn membership_changes_and_evidence_audit_in_both_modes_on_the_scratch_state() {
    // Blocks certified by a later validator set (one added, one key rotated) and two recorded
    // offences, one by a validator the genesis set does not have: `--node` and `--data-dir`
    // both replay it into the scratch state on disk, check every certificate under the set in
    // force and name both offenders; the scratch directory is gone afterwards.
    let c = curia_ledger::testkit::TestChain::membership_evidence_fixture();
    let dir = TestDir::new("audit-fixture");
    let genesis = dir.join("genesis.json");
    std::fs::write(&genesis, c.spec.genesis.to_json()).unwrap();
    let key = dir.join("auditor.key");
    curia_node::config::write_key(&key, &curia_ledger::testkit::test_key("auditor"), true).unwrap();
    let data = dir.join("data");
    {
        let store = curia_storage::Store::open(data.join(curia_storage::STORE_SUBDIR), &c.spec).unwrap();
        let mut state = curia_ledger::state::MemState::genesis(&c.spec);
        let mut tip = curia_ledger::state::Tip::genesis(&c.spec);
        for (b, cert) in &c.blocks {
            let ch = curia_ledger::state::apply_block(&c.spec, &state, &tip, b).unwrap();
            store.commit_block(b, cert, &ch).unwrap();
            state.apply(&ch);
            tip = curia_ledger::state::Tip::after(&b.header);
        }
    }
    let scratch = dir.join("scratch");
    std::fs::create_dir(&scratch).unwrap();
    let api = snapshot_of(&c).serve(|s, path| octets(s.frame(path)));
    let (genesis, key, scratch_s) = (genesis.to_str().unwrap(), key.to_str().unwrap(), scratch.to_str().unwrap());
    let runs = [
        vec!["--node", &api, "--genesis", genesis, "--key", key, "--scratch-dir", scratch_s],
        vec!["--data-dir", data.to_str().unwrap(), "--genesis", genesis, "--scratch-dir", scratch_s],
    ];
    for args in runs {
        let (code, v, stderr) = audit(&args);
        assert_eq!(code, 0, "{args:?}: {v}\n{stderr}");
        assert_eq!(v["ok"], true, "{v}");
        assert_eq!(v["height"].as_u64(), Some(c.tip.height), "{v}");
        assert_eq!(v["tip_hash"].as_str(), Some(c.tip.block_hash.to_hex().as_str()), "{v}");
        let ev: Vec<(&str, u64)> = v["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["offender"].as_str().unwrap(), e["height"].as_u64().unwrap()))
            .collect();
        assert_eq!(ev, [("v1", 1), ("v4", c.tip.height - 1)], "{args:?}: {v}");
        assert_eq!(std::fs::read_dir(&scratch).unwrap().count(), 0, "{args:?}: scratch state left behind");
    }
    // A node serving the last block (certified by the later set) with one precommit signature
    // damaged: refused at that height. (A damaged certificate in a store, on disk as in
    // memory: storage/tests/it/store.rs.)
    let mut bad = snapshot_of(&c);
    bad.blocks.last_mut().unwrap().1.sigs[0].signature.0[0] ^= 1;
    let api = bad.serve(|s, path| octets(s.frame(path)));
    let (code, v, stderr) = audit(&["--node", &api, "--genesis", genesis, "--key", key, "--scratch-dir", scratch_s]);
    assert_eq!(code, 1, "{v}\n{stderr}");
    assert_eq!(v["failure"]["height"].as_u64(), Some(c.tip.height), "{v}");
    assert_eq!(std::fs::read_dir(&scratch).unwrap().count(), 0, "scratch state left behind");
}

/// A state that also says `fake` exists: blocks built on it attach a deposit the chain never
/// created (before them), which an honest proposer would refuse.
struct Forged<'a> {
    base: &'a curia_ledger::state::MemState,
    fake: Hash,
}

impl curia_ledger::state::StateView for Forged<'_> {
    fn client(
        &self,
        key: &curia_ledger::crypto::PublicKey,
    ) -> Result<Option<curia_ledger::state::ClientRecord>, curia_ledger::LedgerError> {
        self.base.client(key)
    }
    fn tx_applied(&self, id: &Hash) -> Result<bool, curia_ledger::LedgerError> {
        self.base.tx_applied(id)
    }
    fn deposit_exists(&self, id: &Hash) -> Result<bool, curia_ledger::LedgerError> {
        Ok(*id == self.fake || self.base.deposit_exists(id)?)
    }
    fn case(&self, id: &str) -> Result<Option<curia_ledger::state::CaseRecord>, curia_ledger::LedgerError> {
        self.base.case(id)
    }
    fn attached(&self, case: &str, deposit: &Hash) -> Result<bool, curia_ledger::LedgerError> {
        self.base.attached(case, deposit)
    }
    fn member_entries(&self) -> Result<Vec<curia_ledger::membership::MemberEntry>, curia_ledger::LedgerError> {
        self.base.member_entries()
    }
    fn evidence_recorded(&self, key: &Hash) -> Result<bool, curia_ledger::LedgerError> {
        self.base.evidence_recorded(key)
    }
    fn log_frontier(&self) -> Result<curia_ledger::deposit_log::Frontier, curia_ledger::LedgerError> {
        self.base.log_frontier()
    }
}

/// Build, certify and apply a block of `txs` on a state where `fake` exists too (every
/// transaction must be taken).
fn commit_forged(c: &mut curia_ledger::testkit::TestChain, txs: Vec<curia_ledger::tx::Transaction>, fake: Hash) {
    let set = c.set_at(c.tip.height + 1);
    let proposer = set.validators[(c.tip.height as usize) % set.len()].key;
    let view = Forged { base: &c.state, fake };
    let built =
        curia_ledger::state::build_block(&c.spec, &view, &c.tip, txs, c.proposing(proposer)).expect("state reads");
    assert!(built.rejected.is_empty(), "{:?}", built.rejected);
    let cert = c.certify(&built.block, 0);
    c.state.apply(&built.changes);
    c.tip = curia_ledger::state::Tip::after(&built.block.header);
    c.blocks.push((built.block, cert));
    c.now_ms += 1000;
}

/// The in-memory replay's summary of `c` (every deposit ID in a hash set): the reference.
fn replay_in_memory(c: &curia_ledger::testkit::TestChain) -> curia_ledger::audit::AuditSummary {
    let mut a = curia_ledger::audit::Auditor::in_memory(&c.spec);
    for (b, cert) in &c.blocks {
        if a.push(b, cert).is_err() {
            break;
        }
    }
    a.finish()
}

#[test]
fn attach_deposit_claims_are_checked_by_the_merge_with_the_in_memory_verdicts() {
    // `--node` keeps no deposit IDs: every attach_deposit that reaches its state is assumed and
    // checked after the last block, in the bucket merge, against the deposits the chain created.
    // Each chain below is audited by `--node` and by the in-memory replay (a hash set of every
    // deposit ID): same exit code, failure (height, reason, code), last good block and counts.
    use curia_ledger::testkit::TestChain;
    let attach = |case: &str, d: Hash| Payload::AttachDeposit { case_id: case.into(), deposit_id: d };
    let open = |case: &str| Payload::OpenCase { case_id: case.into(), title: "State v. Doe".into() };
    let dep_id = |c: &TestChain, tx: &curia_ledger::tx::Transaction| tx.deposits(&tx.id(&c.spec.chain_id))[0].0;
    let nobody = Hash::sha256(b"no such deposit");
    // Blocks 1-3: deposits (single and batch), a case, honest attaches (of a single deposit, of a
    // batch item, and of a deposit created earlier in the same block, which the block's overlay
    // answers).
    let base = || {
        let mut c = TestChain::new(4);
        let d1 = c.deposit("platform", b"one", 1);
        let batch = c.batch("platform", (0..5u8).map(|i| Hash::sha256(&[i])).collect(), 2);
        let item = curia_ledger::tx::batch_item_id(&batch.id(&c.spec.chain_id), 3);
        let id1 = dep_id(&c, &d1);
        assert!(c.commit(vec![d1, batch]).is_empty());
        assert!(c.commit(vec![c.tx("judge", open("C-1"), 3)]).is_empty());
        let d2 = c.deposit("platform", b"two", 4);
        let id2 = dep_id(&c, &d2);
        let txs = vec![
            c.tx("judge", attach("C-1", id1), 5),
            c.tx("judge", attach("C-1", item), 6),
            d2,
            c.tx("judge", attach("C-1", id2), 7),
        ];
        assert!(c.commit(txs).is_empty());
        c
    };
    let mut cases: Vec<(&str, TestChain, Option<u64>)> = Vec::new();
    let honest = base();
    cases.push(("honest", honest, None));
    // Block 4 attaches (transaction 1) a deposit no block created; blocks after it are fine.
    let never_created = || {
        let mut c = base();
        let d = c.deposit("platform", b"three", 8);
        let txs = vec![d, c.tx("judge", attach("C-1", nobody), 9)];
        commit_forged(&mut c, txs, nobody);
        assert!(c.commit(vec![c.deposit("platform", b"four", 10)]).is_empty());
        c
    };
    cases.push(("never created", never_created(), Some(4)));
    // Block 4 attaches a deposit block 5 creates.
    let mut c = base();
    let later = c.deposit("platform", b"later", 11);
    let later_id = dep_id(&c, &later);
    let txs = vec![c.tx("judge", attach("C-1", later_id), 12)];
    commit_forged(&mut c, txs, later_id);
    assert!(c.commit(vec![later]).is_empty());
    cases.push(("created later", c, Some(4)));
    // Block 4's transaction 0 attaches the deposit its transaction 1 creates.
    let mut c = base();
    let same = c.deposit("platform", b"same block", 13);
    let same_id = dep_id(&c, &same);
    let txs = vec![c.tx("judge", attach("C-1", same_id), 14), same];
    commit_forged(&mut c, txs, same_id);
    cases.push(("created after it in the block", c, Some(4)));
    // The tip block attaches a deposit no block created and its state root is wrong too: the
    // replay without the set fails there on the root, but the verdict is the attach (earlier in
    // the block), as with the set.
    let mut c = base();
    let txs = vec![c.tx("judge", attach("C-1", nobody), 15)];
    commit_forged(&mut c, txs, nobody);
    let (block, _) = c.blocks.pop().unwrap();
    let mut block = block;
    block.header.state_root = Hash::sha256(b"wrong root");
    let cert = c.certify(&block, 0);
    c.tip = curia_ledger::state::Tip::after(&block.header);
    c.blocks.push((block, cert));
    cases.push(("and a wrong state root", c, Some(4)));

    let dir = TestDir::new("audit-claims");
    let key = dir.join("auditor.key");
    curia_node::config::write_key(&key, &curia_ledger::testkit::test_key("auditor"), true).unwrap();
    let scratch = dir.join("scratch");
    std::fs::create_dir(&scratch).unwrap();
    for (name, c, bad_at) in cases {
        let want = replay_in_memory(&c);
        assert_eq!(want.failure.as_ref().map(|f| f.height), bad_at, "{name}: the reference replay");
        if bad_at.is_some() {
            assert_eq!(want.failure.as_ref().unwrap().code, "invalid_tx_in_block", "{name}: {want:?}");
            assert!(want.failure.as_ref().unwrap().reason.contains("not found"), "{name}: {want:?}");
        }
        let genesis = dir.join("genesis.json");
        std::fs::write(&genesis, c.spec.genesis.to_json()).unwrap();
        let api = snapshot_of(&c).serve(|s, path| octets(s.frame(path)));
        let (code, v, stderr) = audit_node(&api, &genesis, &key, &scratch);
        assert_eq!(code, if bad_at.is_some() { 1 } else { 0 }, "{name}: {v}\n{stderr}");
        match &want.failure {
            None => assert!(v["failure"].is_null(), "{name}: {v}"),
            Some(f) => {
                assert_eq!(v["failure"]["height"].as_u64(), Some(f.height), "{name}: {v}");
                assert_eq!(v["failure"]["code"].as_str(), Some(f.code), "{name}: {v}");
                assert_eq!(v["failure"]["reason"].as_str(), Some(f.reason.as_str()), "{name}: {v}");
            }
        }
        for (field, n) in [
            ("height", want.height),
            ("blocks", want.blocks),
            ("txs", want.txs),
            ("deposits", want.deposits),
            ("cases", want.cases),
            ("case_records", want.case_records),
        ] {
            assert_eq!(v[field].as_u64(), Some(n), "{name}: {field}: {v}");
        }
        assert_eq!(v["tip_hash"].as_str(), Some(want.tip_hash.as_str()), "{name}: {v}");
        assert_eq!(std::fs::read_dir(&scratch).unwrap().count(), 0, "{name}: scratch files left behind");
    }
    // A node that serves blocks 1-4 and then fails (500): with the forged block 4 among them the
    // false claim is the verdict (exit 1, as the replay with every deposit ID stops there before
    // asking for more); with the honest blocks 1-4 the audit cannot finish (exit 2).
    for (c, want_code) in [(never_created(), 1), (base(), 2)] {
        let genesis = dir.join("genesis.json");
        std::fs::write(&genesis, c.spec.genesis.to_json()).unwrap();
        let mut snap = snapshot_of(&c);
        // `base()` has 3 blocks: serve it as if its tip were higher, so block 4 is asked for.
        if c.blocks.len() == 3 {
            let mut st: serde_json::Value = serde_json::from_slice(&snap.status).unwrap();
            st["height"] = serde_json::json!(5);
            snap.status = serde_json::to_vec(&st).unwrap();
        }
        let api = snap.serve(|s, path| {
            let (from, _) = chain_query(path);
            let last = s.tip().min(4);
            if from > last {
                return (500, "application/json", br#"{"error":{"code":"storage","message":"down"}}"#.to_vec());
            }
            let mut w = FrameWriter::new(&s.chain_id, from, s.tip());
            for h in from..=last {
                let (b, cert) = &s.blocks[h as usize - 1];
                assert!(w.push(h, &b.to_bytes(), &cert.to_bytes()));
            }
            octets(w.finish())
        });
        let (code, v, stderr) = audit_node(&api, &genesis, &key, &scratch);
        assert_eq!(code, want_code, "{v}\n{stderr}");
        if want_code == 1 {
            let want = replay_in_memory(&c);
            assert_eq!(v["failure"]["height"].as_u64(), Some(4), "{v}");
            assert_eq!(v["failure"]["reason"].as_str(), Some(want.failure.unwrap().reason.as_str()), "{v}");
            assert_eq!(v["height"].as_u64(), Some(3), "{v}");
        } else {
            assert!(v["error"].as_str().unwrap().contains("after checking blocks 1 to 3"), "{v}");
        }
        assert_eq!(std::fs::read_dir(&scratch).unwrap().count(), 0, "scratch files left behind");
    }
}
