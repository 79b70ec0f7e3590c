#!/bin/bash
# run.sh TRAIL WORKDIR [N] - the three-stage pipeline, each stage an unmodified Python program
# under `trail run`: prepare -> train (seeds 1 and 2) -> evaluate (the seed-1 model).
set -euo pipefail
TRAIL=$1
WORK=$2
N=${3:-256}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
mkdir -p "$WORK"
cd "$WORK"
"$TRAIL" run --name prepare --experiment pipeline --param n="$N" -- \
    "$PY" "$HERE/prepare.py" --out data --n "$N"
for seed in 1 2; do
    "$TRAIL" run --name "train-seed$seed" --experiment pipeline --param seed="$seed" -- \
        "$PY" "$HERE/train.py" --data data --model "model-seed$seed.json" --seed "$seed"
done
"$TRAIL" run --name evaluate --experiment pipeline -- \
    "$PY" "$HERE/evaluate.py" --data data --model model-seed1.json --report report.json
