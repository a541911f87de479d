//! Key rotation without a restart: the validator's next key file.
//!
//! Rules:
//! - The operator writes the new key to the next-key file (`[node] next_key`, default the key
//!   file's path with `.next` appended) before the `rotate` change is submitted.
//! - The node reads that file at start and after each commit while its next key is not loaded
//!   and none of its keys is in the latest validator set (that is, once a rotation away from its
//!   key has committed). A key there that the latest set holds is given to consensus
//!   ([`curia_consensus::Machine::add_key`]), which signs with it from the heights whose set in
//!   force names it (the rotation's activation height) and never with the old key again there.
//! - A file that is missing, unreadable, or holds a key the set does not name changes nothing
//!   (logged once per distinct outcome).

use std::path::PathBuf;

use curia_ledger::crypto::{PublicKey, SecretKey};
use curia_ledger::membership::Membership;

/// The next-key file and what was loaded from it.
#[derive(Debug)]
pub struct NextKey {
    path: PathBuf,
    keys: Vec<PublicKey>,
    loaded: bool,
    last_note: String,
}

impl NextKey {
    /// Watch `path` for a validator whose current key is `current`.
    pub fn new(path: PathBuf, current: PublicKey) -> Self {
        NextKey { path, keys: vec![current], loaded: false, last_note: String::new() }
    }

    /// The file's path.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// The key to add to consensus, if it is time: none of our keys is in the latest set, and
    /// the file holds a key that set names.
    pub fn poll(&mut self, m: &Membership) -> Option<SecretKey> {
        let latest = m.latest();
        if self.loaded || self.keys.iter().any(|k| latest.index_of(k).is_some()) {
            return None;
        }
        if !self.path.exists() {
            self.note(format!("no next key file at {}", self.path.display()), false);
            return None;
        }
        match crate::config::read_key(&self.path) {
            Err(e) => {
                self.note(format!("cannot read the next key file: {e}"), true);
                None
            }
            Ok(k) if latest.index_of(&k.public()).is_some() => {
                self.loaded = true;
                self.keys.push(k.public());
                tracing::info!(
                    key = %k.public(),
                    file = %self.path.display(),
                    "next key loaded: this validator signs with it from the rotation's activation height"
                );
                Some(k)
            }
            Ok(k) => {
                self.note(
                    format!("the next key file holds {}, which the validator set does not name", k.public()),
                    true,
                );
                None
            }
        }
    }

    fn note(&mut self, msg: String, warn: bool) {
        if msg != self.last_note {
            if warn {
                tracing::warn!(file = %self.path.display(), "{msg}");
            } else {
                tracing::info!("{msg}");
            }
            self.last_note = msg;
        }
    }
}

/// Default next-key path: the key file's path with `.next` appended.
pub fn default_next_key_path(key: &std::path::Path) -> PathBuf {
    let mut s = key.as_os_str().to_owned();
    s.push(".next");
    PathBuf::from(s)
}
