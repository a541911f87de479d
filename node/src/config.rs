//! The node's TOML configuration and key files.
//!
//! Every path in the configuration is relative to the configuration file's folder. Unknown keys
//! are refused, so a typo is an error rather than a silent default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use curia_ledger::crypto::SecretKey;
use serde::{Deserialize, Serialize};

use crate::NodeError;

/// The whole configuration file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// This node.
    pub node: NodeSection,
    /// Validator network.
    pub network: NetworkSection,
    /// Client API.
    pub api: ListenSection,
    /// Health, metrics and operator actions.
    pub ops: OpsSection,
    /// Consensus timeouts.
    #[serde(default)]
    pub consensus: ConsensusSection,
    /// Mempool limits.
    #[serde(default)]
    pub mempool: MempoolSection,
    /// Checkpoints of the deposit log and the witnesses they are pushed to.
    #[serde(default)]
    pub checkpoints: CheckpointSection,
}

/// `[checkpoints]`: when validators sign checkpoints of the deposit log
/// ([`crate::checkpoints`]), and the witnesses each complete checkpoint is pushed to.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckpointSection {
    /// A checkpoint after every block whose height is a multiple of this (1 to 1,000,000).
    pub every_blocks: u64,
    /// Also one after the first block whose header time enters a new period of this many
    /// seconds since the epoch (1 to 1,000,000).
    pub every_secs: u64,
    /// A Time-Stamping Authority (RFC 3161 over HTTP, `http://HOST:PORT[/PATH]`; https is not
    /// supported) asked to stamp each complete checkpoint's text; needs `tsa_cert`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsa_url: Option<String>,
    /// The TSA's certificate (PEM or DER): each token is verified against it before it is stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsa_cert: Option<PathBuf>,
    /// Witnesses (C2SP tlog-witness) to push complete checkpoints to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub witness: Vec<WitnessSection>,
}

impl Default for CheckpointSection {
    fn default() -> Self {
        CheckpointSection {
            every_blocks: crate::limits::CHECKPOINT_EVERY_BLOCKS,
            every_secs: crate::limits::CHECKPOINT_EVERY_SECS,
            tsa_url: None,
            tsa_cert: None,
            witness: Vec::new(),
        }
    }
}

/// `[[checkpoints.witness]]`: one witness.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessSection {
    /// Its base URL, `http://HOST:PORT[/PATH]` (the node posts to `URL/add-checkpoint`).
    pub url: String,
    /// Its cosignature verifier key (`name+id+base64`, type `0x04`).
    pub vkey: String,
}

impl CheckpointSection {
    /// Check the values: periods in range, at most [`crate::limits::MAX_WITNESSES`] witnesses,
    /// each with a usable URL and a cosignature vkey.
    pub fn check(&self) -> Result<(), NodeError> {
        let max = crate::limits::CHECKPOINT_MAX_PERIOD;
        for (name, v) in [("every_blocks", self.every_blocks), ("every_secs", self.every_secs)] {
            if v == 0 || v > max {
                return Err(NodeError::Config(format!("[checkpoints] {name} must be from 1 to {max}, not {v}")));
            }
        }
        if self.witness.len() > crate::limits::MAX_WITNESSES {
            return Err(NodeError::Config(format!(
                "[checkpoints] lists {} witnesses, at most {}",
                self.witness.len(),
                crate::limits::MAX_WITNESSES
            )));
        }
        for w in &self.witness {
            crate::checkpoints::WitnessTarget::new(w)?;
        }
        self.tsa()?;
        Ok(())
    }

    /// The configured TSA (`tsa_url` and `tsa_cert`, both or neither), with its certificate read
    /// and checked (at most 32 KiB, PEM or DER, extended key usage timeStamping alone, critical).
    pub fn tsa(&self) -> Result<Option<crate::checkpoints::TsaTarget>, NodeError> {
        match (&self.tsa_url, &self.tsa_cert) {
            (None, None) => Ok(None),
            (Some(_), None) => Err(NodeError::Config(
                "[checkpoints] tsa_url needs tsa_cert (the TSA's certificate, to check each token before storing it)"
                    .into(),
            )),
            (None, Some(_)) => Err(NodeError::Config("[checkpoints] tsa_cert is given without tsa_url".into())),
            (Some(url), Some(cert)) => crate::checkpoints::TsaTarget::new(url, cert).map(Some),
        }
    }
}

