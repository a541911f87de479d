//! Text a person reads: verification reports and receipt summaries.

use std::fmt::Write;

use curia_ledger::genesis::ChainSpec;
use curia_ledger::receipt::Receipt;
use curia_ledger::tx::Payload;
use curia_ledger::verify::{format_utc, Report};

/// A verification report for a person.
pub fn human(rep: &Report, evidence: &str, spec: &ChainSpec) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Curia receipt verification");
    let _ = writeln!(s, "  evidence   {evidence}");
    let _ = writeln!(s, "  deposit    {}", rep.deposit_id);
    let _ = writeln!(s, "  chain      {} ({})", spec.genesis.chain_name, spec.chain_id);
    let _ = writeln!(s, "  block      {} committed {}", rep.height, rep.commit_time);
    if let Some(d) = &rep.depositor {
        let _ = writeln!(s, "  depositor  {d}");
    }
    for t in &rep.timesvc {
        let _ = writeln!(s, "  time svc   {} read {}", t.validator, t.time);
    }
    let _ = writeln!(s);
    for c in &rep.checks {
        let _ = writeln!(s, "  [{}] {:<12} {}", if c.ok { "PASS" } else { "FAIL" }, c.name, c.detail);
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
            let _ = writeln!(s, "VERDICT: INVALID. Check `{}` failed: {}", f.name, f.detail);
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
            let _ = writeln!(s, "media type {}", d.media_type);
            let _ = writeln!(s, "length     {} bytes", d.byte_length);
            let _ = writeln!(s, "label      {}", d.label);
            let _ = writeln!(s, "reference  {}", d.reference);
        }
        Payload::BatchDeposit(b) => {
            if let Some(i) = &r.item {
                let _ = writeln!(s, "commitment {} (item {} of a batch of {})", i.commitment, i.index, b.count);
            }
            let _ = writeln!(s, "media type {}", b.media_type);
            let _ = writeln!(s, "label      {}", b.label);
            let _ = writeln!(s, "reference  {}", b.reference);
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
