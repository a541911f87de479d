//! The CLI's `curia audit` module (cli/src/audit.rs), compiled here so its exit codes are tested
//! with the store before the CLI wires it in.

use crate::common;

#[path = "../../../cli/src/audit.rs"]
mod audit;

use audit::{run, AuditArgs};
use curia_storage::{cf, Store};

#[test]
fn exit_codes() {
    let c = common::chain(6, 10);
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join(curia_storage::STORE_SUBDIR);
    {
        let store = Store::open(&dir, &c.spec).unwrap();
        for ((b, cert), ch) in c.blocks.iter().zip(common::changes(&c)) {
            store.commit_block(b, cert, &ch).unwrap();
        }
    }
    let genesis = data.path().join("genesis.json");
    std::fs::write(&genesis, c.spec.genesis.to_json()).unwrap();
    // Every run puts its scratch state here; it must be gone when the run returns.
    let scratch = tempfile::tempdir().unwrap();
    let left = || std::fs::read_dir(scratch.path()).unwrap().count();
    let args = |genesis: Option<std::path::PathBuf>, json| AuditArgs {
        data_dir: data.path().into(),
        genesis,
        json,
        scratch_dir: Some(scratch.path().into()),
        in_memory: false,
    };
    assert_eq!(run(&args(None, false)).unwrap(), 0);
    assert_eq!(run(&args(Some(genesis.clone()), true)).unwrap(), 0);
    assert_eq!(left(), 0);
    // Another chain's genesis, a missing genesis, a directory without a store: unusable input.
    let mut g = curia_ledger::testkit::test_genesis(4);
    g.chain_name = "elsewhere".into();
    let other = data.path().join("other.json");
    std::fs::write(&other, g.to_json()).unwrap();
    assert_eq!(run(&args(Some(other), false)).unwrap(), 2);
    assert_eq!(run(&args(Some(data.path().join("missing.json")), false)).unwrap(), 2);
    let empty = tempfile::tempdir().unwrap();
    assert_eq!(run(&AuditArgs { data_dir: empty.path().into(), ..args(None, true) }).unwrap(), 2);
    // A flipped byte in block 4: a problem found.
    {
        let store = Store::open(&dir, &c.spec).unwrap();
        let mut v = store.raw_get_for_tests(cf::BLOCKS, &4u64.to_be_bytes()).unwrap().unwrap();
        v[40] ^= 1;
        store.raw_put_for_tests(cf::BLOCKS, &4u64.to_be_bytes(), &v).unwrap();
    }
    assert_eq!(run(&args(None, true)).unwrap(), 1);
    assert_eq!(run(&args(None, false)).unwrap(), 1);
    assert_eq!(left(), 0);
    // The old in-memory replay gives the same verdict.
    assert_eq!(run(&AuditArgs { in_memory: true, ..args(None, false) }).unwrap(), 1);
    // A scratch directory that cannot be created: unusable input, not a verdict.
    let missing = scratch.path().join("no/such/dir");
    assert_eq!(run(&AuditArgs { scratch_dir: Some(missing), ..args(None, false) }).unwrap(), 2);
}
