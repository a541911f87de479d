//! Validator-set changes in the simulator: the changes a scenario plans, the real membership
//! transactions that carry them, and the simulator's own model of the set in force at each
//! height.
//!
//! Rules (docs/protocol.md "Membership" and "The simulator"):
//! - A planned change is sent as a real `membership` transaction by the chain's registrar, with
//!   sequence number = the number of changes committed so far and approvals signed by every
//!   validator of the set in force (the simulator holds every key). It goes into the transaction
//!   sources (mempools) of the running instances and reaches the chain only through a proposer's
//!   `build_block` and every other validator's `apply_block`, like any transaction. Until it is
//!   committed the registrar sends it again every [`RESEND_MS`] (a crash empties a mempool).
//!   One change at a time: a change is sent only once the one before it is in force.
//! - [`SetModel`] is computed from the chain spec and the changes found in committed blocks
//!   alone, with this module's own code (not `curia_ledger::membership`, not read from any
//!   replica): a change committed in block `h` is in force from `h + ACTIVATION` (2); `add`
//!   appends, `remove` deletes (later indices move down by one), `rotate` replaces the key in
//!   place, `power` changes the power in place. Quorum: more than two thirds of the power; the
//!   weak threshold `f + 1` is `total - quorum + 1`.
//! - Every committed change must carry approvals by distinct members of the set in force at its
//!   height holding more than two thirds of its power ([`SetModel::check_approvals`]).

use std::sync::Arc;

use curia_ledger::crypto::{PublicKey, SecretKey};
use curia_ledger::genesis::{ChainSpec, Validator, ValidatorRole};
use curia_ledger::membership::{approval_hash, MemberApproval, MemberChange, ValidatorSet};
use curia_ledger::testkit::test_key;
use curia_ledger::tx::{Payload, Transaction, TxBody};
use curia_ledger::Hash;

/// A change committed in block `h` is in force from height `h + ACTIVATION` (docs/protocol.md
/// "Membership"; deliberately not `curia_ledger::membership::ACTIVATION_DELAY`).
pub const ACTIVATION: u64 = 2;

/// How often the registrar sends a change again until it is committed (virtual ms).
pub const RESEND_MS: u64 = 400;

/// What a planned change does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Instance `instance` (not in the genesis set, key `v<instance>`) is added with this power
    /// and role.
    Join {
        /// The joining instance.
        instance: usize,
        /// Its power.
        power: u64,
        /// Its role.
        role: ValidatorRole,
    },
    /// The validator that, with the change committed in the next block, would propose the
    /// first round of its activation height under the current set is removed (chosen when the
    /// change is sent). Its instance stops at the activation height if `stop`, else runs on as a
    /// follower.
    RemoveNextProposer {
        /// Stop the removed validator's node at its activation height.
        stop: bool,
    },
    /// Genesis validator `instance` gets a new key (`v<instance>-rotated`); its operator
    /// restarts the node with the new key file at the moment `swap` says.
    Rotate {
        /// The instance.
        instance: usize,
        /// When the node is restarted with the new key.
        swap: Swap,
    },
    /// Genesis validator `instance`'s power becomes `power`, which moves the quorum.
    Power {
        /// The instance.
        instance: usize,
        /// The new power.
        power: u64,
    },
}

/// When a rotated validator's node is restarted with its new key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Swap {
    /// As soon as it commits the change (it sits out the height before activation).
    AtCommit,
    /// As soon as it commits the block before the activation height.
    AtActivation,
    /// This many ms after it reaches the activation height (it sits out meanwhile).
    Late(u64),
}

/// A change the scenario sends at `at_ms` (or, if a change before it is not yet in force then,
/// as soon as it is).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Planned {
    /// When the registrar first sends it.
    pub at_ms: u64,
    /// The change.
    pub op: Op,
}

/// The rotated key of instance `i`.
pub fn rotated_key(i: usize) -> SecretKey {
    test_key(&format!("v{i}-rotated"))
}

/// The membership transaction for change number `seq`, approved by `approvers`, sent by the
/// registrar.
pub fn member_tx(spec: &ChainSpec, seq: u64, change: MemberChange, approvers: &[SecretKey]) -> Transaction {
    let msg = approval_hash(&spec.chain_id, seq, &change);
    let approvals = approvers.iter().map(|k| MemberApproval { key: k.public(), signature: k.sign(&msg) }).collect();
    let registrar = test_key("registrar");
    TxBody {
        sender: registrar.public(),
        nonce: 1_000_000 + seq,
        payload: Payload::Membership { seq, change, approvals },
    }
    .sign(&spec.chain_id, &registrar)
}

/// The new validator an `Op::Join` adds.
pub fn joining_validator(instance: usize, power: u64, role: ValidatorRole) -> Validator {
    Validator {
        name: format!("v{instance}"),
        role,
        key: test_key(&format!("v{instance}")).public(),
        power,
        address: format!("/ip4/127.0.0.1/tcp/{}", 27000 + instance),
    }
}

/// The validator set in force at each height, as the simulator computes it.
#[derive(Clone, Debug)]
pub struct SetModel {
    /// `(first height in force, set)`, in order; the first is the genesis set from height 0.
    sets: Vec<(u64, Arc<ValidatorSet>)>,
    /// Changes committed so far, with the height of the block that committed each.
    committed: Vec<(u64, MemberChange)>,
}

impl SetModel {
    /// The model of a chain with no change yet.
    pub fn new(spec: &ChainSpec) -> SetModel {
        SetModel { sets: vec![(0, Arc::new(set_of(spec.genesis.validators.clone())))], committed: Vec::new() }
    }

