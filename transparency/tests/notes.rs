//! Known-answer and rejection tests of signed notes, checkpoints and cosignatures.
//!
//! Sources of the known answers:
//! - Go's `golang.org/x/mod/sumdb/note` `note_test.go` (BSD-3-Clause, The Go Authors): the
//!   PeterNeumann and EnochRoot keys, the signed quote, and the malformed notes it rejects;
//! - c2sp.org/signed-note's example vkey and note;
//! - transparency-dev/formats `note/note_cosigv1_test.go` (Apache-2.0): a cosignature whose
//!   timestamp is 1727964367;
//! - `tests/data/cosignature_v1.txt`, computed from the C2SP spec text alone by
//!   `tests/data/gen_cosignature_vector.py` with Python's `cryptography`.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use curia_transparency::checkpoint::Checkpoint;
use curia_transparency::cosignature;
use curia_transparency::note::{open, KeyKind, Note, SignatureLine, Signer, Verifier};
use curia_transparency::Error;

const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const PETER_SKEY: &str = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const TEXT: &str =
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_SIG: &str =
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str =
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

#[test]
fn go_vkey_and_skey_parse() {
    let v = Verifier::parse(PETER_VKEY).unwrap();
    assert_eq!((v.name.as_str(), v.key_id, v.kind), ("PeterNeumann", 0xc74f20a3, KeyKind::Ed25519));
    assert_eq!(v.to_vkey(), PETER_VKEY);
    let s = Signer::parse(PETER_SKEY).unwrap();
    assert_eq!(s.verifier(KeyKind::Ed25519), v);
    assert_eq!(s.to_skey(), PETER_SKEY);
    assert_eq!(Verifier::parse(ENOCH_VKEY).unwrap().key_id, 0xaf0cfe78);
}

