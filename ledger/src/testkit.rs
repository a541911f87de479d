//! A deterministic test chain: fixed keys derived from names, a genesis, and blocks committed by
//! every validator. Used by tests, the simulator, benchmarks, fixtures and the demo. Nothing in it
//! is random: the same calls give the same bytes.

use crate::block::{Block, CommitCertificate, Vote, VoteKind};
use crate::crypto::{PublicKey, SecretKey};
use crate::genesis::{ChainSpec, Client, ClientRole, Genesis, Params, Validator, ValidatorRole};
use crate::hash::Hash;
use crate::membership::ValidatorSet;
use crate::receipt::Receipt;
use crate::state::{build_block, membership_of, MemState, Proposing, Tip};
use crate::tx::{batch_body, Commitment, Deposit, Payload, Transaction, TxBody};

/// The key whose seed is `SHA-256("curia-test-key/" || name)`. For tests only.
pub fn test_key(name: &str) -> SecretKey {
    SecretKey::from_seed(&Hash::sha256(format!("curia-test-key/{name}").as_bytes()).0)
}

/// Genesis time of test chains: 2026-01-01T00:00:00Z.
pub const TEST_GENESIS_MS: u64 = 1_767_225_600_000;

/// A genesis with `n` validators (court, court, notary, timesvc, then courts) named `v0..`,
/// clients `platform`, `platform2`, `judge`, `judge2`, `auditor`, `registrar`, all with test keys.
pub fn test_genesis(n: usize) -> Genesis {
    let roles = [ValidatorRole::Court, ValidatorRole::Court, ValidatorRole::Notary, ValidatorRole::Timesvc];
    let validators = (0..n)
        .map(|i| Validator {
            name: format!("v{i}"),
            role: *roles.get(i).unwrap_or(&ValidatorRole::Court),
            key: test_key(&format!("v{i}")).public(),
            power: 1,
            address: format!("/ip4/127.0.0.1/tcp/{}", 27000 + i),
        })
        .collect();
    let clients = [
        ("platform", ClientRole::Platform),
        ("platform2", ClientRole::Platform),
        ("judge", ClientRole::Judge),
        ("judge2", ClientRole::Judge),
        ("auditor", ClientRole::Auditor),
        ("registrar", ClientRole::Registrar),
    ]
    .into_iter()
    .map(|(name, role)| Client { name: name.into(), role, key: test_key(name).public() })
    .collect();
    Genesis {
        version: 1,
        chain_name: "curia-test".into(),
        genesis_time_ms: TEST_GENESIS_MS,
        validators,
        clients,
        params: Params::default(),
        log_in_header: false,
    }
}

/// A chain in memory that commits whatever it is given.
pub struct TestChain {
    /// The chain.
    pub spec: ChainSpec,
    /// The state after the last block.
    pub state: MemState,
    /// The tip.
    pub tip: Tip,
    /// Committed blocks with certificates.
    pub blocks: Vec<(Block, CommitCertificate)>,
    /// The clock used for the next block.
    pub now_ms: u64,
    /// Validator keys that are not `test_key(name)` (added or rotated validators).
    pub extra_keys: Vec<SecretKey>,
}

impl TestChain {
    /// A chain with `n` validators.
    pub fn new(n: usize) -> Self {
        Self::with_genesis(test_genesis(n))
    }

    /// A chain with `n` validators whose headers commit to the deposit log (genesis
    /// `log_in_header`: header version 4, receipt version 3).
    pub fn new_with_log(n: usize) -> Self {
        Self::with_genesis(Genesis { log_in_header: true, ..test_genesis(n) })
    }

    /// A chain founded by `genesis`.
    pub fn with_genesis(genesis: Genesis) -> Self {
        let spec = genesis.into_spec().expect("test genesis is valid");
        let state = MemState::genesis(&spec);
        let tip = Tip::genesis(&spec);
        TestChain { spec, state, tip, blocks: Vec::new(), now_ms: TEST_GENESIS_MS + 1000, extra_keys: Vec::new() }
    }

    /// A signed deposit of `data` by client `who` with `nonce`.
    pub fn deposit(&self, who: &str, data: &[u8], nonce: u64) -> Transaction {
        let body = TxBody {
            sender: test_key(who).public(),
            nonce,
            payload: Payload::Deposit(Deposit {
                commitment: Commitment::Sha256(Hash::sha256(data)),
                media_type: "application/octet-stream".into(),
                byte_length: data.len() as u64,
                label: format!("item {nonce}"),
                reference: format!("ref-{nonce}"),
            }),
        };
        body.sign(&self.spec.chain_id, &test_key(who))
    }

    /// A signed batch of `digests` by client `who`.
    pub fn batch(&self, who: &str, digests: Vec<Hash>, nonce: u64) -> Transaction {
        let body = TxBody {
            sender: test_key(who).public(),
            nonce,
            payload: Payload::BatchDeposit(batch_body(&digests, false, "application/octet-stream", "batch", "b")),
        };
        let mut tx = body.sign(&self.spec.chain_id, &test_key(who));
        tx.items = digests;
        tx
    }

