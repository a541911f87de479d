#!/usr/bin/env bash
# Start a local network of validators in the background (default 4: two courts, a notary, a
# time service) on loopback. Writes keys, genesis and configs under $NET (default
# target/testnet), logs to $NET/<node>/node.log, and waits until every node answers /healthz.
# Stop it with testnet/stop.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
NET=${NET:-target/testnet}
N=${VALIDATORS:-4}
BASE=${BASE_PORT:-27000}
BIN=$(bash scripts/build.sh)
CURIA=$BIN/curia
if [ -f "$NET/pids" ]; then bash testnet/stop.sh || true; fi
rm -rf "$NET"
$CURIA testnet init --validators "$N" --out "$NET" --base-port "$BASE"
: > "$NET/pids"
for cfg in "$NET"/*/node.toml; do
  dir=$(dirname "$cfg")
  "$CURIA" node run --config "$cfg" >"$dir/node.log" 2>&1 &
  echo $! >> "$NET/pids"
done
for i in $(seq 0 $((N - 1))); do
  port=$((BASE + 2000 + i))
  for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then break; fi
    sleep 0.2
  done
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || { echo "node $i did not start; see $NET/*/node.log" >&2; exit 1; }
done
echo "testnet: $N validators up; APIs on http://127.0.0.1:$((BASE + 1000))..$((BASE + 1000 + N - 1)); stop with testnet/stop.sh"
