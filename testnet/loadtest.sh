#!/usr/bin/env bash
# Load test on a local four-validator network: starts it (testnet/start.sh), runs the load
# generator (benches/src/bin/loadgen.rs) with the given options, prints its JSON report, and
# stops the network. Examples:
#   bash testnet/loadtest.sh --rate 5000 --duration 30
#   bash testnet/loadtest.sh --mode batch --batch-size 1000 --rate 30000 --duration 30
set -euo pipefail
cd "$(dirname "$0")/.."
NET=${NET:-target/testnet}
bash testnet/start.sh >&2
trap 'bash testnet/stop.sh >/dev/null' EXIT
"$(bash scripts/build.sh)/loadgen" --net "$NET" "$@"
