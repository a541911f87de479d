//! Every bound the ledger enforces, in one place.

/// Longest name (chain, validator, client) in bytes.
pub const MAX_NAME: usize = 64;
/// Longest media type in bytes.
pub const MAX_MEDIA_TYPE: usize = 128;
/// Longest label in bytes.
pub const MAX_LABEL: usize = 256;
/// Longest platform reference in bytes.
pub const MAX_REFERENCE: usize = 256;
/// Longest case ID in bytes.
pub const MAX_CASE_ID: usize = 64;
/// Longest free-text note (case title, verification note) in bytes.
pub const MAX_NOTE: usize = 1024;
/// Most items in one batch deposit.
pub const MAX_BATCH_ITEMS: u32 = 10_000;
/// Most transactions in one block.
pub const MAX_BLOCK_TXS: u32 = 20_000;
/// Most validators.
pub const MAX_VALIDATORS: usize = 128;
/// Largest voting power of one validator.
pub const MAX_POWER: u64 = 1 << 40;
/// Most clients in a genesis.
pub const MAX_GENESIS_CLIENTS: usize = 100_000;
/// Largest genesis JSON in bytes.
pub const MAX_GENESIS_BYTES: usize = 64 << 20;
/// Most court approvals on one registry update.
pub const MAX_APPROVALS: usize = MAX_VALIDATORS;
/// Largest receipt JSON in bytes.
pub const MAX_RECEIPT_BYTES: usize = 1 << 20;
/// Largest canonical transaction (a full batch) in bytes.
pub const MAX_TX_BYTES: usize = 64 + MAX_BATCH_ITEMS as usize * 32 + 4096;
/// Most deposits (single deposits plus batch items; other transactions count one) in one block.
pub const MAX_BLOCK_DEPOSITS: usize = 200_000;
/// Largest canonical block in bytes.
pub const MAX_BLOCK_BYTES: usize = 16 << 20;
