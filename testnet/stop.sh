#!/usr/bin/env bash
# Stop the local network started by testnet/start.sh (SIGTERM, then SIGKILL after 10 s).
set -uo pipefail
cd "$(dirname "$0")/.."
NET=${NET:-target/testnet}
[ -f "$NET/pids" ] || { echo "no testnet running in $NET"; exit 0; }
pids=$(cat "$NET/pids")
kill $pids 2>/dev/null
for _ in $(seq 1 50); do
  alive=0
  for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done
  [ $alive = 0 ] && break
  sleep 0.2
done
kill -9 $pids 2>/dev/null
rm -f "$NET/pids"
echo "testnet stopped"
