//! Every limit of the node, in one place, with compile-time checks of how they relate.
//!
//! Rules:
//! - A bound on something that comes from outside (a connection, a request, a body, a
//!   submission, a frame from a peer) is a constant here; the modules that enforce it use these
//!   (older paths such as `api::DEPOSIT_BODY_LIMIT` are re-exports).
//! - Relations between limits that must hold for the node to work are `const` assertions at the
//!   end of this file, so changing one limit without the others fails to compile.
//! - The ledger's own limits (field lengths, block size) stay in `curia_ledger::limits`: they are
//!   part of what a valid chain is, not of how one node defends itself.
//! - The values are documented for clients in `docs/api.md` ("Limits").

use std::time::Duration;

use curia_ledger::limits::{MAX_BATCH_ITEMS, MAX_BLOCK_BYTES, MAX_TX_BYTES};

// ----- HTTP connections (API and ops listeners) -----

/// Most open connections on the API listener; one more is answered 503 `too_many_connections`
/// and closed at once.
pub const API_MAX_CONNECTIONS: usize = 1024;
/// Most open API connections from one IP address (a constant, not configurable: behind a proxy
/// all clients share its address).
pub const API_MAX_CONNECTIONS_PER_IP: usize = 64;
/// Most open connections on the ops listener (all from the operator's own hosts).
pub const OPS_MAX_CONNECTIONS: usize = 32;
/// Time allowed to receive a request's head (request line and headers), counted from when the
/// server starts waiting for it: from the connection's start, or from the end of the previous
/// answer on a kept-alive connection (so it is also the idle time allowed between requests).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed for a TLS handshake on a TLS listener, from accept (the connection holds its
/// place in the caps meanwhile); then the request head gets [`HEADER_READ_TIMEOUT`].
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head, and the connection's read buffer (hyper's `max_buf_size`).
pub const MAX_HEAD_BYTES: usize = 16 << 10;
/// How long a stopping server waits for requests in flight before closing their connections.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

// ----- stopping (SIGTERM; the order is in `crate::run::run_node_with_api`) -----

/// How long a stopping node waits for its checkpoint tasks (witness pushes, time-stamp requests)
/// to end once told to stop. They are cancelled, not awaited to [`WITNESS_TIMEOUT`] or
/// [`TSA_TIMEOUT`]: an exchange in flight is dropped (its connection closed) at once, so this
/// only covers a task between two steps; a task still running after it is aborted.
pub const CHECKPOINT_STOP_WAIT: Duration = Duration::from_secs(2);
/// How long a stopping node waits, after the store is flushed, for work still running on the
/// blocking pools (a backup being written, a store read of a request cut at
/// [`SHUTDOWN_GRACE`], a host-name lookup); then the process exits without it (a backup left
/// unfinished is a staging folder, removed by the next backup).
pub const BLOCKING_STOP_WAIT: Duration = Duration::from_secs(5);
/// The longest the node itself waits when stopping: its checkpoint tasks, then the API and ops
/// listeners together, then the blocking pools. The store's flush comes between the last two
/// and is not cut short (it writes the memtables out; RocksDB's write-ahead log already holds
/// every committed write), see [`STORE_FLUSH_ALLOWANCE`].
pub const SHUTDOWN_BOUND: Duration =
    Duration::from_secs(CHECKPOINT_STOP_WAIT.as_secs() + SHUTDOWN_GRACE.as_secs() + BLOCKING_STOP_WAIT.as_secs());
/// Time left, in the relation with [`SYSTEMD_TIMEOUT_STOP`], for the store's flush and close.
pub const STORE_FLUSH_ALLOWANCE: Duration = Duration::from_secs(30);
/// `TimeoutStopSec` of `packaging/deb/curia-node.service`: systemd sends SIGKILL after it (a
/// test checks the unit says the same).
pub const SYSTEMD_TIMEOUT_STOP: Duration = Duration::from_secs(60);

// ----- checkpoints of the deposit log (`crate::checkpoints`) -----

