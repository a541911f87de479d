#!/usr/bin/env bash
# End-to-end test of the Debian package on this machine (needs root and dpkg): builds the .deb
# from the debug binary, installs it with dpkg, checks files, owners and modes, configures a node
# the way the operator guide says (curia node init into /etc/curia, data in /var/lib/curia) for a
# one-validator testnet written by `curia testnet init` on free loopback ports, runs the unit's
# ExecStart line as the curia user, waits for committed blocks, deposits a file, stops the node,
# audits the store, reinstalls (config and key must stay untouched), removes (data and user kept),
# purges (data gone, user kept) and purges again with CURIA_PURGE_USER=yes (user gone).
# systemd is not PID 1 in the CI container, so the unit itself is only checked with
# `systemd-analyze verify`; its ExecStart line is run by hand with setpriv as User/Group.
# Any pre-existing /etc/curia or /var/lib/curia is moved aside and put back; on any failure the
# trap stops the node, purges the package and restores the system.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"
[ "$(id -u)" = 0 ] || { echo "packaging/deb/test.sh: needs root (it installs a package)" >&2; exit 2; }
command -v dpkg-deb >/dev/null || { echo "packaging/deb/test.sh: needs dpkg" >&2; exit 2; }
if dpkg-query -W -f='${Status}' curia 2>/dev/null | grep -q 'install ok'; then
  echo "packaging/deb/test.sh: a curia package is already installed here; not touching it" >&2
  exit 2
fi

WORK=$(mktemp -d /tmp/curia-deb-test.XXXXXX)
chmod 0755 "$WORK"   # the curia user reads the deposited file and genesis from here
NODE_PID=""
USER_EXISTED=no
getent passwd curia >/dev/null && USER_EXISTED=yes
BACKUPS=()
for d in /etc/curia /var/lib/curia; do
  if [ -e "$d" ]; then
    mkdir -p "$WORK/backup$(dirname "$d")"
    mv "$d" "$WORK/backup$d"
    BACKUPS+=("$d")
  fi
done

cleanup() {
  local rc=$?
  if [ -n "$NODE_PID" ] && kill -0 "$NODE_PID" 2>/dev/null; then
    kill -TERM "$NODE_PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$NODE_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$NODE_PID" 2>/dev/null || true
  fi
  if dpkg-query -W -f='${Status}' curia 2>/dev/null | grep -q 'ok'; then
    if [ "$USER_EXISTED" = yes ]; then dpkg --purge curia >/dev/null 2>&1 || true
    else CURIA_PURGE_USER=yes dpkg --purge curia >/dev/null 2>&1 || true; fi
  fi
  if [ "$USER_EXISTED" = no ] && getent passwd curia >/dev/null; then deluser --system --quiet curia || true; fi
  for d in "${BACKUPS[@]}"; do rm -rf "$d"; mv "$WORK/backup$d" "$d"; done
  if [ $rc != 0 ] && [ -f "$WORK/node.log" ]; then echo "--- node log (last 30 lines)" >&2; tail -30 "$WORK/node.log" >&2; fi
  rm -rf "$WORK"
  if [ $rc = 0 ]; then echo "packaging/deb/test.sh: ok"; else echo "packaging/deb/test.sh: FAILED" >&2; fi
  exit $rc
}
trap cleanup EXIT
fail() { echo "packaging/deb/test.sh: $*" >&2; exit 1; }
step() { echo "== $*"; }
# expect PATH OWNER:GROUP MODE
expect() {
  local got
  got=$(stat -c '%U:%G %a' "$1") || fail "$1 missing"
  [ "$got" = "$2 $3" ] || fail "$1 is $got, expected $2 $3"
}

step "build the package from the debug binary"
# CURIA_BIN (set by scripts/test.sh: the binary `cargo test` built) is packaged as is.
DEB=$(bash "$HERE/build.sh" --profile dev ${CURIA_BIN:+--bin "$CURIA_BIN"} --out "$WORK" --compression none)

