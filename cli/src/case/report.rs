//! The `case verify` report: its types ([`CaseReport`], [`Summary`], one [`Item`] per line) and
//! its forms: report.json (the types' JSON), one line per item for the terminal
//! ([`report_text`]), and report.html ([`report_html`]) in English or Simplified Chinese
//! ([`Lang`]).
//!
//! Rules:
//! - An item's verdict follows its reason: `ok` only for [`Reason::Ok`].
//! - An item's deposit time is shown only if every check of its receipt but the digest passed
//!   (then the chain's validators did commit the deposit at that time).
//! - Judges and depositing platforms are shown by the name the court's genesis registers for
//!   their key, with the key; a key the genesis does not name is shown as such.
//! - Nothing from outside is shown raw: file names and details come from a party's folder,
//!   labels and names from the chain and the node. The terminal text escapes them with
//!   [`terminal`], report.html with [`html`] (markup, control, bidi and zero-width characters).
//! - report.html is self-contained (inline CSS, no scripts, no external resources).
//! - The Chinese report uses the terms Chinese courts use: 存证编号 (deposit ID), 哈希值 (hash),
//!   存证时间 (deposit time), 存证主体 (depositing platform). The details of each item (the
//!   `detail` field) stay in English in both languages.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use curia_ledger::crypto::PublicKey;
use curia_ledger::genesis::ChainSpec;
use curia_ledger::hash::Hash;
use curia_ledger::receipt::Receipt;
use curia_ledger::verify::Report;
use curia_verifier::escape::{html, terminal};
use serde::Serialize;

use super::reason::Reason;

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
    /// The key that signed the deposit (the depositing platform), from the receipt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) depositor: Option<PublicKey>,
    /// The depositor's name in the court's genesis, if it is registered there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) depositor_name: Option<String>,
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
            depositor: None,
            depositor_name: None,
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
        self.depositor = Some(r.tx.sender);
        self.depositor_name = rep.depositor.clone();
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
    /// The verifying key's name in the court's genesis, if registered there.
    pub(super) verified_by_name: Option<String>,
    pub(super) case_owner: PublicKey,
    /// The case owner's (judge's) name in the court's genesis, if registered there.
    pub(super) case_owner_name: Option<String>,
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

/// The name the genesis registers for `key` (a client or a validator), if any.
pub(super) fn registered_name(spec: &ChainSpec, key: &PublicKey) -> Option<String> {
    spec.genesis
        .clients
        .iter()
        .find(|c| c.key == *key)
        .map(|c| c.name.clone())
        .or_else(|| spec.genesis.validators.iter().find(|v| v.key == *key).map(|v| v.name.clone()))
}

/// One line per item, for the terminal (English); every untrusted value escaped.
pub(super) fn report_text(r: &CaseReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "case {} on chain {} ({})", terminal(&r.case_id), terminal(&r.chain_name), r.chain_id);
    let files: Vec<String> = r.items.iter().map(|i| terminal(i.file.as_deref().unwrap_or("-")).into_owned()).collect();
    let width = files.iter().map(|f| f.chars().count()).max().unwrap_or(4).clamp(4, 40);
    let _ =
        writeln!(s, "{:<width$}  {:<64}  {:<24}  {:<7}  REASON", "FILE", "DEPOSIT ID", "DEPOSITED AT (UTC)", "VERDICT");
    for (i, file) in r.items.iter().zip(&files) {
        let _ = writeln!(
            s,
            "{:<width$}  {:<64}  {:<24}  {:<7}  {}",
            file,
            short(&i.deposit_id),
            i.deposited_at.as_deref().unwrap_or("-"),
            i.verdict,
            i.reason.as_str()
        );
    }
    let _ = writeln!(s);
    for (i, file) in r.items.iter().zip(&files).filter(|(i, _)| i.reason != Reason::Ok) {
        let _ = writeln!(s, "  {} {}: {}", i.reason.as_str(), file, terminal(&i.detail));
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

/// The language of report.html.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// Simplified Chinese, with the terms Chinese courts use.
    Zh,
}

