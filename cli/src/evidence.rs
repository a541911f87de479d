//! `curia evidence verify`: check evidence of misbehaviour offline, against the validator set in
//! force at each offence's height.
//!
//! Rules: the input is the answer of `GET /v1/evidence` (`{"chain_id", "evidence": [...]}`) or
//! one record of it. The sets in force come from the genesis and, with `--membership FILE`, the
//! chain's membership history (`curia membership export`), walked from the genesis first
//! (`walk_history`: every change proved by its block's certificate), so the node's word is not
//! trusted; without it, the genesis set is in force at every height. Each record is checked by
//! `EquivocationJson::check_at`: its two signed votes (canonical hex) decode, are by one
//! validator for one slot with different values, both signatures verify against the key of that
//! index in the set in force at the votes' height, and the summary fields say what the votes
//! say. Exit 0 when every record checks (and there is at least one), 1 when one does not, 2 for
//! unusable input (including a history that does not walk).

use std::path::Path;

use anyhow::{bail, Context, Result};
use curia_ledger::equivocation::EquivocationJson;
use curia_verifier::escape::terminal;

/// Largest evidence file read.
const MAX_FILE: u64 = 64 << 20;

/// Check the evidence in `file` against `genesis` and the membership history in `membership`.
pub fn verify(file: &Path, genesis: &Path, membership: Option<&Path>) -> Result<u8> {
    let (spec, members) = crate::load_members(genesis, membership)?;
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
            .and_then(|j| j.check_at(&spec.chain_id, &members).map(|e| (j, e)).map_err(anyhow::Error::from));
        match checked {
            Ok((j, _)) => {
                let name = &members.set_at(j.height).validators[j.validator as usize].name;
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
