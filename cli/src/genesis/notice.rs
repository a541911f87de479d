//! The printable genesis notice (`notice.html`): one A4 page, Chinese and English side by side,
//! with the chain name, chain ID (and its QR code), genesis time, the founding validators with
//! their key fingerprints and whether each signed, and how to check it all.
//!
//! Rules: the page is self-contained (inline CSS and inline SVG, no scripts, no external
//! resources, a Content-Security-Policy that forbids loading anything); every string taken from
//! the genesis is HTML-escaped; the QR code encodes the chain ID as 64 lower-case hex digits,
//! exactly as `curia genesis check` and the verifiers print it. A key's fingerprint is the full
//! public key in hex (as in genesis.json), grouped by four digits for reading aloud.

use std::fmt::Write as _;

use anyhow::Result;
use curia_ledger::genesis::{ChainSpec, FounderCheck, ValidatorRole};
use curia_ledger::verify::format_utc;
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// HTML-escape text for element content and attribute values.
pub fn esc(s: &str) -> String {
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

/// Hex in groups of four digits, `per_line` groups to a line (lines joined by `<br>`).
fn grouped(hex: &str, per_line: usize) -> String {
    let groups: Vec<&str> = hex.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap_or("")).collect();
    groups.chunks(per_line).map(|l| esc(&l.join(" "))).collect::<Vec<_>>().join("<br>")
}

fn role_zh(r: ValidatorRole) -> &'static str {
    match r {
        ValidatorRole::Court => "法院",
        ValidatorRole::Notary => "公证机构",
        ValidatorRole::Timesvc => "授时中心",
        ValidatorRole::Mediation => "调解平台",
        ValidatorRole::Forensic => "司法鉴定中心",
    }
}

/// The QR code of the chain ID as an inline `<svg>` element.
pub fn qr_svg(chain_id_hex: &str) -> Result<String> {
    let code = QrCode::with_error_correction_level(chain_id_hex.as_bytes(), EcLevel::M)?;
    let image = code
        .render::<svg::Color>()
        .min_dimensions(180, 180)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build();
    // Drop the XML declaration: the element is inlined in HTML.
    let start = image.find("<svg").ok_or_else(|| anyhow::anyhow!("QR renderer gave no <svg> element"))?;
    Ok(image[start..].to_string())
}

