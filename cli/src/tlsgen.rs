//! `curia testnet init --tls`: a local certificate authority and one server certificate per node.
//!
//! Rules:
//! - The CA is made fresh for each testnet; its certificate is written to [`CA_FILE`] under the
//!   testnet folder (what clients pass as `--ca-file`), and its private key is never written, so
//!   nothing can issue more certificates for this testnet once `init` has finished.
//! - Each node gets `NODE/tls/node.crt` (its certificate, then the CA's) and `NODE/tls/node.key`
//!   (PKCS#8, mode 0600), valid for `127.0.0.1` and `localhost` only, for server authentication.
//! - This is for local test networks. A production node uses certificates from the operator's own
//!   CA (see `docs/operator-guide.md`, "TLS").

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use curia_node::config::TlsSection;
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose};

/// Where the CA certificate goes, relative to the testnet folder.
pub const CA_FILE: &str = "tls/ca.pem";

/// A CA living only in memory.
pub struct LocalCa {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl LocalCa {
    /// A new CA with a fresh key.
    pub fn new() -> Result<LocalCa> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.distinguished_name.push(DnType::CommonName, "Curia testnet local CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().context("generating the CA key")?;
        let cert = params.self_signed(&key).context("signing the CA certificate")?;
        Ok(LocalCa { cert, key })
    }

    /// Write the CA certificate (PEM) to `path`.
    pub fn write_cert(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.cert.pem()).with_context(|| format!("writing {}", path.display()))
    }

    /// Issue a certificate for node `name` into `dir` (`node.crt`, `node.key`); returns the
    /// `[api.tls]` / `[ops.tls]` section naming them relative to the node's folder.
    pub fn issue(&self, name: &str, dir: &Path, force: bool) -> Result<TlsSection> {
        std::fs::create_dir_all(dir)?;
        let mut params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])?;
        params.distinguished_name.push(DnType::CommonName, format!("curia testnet node {name}"));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate().context("generating a node's TLS key")?;
        let cert = params.signed_by(&key, &self.cert, &self.key).context("signing a node certificate")?;
        let crt = dir.join("node.crt");
        std::fs::write(&crt, cert.pem() + &self.cert.pem()).with_context(|| format!("writing {}", crt.display()))?;
        write_private(&dir.join("node.key"), &key.serialize_pem(), force)?;
        Ok(TlsSection { cert_chain: PathBuf::from("tls/node.crt"), key: PathBuf::from("tls/node.key") })
    }
}

/// Write a file readable by its owner only (the node's helper; synced).
fn write_private(path: &Path, text: &str, force: bool) -> Result<()> {
    curia_node::config::write_private(path, text, force).with_context(|| format!("writing {}", path.display()))
}
