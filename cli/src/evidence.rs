//! `curia evidence verify`: check evidence of misbehaviour offline, against the genesis only.
//!
//! Rules: the input is the answer of `GET /v1/evidence` (`{"chain_id", "evidence": [...]}`) or
//! one record of it. Each record is checked by `EquivocationJson::check`: its two signed votes
//! (canonical hex) decode, are by one validator for one slot with different values, both
//! signatures verify against that validator's key in the genesis, and the summary fields say
//! what the votes say. Nothing the node says besides the votes is trusted. Exit 0 when every
//! record checks (and there is at least one), 1 when one does not, 2 for unusable input.

use std::path::Path;

use anyhow::{bail, Context, Result};
use curia_ledger::equivocation::EquivocationJson;
use curia_verifier::escape::terminal;

/// Largest evidence file read.
const MAX_FILE: u64 = 64 << 20;

/// Check the evidence in `file` against `genesis`.
pub fn verify(file: &Path, genesis: &Path) -> Result<u8> {
    let spec = crate::load_genesis(genesis)?;
    let meta = std::fs::metadata(file).with_context(|| format!("cannot read {}", file.display()))?;
    if meta.len() > MAX_FILE {
        bail!("{} is larger than {MAX_FILE} bytes", file.display());
    }
    let text = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let v: serde_json::Value =
        serde_json::from_slice(&text).with_context(|| format!("{} is not JSON", file.display()))?;
    let records: Vec<serde_json::Value> = match v.get("evidence") {
        Some(serde_json::Value::Array(a)) => a.clone(),
        Some(_) => bail!("\"evidence\" is not a list"),
        None => vec![v],
    };
    if records.is_empty() {
        println!("no evidence in {}", file.display());
        return Ok(1);
    }
    let mut bad = 0;
    for (i, r) in records.into_iter().enumerate() {
        let checked = serde_json::from_value::<EquivocationJson>(r)
            .map_err(|e| anyhow::anyhow!("not an evidence record: {e}"))
            .and_then(|j| j.check(&spec).map(|e| (j, e)).map_err(anyhow::Error::from));
        match checked {
            Ok((j, _)) => {
                let name = &spec.genesis.validators[j.validator as usize].name;
                println!(
                    "record {i}: VALID double vote by validator {} ({}) key {}: two different {}s at height {} round {}, both signatures verify",
                    j.validator,
                    terminal(name),
                    j.validator_key,
                    j.vote_kind,
                    j.height,
                    j.round
                );
            }
            Err(e) => {
                bad += 1;
                println!("record {i}: INVALID: {}", terminal(&format!("{e:#}")));
            }
        }
    }
    Ok(if bad == 0 { 0 } else { 1 })
}
