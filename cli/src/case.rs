//! `curia case open|attach|show|close|verify`: a judge's case workflow against a node.
//!
//! Rules:
//! - Case records are read with signed requests (`docs/api.md`, "Signed reads"): every read of
//!   `GET /v1/cases/{id}` carries the key's signature over the chain, method, path and time.
//! - Case transactions are built and signed here with the judge's key and sent with
//!   `POST /v1/transactions`. The node checks case rules only when it builds a block (a refused
//!   case transaction is simply never committed), so each command first checks what it can
//!   (the case exists, is open and is the key's; a deposit exists and is not attached yet) and
//!   `--wait` watches the case until the change shows.
//! - Evidence files never leave the machine: only their SHA-256 is sent, to look up deposits.
//! - `verify` trusts the judge's own genesis file, not the node: every receipt is verified
//!   offline with [`verify_receipt`]. Each item gets one reason (see [`Reason`]); one failure
//!   never stops the others.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use curia_ledger::access::{sign_read_request, HEADER_READER, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use curia_ledger::crypto::{PublicKey, SecretKey};
use curia_ledger::genesis::ChainSpec;
use curia_ledger::hash::Hash;
use curia_ledger::receipt::Receipt;
use curia_ledger::tx::{check_case_id, Payload, Transaction, TxBody};
use curia_ledger::verify::{format_utc, verify_receipt, Evidence, Report};
use curia_node::config::read_key;
use serde::{Deserialize, Serialize};

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
pub fn run(cmd: CaseCmd) -> Result<u8> {
    match cmd {
        CaseCmd::Open { case, title, conn, wait } => open(&case, &title, &conn, &wait),
        CaseCmd::Attach { case, files, deposits, conn, wait } => attach(&case, &files, &deposits, &conn, &wait),
        CaseCmd::Show { case, conn, json } => show(&case, &conn, json),
        CaseCmd::Close { case, note, conn, wait } => close(&case, &note, &conn, &wait),
        CaseCmd::Verify { case, evidence, genesis, conn, out, record, json, timeout } => {
            let out = out.unwrap_or_else(|| PathBuf::from(format!("case-{case}-report")));
            verify(
                &VerifyJob { case: &case, evidence: &evidence, genesis: &genesis, conn: &conn, out: &out },
                record,
                json,
                timeout,
            )
        }
    }
}

// ----- talking to a node -----

/// A case as `GET /v1/cases/{id}` answers.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct CaseView {
    case_id: String,
    owner: PublicKey,
    open: bool,
    record_count: u32,
    records: Vec<RecordView>,
}

/// One record of a case.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct RecordView {
    height: u64,
    tx_index: u32,
    event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    owner: Option<PublicKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deposit: Option<Hash>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    valid: Option<bool>,
}

impl CaseView {
    /// Attached deposits, in chain order.
    fn attached(&self) -> Vec<Hash> {
        let mut seen = HashSet::new();
        self.records
            .iter()
            .filter(|r| r.event == "attached")
            .filter_map(|r| r.deposit)
            .filter(|d| seen.insert(*d))
            .collect()
    }
    fn verified_count(&self) -> usize {
        self.records.iter().filter(|r| r.event == "verified").count()
    }
}

/// A node's API and the key that signs reads and transactions.
struct Node {
    url: String,
    agent: ureq::Agent,
    key: SecretKey,
    chain_id: Hash,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// An error answer's `code: message`, or the transport error.
fn api_error(e: ureq::Error) -> anyhow::Error {
    match e {
        ureq::Error::Status(status, resp) => {
            let body = resp.into_string().unwrap_or_default();
            match serde_json::from_str::<serde_json::Value>(&body) {
                Ok(v) if v["error"]["code"].is_string() => anyhow!(
                    "node answered {status} {}: {}",
                    v["error"]["code"].as_str().unwrap_or_default(),
                    v["error"]["message"].as_str().unwrap_or_default()
                ),
                _ => anyhow!("node answered {status}: {body}"),
            }
        }
        other => anyhow!("cannot reach node: {other}"),
    }
}

impl Node {
    /// Connect: read the key, ask the node for its chain ID.
    fn connect(conn: &Conn) -> Result<Node> {
        let key = read_key(&conn.key).with_context(|| format!("key {}", conn.key.display()))?;
        let url = conn.node.trim_end_matches('/').to_string();
        let agent =
            ureq::AgentBuilder::new().timeout_connect(Duration::from_secs(5)).timeout(Duration::from_secs(30)).build();
        let status: serde_json::Value = agent
            .get(&format!("{url}/v1/status"))
            .call()
            .map_err(api_error)
            .with_context(|| format!("GET {url}/v1/status"))?
            .into_json()?;
        let chain_id = Hash::from_hex(status["chain_id"].as_str().context("the node's status has no chain_id")?)?;
        Ok(Node { url, agent, key, chain_id })
    }

