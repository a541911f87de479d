//! A four-validator network whose genesis puts the deposit log in headers (`curia testnet init
//! --log-in-header`, header version 4, receipt version 3): every committed header names the log
//! after its block, deposits' receipts carry their log position, and both `curia verify` (check
//! `log_position`) and the independent Python verifier accept them; a receipt whose `log_proof`
//! is altered fails `log_position` in both.

use std::path::{Path, PathBuf};
use std::process::Command;

use curia_ledger::codec::Canonical;
use curia_ledger::deposit_log::{self, Frontier};
use curia_ledger::receipt::Receipt;

use crate::common::{curia, Cluster, TestDir};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `curia verify` (text) and `curia verify --json`: exit code, stdout of each.
fn curia_verify(dir: &Path, evidence: &[u8], receipt: &[u8]) -> (i32, String, serde_json::Value) {
    let e = dir.join("check-evidence.bin");
    let r = dir.join("check-receipt.json");
    std::fs::write(&e, evidence).unwrap();
    std::fs::write(&r, receipt).unwrap();
    let run = |json: bool| {
        let mut c = curia();
        c.arg("verify").arg(&e).arg("--receipt").arg(&r).arg("--genesis").arg(dir.join("genesis.json"));
        if json {
            c.arg("--json");
        }
        c.output().unwrap()
    };
    let text = run(false);
    let json = run(true);
    assert_eq!(text.status.code(), json.status.code());
    let v = serde_json::from_slice(&json.stdout).unwrap_or(serde_json::Value::Null);
    (text.status.code().unwrap(), String::from_utf8_lossy(&text.stdout).to_string(), v)
}

/// The Python verifier: exit code and output.
fn python_verify(dir: &Path, evidence: &[u8], receipt: &[u8]) -> (i32, String) {
    let e = dir.join("py-evidence.bin");
    let r = dir.join("py-receipt.json");
    std::fs::write(&e, evidence).unwrap();
    std::fs::write(&r, receipt).unwrap();
    let out = Command::new("python3")
        .arg(repo().join("tests/python/curia_verify.py"))
        .arg(&e)
        .arg(&r)
        .arg(dir.join("genesis.json"))
        .output()
        .expect("python3");
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn failed(v: &serde_json::Value) -> Vec<String> {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn log_in_header_network_receipts_verify_with_their_log_position() {
    let c = Cluster::start_with(4, &["--log-in-header"]);
    let spec = c.genesis();
    assert!(spec.genesis.log_in_header, "testnet init --log-in-header sets the genesis switch");
    let mut receipts: Vec<(Vec<u8>, Receipt)> = Vec::new();
    for (i, text) in
        ["first deposit on a log chain\n", "second, through another node\n", "third one\n"].iter().enumerate()
    {
        receipts.push(c.deposit(i % 4, text));
    }
    // This chain's only deposits are these three, so its log is their leaves in log order: every
    // header (version 4) names a prefix of it, recomputed here from the receipts.
    let mut by_index: Vec<&Receipt> = receipts.iter().map(|(_, r)| r).collect();
    by_index.sort_by_key(|r| r.log_index);
    assert_eq!(by_index.iter().map(|r| r.log_index.unwrap()).collect::<Vec<_>>(), vec![0, 1, 2]);
    let leaves: Vec<_> =
        by_index.iter().map(|r| deposit_log::leaf_hash(&r.deposit_id, &r.commitment_hash().unwrap())).collect();
    let root_of = |n: u64| {
        let mut f = Frontier::new();
        for l in &leaves[..n as usize] {
            f.append(*l).unwrap();
        }
        f.root()
    };
    let top = c.height(0);
    let client = c.client(0);
    let mut last_size = 0;
    for h in 1..=top {
        let header = client.block(h).unwrap().header;
        assert_eq!(header.version, 4, "block {h}");
        let size = header.log_size.unwrap();
        assert!(size >= last_size && size <= 3, "block {h}: log size {size} after {last_size}");
        assert_eq!(header.log_root, Some(root_of(size)), "block {h}");
        last_size = size;
    }
    assert_eq!(last_size, 3);
    let mut indexes = Vec::new();
    for (data, r) in &receipts {
        assert_eq!(r.version, 3);
        assert_eq!(r.header.version, 4);
        indexes.push(r.log_index.unwrap());
        let json = r.to_json();
        let (code, text, v) = curia_verify(&c.dir, data, json.as_bytes());
        assert_eq!(code, 0, "{text}");
        assert!(text.contains("[PASS] log_position"), "{text}");
        let check = v["checks"].as_array().unwrap().iter().find(|k| k["name"] == "log_position").unwrap().clone();
        assert_eq!(check["ok"], true);
        // The binary form verifies too.
        let (code, text, _) = curia_verify(&c.dir, data, &r.to_bytes());
        assert_eq!(code, 0, "{text}");
        let (code, out) = python_verify(&c.dir, data, json.as_bytes());
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("log_position"), "{out}");
    }
    indexes.sort_unstable();
    indexes.dedup();
    assert_eq!(indexes.len(), receipts.len(), "each deposit has its own leaf");

    // An altered log_proof (one bit of one hash), or a log_index pointing elsewhere: both
    // verifiers say invalid (exit 1), and log_position is the only failed check.
    let (data, r) = &receipts[receipts.len() - 1];
    let mut bad = r.clone();
    match bad.log_proof.as_mut().unwrap().first_mut() {
        Some(h) => h.0[31] ^= 1,
        // A log of one leaf has an empty proof: move the index instead.
        None => bad.log_index = Some(1),
    }
    let mut moved = r.clone();
    moved.log_index = Some(r.log_index.unwrap() ^ 1);
    for tampered in [bad, moved] {
        let json = tampered.to_json();
        let (code, text, v) = curia_verify(&c.dir, data, json.as_bytes());
        assert_eq!(code, 1, "{text}");
        assert_eq!(failed(&v), vec!["log_position".to_string()], "{text}");
        assert!(text.contains("[FAIL] log_position"), "{text}");
        let (code, out) = python_verify(&c.dir, data, json.as_bytes());
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("log_position"), "{out}");
    }
}

/// `curia genesis new --log-in-header` writes the switch; without it the draft has no such key
/// (so its chain ID is that of a genesis written before the switch existed).
#[test]
fn genesis_new_writes_the_switch_only_when_asked() {
    let dir = TestDir::new("log-genesis");
    for (flag, want) in [(true, true), (false, false)] {
        let out_path = dir.join(format!("genesis-{flag}.json"));
        let mut cmd = curia();
        cmd.args(["genesis", "new", "--chain-name", "log-test", "--genesis-time", "2027-01-04T09:00:00Z", "--out"])
            .arg(&out_path);
        if flag {
            cmd.arg("--log-in-header");
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = std::fs::read_to_string(&out_path).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v.get("log_in_header").is_some(), want, "{text}");
        if want {
            assert_eq!(v["log_in_header"], true);
            assert!(String::from_utf8_lossy(&out.stdout).contains("header version 4"));
        }
    }
}
