//! Signing with a client key for one chain: deposit transactions (as a platform) and signed read
//! requests (as a judge, auditor or court validator).
//!
//! Rules:
//! - A transaction's fields are checked with the ledger's own rules
//!   ([`curia_ledger::tx::TxBody::check_fields`]) before it is signed: a label with a control
//!   character, an empty label or a malformed media type is refused here as
//!   [`Error::InvalidInput`], with the ledger's message, and nothing is sent.
//! - Every transaction gets a fresh random 64-bit nonce (the OS's randomness), so two deposits
//!   of the same evidence are two transactions.
//! - A salted deposit's salt is 32 random bytes; the caller must keep it (the receipt reveals
//!   the commitment only, and the judge needs the salt).
//! - A signed read covers the chain, method, request target (path and query) and a timestamp
//!   (`docs/api.md`, "Signed reads"); [`Signer::read_headers`] signs afresh each time.
//! - Key files are read in the format `curia keygen` writes ([`read_key_file`]), bounded.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use curia_ledger::access::{sign_read_request, HEADER_READER, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use curia_ledger::crypto::{PublicKey, SecretKey};
use curia_ledger::tx::{batch_body, salted_commitment, Commitment, Deposit, Payload, Transaction, TxBody};
use curia_ledger::Hash;

use crate::Error;

/// The `type` of a key file.
pub use curia_api_types::key_file::KEY_FILE_TYPE;
/// Largest key file read.
const MAX_KEY_FILE: u64 = 64 << 10;

/// Read a key file as `curia keygen` writes it:
/// `{"type": "curia-ed25519-secret-key", "public": HEX, "secret": HEX}`.
pub fn read_key_file(path: &Path) -> Result<SecretKey, Error> {
    use std::io::Read;
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    let mut bytes = Vec::new();
    std::fs::File::open(path).map_err(io)?.take(MAX_KEY_FILE + 1).read_to_end(&mut bytes).map_err(io)?;
    let bad = |m: String| Error::InvalidInput(format!("key file {}: {m}", path.display()));
    if bytes.len() as u64 > MAX_KEY_FILE {
        return Err(bad(format!("over {MAX_KEY_FILE} bytes")));
    }
    curia_api_types::key_file::parse_key_file(&bytes).map_err(bad)
}

/// What a single deposit says about its evidence (the fields of `docs/api.md`, "Field rules").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DepositFields {
    /// Media type, `type/subtype`.
    pub media_type: String,
    /// Label, 1 to 256 bytes.
    pub label: String,
    /// Reference, 0 to 256 bytes.
    pub reference: String,
}

/// A signed deposit transaction, with the salt of a salted one.
#[derive(Clone, Debug)]
pub struct SignedDeposit {
    /// The transaction to submit.
    pub tx: Transaction,
    /// The salt, for a salted deposit (keep it: verifying needs it).
    pub salt: Option<[u8; 32]>,
}

/// A client key and the chain it signs for.
#[derive(Clone)]
pub struct Signer {
    key: SecretKey,
    chain_id: Hash,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("key", &self.key.public()).field("chain_id", &self.chain_id).finish()
    }
}

impl Signer {
    /// Sign with `key` for the chain `chain_id`.
    pub fn new(key: SecretKey, chain_id: Hash) -> Signer {
        Signer { key, chain_id }
    }

    /// The public key.
    pub fn public(&self) -> PublicKey {
        self.key.public()
    }

    /// The chain signed for.
    pub fn chain_id(&self) -> Hash {
        self.chain_id
    }

    /// The secret key.
    pub fn key(&self) -> &SecretKey {
        &self.key
    }

    /// A transaction with `payload`, a fresh nonce and this key's signature, after the ledger's
    /// field checks.
    pub fn sign(&self, payload: Payload) -> Result<Transaction, Error> {
        let body = TxBody { sender: self.key.public(), nonce: random_u64()?, payload };
        body.check_fields().map_err(|e| Error::InvalidInput(e.to_string()))?;
        Ok(body.sign(&self.chain_id, &self.key))
    }

    /// A single deposit of evidence whose SHA-256 is `sha256` and length `byte_length`; with
    /// `salted`, the commitment is salted with a fresh salt.
    pub fn deposit(
        &self,
        sha256: Hash,
        byte_length: u64,
        fields: &DepositFields,
        salted: bool,
    ) -> Result<SignedDeposit, Error> {
        let salt = if salted { Some(random_32()?) } else { None };
        let commitment = match &salt {
            Some(s) => Commitment::Salted(salted_commitment(s, &sha256)),
            None => Commitment::Sha256(sha256),
        };
        let tx = self.sign(Payload::Deposit(Deposit {
            commitment,
            media_type: fields.media_type.clone(),
            byte_length,
            label: fields.label.clone(),
            reference: fields.reference.clone(),
        }))?;
        Ok(SignedDeposit { tx, salt })
    }

    /// A batch deposit of `commitments` (1 to 10,000, in order) under one signature.
    pub fn batch_deposit(
        &self,
        commitments: Vec<Hash>,
        salted: bool,
        fields: &DepositFields,
    ) -> Result<Transaction, Error> {
        if commitments.is_empty() || commitments.len() > curia_ledger::limits::MAX_BATCH_ITEMS as usize {
            return Err(Error::InvalidInput(format!(
                "a batch holds 1 to {} items, not {}",
                curia_ledger::limits::MAX_BATCH_ITEMS,
                commitments.len()
            )));
        }
        let body = batch_body(&commitments, salted, &fields.media_type, &fields.label, &fields.reference);
        let mut tx = self.sign(Payload::BatchDeposit(body))?;
        tx.items = commitments;
        Ok(tx)
    }

    /// The three signed-read headers for `method target` (the path and, if any, `?` and the query
    /// exactly as sent), timestamped now.
    pub fn read_headers(&self, method: &str, path: &str) -> [(&'static str, String); 3] {
        let ts = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
        let sig = sign_read_request(&self.key, &self.chain_id, method, path, ts);
        [
            (HEADER_READER, self.key.public().to_string()),
            (HEADER_TIMESTAMP, ts.to_string()),
            (HEADER_SIGNATURE, hex::encode(sig.0)),
        ]
    }
}

fn random_u64() -> Result<u64, Error> {
    let mut b = [0u8; 8];
    getrandom::getrandom(&mut b).map_err(|e| Error::InvalidInput(format!("no randomness: {e}")))?;
    Ok(u64::from_be_bytes(b))
}

fn random_32() -> Result<[u8; 32], Error> {
    let mut b = [0u8; 32];
    getrandom::getrandom(&mut b).map_err(|e| Error::InvalidInput(format!("no randomness: {e}")))?;
    Ok(b)
}
