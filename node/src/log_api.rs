//! The deposit log's read endpoints (`docs/api.md`, "Transparency log"):
//! `GET /v1/log`, `GET /v1/log/inclusion?index=I&size=N`, `GET /v1/log/consistency?from=A&to=B`,
//! `GET /v1/log/index?deposit=ID`, the validators' signed checkpoints `GET
//! /v1/checkpoint[?size=N]` (`crate::checkpoints`) and their RFC 3161 time stamps `GET
//! /v1/checkpoint/tsa?size=N`.
//!
//! Rules:
//! - Public reads: leaf hashes and roots reveal no case data (a leaf is a hash of a deposit ID
//!   and a commitment, both already in public receipts).
//! - Query strings are parsed strictly: only the named parameters, each once, each a decimal
//!   number of at most 20 digits; anything else is 400 `bad_query`.
//! - Sizes are bounded by the log this node holds: a size above it is 404
//!   `log_size_not_reached` (the node may simply be behind); an index not below the size, or a
//!   consistency proof from 0 or backwards, is 400 `bad_query`. So every answer is at most
//!   about 2·62 hashes.

use axum::extract::{RawQuery, State};
use axum::Json;
use curia_api_types::{LogConsistency, LogHead, LogInclusion, LogIndex};
use curia_ledger::Hash;
use curia_storage::Store;

use crate::api::{read, ApiContext, ApiError, ApiResult};

fn bad(m: String) -> ApiError {
    ApiError::new("bad_query", m)
}

/// Parse `q` into the values of `names` (each required, once, decimal).
fn parse_query<const N: usize>(q: Option<&str>, names: [&str; N]) -> ApiResult<[u64; N]> {
    let mut vals: [Option<u64>; N] = [None; N];
    for pair in q.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').ok_or_else(|| bad(format!("query parameter {pair:?} has no value")))?;
        let i = names
            .iter()
            .position(|n| *n == k)
            .ok_or_else(|| bad(format!("unknown query parameter {k:?} (expected {})", names.join(", "))))?;
        if vals[i].is_some() {
            return Err(bad(format!("query parameter {k} is given twice")));
        }
        if v.is_empty() || v.len() > 20 || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(format!("query parameter {k} is not a decimal number: {v:?}")));
        }
        vals[i] = Some(v.parse::<u64>().map_err(|_| bad(format!("query parameter {k} is too large: {v}")))?);
    }
    let mut out = [0u64; N];
    for (i, n) in names.iter().enumerate() {
        out[i] = vals[i].ok_or_else(|| bad(format!("query parameter {n} is missing")))?;
    }
    Ok(out)
}

/// 404 `log_size_not_reached` unless the log holds `size` deposits.
fn within(store: &Store, size: u64) -> ApiResult<()> {
    let have = store.log_size();
    if size > have {
        return Err(ApiError::new(
            "log_size_not_reached",
            format!("the log holds {have} deposits on this node, not {size}"),
        ));
    }
    Ok(())
}

/// `GET /v1/log`: the log's size, root and the block it ends at.
pub(crate) async fn get_log(State(ctx): State<ApiContext>) -> ApiResult<Json<LogHead>> {
    let head = read(&ctx, |store| {
        let s = store.log_state().ok_or_else(|| ApiError::new("not_found", "this store has no deposit log"))?;
        Ok(LogHead { size: s.size, root: store.log_root(s.size)?, height: s.height })
    })
    .await?;
    Ok(Json(head))
}