    /// `GET /v1/cases/{id}`, signed; `None` if the case does not exist.
    fn case(&self, case_id: &str) -> Result<Option<CaseView>> {
        let path = format!("/v1/cases/{case_id}");
        let ts = now_ms();
        let sig = sign_read_request(&self.key, &self.chain_id, "GET", &path, ts);
        let r = self
            .agent
            .get(&format!("{}{path}", self.url))
            .set(HEADER_READER, &self.key.public().to_string())
            .set(HEADER_TIMESTAMP, &ts.to_string())
            .set(HEADER_SIGNATURE, &hex::encode(sig.0))
            .call();
        match r {
            Ok(resp) => Ok(Some(resp.into_json().context("reading the case")?)),
            Err(ureq::Error::Status(404, resp)) => {
                let body = resp.into_string().unwrap_or_default();
                if body.contains("case_not_found") {
                    Ok(None)
                } else {
                    bail!("node answered 404 to GET {path}: {body}")
                }
            }
            Err(e) => Err(api_error(e)).with_context(|| format!("reading case {case_id}")),
        }
    }

    /// A case that must exist.
    fn existing_case(&self, case_id: &str) -> Result<CaseView> {
        self.case(case_id)?.ok_or_else(|| anyhow!("case {case_id} does not exist on the chain"))
    }

    /// A case this key owns and that is still open (what every case transaction needs).
    fn own_open_case(&self, case_id: &str) -> Result<CaseView> {
        let c = self.existing_case(case_id)?;
        if c.owner != self.key.public() {
            bail!("case {case_id} belongs to the judge with key {}, not to this key ({})", c.owner, self.key.public());
        }
        if !c.open {
            bail!("case {case_id} is closed");
        }
        Ok(c)
    }

    /// `GET /v1/deposits/{id}/receipt`; `None` if the node has no such committed deposit.
    fn receipt(&self, id: &Hash) -> Result<Option<Receipt>> {
        match self.agent.get(&format!("{}/v1/deposits/{id}/receipt", self.url)).call() {
            Ok(resp) => {
                let text = resp.into_string()?;
                let r = Receipt::from_json(text.as_bytes()).with_context(|| format!("the node's receipt of {id}"))?;
                if r.deposit_id != *id {
                    bail!("asked for the receipt of deposit {id}, the node served one of deposit {}", r.deposit_id);
                }
                Ok(Some(r))
            }
            Err(ureq::Error::Status(404, _)) => Ok(None),
            Err(e) => Err(api_error(e)).with_context(|| format!("fetching the receipt of deposit {id}")),
        }
    }

    /// Whether a deposit is committed.
    fn deposit_exists(&self, id: &Hash) -> Result<bool> {
        match self.agent.get(&format!("{}/v1/deposits/{id}", self.url)).call() {
            Ok(_) => Ok(true),
            Err(ureq::Error::Status(404, _)) => Ok(false),
            Err(e) => Err(api_error(e)).with_context(|| format!("looking up deposit {id}")),
        }
    }

    /// Deposits of a SHA-256 digest (`GET /v1/digests/{sha256}`).
    fn deposits_of(&self, digest: &Hash) -> Result<Vec<Hash>> {
        #[derive(Deserialize)]
        struct Answer {
            deposit_ids: Vec<Hash>,
        }
        let a: Answer = self
            .agent
            .get(&format!("{}/v1/digests/{digest}", self.url))
            .call()
            .map_err(api_error)
            .with_context(|| format!("looking up digest {digest}"))?
            .into_json()?;
        Ok(a.deposit_ids)
    }

