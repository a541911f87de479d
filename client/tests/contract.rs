//! `docs/api.md` is the contract: its answer examples parse into the shared types and come back
//! with exactly the same keys, its error tables map every code to its own client error variant
//! and status, and the unknown-field policy it states holds (requests strict, answers open).

use std::collections::BTreeSet;

use curia_client::types::{
    error_status, Accepted, BackupAnswer, BatchAnswer, BlockInfo, BlockTxs, CaseEvent, CaseInfo, DepositInfo,
    DigestDeposits, ErrorBody, NodeStatus, TxBatch,
};
use curia_client::Error;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

fn api_md() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/api.md")).expect("docs/api.md")
}

/// The first ```json block after the line that starts with `heading`.
fn example_after(doc: &str, heading: &str) -> String {
    let at = doc.find(heading).unwrap_or_else(|| panic!("docs/api.md has no {heading:?}"));
    let rest = &doc[at..];
    let start = rest.find("```json\n").unwrap_or_else(|| panic!("no json example after {heading:?}")) + 8;
    let end = rest[start..].find("```").unwrap();
    rest[start..start + end].to_string()
}

/// The docs abbreviate hex values (`"3a7b…"`, `"…"`, `"<judge key hex>"`): expand them to
/// full-length hex of the right size so the example parses into the real types.
fn expand(v: &mut Value, key: &str) {
    match v {
        Value::Object(m) => m.iter_mut().for_each(|(k, v)| expand(v, k)),
        Value::Array(a) => a.iter_mut().for_each(|v| expand(v, key)),
        Value::String(s) if is_placeholder(s) => {
            let prefix: String = s.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
            let len = if key == "signature" { 128 } else { 64 };
            let mut hex = format!("{prefix:0<len$}");
            if matches!(key, "owner" | "proposer") {
                // A key must be a valid curve point: the base point's encoding.
                hex = "5866666666666666666666666666666666666666666666666666666666666666".into();
            }
            *s = hex;
        }
        _ => {}
    }
}

/// `"3a7b…"`, `"…"` or `"<judge key hex>"`, not a message that happens to contain `…`.
fn is_placeholder(s: &str) -> bool {
    let hex_then_dots = s.strip_suffix('…').is_some_and(|p| p.chars().all(|c| c.is_ascii_hexdigit()));
    hex_then_dots || (s.starts_with('<') && s.ends_with('>'))
}

fn keys(v: &Value, path: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let p = format!("{path}.{k}");
                out.insert(p.clone());
                keys(v, &p, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|v| keys(v, &format!("{path}[]"), out)),
        _ => {}
    }
}

/// The example parses as `T`, serializes back to the same keys, and round-trips.
fn check<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(doc: &str, heading: &str) -> T {
    let mut v: Value = serde_json::from_str(&example_after(doc, heading))
        .unwrap_or_else(|e| panic!("the example after {heading:?} is not JSON: {e}"));
    expand(&mut v, "");
    let t: T = serde_json::from_value(v.clone())
        .unwrap_or_else(|e| panic!("the example after {heading:?} does not parse as the API type: {e}\n{v:#}"));
    let back = serde_json::to_value(&t).unwrap();
    let (mut doc_keys, mut type_keys) = (BTreeSet::new(), BTreeSet::new());
    keys(&v, "", &mut doc_keys);
    keys(&back, "", &mut type_keys);
    assert_eq!(doc_keys, type_keys, "the example after {heading:?} and the type have different fields");
    let again: T = serde_json::from_value(back).unwrap();
    assert_eq!(again, t);
    t
}

#[test]
fn every_answer_example_of_the_docs_parses_into_its_type_with_the_same_fields() {
    let doc = api_md();
    let e: ErrorBody = check(&doc, "## Errors");
    assert_eq!(e.error.code, "wrong_role");
    let a: Accepted = check(&doc, "### `POST /v1/deposits`");
    assert_eq!(a.deposit_ids, [a.tx_id]);
    let b: BatchAnswer = check(&doc, "### `POST /v1/transactions`");
    assert_eq!((b.accepted, b.rejected, b.results.len()), (1, 1, 2));
    assert_eq!(b.results[1].error.as_ref().unwrap().code, "bad_signature");
    let d: DepositInfo = check(&doc, "### `GET /v1/deposits/{id}`");
    assert_eq!((d.height, d.item_index, d.receipt_ready), (812, Some(17), true));
    let g: DigestDeposits = check(&doc, "### `GET /v1/digests/{sha256}`");
    assert_eq!(g.deposit_ids.len(), 2);
    let bl: BlockInfo = check(&doc, "### `GET /v1/blocks/{height}`");
    assert_eq!((bl.height, bl.header.height, bl.certificate.sigs.len()), (812, 812, 1));
    let t: BlockTxs = check(&doc, "### `GET /v1/blocks/{height}/txs`");
    assert_eq!(t.tx_ids.len(), 2);
    let c: CaseInfo = check(&doc, "### `GET /v1/cases/{id}`");
    assert!(matches!(c.records[2].event, CaseEvent::Verified { valid: true, .. }));
    let s: NodeStatus = check(&doc, "### `GET /v1/status`");
    assert_eq!((s.height, s.peers, s.chain_name.as_str()), (812, 3, "curia-test"));
    let k: BackupAnswer = check(&doc, "### `POST /admin/backup`");
    assert_eq!((k.height, k.removed.len()), (812, 1));
}

