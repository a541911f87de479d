#!/usr/bin/env bash
# The whole story on a real local network: start four validators, deposit a file, wait for the
# commit, fetch the receipt, verify it offline, show a tampered file rejected, run a case (open,
# attach, verify a party's files with a filed report, close), and audit the chain from a node.
set -euo pipefail
cd "$(dirname "$0")/.."
NET=${NET:-target/testnet}
BASE=${BASE_PORT:-27000}
bash testnet/start.sh
trap 'bash testnet/stop.sh >/dev/null' EXIT
CURIA=$(bash scripts/build.sh)/curia
NODE=http://127.0.0.1:$((BASE + 1000))
WORK=$NET/story
mkdir -p "$WORK"
printf 'Listing #4471 screenshot, captured %s by the platform.\n' "$(date -u +%FT%TZ)" > "$WORK/evidence.txt"

echo; echo "== 1. The platform deposits the file's SHA-256 and waits for the commit"
$CURIA deposit "$WORK/evidence.txt" --key "$NET/clients/platform.key" --node "$NODE" --wait --out "$WORK"
RECEIPT=$(ls "$WORK"/*.receipt.json | head -1)

echo; echo "== 2. Every node serves the same receipt, byte for byte"
ID=$(basename "$RECEIPT" .receipt.json)
for i in 1 2 3; do
  $CURIA receipt get "$ID" --node "http://127.0.0.1:$((BASE + 1000 + i))" --wait 10 --out "$WORK/receipt-$i.json" >/dev/null
  cmp -s "$RECEIPT" "$WORK/receipt-$i.json" \
    && echo "node $i: identical receipt" || { echo "node $i serves a different receipt"; exit 1; }
done

echo; echo "== 3. A judge verifies it offline, with nothing but the file, the receipt and the genesis"
$CURIA verify "$WORK/evidence.txt" --receipt "$RECEIPT" --genesis "$NET/genesis.json"

echo; echo "== 4. A tampered file is rejected"
sed 's/Listing/Lusting/' "$WORK/evidence.txt" > "$WORK/evidence-tampered.txt"
if $CURIA verify "$WORK/evidence-tampered.txt" --receipt "$RECEIPT" --genesis "$NET/genesis.json"; then
  echo "story: the tampered file was NOT rejected"; exit 1
fi

echo; echo "== 5. A judge opens a case, attaches the deposit by its file (hashed locally), and checks a party's files"
JUDGE="--key $NET/clients/judge.key --node $NODE"
CASE=CASE-$(date +%s)
$CURIA case open "$CASE" --title "Platform v. Seller" $JUDGE --wait
$CURIA case attach "$CASE" "$WORK/evidence.txt" $JUDGE --wait
mkdir -p "$WORK/submitted"
cp "$WORK/evidence.txt" "$WORK/submitted/"
printf 'a file nobody deposited\n' > "$WORK/submitted/unrelated.txt"
set +e
$CURIA case verify "$CASE" --evidence "$WORK/submitted" --genesis "$NET/genesis.json" $JUDGE --out "$WORK/report" --record
verdict=$?
set -e
[ $verdict = 1 ] || { echo "story: case verify should report the unrelated file (exit 1), got $verdict"; exit 1; }
echo "report: $WORK/report/report.html"
$CURIA case close "$CASE" --note "judgment entered" $JUDGE --wait
$CURIA case show "$CASE" --key "$NET/clients/auditor.key" --node "$NODE"

echo; echo "== 6. An auditor replays the whole chain from genesis, trusting no node"
$CURIA audit --node "http://127.0.0.1:$((BASE + 1001))" --genesis "$NET/genesis.json" --key "$NET/clients/auditor.key"

echo; echo "story: every step behaved as expected"
