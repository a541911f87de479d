//! RFC 3161 tokens made by `openssl ts -reply` (a test PKI made by `tests/tsa/make-tsa.sh`: an
//! RSA TSA naming its certificate by ESSCertID, an ECDSA P-256 TSA by ESSCertIDv2, an expired
//! one) verified by `curia_transparency::rfc3161`, and every tampering refused with its own
//! error: other data, other certificate, altered genTime (with and without a recomputed
//! message digest), a bad signature, wrong extended key usage, an expired certificate, another
//! nonce, truncation.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use curia_transparency::rfc3161::{self, TsaCertificate};
use curia_transparency::Error;
use sha2::{Digest, Sha256};

const CHECKPOINT: &str = "curia.test/log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";

/// The test PKI, made once per test process by `make-tsa.sh` and held in memory: its files (name,
/// bytes) and the folder they were made in, which `ts.cnf` names. The folder itself is removed
/// at once (a static is never dropped, so a folder it held would outlive the tests, keys and
/// all); [`Pki::dir`] writes the files into a fresh folder for each use.
struct Pki {
    made_in: String,
    files: Vec<(String, Vec<u8>)>,
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("curia-rfc3161-").tempdir().expect("a temp dir")
}

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let tmp = temp_dir();
        let dir = tmp.path().join("pki");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/tsa/make-tsa.sh");
        let out = Command::new("bash").arg(script).arg(&dir).output().expect("bash");
        assert!(out.status.success(), "make-tsa.sh: {}", String::from_utf8_lossy(&out.stderr));
        let mut files = Vec::new();
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_file() {
                files.push((e.file_name().into_string().unwrap(), std::fs::read(e.path()).unwrap()));
            }
        }
        Pki { made_in: dir.to_str().unwrap().to_string(), files }
    })
}

impl Pki {
    fn file(&self, name: &str) -> &[u8] {
        &self.files.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no {name} in the test PKI")).1
    }

    /// A fresh folder holding the PKI, its `ts.cnf` pointing there; removed when dropped (also
    /// when the test fails). Its serial files start where `make-tsa.sh` left them.
    fn dir(&self) -> tempfile::TempDir {
        let tmp = temp_dir();
        let here = tmp.path().to_str().unwrap();
        for (name, bytes) in &self.files {
            let bytes = if name == "ts.cnf" {
                let text = std::str::from_utf8(bytes).unwrap();
                assert!(text.contains(&self.made_in), "ts.cnf does not name {}: {text}", self.made_in);
                text.replace(&self.made_in, here).into_bytes()
            } else {
                bytes.clone()
            };
            std::fs::write(tmp.path().join(name), bytes).unwrap();
        }
        tmp
    }
}

fn cert(name: &str) -> TsaCertificate {
    TsaCertificate::parse(pki().file(name)).unwrap()
}

/// Asks `openssl ts -reply` (section `tsa_<tsa>`) to answer our own DER request, in a PKI folder
/// of its own (openssl bumps a serial file there).
fn stamp(tsa: &str, data: &[u8], nonce: &[u8]) -> Vec<u8> {
    let tmp = pki().dir();
    let dir = tmp.path();
    let (q, r) = (dir.join("q.tsq"), dir.join("r.tsr"));
    std::fs::write(&q, rfc3161::request(&rfc3161::imprint(data), nonce).unwrap()).unwrap();
    let out = Command::new("openssl")
        .args(["ts", "-reply", "-config"])
        .arg(dir.join("ts.cnf"))
        .args(["-section", &format!("tsa_{tsa}"), "-queryfile"])
        .arg(&q)
        .arg("-out")
        .arg(&r)
        .output()
        .expect("openssl");
    assert!(out.status.success(), "openssl ts -reply: {}", String::from_utf8_lossy(&out.stderr));
    std::fs::read(&r).unwrap()
}

fn token(tsa: &str, nonce: &[u8]) -> Vec<u8> {
    rfc3161::token_from_response(&stamp(tsa, CHECKPOINT.as_bytes(), nonce)).unwrap()
}

