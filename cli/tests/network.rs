//! Real processes on loopback: four `curia node run` validators, started and stopped by the
//! tests themselves. Covers the node issue's process-level acceptance tests.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use curia_ledger::block::Header;
use curia_ledger::genesis::Genesis;
use curia_ledger::receipt::Receipt;
use curia_ledger::verify::{verify_receipt, Evidence};

fn curia() -> Command {
    Command::new(env!("CARGO_BIN_EXE_curia"))
}

/// The cluster tests run one at a time: each starts four processes on a two-core machine.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

struct Cluster {
    _serial: std::sync::MutexGuard<'static, ()>,
    dir: PathBuf,
    base: u16,
    names: Vec<String>,
    nodes: Vec<Option<Child>>,
}

impl Cluster {
    fn start(test: u16) -> Cluster {
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let base = 31000 + (std::process::id() % 300) as u16 * 30 + test * 6;
        let dir = std::env::temp_dir().join(format!("curia-net-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let out = curia()
            .args(["testnet", "init", "--validators", "4", "--base-port", &base.to_string(), "--out"])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        // Short timeouts so failed rounds pass quickly in tests.
        let names: Vec<String> = ["court-a", "court-b", "notary", "timesvc"].iter().map(|s| s.to_string()).collect();
        for n in &names {
            let p = dir.join(n).join("node.toml");
            let t = std::fs::read_to_string(&p).unwrap();
            let t = t.replace("propose_ms = 3000", "propose_ms = 1000").replace("delta_ms = 500", "delta_ms = 250");
            std::fs::write(&p, t).unwrap();
        }
        let mut c = Cluster { _serial: serial, dir, base, names, nodes: vec![] };
        for i in 0..4 {
            c.nodes.push(Some(c.spawn(i)));
        }
        for i in 0..4 {
            c.wait_healthy(i);
        }
        c
    }

    fn spawn(&self, i: usize) -> Child {
        let d = self.dir.join(&self.names[i]);
        let log = std::fs::OpenOptions::new().create(true).append(true).open(d.join("node.log")).unwrap();
        curia()
            .args(["node", "run", "--config"])
            .arg(d.join("node.toml"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap()
    }

    fn api(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.base + 1000 + i as u16)
    }

    fn wait_healthy(&self, i: usize) {
        let url = format!("http://127.0.0.1:{}/healthz", self.base + 2000 + i as u16);
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(30) {
            if ureq::get(&url).call().is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("node {i} did not become healthy; log:\n{}", self.log(i));
    }

    fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.dir.join(&self.names[i]).join("node.log")).unwrap_or_default()
    }

    fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn restart(&mut self, i: usize) {
        self.nodes[i] = Some(self.spawn(i));
        self.wait_healthy(i);
    }

    fn height(&self, i: usize) -> u64 {
        let v: serde_json::Value =
            ureq::get(&format!("{}/v1/status", self.api(i))).call().unwrap().into_json().unwrap();
        v["height"].as_u64().unwrap()
    }

    fn block_hash(&self, i: usize, h: u64) -> String {
        let v: serde_json::Value =
            ureq::get(&format!("{}/v1/blocks/{h}", self.api(i))).call().unwrap().into_json().unwrap();
        let header: Header = serde_json::from_value(v["header"].clone()).unwrap();
        header.hash().to_hex()
    }

    fn genesis(&self) -> curia_ledger::genesis::ChainSpec {
        Genesis::from_json(&std::fs::read(self.dir.join("genesis.json")).unwrap()).unwrap()
    }

    /// Deposit a fresh file through node `i`, wait for its receipt, and return it.
    fn deposit(&self, i: usize, content: &str) -> (Vec<u8>, Receipt) {
        let f = self.dir.join(format!("evidence-{}.txt", content.len() ^ i));
        std::fs::write(&f, content).unwrap();
        let out = curia()
            .arg("deposit")
            .arg(&f)
            .arg("--key")
            .arg(self.dir.join("clients/platform.key"))
            .args(["--node", &self.api(i), "--wait", "--timeout", "60", "--out"])
            .arg(self.dir.join("receipts"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "deposit failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let id = String::from_utf8(out.stdout).unwrap()[..64].to_string();
        let r =
            Receipt::from_json(&std::fs::read(self.dir.join("receipts").join(format!("{id}.receipt.json"))).unwrap())
                .unwrap();
        (content.as_bytes().to_vec(), r)
    }

    fn wait_height(&self, i: usize, h: u64, within: Duration) -> bool {
        let t = Instant::now();
        while t.elapsed() < within {
            if self.height(i) >= h {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn fetch_receipt(api: &str, id: &str) -> String {
    ureq::get(&format!("{api}/v1/deposits/{id}/receipt")).call().unwrap().into_string().unwrap()
}

#[test]
fn four_nodes_commit_and_serve_the_same_receipt() {
    let c = Cluster::start(0);
    let spec = c.genesis();
    let (data, r) = c.deposit(0, "contract v1, signed by both parties\n");
    assert!(verify_receipt(Evidence::Bytes(&data), &r, &spec).is_valid());
    let id = r.deposit_id.to_hex();
    // Every node serves the same receipt once it has the block.
    for i in 0..4 {
        assert!(c.wait_height(i, r.header.height, Duration::from_secs(20)), "node {i} lags");
        let other = Receipt::from_json(fetch_receipt(&c.api(i), &id).as_bytes()).unwrap();
        // Same deposit, block, proofs and committed block hash. Each node's certificate holds the
        // quorum of precommits *it* collected, so the signer sets may differ; each must verify.
        let strip = |mut x: Receipt| {
            x.certificate.sigs.clear();
            x
        };
        assert_eq!(strip(other.clone()), strip(r.clone()), "node {i} serves another receipt");
        assert!(verify_receipt(Evidence::Bytes(&data), &other, &spec).is_valid(), "node {i}'s receipt");
    }
    // An unregistered client cannot deposit: its own key is refused by name.
    let stranger = c.dir.join("stranger.key");
    assert!(curia().arg("keygen").arg("--out").arg(&stranger).output().unwrap().status.success());
    std::fs::write(c.dir.join("x.txt"), "x").unwrap();
    let out = curia()
        .arg("deposit")
        .arg(c.dir.join("x.txt"))
        .arg("--key")
        .arg(&stranger)
        .args(["--node", &c.api(1)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown_sender"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn one_node_down_then_catches_up() {
    let mut c = Cluster::start(1);
    let (_, r1) = c.deposit(0, "before the crash\n");
    c.kill(3);
    // The other three keep committing.
    let (_, r2) = c.deposit(1, "while node 3 is down\n");
    let (_, r3) = c.deposit(2, "still down\n");
    assert!(r3.header.height > r1.header.height);
    c.restart(3);
    assert!(c.wait_height(3, r3.header.height, Duration::from_secs(60)), "node 3 did not catch up:\n{}", c.log(3));
    for h in 1..=r3.header.height {
        let want = c.block_hash(0, h);
        assert_eq!(c.block_hash(3, h), want, "block {h} differs on the restarted node");
    }
    assert_eq!(fetch_receipt(&c.api(3), &r2.deposit_id.to_hex()), fetch_receipt(&c.api(0), &r2.deposit_id.to_hex()));
}

#[test]
fn two_of_four_down_halts_without_divergence_then_resumes() {
    let mut c = Cluster::start(2);
    let (_, r1) = c.deposit(0, "first\n");
    c.kill(2);
    c.kill(3);
    let stuck = c.height(0);
    // Submit a deposit that cannot commit without a quorum.
    let f = c.dir.join("pending.txt");
    std::fs::write(&f, "waits for quorum\n").unwrap();
    let out = curia()
        .arg("deposit")
        .arg(&f)
        .arg("--key")
        .arg(c.dir.join("clients/platform.key"))
        .args(["--node", &c.api(0)])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pending_id = String::from_utf8(out.stdout).unwrap()[..64].to_string();
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(c.height(0), stuck, "two of four validators cannot commit");
    assert_eq!(c.height(1), stuck);
    for h in 1..=stuck {
        assert_eq!(c.block_hash(0, h), c.block_hash(1, h));
    }
    c.restart(2);
    c.restart(3);
    // Commits resume, and the pending deposit lands.
    let t = Instant::now();
    loop {
        if ureq::get(&format!("{}/v1/deposits/{pending_id}/receipt", c.api(0))).call().is_ok() {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(90), "commits did not resume:\n{}", c.log(0));
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(c.height(0) > r1.header.height);
}
