//! `curia audit`: replay a node's stored chain from genesis and check every link, proof,
//! signature, state change and index, with a progress bar and a summary (or JSON).
//!
//! Exit codes: 0 the chain is good, 1 a problem was found (the summary names the first bad
//! height and why), 2 the input is unusable (no store, unreadable genesis, another chain).
//!
//! This file audits a local store (`--data-dir`) and holds the progress bar, summary and exit
//! codes that `--node` (cli/src/audit_node.rs) shares. Text from outside (a node's answers, the
//! reasons a chain fails, paths) is escaped before it is printed
//! ([`curia_verifier::escape::terminal`]); the JSON output is serde's. It uses only the ledger and storage
//! crates, so that `storage/tests/it/cli_audit.rs` can compile it on its own.
//!
//! The replayed state is a scratch database on disk ([`curia_storage::ScratchState`], under
//! `--scratch-dir` or the system temp dir), so memory stays bounded whatever the chain's length;
//! it is removed when the audit ends, on success, on failure and on Ctrl-C ([`STOP`]: the audit
//! stops after the current block; a second Ctrl-C exits at once and may leave it behind).

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use curia_ledger::audit::AuditSummary;
use curia_ledger::genesis::Genesis;
use curia_ledger::Hash;
use curia_storage::{audit_store, AuditOptions, Store, StoreError, StoreOptions};
use curia_verifier::escape::terminal;
use indicatif::{ProgressBar, ProgressStyle};

/// Arguments of `curia audit --data-dir`.
#[derive(Debug, Clone)]
pub struct AuditArgs {
    /// The node's data directory: the store itself, or a directory holding it in `chain/`.
    pub data_dir: PathBuf,
    /// Genesis file. Optional: the store records its genesis; if given, the store must hold
    /// this chain.
    pub genesis: Option<PathBuf>,
    /// Print the summary as JSON on stdout.
    pub json: bool,
    /// Where to put the scratch state (the system temp dir if `None`).
    pub scratch_dir: Option<PathBuf>,
    /// Replay in memory instead of a scratch state on disk.
    pub in_memory: bool,
}

/// Set on Ctrl-C (by `curia`'s Ctrl-C handler): the audit stops after the current block and removes
/// its scratch state.
pub static STOP: AtomicBool = AtomicBool::new(false);

/// Exit code of an audit stopped by Ctrl-C (128 + SIGINT).
pub const INTERRUPTED: i32 = 130;

/// Report unusable input (exit code 2): JSON on stdout with `--json`, else a line on stderr.
pub fn unusable(json: bool, msg: &str) -> i32 {
    if json {
        println!("{}", serde_json::json!({ "ok": false, "error": msg, "exit_code": 2 }));
    } else {
        eprintln!("curia audit: {}", terminal(msg));
    }
    2
}

/// The audit's progress bar over `len` blocks (hidden when stderr is not a terminal).
pub fn progress_bar(len: u64) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{spinner} auditing [{bar:40}] block {pos}/{len} {msg} ({eta} left)")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar
}

/// Where the audited chain came from, for the report.
pub struct Source<'a> {
    /// Label of the first summary line (`store` or `node`).
    pub label: &'static str,
    /// The store's directory or the node's URL.
    pub value: String,
    /// Extra fields of the JSON output.
    pub extra: Vec<(&'a str, serde_json::Value)>,
}

/// Print the summary (or JSON) and return the exit code: 0 if no problem, 1 if one was found.
pub fn report(
    json: bool,
    source: Source<'_>,
    chain_id: &Hash,
    summary: &AuditSummary,
    started: Instant,
) -> anyhow::Result<i32> {
    let code = if summary.failure.is_some() { 1 } else { 0 };
    if json {
        let mut v = serde_json::to_value(summary)?;
        v["ok"] = serde_json::Value::Bool(code == 0);
        v["chain_id"] = serde_json::Value::String(chain_id.to_hex());
        v[source.label] = serde_json::Value::String(source.value);
        for (k, x) in source.extra {
            v[k] = x;
        }
        v["seconds"] = serde_json::json!(started.elapsed().as_secs_f64());
        v["exit_code"] = serde_json::json!(code);
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("{:<10} {}", source.label, terminal(&source.value));
        println!("chain      {chain_id}");
        println!("blocks     {}", summary.blocks);
        println!("txs        {}", summary.txs);
        println!("deposits   {}", summary.deposits);
        println!("cases      {} ({} records)", summary.cases, summary.case_records);
        println!("registry   {} changes", summary.registry_changes);
        println!("last good  height {} {}", summary.height, summary.tip_hash);
        println!("time       {:.1} s", started.elapsed().as_secs_f64());
        match &summary.failure {
            None => println!("result     OK: every block from genesis to height {} checks out", summary.height),
            Some(f) => println!("result     FAILED at height {}: {} [{}]", f.height, terminal(&f.reason), f.code),
        }
        print_evidence(&summary.evidence);
    }
    Ok(code)
}

/// The "Misbehaviour evidence" section: every offence recorded by the replayed evidence
/// transactions (the JSON output has them as `evidence`).
fn print_evidence(evidence: &[curia_ledger::audit::AuditEvidence]) {
    println!();
    println!("Misbehaviour evidence ({} recorded on chain)", evidence.len());
    for e in evidence {
        let what = if e.kind == "proposal" { "double proposal".to_string() } else { format!("double {}", e.kind) };
        println!(
            "  {} {} at height {} round {}: {what}, recorded in block {}",
            terminal(&e.offender),
            e.offender_key,
            e.height,
            e.round,
            e.block_height
        );
    }
}

/// Run the audit of a local store. Returns the process exit code.
pub fn run(args: &AuditArgs) -> anyhow::Result<i32> {
    let spec = match &args.genesis {
        None => None,
        Some(path) => {
            let bytes = match std::fs::read(path) {
                Ok(b) => b,
                Err(e) => return Ok(unusable(args.json, &format!("cannot read genesis {}: {e}", path.display()))),
            };
            match Genesis::from_json(&bytes) {
                Ok(s) => Some(s),
                Err(e) => return Ok(unusable(args.json, &format!("genesis {} is invalid: {e}", path.display()))),
            }
        }
    };
    let dir = curia_storage::locate_store(&args.data_dir);
    // The audit's share of its memory budget: a block cache and a bound on open table files
    // (docs/performance.md, "Audit").
    let tuning = StoreOptions::audit();
    let store = match Store::open_read_only_with(&dir, &tuning) {
        Ok(s) => s,
        Err(e) => return Ok(unusable(args.json, &format!("cannot open store: {e}"))),
    };
    let tip = store.tip();
    let bar = progress_bar(tip.height);
    let started = Instant::now();
    let options = AuditOptions {
        scratch_parent: args.scratch_dir.clone(),
        in_memory: args.in_memory,
        stop: Some(&STOP),
        ..AuditOptions::default()
    };
    let result = audit_store(&store, spec.as_ref(), &options, |p| {
        bar.set_position(p.height);
        if p.height % 64 == 0 || p.height == p.tip {
            bar.set_message(format!("{} deposits", p.deposits));
        }
    });
    bar.finish_and_clear();
    let summary = match result {
        Ok(s) => s,
        Err(e @ StoreError::Interrupted { .. }) => {
            unusable(args.json, &format!("{e}; the scratch state was removed"));
            return Ok(INTERRUPTED);
        }
        Err(e) => return Ok(unusable(args.json, &e.to_string())),
    };
    let source = Source { label: "store", value: dir.display().to_string(), extra: vec![] };
    report(args.json, source, &store.spec().chain_id, &summary, started)
}
