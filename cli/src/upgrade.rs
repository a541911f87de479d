//! `curia receipt upgrade R --node URL`: makes an upgraded receipt (`docs/receipt-format.md`
//! 15.4) from a running node: the deposit's place in the deposit log under a checkpoint that
//! witnesses cosigned and a Time-Stamping Authority stamped.
//!
//! Rules:
//! - The receipt (JSON or canonical bytes, at most the receipt limit) must be a deposit's
//!   (single or batch item); its leaf is `SHA-256(0x00 || deposit ID || commitment)` (14.1). A
//!   `log` member it already carries is replaced.
//! - Everything the node says is checked, nothing is trusted: the leaf index comes from `GET
//!   /v1/log/index`, but the inclusion proof (`GET /v1/log/inclusion`) must lead from the
//!   receipt's own leaf to the checkpoint's root; the checkpoint (`GET /v1/checkpoint`) must
//!   parse and, with `--policy`, satisfy the policy (its log keys and witness quorum); without a
//!   policy it must carry at least one cosignature line (not checked: no keys to check with).
//!   The token (`GET /v1/checkpoint/tsa?size=N`) must be over that checkpoint's text, and with
//!   `--tsa-cert` verify against the certificate.
//! - Waiting is bounded by `--wait` seconds in all: for the deposit to be in the log, for a
//!   checkpoint of a size above its index that satisfies the policy, and (unless `--no-tsa`) for
//!   that checkpoint's time stamp. Polls every [`POLL`]; progress on stderr.
//! - Before anything is written, the upgraded receipt is read back as `curia verify` reads it
//!   (the receipt without `log`, then the `log` member) and its log checks are run exactly as
//!   `curia verify --policy` runs them (`log_checkpoint`, `log_inclusion`, with `--tsa-cert`
//!   `log_tsa`); without `--policy` the policy is `quorum none` (the log signature and witnesses
//!   unchecked, said on stderr). If a check fails, nothing is written and the exit code is 1.
//! - Output: `--out FILE` (written whole, then renamed into place), otherwise stdout.
//!   Exit 0 written, 1 refused (a check failed or the wait ran out), 2 unusable input.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use curia_client::Error as ApiError;
use curia_ledger::hash::Hash;
use curia_ledger::limits::MAX_RECEIPT_BYTES;
use curia_ledger::receipt::Receipt;
use curia_ledger::tx::Payload;
use curia_transparency::checkpoint::Checkpoint;
use curia_transparency::note::Note;
use curia_transparency::policy::{Policy, MAX_POLICY_BYTES};
use curia_transparency::rfc3161::{self, TsaCertificate, MAX_CERT_BYTES};
use curia_transparency::upgrade::{self, LogProof, ReceiptLog};
use curia_verifier::escape::terminal;
use curia_verifier::load::read_bounded;

/// How often the node is asked again while waiting.
pub const POLL: Duration = Duration::from_millis(500);
/// Default `--wait`.
pub const DEFAULT_WAIT_SECS: u64 = 300;
/// Largest `--wait` (a day).
pub const MAX_WAIT_SECS: u64 = 86_400;

/// `curia receipt upgrade --help`.
pub const LONG_ABOUT: &str = "Make an upgraded receipt (receipt format 15.4) from a running node.

Adds a `log` member to receipt R: the deposit's leaf index and inclusion proof in the chain's \
deposit log, the checkpoint (signed by the validators, cosigned by witnesses) whose root the \
proof leads to, and the RFC 3161 time stamp the node obtained over that checkpoint. Such a \
receipt stays verifiable under a witness policy even if every validator key later leaks, and it \
carries a second upper bound on the deposit's time from an outside Time-Stamping Authority.

The command waits (at most --wait seconds) for a checkpoint that covers the deposit and \
satisfies --policy, and for its time stamp (unless --no-tsa). Nothing the node sends is trusted: \
before writing, the result is checked as `curia verify --policy POLICY [--tsa-cert CERT]` checks \
the log member, and refused if a check fails. Give the judge's policy and TSA certificate to \
get a receipt that will pass the judge's check.

Exit 0 written, 1 refused (a check failed or the wait ran out; nothing written), 2 unusable \
input.";

/// `curia receipt upgrade`.
#[derive(clap::Args, Debug, Clone)]
pub struct UpgradeCmd {
    /// The receipt to upgrade (JSON or canonical bytes).
    pub receipt: PathBuf,
    /// A node's API URL.
    #[arg(long)]
    pub node: String,
    /// Write the upgraded receipt here (JSON) instead of printing it.
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Witness policy (receipt format 15.3): wait for a checkpoint that satisfies it, and check
    /// the result under it.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// The TSA certificate (PEM or DER): the node's time stamp must verify against it.
    #[arg(long, value_name = "CERT", conflicts_with = "no_tsa")]
    pub tsa_cert: Option<PathBuf>,
    /// Do not wait for or include the node's RFC 3161 time stamp.
    #[arg(long)]
    pub no_tsa: bool,
    /// Seconds to wait in all for the deposit, a covering checkpoint and its time stamp.
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_WAIT_SECS)]
    pub wait: u64,
}

