//! The `case verify` report: its types ([`CaseReport`], [`Summary`], one [`Item`] per line) and
//! its forms: report.json (the types' JSON), one line per item for the terminal
//! ([`report_text`]), and report.html ([`report_html`]).
//!
//! Rules:
//! - An item's verdict follows its reason: `ok` only for [`Reason::Ok`].
//! - An item's deposit time is shown only if every check of its receipt but the digest passed
//!   (then the chain's validators did commit the deposit at that time).
//! - report.html is self-contained (inline CSS, no scripts, no external resources) and every value
//!   in it is HTML-escaped ([`esc`]): file names and details come from a party's folder.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use curia_ledger::crypto::PublicKey;
use curia_ledger::hash::Hash;
use curia_ledger::receipt::Receipt;
use curia_ledger::verify::Report;
use serde::Serialize;

use super::verify::Reason;

/// One line of the verification.
#[derive(Clone, Debug, Serialize)]
pub(super) struct Item {
    /// The evidence file's name, if there is one.
    pub(super) file: Option<String>,
    /// Its SHA-256.
    pub(super) sha256: Option<Hash>,
    /// The deposit it was matched to.
    pub(super) deposit_id: Option<Hash>,
    /// Whether that deposit is attached to the case.
    pub(super) attached: bool,
    /// Commit time of the deposit (UTC), if the receipt's chain, proofs and certificate verify.
    pub(super) deposited_at: Option<String>,
    /// The same in ms since the Unix epoch.
    pub(super) deposited_at_ms: Option<u64>,
    /// Block height of the deposit.
    pub(super) height: Option<u64>,
    /// `ok` or `fail`.
    pub(super) verdict: &'static str,
    /// Why.
    pub(super) reason: Reason,
    /// What was found, for people.
    pub(super) detail: String,
    /// Where the verified receipt came from: `submitted` (beside the file) or `node`.
    pub(super) receipt: Option<&'static str>,
    /// The offline verification, check by check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) verification: Option<Report>,
}

impl Item {
    pub(super) fn new(file: Option<String>, sha256: Option<Hash>, reason: Reason, detail: String) -> Item {
        Item {
            file,
            sha256,
            deposit_id: None,
            attached: false,
            deposited_at: None,
            deposited_at_ms: None,
            height: None,
            verdict: if reason == Reason::Ok { "ok" } else { "fail" },
            reason,
            detail,
            receipt: None,
            verification: None,
        }
    }

    /// Attach a verified receipt's facts: deposit, height, and the time if it can be trusted
    /// (every check but the digest passed, so the chain's validators did commit it then).
    pub(super) fn with_receipt(mut self, r: &Receipt, rep: Report, source: &'static str, attached: bool) -> Item {
        self.deposit_id = Some(r.deposit_id);
        self.attached = attached;
        if rep.checks.iter().all(|c| c.ok || c.name == "digest") {
            self.deposited_at = Some(rep.commit_time.clone());
            self.deposited_at_ms = Some(rep.commit_time_ms);
            self.height = Some(rep.height);
        }
        self.receipt = Some(source);
        self.verification = Some(rep);
        self
    }
}

/// The whole verification, as written to report.json.
#[derive(Serialize)]
pub(super) struct CaseReport {
    pub(super) format: &'static str,
    pub(super) version: u32,
    pub(super) case_id: String,
    pub(super) chain_id: Hash,
    pub(super) chain_name: String,
    pub(super) genesis: String,
    pub(super) node: String,
    pub(super) generated_at: String,
    pub(super) generated_at_ms: u64,
    pub(super) verified_by: PublicKey,
    pub(super) case_owner: PublicKey,
    pub(super) case_open: bool,
    pub(super) evidence_dir: String,
    pub(super) attached_deposits: Vec<Hash>,
    pub(super) summary: Summary,
    pub(super) items: Vec<Item>,
}

/// The counts and the overall verdict.
#[derive(Serialize)]
pub(super) struct Summary {
    pub(super) items: usize,
    pub(super) ok: usize,
    pub(super) failed: usize,
    pub(super) reasons: BTreeMap<&'static str, usize>,
    pub(super) verdict: &'static str,
}

