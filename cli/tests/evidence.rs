//! Misbehaviour evidence and peer keepalive between real processes, on one four-validator network:
//! - an evidence transaction built by the test from two conflicting prevotes signed with a
//!   testnet validator's key (court-b), sent by another validator (court-a) through the API, is
//!   accepted, committed, refused as `evidence_duplicate` afterwards, and listed by
//!   `curia audit --node` and `curia audit --data-dir` ("Misbehaviour evidence", and in JSON);
//! - forged, non-conflicting and client-sent evidence gets its own 422 code;
//! - a SIGSTOPped peer is shown disconnected within the keepalive bound (libp2p ping), and
//!   connected again after SIGCONT.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{curia, Cluster};
use curia_ledger::block::{SignedVote, Vote, VoteKind};
use curia_ledger::crypto::SecretKey;
use curia_ledger::equivocation::Equivocation;
use curia_ledger::evidence::Misbehaviour;
use curia_ledger::hash::Hash;
use curia_ledger::tx::{Payload, Transaction, TxBody};
use curia_node::limits::PEER_DEAD_AFTER;

fn key(c: &Cluster, path: &str) -> SecretKey {
    curia_node::config::read_key(&c.dir.join(path)).unwrap()
}

fn prevote(c: &Cluster, k: &SecretKey, index: u16, block: Option<Hash>) -> SignedVote {
    let chain_id = c.genesis().chain_id;
    Vote { chain_id, height: 1, round: 0, kind: VoteKind::Prevote, block, time_ms: 1, validator: index }.sign(k)
}

fn evidence_tx(c: &Cluster, sender: &SecretKey, evidence: Misbehaviour, nonce: u64) -> Transaction {
    TxBody { sender: sender.public(), nonce, payload: Payload::Evidence { evidence } }
        .sign(&c.genesis().chain_id, sender)
}

/// POST one transaction; returns (HTTP status, answer JSON).
fn post(c: &Cluster, tx: &Transaction) -> (u16, serde_json::Value) {
    let body = serde_json::json!({ "txs": [tx] });
    match ureq::post(&format!("{}/v1/transactions", c.api(0))).send_json(body) {
        Ok(r) => (r.status(), r.into_json().unwrap()),
        Err(ureq::Error::Status(s, r)) => (s, r.into_json().unwrap()),
        Err(e) => panic!("{e}"),
    }
}

/// The error code of a one-transaction submission (`accepted` if accepted).
fn outcome(c: &Cluster, tx: &Transaction) -> String {
    let (status, v) = post(c, tx);
    if status == 200 && v["accepted"] == 1 {
        return "accepted".into();
    }
    let code = v["results"][0]["error"]["code"].as_str().or(v["error"]["code"].as_str()).unwrap_or("?").to_string();
    assert_eq!(v["accepted"].as_u64().unwrap_or(0), 0, "{v}");
    code
}

fn wait_for(c: &Cluster, within: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while t.elapsed() < within {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let logs: Vec<String> = (0..c.names.len()).map(|i| format!("--- {}\n{}", c.names[i], c.log(i))).collect();
    panic!("{what} within {within:?}; logs:\n{}", logs.join("\n"));
}

fn signal(pid: u32, sig: &str) {
    assert!(Command::new("kill").args([sig, &pid.to_string()]).status().unwrap().success());
}

#[test]
fn evidence_is_recorded_on_chain_shown_by_audit_and_a_stopped_peer_is_dropped() {
    let mut c = Cluster::start(0);
    let spec = c.genesis();
    let index = spec.genesis.validators.iter().position(|v| v.name == "court-b").unwrap() as u16;
    let (court_a, court_b, notary) =
        (key(&c, "court-a/validator.key"), key(&c, "court-b/validator.key"), key(&c, "notary/validator.key"));
    assert!(c.wait_height(0, 2, Duration::from_secs(30)), "the chain does not grow");

    // Refusals, each with its own code.
    let x = prevote(&c, &court_b, index, Some(Hash::sha256(b"x")));
    let nil = prevote(&c, &court_b, index, None);
    let same = Misbehaviour::DoubleVote(Equivocation { a: nil.clone(), b: nil.clone() });
    assert_eq!(outcome(&c, &evidence_tx(&c, &court_a, same, 1)), "evidence_invalid");
    let forged = Equivocation::new(x.clone(), prevote(&c, &notary, index, None)).unwrap();
    assert_eq!(outcome(&c, &evidence_tx(&c, &court_a, Misbehaviour::DoubleVote(forged), 2)), "evidence_bad_signature");
    let good = Misbehaviour::DoubleVote(Equivocation::new(x, nil).unwrap());
    let platform = key(&c, "clients/platform.key");
    assert_eq!(outcome(&c, &evidence_tx(&c, &platform, good.clone(), 3)), "evidence_sender_not_validator");

    // The real thing, then the same offence sent by another validator until the first is on
    // chain (before that, the second is admitted and later left out quietly).
    assert_eq!(outcome(&c, &evidence_tx(&c, &court_a, good.clone(), 4)), "accepted");
    let mut nonce = 10;
    wait_for(&c, Duration::from_secs(60), "the evidence is recorded (a duplicate refused)", || {
        nonce += 1;
        outcome(&c, &evidence_tx(&c, &notary, good.clone(), nonce)) == "evidence_duplicate"
    });

    // Keepalive: node 3 stopped (its TCP connections stay open) is dropped by node 0 within the
    // ping bound; counted generously for a loaded machine.
    let peers = |i: usize| c.client(i).status().map(|s| s.peers).unwrap_or(usize::MAX);
    wait_for(&c, Duration::from_secs(30), "node 0 sees three peers", || peers(0) == 3);
    let pid = c.pid(3).unwrap();
    signal(pid, "-STOP");
    let bound = PEER_DEAD_AFTER + Duration::from_secs(15);
    let stopped = Instant::now();
    wait_for(&c, bound, "node 0 drops the stopped peer", || peers(0) == 2);
    let took = stopped.elapsed();
    signal(pid, "-CONT");
    eprintln!("stopped peer shown disconnected after {took:?} (bound {bound:?})");
    wait_for(&c, Duration::from_secs(60), "node 0 reconnects to the resumed peer", || peers(0) == 3);

    // `curia audit --node` lists the offence.
    let tip = c.height(0);
    let out = curia()
        .args(["audit", "--node", &c.api(0), "--json", "--key"])
        .arg(c.dir.join("court-a/validator.key"))
        .arg("--genesis")
        .arg(c.dir.join("genesis.json"))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    assert_eq!(v["ok"], true, "{v}");
    let ev = v["evidence"].as_array().unwrap();
    assert_eq!(ev.len(), 1, "{v}");
    assert_eq!(
        (ev[0]["offender"].as_str(), ev[0]["height"].as_u64(), ev[0]["kind"].as_str()),
        (Some("court-b"), Some(1), Some("prevote"))
    );
    assert_eq!(ev[0]["offender_key"].as_str().unwrap(), court_b.public().to_string());
    let recorded = ev[0]["block_height"].as_u64().unwrap();
    assert!(recorded >= 1 && recorded <= v["height"].as_u64().unwrap().max(tip), "{v}");

    // `curia audit --data-dir` on a stopped node's store: the text report's section.
    c.kill(1);
    let out = curia().args(["audit", "--data-dir"]).arg(c.dir.join("court-b/data")).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("Misbehaviour evidence (1 recorded on chain)"), "{text}");
    assert!(
        text.contains(&format!(
            "court-b {} at height 1 round 0: double prevote, recorded in block {recorded}",
            court_b.public()
        )),
        "{text}"
    );
}
