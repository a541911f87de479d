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
//! - A draft (a genesis under construction) keeps every rule except "at least one validator" at
//!   every step: [`Genesis::add_validator`] and [`Genesis::add_client`] refuse an entry that the
//!   final check would refuse, with the same reason.
//! - Founding rules on top of validity ([`ChainSpec::check_founding`]): at least one court.
//! - Founder signatures: each founding validator signs `tagged("curia/v1/founder", chain_id)`
//!   (ed25519, receipt format 6.3). They are kept in a separate file and never change the chain ID.

use serde::{Deserialize, Serialize};

use crate::codec::{Canonical, Reader, Writer};
use crate::crypto::{PublicKey, SecretKey, Signature};
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
    /// A mediation platform's node.
    Mediation = 4,
    /// A forensic appraisal centre's node.
    Forensic = 5,
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
    /// Parse a lower-case role name, naming the accepted ones when it is not one.
    pub fn parse(s: &str) -> Result<Self> {
        [ClientRole::Platform, ClientRole::Judge, ClientRole::Auditor, ClientRole::Registrar]
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                LedgerError::Genesis(format!("unknown client role {s:?}: platform, judge, auditor or registrar"))
            })
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
            ValidatorRole::Mediation => "mediation",
            ValidatorRole::Forensic => "forensic",
        }
    }
    /// Parse a lower-case role name, naming the accepted ones when it is not one.
    pub fn parse(s: &str) -> Result<Self> {
        [
            ValidatorRole::Court,
            ValidatorRole::Notary,
            ValidatorRole::Timesvc,
            ValidatorRole::Mediation,
            ValidatorRole::Forensic,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
        .ok_or_else(|| {
            LedgerError::Genesis(format!("unknown validator role {s:?}: court, notary, timesvc, mediation or forensic"))
        })
    }
    /// The role with this canonical tag byte.
    pub fn from_u8(b: u8) -> Option<Self> {
        Some(match b {
            1 => ValidatorRole::Court,
            2 => ValidatorRole::Notary,
            3 => ValidatorRole::Timesvc,
            4 => ValidatorRole::Mediation,
            5 => ValidatorRole::Forensic,
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
    /// Headers commit to the deposit log (header version 4, receipt format 5.1 and 14.1):
    /// `log_size` and `log_root` after each block, and receipts carry the deposit's log
    /// position. Off by default; part of the JSON document and of the chain ID only when on, so
    /// a genesis without it keeps its bytes and its chain ID.
    #[serde(default, skip_serializing_if = "is_false")]
    pub log_in_header: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
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
    /// The genesis validator set (the set in force at height 1).
    pub validator_set: std::sync::Arc<crate::membership::ValidatorSet>,
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
        let validator_set = std::sync::Arc::new(crate::membership::ValidatorSet::new(self.validators.clone()));
        Ok(ChainSpec { genesis: self, chain_id, validators_hash, total_power, validator_set })
    }

    fn validate(&self) -> Result<()> {
        self.check_draft()?;
        if self.validators.is_empty() {
            return Err(LedgerError::Genesis(format!("needs 1 to {MAX_VALIDATORS} validators, has 0")));
        }
        Ok(())
    }

    /// Check everything a genesis must satisfy except having at least one validator: the rules a
    /// draft under construction must keep at every step. [`Genesis::into_spec`] uses this too, so
    /// a draft that passes and has a validator is a valid genesis.
    pub fn check_draft(&self) -> Result<()> {
        self.check_header()?;
        let mut seen = Seen::default();
        for v in &self.validators {
            check_validator_entry(v, &mut seen)?;
        }
        for c in &self.clients {
            check_client_entry(c, &mut seen)?;
        }
        Ok(())
    }

    /// The rules on the fields outside the validator and client lists, and the list sizes.
    fn check_header(&self) -> Result<()> {
        let bad = |m: String| Err(LedgerError::Genesis(m));
        if self.version != 1 {
            return Err(LedgerError::UnsupportedVersion { what: "genesis", found: self.version as u64, supported: 1 });
        }
        check_name("chain_name", &self.chain_name)?;
        if self.validators.len() > MAX_VALIDATORS {
            return bad(format!("needs 1 to {MAX_VALIDATORS} validators, has {}", self.validators.len()));
        }
        if self.clients.len() > MAX_GENESIS_CLIENTS {
            return bad(format!("at most {MAX_GENESIS_CLIENTS} clients, has {}", self.clients.len()));
        }
        check_params(&self.params)
    }

    /// Append a validator, refusing (and changing nothing) if the result would break a rule:
    /// a bad name or key, a duplicate name or key, a power out of range, too many validators.
    pub fn add_validator(&mut self, v: Validator) -> Result<()> {
        if self.validators.len() >= MAX_VALIDATORS {
            return Err(LedgerError::Genesis(format!("already has the most validators, {MAX_VALIDATORS}")));
        }
        let mut seen = self.seen();
        check_validator_entry(&v, &mut seen)?;
        self.validators.push(v);
        Ok(())
    }

    /// Append a client, refusing (and changing nothing) if the result would break a rule.
    pub fn add_client(&mut self, c: Client) -> Result<()> {
        if self.clients.len() >= MAX_GENESIS_CLIENTS {
            return Err(LedgerError::Genesis(format!("already has the most clients, {MAX_GENESIS_CLIENTS}")));
        }
        let mut seen = self.seen();
        check_client_entry(&c, &mut seen)?;
        self.clients.push(c);
        Ok(())
    }

    /// The names and keys already taken.
    fn seen(&self) -> Seen {
        let mut s = Seen::default();
        for v in &self.validators {
            s.names.insert(v.name.clone());
            s.keys.insert(v.key);
        }
        for c in &self.clients {
            s.names.insert(c.name.clone());
            s.keys.insert(c.key);
        }
        s
    }
}

/// Names and keys taken so far while checking a genesis in order.
#[derive(Default)]
struct Seen {
    names: std::collections::HashSet<String>,
    keys: std::collections::HashSet<PublicKey>,
}

impl Seen {
    fn take(&mut self, name: &str, key: &PublicKey) -> Result<()> {
        if self.names.contains(name) {
            return Err(LedgerError::Genesis(format!("duplicate name {name}")));
        }
        if self.keys.contains(key) {
            return Err(LedgerError::Genesis(format!("duplicate key {key} (of {name})")));
        }
        self.names.insert(name.to_string());
        self.keys.insert(*key);
        Ok(())
    }
}

/// The parameter ranges.
pub fn check_params(p: &Params) -> Result<()> {
    let bad = |m: String| Err(LedgerError::Genesis(m));
    if p.max_block_txs == 0 || p.max_block_txs > MAX_BLOCK_TXS {
        return bad(format!("params.max_block_txs must be 1..={MAX_BLOCK_TXS}"));
    }
    if p.max_batch_items == 0 || p.max_batch_items > MAX_BATCH_ITEMS {
        return bad(format!("params.max_batch_items must be 1..={MAX_BATCH_ITEMS}"));
    }
    Ok(())
}

fn check_validator_entry(v: &Validator, seen: &mut Seen) -> Result<()> {
    let bad = |m: String| Err(LedgerError::Genesis(m));
    check_name("validator name", &v.name)?;
    if v.address.len() > MAX_NAME * 4 {
        return bad(format!("validator {} address too long", v.name));
    }
    v.key.check().map_err(|_| {
        LedgerError::Genesis(format!(
            "validator {} key {} is not a valid ed25519 key (not a canonically encoded point, or of small order)",
            v.name, v.key
        ))
    })?;
    if v.power == 0 || v.power > MAX_POWER {
        return bad(format!("validator {} power must be 1..={MAX_POWER}", v.name));
    }
    seen.take(&v.name, &v.key)
}

fn check_client_entry(c: &Client, seen: &mut Seen) -> Result<()> {
    check_name("client name", &c.name)?;
    c.key.check().map_err(|_| {
        LedgerError::Genesis(format!(
            "client {} key {} is not a valid ed25519 key (not a canonically encoded point, or of small order)",
            c.name, c.key
        ))
    })?;
    seen.take(&c.name, &c.key)
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

    /// The founding rules a genesis ceremony adds to validity: at least one `court` validator.
    /// Without a court no registry update can ever be approved (rule 5 of [`crate::state`]), so
    /// the client keys registered at genesis could never change. A valid genesis without a court
    /// still founds a chain (nodes and verifiers accept it); `curia genesis check` refuses it.
    pub fn check_founding(&self) -> Result<()> {
        if !self.genesis.validators.iter().any(|v| v.role == ValidatorRole::Court) {
            return Err(LedgerError::Genesis(
                "no validator has the role court: a chain needs at least one court".into(),
            ));
        }
        Ok(())
    }

    /// The hash a founding validator signs to show it agrees to this genesis.
    pub fn founder_message(&self) -> Hash {
        founder_message(&self.chain_id)
    }

    /// A founding validator's signature of this genesis; refused if `key` is not a validator's.
    pub fn founder_sign(&self, key: &SecretKey) -> Result<FounderSignature> {
        let pk = key.public();
        let i = self
            .validator_index(&pk)
            .ok_or_else(|| LedgerError::Genesis(format!("key {pk} is not the key of a validator of this genesis")))?;
        Ok(FounderSignature {
            validator: self.genesis.validators[i].name.clone(),
            key: pk,
            signature: key.sign(&self.founder_message()),
        })
    }

    /// Check founder signatures against this genesis: which validators signed, which did not, and
    /// every problem found (a file for another chain ID, a signature that does not verify, a
    /// signer that is not a validator or whose name does not match, two entries for one validator).
    pub fn check_founders(&self, sigs: &FounderSignatures) -> FounderCheck {
        let mut problems = Vec::new();
        if sigs.chain_id != self.chain_id {
            problems.push(format!(
                "the signature file is for chain {}, not this genesis (chain {})",
                sigs.chain_id, self.chain_id
            ));
        }
        if sigs.signatures.len() > MAX_VALIDATORS {
            problems.push(format!(
                "the signature file holds {} signatures, more than {MAX_VALIDATORS}",
                sigs.signatures.len()
            ));
        }
        let msg = self.founder_message();
        let mut signed = vec![false; self.genesis.validators.len()];
        for s in sigs.signatures.iter().take(MAX_VALIDATORS) {
            let Some(i) = self.validator_index(&s.key) else {
                problems.push(format!("signature by key {}, which is not a validator of this genesis", s.key));
                continue;
            };
            let v = &self.genesis.validators[i];
            if v.name != s.validator {
                problems.push(format!("signature names {:?}, but key {} is validator {}", s.validator, s.key, v.name));
                continue;
            }
            if s.key.verify("founder signature", &msg, &s.signature).is_err() {
                problems.push(format!(
                    "signature of {} does not verify: it was made for another genesis, or altered",
                    v.name
                ));
                continue;
            }
            if signed[i] {
                problems.push(format!("two signatures of {}", v.name));
                continue;
            }
            signed[i] = true;
        }
        let (yes, no): (Vec<usize>, Vec<usize>) = (0..signed.len()).partition(|&i| signed[i]);
        FounderCheck { signed: yes, unsigned: no, problems }
    }
}

/// Tag of what a founding validator signs: `tagged("curia/v1/founder", chain_id (32))`.
pub const TAG_FOUNDER: &str = "curia/v1/founder";

/// `tagged("curia/v1/founder", chain_id)`: what each founding validator signs.
pub fn founder_message(chain_id: &Hash) -> Hash {
    Hash::tagged(TAG_FOUNDER, &[&chain_id.0])
}

/// Type string of a founder signature file.
pub const FOUNDER_SIGNATURES_TYPE: &str = "curia-genesis-signatures";

/// One founding validator's signature of a genesis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FounderSignature {
    /// The validator's name in the genesis.
    pub validator: String,
    /// The validator's key.
    pub key: PublicKey,
    /// ed25519 signature of [`founder_message`] of the chain ID.
    pub signature: Signature,
}

/// The founder signature file kept beside a genesis (`genesis.sigs.json`). It is not part of the
/// genesis: adding signatures does not change the chain ID.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FounderSignatures {
    /// Always [`FOUNDER_SIGNATURES_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
    /// The chain ID the signatures are for.
    pub chain_id: Hash,
    /// The signatures, in no particular order.
    pub signatures: Vec<FounderSignature>,
}

