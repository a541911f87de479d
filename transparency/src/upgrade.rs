//! Upgraded receipts: a receipt's `log` member (`docs/receipt-format.md` section 15.4), which
//! places the deposit in the chain's deposit log under a checkpoint that witnesses cosigned and
//! a Time-Stamping Authority stamped, and its offline verification under a witness policy.
//!
//! Rules implemented:
//!
//! - The `log` member is a JSON object with exactly the keys `proof` (a string, required),
//!   `tsa_token` (a string or `null`, optional) and `tsa_chain` (an array of strings, optional,
//!   at most [`MAX_TSA_CHAIN`]); any other key is refused. `tsa_token` and every `tsa_chain`
//!   entry are canonical standard base64 (padded) of DER, each at most
//!   [`rfc3161::MAX_TOKEN_BYTES`] / [`rfc3161::MAX_CERT_BYTES`] decoded.
//! - `proof` is a C2SP tlog-proof (`c2sp.org/tlog-proof@v1`) text ([`LogProof`]), at most
//!   [`MAX_PROOF_TEXT_BYTES`]: the header line, an optional `extra <base64>` line (opaque,
//!   ignored), `index <decimal>`, 0 to [`MAX_PROOF_HASHES`] lines each the canonical base64 of a
//!   32-byte hash (the RFC 9162 inclusion proof, bottom up), a blank line, and the signed
//!   checkpoint note (`docs/transparency.md` sections 2 and 3) up to the end.
//! - The deposit's leaf is `SHA-256(0x00 || deposit ID || commitment)` (receipt format 14.1),
//!   the commitment being a single deposit's 32 commitment bytes or a batch item's commitment.
//! - Verifying ([`verify`]) runs every check and reports each: `log_checkpoint` (the note
//!   satisfies the policy: a log key's signature if the policy lists logs, the witness quorum),
//!   `log_inclusion` (the leaf at `index` is under the checkpoint's root at its size), and, when
//!   the judge gives a TSA certificate, `log_tsa` (the token is present and verifies over the
//!   checkpoint's text, `docs/receipt-format.md` 15.2). A token without a certificate is not
//!   checked and not reported as a check.
//!
//! Pure: the caller reads the files and passes the TSA certificate and the policy.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use curia_ledger::hash::Hash;
use curia_ledger::merkle;
use serde_json::Value;

use crate::checkpoint::{parse_decimal, Checkpoint};
use crate::note::{Note, MAX_NOTE_BYTES};
use crate::policy::Policy;
use crate::rfc3161::{self, Stamp, TsaCertificate};
use crate::{Error, Result};

/// The first line of a tlog-proof.
pub const PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";
/// The most hashes in an inclusion proof (a log has at most 2^63 leaves).
pub const MAX_PROOF_HASHES: usize = 63;
/// The largest `extra` value accepted, decoded.
pub const MAX_EXTRA_BYTES: usize = 4096;
/// The largest tlog-proof text: header, extra, index and hash lines, blank line, note.
pub const MAX_PROOF_TEXT_BYTES: usize = MAX_NOTE_BYTES + 8 * 1024;
/// The most certificates in `tsa_chain`.
pub const MAX_TSA_CHAIN: usize = 8;

fn perr(line: usize, reason: &'static str) -> Error {
    Error::LogProof { line, reason }
}

/// A C2SP tlog-proof: the deposit's leaf index, its inclusion proof and the signed checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogProof {
    /// The optional opaque `extra` value (ignored by Curia).
    pub extra: Option<Vec<u8>>,
    /// The leaf's index in the log.
    pub index: u64,
    /// The RFC 9162 inclusion proof to the checkpoint's root, bottom up.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, exactly as signed and cosigned.
    pub note: Vec<u8>,
}

