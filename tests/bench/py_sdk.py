#!/usr/bin/python3
"""py_sdk.py BUILD - per-call cost of the Python package trail: log_metric (the MLflow-style call,
step counted per key), log_metric with an explicit step, and the bare ctypes call into
libtrail.so.0 it wraps; median of BENCH_REPS (>= 5) runs of BENCH_N calls, in ns per call of
the thread's own CPU time (user + system: what the call costs the program, without the time
another process had the core on a shared machine).
Run by tests/bench/run.sh (make bench); outside `trail run`, into a spool in a temporary
directory that is removed after."""
import os
import shutil
import statistics
import sys
import tempfile
import time

build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "sdk", "python"))
tmp = tempfile.mkdtemp(prefix="trail-bench-py-")
os.environ["TRAIL_LIB"] = os.path.join(build, "lib")
os.environ["TRAIL_SPOOL_ROOT"] = os.path.join(tmp, "spool")
for k in ("TRAIL_RUN_ID", "TRAIL_SPOOL", "TRAIL_DISABLE"):
    os.environ.pop(k, None)

import trail  # noqa: E402  (after the environment it reads)

reps = max(5, int(os.environ.get("BENCH_REPS", "5")))
n = int(os.environ.get("BENCH_N", "100000"))
run = trail.start_run(name="py-sdk-bench")
lib = trail._c()


def per_call(fn):
    t0 = time.thread_time_ns()
    fn()
    return (time.thread_time_ns() - t0) / n


def auto_step():
    log = trail.log_metric
    for i in range(n):
        log("loss", 0.5)


def explicit_step():
    log = trail.log_metric
    for i in range(n):
        log("acc", 0.5, i)


def raw_ctypes():
    f, k = lib.trail_log_metric, b"raw"
    for i in range(n):
        f(k, 0.5, i)


def empty_loop():
    for i in range(n):
        pass


res = {name: [] for name in ("log_metric", "log_metric step", "ctypes", "loop")}
try:
    for r in range(reps):  # interleaved
        res["log_metric"].append(per_call(auto_step))
        res["log_metric step"].append(per_call(explicit_step))
        res["ctypes"].append(per_call(raw_ctypes))
        res["loop"].append(per_call(empty_loop))
    trail.end_run()
finally:
    shutil.rmtree(tmp, ignore_errors=True)
med = {k: statistics.median(v) for k, v in res.items()}
print("python sdk (%s, %d x %d calls, median CPU ns/call): log_metric(key, v) %.0f, "
      "log_metric(key, v, step) %.0f, bare ctypes trail_log_metric %.0f, empty loop %.0f"
      % (sys.version.split()[0], reps, n, med["log_metric"], med["log_metric step"],
         med["ctypes"], med["loop"]))