/// Runs `curia receipt upgrade`; the exit code.
pub fn run(cmd: &UpgradeCmd, ca_file: Option<&Path>) -> Result<u8> {
    if cmd.wait > MAX_WAIT_SECS {
        bail!("--wait is at most {MAX_WAIT_SECS} seconds");
    }
    let bytes = read_bounded(&cmd.receipt, MAX_RECEIPT_BYTES, "receipt")?;
    let receipt = Receipt::parse(&bytes).with_context(|| format!("receipt {}", cmd.receipt.display()))?;
    if ReceiptLog::of_receipt(&bytes).ok().flatten().is_some() {
        eprintln!("note: the receipt already carries a `log` member; it is replaced");
    }
    let leaf = match leaf_of(&receipt) {
        Some(l) => l,
        None => {
            bail!("receipt {} is not a deposit's receipt: it has no place in the deposit log", cmd.receipt.display())
        }
    };
    let policy = match &cmd.policy {
        Some(p) => {
            let b = read_bounded(p, MAX_POLICY_BYTES, "policy")?;
            Some(Policy::parse(&b).with_context(|| format!("policy {}", p.display()))?)
        }
        None => None,
    };
    let tsa = match &cmd.tsa_cert {
        Some(p) => {
            let b = read_bounded(p, MAX_CERT_BYTES, "TSA certificate")?;
            Some(TsaCertificate::parse(&b).with_context(|| format!("TSA certificate {}", p.display()))?)
        }
        None => None,
    };
    let client = crate::netcmd::client(&cmd.node, ca_file)?;
    let deadline = Instant::now() + Duration::from_secs(cmd.wait);
    let id = receipt.deposit_id;

    // 1. The deposit's leaf index.
    let mut waiting = Waiting::default();
    let index = loop {
        match client.log_index(&id) {
            Ok(i) => break i,
            Err(ApiError::DepositNotFound(_)) => waiting.say(&format!("deposit {id} is not in the node's log yet")),
            Err(e) => return Err(e.into()),
        }
        if !waiting.sleep(deadline) {
            return refuse(&format!("deposit {id} did not appear in the node's deposit log within {} s", cmd.wait));
        }
    };
    eprintln!("deposit {id} is leaf {index} of the deposit log");

    // 2. A checkpoint covering it, satisfying the policy, with its time stamp.
    let (log, cp) = loop {
        match candidate(&client, index, &leaf, policy.as_ref(), tsa.as_ref(), cmd.no_tsa)? {
            Ok(found) => break found,
            Err(reason) => waiting.say(&reason),
        }
        if !waiting.sleep(deadline) {
            return refuse(&format!("no usable checkpoint within {} s; last: {}", cmd.wait, waiting.last));
        }
    };

    // 3. The upgraded receipt, read back and checked as `curia verify --policy` would.
    let mut v: serde_json::Value = serde_json::from_str(&receipt.to_json()).context("receipt as JSON")?;
    v.as_object_mut().context("a receipt is a JSON object")?.insert("log".into(), log.to_json());
    let text = serde_json::to_string_pretty(&v)? + "\n";
    let back = Receipt::parse(text.as_bytes()).context("the upgraded receipt does not read back")?;
    let back_log = ReceiptLog::of_receipt(text.as_bytes())?.context("the upgraded receipt lost its log member")?;
    let none = Policy::parse(b"quorum none\n")?;
    let used = policy.as_ref().unwrap_or(&none);
    let back_leaf = leaf_of(&back).context("the upgraded receipt is not a deposit's")?;
    let report = upgrade::verify(&back_log, &back_leaf, used, tsa.as_ref());
    for c in &report.checks {
        eprintln!("  [{}] {:<14} {}", if c.ok { "PASS" } else { "FAIL" }, c.name, terminal(&c.detail));
    }
    if let Some(f) = report.first_failure() {
        return refuse(&format!("check `{}` failed: {}; nothing written", f.name, terminal(&f.detail)));
    }
    if policy.is_none() {
        eprintln!("note: no --policy: the checkpoint's signatures and witness cosignatures were not checked");
    }
    match (&tsa, &log.tsa_token) {
        (_, None) => eprintln!("note: no time stamp included (--no-tsa)"),
        (None, Some(_)) => eprintln!("note: time stamp included but not verified (give --tsa-cert)"),
        (Some(_), Some(_)) => {}
    }
    match &cmd.out {
        Some(p) => {
            write_atomic(p, text.as_bytes())?;
            eprintln!(
                "upgraded receipt of {id} (leaf {index} of checkpoint size {}) written to {}",
                cp.size,
                p.display()
            );
        }
        None => print!("{text}"),
    }
    Ok(0)
}

