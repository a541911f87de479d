//! `curia log monitor` and `curia log check-proof`: watching a chain's deposit log for a split
//! view (`docs/transparency.md` §9, `docs/receipt-format.md` section 16).
//!
//! Rules (monitor):
//! - Each round fetches the latest checkpoint of every `--node` (`GET /v1/checkpoint`) and every
//!   `--witness` (`GET /<hex SHA-256 of the origin>/checkpoint`), plus the last one this monitor
//!   saw (`--state`). Each request has a connect timeout of 5 s and a total of `--timeout`
//!   seconds; a checkpoint answer is read up to one note's limit (64 KiB), a consistency answer
//!   up to 16 KiB. A source that is down or answers badly is reported and the round goes on.
//! - A note counts only if it is complete under the validator set in force at its `height`
//!   (genesis, `--membership`): more than two thirds of the power signed. Others are reported.
//! - Every pair of distinct trees (size, root) is compared: equal sizes with different roots
//!   conflict; for sizes a < b the nodes are asked for `GET /v1/log/consistency?from=a&to=b`; a
//!   node whose tree at b is the checkpoint's gives the root at a with a proof, which is
//!   verified: a different root at a is a conflict. A pair no node can answer for is
//!   reported as unresolved, never as misbehaviour; a proof that does not verify is the node's
//!   fault, reported.
//! - A conflict is written to `--out` as a proof file (`curia_transparency::misbehaviour`),
//!   checked with the same verifier `check-proof` uses before it is written (temp file, sync,
//!   rename, directory sync).
//! - With `--state`, the largest checkpoint of a round without conflict is kept (one file per
//!   log, same atomic write), if it was shown consistent with the one kept before.
//!
//! Exit codes (monitor): 0 every source answered and everything is consistent; 1 a split view
//! was found (proof files written); 2 unusable input (arguments, genesis, membership, a state
//! file that does not hold a valid checkpoint, an unwritable directory); 3 no split view shown,
//! but a source failed, a checkpoint did not check, or a pair could not be compared. With
//! `--interval`, rounds repeat until a split view (1) or unusable input (2).
//!
//! check-proof: 0 the file proves a split view (who signed both is printed), 1 it does not, 2
//! malformed file or unusable genesis, membership or witness key.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use curia_client::types::LogConsistency;
use curia_ledger::genesis::ChainSpec;
use curia_ledger::membership::Membership;
use curia_ledger::merkle::verify_consistency;
use curia_ledger::Hash;
use curia_transparency::checkpoint::Checkpoint;
use curia_transparency::misbehaviour::{self, SplitView, Verdict};
use curia_transparency::note::{Verifier, MAX_NOTE_BYTES};
use curia_transparency::validators::{check_validator_note, checkpoint_height, origin};
use curia_verifier::escape::terminal;

/// Exit code: a source failed or a pair could not be compared, no split view shown.
pub const EXIT_INCOMPLETE: u8 = 3;
/// Largest consistency answer read.
const MAX_CONSISTENCY_ANSWER: usize = 16 << 10;
/// Largest error body quoted.
const MAX_ERROR_BODY: usize = 1024;
/// Most `--node` plus `--witness` URLs.
const MAX_SOURCES: usize = 64;

/// `curia log ...`.
#[derive(Subcommand)]
pub enum LogCmd {
    /// Watch a chain's deposit log for a split view: fetch the latest checkpoint from every node
    /// and witness, check the validators' signatures, check every pair for consistency (asking
    /// the nodes for consistency proofs) and against the last checkpoint seen (--state). Writes
    /// a proof file into --out for each conflict. Exit 0 all consistent, 1 split view found, 2
    /// unusable input, 3 a source failed or a pair could not be compared (no split view shown).
    Monitor(MonitorArgs),
    /// Check a proof of split view offline. Exit 0 it proves one (prints who signed both), 1 it
    /// does not, 2 malformed file or unusable genesis, membership or key.
    CheckProof {
        /// The proof file (`curia log monitor` writes them).
        file: PathBuf,
        /// The chain's genesis, obtained out of band.
        #[arg(long)]
        genesis: PathBuf,
        /// The chain's membership history (`curia membership export`), exported after both
        /// checkpoints' heights; needed when the validator set changed.
        #[arg(long, value_name = "FILE")]
        membership: Option<PathBuf>,
        /// A witness's cosignature/v1 vkey you trust (repeatable): reported if it cosigned both.
        #[arg(long = "witness-key", value_name = "VKEY")]
        witness_keys: Vec<String>,
    },
}

