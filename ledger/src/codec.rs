//! The canonical binary encoding of every hashed or signed structure.
//!
//! Rules (specified byte by byte in `docs/receipt-format.md`):
//! - Unsigned integers are fixed-width big-endian (`u8`, `u16`, `u32`, `u64`).
//! - Hashes, keys and signatures are their raw bytes (32, 32 and 64), no length prefix.
//! - Strings and byte strings are a `u32` length followed by the bytes; strings are UTF-8.
//!   Every string field has a maximum length, checked on encode by the constructors and on decode.
//! - Lists are a `u32` count followed by the items; every list has a maximum count.
//! - `Option<T>` is one byte `0x00` (none) or `0x01` followed by `T`.
//! - Enums are one tag byte followed by the fields of the variant.
//! - A decoder rejects unknown tags, option bytes other than 0 and 1, invalid UTF-8, lengths
//!   over the limit and trailing bytes, so every value has exactly one encoding.

use crate::{LedgerError, Result};

/// Appends canonical bytes to a buffer.
#[derive(Default, Debug)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }
    /// The bytes written.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
    /// The bytes written so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }
    /// Forget the bytes written, keeping the buffer (for a caller that hashes them piecewise).
    pub fn clear(&mut self) {
        self.buf.clear()
    }
    /// One byte.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    /// Big-endian u16.
    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    /// Big-endian u32.
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    /// Big-endian u64.
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    /// Raw fixed-size bytes.
    pub fn fixed(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }
    /// `u32` length then bytes.
    pub fn bytes(&mut self, v: &[u8]) {
        self.u32(v.len() as u32);
        self.buf.extend_from_slice(v);
    }
    /// `u32` length then UTF-8 bytes.
    pub fn str(&mut self, v: &str) {
        self.bytes(v.as_bytes());
    }
    /// `0x00`, or `0x01` then the value.
    pub fn option<T>(&mut self, v: &Option<T>, f: impl FnOnce(&mut Self, &T)) {
        match v {
            None => self.u8(0),
            Some(x) => {
                self.u8(1);
                f(self, x);
            }
        }
    }
    /// `u32` count then each item.
    pub fn list<T>(&mut self, v: &[T], mut f: impl FnMut(&mut Self, &T)) {
        self.u32(v.len() as u32);
        for x in v {
            f(self, x);
        }
    }
}

/// Reads canonical bytes, rejecting anything non-canonical.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`; `what` names the structure in errors.
    pub fn new(buf: &'a [u8], what: &'static str) -> Self {
        Reader { buf, pos: 0, what }
    }

    fn err(&self, reason: String) -> LedgerError {
        LedgerError::Decode { what: self.what, reason: format!("{reason} (at byte {})", self.pos) }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Fail unless every byte was read.
    pub fn finish(self) -> Result<()> {
        if self.pos != self.buf.len() {
            return Err(self.err(format!("{} trailing bytes", self.buf.len() - self.pos)));
        }
        Ok(())
    }

    /// Take `n` raw bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        match end {
            Some(end) => {
                let s = &self.buf[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(self.err(format!("truncated: need {n} more bytes, have {}", self.buf.len() - self.pos))),
        }
    }
    /// Exactly `N` raw bytes.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    /// One byte.
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    /// Big-endian u16.
    pub fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    /// Big-endian u32.
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    /// Big-endian u64.
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.array()?))
    }
    /// `u32` length (at most `max`) then bytes.
    pub fn bytes(&mut self, field: &'static str, max: usize) -> Result<&'a [u8]> {
        let n = self.u32()? as usize;
        if n > max {
            return Err(self.err(format!("{field} length {n} exceeds limit {max}")));
        }
        self.take(n)
    }
    /// `u32` length (at most `max` bytes) then UTF-8.
    pub fn str(&mut self, field: &'static str, max: usize) -> Result<String> {
        let b = self.bytes(field, max)?;
        String::from_utf8(b.to_vec()).map_err(|_| self.err(format!("{field} is not UTF-8")))
    }
    /// An option byte (0 or 1) then the value.
    pub fn option<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<Option<T>> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(f(self)?)),
            b => Err(self.err(format!("option byte {b} is neither 0 nor 1"))),
        }
    }
    /// A `u32` count (at most `max`) then each item.
    pub fn list<T>(
        &mut self,
        field: &'static str,
        max: usize,
        mut f: impl FnMut(&mut Self) -> Result<T>,
    ) -> Result<Vec<T>> {
        let n = self.u32()? as usize;
        if n > max {
            return Err(self.err(format!("{field} count {n} exceeds limit {max}")));
        }
        // Each item takes at least one byte: refuse counts the remaining input cannot hold.
        if n > self.buf.len() - self.pos {
            return Err(self.err(format!("{field} count {n} exceeds remaining input")));
        }
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(f(self)?);
        }
        Ok(v)
    }
    /// An unknown enum tag.
    pub fn bad_tag(&self, field: &'static str, tag: u8) -> LedgerError {
        self.err(format!("unknown {field} tag {tag}"))
    }
}

/// A structure with one canonical encoding.
pub trait Canonical: Sized {
    /// Name used in decode errors.
    const WHAT: &'static str;
    /// Append the canonical bytes.
    fn encode(&self, w: &mut Writer);
    /// Read the canonical bytes.
    fn decode(r: &mut Reader<'_>) -> Result<Self>;

    /// The canonical bytes.
    fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.encode(&mut w);
        w.into_bytes()
    }
    /// Decode exactly one value from `bytes`, rejecting trailing bytes.
    fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, Self::WHAT);
        let v = Self::decode(&mut r)?;
        r.finish()?;
        Ok(v)
    }
}

impl Canonical for crate::Hash {
    const WHAT: &'static str = "hash";
    fn encode(&self, w: &mut Writer) {
        w.fixed(&self.0);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        Ok(crate::Hash(r.array()?))
    }
}
