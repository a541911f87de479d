//! Transactions: what platforms, judges and registrars send.
//!
//! Rules:
//! - A transaction is a body (sender key, nonce, payload), the sender's signature, and for a batch
//!   deposit the batch's items.
//! - The transaction ID is `tagged("curia/v1/tx", chain_id || body)`; the sender signs the ID.
//!   Binding the chain ID means a transaction signed for one chain is invalid on every other.
//! - A single deposit's deposit ID is its transaction ID. Item `i` of a batch has deposit ID
//!   `tagged("curia/v1/batch-item", tx_id || u32 i)`.
//! - A batch's body signs the RFC 6962 root of its items (each item is a 32-byte commitment,
//!   hashed as a Merkle leaf), so one signature covers thousands of items and each item proves
//!   its membership with a short proof.
//! - The block's Merkle tree commits to each transaction's *envelope* (body then signature); a
//!   batch's items are bound through the signed root, so a receipt never carries other items.
//! - Each payload kind names the client roles that may send it ([`Payload::allowed_roles`]).

use serde::{Deserialize, Serialize};

use crate::codec::{Canonical, Reader, Writer};
use crate::crypto::{PublicKey, SecretKey, Signature};
use crate::evidence::Misbehaviour;
use crate::genesis::{check_name, Client, ClientRole};
use crate::hash::{Hash, TAG_BATCH_ITEM, TAG_REGISTRY, TAG_SALTED, TAG_TX};
use crate::limits::*;
use crate::membership::{MemberApproval, MemberChange};
use crate::{merkle, LedgerError, Result};

/// What a deposit commits to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Commitment {
    /// The SHA-256 of the evidence.
    Sha256(Hash),
    /// `tagged("curia/v1/salted", salt || sha256(evidence))`, with a 32-byte salt the platform keeps.
    Salted(Hash),
}

impl Commitment {
    /// The 32 committed bytes.
    pub fn hash(&self) -> Hash {
        match self {
            Commitment::Sha256(h) | Commitment::Salted(h) => *h,
        }
    }
    /// Whether it is salted.
    pub fn is_salted(&self) -> bool {
        matches!(self, Commitment::Salted(_))
    }
}

/// The salted commitment to an evidence digest.
pub fn salted_commitment(salt: &[u8; 32], digest: &Hash) -> Hash {
    Hash::tagged(TAG_SALTED, &[salt, &digest.0])
}

/// One evidence deposit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deposit {
    /// The evidence commitment.
    pub commitment: Commitment,
    /// Media type, e.g. `application/pdf`.
    pub media_type: String,
    /// Length of the evidence in bytes.
    pub byte_length: u64,
    /// A label for people.
    pub label: String,
    /// The platform's own reference (order number, file ID).
    pub reference: String,
}

/// Many deposits under one signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchDeposit {
    /// RFC 6962 root over the items' leaf hashes.
    pub root: Hash,
    /// Number of items.
    pub count: u32,
    /// Whether items are salted commitments rather than plain SHA-256 digests.
    pub salted: bool,
    /// Media type shared by the items.
    pub media_type: String,
    /// Label shared by the items.
    pub label: String,
    /// The platform's reference for the batch.
    pub reference: String,
}

/// A change to the client registry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum RegistryAction {
    /// Register a new client.
    Add(Client),
    /// Deactivate a client key.
    Remove {
        /// The key.
        key: PublicKey,
    },
    /// Replace a client's key, keeping name and role.
    Rotate {
        /// Current key.
        old: PublicKey,
        /// New key.
        new: PublicKey,
    },
}

/// A court validator's approval of a registry action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// Index of the court in the genesis validator list.
    pub validator: u16,
    /// Signature over [`RegistryAction::approval_hash`].
    pub signature: Signature,
}