const STYLE: &str = "\
@page{size:A4;margin:8mm}
*{box-sizing:border-box}
body{font-family:'Noto Serif CJK SC','Source Han Serif SC','Songti SC',SimSun,Georgia,'Times New Roman',serif;color:#111;margin:0 auto;max-width:186mm;padding:6mm 0;font-size:10pt;line-height:1.4}
h1{font-size:16pt;margin:0 0 1mm;text-align:center}
.sub{text-align:center;margin:0 0 4mm;font-size:11pt}
.two{display:grid;grid-template-columns:1fr 1fr;gap:5mm;margin:2mm 0}
.two p{margin:0}
.zh{font-family:'Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei',sans-serif}
.head{display:grid;grid-template-columns:1fr 44mm;gap:5mm;align-items:start;border:1.5px solid #111;padding:3mm;margin:3mm 0}
.head dl{display:grid;grid-template-columns:max-content 1fr;gap:1.5mm 4mm;margin:0}
.head dt{font-weight:bold}
.head dd{margin:0}
.qr{text-align:center;font-size:8pt}
.qr svg{width:42mm;height:42mm;display:block;margin:0 auto 1mm}
.mono{font-family:'DejaVu Sans Mono',Consolas,'Liberation Mono',monospace;font-size:9pt}
.id{font-size:10pt;font-weight:bold;white-space:nowrap}
table{border-collapse:collapse;width:100%;font-size:9pt;margin:2mm 0}
th,td{border:1px solid #777;padding:1mm 1.5mm;text-align:left;vertical-align:top}
th{background:#eee}
td.mono{font-size:8pt;white-space:nowrap}
.ok{color:#0a5a0a;font-weight:bold}
.no{color:#a00;font-weight:bold}
h2{font-size:11pt;margin:4mm 0 1mm}
code{font-family:'DejaVu Sans Mono',Consolas,monospace;font-size:8.5pt}
.foot{margin-top:4mm;font-size:8pt;color:#444;border-top:1px solid #999;padding-top:1mm}
@media print{body{padding:0;font-size:9.5pt;line-height:1.3}.head{margin:2mm 0}h2{margin:3mm 0 1mm}}
";

/// Render the notice for a checked genesis and its founder-signature check.
pub fn render(spec: &ChainSpec, founders: &FounderCheck) -> Result<String> {
    let g = &spec.genesis;
    let id = spec.chain_id.to_hex();
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"zh-Hans\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <title>创世公告 Genesis notice: {name}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n",
        name = esc(&g.chain_name)
    );
    let _ = writeln!(s, "<h1><span class=\"zh\">区块链创世公告</span> · Chain genesis notice</h1>");
    let _ = writeln!(s, "<p class=\"sub\"><b>{}</b></p>", esc(&g.chain_name));
    let _ = writeln!(
        s,
        "<div class=\"two\"><p class=\"zh\">本公告公布上述区块链的创世文件。链标识（chain ID）由创世文件的规范编码计算得出\
         （带标签的 SHA-256），创世文件的任何改动都会得到不同的链标识。法官核验电子证据存证回执时，\
         应确认所用创世文件的链标识与本公告一致。</p>\
         <p>This notice publishes the genesis of the chain named above. The chain ID is computed from the \
         genesis's canonical encoding (a tagged SHA-256): any change to the genesis gives a different chain ID. \
         A judge verifying an evidence receipt confirms that the genesis used has the chain ID printed here.</p></div>"
    );
    let founders_signed = founders.signed.len();
    let total = g.validators.len();
    let _ = writeln!(s, "<div class=\"head\">\n<dl>");
    for (k, v) in [
        ("<span class=\"zh\">链名称</span><br>Chain name".to_string(), format!("<b>{}</b>", esc(&g.chain_name))),
        (
            "<span class=\"zh\">链标识</span><br>Chain ID".to_string(),
            format!("<span class=\"mono id\">{}</span>", grouped(&id, 8)),
        ),
        (
            "<span class=\"zh\">创世时间</span><br>Genesis time".to_string(),
            format!("{} (UTC)", esc(&format_utc(g.genesis_time_ms))),
        ),
        (
            "<span class=\"zh\">验证节点</span><br>Validators".to_string(),
            format!("{total} (<span class=\"zh\">总投票权</span> total power {})", spec.total_power),
        ),
        (
            "<span class=\"zh\">出块票数</span><br>Quorum".to_string(),
            format!(
                "≥ {} <span class=\"zh\">（超过三分之二）</span><br>more than two thirds of the power",
                spec.quorum_power()
            ),
        ),
        (
            "<span class=\"zh\">创始签署</span><br>Founder signatures".to_string(),
            format!(
                "<span class=\"{}\">{founders_signed} / {total}</span>",
                if founders_signed == total { "ok" } else { "no" }
            ),
        ),
        ("<span class=\"zh\">注册客户端</span><br>Registered clients".to_string(), g.clients.len().to_string()),
    ] {
        let _ = writeln!(s, "<dt>{k}</dt><dd>{v}</dd>");
    }
    let _ = writeln!(
        s,
        "</dl>\n<div class=\"qr\">{}<span class=\"zh\">扫码得到链标识</span><br>QR code: the chain ID</div>\n</div>",
        qr_svg(&id)?
    );
    let _ = writeln!(s, "<h2><span class=\"zh\">创始验证节点</span> · Founding validators</h2>");
    let _ = writeln!(
        s,
        "<table>\n<tr><th>#</th><th><span class=\"zh\">名称</span><br>Name</th><th><span class=\"zh\">角色</span><br>Role</th>\
         <th><span class=\"zh\">投票权</span><br>Power</th><th><span class=\"zh\">公钥指纹</span><br>Key fingerprint</th>\
         <th><span class=\"zh\">已签署</span><br>Signed</th></tr>"
    );
    for (i, v) in g.validators.iter().enumerate() {
        let signed = founders.signed.contains(&i);
        let _ = writeln!(
            s,
            "<tr><td>{i}</td><td>{}</td><td><span class=\"zh\">{}</span><br>{}</td><td>{}</td><td class=\"mono\">{}</td>\
             <td class=\"{}\">{}</td></tr>",
            esc(&v.name),
            role_zh(v.role),
            esc(v.role.as_str()),
            v.power,
            grouped(&v.key.to_string(), 8),
            if signed { "ok" } else { "no" },
            if signed { "<span class=\"zh\">是</span> ✓ yes" } else { "<span class=\"zh\">否</span> ✗ NO" }
        );
    }
    let _ = writeln!(s, "</table>");
    let _ = writeln!(s, "<h2><span class=\"zh\">核对方法</span> · How to check</h2>");
    let _ = writeln!(
        s,
        "<div class=\"two\"><p class=\"zh\">取得创世文件 <code>genesis.json</code> 与签名文件 <code>genesis.sigs.json</code>\
         （与本公告一同发布），运行 <code>curia genesis check genesis.json</code>：它核验创世文件和每个创始验证节点的签名，\
         打印链标识并以 COMPLETE 结束。确认打印的链标识与本页（或扫描二维码所得）完全一致。\
         每个创始验证节点用上表中的公钥对 <code>tagged(\"curia/v1/founder\", chain_id)</code> 签名，\
         表示其同意此创世文件；签名不改变链标识。核验回执：<code>curia verify 证据文件 --receipt 回执 --genesis genesis.json</code>。</p>\
         <p>Obtain <code>genesis.json</code> and <code>genesis.sigs.json</code> (published with this notice) and run \
         <code>curia genesis check genesis.json</code>: it verifies the genesis and every founding validator's signature, \
         prints the chain ID and ends with COMPLETE. Confirm that the chain ID printed is exactly the one on this page \
         (or read from the QR code). Each founding validator signed <code>tagged(\"curia/v1/founder\", chain_id)</code> \
         with the key listed above, to show it agrees to this genesis; the signatures do not change the chain ID. \
         To verify a receipt: <code>curia verify FILE --receipt RECEIPT --genesis genesis.json</code>.</p></div>"
    );
    let _ = writeln!(
        s,
        "<p class=\"foot\"><span class=\"zh\">验证节点集合哈希</span> / validator-set hash: <span class=\"mono\">{}</span><br>\
         <span class=\"zh\">由</span> <code>curia genesis publish</code> <span class=\"zh\">生成</span> / written by \
         <code>curia genesis publish</code>.</p>",
        esc(&spec.validators_hash.to_hex())
    );
    let _ = writeln!(s, "</body>\n</html>");
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use curia_ledger::testkit::test_genesis;

    #[test]
    fn embeds_the_chain_and_founders() {
        let spec: ChainSpec = test_genesis(4).into_spec().unwrap();
        let c = FounderCheck { signed: vec![0, 2], unsigned: vec![1, 3], problems: vec![] };
        let html = render(&spec, &c).unwrap();
        assert!(html.contains(&grouped(&spec.chain_id.to_hex(), 8)));
        assert!(html.contains("<svg") && !html.contains("<?xml") && !html.contains("<script"));
        for banned in ["src=", "href", "<link", "url(", "@import"] {
            assert!(!html.contains(banned), "page loads something: {banned}");
        }
        assert!(html.contains("2 / 4"));
        for v in &spec.genesis.validators {
            assert!(html.contains(&grouped(&v.key.to_string(), 8)), "{}", v.name);
        }
    }

    #[test]
    fn every_genesis_string_is_escaped() {
        // A valid genesis cannot hold markup in its names; build the spec by hand to show that
        // the page escapes them anyway.
        let mut spec: ChainSpec = test_genesis(2).into_spec().unwrap();
        spec.genesis.chain_name = "<script>alert(1)</script>".into();
        spec.genesis.validators[0].name = "<img src=x onerror=alert(1)>".into();
        spec.genesis.validators[1].name = "a\"b'&c".into();
        let c = FounderCheck { signed: vec![0], unsigned: vec![1], problems: vec![] };
        let html = render(&spec, &c).unwrap();
        assert!(!html.contains("<script") && !html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(html.contains("a&quot;b&#39;&amp;c"));
        assert_eq!(esc("<b a=\"x\">'&"), "&lt;b a=&quot;x&quot;&gt;&#39;&amp;");
    }
}
