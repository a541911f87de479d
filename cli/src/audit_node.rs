//! `curia audit --node URL`: stream a node's chain over HTTP (`GET /v1/chain`) and replay it from
//! genesis with the ledger's [`Auditor`], the same checks as `curia audit --data-dir`.
//!
//! Nothing the node says is trusted. The genesis is the auditor's own copy (`--genesis FILE`);
//! without it the node's `/v1/genesis` is used and a loud warning says it was not checked
//! against a published copy. Every frame is decoded strictly ([`curia_node::chain_stream`]): a
//! malformed frame, an entry for the wrong height, or an answer with no blocks before the tip
//! the node itself reported is a problem at that height (exit 1), as is any block or
//! certificate the ledger's rules refuse. Network failures and refusals to answer are exit 2:
//! the audit could not be completed, which says nothing about the chain.
//!
//! Blocks hold case records, so the node serves `/v1/chain` only to a signed read
//! (`docs/api.md`, "Signed reads") by a registered auditor or judge client, or a court validator.
//! `--key FILE` is required: every chain request (every retry too) is signed afresh with it
//! over `/v1/chain?from=H&count=N` (the path and query the node sees, whatever prefix `URL`
//! has). Without a key, or with one the node refuses (401, 403), the audit is exit 2.
//!
//! Two threads: a fetcher streams frames, decodes them and does each block's stateless work
//! ([`prepare_block`]: transaction and deposit IDs, every signature, deposit-log leaves), at most
//! [`READ_AHEAD`] blocks ahead; this thread replays them in order ([`Auditor::push_prepared`]:
//! the same checks and verdicts as [`Auditor::push`]). A problem the fetcher finds is reported
//! after every block before it has been replayed, so the verdict is the one-thread one.
//!
//! Memory: one frame at a time (at most [`MAX_FRAME_BYTES`]), [`READ_AHEAD`] prepared blocks, and
//! the replayed state, which is on disk under `--scratch-dir` (or the system temp dir) and
//! removed when the audit ends: a scratch database without deposit IDs ([`ClaimingState`]:
//! clients, cases, attachments, applied transaction IDs), and bucket files of the deposits the
//! chain created and the ones its `attach_deposit`s assumed ([`DepositClaims`]), checked against
//! each other after the last block by the same key-order merge as `curia audit --data-dir`'s
//! index check; a false claim is the verdict a replay holding every deposit ID gives
//! (docs/storage.md, "Audit of a node"). Memory stays bounded whatever the chain's length: its
//! parts are summed below and checked at build time against the store audit's budget
//! ([`AUDIT_MEMORY_BUDGET`]). Ctrl-C stops the audit after the current block
//! ([`crate::audit::STOP`]).
//! This file lives apart from `audit.rs` because `storage/tests/it/cli_audit.rs` compiles that one
//! without the node crate or an HTTP client.

use std::cell::RefCell;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::time::{Duration, Instant};

use curia_client::{Client, Error as ApiError, Signer};
use curia_ledger::audit::{AuditFailure, AuditState, Auditor};
use curia_ledger::block::{Block, CommitCertificate};
use curia_ledger::genesis::{ChainSpec, Genesis};
use curia_ledger::state::{prepare_block, verify_all, PreparedBlock};
use curia_node::chain_stream::{read_frame, FrameError, MAX_CHAIN_BLOCKS, MAX_FRAME_BYTES};
use curia_node::config::read_key;
use curia_storage::{
    ClaimingState, DepositClaims, AUDIT_BLOCK_IN_FLIGHT, AUDIT_MEMORY_BUDGET, NODE_AUDIT_MERGE_PHASE,
    NODE_AUDIT_REPLAY_STATE,
};

use crate::audit::{progress_bar, report, unusable, Source, INTERRUPTED, STOP};

/// How many times a 503 answer is retried (after its `Retry-After`) before giving up.
const BUSY_RETRIES: u32 = 30;
/// Why the audit needs a key, for the error without `--key`.
const KEY_NEEDED: &str = "auditing a node needs --key FILE, the key file of a registered auditor or judge \
     client or of a court validator: GET /v1/chain serves whole blocks, case records included, only to \
     requests signed by such a key";

/// Why a request did not give a usable answer (exit 2).
struct NetError(String);

