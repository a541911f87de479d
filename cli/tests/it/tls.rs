//! TLS on the API and ops listeners, with real processes: a `curia testnet init --tls` network
//! of four validators on loopback commits a deposit sent over HTTPS and serves its receipt;
//! plain HTTP to a TLS port is answered `tls_required` and closed at once (so it holds no
//! connection slot); a client that trusts another CA cannot connect; a node whose key does not
//! fit its certificate refuses to start; `curia node backup` reaches the ops listener over TLS
//! with the node's token and the testnet's CA, and is refused clearly without them.
//!
//! The client here is the test's own (ureq over rustls with the testnet's CA file), not the
//! `curia` client commands.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::curia;
use curia_ledger::crypto::SecretKey;
use curia_ledger::hash::Hash;
use curia_ledger::receipt::Receipt;
use curia_ledger::tx::{Commitment, Deposit, Payload, TxBody};
use curia_node::config::read_key;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

const NAMES: [&str; 4] = ["court-a", "court-b", "notary", "timesvc"];

/// An HTTPS agent trusting only the CA certificates in `ca_pem`.
fn agent_trusting(ca_pem: &[u8]) -> ureq::Agent {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    ureq::AgentBuilder::new()
        .tls_config(Arc::new(cfg))
        .timeout_connect(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .build()
}

struct Net {
    dir: PathBuf,
    base: u16,
    nodes: Vec<Child>,
}

impl Net {
    fn api(&self, i: usize) -> String {
        format!("https://127.0.0.1:{}", self.base + 1000 + i as u16)
    }
    fn ops(&self, i: usize) -> String {
        format!("https://127.0.0.1:{}", self.base + 2000 + i as u16)
    }
    fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.dir.join(NAMES[i]).join("node.log")).unwrap_or_default()
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for c in &mut self.nodes {
            let _ = c.kill();
            let _ = c.wait();
        }
        // The test's `TestDir`, declared before the `Net`, removes the folder after this.
    }
}

fn spawn(config: &Path) -> Child {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(config.with_file_name("node.log")).unwrap();
    curia().args(["node", "run", "--config"]).arg(config).stdout(Stdio::null()).stderr(log).spawn().unwrap()
}

fn deposit_tx(key: &SecretKey, chain_id: &Hash, content: &[u8]) -> curia_ledger::tx::Transaction {
    let body = TxBody {
        sender: key.public(),
        nonce: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64,
        payload: Payload::Deposit(Deposit {
            commitment: Commitment::Sha256(Hash::sha256(content)),
            media_type: "text/plain".into(),
            byte_length: content.len() as u64,
            label: "tls.txt".into(),
            reference: String::new(),
        }),
    };
    body.sign(chain_id, key)
}

/// The value of metric line `name{labels}` in a Prometheus text page (0 if absent).
fn metric(page: &str, line_start: &str) -> f64 {
    page.lines().find_map(|l| l.strip_prefix(line_start)).and_then(|v| v.trim().parse().ok()).unwrap_or(0.0)
}

