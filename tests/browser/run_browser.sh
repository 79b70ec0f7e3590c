#!/bin/bash
# run_browser.sh BUILD SRC - the browser test: seeds a store with `trail run`, starts traild --http
# on loopback, and drives Debian's chromium headless with playwright-core: ui_test.mjs (the
# issue's held-back check: table, chart, compare, lineage) and ui_views_test.mjs (sorting,
# columns, parallel coordinates, URLs, keyboard, narrow window, live refresh, crash, inputs);
# screenshots go to BUILD/browser/screenshots. Exits 77 when node, npm or chromium are missing.
set -u
B=$1 S=$2
command -v node >/dev/null || { echo "SKIP: node is not installed (scripts/deps.sh installs nodejs)"; exit 77; }
command -v npm >/dev/null || { echo "SKIP: npm is not installed (scripts/deps.sh installs npm)"; exit 77; }
[ -x /usr/bin/chromium ] || { echo "SKIP: /usr/bin/chromium is missing (scripts/deps.sh installs chromium)"; exit 77; }
W=$B/browser
mkdir -p "$W/screenshots"
# playwright-core as pinned in package-lock.json (no browser download: Debian's chromium is used)
if ! cmp -s "$S/tests/browser/package-lock.json" "$W/package-lock.json" || [ ! -d "$W/node_modules/playwright-core" ]; then
    cp "$S/tests/browser/package.json" "$S/tests/browser/package-lock.json" "$W/"
    (cd "$W" && npm ci --ignore-scripts --no-audit --no-fund >npm.log 2>&1) ||
        { echo "SKIP: npm ci of playwright-core failed (see $W/npm.log)"; exit 77; }
fi
cp "$S/tests/browser/ui_test.mjs" "$S/tests/browser/ui_views_test.mjs" "$S/tests/browser/browser.mjs" "$W/"
T=$(mktemp -d /tmp/trail-browser.XXXXXX)
chmod 700 "$T"
L1= L2=
trap 'touch "$T/stop1" "$T/stop2"; kill $D $L1 $L2 2>/dev/null; wait $D $L1 $L2 2>/dev/null; rm -rf "$T"' EXIT
export TRAIL_STORE=$T/trail.db
TRAIL=$B/bin/trail CLIENT=$B/tests/sdk_client
cd "$T" || exit 1
echo "rows 1 2 3" > data.csv
"$TRAIL" run --name prep --param seed=1 -- sh -c 'cat data.csv > feat.csv' || exit 1
"$TRAIL" run --name train1 --param lr=0.1 --param opt=adam -- "$CLIENT" param epochs 3 metrics 500 input "$T/feat.csv" exit 0 || exit 1
"$TRAIL" run --name train2 --param lr=0.2 --param opt=sgd -- "$CLIENT" param epochs 3 metrics 300 exit 0 || exit 1
"$TRAIL" run --name train3 --param lr=0.3 --param opt=adam -- "$CLIENT" param epochs 3 metrics 200 exit 0 || exit 1
"$TRAIL" run --name crash -- "$CLIENT" signal 11 2>/dev/null
"$TRAIL" run --name shard -- sh -c 'mkdir -p shards; for i in 1 2 3 4 5 6 7 8 9; do cat feat.csv > shards/p$i.csv; done' || exit 1
# two runs that stay running until the test touches their stop file (live tail, live table)
"$TRAIL" run --name live1 --system-interval 1 -- sh -c 'echo live-start; while [ ! -e stop1 ]; do sleep 0.1; done; echo live-done' >/dev/null 2>&1 &
L1=$!
"$TRAIL" run --name live2 -- sh -c 'while [ ! -e stop2 ]; do sleep 0.1; done' >/dev/null 2>&1 &
L2=$!
"$B/bin/traild" --store "$TRAIL_STORE" --listen tcp://127.0.0.1:0 --http 127.0.0.1:0 --http-no-auth >traild.log 2>&1 &
D=$!
port=
for _ in $(seq 1 500); do
    port=$(sed -n 's/.*http on .* (port \([0-9]*\)).*/\1/p' traild.log)
    [ -n "$port" ] && grep -q " ready: " traild.log && break
    sleep 0.02
done
[ -n "$port" ] || { echo "traild did not start:"; cat traild.log; exit 1; }
key=$("$TRAIL" show "$T/feat.csv" --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).key))')
# the live runs have started (their console line and a system sample are in the store)
for _ in $(seq 1 300); do
    "$TRAIL" runs --where "status = 'running'" 2>/dev/null | grep -q live2 &&
        "$TRAIL" logs live1 2>/dev/null | grep -q live-start && break
    sleep 0.05
done
rc=0
node "$W/ui_test.mjs" "http://127.0.0.1:$port" "$W/screenshots" "$key" || rc=1
node "$W/ui_views_test.mjs" "http://127.0.0.1:$port" "$W/screenshots" "$key" "$T" || rc=1
exit $rc
