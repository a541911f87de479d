//! The binary frame of `GET /v1/chain`: committed blocks with their commit certificates, for
//! auditors who replay the chain from genesis (`curia audit --node URL`).
//!
//! Layout (integers big-endian; described for clients in `docs/api.md`):
//!
//! ```text
//! header (62 bytes):
//!   magic     8 bytes  "CURIACHN"
//!   version   u16      1
//!   chain_id  32 bytes the serving node's chain ID
//!   from      u64      the first height asked for
//!   tip       u64      the node's committed height when it read the frame
//!   count     u32      entries that follow (0 ..= MAX_CHAIN_BLOCKS)
//! then `count` entries, for heights from, from + 1, ...:
//!   height    u64
//!   block_len u32      then block_len bytes: the canonical `Block`
//!   cert_len  u32      then cert_len bytes: the canonical `CommitCertificate`
//! and nothing after the last entry.
//! ```
//!
//! The node stops adding entries before the frame would exceed [`CHAIN_BYTE_BUDGET`] (the first
//! entry is always included), so `count` may be less than asked; a client continues from the
//! next height. The decoder is strict: wrong magic or version, a count over the limit, an entry
//! for another height, a length over its limit, bytes that do not decode canonically, a block
//! or certificate for another height, a truncated entry and trailing bytes are all errors that
//! name the height they were found at. It never panics on any input.

use curia_ledger::block::{Block, CommitCertificate};
use curia_ledger::codec::Canonical;
use curia_ledger::limits::MAX_BLOCK_BYTES;
use curia_ledger::Hash;

/// First bytes of every frame.
pub const MAGIC: [u8; 8] = *b"CURIACHN";
/// Frame format version.
pub const VERSION: u16 = 1;
/// Length of the frame header.
pub const HEADER_LEN: usize = 8 + 2 + 32 + 8 + 8 + 4;
/// Most entries in one frame (and the most a request may ask for); the node stops adding entries
/// before a frame would exceed [`CHAIN_BYTE_BUDGET`] bytes (32 MiB); largest certificate entry
/// accepted: [`MAX_CERT_BYTES`] (a certificate of 128 validators is about 10 KB). Defined in
/// [`crate::limits`].
pub use crate::limits::{CHAIN_BYTE_BUDGET, MAX_CERT_BYTES, MAX_CHAIN_BLOCKS};
/// Largest frame a client should read: the budget (a single entry is at most a block of
/// [`MAX_BLOCK_BYTES`] and a certificate, well under it).
pub const MAX_FRAME_BYTES: usize = CHAIN_BYTE_BUDGET;

/// Builds a frame, entry by entry, within the byte budget.
#[derive(Debug)]
pub struct FrameWriter {
    buf: Vec<u8>,
    count: u32,
    budget: usize,
}

impl FrameWriter {
    /// A frame for `chain_id` starting at height `from`, read when the node's tip was `tip`.
    pub fn new(chain_id: &Hash, from: u64, tip: u64) -> Self {
        Self::with_budget(chain_id, from, tip, CHAIN_BYTE_BUDGET)
    }

    /// Like [`FrameWriter::new`] with another byte budget (for tests).
    pub fn with_budget(chain_id: &Hash, from: u64, tip: u64, budget: usize) -> Self {
        let mut buf = Vec::with_capacity(HEADER_LEN);
        buf.extend_from_slice(&MAGIC);
        buf.extend_from_slice(&VERSION.to_be_bytes());
        buf.extend_from_slice(&chain_id.0);
        buf.extend_from_slice(&from.to_be_bytes());
        buf.extend_from_slice(&tip.to_be_bytes());
        buf.extend_from_slice(&0u32.to_be_bytes());
        FrameWriter { buf, count: 0, budget }
    }

    /// Entries so far.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Whether another entry may be added (the count limit is not reached).
    pub fn has_room(&self) -> bool {
        self.count < MAX_CHAIN_BLOCKS
    }

    /// Append the entry for `height` (canonical block and certificate bytes). Returns `false`,
    /// appending nothing, when the frame is full: [`MAX_CHAIN_BLOCKS`] entries, or a non-empty
    /// frame that this entry would take over the byte budget.
    pub fn push(&mut self, height: u64, block: &[u8], cert: &[u8]) -> bool {
        let len = 8 + 4 + block.len() + 4 + cert.len();
        if !self.has_room() || (self.count > 0 && self.buf.len() + len > self.budget) {
            return false;
        }
        // Lengths over u32 cannot occur (blocks are bounded far below); refuse rather than wrap.
        let (Ok(bl), Ok(cl)) = (u32::try_from(block.len()), u32::try_from(cert.len())) else { return false };
        self.buf.reserve(len);
        self.buf.extend_from_slice(&height.to_be_bytes());
        self.buf.extend_from_slice(&bl.to_be_bytes());
        self.buf.extend_from_slice(block);
        self.buf.extend_from_slice(&cl.to_be_bytes());
        self.buf.extend_from_slice(cert);
        self.count += 1;
        true
    }

