//! Stopping `curia node run` with SIGTERM whatever its witnesses, TSA and peers do: a witness
//! and a TSA that take the request and never answer, a witness address nobody listens on, and
//! validator peers that are all down. The node must exit 0 without waiting for those exchanges'
//! own timeouts, say at INFO what it abandoned, and leave a store that reopens at the height it
//! stopped at.

use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use curia_client::Client;
use curia_node::limits::{SHUTDOWN_BOUND, TSA_TIMEOUT, WITNESS_TIMEOUT};

use crate::common::{self, curia};

/// One connection a [`Mute`] server accepted.
#[derive(Clone, Debug)]
struct Held {
    accepted: Instant,
    /// Request bytes received so far.
    bytes: usize,
    /// When the client closed it (the server never does, and never answers).
    closed: Option<Instant>,
}

/// A TCP server on 127.0.0.1 that accepts, reads whatever comes and never answers: each
/// connection stays open until its client closes it (or the test ends).
struct Mute {
    addr: SocketAddr,
    conns: Arc<Mutex<Vec<Held>>>,
    stop: Arc<AtomicBool>,
}

impl Mute {
    fn start() -> Mute {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let conns: Arc<Mutex<Vec<Held>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s) = (conns.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let Ok((mut stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                let _ = stream.set_nonblocking(false);
                let i = {
                    let mut v = c.lock().unwrap();
                    v.push(Held { accepted: Instant::now(), bytes: 0, closed: None });
                    v.len() - 1
                };
                let c = c.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    loop {
                        match stream.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => c.lock().unwrap()[i].bytes += n,
                        }
                    }
                    c.lock().unwrap()[i].closed = Some(Instant::now());
                });
            }
        });
        Mute { addr, conns, stop }
    }

    /// The connection holding a request now (bytes received, not closed), if any.
    fn holding(&self) -> Option<Held> {
        self.conns.lock().unwrap().iter().rev().find(|h| h.bytes > 0 && h.closed.is_none()).cloned()
    }

    fn conns(&self) -> Vec<Held> {
        self.conns.lock().unwrap().clone()
    }
}