/// The words of report.html in one language.
struct Words {
    html_lang: &'static str,
    title: &'static str,
    all_ok: &'static str,
    some_failed: &'static str,
    /// Between the verdict and the counts (a full-width colon in Chinese).
    colon: &'static str,
    /// `{n} item(s), {ok} ok, {failed} failed.` with the three numbers in that order.
    counts: fn(usize, usize, usize) -> String,
    case: &'static str,
    case_owner: &'static str,
    case_status: &'static str,
    open: &'static str,
    closed: &'static str,
    chain: &'static str,
    genesis_file: &'static str,
    node: &'static str,
    evidence_dir: &'static str,
    verified_by: &'static str,
    generated: &'static str,
    not_named: &'static str,
    items: &'static str,
    file: &'static str,
    deposit_id: &'static str,
    hash: &'static str,
    deposit_time: &'static str,
    depositor: &'static str,
    verdict: &'static str,
    ok: &'static str,
    fail: &'static str,
    reason: &'static str,
    details: &'static str,
    reasons_title: &'static str,
    meaning: &'static str,
    meaning_of: fn(Reason) -> &'static str,
    closing: &'static str,
}

const EN: Words = Words {
    html_lang: "en",
    title: "Verification of evidence, case",
    all_ok: "ALL ITEMS OK",
    some_failed: "SOME ITEMS FAILED",
    colon: ": ",
    counts: |n, ok, failed| format!("{n} item(s), {ok} ok, {failed} failed."),
    case: "Case",
    case_owner: "Case owner (judge)",
    case_status: "Case status",
    open: "open",
    closed: "closed",
    chain: "Chain",
    genesis_file: "Genesis file",
    node: "Node consulted",
    evidence_dir: "Evidence folder",
    verified_by: "Verified by",
    generated: "Report generated (UTC)",
    not_named: "not named in the genesis",
    items: "Items",
    file: "File",
    deposit_id: "Deposit ID",
    hash: "SHA-256 of the file",
    deposit_time: "Deposited at (UTC)",
    depositor: "Depositing platform",
    verdict: "Verdict",
    ok: "ok",
    fail: "fail",
    reason: "Reason",
    details: "Details",
    reasons_title: "What the reasons mean",
    meaning: "Meaning",
    meaning_of: Reason::meaning,
    closing: "Each receipt was verified offline against the genesis file named above. The node was consulted to \
              read which deposits are attached to the case, to find deposits by fingerprint and to fetch receipts; \
              no verdict rests on its word about the chain. The machine-readable report is report.json beside this \
              page. A valid item proves that a file with exactly these bytes was deposited no later than the time \
              shown and that the chain's validators agreed on it; it does not prove who made the file or that its \
              content is true.",
};

const ZH: Words = Words {
    html_lang: "zh-CN",
    title: "电子证据核验报告，案号",
    all_ok: "全部通过",
    some_failed: "部分未通过",
    colon: "：",
    counts: |n, ok, failed| format!("共 {n} 项，通过 {ok} 项，未通过 {failed} 项。"),
    case: "案号",
    case_owner: "承办法官",
    case_status: "案件状态",
    open: "审理中",
    closed: "已结案",
    chain: "区块链",
    genesis_file: "创世文件",
    node: "查询节点",
    evidence_dir: "证据文件夹",
    verified_by: "核验人",
    generated: "报告生成时间（UTC）",
    not_named: "创世文件未登记此密钥",
    items: "核验结果",
    file: "文件",
    deposit_id: "存证编号",
    hash: "哈希值（SHA-256）",
    deposit_time: "存证时间（UTC）",
    depositor: "存证主体",
    verdict: "结论",
    ok: "通过",
    fail: "未通过",
    reason: "原因",
    details: "说明",
    reasons_title: "原因说明",
    meaning: "含义",
    meaning_of: meaning_zh,
    closing: "每份存证回执均依据上述创世文件离线核验。查询节点仅用于读取本案关联的存证、按哈希值查找存证和获取回执，\
              任何结论均不依赖该节点对区块链的陈述。机器可读的报告为本页旁的 report.json。核验通过证明内容完全相同的\
              文件不晚于所示存证时间已经存证，且区块链的验证节点对此达成一致；不证明文件由谁制作，也不证明其内容真实。",
};

