#!/usr/bin/env bash
# Load test on a local four-validator network: starts it (testnet/start.sh), runs the load
# generator (benches/src/bin/loadgen.rs) with the given options, prints its JSON report and a
# one-line summary (committed rate, the signature ceiling measured in the same run, their ratio,
# p99), and stops the network. Examples:
#   bash testnet/loadtest.sh --rate 5000 --duration 30
#   bash testnet/loadtest.sh --mode batch --batch-size 1000 --rate 30000 --duration 30
#   bash testnet/loadtest.sh --rate 5000 --duration 30 --receipt-rate 1000   (adds a receipts line)
set -euo pipefail
cd "$(dirname "$0")/.."
NET=${NET:-target/testnet}
# `--help` explains the options; it must not start (or leave) a network.
for a in "$@"; do
  case "$a" in
    -h | --help)
      sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
      echo
      # The options are loadgen's; help does not build it (a release build takes minutes).
      bin=${CURIA_BIN_DIR:-target/release}
      if [ -x "$bin/loadgen" ]; then
        exec "$bin/loadgen" --help
      fi
      echo "loadgen's options: not built yet at $bin/loadgen. Build it with 'bash scripts/build.sh'"
      echo "(or set CURIA_BIN_DIR), then run this again; the options are also at the top of"
      echo "benches/src/bin/loadgen.rs."
      exit 0
      ;;
  esac
done
bash testnet/start.sh >&2
trap 'bash testnet/stop.sh >/dev/null' EXIT
rc=0
report=$("$(bash scripts/build.sh)/loadgen" --net "$NET" "$@") || rc=$?
printf '%s\n' "$report"
if [ -n "$report" ]; then
  printf '%s' "$report" | python3 -c '
import json, sys
r = json.load(sys.stdin)
c = r.get("ceiling")
line = "summary: %s, committed %.0f deposits/s, p99 %d ms" % (
    r["mode"], r["committed_deposits_per_s"], r["latency_ms"]["p99"])
if c:
    line += "; ceiling %.0f deposits/s (%.0f signatures/s on %d threads / %d validators); committed/ceiling %.3f" % (
        c["ceiling_deposits_per_s"], c["verify_rate_per_s"], c["threads"], c["validators"],
        r["committed_over_ceiling"])
print(line)
rc = r.get("receipts")
if rc:
    print("receipts: %d ok of %d scheduled at %.0f/s (%d workers), p50 %.1f ms, p99 %.1f ms, max %.1f ms; skipped %d; errors %s" % (
        rc["ok"], rc["scheduled"], rc["rate_offered_per_s"], rc["workers"], rc["latency_ms"]["p50"],
        rc["latency_ms"]["p99"], rc["latency_ms"]["max"], rc["skipped_queue_full"], rc["errors"] or "none"))
    w, s = rc["wait_ms"], rc["service_ms"]
    print("receipts: of which waiting for a fetcher p50 %.1f / p99 %.1f ms; request to answer p50 %.1f / p99 %.1f / max %.1f ms" % (
        w["p50"], w["p99"], s["p50"], s["p99"], s["max"]))
' >&2 || true
fi
exit "$rc"
