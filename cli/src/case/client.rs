//! The node client for `curia case`: [`Node`] (a node's API and the key that signs), and a case
//! as the node shows it ([`CaseView`]).
//!
//! Rules:
//! - Case records are read with signed requests (`docs/api.md`, "Signed reads"): every read of
//!   `GET /v1/cases/{id}` carries the key's signature over the chain, method, path and time.
//! - Transactions are signed with the same key, for the chain the node reports when we connect,
//!   and sent with `POST /v1/transactions`; a 503 is retried until the deadline, and every
//!   refused transaction is named in the error.
//! - A node's error answer becomes `node answered STATUS CODE: MESSAGE` ([`api_error`]).
//! - The node checks case rules only when it builds a block, so a change is known to have
//!   happened only when the case shows it ([`Node::wait_case`]), not when the node accepts it.

use std::collections::HashSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use curia_ledger::access::{sign_read_request, HEADER_READER, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use curia_ledger::crypto::{PublicKey, SecretKey};
use curia_ledger::hash::Hash;
use curia_ledger::receipt::Receipt;
use curia_ledger::tx::{Payload, Transaction, TxBody};
use curia_node::config::read_key;
use serde::{Deserialize, Serialize};

use super::Conn;

/// A case as `GET /v1/cases/{id}` answers.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub(super) struct CaseView {
    pub(super) case_id: String,
    pub(super) owner: PublicKey,
    pub(super) open: bool,
    pub(super) record_count: u32,
    pub(super) records: Vec<RecordView>,
}

/// One record of a case.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub(super) struct RecordView {
    pub(super) height: u64,
    pub(super) tx_index: u32,
    pub(super) event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) owner: Option<PublicKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) deposit: Option<Hash>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) valid: Option<bool>,
}

impl CaseView {
    /// Attached deposits, in chain order.
    pub(super) fn attached(&self) -> Vec<Hash> {
        let mut seen = HashSet::new();
        self.records
            .iter()
            .filter(|r| r.event == "attached")
            .filter_map(|r| r.deposit)
            .filter(|d| seen.insert(*d))
            .collect()
    }
    pub(super) fn verified_count(&self) -> usize {
        self.records.iter().filter(|r| r.event == "verified").count()
    }
}

/// A node's API and the key that signs reads and transactions.
pub(super) struct Node {
    pub(super) url: String,
    agent: ureq::Agent,
    pub(super) key: SecretKey,
    pub(super) chain_id: Hash,
}

pub(super) fn now_ms() -> u64 {
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
    pub(super) fn connect(conn: &Conn) -> Result<Node> {
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
    pub(super) fn case(&self, case_id: &str) -> Result<Option<CaseView>> {
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
    pub(super) fn existing_case(&self, case_id: &str) -> Result<CaseView> {
        self.case(case_id)?.ok_or_else(|| anyhow!("case {case_id} does not exist on the chain"))
    }

    /// A case this key owns and that is still open (what every case transaction needs).
    pub(super) fn own_open_case(&self, case_id: &str) -> Result<CaseView> {
        let c = self.existing_case(case_id)?;
        if c.owner != self.key.public() {
            bail!("case {case_id} belongs to the judge with key {}, not to this key ({})", c.owner, self.key.public());
        }
        if !c.open {
            bail!("case {case_id} is closed");
        }
        Ok(c)
    }

    /// `GET /v1/deposits/{id}/receipt`; `None` if the node has no such committed deposit. A
    /// deposit in the node's tip block has its receipt one block later: wait for it (up to 30 s).
    pub(super) fn receipt(&self, id: &Hash) -> Result<Option<Receipt>> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            match self.agent.get(&format!("{}/v1/deposits/{id}/receipt", self.url)).call() {
                Ok(resp) => {
                    let text = resp.into_string()?;
                    let r =
                        Receipt::from_json(text.as_bytes()).with_context(|| format!("the node's receipt of {id}"))?;
                    if r.deposit_id != *id {
                        bail!("asked for the receipt of deposit {id}, the node served one of deposit {}", r.deposit_id);
                    }
                    return Ok(Some(r));
                }
                Err(ureq::Error::Status(404, resp)) => {
                    let code = resp
                        .into_json::<serde_json::Value>()
                        .ok()
                        .and_then(|v| v["error"]["code"].as_str().map(String::from));
                    if code.as_deref() != Some("receipt_pending") {
                        return Ok(None);
                    }
                    if std::time::Instant::now() >= deadline {
                        bail!("the receipt of deposit {id} is still pending after 30 s: is the chain committing?");
                    }
                    std::thread::sleep(std::time::Duration::from_millis(250));
                }
                Err(e) => return Err(api_error(e)).with_context(|| format!("fetching the receipt of deposit {id}")),
            }
        }
    }

    /// Whether a deposit is committed.
    pub(super) fn deposit_exists(&self, id: &Hash) -> Result<bool> {
        match self.agent.get(&format!("{}/v1/deposits/{id}", self.url)).call() {
            Ok(_) => Ok(true),
            Err(ureq::Error::Status(404, _)) => Ok(false),
            Err(e) => Err(api_error(e)).with_context(|| format!("looking up deposit {id}")),
        }
    }

    /// Deposits of a SHA-256 digest (`GET /v1/digests/{sha256}`).
    pub(super) fn deposits_of(&self, digest: &Hash) -> Result<Vec<Hash>> {
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
    pub(super) fn commit_time(&self, height: u64) -> Option<u64> {
        let v: serde_json::Value =
            self.agent.get(&format!("{}/v1/blocks/{height}", self.url)).call().ok()?.into_json().ok()?;
        v["commit_time_ms"].as_u64()
    }

    /// A signed transaction with `payload` from this key.
    pub(super) fn tx(&self, payload: Payload) -> Result<Transaction> {
        let mut nonce = [0u8; 8];
        getrandom::getrandom(&mut nonce).map_err(|e| anyhow!("no randomness: {e}"))?;
        let body = TxBody { sender: self.key.public(), nonce: u64::from_be_bytes(nonce), payload };
        body.check_fields()?;
        Ok(body.sign(&self.chain_id, &self.key))
    }

    /// `POST /v1/transactions`; fails naming every refused transaction. Retries while the node
    /// pushes back with 503 (up to `deadline`).
    pub(super) fn submit(&self, txs: &[Transaction], deadline: Instant) -> Result<Vec<Hash>> {
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
    pub(super) fn wait_case(
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
