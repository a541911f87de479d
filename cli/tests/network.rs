//! Real processes on loopback: four `curia node run` validators, started and stopped by the
//! tests themselves. Covers the node issue's process-level acceptance tests.

mod common;

use std::time::{Duration, Instant};

use common::{curia, fetch_receipt, Cluster};
use curia_ledger::verify::{verify_receipt, Evidence};

#[test]
fn four_nodes_commit_and_serve_the_same_receipt() {
    let c = Cluster::start(0);
    let spec = c.genesis();
    let (data, r) = c.deposit(0, "contract v1, signed by both parties\n");
    assert!(verify_receipt(Evidence::Bytes(&data), &r, &spec).is_valid());
    let id = r.deposit_id.to_hex();
    // Every node serves the same receipt, byte for byte: a receipt is issued only once the next
    // block carries the block's canonical certificate, which every node then stores.
    let want = r.to_json();
    for i in 0..4 {
        assert!(c.wait_height(i, r.header.height + 1, Duration::from_secs(20)), "node {i} lags");
        assert_eq!(fetch_receipt(&c.api(i), &id), want, "node {i} serves another receipt");
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
    // Votes the killed nodes sent just before dying may still complete one more height.
    std::thread::sleep(Duration::from_millis(1500));
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

/// A validator of another genesis that lists this network's validators as its peers dials them:
/// each refuses it right after the noise handshake (its key is not in their genesis), so it never
/// becomes anyone's peer, receives nothing, and the network goes on committing.
#[test]
fn a_node_with_an_unknown_key_cannot_join() {
    let c = Cluster::start(3);
    c.deposit(0, "before the stranger\n");
    // The stranger: its own key, and a genesis holding this network's validators plus itself (so
    // its chain ID differs, and it dials the four validators). Its ports are the spare ones of
    // the cluster's range (base + 4).
    let sdir = c.dir.join("stranger");
    std::fs::create_dir_all(&sdir).unwrap();
    let out = curia().arg("keygen").arg("--out").arg(sdir.join("validator.key")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let mut g: serde_json::Value = serde_json::from_slice(&std::fs::read(c.dir.join("genesis.json")).unwrap()).unwrap();
    let (p2p, api, ops) = (c.base + 4, c.base + 1004, c.base + 2004);
    g["validators"].as_array_mut().unwrap().push(serde_json::json!({
        "name": "stranger", "role": "court", "key": key, "power": 1,
        "address": format!("/ip4/127.0.0.1/tcp/{p2p}"),
    }));
    std::fs::write(sdir.join("genesis.json"), serde_json::to_vec_pretty(&g).unwrap()).unwrap();
    let base_cfg = std::fs::read_to_string(c.dir.join(&c.names[0]).join("node.toml")).unwrap();
    let cfg = base_cfg
        .replace("name = \"court-a\"", "name = \"stranger\"")
        .replace("genesis = \"../genesis.json\"", "genesis = \"genesis.json\"")
        .replace(&format!("tcp/{}\"", c.base), &format!("tcp/{p2p}\""))
        .replace(&format!("127.0.0.1:{}\"", c.base + 1000), &format!("127.0.0.1:{api}\""))
        .replace(&format!("127.0.0.1:{}\"", c.base + 2000), &format!("127.0.0.1:{ops}\""));
    assert!(cfg.contains(&format!("127.0.0.1:{ops}")) && cfg.contains("stranger"), "{cfg}");
    std::fs::write(sdir.join("node.toml"), cfg).unwrap();
    // The copied config names the ops token file (relative to the config's folder).
    std::fs::copy(c.dir.join(&c.names[0]).join("ops.token"), sdir.join("ops.token")).unwrap();
    let log = std::fs::File::create(sdir.join("node.log")).unwrap();
    let mut stranger = curia()
        .args(["node", "run", "--config"])
        .arg(sdir.join("node.toml"))
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let status = |url: &str| -> Option<serde_json::Value> {
        ureq::get(&format!("{url}/v1/status")).call().ok()?.into_json().ok()
    };
    let stranger_api = format!("http://127.0.0.1:{api}");
    // Watch for 6 s: the stranger never gets a block; the validators keep exactly their three
    // peers.
    let t = Instant::now();
    let mut seen_up = false;
    while t.elapsed() < Duration::from_secs(6) {
        if let Some(s) = status(&stranger_api) {
            seen_up = true;
            // Its own peer count may show a dial in flight before the validator closes it (a key in
            // no set runs as a follower that dials the validators, issue 11); what counts is that
            // no validator keeps it and it never gets a block.
            assert_eq!(s["height"].as_u64(), Some(0), "the stranger got a block: {s}");
        }
        for i in 0..4 {
            let s = status(&c.api(i)).expect("validator answers");
            assert!(s["peers"].as_u64().unwrap() <= 3, "validator {i} has an extra peer: {s}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let slog = std::fs::read_to_string(sdir.join("node.log")).unwrap_or_default();
    let _ = stranger.kill();
    let _ = stranger.wait();
    assert!(seen_up, "the stranger never served its API; its log:\n{slog}");
    // The network is undisturbed.
    c.deposit(1, "after the stranger\n");
}
