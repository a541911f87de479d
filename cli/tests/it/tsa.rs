//! `curia tsa stamp` against real test TSAs (`tests/tsa/tsa_server.py` running `openssl ts
//! -reply` on 127.0.0.1, with an RSA and an ECDSA P-256 certificate made by
//! `tests/tsa/make-tsa.sh`), `curia tsa verify`, and `openssl ts -verify` on the same files;
//! tampering refused by both with the specific reason.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use crate::common::TestDir;

const CHECKPOINT: &str = "curia.test/log\n42\nq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=\n";

fn curia() -> Command {
    Command::new(env!("CARGO_BIN_EXE_curia"))
}

pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A test TSA process; killed on drop (it also exits when its stdin closes).
pub(crate) struct Tsa {
    child: Child,
    pub(crate) url: String,
}

impl Tsa {
    pub(crate) fn start(dir: &Path, section: &str) -> Tsa {
        let mut child = Command::new("python3")
            .arg(repo().join("tests/tsa/tsa_server.py"))
            .arg(dir)
            .arg(section)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addr = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("TSA said {line:?}")).to_string();
        Tsa { child, url: format!("http://{addr}/") }
    }
}

impl Drop for Tsa {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(mut c: Command) -> (Output, String) {
    let out = c.output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out, text)
}

fn verify(dir: &Path, token: &Path, data: &str, cert: &str) -> (i32, String) {
    let mut c = curia();
    c.args(["tsa", "verify", "--token"])
        .arg(token)
        .arg("--in")
        .arg(dir.join(data))
        .arg("--tsa-cert")
        .arg(dir.join(cert));
    let (out, text) = run(c);
    (out.status.code().unwrap_or(-1), text)
}

fn openssl_verify(dir: &Path, token: &Path, data: &str, cert: &str) -> (bool, String) {
    let mut c = Command::new("openssl");
    c.args(["ts", "-verify", "-data"]).arg(dir.join(data)).arg("-in").arg(token).arg("-CAfile").arg(dir.join("ca.pem"));
    c.arg("-untrusted").arg(dir.join(cert));
    let (out, text) = run(c);
    (out.status.success() && text.contains("Verification: OK"), text)
}

