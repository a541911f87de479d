//! `curia demo`: the whole story in memory, with files a person can inspect afterwards.

use std::path::Path;

use anyhow::{Context, Result};
use curia_ledger::codec::Canonical;
use curia_ledger::genesis::ChainSpec;
use curia_ledger::receipt::Receipt;
use curia_ledger::testkit::TestChain;
use curia_ledger::verify::{verify_receipt, Evidence};

/// Run the demo, writing its files under `out`. Returns 0 if every step behaved as it must.
pub fn run(out: &Path) -> Result<u8> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    println!("== Curia demo: a four-validator chain in memory (two courts, a notary, a time service)\n");
    let mut chain = TestChain::new(4);
    let spec = chain.spec.clone();
    let genesis_path = out.join("genesis.json");
    std::fs::write(&genesis_path, spec.genesis.to_json())?;
    println!("genesis    {} (chain {})", genesis_path.display(), spec.chain_id);

    let evidence = b"Screenshot of the listing, captured 2026-11-23 10:02:11 by the platform.\n".to_vec();
    let evidence_path = out.join("evidence.txt");
    std::fs::write(&evidence_path, &evidence)?;
    let tx = chain.deposit("platform", &evidence, 1);
    let deposit_id = tx.id(&spec.chain_id);
    let others: Vec<_> =
        (2..50).map(|i| chain.deposit("platform2", format!("other evidence {i}").as_bytes(), i)).collect();
    let mut txs = others;
    txs.insert(17, tx);
    let rejected = chain.commit(txs);
    anyhow::ensure!(rejected.is_empty(), "demo deposits rejected: {rejected:?}");
    println!("deposited  {} -> deposit {deposit_id}", evidence_path.display());
    println!("committed  block 1 with 49 deposits, certified by all 4 validators\n");

    let receipt = chain.receipt(&deposit_id).context("receipt of the demo deposit")?;
    let receipt_path = out.join("receipt.json");
    std::fs::write(&receipt_path, receipt.to_json())?;
    std::fs::write(out.join("receipt.bin"), receipt.to_bytes())?;
    println!("receipt    {}\n", receipt_path.display());

    let mut ok = true;
    println!("== 1. The judge verifies the evidence against the receipt and the genesis\n");
    ok &= show(&spec, &evidence, &receipt, "evidence.txt", true);

    println!("== 2. A tampered file (one character changed) is rejected\n");
    let mut tampered = evidence.clone();
    tampered[14] ^= 0x20;
    std::fs::write(out.join("evidence-tampered.txt"), &tampered)?;
    ok &= show(&spec, &tampered, &receipt, "evidence-tampered.txt", false);

    println!("== 3. A tampered receipt (the block time moved back a day) is rejected\n");
    let mut forged = receipt.clone();
    forged.header.time_ms -= 86_400_000;
    std::fs::write(out.join("receipt-tampered.json"), forged.to_json())?;
    ok &= show(&spec, &evidence, &forged, "evidence.txt", false);

    println!(
        "Files are in {}. Try: curia verify {} --receipt {} --genesis {}",
        out.display(),
        evidence_path.display(),
        receipt_path.display(),
        genesis_path.display()
    );
    if ok {
        println!("\ndemo: every step behaved as expected");
        Ok(0)
    } else {
        println!("\ndemo: a step did NOT behave as expected");
        Ok(1)
    }
}

fn show(spec: &ChainSpec, data: &[u8], r: &Receipt, name: &str, expect_valid: bool) -> bool {
    let rep = verify_receipt(Evidence::Bytes(data), r, spec);
    println!("{}", curia_verifier::text::verification(&rep, r, name, spec));
    rep.is_valid() == expect_valid
}
