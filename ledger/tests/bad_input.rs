//! Hostile input gets a specific error, never a panic and never a pass.

use curia_ledger::codec::Canonical;
use curia_ledger::genesis::Genesis;
use curia_ledger::hash::Hash;
use curia_ledger::receipt::Receipt;
use curia_ledger::testkit::TestChain;
use curia_ledger::LedgerError;

fn receipt() -> Receipt {
    let mut c = TestChain::new(4);
    let tx = c.deposit("platform", b"x", 1);
    let id = tx.id(&c.spec.chain_id);
    c.commit(vec![tx]);
    c.receipt(&id).unwrap()
}

fn json_with(f: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_str(&receipt().to_json()).unwrap();
    f(&mut v);
    serde_json::to_vec(&v).unwrap()
}

#[test]
fn malformed_json_is_named() {
    let e = Receipt::from_json(b"{\"format\": \"curia-receipt\", ").unwrap_err();
    assert!(matches!(e, LedgerError::Json { what: "receipt", .. }), "{e}");
    let e = Receipt::from_json(&json_with(|v| v["format"] = "other".into())).unwrap_err();
    assert!(e.to_string().contains("expected \"curia-receipt\""), "{e}");
    let e = Receipt::from_json(&json_with(|v| v["surprise"] = 1.into())).unwrap_err();
    assert!(e.to_string().contains("unknown field"), "{e}");
    let e = Genesis::from_json(b"[]").unwrap_err();
    assert!(matches!(e, LedgerError::Json { what: "genesis", .. }));
}

#[test]
fn unknown_versions_are_named() {
    // Version 2 exists (membership history, receipt format 13) and must carry its history.
    let e = Receipt::from_json(&json_with(|v| v["version"] = 2.into())).unwrap_err();
    assert!(e.to_string().contains("missing membership history"), "{e}");
    // Version 3 exists (the deposit log in headers, receipt format 7) and must carry its position.
    let e = Receipt::from_json(&json_with(|v| v["version"] = 3.into())).unwrap_err();
    assert!(e.to_string().contains("a version 3 receipt carries log_index and log_proof"), "{e}");
    let e = Receipt::from_json(&json_with(|v| v["version"] = 4.into())).unwrap_err();
    assert_eq!(e, LedgerError::UnsupportedVersion { what: "receipt", found: 4, supported: 3 });
    let e = Receipt::from_json(&json_with(|v| v["header"]["version"] = 7.into())).unwrap_err();
    assert!(matches!(e, LedgerError::UnsupportedVersion { what: "header", found: 7, .. }), "{e}");
    let mut g: serde_json::Value = serde_json::from_str(&TestChain::new(4).spec.genesis.to_json()).unwrap();
    g["version"] = 3.into();
    let e = Genesis::from_json(&serde_json::to_vec(&g).unwrap()).unwrap_err();
    assert!(matches!(e, LedgerError::UnsupportedVersion { what: "genesis", found: 3, .. }));
}

#[test]
fn wrong_lengths_are_named() {
    let e = Receipt::from_json(&json_with(|v| v["deposit_id"] = "abcd".into())).unwrap_err();
    assert!(e.to_string().contains("expected 32 bytes, got 2"), "{e}");
    let e = Receipt::from_json(&json_with(|v| v["signature"] = "zz".into())).unwrap_err();
    assert!(e.to_string().contains("bad hex in signature"), "{e}");
    let long = "x".repeat(300);
    let e = Receipt::from_json(&json_with(|v| v["tx"]["payload"]["label"] = long.into())).unwrap_err();
    assert!(e.to_string().contains("label length 300 exceeds limit 256"), "{e}");
}

#[test]
fn oversized_proofs_are_refused_before_hashing() {
    let proof: Vec<String> = (0..65).map(|_| Hash::ZERO.to_hex()).collect();
    let e = Receipt::from_json(&json_with(|v| v["tx_proof"] = proof.into())).unwrap_err();
    assert!(e.to_string().contains("transaction proof count 65 exceeds limit 64"), "{e}");
    let big = vec![b' '; curia_ledger::limits::MAX_RECEIPT_BYTES + 1];
    assert!(matches!(Receipt::from_json(&big).unwrap_err(), LedgerError::TooLarge { what: "receipt", .. }));
}

#[test]
fn non_canonical_bytes_are_refused() {
    let r = receipt();
    let good = r.to_bytes();
    // Trailing byte.
    let mut b = good.clone();
    b.push(0);
    assert!(Receipt::from_bytes(&b).unwrap_err().to_string().contains("1 trailing bytes"));
    // The option byte for the (absent) batch item: 2 is neither none nor some.
    let item_flag = 8 + 2 + 32 + 32 + r.tx.to_bytes().len() + 64;
    assert_eq!(good[item_flag], 0);
    let mut b = good.clone();
    b[item_flag] = 2;
    assert!(Receipt::from_bytes(&b).unwrap_err().to_string().contains("option byte 2"));
    // Unknown payload tag.
    let mut b = good.clone();
    b[8 + 2 + 32 + 32 + 32 + 8] = 99;
    assert!(Receipt::from_bytes(&b).unwrap_err().to_string().contains("unknown payload tag 99"));
    // Truncation.
    assert!(Receipt::from_bytes(&good[..good.len() - 1]).unwrap_err().to_string().contains("truncated"));
    // A string that is not UTF-8 (the media type's first byte).
    let mut b = good.clone();
    let media = 8 + 2 + 32 + 32 + 32 + 8 + 1 + 1 + 32 + 4;
    b[media] = 0xff;
    assert!(Receipt::from_bytes(&b).unwrap_err().to_string().contains("not UTF-8"));
}
