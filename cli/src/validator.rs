//! `curia validator propose|approve|submit|list`: changing the validator set by the steps a
//! consortium takes (docs/operator-guide.md, "Adding a court's node").
//!
//! Rules:
//! - `propose` writes a change file (JSON): the chain ID, the sequence number the change must
//!   carry (the number of changes committed before it), the change, no approvals yet, and the
//!   validator set in force when it was proposed (so approvers can check offline). The chain ID
//!   and sequence number come from `--node`, or are given with `--chain-id` and `--seq`.
//! - `approve` adds one validator's approval (ed25519 over `tagged("curia/v1/membership",
//!   chain_id || u64 seq || change)`, receipt format 4.1.2). It refuses a key that is not in the
//!   set in force (from `--node`, else the file's set) and a second approval by the same key, and
//!   writes the file back only when all is well.
//! - `submit` checks the approvals against the node's set in force (members, distinct, more than
//!   two thirds of the power; the error says how much power is missing), then sends the
//!   membership transaction, signed by a registrar key, and reports the node's verdict (a
//!   refusal names its code, e.g. `not_enough_approval_power`).
//! - `list` prints the set in force at a height (`GET /v1/validators`).
//! - A change file is untrusted input: bounded in size, strict JSON (unknown fields refused).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use curia_ledger::crypto::PublicKey;
use curia_ledger::genesis::{Validator, ValidatorRole};
use curia_ledger::hash::Hash;
use curia_ledger::membership::{approval_hash, MemberApproval, MemberChange};
use curia_ledger::tx::{Payload, TxBody};
use curia_node::config::read_key;
use curia_verifier::escape::terminal;
use serde::{Deserialize, Serialize};

use crate::netcmd::client;

/// Largest change file read (a change with a full set of 256 validators fits easily).
const MAX_CHANGE_FILE: u64 = 1 << 20;

/// Change the validator set: propose a change, collect approvals, submit it, list the set.
#[derive(Subcommand)]
pub enum ValidatorCmd {
    /// Write an unsigned change file (add, remove, rotate a key, change power) for the other
    /// validators to approve. Chain ID and sequence number come from --node, or --chain-id and
    /// --seq.
    Propose(ProposeArgs),
    /// Add this validator's approval to a change file. Refuses a key not in the validator set
    /// in force (from --node, else the set recorded in the file) and a second approval by one key.
    Approve {
        /// The change file (rewritten in place with the approval added).
        file: PathBuf,
        /// This validator's key file.
        #[arg(long)]
        key: PathBuf,
        /// A node's API, to check the key against the set in force now rather than the set
        /// recorded in the file.
        #[arg(long)]
        node: Option<String>,
    },
    /// Submit an approved change as a membership transaction, signed by a registrar's key.
    /// Refuses (before sending) approvals short of more than two thirds of the power in force,
    /// saying how much power is missing.
    Submit {
        /// The change file.
        file: PathBuf,
        /// A node's API.
        #[arg(long)]
        node: String,
        /// A registrar client's key file (membership transactions are sent by a registrar).
        #[arg(long)]
        sender: PathBuf,
    },
    /// Print the validator set in force at a height (default: the next height): name, role,
    /// key, power, address.
    List {
        /// A node's API.
        #[arg(long)]
        node: String,
        /// The height (1 up to the node's tip + 2).
        #[arg(long)]
        at: Option<u64>,
        /// JSON output (the node's answer).
        #[arg(long)]
        json: bool,
    },
}

/// Arguments of `curia validator propose`.
#[derive(Args)]
pub struct ProposeArgs {
    #[command(subcommand)]
    change: ProposeChange,
    /// Where to write the change file.
    #[arg(long, global = true)]
    out: Option<PathBuf>,
    /// A node's API: the chain ID, the sequence number and the set in force come from it.
    #[arg(long, global = true)]
    node: Option<String>,
    /// The chain ID (hex), when not asking a node.
    #[arg(long, global = true)]
    chain_id: Option<String>,
    /// The change's sequence number (changes committed before it), when not asking a node.
    #[arg(long, global = true)]
    seq: Option<u64>,
    /// Overwrite an existing change file.
    #[arg(long, global = true)]
    force: bool,
}