impl LogProof {
    /// Parses a tlog-proof text (rules in the module documentation); the note is checked for
    /// note and checkpoint syntax, not for signatures.
    pub fn parse(bytes: &[u8]) -> Result<LogProof> {
        if bytes.len() > MAX_PROOF_TEXT_BYTES {
            return Err(Error::LogProofTooLarge { len: bytes.len(), max: MAX_PROOF_TEXT_BYTES });
        }
        let mut rest = bytes;
        let mut line_no = 0usize;
        let mut next_line = |rest: &mut &[u8]| -> Result<(usize, String)> {
            line_no += 1;
            let end = rest.iter().position(|&b| b == b'\n').ok_or(perr(line_no, "ends before the blank line"))?;
            let line = std::str::from_utf8(&rest[..end]).map_err(|_| perr(line_no, "is not UTF-8"))?.to_string();
            *rest = &rest[end + 1..];
            Ok((line_no, line))
        };
        let (n, header) = next_line(&mut rest)?;
        if header != PROOF_HEADER {
            return Err(perr(n, "is not \"c2sp.org/tlog-proof@v1\""));
        }
        let (mut n, mut line) = next_line(&mut rest)?;
        let mut extra = None;
        if let Some(b64) = line.strip_prefix("extra ") {
            let v = B64.decode(b64).map_err(|_| perr(n, "extra is not canonical standard base64"))?;
            if v.len() > MAX_EXTRA_BYTES {
                return Err(perr(n, "extra is larger than 4096 bytes"));
            }
            extra = Some(v);
            (n, line) = next_line(&mut rest)?;
        }
        let index = line
            .strip_prefix("index ")
            .and_then(parse_decimal)
            .ok_or(perr(n, "is not `index <decimal without leading zeros>`"))?;
        let mut proof = Vec::new();
        loop {
            let (n, line) = next_line(&mut rest)?;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_HASHES {
                return Err(perr(n, "an inclusion proof has at most 63 hashes"));
            }
            let h = B64.decode(&line).map_err(|_| perr(n, "proof hash is not canonical standard base64"))?;
            let h: [u8; 32] = h.try_into().map_err(|_| perr(n, "proof hash is not 32 bytes"))?;
            proof.push(Hash(h));
        }
        let note = rest.to_vec();
        let parsed = Note::parse(&note)?;
        Checkpoint::parse(&parsed.text)?;
        Ok(LogProof { extra, index, proof, note })
    }

    /// The tlog-proof text.
    pub fn to_text(&self) -> Vec<u8> {
        let mut s = format!("{PROOF_HEADER}\n");
        if let Some(e) = &self.extra {
            s.push_str(&format!("extra {}\n", B64.encode(e)));
        }
        s.push_str(&format!("index {}\n", self.index));
        for h in &self.proof {
            s.push_str(&B64.encode(h.0));
            s.push('\n');
        }
        s.push('\n');
        let mut out = s.into_bytes();
        out.extend_from_slice(&self.note);
        out
    }
}

/// A receipt's `log` member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptLog {
    /// The tlog-proof.
    pub proof: LogProof,
    /// The DER `TimeStampToken` over the checkpoint's text, if carried.
    pub tsa_token: Option<Vec<u8>>,
    /// DER certificates toward the TSA's root, informative (never a trust anchor).
    pub tsa_chain: Vec<Vec<u8>>,
}

fn lerr(reason: impl Into<String>) -> Error {
    Error::ReceiptLog(reason.into())
}

fn b64_field(v: &Value, what: &str, max: usize) -> Result<Vec<u8>> {
    let s = v.as_str().ok_or_else(|| lerr(format!("{what} is not a string")))?;
    // Bound before decoding: base64 is 4/3 of the bytes.
    if s.len() > max.div_ceil(3) * 4 {
        return Err(lerr(format!("{what} is larger than {max} bytes")));
    }
    B64.decode(s).map_err(|_| lerr(format!("{what} is not canonical standard base64")))
}

