//! `curia node backup` and `curia node restore` on a real four-validator network: an online
//! backup of a running node, audited, restored into that node after it stopped, and the node
//! catching up to the same chain.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use common::{curia, Cluster};

fn text(out: &Output) -> String {
    format!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The value after `key` on the line of stdout that starts with it.
fn field(out: &Output, key: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(key).filter(|rest| rest.starts_with(' ')))
        .unwrap_or_else(|| panic!("no {key:?} line in\n{}", text(out)))
        .trim()
        .to_string()
}

fn node_cmd(what: &str, config: &Path, extra: &[&std::ffi::OsStr]) -> Output {
    curia().args(["node", what, "--config"]).arg(config).args(extra).output().unwrap()
}

#[test]
fn backup_a_running_node_then_restore_it_and_catch_up() {
    let mut c = Cluster::start(0);
    let node = c.dir.join(&c.names[3]);
    let config = node.join("node.toml");
    let data_dir = node.join("data");
    let store = data_dir.join("chain");
    let genesis = c.dir.join("genesis.json");

    let (_, r1) = c.deposit(0, "before the backup\n");
    assert!(c.wait_height(3, r1.header.height, Duration::from_secs(30)), "node 3 lags:\n{}", c.log(3));

    // An online backup of node 3, into its data directory.
    let out = node_cmd("backup", &config, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let backup = PathBuf::from(field(&out, "backup"));
    let height: u64 = field(&out, "height").split(' ').next().unwrap().parse().unwrap();
    let hash = field(&out, "block");
    assert!(height >= r1.header.height, "backup at {height} is before the deposit at {}", r1.header.height);
    assert_eq!(hash, c.block_hash(0, height), "the backup names another block at {height}");
    assert_eq!(backup.parent().unwrap(), std::fs::canonicalize(data_dir.join("backups")).unwrap());
    let name = backup.file_name().unwrap().to_str().unwrap().to_string();
    assert!(name.starts_with(&format!("backup-{height}-")), "{name}");
    assert!(backup.join("CURRENT").is_file(), "{} holds no store", backup.display());

    // The backup audits clean against the published genesis.
    let out = curia().args(["audit", "--data-dir"]).arg(&backup).arg("--genesis").arg(&genesis).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "audit of the backup: {}", text(&out));

    // The backup endpoint takes POST only, with the documented error shape.
    let ops = format!("http://127.0.0.1:{}/admin/backup", c.base + 2003);
    match ureq::get(&ops).call() {
        Err(ureq::Error::Status(405, resp)) => {
            let v: serde_json::Value = resp.into_json().unwrap();
            assert_eq!(v["error"]["code"], "method_not_allowed", "{v}");
        }
        other => panic!("GET /admin/backup: expected 405, got {other:?}"),
    }

    // The chain moves on past the backup.
    let (_, r2) = c.deposit(1, "after the backup\n");
    assert!(r2.header.height > height);
    assert!(c.wait_height(3, r2.header.height, Duration::from_secs(30)), "node 3 lags:\n{}", c.log(3));

    // Restore is offline only: refused while the node runs, and its store is left alone.
    let out = node_cmd("restore", &config, &["--backup".as_ref(), backup.as_os_str()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("stop the node"), "{}", text(&out));

    let reached = c.height(3);
    c.kill(3);

    // A stopped node cannot be asked for a backup; the message says what to do instead.
    let out = node_cmd("backup", &config, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot reach the node") && err.contains("cold copy"), "{}", text(&out));

    // Restoring over an existing store is refused, and the store is untouched.
    let out = node_cmd("restore", &config, &["--backup".as_ref(), backup.as_os_str()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already exists and is not empty") && err.contains("Move it aside"), "{}", text(&out));
    assert!(store.join("CURRENT").is_file());

    // Move the store aside. A folder that holds no store is refused, leaving no partial copy.
    std::fs::rename(&store, data_dir.join("chain.old")).unwrap();
    let out = node_cmd("restore", &config, &["--backup".as_ref(), c.dir.as_os_str()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no Curia store"), "{}", text(&out));
    assert!(!store.exists(), "a failed restore left {} behind", store.display());
    assert!(!data_dir.join("chain.restoring").exists(), "a failed restore left its staging folder behind");

    // Restore the backup.
    let out = node_cmd("restore", &config, &["--backup".as_ref(), backup.as_os_str()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // The backup holds at least the height its answer named (a block may commit between the
    // answer's height and the checkpoint); the restored tip is the network's block there.
    let restored: u64 = field(&out, "height").parse().unwrap();
    assert!(restored >= height, "{}", text(&out));
    let expected = if restored == height { hash.clone() } else { c.block_hash(0, restored) };
    assert_eq!(field(&out, "block"), expected, "{}", text(&out));
    // The signing record beside the store survived the restore: it names a height at least the
    // one the node had reached, far above the restored tip.
    let floor = field(&out, "signing");
    let floor_height: u64 = floor.strip_prefix("floor height ").unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(floor_height >= reached && floor_height > height, "floor {floor} (reached {reached}, backup {height})");
    assert!(store.join("CURRENT").is_file());
    assert!(!data_dir.join("chain.restoring").exists());

    // Started at once (no waiting for the others to move on): it signs nothing at or below the
    // floor, says so, catches up, and then takes part again.
    c.restart(3);
    let t = std::time::Instant::now();
    while !c.log(3).contains("signing floor") {
        assert!(t.elapsed() < Duration::from_secs(30), "no signing floor in the log:\n{}", c.log(3));
        std::thread::sleep(Duration::from_millis(100));
    }
    let target = c.height(0);
    assert!(c.wait_height(3, target, Duration::from_secs(60)), "node 3 did not catch up:\n{}", c.log(3));
    for h in 1..=target {
        assert_eq!(c.block_hash(3, h), c.block_hash(0, h), "block {h} differs on the restored node");
    }
    // The restored node takes part again: a deposit through it commits.
    let (_, r3) = c.deposit(3, "through the restored node\n");
    assert!(r3.header.height > r2.header.height);
    // Nobody saw a double vote.
    for i in 0..4 {
        let v: serde_json::Value = ureq::get(&format!("{}/v1/evidence", c.api(i))).call().unwrap().into_json().unwrap();
        assert_eq!(v["evidence"], serde_json::json!([]), "node {i}: {v}");
    }
    // With validator 0 stopped, a quorum (3 of 4) needs validator 3's votes: a deposit that
    // commits now proves the restored validator signs again, above its floor.
    c.kill(0);
    let (_, r4) = c.deposit(1, "validator 3 is needed for this one\n");
    assert!(r4.header.height > floor_height, "committed at {} <= floor {floor_height}", r4.header.height);
    assert!(r4.certificate.sigs.iter().any(|s| s.validator == 3), "validator 3 is not in {:?}", r4.certificate);
}

/// `s` without ANSI colour sequences (`ESC [ ... m`), as the node's log may hold them.
fn plain(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The log of node `i` since its latest start (the file is appended to across restarts), plain.
fn latest_run(c: &Cluster, i: usize) -> String {
    let log = plain(&c.log(i));
    let start = log.rfind("holding signatures").map_or(0, |p| log[..p].rfind('\n').map_or(0, |n| n + 1));
    log[start..].to_string()
}

/// The number after `key=` on `line` (a tracing field).
fn log_field(line: &str, key: &str) -> u64 {
    let rest = line.split(&format!("{key}=")).nth(1).unwrap_or_else(|| panic!("no {key} in {line}"));
    rest.split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap_or_else(|e| panic!("{key} in {line}: {e}"))
}

/// Learn from peers before voting (the machine's rule S4, `node/src/peer_gate.rs`): validator 3
/// is restored from an old backup on a "new machine" (its signing record is gone, so the
/// signing floor cannot help). Started alone, it signs nothing, although its rounds time out at
/// a height it already voted at before the restore (without the gate it would prevote nil
/// there); once the others are back it syncs, says it caught up to within one height of what a
/// quorum reports, then signs again. No node holds evidence against it.
#[test]
fn a_restored_validator_without_its_signing_record_syncs_before_it_signs() {
    let mut c = Cluster::start(1);
    let node = c.dir.join(&c.names[3]);
    let config = node.join("node.toml");
    let data_dir = node.join("data");
    let record = data_dir.join("signing-high-water");

    let (_, r1) = c.deposit(0, "before the old backup\n");
    assert!(c.wait_height(3, r1.header.height, Duration::from_secs(30)), "node 3 lags:\n{}", c.log(3));
    let out = node_cmd("backup", &config, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let backup = PathBuf::from(field(&out, "backup"));
    let backup_height: u64 = field(&out, "height").split(' ').next().unwrap().parse().unwrap();

    // Validator 3 goes on signing well past the backup.
    let target = backup_height + 4;
    assert!(c.wait_height(3, target, Duration::from_secs(60)), "node 3 lags:\n{}", c.log(3));
    assert!(record.is_file(), "validator 3 keeps a signing record");
    c.kill(3);

    // Restored on a machine without the signing record, with a long bounded wait so that only
    // hearing the peers can release it.
    std::fs::rename(data_dir.join("chain"), data_dir.join("chain.old")).unwrap();
    let out = node_cmd("restore", &config, &["--backup".as_ref(), backup.as_os_str()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let restored: u64 = field(&out, "height").parse().unwrap();
    assert!(restored >= backup_height && restored < target, "restored tip {restored}");
    std::fs::remove_file(&record).unwrap();
    let toml = std::fs::read_to_string(&config).unwrap();
    assert!(toml.contains("peer_wait_ms = 10000"), "{toml}");
    std::fs::write(&config, toml.replace("peer_wait_ms = 10000", "peer_wait_ms = 600000")).unwrap();

    // Alone: its rounds at the height after the backup time out, and it signs nothing.
    let network_tip = c.height(0);
    for i in 0..3 {
        c.kill(i);
    }
    c.restart(3);
    let t = std::time::Instant::now();
    loop {
        // (Height 0 until the driver first publishes its status.)
        let st = c.client(3).status().unwrap();
        assert!(st.height == 0 || st.height == restored, "validator 3 alone cannot move: {st:?}");
        if st.height == restored && st.round >= 1 {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(60), "round 0 never timed out:\n{}", c.log(3));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!record.exists(), "validator 3 signed while alone and behind:\n{}", c.log(3));
    let run = latest_run(&c, 3);
    assert!(run.contains("holding signatures") && !run.contains("peers heard"), "{run}");

    // The others come back: validator 3 syncs, then releases, within one height of the quorum.
    for i in 0..3 {
        c.restart(i);
    }
    let t = std::time::Instant::now();
    let line = loop {
        if let Some(l) = latest_run(&c, 3).lines().find(|l| l.contains("peers heard: caught up")) {
            break l.to_string();
        }
        assert!(t.elapsed() < Duration::from_secs(120), "validator 3 never released:\n{}", c.log(3));
        std::thread::sleep(Duration::from_millis(100));
    };
    let (quorum, tip) = (log_field(&line, "quorum_height"), log_field(&line, "tip"));
    assert!(quorum >= network_tip && tip + 1 >= quorum, "{line}");
    assert!(tip > restored, "released before syncing past the restored tip: {line}");
    assert!(!latest_run(&c, 3).contains("bounded wait passed"), "{}", c.log(3));

    // It signs again: with validator 0 stopped, a quorum needs validator 3.
    c.kill(0);
    let (_, r2) = c.deposit(1, "validator 3 is needed for this one\n");
    assert!(r2.certificate.sigs.iter().any(|s| s.validator == 3), "validator 3 is not in {:?}", r2.certificate);
    let signed: u64 = std::fs::read_to_string(&record).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(signed > tip, "signing record at {signed}, released at tip {tip}");
    // Nobody holds evidence against anyone.
    for i in 1..4 {
        let v: serde_json::Value = ureq::get(&format!("{}/v1/evidence", c.api(i))).call().unwrap().into_json().unwrap();
        assert_eq!(v["evidence"], serde_json::json!([]), "node {i}: {v}");
    }
}
