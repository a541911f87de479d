//! `curia-verify` must build in minutes on a court's machine: it links the ledger and small
//! crates only, never the node's storage engine, network stack or async runtime.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// Crates the verifier must never link, by name prefix.
const FORBIDDEN: [&str; 6] = ["rocksdb", "librocksdb", "libp2p", "tokio", "axum", "curia-node"];

fn forbidden(name: &str) -> bool {
    FORBIDDEN.iter().any(|f| name.starts_with(f)) || name == "curia-storage" || name == "curia-consensus"
}

/// Every package `curia-verifier` can reach in Cargo.lock (normal, build and dev dependencies,
/// every platform and feature: a superset of what it links).
fn lock_closure() -> BTreeSet<String> {
    let lock = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock")).unwrap();
    let mut deps: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pkg in lock.split("[[package]]").skip(1) {
        let name = pkg.lines().find_map(|l| l.strip_prefix("name = ")).unwrap().trim_matches('"').to_string();
        let mut list = Vec::new();
        if let Some(start) = pkg.find("dependencies = [") {
            let rest = &pkg[start + "dependencies = [".len()..];
            let body = &rest[..rest.find(']').unwrap()];
            for item in body.split(',') {
                let item = item.trim().trim_matches('"');
                if let Some(dep) = item.split_whitespace().next() {
                    list.push(dep.to_string());
                }
            }
        }
        deps.entry(name).or_default().extend(list);
    }
    assert!(deps.contains_key("curia-verifier"), "curia-verifier is not in Cargo.lock");
    let mut seen = BTreeSet::new();
    let mut todo = vec!["curia-verifier".to_string()];
    while let Some(p) = todo.pop() {
        if seen.insert(p.clone()) {
            todo.extend(deps.get(&p).cloned().unwrap_or_default());
        }
    }
    seen
}

#[test]
fn cargo_lock_closure_has_no_node_crates() {
    let all = lock_closure();
    assert!(all.contains("curia-ledger") && all.contains("sha2") && all.contains("ed25519-dalek"), "{all:?}");
    let bad: Vec<&String> = all.iter().filter(|n| forbidden(n)).collect();
    assert!(bad.is_empty(), "curia-verifier reaches {bad:?}");
}

#[test]
fn cargo_tree_has_no_node_crates() {
    let out = Command::new(env!("CARGO"))
        .args(["tree", "--offline", "-p", "curia-verifier", "-e", "normal,build", "--prefix", "none"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    let names: BTreeSet<&str> = tree.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(names.contains("curia-ledger"), "{tree}");
    let bad: Vec<&&str> = names.iter().filter(|n| forbidden(n)).collect();
    assert!(bad.is_empty(), "curia-verifier links {bad:?}:\n{tree}");
}
