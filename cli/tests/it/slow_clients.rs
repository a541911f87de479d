//! Slow and greedy clients against a real node (issue 15, item 1): while 200 connections trickle
//! request bodies and 200 trickle request heads into one validator of a four-node testnet, an
//! honest platform's deposits through that same node still commit with a p99 latency under
//! half the node's shortest read deadline (5 s; about 0.25 s p50 and under 2 s p99 on a quiet
//! machine: the test prints them), and the node's resident memory stays bounded.
//!
//! The attackers come from many loopback addresses (127.0.3.x), 20 connections each, under the
//! per-address cap; the honest client comes from 127.0.0.1. An attacker whose connection the
//! node closes (header or body deadline) opens a new one at once, so the pressure lasts for the
//! whole measurement.

use crate::common;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Cluster;
use curia_ledger::hash::Hash;
use curia_ledger::tx::{Commitment, Deposit, Payload, TxBody};

const SLOW_BODIES: usize = 200;
const SLOW_HEADS: usize = 200;
const PER_ADDRESS: usize = 20;
const HONEST_THREADS: usize = 4;
const HONEST_DEPOSITS_EACH: usize = 15;

/// VmRSS of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The value of the first metric line starting with `prefix` on `ops`, or 0.
fn metric(ops: &str, prefix: &str) -> u64 {
    let text = ureq::get(&format!("{ops}/metrics")).call().map(|r| r.into_string().unwrap()).unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// One attacker: keep a connection from `from` open to `api`, trickling a request body (after
/// a complete head) or a request head, one byte a second; reopen it whenever the node closes it.
async fn attacker(slow_body: bool, from: Ipv4Addr, api: SocketAddr, stop: Arc<AtomicBool>, opened: Arc<AtomicU64>) {
    while !stop.load(Ordering::Relaxed) {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind(SocketAddr::from((from, 0))).unwrap();
        let Ok(s) = sock.connect(api).await else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        opened.fetch_add(1, Ordering::Relaxed);
        // Bodies: a head announcing 1 MB, then 8 KiB of it. Heads: 8 KiB of header lines.
        let start = if slow_body {
            format!("POST /v1/deposits HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n{}", "[".repeat(8192))
        } else {
            format!(
                "POST /v1/deposits HTTP/1.1\r\nHost: x\r\n{}X-Slow: ",
                format!("X-Pad: {}\r\n", "a".repeat(500)).repeat(16)
            )
        };
        if write_all(&s, start.as_bytes()).await.is_err() {
            continue;
        }
        while !stop.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if write_all(&s, b"a").await.is_err() {
                break;
            }
        }
    }
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

/// Deposit a fresh digest through `api`; the time from the request to the node reporting it
/// committed.
fn honest_deposit(api: &str, key: &curia_ledger::crypto::SecretKey, chain_id: &Hash, n: u64) -> Duration {
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build();
    let body = TxBody {
        sender: key.public(),
        nonce: n,
        payload: Payload::Deposit(Deposit {
            commitment: Commitment::Sha256(Hash::sha256(format!("honest evidence {n}").as_bytes())),
            media_type: "application/pdf".into(),
            byte_length: 1000,
            label: format!("honest {n}"),
            reference: String::new(),
        }),
    };
    let tx = body.sign(chain_id, key);
    let t = Instant::now();
    let answer: serde_json::Value = agent
        .post(&format!("{api}/v1/deposits"))
        .send_json(serde_json::to_value(&tx).unwrap())
        .unwrap_or_else(|e| panic!("honest deposit {n} refused: {e:?}"))
        .into_json()
        .unwrap();
    let id = answer["tx_id"].as_str().unwrap().to_owned();
    loop {
        match agent.get(&format!("{api}/v1/deposits/{id}")).call() {
            Ok(_) => return t.elapsed(),
            Err(ureq::Error::Status(404, _)) => {}
            Err(e) => panic!("deposit {n}: {e:?}"),
        }
        assert!(t.elapsed() < Duration::from_secs(60), "deposit {n} not committed within 60 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn slow_clients_do_not_starve_honest_deposits_or_grow_memory() {
    let c = Cluster::start(1);
    let api = c.api(0);
    let ops = format!("http://127.0.0.1:{}", c.base + 2000);
    let api_addr: SocketAddr = api.trim_start_matches("http://").parse().unwrap();
    let pid = c.pid(0).unwrap();
    let key = curia_node::config::read_key(&c.dir.join("clients/platform.key")).unwrap();
    let chain_id = c.genesis().chain_id;

    // Warm up (first blocks, allocator), then take the baseline.
    for n in 0..3 {
        honest_deposit(&api, &key, &chain_id, 1_000_000 + n);
    }
    let rss_before = rss_kib(pid);

    let stop = Arc::new(AtomicBool::new(false));
    let opened = Arc::new(AtomicU64::new(0));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    for k in 0..SLOW_BODIES + SLOW_HEADS {
        let from = Ipv4Addr::new(127, 0, 3, 1 + (k / PER_ADDRESS) as u8);
        rt.spawn(attacker(k < SLOW_BODIES, from, api_addr, stop.clone(), opened.clone()));
    }
    // Wait until the attack is in place: most of its connections are open on the node.
    let t = Instant::now();
    let gauge = "curia_http_connections{listener=\"api\"}";
    while metric(&ops, gauge) < ((SLOW_BODIES + SLOW_HEADS) * 3 / 4) as u64 {
        assert!(t.elapsed() < Duration::from_secs(60), "attack connections not open: {}", metric(&ops, gauge));
        std::thread::sleep(Duration::from_millis(100));
    }
    let held = metric(&ops, gauge);

    // Honest deposits under attack, from several threads.
    let mut rss_max = rss_kib(pid);
    let honest: Vec<_> = (0..HONEST_THREADS)
        .map(|t| {
            let (api, key) = (api.clone(), key.clone());
            std::thread::spawn(move || {
                (0..HONEST_DEPOSITS_EACH)
                    .map(|i| honest_deposit(&api, &key, &chain_id, (t * 1000 + i) as u64))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    while !honest.iter().all(|h| h.is_finished()) {
        rss_max = rss_max.max(rss_kib(pid));
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut latencies: Vec<Duration> = honest.into_iter().flat_map(|h| h.join().unwrap()).collect();
    latencies.sort();
    let p99 = latencies[(latencies.len() * 99).div_ceil(100) - 1];
    let p50 = latencies[latencies.len() / 2];

    // The node's deadlines closed attack connections (and the attackers reopened them).
    let t = Instant::now();
    while metric(&ops, "curia_rejected_transactions_total{reason=\"body_timeout\"}") == 0
        || metric(&ops, "curia_refused_connections_total{reason=\"header_timeout\"}") == 0
    {
        rss_max = rss_max.max(rss_kib(pid));
        assert!(t.elapsed() < Duration::from_secs(60), "no body or header deadline fired");
        std::thread::sleep(Duration::from_millis(200));
    }
    let still_held = metric(&ops, gauge);
    stop.store(true, Ordering::Relaxed);
    rt.shutdown_timeout(Duration::from_secs(5));

    let grown_mib = rss_max.saturating_sub(rss_before) / 1024;
    eprintln!(
        "slow clients: {held} connections held ({still_held} at the end, {} opened in all); honest deposits: \
         {} samples, p50 {p50:?}, p99 {p99:?}, max {:?}; node RSS {} MiB before, {} MiB at most (+{grown_mib} MiB)",
        opened.load(Ordering::Relaxed),
        latencies.len(),
        latencies.last().unwrap(),
        rss_before / 1024,
        rss_max / 1024,
    );
    // Starvation would make honest requests wait for attackers' slots to free, which happens
    // only at the node's read deadlines (HEADER_READ_TIMEOUT, 10 s, the shorter): bound p99 at
    // half of that. Not at the 2 s the node achieves on a quiet machine: one consensus round
    // change (about 2 s, the same for every honest thread at once) already puts a loaded
    // machine's p99 there, attack or not (seen at 2.04-2.05 s under load average 10+).
    let bound = curia_node::limits::HEADER_READ_TIMEOUT / 2;
    assert!(p99 < bound, "p99 {p99:?} under attack, over {bound:?} (all: {latencies:?})");
    // 400 connections each holding up to a 16 KiB head buffer or 8 KiB of body: a few MiB. The
    // bound is generous (allocator, blocks committed meanwhile), and far below what the attack
    // cost before the limits (about 110 MB for 300 connections).
    assert!(grown_mib < 64, "node RSS grew by {grown_mib} MiB under attack");
    assert!(still_held as usize >= (SLOW_BODIES + SLOW_HEADS) / 2, "the attack stopped early: {still_held}");
}