/// A client of the node's API (TLS with `ca_file` for an `https://` URL). A chain frame is up to
/// 32 MiB, so the whole-request timeout is generous.
fn client(base: &str, ca_file: Option<&Path>) -> Result<Client, NetError> {
    Client::builder(base)
        .ca_file_opt(ca_file)
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(300))
        .build()
        .map_err(|e| NetError(e.to_string()))
}

/// A failed request as an unusable audit, with a hint for refused keys and signatures.
fn net_error(what: &str, e: ApiError) -> NetError {
    let hint = match &e {
        ApiError::ForbiddenReader(_) => {
            " (the node refused the key: --key must be a registered, active auditor or judge client key, or a \
             court validator's key)"
        }
        ApiError::UnsignedRequest(_) | ApiError::StaleRequest(_) | ApiError::BadReadSignature(_) => {
            " (the node refused the signature: check --key, and that this machine's clock is within 300 s of the \
             node's)"
        }
        _ => "",
    };
    NetError(format!("{what}: {e}{hint}"))
}

/// The genesis: the auditor's file, or the node's (flagged as unchecked).
fn genesis(client: &Client, file: Option<&Path>) -> Result<(ChainSpec, bool), String> {
    match file {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| format!("cannot read genesis {}: {e}", path.display()))?;
            let spec = Genesis::from_json(&bytes).map_err(|e| format!("genesis {} is invalid: {e}", path.display()))?;
            Ok((spec, true))
        }
        None => {
            let bytes = client.genesis_bytes().map_err(|e| net_error("GET /v1/genesis", e).0)?;
            let spec = Genesis::from_json(&bytes).map_err(|e| format!("the node's genesis is invalid: {e}"))?;
            Ok((spec, false))
        }
    }
}

/// Blocks fetched and prepared ahead of the replay (each at most a block of a 32 MiB frame).
const READ_AHEAD: usize = 4;

// ----- Memory (docs/storage.md "Audit of a node"), checked at build time -----

/// The frame being read: its bytes, read into a vector that may double while it grows.
const FRAME_IN_FLIGHT: usize = 2 * MAX_FRAME_BYTES;
/// Blocks in flight: those queued, the one being prepared and the one being replayed.
const BLOCKS_IN_FLIGHT: usize = READ_AHEAD + 2;
/// While the chain is read and replayed.
const REPLAY_PHASE: usize = NODE_AUDIT_REPLAY_STATE + FRAME_IN_FLIGHT + BLOCKS_IN_FLIGHT * AUDIT_BLOCK_IN_FLIGHT;
/// What the sized parts add up to at the busier phase (the merge runs once the replayed state,
/// the blocks and the frame are dropped).
pub const NODE_AUDIT_MEMORY_SIZED: usize =
    if REPLAY_PHASE > NODE_AUDIT_MERGE_PHASE { REPLAY_PHASE } else { NODE_AUDIT_MERGE_PHASE };
const _: () = assert!(
    NODE_AUDIT_MEMORY_SIZED + (64 << 20) <= AUDIT_MEMORY_BUDGET,
    "the node audit's parts exceed the audit's budget"
);

/// What the fetcher hands the replay, in chain order; a problem or a network failure ends it.
enum Fetched {
    Block(Box<(Block, CommitCertificate, PreparedBlock)>),
    /// The node's answer is wrong (exit 1 at this height).
    Problem(AuditFailure),
    /// No usable answer (exit 2).
    Net(String),
}