impl ReceiptLog {
    /// Reads the `log` member of a receipt (rules in the module documentation).
    pub fn from_json(v: &Value) -> Result<ReceiptLog> {
        let obj = v.as_object().ok_or_else(|| lerr("is not a JSON object"))?;
        if let Some(k) = obj.keys().find(|k| !matches!(k.as_str(), "proof" | "tsa_token" | "tsa_chain")) {
            return Err(lerr(format!("unknown field `{k}`")));
        }
        let proof = obj.get("proof").ok_or_else(|| lerr("missing field `proof`"))?;
        let proof = proof.as_str().ok_or_else(|| lerr("proof is not a string"))?;
        let proof = LogProof::parse(proof.as_bytes())?;
        let tsa_token = match obj.get("tsa_token") {
            None | Some(Value::Null) => None,
            Some(t) => Some(b64_field(t, "tsa_token", rfc3161::MAX_TOKEN_BYTES)?),
        };
        let tsa_chain = match obj.get("tsa_chain") {
            None => Vec::new(),
            Some(Value::Array(a)) if a.len() <= MAX_TSA_CHAIN => a
                .iter()
                .enumerate()
                .map(|(i, c)| b64_field(c, &format!("tsa_chain[{i}]"), rfc3161::MAX_CERT_BYTES))
                .collect::<Result<_>>()?,
            Some(Value::Array(_)) => return Err(lerr(format!("tsa_chain has more than {MAX_TSA_CHAIN} certificates"))),
            Some(_) => return Err(lerr("tsa_chain is not an array")),
        };
        Ok(ReceiptLog { proof, tsa_token, tsa_chain })
    }

    /// The `log` member as JSON (`tsa_token` and `tsa_chain` only when present).
    pub fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("proof".into(), Value::String(String::from_utf8_lossy(&self.proof.to_text()).into_owned()));
        if let Some(t) = &self.tsa_token {
            m.insert("tsa_token".into(), Value::String(B64.encode(t)));
        }
        if !self.tsa_chain.is_empty() {
            m.insert(
                "tsa_chain".into(),
                Value::Array(self.tsa_chain.iter().map(|c| Value::String(B64.encode(c))).collect()),
            );
        }
        Value::Object(m)
    }

    /// The `log` member of a JSON receipt's bytes, if it has one. Bytes that are not a JSON
    /// object (a binary receipt, broken JSON) have none: the receipt's own reading reports them.
    pub fn of_receipt(bytes: &[u8]) -> Result<Option<ReceiptLog>> {
        let Ok(Value::Object(mut obj)) = serde_json::from_slice::<Value>(bytes) else {
            return Ok(None);
        };
        obj.remove("log").map(|v| ReceiptLog::from_json(&v)).transpose()
    }
}

/// A deposit's leaf hash in the deposit log: `SHA-256(0x00 || deposit ID || commitment)`.
pub fn deposit_leaf_hash(deposit_id: &Hash, commitment: &Hash) -> Hash {
    let mut data = [0u8; 64];
    data[..32].copy_from_slice(&deposit_id.0);
    data[32..].copy_from_slice(&commitment.0);
    merkle::leaf_hash(&data)
}

/// One check of an upgraded receipt.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LogCheck {
    /// `log_checkpoint`, `log_inclusion` or `log_tsa`.
    pub name: &'static str,
    /// Whether it passed.
    pub ok: bool,
    /// What was found (untrusted text from the receipt may appear: escape it to print).
    pub detail: String,
}

/// What verifying a receipt's `log` member found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogReport {
    /// Every check, in order.
    pub checks: Vec<LogCheck>,
    /// The checkpoint, if its text parsed.
    pub checkpoint: Option<Checkpoint>,
    /// The policy's log keys whose signatures verified.
    pub logs: Vec<String>,
    /// The witnesses whose cosignatures verified, with their timestamps (Unix seconds).
    pub witnesses: Vec<(String, u64)>,
    /// The verified time stamp, if a TSA certificate was given and the token verified.
    pub stamp: Option<Stamp>,
    /// Whether the receipt carries a token that was not checked (no TSA certificate given).
    pub unchecked_token: bool,
}

impl LogReport {
    /// Whether every check passed.
    pub fn is_valid(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }
    /// The first failed check.
    pub fn first_failure(&self) -> Option<&LogCheck> {
        self.checks.iter().find(|c| !c.ok)
    }
}

