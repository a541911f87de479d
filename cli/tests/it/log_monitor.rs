//! `curia log monitor` and `curia log check-proof` against real processes: four validator nodes
//! pushing checkpoints to a `curia witness run` process. A healthy network is consistent (exit
//! 0, state kept); a node that is down is reported (exit 3); forks signed by a quorum of the
//! validators' own keys, served by a small fake node on 127.0.0.1, are detected (exit 1, a
//! proof file) both against a larger honest checkpoint (through the honest nodes' consistency
//! proof) and against the kept state at the same size; a pair no node can prove either way is
//! unresolved (exit 3), never a proof. `curia log check-proof` accepts the proofs and refuses
//! tampered, trivial and malformed files.

use crate::common;
use crate::witness::{get, witnessed_testnet, WitnessedNet};

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{curia, TestDir};
use curia_ledger::merkle::leaf_hash;
use curia_ledger::Hash;
use curia_transparency::checkpoint::Checkpoint;
use curia_transparency::misbehaviour::SplitView;
use curia_transparency::note::{Note, Signer};
use curia_transparency::validators::{check_validator_note, checkpoint_text};

/// A tiny HTTP server on 127.0.0.1 that answers `GET /v1/checkpoint` with a fixed note and
/// everything else with 404, one request per connection.
struct FakeNode {
    url: String,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeNode {
    fn serve(note: Vec<u8>) -> FakeNode {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut c) = conn else { continue };
                let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 << 10 {
                    match c.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let first = String::from_utf8_lossy(&head).lines().next().unwrap_or_default().to_string();
                let (status, ctype, body) = if first.starts_with("GET /v1/checkpoint ") {
                    ("200 OK", "text/plain; charset=utf-8", note.clone())
                } else {
                    (
                        "404 Not Found",
                        "application/json",
                        br#"{"error":"not_found","message":"this fake node serves only its checkpoint"}"#.to_vec(),
                    )
                };
                let _ = write!(
                    c,
                    "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = c.write_all(&body);
            }
        });
        FakeNode { url: format!("http://{addr}"), stop, thread: Some(thread) }
    }
}

