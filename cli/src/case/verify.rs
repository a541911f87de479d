//! `curia case verify`: match the evidence files a party submitted to the deposits attached to a
//! case, decide each item ([`Reason`]), write the report and, with `--record`, put the results on
//! the chain.
//!
//! Rules:
//! - Evidence files never leave the machine: only their SHA-256 is sent, to look up deposits.
//! - `verify` trusts the judge's own genesis file, not the node: every receipt is verified
//!   offline with [`verify_receipt`]. Each item gets one reason (see [`Reason`]); one failure
//!   never stops the others.
//! - The items are: every evidence file, every submitted receipt whose file is missing, and
//!   every attached deposit that no file matched.
//! - With `--record`, each item tied to an attached deposit goes on the chain as a case record
//!   signed by the judge who owns the open case (valid or not, the SHA-256 of report.json, the
//!   reason).
//! - Exit code: 0 if every item is ok, 1 if any item fails.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use curia_ledger::genesis::ChainSpec;
use curia_ledger::hash::Hash;
use curia_ledger::receipt::Receipt;
use curia_ledger::tx::{check_case_id, Payload};
use curia_ledger::verify::{format_utc, verify_receipt, Evidence};
use curia_verifier::hashing::{hash_file, Hashed, Progress};

use super::client::{attached, now_ms, verified_count, Node};
use super::reason::Reason;
use super::report::{registered_name, report_html, report_text, CaseReport, Item, Lang, Summary};
use super::Conn;

/// What `case verify` works on.
pub(super) struct VerifyJob<'a> {
    pub(super) case: &'a str,
    pub(super) evidence: &'a Path,
    pub(super) genesis: &'a Path,
    pub(super) conn: &'a Conn,
    pub(super) out: &'a Path,
    /// The language of report.html.
    pub(super) lang: Lang,
}

/// What every item's decision may consult.
struct Ctx<'a> {
    node: &'a Node,
    spec: &'a ChainSpec,
    attached: &'a HashSet<Hash>,
    node_receipts: &'a HashMap<Hash, Receipt>,
}

