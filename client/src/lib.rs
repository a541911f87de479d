//! # curia-client
//!
//! A typed, blocking client for the Curia node's HTTP API (`docs/api.md`), for platforms that
//! deposit evidence and for tools that read the chain. It links the ledger, the offline verifier
//! and an HTTP client, and no node code: no tokio, libp2p or RocksDB.
//!
//! ```no_run
//! use std::time::Duration;
//! use curia_client::{Client, DepositFields, Platform, Signer};
//!
//! # fn main() -> Result<(), curia_client::Error> {
//! let client = Client::builder("https://node.example:8443").ca_file("ca.pem").build()?;
//! let spec = client.genesis()?; // better: the genesis the court published
//! let key = curia_client::read_key_file("platform.key".as_ref())?;
//! let platform = Platform::new(client, Signer::new(key, spec.chain_id));
//! let fields = DepositFields { media_type: "application/pdf".into(), label: "contract".into(), reference: String::new() };
//! let d = platform.deposit_file("contract.pdf".as_ref(), &fields)?;
//! let receipt = platform.client().wait_receipt(&d.deposit_id, Duration::from_secs(60))?;
//! let report = curia_client::verify::verify_file("contract.pdf".as_ref(), &receipt, &spec)?;
//! assert!(report.is_valid());
//! # Ok(()) }
//! ```
//!
//! Rules:
//! - Request and answer bodies are the structs of [`types`] (`curia-api-types`), which the node
//!   serializes: one definition for both sides. Answers may carry fields this client does not
//!   know (ignored); requests never carry unknown fields.
//! - Every answer is read bounded (a limit per endpoint) before it is parsed; an answer over its
//!   limit is [`Error::AnswerTooLarge`], one that does not parse is [`Error::Protocol`].
//! - Every error answer becomes the [`Error`] variant of its code ([`error`]).
//! - Nothing waits without bound: each HTTP request has connect and read timeouts; a submission's
//!   retries stop at its deadline ([`ClientBuilder::submit_deadline`]); waiting for a commit or a
//!   receipt takes the caller's timeout and polls with a growing interval, following the node's
//!   `Retry-After` (capped at [`MAX_BACKOFF`]).
//! - A submission is retried only when that cannot double it: on 503 (the node pushed back) and
//!   on a broken connection, resending the same signed bytes (a transaction is identified by its
//!   bytes). If a retry is then refused as `already_pending` or `duplicate`, an earlier attempt
//!   got in and the submission counts as accepted.
//! - The node's answer to a submission must name the transaction and deposit IDs the client
//!   computed itself, and a receipt must be for the deposit asked for; anything else is
//!   [`Error::Protocol`].
//! - TLS: see [`tls`]. Signed reads: see [`sign`].

pub mod error;
pub mod sign;
pub mod tls;
pub mod verify;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use curia_ledger::genesis::{ChainSpec, Genesis};
use curia_ledger::limits::{MAX_GENESIS_BYTES, MAX_RECEIPT_BYTES};
use curia_ledger::receipt::Receipt;
use curia_ledger::tx::Transaction;
use curia_ledger::Hash;
use serde::de::DeserializeOwned;

pub use curia_api_types as types;
pub use error::{ApiFailure, Error};
pub use sign::{read_key_file, DepositFields, SignedDeposit, Signer};

/// The binary body of `POST /v1/transactions` (`Content-Type: application/octet-stream`): a
/// big-endian `u32` count, then each transaction's canonical encoding. See
/// [`Client::submit_binary_body`].
pub fn binary_transactions_body(txs: &[Transaction]) -> Vec<u8> {
    use curia_ledger::codec::{Canonical, Writer};
    let mut w = Writer::new();
    w.list(txs, |w, t| t.encode(w));
    w.into_bytes()
}
use types::{
    Accepted, BackupAnswer, BatchAnswer, BlockInfo, BlockTxs, CaseInfo, DepositInfo, DigestDeposits, ErrorBody,
    EvidenceList, Health, NodeStatus, TxBatch, DEPOSIT_BODY_LIMIT, TRANSACTIONS_BODY_LIMIT,
};