    /// Commit time of a block, for `case show`.
    fn commit_time(&self, height: u64) -> Option<u64> {
        let v: serde_json::Value =
            self.agent.get(&format!("{}/v1/blocks/{height}", self.url)).call().ok()?.into_json().ok()?;
        v["commit_time_ms"].as_u64()
    }

    /// A signed transaction with `payload` from this key.
    fn tx(&self, payload: Payload) -> Result<Transaction> {
        let mut nonce = [0u8; 8];
        getrandom::getrandom(&mut nonce).map_err(|e| anyhow!("no randomness: {e}"))?;
        let body = TxBody { sender: self.key.public(), nonce: u64::from_be_bytes(nonce), payload };
        body.check_fields()?;
        Ok(body.sign(&self.chain_id, &self.key))
    }

    /// `POST /v1/transactions`; fails naming every refused transaction. Retries while the node
    /// pushes back with 503 (up to `deadline`).
    fn submit(&self, txs: &[Transaction], deadline: Instant) -> Result<Vec<Hash>> {
        let body = serde_json::json!({ "txs": txs });
        let answer: serde_json::Value = loop {
            match self.agent.post(&format!("{}/v1/transactions", self.url)).send_json(body.clone()) {
                Ok(resp) => break resp.into_json()?,
                Err(ureq::Error::Status(503, resp)) if Instant::now() < deadline => {
                    let s: u64 = resp.header("Retry-After").and_then(|s| s.parse().ok()).unwrap_or(1);
                    std::thread::sleep(Duration::from_secs(s.clamp(1, 10)));
                }
                Err(e) => return Err(api_error(e)).context("submitting the transactions"),
            }
        };
        let results = answer["results"].as_array().context("the node's answer has no results")?;
        let mut refused = Vec::new();
        let mut ids = Vec::new();
        for r in results {
            if r["error"].is_object() {
                refused.push(format!(
                    "transaction {}: {}: {}",
                    r["index"],
                    r["error"]["code"].as_str().unwrap_or_default(),
                    r["error"]["message"].as_str().unwrap_or_default()
                ));
            } else {
                ids.push(Hash::from_hex(r["tx_id"].as_str().unwrap_or_default()).context("a result's tx_id")?);
            }
        }
        if !refused.is_empty() {
            bail!("the node refused {} of {} transactions: {}", refused.len(), txs.len(), refused.join("; "));
        }
        Ok(ids)
    }