/// Arguments of `curia log monitor`.
#[derive(clap::Args)]
pub struct MonitorArgs {
    /// A node's API, e.g. http://127.0.0.1:28000 (repeatable, at least one).
    #[arg(long = "node", value_name = "URL", required = true)]
    nodes: Vec<String>,
    /// A witness's URL, e.g. http://127.0.0.1:7380 (repeatable).
    #[arg(long = "witness", value_name = "URL")]
    witnesses: Vec<String>,
    /// The chain's genesis, obtained out of band.
    #[arg(long)]
    genesis: PathBuf,
    /// The chain's membership history (`curia membership export`), needed once the set changed.
    #[arg(long, value_name = "FILE")]
    membership: Option<PathBuf>,
    /// Directory keeping the last checkpoint seen (created if missing).
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// Directory for proof files (created if missing).
    #[arg(long, value_name = "DIR", default_value = ".")]
    out: PathBuf,
    /// One round, then exit (the default).
    #[arg(long, conflicts_with = "interval")]
    once: bool,
    /// Repeat a round every SECS seconds until a split view is found.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    interval: Option<u64>,
    /// Seconds allowed for each request.
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
    timeout: u64,
}

/// Runs `curia log ...`.
pub fn run(cmd: LogCmd, ca: Option<&Path>) -> Result<u8> {
    match cmd {
        LogCmd::Monitor(args) => monitor(&args, ca),
        LogCmd::CheckProof { file, genesis, membership, witness_keys } => {
            check_proof(&file, &genesis, membership.as_deref(), &witness_keys)
        }
    }
}

fn read_bounded(path: &Path, max: usize) -> Result<Vec<u8>> {
    let f = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut buf = Vec::new();
    f.take(max as u64 + 1).read_to_end(&mut buf).with_context(|| format!("cannot read {}", path.display()))?;
    if buf.len() > max {
        bail!("{} is larger than {max} bytes", path.display());
    }
    Ok(buf)
}

fn short(h: &Hash) -> String {
    h.to_hex()[..16].to_string()
}

fn describe(v: &Verdict) -> String {
    let mut s = format!(
        "SPLIT VIEW in log {}:\n  first:  size {} root {} ({})\n  second: size {} root {} ({})\n",
        terminal(&v.origin),
        v.first.size,
        v.first.root.to_hex(),
        terminal(&v.first.extensions.join(" ")),
        v.second.size,
        v.second.root.to_hex(),
        terminal(&v.second.extensions.join(" ")),
    );
    match &v.validators {
        Ok(vals) => {
            s.push_str(&format!(
                "  both complete under the validator sets in force: power {} of quorum {} and {} of quorum {}\n",
                vals.first_power.0, vals.first_power.1, vals.second_power.0, vals.second_power.1
            ));
            if vals.signed_both.is_empty() {
                s.push_str("  no validator key signed both (the sets in force differ: check the membership history)\n");
            }
            for d in &vals.signed_both {
                s.push_str(&format!("  signed both: validator {} key {}\n", terminal(&d.name), d.key));
            }
        }
        Err(e) => s.push_str(&format!("  validators: not shown ({})\n", terminal(e))),
    }
    for w in &v.witnesses {
        s.push_str(&format!("  cosigned both: witness {} (at {} and {})\n", terminal(&w.vkey), w.times.0, w.times.1));
    }
    s
}

fn check_proof(file: &Path, genesis: &Path, membership: Option<&Path>, witness_keys: &[String]) -> Result<u8> {
    let (spec, members) = crate::load_members(genesis, membership)?;
    let keys = witness_keys
        .iter()
        .map(|k| Verifier::parse(k).map_err(|e| anyhow::anyhow!("--witness-key {}: {e}", terminal(k))))
        .collect::<Result<Vec<_>>>()?;
    let bytes = read_bounded(file, misbehaviour::MAX_FILE_BYTES)?;
    let view = SplitView::parse(&bytes)?;
    match misbehaviour::verify(&view, &spec.chain_id, &members, &keys) {
        Ok(v) => {
            print!("{}", describe(&v));
            println!("VALID: the file proves a split view");
            Ok(0)
        }
        Err(curia_transparency::Error::NotASplitView(m)) => {
            println!("INVALID: {}", terminal(&m));
            Ok(1)
        }
        Err(e) => Err(e.into()),
    }
}

// ----- the monitor -----

/// A checkpoint that checked, and where it came from.
#[derive(Clone)]
struct Seen {
    from: String,
    note: Vec<u8>,
    cp: Checkpoint,
}

struct Net {
    agent: ureq::Agent,
}