step "install it with dpkg"
dpkg -i "$DEB" >/dev/null
getent passwd curia >/dev/null || fail "postinst did not create the curia user"
IFS=: read -r _ _ CURIA_UID _ _ CURIA_HOME CURIA_SHELL < <(getent passwd curia)
[ "$CURIA_UID" -lt 1000 ] || fail "curia is not a system user (uid $CURIA_UID)"
[ "$CURIA_HOME" = /var/lib/curia ] || fail "curia's home is $CURIA_HOME"
[ "$CURIA_SHELL" = /usr/sbin/nologin ] || fail "curia's shell is $CURIA_SHELL"
expect /usr/bin/curia root:root 755
expect /lib/systemd/system/curia-node.service root:root 644
expect /usr/share/doc/curia/copyright root:root 644
expect /etc/curia root:curia 750
expect /var/lib/curia curia:curia 700
grep -q '^License: Apache-2.0' /usr/share/doc/curia/copyright || fail "copyright does not name Apache-2.0"
UNIT=/lib/systemd/system/curia-node.service
EXEC_START=$(sed -n 's/^ExecStart=//p' "$UNIT")
[ "$EXEC_START" = "/usr/bin/curia node run --config /etc/curia/node.toml" ] || fail "unexpected ExecStart: $EXEC_START"
for kv in User=curia Group=curia StateDirectory=curia NoNewPrivileges=yes ProtectSystem=strict \
  ProtectHome=yes PrivateTmp=yes ReadWritePaths=/var/lib/curia Restart=on-failure LimitNOFILE=65536; do
  grep -qx "$kv" "$UNIT" || fail "the unit lacks $kv"
done
if [ "$(ps -p 1 -o comm=)" = systemd ]; then
  echo "   note: systemd is PID 1 here, but this test still runs ExecStart by hand (no unit started)"
fi
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify "$UNIT" || fail "systemd-analyze verify rejects the unit"
else
  echo "   note: systemd-analyze not available, the unit file was not verified"
fi

step "write a one-validator testnet and configure the installed node as the guide says"
# Three free loopback ports P, P+1000, P+2000 (p2p, API, ops).
BASE=$(python3 - <<'PY'
import random, socket
for _ in range(200):
    p = random.randint(21000, 40000)
    try:
        for q in (p, p + 1000, p + 2000):
            s = socket.socket(); s.bind(("127.0.0.1", q)); s.close()
        print(p); break
    except OSError:
        continue
PY
)
[ -n "$BASE" ] || fail "no free ports"
curia testnet init --validators 1 --out "$WORK/net" --base-port "$BASE" >/dev/null
curia node init --out /etc/curia --name court-a >/dev/null
[ -f /etc/curia/validator.key ] && [ -f /etc/curia/node.toml ] && [ -f /etc/curia/ops.token ] \
  || fail "node init did not write key, ops token and config"
chown curia:curia /etc/curia/ops.token   # the node reads it; it stays mode 0600
# The genesis names the testnet's key: put it and the genesis in place (install = cp + chown + chmod).
install -m 0600 -o curia -g curia "$WORK/net/court-a/validator.key" /etc/curia/validator.key
install -m 0640 -o root -g curia "$WORK/net/genesis.json" /etc/curia/genesis.json
sed -i -e 's|^data_dir = .*|data_dir = "/var/lib/curia"|' \
  -e "s|^listen = \"/ip4/0.0.0.0/tcp/27000\"|listen = \"/ip4/127.0.0.1/tcp/$BASE\"|" \
  -e "s|^listen = \"127.0.0.1:8080\"|listen = \"127.0.0.1:$((BASE + 1000))\"|" \
  -e "s|^listen = \"127.0.0.1:9090\"|listen = \"127.0.0.1:$((BASE + 2000))\"|" /etc/curia/node.toml
chown root:curia /etc/curia/node.toml && chmod 0640 /etc/curia/node.toml
grep -q "127.0.0.1:$((BASE + 1000))" /etc/curia/node.toml || fail "could not set the API address in node.toml"
API=http://127.0.0.1:$((BASE + 1000))