/// Stream heights `1..=tip` from the node, decode each frame strictly and prepare each block;
/// stop at the first problem, at Ctrl-C, or when the replay hangs up.
fn fetch(client: &Client, signer: &Signer, spec: &ChainSpec, base: &str, tip: u64, tx: &SyncSender<Fetched>) {
    let mut from = 1u64;
    while from <= tip {
        if STOP.load(Ordering::Relaxed) {
            return;
        }
        let count = (tip - from + 1).min(u64::from(MAX_CHAIN_BLOCKS));
        let chain_url = format!("{base}/v1/chain?from={from}&count={count}");
        let fail = |reason: String, code| Fetched::Problem(AuditFailure { height: from, reason, code });
        let bytes = match client.chain(signer, from, count as u32, MAX_FRAME_BYTES, BUSY_RETRIES) {
            Ok(b) => b,
            Err(ApiError::AnswerTooLarge { .. }) => {
                let reason = format!("the node's chain answer from height {from} is over {MAX_FRAME_BYTES} bytes");
                let _ = tx.send(fail(reason, "bad_frame"));
                return;
            }
            Err(e) => {
                let _ = tx.send(Fetched::Net(net_error(&format!("GET {chain_url}"), e).0));
                return;
            }
        };
        let frame = match read_frame(&bytes, from) {
            Ok(f) => f,
            Err(e) => {
                let _ = tx.send(Fetched::Problem(frame_failure(e)));
                return;
            }
        };
        let h = frame.header();
        let problem = if h.chain_id != spec.chain_id {
            Some(fail(
                format!("the node's chain answer is for chain {}, not {}", h.chain_id, spec.chain_id),
                "wrong_chain",
            ))
        } else if u64::from(h.count) > count {
            Some(fail(
                format!("the node answered {} blocks from height {from}, asked for {count}", h.count),
                "bad_frame",
            ))
        } else if h.count == 0 {
            let reason = format!(
                "the node answered no block at height {from}, though its status said its tip is {tip} (the answer says {})",
                h.tip
            );
            Some(fail(reason, "short_answer"))
        } else {
            None
        };
        if let Some(p) = problem {
            let _ = tx.send(p);
            return;
        }
        for entry in frame {
            let item = match entry {
                Err(e) => Fetched::Problem(frame_failure(e)),
                Ok((block, cert)) => {
                    // The frame decoder checked that entries come at consecutive heights from `from`.
                    from = block.header.height + 1;
                    let prepared = prepare_block(spec, &block, &verify_all);
                    Fetched::Block(Box::new((block, cert, prepared)))
                }
            };
            let last = matches!(item, Fetched::Problem(_));
            if tx.send(item).is_err() || last {
                return;
            }
        }
    }
}

fn frame_failure(e: FrameError) -> AuditFailure {
    AuditFailure {
        height: e.height,
        reason: format!("the node's chain answer is malformed: {}", e.reason),
        code: e.code,
    }
}

