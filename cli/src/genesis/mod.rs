//! `curia genesis`: the genesis ceremony.
//!
//! A coordinator builds a draft (`new`, `add-validator`, `add-client`, `remove`), every founding
//! validator signs its chain ID (`sign`, each on its own machine; `collect` merges the signature
//! files they send back), everyone checks it (`check`), and the coordinator publishes a printable
//! notice (`publish`). Rules:
//! - Every change to a draft is checked by the ledger's own rules (`Genesis::add_validator`,
//!   `Genesis::add_client`, `Genesis::check_draft`), so a draft never holds an entry the final
//!   check would refuse; the file is replaced atomically, and only if the change is accepted.
//! - A draft that already has founder signatures beside it is not changed: any change makes a new
//!   chain ID and voids them. Delete the signature file first (everyone signs again).
//! - Signatures live in `genesis.sigs.json` beside `genesis.json` (or `FILE.sigs.json`), never
//!   in the genesis itself, so they do not change the chain ID.
//! - `check` exits 0 when the genesis is valid, has a court, and every validator signed it;
//!   1 when all that holds except that some validators have not signed (0 with
//!   `--allow-unsigned`); 2 when anything is wrong (invalid genesis, no court, a signature that
//!   does not verify or is for another genesis, unreadable files).
//! - The old form `curia genesis FILE` still works: it is `curia genesis show FILE`.

mod notice;
mod time;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use curia_ledger::crypto::PublicKey;
use curia_ledger::genesis::{
    ChainSpec, Client, ClientRole, FounderCheck, FounderSignatures, Genesis, Params, Validator, ValidatorRole,
};
use curia_ledger::limits::MAX_GENESIS_BYTES;

pub use time::parse_time;

/// Arguments of `curia genesis`.
#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct GenesisArgs {
    #[command(subcommand)]
    cmd: Option<GenesisCmd>,
    /// Older form: `curia genesis FILE` is `curia genesis show FILE`.
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
}