step "run the unit's ExecStart as curia:curia (setpriv) and wait for committed blocks"
# shellcheck disable=SC2086 # ExecStart is a plain word list
RUST_LOG=info setpriv --reuid=curia --regid=curia --init-groups --no-new-privs $EXEC_START \
  >"$WORK/node.log" 2>&1 &
NODE_PID=$!
height() { curl -fsS --max-time 2 "$API/v1/status" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["height"])' 2>/dev/null || echo 0; }
DEADLINE=$((SECONDS + 60))
while [ "$(height)" -lt 2 ]; do
  kill -0 "$NODE_PID" 2>/dev/null || fail "the node exited"
  [ $SECONDS -lt $DEADLINE ] || fail "no block committed within 60 s"
  sleep 0.3
done
[ -d /var/lib/curia/chain ] || fail "the chain store is not in /var/lib/curia/chain"
[ "$(stat -c %U /var/lib/curia/chain)" = curia ] || fail "the chain store is not owned by curia"
echo "   height $(height)"

step "deposit one file and wait for its commit"
printf 'evidence deposited by the package test %s\n' "$(date -u +%s%N)" > "$WORK/evidence.txt"
curia deposit "$WORK/evidence.txt" --key "$WORK/net/clients/platform.key" --node "$API" --wait --out "$WORK" >/dev/null \
  || fail "deposit failed"

step "stop the node (SIGTERM) and audit the store it wrote"
kill -TERM "$NODE_PID"
for _ in $(seq 300); do kill -0 "$NODE_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$NODE_PID" 2>/dev/null && fail "the node did not stop within 30 s of SIGTERM"
wait "$NODE_PID" || fail "the node exited with status $? on SIGTERM"
NODE_PID=""
setpriv --reuid=curia --regid=curia --init-groups curia audit --data-dir /var/lib/curia --genesis /etc/curia/genesis.json >/dev/null \
  || fail "audit of /var/lib/curia failed"

step "reinstall: postinst leaves config, key and data alone"
snapshot() { find /etc/curia /var/lib/curia -maxdepth 1 -printf '%p %u:%g %m\n' | sort; sha256sum /etc/curia/*; }
BEFORE=$(snapshot)
dpkg -i "$DEB" >/dev/null
[ "$(snapshot)" = "$BEFORE" ] || fail "reinstalling changed /etc/curia or /var/lib/curia"

step "remove: binary and unit gone, config, data and user kept"
dpkg -r curia >/dev/null
[ ! -e /usr/bin/curia ] && [ ! -e "$UNIT" ] || fail "dpkg -r left the binary or the unit"
[ -f /etc/curia/validator.key ] && [ -d /var/lib/curia/chain ] || fail "dpkg -r deleted config or data"
getent passwd curia >/dev/null || fail "dpkg -r deleted the curia user"

step "purge: config and data gone, user kept unless CURIA_PURGE_USER=yes"
dpkg --purge curia >/dev/null
[ ! -e /etc/curia ] && [ ! -e /var/lib/curia ] || fail "dpkg --purge left /etc/curia or /var/lib/curia"
getent passwd curia >/dev/null || fail "dpkg --purge deleted the curia user without being asked"
dpkg -i "$DEB" >/dev/null   # with the user already there
expect /var/lib/curia curia:curia 700
CURIA_PURGE_USER=yes dpkg --purge curia >/dev/null
if [ "$USER_EXISTED" = no ]; then
  ! getent passwd curia >/dev/null || fail "CURIA_PURGE_USER=yes dpkg --purge left the curia user"
  ! getent group curia >/dev/null || fail "CURIA_PURGE_USER=yes dpkg --purge left the curia group"
fi
[ ! -e /etc/curia ] && [ ! -e /var/lib/curia ] && [ ! -e /usr/bin/curia ] || fail "the system is not clean after purge"
! dpkg-query -W curia >/dev/null 2>&1 || fail "dpkg still knows the curia package after purge"