enum Fetch {
    Body(Vec<u8>),
    Status(u16, String),
}

impl Net {
    fn get(&self, url: &str, limit: usize) -> Result<Fetch> {
        let (resp, ok) = match self.agent.get(url).call() {
            Ok(r) => (r, true),
            Err(ureq::Error::Status(_, r)) => (r, false),
            Err(ureq::Error::Transport(t)) => bail!("{t}"),
        };
        let status = resp.status();
        let lim = if ok { limit } else { MAX_ERROR_BODY };
        let mut buf = Vec::new();
        resp.into_reader().take(lim as u64 + 1).read_to_end(&mut buf).context("reading the answer")?;
        if !ok {
            buf.truncate(lim);
            return Ok(Fetch::Status(status, String::from_utf8_lossy(&buf).trim().to_string()));
        }
        if buf.len() > limit {
            bail!("answer larger than {limit} bytes");
        }
        Ok(Fetch::Body(buf))
    }
}

fn monitor(args: &MonitorArgs, ca: Option<&Path>) -> Result<u8> {
    if args.nodes.len() + args.witnesses.len() > MAX_SOURCES {
        bail!("at most {MAX_SOURCES} --node and --witness URLs");
    }
    for u in args.nodes.iter().chain(&args.witnesses) {
        if !u.starts_with("http://") && !u.starts_with("https://") {
            bail!("{} is not an http:// or https:// URL", terminal(u));
        }
    }
    let (spec, members) = crate::load_members(&args.genesis, args.membership.as_deref())?;
    let mut agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(5))
        .timeout(Duration::from_secs(args.timeout))
        .redirects(0);
    if let Some(ca) = ca {
        agent = agent.tls_config(curia_client::tls::config_from_ca_file(ca)?);
    }
    let net = Net { agent: agent.build() };
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    if let Some(s) = &args.state {
        std::fs::create_dir_all(s).with_context(|| format!("cannot create {}", s.display()))?;
    }
    loop {
        let code = round(args, &spec, &members, &net)?;
        match args.interval {
            Some(secs) if code != 1 => std::thread::sleep(Duration::from_secs(secs)),
            _ => return Ok(code),
        }
    }
}

/// Checks a note under the chain's validators; a line for the report.
fn check_note(
    spec: &ChainSpec,
    members: &Membership,
    note: &[u8],
) -> std::result::Result<(Checkpoint, String), String> {
    let parsed = curia_transparency::note::Note::parse(note).map_err(|e| e.to_string())?;
    let cp = Checkpoint::parse(&parsed.text).map_err(|e| e.to_string())?;
    let h = checkpoint_height(&cp).map_err(|e| e.to_string())?;
    let set = members.set_at(h);
    let ok =
        check_validator_note(note, &spec.chain_id, set).map_err(|e| format!("does not check at height {h}: {e}"))?;
    let line = format!(
        "size {} root {} height {h}, {} validators signed (power {} of quorum {})",
        cp.size,
        short(&cp.root),
        ok.signers.len(),
        ok.power,
        set.quorum_power()
    );
    Ok((cp, line))
}

fn state_path(dir: &Path, log_origin: &str) -> PathBuf {
    dir.join(format!("{}.checkpoint", Hash::sha256(log_origin.as_bytes()).to_hex()))
}

/// Writes `bytes` to `path` atomically: a temp file in the same directory, synced, renamed, the
/// directory synced.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("cannot rename to {}", path.display()))?;
    std::fs::File::open(dir)?.sync_all().with_context(|| format!("cannot sync {}", dir.display()))?;
    Ok(())
}

/// How a pair of trees compares.
enum Pair {
    Consistent,
    Conflict { prefix_root: Hash, proof: Vec<Hash> },
    Unresolved,
}

