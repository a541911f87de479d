//! Witness policies in the C2SP tlog-policy style: which logs and witnesses a verifier trusts,
//! and which combinations of witness cosignatures (k-of-n groups) make a checkpoint acceptable.
//!
//! Rules implemented (the file format is in `docs/receipt-format.md` section 15.3):
//!
//! - UTF-8 text, at most [`MAX_POLICY_BYTES`]; lines split on `\n` (a trailing `\r` is
//!   dropped); blank lines and lines whose first non-space character is `#` are ignored; fields
//!   are separated by spaces or tabs.
//! - `log <vkey> [<url>]`: a log key, an Ed25519 note vkey (type `0x01`); no two equal.
//! - `witness <name> <vkey> [<url>]`: a witness, its `cosignature/v1` vkey (type `0x04`).
//! - `group <name> <k|any|all> <member>...`: satisfied when at least `k` of its members are
//!   (`any` = 1, `all` = every member); `1 <= k <= n`; members are names defined on earlier
//!   lines (witnesses or groups), each listed once.
//! - `quorum <name|none>`: exactly one such line, naming an earlier witness or group, or `none`
//!   (no cosignature required).
//! - Witness and group names share one namespace; `none` is not a name; two witnesses may not
//!   share a key. URLs, when given, start with `http://` or `https://` (unused offline).
//! - At most [`MAX_ENTRIES`] log, witness and group lines in all, [`MAX_MEMBERS`] members a group.
//!
//! Checking a checkpoint ([`Policy::check`]): the note parses and its text is a checkpoint; if
//! the policy lists logs, at least one log key's signature verifies; a witness is satisfied when
//! a signature line with its name and key ID is a valid `cosignature/v1` over the text (a line
//! naming a policy key that does not verify fails the whole check, as when opening a note); the
//! quorum is evaluated over the groups. Lines of keys the policy does not know are ignored.

use crate::checkpoint::Checkpoint;
use crate::note::{KeyKind, Note, Verifier};
use crate::{Error, Result};

/// The largest policy file accepted, in bytes.
pub const MAX_POLICY_BYTES: usize = 64 * 1024;
/// The most `log`, `witness` and `group` lines in one policy.
pub const MAX_ENTRIES: usize = 1024;
/// The most members of one group.
pub const MAX_MEMBERS: usize = 256;

/// A log or witness entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyEntry {
    /// The name (for a log, the vkey's name).
    pub name: String,
    /// The key.
    pub verifier: Verifier,
    /// Its URL, if given.
    pub url: Option<String>,
}

/// A member of a group, or the quorum: a witness or an earlier group, by index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Member {
    /// `witnesses[i]`.
    Witness(usize),
    /// `groups[i]`.
    Group(usize),
}

/// A k-of-n group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// Its name.
    pub name: String,
    /// How many members must be satisfied.
    pub threshold: usize,
    /// Its members.
    pub members: Vec<Member>,
}

/// A parsed policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Log keys (checkpoints must carry a valid signature by one of them, if any are listed).
    pub logs: Vec<KeyEntry>,
    /// Witnesses.
    pub witnesses: Vec<KeyEntry>,
    /// Groups, in file order (members refer only to earlier ones).
    pub groups: Vec<Group>,
    /// The quorum; `None` for `quorum none`.
    pub quorum: Option<Member>,
}

/// A checkpoint that satisfied a policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Satisfied {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// Names of the policy's log keys whose signatures verified.
    pub logs: Vec<String>,
    /// Witnesses whose cosignatures verified, with their timestamps (seconds since the epoch).
    pub witnesses: Vec<(String, u64)>,
}

fn perr(line: usize, reason: impl Into<String>) -> Error {
    Error::Policy { line, reason: reason.into() }
}

fn check_url(line: usize, url: &str) -> Result<String> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() => Ok(url.to_string()),
        _ => Err(perr(line, format!("URL {url:?} is not http:// or https:// with a host"))),
    }
}

