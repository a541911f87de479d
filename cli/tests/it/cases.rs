//! The case workflow against a real local network: `curia case open|attach|show|verify|close`,
//! the access rules of signed case reads, every verification reason, the report and `--record`.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{curia, Cluster};
use curia_ledger::hash::Hash;
use curia_ledger::receipt::Receipt;
use curia_ledger::testkit::TestChain;
use serde_json::Value;

/// Exit code, stdout, stderr.
fn run(args: &[&dyn AsRef<std::ffi::OsStr>]) -> (i32, String, String) {
    let mut c = curia();
    for a in args {
        c.arg(a);
    }
    let out = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(r: (i32, String, String)) -> String {
    assert_eq!(r.0, 0, "stdout:\n{}\nstderr:\n{}", r.1, r.2);
    r.1
}

/// `curia case verify CASE --evidence E --genesis G --key K --node N --out O`, then `extra`.
fn verify_case(
    case: &str,
    evidence: &Path,
    genesis: &Path,
    key: &Path,
    node: &str,
    out: &Path,
    extra: &[&str],
) -> (i32, String, String) {
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
        &"case",
        &"verify",
        &case,
        &"--evidence",
        &evidence,
        &"--genesis",
        &genesis,
        &"--key",
        &key,
        &"--node",
        &node,
        &"--out",
        &out,
    ];
    args.extend(extra.iter().map(|a| a as &dyn AsRef<std::ffi::OsStr>));
    run(&args)
}