/// The change to propose.
#[derive(Subcommand)]
enum ProposeChange {
    /// Add a validator.
    Add {
        /// Its unique name.
        #[arg(long)]
        name: String,
        /// Its role: court, notary, timesvc, mediation or forensic.
        #[arg(long)]
        role: String,
        /// Its public key (hex), or a key file with --key-file.
        #[arg(long, conflicts_with = "key_file", required_unless_present = "key_file")]
        key: Option<String>,
        /// Its key file (only the public key is read into the change).
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// Its voting power (1 to 2^40).
        #[arg(long, default_value_t = 1)]
        power: u64,
        /// Its network address (e.g. /ip4/10.0.0.5/tcp/27000 or host:27000).
        #[arg(long)]
        address: String,
    },
    /// Remove the validator with this key (hex).
    Remove {
        /// Its key.
        #[arg(long)]
        key: String,
    },
    /// Replace a validator's key: the operator writes the new key file (the node's next-key
    /// file, default KEYFILE.next) before submitting.
    Rotate {
        /// The current key (hex).
        #[arg(long)]
        old: String,
        /// The new public key (hex), or --new-key-file.
        #[arg(long, conflicts_with = "new_key_file", required_unless_present = "new_key_file")]
        new: Option<String>,
        /// The new key file (only its public key is read).
        #[arg(long)]
        new_key_file: Option<PathBuf>,
    },
    /// Change a validator's voting power.
    Power {
        /// Its key (hex).
        #[arg(long)]
        key: String,
        /// The new power (1 to 2^40).
        #[arg(long)]
        power: u64,
    },
}

/// A validator as recorded in a change file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetMember {
    /// Name.
    pub name: String,
    /// Key.
    pub key: PublicKey,
    /// Power.
    pub power: u64,
}

/// The change file `propose` writes and `approve` extends.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeFile {
    /// The chain.
    pub chain_id: Hash,
    /// The change's sequence number.
    pub seq: u64,
    /// The change.
    pub change: MemberChange,
    /// Approvals collected so far.
    pub approvals: Vec<MemberApproval>,
    /// The set in force when proposed (for approvers without a node), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<Vec<SetMember>>,
}

fn pubkey(hex: &str, what: &str) -> Result<PublicKey> {
    PublicKey::from_hex(hex.trim()).with_context(|| format!("{what} is not a public key"))
}

fn key_arg(hex: Option<&String>, file: Option<&PathBuf>, what: &str) -> Result<PublicKey> {
    match (hex, file) {
        (Some(h), _) => pubkey(h, what),
        (None, Some(f)) => Ok(read_key(f).with_context(|| format!("{what} file {}", f.display()))?.public()),
        (None, None) => bail!("give {what}"),
    }
}

fn read_change(path: &Path) -> Result<ChangeFile> {
    let len = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?.len();
    anyhow::ensure!(len <= MAX_CHANGE_FILE, "{} is larger than {MAX_CHANGE_FILE} bytes", path.display());
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("{} is not a change file", path.display()))
}

fn write_change(path: &Path, f: &ChangeFile) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(f)? + "\n")?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

fn members(a: &curia_client::types::ValidatorsAnswer) -> Vec<SetMember> {
    a.validators.iter().map(|v| SetMember { name: v.name.clone(), key: v.key, power: v.power }).collect()
}

/// Run a `curia validator` command.
pub fn run(cmd: ValidatorCmd, ca: Option<&Path>) -> Result<u8> {
    match cmd {
        ValidatorCmd::Propose(a) => propose(a, ca),
        ValidatorCmd::Approve { file, key, node } => approve(&file, &key, node.as_deref(), ca),
        ValidatorCmd::Submit { file, node, sender } => submit(&file, &node, &sender, ca),
        ValidatorCmd::List { node, at, json } => list(&node, at, json, ca),
    }
}

fn propose(a: ProposeArgs, ca: Option<&Path>) -> Result<u8> {
    let out = a.out.context("give --out FILE for the change file")?;
    anyhow::ensure!(a.force || !out.exists(), "{} exists (use --force to overwrite it)", out.display());
    let change = match &a.change {
        ProposeChange::Add { name, role, key, key_file, power, address } => MemberChange::Add {
            validator: Validator {
                name: name.clone(),
                role: ValidatorRole::parse(role)?,
                key: key_arg(key.as_ref(), key_file.as_ref(), "the new validator's key")?,
                power: *power,
                address: address.clone(),
            },
        },
        ProposeChange::Remove { key } => MemberChange::Remove { key: pubkey(key, "--key")? },
        ProposeChange::Rotate { old, new, new_key_file } => MemberChange::Rotate {
            old: pubkey(old, "--old")?,
            new: key_arg(new.as_ref(), new_key_file.as_ref(), "the new key")?,
        },
        ProposeChange::Power { key, power } => MemberChange::Power { key: pubkey(key, "--key")?, power: *power },
    };
    let (chain_id, seq, set) = match (&a.node, &a.chain_id, a.seq) {
        (Some(node), None, None) => {
            let c = client(node, ca)?;
            let v = c.validators(None)?;
            (c.chain_id()?, v.next_seq, Some(members(&v)))
        }
        (None, Some(id), Some(seq)) => (Hash::from_hex(id).context("--chain-id")?, seq, None),
        _ => bail!("give either --node URL, or --chain-id HEX and --seq N"),
    };
    let f = ChangeFile { chain_id, seq, change, approvals: Vec::new(), set };
    write_change(&out, &f)?;
    println!("wrote {}: change {} ({})", out.display(), f.seq, terminal(&f.change.describe()));
    Ok(0)
}

