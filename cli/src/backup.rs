//! `curia node backup` (ask a running node for an online backup of its store) and `curia node
//! restore` (put a backup in place of a stopped node's store). See `docs/operator-guide.md`,
//! section 6.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use curia_client::{Client, Error as ApiError};
use curia_node::config::NodeConfig;
use curia_storage::{Store, STORE_SUBDIR};

/// The address to reach a listener on from this machine: a wildcard listen address (`0.0.0.0`,
/// `[::]`) is reached on loopback.
fn reach(listen: SocketAddr) -> SocketAddr {
    let mut addr = listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    addr
}

/// A client of the node's ops listener at `ops`: `https://` when a CA file is given (the
/// listener serves TLS), else `http://`.
fn ops_client(ops: SocketAddr, ca_file: Option<&Path>, timeout: Duration) -> Result<Client> {
    let scheme = if ca_file.is_some() { "https" } else { "http" };
    Ok(Client::builder(&format!("{scheme}://{ops}")).ca_file_opt(ca_file).timeout(timeout).build()?)
}

/// `curia node backup`: POST /admin/backup to the node's ops listener, with the token of its
/// `[ops] token_file`, and print the answer.
pub fn backup(config: &Path, ca_file: Option<&Path>) -> Result<u8> {
    let cfg = NodeConfig::load(config)?;
    let ops = reach(cfg.ops.listen);
    let token_file = cfg.ops.token_file.as_deref().with_context(|| {
        format!(
            "{} has no [ops] token_file: the node refuses backups without one. Write a token (e.g. 64 hex \
             digits) to a file readable only by the operator, set token_file to it, and restart the node",
            config.display()
        )
    })?;
    let token = curia_node::config::read_token(token_file)?;
    // A checkpoint hard-links the store's files and copies a few small ones: quick, but it
    // flushes memtables first, so allow for a slow disk.
    let client = ops_client(ops, ca_file, Duration::from_secs(600))?;
    let answer = match client.backup(&token) {
        Ok(a) => a,
        Err(e @ ApiError::BackupInProgress(_)) => {
            bail!("the node is already writing a backup ({e}); wait for it to finish and run this again")
        }
        Err(e @ (ApiError::Unauthorized(_) | ApiError::AdminDisabled(_))) => bail!(
            "the node refused the token of {} ({e}): is it the token the node was started with?",
            token_file.display()
        ),
        Err(e @ ApiError::RateLimited(_)) => {
            bail!("the node made a backup a short while ago and allows one per [ops] backup_min_interval_s ({e})")
        }
        Err(ApiError::NotFound(_)) | Err(ApiError::Http { status: 404, .. }) => bail!(
            "{ops} (ops.listen in {}) has no backup endpoint (404): is it an older curia build, or not a curia node?",
            config.display()
        ),
        Err(e) if e.status().is_some() => bail!("the node could not write the backup ({e})"),
        Err(e) => bail!(
            "cannot reach the node's ops listener at {ops} (ops.listen in {}): {e}\n\
             `curia node backup` asks a running node to back itself up, so the node must be running. \
             For a stopped node, a cold copy of its data directory {} (e.g. `cp -a`) is a consistent backup.",
            config.display(),
            cfg.node.data_dir.display()
        ),
    };
    println!("backup    {}", answer.path);
    println!("height    {} (the backup holds at least this height)", answer.height);
    println!("block     {}", answer.block_hash);
    for old in &answer.removed {
        println!("removed   {old} (older than the [ops] backup_keep newest)");
    }
    eprintln!(
        "check it with `curia audit --data-dir {} --genesis {}`, then copy it off this machine: \
         it shares disk blocks with the live store (hard links).",
        answer.path,
        cfg.node.genesis.display()
    );
    Ok(0)
}