/// Run `curia audit --node URL --key FILE`. Returns the process exit code.
pub fn run(
    url: &str,
    ca_file: Option<&Path>,
    key_file: Option<&Path>,
    genesis_file: Option<&Path>,
    json: bool,
    scratch_dir: Option<&Path>,
) -> anyhow::Result<i32> {
    let key = match key_file.map(read_key) {
        None => return Ok(unusable(json, KEY_NEEDED)),
        Some(Err(e)) => return Ok(unusable(json, &format!("cannot use --key: {e}"))),
        Some(Ok(k)) => k,
    };
    let base = url.trim_end_matches('/');
    let client = match client(base, ca_file) {
        Ok(c) => c,
        Err(e) => return Ok(unusable(json, &e.0)),
    };
    let (spec, checked) = match genesis(&client, genesis_file) {
        Ok(g) => g,
        Err(e) => return Ok(unusable(json, &e)),
    };
    let signer = Signer::new(key, spec.chain_id);
    let warning = (!checked).then(|| {
        format!(
            "the genesis was taken from the node being audited and was NOT checked against a published copy. \
             Chain ID {}: compare it with the chain ID the court published, or give --genesis FILE. A node \
             that rewrote its whole chain under a genesis of its own would pass this audit.",
            spec.chain_id
        )
    });
    if let Some(w) = &warning {
        eprintln!("WARNING: {w}");
    }
    let st = match client.status() {
        Ok(s) => s,
        Err(e) => return Ok(unusable(json, &net_error(&format!("GET {base}/v1/status"), e).0)),
    };
    if st.chain_id != spec.chain_id.to_hex() {
        let msg =
            format!("the node at {base} serves chain {}, but the genesis is for chain {}", st.chain_id, spec.chain_id);
        return Ok(unusable(json, &msg));
    }
    let tip = st.height;
    let bar = progress_bar(tip);
    let started = Instant::now();
    let genesis_tip = curia_ledger::state::Tip::genesis(&spec);
    let claims = match DepositClaims::create(scratch_dir, &genesis_tip, Default::default()) {
        Ok(c) => RefCell::new(c),
        Err(e) => return Ok(unusable(json, &format!("cannot create the audit's claim files: {e}"))),
    };
    let state = match ClaimingState::create(&spec, scratch_dir, &claims) {
        Ok(s) => s,
        Err(e) => return Ok(unusable(json, &format!("cannot create the audit's scratch state: {e}"))),
    };
    let mut auditor = Auditor::new(&spec, state);
    // Recording a block's tip failed: the audit cannot finish (exit 2).
    let mut record_failure: Option<String> = None;
    let mut problem: Option<AuditFailure> = None;
    // Two threads, as `curia audit --data-dir`: this one replays, the fetcher streams frames,
    // decodes them and does each block's stateless work (`prepare_block`: IDs, every
    // signature, deposit-log leaves), READ_AHEAD blocks ahead at most.
    let mut net_failure: Option<String> = None;
    let mut interrupted = false;
    std::thread::scope(|scope| {
        let (tx, rx) = sync_channel::<Fetched>(READ_AHEAD);
        let (client, signer, spec) = (&client, &signer, &spec);
        scope.spawn(move || fetch(client, signer, spec, base, tip, &tx));
        for item in rx {
            if STOP.load(Ordering::Relaxed) {
                interrupted = true;
                break;
            }
            match item {
                Fetched::Block(b) => {
                    let (block, cert, prepared) = *b;
                    claims.borrow_mut().begin_block(&block);
                    if auditor.push_prepared(&block, &cert, &prepared).is_err() {
                        break;
                    }
                    let stats = auditor.state().stats();
                    if let Err(e) = claims.borrow_mut().end_block(&auditor.tip(), stats) {
                        record_failure = Some(e.to_string());
                        break;
                    }
                    let height = block.header.height;
                    bar.set_position(height);
                    if height % 64 == 0 || height == tip {
                        bar.set_message(format!("{} deposits", auditor.state().stats().deposits));
                    }
                }
                Fetched::Problem(p) => {
                    problem = Some(p);
                    break;
                }
                Fetched::Net(e) => {
                    net_failure = Some(e);
                    break;
                }
            }
        }
        // Dropping the receiver stops the fetcher at its next block or request.
    });
    if interrupted {
        bar.finish_and_clear();
        let done = auditor.tip().height;
        drop(auditor);
        unusable(json, &format!("interrupted after block {done}; the scratch state was removed"));
        return Ok(INTERRUPTED);
    }
    bar.finish_and_clear();
    if let Some(e) = record_failure {
        return Ok(unusable(json, &format!("the audit could not finish: {e}")));
    }
    if let Some(e) = auditor.state_error() {
        return Ok(unusable(json, &format!("the audit could not finish: {e}")));
    }
    let mut summary = auditor.finish();
    let replayed_tip = auditor.tip();
    // Free the replayed state (memory and disk) before the claim check's merge.
    drop(auditor);
    if summary.failure.is_none() {
        summary.failure = problem;
    }
    // A false claim is below or at any failure the replay or the node's answers showed, and it
    // is the verdict a replay with every deposit ID gives (the blocks before it are checked,
    // even if the node stopped answering after them).
    let claim = match claims.borrow_mut().settle(&mut summary) {
        Ok(c) => c,
        Err(e) => return Ok(unusable(json, &format!("the audit could not check its deposit claims: {e}"))),
    };
    if let (Some(e), None) = (net_failure, claim) {
        let done = replayed_tip.height;
        return Ok(unusable(json, &format!("{e} (after checking blocks 1 to {done} of {tip})")));
    }
    // The node's own status named its tip block: the replayed chain must end there.
    if summary.failure.is_none() && tip > 0 && replayed_tip.block_hash.to_hex() != st.tip_hash {
        summary.failure = Some(AuditFailure {
            height: tip,
            reason: format!(
                "the node's status named block {} as its tip at height {tip}, but its chain has {} there",
                st.tip_hash, replayed_tip.block_hash
            ),
            code: "tip_mismatch",
        });
    }
    let mut extra = vec![("genesis_checked", serde_json::Value::Bool(checked))];
    if let Some(w) = warning {
        extra.push(("warning", serde_json::Value::String(w)));
    }
    let source = Source { label: "node", value: base.to_string(), extra };
    let code = report(json, source, &spec.chain_id, &summary, started)?;
    if !checked && !json {
        println!("genesis    NOT CHECKED: taken from the node itself (chain {})", spec.chain_id);
    }
    Ok(code)
}