/// The payload of a transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Payload {
    /// Deposit one piece of evidence (platform).
    Deposit(Deposit),
    /// Deposit many (platform).
    BatchDeposit(BatchDeposit),
    /// Open a case (judge).
    OpenCase {
        /// Case ID chosen by the court, unique on the chain.
        case_id: String,
        /// Title.
        title: String,
    },
    /// Attach a deposit to a case (the case's judge).
    AttachDeposit {
        /// Case.
        case_id: String,
        /// Deposit.
        deposit_id: Hash,
    },
    /// Record the result of verifying an attached deposit (the case's judge).
    RecordVerification {
        /// Case.
        case_id: String,
        /// Deposit verified.
        deposit_id: Hash,
        /// Whether the evidence matched its receipt.
        valid: bool,
        /// Hash of the verification report filed with the court.
        report: Hash,
        /// Short reason.
        note: String,
    },
    /// Close a case (the case's judge).
    CloseCase {
        /// Case.
        case_id: String,
        /// Closing note.
        note: String,
    },
    /// Change the registry (registrar, with approvals of a majority of courts).
    Registry {
        /// The change.
        action: RegistryAction,
        /// Court approvals.
        approvals: Vec<Approval>,
    },
    /// Change the validator set (registrar, with approvals of more than two thirds of the power
    /// in force; see [`crate::membership`]).
    Membership {
        /// The change's sequence number: how many changes were committed before it.
        seq: u64,
        /// The change.
        change: MemberChange,
        /// Validator approvals.
        approvals: Vec<MemberApproval>,
    },
    /// Record evidence of a validator's misbehaviour (sent by a validator of the set in force,
    /// signed with its consensus key; see [`crate::evidence`]).
    Evidence {
        /// The two conflicting signed messages.
        evidence: Misbehaviour,
    },
}

impl Payload {
    /// The kind's name.
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::Deposit(_) => "deposit",
            Payload::BatchDeposit(_) => "batch_deposit",
            Payload::OpenCase { .. } => "open_case",
            Payload::AttachDeposit { .. } => "attach_deposit",
            Payload::RecordVerification { .. } => "record_verification",
            Payload::CloseCase { .. } => "close_case",
            Payload::Registry { .. } => "registry",
            Payload::Membership { .. } => "membership",
            Payload::Evidence { .. } => "evidence",
        }
    }
    /// Whether this kind is sent by a validator (with its consensus key) rather than by a client:
    /// only `evidence`. For those, [`Payload::allowed_role`] is not consulted.
    pub fn sent_by_validator(&self) -> bool {
        matches!(self, Payload::Evidence { .. })
    }

    /// The client role allowed to send this kind. An `evidence` transaction is sent by a
    /// validator, not a client ([`Payload::sent_by_validator`]); for it this returns
    /// `Registrar` only so that no client role is ever accepted for it by mistake of a caller
    /// (the state transition and admission check validators first).
    pub fn allowed_role(&self) -> ClientRole {
        match self {
            Payload::Deposit(_) | Payload::BatchDeposit(_) => ClientRole::Platform,
            Payload::OpenCase { .. }
            | Payload::AttachDeposit { .. }
            | Payload::RecordVerification { .. }
            | Payload::CloseCase { .. } => ClientRole::Judge,
            Payload::Registry { .. } | Payload::Membership { .. } | Payload::Evidence { .. } => ClientRole::Registrar,
        }
    }
}

/// The signed part of a transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TxBody {
    /// The sender's client key.
    pub sender: PublicKey,
    /// Any number the sender chooses; two transactions with equal bodies are the same transaction.
    pub nonce: u64,
    /// What it does.
    pub payload: Payload,
}

/// A signed transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transaction {
    /// The signed body.
    pub body: TxBody,
    /// The sender's signature over the transaction ID.
    pub signature: Signature,
    /// A batch's items (empty for every other kind).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<Hash>,
}

impl TxBody {
    /// The transaction ID on chain `chain_id`.
    pub fn id(&self, chain_id: &Hash) -> Hash {
        Hash::tagged(TAG_TX, &[&chain_id.0, &self.to_bytes()])
    }

