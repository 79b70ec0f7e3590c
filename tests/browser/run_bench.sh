#!/bin/bash
# run_bench.sh BUILD SRC [NRUNS] - the UI benchmarks: a store of NRUNS runs (default 10000) and one
# run of 1 000 000 points (tests/ui_seed.c), traild --http on loopback, bench.mjs in chromium.
set -eu
B=$1 S=$2 N=${3:-10000}
W=$B/browser
[ -d "$W/node_modules/playwright-core" ] || { echo "run the browser test first (it installs playwright-core)"; exit 1; }
T=$(mktemp -d /tmp/trail-uibench.XXXXXX)
D=
trap '[ -n "$D" ] && kill $D 2>/dev/null; wait $D 2>/dev/null; rm -rf "$T"' EXIT
"$B/tests/ui_seed" "$T/trail.db" "$N" 1000000
"$B/bin/traild" --store "$T/trail.db" --listen tcp://127.0.0.1:0 --http 127.0.0.1:0 --http-no-auth >"$T/traild.log" 2>&1 &
D=$!
port=
for _ in $(seq 1 500); do
    port=$(sed -n 's/.*http on .* (port \([0-9]*\)).*/\1/p' "$T/traild.log")
    [ -n "$port" ] && grep -q " ready: " "$T/traild.log" && break
    sleep 0.02
done
cp "$S/tests/browser/bench.mjs" "$W/"
echo "runs: $N; big: 1000000 points"
node "$W/bench.mjs" "http://127.0.0.1:$port"
