//! Learn from peers before voting (the consensus machine's rule S4).
//!
//! A validator restored from an old backup has forgotten the votes it signed after the backup.
//! Its signing record (`crate::signing`, rule S3) keeps it from signing there again, but only
//! if the record survived (a machine rebuilt from a backup elsewhere has none). So every
//! validator also holds signing at start until it knows where the network is:
//!
//! Rules:
//! - Every node tells each peer its committed tip height in a status frame
//!   ([`STATUS_FRAME`]: the tag byte then `u64` height, big-endian): when the peer connects and
//!   after every commit. A frame of any other length is ignored (counted as `bad_frame`).
//! - A report counts only from a connection whose libp2p identity is a validator of the set in
//!   force at the next height (or the key it held before its latest rotation); the newest
//!   report per validator wins. A report is a claim, not a proof: it only decides when this
//!   node starts signing, never what it signs.
//! - The quorum height is the highest height `Q` such that the peers reporting `Q` or more,
//!   together with this validator's own power, hold a quorum of the set's power
//!   ([`quorum_height`]). This validator's own height does not count as a report: it is the one
//!   in doubt (counting it would let a lagging node vouch for itself).
//! - Signing is released once a quorum height is known and this node's tip is within one height
//!   of it (`tip + 1 >= Q`); or, failing that, once the bounded wait (`[consensus]
//!   peer_wait_ms`, default 10 s) has passed since start, with a warning in the log. Until then
//!   the machine signs nothing new (its votes restored from the store's log are still re-sent);
//!   catch-up runs as usual, so a lagging node fetches the missing blocks meanwhile.
//! - Once released, the gate stays open for the life of the process.

use std::collections::HashMap;
use std::time::Duration;

use curia_ledger::crypto::PublicKey;
use curia_ledger::membership::ValidatorSet;

/// Frame tag of a status frame (the sender's committed tip height).
pub const STATUS_FRAME: u8 = 3;

/// The status frame for committed tip `tip`.
pub fn status_frame(tip: u64) -> Vec<u8> {
    let mut f = Vec::with_capacity(9);
    f.push(STATUS_FRAME);
    f.extend_from_slice(&tip.to_be_bytes());
    f
}

/// The tip a status frame's body (after the tag byte) reports, if it has the right length.
pub fn parse_status(body: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(body.try_into().ok()?))
}

/// The highest height `Q` such that the peers of `set` reporting `Q` or more, with the power of
/// this validator's keys `me` added, hold a quorum of `set`'s power (module rules). `height_of`
/// gives each peer's reported height, `None` if unheard. `None` when the peers heard are not
/// enough for a quorum; `Some(0)` when this validator alone holds one.
pub fn quorum_height(
    set: &ValidatorSet,
    me: &[PublicKey],
    height_of: impl Fn(&PublicKey) -> Option<u64>,
) -> Option<u64> {
    let mut power: u64 = set.validators.iter().filter(|v| me.contains(&v.key)).map(|v| v.power).sum();
    if power >= set.quorum_power() {
        return Some(0);
    }
    let mut known: Vec<(u64, u64)> = set
        .validators
        .iter()
        .filter(|v| !me.contains(&v.key))
        .filter_map(|v| height_of(&v.key).map(|h| (h, v.power)))
        .collect();
    known.sort_unstable_by_key(|k| std::cmp::Reverse(k.0));
    for (h, p) in known {
        power += p;
        if power >= set.quorum_power() {
            return Some(h);
        }
    }
    None
}

/// Why signing was released.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Release {
    /// A quorum reported `quorum_height` and this node's tip `tip` is within one height of it.
    CaughtUp {
        /// The quorum height.
        quorum_height: u64,
        /// This node's tip.
        tip: u64,
    },
    /// The bounded wait passed first; `quorum_height` is what was known then, if anything.
    TimedOut {
        /// The quorum height known at that moment.
        quorum_height: Option<u64>,
        /// This node's tip.
        tip: u64,
    },
}

/// The gate of one process (module rules).
#[derive(Debug)]
pub struct PeerGate {
    wait: Duration,
    reports: HashMap<PublicKey, u64>,
    released: Option<Release>,
}

impl PeerGate {
    /// A closed gate with bounded wait `wait`.
    pub fn new(wait: Duration) -> Self {
        PeerGate { wait, reports: HashMap::new(), released: None }
    }

    /// The bounded wait.
    pub fn wait(&self) -> Duration {
        self.wait
    }

