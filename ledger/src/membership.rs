//! Membership: the validator set in force at each height, and the transactions that change it.
//!
//! Rules (the byte layouts are in `docs/receipt-format.md` 4.1.2, the timing in
//! `docs/protocol.md` "Membership"):
//! - The set at height 1 is the genesis set. A membership transaction (payload `membership`, sent
//!   by a registrar) carries one change (`add`, `remove`, `rotate`, `power`), its sequence number
//!   (the number of changes committed before it, so every change is approved for one place in the
//!   history and approvals cannot be replayed) and approvals: ed25519 signatures by validator keys
//!   over `tagged("curia/v1/membership", chain_id || u64 seq || change)`.
//! - The approvals must come from distinct members of the set in force at the height of the block
//!   that commits the change, holding together more than two thirds of that set's power.
//! - A change committed in block `h` takes effect at height `h + ACTIVATION_DELAY` (`h + 2`):
//!   block `h + 1`'s header already names the next set, so every header can commit to the set in
//!   force (`validators_hash`) and the next one (`next_validators_hash`).
//! - A change applies to the set left by every change committed before it (the latest set, not
//!   necessarily the one in force). It is refused, changing nothing, when: `add` names a key in
//!   the set, a key ever used by a validator of this chain, a client's key, a key that is not an
//!   acceptable ed25519 key (small order or not canonical), a name in the set, or a power out of
//!   range, or the set is full; `remove`, `rotate` or `power` names a key not in the set;
//!   `rotate` names a new key used before (by any validator, ever) or a client's key; a `remove`
//!   or `power` change would leave fewer than [`MIN_VALIDATORS`] validators or no court (a
//!   `remove` only; `power` never changes the count).
//! - Validators keep their place (index) in the set: `add` appends, `remove` deletes (later
//!   indices move down by one), `rotate` and `power` change the entry in place.

use std::collections::HashSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::codec::{Canonical, Reader, Writer};
use crate::crypto::{PublicKey, Signature};
use crate::genesis::{check_name, validators_hash, Validator, ValidatorRole};
use crate::hash::{Hash, TAG_MEMBERSHIP};
use crate::limits::{MAX_NAME, MAX_POWER, MAX_VALIDATORS};
use crate::{LedgerError, Result};

/// A change committed at height `h` is in force from height `h + ACTIVATION_DELAY`.
pub const ACTIVATION_DELAY: u64 = 2;
/// A membership change may not leave fewer validators than this.
pub const MIN_VALIDATORS: usize = 4;

/// A validator set with its hash and total power.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSet {
    /// The validators, in index order.
    pub validators: Vec<Validator>,
    /// `tagged("curia/v1/validators", ...)` of the set (receipt format 3.3).
    pub hash: Hash,
    /// Sum of the powers.
    pub total_power: u64,
}

impl ValidatorSet {
    /// The set of these validators (not checked: callers check entries).
    pub fn new(validators: Vec<Validator>) -> Self {
        let hash = validators_hash(&validators);
        let total_power = validators.iter().map(|v| v.power).sum();
        ValidatorSet { validators, hash, total_power }
    }
    /// Index of the validator with this key.
    pub fn index_of(&self, key: &PublicKey) -> Option<usize> {
        self.validators.iter().position(|v| &v.key == key)
    }
    /// The validator at `index`.
    pub fn get(&self, index: usize) -> Option<&Validator> {
        self.validators.get(index)
    }
    /// Number of validators.
    pub fn len(&self) -> usize {
        self.validators.len()
    }
    /// Whether the set is empty (never, for a valid chain).
    pub fn is_empty(&self) -> bool {
        self.validators.is_empty()
    }
    /// Smallest voting power that is a quorum: more than two thirds of the total.
    pub fn quorum_power(&self) -> u64 {
        self.total_power * 2 / 3 + 1
    }
}

/// One change to the validator set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum MemberChange {
    /// Append a validator.
    Add {
        /// The new validator (name, role, key, power, address).
        validator: Validator,
    },
    /// Remove the validator with this key.
    Remove {
        /// Its key.
        key: PublicKey,
    },
    /// Replace a validator's key; name, role, power and place stay.
    Rotate {
        /// Current key.
        old: PublicKey,
        /// New key, never used by a validator of this chain before.
        new: PublicKey,
    },
    /// Change a validator's voting power.
    Power {
        /// Its key.
        key: PublicKey,
        /// New power, 1 to 2^40.
        power: u64,
    },
}

/// A validator's approval of a membership change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberApproval {
    /// The approving validator's key (a member of the set in force when the change commits).
    pub key: PublicKey,
    /// Signature over [`approval_hash`].
    pub signature: Signature,
}

