#!/usr/bin/env bash
# Builds the release binaries (`curia`, `loadgen`, `storage_ingest`) once for every script, with
# one cargo selection so that RocksDB's C++ build (about 10 minutes) is shared by all of them.
# Prints the release directory. Set CURIA_BIN_DIR to use binaries you built yourself instead.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${CURIA_BIN_DIR:-}" ]; then echo "$CURIA_BIN_DIR"; exit 0; fi
bash scripts/setup.sh >&2
cargo build --release --workspace --bins >&2
echo "$PWD/target/release"
