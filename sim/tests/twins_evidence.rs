//! A twin pair (two instances of validator 3 with the same key, one of them cut off) signs two
//! different prevotes for one slot; the honest replicas that receive both record the pair as
//! evidence (executor rule X8), and the record proves itself against the genesis alone.
//!
//! Real executors on the simulator's environment (in-memory stores, virtual time, an outbox
//! network), routed by this test with 1 ms per message: every message reaches every other
//! instance, except that the isolated twin hears nothing (so it times out and prevotes nil while
//! its twin prevotes the proposed block) and the twins do not hear each other.

use std::rc::Rc;
use std::sync::Arc;

use curia_consensus::{Config, Executor, Note, PeerId, Timeouts};
use curia_ledger::testkit::{test_key, TestChain};
use curia_sim::{MemStore, SharedIo, SimClock, SimNet, SimPool, SIM_PACING, SIM_TIMEOUTS};

/// Instances: validators 0, 1, 2 (honest), then validator 3 twice (the twins).
const VALIDATOR: [usize; 5] = [0, 1, 2, 3, 3];
const ISOLATED: usize = 4;

fn hears(to: usize, from: usize) -> bool {
    to != from && to != ISOLATED && !(VALIDATOR[to] == 3 && VALIDATOR[from] == 3)
}

#[test]
fn honest_replicas_record_a_twin_pairs_double_vote() {
    let chain = Rc::new(TestChain::new(4));
    let spec = Arc::new(chain.spec.clone());
    let mut ios: Vec<SharedIo> = Vec::new();
    let mut execs = Vec::new();
    for (i, v) in VALIDATOR.iter().enumerate() {
        let io = SharedIo::default();
        // The isolated twin is impatient (a Byzantine instance may run any timeouts): it gives up
        // on the proposal at once and prevotes nil while the others are still at height 1.
        let timeouts = if i == ISOLATED { Timeouts { propose_ms: 1, ..SIM_TIMEOUTS } } else { SIM_TIMEOUTS };
        let cfg = Config { spec: spec.clone(), key: Some(test_key(&format!("v{v}"))), timeouts };
        let store = MemStore::new(spec.clone(), io.clone());
        let pool = SimPool::new(chain.clone(), format!("twins {i}"));
        execs.push(Executor::start(cfg, store, SimNet(io.clone()), SimClock(io.clone()), pool, SIM_PACING).unwrap());
        ios.push(io);
    }
    let mut evidence: Vec<Vec<curia_ledger::equivocation::Equivocation>> = vec![Vec::new(); 5];
    // Virtual time: a message takes 1 ms; timers fire when due.
    let mut now = 0u64;
    for _ in 0..20_000 {
        for (i, x) in execs.iter_mut().enumerate() {
            for n in x.take_notes() {
                if let Note::Equivocation(e) = n {
                    evidence[i].push(*e);
                }
            }
        }
        if (0..3).all(|i| !evidence[i].is_empty()) {
            break;
        }
        for io in &ios {
            io.borrow_mut().now = now;
        }
        // Fire every timer that is due.
        let due: Vec<(usize, curia_consensus::Timer)> = ios
            .iter()
            .enumerate()
            .flat_map(|(i, io)| {
                let mut io = io.borrow_mut();
                let (fire, keep): (Vec<_>, Vec<_>) = io.timers.drain(..).partition(|(at, _)| *at <= now);
                io.timers = keep;
                fire.into_iter().map(move |(_, t)| (i, t))
            })
            .collect();
        for (i, t) in due {
            execs[i].on_timer(t).unwrap();
        }
        let sent: Vec<_> = ios
            .iter()
            .enumerate()
            .flat_map(|(i, io)| std::mem::take(&mut io.borrow_mut().sent).into_iter().map(move |(to, m)| (i, to, m)))
            .collect();
        if sent.is_empty() {
            let next = ios.iter().flat_map(|io| io.borrow().timers.iter().map(|(at, _)| *at).collect::<Vec<_>>()).min();
            now = next.expect("nothing left to do before evidence").max(now);
            continue;
        }
        now += 1;
        for io in &ios {
            io.borrow_mut().now = now;
        }
        for (from, to, msg) in sent {
            let bytes = msg.to_wire();
            for (j, x) in execs.iter_mut().enumerate() {
                let addressed = to.is_none_or(|p| p == PeerId(j as u64));
                if addressed && hears(j, from) {
                    x.on_bytes(PeerId(from as u64), bytes.clone()).unwrap();
                }
            }
        }
    }
    // Every honest replica kept the same record, and it checks against the genesis alone.
    for i in 0..3 {
        assert_eq!(evidence[i].len(), 1, "replica {i}: {:?}", evidence[i]);
        let e = &evidence[i][0];
        assert_eq!(e, &evidence[0][0]);
        assert_eq!(e.check(&spec).unwrap(), test_key("v3").public());
        assert_eq!((e.a.vote.height, e.a.vote.validator), (1, 3));
        assert_eq!(e.a.vote.block, None, "the isolated twin prevoted nil");
        assert!(e.b.vote.block.is_some(), "its twin prevoted the proposed block");
    }
    // The twins themselves saw no double vote (they do not hear each other).
    assert!(evidence[3].is_empty() && evidence[4].is_empty());
}
