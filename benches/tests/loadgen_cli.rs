//! The load generator refuses bad arguments with exit code 2 and a message naming the problem
//! (clap's format), before it signs or sends anything. (Cargo also builds `target/*/loadgen` for
//! this test, which is how `scripts/loadtest.sh` gets it without a separate build.)

use std::process::Command;

fn loadgen(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen")).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const ENOUGH: [&str; 6] = ["--nodes", "http://127.0.0.1:1", "--genesis", "g", "--key", "k"];

fn with_enough<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    ENOUGH.iter().copied().chain(extra.iter().copied()).collect()
}

#[test]
fn bad_arguments_are_refused_by_name() {
    let (code, _, err) = loadgen(&with_enough(&["--mode", "fast"]));
    assert_eq!(code, Some(2));
    assert!(err.contains("--mode is single or batch, not fast"), "{err}");
    let (code, _, err) = loadgen(&["--rate", "lots"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--rate") && err.contains("not a number: lots"), "{err}");
    let (code, _, err) = loadgen(&["--nodes", "http://127.0.0.1:1"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--genesis"), "{err}");
    let (code, _, err) =
        loadgen(&["--genesis", "/nonexistent/genesis.json", "--key", "k", "--nodes", "http://127.0.0.1:1"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("cannot read /nonexistent/genesis.json"), "{err}");
    let (code, _, err) = loadgen(&with_enough(&["--bogus"]));
    assert_eq!(code, Some(2));
    assert!(err.contains("--bogus"), "{err}");
    let (code, _, err) = loadgen(&with_enough(&["--mode", "batch", "--batch-size", "0"]));
    assert_eq!(code, Some(2));
    assert!(err.contains("--batch-size must be 1..=10000"), "{err}");
}

#[test]
fn receipt_load_options_are_checked() {
    let (code, _, err) = loadgen(&with_enough(&["--receipt-workers", "0"]));
    assert_eq!(code, Some(2));
    assert!(err.contains("--receipt-workers positive"), "{err}");
    let (code, _, err) = loadgen(&with_enough(&["--receipt-rate=-5"]));
    assert_eq!(code, Some(2));
    assert!(err.contains("--receipt-rate must be >= 0"), "{err}");
    let (code, _, err) = loadgen(&with_enough(&["--receipt-rate", "many"]));
    assert_eq!(code, Some(2));
    assert!(err.contains("not a number: many"), "{err}");
    // The fetchers' slice is one the kernel takes (0.1 to 100 ms), or 0 for its default.
    for bad in ["99", "100001"] {
        let (code, _, err) = loadgen(&with_enough(&["--receipt-slice-us", bad]));
        assert_eq!(code, Some(2), "{bad}");
        assert!(err.contains("--receipt-slice-us must be 0 or 100 to 100000"), "{err}");
    }
    // Help names every option, the old ones and the receipt load's.
    let (code, out, _) = loadgen(&["--help"]);
    assert_eq!(code, Some(0));
    for flag in [
        "--net",
        "--nodes",
        "--genesis",
        "--key",
        "--mode",
        "--batch-size",
        "--rate",
        "--duration",
        "--chunk",
        "--workers",
        "--drain",
        "--ceiling-secs",
        "--local-validators",
        "--receipt-rate",
        "--receipt-workers",
        "--receipt-slice-us",
    ] {
        assert!(out.contains(flag), "--help does not name {flag}: {out}");
    }
}
