//! The client over real sockets on loopback, against small servers started here: error answers
//! become their variants (with `Retry-After`), oversized and malformed answers are refused, and
//! TLS works with a CA file made in the test (rcgen) and fails without it or with another CA.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use curia_client::types::NodeStatus;
use curia_client::{Client, Error};

/// One canned HTTP answer: status line, extra headers, body.
#[derive(Clone)]
struct Canned {
    status: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

fn status_json() -> Vec<u8> {
    let st = NodeStatus { chain_id: "ab".repeat(32), chain_name: "t".into(), height: 7, ..Default::default() };
    serde_json::to_vec(&st).unwrap()
}

/// Read one request head (and drop any body) from `s`.
fn read_request(s: &mut impl Read) {
    let mut r = BufReader::new(s);
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; len];
    let _ = r.read_exact(&mut body);
}

fn write_answer(s: &mut impl Write, a: &Canned) {
    let mut head = format!("HTTP/1.1 {}\r\nContent-Length: {}\r\nConnection: close\r\n", a.status, a.body.len());
    for (k, v) in &a.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = s.write_all(head.as_bytes());
    let _ = s.write_all(&a.body);
    let _ = s.flush();
}

/// A plain HTTP server on 127.0.0.1 answering `answers` in order, one per connection.
fn serve_plain(answers: Vec<Canned>) -> (String, JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let h = std::thread::spawn(move || {
        for a in answers {
            let (mut s, _) = l.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            read_request(&mut s);
            write_answer(&mut s, &a);
        }
    });
    (url, h)
}

fn json_error(status: &'static str, code: &str, retry_after: Option<u64>) -> Canned {
    let body =
        serde_json::to_vec(&serde_json::json!({"error": {"code": code, "message": format!("said {code}")}})).unwrap();
    let headers = retry_after.map(|s| vec![("Retry-After", s.to_string())]).unwrap_or_default();
    Canned { status, headers, body }
}

#[test]
fn error_answers_become_their_variants() {
    let answers = vec![
        json_error("503 Service Unavailable", "busy", Some(7)),
        json_error("404 Not Found", "receipt_pending", Some(1)),
        json_error("422 Unprocessable Entity", "not_enough_approvals", None),
        Canned { status: "431 Request Header Fields Too Large", headers: vec![], body: vec![] },
        Canned { status: "200 OK", headers: vec![], body: b"{\"chain_id\": 5}".to_vec() },
        Canned { status: "200 OK", headers: vec![], body: status_json() },
    ];
    let (url, server) = serve_plain(answers);
    let c = Client::new(&url).unwrap();
    let e = c.status().unwrap_err();
    assert!(matches!(e, Error::Busy(_)), "{e:?}");
    assert_eq!((e.status(), e.retry_after()), (Some(503), Some(Duration::from_secs(7))));
    let e = c.status().unwrap_err();
    assert!(matches!(e, Error::ReceiptPending(_)), "{e:?}");
    let e = c.status().unwrap_err();
    assert!(matches!(e, Error::NotEnoughApprovals(_)), "{e:?}");
    assert_eq!(e.to_string(), "node answered 422 not_enough_approvals: said not_enough_approvals");
    let e = c.status().unwrap_err();
    assert!(matches!(e, Error::Http { status: 431, .. }), "{e:?}");
    let e = c.status().unwrap_err();
    assert!(matches!(e, Error::Protocol { .. }), "{e:?}");
    assert_eq!(c.status().unwrap().height, 7);
    server.join().unwrap();
}

#[test]
fn an_answer_over_its_limit_is_refused_unread() {
    let big = vec![b' '; curia_client::MAX_SMALL_ANSWER + 10];
    let (url, server) = serve_plain(vec![Canned { status: "200 OK", headers: vec![], body: big }]);
    let e = Client::new(&url).unwrap().status().unwrap_err();
    assert!(matches!(e, Error::AnswerTooLarge { .. }), "{e:?}");
    server.join().unwrap();
}

#[test]
fn a_node_that_is_not_there_is_a_transport_error_and_waits_are_bounded() {
    // A port that was just free: nothing listens.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let c = Client::builder(&format!("http://127.0.0.1:{port}")).build().unwrap();
    let e = c.status().unwrap_err();
    assert!(matches!(e, Error::Transport { .. }) && e.is_retryable(), "{e:?}");
    let t = std::time::Instant::now();
    let e = c.wait_receipt(&curia_ledger::Hash([1; 32]), Duration::from_millis(1500)).unwrap_err();
    assert!(matches!(e, Error::WaitTimeout { .. }), "{e:?}");
    assert!(t.elapsed() < Duration::from_secs(10), "waited {:?}", t.elapsed());
}

#[test]
fn urls_and_ca_files_are_checked_before_anything_is_sent() {
    assert!(matches!(Client::new("ftp://x"), Err(Error::InvalidInput(_))));
    let dir = temp_dir();
    let ca = temp(&dir, "unused-ca.pem", b"");
    let e = Client::builder("http://127.0.0.1:1").ca_file(&ca).build().unwrap_err();
    assert!(matches!(e, Error::InvalidInput(_)), "{e:?}");
    let e = Client::builder("https://127.0.0.1:1").ca_file(&ca).build().unwrap_err();
    assert!(matches!(e, Error::Tls(_)), "an empty CA file: {e:?}");
    let junk = temp(&dir, "junk-ca.pem", b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n");
    assert!(matches!(Client::builder("https://127.0.0.1:1").ca_file(&junk).build(), Err(Error::Tls(_))));
    let missing = dir.path().join("no-such-ca.pem");
    assert!(matches!(Client::builder("https://127.0.0.1:1").ca_file(&missing).build(), Err(Error::Io { .. })));
}

// ----- TLS -----

/// A fresh folder for one test (`curia-client-XXXXXX`), removed when dropped: when the test
/// passes and when it fails.
fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("curia-client-").tempdir().unwrap()
}

