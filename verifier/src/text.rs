//! Text a person reads on a terminal: the verification report and a receipt's summary.
//!
//! Rule: every value that comes from a receipt, a genesis or the command line passes through
//! [`terminal`] (see [`crate::escape`]); only this crate's own words are printed as they are.

use std::fmt::Write;

use curia_ledger::genesis::ChainSpec;
use curia_ledger::receipt::Receipt;
use curia_ledger::tx::Payload;
use curia_ledger::verify::{format_utc, Report};

use crate::escape::terminal;

/// The deposit's label, media type and reference as the receipt states them (not verified).
fn deposit_fields(r: &Receipt) -> Option<(&str, &str, &str)> {
    match &r.tx.payload {
        Payload::Deposit(d) => Some((&d.label, &d.media_type, &d.reference)),
        Payload::BatchDeposit(b) => Some((&b.label, &b.media_type, &b.reference)),
        _ => None,
    }
}

/// A verification report for a person: what was verified, every check, and the verdict.
/// `evidence` names the evidence (a file name, or how the digest was given).
pub fn verification(rep: &Report, receipt: &Receipt, evidence: &str, spec: &ChainSpec) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Curia receipt verification");
    let _ = writeln!(s, "  evidence   {}", terminal(evidence));
    let _ = writeln!(s, "  deposit    {}", rep.deposit_id);
    if let Some((label, media_type, _)) = deposit_fields(receipt) {
        let _ = writeln!(s, "  label      {} ({})", terminal(label), terminal(media_type));
    }
    let _ = writeln!(s, "  chain      {} ({})", terminal(&spec.genesis.chain_name), spec.chain_id);
    let _ = writeln!(s, "  block      {} committed {}", rep.height, rep.commit_time);
    match &rep.depositor {
        Some(d) => {
            let _ = writeln!(s, "  depositor  {} ({})", terminal(d), receipt.tx.sender);
        }
        None => {
            let _ = writeln!(s, "  depositor  {} (not named in the genesis)", receipt.tx.sender);
        }
    }
    for t in &rep.timesvc {
        let _ = writeln!(s, "  time svc   {} read {}", terminal(&t.validator), t.time);
    }
    let _ = writeln!(s);
    for c in &rep.checks {
        let _ = writeln!(s, "  [{}] {:<12} {}", if c.ok { "PASS" } else { "FAIL" }, c.name, terminal(&c.detail));
    }
    let _ = writeln!(s);
    match rep.first_failure() {
        None => {
            let _ = writeln!(
                s,
                "VERDICT: VALID. This evidence existed, unchanged, when block {} was committed at {}.",
                rep.height, rep.commit_time
            );
        }
        Some(f) => {
            let _ = writeln!(s, "VERDICT: INVALID. Check `{}` failed: {}", f.name, terminal(&f.detail));
        }
    }
    s
}

/// A receipt's content for a person (not verified).
pub fn receipt_summary(r: &Receipt) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "receipt    version {} (not verified: use `curia verify`)", r.version);
    let _ = writeln!(s, "deposit    {}", r.deposit_id);
    let _ = writeln!(s, "chain      {}", r.chain_id);
    let _ = writeln!(s, "depositor  {}", r.tx.sender);
    match &r.tx.payload {
        Payload::Deposit(d) => {
            let _ = writeln!(
                s,
                "commitment {} ({})",
                d.commitment.hash(),
                if d.commitment.is_salted() { "salted" } else { "SHA-256" }
            );
            let _ = writeln!(s, "media type {}", terminal(&d.media_type));
            let _ = writeln!(s, "length     {} bytes", d.byte_length);
            let _ = writeln!(s, "label      {}", terminal(&d.label));
            let _ = writeln!(s, "reference  {}", terminal(&d.reference));
        }
        Payload::BatchDeposit(b) => {
            if let Some(i) = &r.item {
                let _ = writeln!(s, "commitment {} (item {} of a batch of {})", i.commitment, i.index, b.count);
            }
            let _ = writeln!(s, "media type {}", terminal(&b.media_type));
            let _ = writeln!(s, "label      {}", terminal(&b.label));
            let _ = writeln!(s, "reference  {}", terminal(&b.reference));
        }
        p => {
            let _ = writeln!(s, "kind       {} (not a deposit)", p.kind());
        }
    }
    let _ = writeln!(
        s,
        "block      {} ({} transactions), proposer time {}",
        r.header.height,
        r.header.tx_count,
        format_utc(r.header.time_ms)
    );
    let _ = writeln!(
        s,
        "commit     {} signatures, median clock {}",
        r.certificate.sigs.len(),
        format_utc(r.certificate.commit_time_ms())
    );
    s
}
