//! `curia witness run` as a real process on 127.0.0.1 (a free port it picks and prints): a
//! sequence of checkpoints is cosigned; a fork is refused (409 or 422) and never cosigned; the
//! witness killed with SIGKILL and restarted remembers its size, and never loses a size it
//! answered 200 for; malformed bodies get specific errors; a corrupt state file stops it. Four
//! validator nodes sign checkpoints of their deposit log and push them to two witness processes.

use crate::common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use common::{curia, TestDir};
use curia_ledger::merkle::leaf_hash;
use curia_ledger::tlog::MemLog;
use curia_ledger::Hash;
use curia_transparency::checkpoint::Checkpoint;
use curia_transparency::note::{open, KeyKind, Note, Signer, Verifier};
use curia_transparency::witness::AddCheckpoint;

const ORIGIN: &str = "curia.test/log";

fn validators() -> Vec<Signer> {
    (1..=4u8).map(|i| Signer::from_seed(&format!("validator{i}.curia.test"), &[i; 32]).unwrap()).collect()
}

/// A temp dir with a witness key (made by `curia witness keygen`) and a config; returns the dir
/// (removed when dropped: bind it for the whole test, before the witness process), the config
/// path and the witness's vkey.
fn setup(name: &str) -> (TestDir, PathBuf, Verifier) {
    let dir = TestDir::new(&format!("witness-{name}"));
    let out = curia()
        .args(["witness", "keygen", "--name", "witness.test/w1", "--out"])
        .arg(dir.join("witness.key"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let vkey = Verifier::parse(String::from_utf8(out.stdout).unwrap().trim()).unwrap();
    assert_eq!(vkey.kind, KeyKind::CosignatureV1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("witness.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let keys: Vec<String> =
        validators().iter().map(|s| format!("\"{}\"", s.verifier(KeyKind::Ed25519).to_vkey())).collect();
    let config = format!(
        "listen = \"127.0.0.1:0\"\nkey_file = \"witness.key\"\nstate_dir = \"state\"\n\n[[log]]\norigin = \"{ORIGIN}\"\nkeys = [{}]\nquorum = 3\n",
        keys.join(", ")
    );
    std::fs::write(dir.join("witness.toml"), config).unwrap();
    let config = dir.join("witness.toml");
    (dir, config, vkey)
}

pub(crate) struct WitnessProc {
    child: Child,
    pub(crate) url: String,
}

impl Drop for WitnessProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A four-validator testnet (not started) whose nodes sign a checkpoint every `every_blocks`
/// blocks (never by time) and push it to one running `curia witness run` per name in
/// `witness_names`, each trusting the validators' note keys, 3 of 4. `checkpoint_extra` is
/// appended to every node's `[checkpoints]` section (a TSA, say). Start the nodes with
/// `Cluster::launch(net.dir.clone(), base, net.names.clone())`.
pub(crate) struct WitnessedNet {
    /// The testnet directory (`genesis.json`, `NAME/node.toml`, `witness-NAME/`).
    pub dir: PathBuf,
    pub spec: curia_ledger::genesis::ChainSpec,
    pub set: curia_ledger::membership::ValidatorSet,
    /// The log's origin line.
    pub origin: String,
    /// The validators' note verifier keys (`vkey` strings), in set order.
    pub validator_vkeys: Vec<String>,
    /// The witnesses, in `witness_names` order, with their cosignature verifier keys.
    pub witnesses: Vec<(WitnessProc, Verifier)>,
    /// The node names, in port order.
    pub names: Vec<String>,
}

pub(crate) fn witnessed_testnet(
    dir: &Path,
    base: u16,
    witness_names: &[&str],
    every_blocks: u32,
    checkpoint_extra: &str,
) -> WitnessedNet {
    use curia_transparency::validators::{origin, validator_verifier};

    let out = curia()
        .args(["testnet", "init", "--validators", "4", "--base-port", &base.to_string(), "--out"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let spec = curia_ledger::genesis::Genesis::from_json(&std::fs::read(dir.join("genesis.json")).unwrap()).unwrap();
    let set = curia_ledger::membership::ValidatorSet::new(spec.genesis.validators.clone());
    let log_origin = origin(&spec.chain_id);
    let validator_vkeys: Vec<String> =
        set.validators.iter().map(|v| validator_verifier(&v.name, &v.key).unwrap().to_vkey()).collect();
    let keys: Vec<String> = validator_vkeys.iter().map(|k| format!("\"{k}\"")).collect();

    let mut witnesses = Vec::new();
    for w in witness_names {
        let wd = dir.join(format!("witness-{w}"));
        std::fs::create_dir_all(&wd).unwrap();
        let out = curia()
            .args(["witness", "keygen", "--name", &format!("witness.test/{w}"), "--out"])
            .arg(wd.join("witness.key"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let vkey = Verifier::parse(String::from_utf8(out.stdout).unwrap().trim()).unwrap();
        assert_eq!(vkey.kind, KeyKind::CosignatureV1);
        let config = format!(
            "listen = \"127.0.0.1:0\"\nkey_file = \"witness.key\"\nstate_dir = \"state\"\n\n[[log]]\norigin = \"{log_origin}\"\nkeys = [{}]\nquorum = 3\n",
            keys.join(", ")
        );
        std::fs::write(wd.join("witness.toml"), config).unwrap();
        witnesses.push((start(&wd.join("witness.toml")), vkey));
    }

    let names: Vec<String> = ["court-a", "court-b", "notary", "timesvc"].iter().map(|s| s.to_string()).collect();
    let every = format!("every_blocks = {every_blocks}");
    for n in &names {
        let p = dir.join(n).join("node.toml");
        let mut t = std::fs::read_to_string(&p)
            .unwrap()
            .replace("propose_ms = 3000", "propose_ms = 1000")
            .replace("delta_ms = 500", "delta_ms = 250")
            .replace("empty_block_ms = 1000", "empty_block_ms = 500")
            .replace("every_blocks = 100", &every)
            .replace("every_secs = 60", "every_secs = 3600");
        // `[checkpoints]` is the file's last section, so what follows extends it.
        assert!(t.contains(&every) && t.trim_end().ends_with("every_secs = 3600"), "{t}");
        t.push_str(checkpoint_extra);
        for (w, vkey) in &witnesses {
            t.push_str(&format!("\n[[checkpoints.witness]]\nurl = \"{}\"\nvkey = \"{}\"\n", w.url, vkey.to_vkey()));
        }
        std::fs::write(&p, t).unwrap();
    }
    WitnessedNet { dir: dir.to_path_buf(), spec, set, origin: log_origin, validator_vkeys, witnesses, names }
}

/// Starts `curia witness run` and waits (at most 60 s) for its `listening on` line.
pub(crate) fn start(config: &Path) -> WitnessProc {
    let mut child = curia()
        .args(["witness", "run", "--config"])
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(60)).expect("witness did not start within 60 s");
    let addr = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    WitnessProc { child, url: format!("http://{addr}") }
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build()
}

/// POSTs `body` to /add-checkpoint: status, content type, body.
fn post(url: &str, body: &[u8]) -> (u16, String, String) {
    match agent().post(&format!("{url}/add-checkpoint")).send_bytes(body) {
        Ok(r) => (r.status(), r.content_type().to_string(), r.into_string().unwrap()),
        Err(ureq::Error::Status(code, r)) => (code, r.content_type().to_string(), r.into_string().unwrap()),
        Err(e) => panic!("request failed: {e}"),
    }
}

pub(crate) fn get(url: &str) -> (u16, String) {
    match agent().get(url).call() {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap()),
        Err(e) => panic!("request failed: {e}"),
    }
}

fn signed(origin: &str, size: u64, root: Hash, signers: &[Signer]) -> Vec<u8> {
    let text = Checkpoint::new(origin, size, root).to_text();
    Note { signatures: signers.iter().map(|s| s.sign(&text).unwrap()).collect(), text }.to_bytes()
}

fn log(n: u64, tag: &str) -> MemLog {
    let mut l = MemLog::new();
    for i in 0..n {
        l.append(leaf_hash(format!("{tag}{i}").as_bytes())).unwrap();
    }
    l
}

/// The request moving the witness from `old` to `new` on `l`.
fn request(l: &MemLog, old: u64, new: u64, signers: &[Signer]) -> Vec<u8> {
    let proof = if old == 0 || old == new { vec![] } else { l.consistency_proof(old, new).unwrap() };
    AddCheckpoint { old_size: old, proof, checkpoint: signed(ORIGIN, new, l.root_at(new).unwrap(), signers) }.to_body()
}

/// Checks a 200 answer: one cosignature line by the witness over the checkpoint of size `new`.
fn assert_cosigned(answer: &(u16, String, String), l: &MemLog, new: u64, vkey: &Verifier) {
    assert_eq!(answer.0, 200, "{answer:?}");
    let text = Checkpoint::new(ORIGIN, new, l.root_at(new).unwrap()).to_text();
    let note = format!("{text}\n{}", answer.2);
    let o = open(note.as_bytes(), std::slice::from_ref(vkey)).unwrap();
    let t = o.verified[0].2.unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!(t > now - 600 && t <= now + 5, "timestamp {t}, now {now}");
}

/// The witness's size for the log, read from its 409 answer to an old size (2^40) it cannot hold.
fn witness_size(url: &str, l: &MemLog) -> u64 {
    let body = AddCheckpoint {
        old_size: 1 << 40,
        proof: vec![],
        checkpoint: signed(ORIGIN, 1 << 41, l.root(), &validators()[..3]),
    }
    .to_body();
    let (status, ctype, body) = post(url, &body);
    assert_eq!((status, ctype.as_str()), (409, "text/x.tlog.size"), "{body}");
    body.strip_suffix('\n').unwrap().parse().unwrap()
}

#[test]
fn cosigns_a_sequence_refuses_a_fork_and_survives_kill_9() {
    let (_dir, config, vkey) = setup("seq"); // `_dir`, not `_`: the folder lives until the end
    let v = validators();
    let l = log(40, "deposit");
    let fork = log(40, "forged");
    let mut w = start(&config);

    for (old, new) in [(0, 5), (5, 5), (5, 12), (12, 20)] {
        assert_cosigned(&post(&w.url, &request(&l, old, new, &v[..3])), &l, new, &vkey);
    }
    // Signed by all four: still fine (quorum is at least three).
    assert_cosigned(&post(&w.url, &request(&l, 20, 21, &v)), &l, 21, &vkey);

    // A fork signed by a quorum of validator keys: refused whatever the client claims.
    let fork_from_own = AddCheckpoint {
        old_size: 21,
        proof: fork.consistency_proof(21, 30).unwrap(),
        checkpoint: signed(ORIGIN, 30, fork.root_at(30).unwrap(), &v[..3]),
    }
    .to_body();
    assert_eq!(post(&w.url, &fork_from_own).0, 422);
    let fork_from_zero = AddCheckpoint {
        old_size: 0,
        proof: vec![],
        checkpoint: signed(ORIGIN, 30, fork.root_at(30).unwrap(), &v[..3]),
    }
    .to_body();
    assert_eq!(post(&w.url, &fork_from_zero), (409, "text/x.tlog.size".to_string(), "21\n".to_string()));
    let same_size_other_root = AddCheckpoint {
        old_size: 21,
        proof: vec![],
        checkpoint: signed(ORIGIN, 21, fork.root_at(21).unwrap(), &v[..3]),
    }
    .to_body();
    assert_eq!(post(&w.url, &same_size_other_root).0, 422);

    // The monitoring endpoint serves the last cosigned checkpoint: size 21, the honest root.
    let hash = Hash::sha256(ORIGIN.as_bytes()).to_hex();
    let (status, note) = get(&format!("{}/{hash}/checkpoint", w.url));
    assert_eq!(status, 200);
    let o = open(note.as_bytes(), std::slice::from_ref(&vkey)).unwrap();
    assert_eq!(Checkpoint::parse(&o.text).unwrap(), Checkpoint::new(ORIGIN, 21, l.root_at(21).unwrap()));
    let keys: Vec<Verifier> = v.iter().map(|s| s.verifier(KeyKind::Ed25519)).collect();
    assert_eq!(open(note.as_bytes(), &keys).unwrap().verified.len(), 4);
    assert_eq!(get(&format!("{}/{}/checkpoint", w.url, "00".repeat(32))).0, 404);

    // SIGKILL and restart: the witness remembers 21, refuses the fork, accepts the honest log.
    w.child.kill().unwrap();
    w.child.wait().unwrap();
    let w = start(&config);
    assert_eq!(witness_size(&w.url, &l), 21);
    assert_eq!(post(&w.url, &fork_from_own).0, 422);
    assert_eq!(post(&w.url, &request(&l, 12, 25, &v[..3])).2, "21\n");
    assert_cosigned(&post(&w.url, &request(&l, 21, 25, &v[..3])), &l, 25, &vkey);
    drop(w);
}

#[test]
fn kill_9_while_cosigning_never_loses_an_acknowledged_size() {
    let (_dir, config, vkey) = setup("kill");
    let v = validators();
    let l = Arc::new(log(400, "deposit"));
    let mut w = start(&config);
    let acked = Arc::new(AtomicU64::new(0));
    let (url, l2, acked2, v2) = (w.url.clone(), l.clone(), acked.clone(), v.clone());
    // A client that moves the witness one leaf at a time until its requests fail.
    let client = std::thread::spawn(move || {
        let mut old = 0;
        for new in 1..=400 {
            let Ok(r) = agent().post(&format!("{url}/add-checkpoint")).send_bytes(&request(&l2, old, new, &v2[..3]))
            else {
                return;
            };
            assert_eq!(r.status(), 200);
            acked2.store(new, Ordering::SeqCst);
            old = new;
        }
    });
    // Kill it mid-stream, once a few sizes are acknowledged (bounded wait).
    let deadline = Instant::now() + Duration::from_secs(120);
    while acked.load(Ordering::SeqCst) < 5 {
        assert!(Instant::now() < deadline, "the witness acknowledged nothing in 120 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    w.child.kill().unwrap();
    w.child.wait().unwrap();
    client.join().unwrap();
    let last_ack = acked.load(Ordering::SeqCst);

    let w = start(&config);
    let size = witness_size(&w.url, &l);
    // Persisted before answering: at least the last acknowledged size; at most one request
    // beyond it (persisted, then killed before the answer left).
    assert!(size == last_ack || size == last_ack + 1, "restored {size}, last acknowledged {last_ack}");
    assert_cosigned(&post(&w.url, &request(&l, size, 400, &v[..3])), &l, 400, &vkey);
    drop(w);
}

#[test]
fn malformed_requests_get_specific_errors() {
    let (_dir, config, _) = setup("bad");
    let v = validators();
    let l = log(10, "deposit");
    let w = start(&config);
    let cp = String::from_utf8(signed(ORIGIN, 10, l.root(), &v[..3])).unwrap();
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (b"garbage".to_vec(), 400, "add-checkpoint request line 1: line does not end with a newline"),
        (format!("new 0\n\n{cp}").into_bytes(), 400, "add-checkpoint request line 1: does not start with \"old \""),
        (format!("old 00\n\n{cp}").into_bytes(), 400, "old size is not a decimal without leading zeros"),
        (format!("old 5\nnot-base64\n\n{cp}").into_bytes(), 400, "line 2: proof line is not canonical standard base64"),
        (format!("old 5\nAAAA\n\n{cp}").into_bytes(), 400, "line 2: proof line is not a 32-byte hash"),
        (b"old 0\n\n".to_vec(), 400, "no checkpoint after the empty line"),
        (b"old 0\n\ncuria.test/log\n10\n".to_vec(), 400, "note has no blank line before its signatures"),
        (
            format!("old 0\n\ncuria.test/log\nten\n{}\n\n\u{2014} a AAAAAAA=\n", "A".repeat(43) + "=").into_bytes(),
            400,
            "checkpoint line 2: tree size is not a decimal without leading zeros",
        ),
        (format!("old 11\n\n{cp}").into_bytes(), 400, "old size exceeds the checkpoint's size"),
        (
            AddCheckpoint { old_size: 0, proof: vec![], checkpoint: signed("other.test/log", 10, l.root(), &v[..3]) }
                .to_body(),
            404,
            "unknown log origin \"other.test/log\"",
        ),
        (request(&l, 0, 10, &v[..2]), 403, "2 of the log's trusted keys signed, 3 required"),
        (request(&l, 0, 10, &[]), 400, "note's signature block is empty"),
    ];
    for (body, status, needle) in cases {
        let (got, _, text) = post(&w.url, &body);
        assert_eq!(got, status, "{text}");
        assert!(text.contains(needle), "expected {needle:?} in {text:?}");
    }
    // A trusted key's bad signature: 403 naming the key.
    let text = Checkpoint::new(ORIGIN, 10, l.root()).to_text();
    let mut sigs: Vec<_> = v[..3].iter().map(|s| s.sign(&text).unwrap()).collect();
    sigs[2] = v[2].sign("another text\n").unwrap();
    let body = AddCheckpoint { old_size: 0, proof: vec![], checkpoint: Note { text, signatures: sigs }.to_bytes() };
    let (got, _, answer) = post(&w.url, &body.to_body());
    assert_eq!(got, 403);
    assert!(answer.contains("invalid signature for key validator3.curia.test+"), "{answer}");
    // Too large: refused from its Content-Length, before the body is sent (a raw request, since
    // a client still sending gets a broken pipe when the witness answers and closes).
    let addr = w.url.strip_prefix("http://").unwrap();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "POST /add-checkpoint HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {}\r\n\r\n",
        curia_transparency::witness::MAX_REQUEST_BYTES + 1
    );
    std::io::Write::write_all(&mut s, head.as_bytes()).unwrap();
    let mut answer = String::new();
    BufReader::new(s).read_line(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer:?}");
    // Nothing was cosigned by any of this.
    assert_eq!(get(&format!("{}/{}/checkpoint", w.url, Hash::sha256(ORIGIN.as_bytes()).to_hex())).0, 404);
    drop(w);
}

#[test]
fn corrupt_state_stops_the_witness() {
    let (dir, config, vkey) = setup("corrupt");
    let v = validators();
    let l = log(10, "deposit");
    let w = start(&config);
    assert_cosigned(&post(&w.url, &request(&l, 0, 10, &v[..3])), &l, 10, &vkey);
    drop(w);
    let state = dir.join("state").join(format!("{}.state", Hash::sha256(ORIGIN.as_bytes()).to_hex()));
    let text = std::fs::read_to_string(&state).unwrap();
    std::fs::write(&state, text.replacen("\n10\n", "\n1x\n", 1)).unwrap();
    let out = curia().args(["witness", "run", "--config"]).arg(&config).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is corrupt; refusing to guess"), "{err}");
}

// ---------------------------------------------------------------- nodes pushing to witnesses

/// Four validator processes sign checkpoints of their deposit log (every 4 blocks here); each
/// node stores the complete ones (validators with more than two thirds of the power signed) and
/// pushes them to two `curia witness run` processes, whose cosignatures it then serves at
/// `GET /v1/checkpoint`. A second deposit gives a larger checkpoint, pushed with a consistency
/// proof from the size the witness holds.
#[test]
fn validators_sign_checkpoints_and_nodes_push_them_to_witnesses() {
    use curia_transparency::validators::check_validator_note;

    let base = common::Cluster::port_base(0);
    let dir = TestDir::new("checkpoints");
    // Two witnesses, checkpoints every 4 blocks.
    let WitnessedNet { spec, set, origin: log_origin, witnesses, names, .. } =
        witnessed_testnet(&dir, base, &["w1", "w2"], 4, "");
    let c = common::Cluster::launch(dir.to_path_buf(), base, names);

    // A checkpoint of at least `min_size` deposits on node `i`, with every witness's valid
    // cosignature, within 120 s.
    let cosigned = |i: usize, min_size: u64| -> (Vec<u8>, u64) {
        let t = Instant::now();
        loop {
            let (status, body) = get(&format!("{}/v1/checkpoint", c.api(i)));
            if status == 200 {
                let ok = check_validator_note(body.as_bytes(), &spec.chain_id, &set)
                    .unwrap_or_else(|e| panic!("node {i} serves a checkpoint that does not check: {e}\n{body}"));
                let note = Note::parse(body.as_bytes()).unwrap();
                let all_cosigned = witnesses.iter().all(|(_, vkey)| {
                    note.signatures.iter().any(|s| {
                        s.name == vkey.name
                            && s.key_id == vkey.key_id
                            && vkey.verify(&note.text, &s.signature).is_some()
                    })
                });
                if ok.checkpoint.size >= min_size && all_cosigned {
                    assert!(ok.signers.len() >= 3 && ok.power >= set.quorum_power(), "{ok:?}");
                    return (body.into_bytes(), ok.checkpoint.size);
                }
            } else {
                assert_eq!(status, 404, "{body}");
                assert!(body.contains("checkpoint_not_found"), "{body}");
            }
            assert!(
                t.elapsed() < Duration::from_secs(120),
                "node {i}: no checkpoint of size >= {min_size} cosigned by both witnesses; last answer {status}: {body}\nlog:\n{}",
                c.log(i)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };

    c.deposit(0, "checkpointed evidence, first\n");
    let mut first_sizes = Vec::new();
    for i in 0..4 {
        let (note, size) = cosigned(i, 1);
        // The checkpoint's root is the node's log root at that size.
        let cp = Checkpoint::parse(&Note::parse(&note).unwrap().text).unwrap();
        let (s, log) = get(&format!("{}/v1/log/consistency?from={size}&to={size}", c.api(i)));
        assert_eq!(s, 200, "{log}");
        assert!(log.contains(&format!("\"from_root\":\"{}\"", cp.root.to_hex())), "{log} vs {}", cp.root.to_hex());
        // By size: the same checkpoint.
        let (s, by_size) = get(&format!("{}/v1/checkpoint?size={size}", c.api(i)));
        assert_eq!(s, 200);
        assert_eq!(Checkpoint::parse(&Note::parse(by_size.as_bytes()).unwrap().text).unwrap().size, size);
        first_sizes.push(size);
    }
    // A second deposit: a larger checkpoint, consistent with the first, cosigned again.
    c.deposit(1, "checkpointed evidence, second\n");
    let top = *first_sizes.iter().max().unwrap();
    for i in 0..4 {
        let (_, size) = cosigned(i, top + 1);
        assert!(size > top);
    }
    // Each witness holds the log's latest cosigned checkpoint, signed by the validators.
    let hash = curia_ledger::Hash::sha256(log_origin.as_bytes()).to_hex();
    for (w, _) in &witnesses {
        let (s, body) = get(&format!("{}/{hash}/checkpoint", w.url));
        assert_eq!(s, 200, "{body}");
        let ok = check_validator_note(body.as_bytes(), &spec.chain_id, &set).unwrap();
        assert!(ok.checkpoint.size > top, "{body}");
    }
    // Refusals: no such size, malformed query.
    let (s, body) = get(&format!("{}/v1/checkpoint?size=999999", c.api(0)));
    assert_eq!((s, body.contains("checkpoint_not_found")), (404, true), "{body}");
    let (s, body) = get(&format!("{}/v1/checkpoint?size=x", c.api(0)));
    assert_eq!((s, body.contains("bad_query")), (400, true), "{body}");
    let (s, body) = get(&format!("{}/v1/checkpoint?height=1", c.api(0)));
    assert_eq!((s, body.contains("bad_query")), (400, true), "{body}");
}
