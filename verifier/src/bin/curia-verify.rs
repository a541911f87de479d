//! `curia-verify`: verify evidence against a Curia receipt and the chain's genesis, offline.
//!
//! The same command as `curia verify` (see [`curia_verifier::cmd`]), in a small program that
//! links only the ledger. Exit status: 0 valid, 1 invalid, 2 unusable input.

use std::process::ExitCode;

use clap::Parser;
use curia_verifier::cmd::{run, VerifyArgs};
use curia_verifier::escape::terminal;

/// Verify evidence against a Curia receipt and the chain's genesis, offline. Exit 0 valid,
/// 1 invalid, 2 unusable input.
#[derive(Parser)]
#[command(name = "curia-verify", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    args: VerifyArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli.args) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("curia-verify: error: {}", terminal(&e.to_string()));
            ExitCode::from(2)
        }
    }
}