/// Default `[checkpoints] every_blocks`: a checkpoint after every block whose height is a
/// multiple of it.
pub const CHECKPOINT_EVERY_BLOCKS: u64 = 100;
/// Default `[checkpoints] every_secs`: also a checkpoint after the first block whose header time
/// enters a new period of this many seconds.
pub const CHECKPOINT_EVERY_SECS: u64 = 60;
/// Largest `every_blocks` and `every_secs` accepted.
pub const CHECKPOINT_MAX_PERIOD: u64 = 1_000_000;
/// Checkpoints being collected (complete or not) kept in memory; the oldest is dropped first.
pub const CHECKPOINT_PENDING: usize = 8;
/// Signature messages kept for heights this node has not committed yet (at most
/// [`CHECKPOINT_EARLY_HEIGHTS`] ahead of its tip).
pub const CHECKPOINT_EARLY_SIGS: usize = 512;
/// How far ahead of the tip an early signature may be.
pub const CHECKPOINT_EARLY_HEIGHTS: u64 = 16;
/// How often a validator sends its signatures again for checkpoints it keeps in memory (a
/// peer that was behind, or lost the message, gets them again).
pub const CHECKPOINT_RESEND: Duration = Duration::from_secs(2);
/// A checkpoint's signatures are sent again for at most this long after its block.
pub const CHECKPOINT_RESEND_FOR: Duration = Duration::from_secs(30);
/// Most witnesses in `[checkpoints]`.
pub const MAX_WITNESSES: usize = 32;
/// Time for one `add-checkpoint` exchange with a witness (connect, send, answer).
pub const WITNESS_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest witness answer read.
pub const WITNESS_MAX_ANSWER: usize = 16 << 10;
/// First wait after a failed push; doubled after each failure up to [`WITNESS_BACKOFF_MAX`].
pub const WITNESS_BACKOFF_MIN: Duration = Duration::from_secs(1);
/// Longest wait between two pushes to a failing witness.
pub const WITNESS_BACKOFF_MAX: Duration = Duration::from_secs(60);
/// Most `409` answers followed in a row for one checkpoint (each names the witness's size).
pub const WITNESS_MAX_409: usize = 3;
/// Time for one exchange with the Time-Stamping Authority (connect, send, answer).
pub const TSA_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest TSA answer read (a `TimeStampResp` with its certificates; as
/// `curia_transparency::rfc3161::MAX_TOKEN_BYTES`, plus room for the HTTP head).
pub const TSA_MAX_ANSWER: usize = 64 * 1024 + 16 * 1024;
/// First wait after a failed time-stamp request; doubled after each failure up to
/// [`WITNESS_BACKOFF_MAX`].
pub const TSA_BACKOFF_MIN: Duration = Duration::from_secs(1);

// ----- validator network (libp2p) -----

/// How often each peer connection is pinged (libp2p `ping`).
pub const PEER_PING_INTERVAL: Duration = Duration::from_secs(1);
/// A ping not answered within this time fails. libp2p's ping forgives the first failure and
/// retries on a new stream, whose negotiation has its own 10 s timeout ([`PEER_STREAM_TIMEOUT`]);
/// the second failure closes the connection. So a dead or stopped peer is shown disconnected
/// within about [`PEER_DEAD_AFTER`] (about 15 s), instead of the 3600 s idle timeout. Long
/// enough that a busy but live peer (a validator verifying a full block) still answers.
pub const PEER_PING_TIMEOUT: Duration = Duration::from_secs(3);
/// libp2p's timeout for negotiating a new stream (its `SubstreamProtocol` default), part of
/// [`PEER_DEAD_AFTER`].
pub const PEER_STREAM_TIMEOUT: Duration = Duration::from_secs(10);
/// About the longest a dead peer counts as connected: a failed ping, the interval, and a failed
/// stream negotiation.
pub const PEER_DEAD_AFTER: Duration =
    Duration::from_secs(2 * PEER_PING_INTERVAL.as_secs() + PEER_PING_TIMEOUT.as_secs() + PEER_STREAM_TIMEOUT.as_secs());

// ----- submissions (POST /v1/deposits, POST /v1/transactions) -----

/// Largest body of `POST /v1/deposits` (one transaction; a full batch of 10,000 items is about
/// 0.7 MiB of JSON).
pub const DEPOSIT_BODY_LIMIT: usize = 1 << 20;
/// Largest body of `POST /v1/transactions`.
pub const TRANSACTIONS_BODY_LIMIT: usize = 16 << 20;
/// Time allowed to receive a whole submission body, from when its head has arrived; then 408
/// `body_timeout` and the connection is closed.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(20);
/// Body bytes held at once by all the submissions being received (each counts what it has
/// received so far); a chunk that does not fit gets 503 `busy`.
pub const BODY_BUFFER_BUDGET: usize = 128 << 20;
/// Most transactions in one submission (the API refuses more before checking any).
pub const MAX_SUBMISSION: usize = 10_000;
/// Submissions parsed, checked and waiting for the driver at the same time (per process); a
/// submission takes one of these slots only once its whole body has arrived.
pub const SUBMIT_CONCURRENCY: usize = 8;
/// How long a received submission waits for one of the [`SUBMIT_CONCURRENCY`] slots before 503
/// `busy`.
pub const SUBMIT_SLOT_WAIT: Duration = Duration::from_secs(5);
/// How long a submission waits for the driver's answer before 503 `timeout`.
pub const SUBMIT_TIMEOUT: Duration = Duration::from_secs(30);
/// Most client submissions queued between the API and the driver; full: 503 `busy`.
pub const SUBMIT_QUEUE: usize = 1024;
/// `Retry-After` seconds of a 503 `busy`, `unavailable` or `too_many_connections`.
pub const BUSY_RETRY_AFTER_S: u64 = 1;

// ----- gossip between validators -----

/// Most transactions in one gossip frame a peer sends or accepts.
pub const MAX_GOSSIP_TXS: usize = 10_000;

// ----- mempool (defaults of `[mempool]`) -----

/// Most pending transactions.
pub const MEMPOOL_MAX_TXS: usize = 200_000;
/// Most pending bytes (canonical encoding).
pub const MEMPOOL_MAX_BYTES: usize = 256 << 20;
/// Delay suggested to clients when the mempool is full.
pub const MEMPOOL_RETRY_AFTER_MS: u64 = 1000;

// ----- chain reads (GET /v1/chain) -----

/// Most blocks in one `GET /v1/chain` answer.
pub const MAX_CHAIN_BLOCKS: u32 = 256;
/// Most bytes of blocks and certificates in one `GET /v1/chain` answer (the first block always
/// goes in).
pub const CHAIN_BYTE_BUDGET: usize = 32 << 20;
/// Largest canonical certificate in a chain frame.
pub const MAX_CERT_BYTES: usize = 64 << 10;
/// Chain answers being built at the same time; more get 503 `busy`.
pub const CHAIN_READ_CONCURRENCY: usize = 4;

// ----- validator network -----

/// Largest message on the validator network.
pub const NET_MAX_FRAME: usize = 32 << 20;
/// Capacity of the queues between the network task and the node.
pub const NET_QUEUE: usize = 4096;
/// How often unconnected validators are dialed again.
pub const NET_REDIAL: Duration = Duration::from_secs(2);
/// How often the driver looks for the next-key file of a rotation besides after each commit
/// (`crate::rotation`).
pub const NEXT_KEY_POLL: Duration = Duration::from_secs(5);

// ----- threads and priorities (`crate::priority`) -----

/// Worker threads of the API's own runtime (the HTTP API's connections and reads, at the
/// process's priority); a receipt read that blocks (`block_in_place`) hands its worker's other
/// tasks to a replacement thread, so two keep the API answering on a 2-core machine.
pub const API_WORKER_THREADS: usize = 2;
/// Most blocking-pool threads of the API's runtime (store reads of `GET` requests, each bounded
/// by the connection caps above; tokio's default is 512).
pub const API_MAX_BLOCKING_THREADS: usize = 64;
/// Default steps of `nice` by which the bulk runtime's threads (consensus, blocks, commits,
/// admission of submissions, the peer network, RocksDB's background threads started by them)
/// run below the API's; `CURIA_BULK_NICE` overrides it (0 to 19; 0 keeps one priority).
pub const BULK_NICE: i32 = 10;
/// Largest `nice` step accepted (Linux's lowest priority is nice 19).
pub const MAX_NICE: i32 = 19;
/// Default scheduler slice the API runtime's threads ask for, in microseconds (Linux 6.12+,
/// `sched_setattr`; `CURIA_API_SLICE_US` overrides it, 0 keeping the kernel's default). A
/// thread that asks for a slice shorter than the running one's may take the core when it
/// wakes instead of waiting for that slice to end (the kernel's default is 0.75-3 ms).
pub const API_SLICE_US: u64 = 100;
/// The kernel's bounds of a requested slice (it clamps to 0.1-100 ms).
pub const MIN_SLICE_US: u64 = 100;
/// See [`MIN_SLICE_US`].
pub const MAX_SLICE_US: u64 = 100_000;

// ----- files and operator actions -----

/// Largest configuration, key or token file read.
pub const MAX_CONFIG_FILE: u64 = 1 << 20;
/// Shortest ops token accepted, in bytes (after trimming white space).
pub const MIN_OPS_TOKEN: usize = 16;
/// Default of `[ops] backup_keep`: backups kept in `DATA_DIR/backups`; older ones are deleted
/// after each new backup.
pub const BACKUP_KEEP: usize = 7;
/// Default of `[ops] backup_min_interval_s`: least time between two backups; sooner: 429.
pub const BACKUP_MIN_INTERVAL_S: u64 = 60;

// ----- how the limits relate (checked at compile time) -----

/// Bytes of one batch item in a JSON transaction: 64 hex digits, two quotes and a comma.
const JSON_ITEM_BYTES: usize = 64 + 3;
/// Bytes of one chain-frame entry besides its block and certificate: height and two lengths.
const CHAIN_ENTRY_OVERHEAD: usize = 8 + 4 + 4;

const _: () = {
    // Connections: a per-address cap above the total would never bind.
    assert!(API_MAX_CONNECTIONS_PER_IP <= API_MAX_CONNECTIONS);
    assert!(OPS_MAX_CONNECTIONS >= 1);
    // hyper refuses a read buffer under 8 KiB (it panics).
    assert!(MAX_HEAD_BYTES >= 8192);
    // A full batch deposit fits the body of POST /v1/deposits.
    assert!(DEPOSIT_BODY_LIMIT >= MAX_BATCH_ITEMS as usize * JSON_ITEM_BYTES + 8192);
    assert!(DEPOSIT_BODY_LIMIT <= TRANSACTIONS_BODY_LIMIT);
    // The largest body can always be received when nothing else is.
    assert!(BODY_BUFFER_BUDGET >= TRANSACTIONS_BODY_LIMIT);
    assert!(BODY_BUFFER_BUDGET <= u32::MAX as usize);
    // Stopping: every bounded wait, plus the flush's allowance, ends before systemd's SIGKILL.
    assert!(SHUTDOWN_BOUND.as_secs() + STORE_FLUSH_ALLOWANCE.as_secs() < SYSTEMD_TIMEOUT_STOP.as_secs());
    // A push or time stamp in flight is cancelled: the stop wait is shorter than either exchange.
    assert!(CHECKPOINT_STOP_WAIT.as_secs() < WITNESS_TIMEOUT.as_secs());
    assert!(CHECKPOINT_STOP_WAIT.as_secs() < TSA_TIMEOUT.as_secs());
    // A slot is free again before a client that waits for it gives up on the answer.
    assert!(SUBMIT_SLOT_WAIT.as_secs() < SUBMIT_TIMEOUT.as_secs());
    // Gossip: the accepted part of any submission goes to the peers in one frame (a tag, a count,
    // then canonical transactions, each smaller than its JSON), and a peer decodes up to
    // `MAX_GOSSIP_TXS` of them.
    assert!(NET_MAX_FRAME >= 1 + 4 + TRANSACTIONS_BODY_LIMIT);
    assert!(MAX_SUBMISSION <= MAX_GOSSIP_TXS);
    // A proposal carrying a full block fits a network frame.
    assert!(NET_MAX_FRAME > curia_consensus::msg::MAX_MESSAGE_BYTES);
    // The mempool takes a full submission, and its largest transaction.
    assert!(MEMPOOL_MAX_TXS >= MAX_SUBMISSION);
    assert!(MEMPOOL_MAX_BYTES >= MAX_TX_BYTES);
    // A chain answer always holds its first block (a valid block is at most MAX_BLOCK_BYTES).
    assert!(
        CHAIN_BYTE_BUDGET >= crate::chain_stream::HEADER_LEN + CHAIN_ENTRY_OVERHEAD + MAX_BLOCK_BYTES + MAX_CERT_BYTES
    );
    assert!(MAX_CHAIN_BLOCKS >= 1);
    // Backups: keep at least the one just written.
    assert!(BACKUP_KEEP >= 1);
    // Priorities: the API keeps a worker when one is blocked in a read; nice stops at 19.
    assert!(API_WORKER_THREADS >= 2);
    assert!(API_MAX_BLOCKING_THREADS >= 1);
    assert!(BULK_NICE >= 0 && BULK_NICE <= MAX_NICE && MAX_NICE == 19);
    // The API's slice is one the kernel takes as given (0 would mean "the default").
    assert!(API_SLICE_US >= MIN_SLICE_US && API_SLICE_US <= MAX_SLICE_US);
    assert!(MIN_SLICE_US as u128 == curia_sched::MIN_SLICE.as_micros());
    assert!(MAX_SLICE_US as u128 == curia_sched::MAX_SLICE.as_micros());
};

#[cfg(test)]
mod tests {
    use super::*;

    /// The systemd unit's stop timeout is the one the shutdown bound is checked against.
    #[test]
    fn unit_stop_timeout_matches() {
        let unit = include_str!("../../packaging/deb/curia-node.service");
        let line =
            unit.lines().find_map(|l| l.trim().strip_prefix("TimeoutStopSec=")).expect("the unit sets TimeoutStopSec");
        assert_eq!(line.trim().parse::<u64>().unwrap(), SYSTEMD_TIMEOUT_STOP.as_secs());
    }
}
