#!/usr/bin/env bash
# The main job until the networked node lands: build a chain in memory, deposit a sample file,
# issue its receipt, verify it offline, and show a tampered file and a tampered receipt rejected.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(bash scripts/build.sh)
exec "$BIN/curia" demo --out "${1:-target/demo}"
