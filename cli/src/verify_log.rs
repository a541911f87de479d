//! `curia verify` with `--policy POLICY [--tsa-cert CERT]`: an upgraded receipt
//! (`docs/receipt-format.md` section 15.4) checked offline under the judge's witness policy.
//!
//! Rules:
//! - Without `--policy` this is exactly `curia-verify` (the receipt's `log` member, if any, is
//!   ignored; a note on stderr says it was not checked).
//! - With `--policy`, the receipt checks of section 8 run first, unchanged, then the log checks
//!   of [`curia_transparency::upgrade`]: `log_checkpoint` (the checkpoint's log signature and
//!   witness quorum under the policy), `log_inclusion` (the deposit's leaf under the
//!   checkpoint's root), and with `--tsa-cert` `log_tsa` (the RFC 3161 token over the
//!   checkpoint's text). A receipt with no `log` member fails check `log`. The verdict is valid
//!   only if every check passes.
//! - The report gives both upper bounds on the deposit's time: the validators' commit time
//!   (median of the certificate's signed clocks) and, when checked, the TSA's genTime (+
//!   accuracy); the witnesses' cosignature times are shown too.
//! - Exit 0 valid, 1 invalid; 2 unusable input: the receipt, genesis or evidence as for
//!   `curia-verify`, a malformed `log` member, a policy or TSA certificate that cannot be read
//!   or parsed.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result};
use curia_ledger::hash::Hash;
use curia_ledger::limits::MAX_RECEIPT_BYTES;
use curia_ledger::receipt::Receipt;
use curia_ledger::tx::Payload;
use curia_ledger::verify::format_utc;
use curia_transparency::policy::{Policy, MAX_POLICY_BYTES};
use curia_transparency::rfc3161::{TsaCertificate, MAX_CERT_BYTES};
use curia_transparency::upgrade::{self, LogCheck, LogReport, ReceiptLog};
use curia_verifier::cmd::{Outcome, VerifyArgs};
use curia_verifier::escape::terminal;
use curia_verifier::load::read_bounded;

/// `curia verify`: the offline verification, and optionally an upgraded receipt's log checks.
#[derive(clap::Args, Debug, Clone)]
pub struct VerifyCmd {
    /// The receipt checks, shared with `curia-verify`.
    #[command(flatten)]
    pub base: VerifyArgs,
    /// A witness policy (C2SP tlog-policy style, receipt format 15.3): also check the upgraded
    /// receipt's place in the deposit log, its checkpoint's log signature and witness quorum.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// The TSA certificate the judge trusts (PEM or DER): also check the receipt's RFC 3161
    /// time stamp over the checkpoint (requires --policy).
    #[arg(long, value_name = "CERT", requires = "policy")]
    pub tsa_cert: Option<PathBuf>,
}

/// Runs `curia verify`; the exit code (0 valid, 1 invalid); an error is unusable input.
pub fn run(cmd: &VerifyCmd) -> Result<u8> {
    let Some(policy_path) = &cmd.policy else {
        let code = curia_verifier::cmd::run(&cmd.base)?;
        if let Ok(bytes) = read_bounded(&cmd.base.receipt, MAX_RECEIPT_BYTES, "receipt") {
            if has_log_member(&bytes) {
                eprintln!("note: this receipt carries a deposit-log proof (\"log\"); give --policy to check it");
            }
        }
        return Ok(code);
    };
    let policy_bytes = read_bounded(policy_path, MAX_POLICY_BYTES, "policy")?;
    let policy = Policy::parse(&policy_bytes).with_context(|| format!("policy {}", policy_path.display()))?;
    let tsa = match &cmd.tsa_cert {
        Some(p) => {
            let bytes = read_bounded(p, MAX_CERT_BYTES, "TSA certificate")?;
            Some(TsaCertificate::parse(&bytes).with_context(|| format!("TSA certificate {}", p.display()))?)
        }
        None => None,
    };
    let receipt_bytes = read_bounded(&cmd.base.receipt, MAX_RECEIPT_BYTES, "receipt")?;
    let log =
        ReceiptLog::of_receipt(&receipt_bytes).with_context(|| format!("receipt {}", cmd.base.receipt.display()))?;
    let out = curia_verifier::cmd::verify(&cmd.base)?;
    let log_report = log.as_ref().map(|l| upgrade::verify(l, &leaf_of(&out.receipt), &policy, tsa.as_ref()));
    let missing = LogCheck {
        name: "log",
        ok: false,
        detail: "the receipt carries no deposit-log proof (it is not upgraded: `log` is absent)".into(),
    };
    let checks: Vec<&LogCheck> = match &log_report {
        Some(r) => r.checks.iter().collect(),
        None => vec![&missing],
    };
    let valid = out.report.is_valid() && checks.iter().all(|c| c.ok);
    if cmd.base.json {
        println!("{}", json(&out, &checks, log_report.as_ref(), valid));
    } else {
        print!("{}", text(&out, &checks, log_report.as_ref(), valid));
    }
    Ok(if valid { 0 } else { 1 })
}

