//! Property tests: canonical encodings round-trip, decoders never panic on hostile bytes, and
//! any mutation of a valid receipt fails verification.

use curia_ledger::block::{Block, CommitCertificate, Header, SignedVote};
use curia_ledger::codec::Canonical;
use curia_ledger::crypto::{PublicKey, Signature};
use curia_ledger::genesis::Genesis;
use curia_ledger::hash::Hash;
use curia_ledger::receipt::Receipt;
use curia_ledger::testkit::TestChain;
use curia_ledger::tx::{BatchDeposit, Commitment, Deposit, Payload, RegistryAction, Transaction, TxBody};
use curia_ledger::verify::{verify_receipt, Evidence};
use proptest::prelude::*;

fn hash() -> impl Strategy<Value = Hash> {
    any::<[u8; 32]>().prop_map(Hash)
}
fn key() -> impl Strategy<Value = PublicKey> {
    any::<[u8; 32]>().prop_map(PublicKey)
}
fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[a-zA-Z0-9 ._/-]{{0,{max}}}")).unwrap()
}
fn case_id() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[A-Za-z0-9._-]{1,64}").unwrap()
}

fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        (hash(), any::<bool>(), text(128), any::<u64>(), text(256), text(256)).prop_map(|(h, s, m, n, l, r)| {
            Payload::Deposit(Deposit {
                commitment: if s { Commitment::Salted(h) } else { Commitment::Sha256(h) },
                media_type: m,
                byte_length: n,
                label: l,
                reference: r,
            })
        }),
        (hash(), 1u32..10_000, any::<bool>(), text(20), text(20), text(20)).prop_map(
            |(root, count, salted, m, l, r)| {
                Payload::BatchDeposit(BatchDeposit { root, count, salted, media_type: m, label: l, reference: r })
            }
        ),
        (case_id(), text(300)).prop_map(|(case_id, title)| Payload::OpenCase { case_id, title }),
        (case_id(), hash()).prop_map(|(case_id, deposit_id)| Payload::AttachDeposit { case_id, deposit_id }),
        (case_id(), hash(), any::<bool>(), hash(), text(100)).prop_map(|(case_id, deposit_id, valid, report, note)| {
            Payload::RecordVerification { case_id, deposit_id, valid, report, note }
        }),
        (case_id(), text(100)).prop_map(|(case_id, note)| Payload::CloseCase { case_id, note }),
        (key(), key(), prop::collection::vec((any::<u16>(), any::<[u8; 32]>()), 0..4)).prop_map(|(old, new, a)| {
            Payload::Registry {
                action: RegistryAction::Rotate { old, new },
                approvals: a
                    .into_iter()
                    .map(|(v, s)| {
                        let mut sig = [0u8; 64];
                        sig[..32].copy_from_slice(&s);
                        curia_ledger::tx::Approval { validator: v, signature: Signature(sig) }
                    })
                    .collect(),
            }
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn tx_round_trips(sender in key(), nonce in any::<u64>(), payload in payload(), sig in any::<[u8; 32]>(), items in prop::collection::vec(hash(), 0..5)) {
        let mut s = [0u8; 64];
        s[32..].copy_from_slice(&sig);
        let tx = Transaction { body: TxBody { sender, nonce, payload }, signature: Signature(s), items };
        let bytes = tx.to_bytes();
        prop_assert_eq!(Transaction::from_bytes(&bytes).unwrap(), tx.clone());
        // JSON round trip too (the API and receipts use it).
        let json = serde_json::to_string(&tx).unwrap();
        prop_assert_eq!(serde_json::from_str::<Transaction>(&json).unwrap(), tx);
        // Trailing bytes are never accepted.
        let mut longer = bytes.clone();
        longer.push(0);
        prop_assert!(Transaction::from_bytes(&longer).is_err());
    }

    #[test]
    fn decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = Transaction::from_bytes(&bytes);
        let _ = Header::from_bytes(&bytes);
        let _ = Block::from_bytes(&bytes);
        let _ = SignedVote::from_bytes(&bytes);
        let _ = CommitCertificate::from_bytes(&bytes);
        let _ = Receipt::from_bytes(&bytes);
        let _ = Receipt::parse(&bytes);
        let _ = Genesis::from_bytes(&bytes);
        let _ = Genesis::from_json(&bytes);
    }
}

fn fixture() -> (TestChain, Receipt, Vec<u8>) {
    let mut c = TestChain::new(4);
    let data = b"the evidence".to_vec();
    let txs: Vec<_> = (0..6).map(|i| c.deposit("platform", if i == 2 { &data } else { b"other" }, i)).collect();
    let id = txs[2].id(&c.spec.chain_id);
    assert!(c.commit(txs).is_empty());
    let r = c.receipt(&id).unwrap();
    (c, r, data)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any mutation of a valid receipt's canonical bytes (overwrite, insert or delete a byte)
    /// either fails to decode or fails verification.
    #[test]
    fn mutated_receipts_fail(pos in any::<prop::sample::Index>(), byte in any::<u8>(), op in 0u8..3) {
        let (c, r, data) = fixture();
        let mut b = r.to_bytes();
        let i = pos.index(b.len());
        match op {
            0 => { if b[i] == byte { b[i] ^= 0xff } else { b[i] = byte } }
            1 => b.insert(i, byte),
            _ => { b.remove(i); }
        }
        if let Ok(m) = Receipt::from_bytes(&b) {
            prop_assert!(!verify_receipt(Evidence::Bytes(&data), &m, &c.spec).is_valid());
        }
    }

    /// Any change to the JSON form's values that still parses fails verification.
    #[test]
    fn mutated_receipt_json_fails(pos in any::<prop::sample::Index>()) {
        let (c, r, data) = fixture();
        let json = r.to_json().into_bytes();
        // Change one hex digit or decimal digit.
        let digits: Vec<usize> = json.iter().enumerate().filter(|(_, b)| b.is_ascii_hexdigit()).map(|(i, _)| i).collect();
        let i = digits[pos.index(digits.len())];
        let mut j = json.clone();
        j[i] = if j[i] == b'0' { b'1' } else { b'0' };
        if let Ok(m) = Receipt::from_json(&j) {
            prop_assert!(!verify_receipt(Evidence::Bytes(&data), &m, &c.spec).is_valid(), "byte {}", i);
        }
    }
}
