//! The witness's decisions (`curia_transparency::witness`), without a server: every answer of
//! c2sp.org/tlog-witness `add-checkpoint` and the state it would persist.

use curia_ledger::merkle::leaf_hash;
use curia_ledger::tlog::MemLog;
use curia_ledger::Hash;
use curia_transparency::checkpoint::Checkpoint;
use curia_transparency::note::{open, KeyKind, Note, Signer};
use curia_transparency::witness::{AddCheckpoint, LogPolicy, LogState, Refusal, Witness};
use curia_transparency::Error;
use proptest::prelude::*;

const ORIGIN: &str = "curia.example/log";

fn validators() -> Vec<Signer> {
    (1..=4u8).map(|i| Signer::from_seed(&format!("validator{i}.curia.example"), &[i; 32]).unwrap()).collect()
}

fn witness() -> Witness {
    let keys = validators().iter().map(|s| s.verifier(KeyKind::Ed25519)).collect();
    let policy = LogPolicy::new(ORIGIN, keys, 3).unwrap();
    Witness::new(Signer::from_seed("witness.example/w1", &[9; 32]).unwrap(), vec![policy]).unwrap()
}

fn signed(origin: &str, size: u64, root: Hash, signers: &[Signer]) -> Vec<u8> {
    let text = Checkpoint::new(origin, size, root).to_text();
    Note { signatures: signers.iter().map(|s| s.sign(&text).unwrap()).collect(), text }.to_bytes()
}

fn log(n: u64, tag: &str) -> MemLog {
    let mut l = MemLog::new();
    for i in 0..n {
        l.append(leaf_hash(format!("{tag}{i}").as_bytes())).unwrap();
    }
    l
}

#[test]
fn sequence_is_cosigned_and_state_advances() {
    let w = witness();
    let v = validators();
    let l = log(20, "d");
    let mut state: Option<LogState> = None;
    for (old, new) in [(0u64, 5u64), (5, 5), (5, 12), (12, 20)] {
        let proof = if old == 0 || old == new { vec![] } else { l.consistency_proof(old, new).unwrap() };
        let req =
            AddCheckpoint { old_size: old, proof, checkpoint: signed(ORIGIN, new, l.root_at(new).unwrap(), &v[..3]) };
        let req = AddCheckpoint::parse(&req.to_body()).unwrap();
        let acc = w.check(&req, state).unwrap();
        assert_eq!(acc.state(), LogState { size: new, root: l.root_at(new).unwrap() });
        let cosig = w.cosign(&acc, 1_700_000_000 + new).unwrap();
        let full = Witness::cosigned_note(&acc, &cosig);
        let o = open(&full, &[w.verifier()]).unwrap();
        assert_eq!(o.verified[0].2, Some(1_700_000_000 + new));
        state = Some(acc.state());
    }
}

#[test]
fn every_refusal() {
    let w = witness();
    let v = validators();
    let l = log(10, "d");
    let fork = log(12, "f");
    let st = Some(LogState { size: 6, root: l.root_at(6).unwrap() });
    let good = |old: u64, new: u64| AddCheckpoint {
        old_size: old,
        proof: l.consistency_proof(old, new).unwrap(),
        checkpoint: signed(ORIGIN, new, l.root_at(new).unwrap(), &v[..3]),
    };
    assert!(w.check(&good(6, 10), st).is_ok());

    // 404 unknown origin.
    let mut r = good(6, 10);
    r.checkpoint = signed("other.example/log", 10, l.root(), &v[..3]);
    assert_eq!(w.check(&r, st).unwrap_err().status(), 404);

    // 403: two of four signed, quorum three.
    r.checkpoint = signed(ORIGIN, 10, l.root(), &v[..2]);
    assert_eq!(w.check(&r, st), Err(Refusal::Forbidden(Error::QuorumNotMet { have: 2, need: 3 })));
    // 403: only unknown keys.
    let strangers: Vec<Signer> = (5..=8u8).map(|i| Signer::from_seed(&format!("x{i}"), &[i; 32]).unwrap()).collect();
    r.checkpoint = signed(ORIGIN, 10, l.root(), &strangers);
    assert_eq!(w.check(&r, st), Err(Refusal::Forbidden(Error::NoVerifiedSignature)));
    // 403: a trusted key's signature over other text.
    let text = Checkpoint::new(ORIGIN, 10, l.root()).to_text();
    let mut sigs: Vec<_> = v[..3].iter().map(|s| s.sign(&text).unwrap()).collect();
    sigs[1] = v[1].sign("something else\n").unwrap();
    r.checkpoint = Note { text, signatures: sigs }.to_bytes();
    assert!(matches!(w.check(&r, st), Err(Refusal::Forbidden(Error::InvalidSignature { .. }))));

    // 400: old size above the new size; malformed checkpoint.
    let mut r = good(6, 10);
    r.old_size = 11;
    assert_eq!(w.check(&r, st).unwrap_err().status(), 400);
    r.checkpoint = b"curia.example/log\n10\nnot a hash\n\n\xe2\x80\x94 a AAAAAAA=\n".to_vec();
    assert_eq!(w.check(&r, st).unwrap_err().status(), 400);

    // 409 with the witness's size.
    let r = good(4, 10);
    let refusal = w.check(&r, st).unwrap_err();
    assert_eq!(refusal, Refusal::Conflict { current: 6 });
    assert_eq!((refusal.body().as_str(), refusal.content_type()), ("6\n", "text/x.tlog.size"));
    assert_eq!(w.check(&good(6, 10), None).unwrap_err(), Refusal::Conflict { current: 0 });

    // 422: a fork with a proof from the fork; a bad proof; the same size with another root; a
    // non-empty proof from size 0; size 0 with a non-empty root.
    let forked = AddCheckpoint {
        old_size: 6,
        proof: fork.consistency_proof(6, 12).unwrap(),
        checkpoint: signed(ORIGIN, 12, fork.root(), &v[..3]),
    };
    assert_eq!(w.check(&forked, st).unwrap_err().status(), 422);
    let mut r = good(6, 10);
    r.proof[0].0[0] ^= 1;
    assert_eq!(w.check(&r, st).unwrap_err().status(), 422);
    let same_size =
        AddCheckpoint { old_size: 6, proof: vec![], checkpoint: signed(ORIGIN, 6, fork.root_at(6).unwrap(), &v[..3]) };
    assert_eq!(w.check(&same_size, st).unwrap_err().status(), 422);
    let from_zero =
        AddCheckpoint { old_size: 0, proof: vec![l.root()], checkpoint: signed(ORIGIN, 10, l.root(), &v[..3]) };
    assert_eq!(w.check(&from_zero, None).unwrap_err().status(), 422);
    let zero = AddCheckpoint { old_size: 0, proof: vec![], checkpoint: signed(ORIGIN, 0, l.root(), &v[..3]) };
    assert_eq!(w.check(&zero, None).unwrap_err().status(), 422);
    let zero_ok =
        AddCheckpoint { old_size: 0, proof: vec![], checkpoint: signed(ORIGIN, 0, Hash::sha256(b""), &v[..3]) };
    assert!(w.check(&zero_ok, None).is_ok());
}

