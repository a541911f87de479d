//! `curia witness`: a C2SP tlog-witness server an institution outside the validator set runs.
//!
//! - `keygen`: a new witness key (Go's `PRIVATE+KEY+...` signer key format, mode 0600) and its
//!   cosignature verifier key, which clients configure.
//! - `run --config witness.toml`: the server ([`server`]) with its configuration ([`config`]) and
//!   its durable record of the latest cosigned checkpoint per log ([`store`]).
//!
//! The protocol's decisions are `curia_transparency::witness`'s; this module only does the I/O.
//! The node does not depend on it.

pub mod config;
pub mod server;
pub mod store;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use curia_transparency::note::{KeyKind, Signer};

/// `curia witness ...`
#[derive(Subcommand)]
pub enum WitnessCmd {
    /// Create a witness key: writes the secret signer key (mode 0600) and prints the
    /// cosignature verifier key (vkey) that logs and clients configure.
    Keygen {
        /// The witness's name, a schema-less URL such as `witness.bar-association.example/w1`.
        #[arg(long)]
        name: String,
        /// Where to write the secret key.
        #[arg(long, short)]
        out: PathBuf,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Run the witness server (POST /add-checkpoint, GET /<sha256(origin)>/checkpoint).
    Run {
        /// The configuration file (TOML; see docs/transparency.md).
        #[arg(long)]
        config: PathBuf,
    },
}

/// Runs a `curia witness` subcommand.
pub fn run(cmd: WitnessCmd) -> Result<u8> {
    match cmd {
        WitnessCmd::Keygen { name, out, force } => {
            let mut seed = [0u8; 32];
            getrandom::getrandom(&mut seed)
                .map_err(|e| anyhow::anyhow!("no randomness from the operating system: {e}"))?;
            let signer = Signer::from_seed(&name, &seed)?;
            write_secret(&out, &signer.to_skey(), force)?;
            println!("{}", signer.verifier(KeyKind::CosignatureV1).to_vkey());
            eprintln!("secret witness key written to {} (keep it safe; mode 0600)", out.display());
            Ok(0)
        }
        WitnessCmd::Run { config } => {
            let cfg = config::load(&config)?;
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(server::run(cfg))?;
            Ok(0)
        }
    }
}

/// Writes a secret key file (one line) with mode 0600, refusing to overwrite unless `force`.
fn write_secret(path: &Path, text: &str, force: bool) -> Result<()> {
    curia_node::config::write_private(path, &format!("{text}\n"), force)
        .with_context(|| format!("cannot write key {}", path.display()))
}

/// Reads a witness key file (one `PRIVATE+KEY+...` line, at most 1 KiB).
pub fn read_secret(path: &Path) -> Result<Signer> {
    let meta = std::fs::metadata(path).with_context(|| format!("witness key {}", path.display()))?;
    if meta.len() > 1024 {
        bail!("witness key {} is larger than 1 KiB", path.display());
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("witness key {}", path.display()))?;
    let line = text.strip_suffix('\n').unwrap_or(&text);
    Signer::parse(line).with_context(|| format!("witness key {}", path.display()))
}