fn write(dir: &Path, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

#[test]
fn a_judge_runs_a_case_from_open_to_close() {
    let c = Cluster::start(4);
    let judge = c.dir.join("clients/judge.key");
    let auditor = c.dir.join("clients/auditor.key");
    let platform = c.dir.join("clients/platform.key");
    let court = c.dir.join("court-a/validator.key");
    let notary = c.dir.join("notary/validator.key");
    let genesis = c.dir.join("genesis.json");
    let (n0, n1, n2) = (c.api(0), c.api(1), c.api(2));

    // A platform deposits a party's files; receipts are saved beside them (NAME.receipt.json).
    let party = c.dir.join("party");
    let names = ["contract.pdf", "photo.png", "invoice.txt", "letter.txt", "unrelated.txt", "other.txt", "missing.txt"];
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"deposit"];
    let paths: Vec<PathBuf> = names.iter().map(|n| write(&party, n, format!("{n}: original content\n"))).collect();
    for p in &paths {
        args.push(p);
    }
    args.extend([&"--key" as &dyn AsRef<std::ffi::OsStr>, &platform, &"--node", &n0, &"--wait"]);
    let out = ok(run(&args));
    let ids: BTreeMap<&str, String> = names
        .iter()
        .map(|n| {
            let line = out.lines().find(|l| l.ends_with(&format!("/{n}"))).unwrap_or_else(|| panic!("{n} in {out}"));
            (*n, line[..64].to_string())
        })
        .collect();

    // Open; a second open of the same ID is refused before anything is sent.
    ok(run(&[&"case", &"open", &"CASE-1", &"--title", &"Shop v. Smith", &"--key", &judge, &"--node", &n0, &"--wait"]));
    let (code, _, err) = run(&[&"case", &"open", &"CASE-1", &"--title", &"again", &"--key", &judge, &"--node", &n1]);
    assert_eq!(code, 2);
    assert!(err.contains("already exists"), "{err}");

    // Attach by file (hashed locally) and by deposit ID; a file never deposited is named in the
    // error and nothing is attached.
    let never = write(&c.dir.join("other"), "never-deposited.pdf", "nobody deposited this");
    let (code, _, err) =
        run(&[&"case", &"attach", &"CASE-1", &paths[0], &never, &"--key", &judge, &"--node", &n1, &"--wait"]);
    assert_eq!(code, 2);
    assert!(err.contains("never-deposited.pdf") && err.contains("no deposit"), "{err}");
    let out = ok(run(&[
        &"case",
        &"attach",
        &"CASE-1",
        &paths[0],
        &paths[1],
        &"--deposit",
        &ids["invoice.txt"],
        &"--deposit",
        &ids["letter.txt"],
        &"--deposit",
        &ids["missing.txt"],
        &"--key",
        &judge,
        &"--node",
        &n1,
        &"--wait",
    ]));
    assert!(out.contains("5 deposit(s) attached"), "{out}");
    // Attaching again skips what is attached.
    let out = ok(run(&[&"case", &"attach", &"CASE-1", &paths[0], &"--key", &judge, &"--node", &n2]));
    assert!(out.contains("already attached") && out.contains("nothing to attach"), "{out}");

    // Reads: signed by the judge, an auditor or a court validator; not by a platform or a notary;
    // never unsigned. A receipt stays readable by whoever has the deposit ID.
    let out = ok(run(&[&"case", &"show", &"CASE-1", &"--key", &auditor, &"--node", &n2]));
    assert!(out.contains("status   open") && out.contains("opened    by"), "{out}");
    assert_eq!(out.matches("attached  deposit").count(), 5, "{out}");
    for name in ["contract.pdf", "photo.png", "invoice.txt", "letter.txt", "missing.txt"] {
        assert!(out.contains(&ids[name]), "{name} not attached:\n{out}");
    }
    let out = ok(run(&[&"case", &"show", &"CASE-1", &"--key", &court, &"--node", &n0, &"--json"]));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["record_count"], 6);
    assert_eq!(v["owner"].as_str().unwrap().len(), 64);
    for key in [&platform, &notary] {
        let (code, _, err) = run(&[&"case", &"show", &"CASE-1", &"--key", key, &"--node", &n0]);
        assert_eq!(code, 2);
        assert!(err.contains("403 forbidden_reader"), "{err}");
    }
    match ureq::get(&format!("{n0}/v1/cases/CASE-1")).call() {
        Err(ureq::Error::Status(401, r)) => assert!(r.into_string().unwrap().contains("unsigned_request")),
        other => panic!("an unsigned case read must get 401, got {other:?}"),
    }
    assert!(ureq::get(&format!("{n0}/v1/deposits/{}/receipt", ids["contract.pdf"])).call().is_ok());

    // The evidence a party submits at trial, one file per reason.
    let sub = c.dir.join("submitted");
    let copy = |name: &str, with_receipt: bool| {
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::copy(party.join(name), sub.join(name)).unwrap();
        if with_receipt {
            let r = format!("{name}.receipt.json");
            std::fs::copy(party.join(&r), sub.join(&r)).unwrap();
        }
    };
    copy("contract.pdf", false); // ok: found by its digest, attached
    copy("invoice.txt", true); // ok: its own receipt
    write(&sub, "photo.png", "photo.png: retouched\n"); // file_changed: same-named attached deposit
    copy("letter.txt", true);
    write(&sub, "letter.txt", "letter.txt: edited after the deposit\n"); // file_changed: its receipt
    copy("unrelated.txt", false); // not_in_case: by digest
    copy("other.txt", true); // not_in_case: by its receipt
    write(&sub, "new.txt", "never deposited\n"); // no_deposit
    write(&sub, "a<b>&c.txt", "an odd name, never deposited\n"); // no_deposit, escaped in HTML
                                                                 // unknown_deposit: a receipt of this chain naming a deposit the chain does not have.
    write(&sub, "forged.txt", "invoice.txt: original content\n");
    let mut forged: Value =
        serde_json::from_slice(&std::fs::read(party.join("invoice.txt.receipt.json")).unwrap()).unwrap();
    forged["deposit_id"] = Value::String(Hash::sha256(b"no such deposit").to_hex());
    write(&sub, "forged.txt.receipt.json", serde_json::to_string_pretty(&forged).unwrap());
    // invalid_receipt: this chain's receipt of an attached deposit, with its block header edited.
    write(&sub, "edited.txt", "invoice.txt: original content\n");
    let mut edited = forged.clone();
    edited["deposit_id"] = Value::String(ids["invoice.txt"].clone());
    edited["header"]["time_ms"] = Value::from(edited["header"]["time_ms"].as_u64().unwrap() + 1);
    write(&sub, "edited.txt.receipt.json", serde_json::to_string_pretty(&edited).unwrap());
    // other_chain: a genuine receipt from another chain.
    let mut foreign = TestChain::new(4);
    let tx = foreign.deposit("platform", b"deposited elsewhere\n", 1);
    assert!(foreign.commit(vec![tx.clone()]).is_empty());
    let foreign_receipt = foreign.receipt(&tx.id(&foreign.spec.chain_id)).unwrap();
    write(&sub, "foreign.txt", "deposited elsewhere\n");
    write(&sub, "foreign.txt.receipt.json", foreign_receipt.to_json());
    // bad_receipt: a receipt that is not one.
    write(&sub, "junk.txt", "junk\n");
    write(&sub, "junk.txt.receipt.json", "this is not a receipt");
    // missing.txt is attached but not submitted: missing_file.

    let report_dir = c.dir.join("report-1");
    let (code, out, err) = verify_case("CASE-1", &sub, &genesis, &judge, &n2, &report_dir, &["--record"]);
    assert_eq!(code, 1, "some items fail: exit 1\n{out}\n{err}");
    let want = [
        ("a<b>&c.txt", "fail", "no_deposit"),
        ("contract.pdf", "ok", "ok"),
        ("edited.txt", "fail", "invalid_receipt"),
        ("foreign.txt", "fail", "other_chain"),
        ("forged.txt", "fail", "unknown_deposit"),
        ("invoice.txt", "ok", "ok"),
        ("junk.txt", "fail", "bad_receipt"),
        ("letter.txt", "fail", "file_changed"),
        ("new.txt", "fail", "no_deposit"),
        ("other.txt", "fail", "not_in_case"),
        ("photo.png", "fail", "file_changed"),
        ("unrelated.txt", "fail", "not_in_case"),
        ("-", "fail", "missing_file"),
    ];
    // One line per item: file, deposit ID, deposited at, verdict, reason.
    let lines: Vec<&str> = out.lines().skip_while(|l| !l.starts_with("FILE")).skip(1).take(want.len()).collect();
    assert_eq!(lines.len(), want.len(), "{out}");
    for (line, (file, verdict, reason)) in lines.iter().zip(want) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols[0], file, "{line}");
        assert_eq!(&cols[cols.len() - 2..], [verdict, reason], "{line}");
    }
    let line_of = |f: &str| *lines.iter().find(|l| l.starts_with(&format!("{f} "))).unwrap();
    for f in ["contract.pdf", "invoice.txt", "letter.txt", "photo.png", "unrelated.txt", "other.txt"] {
        let l = line_of(f);
        assert!(l.contains(&ids[f]), "{f} is matched to its deposit: {l}");
        assert!(l.split_whitespace().nth(2).unwrap().ends_with('Z'), "{f} has its UTC commit time: {l}");
    }
    assert!(line_of("-").contains(&ids["missing.txt"]), "{out}");
    assert_eq!(line_of("edited.txt").split_whitespace().nth(2), Some("-"), "an edited receipt's time is not shown");
    assert!(out.contains("13 item(s): 2 ok, 11 failed"), "{out}");

    // report.json says the same; report.html is self-contained and escapes every value.
    let report: Value = serde_json::from_slice(&std::fs::read(report_dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["format"], "curia-case-report");
    assert_eq!(report["chain_id"], c.genesis().chain_id.to_hex());
    let items = report["items"].as_array().unwrap();
    assert_eq!(items.len(), want.len());
    for (item, (file, verdict, reason)) in items.iter().zip(want) {
        assert_eq!(item["file"].as_str().unwrap_or("-"), file);
        assert_eq!((item["verdict"].as_str().unwrap(), item["reason"].as_str().unwrap()), (verdict, reason));
    }
    assert_eq!(report["summary"]["failed"], 11);
    let html = std::fs::read_to_string(report_dir.join("report.html")).unwrap();
    assert!(html.contains("a&lt;b&gt;&amp;c.txt") && !html.contains("a<b>"), "file names are escaped");
    for external in ["<script", "<link", "src=", "href=", "url(", "@import"] {
        assert!(!html.contains(external), "report.html refers to {external}");
    }
    for (_, _, reason) in want {
        assert!(html.contains(reason), "{reason} in the HTML");
    }

    // --record: one signed record per item tied to an attached deposit (contract, invoice ok;
    // the edited receipt of invoice invalid; photo, letter changed; missing.txt missing), listed
    // by `case show`.
    assert!(out.contains("recorded 6 verification result(s)"), "{out}");
    let out = ok(run(&[&"case", &"show", &"CASE-1", &"--key", &judge, &"--node", &n0]));
    let verified: Vec<&str> = out.lines().filter(|l| l.contains("verified  deposit")).collect();
    assert_eq!(verified.len(), 6, "{out}");
    for (name, valid, invalid) in [
        ("contract.pdf", 1, 0),
        ("invoice.txt", 1, 1),
        ("photo.png", 0, 1),
        ("letter.txt", 0, 1),
        ("missing.txt", 0, 1),
    ] {
        let of = |end: &str| verified.iter().filter(|l| l.contains(&ids[name]) && l.ends_with(end)).count();
        assert_eq!((of(" VALID"), of(" INVALID")), (valid, invalid), "{name}: {out}");
    }

    // A case whose every item is ok: exit 0.
    ok(run(&[&"case", &"open", &"CASE-2", &"--title", &"clean", &"--key", &judge, &"--node", &n1, &"--wait"]));
    ok(run(&[
        &"case",
        &"attach",
        &"CASE-2",
        &"--deposit",
        &ids["contract.pdf"],
        &"--key",
        &judge,
        &"--node",
        &n1,
        &"--wait",
    ]));
    let clean = c.dir.join("clean");
    write(&clean, "contract.pdf", std::fs::read(party.join("contract.pdf")).unwrap());
    let (code, out, err) = verify_case("CASE-2", &clean, &genesis, &judge, &n0, &c.dir.join("report-2"), &["--json"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["summary"]["ok"], 1);
    assert_eq!(v["items"][0]["deposit_id"], ids["contract.pdf"].as_str());
    assert_eq!(v["items"][0]["depositor_name"], "platform");
    assert_eq!(v["case_owner_name"], "judge");
    // --lang zh: report.html in Simplified Chinese with the courts' terms, and the judge and the
    // depositing platform by the names the genesis registers.
    let zh = c.dir.join("report-2-zh");
    let (code, out, err) = verify_case("CASE-2", &clean, &genesis, &judge, &n0, &zh, &["--lang", "zh"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let html = std::fs::read_to_string(zh.join("report.html")).unwrap();
    for want in ["<html lang=\"zh-CN\">", "<th>存证编号</th>", "<th>哈希值（SHA-256）</th>", "<th>存证时间（UTC）</th>"]
    {
        assert!(html.contains(want), "{want} in the Chinese report");
    }
    assert!(html.contains("<dt>承办法官</dt><dd>judge<br>") && html.contains("<td>platform<br>"), "{html}");
    let en = std::fs::read_to_string(c.dir.join("report-2").join("report.html")).unwrap();
    assert!(en.contains("<th>Depositing platform</th>") && en.contains("<td>platform<br>"), "{en}");

    // Usage and network errors: exit 2. A genesis of another chain is refused by name, before
    // any verdict.
    let other_net = c.dir.join("other-net");
    ok(run(&[&"testnet", &"init", &"--out", &other_net, &"--base-port", &"29900"]));
    let (code, _, err) =
        verify_case("CASE-2", &clean, &other_net.join("genesis.json"), &judge, &n0, &c.dir.join("report-3"), &[]);
    assert_eq!(code, 2);
    assert!(err.contains("founds chain"), "{err}");
    let (code, _, err) =
        verify_case("CASE-2", &clean, &genesis, &judge, "http://127.0.0.1:9", &c.dir.join("report-4"), &[]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot reach node"), "{err}");
    let (code, _, _) = run(&[&"case", &"verify", &"CASE-2", &"--genesis", &genesis, &"--key", &judge, &"--node", &n0]);
    assert_eq!(code, 2, "--evidence is required");

    // Close; a closed case takes no more records.
    ok(run(&[&"case", &"close", &"CASE-1", &"--note", &"judgment given", &"--key", &judge, &"--node", &n2, &"--wait"]));
    let out = ok(run(&[&"case", &"show", &"CASE-1", &"--key", &judge, &"--node", &n1]));
    assert!(out.contains("status   closed") && out.lines().last().unwrap().ends_with("closed"), "{out}");
    let (code, _, err) =
        run(&[&"case", &"attach", &"CASE-1", &"--deposit", &ids["other.txt"], &"--key", &judge, &"--node", &n0]);
    assert_eq!(code, 2);
    assert!(err.contains("is closed"), "{err}");
    // Only the owner writes: the auditor cannot close a case.
    let (code, _, err) = run(&[&"case", &"close", &"CASE-2", &"--note", &"x", &"--key", &auditor, &"--node", &n0]);
    assert_eq!(code, 2);
    assert!(err.contains("belongs to"), "{err}");

    // The receipts the node serves verify offline for the deposits the judge found.
    let r = Receipt::from_json(common::fetch_receipt(&n0, &ids["invoice.txt"]).as_bytes()).unwrap();
    assert_eq!(r.deposit_id.to_hex(), ids["invoice.txt"]);
}