    /// The set in force at `height` (for heights up to the last committed height + 2).
    pub fn set_at(&self, height: u64) -> &Arc<ValidatorSet> {
        &self.sets.iter().rev().find(|(from, _)| *from <= height).expect("the genesis set is in force from 0").1
    }

    /// The set after every committed change.
    pub fn latest(&self) -> &Arc<ValidatorSet> {
        &self.sets.last().expect("never empty").1
    }

    /// Changes committed so far (the next change's sequence number).
    pub fn len(&self) -> u64 {
        self.committed.len() as u64
    }

    /// Whether no change was committed.
    pub fn is_empty(&self) -> bool {
        self.committed.is_empty()
    }

    /// The committed changes with their heights.
    pub fn committed(&self) -> &[(u64, MemberChange)] {
        &self.committed
    }

    /// Record `change`, committed in block `height`: it is in force from `height + ACTIVATION`.
    /// Err if it cannot apply to the latest set (a change the ledger should have refused).
    pub fn commit(&mut self, height: u64, change: &MemberChange) -> Result<(), String> {
        let mut vs = self.latest().validators.clone();
        let pos = |vs: &[Validator], k: &PublicKey| {
            vs.iter()
                .position(|v| &v.key == k)
                .ok_or_else(|| format!("{} names a key not in the set", change.describe()))
        };
        match change {
            MemberChange::Add { validator } => vs.push(validator.clone()),
            MemberChange::Remove { key } => {
                let i = pos(&vs, key)?;
                vs.remove(i);
            }
            MemberChange::Rotate { old, new } => {
                let i = pos(&vs, old)?;
                vs[i].key = *new;
            }
            MemberChange::Power { key, power } => {
                let i = pos(&vs, key)?;
                vs[i].power = *power;
            }
        }
        self.committed.push((height, change.clone()));
        self.sets.push((height + ACTIVATION, Arc::new(set_of(vs))));
        Ok(())
    }

    /// Approvals of change `seq` committed at `height`: distinct members of the set in force
    /// there, each signature valid, more than two thirds of its power.
    pub fn check_approvals(
        &self,
        chain_id: &Hash,
        height: u64,
        seq: u64,
        change: &MemberChange,
        approvals: &[MemberApproval],
    ) -> Result<(), String> {
        let set = self.set_at(height);
        let msg = approval_hash(chain_id, seq, change);
        let mut seen: Vec<PublicKey> = Vec::new();
        let mut power = 0u64;
        for a in approvals {
            let Some(v) = set.validators.iter().find(|v| v.key == a.key) else {
                return Err(format!("approval by {}, not in the set in force at height {height}", a.key));
            };
            if seen.contains(&a.key) {
                return Err(format!("two approvals by {}", a.key));
            }
            seen.push(a.key);
            a.key.verify("membership approval", &msg, &a.signature).map_err(|e| e.to_string())?;
            power += v.power;
        }
        let total: u64 = set.validators.iter().map(|v| v.power).sum();
        if power * 3 <= total * 2 {
            return Err(format!("approvals hold power {power} of {total}, not more than two thirds"));
        }
        Ok(())
    }
}

/// Powers of `set` in index order, and its weak threshold `f + 1` (total - quorum + 1, with a
/// quorum of more than two thirds).
pub fn powers_and_weak(set: &ValidatorSet) -> (Vec<u64>, u64) {
    let powers: Vec<u64> = set.validators.iter().map(|v| v.power).collect();
    let total: u64 = powers.iter().sum();
    let quorum = total * 2 / 3 + 1;
    (powers, total - quorum + 1)
}

/// A set from a list of validators: its total power and hash are the ledger's encoding (for
/// `verify_in`); which validators, in which order and with which power, is this module's.
fn set_of(validators: Vec<Validator>) -> ValidatorSet {
    ValidatorSet::new(validators)
}

#[cfg(test)]
mod tests {
    use super::*;
    use curia_ledger::testkit::test_genesis;

    #[test]
    fn changes_take_effect_two_heights_after_their_block() {
        let spec = test_genesis(4).into_spec().unwrap();
        let mut m = SetModel::new(&spec);
        let k0 = spec.genesis.validators[0].key;
        m.commit(5, &MemberChange::Add { validator: joining_validator(4, 2, ValidatorRole::Forensic) }).unwrap();
        assert_eq!(m.set_at(6).len(), 4);
        assert_eq!(m.set_at(7).len(), 5);
        assert_eq!(powers_and_weak(m.set_at(7)), (vec![1, 1, 1, 1, 2], 2));
        m.commit(9, &MemberChange::Remove { key: k0 }).unwrap();
        assert_eq!(m.set_at(10).validators[0].key, k0);
        assert_eq!(m.set_at(11).validators[0].key, spec.genesis.validators[1].key, "indices move down");
        assert!(m.commit(12, &MemberChange::Remove { key: k0 }).is_err(), "not in the set any more");
        // Approvals: three of the four in force at height 3 (genesis) are enough, two are not.
        let change = MemberChange::Power { key: spec.genesis.validators[1].key, power: 3 };
        let keys: Vec<SecretKey> = (0..4).map(|i| test_key(&format!("v{i}"))).collect();
        let tx = member_tx(&spec, 2, change.clone(), &keys[..3]);
        let Payload::Membership { approvals, .. } = &tx.body.payload else { unreachable!() };
        assert!(m.check_approvals(&spec.chain_id, 3, 2, &change, approvals).is_ok());
        assert!(m.check_approvals(&spec.chain_id, 3, 2, &change, &approvals[..2]).is_err());
        assert!(m.check_approvals(&spec.chain_id, 3, 1, &change, approvals).is_err(), "other seq");
        // At height 11 validator 0 is gone: its approval is not a member's.
        assert!(m.check_approvals(&spec.chain_id, 11, 2, &change, approvals).is_err());
    }
}