#[test]
fn stamp_verify_and_tamper() {
    let dir = TestDir::new("tsa-cli");
    let out = Command::new("bash").arg(repo().join("tests/tsa/make-tsa.sh")).arg(&dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(dir.join("checkpoint.txt"), CHECKPOINT).unwrap();
    // The same checkpoint as a signed note: only its text is stamped.
    let note = format!("{CHECKPOINT}\n\u{2014} validator1.curia.test AAAAAQAAAAAAAAAAAAA=\n");
    std::fs::write(dir.join("checkpoint.note"), note).unwrap();
    std::fs::write(dir.join("other.txt"), CHECKPOINT.replace("\n42\n", "\n43\n")).unwrap();

    for (section, cert, other_cert) in
        [("tsa_rsa", "tsa-rsa.pem", "tsa-ec.pem"), ("tsa_ec", "tsa-ec.pem", "tsa-rsa.pem")]
    {
        let tsa = Tsa::start(&dir, section);
        let token = dir.join(format!("{section}.tsr"));
        let mut c = curia();
        c.args(["tsa", "stamp", "--url", &tsa.url, "--in"]).arg(dir.join("checkpoint.note"));
        c.arg("--out").arg(&token).arg("--tsa-cert").arg(dir.join(cert));
        let (out, text) = run(c);
        assert!(out.status.success(), "stamp {section}: {text}");
        assert!(text.contains("genTime: 20"), "{text}");

        // Valid for curia (text file and signed note alike) and for openssl.
        for data in ["checkpoint.txt", "checkpoint.note"] {
            let (code, text) = verify(&dir, &token, data, cert);
            assert_eq!(code, 0, "{section} {data}: {text}");
            assert!(text.contains("VALID") && text.contains("genTime: 20"), "{text}");
        }
        let (ok, text) = openssl_verify(&dir, &token, "checkpoint.txt", cert);
        assert!(ok, "openssl ts -verify {section}: {text}");

        // Other data.
        let (code, text) = verify(&dir, &token, "other.txt", cert);
        assert_eq!(code, 1, "{text}");
        assert!(text.contains("(other data)"), "{text}");
        assert!(!openssl_verify(&dir, &token, "other.txt", cert).0);
        // Other certificate.
        let (code, text) = verify(&dir, &token, "checkpoint.txt", other_cert);
        assert_eq!(code, 1, "{text}");
        assert!(text.contains("signed by another certificate"), "{text}");
        // (No openssl comparison here: the token carries the TSA's certificate (certReq), which
        // `openssl ts -verify` uses and chains to the CA whatever `-untrusted` names; curia pins
        // the certificate the judge gives.)
        // A bad signature: the last byte of the response is the signature's.
        let mut bytes = std::fs::read(&token).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let bad = dir.join(format!("{section}-badsig.tsr"));
        std::fs::write(&bad, &bytes).unwrap();
        let (code, text) = verify(&dir, &bad, "checkpoint.txt", cert);
        assert_eq!(code, 1, "{text}");
        assert!(text.contains("signature does not verify"), "{text}");
        assert!(!openssl_verify(&dir, &bad, "checkpoint.txt", cert).0);
        // An altered genTime (the year's last digit of the only GeneralizedTime "20...").
        let mut bytes = std::fs::read(&token).unwrap();
        let g = (0..bytes.len() - 4).find(|&i| bytes[i] == 0x18 && &bytes[i + 2..i + 4] == b"20").unwrap();
        bytes[g + 5] = if bytes[g + 5] == b'9' { b'8' } else { bytes[g + 5] + 1 };
        let bad = dir.join(format!("{section}-gentime.tsr"));
        std::fs::write(&bad, &bytes).unwrap();
        let (code, text) = verify(&dir, &bad, "checkpoint.txt", cert);
        assert_eq!(code, 1, "{text}");
        assert!(text.contains("message-digest attribute does not match"), "{text}");
        assert!(!openssl_verify(&dir, &bad, "checkpoint.txt", cert).0);
        drop(tsa);
    }
    // Wrong extended key usage: the RSA TSA's key, issuer and serial in certificates whose EKU is
    // not critical, or serverAuth.
    let token = dir.join("tsa_rsa.tsr");
    for (cert, want) in
        [("tsa-rsa-noncrit.pem", "is not critical"), ("tsa-rsa-server.pem", "is not timeStamping alone")]
    {
        let (code, text) = verify(&dir, &token, "checkpoint.txt", cert);
        assert_eq!(code, 1, "{text}");
        assert!(text.contains(want), "{cert}: {text}");
        // (openssl checks the certificate the token carries, whose EKU is right: no comparison.)
    }
    // Unusable input: exit 2.
    let (code, text) = verify(&dir, &dir.join("missing.tsr"), "checkpoint.txt", "tsa-rsa.pem");
    assert_eq!(code, 2, "{text}");
    std::fs::write(dir.join("notcp.txt"), "hello\n").unwrap();
    let (code, text) = verify(&dir, &token, "notcp.txt", "tsa-rsa.pem");
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("checkpoint"), "{text}");
    // A TSA that is not there.
    let mut c = curia();
    c.args(["tsa", "stamp", "--url", "http://127.0.0.1:9/", "--in"]).arg(dir.join("checkpoint.txt"));
    c.arg("--out").arg(dir.join("never.tsr"));
    let (out, text) = run(c);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("cannot reach the TSA"), "{text}");
    assert!(!dir.join("never.tsr").exists());
}

// ---- Upgraded receipts: `curia verify --policy POLICY [--tsa-cert CERT]` -------------------

use curia_ledger::merkle;
use curia_ledger::receipt::Receipt;
use curia_ledger::tlog::MemLog;
use curia_ledger::tx::Payload;
use curia_transparency::checkpoint::Checkpoint;
use curia_transparency::cosignature;
use curia_transparency::note::{KeyKind, Note, Signer};
use curia_transparency::rfc3161;
use curia_transparency::upgrade::{LogProof, ReceiptLog};

const ORIGIN: &str = "curia.test/log";

fn golden(name: &str) -> PathBuf {
    repo().join("ledger/tests/data/golden").join(name)
}

