//! C2SP tlog-policy files: parsing rules line by line, and the witness quorum over checkpoints
//! cosigned with generated keys (k-of-n groups, nested groups, `none`, log keys, invalid and
//! unknown signature lines).

use curia_ledger::Hash;
use curia_transparency::checkpoint::Checkpoint;
use curia_transparency::cosignature;
use curia_transparency::note::{KeyKind, Note, SignatureLine, Signer};
use curia_transparency::policy::Policy;
use curia_transparency::Error;

fn log_key() -> Signer {
    Signer::from_seed("curia.test/log", &[1; 32]).unwrap()
}

fn witnesses() -> Vec<Signer> {
    (1..=3u8).map(|i| Signer::from_seed(&format!("w{i}.test"), &[10 + i; 32]).unwrap()).collect()
}

fn text() -> String {
    Checkpoint::new("curia.test/log", 9, Hash([3; 32])).to_text()
}

/// The checkpoint signed by the log key and cosigned by witnesses `which` (indexes).
fn note(which: &[usize]) -> Vec<u8> {
    let t = text();
    let mut sigs = vec![log_key().sign(&t).unwrap()];
    let ws = witnesses();
    for &i in which {
        sigs.push(cosignature::cosign(&ws[i], &t, 1_700_000_000 + i as u64).unwrap());
    }
    Note { text: t, signatures: sigs }.to_bytes()
}

fn policy(quorum_lines: &str) -> String {
    let ws = witnesses();
    let mut s = format!("# test policy\nlog {} https://log.test\n", log_key().verifier(KeyKind::Ed25519).to_vkey());
    for (i, w) in ws.iter().enumerate() {
        s.push_str(&format!("witness W{} {}\n", i + 1, w.verifier(KeyKind::CosignatureV1).to_vkey()));
    }
    s.push_str(quorum_lines);
    s
}

#[test]
fn two_of_three() {
    let p = Policy::parse(policy("group g 2 W1 W2 W3\nquorum g\n").as_bytes()).unwrap();
    for ok in [&[0, 1][..], &[1, 2], &[0, 1, 2], &[2, 0]] {
        let s = p.check(&note(ok)).unwrap();
        assert_eq!(s.witnesses.len(), ok.len());
        assert_eq!(s.logs, vec!["curia.test/log".to_string()]);
        assert_eq!(s.checkpoint.size, 9);
    }
    for bad in [&[][..], &[0], &[2]] {
        let e = p.check(&note(bad)).unwrap_err();
        assert_eq!(
            e,
            Error::PolicyNotSatisfied(format!("group g: {} of its 3 members satisfied, 2 required", bad.len()))
        );
    }
    // A repeated cosignature line of one witness counts once.
    let mut n = Note::parse(&note(&[0])).unwrap();
    n.signatures.push(n.signatures[1].clone());
    assert!(matches!(p.check(&n.to_bytes()), Err(Error::PolicyNotSatisfied(_))));
}

#[test]
fn any_all_nested_and_none() {
    let p = Policy::parse(policy("group a any W1 W2\ngroup b all W3 a\nquorum b\n").as_bytes()).unwrap();
    assert!(p.check(&note(&[1, 2])).is_ok());
    assert!(p.check(&note(&[0, 2])).is_ok());
    assert!(p.check(&note(&[0, 1])).is_err());
    assert!(p.check(&note(&[2])).is_err());
    let p = Policy::parse(policy("quorum W2\n").as_bytes()).unwrap();
    assert!(p.check(&note(&[1])).is_ok());
    assert_eq!(p.check(&note(&[0, 2])).unwrap_err(), Error::PolicyNotSatisfied("witness W2 did not cosign".into()));
    let p = Policy::parse(policy("quorum none\n").as_bytes()).unwrap();
    assert!(p.check(&note(&[])).unwrap().witnesses.is_empty());
}

#[test]
fn signatures_that_do_not_count() {
    let p = Policy::parse(policy("group g 2 W1 W2 W3\nquorum g\n").as_bytes()).unwrap();
    let t = text();
    // A cosignature over another checkpoint, under W1's name and key ID: the check fails.
    let other = Checkpoint::new("curia.test/log", 10, Hash([3; 32])).to_text();
    let ws = witnesses();
    let forged = cosignature::cosign(&ws[0], &other, 5).unwrap();
    let mut n = Note::parse(&note(&[1])).unwrap();
    n.signatures.push(forged.clone());
    assert_eq!(p.check(&n.to_bytes()).unwrap_err(), Error::InvalidSignature { name: forged.name, id: forged.key_id });
    // A plain Ed25519 signature by a witness key (type 0x01) has another key ID: ignored.
    let mut n = Note::parse(&note(&[1])).unwrap();
    n.signatures.push(ws[0].sign(&t).unwrap());
    assert!(matches!(p.check(&n.to_bytes()), Err(Error::PolicyNotSatisfied(_))));
    // An unknown key's line is ignored.
    let stranger = Signer::from_seed("stranger.test", &[99; 32]).unwrap();
    let mut n = Note::parse(&note(&[1, 2])).unwrap();
    n.signatures.push(cosignature::cosign(&stranger, &t, 7).unwrap());
    assert!(p.check(&n.to_bytes()).is_ok());
    // No signature by the policy's log key.
    let n = Note {
        text: t.clone(),
        signatures: vec![cosignature::cosign(&ws[0], &t, 1).unwrap(), cosignature::cosign(&ws[1], &t, 1).unwrap()],
    };
    assert_eq!(
        p.check(&n.to_bytes()).unwrap_err(),
        Error::PolicyNotSatisfied("no signature by a log key of the policy".into())
    );
    // A note that is not a checkpoint.
    let n = Note {
        text: "hello\n".into(),
        signatures: vec![SignatureLine { name: "x".into(), key_id: 1, signature: vec![0; 8] }],
    };
    assert!(matches!(p.check(&n.to_bytes()), Err(Error::Checkpoint { .. })));
}