/// `curia node restore`: copy a backup into the stopped node's empty store location, check it,
/// and report the signing record that keeps the node from voting twice (or warn that it is
/// missing).
pub fn restore(config: &Path, backup: &Path) -> Result<u8> {
    let cfg = NodeConfig::load(config)?;
    let spec = crate::load_genesis(&cfg.node.genesis)?;
    let target = cfg.node.data_dir.join(STORE_SUBDIR);

    // Offline only: a node answering on its ops address may still have its store open (even one
    // moved aside while it ran).
    let ops = reach(cfg.ops.listen);
    // Anything accepting connections there counts, whatever it speaks (plain HTTP or TLS).
    if std::net::TcpStream::connect_timeout(&ops, Duration::from_secs(2)).is_ok() {
        bail!(
            "something answers on the node's ops address {ops} (ops.listen in {}): stop the node before \
             restoring its store",
            config.display()
        );
    }

    if target.exists() {
        let empty = std::fs::read_dir(&target)
            .with_context(|| format!("cannot read the node's store location {}", target.display()))?
            .next()
            .is_none();
        if !empty {
            bail!(
                "the node's store {} already exists and is not empty; restore only writes into an empty place. \
                 Move it aside first (keep it for analysis), e.g. `mv {} {}.old`, then run this again",
                target.display(),
                target.display(),
                target.display()
            );
        }
    }
    if !backup.exists() {
        bail!("backup {} does not exist", backup.display());
    }
    if !backup.is_dir() {
        bail!("backup {} is not a folder (give the folder `curia node backup` printed)", backup.display());
    }
    // Name the common mistake (another network's backup) in the backup's own terms.
    let found = Store::open_read_only(backup)
        .with_context(|| format!("backup {} is not a usable store", backup.display()))?
        .spec()
        .chain_id;
    if found != spec.chain_id {
        bail!(
            "backup {} holds chain {found}, but the genesis {} is chain {}: it is another network's backup",
            backup.display(),
            cfg.node.genesis.display(),
            spec.chain_id
        );
    }
    // Restore into a staging folder of our own next to the store, then rename it into place: the
    // node's store location never holds a partial or unchecked copy, and a failure removes only
    // what this command wrote.
    let data_dir = &cfg.node.data_dir;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let staging = data_dir.join(format!("{STORE_SUBDIR}.restoring"));
    if staging.exists() {
        bail!(
            "{} exists: an earlier restore was interrupted, or one is running now. If none is running, \
             remove that folder and run this again",
            staging.display()
        );
    }
    let tip = match Store::restore(backup, &staging, &spec) {
        Ok(tip) => tip,
        Err(e) => {
            let note = match std::fs::remove_dir_all(&staging) {
                Err(c) if c.kind() != std::io::ErrorKind::NotFound => {
                    format!("; remove the partial copy {} by hand ({c})", staging.display())
                }
                _ => String::new(),
            };
            return Err(anyhow::Error::new(e).context(format!(
                "cannot restore {}{note}; {} was not changed",
                backup.display(),
                target.display()
            )));
        }
    };
    sync_dir(&staging).with_context(|| format!("cannot sync the restored copy {} to disk", staging.display()))?;
    // Replaces an empty folder; fails if a store appeared there meanwhile.
    std::fs::rename(&staging, &target).with_context(|| {
        format!(
            "cannot move the restored copy {} to {} (did something write there meanwhile?)",
            staging.display(),
            target.display()
        )
    })?;
    std::fs::File::open(data_dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot sync {} to disk", data_dir.display()))?;
    println!("restored  {} into {}", backup.display(), target.display());
    println!("height    {}", tip.height);
    println!("block     {}", tip.block_hash.to_hex());
    // The signing record (node/src/signing.rs) lives beside the store, not in it: a restore
    // leaves it, and the node will not sign again where it may have signed before.
    let record = data_dir.join(curia_node::signing::SIGNING_FILE);
    match curia_node::signing::SigningRecord::open(data_dir).map(|r| r.high()) {
        Ok(Some(high)) => println!(
            "signing   floor height {} round {} step {} ({} kept): the node signs nothing new at or below it",
            high.height,
            high.round,
            high.step,
            record.display()
        ),
        _ => eprintln!(
            "WARNING: no signing record {} (was this data directory moved without it?). This copy holds the node's \
             vote log only up to when it was made (height {}): it has forgotten the votes the node sent after that, \
             and nothing now stops it from voting again where it already voted. Do not start this validator until \
             the other validators have committed past the height it had reached before it stopped (check with \
             `curia status --node URL` on another validator), then start it with `curia node run`.",
            record.display(),
            tip.height
        ),
    }
    Ok(0)
}

/// fsync every file in `dir`, then `dir` itself: the copies are on disk before the node uses them.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_file() {
            std::fs::File::open(&path)?.sync_all()?;
        }
    }
    std::fs::File::open(dir)?.sync_all()
}