/// `[node]`
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSection {
    /// Name (for logs and status).
    pub name: String,
    /// Store directory.
    pub data_dir: PathBuf,
    /// Genesis JSON.
    pub genesis: PathBuf,
    /// Validator key file.
    pub key: PathBuf,
    /// The next key file of a key rotation (default: the key file's path with `.next`
    /// appended); see [`crate::rotation`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_key: Option<PathBuf>,
}

/// `[network]`
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSection {
    /// libp2p listen address, e.g. `/ip4/127.0.0.1/tcp/27000`.
    pub listen: String,
    /// Keys (hex) of observers allowed to connect besides the validators.
    #[serde(default)]
    pub observers: Vec<String>,
    /// Where to dial validators, by genesis name, instead of the genesis address: a multiaddr
    /// (`/ip4/…/tcp/P`, `/dns/HOST/tcp/P`) or `HOST:PORT` ([`crate::net::parse_peer_address`]).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub addresses: std::collections::BTreeMap<String, String>,
}

/// A listener.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenSection {
    /// Address, e.g. `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// Serve TLS instead of plain HTTP ([`crate::tls`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsSection>,
}

impl ListenSection {
    /// A plain-HTTP listener on `listen`.
    pub fn new(listen: SocketAddr) -> ListenSection {
        ListenSection { listen, tls: None }
    }
}

/// `[api.tls]`, `[ops.tls]`: the listener's certificate and key (see [`crate::tls`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// PEM file: the server certificate first, then any intermediate CA certificates.
    pub cert_chain: PathBuf,
    /// PEM file: the certificate's private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// `[ops]`: the operator's listener.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpsSection {
    /// Address, e.g. `127.0.0.1:9090`.
    pub listen: SocketAddr,
    /// File holding the token that write actions (`POST /admin/backup`) need, sent as
    /// `Authorization: Bearer TOKEN` ([`read_token`]). Without it those actions are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    /// Backups kept in `DATA_DIR/backups`: after a backup, older ones beyond this count are
    /// deleted.
    #[serde(default = "default_backup_keep")]
    pub backup_keep: usize,
    /// Least time between two backups, in seconds; a request sooner gets 429.
    #[serde(default = "default_backup_min_interval_s")]
    pub backup_min_interval_s: u64,
    /// Serve TLS instead of plain HTTP ([`crate::tls`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsSection>,
}

fn default_backup_keep() -> usize {
    crate::limits::BACKUP_KEEP
}

fn default_backup_min_interval_s() -> u64 {
    crate::limits::BACKUP_MIN_INTERVAL_S
}

impl OpsSection {
    /// An ops listener on `listen` with the default backup policy and no token.
    pub fn new(listen: SocketAddr) -> OpsSection {
        OpsSection {
            listen,
            token_file: None,
            backup_keep: default_backup_keep(),
            backup_min_interval_s: default_backup_min_interval_s(),
            tls: None,
        }
    }

    /// Check the values: at least one backup is kept.
    pub fn check(&self) -> Result<(), NodeError> {
        if self.backup_keep == 0 {
            return Err(NodeError::Config("[ops] backup_keep must be at least 1".into()));
        }
        Ok(())
    }
}

/// `[consensus]` timeouts and block pacing, in milliseconds.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsensusSection {
    /// Propose step, round 0.
    pub propose_ms: u64,
    /// Prevote step, round 0.
    pub prevote_ms: u64,
    /// Precommit step, round 0.
    pub precommit_ms: u64,
    /// Added per round.
    pub delta_ms: u64,
    /// Least time from a commit to the next proposal when transactions are waiting.
    pub block_interval_ms: u64,
    /// An empty block is proposed after this long with nothing waiting.
    pub empty_block_ms: u64,
    /// At start, the longest this validator holds its signatures while it learns the peers'
    /// heights and catches up (`crate::peer_gate`).
    pub peer_wait_ms: u64,
}

impl Default for ConsensusSection {
    fn default() -> Self {
        let p = crate::driver::Pacing::default();
        ConsensusSection {
            propose_ms: 3000,
            prevote_ms: 1000,
            precommit_ms: 1000,
            delta_ms: 500,
            block_interval_ms: p.block_interval.as_millis() as u64,
            empty_block_ms: p.empty_block_after.as_millis() as u64,
            peer_wait_ms: 10_000,
        }
    }
}

impl ConsensusSection {
    /// Check that the values can work together: a proposer must build its block well before
    /// the other validators' propose timeout.
    pub fn check(&self) -> Result<(), NodeError> {
        let bad = |m: String| Err(NodeError::Config(format!("[consensus] {m}")));
        if self.propose_ms == 0 || self.prevote_ms == 0 || self.precommit_ms == 0 {
            return bad("timeouts must be positive".into());
        }
        if self.empty_block_ms >= self.propose_ms || self.block_interval_ms >= self.propose_ms {
            return bad(format!(
                "empty_block_ms ({}) and block_interval_ms ({}) must be below propose_ms ({})",
                self.empty_block_ms, self.block_interval_ms, self.propose_ms
            ));
        }
        Ok(())
    }
}

