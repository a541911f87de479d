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
        let spec = test_genesis(n).into_spec().expect("test genesis is valid");
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
        let built = build_block(&self.spec, &self.state, &self.tip, txs, self.proposing(proposer));
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

    /// The receipt of a deposit, searching every block.
    pub fn receipt(&self, deposit_id: &Hash) -> Option<Receipt> {
        for (block, cert) in &self.blocks {
            for (ti, tx) in block.txs.iter().enumerate() {
                let id = tx.id(&self.spec.chain_id);
                for (k, (dep, _)) in tx.deposits(&id).iter().enumerate() {
                    if dep == deposit_id {
                        let item = (!tx.items.is_empty()).then_some(k as u32);
                        return Receipt::build(&self.spec.chain_id, block, cert, ti as u32, item).ok();
                    }
                }
            }
        }
        None
    }
}
