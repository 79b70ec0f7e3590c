#!/bin/bash
# run.sh BUILD - capture overhead: io_micro (N x open, read 4 KiB, close over 100 files) bare, with
# the shim alone, under `trail run` and under `strace -f` (and reprozip trace when installed;
# BENCH_REPROZIP=0 skips it),
# interleaved, median of BENCH_REPS (>= 5) runs, printed as ratios to bare. Also the cost the
# shim adds to starting a small process. `make bench` runs it; not part of `make test`.
set -euo pipefail
BUILD=${1:-build}
BUILD=$(cd "$BUILD" && pwd)
export BENCH_BUILD=$BUILD BENCH_REPS=${BENCH_REPS:-5} BENCH_N=${BENCH_N:-100000}
for f in "$BUILD/tests/io_micro" "$BUILD/bin/trail" "$BUILD/lib/libtrail_preload.so"; do
    [ -e "$f" ] || { echo "bench: $f missing (build first)" >&2; exit 1; }
done
# the Python package's per-call cost (log_metric through ctypes)
if [ -x /usr/bin/python3 ]; then
    /usr/bin/python3 "$(dirname "$0")/py_sdk.py" "$BUILD" || echo "bench: py_sdk.py failed" >&2
fi
exec python3 - <<'EOF'
import os, platform, re, shutil, statistics, subprocess, sys, tempfile, time

build = os.environ["BENCH_BUILD"]
reps = max(5, int(os.environ["BENCH_REPS"]))
n = int(os.environ["BENCH_N"])
io = os.path.join(build, "tests", "io_micro")
trail = os.path.join(build, "bin", "trail")
shim = os.path.join(build, "lib", "libtrail_preload.so")
tmp = tempfile.mkdtemp(prefix="trail-bench-")
data = os.path.join(tmp, "data")
subprocess.run([io, "setup", data], check=True)
base_env = dict(os.environ, TRAIL_STORE=os.path.join(tmp, "store.db"),
                TRAIL_SPOOL_ROOT=os.path.join(tmp, "spool"))
base_env.pop("LD_PRELOAD", None)
shim_spool = os.path.join(tmp, "shim-spool")
shim_env = dict(base_env, LD_PRELOAD=shim, TRAIL_RUN_ID="0" * 32, TRAIL_SPOOL=shim_spool)
cmd = [io, "run", data, str(n)]

variants = [
    ("bare", cmd, base_env),
    ("shim only", cmd, shim_env),
    ("trail run", [trail, "run", "--"] + cmd, base_env),
    ("strace -f", ["strace", "-f", "-o", "/dev/null"] + cmd, base_env),
]
shm = None
if os.path.isdir("/dev/shm"):  # the spool on tmpfs: no file system journal behind the mappings
    shm = tempfile.mkdtemp(prefix="trail-bench-", dir="/dev/shm")
    variants.insert(3, ("trail tmpfs", [trail, "run", "--"] + cmd,
                        dict(base_env, TRAIL_SPOOL_ROOT=shm)))
if os.environ.get("BENCH_REPROZIP", "1") != "0" and shutil.which("reprozip"):
    variants.append(("reprozip", ["reprozip", "trace", "--overwrite", "-d",
                                  os.path.join(tmp, "rpz"), "--dont-identify-packages"] + cmd,
                     base_env))
if not shutil.which("strace"):
    variants = [v for v in variants if v[0] != "strace -f"]

wall = {v[0]: [] for v in variants}
loop = {v[0]: [] for v in variants}
cpu = {v[0]: [] for v in variants}
for r in range(reps):
    for name, argv, env in list(variants):
        shutil.rmtree(shim_spool, ignore_errors=True)
        t0 = time.perf_counter()
        with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe:
            p = subprocess.Popen(argv, env=env, stdout=fo, stderr=fe)
            _, status, ru = os.wait4(p.pid, 0)  # rusage of the command and what it waited for
            p.returncode = os.waitstatus_to_exitcode(status)
            t1 = time.perf_counter()
            fo.seek(0)
            fe.seek(0)
            out, err = fo.read(), fe.read()
        if p.returncode != 0 and name == "reprozip":  # an optional baseline
            print("bench: reprozip failed, left out: %s" % err[-300:], file=sys.stderr)
            variants = [v for v in variants if v[0] != "reprozip"]
            del wall[name], loop[name], cpu[name]
            continue
        if p.returncode != 0:
            sys.exit("bench: %s failed: %s" % (name, err))
        m = re.search(r"loop_s=([0-9.]+)", out)
        wall[name].append(t1 - t0)
        loop[name].append(float(m.group(1)) if m else float("nan"))
        cpu[name].append(ru.ru_utime + ru.ru_stime)
    print("rep %d/%d: %s" % (r + 1, reps, "  ".join(
        "%s %.2fs" % (k, wall[k][-1]) for k in wall)), file=sys.stderr)

# Starting a small process: /bin/true, bare vs with the shim preloaded (start + exit records).
def spawn_cost(env, count=50):
    t0 = time.perf_counter()
    for _ in range(count):
        subprocess.run(["/bin/true"], env=env, check=True)
    return (time.perf_counter() - t0) / count
spawn = {"bare": [], "shim": [], "shim tmpfs": []}
shm_env = dict(shim_env, TRAIL_SPOOL=os.path.join(shm, "shim-spool")) if shm else None
for r in range(reps):
    spawn["bare"].append(spawn_cost(base_env))
    shutil.rmtree(shim_spool, ignore_errors=True)
    spawn["shim"].append(spawn_cost(shim_env))
    shutil.rmtree(shim_spool, ignore_errors=True)
    if shm_env:
        spawn["shim tmpfs"].append(spawn_cost(shm_env))
        shutil.rmtree(shm_env["TRAIL_SPOOL"], ignore_errors=True)

med = lambda xs: statistics.median(xs)
bw, bl = med(wall["bare"]), med(loop["bare"])
print()
print("io_micro: %d x (open, read 4 KiB, close) over 100 files, median of %d, %s" %
      (n, reps, time.strftime("%Y-%m-%d")))
print("machine: %s, %d CPUs, %s" % (platform.node(), os.cpu_count(), platform.platform()))
bc = med(cpu["bare"])
print("%-10s %8s %7s %8s %7s %8s %7s %8s" % ("variant", "wall s", "x bare", "loop s", "x bare",
                                             "cpu s", "x bare", "us/iter"))
for name in wall:
    w, l, c = med(wall[name]), med(loop[name]), med(cpu[name])
    print("%-10s %8.3f %6.2fx %8.3f %6.2fx %8.3f %6.2fx %8.2f" % (name, w, w / bw, l, l / bl, c,
                                                                c / bc, l / n * 1e6))
print("(wall: the whole command, trail run's store ingest included; loop: the program's own")
print(" timing of its I/O loop, what the program is slowed down by; cpu: user+sys of the")
print(" command and everything it waited for, the agent's ingest included for trail run)")
sb = med(spawn["bare"])
for k in ("shim", "shim tmpfs"):
    if spawn[k]:
        ss = med(spawn[k])
        print("process start (/bin/true): bare %.0f us, %s %.0f us (+%.0f us, %.2fx)" %
              (sb * 1e6, k, ss * 1e6, (ss - sb) * 1e6, ss / sb))
shutil.rmtree(tmp, ignore_errors=True)
if shm:
    shutil.rmtree(shm, ignore_errors=True)
EOF
