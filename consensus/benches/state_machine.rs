//! Messages per second processed by the state machine alone: one full height (a proposal, then
//! every other validator's prevote and precommit, all signed) fed to a fresh machine, which
//! verifies every signature, locks, precommits and commits.

// criterion's macros generate undocumented functions.
#![allow(missing_docs)]

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use curia_consensus::{Config, Effect, Input, Machine, Message, PeerId, Proposal, Timeouts};
use curia_ledger::block::{Vote, VoteKind};
use curia_ledger::state::build_block;
use curia_ledger::testkit::{test_key, TestChain};

fn height_messages(n: usize) -> (Config, Vec<Input>) {
    let chain = TestChain::new(n);
    let spec = Arc::new(chain.spec.clone());
    let proposer = Machine::proposer(&spec, 1, 0) as usize;
    let pkey = test_key(&format!("v{proposer}"));
    let txs = (0..10).map(|i| chain.deposit("platform", format!("bench {i}").as_bytes(), i)).collect();
    let block = build_block(&spec, &chain.state, &chain.tip, txs, chain.proposing(pkey.public())).unwrap().block;
    let hash = block.hash();
    let proposal = Proposal {
        chain_id: spec.chain_id,
        height: 1,
        round: 0,
        pol_round: None,
        block_hash: hash,
        proposer: proposer as u16,
    }
    .sign(&pkey);
    let mut inputs = vec![
        Input::Message { from: PeerId(proposer as u64), msg: Message::Proposal { proposal, block } },
        Input::BlockValidity { hash, valid: true },
    ];
    for kind in [VoteKind::Prevote, VoteKind::Precommit] {
        for i in 1..n {
            let v = Vote {
                chain_id: spec.chain_id,
                height: 1,
                round: 0,
                kind,
                block: Some(hash),
                time_ms: chain.now_ms,
                validator: i as u16,
            }
            .sign(&test_key(&format!("v{i}")));
            inputs.push(Input::Message { from: PeerId(i as u64), msg: Message::Vote(v) });
        }
    }
    let cfg = Config { spec, key: Some(test_key("v0")), timeouts: Timeouts::default() };
    (cfg, inputs)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("state_machine");
    for n in [4usize, 16, 64] {
        let (cfg, inputs) = height_messages(n);
        let messages = (inputs.len() - 1) as u64;
        g.throughput(Throughput::Elements(messages));
        g.bench_function(format!("one_height_{n}_validators"), |b| {
            b.iter_batched(
                || {
                    let mut m = Machine::new(cfg.clone(), 0).expect("validator");
                    m.on(0, Input::Start { votes: vec![], proposals: vec![] });
                    (m, inputs.clone())
                },
                |(mut m, inputs)| {
                    let mut committed = false;
                    for i in inputs {
                        committed |= m.on(1, i).iter().any(|e| matches!(e, Effect::Commit { .. }));
                    }
                    assert!(committed);
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
