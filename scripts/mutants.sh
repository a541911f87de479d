#!/usr/bin/env bash
# Mutation check of the consensus machine: plant one known bug at a time in a scratch copy of
# the workspace and run the default simulation run (`cargo test -p curia-sim`) against it. A
# mutant is killed if the run fails within its time budget; a run that is still going when the
# budget runs out counts as "survived (timeout)". Every listed mutant must be killed: the script
# exits 1 otherwise.
#
#   bash scripts/mutants.sh            # all mutants
#   bash scripts/mutants.sh a c        # only some (by letter)
#
# CURIA_MUTANT_BUDGET: seconds of wall time for one mutant's test run (default 600; the
# unmutated run takes about a minute on a quiet 2-core machine, and is itself held to the same
# budget). Compilation is not counted. A mutant's run is stopped at its first failing test
# (killed: the time reported is the time to that failure); the unmutated run goes to the end.
#
# The scratch copy is made from the working tree (tracked files, with uncommitted edits) in a
# temporary directory; its cargo target dir (CURIA_MUTANTS_TARGET, default
# "${CARGO_TARGET_DIR:-<repo>/target}-mutants") is kept between mutants and between runs, so
# each mutant only recompiles the consensus and simulator crates. The unmutated copy is run
# first and must pass. A mutation whose source text is not found exactly once (the source
# drifted) stops the script with an error rather than reporting a vacuous result.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="${CURIA_MUTANTS_TARGET:-${CARGO_TARGET_DIR:-$ROOT/target}-mutants}"
SCRATCH="$(mktemp -d "${TMPDIR:-/tmp}/curia-mutants.XXXXXX")"
trap 'rm -rf "$SCRATCH"' EXIT
export CARGO_TARGET_DIR="$TARGET"
BUDGET="${CURIA_MUTANT_BUDGET:-600}"
MACHINE=consensus/src/machine.rs

# One mutant per index: id, rule, description, original text, mutated text (both as Python
# string literals), all in consensus/src/machine.rs.
IDS=(a b c d e f g h)
RULES=(L22 L28 L36 Q E C1 L55 M)
DESCS=(
  "fresh proposal prevoted even when locked on another block"
  "re-proposal prevoted whatever round the validator locked in"
  "lock recorded at round 0 instead of the current round"
  "quorum of 2f instead of 2f+1"
  "a vote signature not checked"
  "commit from a certificate that was not verified"
  "round skip on one validator's message instead of f+1"
  "membership change in force at h+1 instead of h+2 (the machine takes the next height's set)"
)
OLDS=(
  "'let vote = ok && lock.is_none_or(|(_, lv)| lv == v);'"
  "'let vote = ok && lock.is_none_or(|(lr, lv)| lr <= vr || lv == v);'"
  "'self.locked = Some((round, v));'"
  "'self.quorum = set.quorum_power();'"
  "'if !verified && v.verify_in(&self.cfg.spec.chain_id, &self.set).is_err() {'"
  "'Some(set) => cert.verify_in(&self.cfg.spec.chain_id, set).is_err(),'"
  "'if acc >= self.weak {'"
  "'let set = self.membership.set_at(self.height).clone();'"
)
NEWS=(
  "'let vote = ok;'"
  "'let vote = ok;'"
  "'self.locked = Some((0, v));'"
  "'self.quorum = set.total_power * 2 / 3;'"
  "'if false && !verified && v.verify_in(&self.cfg.spec.chain_id, &self.set).is_err() {'"
  "'Some(_) => false,'"
  "'if acc >= 1 {'"
  "'let set = self.membership.set_at(self.height + 1).clone();'"
)