/// Longest single wait between retries or polls, whatever `Retry-After` says.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// First poll interval while a deposit is not yet committed; it grows by half up to [`MAX_POLL`].
pub const FIRST_POLL: Duration = Duration::from_millis(250);
/// Longest poll interval while a deposit is not yet committed.
pub const MAX_POLL: Duration = Duration::from_secs(2);
/// Bound for small JSON answers (status, deposit, block, digest lookups, cases).
pub const MAX_SMALL_ANSWER: usize = 4 << 20;
/// Bound for a submission's answer (10,000 deposit IDs, or 10,000 per-item results).
pub const MAX_SUBMIT_ANSWER: usize = 8 << 20;
/// Bound for the body of an error answer that is read.
const MAX_ERROR_BODY: usize = 64 << 10;
/// Largest checkpoint note or time-stamp token read (a C2SP note and an RFC 3161 token are each
/// at most 64 KiB).
pub const MAX_NOTE_ANSWER: usize = 64 << 10;

/// Settings of a [`Client`]; start with [`Client::builder`].
#[derive(Clone, Debug)]
pub struct ClientBuilder {
    url: String,
    ca_file: Option<PathBuf>,
    connect_timeout: Duration,
    timeout: Duration,
    submit_deadline: Duration,
}

impl ClientBuilder {
    /// Trust only the CA certificates of this PEM file for an `https://` URL (see [`tls`]).
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// [`ClientBuilder::ca_file`] when `path` is given.
    pub fn ca_file_opt(mut self, path: Option<&Path>) -> Self {
        self.ca_file = path.map(Path::to_path_buf);
        self
    }

    /// Timeout to connect (default 5 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// Timeout of one whole request, connect to last byte (default 60 s).
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    /// How long a submission is retried while the node pushes back (default 60 s).
    pub fn submit_deadline(mut self, d: Duration) -> Self {
        self.submit_deadline = d;
        self
    }

    /// The client. Fails on a URL that is not `http://` or `https://`, a CA file with an `http://`
    /// URL, or an unusable CA file.
    pub fn build(self) -> Result<Client, Error> {
        let base = self.url.trim_end_matches('/').to_string();
        let https = base.starts_with("https://");
        if !https && !base.starts_with("http://") {
            return Err(Error::InvalidInput(format!("node URL {base:?} is not http:// or https://")));
        }
        let mut agent = ureq::AgentBuilder::new().timeout_connect(self.connect_timeout).timeout(self.timeout);
        if let Some(ca) = &self.ca_file {
            if !https {
                return Err(Error::InvalidInput(format!(
                    "a CA file ({}) is given but the node URL {base} is plain http://: use https://",
                    ca.display()
                )));
            }
            agent = agent.tls_config(tls::config_from_ca_file(ca)?);
        }
        Ok(Client { base, agent: agent.build(), submit_deadline: self.submit_deadline })
    }
}

/// A connection to one node's API (or its ops listener, for [`Client::health`] and
/// [`Client::backup`]). Cheap to clone; safe to share between threads.
#[derive(Clone, Debug)]
pub struct Client {
    base: String,
    agent: ureq::Agent,
    submit_deadline: Duration,
}

/// What came back from one request: status, `Retry-After`, body.
struct Answer {
    status: u16,
    retry_after: Option<Duration>,
    body: Vec<u8>,
}

impl Client {
    /// A client for `url` (`http://HOST:PORT` or `https://HOST:PORT`, optionally with a path
    /// prefix) with default settings.
    pub fn new(url: &str) -> Result<Client, Error> {
        Client::builder(url).build()
    }

    /// Settings for a client of `url`.
    pub fn builder(url: &str) -> ClientBuilder {
        ClientBuilder {
            url: url.to_string(),
            ca_file: None,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(60),
            submit_deadline: Duration::from_secs(60),
        }
    }

    /// This client with another submission deadline (see [`ClientBuilder::submit_deadline`]).
    pub fn with_submit_deadline(mut self, d: Duration) -> Client {
        self.submit_deadline = d;
        self
    }

    /// The node's base URL, without a trailing slash.
    pub fn url(&self) -> &str {
        &self.base
    }

    // ----- transport -----