impl Ctx<'_> {
    /// An attached single deposit made with label `name` (`curia deposit` labels a deposit with
    /// its file name), salted or not.
    fn attached_by_label(&self, name: &str, salted: bool) -> Option<&Receipt> {
        let mut v: Vec<&Receipt> = self
            .node_receipts
            .values()
            .filter(|r| {
                matches!(&r.tx.payload, Payload::Deposit(d) if d.label == name && d.commitment.is_salted() == salted)
            })
            .collect();
        v.sort_by_key(|r| r.deposit_id);
        v.into_iter().next()
    }

    /// Decide one evidence file, given its SHA-256 and length.
    fn judge_file(&self, name: &str, hashed: Hashed, submitted: Option<Result<Receipt, String>>) -> Result<Item> {
        let digest = hashed.sha256;
        let evidence = Evidence::Hashed { sha256: hashed.sha256, len: hashed.len };
        let file = Some(name.to_string());
        if let Some(sub) = submitted {
            let r = match sub {
                Ok(r) => r,
                Err(e) => return Ok(Item::new(file, Some(digest), Reason::BadReceipt, e)),
            };
            let rep = verify_receipt(evidence, &r, self.spec);
            let failed = |n: &str| rep.checks.iter().any(|c| c.name == n && !c.ok);
            let detail_of =
                |n: &str| rep.checks.iter().find(|c| c.name == n).map(|c| c.detail.clone()).unwrap_or_default();
            let attached = self.attached.contains(&r.deposit_id);
            let (reason, detail) = if failed("chain") || r.chain_id != self.spec.chain_id {
                (
                    Reason::OtherChain,
                    format!(
                        "the submitted receipt is for chain {}; the court's genesis founds {} ({})",
                        r.chain_id, self.spec.chain_id, self.spec.genesis.chain_name
                    ),
                )
            } else if !attached && !self.node.deposit_exists(&r.deposit_id)? {
                (
                    Reason::UnknownDeposit,
                    format!("the submitted receipt names deposit {}, which the node does not have", r.deposit_id),
                )
            } else if !attached {
                let mut d = format!("deposit {} is on the chain but not attached to this case", r.deposit_id);
                if failed("digest") {
                    let _ = write!(d, "; also, the file does not match it: {}", detail_of("digest"));
                }
                (Reason::NotInCase, d)
            } else if failed("digest") {
                (Reason::FileChanged, format!("the file does not match the submitted receipt: {}", detail_of("digest")))
            } else if let Some(c) = rep.first_failure() {
                (Reason::InvalidReceipt, format!("check {} failed: {}", c.name, c.detail))
            } else {
                (Reason::Ok, format!("matches deposit {} (submitted receipt)", r.deposit_id))
            };
            return Ok(Item::new(file, Some(digest), reason, detail).with_receipt(&r, rep, "submitted", attached));
        }

        // No receipt came with the file: find it on the chain by its digest.
        let on_chain = self.node.deposits_of(&digest)?;
        let in_case: Vec<&Hash> = on_chain.iter().filter(|d| self.attached.contains(d)).collect();
        if !in_case.is_empty() {
            // Several attached deposits of the same file: prefer the one deposited under its name.
            let pick = in_case
                .iter()
                .find(|d| matches!(self.node_receipts.get(d).map(|r| &r.tx.payload), Some(Payload::Deposit(x)) if x.label == name))
                .unwrap_or(&in_case[0]);
            let id = **pick;
            let Some(r) = self.node_receipts.get(&id) else {
                let d = format!("deposit {id} is attached, but the node did not serve its receipt");
                let mut it = Item::new(file, Some(digest), Reason::InvalidReceipt, d);
                it.deposit_id = Some(id);
                it.attached = true;
                return Ok(it);
            };
            let rep = verify_receipt(evidence, r, self.spec);
            let (reason, detail) = match rep.first_failure() {
                None => (Reason::Ok, format!("matches deposit {id}, attached to the case")),
                Some(c) if c.name == "chain" => (Reason::OtherChain, format!("the node's receipt: {}", c.detail)),
                Some(c) if c.name == "digest" => (Reason::FileChanged, c.detail.clone()),
                Some(c) => (Reason::InvalidReceipt, format!("the node's receipt fails check {}: {}", c.name, c.detail)),
            };
            return Ok(Item::new(file, Some(digest), reason, detail).with_receipt(r, rep, "node", true));
        }
        if let Some(&id) = on_chain.first() {
            let detail = if on_chain.len() == 1 {
                format!("deposit {id} holds this file but is not attached to this case")
            } else {
                format!("{} deposits hold this file (first {id}); none is attached to this case", on_chain.len())
            };
            let item = Item::new(file, Some(digest), Reason::NotInCase, detail);
            return Ok(match self.node.receipt(&id)? {
                Some(r) => {
                    let rep = verify_receipt(evidence, &r, self.spec);
                    item.with_receipt(&r, rep, "node", false)
                }
                None => Item { deposit_id: Some(id), ..item },
            });
        }
        if let Some(r) = self.attached_by_label(name, false) {
            let rep = verify_receipt(evidence, r, self.spec);
            let detail = format!(
                "deposit {} attached to the case was made for a file named {name}, with another fingerprint: {}",
                r.deposit_id,
                rep.checks.iter().find(|c| c.name == "digest").map(|c| c.detail.as_str()).unwrap_or("")
            );
            return Ok(Item::new(file, Some(digest), Reason::FileChanged, detail).with_receipt(r, rep, "node", true));
        }
        let mut detail = format!("no deposit holds SHA-256 {digest}, and no receipt came with the file");
        if let Some(r) = self.attached_by_label(name, true) {
            // A salted deposit cannot be found or checked without its salt, which only its
            // receipt carries: say so rather than call the file changed.
            let _ = write!(
                detail,
                "; deposit {} attached to the case was made for a file named {name} with a salted fingerprint: \
                 submit its receipt (with the salt) as {name}.receipt.json to verify it",
                r.deposit_id
            );
        }
        Ok(Item::new(file, Some(digest), Reason::NoDeposit, detail))
    }
}

