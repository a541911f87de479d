//! Membership history verifiable offline (receipt format 13), end to end through a store and the
//! `curia` binary: a chain whose set changes twice (add a court, rotate a key) is committed to a
//! store; the store's receipts embed exactly the history the ledger says; `curia membership
//! export --data-dir` writes the history; `curia verify` accepts the receipts from before and
//! after each change, refuses tampered history entries with exit 1, uses `--membership` only for
//! a receipt without history, and treats a history file of another chain as unusable (exit 2).

use std::path::{Path, PathBuf};
use std::process::Command;

use curia_ledger::codec::Canonical;
use curia_ledger::history::MembershipHistory;
use curia_ledger::receipt::Receipt;
use curia_ledger::testkit::TestChain;
use curia_storage::Store;

fn curia() -> Command {
    Command::new(env!("CARGO_BIN_EXE_curia"))
}

/// A fresh directory under the system's temp dir, removed when dropped.
struct TempDir(PathBuf);
impl TempDir {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("curia-mverify-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `curia verify` of `receipt` for `evidence`: exit code and the names of the failed checks.
fn verify(dir: &Path, evidence: &[u8], receipt: &[u8], extra: &[&str]) -> (i32, Vec<String>, String) {
    let e = dir.join("evidence.bin");
    let r = dir.join("receipt.json");
    std::fs::write(&e, evidence).unwrap();
    std::fs::write(&r, receipt).unwrap();
    let out = curia()
        .arg("verify")
        .arg(&e)
        .arg("--receipt")
        .arg(&r)
        .arg("--genesis")
        .arg(dir.join("genesis.json"))
        .arg("--json")
        .args(extra)
        .output()
        .unwrap();
    let code = out.status.code().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let failed = if code == 0 || code == 1 {
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["ok"] == false)
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect()
    } else {
        Vec::new()
    };
    (code, failed, stdout + &String::from_utf8_lossy(&out.stderr))
}

#[test]
fn store_receipts_export_and_curia_verify_walk_the_membership_history() {
    let (chain, deposits) = TestChain::membership_fixture();
    let tmp = TempDir::new("walk");
    let data_dir = tmp.0.join("node");
    let store_dir = data_dir.join(curia_storage::STORE_SUBDIR);
    let receipts: Vec<Receipt> = {
        let store = Store::open(&store_dir, &chain.spec).unwrap();
        for (b, cert) in &chain.blocks {
            let changes = store.execute(b).unwrap();
            store.commit_block(b, cert, &changes).unwrap();
        }
        // The node's history and receipts are the ledger's: same entries, same bytes.
        assert_eq!(store.membership_history().unwrap(), chain.history());
        deposits
            .iter()
            .map(|(name, id, _)| {
                let r = store.receipt(id).unwrap().unwrap();
                assert_eq!(r, chain.receipt(id).unwrap(), "{name}: the store's receipt is the testkit's");
                r
            })
            .collect()
    };
    assert_eq!(receipts[0].version, 1, "before any change: version 1, no history");
    assert!(receipts[0].membership.is_empty());
    assert_eq!((receipts[1].version, receipts[1].membership.len()), (2, 1), "after the add");
    assert_eq!((receipts[2].version, receipts[2].membership.len()), (2, 2), "after add and rotate");
    std::fs::write(tmp.0.join("genesis.json"), chain.spec.genesis.to_json()).unwrap();

    // curia membership export --data-dir: the whole history, JSON and binary.
    let hist = tmp.0.join("membership.json");
    let out =
        curia().args(["membership", "export", "--data-dir"]).arg(&data_dir).arg("--out").arg(&hist).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc = MembershipHistory::parse(&std::fs::read(&hist).unwrap()).unwrap();
    assert_eq!(doc.entries, chain.history());
    let hist_bin = tmp.0.join("membership.bin");
    let out = curia()
        .args(["membership", "export", "--binary", "--data-dir"])
        .arg(&data_dir)
        .arg("--out")
        .arg(&hist_bin)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read(&hist_bin).unwrap(), doc.to_bytes());

    // Receipts from before and after each change verify; version 2 reports `membership`.
    for ((name, _, evidence), r) in deposits.iter().zip(&receipts) {
        let (code, failed, text) = verify(&tmp.0, evidence, r.to_json().as_bytes(), &[]);
        assert_eq!((code, failed.len()), (0, 0), "{name}: {text}");
        assert_eq!(text.contains("\"membership\""), !r.membership.is_empty(), "{name}");
        // Binary form too.
        let (code, _, text) = verify(&tmp.0, evidence, &r.to_bytes(), &[]);
        assert_eq!(code, 0, "{name} binary: {text}");
    }

