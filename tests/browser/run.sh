#!/usr/bin/env bash
# Tests the judge's verification page: `npm test` in web/ (the verifier's logic, the escape
# function, and that web/dist/verify.html equals a fresh build), then tests/browser (the page in
# Debian's headless Chromium, compared with `curia verify` on the golden receipts, on every input
# of the Python tests, on a live 4-node testnet and on a 4100 MiB file). Called by scripts/test.sh
# after the Python tests; needs what scripts/setup.sh installs. `npm ci` runs only when a
# package-lock.json changed (a stamp in node_modules), so a second run starts at once.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PUPPETEER_SKIP_DOWNLOAD=1 PUPPETEER_SKIP_CHROMIUM_DOWNLOAD=1 PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
for d in web tests/browser; do
  stamp="$d/node_modules/.curia-lock-sha256"
  want=$(sha256sum "$d/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    (cd "$d" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" > "$stamp"
  fi
done
(cd web && npm test)
TARGET=$(realpath -m "${CARGO_TARGET_DIR:-target}")
if [ -z "${CURIA_BIN:-}" ]; then cargo build -q -p curia-cli; fi
(cd tests/browser && CURIA_BIN="${CURIA_BIN:-$TARGET/debug/curia}" npm test)
