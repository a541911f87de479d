//! TLS for the API and ops listeners (rustls, ring provider).
//!
//! Rules:
//! - A listener with a `tls` table in `node.toml` (`cert_chain`, `key`: PEM files) speaks only
//!   TLS (1.2 and 1.3, no client certificates). The files are read once at start; the node
//!   refuses to start with an error naming the file when one is missing, unreadable, larger than
//!   [`crate::limits::MAX_CONFIG_FILE`], holds no certificate or no private key, or when the key
//!   does not match the chain's first certificate.
//! - The handshake runs inside the listener's connection caps and deadline ([`crate::http`]):
//!   a connection holds its place from accept, and must finish its handshake within
//!   [`crate::limits::TLS_HANDSHAKE_TIMEOUT`]; then its request head gets the usual
//!   [`crate::limits::HEADER_READ_TIMEOUT`].
//! - A client that speaks plain HTTP to a TLS port (its first byte is not a TLS handshake
//!   record) gets one plain-text `400` JSON answer with code `tls_required` and the connection
//!   closes; other handshake failures just close it. Both are counted in
//!   `curia_refused_connections_total{reason}` (`tls_required`, `tls_handshake_failed`,
//!   `tls_handshake_timeout`).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

use crate::config::TlsSection;
use crate::NodeError;

/// A TLS server configuration for one listener.
pub type TlsConfig = Arc<ServerConfig>;

/// The first byte of a TLS record carrying a handshake message (RFC 8446 5.1: `handshake(22)`).
pub const TLS_HANDSHAKE_RECORD: u8 = 0x16;

fn read_pem(path: &Path, what: &str) -> Result<Vec<u8>, NodeError> {
    let bad = |m: String| NodeError::Config(format!("TLS {what} {}: {m}", path.display()));
    let meta = std::fs::metadata(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    if meta.len() > crate::limits::MAX_CONFIG_FILE {
        return Err(bad(format!("larger than {} bytes", crate::limits::MAX_CONFIG_FILE)));
    }
    std::fs::read(path).map_err(|e| bad(format!("cannot read: {e}")))
}

/// Load `section`'s certificate chain and key into a server configuration (`listener` names the
/// listener in errors), or say which file is wrong and why.
pub fn server_config(listener: &str, section: &TlsSection) -> Result<TlsConfig, NodeError> {
    let chain_pem = read_pem(&section.cert_chain, "certificate chain")?;
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(&chain_pem).collect::<Result<_, _>>().map_err(|e| {
            NodeError::Config(format!("TLS certificate chain {}: not PEM: {e}", section.cert_chain.display()))
        })?;
    if certs.is_empty() {
        return Err(NodeError::Config(format!(
            "TLS certificate chain {}: holds no CERTIFICATE block",
            section.cert_chain.display()
        )));
    }
    let key_pem = read_pem(&section.key, "key")?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        NodeError::Config(format!(
            "TLS key {}: no PEM private key (PKCS#8, PKCS#1 or SEC1): {e}",
            section.key.display()
        ))
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| NodeError::Config(format!("[{listener}.tls]: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            NodeError::Config(format!(
                "[{listener}.tls]: key {} does not fit certificate chain {}: {e}",
                section.key.display(),
                section.cert_chain.display()
            ))
        })?;
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn refuses_missing_empty_and_mismatched_files() {
        let tmp = tempfile::Builder::new().prefix("curia-tls-unit-").tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let a = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let b = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let cert_a = write(&dir, "a.crt", &a.cert.pem());
        let key_a = write(&dir, "a.key", &a.key_pair.serialize_pem());
        let key_b = write(&dir, "b.key", &b.key_pair.serialize_pem());
        let empty = write(&dir, "empty.pem", "");
        let sec = |c: &Path, k: &Path| TlsSection { cert_chain: c.into(), key: k.into() };

        assert!(server_config("api", &sec(&cert_a, &key_a)).is_ok());
        let err = |c: &Path, k: &Path| server_config("api", &sec(c, k)).unwrap_err().to_string();
        let e = err(&dir.join("missing.crt"), &key_a);
        assert!(e.contains("missing.crt") && e.contains("cannot read"), "{e}");
        let e = err(&empty, &key_a);
        assert!(e.contains("no CERTIFICATE"), "{e}");
        let e = err(&cert_a, &empty);
        assert!(e.contains("no PEM private key"), "{e}");
        let e = err(&cert_a, &key_b);
        assert!(e.contains("does not fit"), "{e}");
    }
}
