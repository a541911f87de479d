#!/usr/bin/env bash
# The test command: installs what it needs, then runs every test of the workspace and the
# independent Python verifier against receipts the Rust code produces.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# As root (CI here), the network-namespace fault test (cli/tests/netns.rs) must run, not skip.
if [ "$(id -u)" = 0 ]; then export CURIA_NETNS_REQUIRED=1; fi
cargo test --workspace
if [ -f tests/python/run.sh ]; then bash tests/python/run.sh; fi
if [ -f clients/python/run.sh ]; then bash clients/python/run.sh; fi
if [ "$(id -u)" = 0 ] && command -v dpkg-deb >/dev/null; then bash packaging/deb/test.sh; else echo "skip packaging/deb/test.sh: it installs a .deb, so it needs root and dpkg"; fi
# The judge's page: its unit tests and the committed bundle (web/), then the page in headless
# Chromium against `curia verify` (tests/browser/).
bash tests/browser/run.sh