    /// Whether signing was released, and why.
    pub fn released(&self) -> Option<Release> {
        self.released
    }

    /// Validator `key` reports committed tip `tip`.
    pub fn report(&mut self, key: PublicKey, tip: u64) {
        self.reports.insert(key, tip);
    }

    /// Decide with this node's keys `me`, its tip, the set in force at its next height and the
    /// time since start. Returns the release the first time the gate opens, `None` otherwise.
    pub fn decide(&mut self, set: &ValidatorSet, me: &[PublicKey], tip: u64, elapsed: Duration) -> Option<Release> {
        if self.released.is_some() {
            return None;
        }
        let q = quorum_height(set, me, |k| self.reports.get(k).copied());
        let release = match q {
            Some(quorum_height) if tip + 1 >= quorum_height => Release::CaughtUp { quorum_height, tip },
            _ if elapsed >= self.wait => Release::TimedOut { quorum_height: q, tip },
            _ => return None,
        };
        self.released = Some(release);
        Some(release)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use curia_ledger::testkit::{test_genesis, test_key};

    fn key(i: usize) -> PublicKey {
        test_key(&format!("v{i}")).public()
    }

    #[test]
    fn status_frames_round_trip_and_bad_lengths_are_refused() {
        let f = status_frame(812);
        assert_eq!((f[0], parse_status(&f[1..])), (STATUS_FRAME, Some(812)));
        assert_eq!(parse_status(&f[1..8]), None);
        assert_eq!(parse_status(&[0; 9]), None);
    }

    #[test]
    fn the_quorum_height_is_what_a_quorum_reaches() {
        let spec = test_genesis(4).into_spec().unwrap();
        let set = &spec.validator_set;
        let heights = |hs: [Option<u64>; 4]| move |k: &PublicKey| (0..4).find(|i| key(*i) == *k).and_then(|i| hs[i]);
        let me = [key(3)];
        // Quorum is 3 of 4: this validator and the two highest peers; its own height (the last
        // entry) is never a report.
        assert_eq!(quorum_height(set, &me, heights([Some(100), Some(90), Some(5), Some(0)])), Some(90));
        assert_eq!(quorum_height(set, &me, heights([Some(100), None, Some(5), Some(999)])), Some(5));
        // One peer heard: not enough to know.
        assert_eq!(quorum_height(set, &me, heights([Some(100), None, None, Some(95)])), None);
        // Holding a quorum alone: nothing to wait for.
        assert_eq!(quorum_height(set, &[key(0), key(1), key(3)], heights([None; 4])), Some(0));
    }

    #[test]
    fn the_gate_opens_when_caught_up_or_after_the_wait() {
        let spec = test_genesis(4).into_spec().unwrap();
        let set = &spec.validator_set;
        let me = [key(3)];
        let mut g = PeerGate::new(Duration::from_secs(10));
        let s = Duration::from_secs(1);
        // Nothing heard: closed.
        assert_eq!(g.decide(set, &me, 5, s), None);
        // Peers far ahead: closed while this node is behind, even with a quorum heard.
        for i in 0..3 {
            g.report(key(i), 100);
        }
        assert_eq!(g.decide(set, &me, 5, s), None);
        assert_eq!(g.decide(set, &me, 98, s), None);
        // Within one height: open, once.
        assert_eq!(g.decide(set, &me, 99, s), Some(Release::CaughtUp { quorum_height: 100, tip: 99 }));
        assert_eq!(g.decide(set, &me, 99, s), None);
        assert!(g.released().is_some());

        // A fresh network: every tip 0, so the gate opens as soon as a quorum is heard.
        let mut g = PeerGate::new(Duration::from_secs(10));
        g.report(key(0), 0);
        assert_eq!(g.decide(set, &me, 0, s), None, "me and one peer are not a quorum");
        g.report(key(1), 0);
        assert_eq!(g.decide(set, &me, 0, s), Some(Release::CaughtUp { quorum_height: 0, tip: 0 }));

        // Nobody heard: the bounded wait opens it, saying so. A report from a key outside the
        // set does not count.
        let mut g = PeerGate::new(Duration::from_secs(10));
        g.report(test_key("stranger").public(), 7);
        assert_eq!(g.decide(set, &me, 3, Duration::from_secs(9)), None);
        assert_eq!(
            g.decide(set, &me, 3, Duration::from_secs(10)),
            Some(Release::TimedOut { quorum_height: None, tip: 3 })
        );
    }
}