/// The ceremony's steps.
#[derive(Subcommand)]
pub enum GenesisCmd {
    /// Start a draft genesis: chain name, genesis time, parameters; no validators yet.
    New {
        /// The draft to write.
        #[arg(long, short, default_value = "genesis.json")]
        out: PathBuf,
        /// Chain name: 1 to 64 characters of A-Z a-z 0-9 . _ -
        #[arg(long)]
        chain_name: String,
        /// Genesis time, UTC, as 2027-01-04T09:00:00Z (or milliseconds since the Unix epoch).
        /// No block can carry an earlier time.
        #[arg(long)]
        genesis_time: String,
        /// Most transactions in one block.
        #[arg(long, default_value_t = Params::default().max_block_txs)]
        max_block_txs: u32,
        /// Most items in one batch deposit.
        #[arg(long, default_value_t = Params::default().max_batch_items)]
        max_batch_items: u32,
        /// Headers commit to the deposit log and receipts carry each deposit's log position
        /// (header version 4, receipt version 3; docs/receipt-format.md 5.1, 7, 14.1). Off by
        /// default: the genesis and its chain ID are then those of earlier versions.
        #[arg(long)]
        log_in_header: bool,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Add a validator to a draft (refused, with the reason, if the genesis check would refuse it).
    AddValidator {
        /// The draft genesis.
        file: PathBuf,
        /// The validator's name (unique among validators and clients).
        #[arg(long)]
        name: String,
        /// court, notary or timesvc.
        #[arg(long)]
        role: String,
        /// Its public key: 64 hex digits, or a file holding them (as `curia keygen` prints them).
        #[arg(long)]
        key: String,
        /// Voting power (1 to 2^40).
        #[arg(long, default_value_t = 1)]
        power: u64,
        /// The address other validators dial, a libp2p multiaddr with an IP address, e.g.
        /// /ip4/203.0.113.10/tcp/27000.
        #[arg(long)]
        address: String,
    },
    /// Register a client key in a draft (refused, with the reason, if the check would refuse it).
    AddClient {
        /// The draft genesis.
        file: PathBuf,
        /// The client's name (unique among validators and clients).
        #[arg(long)]
        name: String,
        /// platform, judge, auditor or registrar.
        #[arg(long)]
        role: String,
        /// Its public key: 64 hex digits, or a file holding them.
        #[arg(long)]
        key: String,
    },
    /// Remove a validator or client from a draft, by name.
    Remove {
        /// The draft genesis.
        file: PathBuf,
        /// The name to remove.
        #[arg(long)]
        name: String,
    },
    /// Print the chain ID, validators and clients of a genesis, after checking it.
    Show {
        /// The genesis JSON.
        file: PathBuf,
    },
    /// Check a genesis and every founder signature; list the validators that have not signed.
    /// Exit 0 complete, 1 valid but some validators have not signed, 2 anything wrong.
    Check {
        /// The genesis JSON.
        file: PathBuf,
        /// The signature file [default: genesis.sigs.json beside FILE].
        #[arg(long)]
        sigs: Option<PathBuf>,
        /// Exit 0 even if some validators have not signed yet.
        #[arg(long)]
        allow_unsigned: bool,
    },
    /// Sign a genesis as one of its validators, adding the signature to the signature file.
    Sign {
        /// The genesis JSON.
        file: PathBuf,
        /// This validator's key file.
        #[arg(long)]
        key: PathBuf,
        /// The signature file [default: genesis.sigs.json beside FILE].
        #[arg(long)]
        sigs: Option<PathBuf>,
    },
    /// Merge signature files sent back by founders into the genesis's signature file, after
    /// verifying every signature in them.
    Collect {
        /// The genesis JSON.
        file: PathBuf,
        /// Signature files to merge.
        #[arg(required = true)]
        from: Vec<PathBuf>,
        /// The signature file to write [default: genesis.sigs.json beside FILE].
        #[arg(long)]
        sigs: Option<PathBuf>,
    },
    /// Write a printable notice (notice.html, Chinese and English) with the chain ID, its QR code
    /// and the founders, and copies of the genesis and its signatures, into a folder.
    Publish {
        /// The genesis JSON.
        file: PathBuf,
        /// The signature file [default: genesis.sigs.json beside FILE].
        #[arg(long)]
        sigs: Option<PathBuf>,
        /// Folder to write.
        #[arg(long)]
        out: PathBuf,
        /// Publish even if some validators have not signed (the notice says who has not).
        #[arg(long)]
        allow_unsigned: bool,
    },
}

/// Run `curia genesis ...`; returns the exit code.
pub fn run(args: GenesisArgs) -> Result<u8> {
    let cmd = match (args.cmd, args.file) {
        (Some(c), _) => c,
        (None, Some(file)) => GenesisCmd::Show { file },
        (None, None) => {
            bail!("give a subcommand (new, add-validator, add-client, sign, check, publish, ...) or a FILE")
        }
    };
    match cmd {
        GenesisCmd::New { out, chain_name, genesis_time, max_block_txs, max_batch_items, log_in_header, force } => {
            let time = parse_time(&genesis_time)?;
            let mut g = new_draft(&chain_name, time, Params { max_block_txs, max_batch_items })?;
            g.log_in_header = log_in_header;
            anyhow::ensure!(force || !out.exists(), "{} exists (use --force to overwrite)", out.display());
            write_atomic(&out, &(g.to_json() + "\n"))?;
            println!("draft genesis of chain {chain_name} written to {}", out.display());
            println!("genesis time {}", curia_ledger::verify::format_utc(time));
            if log_in_header {
                println!("headers commit to the deposit log (header version 4, receipt version 3)");
            }
            Ok(0)
        }
        GenesisCmd::AddValidator { file, name, role, key, power, address } => {
            let role = ValidatorRole::parse(&role)?;
            let key = read_public_key(&key)?;
            change_draft(&file, |g| {
                g.add_validator(Validator { name: name.clone(), role, key, power, address })?;
                Ok(format!("validator {name} ({}) added", role.as_str()))
            })
        }
        GenesisCmd::AddClient { file, name, role, key } => {
            let role = ClientRole::parse(&role)?;
            let key = read_public_key(&key)?;
            change_draft(&file, |g| {
                g.add_client(Client { name: name.clone(), role, key })?;
                Ok(format!("client {name} ({}) added", role.as_str()))
            })
        }
        GenesisCmd::Remove { file, name } => change_draft(&file, |g| {
            let (nv, nc) = (g.validators.len(), g.clients.len());
            g.validators.retain(|v| v.name != name);
            g.clients.retain(|c| c.name != name);
            anyhow::ensure!(nv + nc != g.validators.len() + g.clients.len(), "no validator or client is named {name}");
            Ok(format!("{name} removed"))
        }),
        GenesisCmd::Show { file } => {
            let spec = load_spec(&file)?;
            print_spec(&spec);
            Ok(0)
        }
        GenesisCmd::Check { file, sigs, allow_unsigned } => check(&file, sigs, allow_unsigned),
        GenesisCmd::Sign { file, key, sigs } => {
            let spec = load_founding_spec(&file)?;
            let key = curia_node::config::read_key(&key)?;
            let sig = spec.founder_sign(&key)?;
            let sigs_path = sigs.unwrap_or_else(|| sigs_path_for(&file));
            let mut all = load_sigs_for(&sigs_path, &spec)?.unwrap_or_else(|| FounderSignatures::new(spec.chain_id));
            let name = sig.validator.clone();
            all.insert(sig);
            write_atomic(&sigs_path, &(all.to_json() + "\n"))?;
            println!("{name} signed chain {}", spec.chain_id);
            println!("signature written to {}", sigs_path.display());
            Ok(0)
        }
        GenesisCmd::Collect { file, from, sigs } => {
            let spec = load_founding_spec(&file)?;
            let sigs_path = sigs.unwrap_or_else(|| sigs_path_for(&file));
            let mut all = load_sigs_for(&sigs_path, &spec)?.unwrap_or_else(|| FounderSignatures::new(spec.chain_id));
            for f in &from {
                let other = read_sigs(f)?;
                let c = spec.check_founders(&other);
                if !c.problems.is_empty() {
                    bail!("{} refused: {}", f.display(), c.problems.join("; "));
                }
                for s in other.signatures {
                    println!("{} signed ({})", s.validator, f.display());
                    all.insert(s);
                }
            }
            write_atomic(&sigs_path, &(all.to_json() + "\n"))?;
            let c = spec.check_founders(&all);
            println!(
                "{} of {} validators have signed; written to {}",
                c.signed.len(),
                spec.genesis.validators.len(),
                sigs_path.display()
            );
            Ok(0)
        }
        GenesisCmd::Publish { file, sigs, out, allow_unsigned } => {
            let spec = load_founding_spec(&file)?;
            let sigs_path = sigs.unwrap_or_else(|| sigs_path_for(&file));
            let all = load_sigs_for(&sigs_path, &spec)?.unwrap_or_else(|| FounderSignatures::new(spec.chain_id));
            let c = spec.check_founders(&all);
            if !c.problems.is_empty() {
                bail!("{}: {}", sigs_path.display(), c.problems.join("; "));
            }
            if !c.unsigned.is_empty() && !allow_unsigned {
                bail!(
                    "not signed yet by {} (use --allow-unsigned to publish anyway)",
                    names(&spec, &c.unsigned).join(", ")
                );
            }
            std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
            write_atomic(&out.join("genesis.json"), &(spec.genesis.to_json() + "\n"))?;
            write_atomic(&out.join("genesis.sigs.json"), &(all.to_json() + "\n"))?;
            let html = notice::render(&spec, &c)?;
            write_atomic(&out.join("notice.html"), &html)?;
            println!("chain     {} ({})", spec.chain_id, spec.genesis.chain_name);
            println!("published {} , genesis.json and genesis.sigs.json", out.join("notice.html").display());
            Ok(0)
        }
    }
}

/// A new, empty draft: no validators or clients yet; name and params checked now.
pub fn new_draft(chain_name: &str, genesis_time_ms: u64, params: Params) -> Result<Genesis> {
    let g = Genesis {
        version: 1,
        chain_name: chain_name.into(),
        genesis_time_ms,
        validators: vec![],
        clients: vec![],
        params,
        log_in_header: false,
    };
    g.check_draft()?;
    Ok(g)
}

/// Where the signatures of a genesis file live by default: `genesis.json` -> `genesis.sigs.json`,
/// any other `FILE` -> `FILE.sigs.json`.
pub fn sigs_path_for(genesis: &Path) -> PathBuf {
    let name = genesis.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let sigs = match name.strip_suffix(".json") {
        Some(stem) => format!("{stem}.sigs.json"),
        None => format!("{name}.sigs.json"),
    };
    genesis.with_file_name(sigs)
}

/// Sign `spec` with `key` into the signature file at `path` (created if absent).
pub fn sign_into(path: &Path, spec: &ChainSpec, key: &curia_ledger::crypto::SecretKey) -> Result<()> {
    let mut all = load_sigs_for(path, spec)?.unwrap_or_else(|| FounderSignatures::new(spec.chain_id));
    all.insert(spec.founder_sign(key)?);
    write_atomic(path, &(all.to_json() + "\n"))
}

fn check(file: &Path, sigs: Option<PathBuf>, allow_unsigned: bool) -> Result<u8> {
    let spec = load_spec(file)?;
    print_spec(&spec);
    if let Err(e) = spec.check_founding() {
        println!("REFUSED   {e}");
        return Ok(2);
    }
    let sigs_path = sigs.unwrap_or_else(|| sigs_path_for(file));
    let c = if sigs_path.exists() {
        let all = read_sigs(&sigs_path)?;
        spec.check_founders(&all)
    } else {
        println!("no signature file {}: no validator has signed", sigs_path.display());
        FounderCheck { signed: vec![], unsigned: (0..spec.genesis.validators.len()).collect(), problems: vec![] }
    };
    for &i in &c.signed {
        println!("signed    {}", spec.genesis.validators[i].name);
    }
    for &i in &c.unsigned {
        println!("UNSIGNED  {}", spec.genesis.validators[i].name);
    }
    for p in &c.problems {
        println!("BAD       {p}");
    }
    if !c.problems.is_empty() {
        println!("REFUSED   the signature file {} has problems", sigs_path.display());
        return Ok(2);
    }
    if !c.unsigned.is_empty() {
        println!("INCOMPLETE {} of {} validators have not signed", c.unsigned.len(), spec.genesis.validators.len());
        return Ok(if allow_unsigned { 0 } else { 1 });
    }
    println!("COMPLETE  every validator signed chain {}", spec.chain_id);
    Ok(0)
}

fn print_spec(spec: &ChainSpec) {
    println!("chain     {} ({})", spec.chain_id, spec.genesis.chain_name);
    for (i, v) in spec.genesis.validators.iter().enumerate() {
        println!("validator {i} {} {} power {} {}", v.name, v.role.as_str(), v.power, v.key);
    }
    for c in &spec.genesis.clients {
        println!("client    {} {} {}", c.name, c.role.as_str(), c.key);
    }
}

fn names(spec: &ChainSpec, idx: &[usize]) -> Vec<String> {
    idx.iter().map(|&i| spec.genesis.validators[i].name.clone()).collect()
}

/// Apply a change to a draft and save it, if the result still keeps every rule and no founder
/// signatures would be voided.
fn change_draft(file: &Path, f: impl FnOnce(&mut Genesis) -> Result<String>) -> Result<u8> {
    let sigs = sigs_path_for(file);
    if sigs.exists() {
        bail!(
            "{} exists: changing the genesis makes a new chain ID and voids those signatures; \
             delete it first (every founder then signs again)",
            sigs.display()
        );
    }
    let mut g = load_draft(file)?;
    let msg = f(&mut g)?;
    g.check_draft()?;
    write_atomic(file, &(g.to_json() + "\n"))?;
    println!("{msg}; {} validator(s), {} client(s) in {}", g.validators.len(), g.clients.len(), file.display());
    Ok(0)
}

fn read_bounded(path: &Path, max: usize) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    anyhow::ensure!(meta.len() <= max as u64, "{} is larger than {max} bytes", path.display());
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// A draft: parsed and checked by every rule except "at least one validator".
pub fn load_draft(path: &Path) -> Result<Genesis> {
    let bytes = read_bounded(path, MAX_GENESIS_BYTES)?;
    let g: Genesis =
        serde_json::from_slice(&bytes).with_context(|| format!("genesis {} is not valid JSON", path.display()))?;
    g.check_draft().with_context(|| format!("genesis {}", path.display()))?;
    Ok(g)
}

fn load_spec(path: &Path) -> Result<ChainSpec> {
    let bytes = read_bounded(path, MAX_GENESIS_BYTES)?;
    Genesis::from_json(&bytes).with_context(|| format!("genesis {}", path.display()))
}

/// A valid genesis that also keeps the founding rules (a court).
fn load_founding_spec(path: &Path) -> Result<ChainSpec> {
    let spec = load_spec(path)?;
    spec.check_founding().with_context(|| format!("genesis {}", path.display()))?;
    Ok(spec)
}

fn read_sigs(path: &Path) -> Result<FounderSignatures> {
    let bytes = read_bounded(path, 1 << 20)?;
    FounderSignatures::from_json(&bytes).with_context(|| format!("signature file {}", path.display()))
}

/// The signature file at `path` if it exists; refused if it is for another genesis or holds a
/// signature that does not verify (so signing never mixes chains or keeps a forged entry).
fn load_sigs_for(path: &Path, spec: &ChainSpec) -> Result<Option<FounderSignatures>> {
    if !path.exists() {
        return Ok(None);
    }
    let all = read_sigs(path)?;
    let c = spec.check_founders(&all);
    if !c.problems.is_empty() {
        bail!("{}: {} (move it away to start a new signature file)", path.display(), c.problems.join("; "));
    }
    Ok(Some(all))
}

/// A public key given as 64 hex digits, or as a file holding them (surrounding whitespace
/// ignored). A secret key file is refused: the coordinator needs only the public key.
pub fn read_public_key(arg: &str) -> Result<PublicKey> {
    let looks_hex = arg.len() == 64 && arg.bytes().all(|b| b.is_ascii_hexdigit());
    if looks_hex && !Path::new(arg).exists() {
        return Ok(PublicKey::from_hex(arg)?);
    }
    let path = Path::new(arg);
    let bytes =
        read_bounded(path, 4096).with_context(|| format!("--key {arg}: neither 64 hex digits nor a readable file"))?;
    let text = String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{}: not text", path.display()))?;
    if text.contains("curia-ed25519-secret-key") {
        bail!(
            "{} is a secret key file: give only the public key (64 hex digits, as `curia keygen` prints it); \
             the secret must not leave its owner",
            path.display()
        );
    }
    PublicKey::from_hex(text.trim())
        .with_context(|| format!("{}: expected 64 hex digits of a public key", path.display()))
}

/// Write a file through a temporary file and a rename, so a reader never sees half of it.
pub fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}
