//! The network follows the validator set: the peers a node dials and allows are the validators
//! of the set in force at the next height and of the set after it (so a validator that was just
//! added can connect and sync before its activation height, and one that was removed is
//! disconnected once it is in neither). Recomputed at start and after every commit that grows
//! the stored membership history.
//! - A validator whose key was rotated keeps its network identity (the libp2p key is made from
//!   the key file it was started with) until its operator restarts it with the new key file, so
//!   the key it held just before its latest rotation is also allowed, at the same address, as
//!   a network identity only: votes and proposals are checked against the set's keys, never
//!   against the connection's identity.

use std::collections::BTreeMap;

use curia_ledger::crypto::PublicKey;
use curia_ledger::genesis::ChainSpec;
use curia_ledger::hash::Hash;
use curia_ledger::membership::{Membership, ACTIVATION_DELAY};
use curia_storage::Store;
use libp2p::Multiaddr;

use crate::net::NetHandle;
use crate::NodeError;

/// The validator-set history the store holds.
pub fn stored_membership(spec: &ChainSpec, store: &Store) -> Result<Membership, NodeError> {
    let entries = store.member_entries().map_err(|e| NodeError::Storage(e.to_string()))?;
    Membership::with_entries(spec.validator_set.clone(), &entries).map_err(|e| NodeError::Storage(e.to_string()))
}

/// Keys and addresses of the validators in force at `tip + 1` and `tip + 2`; `overrides` (node.toml
/// `[network.addresses]`) replaces a validator's registered address by its name.
pub fn validator_peers(
    m: &Membership,
    tip: u64,
    overrides: &BTreeMap<String, String>,
) -> Result<Vec<(PublicKey, Multiaddr)>, NodeError> {
    let mut out: Vec<(PublicKey, Multiaddr)> = Vec::new();
    for h in [tip + 1, tip + ACTIVATION_DELAY] {
        for v in &m.set_at(h).validators {
            if out.iter().any(|(k, _)| k == &v.key) {
                continue;
            }
            let address = overrides.get(&v.name).unwrap_or(&v.address);
            let addr = crate::net::parse_peer_address(address)
                .map_err(|e| NodeError::Config(format!("validator {} address {address:?}: {e}", v.name)))?;
            out.push((v.key, addr.clone()));
            if let Some(prev) = previous_key(m, &v.key) {
                if !out.iter().any(|(k, _)| k == &prev) {
                    out.push((prev, addr));
                }
            }
        }
    }
    Ok(out)
}

/// The key a validator held just before its latest rotation to `key`, if `key` came by rotation.
fn previous_key(m: &Membership, key: &PublicKey) -> Option<PublicKey> {
    m.entries()
        .filter_map(|e| match &e.change {
            curia_ledger::membership::MemberChange::Rotate { old, new } if new == key => Some(*old),
            _ => None,
        })
        .last()
}

/// Updates the network's peer list when the sets in force at the next two heights change.
#[derive(Debug)]
pub struct PeerFollower {
    sets: (Hash, Hash),
    overrides: BTreeMap<String, String>,
}

impl PeerFollower {
    /// A follower whose network was given the peers of `m` at `tip`.
    pub fn new(m: &Membership, tip: u64, overrides: BTreeMap<String, String>) -> Self {
        PeerFollower { sets: (m.set_at(tip + 1).hash, m.set_at(tip + ACTIVATION_DELAY).hash), overrides }
    }

    /// After the commit of block `tip`: if the sets in force at `tip + 1` or `tip + 2` differ
    /// from those the network follows, give it its new peers.
    pub fn after_commit(&mut self, spec: &ChainSpec, store: &Store, net: &NetHandle, tip: u64) {
        let r = stored_membership(spec, store).and_then(|m| {
            let sets = (m.set_at(tip + 1).hash, m.set_at(tip + ACTIVATION_DELAY).hash);
            if sets == self.sets {
                return Ok(());
            }
            self.sets = sets;
            let peers = validator_peers(&m, tip, &self.overrides)?;
            tracing::info!(tip, validators = m.set_at(tip + ACTIVATION_DELAY).len(), "validator set changed");
            net.set_peers(&peers)
        });
        if let Err(e) = r {
            tracing::warn!(error = %e, "cannot update the peer list after a membership change");
        }
    }
}