fn meaning_zh(r: Reason) -> &'static str {
    match r {
        Reason::Ok => "文件与本案关联的存证一致，其存证回执依据创世文件核验通过",
        Reason::FileChanged => "文件的哈希值与存证的哈希值不同：文件已被改动，或并非同一文件",
        Reason::NotInCase => "该文件（或其回执所指的存证）已在链上存证，但未关联到本案",
        Reason::UnknownDeposit => "提交的回执所指的存证在本链节点上不存在",
        Reason::OtherChain => "提交的回执来自另一条链，而非法院创世文件所创建的链",
        Reason::NoDeposit => "链上没有包含此文件的存证，且未随文件提交回执",
        Reason::MissingFile => "本案关联的存证（或提交的回执）在证据文件夹中没有对应的文件",
        Reason::BadReceipt => "提交的回执文件无法读取为 Curia 存证回执",
        Reason::InvalidReceipt => "回执未通过某项核验（回执被篡改或伪造，或区块签名无效）",
    }
}

impl Lang {
    fn words(self) -> &'static Words {
        match self {
            Lang::En => &EN,
            Lang::Zh => &ZH,
        }
    }
}

/// A key with its registered name (HTML): `name` and the key below, or the key and a note.
fn who(w: &Words, key: &PublicKey, name: Option<&str>) -> String {
    match name {
        Some(n) => format!("{}<br><span class=\"mono\">{}</span>", html(n), html(&key.to_string())),
        None => format!("<span class=\"mono\">{}</span> ({})", html(&key.to_string()), html(w.not_named)),
    }
}