/// `bytes` written to `dir/name`.
fn temp(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// A CA and a server certificate for `localhost` and 127.0.0.1 signed by it.
struct Pki {
    ca_pem: String,
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
}

fn make_pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "curia test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let cert = params.signed_by(&key, &ca_cert, &ca_key).unwrap();
    Pki { ca_pem: ca_cert.pem(), cert_der: cert.der().to_vec(), key_der: key.serialize_der() }
}

/// A TLS server on 127.0.0.1 that answers `/v1/status` on each of `connections` connections (a
/// failed handshake counts as one).
fn serve_tls(pki: &Pki, connections: usize) -> (u16, JoinHandle<()>) {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(pki.cert_der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.key_der.clone())),
        )
        .unwrap();
    let config = Arc::new(config);
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        for _ in 0..connections {
            let (s, _): (TcpStream, _) = l.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, s);
            read_request(&mut tls);
            if tls.conn.is_handshaking() {
                continue; // the client refused the certificate
            }
            let body = status_json();
            write_answer(&mut tls, &Canned { status: "200 OK", headers: vec![], body });
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    (port, h)
}

#[test]
fn https_with_the_right_ca_file_works_and_without_it_fails() {
    let pki = make_pki();
    let dir = temp_dir();
    let ca = temp(&dir, "ca.pem", pki.ca_pem.as_bytes());
    let other = temp(&dir, "other-ca.pem", make_pki().ca_pem.as_bytes());
    let (port, server) = serve_tls(&pki, 4);

    for host in ["localhost", "127.0.0.1"] {
        let c = Client::builder(&format!("https://{host}:{port}")).ca_file(&ca).build().unwrap();
        assert_eq!(c.status().unwrap().height, 7, "over TLS to {host}");
    }
    // The public roots do not know a test CA; nor does another CA.
    let e = Client::new(&format!("https://localhost:{port}")).unwrap().status().unwrap_err();
    assert!(matches!(e, Error::Transport { .. }), "{e:?}");
    let e =
        Client::builder(&format!("https://localhost:{port}")).ca_file(&other).build().unwrap().status().unwrap_err();
    assert!(matches!(e, Error::Transport { .. }), "{e:?}");
    assert!(e.to_string().contains("certificate") || e.to_string().contains("issuer"), "{e}");
    server.join().unwrap();
}

/// The request head (lower-cased) and body of one request read from `s`.
fn read_whole_request(s: &mut impl Read) -> (String, Vec<u8>) {
    let mut r = BufReader::new(s);
    let (mut head, mut len) = (String::new(), 0usize);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
        head.push_str(&lower);
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).unwrap();
    (head, body)
}

#[test]
fn a_binary_submission_is_the_canonical_list_sent_as_octet_stream() {
    use curia_ledger::codec::{Canonical, Reader};
    use curia_ledger::crypto::SecretKey;
    use curia_ledger::tx::{Commitment, Deposit, Payload, Transaction, TxBody};
    let key = SecretKey::from_seed(&[7; 32]);
    let chain_id = curia_ledger::Hash::sha256(b"chain");
    let txs: Vec<Transaction> = (0..3u64)
        .map(|n| {
            TxBody {
                sender: key.public(),
                nonce: n,
                payload: Payload::Deposit(Deposit {
                    commitment: Commitment::Sha256(curia_ledger::Hash::sha256(&n.to_be_bytes())),
                    media_type: "text/plain".into(),
                    byte_length: 1,
                    label: String::new(),
                    reference: String::new(),
                }),
            }
            .sign(&chain_id, &key)
        })
        .collect();
    let body = curia_client::binary_transactions_body(&txs);
    // The body is the canonical list: a u32 count, then each transaction, nothing else.
    let mut r = Reader::new(&body, "list");
    let back = r.list("txs", 10, Transaction::decode).unwrap();
    r.finish().unwrap();
    assert_eq!(back, txs);

    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let ids: Vec<_> = txs.iter().map(|t| t.id(&chain_id)).collect();
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let got = read_whole_request(&mut s);
        let results: Vec<_> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| serde_json::json!({"index": i, "tx_id": id, "deposit_ids": [id]}))
            .collect();
        let answer =
            serde_json::to_vec(&serde_json::json!({"accepted": 3, "rejected": 0, "results": results})).unwrap();
        write_answer(&mut s, &Canned { status: "200 OK", headers: vec![], body: answer });
        got
    });
    let a = Client::new(&url).unwrap().submit_binary_body(&body, txs.len()).unwrap();
    assert_eq!(a.accepted, 3);
    let (head, sent) = server.join().unwrap();
    assert!(head.starts_with("post /v1/transactions "), "{head}");
    assert!(head.contains("content-type: application/octet-stream\r\n"), "{head}");
    assert!(!head.contains("application/json"), "{head}");
    assert_eq!(sent, body);
}
