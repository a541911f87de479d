//! `curia case open|attach|show|close|verify`: a judge's case workflow against a node.
//!
//! Where things are:
//! - this file: the clap command types, [`run`], and `open`, `attach`, `show`, `close`;
//! - [`client`]: the node client ([`client::Node`]): signed reads, transactions, API errors, waiting;
//! - [`verify`]: `case verify`: matching evidence files to deposits, reasons, `--record`;
//! - [`report`]: the verification report and its text, JSON and HTML forms.
//!
//! Rules:
//! - Case transactions are built and signed by this command with the judge's key and sent with
//!   `POST /v1/transactions`. The node checks case rules only when it builds a block (a refused
//!   case transaction is simply never committed), so each command first checks what it can
//!   (the case exists, is open and is the key's; a deposit exists and is not attached yet) and
//!   `--wait` watches the case until the change shows.
//! - Evidence files never leave the machine: only their SHA-256 is sent, to look up deposits.
//! - `attach` resolves every file and deposit ID before it sends anything: one that is wrong
//!   attaches nothing.
//! - Case records are read with signed requests (see [`client`]); `verify` trusts the judge's own
//!   genesis file, not the node (see [`verify`]).
//! - Every string from the node, the chain or a party's folder is escaped before it is printed
//!   ([`curia_verifier::escape`]).

mod client;
mod reason;
mod report;
mod verify;

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use curia_ledger::hash::Hash;
use curia_ledger::tx::{check_case_id, Payload};
use curia_ledger::verify::format_utc;
use curia_verifier::escape::terminal;

use client::{attached, CaseView, Node};
use curia_client::types::CaseEvent;