/// One round: the exit code (0, 1 or 3).
fn round(args: &MonitorArgs, spec: &ChainSpec, members: &Membership, net: &Net) -> Result<u8> {
    let log_origin = origin(&spec.chain_id);
    let mut problems = 0usize;
    let mut seen: Vec<Seen> = Vec::new();

    // The last checkpoint seen: it checked when it was kept, so one that does not check now is
    // unusable input (a corrupted file, or another chain's).
    let state_file = args.state.as_ref().map(|d| state_path(d, &log_origin));
    let mut kept: Option<Checkpoint> = None;
    if let Some(p) = state_file.as_ref().filter(|p| p.exists()) {
        let note = read_bounded(p, MAX_NOTE_BYTES)?;
        let (cp, line) = check_note(spec, members, &note).map_err(|e| {
            anyhow::anyhow!(
                "state file {} does not hold a valid checkpoint: {}; move it away to start afresh",
                p.display(),
                terminal(&e)
            )
        })?;
        println!("state {}: {line}", p.display());
        kept = Some(cp.clone());
        seen.push(Seen { from: format!("state {}", p.display()), note, cp });
    }

    let origin_hash = Hash::sha256(log_origin.as_bytes()).to_hex();
    let sources = args.nodes.iter().map(|u| ("node", u, format!("{}/v1/checkpoint", u.trim_end_matches('/')))).chain(
        args.witnesses.iter().map(|u| ("witness", u, format!("{}/{origin_hash}/checkpoint", u.trim_end_matches('/')))),
    );
    let mut reachable = vec![false; args.nodes.len()];
    for (i, (kind, base, url)) in sources.enumerate() {
        let label = format!("{kind} {}", terminal(base));
        match net.get(&url, MAX_NOTE_BYTES) {
            Err(e) => {
                problems += 1;
                println!("{label}: ERROR unreachable or bad answer: {}", terminal(&format!("{e:#}")));
            }
            Ok(Fetch::Status(404, body)) => {
                if i < args.nodes.len() {
                    reachable[i] = true;
                }
                println!("{label}: no checkpoint yet ({})", terminal(&body));
            }
            Ok(Fetch::Status(code, body)) => {
                problems += 1;
                println!("{label}: ERROR HTTP {code}: {}", terminal(&body));
            }
            Ok(Fetch::Body(note)) => {
                if i < args.nodes.len() {
                    reachable[i] = true;
                }
                match check_note(spec, members, &note) {
                    Ok((cp, line)) => {
                        println!("{label}: {line}");
                        seen.push(Seen { from: format!("{kind} {base}"), note, cp });
                    }
                    Err(e) => {
                        problems += 1;
                        println!("{label}: ERROR its checkpoint {}", terminal(&e));
                    }
                }
            }
        }
    }

    // Distinct trees, smallest first; the first note seen of each stands for it.
    let mut trees: Vec<Seen> = Vec::new();
    for s in seen {
        if !trees.iter().any(|t| t.cp.size == s.cp.size && t.cp.root == s.cp.root) {
            trees.push(s);
        }
    }
    trees.sort_by_key(|t| t.cp.size);

    let mut cache: HashMap<(usize, u64, u64), Option<LogConsistency>> = HashMap::new();
    let mut conflicts = 0usize;
    let mut unresolved: Vec<(u64, Hash, u64, Hash)> = Vec::new();
    for i in 0..trees.len() {
        for j in i + 1..trees.len() {
            let (x, y) = (&trees[i], &trees[j]);
            let pair = compare(args, net, &reachable, &mut cache, &mut problems, &x.cp, &y.cp);
            match pair {
                Pair::Consistent => {}
                Pair::Unresolved => {
                    unresolved.push((x.cp.size, x.cp.root, y.cp.size, y.cp.root));
                    println!(
                        "UNRESOLVED: no node proved whether size {} root {} ({}) and size {} root {} ({}) are consistent",
                        x.cp.size,
                        short(&x.cp.root),
                        terminal(&x.from),
                        y.cp.size,
                        short(&y.cp.root),
                        terminal(&y.from)
                    );
                }
                Pair::Conflict { prefix_root, proof } => {
                    conflicts += 1;
                    let view = SplitView {
                        first: x.note.clone(),
                        second: y.note.clone(),
                        prefix_root,
                        consistency: proof,
                        first_from: Some(x.from.clone()),
                        second_from: Some(y.from.clone()),
                    };
                    let verdict = misbehaviour::verify(&view, &spec.chain_id, members, &[])
                        .context("internal error: a conflict the proof verifier refuses")?;
                    let json = view.to_json();
                    let name = format!(
                        "split-view-{}-{}-{}.json",
                        x.cp.size,
                        y.cp.size,
                        &Hash::sha256(json.as_bytes()).to_hex()[..16]
                    );
                    let path = args.out.join(name);
                    write_atomic(&path, json.as_bytes())?;
                    print!("{}", describe(&verdict));
                    println!(
                        "  seen at {} and {}\n  proof written to {}",
                        terminal(&x.from),
                        terminal(&y.from),
                        path.display()
                    );
                }
            }
        }
    }
    if conflicts > 0 {
        println!("split view: {conflicts} conflicting pair(s), proof files in {}", args.out.display());
        return Ok(1);
    }

    // Keep the largest tree if it is shown consistent with the one kept before.
    if let (Some(p), Some(top)) = (&state_file, trees.last()) {
        let blocked = kept.as_ref().is_some_and(|k| {
            unresolved.iter().any(|u| (u.0, u.1, u.2, u.3) == (k.size, k.root, top.cp.size, top.cp.root))
        });
        let same = kept.as_ref().is_some_and(|k| k.size == top.cp.size && k.root == top.cp.root);
        if blocked {
            println!("state not advanced: size {} is not shown consistent with the kept size", top.cp.size);
        } else if !same {
            write_atomic(p, &top.note)?;
            println!("state: kept size {} root {}", top.cp.size, short(&top.cp.root));
        }
    }
    if problems > 0 || !unresolved.is_empty() {
        println!("no split view shown; {problems} problem(s), {} unresolved pair(s)", unresolved.len());
        return Ok(EXIT_INCOMPLETE);
    }
    println!("consistent: {} distinct checkpoint tree(s), no split view", trees.len());
    Ok(0)
}