impl Drop for Mute {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A port on 127.0.0.1 that nobody listens on (bound, then released).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The log without terminal colour codes.
fn plain(log: &str) -> String {
    let mut out = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn spawn_node(node: &Path) -> Child {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(node.join("node.log")).unwrap();
    curia()
        .args(["node", "run", "--config"])
        .arg(node.join("node.toml"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

fn wait_healthy(ops: &str, node: &Path, child: &mut Child) {
    let ops = Client::new(ops).unwrap();
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(60) {
        if ops.health().is_ok() {
            return;
        }
        if let Ok(Some(s)) = child.try_wait() {
            panic!("the node exited ({s}) before it was healthy; log:\n{}", log(node));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the node did not become healthy within 60 s; log:\n{}", log(node));
}

fn log(node: &Path) -> String {
    plain(&std::fs::read_to_string(node.join("node.log")).unwrap_or_default())
}

/// Send SIGTERM; the exit status and when it was seen, or a panic (after SIGKILL) if the node
/// is still running after `within`.
fn terminate(child: &mut Child, within: Duration, node: &Path) -> (ExitStatus, Instant) {
    let ok = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(ok.success());
    let t = Instant::now();
    while t.elapsed() < within {
        if let Some(s) = child.try_wait().unwrap() {
            return (s, Instant::now());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the node was still running {within:?} after SIGTERM; log:\n{}", log(node));
}

/// The height in the node's `consensus stopped` line.
fn stopped_height(log: &str) -> u64 {
    let line = log.lines().find(|l| l.contains("consensus stopped")).unwrap_or_else(|| panic!("no stop line:\n{log}"));
    let h = line.split("height=").nth(1).unwrap_or_else(|| panic!("{line}"));
    h.split_whitespace().next().unwrap().parse().unwrap()
}

/// The tip height `curia audit` finds in the node's stopped store (all of it checked).
fn audited_height(dir: &Path, node: &Path) -> u64 {
    let out = curia()
        .args(["audit", "--data-dir"])
        .arg(node.join("data"))
        .arg("--genesis")
        .arg(dir.join("genesis.json"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let line = text.lines().find_map(|l| l.strip_prefix("last good  height ")).unwrap_or_else(|| panic!("{text}"));
    line.split_whitespace().next().unwrap().parse().unwrap()
}

fn testnet(dir: &Path, validators: usize, base: u16) {
    let _ = std::fs::remove_dir_all(dir);
    let out = curia()
        .args(["testnet", "init", "--validators", &validators.to_string(), "--base-port", &base.to_string(), "--out"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A one-validator chain (it commits alone) whose node pushes its checkpoints to a witness that
/// never answers and to a witness address nobody listens on, and asks a TSA that never answers
/// for time stamps. SIGTERM while the mute witness and TSA hold its requests: the node exits 0
/// before the TSA exchange's own timeout (the old code waited for it), having closed both
/// connections itself, says at INFO what it abandoned, and its store audits clean at the height
/// consensus stopped at.
#[test]
fn sigterm_stops_a_node_whose_witness_and_tsa_never_answer() {
    let _serial = common::serial();
    let base = common::Cluster::port_base(8);
    let dir = std::env::temp_dir().join(format!("curia-stop-{}", std::process::id()));
    testnet(&dir, 1, base);
    let node = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.join("node.toml").is_file())
        .expect("the validator's folder");

    // The TSA's certificate (any valid time-stamping certificate: the mute TSA never answers).
    let pki = dir.join("pki");
    let out = Command::new("bash").arg(crate::tsa::repo().join("tests/tsa/make-tsa.sh")).arg(&pki).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = curia()
        .args(["witness", "keygen", "--name", "witness.test/mute", "--out"])
        .arg(dir.join("witness.key"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let vkey = String::from_utf8(out.stdout).unwrap().trim().to_string();

    let (witness, tsa) = (Mute::start(), Mute::start());
    let nobody = closed_port();
    let p = node.join("node.toml");
    let mut t = std::fs::read_to_string(&p).unwrap();
    // `[checkpoints]` is the file's last section, so what follows extends it.
    assert!(t.trim_end().ends_with("every_secs = 60"), "{t}");
    t.push_str(&format!(
        "tsa_url = \"http://{}/\"\ntsa_cert = \"{}\"\n\n[[checkpoints.witness]]\nurl = \"http://{}\"\nvkey = \"{vkey}\"\n\n\
         [[checkpoints.witness]]\nurl = \"http://127.0.0.1:{nobody}\"\nvkey = \"{vkey}\"\n",
        tsa.addr,
        pki.join("tsa-rsa.pem").display(),
        witness.addr
    ));
    std::fs::write(&p, t).unwrap();

    let mut child = spawn_node(&node);
    let ops = format!("http://127.0.0.1:{}", base + 2000);
    wait_healthy(&ops, &node, &mut child);
    // The checkpoint after block 1 goes to the witness and the TSA, which hold the requests.
    let t = Instant::now();
    let (w, s) = loop {
        if let (Some(w), Some(s)) = (witness.holding(), tsa.holding()) {
            break (w, s);
        }
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "no request held by both the witness and the TSA within 120 s: witness {:?}, TSA {:?}; log:\n{}",
            witness.conns(),
            tsa.conns(),
            log(&node)
        );
        if let Some(st) = child.try_wait().unwrap() {
            panic!("the node exited ({st}); log:\n{}", log(&node));
        }
        std::thread::sleep(Duration::from_millis(50));
    };

    let sent = Instant::now();
    // Generous (the node's own bound is `SHUTDOWN_BOUND`), and longer than the TSA exchange's
    // timeout, so that a node that waits for it is seen failing the check below, not killed.
    let (status, exited) = terminate(&mut child, SHUTDOWN_BOUND + TSA_TIMEOUT + Duration::from_secs(30), &node);
    let took = exited - sent;
    let text = log(&node);
    eprintln!("SIGTERM to exit: {} ms", took.as_millis());
    assert_eq!(status.code(), Some(0), "log:\n{text}");
    // Not awaited to its own timeout: the TSA request was cut (the witness's is shorter, and
    // would have timed out on its own at the same time on a slow machine).
    assert!(
        exited < s.accepted + TSA_TIMEOUT,
        "the node exited {took:?} after SIGTERM, later than the TSA exchange's own timeout; log:\n{text}"
    );
    // The mute servers never answered and held the requests until the node stopped: each
    // connection was closed by the node, after SIGTERM.
    for (what, mute, held) in [("witness", &witness, &w), ("TSA", &tsa, &s)] {
        let t = Instant::now();
        let closed = loop {
            let c = mute.conns().into_iter().find(|c| c.accepted == held.accepted).unwrap();
            if let Some(at) = c.closed {
                break at;
            }
            assert!(t.elapsed() < Duration::from_secs(30), "the {what}'s connection is still open after the exit");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(closed >= sent, "the {what}'s connection was closed before SIGTERM");
    }
    assert!(
        text.contains("time stamp of the checkpoint abandoned at shutdown (request in flight, cancelled)"),
        "log:\n{text}"
    );
    assert!(text.contains("checkpoint push to the witness abandoned at shutdown"), "log:\n{text}");
    assert!(text.contains("store flushed; node stopped"), "log:\n{text}");
    // A push still in flight at SIGTERM is said so (the mute witness held one; it is cut before
    // WITNESS_TIMEOUT unless the machine is slower than that).
    if exited < w.accepted + WITNESS_TIMEOUT {
        assert!(text.contains("witness abandoned at shutdown (exchange in flight, cancelled)"), "log:\n{text}");
    }

    // Nothing committed is lost: the store reopens (offline audit of every block) at the height
    // consensus stopped at.
    assert_eq!(audited_height(&dir, &node), stopped_height(&text), "log:\n{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A validator of a four-validator chain started alone (its peers all down, dialled again and
/// again) stops on SIGTERM at once, exit 0.
#[test]
fn sigterm_stops_a_node_whose_peers_are_all_down() {
    let _serial = common::serial();
    let base = common::Cluster::port_base(9);
    let dir = std::env::temp_dir().join(format!("curia-stop-alone-{}", std::process::id()));
    testnet(&dir, 4, base);
    let node = dir.join("court-a");
    let mut child = spawn_node(&node);
    wait_healthy(&format!("http://127.0.0.1:{}", base + 2000), &node, &mut child);
    // Let it dial its dead peers for a while (bounded by the log, not a fixed sleep).
    let t = Instant::now();
    while !log(&node).contains("consensus starting") {
        assert!(t.elapsed() < Duration::from_secs(60), "log:\n{}", log(&node));
        std::thread::sleep(Duration::from_millis(50));
    }
    let sent = Instant::now();
    let (status, exited) = terminate(&mut child, SHUTDOWN_BOUND + Duration::from_secs(30), &node);
    eprintln!("SIGTERM to exit: {} ms", (exited - sent).as_millis());
    let text = log(&node);
    assert_eq!(status.code(), Some(0), "log:\n{text}");
    assert!(text.contains("store flushed; node stopped"), "log:\n{text}");
    assert_eq!(audited_height(&dir, &node), stopped_height(&text), "log:\n{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