/// Verifies `log` for the deposit whose leaf hash is `leaf` under `policy`, and its time stamp
/// against `tsa` if given (rules in the module documentation). Every check runs.
pub fn verify(log: &ReceiptLog, leaf: &Hash, policy: &Policy, tsa: Option<&TsaCertificate>) -> LogReport {
    let mut checks = Vec::new();
    let mut rep = LogReport {
        checks: Vec::new(),
        checkpoint: None,
        logs: Vec::new(),
        witnesses: Vec::new(),
        stamp: None,
        unchecked_token: false,
    };
    // The note's syntax was checked when the proof was parsed.
    let text = Note::parse(&log.proof.note).map(|n| n.text).unwrap_or_default();
    let cp = Checkpoint::parse(&text).ok();
    match policy.check(&log.proof.note) {
        Ok(s) => {
            let cosigned = if s.witnesses.is_empty() {
                "no witness cosignature".to_string()
            } else {
                s.witnesses.iter().map(|(w, _)| w.as_str()).collect::<Vec<_>>().join(", ")
            };
            let logs = if s.logs.is_empty() { "no log key in the policy".to_string() } else { s.logs.join(", ") };
            checks.push(LogCheck {
                name: "log_checkpoint",
                ok: true,
                detail: format!(
                    "{} size {}: signed by {logs}; cosigned by {cosigned}",
                    s.checkpoint.origin, s.checkpoint.size
                ),
            });
            rep.logs = s.logs;
            rep.witnesses = s.witnesses;
        }
        Err(e) => checks.push(LogCheck { name: "log_checkpoint", ok: false, detail: e.to_string() }),
    }
    match &cp {
        Some(cp) => {
            let (index, size) = (log.proof.index, cp.size);
            let r = if index >= size {
                Err(format!("leaf index {index} is not below the checkpoint's size {size}"))
            } else {
                merkle::verify_inclusion(leaf, index, size, &log.proof.proof, &cp.root).map_err(|e| {
                    format!(
                        "the deposit's leaf is not at index {index} under the checkpoint's root at size {size}: {e}"
                    )
                })
            };
            checks.push(match r {
                Ok(()) => LogCheck { name: "log_inclusion", ok: true, detail: format!("leaf {index} of {size}") },
                Err(d) => LogCheck { name: "log_inclusion", ok: false, detail: d },
            });
        }
        None => checks.push(LogCheck {
            name: "log_inclusion",
            ok: false,
            detail: "the checkpoint's text is not a checkpoint".into(),
        }),
    }
    match (tsa, &log.tsa_token) {
        (Some(cert), Some(token)) => {
            match rfc3161::verify_token(token, &rfc3161::imprint(text.as_bytes()), cert, None) {
                Ok(s) => {
                    checks.push(LogCheck {
                        name: "log_tsa",
                        ok: true,
                        detail: format!("checkpoint stamped at {} ({})", s.gen_time, s.signature_algorithm),
                    });
                    rep.stamp = Some(s);
                }
                Err(e) => checks.push(LogCheck { name: "log_tsa", ok: false, detail: e.to_string() }),
            }
        }
        (Some(_), None) => checks.push(LogCheck {
            name: "log_tsa",
            ok: false,
            detail: "a TSA certificate was given but the receipt carries no time-stamp token".into(),
        }),
        (None, t) => rep.unchecked_token = t.is_some(),
    }
    rep.checks = checks;
    rep.checkpoint = cp;
    rep
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> LogProof {
        let note =
            b"curia.test/log\n2\nq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=\n\n\xe2\x80\x94 k AAAAAQAAAAAAAAAAAAA=\n";
        LogProof { extra: None, index: 1, proof: vec![Hash([7; 32])], note: note.to_vec() }
    }

    #[test]
    fn proof_text_round_trips() {
        let p = sample();
        let text = p.to_text();
        assert!(text.starts_with(b"c2sp.org/tlog-proof@v1\nindex 1\nBwcH"));
        assert_eq!(LogProof::parse(&text).unwrap(), p);
        let mut q = p.clone();
        q.extra = Some(b"hi".to_vec());
        q.proof.clear();
        assert_eq!(LogProof::parse(&q.to_text()).unwrap(), q);
    }

    #[test]
    fn malformed_proofs_have_their_reason() {
        let good = String::from_utf8(sample().to_text()).unwrap();
        let cases: Vec<(String, &str)> = vec![
            (good.replace("@v1", "@v2"), "line 1: is not"),
            (good.replace("index 1", "index 01"), "line 2: is not `index"),
            (good.replace("index 1", "index -1"), "line 2: is not `index"),
            (good.replace("index 1\n", "extra !!\nindex 1\n"), "line 2: extra is not canonical"),
            (good.replace("Bwc=", "Bwd="), "line 3: proof hash is not canonical"),
            (
                good.replace("BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=", "BwcH"),
                "line 3: proof hash is not 32 bytes",
            ),
            ("c2sp.org/tlog-proof@v1\nindex 1\n".to_string(), "line 3: ends before the blank line"),
            (good.replace("\n2\n", "\nx\n"), "checkpoint line 2"),
            (good.replace("\n\n\u{2014}", "\n\u{2014}"), "blank line"),
        ];
        for (text, want) in cases {
            let e = LogProof::parse(text.as_bytes()).unwrap_err().to_string();
            assert!(e.contains(want), "{want:?} in {e:?}");
        }
        let many = good.replace(
            "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",
            &"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n".repeat(64),
        );
        assert!(LogProof::parse(many.as_bytes()).unwrap_err().to_string().contains("at most 63"));
        let big = vec![b'a'; MAX_PROOF_TEXT_BYTES + 1];
        assert!(matches!(LogProof::parse(&big), Err(Error::LogProofTooLarge { .. })));
    }

    #[test]
    fn log_member_fields() {
        let p = String::from_utf8(sample().to_text()).unwrap();
        let ok = serde_json::json!({"proof": p, "tsa_token": "AAEC", "tsa_chain": ["AwQ="]});
        let l = ReceiptLog::from_json(&ok).unwrap();
        assert_eq!(l.tsa_token, Some(vec![0, 1, 2]));
        assert_eq!(l.tsa_chain, vec![vec![3, 4]]);
        assert_eq!(ReceiptLog::from_json(&l.to_json()).unwrap(), l);
        let null = serde_json::json!({"proof": p, "tsa_token": null});
        assert_eq!(ReceiptLog::from_json(&null).unwrap().tsa_token, None);
        for (v, want) in [
            (serde_json::json!([]), "not a JSON object"),
            (serde_json::json!({"proof": p, "other": 1}), "unknown field `other`"),
            (serde_json::json!({}), "missing field `proof`"),
            (serde_json::json!({"proof": 5}), "proof is not a string"),
            (serde_json::json!({"proof": p, "tsa_token": "AAE"}), "tsa_token is not canonical"),
            (serde_json::json!({"proof": p, "tsa_token": 1}), "tsa_token is not a string"),
            (serde_json::json!({"proof": p, "tsa_chain": "AA=="}), "tsa_chain is not an array"),
            (serde_json::json!({"proof": p, "tsa_chain": vec!["AA=="; 9]}), "more than 8"),
            (serde_json::json!({"proof": p, "tsa_token": "A".repeat(90_000)}), "larger than 65536"),
        ] {
            let e = ReceiptLog::from_json(&v).unwrap_err().to_string();
            assert!(e.contains(want), "{want:?} in {e:?}");
        }
        // A receipt's bytes: the member, or none.
        let receipt = serde_json::json!({"format": "curia-receipt", "log": ok}).to_string();
        assert_eq!(ReceiptLog::of_receipt(receipt.as_bytes()).unwrap(), Some(l));
        assert_eq!(ReceiptLog::of_receipt(b"{\"format\": 1}").unwrap(), None);
        assert_eq!(ReceiptLog::of_receipt(b"CURIARCT\x00").unwrap(), None);
    }
}