/// The deposit's leaf (receipt format 14.1), or `None` for a receipt that is not a deposit's.
pub fn leaf_of(r: &Receipt) -> Option<Hash> {
    let commitment = match (&r.tx.payload, &r.item) {
        (_, Some(item)) => item.commitment,
        (Payload::Deposit(d), None) => d.commitment.hash(),
        (_, None) => return None,
    };
    Some(upgrade::deposit_leaf_hash(&r.deposit_id, &commitment))
}

fn refuse(msg: &str) -> Result<u8> {
    eprintln!("curia receipt upgrade: refused: {msg}");
    Ok(1)
}

/// Progress while waiting: each new reason once on stderr.
#[derive(Default)]
struct Waiting {
    last: String,
}

impl Waiting {
    fn say(&mut self, reason: &str) {
        if reason != self.last {
            eprintln!("waiting: {}", terminal(reason));
            self.last = reason.to_string();
        }
    }

    /// Sleeps one poll; false once the deadline has passed.
    fn sleep(&self, deadline: Instant) -> bool {
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        std::thread::sleep(POLL.min(deadline - now));
        true
    }
}

/// One attempt: the node's latest checkpoint, if it covers `index` and satisfies what is asked,
/// with its inclusion proof and token. `Ok(Err(reason))` to wait; `Err` for a node that answers
/// something wrong (a proof that does not lead to the checkpoint's root, a token that does not
/// verify).
fn candidate(
    client: &curia_client::Client,
    index: u64,
    leaf: &Hash,
    policy: Option<&Policy>,
    tsa: Option<&TsaCertificate>,
    no_tsa: bool,
) -> Result<std::result::Result<(ReceiptLog, Checkpoint), String>> {
    let note = match client.checkpoint(None) {
        Ok(n) => n,
        Err(ApiError::Log(f)) => return Ok(Err(format!("the node has no checkpoint yet ({})", f.message))),
        Err(e) => return Err(e.into()),
    };
    let parsed = Note::parse(&note).context("the node's checkpoint is not a signed note")?;
    let cp = Checkpoint::parse(&parsed.text).context("the node's checkpoint")?;
    if cp.size <= index {
        return Ok(Err(format!("the latest checkpoint has size {}, not above leaf {index}", cp.size)));
    }
    match policy {
        Some(p) => {
            if let Err(e) = p.check(&note) {
                return Ok(Err(format!("the checkpoint of size {} does not satisfy the policy yet: {e}", cp.size)));
            }
        }
        None => {
            // cosignature/v1 lines: key ID, 8-byte timestamp, 64-byte signature.
            if !parsed.signatures.iter().any(|s| s.signature.len() == 72) {
                return Ok(Err(format!("the checkpoint of size {} has no witness cosignature yet", cp.size)));
            }
        }
    }
    let tsa_token = if no_tsa {
        None
    } else {
        let token = match client.checkpoint_tsa(cp.size) {
            Ok(t) => t,
            Err(ApiError::Log(f)) => {
                return Ok(Err(format!("the checkpoint of size {} is not time-stamped yet ({})", cp.size, f.message)))
            }
            Err(e) => return Err(e.into()),
        };
        let expected = rfc3161::imprint(parsed.text.as_bytes());
        let content = rfc3161::token_content(&token).context("the node's time stamp")?;
        if content.imprint != expected {
            // A later checkpoint of the same size replaced the stamped one, or the other way round.
            return Ok(Err(format!("the node's time stamp of size {} is over another checkpoint text", cp.size)));
        }
        if let Some(cert) = tsa {
            rfc3161::verify_token(&token, &expected, cert, None)
                .context("the node's time stamp does not verify against --tsa-cert")?;
        }
        Some(token)
    };
    let inc = client.log_inclusion(index, cp.size)?;
    if inc.leaf_hash != *leaf {
        bail!(
            "the node's leaf {index} is {}, not this receipt's leaf {} (deposit ID and commitment)",
            inc.leaf_hash,
            leaf
        );
    }
    if inc.root != cp.root {
        bail!("the node's log root at size {} is {}, not the checkpoint's root {}", cp.size, inc.root, cp.root);
    }
    let proof = LogProof { extra: None, index, proof: inc.proof, note };
    Ok(Ok((ReceiptLog { proof, tsa_token, tsa_chain: Vec::new() }, cp)))
}

/// Writes `bytes` to `path` through a temporary file in the same folder, then renames it.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path.file_name().context("--out names no file")?.to_string_lossy().into_owned();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}
