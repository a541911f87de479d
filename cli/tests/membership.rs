//! Membership changes between real processes: a fifth validator (a court) is added to a running
//! four-validator network; its node syncs the chain, then signs certificates from its activation
//! height, and deposits commit throughout. Then the fifth validator is removed again: the
//! certificates go back to four signers and deposits still commit.

mod common;

use std::time::{Duration, Instant};

use common::{curia, Cluster};
use curia_ledger::block::CommitCertificate;
use curia_ledger::crypto::SecretKey;
use curia_ledger::genesis::{Validator, ValidatorRole};
use curia_ledger::membership::{approval_hash, MemberApproval, MemberChange, ACTIVATION_DELAY};
use curia_ledger::tx::{Payload, TxBody};

fn key(c: &Cluster, path: &str) -> SecretKey {
    curia_node::config::read_key(&c.dir.join(path)).unwrap()
}

/// Submit membership change `seq`, approved by the first three validators, through node 0.
fn submit_change(c: &Cluster, seq: u64, change: MemberChange, nonce: u64) {
    let spec = c.genesis();
    let msg = approval_hash(&spec.chain_id, seq, &change);
    let approvals = ["court-a", "court-b", "notary"]
        .iter()
        .map(|n| {
            let k = key(c, &format!("{n}/validator.key"));
            MemberApproval { key: k.public(), signature: k.sign(&msg) }
        })
        .collect();
    let registrar = key(c, "clients/registrar.key");
    let tx = TxBody { sender: registrar.public(), nonce, payload: Payload::Membership { seq, change, approvals } }
        .sign(&spec.chain_id, &registrar);
    let body = serde_json::json!({ "txs": [tx] });
    let r: serde_json::Value =
        ureq::post(&format!("{}/v1/transactions", c.api(0))).send_json(body).unwrap().into_json().unwrap();
    assert_eq!(r["accepted"], 1, "{r}");
}

fn cert(c: &Cluster, i: usize, h: u64) -> Option<CommitCertificate> {
    let v: serde_json::Value = ureq::get(&format!("{}/v1/blocks/{h}", c.api(i))).call().ok()?.into_json().ok()?;
    serde_json::from_value(v["certificate"].clone()).ok()
}

/// Poll until `f` holds, or fail after `within` with `what` and the logs.
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

/// The activation height of the first change committed after height `from`: one above the
/// first block whose header names a next set other than its own (polled on node 0).
fn activation_height(c: &Cluster, from: u64) -> u64 {
    let t = Instant::now();
    let mut h = from.max(1);
    while t.elapsed() < Duration::from_secs(60) {
        let v: Option<serde_json::Value> =
            ureq::get(&format!("{}/v1/blocks/{h}", c.api(0))).call().ok().and_then(|r| r.into_json().ok());
        let Some(v) = v else {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        };
        let header = &v["header"];
        if header["next_validators_hash"].is_string() && header["next_validators_hash"] != header["validators_hash"] {
            return h + 1;
        }
        h += 1;
    }
    panic!("no block names a new validator set; log:\n{}", c.log(0));
}

