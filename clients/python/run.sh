#!/usr/bin/env bash
# Runs the Python client's tests: offline ones (encoding against curia_verify, key files, a
# scripted HTTP server) and live ones against a four-validator testnet on loopback that the tests
# start and stop. Builds the `curia` binary first (cargo honours CARGO_TARGET_DIR) unless CURIA_BIN
# names one. Called by scripts/test.sh. Needs python3 (3.9+) and the `cryptography` package.
set -euo pipefail
cd "$(dirname "$0")"
if ! python3 -c 'import cryptography' 2>/dev/null; then
  echo "clients/python: the python 'cryptography' package is missing (run scripts/setup.sh)" >&2
  exit 1
fi
if [ -z "${CURIA_BIN:-}" ]; then
  cargo build -q -p curia-cli
fi
python3 -m unittest discover -s tests -v