fn signer(name: &str) -> Signer {
    let seed: [u8; 32] =
        sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(name.as_bytes())).into();
    Signer::from_seed(name, &seed).unwrap()
}

/// The deposit's leaf as receipt format 14.1 states it, computed here from the receipt's fields.
fn leaf_of(r: &Receipt) -> curia_ledger::hash::Hash {
    let c = match (&r.tx.payload, &r.item) {
        (_, Some(item)) => item.commitment,
        (Payload::Deposit(d), None) => d.commitment.hash(),
        _ => panic!("not a deposit"),
    };
    let mut data = r.deposit_id.0.to_vec();
    data.extend_from_slice(&c.0);
    merkle::leaf_hash(&data)
}

/// A log of seven leaves whose leaf 4 is `leaf`; `salt` varies the other leaves (a fork).
fn log_with(leaf: curia_ledger::hash::Hash, salt: &str) -> MemLog {
    let mut log = MemLog::new();
    for i in 0..7 {
        let l = if i == 4 { leaf } else { merkle::leaf_hash(format!("{salt} deposit {i}").as_bytes()) };
        log.append(l).unwrap();
    }
    log
}

/// The signed note over `log`'s checkpoint: the log key's signature, then `witnesses`' cosignatures.
fn signed_note(log: &MemLog, log_key: &Signer, witnesses: &[&Signer]) -> (String, Vec<u8>) {
    let text = Checkpoint::new(ORIGIN, log.size(), log.root()).to_text();
    let mut signatures = vec![log_key.sign(&text).unwrap()];
    for (i, w) in witnesses.iter().enumerate() {
        signatures.push(cosignature::cosign(w, &text, 1_795_000_000 + i as u64).unwrap());
    }
    (text.clone(), Note { text, signatures }.to_bytes())
}

/// `receipt` (a golden file) with a `log` member: leaf 4 of `log`, the note, and the token.
fn upgrade(dir: &Path, receipt: &str, out: &str, log: &MemLog, note: &[u8], token: Option<&[u8]>) -> PathBuf {
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(golden(receipt)).unwrap()).unwrap();
    let proof =
        LogProof { extra: None, index: 4, proof: log.inclusion_proof(log.size(), 4).unwrap(), note: note.to_vec() };
    let member = ReceiptLog { proof, tsa_token: token.map(<[u8]>::to_vec), tsa_chain: Vec::new() };
    v.as_object_mut().unwrap().insert("log".into(), member.to_json());
    let path = dir.join(out);
    std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    path
}