    /// Poll the case (signed reads) until `done` holds.
    fn wait_case(
        &self,
        case_id: &str,
        timeout_s: u64,
        what: &str,
        done: impl Fn(&CaseView) -> bool,
    ) -> Result<CaseView> {
        let deadline = Instant::now() + Duration::from_secs(timeout_s);
        loop {
            if let Some(c) = self.case(case_id)? {
                if done(&c) {
                    return Ok(c);
                }
            }
            if Instant::now() >= deadline {
                bail!(
                    "{what} did not show in case {case_id} within {timeout_s} s (the chain refuses a case \
                     transaction when it builds the block: check the case's state with `curia case show`)"
                );
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

// ----- open, attach, show, close -----

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
            n => println!("{} is held by {n} deposits; attaching each", f.display()),
        }
        wanted.extend(found.into_iter().map(|id| (id, f.display().to_string())));
    }
    let already: HashSet<Hash> = case.attached().into_iter().collect();
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
            let have: HashSet<Hash> = c.attached().into_iter().collect();
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
    let _ = writeln!(s, "case     {}", c.case_id);
    let _ = writeln!(s, "owner    {}", c.owner);
    let _ = writeln!(s, "status   {}", if c.open { "open" } else { "closed" });
    let _ = writeln!(s, "records  {}", c.record_count);
    let mut times: HashMap<u64, Option<u64>> = HashMap::new();
    for r in &c.records {
        let t = *times.entry(r.height).or_insert_with(|| node.commit_time(r.height));
        let when = t.map(format_utc).unwrap_or_else(|| "-".into());
        let what = match r.event.as_str() {
            "opened" => format!("opened    by {}", r.owner.map(|k| k.to_string()).unwrap_or_default()),
            "attached" => format!("attached  deposit {}", r.deposit.map(|d| d.to_hex()).unwrap_or_default()),
            "verified" => format!(
                "verified  deposit {} {}",
                r.deposit.map(|d| d.to_hex()).unwrap_or_default(),
                match r.valid {
                    Some(true) => "VALID",
                    Some(false) => "INVALID",
                    None => "?",
                }
            ),
            "closed" => "closed".into(),
            other => other.to_string(),
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

// ----- verify -----

/// Why an item passed or failed. Each item gets exactly one; `detail` says more.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The file matches a deposit attached to the case, and the receipt verifies.
    Ok,
    /// A submitted receipt, or a same-named attached deposit, holds another digest than the file.
    FileChanged,
    /// The file's digest, or its receipt's deposit, is on the chain but not attached to the case.
    NotInCase,
    /// A submitted receipt names a deposit the node does not have.
    UnknownDeposit,
    /// A submitted receipt is for another chain than the judge's genesis founds.
    OtherChain,
    /// No deposit holds the file's digest and no receipt came with it.
    NoDeposit,
    /// A deposit attached to the case has no file, or a receipt came without its file.
    MissingFile,
    /// A submitted receipt cannot be read.
    BadReceipt,
    /// A receipt fails a check other than the digest and the chain (edited or forged).
    InvalidReceipt,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::Ok => "ok",
            Reason::FileChanged => "file_changed",
            Reason::NotInCase => "not_in_case",
            Reason::UnknownDeposit => "unknown_deposit",
            Reason::OtherChain => "other_chain",
            Reason::NoDeposit => "no_deposit",
            Reason::MissingFile => "missing_file",
            Reason::BadReceipt => "bad_receipt",
            Reason::InvalidReceipt => "invalid_receipt",
        }
    }
    fn meaning(self) -> &'static str {
        match self {
            Reason::Ok => {
                "the file matches a deposit attached to the case, and its receipt verifies against the genesis"
            }
            Reason::FileChanged => {
                "the file's fingerprint differs from the deposited one: the file was changed, or it is another file"
            }
            Reason::NotInCase => "the file (or its receipt's deposit) is on the chain, but not attached to this case",
            Reason::UnknownDeposit => "the submitted receipt names a deposit this chain's node does not have",
            Reason::OtherChain => "the submitted receipt comes from another chain than the court's genesis founds",
            Reason::NoDeposit => "no deposit on the chain holds this file, and no receipt came with it",
            Reason::MissingFile => {
                "a deposit attached to the case (or a submitted receipt) has no file in the evidence folder"
            }
            Reason::BadReceipt => "the submitted receipt file cannot be read as a Curia receipt",
            Reason::InvalidReceipt => "the receipt fails a check (edited or forged receipt, or a bad certificate)",
        }
    }
}

/// One line of the verification.
#[derive(Clone, Debug, Serialize)]
struct Item {
    /// The evidence file's name, if there is one.
    file: Option<String>,
    /// Its SHA-256.
    sha256: Option<Hash>,
    /// The deposit it was matched to.
    deposit_id: Option<Hash>,
    /// Whether that deposit is attached to the case.
    attached: bool,
    /// Commit time of the deposit (UTC), if the receipt's chain, proofs and certificate verify.
    deposited_at: Option<String>,
    /// The same in ms since the Unix epoch.
    deposited_at_ms: Option<u64>,
    /// Block height of the deposit.
    height: Option<u64>,
    /// `ok` or `fail`.
    verdict: &'static str,
    /// Why.
    reason: Reason,
    /// What was found, for people.
    detail: String,
    /// Where the verified receipt came from: `submitted` (beside the file) or `node`.
    receipt: Option<&'static str>,
    /// The offline verification, check by check.
    #[serde(skip_serializing_if = "Option::is_none")]
    verification: Option<Report>,
}

impl Item {
    fn new(file: Option<String>, sha256: Option<Hash>, reason: Reason, detail: String) -> Item {
        Item {
            file,
            sha256,
            deposit_id: None,
            attached: false,
            deposited_at: None,
            deposited_at_ms: None,
            height: None,
            verdict: if reason == Reason::Ok { "ok" } else { "fail" },
            reason,
            detail,
            receipt: None,
            verification: None,
        }
    }