    /// A signed transaction with any payload.
    pub fn tx(&self, who: &str, payload: Payload, nonce: u64) -> Transaction {
        TxBody { sender: test_key(who).public(), nonce, payload }.sign(&self.spec.chain_id, &test_key(who))
    }

    /// Build, certify (all validators precommit in round 0) and apply a block. Returns the
    /// transactions left out, with reasons.
    pub fn commit(&mut self, txs: Vec<Transaction>) -> Vec<(Transaction, crate::LedgerError)> {
        let set = self.set_at(self.tip.height + 1);
        let proposer = set.validators[(self.tip.height as usize) % set.len()].key;
        let built = build_block(&self.spec, &self.state, &self.tip, txs, self.proposing(proposer))
            .expect("an in-memory state reads without failing");
        let cert = self.certify(&built.block, 0);
        self.state.apply(&built.changes);
        self.tip = Tip::after(&built.block.header);
        self.blocks.push((built.block, cert));
        self.now_ms += 1000;
        built.rejected
    }

    /// What `proposer` puts in the next block: the chain's clock and the tip's certificate.
    pub fn proposing(&self, proposer: PublicKey) -> Proposing {
        Proposing { proposer, time_ms: self.now_ms, last_commit: self.last_commit() }
    }

    /// The tip block's certificate (none before the first block).
    pub fn last_commit(&self) -> Option<CommitCertificate> {
        self.blocks.last().map(|(_, c)| c.clone())
    }

    /// The validator set in force at `height` on this chain.
    pub fn set_at(&self, height: u64) -> std::sync::Arc<ValidatorSet> {
        membership_of(&self.spec, &self.state).expect("test chain history is valid").set_at(height).clone()
    }

    /// The secret key of validator key `pk`: `test_key(name)` or one of `extra_keys`.
    pub fn secret_of(&self, pk: &PublicKey) -> SecretKey {
        let set = membership_of(&self.spec, &self.state).expect("test chain history is valid");
        let named = set.latest().validators.iter().chain(&self.spec.genesis.validators).map(|v| test_key(&v.name));
        named.chain(self.extra_keys.iter().cloned()).find(|k| &k.public() == pk).expect("a known validator key")
    }

    /// A certificate for `block` signed by every validator in `round`, with clocks near `now_ms`.
    pub fn certify(&self, block: &Block, round: u32) -> CommitCertificate {
        let set = self.set_at(block.header.height);
        let votes: Vec<_> = (0..set.len())
            .map(|i| {
                Vote {
                    chain_id: self.spec.chain_id,
                    height: block.header.height,
                    round,
                    kind: VoteKind::Precommit,
                    block: Some(block.hash()),
                    time_ms: self.now_ms + 10 * i as u64,
                    validator: i as u16,
                }
                .sign(&self.secret_of(&set.validators[i].key))
            })
            .collect();
        CommitCertificate::from_votes(block.header.height, round, block.hash(), &votes)
    }

    /// The chain behind the membership fixtures (receipt format 13; `ledger/tests/golden.rs`,
    /// the CLI's and the node's tests): the genesis of `TestChain::new(4)`; a deposit before any
    /// change (block 1); `add` of a court `v4` approved by v0, v1, v2 (block 2, in force from 4);
    /// a deposit once it is in force (block 4); `rotate` of v1's key to `test_key("v1-rotated")`
    /// approved by v0, v2, v3, v4 (block 5, in force from 7); a deposit once that is in force
    /// (block 7). Returns the chain and the deposits `(name, deposit ID, evidence)` named
    /// `before`, `one`, `two`.
    pub fn membership_fixture() -> (TestChain, Vec<(String, Hash, Vec<u8>)>) {
        use crate::membership::{approval_hash, MemberApproval, MemberChange};
        let mut c = TestChain::new(4);
        let member_tx = |c: &TestChain, seq: u64, change: MemberChange, by: &[&str], nonce: u64| {
            let msg = approval_hash(&c.spec.chain_id, seq, &change);
            let approvals = by
                .iter()
                .map(|n| MemberApproval { key: test_key(n).public(), signature: test_key(n).sign(&msg) })
                .collect();
            c.tx("registrar", Payload::Membership { seq, change, approvals }, nonce)
        };
        let names = ["before", "one", "two"];
        let data: Vec<Vec<u8>> = names.iter().map(|n| format!("membership fixture: {n}\n").into_bytes()).collect();
        let mut ids = Vec::new();
        let before = c.deposit("platform", &data[0], 1);
        ids.push(before.id(&c.spec.chain_id));
        assert!(c.commit(vec![before]).is_empty());
        let add = MemberChange::Add {
            validator: Validator {
                name: "v4".into(),
                role: ValidatorRole::Court,
                key: test_key("v4").public(),
                power: 1,
                address: "/ip4/127.0.0.1/tcp/27004".into(),
            },
        };
        assert!(c.commit(vec![member_tx(&c, 0, add, &["v0", "v1", "v2"], 1)]).is_empty());
        c.commit(vec![]);
        let one = c.deposit("platform", &data[1], 2);
        ids.push(one.id(&c.spec.chain_id));
        assert!(c.commit(vec![one]).is_empty());
        let rotate = MemberChange::Rotate { old: test_key("v1").public(), new: test_key("v1-rotated").public() };
        c.extra_keys.push(test_key("v1-rotated"));
        let txs = vec![c.deposit("platform", b"filler", 3), member_tx(&c, 1, rotate, &["v0", "v2", "v3", "v4"], 2)];
        assert!(c.commit(txs).is_empty());
        c.commit(vec![]);
        let two = c.deposit("platform", &data[2], 4);
        ids.push(two.id(&c.spec.chain_id));
        assert!(c.commit(vec![two]).is_empty());
        let out = names.iter().zip(ids).zip(data).map(|((n, id), d)| (n.to_string(), id, d)).collect();
        (c, out)
    }