#[test]
fn parse_errors() {
    let ws = witnesses();
    let wv = ws[0].verifier(KeyKind::CosignatureV1).to_vkey();
    let w_note = ws[0].verifier(KeyKind::Ed25519).to_vkey();
    let lv = log_key().verifier(KeyKind::Ed25519).to_vkey();
    let cases: Vec<(String, usize, &str)> = vec![
        ("".into(), 0, "no quorum line"),
        (format!("witness A {wv}\n"), 0, "no quorum line"),
        (format!("witness A {wv}\nquorum A\nquorum A\n"), 3, "a second quorum line"),
        ("quorum A\n".into(), 1, "quorum \"A\" is not defined above"),
        (format!("quorum A\nwitness A {wv}\n"), 1, "quorum \"A\" is not defined above"),
        (
            format!("witness A {wv}\nwitness A {}\nquorum A\n", ws[1].verifier(KeyKind::CosignatureV1).to_vkey()),
            2,
            "name \"A\" is already defined",
        ),
        (format!("witness A {wv}\nwitness B {wv}\nquorum A\n"), 2, "two witnesses with the same key"),
        (format!("witness none {wv}\nquorum none\n"), 1, "\"none\" is not a name"),
        (format!("witness A {w_note}\nquorum A\n"), 1, "a witness key must be a cosignature/v1 key (type 0x04)"),
        (format!("log {wv}\nquorum none\n"), 1, "a log key must be an Ed25519 note key (type 0x01)"),
        (format!("log {lv}\nlog {lv}\nquorum none\n"), 2, "duplicate log key"),
        (format!("log {lv} ftp://x\nquorum none\n"), 1, "URL \"ftp://x\" is not http:// or https:// with a host"),
        (format!("witness A {wv}\ngroup g 2 A\nquorum g\n"), 2, "threshold \"2\" is not any, all or 1..=1"),
        (format!("witness A {wv}\ngroup g 0 A\nquorum g\n"), 2, "threshold \"0\" is not any, all or 1..=1"),
        (format!("witness A {wv}\ngroup g 01 A\nquorum g\n"), 2, "threshold \"01\" is not any, all or 1..=1"),
        (format!("witness A {wv}\ngroup g 1 A A\nquorum g\n"), 2, "member \"A\" is listed twice"),
        (format!("witness A {wv}\ngroup g 1 B\nquorum g\n"), 2, "member \"B\" is not defined above"),
        (format!("witness A {wv}\ngroup g 1\nquorum g\n"), 2, "group line is `group <name> <k|any|all> <member>...`"),
        ("witness A\nquorum none\n".into(), 1, "witness line is `witness <name> <vkey> [<url>]`"),
        ("quorum\n".into(), 1, "quorum line is `quorum <name|none>`"),
        ("frobnicate x\nquorum none\n".into(), 1, "unknown keyword \"frobnicate\""),
        (
            "witness A B+00000000+AQ==\nquorum none\n".into(),
            1,
            "invalid verifier key: Ed25519 public key is not 32 bytes",
        ),
    ];
    for (text, line, reason) in cases {
        assert_eq!(Policy::parse(text.as_bytes()), Err(Error::Policy { line, reason: reason.into() }), "{text}");
    }
    assert!(matches!(Policy::parse(&[0xff, 0xfe]), Err(Error::Policy { line: 0, .. })));
    assert!(matches!(Policy::parse(&vec![b'#'; 64 * 1024 + 1]), Err(Error::Policy { line: 0, .. })));
    // Comments, blank lines, tabs, CRLF and URLs are accepted.
    let ok = format!("  # c\n\nlog\t{lv}\r\nwitness A {wv} https://w.test/a\n\tgroup g all A\nquorum g\n");
    let p = Policy::parse(ok.as_bytes()).unwrap();
    assert_eq!(p.witnesses[0].url.as_deref(), Some("https://w.test/a"));
    assert_eq!(p.groups[0].threshold, 1);
}