    /// The frame's bytes, with the entry count in its header.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf[HEADER_LEN - 4..HEADER_LEN].copy_from_slice(&self.count.to_be_bytes());
        self.buf
    }
}

/// A problem in a frame, at the height where it was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameError {
    /// The height being read (the frame's `from` for header problems).
    pub height: u64,
    /// Stable short code: `bad_frame` (framing), `wrong_height`, or `decode` (the block or
    /// certificate bytes are not canonical).
    pub code: &'static str,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "chain frame at height {}: {}", self.height, self.reason)
    }
}

impl std::error::Error for FrameError {}

/// The header of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// The serving node's chain ID.
    pub chain_id: Hash,
    /// First height in the frame.
    pub from: u64,
    /// The node's committed height when it built the frame.
    pub tip: u64,
    /// Entries in the frame.
    pub count: u32,
}

/// Reads a frame's entries one at a time (each block is decoded only when reached).
#[derive(Debug)]
pub struct FrameReader<'a> {
    header: FrameHeader,
    rest: &'a [u8],
    next: u64,
    left: u32,
    failed: bool,
}

/// Read a frame's header; the entries follow through the returned reader, which is an iterator
/// of `(block, certificate)` in height order. `expected_from` is the height the client asked
/// for: a frame starting elsewhere is an error.
pub fn read_frame(bytes: &[u8], expected_from: u64) -> Result<FrameReader<'_>, FrameError> {
    let bad = |reason: String| FrameError { height: expected_from, code: "bad_frame", reason };
    if bytes.len() > MAX_FRAME_BYTES {
        return Err(bad(format!("frame of {} bytes is over the limit of {MAX_FRAME_BYTES}", bytes.len())));
    }
    if bytes.len() < HEADER_LEN {
        return Err(bad(format!("frame of {} bytes is shorter than its {HEADER_LEN}-byte header", bytes.len())));
    }
    let (head, rest) = bytes.split_at(HEADER_LEN);
    if head[..8] != MAGIC {
        return Err(bad("does not start with CURIACHN".into()));
    }
    let version = u16::from_be_bytes([head[8], head[9]]);
    if version != VERSION {
        return Err(bad(format!("frame version {version}, this build reads version {VERSION}")));
    }
    let mut chain_id = [0u8; 32];
    chain_id.copy_from_slice(&head[10..42]);
    let from = u64::from_be_bytes(head[42..50].try_into().expect("8 bytes"));
    let tip = u64::from_be_bytes(head[50..58].try_into().expect("8 bytes"));
    let count = u32::from_be_bytes(head[58..62].try_into().expect("4 bytes"));
    if from != expected_from {
        return Err(bad(format!("frame starts at height {from}, asked for {expected_from}")));
    }
    if count > MAX_CHAIN_BLOCKS {
        return Err(bad(format!("frame holds {count} entries, over the limit of {MAX_CHAIN_BLOCKS}")));
    }
    if count > 0 && from.checked_add(u64::from(count) - 1).is_none_or(|last| last > tip) {
        return Err(bad(format!("frame holds {count} entries from height {from}, past its own tip {tip}")));
    }
    Ok(FrameReader {
        header: FrameHeader { chain_id: Hash(chain_id), from, tip, count },
        rest,
        next: from,
        left: count,
        failed: false,
    })
}