#[test]
fn malformed_bodies_each_with_its_error() {
    let v = validators();
    let cp = String::from_utf8(signed(ORIGIN, 1, leaf_hash(b"x"), &v[..3])).unwrap();
    let h = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
    let cases: Vec<(String, usize, &str)> = vec![
        ("".into(), 1, "line does not end with a newline"),
        (format!("new 1\n\n{cp}"), 1, "does not start with \"old \""),
        (format!("old 01\n\n{cp}"), 1, "old size is not a decimal without leading zeros"),
        (format!("old -1\n\n{cp}"), 1, "old size is not a decimal without leading zeros"),
        (format!("old 1\n{h}\nAAAA\n\n{cp}"), 3, "proof line is not a 32-byte hash"),
        (format!("old 1\n{h}x\n\n{cp}"), 2, "proof line is not canonical standard base64"),
        (format!("old 1\n{h}\n"), 3, "line does not end with a newline"),
        (format!("old 1\n{h}\n\n"), 4, "no checkpoint after the empty line"),
        (format!("old 1\n{}\n{cp}", format!("{h}\n").repeat(64)), 65, "more than 63 consistency proof lines"),
    ];
    for (body, line, reason) in cases {
        assert_eq!(AddCheckpoint::parse(body.as_bytes()), Err(Error::Request { line, reason }), "{body:?}");
    }
    let ok = format!("old 1\n{}\n{cp}", format!("{h}\n").repeat(63));
    assert_eq!(AddCheckpoint::parse(ok.as_bytes()).unwrap().proof.len(), 63);
    let huge = vec![b'a'; curia_transparency::witness::MAX_REQUEST_BYTES + 1];
    assert_eq!(AddCheckpoint::parse(&huge), Err(Error::Request { line: 0, reason: "body is larger than the limit" }));
}

#[test]
fn policy_and_witness_config_rules() {
    let v = validators();
    let keys: Vec<_> = v.iter().map(|s| s.verifier(KeyKind::Ed25519)).collect();
    assert!(LogPolicy::new(ORIGIN, keys.clone(), 0).is_err());
    assert!(LogPolicy::new(ORIGIN, keys.clone(), 5).is_err());
    assert!(LogPolicy::new("", keys.clone(), 1).is_err());
    let mut dup = keys.clone();
    dup.push(keys[0].clone());
    assert!(LogPolicy::new(ORIGIN, dup, 1).is_err());
    assert!(LogPolicy::new(ORIGIN, vec![v[0].verifier(KeyKind::CosignatureV1)], 1).is_err());
    let p = LogPolicy::new(ORIGIN, keys, 3).unwrap();
    assert!(Witness::new(v[0].clone(), vec![p.clone(), p]).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Arbitrary bytes, and a valid request with one byte changed, never panic and never yield
    /// a cosignable checkpoint other than the honest one.
    #[test]
    fn hostile_bodies(bytes in proptest::collection::vec(any::<u8>(), 0..600), pos in any::<usize>(), val in any::<u8>()) {
        let w = witness();
        if let Ok(req) = AddCheckpoint::parse(&bytes) {
            let _ = w.check(&req, None);
        }
        let v = validators();
        let l = log(9, "d");
        let body = AddCheckpoint {
            old_size: 5,
            proof: l.consistency_proof(5, 9).unwrap(),
            checkpoint: signed(ORIGIN, 9, l.root(), &v[..3]),
        }.to_body();
        let mut m = body.clone();
        let i = pos % m.len();
        m[i] = val;
        let st = Some(LogState { size: 5, root: l.root_at(5).unwrap() });
        if let Ok(req) = AddCheckpoint::parse(&m) {
            if let Ok(acc) = w.check(&req, st) {
                prop_assert_eq!(acc.state(), LogState { size: 9, root: l.root() });
            }
        }
    }
}
