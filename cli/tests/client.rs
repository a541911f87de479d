//! `curia-client` against a live four-validator testnet on loopback: a platform submits a file,
//! a digest and a batch, waits for the receipts, fetches blocks, digests and a case, and verifies
//! the receipts offline; bad input gets its specific error variant; and the CLI passes
//! `--ca-file` through to the client.

mod common;

use std::time::Duration;

use common::{curia, Cluster};
use curia_client::verify::{verify_digest, verify_file};
use curia_client::{read_key_file, Client, DepositFields, Error, Platform, Signer};
use curia_ledger::crypto::SecretKey;
use curia_ledger::genesis::{Client as RegClient, ClientRole};
use curia_ledger::tx::{Commitment, Deposit, Payload, RegistryAction, TxBody};
use curia_ledger::Hash;

fn fields(label: &str) -> DepositFields {
    DepositFields { media_type: "text/plain".into(), label: label.into(), reference: "client-test".into() }
}

#[test]
fn a_platform_submits_waits_fetches_and_verifies_and_bad_input_gets_its_variant() {
    let c = Cluster::start(0);
    let spec = c.genesis();
    let key = read_key_file(&c.dir.join("clients/platform.key")).unwrap();
    let client = Client::new(&c.api(1)).unwrap();
    assert_eq!(client.chain_id().unwrap(), spec.chain_id);
    let platform = Platform::new(client.clone(), Signer::new(key, spec.chain_id));
    let wait = Duration::from_secs(60);

    // A file: submit, wait for its commit and its receipt, verify offline.
    let file = c.dir.join("evidence-client.txt");
    std::fs::write(&file, "evidence deposited through curia-client").unwrap();
    let d = platform.deposit_file(&file, &fields("client file")).unwrap();
    assert_eq!(d.deposit_id, d.tx_id);
    let info = client.wait_committed(&d.deposit_id, wait).unwrap();
    let receipt = client.wait_receipt(&d.deposit_id, wait).unwrap();
    assert_eq!((receipt.deposit_id, receipt.header.height), (d.deposit_id, info.height));
    assert!(verify_file(&file, &receipt, &spec).unwrap().is_valid());
    let tampered = c.dir.join("evidence-client-tampered.txt");
    std::fs::write(&tampered, "evidence deposited through curia-client!").unwrap();
    assert!(!verify_file(&tampered, &receipt, &spec).unwrap().is_valid());

    // Another node serves the same receipt, block and digest lookup.
    let other = Client::new(&c.api(2)).unwrap();
    assert_eq!(other.wait_receipt(&d.deposit_id, wait).unwrap(), receipt);
    let block = other.block(info.height).unwrap();
    assert_eq!(block.header, receipt.header);
    assert_eq!(block.block_hash, info.block_hash);
    assert!(other.block_txs(info.height).unwrap().tx_ids.contains(&d.tx_id));
    assert_eq!(other.digest(&d.sha256).unwrap().deposit_ids, [d.deposit_id]);

    // A batch of three digests: one deposit ID each, a receipt per item, verified by digest.
    let digests: Vec<Hash> = (0..3).map(|i| Hash::sha256(format!("batch item {i}").as_bytes())).collect();
    let b = platform.batch_deposit(digests.clone(), &fields("client batch")).unwrap();
    assert_eq!(b.deposit_ids.len(), 3);
    let r2 = client.wait_receipt(&b.deposit_ids[2], wait).unwrap();
    assert_eq!(r2.item.as_ref().map(|i| i.index), Some(2));
    assert!(verify_digest(digests[2], &r2, &spec).is_valid());
    assert!(!verify_digest(digests[1], &r2, &spec).is_valid());

    // ----- bad input gets its specific variant -----
    let chain = spec.chain_id;
    let sign_raw = |k: &SecretKey, label: &str, nonce: u64| {
        TxBody {
            sender: k.public(),
            nonce,
            payload: Payload::Deposit(Deposit {
                commitment: Commitment::Sha256(Hash::sha256(label.as_bytes())),
                media_type: "text/plain".into(),
                byte_length: 1,
                label: label.into(),
                reference: String::new(),
            }),
        }
        .sign(&chain, k)
    };
    let platform_key = read_key_file(&c.dir.join("clients/platform.key")).unwrap();
    // A label that would drive a judge's terminal: refused locally before signing ...
    let e = platform.deposit_digest(d.sha256, 1, &fields("\u{1b}[2J\u{1b}[32mVALID")).unwrap_err();
    assert!(matches!(e, Error::InvalidInput(_)), "{e:?}");
    // ... and by the node, naming the field, when a client skips the check.
    let e = client.submit_deposit(&sign_raw(&platform_key, "\u{1b}[2JVALID", 1), &chain).unwrap_err();
    assert!(matches!(e, Error::InvalidField(_)), "{e:?}");
    assert_eq!((e.status(), e.invalid_field()), (Some(422), Some("label")));
    let judge = read_key_file(&c.dir.join("clients/judge.key")).unwrap();
    let e = client.submit_deposit(&sign_raw(&judge, "judge deposit", 2), &chain).unwrap_err();
    assert!(matches!(e, Error::WrongRole(_)), "{e:?}");
    let stranger = SecretKey::from_seed(&[9; 32]);
    let e = client.submit_deposit(&sign_raw(&stranger, "stranger deposit", 3), &chain).unwrap_err();
    assert!(matches!(e, Error::UnknownSender(_)), "{e:?}");
    // The same transaction twice: the node knows it (pending or committed).
    let again = client.submit_deposit(&sign_raw(&platform_key, "sent twice", 4), &chain).unwrap();
    let e = client.submit_deposit(&sign_raw(&platform_key, "sent twice", 4), &chain).unwrap_err();
    assert!(matches!(e, Error::AlreadyPending(_) | Error::Duplicate(_)), "{e:?}");
    client.wait_receipt(&again.deposit_ids[0], wait).unwrap();
    // A transaction signed for another chain: the node sees a bad signature.
    let wrong_chain =
        TxBody { sender: platform_key.public(), nonce: 5, payload: sign_raw(&platform_key, "x", 5).body.payload }
            .sign(&Hash([7; 32]), &platform_key);
    let e = client.submit_deposit(&wrong_chain, &chain).unwrap_err();
    assert!(matches!(e, Error::BadSignature(_)), "{e:?}");
    // A registry change without court approvals: refused on submission, per item.
    let registrar = Signer::new(read_key_file(&c.dir.join("clients/registrar.key")).unwrap(), chain);
    let add = registrar
        .sign(Payload::Registry {
            action: RegistryAction::Add(RegClient {
                name: "new-platform".into(),
                role: ClientRole::Platform,
                key: SecretKey::from_seed(&[3; 32]).public(),
            }),
            approvals: vec![],
        })
        .unwrap();
    let answer = client.submit_transactions(&[add]).unwrap();
    assert_eq!((answer.accepted, answer.rejected), (0, 1));
    let e = Error::from_item(answer.results[0].error.as_ref().unwrap());
    assert!(matches!(e, Error::NotEnoughApprovals(_)), "{e:?}");
    // Reads of what is not there.
    assert!(matches!(client.deposit(&Hash([1; 32])), Err(Error::DepositNotFound(_))));
    assert!(matches!(client.receipt(&Hash([1; 32])), Err(Error::DepositNotFound(_))));
    assert!(matches!(client.block(1 << 40), Err(Error::BlockNotFound(_))));
    let t = std::time::Instant::now();
    let e = client.wait_receipt(&Hash([1; 32]), Duration::from_secs(2)).unwrap_err();
    assert!(matches!(e, Error::WaitTimeout { .. }), "{e:?}");
    assert!(t.elapsed() < Duration::from_secs(12));
    // Signed reads: a judge may read (no such case), a platform may not.
    let judge_reader = Signer::new(judge, chain);
    assert!(matches!(client.case(&judge_reader, "NO-SUCH-CASE"), Err(Error::CaseNotFound(_))));
    let platform_reader = Signer::new(platform_key, chain);
    assert!(matches!(client.case(&platform_reader, "NO-SUCH-CASE"), Err(Error::ForbiddenReader(_))));
    assert!(matches!(client.case(&judge_reader, "bad id!"), Err(Error::InvalidInput(_))));
    let auditor = Signer::new(read_key_file(&c.dir.join("clients/auditor.key")).unwrap(), chain);
    let frame = client.chain(&auditor, 1, 2, 1 << 20, 0).unwrap();
    assert_eq!(&frame[..8], b"CURIACHN");

    // The CLI passes --ca-file to the client: a CA file with a plain http:// URL is refused.
    let ca = c.dir.join("ca.pem");
    std::fs::write(&ca, "").unwrap();
    let out = curia().args(["status", "--node", &c.api(0), "--ca-file"]).arg(&ca).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("plain http://"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = curia().args(["status", "--node", &c.api(0)]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
