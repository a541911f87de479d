//! TLS for `https://` node URLs (rustls, through ureq).
//!
//! Rules:
//! - `http://` URLs are plain HTTP, as before; `https://` URLs use TLS 1.2 or 1.3 (rustls with
//!   the ring provider), and the server's certificate must be valid for the URL's host name.
//! - With a CA file (PEM, one or more `CERTIFICATE` blocks), the client trusts those CAs and
//!   nothing else: a node of a closed network, whose CA the network's operators made (as
//!   `curia testnet init --tls` does), is reached without trusting the public web PKI. Without
//!   one, it trusts the public roots compiled into the client (`webpki-roots`).
//! - A CA file with an `http://` URL is refused: it would suggest the traffic is protected when it
//!   is not.
//! - The CA file is read bounded ([`MAX_CA_FILE`]); a file with no certificate, or one that does
//!   not parse, is an [`Error::Tls`].

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::Error;

/// Largest CA file read.
pub const MAX_CA_FILE: u64 = 1 << 20;

/// A rustls client configuration that trusts only the CAs of the PEM file at `path`.
pub fn config_from_ca_file(path: &Path) -> Result<Arc<rustls::ClientConfig>, Error> {
    use std::io::Read;
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    let mut pem = Vec::new();
    std::fs::File::open(path).map_err(io)?.take(MAX_CA_FILE + 1).read_to_end(&mut pem).map_err(io)?;
    if pem.len() as u64 > MAX_CA_FILE {
        return Err(Error::Tls(format!("CA file {} is over {MAX_CA_FILE} bytes", path.display())));
    }
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| Error::Tls(format!("CA file {}: {e}", path.display())))?;
        roots.add(cert).map_err(|e| Error::Tls(format!("CA file {}: {e}", path.display())))?;
    }
    if roots.is_empty() {
        return Err(Error::Tls(format!("CA file {} holds no PEM CERTIFICATE", path.display())));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