/// Open, fill, read, verify and close cases (judges; `show` also auditors and courts).
#[derive(Subcommand)]
pub enum CaseCmd {
    /// Open a new case on the chain, owned by the judge whose key signs it.
    ///
    /// The case ID is chosen by the court (1 to 64 characters: letters, digits, `.`, `_`, `-`) and
    /// must not be in use on the chain. Only the judge who opens a case may attach deposits to it,
    /// record verifications in it and close it.
    ///
    /// Example: curia case open CASE-2026-17 --title "Shop v. Smith" --key judge.key --node http://127.0.0.1:28000 --wait
    Open {
        /// The case ID.
        case: String,
        /// The case's title (at most 1024 bytes).
        #[arg(long)]
        title: String,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Attach deposits to a case: by deposit ID, or by evidence file.
    ///
    /// A FILE is hashed on this machine (its content is never sent) and its SHA-256 is looked up
    /// on the chain; a file with no deposit is an error that names it, and nothing is attached.
    /// When several deposits hold the same file, each is attached. Deposits already attached
    /// are skipped.
    ///
    /// Example: curia case attach CASE-2026-17 contract.pdf --deposit 3a7b... --key judge.key --node http://127.0.0.1:28000 --wait
    Attach {
        /// The case ID.
        case: String,
        /// Evidence files to find on the chain by their SHA-256.
        files: Vec<PathBuf>,
        /// A deposit ID (64 hex digits) to attach; repeat for more.
        #[arg(long = "deposit", value_name = "ID")]
        deposits: Vec<String>,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Show a case: its owner, whether it is open, and one line per record.
    ///
    /// The read is signed with --key, which must be a registered judge or auditor key, or a court
    /// validator's key.
    Show {
        /// The case ID.
        case: String,
        #[command(flatten)]
        conn: Conn,
        /// Print the node's JSON answer instead.
        #[arg(long)]
        json: bool,
    },
    /// Close a case with a note. A closed case takes no more records.
    Close {
        /// The case ID.
        case: String,
        /// The closing note (at most 1024 bytes).
        #[arg(long)]
        note: String,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Verify the evidence files a party submitted against the deposits attached to a case.
    ///
    /// Every file in --evidence (receipts named NAME.receipt.json belong to the file NAME) is
    /// matched to a deposit, the deposit's receipt is verified offline against YOUR genesis file
    /// (the node is not trusted for the chain), and one line per item is printed: file, deposit
    /// ID, deposited at (UTC commit time), verdict, reason. Reasons: ok, file_changed,
    /// not_in_case, unknown_deposit, other_chain, no_deposit, missing_file (an attached deposit
    /// with no file), bad_receipt (a submitted receipt that cannot be read), invalid_receipt (a
    /// receipt that fails another check). A report a court can file is written as report.json
    /// and a self-contained report.html.
    ///
    /// With --record, the result for each deposit attached to the case goes on the chain as a
    /// case record signed by the judge (valid or not, the SHA-256 of report.json, the reason).
    ///
    /// Exit code: 0 if every item is ok, 1 if any item fails, 2 on a usage or network error.
    Verify {
        /// The case ID.
        case: String,
        /// The folder of evidence files (and any NAME.receipt.json receipts) a party submitted.
        #[arg(long)]
        evidence: PathBuf,
        /// The chain's genesis JSON, from the court, not from a party or the node.
        #[arg(long)]
        genesis: PathBuf,
        #[command(flatten)]
        conn: Conn,
        /// Folder for report.json and report.html [default: ./case-CASE-report].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Put each attached deposit's result on the chain and wait for the commit.
        #[arg(long)]
        record: bool,
        /// Print the report as JSON instead of one line per item.
        #[arg(long)]
        json: bool,
        /// Seconds to wait for the records to commit (with --record).
        #[arg(long, default_value_t = 60)]
        timeout: u64,
        /// Language of report.html: en (English) or zh (Simplified Chinese, with the terms
        /// Chinese courts use: 存证编号, 哈希值, 存证时间, 存证主体).
        #[arg(long, value_enum, default_value_t = report::Lang::En)]
        lang: report::Lang,
    },
}

/// Who is asking, and where.
#[derive(Args)]
pub struct Conn {
    /// Key file of a judge (a client key registered with role judge); for `show`, also an
    /// auditor's or a court validator's key.
    #[arg(long)]
    key: PathBuf,
    /// A node's API, e.g. http://127.0.0.1:28000.
    #[arg(long)]
    node: String,
    /// The global `--ca-file`, set by [`run`].
    #[arg(skip)]
    ca_file: Option<PathBuf>,
}

/// Waiting for a commit.
#[derive(Args)]
pub struct WaitArgs {
    /// Wait until the change is committed (watching the case with signed reads).
    #[arg(long)]
    wait: bool,
    /// Seconds to wait with --wait.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
}

/// Run a `case` subcommand; the exit code.
/// `ca_file` is the global `--ca-file` (trusted CA for an `https://` node).
pub fn run(cmd: CaseCmd, ca_file: Option<&Path>) -> Result<u8> {
    let with_ca = |conn: Conn| Conn { ca_file: ca_file.map(Path::to_path_buf), ..conn };
    match cmd {
        CaseCmd::Open { case, title, conn, wait } => open(&case, &title, &with_ca(conn), &wait),
        CaseCmd::Attach { case, files, deposits, conn, wait } => {
            attach(&case, &files, &deposits, &with_ca(conn), &wait)
        }
        CaseCmd::Show { case, conn, json } => show(&case, &with_ca(conn), json),
        CaseCmd::Close { case, note, conn, wait } => close(&case, &note, &with_ca(conn), &wait),
        CaseCmd::Verify { case, evidence, genesis, conn, out, record, json, timeout, lang } => {
            let conn = with_ca(conn);
            let out = out.unwrap_or_else(|| PathBuf::from(format!("case-{case}-report")));
            verify::verify(
                &verify::VerifyJob {
                    case: &case,
                    evidence: &evidence,
                    genesis: &genesis,
                    conn: &conn,
                    out: &out,
                    lang,
                },
                record,
                json,
                timeout,
            )
        }
    }
}

fn open(case_id: &str, title: &str, conn: &Conn, wait: &WaitArgs) -> Result<u8> {
    check_case_id(case_id)?;
    let node = Node::connect(conn)?;
    if let Some(c) = node.case(case_id)? {
        bail!("case {case_id} already exists (owner {}, {})", c.owner, if c.open { "open" } else { "closed" });
    }
    let tx = node.tx(Payload::OpenCase { case_id: case_id.into(), title: title.into() })?;
    let ids = node.submit(&[tx], Instant::now() + Duration::from_secs(wait.timeout))?;
    println!("open case {case_id}: transaction {} accepted", ids[0]);
    if wait.wait {
        let me = node.key.public();
        let c = node.wait_case(case_id, wait.timeout, "the opening", |_| true)?;
        if c.owner != me {
            bail!("case {case_id} was opened by another judge ({}) first", c.owner);
        }
        println!("case {case_id} is open (block {})", c.records.first().map(|r| r.height).unwrap_or(0));
    }
    Ok(0)
}

fn attach(case_id: &str, files: &[PathBuf], deposits: &[String], conn: &Conn, wait: &WaitArgs) -> Result<u8> {
    check_case_id(case_id)?;
    if files.is_empty() && deposits.is_empty() {
        bail!("give evidence FILEs or --deposit IDs to attach");
    }
    let node = Node::connect(conn)?;
    let case = node.own_open_case(case_id)?;
    // Resolve everything first: nothing is attached if any file or ID is wrong.
    let mut wanted: Vec<(Hash, String)> = Vec::new();
    for d in deposits {
        let id = Hash::from_hex(d.trim()).with_context(|| format!("--deposit {d}"))?;
        if !node.deposit_exists(&id)? {
            bail!("deposit {id} is not committed on the chain");
        }
        wanted.push((id, "--deposit".into()));
    }
    for f in files {
        let digest = crate::hash_file(f)?;
        let found = node.deposits_of(&digest)?;
        match found.len() {
            0 => bail!("no deposit holds {} (SHA-256 {digest}): it was never deposited, or changed since", f.display()),
            1 => {}
            n => println!("{} is held by {n} deposits; attaching each", terminal(&f.display().to_string())),
        }
        wanted.extend(found.into_iter().map(|id| (id, terminal(&f.display().to_string()).into_owned())));
    }
    let already: HashSet<Hash> = attached(&case).into_iter().collect();
    let mut seen = HashSet::new();
    let mut txs = Vec::new();
    let mut todo = Vec::new();
    for (id, from) in wanted {
        if !seen.insert(id) {
            continue;
        }
        if already.contains(&id) {
            println!("deposit {id} ({from}) is already attached to {case_id}; skipped");
            continue;
        }
        txs.push(node.tx(Payload::AttachDeposit { case_id: case_id.into(), deposit_id: id })?);
        todo.push((id, from));
    }
    if txs.is_empty() {
        println!("nothing to attach");
        return Ok(0);
    }
    node.submit(&txs, Instant::now() + Duration::from_secs(wait.timeout))?;
    for (id, from) in &todo {
        println!("attach {id} ({from}) to {case_id}: accepted");
    }
    if wait.wait {
        let want: Vec<Hash> = todo.iter().map(|(id, _)| *id).collect();
        node.wait_case(case_id, wait.timeout, "the attachment", |c| {
            let have: HashSet<Hash> = attached(c).into_iter().collect();
            want.iter().all(|d| have.contains(d))
        })?;
        println!("{} deposit(s) attached to {case_id}", want.len());
    }
    Ok(0)
}

fn show(case_id: &str, conn: &Conn, json: bool) -> Result<u8> {
    check_case_id(case_id)?;
    let node = Node::connect(conn)?;
    let c = node.existing_case(case_id)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&c)?);
        return Ok(0);
    }
    print!("{}", show_text(&node, &c));
    Ok(0)
}