#[test]
fn testnet_over_tls() {
    let _serial = common::serial();
    let base = common::Cluster::port_base(0) + 9;
    let dir = common::TestDir::new("tls");
    let out = curia()
        .args(["testnet", "init", "--tls", "--validators", "4", "--base-port", &base.to_string(), "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("api https://127.0.0.1:{}", base + 1000)), "{stdout}");
    let ca_pem = std::fs::read(dir.join("tls/ca.pem")).expect("the CA certificate is in OUT/tls/ca.pem");
    for n in NAMES {
        let p = dir.join(n).join("node.toml");
        let t = std::fs::read_to_string(&p).unwrap();
        assert!(t.contains("[api.tls]") && t.contains("[ops.tls]"), "{t}");
        let t = t
            .replace("propose_ms = 3000", "propose_ms = 1000")
            .replace("empty_block_ms = 1000", "empty_block_ms = 500");
        std::fs::write(&p, t).unwrap();
    }

    // A node whose key does not fit its certificate refuses to start, naming the files.
    let bad = dir.join("court-a/bad.toml");
    let t = std::fs::read_to_string(dir.join("court-a/node.toml")).unwrap();
    let notary_key = dir.join("notary/tls/node.key");
    std::fs::write(
        &bad,
        t.replacen("key = \"tls/node.key\"", &format!("key = {:?}", notary_key.display().to_string()), 1),
    )
    .unwrap();
    let o = curia().args(["node", "run", "--config"]).arg(&bad).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("does not fit certificate chain"), "{err}");
    std::fs::write(&bad, t.replacen("tls/node.crt", "tls/missing.crt", 1)).unwrap();
    let o = curia().args(["node", "run", "--config"]).arg(&bad).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("missing.crt") && err.contains("cannot read"), "{err}");

    let nodes = NAMES.iter().map(|n| spawn(&dir.join(n).join("node.toml"))).collect();
    let net = Net { dir: dir.to_path_buf(), base, nodes };
    let agent = agent_trusting(&ca_pem);
    for i in 0..4 {
        let t = Instant::now();
        while agent.get(&format!("{}/healthz", net.ops(i))).call().is_err() {
            assert!(t.elapsed() < Duration::from_secs(60), "node {i} not healthy over TLS; log:\n{}", net.log(i));
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    // A deposit over HTTPS commits, and its receipt verifies against the genesis.
    let status: serde_json::Value =
        agent.get(&format!("{}/v1/status", net.api(0))).call().unwrap().into_json().unwrap();
    let chain_id = Hash::from_hex(status["chain_id"].as_str().unwrap()).unwrap();
    let platform = read_key(&dir.join("clients/platform.key")).unwrap();
    let content = b"evidence sent over TLS\n";
    let tx = deposit_tx(&platform, &chain_id, content);
    let resp: serde_json::Value = agent
        .post(&format!("{}/v1/deposits", net.api(1)))
        .send_json(serde_json::to_value(&tx).unwrap())
        .unwrap()
        .into_json()
        .unwrap();
    let id = resp["deposit_ids"][0].as_str().unwrap().to_string();
    let t = Instant::now();
    let receipt = loop {
        match agent.get(&format!("{}/v1/deposits/{id}/receipt", net.api(2))).call() {
            Ok(r) => break Receipt::from_json(r.into_string().unwrap().as_bytes()).unwrap(),
            Err(ureq::Error::Status(404, _)) if t.elapsed() < Duration::from_secs(60) => {
                std::thread::sleep(Duration::from_millis(250))
            }
            Err(e) => panic!("receipt of {id}: {e}; log:\n{}", net.log(2)),
        }
    };
    let f = dir.join("evidence.txt");
    std::fs::write(&f, content).unwrap();
    let rf = dir.join("r.json");
    std::fs::write(&rf, receipt.to_json()).unwrap();
    let o = curia()
        .arg("verify")
        .arg(&f)
        .arg("--receipt")
        .arg(&rf)
        .arg("--genesis")
        .arg(dir.join("genesis.json"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));

    // Plain HTTP to the TLS API port: a JSON 400 `tls_required`, then the server closes. 100
    // such connections, each left open by the client, more than the 64 allowed from one address:
    // none holds a slot, so every one gets the same answer and HTTPS still works after them.
    let port = base + 1000;
    let mut held = Vec::new();
    for k in 0..100 {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        s.write_all(b"GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap_or_else(|e| panic!("connection {k}: not closed by the server: {e}"));
        assert!(answer.starts_with("HTTP/1.1 400") && answer.contains("\"tls_required\""), "connection {k}: {answer}");
        held.push(s);
    }
    agent.get(&format!("{}/v1/status", net.api(0))).call().expect("HTTPS works after 100 plain-HTTP attempts");
    // ureq speaking plain HTTP gets the same answer.
    match ureq::get(&format!("http://127.0.0.1:{port}/v1/status")).call() {
        Err(ureq::Error::Status(400, r)) => assert!(r.into_string().unwrap().contains("tls_required")),
        other => panic!("plain HTTP to a TLS port: {other:?}"),
    }
    // The node counts a refusal, and closes its connection slot, just after answering: wait
    // (bounded) for the counts rather than read them once.
    let metrics_until = |what: &str, ok: &dyn Fn(&str) -> bool| {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let page = agent.get(&format!("{}/metrics", net.ops(0))).call().unwrap().into_string().unwrap();
            if ok(&page) {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "{what}:\n{page}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    metrics_until("101 tls_required refusals counted", &|page| {
        metric(page, "curia_refused_connections_total{reason=\"tls_required\"}") >= 101.0
    });
    // Open API connections: at most the agent's own pooled one, not the 100 plain ones.
    metrics_until("plain connections closed", &|page| metric(page, "curia_http_connections{listener=\"api\"}") <= 1.0);

    // A client trusting another CA cannot connect, to the API or to the ops listener.
    let other = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let stranger = agent_trusting(other.cert.pem().as_bytes());
    for url in [format!("{}/v1/status", net.api(0)), format!("{}/healthz", net.ops(0))] {
        match stranger.get(&url).call() {
            Err(ureq::Error::Transport(t)) => {
                let m = t.to_string();
                assert!(m.to_lowercase().contains("certificate"), "{url}: {m}");
            }
            other => panic!("{url} with the wrong CA: {other:?}"),
        }
    }
    // The client gives up on the certificate before the server has read its alert.
    metrics_until("failed handshakes counted", &|page| {
        metric(page, "curia_refused_connections_total{reason=\"tls_handshake_failed\"}") >= 1.0
    });
    drop(held);

    // `curia node backup` over TLS with the node's token: with the testnet's CA it gets a
    // backup; without a CA (public roots only), with another CA or with a wrong token it is
    // refused with a message that says why, and writes nothing.
    let config = dir.join("court-a/node.toml");
    let backups = dir.join("court-a/data/backups");
    let backup = |extra: &[&std::ffi::OsStr], cfg: &Path| {
        let o = curia().args(extra).args(["node", "backup", "--config"]).arg(cfg).output().unwrap();
        (o.status.code(), String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr))
    };
    let count = || std::fs::read_dir(&backups).map(|d| d.count()).unwrap_or(0);
    let (code, out) = backup(&[], &config);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("serves TLS") && out.contains("--ca-file"), "{out}");
    let other_ca = dir.join("other-ca.pem");
    std::fs::write(&other_ca, other.cert.pem()).unwrap();
    let (code, out) = backup(&["--ca-file".as_ref(), other_ca.as_os_str()], &config);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.to_lowercase().contains("certificate"), "{out}");
    let wrong_token = dir.join("court-a/wrong.token");
    std::fs::write(&wrong_token, "x".repeat(40)).unwrap();
    let t = std::fs::read_to_string(&config).unwrap();
    assert!(t.contains("token_file = "), "{t}");
    let wrong_cfg = dir.join("court-a/wrong-token.toml");
    let line = t.lines().find(|l| l.starts_with("token_file = ")).unwrap();
    std::fs::write(&wrong_cfg, t.replace(line, &format!("token_file = {:?}", wrong_token.display().to_string())))
        .unwrap();
    let ca = dir.join("tls/ca.pem");
    let (code, out) = backup(&["--ca-file".as_ref(), ca.as_os_str()], &wrong_cfg);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("refused the token"), "{out}");
    assert_eq!(count(), 0, "a refused backup wrote something");
    let (code, out) = backup(&["--ca-file".as_ref(), ca.as_os_str()], &config);
    assert_eq!(code, Some(0), "{out}");
    let path = out.lines().find_map(|l| l.strip_prefix("backup")).unwrap_or_else(|| panic!("{out}")).trim();
    assert!(Path::new(path).join("CURRENT").is_file(), "{out}");
    assert_eq!(count(), 1);
    let o = curia().args(["audit", "--data-dir", path, "--genesis"]).arg(dir.join("genesis.json")).output().unwrap();
    assert!(o.status.success(), "{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
}