fn verify_policy(evidence: &str, receipt: &Path, policy: &Path, tsa_cert: Option<&Path>) -> (i32, String) {
    let mut c = curia();
    c.arg("verify").arg(golden(evidence)).arg("--receipt").arg(receipt).arg("--genesis").arg(golden("genesis.json"));
    c.arg("--policy").arg(policy);
    if let Some(cert) = tsa_cert {
        c.arg("--tsa-cert").arg(cert);
    }
    let (out, text) = run(c);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn upgraded_receipt_under_a_witness_policy() {
    let dir = TestDir::new("tsa-upgrade");
    let out = Command::new("bash").arg(repo().join("tests/tsa/make-tsa.sh")).arg(&dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cert = dir.join("tsa-rsa.pem");

    let receipt = Receipt::from_json(&std::fs::read(golden("receipt-single.json")).unwrap()).unwrap();
    let leaf = leaf_of(&receipt);
    let log_key = signer("validators.curia.test");
    let [w1, w2, w3] = [signer("bar.example/w1"), signer("procur.example/w1"), signer("notary.example/w1")];
    let policy = dir.join("policy.txt");
    std::fs::write(
        &policy,
        format!(
            "# two of three outside witnesses\nlog {}\nwitness bar {}\nwitness procur {}\nwitness notary {}\ngroup outside 2 bar procur notary\nquorum outside\n",
            log_key.verifier(KeyKind::Ed25519).to_vkey(),
            w1.verifier(KeyKind::CosignatureV1).to_vkey(),
            w2.verifier(KeyKind::CosignatureV1).to_vkey(),
            w3.verifier(KeyKind::CosignatureV1).to_vkey(),
        ),
    )
    .unwrap();

    // The honest log, cosigned by two of the three witnesses, its text stamped by the test TSA.
    let log = log_with(leaf, "honest");
    let (text, note2) = signed_note(&log, &log_key, &[&w1, &w2]);
    std::fs::write(dir.join("checkpoint.txt"), &text).unwrap();
    let tsa = Tsa::start(&dir, "tsa_rsa");
    let tsr = dir.join("checkpoint.tsr");
    let mut c = curia();
    c.args(["tsa", "stamp", "--url", &tsa.url, "--in"]).arg(dir.join("checkpoint.txt")).arg("--out").arg(&tsr);
    let (o, t) = run(c);
    assert!(o.status.success(), "{t}");
    drop(tsa);
    let (ok, t) = openssl_verify(&dir, &tsr, "checkpoint.txt", "tsa-rsa.pem");
    assert!(ok, "openssl ts -verify: {t}");
    let token = rfc3161::token_from_response(&std::fs::read(&tsr).unwrap()).unwrap();

    // 2 of 3: valid, with both upper bounds on the deposit's time.
    let good = upgrade(&dir, "receipt-single.json", "up-2of3.json", &log, &note2, Some(&token));
    let (code, t) = verify_policy("evidence-single.bin", &good, &policy, Some(&cert));
    assert_eq!(code, 0, "{t}");
    for want in [
        "[PASS] log_checkpoint",
        "curia.test/log size 7: signed by validators.curia.test; cosigned by bar, procur",
        "[PASS] log_inclusion  leaf 4 of 7",
        "[PASS] log_tsa",
        "witness        bar cosigned at 2026-",
        "validators     20",
        "TSA genTime    20",
        "POLICY VERDICT: VALID",
    ] {
        assert!(t.contains(want), "{want:?} in {t}");
    }
    // Without --tsa-cert: valid, the token reported as not checked.
    let (code, t) = verify_policy("evidence-single.bin", &good, &policy, None);
    assert_eq!(code, 0, "{t}");
    assert!(t.contains("carried but not checked") && t.contains("TSA genTime    none checked"), "{t}");
    // --json: the log checks and the stamp, machine-readable.
    let mut c = curia();
    c.arg("verify").arg(golden("evidence-single.bin")).arg("--receipt").arg(&good);
    c.arg("--genesis")
        .arg(golden("genesis.json"))
        .arg("--policy")
        .arg(&policy)
        .arg("--tsa-cert")
        .arg(&cert)
        .arg("--json");
    let (o, t) = run(c);
    assert_eq!(o.status.code(), Some(0), "{t}");
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["policy_verdict"], "valid");
    assert_eq!(j["log"]["size"], 7);
    assert_eq!(j["log"]["witnesses"].as_array().unwrap().len(), 2);
    assert!(j["log"]["tsa"]["gen_time"].as_str().unwrap().starts_with("20"), "{j}");
    // Without --policy the same receipt verifies as any receipt; its log is said to be unchecked.
    let mut c = curia();
    c.arg("verify").arg(golden("evidence-single.bin")).arg("--receipt").arg(&good);
    c.arg("--genesis").arg(golden("genesis.json"));
    let (o, t) = run(c);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("VERDICT: VALID") && t.contains("give --policy to check it"), "{t}");

    // One cosignature of three: the quorum is not met.
    let (_, note1) = signed_note(&log, &log_key, &[&w3]);
    let one = upgrade(&dir, "receipt-single.json", "up-1of3.json", &log, &note1, Some(&token));
    let (code, t) = verify_policy("evidence-single.bin", &one, &policy, Some(&cert));
    assert_eq!(code, 1, "{t}");
    assert!(
        t.contains("[FAIL] log_checkpoint") && t.contains("group outside: 1 of its 3 members satisfied, 2 required"),
        "{t}"
    );
    assert!(t.contains("[PASS] log_inclusion") && t.contains("POLICY VERDICT: INVALID. Check `log_checkpoint`"), "{t}");

    // A receipt whose leaf is not in the checkpoint: the batch item's receipt with the log
    // member made for the single deposit (its evidence and receipt are otherwise valid).
    let other = upgrade(&dir, "receipt-batch.json", "up-other-leaf.json", &log, &note2, Some(&token));
    let (code, t) = verify_policy("evidence-batch.bin", &other, &policy, Some(&cert));
    assert_eq!(code, 1, "{t}");
    assert!(t.contains("VERDICT: VALID. This evidence existed"), "the receipt itself is valid: {t}");
    assert!(t.contains("[PASS] log_checkpoint") && t.contains("[FAIL] log_inclusion"), "{t}");
    assert!(t.contains("the deposit's leaf is not at index 4 under the checkpoint's root at size 7"), "{t}");

    // A fork: the same size, another root (the deposit included among other leaves), signed with
    // the log key (as leaked validator keys could) and cosigned by the forger's own witnesses.
    let fork = log_with(leaf, "forged");
    assert_eq!(fork.size(), log.size());
    assert_ne!(fork.root(), log.root());
    let [f1, f2] = [signer("forger.example/w1"), signer("forger.example/w2")];
    let (fork_text, fork_note) = signed_note(&fork, &log_key, &[&f1, &f2]);
    let forked = upgrade(&dir, "receipt-single.json", "up-fork.json", &fork, &fork_note, None);
    let (code, t) = verify_policy("evidence-single.bin", &forked, &policy, None);
    assert_eq!(code, 1, "{t}");
    assert!(t.contains("[PASS] log_inclusion") && t.contains("group outside: 0 of its 3 members satisfied"), "{t}");
    // ... and with real witnesses' cosignature lines copied from the honest checkpoint: they do
    // not verify over the fork's text.
    let honest = Note::parse(&note2).unwrap();
    let mut copied = Note::parse(&fork_note).unwrap();
    copied.signatures.extend(honest.signatures[1..].iter().cloned());
    let copied = upgrade(&dir, "receipt-single.json", "up-fork-copied.json", &fork, &copied.to_bytes(), Some(&token));
    let (code, t) = verify_policy("evidence-single.bin", &copied, &policy, Some(&cert));
    assert_eq!(code, 1, "{t}");
    assert!(t.contains("[FAIL] log_checkpoint") && t.contains("invalid signature for key bar.example/w1+"), "{t}");
    // The honest checkpoint's token does not stamp the fork's text.
    assert!(t.contains("[FAIL] log_tsa") && t.contains("(other data)"), "{t}");
    assert_ne!(fork_text, text);

    // Asked for the TSA time, a receipt with no token fails; a receipt with no log member fails.
    let no_token = upgrade(&dir, "receipt-single.json", "up-no-token.json", &log, &note2, None);
    let (code, t) = verify_policy("evidence-single.bin", &no_token, &policy, Some(&cert));
    assert_eq!(code, 1, "{t}");
    assert!(t.contains("[FAIL] log_tsa") && t.contains("carries no time-stamp token"), "{t}");
    let (code, t) = verify_policy("evidence-single.bin", &golden("receipt-single.json"), &policy, None);
    assert_eq!(code, 1, "{t}");
    assert!(t.contains("[FAIL] log ") && t.contains("it is not upgraded"), "{t}");

    // Unusable input, exit 2: a malformed log member, policy or TSA certificate.
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&good).unwrap()).unwrap();
    let p = v["log"]["proof"].as_str().unwrap().replace("index 4", "index 04");
    v["log"]["proof"] = p.into();
    std::fs::write(dir.join("bad-log.json"), v.to_string()).unwrap();
    let (code, t) = verify_policy("evidence-single.bin", &dir.join("bad-log.json"), &policy, None);
    assert_eq!(code, 2, "{t}");
    assert!(t.contains("tlog-proof line 2: is not `index"), "{t}");
    std::fs::write(dir.join("bad-policy.txt"), "quorum everyone\n").unwrap();
    let (code, t) = verify_policy("evidence-single.bin", &good, &dir.join("bad-policy.txt"), None);
    assert_eq!(code, 2, "{t}");
    assert!(t.contains("policy line 1: quorum \"everyone\" is not defined above"), "{t}");
    let (code, t) = verify_policy("evidence-single.bin", &good, &policy, Some(&dir.join("checkpoint.txt")));
    assert_eq!(code, 2, "{t}");
    assert!(t.contains("TSA certificate"), "{t}");
}