impl MemberChange {
    /// Canonical encoding (receipt format 4.1.2).
    pub fn encode(&self, w: &mut Writer) {
        match self {
            MemberChange::Add { validator: v } => {
                w.u8(1);
                w.str(&v.name);
                w.u8(v.role as u8);
                v.key.encode(w);
                w.u64(v.power);
                w.str(&v.address);
            }
            MemberChange::Remove { key } => {
                w.u8(2);
                key.encode(w);
            }
            MemberChange::Rotate { old, new } => {
                w.u8(3);
                old.encode(w);
                new.encode(w);
            }
            MemberChange::Power { key, power } => {
                w.u8(4);
                key.encode(w);
                w.u64(*power);
            }
        }
    }

    /// Decode one change.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self> {
        Ok(match r.u8()? {
            1 => {
                let name = r.str("validator name", MAX_NAME)?;
                let t = r.u8()?;
                let role = ValidatorRole::from_u8(t).ok_or_else(|| r.bad_tag("validator role", t))?;
                let key = PublicKey::decode(r)?;
                let power = r.u64()?;
                let address = r.str("validator address", MAX_NAME * 4)?;
                MemberChange::Add { validator: Validator { name, role, key, power, address } }
            }
            2 => MemberChange::Remove { key: PublicKey::decode(r)? },
            3 => MemberChange::Rotate { old: PublicKey::decode(r)?, new: PublicKey::decode(r)? },
            4 => MemberChange::Power { key: PublicKey::decode(r)?, power: r.u64()? },
            t => return Err(r.bad_tag("membership change", t)),
        })
    }

    /// One line for people.
    pub fn describe(&self) -> String {
        match self {
            MemberChange::Add { validator: v } => {
                format!("add {} ({}, power {}, key {})", v.name, v.role.as_str(), v.power, v.key)
            }
            MemberChange::Remove { key } => format!("remove {key}"),
            MemberChange::Rotate { old, new } => format!("rotate {old} to {new}"),
            MemberChange::Power { key, power } => format!("set power of {key} to {power}"),
        }
    }
}

/// What validators sign to approve change number `seq` on chain `chain_id`.
pub fn approval_hash(chain_id: &Hash, seq: u64, change: &MemberChange) -> Hash {
    let mut w = Writer::new();
    change.encode(&mut w);
    Hash::tagged(TAG_MEMBERSHIP, &[&chain_id.0, &seq.to_be_bytes(), &w.into_bytes()])
}

/// Check approvals against the set in force: distinct members, valid signatures (strict, one by
/// one), more than two thirds of the power. Returns the approving power.
pub fn check_member_approvals(
    chain_id: &Hash,
    in_force: &ValidatorSet,
    seq: u64,
    change: &MemberChange,
    approvals: &[MemberApproval],
) -> Result<u64> {
    let msg = approval_hash(chain_id, seq, change);
    let mut seen = HashSet::new();
    let mut power = 0u64;
    for a in approvals {
        let i = in_force.index_of(&a.key).ok_or_else(|| LedgerError::ApprovalNotMember(a.key.to_string()))?;
        if !seen.insert(a.key) {
            return Err(LedgerError::DuplicateApproval(a.key.to_string()));
        }
        a.key.verify("membership approval", &msg, &a.signature)?;
        power += in_force.validators[i].power;
    }
    if power < in_force.quorum_power() {
        return Err(LedgerError::NotEnoughApprovalPower { got: power, needed: in_force.quorum_power() });
    }
    Ok(power)
}

/// A committed change: its sequence number is its position in the history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberEntry {
    /// Height of the block that committed it.
    pub height: u64,
    /// The change.
    pub change: MemberChange,
}

impl MemberEntry {
    /// The first height at which the change is in force.
    pub fn effective_height(&self) -> u64 {
        self.height + ACTIVATION_DELAY
    }
}

/// The validator-set history of a chain: the genesis set and every committed change, with the
/// set each change leaves.
#[derive(Clone, Debug)]
pub struct Membership {
    genesis: Arc<ValidatorSet>,
    entries: Vec<(MemberEntry, Arc<ValidatorSet>)>,
    used: HashSet<PublicKey>,
}

impl Membership {
    /// The history of a chain whose genesis set is `genesis` and no change yet.
    pub fn new(genesis: Arc<ValidatorSet>) -> Self {
        let used = genesis.validators.iter().map(|v| v.key).collect();
        Membership { genesis, entries: Vec::new(), used }
    }

    /// The history after `entries`, each checked as when it was committed (except approvals,
    /// which the blocks that committed them proved).
    pub fn with_entries(genesis: Arc<ValidatorSet>, entries: &[MemberEntry]) -> Result<Self> {
        let mut m = Membership::new(genesis);
        for e in entries {
            m.push(e.clone(), &|_| Ok(false))?;
        }
        Ok(m)
    }

    /// Number of committed changes (the next change's sequence number).
    pub fn len(&self) -> u64 {
        self.entries.len() as u64
    }
    /// Whether no change was ever committed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    /// The committed changes, in order.
    pub fn entries(&self) -> impl Iterator<Item = &MemberEntry> {
        self.entries.iter().map(|(e, _)| e)
    }
    /// The genesis set.
    pub fn genesis(&self) -> &Arc<ValidatorSet> {
        &self.genesis
    }