    /// Check field limits and formats (not signatures or state): the field rules of
    /// `docs/receipt-format.md` section 4.1. Every refusal is [`LedgerError::Invalid`] naming the
    /// field (`invalid_field`), except more than [`MAX_APPROVALS`] approvals (`too_large`).
    pub fn check_fields(&self) -> Result<()> {
        match &self.payload {
            Payload::Deposit(Deposit { media_type, label, reference, .. })
            | Payload::BatchDeposit(BatchDeposit { media_type, label, reference, .. }) => {
                check_media_type(media_type)?;
                check_text("label", label, 1, MAX_LABEL)?;
                check_text("reference", reference, 0, MAX_REFERENCE)?;
                if let Payload::BatchDeposit(b) = &self.payload {
                    if b.count == 0 || b.count > MAX_BATCH_ITEMS {
                        return Err(LedgerError::Invalid {
                            what: "batch count",
                            reason: format!("{} is not in 1..={MAX_BATCH_ITEMS}", b.count),
                        });
                    }
                }
            }
            Payload::OpenCase { case_id, title } => {
                check_case_id(case_id)?;
                check_text("title", title, 0, MAX_NOTE)?;
            }
            Payload::AttachDeposit { case_id, .. } => check_case_id(case_id)?,
            Payload::RecordVerification { case_id, note, .. } | Payload::CloseCase { case_id, note } => {
                check_case_id(case_id)?;
                check_text("note", note, 0, MAX_NOTE)?;
            }
            Payload::Registry { action, approvals } => {
                if let RegistryAction::Add(c) = action {
                    check_name("client name", &c.name)?;
                }
                if approvals.len() > MAX_APPROVALS {
                    return Err(LedgerError::TooLarge {
                        what: "approvals",
                        len: approvals.len() as u64,
                        max: MAX_APPROVALS as u64,
                    });
                }
            }
            Payload::Membership { change, approvals, .. } => {
                if let MemberChange::Add { validator } = change {
                    check_name("validator name", &validator.name)?;
                }
                if approvals.len() > MAX_APPROVALS {
                    return Err(LedgerError::TooLarge {
                        what: "approvals",
                        len: approvals.len() as u64,
                        max: MAX_APPROVALS as u64,
                    });
                }
            }
            Payload::Evidence { .. } => {}
        }
        Ok(())
    }

    /// Sign with `key` (which should be the sender's) for chain `chain_id`.
    pub fn sign(self, chain_id: &Hash, key: &SecretKey) -> Transaction {
        let signature = key.sign(&self.id(chain_id));
        Transaction { body: self, signature, items: Vec::new() }
    }
}

/// Why `c` may not appear in a free-text field (label, reference, title, note), or `None` if it
/// may. A fixed list of code points, independent of any Unicode table version, so that every
/// implementation agrees on which transactions are valid: controls (terminal escapes),
/// bidirectional formatting (text shown in another order than stored) and invisible characters
/// (text that looks like other text).
pub fn forbidden_char(c: char) -> Option<&'static str> {
    match c as u32 {
        0x00..=0x1F | 0x7F..=0x9F => Some("a control character"),
        0x061C | 0x200E | 0x200F | 0x202A..=0x202E | 0x2066..=0x2069 => Some("a bidirectional formatting character"),
        0x2028 | 0x2029 => Some("a line or paragraph separator"),
        0x00AD
        | 0x180E
        | 0x200B..=0x200D
        | 0x2060..=0x2065
        | 0x206A..=0x206F
        | 0xFEFF
        | 0xFFF9..=0xFFFB
        | 0xE0000..=0xE007F => Some("an invisible character"),
        _ => None,
    }
}

/// A free-text field: `min` to `max` bytes of UTF-8 and no [`forbidden_char`].
pub fn check_text(what: &'static str, s: &str, min: usize, max: usize) -> Result<()> {
    if s.len() < min || s.len() > max {
        let reason =
            if s.is_empty() { "is empty".to_string() } else { format!("is {} bytes; the limit is {max}", s.len()) };
        return Err(LedgerError::Invalid { what, reason: format!("{reason} (it must be {min} to {max} bytes)") });
    }
    if let Some((i, c, why)) = s.char_indices().find_map(|(i, c)| forbidden_char(c).map(|why| (i, c, why))) {
        return Err(LedgerError::Invalid { what, reason: format!("contains {why} (U+{:04X}) at byte {i}", c as u32) });
    }
    Ok(())
}

