#!/usr/bin/env bash
# The test command: installs what it needs, then runs every test of the workspace and the
# independent Python verifier against receipts the Rust code produces.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo test --workspace
if [ -f tests/python/run.sh ]; then bash tests/python/run.sh; fi
# The judge's page: its unit tests and the committed bundle (web/), then the page in headless
# Chromium against `curia verify` (tests/browser/).
bash tests/browser/run.sh
