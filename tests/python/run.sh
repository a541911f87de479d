#!/usr/bin/env bash
# Runs the independent Python verifier's tests (tests/python/test_verify.py) against the Rust golden
# fixtures in ledger/tests/data/golden/, and the differential tests that feed the same receipts,
# tampered several hundred ways, to the Rust `curia verify` and compare verdicts and failed checks.
# Called by scripts/test.sh after `cargo test`.
# Needs python3 (3.11+), the `cryptography` and `asn1crypto` packages and openssl (installed by
# scripts/setup.sh; test_rfc3161.py runs `openssl ts` as its TSA), and cargo:
# unless CURIA_BIN names a `curia` binary, this builds one (the debug build `cargo test` made).
# Exits non-zero if any test fails or is skipped; the last lines are unittest's `Ran N tests` and
# `OK`/`FAILED`.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! python3 -c 'import cryptography, asn1crypto' 2>/dev/null; then
  echo "tests/python: the python 'cryptography' or 'asn1crypto' package is missing (run scripts/setup.sh)" >&2
  exit 1
fi
if [ -z "${CURIA_BIN:-}" ]; then
  cargo build -q -p curia-cli --bin curia
  target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  export CURIA_BIN="$target/debug/curia"
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
python3 -m unittest discover -s tests/python -v 2>&1 | tee "$log"
# A skipped test would hide a comparison that did not run (e.g. a missing CURIA_BIN).
if grep -q "skipped" <(tail -n 3 "$log"); then
  echo "tests/python: some tests were skipped; every test must run here" >&2
  exit 1
fi