/// A media type (RFC 6838 names, token parameters), at most [`MAX_MEDIA_TYPE`] bytes:
/// `name "/" name *( *" " ";" *" " token "=" token )`, where a name is 1 to 127 characters of
/// `A-Z a-z 0-9 ! # $ & - ^ _ . +` starting with a letter or digit, and a token is 1 or more
/// characters of `A-Z a-z 0-9 ! # $ % & ' * + - . ^ _ ` | ~`. Examples: `application/pdf`,
/// `text/plain; charset=utf-8`.
pub fn check_media_type(s: &str) -> Result<()> {
    let bad = |reason: String| Err(LedgerError::Invalid { what: "media_type", reason });
    if s.is_empty() || s.len() > MAX_MEDIA_TYPE {
        return bad(format!("is {} bytes (it must be 1 to {MAX_MEDIA_TYPE} bytes)", s.len()));
    }
    let name = |n: &str| {
        let b = n.as_bytes();
        !b.is_empty()
            && b.len() <= 127
            && b[0].is_ascii_alphanumeric()
            && b.iter().all(|c| c.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(c))
    };
    let token =
        |t: &str| !t.is_empty() && t.bytes().all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c));
    let (essence, mut rest) = s.split_at(s.find([';', ' ']).unwrap_or(s.len()));
    if !essence.split_once('/').is_some_and(|(t, sub)| name(t) && name(sub)) {
        return bad(format!("{s:?} is not a media type such as application/pdf (type/subtype)"));
    }
    while !rest.is_empty() {
        let Some(r) = rest.trim_start_matches(' ').strip_prefix(';') else {
            return bad(format!("{s:?}: expected \";\" before {:?}", rest.trim_start_matches(' ')));
        };
        let r = r.trim_start_matches(' ');
        let (param, r) = r.split_at(r.find([';', ' ']).unwrap_or(r.len()));
        if !param.split_once('=').is_some_and(|(k, v)| token(k) && token(v)) {
            return bad(format!("{s:?}: parameter {param:?} is not name=value (RFC 9110 tokens)"));
        }
        rest = r;
    }
    Ok(())
}

/// Case IDs use the same alphabet as names: `[A-Za-z0-9._-]`, 1 to 64 bytes.
pub fn check_case_id(s: &str) -> Result<()> {
    check_name("case_id", s)
}

impl RegistryAction {
    /// What courts sign to approve this action on chain `chain_id`.
    pub fn approval_hash(&self, chain_id: &Hash) -> Hash {
        let mut w = Writer::new();
        self.encode(&mut w);
        Hash::tagged(TAG_REGISTRY, &[&chain_id.0, &w.into_bytes()])
    }
    fn encode(&self, w: &mut Writer) {
        match self {
            RegistryAction::Add(c) => {
                w.u8(1);
                w.str(&c.name);
                w.u8(c.role as u8);
                c.key.encode(w);
            }
            RegistryAction::Remove { key: k } => {
                w.u8(2);
                k.encode(w);
            }
            RegistryAction::Rotate { old, new } => {
                w.u8(3);
                old.encode(w);
                new.encode(w);
            }
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        Ok(match r.u8()? {
            1 => {
                let name = r.str("client name", MAX_NAME)?;
                let t = r.u8()?;
                let role = ClientRole::from_u8(t).ok_or_else(|| r.bad_tag("client role", t))?;
                RegistryAction::Add(Client { name, role, key: PublicKey::decode(r)? })
            }
            2 => RegistryAction::Remove { key: PublicKey::decode(r)? },
            3 => RegistryAction::Rotate { old: PublicKey::decode(r)?, new: PublicKey::decode(r)? },
            t => return Err(r.bad_tag("registry action", t)),
        })
    }
}

impl Transaction {
    /// The transaction ID on chain `chain_id`.
    pub fn id(&self, chain_id: &Hash) -> Hash {
        self.body.id(chain_id)
    }

    /// The envelope: canonical body then signature. Its RFC 6962 leaf hash is what the block's
    /// transaction tree commits to.
    pub fn envelope_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.body.encode(&mut w);
        self.signature.encode(&mut w);
        w.into_bytes()
    }