/// Evidence files (sorted by name) and submitted receipts (by the file name they belong to).
type EvidenceDir = (Vec<(String, PathBuf)>, BTreeMap<String, PathBuf>);

fn read_evidence_dir(dir: &Path) -> Result<EvidenceDir> {
    let mut files = Vec::new();
    let mut receipts = BTreeMap::new();
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read the evidence folder {}", dir.display()))?;
    for e in entries {
        let e = e.with_context(|| format!("cannot read the evidence folder {}", dir.display()))?;
        let path = e.path();
        let meta = std::fs::metadata(&path).with_context(|| format!("cannot read {}", path.display()))?;
        if !meta.is_file() {
            continue;
        }
        let name = e.file_name().to_string_lossy().into_owned();
        match name.strip_suffix(".receipt.json") {
            Some(base) if !base.is_empty() => {
                receipts.insert(base.to_string(), path);
            }
            _ => files.push((name, path)),
        }
    }
    files.sort();
    Ok((files, receipts))
}

/// Run `case verify`; the exit code.
pub(super) fn verify(job: &VerifyJob<'_>, record: bool, json: bool, timeout_s: u64) -> Result<u8> {
    check_case_id(job.case)?;
    let spec = crate::load_genesis(job.genesis)?;
    let node = Node::connect(job.conn)?;
    if node.chain_id != spec.chain_id {
        bail!(
            "the node at {} serves chain {}, but your genesis {} founds chain {} ({}): use a node of the court's chain",
            node.url,
            node.chain_id,
            job.genesis.display(),
            spec.chain_id,
            spec.genesis.chain_name
        );
    }
    let case = node.existing_case(job.case)?;
    if record {
        node.own_open_case(job.case).context("--record needs the judge who owns the case, and an open case")?;
    }
    let (files, receipts) = read_evidence_dir(job.evidence)?;
    let attached_list = attached(&case);
    let attached: HashSet<Hash> = attached_list.iter().copied().collect();
    let mut node_receipts = HashMap::new();
    for id in &attached_list {
        if let Some(r) = node.receipt(id)? {
            node_receipts.insert(*id, r);
        }
    }
    let ctx = Ctx { node: &node, spec: &spec, attached: &attached, node_receipts: &node_receipts };

    let mut items = Vec::new();
    for (name, path) in &files {
        // Streamed: evidence of any size, in constant memory.
        let hashed = hash_file(path, if json { Progress::Hidden } else { Progress::Auto })?;
        let submitted = receipts.get(name).map(|p| curia_verifier::load::receipt(p).map_err(|e| e.to_string()));
        items.push(ctx.judge_file(name, hashed, submitted)?);
    }
    // Receipts that came without their file.
    let names: HashSet<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    for (base, p) in &receipts {
        if names.contains(base.as_str()) {
            continue;
        }
        let file = Some(format!("{base} (receipt only)"));
        let item = match curia_verifier::load::receipt(p) {
            Err(e) => Item::new(file, None, Reason::BadReceipt, e.to_string()),
            Ok(r) => {
                let detail = format!(
                    "a receipt for deposit {} was submitted, but the file {base} is not in the evidence folder",
                    r.deposit_id
                );
                let mut it = Item::new(file, None, Reason::MissingFile, detail);
                it.deposit_id = Some(r.deposit_id);
                it.attached = attached.contains(&r.deposit_id);
                it
            }
        };
        items.push(item);
    }
    // Attached deposits no file matched.
    let claimed: HashSet<Hash> = items.iter().filter(|i| i.attached).filter_map(|i| i.deposit_id).collect();
    for id in &attached_list {
        if claimed.contains(id) {
            continue;
        }
        let label = node_receipts.get(id).and_then(|r| match &r.tx.payload {
            Payload::Deposit(d) => Some(d.label.clone()),
            Payload::BatchDeposit(b) => Some(b.label.clone()),
            _ => None,
        });
        let detail = format!(
            "deposit {id}{} is attached to the case, but no file in the evidence folder matches it",
            label.filter(|l| !l.is_empty()).map(|l| format!(" (deposited as \"{l}\")")).unwrap_or_default()
        );
        let item = Item::new(None, None, Reason::MissingFile, detail);
        items.push(match node_receipts.get(id) {
            Some(r) => {
                let evidence = match &r.tx.payload {
                    Payload::Deposit(d) => Evidence::Digest(d.commitment.hash()),
                    _ => Evidence::Digest(r.item.as_ref().map(|i| i.commitment).unwrap_or_default()),
                };
                let rep = verify_receipt(evidence, r, &spec);
                item.with_receipt(r, rep, "node", true)
            }
            None => Item { deposit_id: Some(*id), attached: true, ..item },
        });
    }

    let failed = items.iter().filter(|i| i.reason != Reason::Ok).count();
    let mut reasons = BTreeMap::new();
    for i in &items {
        *reasons.entry(i.reason.as_str()).or_insert(0) += 1;
    }
    let now = now_ms();
    let report = CaseReport {
        format: "curia-case-report",
        version: 1,
        case_id: job.case.to_string(),
        chain_id: spec.chain_id,
        chain_name: spec.genesis.chain_name.clone(),
        genesis: job.genesis.display().to_string(),
        node: node.url.clone(),
        generated_at: format_utc(now),
        generated_at_ms: now,
        verified_by: node.key.public(),
        verified_by_name: registered_name(&spec, &node.key.public()),
        case_owner: case.owner,
        case_owner_name: registered_name(&spec, &case.owner),
        case_open: case.open,
        evidence_dir: job.evidence.display().to_string(),
        attached_deposits: attached_list.clone(),
        summary: Summary {
            items: items.len(),
            ok: items.len() - failed,
            failed,
            reasons,
            verdict: if failed == 0 { "all items ok" } else { "some items failed" },
        },
        items,
    };
    let report_json = serde_json::to_string_pretty(&report)? + "\n";
    std::fs::create_dir_all(job.out).with_context(|| format!("cannot create {}", job.out.display()))?;
    let json_path = job.out.join("report.json");
    let html_path = job.out.join("report.html");
    std::fs::write(&json_path, &report_json).with_context(|| format!("cannot write {}", json_path.display()))?;
    std::fs::write(&html_path, report_html(&report, job.lang))
        .with_context(|| format!("cannot write {}", html_path.display()))?;
    let report_hash = Hash::sha256(report_json.as_bytes());

    if json {
        print!("{report_json}");
    } else {
        print!("{}", report_text(&report));
        println!("report: {} and {} (SHA-256 of report.json {report_hash})", json_path.display(), html_path.display());
    }

    if record {
        let to_record: Vec<&Item> = report.items.iter().filter(|i| i.attached && i.deposit_id.is_some()).collect();
        if to_record.is_empty() {
            eprintln!("--record: no item is tied to a deposit attached to the case; nothing recorded");
        } else {
            let before = verified_count(&node.own_open_case(job.case)?);
            let mut txs = Vec::new();
            for i in &to_record {
                txs.push(node.tx(Payload::RecordVerification {
                    case_id: job.case.to_string(),
                    deposit_id: i.deposit_id.expect("filtered"),
                    valid: i.reason == Reason::Ok,
                    report: report_hash,
                    note: i.reason.as_str().to_string(),
                })?);
            }
            node.submit(&txs, Instant::now() + Duration::from_secs(timeout_s))?;
            let n = txs.len();
            let c =
                node.wait_case(job.case, timeout_s, "the verification records", |c| verified_count(c) >= before + n)?;
            let msg = format!(
                "recorded {n} verification result(s) in case {} (report {report_hash}); the case now has {} records",
                job.case, c.record_count
            );
            if json {
                eprintln!("{msg}");
            } else {
                println!("{msg}");
            }
        }
    }
    Ok(if failed == 0 { 0 } else { 1 })
}