    /// [`TestChain::membership_fixture`] followed by two blocks, each with one evidence
    /// transaction sent by `v0`: a double prevote by `v1` at height 1 (under its genesis key,
    /// before its rotation) and one by `v4` at the tip's height (a validator the genesis set does
    /// not have). Audits of it must check certificates under the set in force at each height and
    /// name each offender in the set in force at its offence's height.
    pub fn membership_evidence_fixture() -> TestChain {
        use crate::block::SignedVote;
        use crate::equivocation::Equivocation;
        use crate::evidence::Misbehaviour;
        let (mut c, _) = TestChain::membership_fixture();
        let double_vote = |c: &TestChain, who: &str, height: u64| {
            let key = test_key(who);
            let index = c.set_at(height).index_of(&key.public()).expect("offender in the set in force") as u16;
            let vote = |block: Option<Hash>| -> SignedVote {
                let v = Vote {
                    chain_id: c.spec.chain_id,
                    height,
                    round: 0,
                    kind: VoteKind::Prevote,
                    block,
                    time_ms: TEST_GENESIS_MS,
                    validator: index,
                };
                v.sign(&key)
            };
            let e = Equivocation::new(vote(Some(Hash::sha256(b"x"))), vote(None)).expect("conflicting votes");
            Misbehaviour::DoubleVote(e)
        };
        let first = double_vote(&c, "v1", 1);
        let rejected = c.commit(vec![c.tx("v0", Payload::Evidence { evidence: first }, 1)]);
        assert!(rejected.is_empty(), "evidence against v1 refused: {rejected:?}");
        let second = double_vote(&c, "v4", c.tip.height);
        let rejected = c.commit(vec![c.tx("v0", Payload::Evidence { evidence: second }, 2)]);
        assert!(rejected.is_empty(), "evidence against v4 refused: {rejected:?}");
        c
    }

    /// The membership history of the chain (receipt format 13): every committed membership
    /// transaction with its block's header, certificate and inclusion proof, in order.
    pub fn history(&self) -> Vec<crate::history::HistoryEntry> {
        let mut out = Vec::new();
        for (block, cert) in &self.blocks {
            for (ti, tx) in block.txs.iter().enumerate() {
                if let Payload::Membership { .. } = tx.body.payload {
                    let proof = crate::merkle::inclusion_proof(&block.leaves(), ti as u64).expect("index in block");
                    out.push(crate::history::HistoryEntry::new(
                        tx,
                        ti as u32,
                        proof,
                        block.header.clone(),
                        cert.clone(),
                    ));
                }
            }
        }
        out
    }

    /// A deposit's leaf index in the deposit log and its inclusion proof in the tree of the
    /// first `size` leaves (the log rebuilt from every block).
    pub fn log_position(&self, deposit_id: &Hash, size: u64) -> Option<(u64, Vec<Hash>)> {
        let mut log = crate::tlog::MemLog::new();
        let mut index = None;
        for (block, _) in &self.blocks {
            for (id, leaf) in crate::deposit_log::block_leaves(&self.spec.chain_id, block) {
                let i = log.append(leaf).ok()?;
                if id == *deposit_id {
                    index = Some(i);
                }
            }
        }
        let index = index?;
        Some((index, log.inclusion_proof(size, index).ok()?))
    }

    /// The receipt of a deposit, searching every block (with the membership history in force
    /// at its height embedded).
    pub fn receipt(&self, deposit_id: &Hash) -> Option<Receipt> {
        for (block, cert) in &self.blocks {
            for (ti, tx) in block.txs.iter().enumerate() {
                let id = tx.id(&self.spec.chain_id);
                for (k, (dep, _)) in tx.deposits(&id).iter().enumerate() {
                    if dep == deposit_id {
                        let item = (!tx.items.is_empty()).then_some(k as u32);
                        let r = Receipt::build(&self.spec.chain_id, block, cert, ti as u32, item).ok()?;
                        let history = crate::history::entries_for_height(&self.history(), block.header.height);
                        let r = r.with_history(history);
                        return match block.header.log_size {
                            None => Some(r),
                            Some(size) => {
                                let (index, proof) = self.log_position(deposit_id, size)?;
                                Some(r.with_log_position(index, proof))
                            }
                        };
                    }
                }
            }
        }
        None
    }
}
