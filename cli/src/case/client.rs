//! The node client for `curia case`: [`Node`] (a node's API, through `curia-client`, and the key
//! that signs), and a case as the node shows it ([`CaseView`], the API's `CaseInfo`).
//!
//! Rules:
//! - Case records are read with signed requests (`docs/api.md`, "Signed reads"): every read of
//!   `GET /v1/cases/{id}` carries the key's signature over the chain, method, path and time.
//! - Transactions are signed with the same key, for the chain the node reports when we connect,
//!   and sent with `POST /v1/transactions`; a 503 is retried until the deadline, and every
//!   refused transaction is named in the error.
//! - A node's error answer is the client's typed error (`node answered STATUS CODE: MESSAGE`).
//! - The node checks case rules only when it builds a block, so a change is known to have
//!   happened only when the case shows it ([`Node::wait_case`]), not when the node accepts it.

use std::collections::HashSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use curia_client::types::{CaseEvent, CaseInfo};
use curia_client::{Client, Error as ApiError, Signer};
use curia_ledger::crypto::SecretKey;
use curia_ledger::hash::Hash;
use curia_ledger::receipt::Receipt;
use curia_ledger::tx::{Payload, Transaction};
use curia_node::config::read_key;

use super::Conn;

/// A case as `GET /v1/cases/{id}` answers.
pub(super) type CaseView = CaseInfo;

/// Attached deposits of a case, in chain order.
pub(super) fn attached(c: &CaseView) -> Vec<Hash> {
    let mut seen = HashSet::new();
    c.records
        .iter()
        .filter_map(|r| match r.event {
            CaseEvent::Attached { deposit } => Some(deposit),
            _ => None,
        })
        .filter(|d| seen.insert(*d))
        .collect()
}

/// Verification records of a case.
pub(super) fn verified_count(c: &CaseView) -> usize {
    c.records.iter().filter(|r| matches!(r.event, CaseEvent::Verified { .. })).count()
}

/// A node's API and the key that signs reads and transactions.
pub(super) struct Node {
    pub(super) url: String,
    client: Client,
    signer: Signer,
    pub(super) key: SecretKey,
    pub(super) chain_id: Hash,
}

pub(super) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl Node {
    /// Connect: read the key, ask the node for its chain ID.
    pub(super) fn connect(conn: &Conn) -> Result<Node> {
        let key = read_key(&conn.key).with_context(|| format!("key {}", conn.key.display()))?;
        let client = Client::builder(&conn.node)
            .ca_file_opt(conn.ca_file.as_deref())
            .timeout(Duration::from_secs(30))
            .build()?;
        let url = client.url().to_string();
        let chain_id = client.chain_id().with_context(|| format!("GET {url}/v1/status"))?;
        let signer = Signer::new(key.clone(), chain_id);
        Ok(Node { url, client, signer, key, chain_id })
    }

    /// `GET /v1/cases/{id}`, signed; `None` if the case does not exist.
    pub(super) fn case(&self, case_id: &str) -> Result<Option<CaseView>> {
        match self.client.case(&self.signer, case_id) {
            Ok(c) => Ok(Some(c)),
            Err(ApiError::CaseNotFound(_)) => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading case {case_id}")),
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
        match self.client.receipt(id) {
            Ok(r) => Ok(Some(r)),
            Err(ApiError::DepositNotFound(_)) => Ok(None),
            Err(ApiError::ReceiptPending(_)) => match self.client.wait_receipt(id, Duration::from_secs(30)) {
                Ok(r) => Ok(Some(r)),
                Err(e @ ApiError::WaitTimeout { .. }) => {
                    Err(e).context("the receipt is still pending after 30 s: is the chain committing?")
                }
                Err(e) => Err(e).with_context(|| format!("fetching the receipt of deposit {id}")),
            },
            Err(e) => Err(e).with_context(|| format!("fetching the receipt of deposit {id}")),
        }
    }

    /// Whether a deposit is committed.
    pub(super) fn deposit_exists(&self, id: &Hash) -> Result<bool> {
        match self.client.deposit(id) {
            Ok(_) => Ok(true),
            Err(ApiError::DepositNotFound(_)) => Ok(false),
            Err(e) => Err(e).with_context(|| format!("looking up deposit {id}")),
        }
    }

    /// Deposits of a SHA-256 digest (`GET /v1/digests/{sha256}`).
    pub(super) fn deposits_of(&self, digest: &Hash) -> Result<Vec<Hash>> {
        Ok(self.client.digest(digest).with_context(|| format!("looking up digest {digest}"))?.deposit_ids)
    }

    /// Commit time of a block, for `case show`.
    pub(super) fn commit_time(&self, height: u64) -> Option<u64> {
        self.client.block(height).ok().map(|b| b.commit_time_ms)
    }

    /// A signed transaction with `payload` from this key.
    pub(super) fn tx(&self, payload: Payload) -> Result<Transaction> {
        Ok(self.signer.sign(payload)?)
    }

    /// `POST /v1/transactions`; fails naming every refused transaction. Retries while the node
    /// pushes back with 503 (the client's submission deadline, at most until `deadline`).
    pub(super) fn submit(&self, txs: &[Transaction], deadline: Instant) -> Result<Vec<Hash>> {
        let client = self.client.clone().with_submit_deadline(deadline.saturating_duration_since(Instant::now()));
        let answer = client.submit_transactions(txs).context("submitting the transactions")?;
        let mut refused = Vec::new();
        let mut ids = Vec::new();
        for r in &answer.results {
            match &r.error {
                Some(e) => refused.push(format!("transaction {}: {}: {}", r.index, e.code, e.message)),
                None => ids.push(r.tx_id),
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