/// A self-contained HTML page (inline CSS, no scripts, no external resources) in `lang`.
pub(super) fn report_html(r: &CaseReport, lang: Lang) -> String {
    let w = lang.words();
    let mut s = String::new();
    let ok = r.summary.failed == 0;
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <title>{title} {case}</title>\n<style>\n\
         body{{font-family:Georgia,'Times New Roman','Noto Serif CJK SC','Songti SC',SimSun,serif;margin:2em auto;max-width:75em;padding:0 1em;color:#111}}\n\
         h1{{font-size:1.5em;margin-bottom:.2em}} h2{{font-size:1.15em;margin-top:1.6em}}\n\
         table{{border-collapse:collapse;width:100%;font-size:.9em}}\n\
         th,td{{border:1px solid #999;padding:.35em .5em;text-align:left;vertical-align:top}}\n\
         th{{background:#eee}} code,.mono{{font-family:'DejaVu Sans Mono',Consolas,monospace;font-size:.85em;word-break:break-all}}\n\
         .ok{{color:#0a5a0a;font-weight:bold}} .fail{{color:#a00;font-weight:bold}}\n\
         .verdict{{padding:.6em 1em;border:2px solid;margin:1em 0}}\n\
         dl{{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}} dt{{font-weight:bold}} dd{{margin:0}}\n\
         @media print{{body{{margin:0;max-width:none}}}}\n</style>\n</head>\n<body>\n",
        lang = w.html_lang,
        title = html(w.title),
        case = html(&r.case_id)
    );
    let _ = writeln!(s, "<h1>{} {}</h1>", html(w.title), html(&r.case_id));
    let _ = writeln!(
        s,
        "<div class=\"verdict {}\">{}{}{}</div>",
        if ok { "ok" } else { "fail" },
        html(if ok { w.all_ok } else { w.some_failed }),
        w.colon,
        html(&(w.counts)(r.summary.items, r.summary.ok, r.summary.failed))
    );
    let _ = writeln!(s, "<dl>");
    let mono = |v: &str| format!("<span class=\"mono\">{}</span>", html(v));
    for (k, v) in [
        (w.case, html(&r.case_id)),
        (w.case_owner, who(w, &r.case_owner, r.case_owner_name.as_deref())),
        (w.case_status, html(if r.case_open { w.open } else { w.closed })),
        (w.chain, format!("{} {}", html(&r.chain_name), mono(&r.chain_id.to_hex()))),
        (w.genesis_file, mono(&r.genesis)),
        (w.node, mono(&r.node)),
        (w.evidence_dir, mono(&r.evidence_dir)),
        (w.verified_by, who(w, &r.verified_by, r.verified_by_name.as_deref())),
        (w.generated, html(&r.generated_at)),
    ] {
        let _ = writeln!(s, "<dt>{}</dt><dd>{v}</dd>", html(k));
    }
    let _ = writeln!(s, "</dl>");
    let _ = writeln!(
        s,
        "<h2>{}</h2>\n<table>\n<tr><th>#</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        html(w.items),
        html(w.file),
        html(w.deposit_id),
        html(w.hash),
        html(w.deposit_time),
        html(w.depositor),
        html(w.verdict),
        html(w.reason),
        html(w.details)
    );
    for (n, i) in r.items.iter().enumerate() {
        let good = i.reason == Reason::Ok;
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td><code>{}</code></td><td>{}</td></tr>",
            n + 1,
            html(i.file.as_deref().unwrap_or("-")),
            html(&short(&i.deposit_id)),
            html(&short(&i.sha256)),
            html(i.deposited_at.as_deref().unwrap_or("-")),
            i.depositor.map(|k| who(w, &k, i.depositor_name.as_deref())).unwrap_or_else(|| "-".into()),
            if good { "ok" } else { "fail" },
            html(if good { w.ok } else { w.fail }),
            html(i.reason.as_str()),
            html(&i.detail),
        );
    }
    let _ = writeln!(s, "</table>");
    let _ = writeln!(
        s,
        "<h2>{}</h2>\n<table>\n<tr><th>{}</th><th>{}</th></tr>",
        html(w.reasons_title),
        html(w.reason),
        html(w.meaning)
    );
    for reason in Reason::ALL {
        let _ = writeln!(
            s,
            "<tr><td><code>{}</code></td><td>{}</td></tr>",
            html(reason.as_str()),
            html((w.meaning_of)(reason))
        );
    }
    let _ = writeln!(s, "</table>");
    let _ = writeln!(s, "<p>{}</p>", html(w.closing));
    let _ = writeln!(s, "</body>\n</html>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use curia_ledger::testkit::{test_genesis, test_key};

    /// A report whose every outside string is hostile: markup, terminal escapes, bidi overrides.
    fn hostile_report() -> CaseReport {
        let mut item = Item::new(
            Some("<img src=x onerror=alert(1)>\u{202E}fdp.exe".into()),
            Some(Hash::sha256(b"x")),
            Reason::NoDeposit,
            "a & b \x1b[2J\x1b[32mVALID".into(),
        );
        item.deposited_at = Some("<b>".into());
        item.deposit_id = Some(Hash::sha256(b"d"));
        item.depositor = Some(test_key("platform").public());
        item.depositor_name = Some("shop\u{200B}<i>".into());
        let mut ok = Item::new(Some("ok.pdf".into()), None, Reason::Ok, "fine".into());
        ok.depositor = Some(PublicKey([7; 32]));
        CaseReport {
            format: "curia-case-report",
            version: 1,
            case_id: "C-1".into(),
            chain_id: Hash::ZERO,
            chain_name: "<chain>\x07".into(),
            genesis: "g\"x.json".into(),
            node: "http://n".into(),
            generated_at: "t".into(),
            generated_at_ms: 0,
            verified_by: test_key("judge").public(),
            verified_by_name: Some("judge".into()),
            case_owner: test_key("judge").public(),
            case_owner_name: Some("Judge 王".into()),
            case_open: true,
            evidence_dir: "d".into(),
            attached_deposits: vec![],
            summary: Summary { items: 2, ok: 1, failed: 1, reasons: BTreeMap::new(), verdict: "some items failed" },
            items: vec![item, ok],
        }
    }

    #[test]
    fn html_escapes_every_value_in_both_languages() {
        let r = hostile_report();
        for lang in [Lang::En, Lang::Zh] {
            let page = report_html(&r, lang);
            assert!(!page.contains("<img") && !page.contains("<chain>") && !page.contains("<b>"), "{page}");
            assert!(!page.contains("<i>") && !page.contains("<script"), "{page}");
            assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;\\u{202E}fdp.exe"), "{page}");
            assert!(page.contains("a &amp; b \\u{001B}[2J\\u{001B}[32mVALID"), "{page}");
            assert!(page.contains("shop\\u{200B}&lt;i&gt;"), "{page}");
            assert!(page.contains("&lt;chain&gt;\\u{0007}"), "{page}");
            assert!(!page.chars().any(|c| c != '\n' && curia_verifier::escape::is_hidden(c)), "{lang:?}: hidden");
            assert!(!page.contains("http://n\"") && !page.contains("src=\"http"));
        }
    }

    #[test]
    fn both_languages_have_their_headings() {
        let r = hostile_report();
        let en = report_html(&r, Lang::En);
        for h in [
            "<html lang=\"en\">",
            "Verification of evidence, case C-1",
            "SOME ITEMS FAILED: 2 item(s), 1 ok, 1 failed.",
            "<th>Deposit ID</th>",
            "<th>SHA-256 of the file</th>",
            "<th>Deposited at (UTC)</th>",
            "<th>Depositing platform</th>",
            "<dt>Case owner (judge)</dt><dd>Judge 王<br>",
            "What the reasons mean",
        ] {
            assert!(en.contains(h), "en lacks {h}");
        }
        assert!(!en.contains("存证编号"));
        let zh = report_html(&r, Lang::Zh);
        for h in [
            "<html lang=\"zh-CN\">",
            "电子证据核验报告，案号 C-1",
            "部分未通过：共 2 项，通过 1 项，未通过 1 项。",
            "<th>存证编号</th>",
            "<th>哈希值（SHA-256）</th>",
            "<th>存证时间（UTC）</th>",
            "<th>存证主体</th>",
            "<dt>承办法官</dt><dd>Judge 王<br>",
            "原因说明",
            "创世文件未登记此密钥",
        ] {
            assert!(zh.contains(h), "zh lacks {h}");
        }
        assert!(!zh.contains("Deposit ID") && !zh.contains("What the reasons mean"));
        // Every reason is explained in both languages.
        for reason in Reason::ALL {
            assert!(en.contains(&*html(reason.meaning())), "{reason:?}");
            assert!(zh.contains(&*html(meaning_zh(reason))), "{reason:?}");
        }
    }

    #[test]
    fn registered_names_come_from_the_genesis() {
        let spec = test_genesis(4).into_spec().unwrap();
        assert_eq!(registered_name(&spec, &test_key("judge").public()).as_deref(), Some("judge"));
        assert_eq!(registered_name(&spec, &test_key("platform").public()).as_deref(), Some("platform"));
        assert_eq!(registered_name(&spec, &test_key("v2").public()).as_deref(), Some("v2"));
        assert_eq!(registered_name(&spec, &PublicKey([7; 32])), None);
    }

    #[test]
    fn terminal_text_escapes_every_value() {
        let t = report_text(&hostile_report());
        assert!(!t.chars().any(|c| c != '\n' && curia_verifier::escape::is_hidden(c)), "{t}");
        assert!(t.contains("\\u{202E}fdp.exe") && t.contains("\\u{001B}[2J"), "{t}");
    }
}