fn short(h: &Option<Hash>) -> String {
    h.map(|h| h.to_hex()).unwrap_or_else(|| "-".into())
}

/// One line per item, for the terminal.
pub(super) fn report_text(r: &CaseReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "case {} on chain {} ({})", r.case_id, r.chain_name, r.chain_id);
    let width =
        r.items.iter().filter_map(|i| i.file.as_ref().map(|f| f.chars().count())).max().unwrap_or(4).clamp(4, 40);
    let _ =
        writeln!(s, "{:<width$}  {:<64}  {:<24}  {:<7}  REASON", "FILE", "DEPOSIT ID", "DEPOSITED AT (UTC)", "VERDICT");
    for i in &r.items {
        let _ = writeln!(
            s,
            "{:<width$}  {:<64}  {:<24}  {:<7}  {}",
            i.file.as_deref().unwrap_or("-"),
            short(&i.deposit_id),
            i.deposited_at.as_deref().unwrap_or("-"),
            i.verdict,
            i.reason.as_str()
        );
    }
    let _ = writeln!(s);
    for i in r.items.iter().filter(|i| i.reason != Reason::Ok) {
        let _ = writeln!(s, "  {} {}: {}", i.reason.as_str(), i.file.as_deref().unwrap_or("-"), i.detail);
    }
    let _ = writeln!(
        s,
        "{} item(s): {} ok, {} failed{}",
        r.summary.items,
        r.summary.ok,
        r.summary.failed,
        if r.summary.failed == 0 { "" } else { " (see the reasons above)" }
    );
    s
}

