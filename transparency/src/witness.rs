//! The decisions of a witness, c2sp.org/tlog-witness `POST <prefix>/add-checkpoint`, without
//! I/O: the caller reads the body, holds the lock, reads and persists the state and supplies
//! the time (`curia witness run` does, in `cli/src/witness/`).
//!
//! Request body ([`AddCheckpoint::parse`]), at most [`MAX_REQUEST_BYTES`]:
//!
//! ```text
//! old <size>\n                 decimal, no leading zeros
//! <base64 hash>\n              zero to 63 consistency proof lines
//! \n                           an empty line
//! <checkpoint signed note>     origin, size, root, blank line, signature lines
//! ```
//!
//! Checks, in this order, and the answer when one fails ([`Witness::check`]):
//!
//! 1. the body, the note syntax and the checkpoint text parse: **400**;
//! 2. the checkpoint's origin is a configured log: otherwise **404**;
//! 3. the note's signatures by the log's trusted keys (signatures by other keys are ignored):
//!    a trusted key's signature that does not verify, or fewer than the log's `quorum` distinct
//!    trusted keys with valid signatures: **403**;
//! 4. the old size is at most the checkpoint's size: otherwise **400**;
//! 5. the old size equals the size of the latest checkpoint this witness cosigned for the log
//!    (0 if none): otherwise **409**, body the witness's size and a newline, content type
//!    `text/x.tlog.size`;
//! 6. consistency: a size-0 checkpoint has the empty tree's root; from old size 0 the proof is
//!    empty; at equal sizes the proof is empty and the roots are equal; otherwise the RFC 6962
//!    consistency proof from the stored root at the old size to the new root verifies: if not,
//!    **422**.
//!
//! If all pass, the caller persists the new size and root *before* answering 200 with the
//! witness's `cosignature/v1` line (timestamp not 0). Checking and persisting happen under one
//! lock, so two requests cannot both move the state from the same size. Since step 5 pins the
//! old size to the stored one and step 6 proves the new tree extends the stored tree, a witness
//! never cosigns two inconsistent trees and never a smaller one.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use curia_ledger::merkle::verify_consistency;
use curia_ledger::Hash;

use crate::checkpoint::{parse_decimal, Checkpoint};
use crate::cosignature;
use crate::note::{open, KeyKind, Note, SignatureLine, Signer, Verifier, MAX_NOTE_BYTES};
use crate::{Error, Result};

/// The most consistency proof lines a request may carry (the spec's limit).
pub const MAX_PROOF_LINES: usize = 63;
/// The largest request body: the old size line, 63 proof lines and the largest note.
pub const MAX_REQUEST_BYTES: usize = 32 + MAX_PROOF_LINES * 45 + MAX_NOTE_BYTES;
/// The content type of a 409 answer.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// A parsed `add-checkpoint` request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the checkpoint the client believes the witness last cosigned.
    pub old_size: u64,
    /// The consistency proof from `old_size` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The checkpoint, a signed note, as sent.
    pub checkpoint: Vec<u8>,
}

impl AddCheckpoint {
    /// Parses a request body (format in the module documentation).
    pub fn parse(body: &[u8]) -> Result<AddCheckpoint> {
        let err = |line, reason| Error::Request { line, reason };
        if body.len() > MAX_REQUEST_BYTES {
            return Err(err(0, "body is larger than the limit"));
        }
        let mut rest = body;
        let mut next_line = |line: usize| -> Result<&[u8]> {
            let i = rest.iter().position(|&b| b == b'\n').ok_or(err(line, "line does not end with a newline"))?;
            let (l, r) = (&rest[..i], &rest[i + 1..]);
            rest = r;
            Ok(l)
        };
        let first = next_line(1)?;
        let old = first.strip_prefix(b"old ").ok_or(err(1, "does not start with \"old \""))?;
        let old_size = std::str::from_utf8(old)
            .ok()
            .and_then(parse_decimal)
            .ok_or(err(1, "old size is not a decimal without leading zeros"))?;
        let mut proof = Vec::new();
        let mut line = 2;
        loop {
            let l = next_line(line)?;
            if l.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(err(line, "more than 63 consistency proof lines"));
            }
            let h = B64.decode(l).map_err(|_| err(line, "proof line is not canonical standard base64"))?;
            let h: [u8; 32] = h.try_into().map_err(|_| err(line, "proof line is not a 32-byte hash"))?;
            proof.push(Hash(h));
            line += 1;
        }
        if rest.is_empty() {
            return Err(err(line + 1, "no checkpoint after the empty line"));
        }
        Ok(AddCheckpoint { old_size, proof, checkpoint: rest.to_vec() })
    }

    /// The request body.
    pub fn to_body(&self) -> Vec<u8> {
        let mut out = format!("old {}\n", self.old_size).into_bytes();
        for h in &self.proof {
            out.extend_from_slice(B64.encode(h.0).as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
        out.extend_from_slice(&self.checkpoint);
        out
    }
}

/// One log a witness follows: its origin, its trusted keys and how many must sign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogPolicy {
    /// The checkpoint origin line.
    pub origin: String,
    /// The log's signing keys (for Curia: the validators' note keys).
    pub keys: Vec<Verifier>,
    /// How many distinct keys of `keys` must have signed a checkpoint.
    pub quorum: usize,
}