impl Drop for FakeNode {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(args: &[&str]) -> (i32, String) {
    let out: Output = curia().args(args).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

fn proofs_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "json")).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn monitor_finds_a_split_view_and_check_proof_verifies_it() {
    let base = common::Cluster::port_base(2);
    let dir = TestDir::new("logmon");
    // One witness trusting the validators' note keys, 3 of 4; checkpoints every 4 blocks.
    let WitnessedNet { spec, set, origin: log_origin, witnesses, names, .. } =
        witnessed_testnet(&dir, base, &["w1"], 4, "");
    let (witness, wkey) = &witnesses[0];
    let genesis = dir.join("genesis.json");
    // The validators' own keys, to sign forks with.
    let signers: Vec<Signer> = names
        .iter()
        .map(|n| {
            let sk = curia_node::config::read_key(&dir.join(n).join("validator.key")).unwrap();
            let v = set.validators.iter().find(|v| v.key == sk.public()).expect("a validator's key");
            Signer::from_seed(&v.name, &sk.seed()).unwrap()
        })
        .collect();
    let c = common::Cluster::launch(dir.to_path_buf(), base, names);

    // Two deposits; wait (at most 120 s) until every node serves a complete checkpoint of size 2
    // and the witness has cosigned size 2.
    c.deposit(0, "monitored evidence, first\n");
    c.deposit(1, "monitored evidence, second\n");
    let origin_hash = Hash::sha256(log_origin.as_bytes()).to_hex();
    let size_of = |status: u16, body: &str| -> Option<u64> {
        (status == 200).then(|| check_validator_note(body.as_bytes(), &spec.chain_id, &set).unwrap().checkpoint.size)
    };
    let t = Instant::now();
    let mut urls: Vec<String> = (0..4).map(|i| format!("{}/v1/checkpoint", c.api(i))).collect();
    urls.push(format!("{}/{origin_hash}/checkpoint", witness.url));
    for u in &urls {
        loop {
            let (s, body) = get(u);
            if size_of(s, &body) == Some(2) {
                break;
            }
            assert!(t.elapsed() < Duration::from_secs(120), "{u}: no checkpoint of size 2 within 120 s: {s} {body}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let (_, honest) = get(&urls[0]);
    let honest_cp = Checkpoint::parse(&Note::parse(honest.as_bytes()).unwrap().text).unwrap();

    let g = genesis.to_str().unwrap();
    let state = dir.join("monitor-state");
    let proofs = dir.join("proofs");
    let (s_dir, p_dir) = (state.to_str().unwrap(), proofs.to_str().unwrap());
    let mut healthy: Vec<String> = Vec::new();
    for i in 0..4 {
        healthy.extend(["--node".to_string(), c.api(i)]);
    }
    healthy.extend(["--witness".to_string(), witness.url.clone()]);
    let monitor = |sources: &[String]| {
        let mut a =
            vec!["log", "monitor", "--genesis", g, "--state", s_dir, "--out", p_dir, "--once", "--timeout", "10"];
        a.extend(sources.iter().map(String::as_str));
        run(&a)
    };

    // 1. Healthy: exit 0, the state keeps size 2, no proof.
    let (code, text) = monitor(&healthy);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("consistent: 1 distinct checkpoint tree(s)"), "{text}");
    assert!(text.contains(&format!("witness {}: size 2", witness.url)), "{text}");
    let kept = std::fs::read(state.join(format!("{origin_hash}.checkpoint"))).unwrap();
    assert_eq!(check_validator_note(&kept, &spec.chain_id, &set).unwrap().checkpoint.root, honest_cp.root);
    assert!(proofs_in(&proofs).is_empty());

    // 2. A node that is down is reported; the others still checked: exit 3, no proof.
    let dead = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut with_dead = healthy.clone();
    with_dead.extend(["--node".to_string(), format!("http://{dead}")]);
    let (code, text) = monitor(&with_dead);
    assert_eq!(code, 3, "{text}");
    assert!(text.contains(&format!("node http://{dead}: ERROR unreachable")), "{text}");
    assert!(text.contains("consistent") || text.contains("no split view shown"), "{text}");
    assert!(proofs_in(&proofs).is_empty());

    // 3. A fork of size 1 (another first deposit), signed by three of the four validators' own
    //    keys, served by a fake node. The honest nodes' consistency proof 1..2 shows their
    //    tree's first leaf differs: split view, exit 1, a proof file.
    let fork_root = leaf_hash(b"a rewritten first deposit");
    let fork_text = checkpoint_text(&spec.chain_id, 1, 1, fork_root);
    let fork_note = Note {
        signatures: signers[..3].iter().map(|s| s.sign(&fork_text).unwrap()).collect(),
        text: fork_text.clone(),
    }
    .to_bytes();
    assert!(check_validator_note(&fork_note, &spec.chain_id, &set).is_ok());
    let fake = FakeNode::serve(fork_note.clone());
    let sources: Vec<String> =
        vec!["--node".into(), c.api(0), "--node".into(), c.api(1), "--node".into(), fake.url.clone()];
    let (code, text) = monitor(&sources);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("SPLIT VIEW"), "{text}");
    assert!(text.contains(&format!("node {}: size 1", fake.url)), "{text}");
    let written = proofs_in(&proofs);
    assert_eq!(written.len(), 1, "{text}");
    let proof1 = written[0].clone();
    assert!(text.contains(&format!("proof written to {}", proof1.display())), "{text}");
    let view = SplitView::parse(&std::fs::read(&proof1).unwrap()).unwrap();
    assert_eq!(view.first, fork_note);
    assert_eq!(view.consistency.len(), 1);
    assert_eq!(Checkpoint::parse(&Note::parse(&view.second).unwrap().text).unwrap().root, honest_cp.root);
    // The split view did not move the state.
    assert_eq!(std::fs::read(state.join(format!("{origin_hash}.checkpoint"))).unwrap(), kept);

    // check-proof accepts it and names the validators that signed both.
    let p1 = proof1.to_str().unwrap();
    let vkey = wkey.to_vkey();
    let (code, text) = run(&["log", "check-proof", p1, "--genesis", g, "--witness-key", vkey.as_str()]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("VALID: the file proves a split view"), "{text}");
    let honest_signers = check_validator_note(&view.second, &spec.chain_id, &set).unwrap().signers;
    let fork_signers = check_validator_note(&fork_note, &spec.chain_id, &set).unwrap().signers;
    assert_eq!(fork_signers.len(), 3);
    for (i, v) in set.validators.iter().enumerate() {
        let named = text.contains(&format!("signed both: validator {} key {}", v.name, v.key));
        // A validator is named iff it signed the fork and the honest checkpoint.
        assert_eq!(named, honest_signers.contains(&i) && fork_signers.contains(&i), "validator {i}: {text}");
    }
    assert!(!text.contains("cosigned both"), "the witness never cosigned the fork: {text}");

    // 4. Only the fake node and the kept state (size 2): nobody can prove 1..2 either way:
    //    unresolved, exit 3, no new proof (a missing proof is not misbehaviour).
    let (code, text) = monitor(&["--node".into(), fake.url.clone()]);
    assert_eq!(code, 3, "{text}");
    assert!(text.contains("UNRESOLVED"), "{text}");
    assert_eq!(proofs_in(&proofs).len(), 1);
    drop(fake);

    // 5. A fork of the kept size 2, served alone: the kept state is the other side (exit 1).
    let fork2_text = checkpoint_text(&spec.chain_id, 5, 2, Hash([0x5a; 32]));
    let fork2 = Note {
        signatures: [&signers[1], &signers[2], &signers[3]].iter().map(|s| s.sign(&fork2_text).unwrap()).collect(),
        text: fork2_text,
    }
    .to_bytes();
    let fake2 = FakeNode::serve(fork2);
    let (code, text) = monitor(&["--node".into(), fake2.url.clone()]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("seen at state"), "{text}");
    let written = proofs_in(&proofs);
    assert_eq!(written.len(), 2, "{text}");
    let proof2 = written.iter().find(|p| **p != proof1).unwrap();
    let (code, text) = run(&["log", "check-proof", proof2.to_str().unwrap(), "--genesis", g]);
    assert_eq!(code, 0, "{text}");
    // With --interval the monitor keeps going round until it finds the split view: here at
    // once (the process is killed and the test fails if it has not exited within 60 s).
    let mut child = curia()
        .args(["log", "monitor", "--genesis", g, "--state", s_dir, "--interval", "1", "--out"])
        .arg(dir.join("proofs-interval"))
        .args(["--node", &fake2.url])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("curia log monitor --interval 1 did not stop on a split view within 60 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(1));
    assert_eq!(proofs_in(&dir.join("proofs-interval")).len(), 1);
    drop(fake2);

    // Tampered and trivial proofs are refused (exit 1), malformed ones are unusable (exit 2).
    let json = std::fs::read_to_string(&proof1).unwrap();
    let check = |name: &str, body: &str| {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        run(&["log", "check-proof", p.to_str().unwrap(), "--genesis", g])
    };
    let b64 = |h: &Hash| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(h.0)
    };
    let other_root = leaf_hash(b"yet another first deposit");
    let (code, text) = check("root.json", &json.replace(&b64(&fork_root), &b64(&other_root)));
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("INVALID") && text.contains("invalid signature"), "{text}");
    let honest_at_1 = &view.prefix_root;
    let (code, text) = check("prefix.json", &json.replace(&honest_at_1.to_hex(), &fork_root.to_hex()));
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("does not verify") || text.contains("consistent"), "{text}");
    let twice =
        SplitView { first: view.second.clone(), prefix_root: honest_cp.root, consistency: vec![], ..view.clone() };
    let (code, text) = check("twice.json", &twice.to_json());
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("consistent"), "{text}");
    let (code, text) = check("garbage.json", "{\"format\": \"curia-split-view/v1\"}");
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("split-view proof"), "{text}");
    // Another chain's genesis: proves nothing about it.
    let other = dir.join("other");
    let out = curia().args(["testnet", "init", "--validators", "4", "--out"]).arg(&other).output().unwrap();
    assert!(out.status.success());
    let (code, text) = run(&["log", "check-proof", p1, "--genesis", other.join("genesis.json").to_str().unwrap()]);
    assert_eq!(code, 1, "{text}");
}