/// `GET /v1/log/inclusion?index=I&size=N`.
pub(crate) async fn get_inclusion(
    State(ctx): State<ApiContext>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<LogInclusion>> {
    let [index, size] = parse_query(q.as_deref(), ["index", "size"])?;
    if index >= size {
        return Err(bad(format!("index {index} is not below size {size}")));
    }
    let ans = read(&ctx, move |store| {
        within(store, size)?;
        let leaf_hash =
            store.log_leaf_hash(index)?.ok_or_else(|| ApiError::new("storage", format!("leaf {index} is missing")))?;
        Ok(LogInclusion {
            index,
            size,
            leaf_hash,
            root: store.log_root(size)?,
            proof: store.log_inclusion_proof(size, index)?,
        })
    })
    .await?;
    Ok(Json(ans))
}

/// `GET /v1/log/consistency?from=A&to=B`.
pub(crate) async fn get_consistency(
    State(ctx): State<ApiContext>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<LogConsistency>> {
    let [from, to] = parse_query(q.as_deref(), ["from", "to"])?;
    if from == 0 || from > to {
        return Err(bad(format!("need 1 <= from <= to, not from={from} to={to}")));
    }
    let ans = read(&ctx, move |store| {
        within(store, to)?;
        Ok(LogConsistency {
            from,
            to,
            from_root: store.log_root(from)?,
            to_root: store.log_root(to)?,
            proof: store.log_consistency_proof(from, to)?,
        })
    })
    .await?;
    Ok(Json(ans))
}

/// `GET /v1/checkpoint` (the complete checkpoint of the largest size) and
/// `GET /v1/checkpoint?size=N`: the signed note as `text/plain`, validator signatures then any
/// witness cosignatures (`docs/receipt-format.md` 14.2). 404 `checkpoint_not_found` if none.
pub(crate) async fn get_checkpoint(
    State(ctx): State<ApiContext>,
    RawQuery(q): RawQuery,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let size = match q.as_deref() {
        None | Some("") => None,
        q => Some(parse_query(q, ["size"])?[0]),
    };
    let cp = read(&ctx, move |store| {
        let cp = match size {
            Some(s) => store.log_checkpoint(s)?,
            None => store.latest_log_checkpoint()?,
        };
        cp.ok_or_else(|| {
            ApiError::new(
                "checkpoint_not_found",
                match size {
                    Some(s) => format!("no complete checkpoint of size {s} on this node"),
                    None => "no complete checkpoint on this node yet".to_string(),
                },
            )
        })
    })
    .await?;
    Ok(([(axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8")], cp.note).into_response())
}

/// The value of the one query parameter `name`: a deposit ID (64 hex digits).
fn parse_deposit_query(q: Option<&str>) -> ApiResult<Hash> {
    let q = q.unwrap_or("");
    let v = match q.split('&').collect::<Vec<_>>().as_slice() {
        [one] => one
            .strip_prefix("deposit=")
            .ok_or_else(|| bad("the query must be deposit=ID (64 hex digits), nothing else".into()))?,
        _ => return Err(bad("the query must be deposit=ID (64 hex digits), nothing else".into())),
    };
    if v.len() != 64 {
        return Err(bad(format!("deposit is not 64 hex digits ({} characters)", v.len())));
    }
    Hash::from_hex(v).map_err(|_| bad("deposit is not 64 hex digits".into()))
}

/// `GET /v1/log/index?deposit=ID`: the deposit's leaf index in the deposit log; 404
/// `deposit_not_found` if no committed deposit has that ID.
pub(crate) async fn get_log_index(State(ctx): State<ApiContext>, RawQuery(q): RawQuery) -> ApiResult<Json<LogIndex>> {
    let deposit_id = parse_deposit_query(q.as_deref())?;
    let ans = read(&ctx, move |store| {
        let index = store.log_index(&deposit_id)?.ok_or_else(|| {
            ApiError::new("deposit_not_found", format!("no committed deposit {deposit_id} in this node's log"))
        })?;
        Ok(LogIndex { deposit_id, index })
    })
    .await?;
    Ok(Json(ans))
}

/// `GET /v1/checkpoint/tsa?size=N`: the RFC 3161 `TimeStampToken` (DER) over the text of the
/// checkpoint of size `N` this node holds, `application/octet-stream`, with the checkpoint's
/// block in `Curia-Checkpoint-Height`. 404 `tsa_token_not_found` when that checkpoint is not
/// (yet) stamped: no TSA configured, the TSA not reached yet, or a later checkpoint of the same
/// size replaced the stamped one.
pub(crate) async fn get_checkpoint_tsa(
    State(ctx): State<ApiContext>,
    RawQuery(q): RawQuery,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let [size] = parse_query(q.as_deref(), ["size"])?;
    let tok = read(&ctx, move |store| {
        let cp = store.log_checkpoint(size)?.ok_or_else(|| {
            ApiError::new("checkpoint_not_found", format!("no complete checkpoint of size {size} on this node"))
        })?;
        match store.checkpoint_tsa(size)? {
            Some(t) if t.height == cp.height => Ok(t),
            _ => Err(ApiError::new(
                "tsa_token_not_found",
                format!("the checkpoint of size {size} (height {}) has no time stamp on this node", cp.height),
            )),
        }
    })
    .await?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (axum::http::HeaderName::from_static("curia-checkpoint-height"), tok.height.to_string()),
        ],
        tok.token,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_strict() {
        assert_eq!(parse_query(Some("index=3&size=10"), ["index", "size"]).unwrap(), [3, 10]);
        assert_eq!(parse_query(Some("size=10&index=0"), ["index", "size"]).unwrap(), [0, 10]);
        for (q, want) in [
            (None, "index is missing"),
            (Some("index=1"), "size is missing"),
            (Some("index=1&size=2&x=3"), "unknown query parameter \"x\""),
            (Some("index=1&index=2&size=3"), "given twice"),
            (Some("index=-1&size=2"), "not a decimal"),
            (Some("index=&size=2"), "not a decimal"),
            (Some("index&size=2"), "has no value"),
            (Some("index=1&size=99999999999999999999"), "too large"),
            (Some("index=1&size=123456789012345678901"), "not a decimal"),
        ] {
            let e = parse_query(q, ["index", "size"]).unwrap_err();
            assert_eq!(e.code, "bad_query");
            assert!(e.message.contains(want), "{q:?}: {}", e.message);
        }
        let id = "ab".repeat(32);
        assert_eq!(parse_deposit_query(Some(&format!("deposit={id}"))).unwrap().to_hex(), id);
        for q in [None, Some(""), Some("deposit="), Some("id=00"), Some("deposit=zz")] {
            assert_eq!(parse_deposit_query(q).unwrap_err().code, "bad_query", "{q:?}");
        }
        let long = format!("deposit={id}00");
        assert!(parse_deposit_query(Some(&long)).is_err());
        let two = format!("deposit={id}&deposit={id}");
        assert!(parse_deposit_query(Some(&two)).is_err());
        let bad_hex = format!("deposit={}", "g".repeat(64));
        assert!(parse_deposit_query(Some(&bad_hex)).is_err());
    }
}
