//! Nothing from the chain is shown raw: what a receipt says (label, media type, reference) and
//! what a receipt file holds reach the terminal escaped, in every `curia` command that shows it.

#[path = "../../../verifier/tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::{Command, Output};

use curia_ledger::hash::Hash;
use support::{forged_receipt, tmp, HOSTILE_LABEL, HOSTILE_LABEL_SHOWN};

fn curia() -> Command {
    Command::new(env!("CARGO_BIN_EXE_curia"))
}

fn all(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

/// No raw control, bidi or zero-width character in `s` except line ends.
fn assert_clean(s: &str) {
    let bad: Vec<String> = s
        .chars()
        .filter(|&c| c != '\n' && curia_verifier::escape::is_hidden(c))
        .map(|c| format!("U+{:04X}", c as u32))
        .collect();
    assert!(bad.is_empty(), "raw {bad:?} in output:\n{s}");
}

fn hostile(d: &Path) -> Vec<u8> {
    let data = b"evidence for the display test".to_vec();
    std::fs::write(d.join("evidence.bin"), &data).unwrap();
    forged_receipt(
        d,
        Hash::sha256(&data),
        data.len() as u64,
        HOSTILE_LABEL,
        "text/plain\u{200B}",
        "order\u{202E}fdp.exe\u{2066}",
    );
    data
}

#[test]
fn receipt_show_escapes_what_the_receipt_says() {
    let d = tmp("display-show");
    hostile(&d);
    let o = curia().args(["receipt", "show"]).arg(d.join("receipt.json")).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", all(&o));
    let out = all(&o);
    assert_clean(&out);
    assert!(out.contains(&format!("label      {HOSTILE_LABEL_SHOWN}\n")), "{out}");
    assert!(out.contains("media type text/plain\\u{200B}\n"), "{out}");
    assert!(out.contains("reference  order\\u{202E}fdp.exe\\u{2066}\n"), "{out}");
    // --json stays JSON: serde escapes the control characters and the receipt parses back.
    let o = curia().args(["receipt", "show", "--json"]).arg(d.join("receipt.json")).output().unwrap();
    assert!(!o.stdout.contains(&0x1b));
    let back = curia_ledger::receipt::Receipt::from_json(&o.stdout).unwrap();
    assert!(matches!(&back.tx.payload, curia_ledger::tx::Payload::Deposit(x) if x.label == HOSTILE_LABEL));
}

#[test]
fn verify_escapes_the_label_of_a_forged_receipt() {
    let d = tmp("display-verify");
    hostile(&d);
    let o = curia()
        .arg("verify")
        .arg(d.join("evidence.bin"))
        .arg("--receipt")
        .arg(d.join("receipt.json"))
        .arg("--genesis")
        .arg(d.join("genesis.json"))
        .output()
        .unwrap();
    let out = all(&o);
    // The ledger refuses such fields (receipt format 4.1): the edited receipt is invalid.
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert_clean(&out);
    assert!(out.contains(&format!("label      {HOSTILE_LABEL_SHOWN} (text/plain\\u{{200B}})")), "{out}");
    assert!(out.contains("VERDICT: INVALID"), "{out}");
}

#[test]
fn errors_quoting_a_file_are_escaped() {
    // serde names an unknown field in its error: the field's name comes from the file.
    let d = tmp("display-errors");
    let r = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../ledger/tests/data/golden/receipt-single.json"),
    )
    .unwrap()
    .replacen("\"version\": 1,", "\"version\": 1, \"\\u001b[2J\\u001b[32mVALID\": 0,", 1);
    std::fs::write(d.join("r.json"), r).unwrap();
    let o = curia().args(["receipt", "show"]).arg(d.join("r.json")).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let out = all(&o);
    assert_clean(&out);
    assert!(out.contains(HOSTILE_LABEL_SHOWN), "{out}");
    // A file name with an escape sequence, printed by `curia hash`.
    let f = d.join("x\x1b[2Jy.bin");
    std::fs::write(&f, b"abc").unwrap();
    let o = curia().arg("hash").arg(&f).output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let out = all(&o);
    assert_clean(&out);
    assert!(out.contains("x\\u{001B}[2Jy.bin") && out.starts_with(&Hash::sha256(b"abc").to_hex()), "{out}");
}