fn has_log_member(bytes: &[u8]) -> bool {
    matches!(serde_json::from_slice::<serde_json::Value>(bytes), Ok(serde_json::Value::Object(o)) if o.contains_key("log"))
}

/// The deposit's leaf in the deposit log (receipt format 14.1): its ID and its commitment.
fn leaf_of(r: &Receipt) -> Hash {
    let commitment = match (&r.tx.payload, &r.item) {
        (_, Some(item)) => item.commitment,
        (Payload::Deposit(d), None) => d.commitment.hash(),
        // Not a deposit: the `format` check fails; any leaf will do, it is never in a log.
        (_, None) => Hash([0; 32]),
    };
    upgrade::deposit_leaf_hash(&r.deposit_id, &commitment)
}

fn unix_utc(seconds: u64) -> String {
    format_utc(seconds.saturating_mul(1000))
}

fn text(out: &Outcome, checks: &[&LogCheck], log: Option<&LogReport>, valid: bool) -> String {
    let mut s = out.text();
    let _ = writeln!(s);
    let _ = writeln!(s, "Deposit log and witnesses (policy)");
    for c in checks {
        let _ = writeln!(s, "  [{}] {:<14} {}", if c.ok { "PASS" } else { "FAIL" }, c.name, terminal(&c.detail));
    }
    if let Some(l) = log {
        for (w, t) in &l.witnesses {
            let _ = writeln!(s, "  witness        {} cosigned at {}", terminal(w), unix_utc(*t));
        }
        if l.unchecked_token {
            let _ = writeln!(s, "  time stamp     carried but not checked (give --tsa-cert)");
        }
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "Upper bounds on the deposit's time");
    let _ = writeln!(
        s,
        "  validators     {} (median of the signed clocks in the block's certificate)",
        out.report.commit_time
    );
    match log.and_then(|l| l.stamp.as_ref()) {
        Some(st) => {
            let acc = st.accuracy.map(|a| format!(", accuracy {}s {}ms {}us", a.seconds, a.millis, a.micros));
            let _ = writeln!(s, "  TSA genTime    {} (RFC 3161{})", st.gen_time, acc.unwrap_or_default());
        }
        None => {
            let _ = writeln!(s, "  TSA genTime    none checked");
        }
    }
    let _ = writeln!(s);
    let first_failure = out
        .report
        .first_failure()
        .map(|f| (f.name, f.detail.as_str()))
        .or_else(|| checks.iter().find(|c| !c.ok).map(|c| (c.name, c.detail.as_str())));
    match (valid, first_failure) {
        (true, _) | (false, None) => {
            let _ =
                writeln!(s, "POLICY VERDICT: VALID. The deposit is in the log under a checkpoint the policy accepts.");
        }
        (false, Some((name, detail))) => {
            let _ = writeln!(s, "POLICY VERDICT: INVALID. Check `{name}` failed: {}", terminal(detail));
        }
    }
    s
}

fn json(out: &Outcome, checks: &[&LogCheck], log: Option<&LogReport>, valid: bool) -> String {
    let mut v = serde_json::to_value(&out.report).expect("a report serializes");
    let stamp = log.and_then(|l| l.stamp.as_ref()).map(|st| {
        serde_json::json!({
            "gen_time": st.gen_time.to_string(),
            "gen_time_unix": st.gen_time.unix_seconds,
            "accuracy": st.accuracy.map(|a| serde_json::json!({"seconds": a.seconds, "millis": a.millis, "micros": a.micros})),
        })
    });
    let cp = log.and_then(|l| l.checkpoint.as_ref());
    let logv = serde_json::json!({
        "checks": checks,
        "origin": cp.map(|c| c.origin.clone()),
        "size": cp.map(|c| c.size),
        "root": cp.map(|c| c.root.to_string()),
        "log_keys": log.map(|l| l.logs.clone()).unwrap_or_default(),
        "witnesses": log.map(|l| l.witnesses.iter().map(|(w, t)| serde_json::json!({"name": w, "time": t})).collect::<Vec<_>>()).unwrap_or_default(),
        "tsa": stamp,
        "tsa_token_unchecked": log.is_some_and(|l| l.unchecked_token),
    });
    let o = v.as_object_mut().expect("a report is an object");
    o.insert("log".into(), logv);
    o.insert("policy_verdict".into(), serde_json::Value::String(if valid { "valid" } else { "invalid" }.into()));
    serde_json::to_string_pretty(&v).expect("JSON serializes")
}
