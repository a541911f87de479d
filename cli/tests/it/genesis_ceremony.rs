//! The genesis ceremony through the `curia` binary: four institutions with their own key folders
//! found a chain, sign it, check it, publish it and run it; and every refusal of the ceremony.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use common::{curia, Cluster, TestDir};
use curia_ledger::genesis::Genesis;
use curia_ledger::verify::{format_utc, verify_receipt, Evidence};

const INSTITUTIONS: [(&str, &str); 4] =
    [("court-a", "court"), ("court-b", "court"), ("notary", "notary"), ("timesvc", "timesvc")];

/// The test's folder, removed when the test ends (pass or fail).
fn temp_dir(name: &str) -> TestDir {
    TestDir::new(&format!("ceremony-{name}"))
}

fn run(args: &[&str]) -> Output {
    curia().args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[track_caller]
fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(o.status.success(), "curia {args:?} failed: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs, expects exit code `code`, and returns stdout and stderr together.
#[track_caller]
fn code(args: &[&str], code: i32) -> String {
    let o = run(args);
    assert_eq!(o.status.code(), Some(code), "curia {args:?}: {}", text(&o));
    text(&o)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `curia keygen` into `dir/validator.key`, and the printed public key saved to `dir/validator.pub`.
fn keygen(dir: &Path) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let public = ok(&["keygen", "--out", s(&dir.join("validator.key"))]).trim().to_string();
    std::fs::write(dir.join("validator.pub"), format!("{public}\n")).unwrap();
    public
}

/// A draft with one validator per `(name, role)`, each with a fresh key in `dir/NAME/`.
fn draft(dir: &Path, vals: &[(&str, &str)], base: u16) -> PathBuf {
    let g = dir.join("genesis.json");
    ok(&["genesis", "new", "--out", s(&g), "--chain-name", "curia-ceremony", "--genesis-time", "2026-11-01T08:00:00Z"]);
    for (i, (name, role)) in vals.iter().enumerate() {
        keygen(&dir.join(name));
        ok(&[
            "genesis",
            "add-validator",
            s(&g),
            "--name",
            name,
            "--role",
            role,
            "--key",
            s(&dir.join(name).join("validator.pub")),
            "--address",
            &format!("/ip4/127.0.0.1/tcp/{}", base + i as u16),
        ]);
    }
    g
}

fn node_toml(name: &str, genesis: &str, base: u16, i: usize) -> String {
    let p = base + i as u16;
    format!(
        "[node]\nname = \"{name}\"\ndata_dir = \"data\"\ngenesis = \"{genesis}\"\nkey = \"validator.key\"\n\n\
         [network]\nlisten = \"/ip4/127.0.0.1/tcp/{p}\"\nobservers = []\n\n[api]\nlisten = \"127.0.0.1:{}\"\n\n\
         [ops]\nlisten = \"127.0.0.1:{}\"\n\n[consensus]\npropose_ms = 1000\nprevote_ms = 1000\nprecommit_ms = 1000\n\
         delta_ms = 250\nblock_interval_ms = 200\nempty_block_ms = 500\n",
        p + 1000,
        p + 2000
    )
}

#[test]
fn four_institutions_found_a_chain_and_it_commits_a_deposit() {
    let dir = temp_dir("found");
    let base = Cluster::port_base(0);
    let coord = dir.join("coordinator");
    std::fs::create_dir_all(&coord).unwrap();
    let g = coord.join("genesis.json");
    // The genesis time is a little in the past: blocks cannot carry an earlier time.
    let time = format_utc(curia_node::driver::now_ms() - 60_000);
    ok(&["genesis", "new", "--out", s(&g), "--chain-name", "curia-ceremony", "--genesis-time", &time]);
    // Each institution makes its key in its own folder and sends only the public key.
    for (i, (name, role)) in INSTITUTIONS.iter().enumerate() {
        keygen(&dir.join(name));
        let out = ok(&[
            "genesis",
            "add-validator",
            s(&g),
            "--name",
            name,
            "--role",
            role,
            "--key",
            s(&dir.join(name).join("validator.pub")),
            "--address",
            &format!("/ip4/127.0.0.1/tcp/{}", base + i as u16),
        ]);
        assert!(out.contains(&format!("validator {name} ({role}) added")), "{out}");
    }
    // A platform registered from day one, its key given as hex.
    std::fs::create_dir_all(dir.join("clients")).unwrap();
    let platform = ok(&["keygen", "--out", s(&dir.join("clients/platform.key"))]).trim().to_string();
    ok(&["genesis", "add-client", s(&g), "--name", "platform-a", "--role", "platform", "--key", &platform]);
    let genesis_bytes = std::fs::read(&g).unwrap();
    let spec = Genesis::from_json(&genesis_bytes).unwrap();
    let chain_id = spec.chain_id.to_hex();

    // Nobody has signed yet: check says so (exit 1), naming all four.
    let out = code(&["genesis", "check", s(&g)], 1);
    for (name, _) in INSTITUTIONS {
        assert!(out.contains(&format!("UNSIGNED  {name}")), "{out}");
    }
    // Each institution signs its own copy, on its own machine, with its own key...
    for (name, _) in INSTITUTIONS {
        let copy = dir.join(name).join("genesis.json");
        std::fs::copy(&g, &copy).unwrap();
        let out = ok(&["genesis", "sign", s(&copy), "--key", s(&dir.join(name).join("validator.key"))]);
        assert!(out.contains(&format!("{name} signed chain {chain_id}")), "{out}");
        assert!(dir.join(name).join("genesis.sigs.json").exists());
    }
    // ...and the coordinator collects the signature files: three first, then the fourth.
    let sigs_of = |name: &str| dir.join(name).join("genesis.sigs.json").to_str().unwrap().to_string();
    ok(&["genesis", "collect", s(&g), &sigs_of("court-a"), &sigs_of("court-b"), &sigs_of("notary")]);
    let out = code(&["genesis", "check", s(&g)], 1);
    assert!(out.contains("UNSIGNED  timesvc") && out.contains("signed    court-a"), "{out}");
    assert!(out.contains("INCOMPLETE 1 of 4"), "{out}");
    code(&["genesis", "check", s(&g), "--allow-unsigned"], 0);
    ok(&["genesis", "collect", s(&g), &sigs_of("timesvc")]);
    let out = code(&["genesis", "check", s(&g)], 0);
    assert!(out.contains(&format!("chain     {chain_id} (curia-ceremony)")), "{out}");
    assert!(out.contains(&format!("COMPLETE  every validator signed chain {chain_id}")), "{out}");
    // Signing changed neither the genesis nor its chain ID.
    assert_eq!(std::fs::read(&g).unwrap(), genesis_bytes);

    // Publish: the notice, and the genesis and signatures beside it.
    let published = dir.join("published");
    ok(&["genesis", "publish", s(&g), "--out", s(&published)]);
    let html = std::fs::read_to_string(published.join("notice.html")).unwrap();
    let grouped: Vec<String> = chain_id.as_bytes().chunks(4).map(|c| String::from_utf8(c.to_vec()).unwrap()).collect();
    assert!(
        html.contains(&grouped[..8].join(" ")) && html.contains(&grouped[8..].join(" ")),
        "chain ID not on the notice"
    );
    assert!(html.contains("<svg") && html.contains("4 / 4") && html.contains("创世"));
    for v in &spec.genesis.validators {
        assert!(html.contains(&v.name));
    }
    assert_eq!(std::fs::read(published.join("genesis.json")).unwrap(), genesis_bytes);
    code(&["genesis", "check", s(&published.join("genesis.json"))], 0);
    // The older form still prints the chain.
    assert!(ok(&["genesis", s(&g)]).starts_with(&format!("chain     {chain_id}")));

    // Each institution runs its node from the published genesis, and the chain takes a deposit.
    let names: Vec<String> = INSTITUTIONS.iter().map(|(n, _)| n.to_string()).collect();
    for (i, n) in names.iter().enumerate() {
        std::fs::write(dir.join(n).join("node.toml"), node_toml(n, "../published/genesis.json", base, i)).unwrap();
    }
    let c = Cluster::launch(dir.to_path_buf(), base, names);
    let status: serde_json::Value = ureq::get(&format!("{}/v1/status", c.api(2))).call().unwrap().into_json().unwrap();
    assert_eq!(status["chain_id"].as_str(), Some(chain_id.as_str()));
    let (data, r) = c.deposit(1, "founded by four institutions\n");
    assert_eq!(r.chain_id, spec.chain_id);
    assert!(verify_receipt(Evidence::Bytes(&data), &r, &spec).is_valid());
    for i in 0..4 {
        assert!(c.wait_height(i, r.header.height, Duration::from_secs(30)), "node {i} lags:\n{}", c.log(i));
    }
}

#[test]
fn duplicate_names_are_refused_and_the_draft_is_unchanged() {
    let dir = temp_dir("dup-names");
    let g = draft(&dir, &INSTITUTIONS[..2], 27000);
    let before = std::fs::read(&g).unwrap();
    let other = keygen(&dir.join("other"));
    let out = code(
        &[
            "genesis",
            "add-validator",
            s(&g),
            "--name",
            "court-a",
            "--role",
            "court",
            "--key",
            &other,
            "--address",
            "/ip4/127.0.0.1/tcp/1",
        ],
        2,
    );
    assert!(out.contains("duplicate name court-a"), "{out}");
    // Names are unique across validators and clients.
    let out = code(&["genesis", "add-client", s(&g), "--name", "court-b", "--role", "judge", "--key", &other], 2);
    assert!(out.contains("duplicate name court-b"), "{out}");
    assert_eq!(std::fs::read(&g).unwrap(), before);
}

#[test]
fn duplicate_keys_are_refused() {
    let dir = temp_dir("dup-keys");
    let g = draft(&dir, &INSTITUTIONS[..2], 27000);
    let before = std::fs::read(&g).unwrap();
    let pub_a = s(&dir.join("court-a/validator.pub")).to_string();
    let out = code(
        &[
            "genesis",
            "add-validator",
            s(&g),
            "--name",
            "notary",
            "--role",
            "notary",
            "--key",
            &pub_a,
            "--address",
            "/ip4/127.0.0.1/tcp/1",
        ],
        2,
    );
    assert!(out.contains("duplicate key"), "{out}");
    let out = code(&["genesis", "add-client", s(&g), "--name", "judge-1", "--role", "judge", "--key", &pub_a], 2);
    assert!(out.contains("duplicate key"), "{out}");
    assert_eq!(std::fs::read(&g).unwrap(), before);
}

#[test]
fn small_order_non_canonical_and_secret_keys_are_refused() {
    let dir = temp_dir("bad-keys");
    let g = draft(&dir, &INSTITUTIONS[..1], 27000);
    let before = std::fs::read(&g).unwrap();
    let identity = format!("01{}", "00".repeat(31)); // the identity point: small order
    let non_canonical = format!("f0{}7f", "ff".repeat(30)); // y = p + 3: not reduced
    for key in [identity.as_str(), non_canonical.as_str()] {
        let out = code(
            &[
                "genesis",
                "add-validator",
                s(&g),
                "--name",
                "v",
                "--role",
                "notary",
                "--key",
                key,
                "--address",
                "/ip4/127.0.0.1/tcp/1",
            ],
            2,
        );
        assert!(out.contains("is not a valid ed25519 key"), "{key}: {out}");
        let out = code(&["genesis", "add-client", s(&g), "--name", "c", "--role", "judge", "--key", key], 2);
        assert!(out.contains("is not a valid ed25519 key"), "{key}: {out}");
    }
    // A secret key file is refused: only the public key leaves its owner.
    let out = code(
        &[
            "genesis",
            "add-client",
            s(&g),
            "--name",
            "c",
            "--role",
            "judge",
            "--key",
            s(&dir.join("court-a/validator.key")),
        ],
        2,
    );
    assert!(out.contains("is a secret key file"), "{out}");
    let out = code(&["genesis", "add-client", s(&g), "--name", "c", "--role", "judge", "--key", "abcd"], 2);
    assert!(out.contains("neither 64 hex digits nor a readable file"), "{out}");
    assert_eq!(std::fs::read(&g).unwrap(), before);
}

#[test]
fn bad_roles_are_refused() {
    let dir = temp_dir("roles");
    let g = draft(&dir, &INSTITUTIONS[..1], 27000);
    let k = keygen(&dir.join("x"));
    let out = code(
        &[
            "genesis",
            "add-validator",
            s(&g),
            "--name",
            "v",
            "--role",
            "judge",
            "--key",
            &k,
            "--address",
            "/ip4/127.0.0.1/tcp/1",
        ],
        2,
    );
    assert!(out.contains("unknown validator role \"judge\""), "{out}");
    let out = code(&["genesis", "add-client", s(&g), "--name", "c", "--role", "court", "--key", &k], 2);
    assert!(out.contains("unknown client role \"court\""), "{out}");
    let out = code(
        &["genesis", "new", "--out", s(&dir.join("x.json")), "--chain-name", "bad name", "--genesis-time", "0"],
        2,
    );
    assert!(out.contains("must be 1 to 64 characters"), "{out}");
    let out = code(
        &[
            "genesis",
            "new",
            "--out",
            s(&dir.join("x.json")),
            "--chain-name",
            "c",
            "--genesis-time",
            "2026-01-01T00:00:00+08:00",
        ],
        2,
    );
    assert!(out.contains("expected UTC"), "{out}");
    assert!(!dir.join("x.json").exists());
}

#[test]
fn a_genesis_without_a_court_is_refused_at_check_sign_and_publish() {
    let dir = temp_dir("no-court");
    let g = draft(&dir, &INSTITUTIONS[2..], 27000);
    // A draft may lack a court while it is built; the check refuses it.
    let out = code(&["genesis", "check", s(&g)], 2);
    assert!(out.contains("no validator has the role court"), "{out}");
    let out = code(&["genesis", "sign", s(&g), "--key", s(&dir.join("notary/validator.key"))], 2);
    assert!(out.contains("no validator has the role court"), "{out}");
    assert!(!dir.join("genesis.sigs.json").exists());
    let out = code(&["genesis", "publish", s(&g), "--out", s(&dir.join("pub")), "--allow-unsigned"], 2);
    assert!(out.contains("no validator has the role court"), "{out}");
    // An empty draft is not a genesis at all.
    let empty = dir.join("empty.json");
    ok(&["genesis", "new", "--out", s(&empty), "--chain-name", "c", "--genesis-time", "0"]);
    assert!(code(&["genesis", "check", s(&empty)], 2).contains("needs 1 to 128 validators"));
}

#[test]
fn unsigned_founders_are_listed_and_fail_the_check() {
    let dir = temp_dir("unsigned");
    let g = draft(&dir, &INSTITUTIONS, 27000);
    for name in ["court-a", "notary"] {
        ok(&["genesis", "sign", s(&g), "--key", s(&dir.join(name).join("validator.key"))]);
    }
    let out = code(&["genesis", "check", s(&g)], 1);
    assert!(out.contains("UNSIGNED  court-b") && out.contains("UNSIGNED  timesvc"), "{out}");
    assert!(out.contains("signed    court-a") && out.contains("signed    notary"), "{out}");
    assert!(out.contains("INCOMPLETE 2 of 4"), "{out}");
    code(&["genesis", "check", s(&g), "--allow-unsigned"], 0);
    // Publishing needs every signature, unless told otherwise; then the notice shows who is missing.
    let out = code(&["genesis", "publish", s(&g), "--out", s(&dir.join("pub"))], 2);
    assert!(out.contains("not signed yet by court-b, timesvc"), "{out}");
    ok(&["genesis", "publish", s(&g), "--out", s(&dir.join("pub")), "--allow-unsigned"]);
    let html = std::fs::read_to_string(dir.join("pub/notice.html")).unwrap();
    assert!(html.contains("2 / 4") && html.contains("NO"), "notice hides the missing signatures");
    // A key that is not a validator's cannot sign.
    let stranger = keygen(&dir.join("stranger"));
    let out = code(&["genesis", "sign", s(&g), "--key", s(&dir.join("stranger/validator.key"))], 2);
    assert!(out.contains(&format!("key {stranger} is not the key of a validator")), "{out}");
    // And once signatures exist the draft is frozen: a change would void them.
    let out = code(&["genesis", "remove", s(&g), "--name", "timesvc"], 2);
    assert!(out.contains("voids those signatures"), "{out}");
}

#[test]
fn a_tampered_signature_file_is_refused() {
    let dir = temp_dir("tampered");
    let g = draft(&dir, &INSTITUTIONS, 27000);
    for (name, _) in INSTITUTIONS {
        ok(&["genesis", "sign", s(&g), "--key", s(&dir.join(name).join("validator.key"))]);
    }
    code(&["genesis", "check", s(&g)], 0);
    let sigs = dir.join("genesis.sigs.json");
    let good = std::fs::read_to_string(&sigs).unwrap();
    let v: serde_json::Value = serde_json::from_str(&good).unwrap();
    let sig = v["signatures"][2]["signature"].as_str().unwrap().to_string();
    let who = v["signatures"][2]["validator"].as_str().unwrap().to_string();
    // Change one hex digit of one signature.
    let mut bad = sig.clone().into_bytes();
    bad[10] = if bad[10] == b'0' { b'1' } else { b'0' };
    std::fs::write(&sigs, good.replace(&sig, std::str::from_utf8(&bad).unwrap())).unwrap();
    let out = code(&["genesis", "check", s(&g)], 2);
    assert!(out.contains(&format!("signature of {who} does not verify")), "{out}");
    assert!(out.contains(&format!("UNSIGNED  {who}")), "{out}");
    // Signing into, publishing from or collecting a tampered file is refused too.
    let out = code(&["genesis", "sign", s(&g), "--key", s(&dir.join("court-a/validator.key"))], 2);
    assert!(out.contains("does not verify"), "{out}");
    assert!(code(&["genesis", "publish", s(&g), "--out", s(&dir.join("pub"))], 2).contains("does not verify"));
    let copy = dir.join("tampered.sigs.json");
    std::fs::copy(&sigs, &copy).unwrap();
    std::fs::write(&sigs, &good).unwrap();
    assert!(code(&["genesis", "collect", s(&g), s(&copy)], 2).contains("does not verify"));
    // A signature under another validator's name, and a file that is not JSON of this shape.
    let a = v["signatures"][0]["validator"].as_str().unwrap();
    let b = v["signatures"][1]["validator"].as_str().unwrap();
    std::fs::write(&sigs, good.replacen(&format!("\"{a}\""), &format!("\"{b}\""), 1)).unwrap();
    assert!(code(&["genesis", "check", s(&g)], 2).contains(&format!("is validator {a}")));
    std::fs::write(&sigs, "{\"type\": \"curia-genesis-signatures\"}").unwrap();
    assert!(code(&["genesis", "check", s(&g)], 2).contains("signature file"));
}

#[test]
fn a_signature_for_another_genesis_is_refused() {
    let dir = temp_dir("other");
    let g = draft(&dir, &INSTITUTIONS, 27000);
    for (name, _) in INSTITUTIONS {
        ok(&["genesis", "sign", s(&g), "--key", s(&dir.join(name).join("validator.key"))]);
    }
    let sigs = dir.join("genesis.sigs.json");
    // The same validators, one address changed: another chain.
    let other = dir.join("other.json");
    let text = std::fs::read_to_string(&g).unwrap().replace("/ip4/127.0.0.1/tcp/27003", "/ip4/127.0.0.1/tcp/27099");
    std::fs::write(&other, &text).unwrap();
    let out = code(&["genesis", "check", s(&other), "--sigs", s(&sigs)], 2);
    assert!(out.contains("is for chain") && out.contains("not this genesis"), "{out}");
    // Even with the file's chain ID rewritten, the signatures themselves do not verify.
    let other_id = Genesis::from_json(text.as_bytes()).unwrap().chain_id.to_hex();
    let this_id = Genesis::from_json(&std::fs::read(&g).unwrap()).unwrap().chain_id.to_hex();
    let forged = dir.join("forged.sigs.json");
    std::fs::write(&forged, std::fs::read_to_string(&sigs).unwrap().replace(&this_id, &other_id)).unwrap();
    let out = code(&["genesis", "check", s(&other), "--sigs", s(&forged)], 2);
    assert!(out.contains("made for another genesis"), "{out}");
    assert_eq!(out.matches("does not verify").count(), 4, "{out}");
    // Signing the other genesis into the first one's file is refused rather than mixed.
    let out =
        code(&["genesis", "sign", s(&other), "--key", s(&dir.join("court-a/validator.key")), "--sigs", s(&sigs)], 2);
    assert!(out.contains("not this genesis"), "{out}");
}

#[test]
fn testnet_init_writes_a_signed_genesis() {
    let dir = temp_dir("testnet");
    let net = dir.join("net");
    ok(&["testnet", "init", "--out", s(&net), "--base-port", "27000"]);
    let out = code(&["genesis", "check", s(&net.join("genesis.json"))], 0);
    assert!(out.contains("COMPLETE") && out.contains("client    platform platform"), "{out}");
}

#[test]
fn testnet_init_names_mediation_and_forensic_roles() {
    let dir = temp_dir("testnet-roles");
    let net = dir.join("net");
    let roles = "court,court,timesvc,mediation,forensic,notary";
    ok(&["testnet", "init", "--out", s(&net), "--validators", "6", "--roles", roles]);
    let g = std::fs::read_to_string(net.join("genesis.json")).unwrap();
    for (name, role) in [("mediation-1", "mediation"), ("forensic-1", "forensic"), ("court-2", "court")] {
        assert!(g.contains(&format!("\"name\": \"{name}\",\n      \"role\": \"{role}\"")), "{name}: {g}");
    }
    assert!(net.join("forensic-1/node.toml").is_file());
    let out = code(&["genesis", "check", s(&net.join("genesis.json"))], 0);
    assert!(out.contains("COMPLETE"), "{out}");
    let out =
        code(&["testnet", "init", "--out", s(&dir.join("bad")), "--validators", "2", "--roles", "court,judge"], 2);
    assert!(out.contains("unknown validator role \"judge\""), "{out}");
    let out = code(&["testnet", "init", "--out", s(&dir.join("bad2")), "--validators", "3", "--roles", "court"], 2);
    assert!(out.contains("one role per validator"), "{out}");
}
