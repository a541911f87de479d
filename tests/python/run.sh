#!/usr/bin/env bash
# Runs the independent Python verifier's tests (tests/python/test_verify.py) against the Rust golden
# fixtures in ledger/tests/data/golden/. Called by scripts/test.sh after `cargo test`.
# Needs python3 (3.11+) and the `cryptography` package (installed by scripts/setup.sh).
# Exits non-zero if any test fails; the last lines are unittest's `Ran N tests` and `OK`/`FAILED`.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! python3 -c 'import cryptography' 2>/dev/null; then
  echo "tests/python: the python 'cryptography' package is missing (run scripts/setup.sh)" >&2
  exit 1
fi
python3 -m unittest discover -s tests/python -v
