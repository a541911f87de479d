//! `curia node backup` and `curia node restore` on a real four-validator network: an online
//! backup of a running node, audited, restored into that node after it stopped, and the node
//! catching up to the same chain.

mod common;

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
    assert_eq!(field(&out, "height"), height.to_string(), "{}", text(&out));
    assert_eq!(field(&out, "block"), hash, "{}", text(&out));
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