#[test]
fn a_fifth_court_joins_syncs_and_votes_then_leaves() {
    let mut c = Cluster::start(0);
    c.deposit(0, "before any change\n");
    // The fifth node: its own key and a config like court-a's on the cluster's spare ports.
    let dir = c.dir.join("court-e");
    std::fs::create_dir_all(&dir).unwrap();
    let out = curia().arg("keygen").arg("--out").arg(dir.join("validator.key")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let new_key = key(&c, "court-e/validator.key");
    let (p2p, api, ops) = (c.base + 4, c.base + 1004, c.base + 2004);
    let cfg = std::fs::read_to_string(c.dir.join("court-a/node.toml"))
        .unwrap()
        .replace("name = \"court-a\"", "name = \"court-e\"")
        .replace(&format!("tcp/{}\"", c.base), &format!("tcp/{p2p}\""))
        .replace(&format!("127.0.0.1:{}\"", c.base + 1000), &format!("127.0.0.1:{api}\""))
        .replace(&format!("127.0.0.1:{}\"", c.base + 2000), &format!("127.0.0.1:{ops}\""));
    assert!(cfg.contains(&format!("127.0.0.1:{ops}")), "{cfg}");
    std::fs::write(dir.join("node.toml"), cfg).unwrap();
    std::fs::copy(c.dir.join("court-a/ops.token"), dir.join("ops.token")).unwrap();

    let start = c.height(0);
    let add = MemberChange::Add {
        validator: Validator {
            name: "court-e".into(),
            role: ValidatorRole::Court,
            key: new_key.public(),
            power: 1,
            address: format!("/ip4/127.0.0.1/tcp/{p2p}"),
        },
    };
    submit_change(&c, 0, add, 1);
    // The node starts before or after the change commits; either way it syncs from its peers.
    let e = c.add_node("court-e");
    let active = activation_height(&c, start);
    c.deposit(1, "during the change\n");
    wait_for(&c, Duration::from_secs(60), "the fifth node syncs past its activation", || c.height(e) >= active + 3);
    // From the activation height on, certificates have five validators, and the fifth signs.
    wait_for(&c, Duration::from_secs(60), "the fifth validator signs a certificate", || {
        let h = c.height(0);
        (active..=h).any(|k| cert(&c, 0, k).is_some_and(|ct| ct.sigs.iter().any(|s| s.validator == 4)))
    });
    for k in 1..active {
        let ct = cert(&c, 0, k).unwrap();
        assert!(ct.sigs.iter().all(|s| s.validator < 4), "block {k} before activation signed by index 4");
    }
    let (_, r) = c.deposit(e, "after the fifth joined\n");
    assert!(r.header.height >= active);
    assert_eq!(r.header.version, 3, "headers after a change name the next set");
    // Keep committing with court-a stopped: five validators, four left (quorum 4).
    c.kill(0);
    let (_, r) = c.deposit(1, "with court-a down\n");
    assert!(r.certificate.sigs.iter().any(|s| s.validator == 4));
    c.restart(0);

    // Remove the fifth validator again (approvals by the first three plus... the set in force
    // is five strong now, so four approvals are needed: add timesvc's).
    let spec = c.genesis();
    let remove = MemberChange::Remove { key: new_key.public() };
    let msg = approval_hash(&spec.chain_id, 1, &remove);
    let approvals = ["court-a", "court-b", "notary", "timesvc"]
        .iter()
        .map(|n| {
            let k = key(&c, &format!("{n}/validator.key"));
            MemberApproval { key: k.public(), signature: k.sign(&msg) }
        })
        .collect();
    let registrar = key(&c, "clients/registrar.key");
    let tx = TxBody {
        sender: registrar.public(),
        nonce: 2,
        payload: Payload::Membership { seq: 1, change: remove, approvals },
    }
    .sign(&spec.chain_id, &registrar);
    let r: serde_json::Value = ureq::post(&format!("{}/v1/transactions", c.api(1)))
        .send_json(serde_json::json!({ "txs": [tx] }))
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(r["accepted"], 1, "{r}");
    let from = c.height(1);
    wait_for(&c, Duration::from_secs(60), "certificates go back to four validators", || {
        let h = c.height(1);
        h > from + ACTIVATION_DELAY
            && cert(&c, 1, h).is_some_and(|ct| ct.sigs.iter().all(|s| s.validator < 4) && ct.sigs.len() >= 3)
    });
    let (_, r) = c.deposit(2, "after the fifth left\n");
    assert!(r.certificate.sigs.iter().all(|s| s.validator < 4));
    // The set in force is the genesis set again: same validators, order and powers.
    assert_eq!(r.header.validators_hash, spec.validators_hash, "the removal is in force");
    assert_eq!(r.header.next_validators_hash, Some(spec.validators_hash));
}
