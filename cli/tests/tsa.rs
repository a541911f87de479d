//! `curia tsa stamp` against real test TSAs (`tests/tsa/tsa_server.py` running `openssl ts
//! -reply` on 127.0.0.1, with an RSA and an ECDSA P-256 certificate made by
//! `tests/tsa/make-tsa.sh`), `curia tsa verify`, and `openssl ts -verify` on the same files;
//! tampering refused by both with the specific reason.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

const CHECKPOINT: &str = "curia.test/log\n42\nq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=\n";

fn curia() -> Command {
    Command::new(env!("CARGO_BIN_EXE_curia"))
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A test TSA process; killed on drop (it also exits when its stdin closes).
struct Tsa {
    child: Child,
    url: String,
}

impl Tsa {
    fn start(dir: &Path, section: &str) -> Tsa {
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
    let dir = std::env::temp_dir().join(format!("curia-tsa-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
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
        assert!(!openssl_verify(&dir, &token, "checkpoint.txt", other_cert).0);
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
        assert!(!openssl_verify(&dir, &token, "checkpoint.txt", cert).0, "openssl accepted {cert}");
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
    let _ = std::fs::remove_dir_all(&dir);
}
