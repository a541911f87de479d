#!/usr/bin/env bash
# Installs what building and testing Curia needs on a fresh Debian machine with Rust:
# libclang-dev (the rocksdb crate's bindgen), Python's `cryptography` and `asn1crypto` (the independent
# verifier and its RFC 3161 checks) and openssl (the test TSA).
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi
if ! dpkg -s libclang-dev >/dev/null 2>&1; then
  echo "setup: installing libclang-dev" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libclang-dev >/dev/null
fi
if ! command -v ip >/dev/null; then
  echo "setup: installing iproute2 (the network-namespace fault test)" >&2
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq iproute2 >/dev/null
fi
if ! python3 -c 'import cryptography' 2>/dev/null; then
  echo "setup: installing python cryptography" >&2
  python3 -m pip install -q cryptography
fi
# The independent RFC 3161 checks (tests/python/curia_rfc3161.py) parse CMS with asn1crypto;
# the time-stamp tests run `openssl ts` as the test TSA.
if ! python3 -c 'import asn1crypto' 2>/dev/null; then
  echo "setup: installing python asn1crypto" >&2
  python3 -m pip install -q asn1crypto
fi
if ! command -v openssl >/dev/null; then
  echo "setup: installing openssl (the test TSA)" >&2
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openssl >/dev/null
fi
# The judge's page (web/) and its browser test (tests/browser/): Node.js with npm, Debian's
# Chromium (the test drives it with puppeteer-core; nothing downloads a browser) and a CJK font for
# the Chinese screenshots.
missing=""
command -v node >/dev/null || missing="$missing nodejs"
command -v npm >/dev/null || missing="$missing npm"
command -v chromium >/dev/null || missing="$missing chromium"
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || missing="$missing fonts-noto-cjk"
if [ -n "$missing" ]; then
  echo "setup: installing$missing" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