impl FrameReader<'_> {
    /// The frame's header.
    pub fn header(&self) -> FrameHeader {
        self.header
    }

    /// The height of the next entry.
    pub fn next_height(&self) -> u64 {
        self.next
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&[u8], FrameError> {
        if self.rest.len() < n {
            return Err(
                self.err("bad_frame", format!("frame is truncated: {what} needs {n} bytes, {} left", self.rest.len()))
            );
        }
        let (a, b) = self.rest.split_at(n);
        self.rest = b;
        Ok(a)
    }

    fn err(&self, code: &'static str, reason: String) -> FrameError {
        FrameError { height: self.next, code, reason }
    }

    fn length(&mut self, what: &str, max: usize) -> Result<usize, FrameError> {
        let b = self.take(4, what)?;
        let n = u32::from_be_bytes(b.try_into().expect("4 bytes")) as usize;
        if n > max {
            return Err(self.err("bad_frame", format!("{what} of {n} bytes is over the limit of {max}")));
        }
        Ok(n)
    }

    fn entry(&mut self) -> Result<(Block, CommitCertificate), FrameError> {
        let h = u64::from_be_bytes(self.take(8, "entry height")?.try_into().expect("8 bytes"));
        if h != self.next {
            return Err(self.err("wrong_height", format!("entry is for height {h}, expected {}", self.next)));
        }
        let n = self.length("block length", MAX_BLOCK_BYTES)?;
        let bytes = self.take(n, "block")?;
        let block = Block::from_bytes(bytes).map_err(|e| self.err("decode", e.to_string()))?;
        let n = self.length("certificate length", MAX_CERT_BYTES)?;
        let bytes = self.take(n, "certificate")?;
        let cert = CommitCertificate::from_bytes(bytes).map_err(|e| self.err("decode", e.to_string()))?;
        if block.header.height != h {
            return Err(self.err("wrong_height", format!("block in the entry is for height {}", block.header.height)));
        }
        if cert.height != h {
            return Err(self.err("wrong_height", format!("certificate in the entry is for height {}", cert.height)));
        }
        Ok((block, cert))
    }
}

