//! Issue 12's "done when", end to end with real processes on 127.0.0.1: four validator nodes,
//! three `curia witness run` processes and a test TSA (`tests/tsa/tsa_server.py` running
//! `openssl ts -reply`). The nodes sign checkpoints, push them to the witnesses and have each
//! one time-stamped; `curia receipt upgrade` makes an upgraded receipt from a node; it verifies
//! under a 2-of-3 witness policy with `curia verify --policy --tsa-cert` and with the Python
//! verifier (`tests/python/curia_upgrade.py`); `openssl ts -verify` accepts the token the node
//! stored; with only one witness cosignature left the receipt fails under the policy.

use crate::common;
use crate::tsa::{repo, Tsa};
use crate::witness::witnessed_testnet;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::curia;
use curia_transparency::note::{KeyKind, Note};
use curia_transparency::upgrade::ReceiptLog;

fn run(mut c: Command) -> (i32, String) {
    let out: Output = c.output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

fn verify(evidence: &Path, receipt: &Path, genesis: &Path, policy: &Path, cert: &Path) -> (i32, String) {
    let mut c = curia();
    c.arg("verify").arg(evidence).arg("--receipt").arg(receipt).arg("--genesis").arg(genesis);
    c.arg("--policy").arg(policy).arg("--tsa-cert").arg(cert);
    run(c)
}

fn python(evidence: &Path, receipt: &Path, genesis: &Path, policy: &Path, cert: &Path) -> (i32, String) {
    let mut c = Command::new("python3");
    c.arg(repo().join("tests/python/curia_upgrade.py")).args([evidence, receipt, genesis, policy, cert]);
    run(c)
}

/// `GET url`: status, headers we need, body.
fn get(url: &str) -> (u16, Option<String>, Vec<u8>) {
    use std::io::Read as _;
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build();
    let r = match agent.get(url).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("GET {url}: {e}"),
    };
    let (status, height) = (r.status(), r.header("curia-checkpoint-height").map(str::to_string));
    let mut body = Vec::new();
    r.into_reader().take(1 << 20).read_to_end(&mut body).unwrap();
    (status, height, body)
}

/// The receipt's `log` member with the note's witness cosignatures (72-byte signature lines)
/// cut to the first `keep`.
fn keep_cosignatures(receipt: &Path, keep: usize, out: &Path) -> usize {
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(receipt).unwrap()).unwrap();
    let mut log = ReceiptLog::from_json(&v["log"]).unwrap();
    let mut note = Note::parse(&log.proof.note).unwrap();
    let total = note.signatures.iter().filter(|s| s.signature.len() == 72).count();
    let mut seen = 0;
    note.signatures.retain(|s| {
        if s.signature.len() != 72 {
            return true;
        }
        seen += 1;
        seen <= keep
    });
    log.proof.note = note.to_bytes();
    v["log"] = log.to_json();
    std::fs::write(out, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    total
}

