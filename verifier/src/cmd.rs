//! The offline verify command, shared by `curia verify` and `curia-verify` so that the two cannot
//! drift: the same arguments ([`VerifyArgs`]), the same steps ([`verify`]), the same output.
//!
//! Rules:
//! - The genesis and the receipt are read (bounded) and parsed before the evidence is hashed, so
//!   a wrong file is reported at once rather than after hashing gigabytes.
//! - The evidence file is hashed streaming ([`crate::hashing`]): any size, constant memory; its
//!   length is checked against the deposited length, exactly as if the bytes were given.
//! - `--digest HEX` verifies a digest only (the length cannot be checked); a malformed value is
//!   unusable input.
//! - A receipt signed by a set other than the genesis set carries the membership history it
//!   needs (receipt format 13). `--membership FILE` (a history from `curia membership export`)
//!   is used only for a receipt that carries none: the entries in force at its height are taken
//!   from the file. A receipt's own history always wins.
//! - Exit status ([`Outcome::exit_code`]): 0 valid, 1 invalid; unusable input is an [`Error`],
//!   which the binaries turn into exit status 2.

use std::path::PathBuf;

use curia_ledger::genesis::ChainSpec;
use curia_ledger::hash::Hash;
use curia_ledger::receipt::Receipt;
use curia_ledger::verify::{verify_receipt, Evidence, Report};

use crate::hashing::{hash_file, Progress};
use crate::{load, text, Error};

/// Arguments of the offline verification (`curia verify`, `curia-verify`).
#[derive(clap::Args, Debug, Clone)]
pub struct VerifyArgs {
    /// The evidence file, of any size (omit it and give --digest to verify a digest only).
    pub file: Option<PathBuf>,
    /// The evidence's SHA-256 in hex (64 digits), when the file itself is not at hand. Its size
    /// is then not checked.
    #[arg(long, conflicts_with = "file", value_name = "HEX")]
    pub digest: Option<String>,
    /// The receipt (JSON or canonical bytes).
    #[arg(long, short)]
    pub receipt: PathBuf,
    /// The chain's genesis JSON, obtained from the court, not from the party presenting the receipt.
    #[arg(long, short)]
    pub genesis: PathBuf,
    /// Print the report as JSON (and no progress bar).
    #[arg(long)]
    pub json: bool,
    /// A membership history (`curia membership export`), for a receipt that embeds none; a
    /// receipt's own history wins (receipt format 13).
    #[arg(long, value_name = "FILE")]
    pub membership: Option<PathBuf>,
}

/// What a verification found.
#[derive(Debug)]
pub struct Outcome {
    /// The ledger's report, check by check.
    pub report: Report,
    /// The receipt verified.
    pub receipt: Receipt,
    /// The genesis it was verified against.
    pub spec: ChainSpec,
    /// How the evidence is named in the text report.
    pub evidence_name: String,
}

impl Outcome {
    /// 0 if valid, 1 if invalid.
    pub fn exit_code(&self) -> u8 {
        if self.report.is_valid() {
            0
        } else {
            1
        }
    }

    /// The report as `--json` prints it (the ledger's report, pretty JSON).
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(&self.report).expect("a report serializes")
    }

    /// The report as a person reads it, check by check, every untrusted value escaped.
    pub fn text(&self) -> String {
        text::verification(&self.report, &self.receipt, &self.evidence_name, &self.spec)
    }
}

/// Verify, without printing (see the module rules).
pub fn verify(args: &VerifyArgs) -> Result<Outcome, Error> {
    let spec = load::genesis(&args.genesis)?;
    let mut receipt = load::receipt(&args.receipt)?;
    if let Some(path) = &args.membership {
        let history = load::membership(path, &spec)?;
        if receipt.membership.is_empty() {
            let entries = curia_ledger::history::entries_for_height(&history.entries, receipt.header.height);
            receipt = receipt.with_history(entries);
        }
    }
    let (evidence, evidence_name) = match (&args.file, &args.digest) {
        (Some(f), _) => {
            let progress = if args.json { Progress::Hidden } else { Progress::Auto };
            let h = hash_file(f, progress)?;
            (Evidence::Hashed { sha256: h.sha256, len: h.len }, format!("{} ({} bytes)", f.display(), h.len))
        }
        (None, Some(d)) => {
            let d = Hash::from_hex(d.trim()).map_err(Error::Digest)?;
            (Evidence::Digest(d), "(digest given)".to_string())
        }
        (None, None) => return Err(Error::NoEvidence),
    };
    let report = verify_receipt(evidence, &receipt, &spec);
    Ok(Outcome { report, receipt, spec, evidence_name })
}

/// Verify and print the report (JSON with `--json`) on stdout; the exit code (0 valid, 1 invalid).
pub fn run(args: &VerifyArgs) -> Result<u8, Error> {
    let out = verify(args)?;
    if args.json {
        println!("{}", out.json());
    } else {
        print!("{}", out.text());
    }
    Ok(out.exit_code())
}