impl Policy {
    /// Parses a policy file (rules in the module documentation).
    pub fn parse(bytes: &[u8]) -> Result<Policy> {
        if bytes.len() > MAX_POLICY_BYTES {
            return Err(perr(0, format!("policy is {} bytes, limit {MAX_POLICY_BYTES}", bytes.len())));
        }
        let text = std::str::from_utf8(bytes).map_err(|e| perr(0, format!("not UTF-8 at byte {}", e.valid_up_to())))?;
        let mut p = Policy { logs: Vec::new(), witnesses: Vec::new(), groups: Vec::new(), quorum: None };
        let mut quorum_seen = false;
        for (i, raw) in text.split('\n').enumerate() {
            let n = i + 1;
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            let trimmed = line.trim_matches([' ', '\t']);
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if trimmed.bytes().any(|b| b < 0x20 && b != b'\t') {
                return Err(perr(n, "holds a control character"));
            }
            let f: Vec<&str> = trimmed.split([' ', '\t']).filter(|s| !s.is_empty()).collect();
            if f[0] != "quorum" && p.logs.len() + p.witnesses.len() + p.groups.len() >= MAX_ENTRIES {
                return Err(perr(n, format!("more than {MAX_ENTRIES} log, witness and group lines")));
            }
            match f[0] {
                "log" => {
                    if !(2..=3).contains(&f.len()) {
                        return Err(perr(n, "log line is `log <vkey> [<url>]`"));
                    }
                    let v = Verifier::parse(f[1]).map_err(|e| perr(n, e.to_string()))?;
                    if v.kind != KeyKind::Ed25519 {
                        return Err(perr(n, "a log key must be an Ed25519 note key (type 0x01)"));
                    }
                    if p.logs.iter().any(|l| l.verifier == v) {
                        return Err(perr(n, "duplicate log key"));
                    }
                    let url = f.get(2).map(|u| check_url(n, u)).transpose()?;
                    p.logs.push(KeyEntry { name: v.name.clone(), verifier: v, url });
                }
                "witness" => {
                    if !(3..=4).contains(&f.len()) {
                        return Err(perr(n, "witness line is `witness <name> <vkey> [<url>]`"));
                    }
                    p.check_new_name(n, f[1])?;
                    let v = Verifier::parse(f[2]).map_err(|e| perr(n, e.to_string()))?;
                    if v.kind != KeyKind::CosignatureV1 {
                        return Err(perr(n, "a witness key must be a cosignature/v1 key (type 0x04)"));
                    }
                    if p.witnesses.iter().any(|w| w.verifier.name == v.name && w.verifier.key_id == v.key_id) {
                        return Err(perr(n, "two witnesses with the same key"));
                    }
                    let url = f.get(3).map(|u| check_url(n, u)).transpose()?;
                    p.witnesses.push(KeyEntry { name: f[1].to_string(), verifier: v, url });
                }
                "group" => {
                    if f.len() < 4 {
                        return Err(perr(n, "group line is `group <name> <k|any|all> <member>...`"));
                    }
                    p.check_new_name(n, f[1])?;
                    let names = &f[3..];
                    if names.len() > MAX_MEMBERS {
                        return Err(perr(n, format!("a group has at most {MAX_MEMBERS} members")));
                    }
                    let mut members = Vec::new();
                    for m in names {
                        let member =
                            p.lookup(m).ok_or_else(|| perr(n, format!("member {m:?} is not defined above")))?;
                        if members.contains(&member) {
                            return Err(perr(n, format!("member {m:?} is listed twice")));
                        }
                        members.push(member);
                    }
                    let threshold = match f[2] {
                        "any" => 1,
                        "all" => members.len(),
                        k => crate::checkpoint::parse_decimal(k)
                            .and_then(|k| usize::try_from(k).ok())
                            .filter(|k| (1..=members.len()).contains(k))
                            .ok_or_else(|| {
                                perr(n, format!("threshold {k:?} is not any, all or 1..={}", members.len()))
                            })?,
                    };
                    p.groups.push(Group { name: f[1].to_string(), threshold, members });
                }
                "quorum" => {
                    if f.len() != 2 {
                        return Err(perr(n, "quorum line is `quorum <name|none>`"));
                    }
                    if quorum_seen {
                        return Err(perr(n, "a second quorum line"));
                    }
                    quorum_seen = true;
                    if f[1] != "none" {
                        let q =
                            p.lookup(f[1]).ok_or_else(|| perr(n, format!("quorum {:?} is not defined above", f[1])))?;
                        p.quorum = Some(q);
                    }
                }
                other => return Err(perr(n, format!("unknown keyword {other:?}"))),
            }
        }
        if !quorum_seen {
            return Err(perr(0, "no quorum line"));
        }
        Ok(p)
    }

