//! Signed read requests: who may read case records, and how a request proves it.
//!
//! Rules (described for clients in `docs/api.md`, "Signed reads"):
//! - A signed read carries three values (HTTP headers [`HEADER_READER`], [`HEADER_TIMESTAMP`],
//!   [`HEADER_SIGNATURE`]): the reader's ed25519 public key, the time of the request in
//!   milliseconds since the Unix epoch, and the reader's signature over [`read_request_hash`].
//! - The signed hash is `tagged("curia/v1/read", chain_id (32) || str method || str path ||
//!   u64 timestamp_ms)` in the canonical encoding (`str` is a `u32` length then UTF-8 bytes, `u64`
//!   is big-endian). `method` is the upper-case HTTP method; `path` is the request target: the
//!   path and, when the request has one, `?` and the query string exactly as sent (e.g.
//!   `/v1/cases/CASE-1`, `/v1/chain?from=1&count=256`). Binding the chain ID, method, path and
//!   query means a signature is good for one request on one chain only (a captured chain read
//!   cannot be replayed for another range); the timestamp bounds replay.
//! - A request is fresh if its timestamp is within [`READ_MAX_SKEW_MS`] of the verifier's clock,
//!   in either direction. The ledger has no clock: the caller passes its own `now_ms`.
//! - Case records may be read by an active client whose role is judge or auditor, or by a
//!   genesis validator whose role is court ([`may_read_cases`]). Platforms and registrars may not.

use crate::codec::Writer;
use crate::crypto::{PublicKey, SecretKey, Signature};
use crate::genesis::{ChainSpec, ClientRole, ValidatorRole};
use crate::hash::Hash;
use crate::state::StateView;

/// Tag of a signed read request's hash.
pub const TAG_READ: &str = "curia/v1/read";
/// Header carrying the reader's public key (64 hex digits).
pub const HEADER_READER: &str = "Curia-Reader";
/// Header carrying the request time (decimal milliseconds since the Unix epoch).
pub const HEADER_TIMESTAMP: &str = "Curia-Timestamp";
/// Header carrying the reader's signature over [`read_request_hash`] (128 hex digits).
pub const HEADER_SIGNATURE: &str = "Curia-Signature";
/// How far a request's timestamp may be from the verifier's clock: 300 seconds.
pub const READ_MAX_SKEW_MS: u64 = 300_000;

/// Why a signed read request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadAuthError {
    /// The timestamp is too far from the verifier's clock.
    #[error("request time {timestamp_ms} ms is more than {max_skew_ms} ms away from the node's clock {now_ms} ms")]
    Stale {
        /// The request's timestamp.
        timestamp_ms: u64,
        /// The verifier's clock.
        now_ms: u64,
        /// The allowed distance.
        max_skew_ms: u64,
    },
    /// The signature does not verify for this key, chain, method, path and time.
    #[error("read signature by {reader} does not verify for {method} {path} at {timestamp_ms}")]
    BadSignature {
        /// The claimed reader (hex).
        reader: String,
        /// The method.
        method: String,
        /// The path.
        path: String,
        /// The timestamp.
        timestamp_ms: u64,
    },
}

impl ReadAuthError {
    /// The API error code: `stale_request` or `bad_read_signature`.
    pub fn code(&self) -> &'static str {
        match self {
            ReadAuthError::Stale { .. } => "stale_request",
            ReadAuthError::BadSignature { .. } => "bad_read_signature",
        }
    }
}

/// The hash a reader signs for `method path` at `timestamp_ms` on chain `chain_id`.
pub fn read_request_hash(chain_id: &Hash, method: &str, path: &str, timestamp_ms: u64) -> Hash {
    let mut w = Writer::new();
    w.fixed(&chain_id.0);
    w.str(method);
    w.str(path);
    w.u64(timestamp_ms);
    Hash::tagged(TAG_READ, &[&w.into_bytes()])
}

/// Sign a read request with `key`.
pub fn sign_read_request(key: &SecretKey, chain_id: &Hash, method: &str, path: &str, timestamp_ms: u64) -> Signature {
    key.sign(&read_request_hash(chain_id, method, path, timestamp_ms))
}

/// Check a read request: fresh (within `max_skew_ms` of `now_ms`) and signed by `reader` for
/// exactly this chain, method, path and time. Who the reader is allowed to be is
/// [`may_read_cases`]'s question.
#[allow(clippy::too_many_arguments)]
pub fn verify_read_request(
    chain_id: &Hash,
    method: &str,
    path: &str,
    reader: &PublicKey,
    timestamp_ms: u64,
    signature: &Signature,
    now_ms: u64,
    max_skew_ms: u64,
) -> Result<(), ReadAuthError> {
    if timestamp_ms.abs_diff(now_ms) > max_skew_ms {
        return Err(ReadAuthError::Stale { timestamp_ms, now_ms, max_skew_ms });
    }
    let msg = read_request_hash(chain_id, method, path, timestamp_ms);
    reader.verify("read request", &msg, signature).map_err(|_| ReadAuthError::BadSignature {
        reader: reader.to_string(),
        method: method.into(),
        path: path.into(),
        timestamp_ms,
    })
}

