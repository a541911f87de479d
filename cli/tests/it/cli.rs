//! The `curia` binary as a user runs it: exit codes, reports, key files.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::TestDir;

fn curia() -> Command {
    Command::new(env!("CARGO_BIN_EXE_curia"))
}

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ledger/tests/data/golden").join(name)
}

/// A fresh folder for one test, removed when the test ends (pass or fail).
fn tmp(name: &str) -> TestDir {
    TestDir::new(&format!("cli-test-{name}"))
}

fn verify(evidence: &Path, receipt: &Path, genesis: &Path, json: bool) -> (i32, String) {
    let mut c = curia();
    c.arg("verify").arg(evidence).arg("--receipt").arg(receipt).arg("--genesis").arg(genesis);
    if json {
        c.arg("--json");
    }
    let out = c.output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn verify_exit_codes() {
    let g = golden("genesis.json");
    for name in ["single", "salted", "batch"] {
        let (code, out) =
            verify(&golden(&format!("evidence-{name}.bin")), &golden(&format!("receipt-{name}.json")), &g, false);
        assert_eq!(code, 0, "{name}: {out}");
        assert!(out.contains("VERDICT: VALID"), "{out}");
    }
    // Changed evidence: invalid, exit 1, names the digest check.
    let d = tmp("verify");
    let mut bad = std::fs::read(golden("evidence-single.bin")).unwrap();
    bad[0] ^= 1;
    std::fs::write(d.join("bad.bin"), &bad).unwrap();
    let (code, out) = verify(&d.join("bad.bin"), &golden("receipt-single.json"), &g, false);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("Check `digest` failed"), "{out}");

    // JSON report.
    let (code, out) = verify(&golden("evidence-batch.bin"), &golden("receipt-batch.json"), &g, true);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verdict"], "valid");
    assert!(v["checks"].as_array().unwrap().iter().any(|c| c["name"] == "batch" && c["ok"] == true));

    // Unusable input: exit 2 with a specific message.
    std::fs::write(d.join("trunc.json"), &std::fs::read(golden("receipt-single.json")).unwrap()[..200]).unwrap();
    let (code, out) = verify(&golden("evidence-single.bin"), &d.join("trunc.json"), &g, false);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("bad receipt JSON"), "{out}");
    let r =
        std::fs::read_to_string(golden("receipt-single.json")).unwrap().replacen("\"version\": 1", "\"version\": 9", 1);
    std::fs::write(d.join("v9.json"), r).unwrap();
    let (code, out) = verify(&golden("evidence-single.bin"), &d.join("v9.json"), &g, false);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("unsupported receipt version 9"), "{out}");
    let (code, out) =
        verify(&golden("evidence-single.bin"), &golden("receipt-single.json"), &d.join("nope.json"), false);
    assert_eq!(code, 2, "{out}");
}

#[test]
fn hash_keygen_and_show() {
    let out = curia().arg("hash").arg(golden("evidence-single.bin")).output().unwrap();
    assert!(out.status.success());
    let receipt = std::fs::read_to_string(golden("receipt-single.json")).unwrap();
    let digest = String::from_utf8(out.stdout).unwrap()[..64].to_string();
    assert!(receipt.contains(&digest), "hash output {digest} is not the deposited digest");

    let d = tmp("keygen");
    let key = d.join("k.json");
    let out = curia().arg("keygen").arg("--out").arg(&key).output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim().len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let again = curia().arg("keygen").arg("--out").arg(&key).output().unwrap();
    assert_eq!(again.status.code(), Some(2), "keygen must not overwrite a key");

    let out = curia().args(["receipt", "show"]).arg(golden("receipt-batch.json")).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8(out.stdout).unwrap().contains("item 3 of a batch of 5"));
}

#[test]
fn demo_runs_the_whole_story() {
    let d = tmp("demo");
    let out = curia().arg("demo").arg("--out").arg(&d).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("demo: every step behaved as expected"));
    // The files it leaves verify with the ordinary command.
    let (code, _) = verify(&d.join("evidence.txt"), &d.join("receipt.json"), &d.join("genesis.json"), false);
    assert_eq!(code, 0);
    let (code, _) = verify(&d.join("evidence.txt"), &d.join("receipt-tampered.json"), &d.join("genesis.json"), false);
    assert_eq!(code, 1);
}

#[test]
fn verify_streams_files_over_the_old_1_gib_limit() {
    use curia_ledger::hash::Hash;
    use curia_ledger::testkit::TestChain;
    use curia_ledger::tx::{Commitment, Deposit, Payload};
    // 1 GiB + 1 MiB + 1 zero bytes (sparse); its SHA-256 from `head -c N /dev/zero | sha256sum`.
    let (n, sha) = (1_074_790_401u64, "d13a2253caa57b3ed0b4a6f5af65bf77f1ce3596552f4af067de481073ecfe35");
    let d = tmp("big");
    let f = d.join("video.mp4");
    std::fs::File::create(&f).unwrap().set_len(n).unwrap();
    let mut c = TestChain::new(4);
    let payload = Payload::Deposit(Deposit {
        commitment: Commitment::Sha256(Hash::from_hex(sha).unwrap()),
        media_type: "video/mp4".into(),
        byte_length: n,
        label: "video.mp4".into(),
        reference: "r".into(),
    });
    let tx = c.tx("platform", payload, 0);
    let id = tx.id(&c.spec.chain_id);
    assert!(c.commit(vec![tx]).is_empty());
    std::fs::write(d.join("genesis.json"), c.spec.genesis.to_json()).unwrap();
    std::fs::write(d.join("receipt.json"), c.receipt(&id).unwrap().to_json()).unwrap();
    let (code, out) = verify(&f, &d.join("receipt.json"), &d.join("genesis.json"), false);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("VERDICT: VALID") && out.contains("(1074790401 bytes)"), "{out}");
}