    /// The set in force at `height` (heights 0 and 1: the genesis set). Correct for every height
    /// up to the committed tip + [`ACTIVATION_DELAY`] once the history holds every committed
    /// change.
    pub fn set_at(&self, height: u64) -> &Arc<ValidatorSet> {
        self.entries.iter().rev().find(|(e, _)| e.effective_height() <= height).map(|(_, s)| s).unwrap_or(&self.genesis)
    }

    /// The set after every committed change (what the next change applies to).
    pub fn latest(&self) -> &Arc<ValidatorSet> {
        self.entries.last().map(|(_, s)| s).unwrap_or(&self.genesis)
    }

    /// Whether some change takes effect at or before `height` (headers from then on are version
    /// 3 and name the next set).
    pub fn changed_by(&self, height: u64) -> bool {
        self.entries.first().is_some_and(|(e, _)| e.effective_height() <= height)
    }

    /// Whether `key` was ever a validator key of this chain.
    pub fn key_used(&self, key: &PublicKey) -> bool {
        self.used.contains(key)
    }

    /// Apply `entry` to the latest set, refusing (and changing nothing) if a rule of the module
    /// breaks; `is_client` says whether a key is a registered client's (its error, a failed
    /// state read, is returned as it is). Returns the new set.
    pub fn push(
        &mut self,
        entry: MemberEntry,
        is_client: &dyn Fn(&PublicKey) -> Result<bool>,
    ) -> Result<Arc<ValidatorSet>> {
        if let Some((last, _)) = self.entries.last() {
            if entry.height < last.height {
                return Err(LedgerError::Invalid {
                    what: "membership entry",
                    reason: format!("height {} is below the previous entry's {}", entry.height, last.height),
                });
            }
        }
        let next = Arc::new(self.apply(&entry.change, is_client)?);
        match &entry.change {
            MemberChange::Add { validator } => {
                self.used.insert(validator.key);
            }
            MemberChange::Rotate { new, .. } => {
                self.used.insert(*new);
            }
            _ => {}
        }
        self.entries.push((entry, next.clone()));
        Ok(next)
    }

    /// The set `change` leaves on top of the latest set, or the rule it breaks.
    pub fn apply(&self, change: &MemberChange, is_client: &dyn Fn(&PublicKey) -> Result<bool>) -> Result<ValidatorSet> {
        let cur = self.latest();
        let mut vs = cur.validators.clone();
        let member = |k: &PublicKey| cur.index_of(k).ok_or_else(|| LedgerError::NotAValidator(k.to_string()));
        let fresh = |k: &PublicKey| -> Result<()> {
            k.check()?;
            if cur.index_of(k).is_some() {
                return Err(LedgerError::ValidatorKeyInUse(k.to_string()));
            }
            if self.key_used(k) {
                return Err(LedgerError::ValidatorKeyUsedBefore(k.to_string()));
            }
            if is_client(k)? {
                return Err(LedgerError::ValidatorKeyInUse(format!("{k} (a client's key)")));
            }
            Ok(())
        };
        let power_ok = |p: u64| {
            if p == 0 || p > MAX_POWER {
                return Err(LedgerError::Invalid { what: "power", reason: format!("{p} is not in 1..={MAX_POWER}") });
            }
            Ok(())
        };
        match change {
            MemberChange::Add { validator: v } => {
                check_name("validator name", &v.name)?;
                if v.address.len() > MAX_NAME * 4 {
                    return Err(LedgerError::Invalid { what: "validator address", reason: "too long".into() });
                }
                fresh(&v.key)?;
                power_ok(v.power)?;
                if vs.iter().any(|o| o.name == v.name) {
                    return Err(LedgerError::Invalid {
                        what: "validator name",
                        reason: format!("{} is already a validator's name", v.name),
                    });
                }
                if vs.len() >= MAX_VALIDATORS {
                    return Err(LedgerError::TooLarge {
                        what: "validator set",
                        len: vs.len() as u64 + 1,
                        max: MAX_VALIDATORS as u64,
                    });
                }
                vs.push(v.clone());
            }
            MemberChange::Remove { key } => {
                let i = member(key)?;
                vs.remove(i);
                if vs.len() < MIN_VALIDATORS {
                    return Err(LedgerError::TooFewValidators { left: vs.len(), min: MIN_VALIDATORS });
                }
                if !vs.iter().any(|v| v.role == ValidatorRole::Court) {
                    return Err(LedgerError::NoCourtLeft);
                }
            }
            MemberChange::Rotate { old, new } => {
                let i = member(old)?;
                fresh(new)?;
                vs[i].key = *new;
            }
            MemberChange::Power { key, power } => {
                let i = member(key)?;
                power_ok(*power)?;
                vs[i].power = *power;
            }
        }
        Ok(ValidatorSet::new(vs))
    }
}