    /// The leaf hash of this transaction in its block's Merkle tree.
    pub fn leaf_hash(&self) -> Hash {
        merkle::leaf_hash(&self.envelope_bytes())
    }

    /// Deposit IDs this transaction creates, with their commitments.
    pub fn deposits(&self, tx_id: &Hash) -> Vec<(Hash, Hash)> {
        match &self.body.payload {
            Payload::Deposit(d) => vec![(*tx_id, d.commitment.hash())],
            Payload::BatchDeposit(_) => {
                self.items.iter().enumerate().map(|(i, c)| (batch_item_id(tx_id, i as u32), *c)).collect()
            }
            _ => Vec::new(),
        }
    }

    /// Check everything that needs no state: field limits, batch shape and root, and the
    /// sender's signature. The state transition checks roles, replay and case rules.
    pub fn check_stateless(&self, chain_id: &Hash) -> Result<Hash> {
        self.check_shape()?;
        let id = self.id(chain_id);
        self.body.sender.verify("transaction", &id, &self.signature)?;
        Ok(id)
    }

    /// Stateless checks other than the signature (for callers that batch-verify signatures).
    pub fn check_shape(&self) -> Result<()> {
        self.body.check_fields()?;
        match &self.body.payload {
            Payload::BatchDeposit(b) => {
                if self.items.len() != b.count as usize {
                    return Err(LedgerError::Invalid {
                        what: "batch items",
                        reason: format!("body says {} items, {} carried", b.count, self.items.len()),
                    });
                }
                let leaves: Vec<Hash> = self.items.iter().map(|c| merkle::leaf_hash(&c.0)).collect();
                let computed = merkle::root(&leaves);
                if computed != b.root {
                    return Err(LedgerError::BatchRootMismatch { computed, signed: b.root });
                }
            }
            _ if !self.items.is_empty() => {
                return Err(LedgerError::Invalid {
                    what: "items",
                    reason: format!("a {} carries no batch items", self.body.payload.kind()),
                })
            }
            _ => {}
        }
        Ok(())
    }
}

/// The deposit ID of item `index` of the batch transaction `tx_id`.
pub fn batch_item_id(tx_id: &Hash, index: u32) -> Hash {
    Hash::tagged(TAG_BATCH_ITEM, &[&tx_id.0, &index.to_be_bytes()])
}

/// Build a batch deposit body over `items` (32-byte commitments).
pub fn batch_body(items: &[Hash], salted: bool, media_type: &str, label: &str, reference: &str) -> BatchDeposit {
    let leaves: Vec<Hash> = items.iter().map(|c| merkle::leaf_hash(&c.0)).collect();
    BatchDeposit {
        root: merkle::root(&leaves),
        count: items.len() as u32,
        salted,
        media_type: media_type.into(),
        label: label.into(),
        reference: reference.into(),
    }
}