    // Tampered history entries: exit 1, `membership` and `certificate` fail.
    let (_, _, ev_two) = &deposits[2];
    let two: serde_json::Value = serde_json::from_str(&receipts[2].to_json()).unwrap();
    let tamper = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = two.clone();
        f(&mut v);
        serde_json::to_vec(&v).unwrap()
    };
    let flip = |s: &serde_json::Value| {
        let s = s.as_str().unwrap();
        let c = if s.starts_with('0') { "1" } else { "0" };
        serde_json::Value::String(format!("{c}{}", &s[1..]))
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "approval removed",
            tamper(&|v| drop(v["membership"][1]["tx"]["payload"]["approvals"].as_array_mut().unwrap().pop())),
        ),
        (
            "approval signature",
            tamper(&|v| {
                let a = &mut v["membership"][0]["tx"]["payload"]["approvals"][0]["signature"];
                *a = flip(a);
            }),
        ),
        (
            "header state root",
            tamper(&|v| {
                let a = &mut v["membership"][0]["header"]["state_root"];
                *a = flip(a);
            }),
        ),
        (
            "header validators hash",
            tamper(&|v| {
                let a = &mut v["membership"][1]["header"]["validators_hash"];
                *a = flip(a);
            }),
        ),
        (
            "certificate signature",
            tamper(&|v| {
                let a = &mut v["membership"][1]["certificate"]["sigs"][0]["signature"];
                *a = flip(a);
            }),
        ),
        (
            "certificate below quorum",
            tamper(&|v| v["membership"][0]["certificate"]["sigs"].as_array_mut().unwrap().truncate(2)),
        ),
        (
            "change: rotation to another key",
            tamper(&|v| {
                let a = &mut v["membership"][1]["tx"]["payload"]["change"]["new"];
                *a = flip(a);
            }),
        ),
        ("change: power", tamper(&|v| v["membership"][0]["tx"]["payload"]["change"]["validator"]["power"] = 3.into())),
        ("entries swapped", tamper(&|v| v["membership"].as_array_mut().unwrap().reverse())),
        ("first entry dropped", tamper(&|v| drop(v["membership"].as_array_mut().unwrap().remove(0)))),
    ];
    for (what, bytes) in &cases {
        let (code, failed, text) = verify(&tmp.0, ev_two, bytes, &[]);
        assert_eq!(code, 1, "{what}: {text}");
        assert_eq!(failed, vec!["membership".to_string(), "certificate".into()], "{what}: {text}");
    }

    // Without its history the receipt fails `certificate`; `--membership` supplies it.
    let bare = receipts[2].clone().with_history(Vec::new());
    let (code, failed, text) = verify(&tmp.0, ev_two, bare.to_json().as_bytes(), &[]);
    assert_eq!((code, failed), (1, vec!["certificate".to_string()]), "{text}");
    for file in [&hist, &hist_bin] {
        let (code, _, text) =
            verify(&tmp.0, ev_two, bare.to_json().as_bytes(), &["--membership", file.to_str().unwrap()]);
        assert_eq!(code, 0, "{text}");
    }
    // The receipt's own history wins over the file: a tampered embedded history stays refused.
    let (code, _, text) = verify(&tmp.0, ev_two, &cases[0].1, &["--membership", hist.to_str().unwrap()]);
    assert_eq!(code, 1, "{text}");
    // A history file of another chain, or a malformed one, is unusable input.
    let mut other = doc.clone();
    other.chain_id = curia_ledger::Hash::sha256(b"another chain");
    let other_path = tmp.0.join("other.json");
    std::fs::write(&other_path, other.to_json()).unwrap();
    let (code, _, text) =
        verify(&tmp.0, ev_two, bare.to_json().as_bytes(), &["--membership", other_path.to_str().unwrap()]);
    assert_eq!(code, 2, "{text}");
    std::fs::write(&other_path, b"{\"format\": \"curia-membership\"}").unwrap();
    let (code, _, text) =
        verify(&tmp.0, ev_two, bare.to_json().as_bytes(), &["--membership", other_path.to_str().unwrap()]);
    assert_eq!(code, 2, "{text}");

    // Export refuses a genesis of another chain (the history does not walk from it).
    let mut g = curia_ledger::testkit::test_genesis(4);
    g.chain_name = "elsewhere".into();
    let g_path = tmp.0.join("elsewhere.json");
    std::fs::write(&g_path, g.to_json()).unwrap();
    let out = curia()
        .args(["membership", "export", "--data-dir"])
        .arg(&data_dir)
        .arg("--genesis")
        .arg(&g_path)
        .arg("--out")
        .arg(tmp.0.join("x.json"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(!tmp.0.join("x.json").exists(), "nothing written");
}
