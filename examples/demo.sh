#!/bin/bash
# make demo: runs the examples under `trail run` into a demo store and shows what was recorded.
set -euo pipefail
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TRAIL="$ROOT/$BUILD/bin/trail"
WORK="$ROOT/$BUILD/demo"
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"
export TRAIL_STORE="$WORK/.trail/trail.db"
export TRAIL_SPOOL_ROOT="$WORK/.trail/spool"
set -x
"$TRAIL" run --name first --param lr=0.01 -- "$ROOT/$BUILD/examples/train_logreg" --out model-first.txt
"$TRAIL" run --name fast --experiment demo --param lr=0.5 --param epochs=100 -- \
    "$ROOT/$BUILD/examples/train_logreg" --out model-fast.txt
"$TRAIL" runs
"$TRAIL" show first | sed -n "1,/^environment/p"
{ "$TRAIL" metrics fast --csv || true; } | head -5
set +x

# The lineage pipeline: three unmodified Python programs (examples/pipeline/), each under
# `trail run`; their reads and writes are seen by the capture shim.
echo
echo "== pipeline: prepare -> train (seeds 1, 2) -> evaluate =="
bash "$ROOT/examples/pipeline/run.sh" "$TRAIL" "$WORK/pipeline" 256 >/dev/null
set -x
"$TRAIL" runs --where "name like 'train-%' or name = 'evaluate'"
"$TRAIL" lineage "$WORK/pipeline/report.json" --up || echo "(no file events recorded: the capture shim libtrail_preload.so is not built yet)"
"$TRAIL" diff train-seed1 train-seed2
set +x
echo
echo "demo store: $TRAIL_STORE   (try: TRAIL_STORE=$TRAIL_STORE $TRAIL runs --json)"