#[test]
fn upgraded_receipt_from_a_running_network_verifies_under_a_witness_policy() {
    let base = common::Cluster::port_base(1);
    let dir = common::TestDir::new("upgrade");

    // The test TSA (RSA certificate, ESSCertID) and its PKI.
    let pki = dir.join("tsa");
    let out = Command::new("bash").arg(repo().join("tests/tsa/make-tsa.sh")).arg(&pki).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tsa = Tsa::start(&pki, "tsa_rsa");
    let cert = pki.join("tsa-rsa.pem");

    // Three witnesses; nodes sign a checkpoint every 8 blocks, push it to the three witnesses
    // and have it stamped by the TSA.
    let tsa_lines = format!("tsa_url = \"{}\"\ntsa_cert = \"{}\"\n", tsa.url, cert.display());
    let wnet = witnessed_testnet(&dir.join("net"), base, &["w1", "w2", "w3"], 8, &tsa_lines);
    let (net, witnesses) = (&wnet.dir, &wnet.witnesses);
    let genesis = net.join("genesis.json");

    // The judge's policy: a validator's signature, 2 of the 3 witnesses.
    let mut policy_text = String::from("# the validators' note keys; two of three outside witnesses\n");
    for k in &wnet.validator_vkeys {
        policy_text.push_str(&format!("log {k}\n"));
    }
    for (i, (_, vkey)) in witnesses.iter().enumerate() {
        policy_text.push_str(&format!("witness w{} {}\n", i + 1, vkey.to_vkey()));
    }
    policy_text.push_str("group outside 2 w1 w2 w3\nquorum outside\n");
    let policy = dir.join("policy.txt");
    std::fs::write(&policy, &policy_text).unwrap();

    let c = common::Cluster::launch(net.clone(), base, wnet.names.clone());

    // A deposit through node 0; its receipt as `curia deposit --wait` saved it.
    let content = "evidence upgraded from a running network\n";
    let (_, receipt) = c.deposit(0, content);
    let evidence = dir.join("evidence.txt");
    std::fs::write(&evidence, content).unwrap();
    let plain = net.join("receipts").join(format!("{}.receipt.json", receipt.deposit_id.to_hex()));
    assert!(plain.exists());

    // `curia receipt upgrade` against node 1 (not the one deposited to), under the policy.
    let up = dir.join("upgraded.json");
    let mut cmd = curia();
    cmd.args(["receipt", "upgrade"]).arg(&plain).args(["--node", &c.api(1), "--out"]).arg(&up);
    cmd.arg("--policy").arg(&policy).arg("--tsa-cert").arg(&cert).args(["--wait", "180"]);
    let (code, text) = run(cmd);
    assert_eq!(code, 0, "receipt upgrade: {text}\nnode 1 log:\n{}", c.log(1));
    assert!(text.contains("[PASS] log_checkpoint") && text.contains("[PASS] log_tsa"), "{text}");
    assert!(text.contains("written to"), "{text}");

    // `curia verify --policy --tsa-cert`: valid, both upper bounds on the time.
    let (code, text) = verify(&evidence, &up, &genesis, &policy, &cert);
    assert_eq!(code, 0, "{text}");
    for want in [
        "[PASS] log_checkpoint",
        "[PASS] log_inclusion",
        "[PASS] log_tsa",
        "validators     20",
        "TSA genTime    20",
        "POLICY VERDICT: VALID",
    ] {
        assert!(text.contains(want), "{want:?} in {text}");
    }
    // The Python verifier, written from the spec, agrees.
    let (code, text) = python(&evidence, &up, &genesis, &policy, &cert);
    assert_eq!(code, 0, "curia_upgrade.py: {text}");
    assert!(text.contains("POLICY VERDICT: VALID") && text.contains("[PASS] log_tsa"), "{text}");

    // The receipt's token, and the token the node serves for that checkpoint, verify with
    // `openssl ts -verify` over the checkpoint's text.
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&up).unwrap()).unwrap();
    let log = ReceiptLog::from_json(&v["log"]).unwrap();
    let note = Note::parse(&log.proof.note).unwrap();
    let cp = curia_transparency::checkpoint::Checkpoint::parse(&note.text).unwrap();
    assert!(cp.size > log.proof.index);
    let openssl_verify = |text: &str, token: &[u8], tag: &str| -> (bool, String) {
        let (data, tok) = (dir.join(format!("{tag}.txt")), dir.join(format!("{tag}.der")));
        std::fs::write(&data, text).unwrap();
        std::fs::write(&tok, token).unwrap();
        let mut o = Command::new("openssl");
        o.args(["ts", "-verify", "-token_in", "-data"]).arg(&data).arg("-in").arg(&tok);
        o.arg("-CAfile").arg(pki.join("ca.pem")).arg("-untrusted").arg(&cert);
        let (code, out) = run(o);
        (code == 0 && out.contains("Verification: OK"), out)
    };
    let (ok, out) = openssl_verify(&note.text, log.tsa_token.as_ref().unwrap(), "receipt-token");
    assert!(ok, "openssl ts -verify (receipt's token): {out}");
    // The node may replace the checkpoint of this size by a later one (no deposit in between)
    // and stamp that: fetch note and token until both name the same height.
    let t = Instant::now();
    loop {
        let (s, _, body) = get(&format!("{}/v1/checkpoint?size={}", c.api(2), cp.size));
        assert_eq!(s, 200, "{}", String::from_utf8_lossy(&body));
        let served = Note::parse(&body).unwrap();
        let height = served.text.lines().nth(3).and_then(|l| l.strip_prefix("height ")).unwrap().to_string();
        let (s, h, token) = get(&format!("{}/v1/checkpoint/tsa?size={}", c.api(2), cp.size));
        if s == 200 && h.as_deref() == Some(height.as_str()) {
            let (ok, out) = openssl_verify(&served.text, &token, "node-token");
            assert!(ok, "openssl ts -verify (node 2's stored token): {out}");
            // ... and a token is not accepted over another checkpoint's text.
            let other = served.text.replacen(&format!("\n{}\n", cp.size), &format!("\n{}\n", cp.size + 1), 1);
            assert!(!openssl_verify(&other, &token, "node-token-other").0);
            break;
        }
        assert!(
            s == 200 || String::from_utf8_lossy(&token).contains("tsa_token_not_found"),
            "{s}: {}",
            String::from_utf8_lossy(&token)
        );
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "node 2 serves no token for its checkpoint of size {}",
            cp.size
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Refusals of the new endpoints.
    let (s, _, body) = get(&format!("{}/v1/checkpoint/tsa?size=999999", c.api(0)));
    assert_eq!(s, 404, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("checkpoint_not_found"));
    let (s, _, body) = get(&format!("{}/v1/checkpoint/tsa", c.api(0)));
    assert_eq!((s, String::from_utf8_lossy(&body).contains("bad_query")), (400, true));
    let (s, _, body) = get(&format!("{}/v1/log/index?deposit={}", c.api(3), receipt.deposit_id.to_hex()));
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&body));
    let j: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(j["index"], log.proof.index);
    let (s, _, body) = get(&format!("{}/v1/log/index?deposit={}", c.api(3), "00".repeat(32)));
    assert_eq!((s, String::from_utf8_lossy(&body).contains("deposit_not_found")), (404, true));
    let (s, _, _) = get(&format!("{}/v1/log/index?deposit=xyz", c.api(3)));
    assert_eq!(s, 400);

    // Only one witness cosignature of three left: the policy's 2 of 3 is not met, for both
    // verifiers; with two left it still is.
    let one = dir.join("one-cosignature.json");
    let total = keep_cosignatures(&up, 1, &one);
    assert!(total >= 2, "the upgraded receipt has {total} cosignatures");
    let (code, text) = verify(&evidence, &one, &genesis, &policy, &cert);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("[FAIL] log_checkpoint")
            && text.contains("group outside: 1 of its 3 members satisfied, 2 required"),
        "{text}"
    );
    assert!(text.contains("[PASS] log_inclusion") && text.contains("POLICY VERDICT: INVALID"), "{text}");
    let (code, text) = python(&evidence, &one, &genesis, &policy, &cert);
    assert_eq!(code, 1, "curia_upgrade.py: {text}");
    assert!(text.contains("[FAIL] log_checkpoint") && text.contains("POLICY VERDICT: INVALID"), "{text}");
    let two = dir.join("two-cosignatures.json");
    keep_cosignatures(&up, 2, &two);
    assert_eq!(verify(&evidence, &two, &genesis, &policy, &cert).0, 0);

    // Without a policy and without the time stamp: a receipt with no token, said on stderr.
    let mut cmd = curia();
    cmd.args(["receipt", "upgrade"]).arg(&plain).args(["--node", &c.api(0), "--no-tsa", "--wait", "60"]);
    let (code, text) = run(cmd);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("\"log\"") && !text.contains("tsa_token"), "{text}");
    assert!(text.contains("no --policy") && text.contains("--no-tsa"), "{text}");
    // A policy no checkpoint of this network can meet: refused when the wait runs out, nothing
    // written.
    let strict = dir.join("strict.txt");
    let stranger = curia_transparency::note::Signer::from_seed("stranger.test/w9", &[9; 32]).unwrap();
    std::fs::write(
        &strict,
        format!(
            "{policy_text}witness w9 {}\ngroup all4 all w1 w2 w3 w9\nquorum all4\n",
            stranger.verifier(KeyKind::CosignatureV1).to_vkey()
        )
        .replace("quorum outside\n", ""),
    )
    .unwrap();
    let never = dir.join("never.json");
    let mut cmd = curia();
    cmd.args(["receipt", "upgrade"]).arg(&plain).args(["--node", &c.api(0), "--out"]).arg(&never);
    cmd.arg("--policy").arg(&strict).args(["--wait", "3"]);
    let (code, text) = run(cmd);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("refused") && text.contains("does not satisfy the policy"), "{text}");
    assert!(!never.exists());
    // A receipt that is not a deposit's leaf on this chain: another chain's golden receipt is
    // not in this log (the wait runs out).
    let golden = repo().join("ledger/tests/data/golden/receipt-single.json");
    let mut cmd = curia();
    cmd.args(["receipt", "upgrade"]).arg(&golden).args(["--node", &c.api(0), "--wait", "1"]);
    let (code, text) = run(cmd);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("did not appear in the node's deposit log"), "{text}");

    drop(c);
    drop(wnet);
    drop(tsa);
}
