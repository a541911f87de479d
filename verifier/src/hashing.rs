//! Streaming SHA-256 of evidence files of any size, in constant memory.
//!
//! Rules:
//! - A file is read in [`BUF_SIZE`] chunks into one buffer and hashed as it is read: memory does
//!   not grow with the file, and there is no size limit.
//! - Every `curia` command that hashes evidence (`hash`, `verify`, `deposit`, `case attach`,
//!   `case verify`) and `curia-verify` use [`hash_file`], so they hash at the same speed.
//! - With [`Progress::Auto`], a progress bar is drawn on stderr for a file of at least
//!   [`PROGRESS_MIN`] bytes, and only when stderr is a terminal; callers pass
//!   [`Progress::Hidden`] for `--json`.

use std::fs::File;
use std::io::{ErrorKind, IsTerminal, Read};
use std::path::Path;

use curia_ledger::Hash;
use sha2::{Digest, Sha256};

use crate::Error;

/// Size of one read: large reads keep the hashing, not the system calls, the bottleneck.
pub const BUF_SIZE: usize = 1 << 20;

/// Smallest file that gets a progress bar.
pub const PROGRESS_MIN: u64 = 64 << 20;

/// A file's SHA-256 and length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hashed {
    /// SHA-256 of the bytes.
    pub sha256: Hash,
    /// Number of bytes.
    pub len: u64,
}

/// Whether to show a progress bar while hashing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Never.
    Hidden,
    /// On stderr, for a large file, if stderr is a terminal.
    Auto,
}

/// SHA-256 of everything `r` yields, read in [`BUF_SIZE`] chunks; `on_read` is told the number
/// of bytes hashed so far after each chunk.
pub fn hash_reader<R: Read>(mut r: R, mut on_read: impl FnMut(u64)) -> std::io::Result<Hashed> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; BUF_SIZE];
    let mut len = 0u64;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        h.update(&buf[..n]);
        len += n as u64;
        on_read(len);
    }
    Ok(Hashed { sha256: Hash(h.finalize().into()), len })
}

/// SHA-256 and length of the file at `path`, streamed (see the module rules).
pub fn hash_file(path: &Path, progress: Progress) -> Result<Hashed, Error> {
    let io = |e| Error::Io { path: path.to_path_buf(), err: e };
    let f = File::open(path).map_err(io)?;
    let meta = f.metadata().map_err(io)?;
    if meta.is_dir() {
        return Err(Error::NotAFile(path.to_path_buf()));
    }
    let size = meta.len();
    let bar = (progress == Progress::Auto && size >= PROGRESS_MIN && std::io::stderr().is_terminal())
        .then(|| progress_bar(path, size));
    let hashed = hash_reader(f, |n| {
        if let Some(b) = &bar {
            b.set_position(n);
        }
    })
    .map_err(io);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    hashed
}

fn progress_bar(path: &Path, size: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(Some(size), indicatif::ProgressDrawTarget::stderr());
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "hashing {msg} [{bar:40}] {bytes}/{total_bytes} {binary_bytes_per_sec} ({eta} left)",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    bar.set_message(crate::escape::terminal(&name).into_owned());
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that returns at most `step` bytes per call, and an interruption every other call.
    struct Dribble<'a> {
        data: &'a [u8],
        step: usize,
        interrupt: bool,
    }

    impl Read for Dribble<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.interrupt = !self.interrupt;
            if self.interrupt {
                return Err(std::io::Error::new(ErrorKind::Interrupted, "signal"));
            }
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn streaming_equals_one_shot() {
        let data: Vec<u8> = (0..3 * BUF_SIZE + 12345).map(|i| (i * 31 % 251) as u8).collect();
        let mut seen = Vec::new();
        let h = hash_reader(&data[..], |n| seen.push(n)).unwrap();
        assert_eq!(h, Hashed { sha256: Hash::sha256(&data), len: data.len() as u64 });
        assert_eq!(seen.last(), Some(&(data.len() as u64)));
        assert!(seen.windows(2).all(|w| w[0] < w[1]));
        let d = hash_reader(Dribble { data: &data, step: 7777, interrupt: false }, |_| {}).unwrap();
        assert_eq!(d, h);
        assert_eq!(hash_reader(&[][..], |_| {}).unwrap(), Hashed { sha256: Hash::sha256(b""), len: 0 });
    }

    #[test]
    fn file_errors_name_the_file() {
        let tmp = tempfile::Builder::new().prefix("curia-verifier-hash-").tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let e = hash_file(&dir.join("missing"), Progress::Hidden).unwrap_err().to_string();
        assert!(e.contains("missing"), "{e}");
        let e = hash_file(&dir, Progress::Hidden).unwrap_err().to_string();
        assert!(e.contains("not a file"), "{e}");
        std::fs::write(dir.join("f"), b"abc").unwrap();
        assert_eq!(hash_file(&dir.join("f"), Progress::Auto).unwrap().sha256, Hash::sha256(b"abc"));
    }
}
