//! Receipts built offline with the ledger's test chain, for the display and large-file tests
//! (shared with cli/tests/it/display.rs through a `#[path]` module).
#![allow(dead_code)]

use std::path::Path;

use curia_ledger::hash::Hash;
use curia_ledger::receipt::Receipt;
use curia_ledger::testkit::TestChain;
use curia_ledger::tx::{Commitment, Deposit, Payload};

/// A label that would clear a terminal and print a green "VALID" if shown raw.
pub const HOSTILE_LABEL: &str = "\x1b[2J\x1b[32mVALID";
/// How the terminal must show it.
pub const HOSTILE_LABEL_SHOWN: &str = "\\u{001B}[2J\\u{001B}[32mVALID";

/// A fresh, empty temporary folder for one test, `curia-verifier-test-NAME-XXXXXX` (random
/// suffix), removed with its contents when dropped: when the test passes and when it fails (the
/// failed assertion's panic unwinds through it). Dereferences to its [`Path`].
pub struct TmpDir(tempfile::TempDir);

impl std::ops::Deref for TmpDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        self.0.path()
    }
}

/// A [`TmpDir`] for the test `name`; bind it (`let d = tmp(..)`) for the whole test.
pub fn tmp(name: &str) -> TmpDir {
    TmpDir(tempfile::Builder::new().prefix(&format!("curia-verifier-test-{name}-")).tempdir().expect("a temp dir"))
}

/// Commit one single deposit with the given fields on a fresh four-validator test chain, and
/// write `genesis.json` and `receipt.json` into `dir`. Returns the receipt, or the ledger's reason
/// if it refused the deposit.
pub fn deposit_receipt(
    dir: &Path,
    sha256: Hash,
    byte_length: u64,
    label: &str,
    media_type: &str,
    reference: &str,
) -> Result<Receipt, String> {
    let mut c = TestChain::new(4);
    let payload = Payload::Deposit(Deposit {
        commitment: Commitment::Sha256(sha256),
        media_type: media_type.into(),
        byte_length,
        label: label.into(),
        reference: reference.into(),
    });
    let tx = c.tx("platform", payload, 0);
    let id = tx.id(&c.spec.chain_id);
    let rejected = c.commit(vec![tx]);
    if let Some((_, e)) = rejected.first() {
        return Err(e.to_string());
    }
    let r = c.receipt(&id).expect("the committed deposit has a receipt");
    std::fs::write(dir.join("genesis.json"), c.spec.genesis.to_json()).unwrap();
    std::fs::write(dir.join("receipt.json"), r.to_json()).unwrap();
    Ok(r)
}

/// A receipt whose deposit carries the given text fields although the ledger refuses them
/// (receipt format 4.1: controls, bidi and invisible characters): a deposit with plain fields is
/// committed, then its receipt is edited, as a forger would. Such a receipt is *invalid*
/// (`format`, and the signature no longer matches) but must still be shown safely.
pub fn forged_receipt(dir: &Path, sha256: Hash, byte_length: u64, label: &str, media_type: &str, reference: &str) {
    let mut r = deposit_receipt(dir, sha256, byte_length, "plain label", "text/plain", "ref").expect("plain deposit");
    let Payload::Deposit(d) = &mut r.tx.payload else { unreachable!("a single deposit") };
    d.label = label.into();
    d.media_type = media_type.into();
    d.reference = reference.into();
    std::fs::write(dir.join("receipt.json"), r.to_json()).unwrap();
}