    /// Attach a verified receipt's facts: deposit, height, and the time if it can be trusted
    /// (every check but the digest passed, so the chain's validators did commit it then).
    fn with_receipt(mut self, r: &Receipt, rep: Report, source: &'static str, attached: bool) -> Item {
        self.deposit_id = Some(r.deposit_id);
        self.attached = attached;
        if rep.checks.iter().all(|c| c.ok || c.name == "digest") {
            self.deposited_at = Some(rep.commit_time.clone());
            self.deposited_at_ms = Some(rep.commit_time_ms);
            self.height = Some(rep.height);
        }
        self.receipt = Some(source);
        self.verification = Some(rep);
        self
    }
}

/// The whole verification, as written to report.json.
#[derive(Serialize)]
struct CaseReport {
    format: &'static str,
    version: u32,
    case_id: String,
    chain_id: Hash,
    chain_name: String,
    genesis: String,
    node: String,
    generated_at: String,
    generated_at_ms: u64,
    verified_by: PublicKey,
    case_owner: PublicKey,
    case_open: bool,
    evidence_dir: String,
    attached_deposits: Vec<Hash>,
    summary: Summary,
    items: Vec<Item>,
}

#[derive(Serialize)]
struct Summary {
    items: usize,
    ok: usize,
    failed: usize,
    reasons: BTreeMap<&'static str, usize>,
    verdict: &'static str,
}

struct VerifyJob<'a> {
    case: &'a str,
    evidence: &'a Path,
    genesis: &'a Path,
    conn: &'a Conn,
    out: &'a Path,
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

