#!/usr/bin/env bash
# Builds the curia Debian package with plain dpkg-deb from a staged tree (no extra tool to
# install). Contents: /usr/bin/curia (stripped), the curia-node systemd unit, the maintainer
# scripts in packaging/deb/debian, a man page, and /usr/share/doc/curia (copyright, changelog,
# operator guide). Prints the path of the .deb it wrote.
#
# Usage: packaging/deb/build.sh [--profile release|dev|PROFILE] [--bin PATH] [--out DIR]
#                                [--compression xz|gzip|zstd|none]
#   --profile      cargo profile to build curia with (default release)
#   --bin          package this curia binary instead of building one
#   --out          folder for the .deb (default: the cargo target dir's debian/ folder)
#   --compression  dpkg-deb compression (default xz; the test uses none, xz takes minutes on a
#                  loaded machine)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PROFILE=release
BIN=""
OUT=""
COMPRESSION=xz
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) PROFILE=${2:?--profile needs a value}; shift 2 ;;
    --bin) BIN=${2:?--bin needs a path}; shift 2 ;;
    --out) OUT=${2:?--out needs a folder}; shift 2 ;;
    --compression) COMPRESSION=${2:?--compression needs a value}; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
cd "$ROOT"
META=$(cargo metadata --format-version 1 --no-deps)
field() { python3 -c 'import json,sys; m=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1" <<<"$META"; }
VERSION=$(field '[p["version"] for p in m["packages"] if p["name"]=="curia-cli"][0]')
TARGET_DIR=$(field 'm["target_directory"]')
if [ -z "$BIN" ]; then
  cargo build -p curia-cli --bin curia --profile "$PROFILE" >&2
  case "$PROFILE" in dev|test) DIR=debug ;; bench) DIR=release ;; *) DIR=$PROFILE ;; esac
  BIN=$TARGET_DIR/$DIR/curia
fi
[ -x "$BIN" ] || { echo "build.sh: $BIN is not an executable" >&2; exit 2; }
OUT=${OUT:-$TARGET_DIR/debian}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# The changelog's newest entry must name the version being packaged.
CHANGELOG_VERSION=$(sed -n '1s/^curia (\([^)]*\)).*/\1/p' "$HERE/debian/changelog")
[ "$CHANGELOG_VERSION" = "$VERSION" ] || {
  echo "build.sh: packaging/deb/debian/changelog starts with $CHANGELOG_VERSION, the crate is $VERSION: add an entry" >&2
  exit 2
}
ARCH=$(dpkg --print-architecture)

STAGE=$(mktemp -d)
SHLIBS_DIR=
trap 'rm -rf "$STAGE" ${SHLIBS_DIR:+"$SHLIBS_DIR"}' EXIT
chmod 0755 "$STAGE"
umask 022
install -d "$STAGE/DEBIAN" "$STAGE/usr/bin" "$STAGE/lib/systemd/system" "$STAGE/usr/share/doc/curia" \
  "$STAGE/usr/share/man/man1"
install -m 0755 "$BIN" "$STAGE/usr/bin/curia"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$STAGE/usr/bin/curia"
install -m 0644 "$HERE/curia-node.service" "$STAGE/lib/systemd/system/curia-node.service"
install -m 0644 "$HERE/debian/copyright" "$STAGE/usr/share/doc/curia/copyright"
gzip -9n < "$HERE/debian/changelog" > "$STAGE/usr/share/doc/curia/changelog.gz"
gzip -9n < "$ROOT/docs/operator-guide.md" > "$STAGE/usr/share/doc/curia/operator-guide.md.gz"
gzip -9n < "$HERE/debian/curia.1" > "$STAGE/usr/share/man/man1/curia.1.gz"
chmod 0644 "$STAGE"/usr/share/doc/curia/* "$STAGE/usr/share/man/man1/curia.1.gz"
for s in postinst prerm postrm; do install -m 0755 "$HERE/debian/$s" "$STAGE/DEBIAN/$s"; done

# Shared-library dependencies, as dpkg-shlibdeps computes them (it wants a debian/control).
SHLIBS_DIR=$(mktemp -d)
mkdir -p "$SHLIBS_DIR/debian"
printf 'Source: curia\n\nPackage: curia\nArchitecture: any\n' > "$SHLIBS_DIR/debian/control"
SHLIBS=$(cd "$SHLIBS_DIR" && dpkg-shlibdeps -O "$STAGE/usr/bin/curia" | sed -n 's/^shlibs:Depends=//p')
rm -rf "$SHLIBS_DIR"
[ -n "$SHLIBS" ] || { echo "build.sh: dpkg-shlibdeps found no dependencies" >&2; exit 2; }

SIZE=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@SIZE@/$SIZE/" -e "s/@SHLIBS@/$SHLIBS/" \
  "$HERE/debian/control.in" > "$STAGE/DEBIAN/control"
(cd "$STAGE" && find usr lib -type f -print0 | sort -z | xargs -0 md5sum) > "$STAGE/DEBIAN/md5sums"
chmod 0644 "$STAGE/DEBIAN/control" "$STAGE/DEBIAN/md5sums"

DEB=$OUT/curia_${VERSION}_${ARCH}.deb
dpkg-deb --root-owner-group -Z"$COMPRESSION" --build "$STAGE" "$DEB" >&2
echo "$DEB"