/// Escape text for HTML content and attribute values.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// A self-contained HTML page (inline CSS, no scripts, no external resources).
pub(super) fn report_html(r: &CaseReport) -> String {
    let mut s = String::new();
    let ok = r.summary.failed == 0;
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <title>Evidence verification, case {case}</title>\n<style>\n\
         body{{font-family:Georgia,'Times New Roman',serif;margin:2em auto;max-width:75em;padding:0 1em;color:#111}}\n\
         h1{{font-size:1.5em;margin-bottom:.2em}} h2{{font-size:1.15em;margin-top:1.6em}}\n\
         table{{border-collapse:collapse;width:100%;font-size:.9em}}\n\
         th,td{{border:1px solid #999;padding:.35em .5em;text-align:left;vertical-align:top}}\n\
         th{{background:#eee}} code,.mono{{font-family:'DejaVu Sans Mono',Consolas,monospace;font-size:.85em;word-break:break-all}}\n\
         .ok{{color:#0a5a0a;font-weight:bold}} .fail{{color:#a00;font-weight:bold}}\n\
         .verdict{{padding:.6em 1em;border:2px solid;margin:1em 0}}\n\
         dl{{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}} dt{{font-weight:bold}} dd{{margin:0}}\n\
         @media print{{body{{margin:0;max-width:none}}}}\n</style>\n</head>\n<body>\n",
        case = esc(&r.case_id)
    );
    let _ = writeln!(s, "<h1>Verification of evidence, case {}</h1>", esc(&r.case_id));
    let _ = writeln!(
        s,
        "<div class=\"verdict {}\">{}: {} item(s), {} ok, {} failed.</div>",
        if ok { "ok" } else { "fail" },
        if ok { "ALL ITEMS OK" } else { "SOME ITEMS FAILED" },
        r.summary.items,
        r.summary.ok,
        r.summary.failed
    );
    let _ = writeln!(s, "<dl>");
    for (k, v, mono) in [
        ("Case", r.case_id.clone(), false),
        ("Case owner (judge key)", r.case_owner.to_string(), true),
        ("Case status", (if r.case_open { "open" } else { "closed" }).to_string(), false),
        ("Chain", format!("{} ({})", r.chain_name, r.chain_id), true),
        ("Genesis file", r.genesis.clone(), true),
        ("Node consulted", r.node.clone(), true),
        ("Evidence folder", r.evidence_dir.clone(), true),
        ("Verified by (key)", r.verified_by.to_string(), true),
        ("Report generated", r.generated_at.clone(), false),
    ] {
        let v = esc(&v);
        let v = if mono { format!("<span class=\"mono\">{v}</span>") } else { v };
        let _ = writeln!(s, "<dt>{}</dt><dd>{v}</dd>", esc(k));
    }
    let _ = writeln!(s, "</dl>");
    let _ = writeln!(s, "<h2>Items</h2>\n<table>\n<tr><th>#</th><th>File</th><th>Deposit ID</th><th>Deposited at (UTC)</th><th>Verdict</th><th>Reason</th><th>Details</th></tr>");
    for (n, i) in r.items.iter().enumerate() {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td class=\"{}\">{}</td><td><code>{}</code></td><td>{}{}</td></tr>",
            n + 1,
            esc(i.file.as_deref().unwrap_or("-")),
            esc(&short(&i.deposit_id)),
            esc(i.deposited_at.as_deref().unwrap_or("-")),
            if i.reason == Reason::Ok { "ok" } else { "fail" },
            esc(i.verdict),
            esc(i.reason.as_str()),
            esc(&i.detail),
            i.sha256.map(|h| format!("<br>SHA-256 of the file: <span class=\"mono\">{}</span>", esc(&h.to_hex()))).unwrap_or_default()
        );
    }
    let _ = writeln!(s, "</table>");
    let _ = writeln!(s, "<h2>What the reasons mean</h2>\n<table>\n<tr><th>Reason</th><th>Meaning</th></tr>");
    for reason in [
        Reason::Ok,
        Reason::FileChanged,
        Reason::NotInCase,
        Reason::UnknownDeposit,
        Reason::OtherChain,
        Reason::NoDeposit,
        Reason::MissingFile,
        Reason::BadReceipt,
        Reason::InvalidReceipt,
    ] {
        let _ =
            writeln!(s, "<tr><td><code>{}</code></td><td>{}</td></tr>", esc(reason.as_str()), esc(reason.meaning()));
    }
    let _ = writeln!(s, "</table>");
    let _ = writeln!(
        s,
        "<p>Each receipt was verified offline against the genesis file named above. The node was consulted to read \
         which deposits are attached to the case, to find deposits by fingerprint and to fetch receipts; no verdict \
         rests on its word about the chain. The machine-readable report is <code>report.json</code> beside this page. \
         A valid item proves that a file with exactly these bytes was deposited no later than the time shown and that \
         the chain's validators agreed on it; it does not prove who made the file or that its content is true.</p>"
    );
    let _ = writeln!(s, "</body>\n</html>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_every_value() {
        assert_eq!(esc("<script>\"a\"&'b'</script>"), "&lt;script&gt;&quot;a&quot;&amp;&#39;b&#39;&lt;/script&gt;");
        let mut item =
            Item::new(Some("<img src=x onerror=alert(1)>.pdf".into()), None, Reason::NoDeposit, "a & b".into());
        item.deposited_at = Some("<b>".into());
        let r = CaseReport {
            format: "curia-case-report",
            version: 1,
            case_id: "C-1".into(),
            chain_id: Hash::ZERO,
            chain_name: "<chain>".into(),
            genesis: "g\"x.json".into(),
            node: "http://n".into(),
            generated_at: "t".into(),
            generated_at_ms: 0,
            verified_by: PublicKey([1; 32]),
            case_owner: PublicKey([1; 32]),
            case_open: true,
            evidence_dir: "d".into(),
            attached_deposits: vec![],
            summary: Summary { items: 1, ok: 0, failed: 1, reasons: BTreeMap::new(), verdict: "some items failed" },
            items: vec![item],
        };
        let html = report_html(&r);
        assert!(!html.contains("<img") && !html.contains("<chain>") && !html.contains("<b>"), "{html}");
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;.pdf"));
        assert!(!html.contains("http://n\"") && !html.contains("src=\"http") && !html.contains("<script"));
    }
}
