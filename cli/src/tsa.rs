//! `curia tsa stamp` and `curia tsa verify`: RFC 3161 time stamps over a checkpoint's text
//! (`docs/receipt-format.md` section 15).
//!
//! - The stamped bytes are the checkpoint note's *text*: from a signed note (a file with a blank
//!   line before signature lines) the text before that blank line, otherwise the whole file;
//!   either way it must parse as a checkpoint, and is at most a note's size (64 KiB).
//! - `stamp` POSTs a `TimeStampReq` (SHA-256 imprint, random 64-bit nonce, certReq) as
//!   `application/timestamp-query` (RFC 3161 section 3.4), reads at most 64 KiB of answer within
//!   30 s, checks the status, and writes the `TimeStampResp` DER as received (`openssl ts
//!   -verify -in` reads it). With `--tsa-cert` it also verifies the token, nonce included.
//! - `verify` reads a response or a bare token and checks it against the text and the TSA
//!   certificate; prints genTime. Exit 0 valid, 1 invalid, 2 unusable input.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use curia_transparency::checkpoint::Checkpoint;
use curia_transparency::note::{Note, MAX_NOTE_BYTES};
use curia_transparency::rfc3161::{self, TsaCertificate, MAX_CERT_BYTES, MAX_TOKEN_BYTES};
use curia_verifier::escape::terminal;

/// `curia tsa ...`.
#[derive(Subcommand)]
pub enum TsaCmd {
    /// Ask a Time-Stamping Authority (RFC 3161, HTTP) to stamp a checkpoint's text.
    Stamp {
        /// The TSA's URL (http:// or https://).
        #[arg(long)]
        url: String,
        /// The checkpoint: its text, or the signed note (only the text is stamped).
        #[arg(long = "in")]
        input: PathBuf,
        /// Where to write the TSA's response (DER, `.tsr`).
        #[arg(long)]
        out: PathBuf,
        /// Verify the token against this TSA certificate (PEM or DER) before writing it.
        #[arg(long)]
        tsa_cert: Option<PathBuf>,
    },
    /// Verify a time stamp over a checkpoint's text against the TSA certificate; prints genTime.
    Verify {
        /// The TSA's response (`.tsr`) or the bare token (DER).
        #[arg(long)]
        token: PathBuf,
        /// The checkpoint: its text, or the signed note.
        #[arg(long = "in")]
        input: PathBuf,
        /// The TSA certificate the judge trusts (PEM or DER).
        #[arg(long)]
        tsa_cert: PathBuf,
    },
}

/// Runs a `curia tsa` command; returns the exit code.
pub fn run(cmd: TsaCmd) -> Result<u8> {
    match cmd {
        TsaCmd::Stamp { url, input, out, tsa_cert } => stamp(&url, &input, &out, tsa_cert.as_deref()),
        TsaCmd::Verify { token, input, tsa_cert } => verify(&token, &input, &tsa_cert),
    }
}

fn read_bounded(path: &Path, max: usize, what: &str) -> Result<Vec<u8>> {
    let f = std::fs::File::open(path).with_context(|| format!("cannot open {what} {}", path.display()))?;
    let mut buf = Vec::new();
    f.take(max as u64 + 1).read_to_end(&mut buf).with_context(|| format!("cannot read {what}"))?;
    if buf.len() > max {
        bail!("{what} {} is larger than {max} bytes", path.display());
    }
    Ok(buf)
}

/// The stamped bytes: the checkpoint note's text (rules in the module documentation).
pub fn checkpoint_text(path: &Path) -> Result<String> {
    let bytes = read_bounded(path, MAX_NOTE_BYTES, "checkpoint")?;
    let text = if bytes.windows(2).any(|w| w == b"\n\n") {
        Note::parse(&bytes).context("checkpoint note")?.text
    } else {
        String::from_utf8(bytes).context("checkpoint text is not UTF-8")?
    };
    Checkpoint::parse(&text).context("checkpoint text")?;
    Ok(text)
}

fn load_cert(path: &Path) -> Result<TsaCertificate> {
    let bytes = read_bounded(path, MAX_CERT_BYTES, "TSA certificate")?;
    TsaCertificate::parse(&bytes).with_context(|| format!("TSA certificate {}", path.display()))
}

fn stamp(url: &str, input: &Path, out: &Path, tsa_cert: Option<&Path>) -> Result<u8> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        bail!("--url must start with http:// or https://");
    }
    let text = checkpoint_text(input)?;
    let cert = tsa_cert.map(load_cert).transpose()?;
    let mut nonce = [0u8; 8];
    getrandom::getrandom(&mut nonce).map_err(|e| anyhow::anyhow!("no randomness from the operating system: {e}"))?;
    nonce[0] |= 0x01; // never zero
    let req = rfc3161::StampRequest::new(text.as_bytes(), &nonce)?;
    let resp = match ureq::post(url)
        .timeout(Duration::from_secs(30))
        .set("Content-Type", rfc3161::QUERY_CONTENT_TYPE)
        .send_bytes(&req.der)
    {
        Ok(r) => r,
        Err(ureq::Error::Status(code, _)) => bail!("the TSA answered HTTP {code}"),
        Err(e) => bail!("cannot reach the TSA: {e}"),
    };
    let mut body = Vec::new();
    resp.into_reader().take(MAX_TOKEN_BYTES as u64 + 1).read_to_end(&mut body).context("reading the TSA's answer")?;
    if body.len() > MAX_TOKEN_BYTES {
        bail!("the TSA's answer is larger than {MAX_TOKEN_BYTES} bytes");
    }
    if let (_, Some(s)) = rfc3161::accept_response(&body, &req, cert.as_ref())? {
        println!("genTime: {}", s.gen_time);
    }
    std::fs::write(out, &body).with_context(|| format!("cannot write {}", out.display()))?;
    eprintln!("time stamp written to {} ({} bytes)", out.display(), body.len());
    Ok(0)
}

fn verify(token: &Path, input: &Path, tsa_cert: &Path) -> Result<u8> {
    let text = checkpoint_text(input)?;
    let cert = load_cert(tsa_cert)?;
    let bytes = read_bounded(token, MAX_TOKEN_BYTES, "time stamp")?;
    let checked = rfc3161::token_from_response_or_token(&bytes)
        .and_then(|t| rfc3161::verify_token(&t, &rfc3161::imprint(text.as_bytes()), &cert, None));
    match checked {
        Ok(s) => {
            println!("genTime: {}", s.gen_time);
            if let Some(a) = s.accuracy {
                println!("accuracy: {}s {}ms {}us", a.seconds, a.millis, a.micros);
            }
            println!("tsa: {}", terminal(&cert.subject()));
            println!("signature: {} ({})", s.signature_algorithm, s.cert_id);
            println!("policy: {}", s.policy);
            println!("VALID");
            Ok(0)
        }
        Err(e) => {
            println!("INVALID: {}", terminal(&e.to_string()));
            Ok(1)
        }
    }
}