want=("$@")
selected() {
  [ ${#want[@]} -eq 0 ] && return 0
  local w
  for w in "${want[@]}"; do [ "$w" = "$1" ] && return 0; done
  return 1
}

echo "scratch copy: $SCRATCH (target dir $TARGET)"
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | xargs -0 tar cf - 2>/dev/null) | tar xf - -C "$SCRATCH"
# The copy keeps the files' old modification times, and cargo names a workspace crate's
# artifacts by its path relative to the workspace, so artifacts left in the kept target dir by
# an earlier (newer) build would count as fresh for this copy: touch every file so the first
# build compiles this copy.
find "$SCRATCH" -type f -exec touch {} +
cp "$SCRATCH/$MACHINE" "$SCRATCH/$MACHINE.orig"

# Replace the original text (exactly one occurrence) by the mutated text; fail loudly otherwise.
plant() {
  python3 - "$SCRATCH/$1" "$2" "$3" <<'EOF'
import ast, sys
path, old, new = sys.argv[1], ast.literal_eval(sys.argv[2]), ast.literal_eval(sys.argv[3])
src = open(path).read()
count = src.count(old)
if count != 1:
    sys.exit(f"mutation did not apply: {old!r} occurs {count} times in {path} (the source drifted)")
out = src.replace(old, new)
if out == src:
    sys.exit("mutation changed nothing")
open(path, "w").write(out)
EOF
}

# The default simulation run, as `cargo test -p curia-sim` runs it, within the budget, in its
# own session so that the whole process group (timeout, cargo, the test binary) can be stopped.
# With "stop-at-first-failure" it is stopped as soon as one test reports FAILED. Sets `out`
# (the output) and `rc` (0 passed, 124 over budget, 1 failed; other codes: failed to run).
run_sim() {
  local log="$SCRATCH/.run.log" early="${1:-}" pid
  : >"$log"
  (cd "$SCRATCH" && exec setsid timeout --kill-after=10 "$BUDGET" cargo test -p curia-sim --tests -- --nocapture) >"$log" 2>&1 &
  pid=$!
  stopped=0
  while kill -0 "$pid" 2>/dev/null; do
    if [ -n "$early" ] && grep -q -E '^test [a-z0-9_:]+ \.\.\. FAILED$' "$log"; then
      sleep 1
      kill -TERM -- "-$pid" 2>/dev/null || true
      stopped=1
      break
    fi
    sleep 1
  done
  set +e
  wait "$pid"
  rc=$?
  set -e
  [ "$stopped" -eq 1 ] && rc=1
  out="$(cat "$log")"
}

echo "building and running the unmutated copy (must pass within ${BUDGET}s)..."
(cd "$SCRATCH" && cargo build -q -p curia-sim --tests)
start=$(date +%s)
run_sim
if [ "$rc" -ne 0 ]; then
  echo "$out" | tail -40
  echo "the unmutated simulation run fails (exit $rc; 124 = over the ${BUDGET}s budget): fix that first" >&2
  exit 2
fi
echo "unmutated run passed in $(( $(date +%s) - start ))s"

results=()
survived=0
for k in "${!IDS[@]}"; do
  id="${IDS[$k]}"
  selected "$id" || continue
  cp "$SCRATCH/$MACHINE.orig" "$SCRATCH/$MACHINE"
  plant "$MACHINE" "${OLDS[$k]}" "${NEWS[$k]}"
  if ! (cd "$SCRATCH" && cargo build -q -p curia-sim --tests 2>/dev/null); then
    echo "mutant $id does not compile" >&2
    exit 2
  fi
  start=$(date +%s)
  run_sim stop-at-first-failure
  if [ "$rc" -eq 0 ]; then
    verdict=survived
    survived=$((survived + 1))
    tests="-"
    first="-"
  elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    verdict="survived (timeout after ${BUDGET}s)"
    survived=$((survived + 1))
    tests="-"
    first="-"
  else
    verdict=killed
    tests="$(echo "$out" | sed -n 's/^test \([a-z0-9_:]*\) \.\.\. FAILED$/\1/p' | sort -u | tr '\n' ' ')"
    first="$(echo "$out" | grep -o -m1 -E '(Agreement|BadCertificate|DoubleSign|Executor|Liveness|RoundSkip|Budget|Membership) \{[^}]{0,100}' | tr '|' '/' || true)"
  fi
  secs=$(( $(date +%s) - start ))
  results+=("| $id | ${RULES[$k]} | ${DESCS[$k]} | $verdict | ${secs}s | ${tests:-?} | ${first:-see output} |")
  echo "mutant $id (${RULES[$k]}): $verdict in ${secs}s"
done
cp "$SCRATCH/$MACHINE.orig" "$SCRATCH/$MACHINE"

echo
echo "| mutant | rule | bug planted | result | time | failing tests | first violation |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${results[@]}"
if [ "$survived" -gt 0 ]; then
  echo "$survived mutant(s) survived" >&2
  exit 1
fi
echo "all mutants killed"