fn expected() -> [u8; 32] {
    rfc3161::imprint(CHECKPOINT.as_bytes())
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

#[test]
fn rsa_and_ecdsa_tokens_verify() {
    for (tsa, alg, id) in
        [("rsa", "RSA PKCS#1 v1.5 SHA-256", "ESSCertID"), ("ec", "ECDSA P-256 SHA-256", "ESSCertIDv2")]
    {
        let resp = stamp(tsa, CHECKPOINT.as_bytes(), &[0x42, 0x99]);
        let tok = rfc3161::token_from_response(&resp).unwrap();
        // A response and its bare token are both accepted where either may come.
        assert_eq!(rfc3161::token_from_response_or_token(&resp).unwrap(), tok);
        assert_eq!(rfc3161::token_from_response_or_token(&tok).unwrap(), tok);
        let before = now();
        let s =
            rfc3161::verify_token(&tok, &expected(), &cert(&format!("tsa-{tsa}.pem")), Some(&[0x42, 0x99])).unwrap();
        assert_eq!(s.signature_algorithm, alg);
        assert_eq!(s.cert_id, id);
        assert!((s.gen_time.unix_seconds - before).abs() < 600, "genTime {} far from now", s.gen_time);
        assert_eq!(s.accuracy, Some(rfc3161::Accuracy { seconds: 1, millis: 500, micros: 100 }));
        assert_eq!(s.policy, "1.3.6.1.4.1.99999.1");
        assert_eq!(s.nonce.as_deref(), Some(&[0x42, 0x99][..]));
        // Without a nonce to compare (a stored token), it verifies too.
        assert!(rfc3161::verify_token(&tok, &expected(), &cert(&format!("tsa-{tsa}.pem")), None).is_ok());
    }
}

#[test]
fn other_data_is_refused() {
    let tok = token("rsa", &[7]);
    let other = rfc3161::imprint(b"curia.test/log\n6\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n");
    let e = rfc3161::verify_token(&tok, &other, &cert("tsa-rsa.pem"), None).unwrap_err();
    assert!(matches!(e, Error::TsaImprintMismatch { .. }), "{e}");
}

#[test]
fn other_certificate_is_refused() {
    let e = rfc3161::verify_token(&token("rsa", &[7]), &expected(), &cert("tsa-ec.pem"), None).unwrap_err();
    assert_eq!(e, Error::TsaSignerId);
    let e = rfc3161::verify_token(&token("ec", &[7]), &expected(), &cert("tsa-rsa.pem"), None).unwrap_err();
    assert_eq!(e, Error::TsaSignerId);
}

#[test]
fn wrong_key_usage_is_refused() {
    let tok = token("rsa", &[7]);
    // The same key, issuer and serial as the real TSA certificate, so only the usage differs.
    for (file, want) in [
        ("tsa-rsa-noncrit.pem", "the TSA certificate's extended key usage is not critical"),
        ("tsa-rsa-server.pem", "the TSA certificate's extended key usage is not timeStamping alone"),
        ("ca.pem", "the TSA certificate has no extended key usage"),
    ] {
        let e = rfc3161::verify_token(&tok, &expected(), &cert(file), None).unwrap_err();
        assert_eq!(e, Error::TsaKeyUsage(want), "{file}");
    }
}

#[test]
fn expired_certificate_is_refused() {
    let e = rfc3161::verify_token(&token("expired", &[7]), &expected(), &cert("tsa-expired.pem"), None).unwrap_err();
    assert!(matches!(e, Error::TsaCertValidity { not_after: 978_220_800, .. }), "{e}");
}

#[test]
fn other_nonce_is_refused() {
    let e = rfc3161::verify_token(&token("ec", &[1, 2, 3]), &expected(), &cert("tsa-ec.pem"), Some(&[1, 2, 4]))
        .unwrap_err();
    assert_eq!(e, Error::TsaNonce("the token's nonce is not the request's"));
}

/// The offset and length (header included) of the DER element at `i`.
fn der_len(b: &[u8], i: usize) -> Option<usize> {
    let l = *b.get(i + 1)? as usize;
    if l < 0x80 {
        return Some(2 + l);
    }
    let n = l & 0x7f;
    let mut len = 0usize;
    for k in 0..n {
        len = (len << 8) | *b.get(i + 2 + k)? as usize;
    }
    Some(2 + n + len)
}

/// The TSTInfo inside a token: the SEQUENCE whose SHA-256 appears in the token (the
/// message-digest attribute). Returns (start, length, digest offset).
fn find_tst_info(tok: &[u8]) -> (usize, usize, usize) {
    for i in 0..tok.len() {
        if tok[i] != 0x30 {
            continue;
        }
        let Some(len) = der_len(tok, i) else { continue };
        if i + len > tok.len() {
            continue;
        }
        let h = Sha256::digest(&tok[i..i + len]);
        if let Some(at) = tok.windows(32).position(|w| w == h.as_slice()) {
            return (i, len, at);
        }
    }
    panic!("no TSTInfo found");
}

#[test]
fn altered_gen_time_is_refused() {
    for tsa in ["rsa", "ec"] {
        let tok = token(tsa, &[7]);
        let (start, len, digest_at) = find_tst_info(&tok);
        // genTime: the GeneralizedTime (tag 0x18) in the TSTInfo; change its year's last digit.
        let g = (start..start + len).find(|&i| tok[i] == 0x18 && tok.get(i + 2..i + 4) == Some(b"20")).unwrap();
        let mut bad = tok.clone();
        bad[g + 5] = if bad[g + 5] == b'9' { b'8' } else { bad[g + 5] + 1 };
        let c = cert(&format!("tsa-{tsa}.pem"));
        assert_eq!(rfc3161::verify_token(&bad, &expected(), &c, None).unwrap_err(), Error::TsaMessageDigest);
        // With the message-digest attribute recomputed, the signature no longer verifies.
        let h = Sha256::digest(&bad[start..start + len]);
        bad[digest_at..digest_at + 32].copy_from_slice(&h);
        assert_eq!(rfc3161::verify_token(&bad, &expected(), &c, None).unwrap_err(), Error::TsaSignature);
    }
}

#[test]
fn bad_signature_is_refused() {
    for tsa in ["rsa", "ec"] {
        let mut tok = token(tsa, &[7]);
        // The signature is the last element of the token (openssl adds no unsigned attributes).
        let last = tok.len() - 1;
        tok[last] ^= 0x01;
        let e = rfc3161::verify_token(&tok, &expected(), &cert(&format!("tsa-{tsa}.pem")), None).unwrap_err();
        assert_eq!(e, Error::TsaSignature, "{tsa}");
    }
}

#[test]
fn truncated_and_mangled_tokens_fail_cleanly() {
    let tok = token("ec", &[7]);
    let c = cert("tsa-ec.pem");
    for cut in 0..tok.len() {
        assert!(rfc3161::verify_token(&tok[..cut], &expected(), &c, None).is_err(), "prefix {cut}");
    }
    // Every byte changed in turn: never a panic; a change inside the signed parts (the TSTInfo,
    // the signed attributes, the signature) is always refused.
    let (start, len, _) = find_tst_info(&tok);
    for i in 0..tok.len() {
        let mut bad = tok.clone();
        bad[i] ^= 0x5a;
        let r = rfc3161::verify_token(&bad, &expected(), &c, None);
        if (start..start + len).contains(&i) || i >= tok.len() - 80 {
            assert!(r.is_err(), "byte {i} changed, still verified");
        }
    }
}

#[test]
fn refused_request_reports_status() {
    // openssl refuses an imprint of an algorithm not in `digests` (here: a request we mangle to
    // claim SHA-1): status rejection (2) with its text.
    let mut req = rfc3161::request(&expected(), &[9]).unwrap();
    let sha256 = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
    let at = req.windows(9).position(|w| w == sha256).unwrap();
    req[at + 8] = 0x7f; // an unknown digest OID arc
    let tmp = pki().dir();
    let dir = tmp.path();
    let (q, r) = (dir.join("refused.tsq"), dir.join("refused.tsr"));
    std::fs::write(&q, req).unwrap();
    let out = Command::new("openssl")
        .args(["ts", "-reply", "-config"])
        .arg(dir.join("ts.cnf"))
        .args(["-section", "tsa_rsa", "-queryfile"])
        .arg(&q)
        .arg("-out")
        .arg(&r)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let e = rfc3161::token_from_response(&std::fs::read(&r).unwrap()).unwrap_err();
    assert!(matches!(e, Error::TsaStatus { status: 2, .. }), "{e}");
}

/// The requester's helpers the node and `curia tsa stamp` share: a request built over the
/// checkpoint text, the answer accepted only with the request's nonce, and a token's imprint
/// and genTime read without a certificate (never a verification).
#[test]
fn stamp_request_accept_response_and_token_content() {
    let req = rfc3161::StampRequest::new(CHECKPOINT.as_bytes(), &[0x51, 0x02]).unwrap();
    assert_eq!(req.hash, expected());
    assert_eq!(req.der, rfc3161::request(&expected(), &[0x51, 0x02]).unwrap());
    assert!(rfc3161::StampRequest::new(CHECKPOINT.as_bytes(), &[0, 0]).is_err());
    let resp = stamp("rsa", CHECKPOINT.as_bytes(), &[0x51, 0x02]);
    let (tok, s) = rfc3161::accept_response(&resp, &req, Some(&cert("tsa-rsa.pem"))).unwrap();
    assert!(s.is_some());
    let (tok2, none) = rfc3161::accept_response(&resp, &req, None).unwrap();
    assert_eq!((tok2, none), (tok.clone(), None));
    // The answer to another request (another nonce) is refused with a certificate.
    let other = rfc3161::StampRequest::new(CHECKPOINT.as_bytes(), &[0x52]).unwrap();
    let e = rfc3161::accept_response(&resp, &other, Some(&cert("tsa-rsa.pem"))).unwrap_err();
    assert!(matches!(e, Error::TsaNonce(_)), "{e}");
    let c = rfc3161::token_content(&tok).unwrap();
    assert_eq!(c.imprint, expected());
    let verified = rfc3161::verify_token(&tok, &expected(), &cert("tsa-rsa.pem"), None).unwrap();
    assert_eq!(c.gen_time, verified.gen_time);
    assert!(rfc3161::token_content(&tok[..tok.len() / 2]).is_err());
    assert!(rfc3161::token_content(&resp).is_err(), "a response is not a token");
}