/// `[mempool]`
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MempoolSection {
    /// Most pending transactions.
    pub max_txs: usize,
    /// Most pending bytes.
    pub max_bytes: usize,
}

impl Default for MempoolSection {
    fn default() -> Self {
        let d = crate::mempool::MempoolConfig::default();
        MempoolSection { max_txs: d.max_txs, max_bytes: d.max_bytes }
    }
}

/// Largest configuration or key file read.
const MAX_FILE: u64 = crate::limits::MAX_CONFIG_FILE;

fn read_small(path: &Path, what: &str) -> Result<Vec<u8>, NodeError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| NodeError::Config(format!("cannot read {what} {}: {e}", path.display())))?;
    if meta.len() > MAX_FILE {
        return Err(NodeError::Config(format!("{what} {} is larger than {MAX_FILE} bytes", path.display())));
    }
    std::fs::read(path).map_err(|e| NodeError::Config(format!("cannot read {what} {}: {e}", path.display())))
}

impl NodeConfig {
    /// Read a configuration file; relative paths become relative to its folder.
    pub fn load(path: &Path) -> Result<NodeConfig, NodeError> {
        let text = String::from_utf8(read_small(path, "config")?)
            .map_err(|_| NodeError::Config(format!("config {} is not UTF-8", path.display())))?;
        let mut c: NodeConfig =
            toml::from_str(&text).map_err(|e| NodeError::Config(format!("config {}: {e}", path.display())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let tls = c.api.tls.iter_mut().chain(c.ops.tls.iter_mut()).flat_map(|t| [&mut t.cert_chain, &mut t.key]);
        for p in [&mut c.node.data_dir, &mut c.node.genesis, &mut c.node.key]
            .into_iter()
            .chain(c.node.next_key.as_mut())
            .chain(c.ops.token_file.as_mut())
            .chain(c.checkpoints.tsa_cert.as_mut())
            .chain(tls)
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(c)
    }

    /// TOML text.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("config serializes")
    }
}

/// Read an ops token file: one line of 16 to 1024 characters of `A-Z a-z 0-9 - . _ ~ + / =` (an
/// RFC 6750 bearer token), surrounding white space ignored.
pub fn read_token(path: &Path) -> Result<String, NodeError> {
    let bad = |m: String| NodeError::Config(format!("ops token file {}: {m}", path.display()));
    let text = String::from_utf8(read_small(path, "ops token file")?).map_err(|_| bad("not UTF-8".into()))?;
    let token = text.trim();
    let min = crate::limits::MIN_OPS_TOKEN;
    if token.len() < min || token.len() > 1024 {
        return Err(bad(format!("the token must be {min} to 1024 characters, not {}", token.len())));
    }
    if !token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b)) {
        return Err(bad("the token may hold only A-Z a-z 0-9 - . _ ~ + / =".into()));
    }
    Ok(token.to_owned())
}

/// Write an ops token file (mode 0600), refusing to overwrite unless `force`.
pub fn write_token(path: &Path, token: &str, force: bool) -> Result<(), NodeError> {
    write_private(path, &format!("{token}\n"), force)
        .map_err(|e| NodeError::Config(format!("cannot write ops token {}: {e}", path.display())))
}

/// Write `text` to a new file readable only by its owner and sync it (unless `force`, refuse an
/// existing one).
pub fn write_private(path: &Path, text: &str, force: bool) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true);
    if force {
        opts.create(true).truncate(true);
    } else {
        opts.create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

/// Write `key` to `path` (the format of [`curia_api_types::key_file`]) with mode 0600, refusing
/// to overwrite unless `force`.
pub fn write_key(path: &Path, key: &SecretKey, force: bool) -> Result<(), NodeError> {
    write_private(path, &curia_api_types::key_file::key_file_text(key), force)
        .map_err(|e| NodeError::Config(format!("cannot write key {}: {e}", path.display())))
}

/// Read a key file, checking that its public key matches its secret.
pub fn read_key(path: &Path) -> Result<SecretKey, NodeError> {
    curia_api_types::key_file::parse_key_file(&read_small(path, "key")?)
        .map_err(|m| NodeError::Config(format!("key file {}: {m}", path.display())))
}