/// Compares two checkpoint trees, `x` not larger than `y`.
fn compare(
    args: &MonitorArgs,
    net: &Net,
    reachable: &[bool],
    cache: &mut HashMap<(usize, u64, u64), Option<LogConsistency>>,
    problems: &mut usize,
    x: &Checkpoint,
    y: &Checkpoint,
) -> Pair {
    if x.size == y.size {
        return if x.root == y.root { Pair::Consistent } else { Pair::Conflict { prefix_root: y.root, proof: vec![] } };
    }
    if x.size == 0 {
        // Consistency from the empty tree is not defined (RFC 9162); a size-0 checkpoint is
        // right iff its root is SHA-256("").
        if x.root == Hash::sha256(b"") {
            return Pair::Consistent;
        }
        *problems += 1;
        println!("ERROR: a checkpoint of size 0 has root {}, not SHA-256(\"\")", x.root.to_hex());
        return Pair::Unresolved;
    }
    for (n, base) in args.nodes.iter().enumerate() {
        if !reachable[n] {
            continue;
        }
        let key = (n, x.size, y.size);
        if let std::collections::hash_map::Entry::Vacant(e) = cache.entry(key) {
            e.insert(fetch_consistency(net, base, x, y, problems));
        }
        let Some(c) = cache.get(&key).and_then(Option::as_ref) else { continue };
        if c.to_root != y.root {
            continue; // this node holds another tree at y's size; another node may hold y's
        }
        if let Err(e) = verify_consistency(x.size, y.size, &c.from_root, &c.to_root, &c.proof) {
            *problems += 1;
            println!(
                "node {}: ERROR its consistency proof {}..{} does not verify: {e}",
                terminal(base),
                x.size,
                y.size
            );
            continue;
        }
        return if c.from_root == x.root {
            Pair::Consistent
        } else {
            Pair::Conflict { prefix_root: c.from_root, proof: c.proof.clone() }
        };
    }
    Pair::Unresolved
}

/// Asks node `base` for the consistency proof from `x`'s size to `y`'s; `None` if it has none
/// (its log is shorter: 404) or answers badly (counted in `problems`).
fn fetch_consistency(
    net: &Net,
    base: &str,
    x: &Checkpoint,
    y: &Checkpoint,
    problems: &mut usize,
) -> Option<LogConsistency> {
    let url = format!("{}/v1/log/consistency?from={}&to={}", base.trim_end_matches('/'), x.size, y.size);
    match net.get(&url, MAX_CONSISTENCY_ANSWER) {
        Ok(Fetch::Body(b)) => match serde_json::from_slice::<LogConsistency>(&b) {
            Ok(c) if c.from == x.size && c.to == y.size => Some(c),
            Ok(_) => {
                *problems += 1;
                println!("node {}: ERROR consistency answer for other sizes", terminal(base));
                None
            }
            Err(e) => {
                *problems += 1;
                println!(
                    "node {}: ERROR consistency answer is not valid: {}",
                    terminal(base),
                    terminal(&e.to_string())
                );
                None
            }
        },
        // 404: this node's log is shorter; not a fault.
        Ok(Fetch::Status(404, _)) => None,
        Ok(Fetch::Status(code, body)) => {
            *problems += 1;
            println!(
                "node {}: ERROR consistency {}..{} refused: HTTP {code} {}",
                terminal(base),
                x.size,
                y.size,
                terminal(&body)
            );
            None
        }
        Err(e) => {
            *problems += 1;
            println!("node {}: ERROR consistency request: {}", terminal(base), terminal(&format!("{e:#}")));
            None
        }
    }
}
