//! Genesis: the document that founds a chain.
//!
//! Rules:
//! - The chain ID is the tagged hash (`curia/v1/genesis`) of the genesis's canonical encoding, so
//!   any change to any field makes a different chain.
//! - Validators have roles `court`, `notary` or `timesvc`, a unique name, a unique valid key and a
//!   voting power of at least 1. There are between 1 and [`MAX_VALIDATORS`] of them.
//! - Clients have roles `platform`, `judge`, `auditor` or `registrar`, unique names and keys, and
//!   no key of a client is also a validator key.
//! - The validator-set hash (`curia/v1/validators`) covers names, roles, keys and powers, in
//!   genesis order; a validator's index is its position in that list.

use serde::{Deserialize, Serialize};

use crate::codec::{Canonical, Reader, Writer};
use crate::crypto::PublicKey;
use crate::hash::{Hash, TAG_GENESIS, TAG_VALIDATORS};
use crate::limits::*;
use crate::{LedgerError, Result};

/// Role of a validator node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValidatorRole {
    /// A court's node.
    Court = 1,
    /// A notary office's node.
    Notary = 2,
    /// A time-service centre's node; its signed clock is shown in receipts.
    Timesvc = 3,
}

/// Role of a client key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientRole {
    /// An evidence platform: deposits digests.
    Platform = 1,
    /// A judge: opens and manages cases.
    Judge = 2,
    /// An auditor: reads everything, writes nothing.
    Auditor = 3,
    /// A registrar: submits registry updates approved by courts.
    Registrar = 4,
}

impl ClientRole {
    /// Lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            ClientRole::Platform => "platform",
            ClientRole::Judge => "judge",
            ClientRole::Auditor => "auditor",
            ClientRole::Registrar => "registrar",
        }
    }
    /// The role with this canonical tag byte.
    pub fn from_u8(b: u8) -> Option<Self> {
        Some(match b {
            1 => ClientRole::Platform,
            2 => ClientRole::Judge,
            3 => ClientRole::Auditor,
            4 => ClientRole::Registrar,
            _ => return None,
        })
    }
}

impl ValidatorRole {
    /// Lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            ValidatorRole::Court => "court",
            ValidatorRole::Notary => "notary",
            ValidatorRole::Timesvc => "timesvc",
        }
    }
    fn from_u8(b: u8) -> Option<Self> {
        Some(match b {
            1 => ValidatorRole::Court,
            2 => ValidatorRole::Notary,
            3 => ValidatorRole::Timesvc,
            _ => return None,
        })
    }
}

/// A validator in the genesis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Validator {
    /// Unique name.
    pub name: String,
    /// Role.
    pub role: ValidatorRole,
    /// Consensus key (ed25519), also the node's network identity.
    pub key: PublicKey,
    /// Voting power (at least 1).
    pub power: u64,
    /// Network address (a libp2p multiaddr).
    pub address: String,
}

/// A client key registered at genesis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    /// Unique name.
    pub name: String,
    /// Role.
    pub role: ClientRole,
    /// Signing key (ed25519).
    pub key: PublicKey,
}

/// Chain parameters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Most transactions in one block.
    pub max_block_txs: u32,
    /// Most items in one batch deposit.
    pub max_batch_items: u32,
}

impl Default for Params {
    fn default() -> Self {
        Params { max_block_txs: MAX_BLOCK_TXS, max_batch_items: MAX_BATCH_ITEMS }
    }
}

/// The genesis document (JSON on disk).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    /// Format version; this build reads 1.
    pub version: u16,
    /// Human-readable chain name.
    pub chain_name: String,
    /// Genesis time, milliseconds since the Unix epoch.
    pub genesis_time_ms: u64,
    /// The validator set.
    pub validators: Vec<Validator>,
    /// Client keys registered at genesis.
    pub clients: Vec<Client>,
    /// Parameters.
    pub params: Params,
}

/// A validated genesis with its derived hashes.
#[derive(Clone, Debug)]
pub struct ChainSpec {
    /// The document.
    pub genesis: Genesis,
    /// The chain ID (genesis hash).
    pub chain_id: Hash,
    /// Hash of the validator set.
    pub validators_hash: Hash,
    /// Total voting power.
    pub total_power: u64,
}

impl Genesis {
    /// Parse and validate genesis JSON.
    pub fn from_json(bytes: &[u8]) -> Result<ChainSpec> {
        if bytes.len() > MAX_GENESIS_BYTES {
            return Err(LedgerError::TooLarge {
                what: "genesis",
                len: bytes.len() as u64,
                max: MAX_GENESIS_BYTES as u64,
            });
        }
        let g: Genesis =
            serde_json::from_slice(bytes).map_err(|e| LedgerError::Json { what: "genesis", reason: e.to_string() })?;
        g.into_spec()
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("genesis serializes")
    }

    /// Validate and derive the chain ID.
    pub fn into_spec(self) -> Result<ChainSpec> {
        self.validate()?;
        let chain_id = Hash::tagged(TAG_GENESIS, &[&self.to_bytes()]);
        let validators_hash = validators_hash(&self.validators);
        let total_power = self.validators.iter().map(|v| v.power).sum();
        Ok(ChainSpec { genesis: self, chain_id, validators_hash, total_power })
    }

    fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(LedgerError::Genesis(m));
        if self.version != 1 {
            return Err(LedgerError::UnsupportedVersion { what: "genesis", found: self.version as u64, supported: 1 });
        }
        check_name("chain_name", &self.chain_name)?;
        if self.validators.is_empty() || self.validators.len() > MAX_VALIDATORS {
            return bad(format!("needs 1 to {MAX_VALIDATORS} validators, has {}", self.validators.len()));
        }
        if self.clients.len() > MAX_GENESIS_CLIENTS {
            return bad(format!("at most {MAX_GENESIS_CLIENTS} clients, has {}", self.clients.len()));
        }
        if self.params.max_block_txs == 0 || self.params.max_block_txs > MAX_BLOCK_TXS {
            return bad(format!("params.max_block_txs must be 1..={MAX_BLOCK_TXS}"));
        }
        if self.params.max_batch_items == 0 || self.params.max_batch_items > MAX_BATCH_ITEMS {
            return bad(format!("params.max_batch_items must be 1..={MAX_BATCH_ITEMS}"));
        }
        let mut names = std::collections::HashSet::new();
        let mut keys = std::collections::HashSet::new();
        for v in &self.validators {
            check_name("validator name", &v.name)?;
            if v.address.len() > MAX_NAME * 4 {
                return bad(format!("validator {} address too long", v.name));
            }
            v.key
                .check()
                .map_err(|_| LedgerError::Genesis(format!("validator {} key is not a valid ed25519 key", v.name)))?;
            if v.power == 0 || v.power > MAX_POWER {
                return bad(format!("validator {} power must be 1..={MAX_POWER}", v.name));
            }
            if !names.insert(v.name.clone()) {
                return bad(format!("duplicate name {}", v.name));
            }
            if !keys.insert(v.key) {
                return bad(format!("duplicate key {}", v.key));
            }
        }
        for c in &self.clients {
            check_name("client name", &c.name)?;
            c.key
                .check()
                .map_err(|_| LedgerError::Genesis(format!("client {} key is not a valid ed25519 key", c.name)))?;
            if !names.insert(c.name.clone()) {
                return bad(format!("duplicate name {}", c.name));
            }
            if !keys.insert(c.key) {
                return bad(format!("duplicate key {}", c.key));
            }
        }
        Ok(())
    }
}

/// Names: 1 to [`MAX_NAME`] bytes of `[A-Za-z0-9._-]`.
pub fn check_name(what: &'static str, s: &str) -> Result<()> {
    if s.is_empty() || s.len() > MAX_NAME || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
        return Err(LedgerError::Invalid {
            what,
            reason: format!("{s:?} must be 1 to {MAX_NAME} characters of A-Z a-z 0-9 . _ -"),
        });
    }
    Ok(())
}

/// Hash of a validator set (names, roles, keys, powers in order).
pub fn validators_hash(vs: &[Validator]) -> Hash {
    let mut w = Writer::new();
    w.list(vs, |w, v| {
        w.str(&v.name);
        w.u8(v.role as u8);
        v.key.encode(w);
        w.u64(v.power);
    });
    Hash::tagged(TAG_VALIDATORS, &[&w.into_bytes()])
}

impl ChainSpec {
    /// Index of the validator with this key.
    pub fn validator_index(&self, key: &PublicKey) -> Option<usize> {
        self.genesis.validators.iter().position(|v| &v.key == key)
    }
    /// Smallest voting power that is a quorum: more than two thirds of the total.
    pub fn quorum_power(&self) -> u64 {
        self.total_power * 2 / 3 + 1
    }
}

impl Canonical for Genesis {
    const WHAT: &'static str = "genesis";
    fn encode(&self, w: &mut Writer) {
        w.u16(self.version);
        w.str(&self.chain_name);
        w.u64(self.genesis_time_ms);
        w.list(&self.validators, |w, v| {
            w.str(&v.name);
            w.u8(v.role as u8);
            v.key.encode(w);
            w.u64(v.power);
            w.str(&v.address);
        });
        w.list(&self.clients, |w, c| {
            w.str(&c.name);
            w.u8(c.role as u8);
            c.key.encode(w);
        });
        w.u32(self.params.max_block_txs);
        w.u32(self.params.max_batch_items);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let version = r.u16()?;
        let chain_name = r.str("chain_name", MAX_NAME)?;
        let genesis_time_ms = r.u64()?;
        let validators = r.list("validators", MAX_VALIDATORS, |r| {
            let name = r.str("validator name", MAX_NAME)?;
            let t = r.u8()?;
            let role = ValidatorRole::from_u8(t).ok_or_else(|| r.bad_tag("validator role", t))?;
            Ok(Validator {
                name,
                role,
                key: PublicKey::decode(r)?,
                power: r.u64()?,
                address: r.str("address", MAX_NAME * 4)?,
            })
        })?;
        let clients = r.list("clients", MAX_GENESIS_CLIENTS, |r| {
            let name = r.str("client name", MAX_NAME)?;
            let t = r.u8()?;
            let role = ClientRole::from_u8(t).ok_or_else(|| r.bad_tag("client role", t))?;
            Ok(Client { name, role, key: PublicKey::decode(r)? })
        })?;
        let params = Params { max_block_txs: r.u32()?, max_batch_items: r.u32()? };
        Ok(Genesis { version, chain_name, genesis_time_ms, validators, clients, params })
    }
}
