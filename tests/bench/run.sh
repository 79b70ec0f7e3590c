#!/bin/bash
# run.sh BUILD - `make bench`: every workload of the performance suite beside its baseline, in
# one invocation, interleaved, medians of BENCH_REPS (>= 5) runs (tests/bench/suite.py). Not part
# of `make test`. BENCH_QUICK=1: smaller sizes (minutes); BENCH_ONLY=programs,io_micro,ingest,
# sdk,queries,shim_rss,ui: a subset; BENCH_OUT=FILE: the Markdown table also into FILE;
# BENCH_TRACERS=1 adds strace -f to io_micro. The generated store is cached in BUILD.
set -euo pipefail
BUILD=${1:-build}
BUILD=$(cd "$BUILD" && pwd)
SRC=$(cd "$(dirname "$0")/../.." && pwd)
export BENCH_BUILD=$BUILD BENCH_SRC=$SRC
exec "$(command -v /usr/bin/python3 || command -v python3)" "$SRC/tests/bench/suite.py"
