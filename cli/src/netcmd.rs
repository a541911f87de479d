//! Commands that talk to or set up nodes: `node init|run`, `testnet init`, `deposit`,
//! `receipt get`, `status`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use curia_client::Client as ApiClient;
use curia_ledger::crypto::SecretKey;
use curia_ledger::genesis::{Client, ClientRole, Params, Validator, ValidatorRole};
use curia_ledger::hash::Hash;
use curia_ledger::tx::{Commitment, Deposit, Payload, TxBody};
use curia_node::config::{
    read_key, write_key, write_token, ConsensusSection, ListenSection, MempoolSection, NetworkSection, NodeConfig,
    NodeSection, OpsSection,
};

use crate::{genesis, keys};

/// Write a fresh testnet: keys, a genesis signed by every validator (genesis.json and
/// genesis.sigs.json, built by the ceremony's code) and one config per validator, on loopback
/// ports. With `tls`, a local CA ([`crate::tlsgen`]) and TLS on every API and ops listener.
/// Names and roles of a testnet's validators: the default layout (court-a, court-b, notary,
/// timesvc, then `court-<i>`), or one role per validator named `<role>-<n>` (n counts from 1 per
/// role).
fn testnet_layout(validators: usize, roles: &[String]) -> Result<Vec<(String, ValidatorRole)>> {
    if roles.is_empty() {
        let default = [ValidatorRole::Court, ValidatorRole::Court, ValidatorRole::Notary, ValidatorRole::Timesvc];
        let names = ["court-a", "court-b", "notary", "timesvc"];
        return Ok((0..validators)
            .map(|i| {
                let name = names.get(i).map(|s| s.to_string()).unwrap_or_else(|| format!("court-{i}"));
                (name, *default.get(i).unwrap_or(&ValidatorRole::Court))
            })
            .collect());
    }
    anyhow::ensure!(
        roles.len() == validators,
        "--roles names {} roles for {validators} validators (one role per validator)",
        roles.len()
    );
    let mut counts = std::collections::HashMap::new();
    roles
        .iter()
        .map(|r| {
            let role = ValidatorRole::parse(r.trim())?;
            let n = counts.entry(role.as_str()).or_insert(0);
            *n += 1;
            Ok((format!("{}-{n}", role.as_str()), role))
        })
        .collect()
}

pub fn testnet_init(
    out: &Path,
    validators: usize,
    base_port: u16,
    force: bool,
    tls: bool,
    roles: &[String],
    log_in_header: bool,
) -> Result<()> {
    anyhow::ensure!((1..=32).contains(&validators), "--validators must be 1 to 32");
    let layout = testnet_layout(validators, roles)?;
    if out.exists() && !force {
        anyhow::ensure!(
            std::fs::read_dir(out)?.next().is_none(),
            "{} is not empty (use --force to write into it)",
            out.display()
        );
    }
    std::fs::create_dir_all(out)?;
    // The same steps as a genesis ceremony (`curia genesis new/add-validator/add-client/sign`),
    // with every key made here.
    let mut draft = genesis::new_draft("curia-testnet", curia_node::driver::now_ms(), Params::default())?;
    draft.log_in_header = log_in_header;
    let mut vkeys = Vec::new();
    for (i, (name, role)) in layout.into_iter().enumerate() {
        let key = keys::generate()?;
        draft.add_validator(Validator {
            name: name.clone(),
            role,
            key: key.public(),
            power: 1,
            address: format!("/ip4/127.0.0.1/tcp/{}", base_port + i as u16),
        })?;
        vkeys.push((name, key));
    }
    let clients_dir = out.join("clients");
    std::fs::create_dir_all(&clients_dir)?;
    for (name, role) in [
        ("platform", ClientRole::Platform),
        ("judge", ClientRole::Judge),
        ("auditor", ClientRole::Auditor),
        ("registrar", ClientRole::Registrar),
    ] {
        let key = keys::generate()?;
        write_key(&clients_dir.join(format!("{name}.key")), &key, force)?;
        draft.add_client(Client { name: name.into(), role, key: key.public() })?;
    }
    let spec = draft.clone().into_spec()?;
    spec.check_founding()?;
    let genesis_path = out.join("genesis.json");
    genesis::write_atomic(&genesis_path, &(draft.to_json() + "\n"))?;
    let ca = if tls { Some(crate::tlsgen::LocalCa::new()?) } else { None };
    if let Some(ca) = &ca {
        std::fs::create_dir_all(out.join("tls"))?;
        ca.write_cert(&out.join(crate::tlsgen::CA_FILE))?;
    }
    let sigs_path = genesis::sigs_path_for(&genesis_path);
    let _ = std::fs::remove_file(&sigs_path);
    for (_, key) in &vkeys {
        genesis::sign_into(&sigs_path, &spec, key)?;
    }
    for (i, (name, key)) in vkeys.iter().enumerate() {
        let dir = out.join(name);
        std::fs::create_dir_all(&dir)?;
        write_key(&dir.join("validator.key"), key, force)?;
        let tls_files = match &ca {
            Some(ca) => Some(ca.issue(name, &dir.join("tls"), force)?),
            None => None,
        };
        let cfg = NodeConfig {
            node: NodeSection {
                name: name.clone(),
                data_dir: PathBuf::from("data"),
                genesis: PathBuf::from("../genesis.json"),
                key: PathBuf::from("validator.key"),
                next_key: None,
            },
            network: NetworkSection {
                listen: format!("/ip4/127.0.0.1/tcp/{}", base_port + i as u16),
                observers: vec![],
                addresses: Default::default(),
            },
            api: ListenSection {
                tls: tls_files.clone(),
                ..ListenSection::new(format!("127.0.0.1:{}", base_port + 1000 + i as u16).parse()?)
            },
            ops: OpsSection {
                token_file: Some(PathBuf::from("ops.token")),
                tls: tls_files,
                ..OpsSection::new(format!("127.0.0.1:{}", base_port + 2000 + i as u16).parse()?)
            },
            consensus: ConsensusSection::default(),
            mempool: MempoolSection::default(),
            checkpoints: Default::default(),
        };
        write_token(&dir.join("ops.token"), &new_token()?, force)?;
        std::fs::write(dir.join("node.toml"), cfg.to_toml())?;
    }
    println!("testnet of {validators} validators written to {}", out.display());
    println!("chain     {}", spec.chain_id);
    let scheme = if tls { "https" } else { "http" };
    for (i, (name, _)) in vkeys.iter().enumerate() {
        println!(
            "{name:<10} api {scheme}://127.0.0.1:{}  ops {scheme}://127.0.0.1:{}",
            base_port + 1000 + i as u16,
            base_port + 2000 + i as u16
        );
    }
    if tls {
        println!(
            "tls       CA certificate {} (give it to clients as --ca-file)",
            out.join(crate::tlsgen::CA_FILE).display()
        );
    }
    println!("clients   keys in {}", clients_dir.display());
    Ok(())
}