#[test]
fn go_vkey_manglings_rejected() {
    // As Go's TestNewVerifier: every proper substring, and every single byte incremented.
    let b = PETER_VKEY.as_bytes();
    for i in 0..=b.len() {
        for j in i + 1..=b.len() {
            if i != 0 || j != b.len() {
                let s = String::from_utf8_lossy(&b[i..j]);
                assert!(Verifier::parse(&s).is_err(), "accepted {s:?}");
            }
        }
    }
    for i in 0..b.len() {
        let mut m = b.to_vec();
        m[i] = m[i].wrapping_add(1);
        let s = String::from_utf8_lossy(&m);
        assert!(Verifier::parse(&s).is_err(), "accepted {s:?}");
    }
    // Wrong key length and unknown algorithm, with adjusted key hashes. Go rejects the first
    // for its length; its base64 also has non-zero trailing bits, which we reject first.
    assert_eq!(
        Verifier::parse("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="),
        Err(Error::VerifierKey("key is not canonical standard base64"))
    );
    assert_eq!(
        Verifier::parse("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEQ=="),
        Err(Error::VerifierKey("Ed25519 public key is not 32 bytes"))
    );
    assert_eq!(
        Verifier::parse("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(Error::VerifierKey("unsupported signature type (only 0x01 and 0x04)"))
    );
    assert_eq!(
        Verifier::parse("PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(Error::VerifierKey("key ID is not 8 lowercase hex digits"))
    );
    assert_eq!(
        Verifier::parse("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(Error::VerifierKey("key ID does not match the name and key"))
    );
    assert_eq!(Verifier::parse("PeterNeumann"), Err(Error::VerifierKey("not of the form name+hash+key")));
}

#[test]
fn go_skey_manglings_rejected() {
    let b = PETER_SKEY.as_bytes();
    for i in 0..=b.len() {
        for j in i + 1..=b.len() {
            if i != 0 || j != b.len() {
                let s = String::from_utf8_lossy(&b[i..j]);
                assert!(Signer::parse(&s).is_err(), "accepted {s:?}");
            }
        }
    }
    for i in 0..b.len() {
        let mut m = b.to_vec();
        m[i] = m[i].wrapping_add(1);
        let s = String::from_utf8_lossy(&m);
        assert!(Signer::parse(&s).is_err(), "accepted {s:?}");
    }
}

#[test]
fn go_sign_known_answer() {
    let s = Signer::parse(PETER_SKEY).unwrap();
    let note = Note { text: TEXT.to_string(), signatures: vec![s.sign(TEXT).unwrap()] };
    let want = format!("{TEXT}\n{PETER_SIG}");
    assert_eq!(String::from_utf8(note.to_bytes()).unwrap(), want);
    assert_eq!(s.sign("abc"), Err(Error::NoteText("does not end with a newline")));
}

#[test]
fn c2sp_signed_note_example() {
    let v = Verifier::parse("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k").unwrap();
    let note = "This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
    let o = open(note.as_bytes(), &[v]).unwrap();
    assert_eq!(o.text, "This is an example message.\n");
    assert_eq!(o.verified.len(), 1);
}

#[test]
fn go_open_cases() {
    let peter = Verifier::parse(PETER_VKEY).unwrap();
    let enoch = Verifier::parse(ENOCH_VKEY).unwrap();
    let both = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");

    // One verified, one unknown.
    let o = open(both.as_bytes(), std::slice::from_ref(&peter)).unwrap();
    assert_eq!(o.text, TEXT);
    assert_eq!(o.verified.len(), 1);
    assert_eq!(o.verified[0].0.name, "PeterNeumann");
    assert_eq!(o.unverified.len(), 1);
    assert_eq!(o.unverified[0].key_id, 0xaf0cfe78);

    // Both verified.
    let o = open(both.as_bytes(), &[peter.clone(), enoch.clone()]).unwrap();
    assert_eq!(o.verified.len(), 2);
    assert!(o.unverified.is_empty());

    // None trusted.
    assert_eq!(open(both.as_bytes(), &[]), Err(Error::NoVerifiedSignature));

    // Duplicated verifier.
    let only_enoch = format!("{TEXT}\n{ENOCH_SIG}");
    assert_eq!(
        open(only_enoch.as_bytes(), &[enoch.clone(), peter.clone(), enoch.clone()]),
        Err(Error::AmbiguousKey { name: "EnochRoot".into(), id: 0xaf0cfe78 })
    );
    // An unused duplicated verifier is harmless.
    let only_peter = format!("{TEXT}\n{PETER_SIG}");
    assert!(open(only_peter.as_bytes(), &[enoch.clone(), peter.clone(), enoch.clone()]).is_ok());

    // Too many signatures.
    let many = format!("{TEXT}\n{}", PETER_SIG.repeat(101));
    assert_eq!(open(many.as_bytes(), std::slice::from_ref(&peter)), Err(Error::NoteTooManySignatures { max: 100 }));

    // Invalid signature by a trusted key fails the whole note.
    let bad = format!("{TEXT}\n{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
    assert_eq!(
        open(bad.as_bytes(), std::slice::from_ref(&peter)),
        Err(Error::InvalidSignature { name: "PeterNeumann".into(), id: 0xc74f20a3 })
    );

    // Repeated signatures count once; repeated unknown lines are kept once.
    let enoch_abcd = format!("{}ABCD{}", &ENOCH_SIG[..60], &ENOCH_SIG[60..]);
    let dup = format!("{TEXT}\n{PETER_SIG}{PETER_SIG}{ENOCH_SIG}{ENOCH_SIG}{enoch_abcd}");
    let o = open(dup.as_bytes(), std::slice::from_ref(&peter)).unwrap();
    assert_eq!(o.verified.len(), 1);
    assert_eq!(o.unverified.len(), 2);
}

#[test]
fn go_malformed_notes_each_with_its_error() {
    let peter = Verifier::parse(PETER_VKEY).unwrap();
    let cases: Vec<(String, Error)> = vec![
        (TEXT.to_string(), Error::NoteNoSeparator),
        (format!("{TEXT}\n"), Error::NoteSignatureBlock("is empty")),
        (format!("{TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]), Error::NoteSignatureBlock("does not end with a newline")),
        (format!("\x01{TEXT}\n{PETER_SIG}"), Error::NoteControlChar { byte: 1, offset: 0 }),
        (format!("{TEXT}\n{PETER_SIG}").replace("If", "I\u{fffd}"), Error::NoVerifiedSignature),
        (
            format!("{TEXT}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"),
            Error::SignatureLine { line: 1, reason: "signature is not canonical standard base64" },
        ),
        (
            format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"),
            Error::SignatureLine { line: 2, reason: "does not start with an em dash and a space" },
        ),
        (format!("{TEXT}\n— PeterNeumann\n"), Error::SignatureLine { line: 1, reason: "has no space between key name and signature" }),
        (format!("{TEXT}\n— PeterNeumann \n"), Error::SignatureLine { line: 1, reason: "signature is empty" }),
        (format!("{TEXT}\n— Peter+Neumann AAAAAAA=\n"), Error::SignatureLine { line: 1, reason: "key name is empty or holds a space or '+'" }),
        (format!("{TEXT}\n— PeterNeumann AAAA\n"), Error::SignatureLine { line: 1, reason: "signature is shorter than a key ID and one byte" }),
        (format!("{TEXT}\n— PeterNeumann AAAAAAB=\n"), Error::SignatureLine { line: 1, reason: "signature is not canonical standard base64" }),
        (format!("{TEXT}\n\t— PeterNeumann AAAAAAA=\n"), Error::NoteControlChar { byte: 9, offset: TEXT.len() + 1 }),
    ];
    for (msg, want) in cases {
        // The replacement-character case is valid UTF-8 with a changed text: the signature fails.
        let got = open(msg.as_bytes(), std::slice::from_ref(&peter));
        if matches!(want, Error::NoVerifiedSignature) {
            assert!(matches!(got, Err(Error::InvalidSignature { .. })), "{msg:?}: {got:?}");
            continue;
        }
        assert_eq!(got, Err(want), "{msg:?}");
    }
    let mut invalid_utf8 = b"\xff".to_vec();
    invalid_utf8.extend_from_slice(format!("{TEXT}\n{PETER_SIG}").as_bytes());
    assert_eq!(open(&invalid_utf8, std::slice::from_ref(&peter)), Err(Error::NoteNotUtf8 { offset: 0 }));
    let huge = vec![b'a'; 70_000];
    assert_eq!(open(&huge, &[peter]), Err(Error::NoteTooLarge { len: 70_000, max: 65536 }));
}

fn vector_field<'a>(data: &'a str, key: &str) -> &'a str {
    data.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("field {key}"))
}

#[test]
fn cosignature_known_answer_from_independent_python() {
    let data = include_str!("data/cosignature_v1.txt");
    let signer = Signer::parse(vector_field(data, "skey")).unwrap();
    let vkey = Verifier::parse(vector_field(data, "vkey")).unwrap();
    assert_eq!(vkey.kind, KeyKind::CosignatureV1);
    assert_eq!(signer.verifier(KeyKind::CosignatureV1), vkey);
    let t: u64 = vector_field(data, "timestamp").parse().unwrap();
    let text = String::from_utf8(B64.decode(vector_field(data, "text")).unwrap()).unwrap();
    let line = vector_field(data, "line");
    let mine = cosignature::cosign(&signer, &text, t).unwrap();
    assert_eq!(mine.to_line(), format!("{line}\n"));

    // It opens as a note signature, with its timestamp.
    let note = format!("{text}\n{line}\n");
    let o = open(note.as_bytes(), std::slice::from_ref(&vkey)).unwrap();
    assert_eq!(o.verified[0].2, Some(t));
    // The same key as a plain Ed25519 note key has another key ID: the line is unknown to it.
    assert_eq!(open(note.as_bytes(), &[signer.verifier(KeyKind::Ed25519)]), Err(Error::NoVerifiedSignature));
    // Another time, another text: invalid.
    let parsed = SignatureLine::parse(line, 1).unwrap();
    let mut other = parsed.signature.clone();
    other[7] ^= 1;
    assert!(cosignature::verify(&vkey.key, &text, &other).is_err());
    assert!(cosignature::verify(&vkey.key, &text.replace("20852163", "20852164"), &parsed.signature).is_err());
    assert_eq!(cosignature::verify(&vkey.key, &text, &parsed.signature), Ok(t));
    // The timestamp rules.
    assert_eq!(
        cosignature::cosign(&signer, &text, 0),
        Err(Error::Cosignature("timestamp 0 is not allowed for a checkpoint cosignature"))
    );
    assert_eq!(cosignature::cosign(&signer, &text, 1 << 63), Err(Error::Cosignature("timestamp exceeds 2^63 - 1")));
    assert_eq!(
        cosignature::timestamp(&parsed.signature[..71]),
        Err(Error::Cosignature("signature is not 8 + 64 bytes"))
    );
}

#[test]
fn transparency_dev_cosignature_timestamp() {
    // note_cosigv1_test.go TestCoSigV1Timestamp: key ID, timestamp, signature.
    let raw = B64
        .decode(
            "ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEBYJXORmnFBOBA==",
        )
        .unwrap();
    assert_eq!(cosignature::timestamp(&raw[4..]), Ok(1727964367));
    // "wrong type of signature": a plain Ed25519 signature is not 72 bytes.
    let plain = B64
        .decode("eQjRQm6eSKzFoiYalgwCPXu2y3ijtg68is9M46JKxuZB+dRfTmeQeDBoXnvxZx2ugnkyV+MUMLXpWs1hPb/W/4xkNQY=")
        .unwrap();
    assert!(cosignature::timestamp(&plain[4..]).is_err());
}

#[test]
fn c2sp_checkpoint_example_and_malformed_checkpoints() {
    let text = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    let cp = Checkpoint::parse(text).unwrap();
    assert_eq!((cp.origin.as_str(), cp.size), ("example.com/behind-the-sofa", 20852163));
    assert_eq!(cp.to_text(), text);
    let with_ext = format!("{text}ext one\n");
    assert_eq!(Checkpoint::parse(&with_ext).unwrap().extensions, vec!["ext one".to_string()]);

    let root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
    let cases: Vec<(String, usize, &str)> = vec![
        ("o\n1\n".into(), 3, "missing: a checkpoint has origin, size and root lines"),
        (format!("o\n1\n{root}"), 1, "text does not end with a newline"),
        (format!("\n1\n{root}\n"), 1, "origin is empty"),
        (format!("o\n01\n{root}\n"), 2, "tree size is not a decimal without leading zeros"),
        (format!("o\n-1\n{root}\n"), 2, "tree size is not a decimal without leading zeros"),
        (format!("o\n18446744073709551616\n{root}\n"), 2, "tree size is not a decimal without leading zeros"),
        ("o\n1\nnot base64!\n".into(), 3, "root hash is not canonical standard base64"),
        ("o\n1\nAAAA\n".into(), 3, "root hash is not 32 bytes"),
        (format!("o\n1\n{root}\n\n"), 4, "extension line is empty"),
        (format!("o\n1\n{root}\na\n\nb\n"), 5, "extension line is empty"),
    ];
    for (t, line, reason) in cases {
        assert_eq!(Checkpoint::parse(&t), Err(Error::Checkpoint { line, reason }), "{t:?}");
    }
}
