//! `curia`: the command every user and operator types.
//!
//! Exit codes for verification commands: 0 valid, 1 invalid, 2 unusable input.

mod audit;
mod audit_node;
mod backup;
mod case;
mod demo;
mod evidence;
mod genesis;
mod keys;
mod log_monitor;
mod membership;
mod netcmd;
mod tlsgen;
mod tsa;
mod upgrade;
mod validator;
mod verify_log;
mod witness;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use anyhow::Result;
use clap::{Parser, Subcommand};
use curia_ledger::hash::Hash;
use curia_ledger::receipt::Receipt;
use curia_verifier::escape::terminal;
use curia_verifier::hashing::Progress;

/// Curia: a permissioned blockchain for judicial electronic evidence.
#[derive(Parser)]
#[command(name = "curia", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
    /// For commands that talk to a node over https://: trust only the CA certificate(s) in this
    /// PEM file (as `curia testnet init --tls` writes one). Without it, https:// URLs are checked
    /// against the public web roots; http:// URLs take no CA file.
    #[arg(long, global = true, value_name = "FILE")]
    ca_file: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create an ed25519 key file (secret kept with mode 0600) and print its public key.
    Keygen {
        /// Where to write the key file.
        #[arg(long, short)]
        out: PathBuf,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Print the SHA-256 of files, as a platform deposits it.
    Hash {
        /// Files to hash.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Verify evidence against a receipt and a genesis, offline. Exit 0 valid, 1 invalid, 2 unusable input.
    /// (The same command as the standalone `curia-verify`; with --policy, also an upgraded
    /// receipt's place in the deposit log, its witness cosignatures and its RFC 3161 time stamp.)
    Verify(verify_log::VerifyCmd),
    /// Work with receipts.
    Receipt {
        #[command(subcommand)]
        cmd: ReceiptCmd,
    },
    /// Replay a chain from genesis, from a node's store (--data-dir) or streamed from a node's API
    /// (--node), and check every link, proof, signature and state change. Exit 0 if all is well,
    /// 1 if a problem is found, 2 if the input is unusable or the node cannot be reached.
    Audit(AuditCmd),
    /// The genesis ceremony: build a draft (new, add-validator, add-client, remove), sign it as
    /// a founding validator (sign, collect), check it and every founder signature (check: exit 0
    /// complete, 1 some validators have not signed, 2 anything wrong), publish a printable notice
    /// (publish), or print it (show; `curia genesis FILE` is the same).
    Genesis(genesis::GenesisArgs),
    /// The chain's validator-set history: `curia membership export --node URL --genesis G --out FILE`.
    Membership {
        #[command(subcommand)]
        cmd: membership::MembershipCmd,
    },
    /// Set up and run validator nodes.
    Node {
        #[command(subcommand)]
        cmd: NodeCmd,
    },
    /// Check evidence of misbehaviour offline (`curia evidence verify FILE --genesis GENESIS`).
    Evidence {
        #[command(subcommand)]
        cmd: EvidenceCmd,
    },
    /// Set up local test networks.
    Testnet {
        #[command(subcommand)]
        cmd: TestnetCmd,
    },
    /// Deposit the SHA-256 of files with a platform key; prints each deposit ID.
    Deposit {
        /// Files to deposit (only their digests leave this machine).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The platform's key file.
        #[arg(long)]
        key: PathBuf,
        /// A node's API, e.g. http://127.0.0.1:28000.
        #[arg(long)]
        node: String,
        /// Wait for each deposit to commit and save its receipt (FILE.receipt.json, or in --out).
        #[arg(long)]
        wait: bool,
        /// Folder for receipts.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Seconds to wait for commits.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
    /// Run a case: open it, attach deposits, show its records, verify a party's evidence against
    /// it (with a report a court can file), close it.
    Case {
        #[command(subcommand)]
        cmd: case::CaseCmd,
    },
    /// Print a node's status.
    Status {
        /// A node's API.
        #[arg(long)]
        node: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// RFC 3161 time stamps over a checkpoint: ask a TSA, or verify a token offline.
    Tsa {
        #[command(subcommand)]
        cmd: tsa::TsaCmd,
    },
    /// Change the validator set: propose a change (add, remove, rotate, power), approve it as a
    /// validator, submit it, and list the set in force at a height.
    Validator {
        #[command(subcommand)]
        cmd: validator::ValidatorCmd,
    },
    /// Watch the deposit log for a split view (`curia log monitor`) and check a proof of one
    /// (`curia log check-proof`).
    Log {
        #[command(subcommand)]
        cmd: log_monitor::LogCmd,
    },
    /// Run a transparency-log witness (C2SP tlog-witness) or make its key.
    Witness {
        #[command(subcommand)]
        cmd: witness::WitnessCmd,
    },
    /// Build a small chain in memory, deposit a sample file, and verify its receipt, showing a
    /// tampered file and a tampered receipt rejected.
    Demo {
        /// Directory for the demo's genesis, evidence and receipts.
        #[arg(long, default_value = "target/demo")]
        out: PathBuf,
    },
}

/// Arguments of `curia audit`: one source of the chain, the genesis, the output format.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["data_dir", "node"])))]
struct AuditCmd {
    /// A node's data directory: the store itself, or a directory holding it in `chain/` (opened
    /// read-only, so the node may keep running).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// A node's API, e.g. http://127.0.0.1:28000: stream its chain (GET /v1/chain) and replay it.
    /// Nothing the node says is trusted; give --genesis to check it against your own copy. Needs
    /// --key.
    #[arg(long, value_name = "URL")]
    node: Option<String>,
    /// With --node: the key file that signs each chain request. The chain holds case records, so
    /// the node serves it only to a registered auditor or judge client key, or a court
    /// validator's key.
    #[arg(long, value_name = "FILE", requires = "node")]
    key: Option<PathBuf>,
    /// Genesis file: your own copy of the chain's published genesis. With --data-dir it is
    /// optional (the store records its genesis; if given, the store must hold this chain). With
    /// --node, if absent, the node's own genesis is used and a warning says it was not checked.
    #[arg(long, value_name = "FILE")]
    genesis: Option<PathBuf>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Where the audit keeps its scratch files, removed when the audit ends: with --data-dir,
    /// the index check's bucket files (about 130 bytes per deposit: 13 GB for 100 M deposits)
    /// and, without --in-memory, the replayed state (a 32-byte key per transaction plus
    /// overhead); with --node, the replayed state (a key per transaction) and the files of its
    /// deposit check (41 bytes per deposit, 45 per attached deposit, 88 per block). Memory stays
    /// under 768 MiB either way, whatever the chain's length. Default: the system temp dir.
    #[arg(long, value_name = "DIR")]
    scratch_dir: Option<PathBuf>,
    /// With --data-dir: keep the replayed state in memory instead (about 100 bytes of RAM per
    /// deposit; for small chains and comparisons).
    #[arg(long, requires = "data_dir")]
    in_memory: bool,
}

#[derive(Subcommand)]
enum NodeCmd {
    /// Create a validator key and a config template in a folder.
    Init {
        /// Folder to write.
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// Node name.
        #[arg(long)]
        name: String,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
    },
    /// Run a validator until SIGTERM or Ctrl-C. Logs go to stderr (RUST_LOG sets the level).
    Run {
        /// The node's TOML config.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Ask the running node (at its ops address) for an online backup of its store, written to
    /// DATA_DIR/backups/backup-HEIGHT-MS; prints the folder and the height it holds at least.
    /// Exit 0 done, 2 on error (e.g. the node is not running).
    Backup {
        /// The node's TOML config.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Restore a stopped node's store (DATA_DIR/chain, which must not exist or be empty) from a
    /// backup folder, check it, and print its tip. Read the warning it prints before starting the
    /// node. Exit 0 done, 2 on error.
    Restore {
        /// The node's TOML config.
        #[arg(long, short)]
        config: PathBuf,
        /// The backup folder (as `curia node backup` printed it, or a copy of it).
        #[arg(long, value_name = "DIR")]
        backup: PathBuf,
    },
}

#[derive(Subcommand)]
enum EvidenceCmd {
    /// Check every record in FILE (the answer of `GET /v1/evidence`, or one record of it): both
    /// signed votes decode, conflict, and verify against the validator's key in the set in force
    /// at their height (the genesis set, or the one `--membership` leads to). Exit 0 all check,
    /// 1 a record does not, 2 unusable input.
    Verify {
        /// The evidence JSON.
        file: PathBuf,
        /// The chain's genesis, obtained out of band.
        #[arg(long)]
        genesis: PathBuf,
        /// The chain's membership history (`curia membership export`), needed when the set
        /// changed before an offence; walked from the genesis before it is used.
        #[arg(long, value_name = "FILE")]
        membership: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum TestnetCmd {
    /// Write keys, a genesis and one config per validator (two courts, a notary and a time
    /// service by default) on loopback ports.
    Init {
        /// Number of validators.
        #[arg(long, default_value_t = 4)]
        validators: usize,
        /// Folder to write.
        #[arg(long)]
        out: PathBuf,
        /// First p2p port; APIs use +1000, ops listeners +2000.
        #[arg(long, default_value_t = 27000)]
        base_port: u16,
        /// Write into a non-empty folder.
        #[arg(long)]
        force: bool,
        /// Serve the APIs and ops listeners over TLS: make a local CA (its certificate in
        /// OUT/tls/ca.pem, for clients' --ca-file; its key is not kept) and a certificate for
        /// 127.0.0.1 and localhost per node.
        #[arg(long)]
        tls: bool,
        /// The validators' roles in order, comma-separated (court, notary, timesvc, mediation,
        /// forensic), one per validator; names become `<role>-<n>`. Default: court-a, court-b,
        /// notary, timesvc, then courts.
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
        /// Headers commit to the deposit log and receipts carry each deposit's log position
        /// (header version 4, receipt version 3). Off by default.
        #[arg(long)]
        log_in_header: bool,
    },
}

#[derive(Subcommand)]
enum ReceiptCmd {
    /// Fetch a deposit's receipt from a node (waiting up to --wait seconds for its commit).
    Get {
        /// Deposit ID.
        id: String,
        /// A node's API.
        #[arg(long)]
        node: String,
        /// Save to this file instead of printing.
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Seconds to wait for the commit.
        #[arg(long, default_value_t = 0)]
        wait: u64,
    },
    /// Add the deposit's place in the deposit log (a cosigned, time-stamped checkpoint) to a
    /// receipt, from a running node; checked before it is written.
    #[command(long_about = upgrade::LONG_ABOUT)]
    Upgrade(upgrade::UpgradeCmd),
    /// Show what a receipt says, without verifying it.
    Show {
        /// The receipt (JSON or canonical bytes).
        receipt: PathBuf,
        /// Print canonical JSON instead of a summary.
        #[arg(long)]
        json: bool,
    },
}

/// Catch Ctrl-C: the first sets [`audit::STOP`], a second exits at once.
fn stop_on_ctrl_c() {
    std::thread::spawn(|| {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
        rt.block_on(async {
            if tokio::signal::ctrl_c().await.is_ok() {
                audit::STOP.store(true, Ordering::Relaxed);
                eprintln!("\ncuria audit: stopping after this block (Ctrl-C again to quit at once)");
            }
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(audit::INTERRUPTED);
            }
        });
    });
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // Errors quote what files and nodes said: escaped, like everything from outside.
            eprintln!("error: {}", terminal(&format!("{e:#}")));
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<u8> {
    let ca = cli.ca_file.as_deref();
    match cli.cmd {
        Cmd::Keygen { out, force } => {
            let key = keys::generate()?;
            curia_node::config::write_key(&out, &key, force)?;
            println!("{}", key.public());
            eprintln!("secret key written to {} (keep it safe; mode 0600)", out.display());
            Ok(0)
        }
        Cmd::Hash { files } => {
            for f in files {
                let h = hash_file(&f)?;
                println!("{h}  {}", terminal(&f.display().to_string()));
            }
            Ok(0)
        }
        Cmd::Verify(cmd) => verify_log::run(&cmd),
        Cmd::Receipt { cmd: ReceiptCmd::Show { receipt, json } } => {
            let r = load_receipt(&receipt)?;
            if json {
                println!("{}", r.to_json());
            } else {
                print!("{}", curia_verifier::text::receipt_summary(&r));
            }
            Ok(0)
        }
        Cmd::Genesis(args) => genesis::run(args),
        Cmd::Demo { out } => demo::run(&out),
        Cmd::Audit(AuditCmd { data_dir, node, key, genesis, json, scratch_dir, in_memory }) => match (data_dir, node) {
            (_, Some(url)) => {
                stop_on_ctrl_c();
                audit_node::run(&url, ca, key.as_deref(), genesis.as_deref(), json, scratch_dir.as_deref())
            }
            (Some(data_dir), None) => {
                stop_on_ctrl_c();
                audit::run(&audit::AuditArgs { data_dir, genesis, json, scratch_dir, in_memory })
            }
            (None, None) => unreachable!("clap requires --data-dir or --node"),
        }
        .map(|c| c as u8),
        Cmd::Node { cmd: NodeCmd::Init { out, name, force } } => netcmd::node_init(&out, &name, force).map(|()| 0),
        Cmd::Node { cmd: NodeCmd::Run { config } } => netcmd::node_run(&config).map(|()| 0),
        Cmd::Node { cmd: NodeCmd::Backup { config } } => backup::backup(&config, ca),
        Cmd::Node { cmd: NodeCmd::Restore { config, backup } } => backup::restore(&config, &backup),
        Cmd::Evidence { cmd: EvidenceCmd::Verify { file, genesis, membership } } => {
            evidence::verify(&file, &genesis, membership.as_deref())
        }
        Cmd::Testnet { cmd: TestnetCmd::Init { validators, out, base_port, force, tls, roles, log_in_header } } => {
            netcmd::testnet_init(&out, validators, base_port, force, tls, &roles, log_in_header).map(|()| 0)
        }
        Cmd::Deposit { files, key, node, wait, out, timeout } => {
            netcmd::deposit(&files, &key, &node, ca, wait, out.as_deref(), timeout)
        }
        Cmd::Receipt { cmd: ReceiptCmd::Get { id, node, out, wait } } => {
            netcmd::receipt_get(&node, ca, &id, out.as_deref(), wait)
        }
        Cmd::Receipt { cmd: ReceiptCmd::Upgrade(cmd) } => upgrade::run(&cmd, ca),
        Cmd::Status { node, json } => netcmd::status(&node, ca, json),
        Cmd::Case { cmd } => case::run(cmd, ca),
        Cmd::Witness { cmd } => witness::run(cmd),
        Cmd::Log { cmd } => log_monitor::run(cmd, ca),
        Cmd::Tsa { cmd } => tsa::run(cmd),
        Cmd::Membership { cmd } => membership::run(cmd, ca),
        Cmd::Validator { cmd } => validator::run(cmd, ca),
    }
}

/// SHA-256 of a file, streamed in constant memory, with a progress bar on a terminal for a
/// large file (the one hashing function of `curia` and `curia-verify`).
pub fn hash_file(path: &Path) -> Result<Hash> {
    Ok(curia_verifier::hashing::hash_file(path, Progress::Auto)?.sha256)
}

fn load_genesis(path: &Path) -> Result<curia_ledger::genesis::ChainSpec> {
    Ok(curia_verifier::load::genesis(path)?)
}

/// The genesis at `genesis` and the validator-set history in force: the genesis set alone, or
/// the history file at `membership` walked from the genesis (receipt format 13.2).
fn load_members(
    genesis: &Path,
    membership: Option<&Path>,
) -> Result<(curia_ledger::genesis::ChainSpec, curia_ledger::membership::Membership)> {
    let spec = load_genesis(genesis)?;
    let members = match membership {
        None => curia_ledger::membership::Membership::new(spec.validator_set.clone()),
        Some(path) => {
            let history = curia_verifier::load::membership(path, &spec)?;
            curia_ledger::history::walk_history(&spec, &history.entries).map_err(|f| {
                anyhow::anyhow!("the membership history {} does not verify from the genesis: {f}", path.display())
            })?
        }
    };
    Ok((spec, members))
}

fn load_receipt(path: &Path) -> Result<Receipt> {
    Ok(curia_verifier::load::receipt(path)?)
}