impl FounderSignatures {
    /// An empty file for a chain.
    pub fn new(chain_id: Hash) -> Self {
        FounderSignatures { kind: FOUNDER_SIGNATURES_TYPE.into(), chain_id, signatures: Vec::new() }
    }

    /// Parse a signature file (at most 1 MiB, the right type, at most [`MAX_VALIDATORS`] entries).
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        const MAX: usize = 1 << 20;
        if bytes.len() > MAX {
            return Err(LedgerError::TooLarge { what: "genesis signatures", len: bytes.len() as u64, max: MAX as u64 });
        }
        let s: FounderSignatures = serde_json::from_slice(bytes)
            .map_err(|e| LedgerError::Json { what: "genesis signatures", reason: e.to_string() })?;
        if s.kind != FOUNDER_SIGNATURES_TYPE {
            return Err(LedgerError::Genesis(format!(
                "signature file type is {:?}, not {FOUNDER_SIGNATURES_TYPE:?}",
                s.kind
            )));
        }
        if s.signatures.len() > MAX_VALIDATORS {
            return Err(LedgerError::Genesis(format!("signature file holds more than {MAX_VALIDATORS} signatures")));
        }
        Ok(s)
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("signatures serialize")
    }

    /// Put `sig` in, replacing an earlier entry for the same key.
    pub fn insert(&mut self, sig: FounderSignature) {
        self.signatures.retain(|s| s.key != sig.key);
        self.signatures.push(sig);
    }
}