/// Whether `key` may read case records: an active client with role judge or auditor in `state`,
/// or a validator of `spec` with role court. A failed state read is its error
/// ([`crate::LedgerError::StateStorage`]), not a refusal.
pub fn may_read_cases(spec: &ChainSpec, state: &dyn StateView, key: &PublicKey) -> crate::Result<bool> {
    let court = spec.genesis.validators.iter().any(|v| v.key == *key && v.role == ValidatorRole::Court);
    Ok(court
        || state.client(key)?.is_some_and(|c| c.active && matches!(c.role, ClientRole::Judge | ClientRole::Auditor)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Change, ClientRecord, MemState};
    use crate::testkit::{test_key, TestChain, TEST_GENESIS_MS};

    const PATH: &str = "/v1/cases/CASE-1";

    fn setup() -> (Hash, SecretKey, u64, Signature) {
        let chain_id = TestChain::new(4).spec.chain_id;
        let key = test_key("judge");
        let ts = TEST_GENESIS_MS + 5_000;
        let sig = sign_read_request(&key, &chain_id, "GET", PATH, ts);
        (chain_id, key, ts, sig)
    }

    #[test]
    fn a_good_signature_is_accepted_within_the_window() {
        let (chain_id, key, ts, sig) = setup();
        let pk = key.public();
        for now in [ts, ts + READ_MAX_SKEW_MS, ts - READ_MAX_SKEW_MS] {
            assert_eq!(verify_read_request(&chain_id, "GET", PATH, &pk, ts, &sig, now, READ_MAX_SKEW_MS), Ok(()));
        }
    }

    #[test]
    fn another_path_method_chain_time_key_or_a_flipped_bit_is_rejected() {
        let (chain_id, key, ts, sig) = setup();
        let pk = key.public();
        let other_chain = Hash::sha256(b"another chain");
        let bad = |chain: &Hash, method: &str, path: &str, pk: &PublicKey, t: u64, sig: &Signature| {
            let r = verify_read_request(chain, method, path, pk, t, sig, ts, READ_MAX_SKEW_MS);
            assert_eq!(r.as_ref().map_err(|e| e.code()), Err("bad_read_signature"), "{method} {path} {t}");
        };
        bad(&chain_id, "GET", "/v1/cases/CASE-2", &pk, ts, &sig);
        bad(&chain_id, "GET", "/v1/cases/CASE-1/", &pk, ts, &sig);
        bad(&chain_id, "POST", PATH, &pk, ts, &sig);
        bad(&other_chain, "GET", PATH, &pk, ts, &sig);
        bad(&chain_id, "GET", PATH, &pk, ts + 1, &sig);
        bad(&chain_id, "GET", PATH, &test_key("auditor").public(), ts, &sig);
        for bit in [0usize, 100, 300, 511] {
            let mut s = sig;
            s.0[bit / 8] ^= 1 << (bit % 8);
            bad(&chain_id, "GET", PATH, &pk, ts, &s);
        }
        let mut k = pk;
        k.0[3] ^= 0x10;
        bad(&chain_id, "GET", PATH, &k, ts, &sig);
    }

    #[test]
    fn stale_and_future_requests_are_rejected() {
        let (chain_id, key, ts, sig) = setup();
        let pk = key.public();
        for now in [ts + READ_MAX_SKEW_MS + 1, ts - READ_MAX_SKEW_MS - 1, ts + 86_400_000, 0] {
            let r = verify_read_request(&chain_id, "GET", PATH, &pk, ts, &sig, now, READ_MAX_SKEW_MS);
            assert_eq!(r.as_ref().map_err(|e| e.code()), Err("stale_request"), "now {now}");
        }
        // The extremes do not overflow.
        let r = verify_read_request(&chain_id, "GET", PATH, &pk, u64::MAX, &sig, 0, READ_MAX_SKEW_MS);
        assert!(matches!(r, Err(ReadAuthError::Stale { .. })));
    }

    #[test]
    fn the_message_is_the_tagged_canonical_encoding() {
        let chain_id = Hash([7; 32]);
        let mut pre = vec![13u8];
        pre.extend_from_slice(b"curia/v1/read");
        pre.extend_from_slice(&[7; 32]);
        pre.extend_from_slice(&3u32.to_be_bytes());
        pre.extend_from_slice(b"GET");
        pre.extend_from_slice(&(PATH.len() as u32).to_be_bytes());
        pre.extend_from_slice(PATH.as_bytes());
        pre.extend_from_slice(&1_767_225_600_000u64.to_be_bytes());
        assert_eq!(read_request_hash(&chain_id, "GET", PATH, 1_767_225_600_000), Hash::sha256(&pre));
    }

    #[test]
    fn judges_auditors_and_courts_may_read_cases_others_may_not() {
        let chain = TestChain::new(4);
        let mut state = MemState::genesis(&chain.spec);
        let may = |state: &MemState, name: &str| may_read_cases(&chain.spec, state, &test_key(name).public()).unwrap();
        assert!(may(&state, "judge") && may(&state, "judge2") && may(&state, "auditor"));
        assert!(!may(&state, "platform") && !may(&state, "registrar") && !may(&state, "stranger"));
        // Test validators v0, v1 are courts, v2 a notary, v3 a time service.
        assert!(may(&state, "v0") && may(&state, "v1"));
        assert!(!may(&state, "v2") && !may(&state, "v3"));
        // A removed judge may no longer read.
        let record = ClientRecord { name: "judge2".into(), role: ClientRole::Judge, active: false };
        state.apply(&[Change::ClientPut { key: test_key("judge2").public(), record }]);
        assert!(!may(&state, "judge2") && may(&state, "judge"));
    }
}
