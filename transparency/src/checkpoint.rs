//! Checkpoints, c2sp.org/tlog-checkpoint: the text of a signed note that states a log's size
//! and root.
//!
//! Rules implemented (for the note *text*, signatures are [`crate::note`]'s):
//!
//! - At least three lines, each ending in a newline: the origin (non-empty), the tree size
//!   (ASCII decimal, no leading zeros unless it is `0`, fits a `u64`), the root hash (canonical
//!   standard base64 of exactly 32 bytes, SHA-256 RFC 6962).
//! - Any further lines are extension lines; each must be non-empty. They are kept and signed
//!   (the cosignature covers them) but carry no meaning here.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use curia_ledger::Hash;

use crate::note::check_text;
use crate::{Error, Result};

/// A log's checkpoint: origin, size, root and extension lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line.
    pub origin: String,
    /// The number of leaves.
    pub size: u64,
    /// The RFC 6962 root of those leaves.
    pub root: Hash,
    /// Extension lines (without newlines), usually none.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// A checkpoint without extension lines.
    pub fn new(origin: &str, size: u64, root: Hash) -> Self {
        Checkpoint { origin: origin.to_string(), size, root, extensions: Vec::new() }
    }

    /// The note text: origin, size and base64 root, each line ending in a newline, then the
    /// extension lines.
    pub fn to_text(&self) -> String {
        let mut s = format!("{}\n{}\n{}\n", self.origin, self.size, B64.encode(self.root.0));
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Parses a checkpoint from a note's text.
    pub fn parse(text: &str) -> Result<Checkpoint> {
        let err = |line, reason| Error::Checkpoint { line, reason };
        let body = text.strip_suffix('\n').ok_or(err(1, "text does not end with a newline"))?;
        let lines: Vec<&str> = body.split('\n').collect();
        if lines.len() < 3 {
            return Err(err(lines.len() + 1, "missing: a checkpoint has origin, size and root lines"));
        }
        let origin = lines[0];
        if origin.is_empty() {
            return Err(err(1, "origin is empty"));
        }
        let size = parse_decimal(lines[1]).ok_or(err(2, "tree size is not a decimal without leading zeros"))?;
        let root = B64.decode(lines[2]).map_err(|_| err(3, "root hash is not canonical standard base64"))?;
        let root: [u8; 32] = root.try_into().map_err(|_| err(3, "root hash is not 32 bytes"))?;
        let mut extensions = Vec::new();
        for (i, l) in lines[3..].iter().enumerate() {
            if l.is_empty() {
                return Err(err(i + 4, "extension line is empty"));
            }
            extensions.push(l.to_string());
        }
        let cp = Checkpoint { origin: origin.to_string(), size, root: Hash(root), extensions };
        check_text(text)?;
        Ok(cp)
    }
}

/// Parses an ASCII decimal `u64` with no sign and no leading zeros (except `0` itself).
pub fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_sumdb_tree_note_known_answer() {
        // golang.org/x/mod/sumdb/tlog note_test.go: FormatTree(Tree{123456789012,
        // RecordHash("hello world")}).
        let text = "go.sum database tree\n123456789012\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n";
        let cp = Checkpoint::parse(text).unwrap();
        assert_eq!(cp.origin, "go.sum database tree");
        assert_eq!(cp.size, 123456789012);
        assert_eq!(cp.root, curia_ledger::merkle::leaf_hash(b"hello world"));
        assert_eq!(cp.to_text(), text);
    }

    #[test]
    fn decimal_rules() {
        assert_eq!(parse_decimal("0"), Some(0));
        assert_eq!(parse_decimal("18446744073709551615"), Some(u64::MAX));
        for bad in ["", "00", "01", "+1", "-1", " 1", "1 ", "18446744073709551616", "0x10", "1e3"] {
            assert_eq!(parse_decimal(bad), None, "{bad:?}");
        }
    }
}
