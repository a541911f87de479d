//! The local-network harness shared by the process-level tests: four `curia node run`
//! validators on loopback ports, started by `Cluster::start` and killed on drop; and
//! [`TestDir`], the scratch folder every test of this binary works in.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use curia_client::Client;
use curia_ledger::genesis::Genesis;
use curia_ledger::receipt::Receipt;

pub fn curia() -> Command {
    Command::new(env!("CARGO_BIN_EXE_curia"))
}

/// The cluster tests run one at a time: each starts four processes on a two-core machine, and
/// they share one process's port window ([`Cluster::port_base`]).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Hold this while a test runs `curia node run` processes without a [`Cluster`] (which holds it
/// itself): such tests then never overlap each other, in CPU or in ports.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Set to `1` to keep every test's scratch folder (its path is printed) for inspecting a failure.
pub const KEEP_ENV: &str = "CURIA_KEEP_TEST_DIRS";

/// A fresh, empty folder under the system temp dir, `curia-PREFIX-XXXXXX` (random suffix, mode
/// 0700), removed with everything in it when dropped: when the test passes and when it fails (an
/// assertion's panic unwinds through it). `CURIA_KEEP_TEST_DIRS=1` keeps it. Dereferences to its
/// [`Path`]. A test that starts processes in it must stop them before it is dropped (declare the
/// `TestDir` before the [`Cluster`] or process guard, so that it is dropped after).
pub struct TestDir(Option<tempfile::TempDir>);

impl TestDir {
    pub fn new(prefix: &str) -> TestDir {
        let dir = tempfile::Builder::new().prefix(&format!("curia-{prefix}-")).tempdir().expect("create a temp dir");
        TestDir(Some(dir))
    }

    pub fn path(&self) -> &Path {
        self.0.as_ref().expect("not dropped").path()
    }
}

impl std::ops::Deref for TestDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        self.path()
    }
}

impl AsRef<Path> for TestDir {
    fn as_ref(&self) -> &Path {
        self.path()
    }
}

impl AsRef<std::ffi::OsStr> for TestDir {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.path().as_os_str()
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            if std::env::var_os(KEEP_ENV).is_some_and(|v| v == "1") {
                eprintln!("{KEEP_ENV}=1: kept {}", dir.keep().display());
            } else if std::thread::panicking() {
                eprintln!("removing {} of the failed test ({KEEP_ENV}=1 keeps it)", dir.path().display());
            }
            // Dropping `dir` removes it (tempfile ignores an error removing it).
        }
    }
}

pub struct Cluster {
    _serial: std::sync::MutexGuard<'static, ()>,
    pub dir: PathBuf,
    pub base: u16,
    pub names: Vec<String>,
    nodes: Vec<Option<Child>>,
    /// The folder [`Cluster::start`] made (`dir` is `net/` in it); `None` when the caller gave
    /// the folder ([`Cluster::launch`]) and owns its removal. Declared after `nodes`, and the
    /// nodes are killed in `drop`, so the folder goes after its processes.
    _scratch: Option<TestDir>,
}

impl Cluster {
    pub fn start(test: u16) -> Cluster {
        Cluster::start_with(test, &[])
    }