    /// One request; any HTTP status comes back as an [`Answer`] (body read up to `limit` for a
    /// success, at least [`MAX_ERROR_BODY`] for an error, cut there); only a failure to get an answer is an error.
    fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Option<&[u8]>,
        limit: usize,
    ) -> Result<Answer, Error> {
        let url = format!("{}{path}", self.base);
        let mut req = self.agent.request(method, &url);
        for (k, v) in headers {
            req = req.set(k, v);
        }
        let typed = headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("Content-Type"));
        let result = match body {
            Some(b) if typed => req.send_bytes(b),
            Some(b) => req.set("Content-Type", "application/json").send_bytes(b),
            None => req.call(),
        };
        let (resp, limit) = match result {
            Ok(r) => (r, limit),
            Err(ureq::Error::Status(_, r)) => (r, limit.max(MAX_ERROR_BODY)),
            Err(ureq::Error::Transport(t)) => return Err(Error::Transport { url, reason: t.to_string() }),
        };
        let status = resp.status();
        let retry_after =
            resp.header("Retry-After").and_then(|s| s.trim().parse::<u64>().ok()).map(Duration::from_secs);
        let mut buf = Vec::new();
        resp.into_reader()
            .take(limit as u64 + 1)
            .read_to_end(&mut buf)
            .map_err(|e| Error::Transport { url: url.clone(), reason: format!("reading the answer: {e}") })?;
        if buf.len() > limit {
            if (200..300).contains(&status) {
                return Err(Error::AnswerTooLarge { url, limit });
            }
            buf.truncate(limit);
        }
        Ok(Answer { status, retry_after, body: buf })
    }

    /// A 2xx answer's body, or the [`Error`] of an error answer.
    fn ok(answer: Answer) -> Result<Vec<u8>, Error> {
        if (200..300).contains(&answer.status) {
            return Ok(answer.body);
        }
        Err(error_of(&answer))
    }

    fn get_bytes(&self, path: &str, headers: &[(&str, String)], limit: usize) -> Result<Vec<u8>, Error> {
        Client::ok(self.send("GET", path, headers, None, limit)?)
    }

    fn get_json<T: DeserializeOwned>(&self, path: &str, headers: &[(&str, String)], limit: usize) -> Result<T, Error> {
        let bytes = self.get_bytes(path, headers, limit)?;
        self.parse(path, &bytes)
    }

    fn parse<T: DeserializeOwned>(&self, path: &str, bytes: &[u8]) -> Result<T, Error> {
        serde_json::from_slice(bytes)
            .map_err(|e| Error::Protocol { url: format!("{}{path}", self.base), reason: e.to_string() })
    }

    fn protocol(&self, path: &str, reason: String) -> Error {
        Error::Protocol { url: format!("{}{path}", self.base), reason }
    }

    // ----- open reads -----

    /// `GET /v1/status`.
    pub fn status(&self) -> Result<NodeStatus, Error> {
        self.get_json("/v1/status", &[], MAX_SMALL_ANSWER)
    }

    /// `GET /v1/validators[?height=H]`: the validator set in force at `height` (default: the
    /// next height) with the next membership sequence number (the node's word).
    pub fn validators(&self, height: Option<u64>) -> Result<types::ValidatorsAnswer, Error> {
        let path = match height {
            Some(h) => format!("/v1/validators?height={h}"),
            None => "/v1/validators".to_string(),
        };
        self.get_json(&path, &[], MAX_SMALL_ANSWER)
    }

    /// The chain ID the node reports in its status. Prefer the chain ID of a genesis obtained
    /// independently: the node's word proves nothing.
    pub fn chain_id(&self) -> Result<Hash, Error> {
        let st = self.status()?;
        Hash::from_hex(&st.chain_id).map_err(|e| self.protocol("/v1/status", format!("chain_id: {e}")))
    }

    /// `GET /v1/genesis`, parsed and checked (the node's word: compare its chain ID with the
    /// published one).
    pub fn genesis(&self) -> Result<ChainSpec, Error> {
        let bytes = self.genesis_bytes()?;
        Genesis::from_json(&bytes).map_err(|e| self.protocol("/v1/genesis", e.to_string()))
    }

    /// `GET /v1/genesis`, the bytes as served.
    pub fn genesis_bytes(&self) -> Result<Vec<u8>, Error> {
        self.get_bytes("/v1/genesis", &[], MAX_GENESIS_BYTES)
    }

    /// `GET /v1/membership`: the chain's membership history (receipt format 13), parsed with every
    /// limit of the format. The node's word: a verifier walks it from a genesis it trusts.
    pub fn membership(&self) -> Result<curia_ledger::history::MembershipHistory, Error> {
        let path = "/v1/membership";
        let bytes = self.get_bytes(path, &[], curia_ledger::history::MAX_HISTORY_BYTES)?;
        curia_ledger::history::MembershipHistory::parse(&bytes).map_err(|e| self.protocol(path, e.to_string()))
    }

    /// `GET /v1/deposits/{id}`: [`Error::DepositNotFound`] until committed.
    pub fn deposit(&self, id: &Hash) -> Result<DepositInfo, Error> {
        let path = format!("/v1/deposits/{id}");
        let info: DepositInfo = self.get_json(&path, &[], MAX_SMALL_ANSWER)?;
        if info.deposit_id != *id {
            return Err(self.protocol(&path, format!("the answer is for deposit {}", info.deposit_id)));
        }
        Ok(info)
    }

    /// `GET /v1/deposits/{id}/receipt` once: [`Error::DepositNotFound`] until committed, then
    /// [`Error::ReceiptPending`] until the next block. The receipt must be for `id`.
    pub fn receipt(&self, id: &Hash) -> Result<Receipt, Error> {
        let path = format!("/v1/deposits/{id}/receipt");
        let bytes = self.get_bytes(&path, &[], MAX_RECEIPT_BYTES)?;
        let r = Receipt::from_json(&bytes).map_err(|e| self.protocol(&path, e.to_string()))?;
        if r.deposit_id != *id {
            return Err(self.protocol(&path, format!("the receipt is for deposit {}", r.deposit_id)));
        }
        Ok(r)
    }

    /// The receipt of `id`, polling until it is issued, for at most `timeout` in all (see the
    /// crate rules). [`Error::WaitTimeout`] when time runs out; refusals that waiting cannot
    /// change (a malformed ID, a server error) are returned at once.
    pub fn wait_receipt(&self, id: &Hash, timeout: Duration) -> Result<Receipt, Error> {
        self.wait(&format!("receipt of deposit {id}"), timeout, || self.receipt(id))
    }

    /// Where deposit `id` is, polling until it is committed, for at most `timeout`.
    pub fn wait_committed(&self, id: &Hash, timeout: Duration) -> Result<DepositInfo, Error> {
        self.wait(&format!("commit of deposit {id}"), timeout, || self.deposit(id))
    }

    fn wait<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut attempt: impl FnMut() -> Result<T, Error>,
    ) -> Result<T, Error> {
        let start = Instant::now();
        let mut poll = FIRST_POLL;
        loop {
            let (wait, last) = match attempt() {
                Ok(v) => return Ok(v),
                Err(e @ Error::DepositNotFound(_)) => {
                    let w = poll;
                    poll = (poll * 3 / 2).min(MAX_POLL);
                    (w, e.to_string())
                }
                Err(e @ Error::ReceiptPending(_)) => (e.retry_after().unwrap_or(FIRST_POLL), e.to_string()),
                Err(e) if e.is_retryable() => (e.retry_after().unwrap_or(Duration::from_secs(1)), e.to_string()),
                Err(e) => return Err(e),
            };
            let waited = start.elapsed();
            if waited >= timeout {
                return Err(Error::WaitTimeout { what: what.to_string(), waited, last });
            }
            std::thread::sleep(wait.min(MAX_BACKOFF).min(timeout - waited));
        }
    }

    /// `GET /v1/digests/{sha256}`: the committed deposits of a commitment.
    pub fn digest(&self, commitment: &Hash) -> Result<DigestDeposits, Error> {
        self.get_json(&format!("/v1/digests/{commitment}"), &[], MAX_SMALL_ANSWER)
    }

    /// `GET /v1/evidence`: the misbehaviour evidence the node kept.
    pub fn evidence(&self) -> Result<EvidenceList, Error> {
        self.get_json("/v1/evidence", &[], MAX_SUBMIT_ANSWER)
    }

    /// `GET /v1/blocks/{height}`.
    pub fn block(&self, height: u64) -> Result<BlockInfo, Error> {
        self.get_json(&format!("/v1/blocks/{height}"), &[], MAX_SMALL_ANSWER)
    }

    /// `GET /v1/blocks/{height}/txs`.
    pub fn block_txs(&self, height: u64) -> Result<BlockTxs, Error> {
        self.get_json(&format!("/v1/blocks/{height}/txs"), &[], MAX_SUBMIT_ANSWER)
    }

    // ----- the deposit log (docs/api.md, "Transparency log") -----

    /// `GET /v1/log`: the log's size, root and last block (unsigned: the node's word).
    pub fn log_head(&self) -> Result<types::LogHead, Error> {
        self.get_json("/v1/log", &[], MAX_SMALL_ANSWER)
    }

    /// `GET /v1/log/index?deposit=ID`: the deposit's leaf index ([`Error::DepositNotFound`]
    /// until committed). The answer must name the deposit asked for.
    pub fn log_index(&self, deposit_id: &Hash) -> Result<u64, Error> {
        let path = format!("/v1/log/index?deposit={deposit_id}");
        let a: types::LogIndex = self.get_json(&path, &[], MAX_SMALL_ANSWER)?;
        if a.deposit_id != *deposit_id {
            return Err(self.protocol(&path, format!("the answer is for deposit {}", a.deposit_id)));
        }
        Ok(a.index)
    }

    /// `GET /v1/log/inclusion?index=I&size=N` (unsigned: check it against a signed checkpoint's
    /// root). The answer must be for the index and size asked for.
    pub fn log_inclusion(&self, index: u64, size: u64) -> Result<types::LogInclusion, Error> {
        let path = format!("/v1/log/inclusion?index={index}&size={size}");
        let a: types::LogInclusion = self.get_json(&path, &[], MAX_SMALL_ANSWER)?;
        if (a.index, a.size) != (index, size) {
            return Err(self.protocol(&path, format!("the answer is for index {} of size {}", a.index, a.size)));
        }
        Ok(a)
    }

    /// `GET /v1/checkpoint[?size=N]`: the signed checkpoint note's bytes (at most a note's 64
    /// KiB), not checked here ([`Error::Log`] `checkpoint_not_found` when there is none).
    pub fn checkpoint(&self, size: Option<u64>) -> Result<Vec<u8>, Error> {
        let path = match size {
            Some(n) => format!("/v1/checkpoint?size={n}"),
            None => "/v1/checkpoint".to_string(),
        };
        self.get_bytes(&path, &[], MAX_NOTE_ANSWER)
    }

    /// `GET /v1/checkpoint/tsa?size=N`: the RFC 3161 token (DER) over the text of the node's
    /// checkpoint of size `N`, not checked here ([`Error::Log`] `tsa_token_not_found` when that
    /// checkpoint is not stamped, `checkpoint_not_found` when there is none).
    pub fn checkpoint_tsa(&self, size: u64) -> Result<Vec<u8>, Error> {
        self.get_bytes(&format!("/v1/checkpoint/tsa?size={size}"), &[], MAX_NOTE_ANSWER)
    }

    // ----- signed reads -----

    /// `GET /v1/cases/{id}`, signed by `reader` (a judge, auditor or court validator key).
    pub fn case(&self, reader: &Signer, case_id: &str) -> Result<CaseInfo, Error> {
        curia_ledger::tx::check_case_id(case_id).map_err(|e| Error::InvalidInput(e.to_string()))?;
        let path = format!("/v1/cases/{case_id}");
        let headers = reader.read_headers("GET", &path);
        self.get_json(&path, &headers, MAX_SMALL_ANSWER)
    }

    /// `GET /v1/chain?from=FROM&count=COUNT`, signed by `reader` over that request target (path
    /// and query, as the node sees it, without any prefix of this client's URL): the binary
    /// frame, at most `limit` bytes. A 503 is retried up to `busy_retries` times after its
    /// `Retry-After` (capped), each attempt signed afresh.
    pub fn chain(
        &self,
        reader: &Signer,
        from: u64,
        count: u32,
        limit: usize,
        busy_retries: u32,
    ) -> Result<Vec<u8>, Error> {
        let path = format!("/v1/chain?from={from}&count={count}");
        let mut tries = 0;
        loop {
            let headers = reader.read_headers("GET", &path);
            match self.get_bytes(&path, &headers, limit) {
                Err(e) if e.is_retryable() && !matches!(e, Error::Transport { .. }) && tries < busy_retries => {
                    tries += 1;
                    std::thread::sleep(
                        e.retry_after().unwrap_or(Duration::from_secs(1)).clamp(Duration::from_secs(1), MAX_BACKOFF),
                    );
                }
                r => return r,
            }
        }
    }

    // ----- submissions -----

    /// `POST /v1/deposits` with one deposit or batch deposit signed for `chain_id`, retried as
    /// the crate rules say; the answer must carry the IDs computed here.
    pub fn submit_deposit(&self, tx: &Transaction, chain_id: &Hash) -> Result<Accepted, Error> {
        const PATH: &str = "/v1/deposits";
        let body = serde_json::to_vec(tx).map_err(|e| Error::InvalidInput(e.to_string()))?;
        if body.len() > DEPOSIT_BODY_LIMIT {
            return Err(Error::InvalidInput(format!(
                "the transaction is {} bytes of JSON, over the deposit limit of {DEPOSIT_BODY_LIMIT}",
                body.len()
            )));
        }
        let tx_id = tx.id(chain_id);
        let want: Vec<Hash> = tx.deposits(&tx_id).into_iter().map(|(id, _)| id).collect();
        let deadline = Instant::now() + self.submit_deadline;
        let mut retried = false;
        loop {
            let attempt = self.send("POST", PATH, &[], Some(&body), MAX_SUBMIT_ANSWER).and_then(Client::ok);
            match attempt {
                Ok(bytes) => {
                    let a: Accepted = self.parse(PATH, &bytes)?;
                    if a.tx_id != tx_id || a.deposit_ids != want {
                        return Err(self.protocol(
                            PATH,
                            format!(
                                "the node answered transaction {} with {} deposit IDs; this client signed {tx_id} \
                                 with {} (is the node on another chain?)",
                                a.tx_id,
                                a.deposit_ids.len(),
                                want.len()
                            ),
                        ));
                    }
                    return Ok(a);
                }
                Err(Error::AlreadyPending(_) | Error::Duplicate(_)) if retried => {
                    return Ok(Accepted { tx_id, deposit_ids: want })
                }
                Err(e) if e.is_retryable() && !matches!(e, Error::RateLimited(_)) => {
                    let wait = e.retry_after().unwrap_or(Duration::from_secs(1)).min(MAX_BACKOFF);
                    if Instant::now() + wait > deadline {
                        return Err(e);
                    }
                    std::thread::sleep(wait);
                    retried = true;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// `POST /v1/transactions`: one result per transaction (a refused item is in the answer, not
    /// an error). While the node refuses the whole request with 503, it is retried until the
    /// submission deadline; a broken connection is not retried (the caller sees per-item
    /// `already_pending` if it resends).
    pub fn submit_transactions(&self, txs: &[Transaction]) -> Result<BatchAnswer, Error> {
        let body = serde_json::to_vec(&TxBatch { txs: txs.into() }).map_err(|e| Error::InvalidInput(e.to_string()))?;
        self.submit_batch_body(&body, txs.len())
    }

    /// [`Client::submit_transactions`] with a body already serialized (`{"txs": [...]}` of
    /// `count` transactions), for senders that prepare their requests ahead of time.
    pub fn submit_batch_body(&self, body: &[u8], count: usize) -> Result<BatchAnswer, Error> {
        self.submit_body(body, count, &[])
    }

    /// [`Client::submit_batch_body`] with the binary body the API also takes
    /// (`Content-Type: application/octet-stream`): the canonical transaction list, a big-endian
    /// `u32` count then each canonical transaction (`curia_ledger::codec`), as
    /// [`binary_transactions_body`] makes it. About 2.3x smaller than JSON and cheaper for the
    /// node to parse.
    pub fn submit_binary_body(&self, body: &[u8], count: usize) -> Result<BatchAnswer, Error> {
        self.submit_body(body, count, &[("Content-Type", "application/octet-stream".to_string())])
    }

    fn submit_body(&self, body: &[u8], count: usize, headers: &[(&str, String)]) -> Result<BatchAnswer, Error> {
        const PATH: &str = "/v1/transactions";
        if body.len() > TRANSACTIONS_BODY_LIMIT {
            return Err(Error::InvalidInput(format!(
                "the request is {} bytes, over the limit of {TRANSACTIONS_BODY_LIMIT}",
                body.len()
            )));
        }
        let deadline = Instant::now() + self.submit_deadline;
        loop {
            let a = self.send("POST", PATH, headers, Some(body), MAX_SUBMIT_ANSWER)?;
            // Every item refused for room is a 503 with the per-item answer.
            let all_full = a.status == 503 && serde_json::from_slice::<BatchAnswer>(&a.body).is_ok();
            let wait = a.retry_after.unwrap_or(Duration::from_secs(1)).min(MAX_BACKOFF);
            let in_time = Instant::now() + wait <= deadline;
            if a.status == 200 || all_full {
                let b: BatchAnswer = self.parse(PATH, &a.body)?;
                if b.results.len() != count {
                    return Err(self.protocol(PATH, format!("{} results for {count} transactions", b.results.len())));
                }
                if !all_full || !in_time {
                    return Ok(b);
                }
            } else {
                let e = error_of(&a);
                if !(e.is_retryable() && in_time) {
                    return Err(e);
                }
            }
            std::thread::sleep(wait);
        }
    }

    // ----- ops listener -----

    /// `GET /healthz` (this client's URL must be the ops listener's).
    pub fn health(&self) -> Result<Health, Error> {
        self.get_json("/healthz", &[], MAX_SMALL_ANSWER)
    }

    /// `POST /admin/backup` with the operator's token (this client's URL must be the ops
    /// listener's; give it a long [`ClientBuilder::timeout`]: the answer comes when the backup
    /// is written).
    pub fn backup(&self, token: &str) -> Result<BackupAnswer, Error> {
        let headers = [("Authorization", format!("Bearer {token}"))];
        let a = self.send("POST", "/admin/backup", &headers, Some(b""), MAX_SMALL_ANSWER)?;
        let bytes = Client::ok(a)?;
        self.parse("/admin/backup", &bytes)
    }
}

/// The [`Error`] of an error answer: the variant of its JSON code, or [`Error::Http`].
fn error_of(a: &Answer) -> Error {
    match serde_json::from_slice::<ErrorBody>(&a.body) {
        Ok(b) => Error::from_api(a.status, &b.error.code, &b.error.message, a.retry_after),
        Err(_) => Error::Http { status: a.status, body: error::clean(String::from_utf8_lossy(&a.body).trim(), 300) },
    }
}

/// A platform: a [`Client`] and the platform key that signs its deposits.
#[derive(Clone, Debug)]
pub struct Platform {
    client: Client,
    signer: Signer,
}

/// A deposit the node accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deposited {
    /// The deposit ID (for a single deposit, its transaction ID).
    pub deposit_id: Hash,
    /// The transaction ID.
    pub tx_id: Hash,
    /// The evidence's SHA-256.
    pub sha256: Hash,
    /// The evidence's length in bytes.
    pub byte_length: u64,
    /// The salt of a salted deposit (keep it: put it into the receipt for the judge).
    pub salt: Option<[u8; 32]>,
}

impl Platform {
    /// A platform client; `signer` holds the platform's registered key and the chain.
    pub fn new(client: Client, signer: Signer) -> Platform {
        Platform { client, signer }
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The signer.
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// Deposit evidence by its SHA-256 and length (only the digest leaves the machine).
    pub fn deposit_digest(&self, sha256: Hash, byte_length: u64, fields: &DepositFields) -> Result<Deposited, Error> {
        self.deposit_inner(sha256, byte_length, fields, false)
    }

    /// Deposit evidence under a salted commitment (the digest itself is not published).
    pub fn deposit_digest_salted(
        &self,
        sha256: Hash,
        byte_length: u64,
        fields: &DepositFields,
    ) -> Result<Deposited, Error> {
        self.deposit_inner(sha256, byte_length, fields, true)
    }

    /// Deposit a file: it is hashed here (streamed, any size) and only its digest is sent.
    pub fn deposit_file(&self, path: &Path, fields: &DepositFields) -> Result<Deposited, Error> {
        let h = curia_verifier::hashing::hash_file(path, curia_verifier::hashing::Progress::Hidden)?;
        self.deposit_inner(h.sha256, h.len, fields, false)
    }

    fn deposit_inner(
        &self,
        sha256: Hash,
        byte_length: u64,
        fields: &DepositFields,
        salted: bool,
    ) -> Result<Deposited, Error> {
        let d = self.signer.deposit(sha256, byte_length, fields, salted)?;
        let a = self.client.submit_deposit(&d.tx, &self.signer.chain_id())?;
        Ok(Deposited { deposit_id: a.deposit_ids[0], tx_id: a.tx_id, sha256, byte_length, salt: d.salt })
    }

    /// Deposit 1 to 10,000 SHA-256 digests as one batch (unsalted): one deposit ID per item,
    /// in order.
    pub fn batch_deposit(&self, digests: Vec<Hash>, fields: &DepositFields) -> Result<Accepted, Error> {
        let tx = self.signer.batch_deposit(digests, false, fields)?;
        self.client.submit_deposit(&tx, &self.signer.chain_id())
    }
}