/// Create a validator key and a config template for an operator.
pub fn node_init(out: &Path, name: &str, force: bool) -> Result<()> {
    std::fs::create_dir_all(out)?;
    let key = keys::generate()?;
    write_key(&out.join("validator.key"), &key, force)?;
    let cfg = NodeConfig {
        node: NodeSection {
            name: name.into(),
            data_dir: PathBuf::from("data"),
            genesis: PathBuf::from("genesis.json"),
            key: PathBuf::from("validator.key"),
            next_key: None,
        },
        network: NetworkSection {
            listen: "/ip4/0.0.0.0/tcp/27000".into(),
            observers: vec![],
            addresses: Default::default(),
        },
        api: ListenSection::new("127.0.0.1:8080".parse()?),
        ops: OpsSection { token_file: Some(PathBuf::from("ops.token")), ..OpsSection::new("127.0.0.1:9090".parse()?) },
        consensus: ConsensusSection::default(),
        mempool: MempoolSection::default(),
        checkpoints: Default::default(),
    };
    let path = out.join("node.toml");
    anyhow::ensure!(force || !path.exists(), "{} exists (use --force)", path.display());
    write_token(&out.join("ops.token"), &new_token()?, force)?;
    std::fs::write(&path, cfg.to_toml())?;
    println!("validator key {}", key.public());
    println!(
        "wrote {} and {}; put the chain's genesis.json beside them",
        out.join("validator.key").display(),
        path.display()
    );
    Ok(())
}

/// A fresh ops token: 32 random bytes in hex.
fn new_token() -> Result<String> {
    let mut b = [0u8; 32];
    getrandom::getrandom(&mut b).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(hex::encode(b))
}

/// Run a node until SIGTERM or Ctrl-C.
pub fn node_run(config: &Path) -> Result<()> {
    let cfg = NodeConfig::load(config)?;
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
    // The API on a runtime of its own, ahead of the bulk work (consensus, commits, admission),
    // whose threads run `CURIA_BULK_NICE` (default 10) steps of nice lower; the API's threads ask
    // for short scheduler slices (`CURIA_API_SLICE_US`, default 100) (curia_node::priority).
    let nice_env = std::env::var(curia_node::priority::BULK_NICE_ENV).ok();
    let nice = curia_node::priority::bulk_nice_from(nice_env.as_deref())?;
    let slice_env = std::env::var(curia_node::priority::API_SLICE_ENV).ok();
    let slice = curia_node::priority::api_slice_from(slice_env.as_deref())?;
    let rts = curia_node::priority::Runtimes::build(nice, slice)?;
    tracing::info!(
        bulk_nice = rts.bulk_nice,
        api_slice_us = slice.map_or(0, |s| s.as_micros() as u64),
        "runtimes: API at the process's priority in short slices, bulk work below it"
    );
    let api = rts.api.handle().clone();
    // The node runs on a bulk worker, not on this (main) thread, which keeps its priority.
    let node = rts.bulk.spawn(async move {
        let shutdown = async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
                _ = tokio::signal::ctrl_c() => tracing::info!("Ctrl-C: shutting down"),
            }
        };
        curia_node::run::run_node_with_api(cfg, shutdown, Some(api)).await
    });
    let result = rts.bulk.block_on(node);
    // Work left on the blocking pools (a backup being written, say) is waited for within a bound,
    // not without one as dropping the runtimes would (curia_node::limits::BLOCKING_STOP_WAIT).
    rts.shutdown(curia_node::limits::BLOCKING_STOP_WAIT);
    result.context("the node's task failed")??;
    tracing::info!("exiting");
    Ok(())
}