fn approve(file: &Path, key: &Path, node: Option<&str>, ca: Option<&Path>) -> Result<u8> {
    let mut f = read_change(file)?;
    let k = read_key(key).with_context(|| format!("key file {}", key.display()))?;
    let set = match node {
        Some(n) => members(&client(n, ca)?.validators(None)?),
        None => f.set.clone().context("the change file records no validator set: give --node URL")?,
    };
    let me = set
        .iter()
        .find(|m| m.key == k.public())
        .with_context(|| format!("key {} is not a validator of the set in force; it cannot approve", k.public()))?;
    anyhow::ensure!(
        !f.approvals.iter().any(|a| a.key == k.public()),
        "{} ({}) has already approved this change",
        terminal(&me.name),
        k.public()
    );
    let msg = approval_hash(&f.chain_id, f.seq, &f.change);
    f.approvals.push(MemberApproval { key: k.public(), signature: k.sign(&msg) });
    write_change(file, &f)?;
    println!("{} approved change {} ({})", terminal(&me.name), f.seq, terminal(&f.change.describe()));
    Ok(0)
}

fn submit(file: &Path, node: &str, sender: &Path, ca: Option<&Path>) -> Result<u8> {
    let f = read_change(file)?;
    let c = client(node, ca)?;
    let v = c.validators(None)?;
    anyhow::ensure!(c.chain_id()? == f.chain_id, "the change is for chain {}, the node serves another", f.chain_id);
    anyhow::ensure!(
        f.seq == v.next_seq,
        "the change carries sequence number {} but the node expects {} (propose it again)",
        f.seq,
        v.next_seq
    );
    let set = curia_ledger::membership::ValidatorSet::new(
        v.validators
            .iter()
            .map(|m| Validator {
                name: m.name.clone(),
                role: m.role,
                key: m.key,
                power: m.power,
                address: m.address.clone(),
            })
            .collect(),
    );
    anyhow::ensure!(set.hash == v.set_hash, "the node's validator list does not match its set hash");
    let mut power = 0u64;
    let mut seen = std::collections::HashSet::new();
    for a in &f.approvals {
        let i = set.index_of(&a.key).with_context(|| format!("approval by {}, not a validator in force", a.key))?;
        anyhow::ensure!(seen.insert(a.key), "two approvals by {}", a.key);
        a.key
            .verify("membership approval", &approval_hash(&f.chain_id, f.seq, &f.change), &a.signature)
            .with_context(|| format!("the approval by {} does not verify", set.validators[i].name))?;
        power += set.validators[i].power;
    }
    if power < set.quorum_power() {
        bail!(
            "approvals hold power {power} of {} in force; {} needed (more than two thirds): {} more power missing",
            set.total_power,
            set.quorum_power(),
            set.quorum_power() - power
        );
    }
    let key = read_key(sender).with_context(|| format!("sender key file {}", sender.display()))?;
    let nonce = curia_node::driver::now_ms();
    let tx = TxBody {
        sender: key.public(),
        nonce,
        payload: Payload::Membership { seq: f.seq, change: f.change.clone(), approvals: f.approvals.clone() },
    }
    .sign(&f.chain_id, &key);
    let answer = c.submit_transactions(&[tx])?;
    match answer.results.first().and_then(|r| r.error.as_ref()) {
        Some(e) => {
            eprintln!("refused: {} ({})", terminal(&e.message), terminal(&e.code));
            Ok(1)
        }
        None if answer.accepted == 1 => {
            println!(
                "submitted change {} ({}), approved by power {power} of {}; in force two blocks after it commits",
                f.seq,
                terminal(&f.change.describe()),
                set.total_power
            );
            Ok(0)
        }
        None => bail!("the node answered with no result"),
    }
}

fn list(node: &str, at: Option<u64>, json: bool, ca: Option<&Path>) -> Result<u8> {
    let v = client(node, ca)?.validators(at)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(0);
    }
    println!(
        "validator set in force at height {} (tip {}): {} validators, total power {}, quorum {}, next change number {}",
        v.height,
        v.tip,
        v.validators.len(),
        v.total_power,
        v.quorum_power,
        v.next_seq
    );
    for m in &v.validators {
        println!(
            "{:>3}  {:<20} {:<9} {}  power {:<4} {}",
            m.index,
            terminal(&m.name),
            m.role.as_str(),
            m.key,
            m.power,
            terminal(&m.address)
        );
    }
    Ok(0)
}