    fn check_new_name(&self, line: usize, name: &str) -> Result<()> {
        if name == "none" {
            return Err(perr(line, "\"none\" is not a name"));
        }
        if self.lookup(name).is_some() {
            return Err(perr(line, format!("name {name:?} is already defined")));
        }
        Ok(())
    }

    fn lookup(&self, name: &str) -> Option<Member> {
        if let Some(i) = self.witnesses.iter().position(|w| w.name == name) {
            return Some(Member::Witness(i));
        }
        self.groups.iter().position(|g| g.name == name).map(Member::Group)
    }

    /// Checks that the signed checkpoint note `note` satisfies this policy (rules in the module
    /// documentation) and says which keys signed.
    pub fn check(&self, note: &[u8]) -> Result<Satisfied> {
        let parsed = Note::parse(note)?;
        let checkpoint = Checkpoint::parse(&parsed.text)?;
        let mut logs: Vec<String> = Vec::new();
        let mut witnessed: Vec<Option<u64>> = vec![None; self.witnesses.len()];
        for sig in &parsed.signatures {
            let matches_key = |v: &Verifier| v.name == sig.name && v.key_id == sig.key_id;
            if let Some(l) = self.logs.iter().find(|l| matches_key(&l.verifier)) {
                if l.verifier.verify(&parsed.text, &sig.signature).is_none() {
                    return Err(Error::InvalidSignature { name: sig.name.clone(), id: sig.key_id });
                }
                if !logs.contains(&l.name) {
                    logs.push(l.name.clone());
                }
            } else if let Some(i) = self.witnesses.iter().position(|w| matches_key(&w.verifier)) {
                let Some(Some(t)) = self.witnesses[i].verifier.verify(&parsed.text, &sig.signature) else {
                    return Err(Error::InvalidSignature { name: sig.name.clone(), id: sig.key_id });
                };
                witnessed[i].get_or_insert(t);
            }
        }
        if !self.logs.is_empty() && logs.is_empty() {
            return Err(Error::PolicyNotSatisfied("no signature by a log key of the policy".into()));
        }
        let mut group_ok = Vec::with_capacity(self.groups.len());
        for g in &self.groups {
            let have = g
                .members
                .iter()
                .filter(|m| match m {
                    Member::Witness(i) => witnessed[*i].is_some(),
                    Member::Group(j) => group_ok[*j],
                })
                .count();
            group_ok.push(have >= g.threshold);
        }
        match self.quorum {
            None => {}
            Some(Member::Witness(i)) if witnessed[i].is_none() => {
                return Err(Error::PolicyNotSatisfied(format!("witness {} did not cosign", self.witnesses[i].name)));
            }
            Some(Member::Group(j)) if !group_ok[j] => {
                let g = &self.groups[j];
                let have = g
                    .members
                    .iter()
                    .filter(|m| match m {
                        Member::Witness(i) => witnessed[*i].is_some(),
                        Member::Group(k) => group_ok[*k],
                    })
                    .count();
                return Err(Error::PolicyNotSatisfied(format!(
                    "group {}: {have} of its {} members satisfied, {} required",
                    g.name,
                    g.members.len(),
                    g.threshold
                )));
            }
            Some(_) => {}
        }
        let witnesses =
            self.witnesses.iter().zip(&witnessed).filter_map(|(w, t)| t.map(|t| (w.name.clone(), t))).collect();
        Ok(Satisfied { checkpoint, logs, witnesses })
    }
}