    /// Decide one evidence file.
    fn judge_file(&self, name: &str, bytes: &[u8], submitted: Option<Result<Receipt, String>>) -> Result<Item> {
        let digest = Hash::sha256(bytes);
        let file = Some(name.to_string());
        if let Some(sub) = submitted {
            let r = match sub {
                Ok(r) => r,
                Err(e) => return Ok(Item::new(file, Some(digest), Reason::BadReceipt, e)),
            };
            let rep = verify_receipt(Evidence::Bytes(bytes), &r, self.spec);
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
            let rep = verify_receipt(Evidence::Bytes(bytes), r, self.spec);
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
                    let rep = verify_receipt(Evidence::Bytes(bytes), &r, self.spec);
                    item.with_receipt(&r, rep, "node", false)
                }
                None => Item { deposit_id: Some(id), ..item },
            });
        }
        if let Some(r) = self.attached_by_label(name, false) {
            let rep = verify_receipt(Evidence::Bytes(bytes), r, self.spec);
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

fn verify(job: &VerifyJob<'_>, record: bool, json: bool, timeout_s: u64) -> Result<u8> {
    check_case_id(job.case)?;
    let spec = crate::load_genesis(&job.genesis.to_path_buf())?;
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
    let attached_list = case.attached();
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
        let bytes = crate::read_limited(path)?;
        let submitted = receipts.get(name).map(|p| {
            crate::read_limited(p)
                .map_err(|e| format!("{e:#}"))
                .and_then(|b| Receipt::parse(&b).map_err(|e| format!("{}: {e}", p.display())))
        });
        items.push(ctx.judge_file(name, &bytes, submitted)?);
    }
    // Receipts that came without their file.
    let names: HashSet<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    for (base, p) in &receipts {
        if names.contains(base.as_str()) {
            continue;
        }
        let file = Some(format!("{base} (receipt only)"));
        let item = match crate::read_limited(p)
            .map_err(|e| format!("{e:#}"))
            .and_then(|b| Receipt::parse(&b).map_err(|e| e.to_string()))
        {
            Err(e) => Item::new(file, None, Reason::BadReceipt, format!("{}: {e}", p.display())),
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
            label.filter(|l| !l.is_empty()).map(|l| format!(" (deposited as {l:?})")).unwrap_or_default()
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
        case_owner: case.owner,
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
    std::fs::write(&html_path, report_html(&report))
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
            let before = node.own_open_case(job.case)?.verified_count();
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
                node.wait_case(job.case, timeout_s, "the verification records", |c| c.verified_count() >= before + n)?;
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

fn short(h: &Option<Hash>) -> String {
    h.map(|h| h.to_hex()).unwrap_or_else(|| "-".into())
}

/// One line per item, for the terminal.
fn report_text(r: &CaseReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "case {} on chain {} ({})", r.case_id, r.chain_name, r.chain_id);
    let width =
        r.items.iter().filter_map(|i| i.file.as_ref().map(|f| f.chars().count())).max().unwrap_or(4).clamp(4, 40);
    let _ =
        writeln!(s, "{:<width$}  {:<64}  {:<24}  {:<7}  REASON", "FILE", "DEPOSIT ID", "DEPOSITED AT (UTC)", "VERDICT");
    for i in &r.items {
        let _ = writeln!(
            s,
            "{:<width$}  {:<64}  {:<24}  {:<7}  {}",
            i.file.as_deref().unwrap_or("-"),
            short(&i.deposit_id),
            i.deposited_at.as_deref().unwrap_or("-"),
            i.verdict,
            i.reason.as_str()
        );
    }
    let _ = writeln!(s);
    for i in r.items.iter().filter(|i| i.reason != Reason::Ok) {
        let _ = writeln!(s, "  {} {}: {}", i.reason.as_str(), i.file.as_deref().unwrap_or("-"), i.detail);
    }
    let _ = writeln!(
        s,
        "{} item(s): {} ok, {} failed{}",
        r.summary.items,
        r.summary.ok,
        r.summary.failed,
        if r.summary.failed == 0 { "" } else { " (see the reasons above)" }
    );
    s
}

/// Escape text for HTML content and attribute values.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// A self-contained HTML page (inline CSS, no scripts, no external resources).
fn report_html(r: &CaseReport) -> String {
    let mut s = String::new();
    let ok = r.summary.failed == 0;
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <title>Evidence verification, case {case}</title>\n<style>\n\
         body{{font-family:Georgia,'Times New Roman',serif;margin:2em auto;max-width:75em;padding:0 1em;color:#111}}\n\
         h1{{font-size:1.5em;margin-bottom:.2em}} h2{{font-size:1.15em;margin-top:1.6em}}\n\
         table{{border-collapse:collapse;width:100%;font-size:.9em}}\n\
         th,td{{border:1px solid #999;padding:.35em .5em;text-align:left;vertical-align:top}}\n\
         th{{background:#eee}} code,.mono{{font-family:'DejaVu Sans Mono',Consolas,monospace;font-size:.85em;word-break:break-all}}\n\
         .ok{{color:#0a5a0a;font-weight:bold}} .fail{{color:#a00;font-weight:bold}}\n\
         .verdict{{padding:.6em 1em;border:2px solid;margin:1em 0}}\n\
         dl{{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}} dt{{font-weight:bold}} dd{{margin:0}}\n\
         @media print{{body{{margin:0;max-width:none}}}}\n</style>\n</head>\n<body>\n",
        case = esc(&r.case_id)
    );
    let _ = writeln!(s, "<h1>Verification of evidence, case {}</h1>", esc(&r.case_id));
    let _ = writeln!(
        s,
        "<div class=\"verdict {}\">{}: {} item(s), {} ok, {} failed.</div>",
        if ok { "ok" } else { "fail" },
        if ok { "ALL ITEMS OK" } else { "SOME ITEMS FAILED" },
        r.summary.items,
        r.summary.ok,
        r.summary.failed
    );
    let _ = writeln!(s, "<dl>");
    for (k, v, mono) in [
        ("Case", r.case_id.clone(), false),
        ("Case owner (judge key)", r.case_owner.to_string(), true),
        ("Case status", (if r.case_open { "open" } else { "closed" }).to_string(), false),
        ("Chain", format!("{} ({})", r.chain_name, r.chain_id), true),
        ("Genesis file", r.genesis.clone(), true),
        ("Node consulted", r.node.clone(), true),
        ("Evidence folder", r.evidence_dir.clone(), true),
        ("Verified by (key)", r.verified_by.to_string(), true),
        ("Report generated", r.generated_at.clone(), false),
    ] {
        let v = esc(&v);
        let v = if mono { format!("<span class=\"mono\">{v}</span>") } else { v };
        let _ = writeln!(s, "<dt>{}</dt><dd>{v}</dd>", esc(k));
    }
    let _ = writeln!(s, "</dl>");
    let _ = writeln!(s, "<h2>Items</h2>\n<table>\n<tr><th>#</th><th>File</th><th>Deposit ID</th><th>Deposited at (UTC)</th><th>Verdict</th><th>Reason</th><th>Details</th></tr>");
    for (n, i) in r.items.iter().enumerate() {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td class=\"{}\">{}</td><td><code>{}</code></td><td>{}{}</td></tr>",
            n + 1,
            esc(i.file.as_deref().unwrap_or("-")),
            esc(&short(&i.deposit_id)),
            esc(i.deposited_at.as_deref().unwrap_or("-")),
            if i.reason == Reason::Ok { "ok" } else { "fail" },
            esc(i.verdict),
            esc(i.reason.as_str()),
            esc(&i.detail),
            i.sha256.map(|h| format!("<br>SHA-256 of the file: <span class=\"mono\">{}</span>", esc(&h.to_hex()))).unwrap_or_default()
        );
    }
    let _ = writeln!(s, "</table>");
    let _ = writeln!(s, "<h2>What the reasons mean</h2>\n<table>\n<tr><th>Reason</th><th>Meaning</th></tr>");
    for reason in [
        Reason::Ok,
        Reason::FileChanged,
        Reason::NotInCase,
        Reason::UnknownDeposit,
        Reason::OtherChain,
        Reason::NoDeposit,
        Reason::MissingFile,
        Reason::BadReceipt,
        Reason::InvalidReceipt,
    ] {
        let _ =
            writeln!(s, "<tr><td><code>{}</code></td><td>{}</td></tr>", esc(reason.as_str()), esc(reason.meaning()));
    }
    let _ = writeln!(s, "</table>");
    let _ = writeln!(
        s,
        "<p>Each receipt was verified offline against the genesis file named above. The node was consulted to read \
         which deposits are attached to the case, to find deposits by fingerprint and to fetch receipts; no verdict \
         rests on its word about the chain. The machine-readable report is <code>report.json</code> beside this page. \
         A valid item proves that a file with exactly these bytes was deposited no later than the time shown and that \
         the chain's validators agreed on it; it does not prove who made the file or that its content is true.</p>"
    );
    let _ = writeln!(s, "</body>\n</html>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_every_value() {
        assert_eq!(esc("<script>\"a\"&'b'</script>"), "&lt;script&gt;&quot;a&quot;&amp;&#39;b&#39;&lt;/script&gt;");
        let mut item =
            Item::new(Some("<img src=x onerror=alert(1)>.pdf".into()), None, Reason::NoDeposit, "a & b".into());
        item.deposited_at = Some("<b>".into());
        let r = CaseReport {
            format: "curia-case-report",
            version: 1,
            case_id: "C-1".into(),
            chain_id: Hash::ZERO,
            chain_name: "<chain>".into(),
            genesis: "g\"x.json".into(),
            node: "http://n".into(),
            generated_at: "t".into(),
            generated_at_ms: 0,
            verified_by: PublicKey([1; 32]),
            case_owner: PublicKey([1; 32]),
            case_open: true,
            evidence_dir: "d".into(),
            attached_deposits: vec![],
            summary: Summary { items: 1, ok: 0, failed: 1, reasons: BTreeMap::new(), verdict: "some items failed" },
            items: vec![item],
        };
        let html = report_html(&r);
        assert!(!html.contains("<img") && !html.contains("<chain>") && !html.contains("<b>"), "{html}");
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;.pdf"));
        assert!(!html.contains("http://n\"") && !html.contains("src=\"http") && !html.contains("<script"));
    }
}
