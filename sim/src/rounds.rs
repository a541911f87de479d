//! The round rules checked from the outside, on every honest instance after every input.
//!
//! A validator's round at a height changes only by these rules (docs/protocol.md):
//! - **L65** (timeout precommit): from `r` to `r + 1`, when the precommit timeout of `(h, r)`
//!   fires;
//! - **L55** (round skip): to a round `r` that validators holding at least the weak threshold of
//!   power (`f + 1`: the least power no quorum can avoid) have sent verified messages for, i.e.
//!   each of them sent a vote or proposal of this height for a round `>= r`;
//! - **L49** (decide): to round 0 of the next height (and from there only by L55 within the same
//!   input, through messages buffered for that height);
//! - **S1** (restart): to the round its own persisted votes imply (the watch starts again).
//!
//! The simulator knows every message it delivered to an instance, so [`RoundWatch`] keeps,
//! per instance, the highest round each validator was seen at in what was delivered for the
//! instance's current height and the next one (the only heights the machine records or buffers).
//! A message counts if its signature verifies (checked only for messages from Byzantine senders:
//! an honest instance's bytes reach others unchanged). This over-approximates what the machine
//! counts (it may drop duplicates or buffered messages beyond its bound), so a correct machine
//! always passes; a machine that skips rounds on less than `f + 1` validators fails at the first
//! such skip, with the rounds and the evidence it had.

use std::collections::BTreeMap;

/// What one instance was seen to receive, and its last observed position.
#[derive(Clone, Debug, Default)]
pub struct RoundWatch {
    /// Per height: the highest round each validator sent a verified vote or proposal for.
    seen: BTreeMap<u64, Vec<Option<u32>>>,
    /// The (height, round) after the instance's previous input; `None` until booted.
    last: Option<(u64, u32)>,
}

impl RoundWatch {
    /// The instance (re)started at `(height, round)`: its round there comes from its own votes
    /// (rule S1), so it is the new starting point. What it received before is kept: a restart
    /// forgets messages, so this only over-approximates the machine's knowledge.
    pub fn boot(&mut self, height: u64, round: u32) {
        self.last = Some((height, round));
    }

    /// A verified message of `validator` for `(height, round)` was delivered to the instance,
    /// which is at `current` height.
    pub fn saw(&mut self, current: u64, height: u64, validator: usize, round: u32, n: usize) {
        if height != current && height != current + 1 {
            return;
        }
        let row = self.seen.entry(height).or_insert_with(|| vec![None; n]);
        if let Some(slot) = row.get_mut(validator) {
            if slot.is_none_or(|r| round > r) {
                *slot = Some(round);
            }
        }
        // Heights below the current one are never looked at again.
        self.seen = self.seen.split_off(&current);
    }

    /// Power of the validators seen at `height` in a round `>= round`.
    fn power_at_or_above(&self, height: u64, round: u32, powers: &[u64]) -> u64 {
        self.seen.get(&height).map_or(0, |row| {
            row.iter().zip(powers).filter(|(r, _)| r.is_some_and(|r| r >= round)).map(|(_, p)| *p).sum()
        })
    }

    /// The instance handled one input and is now at `(height, round)`. `timeout` is the
    /// precommit timeout `(height, round)` that input was, if it was one. Err describes a round
    /// change no rule allows.
    pub fn check(
        &mut self,
        height: u64,
        round: u32,
        timeout: Option<(u64, u32)>,
        powers: &[u64],
        weak: u64,
    ) -> Result<(), String> {
        let Some((h0, r0)) = self.last.replace((height, round)) else { return Ok(()) };
        let moved = match height.cmp(&h0) {
            std::cmp::Ordering::Less => {
                return Err(format!("went back from height {h0} to height {height}"));
            }
            // L49 then, within the same input, possibly L55 at the new height.
            std::cmp::Ordering::Greater => round > 0,
            // L65 moves by exactly one round on its own timeout; anything else needs L55.
            std::cmp::Ordering::Equal if round < r0 => {
                return Err(format!("went back from round {r0} to round {round} at height {height}"));
            }
            std::cmp::Ordering::Equal => round > r0 && !(round == r0 + 1 && timeout == Some((h0, r0))),
        };
        if !moved {
            return Ok(());
        }
        let power = self.power_at_or_above(height, round, powers);
        if power >= weak {
            return Ok(());
        }
        let seen = self.seen.get(&height).cloned().unwrap_or_default();
        Err(format!(
            "L55: moved from (height {h0}, round {r0}) to (height {height}, round {round}) without a timeout, \
             but validators seen at round >= {round} hold power {power} < f+1 = {weak} \
             (highest round seen per validator at height {height}: {seen:?})"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: [u64; 4] = [1, 1, 1, 1];

    #[test]
    fn timeout_moves_one_round_only() {
        let mut w = RoundWatch::default();
        w.boot(1, 0);
        assert!(w.check(1, 1, Some((1, 0)), &P, 2).is_ok());
        // A timeout of another round does not justify a move.
        assert!(w.check(1, 2, Some((1, 0)), &P, 2).is_err());
        let mut w = RoundWatch::default();
        w.boot(1, 0);
        assert!(w.check(1, 2, Some((1, 0)), &P, 2).is_err(), "two rounds on one timeout");
    }

    #[test]
    fn skip_needs_weak_quorum() {
        let mut w = RoundWatch::default();
        w.boot(1, 0);
        w.saw(1, 1, 3, 5, 4);
        let e = w.check(1, 5, None, &P, 2).unwrap_err();
        assert!(e.contains("power 1 < f+1 = 2"), "{e}");
        let mut w = RoundWatch::default();
        w.boot(1, 0);
        w.saw(1, 1, 3, 5, 4);
        w.saw(1, 1, 2, 4, 4);
        // Two validators at >= 4: a skip to 4 is allowed, to 5 is not.
        assert!(w.clone().check(1, 4, None, &P, 2).is_ok());
        assert!(w.check(1, 5, None, &P, 2).is_err());
    }

    #[test]
    fn next_height_counts_buffered_messages_only() {
        let mut w = RoundWatch::default();
        w.boot(1, 0);
        w.saw(1, 2, 0, 3, 4);
        w.saw(1, 2, 1, 3, 4);
        // Three heights ahead is not recorded (the machine drops it).
        w.saw(1, 4, 2, 9, 4);
        assert!(w.clone().check(2, 3, None, &P, 2).is_ok());
        assert!(w.clone().check(2, 0, None, &P, 2).is_ok());
        assert!(w.check(4, 9, None, &P, 2).is_err());
    }

    #[test]
    fn never_backwards() {
        let mut w = RoundWatch::default();
        w.boot(3, 2);
        assert!(w.clone().check(3, 1, None, &P, 2).is_err());
        assert!(w.check(2, 5, None, &P, 2).is_err());
    }
}