impl Canonical for TxBody {
    const WHAT: &'static str = "transaction body";
    fn encode(&self, w: &mut Writer) {
        self.sender.encode(w);
        w.u64(self.nonce);
        match &self.payload {
            Payload::Deposit(d) => {
                w.u8(1);
                match d.commitment {
                    Commitment::Sha256(h) => {
                        w.u8(1);
                        h.encode(w);
                    }
                    Commitment::Salted(h) => {
                        w.u8(2);
                        h.encode(w);
                    }
                }
                w.str(&d.media_type);
                w.u64(d.byte_length);
                w.str(&d.label);
                w.str(&d.reference);
            }
            Payload::BatchDeposit(b) => {
                w.u8(2);
                b.root.encode(w);
                w.u32(b.count);
                w.u8(b.salted as u8);
                w.str(&b.media_type);
                w.str(&b.label);
                w.str(&b.reference);
            }
            Payload::OpenCase { case_id, title } => {
                w.u8(3);
                w.str(case_id);
                w.str(title);
            }
            Payload::AttachDeposit { case_id, deposit_id } => {
                w.u8(4);
                w.str(case_id);
                deposit_id.encode(w);
            }
            Payload::RecordVerification { case_id, deposit_id, valid, report, note } => {
                w.u8(5);
                w.str(case_id);
                deposit_id.encode(w);
                w.u8(*valid as u8);
                report.encode(w);
                w.str(note);
            }
            Payload::CloseCase { case_id, note } => {
                w.u8(6);
                w.str(case_id);
                w.str(note);
            }
            Payload::Registry { action, approvals } => {
                w.u8(7);
                action.encode(w);
                w.list(approvals, |w, a| {
                    w.u16(a.validator);
                    a.signature.encode(w);
                });
            }
            Payload::Membership { seq, change, approvals } => {
                w.u8(8);
                w.u64(*seq);
                change.encode(w);
                w.list(approvals, |w, a| {
                    a.key.encode(w);
                    a.signature.encode(w);
                });
            }
            Payload::Evidence { evidence } => {
                w.u8(9);
                evidence.encode(w);
            }
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let sender = PublicKey::decode(r)?;
        let nonce = r.u64()?;
        let payload = match r.u8()? {
            1 => {
                let commitment = match r.u8()? {
                    1 => Commitment::Sha256(Hash::decode(r)?),
                    2 => Commitment::Salted(Hash::decode(r)?),
                    t => return Err(r.bad_tag("commitment", t)),
                };
                Payload::Deposit(Deposit {
                    commitment,
                    media_type: r.str("media_type", MAX_MEDIA_TYPE)?,
                    byte_length: r.u64()?,
                    label: r.str("label", MAX_LABEL)?,
                    reference: r.str("reference", MAX_REFERENCE)?,
                })
            }
            2 => Payload::BatchDeposit(BatchDeposit {
                root: Hash::decode(r)?,
                count: r.u32()?,
                salted: read_bool(r, "salted")?,
                media_type: r.str("media_type", MAX_MEDIA_TYPE)?,
                label: r.str("label", MAX_LABEL)?,
                reference: r.str("reference", MAX_REFERENCE)?,
            }),
            3 => Payload::OpenCase { case_id: r.str("case_id", MAX_CASE_ID)?, title: r.str("title", MAX_NOTE)? },
            4 => Payload::AttachDeposit { case_id: r.str("case_id", MAX_CASE_ID)?, deposit_id: Hash::decode(r)? },
            5 => Payload::RecordVerification {
                case_id: r.str("case_id", MAX_CASE_ID)?,
                deposit_id: Hash::decode(r)?,
                valid: read_bool(r, "valid")?,
                report: Hash::decode(r)?,
                note: r.str("note", MAX_NOTE)?,
            },
            6 => Payload::CloseCase { case_id: r.str("case_id", MAX_CASE_ID)?, note: r.str("note", MAX_NOTE)? },
            7 => Payload::Registry {
                action: RegistryAction::decode(r)?,
                approvals: r.list("approvals", MAX_APPROVALS, |r| {
                    Ok(Approval { validator: r.u16()?, signature: Signature::decode(r)? })
                })?,
            },
            8 => Payload::Membership {
                seq: r.u64()?,
                change: MemberChange::decode(r)?,
                approvals: r.list("approvals", MAX_APPROVALS, |r| {
                    Ok(MemberApproval { key: PublicKey::decode(r)?, signature: Signature::decode(r)? })
                })?,
            },
            9 => Payload::Evidence { evidence: Misbehaviour::decode(r)? },
            t => return Err(r.bad_tag("payload", t)),
        };
        Ok(TxBody { sender, nonce, payload })
    }
}

/// A boolean byte: 0 or 1, nothing else.
pub(crate) fn read_bool(r: &mut Reader<'_>, field: &'static str) -> Result<bool> {
    match r.u8()? {
        0 => Ok(false),
        1 => Ok(true),
        b => Err(LedgerError::Decode { what: "bool", reason: format!("{field} byte {b} is neither 0 nor 1") }),
    }
}

impl Canonical for Transaction {
    const WHAT: &'static str = "transaction";
    fn encode(&self, w: &mut Writer) {
        self.body.encode(w);
        self.signature.encode(w);
        w.list(&self.items, |w, h| h.encode(w));
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Transaction {
            body: TxBody::decode(r)?,
            signature: Signature::decode(r)?,
            items: r.list("batch items", MAX_BATCH_ITEMS as usize, Hash::decode)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deposit(media_type: &str, label: &str, reference: &str) -> TxBody {
        TxBody {
            sender: PublicKey([7; 32]),
            nonce: 1,
            payload: Payload::Deposit(Deposit {
                commitment: Commitment::Sha256(Hash::sha256(b"x")),
                media_type: media_type.into(),
                byte_length: 1,
                label: label.into(),
                reference: reference.into(),
            }),
        }
    }

    fn refusal(body: &TxBody) -> (String, &'static str) {
        let e = body.check_fields().unwrap_err();
        let what = match &e {
            LedgerError::Invalid { what, .. } => *what,
            other => panic!("not an invalid_field refusal: {other:?}"),
        };
        (e.to_string(), what)
    }

    #[test]
    fn labels_and_other_text_refuse_controls_bidi_and_invisible_characters() {
        assert!(deposit("application/pdf", "contract 合同 é", "order-1").check_fields().is_ok());
        assert!(deposit("application/pdf", "x", "").check_fields().is_ok(), "an empty reference is fine");
        for bad in [
            "\u{1b}[2J\u{1b}[32mVALID",
            "a\nb",
            "tab\there",
            "del\u{7f}",
            "c1\u{85}",
            "bidi\u{202e}fdp.exe",
            "iso\u{2067}late",
            "lrm\u{200e}",
            "zero\u{200b}width",
            "zwj\u{200d}",
            "bom\u{feff}",
            "tag\u{e0041}",
            "sep\u{2028}",
            "soft\u{ad}hyphen",
        ] {
            let (msg, what) = refusal(&deposit("application/pdf", bad, ""));
            assert_eq!(what, "label", "{bad:?}: {msg}");
            assert!(msg.contains("U+"), "{msg}");
            let (_, what) = refusal(&deposit("application/pdf", "ok", bad));
            assert_eq!(what, "reference");
        }
        let (msg, what) = refusal(&deposit("application/pdf", "", ""));
        assert_eq!((what, msg.contains("empty")), ("label", true), "{msg}");
        let (msg, what) = refusal(&deposit("application/pdf", &"a".repeat(MAX_LABEL + 1), ""));
        assert_eq!(what, "label", "{msg}");
        assert!(deposit("application/pdf", &"a".repeat(MAX_LABEL), "").check_fields().is_ok());
        let close = TxBody {
            sender: PublicKey([7; 32]),
            nonce: 1,
            payload: Payload::CloseCase { case_id: "C-1".into(), note: "done\u{1b}]0;x".into() },
        };
        assert_eq!(refusal(&close).1, "note");
        let open = TxBody {
            sender: PublicKey([7; 32]),
            nonce: 1,
            payload: Payload::OpenCase { case_id: "C-1".into(), title: "A v. B\u{202e}".into() },
        };
        assert_eq!(refusal(&open).1, "title");
    }

    #[test]
    fn media_types_follow_rfc_6838_names_with_token_parameters() {
        for good in [
            "application/pdf",
            "application/octet-stream",
            "text/plain; charset=utf-8",
            "text/plain;charset=UTF-8;format=flowed",
            "application/vnd.ms-excel",
            "image/svg+xml",
            "video/mp4",
        ] {
            assert!(check_media_type(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "pdf",
            "application/",
            "/pdf",
            "a/b/c",
            "text/plain ",
            " text/plain",
            "text/plain;",
            "text/plain; charset",
            "text/plain; charset=\"utf-8\"",
            "text/plain; a=b=c",
            "text/pl\u{1b}ain",
            "text/plain\n",
            "-text/plain",
            "text/plàin",
        ] {
            let e = check_media_type(bad).unwrap_err();
            assert!(matches!(e, LedgerError::Invalid { what: "media_type", .. }), "{bad:?}: {e}");
        }
        assert!(check_media_type(&format!("a/{}", "b".repeat(MAX_MEDIA_TYPE - 2))).is_ok());
        assert!(check_media_type(&format!("a/{}", "b".repeat(MAX_MEDIA_TYPE - 1))).is_err());
    }
}
