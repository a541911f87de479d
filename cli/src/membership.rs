//! `curia membership export`: write a chain's membership history (receipt format 13) to a file.
//!
//! Rules:
//! - The history comes from a node's API (`--node`, `GET /v1/membership`) or from a stopped
//!   node's store (`--data-dir`, opened read-only). Either way it is walked from the genesis
//!   (given with `--genesis`, or the store's own) before it is written, so a file that would not
//!   verify is never written; the node's word is not trusted.
//! - The file is the JSON document `GET /v1/membership` serves (`--binary`: its canonical bytes,
//!   `CURIAMEM...`). `curia verify --membership FILE` reads either.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use curia_ledger::codec::Canonical;
use curia_ledger::genesis::ChainSpec;
use curia_ledger::history::{walk_history, MembershipHistory};

/// `curia membership ...`.
#[derive(clap::Subcommand)]
pub enum MembershipCmd {
    /// Write the chain's membership history (every validator-set change with the proof that the
    /// chain committed it) to a file a judge can use with `curia verify --membership`.
    Export {
        /// A node's API, e.g. http://127.0.0.1:28000.
        #[arg(long, required_unless_present = "data_dir", conflicts_with = "data_dir")]
        node: Option<String>,
        /// A stopped node's data directory (read-only) instead of a node's API.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// The genesis to check the history against (default: the store's own with --data-dir;
        /// required with --node).
        #[arg(long)]
        genesis: Option<PathBuf>,
        /// Where to write the history.
        #[arg(long, short)]
        out: PathBuf,
        /// Write canonical bytes instead of JSON.
        #[arg(long)]
        binary: bool,
    },
}

/// Run a membership command; the exit code.
pub fn run(cmd: MembershipCmd, ca_file: Option<&Path>) -> Result<u8> {
    match cmd {
        MembershipCmd::Export { node, data_dir, genesis, out, binary } => {
            let given = genesis.as_deref().map(crate::load_genesis).transpose()?;
            let (spec, history) = match (node, data_dir) {
                (Some(url), _) => {
                    let Some(spec) = given else {
                        bail!("--genesis is required with --node (the node's word is not trusted)")
                    };
                    let h = crate::netcmd::client(&url, ca_file)?.membership().context("GET /v1/membership")?;
                    (spec, h)
                }
                (None, Some(dir)) => {
                    let store = curia_storage::Store::open_read_only(curia_storage::locate_store(&dir))
                        .with_context(|| format!("opening the store in {}", dir.display()))?;
                    let spec = given.unwrap_or_else(|| store.spec().clone());
                    let entries = store.membership_history().context("reading the membership history")?;
                    (spec, MembershipHistory::new(store.spec().chain_id, entries))
                }
                (None, None) => bail!("give --node or --data-dir"),
            };
            check(&spec, &history)?;
            let bytes = if binary { history.to_bytes() } else { (history.to_json() + "\n").into_bytes() };
            std::fs::write(&out, bytes).with_context(|| format!("writing {}", out.display()))?;
            println!(
                "{} membership change(s) of chain {} written to {}",
                history.entries.len(),
                history.chain_id,
                out.display()
            );
            Ok(0)
        }
    }
}

fn check(spec: &ChainSpec, h: &MembershipHistory) -> Result<()> {
    if h.chain_id != spec.chain_id {
        bail!("the history is for chain {}, the genesis founds {}", h.chain_id, spec.chain_id);
    }
    walk_history(spec, &h.entries).map_err(|f| anyhow::anyhow!("the history does not verify: {f}"))?;
    Ok(())
}
