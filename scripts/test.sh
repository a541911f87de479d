#!/usr/bin/env bash
# The test command: installs what it needs, then runs every test of the workspace and the
# independent Python verifier against receipts the Rust code produces.
set -euo pipefail
cd "$(dirname "$0")/.."
# Each phase prints its wall time, so a slow CI run shows where the time went.
phase() {
  local name=$1 start=$SECONDS
  shift
  echo "== test phase: $name" >&2
  "$@"
  echo "== test phase: $name took $((SECONDS - start)) s" >&2
}
phase setup bash scripts/setup.sh
# As root (CI here), the network-namespace fault test (cli/tests/it/netns.rs) must run, not skip.
if [ "$(id -u)" = 0 ]; then export CURIA_NETNS_REQUIRED=1; fi
phase "cargo test" cargo test --workspace
# The later phases run the `curia` binary `cargo test` just built for the CLI's own tests. Built
# again with `cargo build -p curia-cli`, cargo would unify features differently and recompile
# part of the dependency tree (about 3 minutes of CI) for an equivalent binary.
if [ -z "${CURIA_BIN:-}" ]; then
  target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  if [ -x "$target/debug/curia" ]; then export CURIA_BIN="$target/debug/curia"; fi
fi
if [ -f tests/python/run.sh ]; then phase "python verifier" bash tests/python/run.sh; fi
if [ -f clients/python/run.sh ]; then phase "python client" bash clients/python/run.sh; fi
if [ "$(id -u)" = 0 ] && command -v dpkg-deb >/dev/null; then phase ".deb package" bash packaging/deb/test.sh; else echo "skip packaging/deb/test.sh: it installs a .deb, so it needs root and dpkg"; fi
# The judge's page: its unit tests and the committed bundle (web/), then the page in headless
# Chromium against `curia verify` (tests/browser/).
phase "browser" bash tests/browser/run.sh