impl LogPolicy {
    /// A policy, checked: a non-empty origin without control characters, Ed25519 (type `0x01`)
    /// keys with distinct (name, key ID), and `1 <= quorum <= keys.len()`.
    pub fn new(origin: &str, keys: Vec<Verifier>, quorum: usize) -> Result<LogPolicy> {
        if origin.is_empty() || origin.chars().any(char::is_control) {
            return Err(Error::Config(format!("log origin {origin:?} is empty or holds a control character")));
        }
        if keys.iter().any(|k| k.kind != KeyKind::Ed25519) {
            return Err(Error::Config(format!("log {origin}: log keys must be Ed25519 note keys (type 0x01)")));
        }
        for (i, k) in keys.iter().enumerate() {
            if keys[..i].iter().any(|o| o.name == k.name && o.key_id == k.key_id) {
                return Err(Error::Config(format!("log {origin}: key {}+{:08x} is listed twice", k.name, k.key_id)));
            }
        }
        if quorum == 0 || quorum > keys.len() {
            return Err(Error::Config(format!("log {origin}: quorum {quorum} is not between 1 and {}", keys.len())));
        }
        Ok(LogPolicy { origin: origin.to_string(), keys, quorum })
    }
}

/// What a witness remembers of a log: the latest checkpoint it cosigned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogState {
    /// Its size.
    pub size: u64,
    /// Its root.
    pub root: Hash,
}

/// Why a request is refused, with its HTTP status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 400: the body, note or checkpoint is malformed, or the old size exceeds the new size.
    BadRequest(Error),
    /// 404: no configured log has this origin.
    UnknownOrigin(String),
    /// 403: the log's keys did not sign it (enough), or one of their signatures is invalid.
    Forbidden(Error),
    /// 409: the old size is not the witness's size for the log, which is `current`.
    Conflict {
        /// The size of the latest checkpoint the witness cosigned for the log (0 if none).
        current: u64,
    },
    /// 422: the checkpoint is not consistent with the witness's view (or the proof is bad).
    Unprocessable(Error),
}

impl Refusal {
    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::BadRequest(_) => 400,
            Refusal::Forbidden(_) => 403,
            Refusal::UnknownOrigin(_) => 404,
            Refusal::Conflict { .. } => 409,
            Refusal::Unprocessable(_) => 422,
        }
    }

    /// The response body: the size and a newline for 409, otherwise a one-line explanation.
    pub fn body(&self) -> String {
        match self {
            Refusal::Conflict { current } => format!("{current}\n"),
            Refusal::UnknownOrigin(o) => format!("unknown log origin {o:?}\n"),
            Refusal::BadRequest(e) | Refusal::Forbidden(e) | Refusal::Unprocessable(e) => format!("{e}\n"),
        }
    }

    /// The response content type.
    pub fn content_type(&self) -> &'static str {
        match self {
            Refusal::Conflict { .. } => SIZE_CONTENT_TYPE,
            _ => "text/plain; charset=utf-8",
        }
    }
}

/// A checkpoint that passed every check: what to persist and cosign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// Its note text (what the cosignature signs).
    pub text: String,
    /// The log's verified signature lines, to serve with the cosigned checkpoint.
    pub log_signatures: Vec<SignatureLine>,
}

impl Accepted {
    /// The state to persist.
    pub fn state(&self) -> LogState {
        LogState { size: self.checkpoint.size, root: self.checkpoint.root }
    }
}