#[test]
fn requests_refuse_unknown_fields_and_answers_ignore_them() {
    // An answer from a later node with a field this client does not know still parses.
    let mut v = serde_json::json!({
        "deposit_id": "00".repeat(32), "status": "committed", "height": 5, "tx_index": 0,
        "block_hash": "11".repeat(32), "block_time_ms": 1, "commit_time_ms": 2, "receipt_ready": false,
        "receipt": "/v1/deposits/x/receipt"
    });
    let d: DepositInfo = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(d.item_index, None);
    v["added_in_a_later_version"] = serde_json::json!({"any": 1});
    assert_eq!(serde_json::from_value::<DepositInfo>(v).unwrap(), d);
    let e: ErrorBody =
        serde_json::from_value(serde_json::json!({"error": {"code": "busy", "message": "m", "hint": "h"}, "x": 1}))
            .unwrap();
    assert_eq!(e.error.code, "busy");
    // A request with an unknown field is refused, as the node refuses it (400 bad_json).
    let err = serde_json::from_value::<TxBatch>(serde_json::json!({"txs": [], "extra": true})).unwrap_err();
    assert!(err.to_string().contains("unknown field"), "{err}");
    assert!(serde_json::from_value::<TxBatch>(serde_json::json!({"txs": []})).unwrap().txs.is_empty());
    // A missing field in an answer is an error, not a silent default.
    assert!(serde_json::from_value::<Accepted>(serde_json::json!({"tx_id": "00".repeat(32)})).is_err());
}

/// Every `| STATUS | `code` ... |` row of the docs' error tables.
fn documented_codes(doc: &str) -> Vec<(u16, String)> {
    let mut out = Vec::new();
    for line in doc.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 4 {
            continue;
        }
        let Ok(status) = cells[1].parse::<u16>() else { continue };
        // The code column is the first cell with a back-quoted code (the ops table puts it second).
        let col = if cells[2].starts_with('`') { cells[2] } else { continue };
        for part in col.split('`').skip(1).step_by(2) {
            out.push((status, part.to_string()));
        }
    }
    out
}

#[test]
fn every_documented_error_code_has_its_own_variant_and_status() {
    let doc = api_md();
    let codes = documented_codes(&doc);
    assert!(codes.len() >= 45, "found only {} codes in the docs' tables: {codes:?}", codes.len());
    for (status, code) in &codes {
        assert_eq!(error_status(code), *status, "docs give {code} status {status}");
        let e = Error::from_api(*status, code, "m", None);
        assert!(!matches!(e, Error::Unknown(_)), "{code} has no variant");
        // Only the ledger rule codes named in the 422 row share the generic variant.
        if matches!(e, Error::Rule(_)) {
            assert!(matches!(code.as_str(), "batch_root_mismatch" | "bad_proof"), "{code} falls into Rule");
        }
        assert_eq!((e.code(), e.status()), (Some(code.as_str()), Some(*status)));
    }
    // A few variants by name, as callers match them.
    assert!(matches!(Error::from_api(422, "not_enough_approvals", "", None), Error::NotEnoughApprovals(_)));
    assert!(matches!(Error::from_api(422, "invalid_field", "", None), Error::InvalidField(_)));
    let busy = Error::from_api(503, "busy", "retry", Some(std::time::Duration::from_secs(3)));
    assert!(matches!(busy, Error::Busy(_)) && busy.is_retryable());
    assert_eq!(busy.retry_after(), Some(std::time::Duration::from_secs(3)));
    // An unknown code is kept, with its status; an unknown 422 is a ledger rule.
    assert!(matches!(Error::from_api(418, "teapot", "", None), Error::Unknown(_)));
    assert!(matches!(Error::from_api(422, "case_closed", "", None), Error::Rule(_)));
}

#[test]
fn the_nodes_message_is_bounded_and_escaped() {
    let e = Error::from_api(422, "invalid_field", "invalid label: \u{1b}[2J\u{202e}VALID", None);
    let shown = e.to_string();
    assert!(!shown.contains('\u{1b}') && !shown.contains('\u{202e}'), "{shown:?}");
    assert_eq!(e.invalid_field(), Some("label"));
    let long = Error::from_api(500, "internal", &"x".repeat(5000), None);
    assert!(long.to_string().len() < 1200);
}