/// The result of [`ChainSpec::check_founders`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FounderCheck {
    /// Indexes of the validators with a valid signature.
    pub signed: Vec<usize>,
    /// Indexes of the validators without one.
    pub unsigned: Vec<usize>,
    /// Everything wrong in the file; empty if every entry is a valid signature of a validator.
    pub problems: Vec<String>,
}

impl FounderCheck {
    /// Every validator signed and nothing is wrong.
    pub fn complete(&self) -> bool {
        self.unsigned.is_empty() && self.problems.is_empty()
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
        // Only when on, so every genesis without the switch keeps its chain ID.
        if self.log_in_header {
            w.u8(1);
        }
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
        let log_in_header = match r.remaining() {
            0 => false,
            _ => match r.u8()? {
                1 => true,
                t => return Err(r.bad_tag("log_in_header", t)),
            },
        };
        Ok(Genesis { version, chain_name, genesis_time_ms, validators, clients, params, log_in_header })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{test_genesis, test_key};

    fn validator(name: &str, key: PublicKey) -> Validator {
        Validator {
            name: name.into(),
            role: ValidatorRole::Court,
            key,
            power: 1,
            address: "/ip4/127.0.0.1/tcp/1".into(),
        }
    }

    fn draft() -> Genesis {
        Genesis { validators: vec![], clients: vec![], ..test_genesis(1) }
    }

    /// The encodings `p + k` (k = 0..19) of y, with both sign bits: not canonical.
    fn non_canonical_keys() -> Vec<PublicKey> {
        let mut out = Vec::new();
        for k in 0..19u8 {
            for sign in [0u8, 0x80] {
                let mut e = [0xffu8; 32];
                e[0] = 0xed + k;
                e[31] = 0x7f | sign;
                out.push(PublicKey(e));
            }
        }
        out
    }

    #[test]
    fn a_draft_refuses_what_the_final_check_refuses_with_the_same_reason() {
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let good = test_key("a").public();
        let mut cases: Vec<(Validator, &str)> = vec![
            (validator("a", test_key("other").public()), "duplicate name a"),
            (validator("b", good), "duplicate key"),
            (validator("c", test_key("judge").public()), "duplicate key"),
            (validator("judge", test_key("x").public()), "duplicate name judge"),
            (validator("d", PublicKey(identity)), "not a valid ed25519 key"),
            (Validator { power: 0, ..validator("e", test_key("e").public()) }, "power must be"),
            (validator("bad name", test_key("f").public()), "must be 1 to 64 characters"),
        ];
        for k in non_canonical_keys() {
            cases.push((validator("n", k), "not a valid ed25519 key"));
        }
        for (v, why) in cases {
            let mut g = draft();
            g.add_validator(validator("a", good)).unwrap();
            g.add_client(Client { name: "judge".into(), role: ClientRole::Judge, key: test_key("judge").public() })
                .unwrap();
            let before = g.clone();
            let e = g.add_validator(v.clone()).unwrap_err().to_string();
            assert!(e.contains(why), "{e} (wanted {why})");
            assert_eq!(g, before, "a refused entry changed the draft");
            // The final check refuses the same genesis written by hand, for the same reason.
            let mut by_hand = before.clone();
            by_hand.validators.push(v);
            let e2 = Genesis::from_json(by_hand.to_json().as_bytes()).unwrap_err().to_string();
            assert!(e2.contains(why), "{e2} (wanted {why})");
        }
    }

    #[test]
    fn clients_are_checked_against_validators_too() {
        let mut g = draft();
        g.add_validator(validator("court", test_key("court").public())).unwrap();
        let c = |name: &str, key: PublicKey| Client { name: name.into(), role: ClientRole::Platform, key };
        assert!(g.add_client(c("court", test_key("p").public())).unwrap_err().to_string().contains("duplicate name"));
        assert!(g.add_client(c("p", test_key("court").public())).unwrap_err().to_string().contains("duplicate key"));
        g.add_client(c("p", test_key("p").public())).unwrap();
        assert!(g.clone().into_spec().is_ok());
        assert!(ValidatorRole::parse("judge")
            .unwrap_err()
            .to_string()
            .contains("court, notary, timesvc, mediation or forensic"));
        assert!(ClientRole::parse("court").unwrap_err().to_string().contains("platform, judge"));
        assert_eq!(ValidatorRole::parse("timesvc").unwrap(), ValidatorRole::Timesvc);
        // A draft with no validator is a draft, not a genesis.
        assert!(draft().check_draft().is_ok());
        assert!(draft().into_spec().is_err());
    }

    #[test]
    fn founding_needs_a_court() {
        let mut g = draft();
        g.add_validator(Validator { role: ValidatorRole::Notary, ..validator("n", test_key("n").public()) }).unwrap();
        let spec = g.clone().into_spec().unwrap();
        assert!(spec.check_founding().unwrap_err().to_string().contains("court"));
        g.add_validator(validator("c", test_key("c").public())).unwrap();
        assert!(g.into_spec().unwrap().check_founding().is_ok());
    }

    #[test]
    fn founder_signatures() {
        let spec = test_genesis(4).into_spec().unwrap();
        let mut sigs = FounderSignatures::new(spec.chain_id);
        assert_eq!(spec.check_founders(&sigs).unsigned, vec![0, 1, 2, 3]);
        for i in [0, 2] {
            sigs.insert(spec.founder_sign(&test_key(&format!("v{i}"))).unwrap());
        }
        let c = spec.check_founders(&sigs);
        assert_eq!((c.signed.clone(), c.unsigned.clone(), c.problems.len()), (vec![0, 2], vec![1, 3], 0));
        assert!(!c.complete());
        // Signing again replaces, and does not duplicate.
        sigs.insert(spec.founder_sign(&test_key("v0")).unwrap());
        assert_eq!(sigs.signatures.len(), 2);
        for i in [1, 3] {
            sigs.insert(spec.founder_sign(&test_key(&format!("v{i}"))).unwrap());
        }
        assert!(spec.check_founders(&sigs).complete());
        // The round trip through JSON keeps them, and they do not touch the chain ID.
        let back = FounderSignatures::from_json(sigs.to_json().as_bytes()).unwrap();
        assert!(spec.check_founders(&back).complete());
        assert_eq!(test_genesis(4).into_spec().unwrap().chain_id, spec.chain_id);
        // A client is not a founder.
        assert!(spec.founder_sign(&test_key("judge")).is_err());

        // Tampered: one bit of one signature.
        let mut t = sigs.clone();
        t.signatures[1].signature.0[5] ^= 1;
        let c = spec.check_founders(&t);
        assert_eq!(c.problems.len(), 1, "{:?}", c.problems);
        assert!(c.problems[0].contains("does not verify"));
        assert_eq!(c.unsigned.len(), 1);
        // Another genesis: the file's chain ID, and then its signatures, do not match.
        let mut other_g = test_genesis(4);
        other_g.genesis_time_ms += 1;
        let other = other_g.into_spec().unwrap();
        let mut o = FounderSignatures::new(other.chain_id);
        o.insert(other.founder_sign(&test_key("v0")).unwrap());
        let c = spec.check_founders(&o);
        assert!(c.problems.iter().any(|p| p.contains("not this genesis")), "{:?}", c.problems);
        o.chain_id = spec.chain_id;
        let c = spec.check_founders(&o);
        assert!(c.problems.iter().any(|p| p.contains("made for another genesis")), "{:?}", c.problems);
        // A name that does not match the key, and two entries for one validator.
        let mut n = FounderSignatures::new(spec.chain_id);
        let mut s = spec.founder_sign(&test_key("v0")).unwrap();
        s.validator = "v1".into();
        n.signatures.push(s);
        assert!(spec.check_founders(&n).problems[0].contains("is validator v0"));
        let mut d = FounderSignatures::new(spec.chain_id);
        d.signatures.push(spec.founder_sign(&test_key("v0")).unwrap());
        d.signatures.push(spec.founder_sign(&test_key("v0")).unwrap());
        assert!(spec.check_founders(&d).problems[0].contains("two signatures"));
        // The file format: its type, unknown keys and size are checked.
        let j = sigs.to_json().replace(FOUNDER_SIGNATURES_TYPE, "something-else");
        assert!(FounderSignatures::from_json(j.as_bytes()).is_err());
        let j = sigs.to_json().replacen('{', "{\"extra\": 1,", 1);
        assert!(FounderSignatures::from_json(j.as_bytes()).is_err());
        assert!(FounderSignatures::from_json(&vec![b' '; (1 << 20) + 1]).is_err());
    }

    #[test]
    fn the_founder_message_is_the_documented_tagged_hash() {
        let id = Hash([7; 32]);
        let mut pre = vec![16u8];
        pre.extend_from_slice(b"curia/v1/founder");
        pre.extend_from_slice(&id.0);
        assert_eq!(founder_message(&id), Hash::sha256(&pre));
    }
}