/// A witness: its cosigning key and the logs it follows.
#[derive(Clone, Debug)]
pub struct Witness {
    signer: Signer,
    logs: Vec<LogPolicy>,
}

impl Witness {
    /// A witness; log origins must be distinct.
    pub fn new(signer: Signer, logs: Vec<LogPolicy>) -> Result<Witness> {
        for (i, l) in logs.iter().enumerate() {
            if logs[..i].iter().any(|o| o.origin == l.origin) {
                return Err(Error::Config(format!("log origin {:?} is configured twice", l.origin)));
            }
        }
        Ok(Witness { signer, logs })
    }

    /// The witness's cosignature verifier key (type `0x04`), what clients configure.
    pub fn verifier(&self) -> Verifier {
        self.signer.verifier(KeyKind::CosignatureV1)
    }

    /// The policy of the log with this origin.
    pub fn log(&self, origin: &str) -> Option<&LogPolicy> {
        self.logs.iter().find(|l| l.origin == origin)
    }

    /// The configured logs.
    pub fn logs(&self) -> &[LogPolicy] {
        &self.logs
    }

    /// The origin of a request's checkpoint, if the request and note parse (to find the state
    /// to load before [`Witness::check`]).
    pub fn origin_of(req: &AddCheckpoint) -> Result<String, Refusal> {
        let note = Note::parse(&req.checkpoint).map_err(Refusal::BadRequest)?;
        Ok(Checkpoint::parse(&note.text).map_err(Refusal::BadRequest)?.origin)
    }

    /// Runs every check of the module documentation on `req`, given the stored state of the
    /// checkpoint's log (`None` if this witness never cosigned for it).
    pub fn check(&self, req: &AddCheckpoint, current: Option<LogState>) -> Result<Accepted, Refusal> {
        let note = Note::parse(&req.checkpoint).map_err(Refusal::BadRequest)?;
        let checkpoint = Checkpoint::parse(&note.text).map_err(Refusal::BadRequest)?;
        let log = self.log(&checkpoint.origin).ok_or_else(|| Refusal::UnknownOrigin(checkpoint.origin.clone()))?;
        let opened = open(&req.checkpoint, &log.keys).map_err(Refusal::Forbidden)?;
        if opened.verified.len() < log.quorum {
            return Err(Refusal::Forbidden(Error::QuorumNotMet { have: opened.verified.len(), need: log.quorum }));
        }
        let (old, new) = (req.old_size, checkpoint.size);
        if old > new {
            return Err(Refusal::BadRequest(Error::Request {
                line: 1,
                reason: "old size exceeds the checkpoint's size",
            }));
        }
        let current = current.unwrap_or(LogState { size: 0, root: Hash::sha256(b"") });
        if old != current.size {
            return Err(Refusal::Conflict { current: current.size });
        }
        let unprocessable = |m: &str| Refusal::Unprocessable(Error::Proof(m.to_string()));
        if new == 0 && checkpoint.root != Hash::sha256(b"") {
            return Err(unprocessable("a checkpoint of size 0 must have the empty tree's root"));
        }
        if old == 0 {
            if !req.proof.is_empty() {
                return Err(unprocessable("the proof from old size 0 must be empty"));
            }
        } else {
            verify_consistency(old, new, &current.root, &checkpoint.root, &req.proof)
                .map_err(|e| Refusal::Unprocessable(Error::Proof(e.to_string())))?;
        }
        Ok(Accepted {
            checkpoint,
            text: opened.text,
            log_signatures: opened.verified.into_iter().map(|(s, _, _)| s).collect(),
        })
    }

    /// The witness's cosignature line on an accepted checkpoint at `timestamp` (seconds since
    /// the epoch, not 0).
    pub fn cosign(&self, accepted: &Accepted, timestamp: u64) -> Result<SignatureLine> {
        cosignature::cosign(&self.signer, &accepted.text, timestamp)
    }

    /// The checkpoint with the log's verified signatures and the witness's cosignature: what
    /// the monitoring endpoint serves.
    pub fn cosigned_note(accepted: &Accepted, cosignature: &SignatureLine) -> Vec<u8> {
        let mut signatures = accepted.log_signatures.clone();
        signatures.push(cosignature.clone());
        Note { text: accepted.text.clone(), signatures }.to_bytes()
    }
}