    /// [`Cluster::start`] with more `curia testnet init` arguments (`--log-in-header`, say).
    pub fn start_with(test: u16, init_args: &[&str]) -> Cluster {
        let serial = serial();
        let base = 20000 + (std::process::id() % 300) as u16 * 30 + test * 6; // below the ephemeral range (32768+)
        let scratch = TestDir::new(&format!("net-{test}"));
        let dir = scratch.join("net");
        let out = curia()
            .args(["testnet", "init", "--validators", "4", "--base-port", &base.to_string(), "--out"])
            .arg(&dir)
            .args(init_args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        // Short timeouts so failed rounds pass quickly in tests.
        let names: Vec<String> = ["court-a", "court-b", "notary", "timesvc"].iter().map(|s| s.to_string()).collect();
        for n in &names {
            let p = dir.join(n).join("node.toml");
            let t = std::fs::read_to_string(&p).unwrap();
            let t = t
                .replace("propose_ms = 3000", "propose_ms = 1000")
                .replace("delta_ms = 500", "delta_ms = 250")
                .replace("empty_block_ms = 1000", "empty_block_ms = 500");
            std::fs::write(&p, t).unwrap();
        }
        let mut c = Cluster { _serial: serial, dir, base, names, nodes: vec![], _scratch: Some(scratch) };
        for i in 0..4 {
            c.nodes.push(Some(c.spawn(i)));
        }
        for i in 0..4 {
            c.wait_healthy(i);
        }
        c
    }

    /// The first port of test number `test` in this process (as [`Cluster::start`] uses).
    pub fn port_base(test: u16) -> u16 {
        20000 + (std::process::id() % 300) as u16 * 30 + test * 6
    }

    /// Start nodes already set up by the caller: `dir/NAME/node.toml` for each name (API on
    /// `base + 1000 + i`, ops on `base + 2000 + i`), with a platform key in
    /// `dir/clients/platform.key` for [`Cluster::deposit`]. Waits until every node is healthy.
    /// The caller owns `dir` (a [`TestDir`] declared before the cluster, so it outlives it).
    pub fn launch(dir: PathBuf, base: u16, names: Vec<String>) -> Cluster {
        let serial = serial();
        let mut c = Cluster { _serial: serial, dir, base, names, nodes: vec![], _scratch: None };
        for i in 0..c.names.len() {
            c.nodes.push(Some(c.spawn(i)));
        }
        for i in 0..c.names.len() {
            c.wait_healthy(i);
        }
        c
    }

    pub fn spawn(&self, i: usize) -> Child {
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

    pub fn api(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.base + 1000 + i as u16)
    }

    /// A typed client of node `i`'s API.
    pub fn client(&self, i: usize) -> Client {
        Client::new(&self.api(i)).unwrap()
    }

    pub fn wait_healthy(&self, i: usize) {
        let ops = Client::new(&format!("http://127.0.0.1:{}", self.base + 2000 + i as u16)).unwrap();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(30) {
            if ops.health().is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("node {i} did not become healthy; log:\n{}", self.log(i));
    }

    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.dir.join(&self.names[i]).join("node.log")).unwrap_or_default()
    }

    /// The process ID of node `i`, if it runs.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.nodes[i].as_ref().map(|c| c.id())
    }

    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self, i: usize) {
        self.nodes[i] = Some(self.spawn(i));
        self.wait_healthy(i);
    }

    pub fn height(&self, i: usize) -> u64 {
        self.client(i).status().unwrap().height
    }

    pub fn block_hash(&self, i: usize, h: u64) -> String {
        self.client(i).block(h).unwrap().header.hash().to_hex()
    }

    pub fn genesis(&self) -> curia_ledger::genesis::ChainSpec {
        Genesis::from_json(&std::fs::read(self.dir.join("genesis.json")).unwrap()).unwrap()
    }

    /// Deposit a fresh file through node `i`, wait for its receipt, and return it.
    pub fn deposit(&self, i: usize, content: &str) -> (Vec<u8>, Receipt) {
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

    /// Start one more node, set up by the caller in `dir/NAME/node.toml`; returns its index.
    pub fn add_node(&mut self, name: &str) -> usize {
        self.names.push(name.to_string());
        let i = self.names.len() - 1;
        self.nodes.push(Some(self.spawn(i)));
        self.wait_healthy(i);
        i
    }

    pub fn wait_height(&self, i: usize, h: u64, within: Duration) -> bool {
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
        // The processes are gone; `_scratch` (if any) is removed as the fields drop.
    }
}

pub fn fetch_receipt(api: &str, id: &str) -> String {
    ureq::get(&format!("{api}/v1/deposits/{id}/receipt")).call().unwrap().into_string().unwrap()
}