/// A client of the node API at `node`; `ca_file` is the PEM CA file to trust for an `https://` URL.
pub fn client(node: &str, ca_file: Option<&Path>) -> Result<ApiClient> {
    Ok(ApiClient::builder(node).ca_file_opt(ca_file).timeout(Duration::from_secs(30)).build()?)
}

/// Deposit files; with `wait`, save each receipt once committed.
pub fn deposit(
    files: &[PathBuf],
    key_path: &Path,
    node: &str,
    ca_file: Option<&Path>,
    wait: bool,
    out: Option<&Path>,
    timeout_s: u64,
) -> Result<u8> {
    let key = read_key(key_path)?;
    let client = client(node, ca_file)?;
    let chain_id = client.chain_id()?;
    let mut ids = Vec::new();
    for f in files {
        let digest = crate::hash_file(f)?;
        let len = std::fs::metadata(f)?.len();
        let tx = deposit_tx(&key, &chain_id, digest, len, f)?;
        let accepted = client.submit_deposit(&tx, &chain_id).with_context(|| format!("depositing {}", f.display()))?;
        let id = accepted.deposit_ids[0];
        println!("{id}  {}", f.display());
        ids.push((f.clone(), id));
    }
    if !wait {
        return Ok(0);
    }
    let deadline = Instant::now() + Duration::from_secs(timeout_s);
    for (f, id) in ids {
        let r = client.wait_receipt(&id, deadline.saturating_duration_since(Instant::now()))?;
        let path = match out {
            Some(d) => {
                std::fs::create_dir_all(d)?;
                d.join(format!("{id}.receipt.json"))
            }
            None => PathBuf::from(format!("{}.receipt.json", f.display())),
        };
        std::fs::write(&path, r.to_json() + "\n")?;
        println!("committed in block {}; receipt saved to {}", r.header.height, path.display());
    }
    Ok(0)
}

fn deposit_tx(
    key: &SecretKey,
    chain_id: &Hash,
    digest: Hash,
    len: u64,
    f: &Path,
) -> Result<curia_ledger::tx::Transaction> {
    let mut nonce = [0u8; 8];
    getrandom::getrandom(&mut nonce).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let label: String =
        f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default().chars().take(200).collect();
    let body = TxBody {
        sender: key.public(),
        nonce: u64::from_be_bytes(nonce),
        payload: Payload::Deposit(Deposit {
            commitment: Commitment::Sha256(digest),
            media_type: media_type(f).into(),
            byte_length: len,
            label,
            reference: String::new(),
        }),
    };
    body.check_fields()?;
    Ok(body.sign(chain_id, key))
}

fn media_type(f: &Path) -> &'static str {
    match f.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase()).as_deref() {
        Some("pdf") => "application/pdf",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("txt") => "text/plain",
        Some("json") => "application/json",
        Some("html" | "htm") => "text/html",
        _ => "application/octet-stream",
    }
}

/// Fetch a receipt and save it.
pub fn receipt_get(node: &str, ca_file: Option<&Path>, id: &str, out: Option<&Path>, wait_s: u64) -> Result<u8> {
    let id = Hash::from_hex(id).context("deposit ID")?;
    let r = client(node, ca_file)?.wait_receipt(&id, Duration::from_secs(wait_s))?;
    match out {
        Some(p) => {
            std::fs::write(p, r.to_json() + "\n")?;
            println!("receipt of {id} (block {}) saved to {}", r.header.height, p.display());
        }
        None => println!("{}", r.to_json()),
    }
    Ok(0)
}

/// Print a node's status.
pub fn status(node: &str, ca_file: Option<&Path>, json: bool) -> Result<u8> {
    let st = client(node, ca_file)?.status()?;
    let v = serde_json::to_value(&st)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        for (k, val) in v.as_object().into_iter().flatten() {
            // Both the key and the value come from the node: escape them for the terminal.
            let shown = val.as_str().map(String::from).unwrap_or_else(|| val.to_string());
            println!("{:<14} {}", curia_verifier::escape::terminal(k), curia_verifier::escape::terminal(&shown));
        }
    }
    Ok(0)
}