fn show_text(node: &Node, c: &CaseView) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "case     {}", terminal(&c.case_id));
    let _ = writeln!(s, "owner    {}", c.owner);
    let _ = writeln!(s, "status   {}", if c.open { "open" } else { "closed" });
    let _ = writeln!(s, "records  {}", c.record_count);
    let mut times: HashMap<u64, Option<u64>> = HashMap::new();
    for r in &c.records {
        let t = *times.entry(r.height).or_insert_with(|| node.commit_time(r.height));
        let when = t.map(format_utc).unwrap_or_else(|| "-".into());
        let what = match &r.event {
            CaseEvent::Opened { owner } => format!("opened    by {owner}"),
            CaseEvent::Attached { deposit } => format!("attached  deposit {deposit}"),
            CaseEvent::Verified { deposit, valid } => {
                format!("verified  deposit {deposit} {}", if *valid { "VALID" } else { "INVALID" })
            }
            CaseEvent::Closed => "closed".into(),
        };
        let _ = writeln!(s, "  block {:>6} tx {:>4}  {when}  {what}", r.height, r.tx_index);
    }
    s
}

fn close(case_id: &str, note: &str, conn: &Conn, wait: &WaitArgs) -> Result<u8> {
    check_case_id(case_id)?;
    let node = Node::connect(conn)?;
    node.own_open_case(case_id)?;
    let tx = node.tx(Payload::CloseCase { case_id: case_id.into(), note: note.into() })?;
    let ids = node.submit(&[tx], Instant::now() + Duration::from_secs(wait.timeout))?;
    println!("close case {case_id}: transaction {} accepted", ids[0]);
    if wait.wait {
        node.wait_case(case_id, wait.timeout, "the closing", |c| !c.open)?;
        println!("case {case_id} is closed");
    }
    Ok(0)
}
