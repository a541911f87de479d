//! `curia audit`: replay a node's stored chain from genesis and check every link, proof,
//! signature, state change and index, with a progress bar and a summary (or JSON).
//!
//! Exit codes: 0 the chain is good, 1 a problem was found (the summary names the first bad
//! height and why), 2 the input is unusable (no store, unreadable genesis, another chain).

use std::path::PathBuf;
use std::time::Instant;

use curia_ledger::genesis::Genesis;
use curia_storage::{audit_store, Store};
use indicatif::{ProgressBar, ProgressStyle};

/// Arguments of `curia audit`.
#[derive(clap::Args, Debug, Clone)]
pub struct AuditArgs {
    /// The node's data directory: the store itself, or a directory holding it in `chain/`.
    #[arg(long, value_name = "DIR")]
    pub data_dir: PathBuf,
    /// Genesis file. Optional: the store records its genesis; if given, the store must hold
    /// this chain.
    #[arg(long, value_name = "FILE")]
    pub genesis: Option<PathBuf>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Run the audit. Returns the process exit code.
pub fn run(args: &AuditArgs) -> anyhow::Result<i32> {
    let unusable = |msg: String| -> anyhow::Result<i32> {
        if args.json {
            println!("{}", serde_json::json!({ "ok": false, "error": msg, "exit_code": 2 }));
        } else {
            eprintln!("curia audit: {msg}");
        }
        Ok(2)
    };
    let spec = match &args.genesis {
        None => None,
        Some(path) => {
            let bytes = match std::fs::read(path) {
                Ok(b) => b,
                Err(e) => return unusable(format!("cannot read genesis {}: {e}", path.display())),
            };
            match Genesis::from_json(&bytes) {
                Ok(s) => Some(s),
                Err(e) => return unusable(format!("genesis {} is invalid: {e}", path.display())),
            }
        }
    };
    let dir = curia_storage::locate_store(&args.data_dir);
    let store = match Store::open_read_only(&dir) {
        Ok(s) => s,
        Err(e) => return unusable(format!("cannot open store: {e}")),
    };
    let tip = store.tip();
    let bar = ProgressBar::new(tip.height);
    bar.set_style(
        ProgressStyle::with_template("{spinner} auditing [{bar:40}] block {pos}/{len} {msg} ({eta} left)")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let started = Instant::now();
    let result = audit_store(&store, spec.as_ref(), |p| {
        bar.set_position(p.height);
        if p.height % 64 == 0 || p.height == p.tip {
            bar.set_message(format!("{} deposits", p.deposits));
        }
    });
    bar.finish_and_clear();
    let summary = match result {
        Ok(s) => s,
        Err(e) => return unusable(e.to_string()),
    };
    let code = if summary.failure.is_some() { 1 } else { 0 };
    if args.json {
        let mut v = serde_json::to_value(&summary)?;
        v["ok"] = serde_json::Value::Bool(code == 0);
        v["chain_id"] = serde_json::Value::String(store.spec().chain_id.to_hex());
        v["seconds"] = serde_json::json!(started.elapsed().as_secs_f64());
        v["exit_code"] = serde_json::json!(code);
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("store      {}", dir.display());
        println!("chain      {}", store.spec().chain_id);
        println!("blocks     {}", summary.blocks);
        println!("txs        {}", summary.txs);
        println!("deposits   {}", summary.deposits);
        println!("cases      {} ({} records)", summary.cases, summary.case_records);
        println!("registry   {} changes", summary.registry_changes);
        println!("last good  height {} {}", summary.height, summary.tip_hash);
        println!("time       {:.1} s", started.elapsed().as_secs_f64());
        match &summary.failure {
            None => println!("result     OK: every block from genesis to height {} checks out", summary.height),
            Some(f) => println!("result     FAILED at height {}: {} [{}]", f.height, f.reason, f.code),
        }
    }
    Ok(code)
}