impl Iterator for FrameReader<'_> {
    type Item = Result<(Block, CommitCertificate), FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        if self.left == 0 {
            if self.rest.is_empty() {
                return None;
            }
            self.failed = true;
            let n = self.rest.len();
            return Some(Err(self.err("bad_frame", format!("{n} bytes after the frame's last entry"))));
        }
        match self.entry() {
            Ok(e) => {
                self.left -= 1;
                self.next += 1;
                Some(Ok(e))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use curia_ledger::testkit;

    /// `n` blocks of a test chain, each with a deposit.
    fn sample(n: u64) -> (Hash, Vec<(Block, CommitCertificate)>) {
        let mut c = testkit::TestChain::new(4);
        for k in 1..=n {
            let tx = c.deposit("platform", format!("evidence {k}").as_bytes(), k);
            assert!(c.commit(vec![tx]).is_empty());
        }
        (c.spec.chain_id, c.blocks)
    }

    fn frame(chain_id: &Hash, from: u64, tip: u64, entries: &[(Block, CommitCertificate)]) -> Vec<u8> {
        let mut w = FrameWriter::new(chain_id, from, tip);
        for (b, c) in entries {
            assert!(w.push(b.header.height, &b.to_bytes(), &c.to_bytes()));
        }
        w.finish()
    }

    #[test]
    fn round_trip() {
        let (id, blocks) = sample(5);
        let bytes = frame(&id, 1, 5, &blocks);
        let r = read_frame(&bytes, 1).unwrap();
        assert_eq!(r.header(), FrameHeader { chain_id: id, from: 1, tip: 5, count: 5 });
        let got: Vec<_> = r.map(Result::unwrap).collect();
        assert_eq!(got, blocks);
        // An empty frame (from past the tip) is valid.
        let empty = FrameWriter::new(&id, 9, 5).finish();
        assert_eq!(empty.len(), HEADER_LEN);
        let mut r = read_frame(&empty, 9).unwrap();
        assert_eq!(r.header().count, 0);
        assert!(r.next().is_none());
    }

    #[test]
    fn budget_and_count_limits() {
        let (id, blocks) = sample(4);
        let one = 8 + 4 + blocks[0].0.to_bytes().len() + 4 + blocks[0].1.to_bytes().len();
        // Room for the header and about two entries: the third does not fit.
        let mut w = FrameWriter::with_budget(&id, 1, 4, HEADER_LEN + 2 * one + one / 2);
        let mut n = 0;
        for (b, c) in &blocks {
            if !w.push(b.header.height, &b.to_bytes(), &c.to_bytes()) {
                break;
            }
            n += 1;
        }
        assert!((1..4).contains(&n), "{n}");
        let bytes = w.finish();
        let r = read_frame(&bytes, 1).unwrap();
        assert_eq!(r.header().count, n);
        assert_eq!(r.count(), n as usize);
        // The first entry always goes in, even over the budget.
        let mut w = FrameWriter::with_budget(&id, 1, 4, 1);
        assert!(w.push(1, &blocks[0].0.to_bytes(), &blocks[0].1.to_bytes()));
        assert!(!w.push(2, &blocks[1].0.to_bytes(), &blocks[1].1.to_bytes()));
        // No more than MAX_CHAIN_BLOCKS entries.
        let mut w = FrameWriter::new(&id, 1, u64::MAX);
        for h in 0..MAX_CHAIN_BLOCKS {
            assert!(w.push(1 + u64::from(h), b"", b""));
        }
        assert!(!w.push(1000, b"", b""));
    }

    #[test]
    fn every_truncation_and_garbage_is_an_error_not_a_panic() {
        let (id, blocks) = sample(3);
        let bytes = frame(&id, 1, 3, &blocks);
        for cut in 0..bytes.len() {
            let r = read_frame(&bytes[..cut], 1);
            let errs: Vec<FrameError> = match r {
                Err(e) => vec![e],
                Ok(r) => r.filter_map(Result::err).collect(),
            };
            assert_eq!(errs.len(), 1, "cut at {cut}");
            assert!((1..=3).contains(&errs[0].height), "cut at {cut}: {:?}", errs[0]);
        }
        // Trailing bytes.
        let mut long = bytes.clone();
        long.push(0);
        let errs: Vec<_> = read_frame(&long, 1).unwrap().filter_map(Result::err).collect();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].height, 4);
        assert!(errs[0].reason.contains("after the frame's last entry"), "{}", errs[0]);
        // Every single flipped byte either fails to read or yields a different header (the chain ID
        // and tip are the client's to check) or different values; never a panic.
        let header = read_frame(&bytes, 1).unwrap().header();
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x41;
            if let Ok(r) = read_frame(&b, 1) {
                let changed_header = r.header() != header;
                let got: Vec<_> = r.collect();
                assert!(
                    changed_header
                        || got.iter().any(Result::is_err)
                        || got.len() != 3
                        || got.iter().zip(&blocks).any(|(g, w)| g.as_ref().unwrap() != w),
                    "flip at {i} went unnoticed"
                );
            }
        }
        // Garbage.
        assert_eq!(read_frame(b"<html>oops</html>", 1).unwrap_err().code, "bad_frame");
        assert!(read_frame(&[0xff; 200], 1).is_err());
    }

    #[test]
    fn header_checks() {
        let (id, blocks) = sample(3);
        let bytes = frame(&id, 1, 3, &blocks);
        assert!(read_frame(&bytes, 2).unwrap_err().reason.contains("asked for 2"));
        let mut b = bytes.clone();
        b[9] = 2;
        assert!(read_frame(&b, 1).unwrap_err().reason.contains("version 2"));
        let mut b = bytes.clone();
        b[58..62].copy_from_slice(&(MAX_CHAIN_BLOCKS + 1).to_be_bytes());
        assert!(read_frame(&b, 1).unwrap_err().reason.contains("over the limit"));
        // More entries than the frame's own tip allows.
        let mut b = bytes.clone();
        b[50..58].copy_from_slice(&2u64.to_be_bytes());
        assert!(read_frame(&b, 1).unwrap_err().reason.contains("past its own tip"));
    }

    #[test]
    fn wrong_heights_are_named() {
        let (id, blocks) = sample(3);
        // Entry 2 labelled as height 3.
        let mut w = FrameWriter::new(&id, 1, 3);
        w.push(1, &blocks[0].0.to_bytes(), &blocks[0].1.to_bytes());
        w.push(3, &blocks[1].0.to_bytes(), &blocks[1].1.to_bytes());
        let errs: Vec<_> = read_frame(&w.finish(), 1).unwrap().filter_map(Result::err).collect();
        assert_eq!((errs[0].height, errs[0].code), (2, "wrong_height"));
        // Entry 2 carries block 3.
        let mut w = FrameWriter::new(&id, 1, 3);
        w.push(1, &blocks[0].0.to_bytes(), &blocks[0].1.to_bytes());
        w.push(2, &blocks[2].0.to_bytes(), &blocks[1].1.to_bytes());
        let errs: Vec<_> = read_frame(&w.finish(), 1).unwrap().filter_map(Result::err).collect();
        assert_eq!((errs[0].height, errs[0].code), (2, "wrong_height"));
        assert!(errs[0].reason.contains("block in the entry is for height 3"), "{}", errs[0]);
        // A block length over the limit.
        let mut w = FrameWriter::new(&id, 1, 3);
        w.push(1, &blocks[0].0.to_bytes(), &blocks[0].1.to_bytes());
        let mut b = w.finish();
        b[HEADER_LEN + 8..HEADER_LEN + 12].copy_from_slice(&u32::MAX.to_be_bytes());
        let errs: Vec<_> = read_frame(&b, 1).unwrap().filter_map(Result::err).collect();
        assert!(errs[0].reason.contains("block length"), "{}", errs[0]);
    }
}
