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

/// Run `curia ARGS`, returning (exit code, stdout, stderr).
fn run_curia(args: &[&str]) -> (i32, String, String) {
    let out = curia().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Set up the folder of a fifth node `name` (key, config like court-a's on spare ports `slot`).
fn fifth_node(c: &Cluster, name: &str, slot: u16) -> (std::path::PathBuf, u16) {
    let dir = c.dir.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let (code, _, err) = run_curia(&["keygen", "--out", dir.join("validator.key").to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (p2p, api, ops) = (c.base + slot, c.base + 1000 + slot, c.base + 2000 + slot);
    let cfg = std::fs::read_to_string(c.dir.join("court-a/node.toml"))
        .unwrap()
        .replace("name = \"court-a\"", &format!("name = \"{name}\""))
        .replace(&format!("tcp/{}\"", c.base), &format!("tcp/{p2p}\""))
        .replace(&format!("127.0.0.1:{}\"", c.base + 1000), &format!("127.0.0.1:{api}\""))
        .replace(&format!("127.0.0.1:{}\"", c.base + 2000), &format!("127.0.0.1:{ops}\""));
    assert!(cfg.contains(&format!("127.0.0.1:{ops}")), "{cfg}");
    std::fs::write(dir.join("node.toml"), cfg).unwrap();
    std::fs::copy(c.dir.join("court-a/ops.token"), dir.join("ops.token")).unwrap();
    (dir, p2p)
}

/// Approve `change` with each named validator's key (through `curia validator approve`).
fn approve(c: &Cluster, change: &str, names: &[&str]) {
    for n in names {
        let key = c.dir.join(format!("{n}/validator.key"));
        let (code, _, err) = run_curia(&["validator", "approve", change, "--key", key.to_str().unwrap()]);
        assert_eq!(code, 0, "approval by {n}: {err}");
    }
}

fn submit_file(c: &Cluster, change: &str, node: usize) -> (i32, String, String) {
    let registrar = c.dir.join("clients/registrar.key");
    run_curia(&["validator", "submit", change, "--node", &c.api(node), "--sender", registrar.to_str().unwrap()])
}

/// Add court-e (power 3) through the CLI commands; returns its node index and activation height.
fn add_court_e_by_cli(c: &mut Cluster) -> (usize, u64) {
    let (dir, p2p) = fifth_node(c, "court-e", 4);
    let change = c.dir.join("add-court-e.json");
    let change = change.to_str().unwrap();
    let start = c.height(0);
    let (code, _, err) = run_curia(&[
        "validator",
        "propose",
        "add",
        "--name",
        "court-e",
        "--role",
        "court",
        "--key-file",
        dir.join("validator.key").to_str().unwrap(),
        "--power",
        "3",
        "--address",
        &format!("/ip4/127.0.0.1/tcp/{p2p}"),
        "--node",
        &c.api(0),
        "--out",
        change,
    ]);
    assert_eq!(code, 0, "{err}");
    // Two of four approvals (power 2; 3 needed): refused before sending, saying what is missing.
    approve(c, change, &["court-b", "notary"]);
    let (code, _, err) = submit_file(c, change, 0);
    assert_ne!(code, 0);
    assert!(err.contains("1 more power missing"), "{err}");
    // A second approval by one key, and an approval by a key outside the set, are refused.
    let (code, _, err) =
        run_curia(&["validator", "approve", change, "--key", c.dir.join("notary/validator.key").to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("already approved"), "{err}");
    let (code, _, err) =
        run_curia(&["validator", "approve", change, "--key", dir.join("validator.key").to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("not a validator"), "{err}");
    approve(c, change, &["court-a"]);
    let (code, out, err) = submit_file(c, change, 0);
    assert_eq!(code, 0, "{out}{err}");
    let e = c.add_node("court-e");
    let active = activation_height(c, start);
    wait_for(c, Duration::from_secs(90), "court-e syncs and signs a certificate", || {
        let h = c.height(0);
        c.height(e) >= active
            && (active..=h).any(|k| cert(c, 0, k).is_some_and(|ct| ct.sigs.iter().any(|s| s.validator == 4)))
    });
    (e, active)
}

fn verify_receipt(c: &Cluster, content: &[u8], r: &curia_ledger::receipt::Receipt, tag: &str) -> (i32, String) {
    let ev = c.dir.join(format!("{tag}.txt"));
    let rf = c.dir.join(format!("{tag}.receipt.json"));
    std::fs::write(&ev, content).unwrap();
    std::fs::write(&rf, serde_json::to_vec(r).unwrap()).unwrap();
    let g = c.dir.join("genesis.json");
    let (code, out, err) = run_curia(&[
        "verify",
        ev.to_str().unwrap(),
        "--receipt",
        rf.to_str().unwrap(),
        "--genesis",
        g.to_str().unwrap(),
    ]);
    (code, format!("{out}{err}"))
}

/// The operator's path with `curia validator`: a court joins (approvals short are refused with
/// the power missing; duplicate and outsider approvals are refused), catches up and votes; the
/// network keeps committing with two of the original four stopped; a key is rotated without a
/// restart (the node's next-key file) and certificates from its activation verify under the new
/// key; a removed validator's node commits nothing more. Receipts from before the changes still
/// verify with `curia verify`.
#[test]
fn validator_commands_add_rotate_remove_with_real_processes() {
    let mut c = Cluster::start(1);
    let (before, r_before) = c.deposit(0, "before any change (cli)\n");
    let (code, out, err) = run_curia(&["validator", "list", "--node", &c.api(0)]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("4 validators") && out.contains("next change number 0"), "{out}");
    let (_e, _active) = add_court_e_by_cli(&mut c);
    let (code, out, _) = run_curia(&["validator", "list", "--node", &c.api(1)]);
    assert_eq!(code, 0);
    assert!(out.contains("5 validators") && out.contains("court-e") && out.contains("total power 7"), "{out}");

    // Two of the original four stopped: 1 + 1 + 3 = 5 of 7 is still a quorum.
    c.kill(0);
    c.kill(1);
    let (_, r) = c.deposit(2, "with court-a and court-b down\n");
    assert!(r.certificate.sigs.iter().any(|s| s.validator == 4));
    c.restart(0);
    c.restart(1);

    // Rotate the notary's key: the new key goes in the node's next-key file first.
    let notary_old = key(&c, "notary/validator.key").public();
    let next = c.dir.join("notary/validator.key.next");
    let (code, _, err) = run_curia(&["keygen", "--out", next.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let notary_new = curia_node::config::read_key(&next).unwrap().public();
    let change = c.dir.join("rotate-notary.json");
    let change = change.to_str().unwrap();
    let (code, _, err) = run_curia(&[
        "validator",
        "propose",
        "rotate",
        "--old",
        &notary_old.to_string(),
        "--new-key-file",
        next.to_str().unwrap(),
        "--node",
        &c.api(0),
        "--out",
        change,
    ]);
    assert_eq!(code, 0, "{err}");
    approve(&c, change, &["court-a", "court-b", "court-e"]);
    let start = c.height(0);
    let (code, out, err) = submit_file(&c, change, 1);
    assert_eq!(code, 0, "{out}{err}");
    let active = activation_height(&c, start);
    // From activation, the notary (index 2) signs certificates, and they verify under the new
    // set only: its votes are signed with the new key (old-key votes would not verify).
    let spec = c.genesis();
    wait_for(&c, Duration::from_secs(90), "the notary signs with its new key", || {
        let h = c.height(0);
        (active..=h).any(|k| {
            let Some(ct) = cert(&c, 0, k) else { return false };
            if !ct.sigs.iter().any(|s| s.validator == 2) {
                return false;
            }
            let set: curia_client::types::ValidatorsAnswer = c.client(0).validators(Some(k)).unwrap();
            assert!(
                set.validators.iter().any(|v| v.key == notary_new)
                    && set.validators.iter().all(|v| v.key != notary_old)
            );
            let vs = curia_ledger::membership::ValidatorSet::new(
                set.validators
                    .iter()
                    .map(|v| Validator {
                        name: v.name.clone(),
                        role: v.role,
                        key: v.key,
                        power: v.power,
                        address: v.address.clone(),
                    })
                    .collect(),
            );
            ct.verify_in(&spec.chain_id, &vs).is_ok()
        })
    });
    let notary_log = c.log(2);
    assert!(notary_log.contains("next key loaded"), "{notary_log}");
    c.deposit(3, "after the rotation\n");

    // Remove timesvc (index 3): its node commits nothing more once the removal is in force.
    let timesvc = key(&c, "timesvc/validator.key").public();
    let change = c.dir.join("remove-timesvc.json");
    let change = change.to_str().unwrap();
    let (code, _, err) = run_curia(&[
        "validator",
        "propose",
        "remove",
        "--key",
        &timesvc.to_string(),
        "--node",
        &c.api(0),
        "--out",
        change,
    ]);
    assert_eq!(code, 0, "{err}");
    approve(&c, change, &["court-a", "court-b", "court-e"]);
    let start = c.height(0);
    let (code, out, err) = submit_file(&c, change, 0);
    assert_eq!(code, 0, "{out}{err}");
    let active = activation_height(&c, start);
    wait_for(&c, Duration::from_secs(60), "the network passes the removal", || c.height(0) >= active + 2);
    let stalled = c.height(3);
    c.deposit(0, "after the removal\n");
    wait_for(&c, Duration::from_secs(60), "the network moves on", || c.height(0) >= stalled + 5);
    assert_eq!(c.height(3), stalled, "the removed validator's node committed more blocks");

    // The receipt from before every change still verifies offline.
    let (code, out) = verify_receipt(&c, &before, &r_before, "before-cli");
    assert_eq!(code, 0, "{out}");
}

/// A receipt signed by a set after a change verifies from the genesis with the membership walk.
#[test]
fn receipts_signed_by_a_later_set_verify() {
    let mut c = Cluster::start(2);
    let (_e, active) = add_court_e_by_cli(&mut c);
    let (content, r) = c.deposit(4, "signed by the five\n");
    assert!(r.header.height >= active);
    let (code, out) = verify_receipt(&c, &content, &r, "after-cli");
    assert_eq!(code, 0, "{out}");
}
