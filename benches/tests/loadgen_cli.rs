//! The load generator refuses bad arguments with exit code 2 and a message naming the problem,
//! before it signs or sends anything. (Cargo also builds `target/*/loadgen` for this test, which
//! is how `scripts/loadtest.sh` gets it without a separate build.)

use std::process::Command;

fn loadgen(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen")).args(args).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn bad_arguments_are_refused_by_name() {
    let (code, err) = loadgen(&["--mode", "fast", "--nodes", "http://127.0.0.1:1", "--genesis", "g", "--key", "k"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--mode is single or batch"), "{err}");
    let (code, err) = loadgen(&["--rate", "lots"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("not a number: lots"), "{err}");
    let (code, err) = loadgen(&["--nodes", "http://127.0.0.1:1"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--genesis"), "{err}");
    let (code, err) =
        loadgen(&["--genesis", "/nonexistent/genesis.json", "--key", "k", "--nodes", "http://127.0.0.1:1"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("cannot read /nonexistent/genesis.json"), "{err}");
}
