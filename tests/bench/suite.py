"""suite.py - `make bench`: every workload of the performance issue beside its baseline.

Each workload runs its variants interleaved (bare, trail, bare, trail, ...) BENCH_REPS times
(at least 5) in this one invocation and prints median, min and max of each variant and the
ratio of the medians to the baseline; the table is also written as Markdown (BENCH_OUT). Sizes
come from BENCH_QUICK=1 (minutes) or the full set (the issue's sizes). The generated 1M-run
store is cached under the build directory between runs (rebuilt when gen_store is newer).
"""
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

BUILD = os.environ["BENCH_BUILD"]
SRC = os.environ["BENCH_SRC"]
QUICK = os.environ.get("BENCH_QUICK", "0") == "1"
REPS = max(5, int(os.environ.get("BENCH_REPS", "5")))
# BENCH_ONLY=programs,io_micro,ingest,sdk,queries,shim_rss,ui,pg: a subset of the workloads
ONLY = [w for w in os.environ.get("BENCH_ONLY", "").split(",") if w]
OUT = os.environ.get("BENCH_OUT", "")
TRACERS = os.environ.get("BENCH_TRACERS", "0") == "1"

SIZES = {  # quick, full
    "ingest": (100_000, 1_000_000),
    "io_n": (20_000, 100_000),
    "sdk_calls": (200_000, 1_000_000),
    "store_runs": (30_000, 1_000_000),
    "store_events": (300_000, 10_000_000),
    "true_n": (200, 200),
    "py_n": (20, 20),
}
def size(k):
    return SIZES[k][0 if QUICK else 1]

def tool(*p):
    return os.path.join(BUILD, *p)

TRAIL, TRAILD = tool("bin", "trail"), tool("bin", "traild")
SHIM, LIBTRAIL = tool("lib", "libtrail_preload.so"), tool("lib", "libtrail.so.0")
IO_MICRO, GEN_STORE = tool("tests", "io_micro"), tool("tests", "gen_store")
RAW_SQLITE, SDK_BENCH = tool("tests", "raw_sqlite"), tool("tests", "sdk_bench")
HERE = os.path.join(SRC, "tests", "bench")
# Debian's python3 (its torch, numpy): the interpreter on PATH may be another one
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else "python3"
TMP = tempfile.mkdtemp(prefix="trail-bench-")
ROWS = []  # (workload, variant, unit, values, baseline median or None, note)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def env_for(tag):
    """A clean environment with its own store and spool root."""
    e = dict(os.environ)
    for k in list(e):
        if k.startswith("TRAIL_") or k == "LD_PRELOAD":
            del e[k]
    d = os.path.join(TMP, tag)
    os.makedirs(d, exist_ok=True)
    e.update(TRAIL_STORE=os.path.join(d, "store.db"), TRAIL_SPOOL_ROOT=os.path.join(d, "spool"),
             TRAIL_SPOOL_BUDGET_MB="100000")
    return e


def run(argv, env=None, cwd=None, check=True):
    """Wall seconds, child cpu seconds, max RSS (KiB) of the command and its stdout."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe:
        p = subprocess.Popen(argv, env=env, cwd=cwd, stdout=fo, stderr=fe)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read(), fe.read()
    rc = os.waitstatus_to_exitcode(status)
    if check and rc != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(argv), rc, err[-500:]))
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss, out


def field(out, name):
    for tok in out.split():
        if tok.startswith(name + "="):
            return float(tok.split("=", 1)[1])
    raise RuntimeError("no %s= in %r" % (name, out[-200:]))


def interleave(name, variants, unit, baseline=None, note="", higher_better=False):
    """variants: [(label, fn() -> value)], run round-robin REPS times."""
    vals = {label: [] for label, _ in variants}
    for r in range(REPS):
        for label, fn in variants:
            vals[label].append(fn())
        log("%s rep %d/%d: %s" % (name, r + 1, REPS, "  ".join(
            "%s %.4g" % (k, v[-1]) for k, v in vals.items())))
    base = statistics.median(vals[baseline]) if baseline else None
    for label, _ in variants:
        ROWS.append((name, label, unit, vals[label], base if label != baseline else None, note,
                     higher_better))


def record(name, label, unit, values, note=""):
    ROWS.append((name, label, unit, values, None, note, False))


# ---- programs under trail run, against the same command bare ----

def wall_of(argv, tag, cwd=None, prep=None):
    def fn():
        if prep:
            prep()
        e = env_for(tag)
        shutil.rmtree(e["TRAIL_SPOOL_ROOT"], ignore_errors=True)
        return run(argv, env=e, cwd=cwd)[0]
    return fn


def sampled_run(argv, tag, cpu):
    """`trail run --system-interval 1 -- argv`: its wall time; appends (the launcher's own CPU
    while the command ran, its last system/trail_cpu_seconds point; the CPU of trail and the
    command together) to cpu (issue 15 part 7: the agent stays out of the way)."""
    def fn():
        e = env_for(tag)
        shutil.rmtree(e["TRAIL_SPOOL_ROOT"], ignore_errors=True)
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(e["TRAIL_STORE"] + suffix):
                os.remove(e["TRAIL_STORE"] + suffix)
        wall, tree_cpu, _, _ = run([TRAIL, "run", "--system-interval", "1", "--"] + argv, env=e)
        with sqlite3.connect(e["TRAIL_STORE"]) as c:
            row = c.execute("SELECT value FROM metrics WHERE key = 'system/trail_cpu_seconds'"
                            " ORDER BY step DESC, time_ns DESC LIMIT 1").fetchone()
        if not row:
            raise RuntimeError("%s: no system/trail_cpu_seconds point" % tag)
        cpu.append((row[0], tree_cpu))
        return wall
    return fn


def bench_programs():
    torch_job = os.path.join(HERE, "torch_job.py")
    cpu = []
    name = "pytorch (2 DataLoader workers, 3 epochs)"
    interleave(name,
               [("bare", wall_of([PY, torch_job], "torch-bare")),
                ("trail run", wall_of([TRAIL, "run", "--", PY, torch_job], "torch-trail")),
                ("trail run --system-interval 1", sampled_run([PY, torch_job], "torch-s1", cpu))],
               "s wall", "bare")
    record(name + ", trail's own CPU while it ran", "launcher CPU (system/trail_cpu_seconds)",
           "s", [t for t, _ in cpu])
    record(name + ", trail's own CPU while it ran", "of the job's CPU", "%",
           [100.0 * t / (tree - t) for t, tree in cpu if tree > t],
           note="the launcher's CPU time while the command ran, as the run records it "
                "(sampled each second), against the CPU of the command's whole tree")
    loop = "i=0; while [ $i -lt %d ]; do /bin/true; i=$((i+1)); done" % size("true_n")
    interleave("process start (%d x /bin/true from sh)" % size("true_n"),
               [("bare", wall_of(["sh", "-c", loop], "true-bare")),
                ("trail run", wall_of([TRAIL, "run", "--", "sh", "-c", loop], "true-trail"))],
               "s wall", "bare")
    py = "i=0; while [ $i -lt %d ]; do %s -c pass; i=$((i+1)); done" % (size("py_n"), PY)
    interleave("python3 -c pass x %d" % size("py_n"),
               [("bare", wall_of(["sh", "-c", py], "py-bare")),
                ("trail run", wall_of([TRAIL, "run", "--", "sh", "-c", py], "py-trail"))],
               "s wall", "bare")
    # exec_heavy: make of 20 small C files
    proj = os.path.join(TMP, "exec_heavy")
    os.makedirs(proj, exist_ok=True)
    for i in range(20):
        with open(os.path.join(proj, "f%02d.c" % i), "w") as f:
            f.write("int f%02d(int x) { return x * %d + 1; }\n" % (i, i))
    with open(os.path.join(proj, "main.c"), "w") as f:
        f.write("int main(void) { return 0; }\n")
    with open(os.path.join(proj, "Makefile"), "w") as f:
        objs = " ".join("f%02d.o" % i for i in range(20))
        f.write("prog: main.o %s\n\tcc -o prog main.o %s\n%%.o: %%.c\n\tcc -O0 -c $< -o $@\n"
                % (objs, objs))
    clean = lambda: [os.remove(os.path.join(proj, x)) for x in os.listdir(proj)
                     if x.endswith(".o") or x == "prog"]
    interleave("exec_heavy (make of 20 C files)",
               [("bare", wall_of(["make", "-s", "-j1"], "make-bare", cwd=proj, prep=clean)),
                ("trail run", wall_of([TRAIL, "run", "--", "make", "-s", "-j1"], "make-trail",
                                      cwd=proj, prep=clean))],
               "s wall", "bare")
    ml = os.path.join(HERE, "ml_job.py")
    interleave("numpy/sklearn job",
               [("bare", wall_of([PY, ml], "ml-bare")),
                ("trail run", wall_of([TRAIL, "run", "--", PY, ml], "ml-trail"))],
               "s wall", "bare",
               note="sklearn when installed, else the numpy-only fallback (ml_job.py says which)")


def bench_io_micro():
    n = size("io_n")
    data = os.path.join(TMP, "io-data")
    run([IO_MICRO, "setup", data])
    cmd = [IO_MICRO, "run", data, str(n)]
    last = {}

    def variant(label, argv, tag, shim=False):
        def fn():
            e = env_for(tag)
            shutil.rmtree(e["TRAIL_SPOOL_ROOT"], ignore_errors=True)
            if shim:
                e.update(LD_PRELOAD=SHIM, TRAIL_RUN_ID="0" * 32,
                         TRAIL_SPOOL=os.path.join(TMP, tag, "shim-spool"))
                shutil.rmtree(e["TRAIL_SPOOL"], ignore_errors=True)
            wall, _, _, out = run(argv, env=e)
            last.setdefault(label, []).append(field(out, "loop_s") / n * 1e6)
            return wall
        return fn
    vs = [("bare", variant("bare", cmd, "io-bare")),
          ("shim only", variant("shim only", cmd, "io-shim", shim=True)),
          ("trail run", variant("trail run", [TRAIL, "run", "--"] + cmd, "io-trail"))]
    if TRACERS and shutil.which("strace"):
        vs.append(("strace -f", variant("strace -f", ["strace", "-f", "-o", "/dev/null"] + cmd,
                                        "io-strace")))
    interleave("io_micro %d x open/read/close, wall" % n, vs, "s wall", "bare")
    base = statistics.median(last["bare"])
    for label, vals in last.items():
        ROWS.append(("io_micro, the program's own loop", label, "us/iter", vals,
                     None if label == "bare" else base, "", False))


# ---- ingest: trail sync (embedded) and traild, against raw SQLite ----

def make_metric_spool(root, n):
    e = env_for("mk")
    e["TRAIL_SPOOL_ROOT"] = root
    run([SDK_BENCH, "metric", str(n), "1"], env=e)


def make_file_spool(root, n):
    """io_micro over n distinct files, each opened once: n FILE records (the shim makes repeated
    opens of one version one description, so io_micro's 100 files would give 100 records)."""
    data = os.path.join(BUILD, "bench-io-files-%d" % n)  # cached: n files take a while to make
    if not os.path.isfile(os.path.join(data, "f%03d" % (n - 1))):
        run([IO_MICRO, "setup", data, str(n)])
    e = env_for("mkf")
    run_id = "f" * 32
    e.update(LD_PRELOAD=SHIM, TRAIL_RUN_ID=run_id, TRAIL_SPOOL=os.path.join(root, run_id))
    run([IO_MICRO, "run", data, str(n), str(n)], env=e)


def sync_rate(spool0, n, tag, events=False):
    def fn():
        d = os.path.join(TMP, tag)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        spool = os.path.join(d, "spool")
        shutil.copytree(spool0, spool)
        e = env_for(tag)
        db = os.path.join(d, "s.db")
        wall = run([TRAIL, "sync", "--spool-root", spool, "--store", db], env=e)[0]
        table = "events" if events else "metrics"
        with sqlite3.connect(db) as c:
            got = c.execute("SELECT count(*) FROM " + table).fetchone()[0]
        if got < n:  # the rate is of rows stored: a workload that stores fewer is not measured
            raise RuntimeError("trail sync stored %d %s rows, expected %d" % (got, table, n))
        return n / wall / 1000
    return fn


def raw_rate(shape, n):
    def fn():
        out = run([RAW_SQLITE, os.path.join(TMP, "raw.db"), shape, str(n)])[3]
        return field(out, "rows_per_s") / 1000
    return fn


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def traild_rate(spools, n, tag, rss, store=None, collectors=1):
    """n records spread over len(spools) agents (trail sync --collector) into one traild (or
    `collectors` of them, agents shared out in turn, on the store store() gives: pg_bench.py)."""
    def fn():
        d = os.path.join(TMP, tag)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d, mode=0o700)
        e = env_for(tag)
        where = store() if store else os.path.join(d, "s.db")
        ports, tds = [], []
        for _ in range(collectors):
            ports.append(free_port())
            tds.append(subprocess.Popen([TRAILD, "--listen", "tcp://127.0.0.1:%d" % ports[-1],
                                         "--store", where], env=e, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL))
        td, port = tds[0], ports[0]
        for pt in ports:
            for _ in range(500):
                try:
                    socket.create_connection(("127.0.0.1", pt), 0.1).close()
                    break
                except OSError:
                    time.sleep(0.02)
        roots = []
        for i, s0 in enumerate(spools):
            r = os.path.join(d, "spool%d" % i)
            shutil.copytree(s0, r)
            roots.append(r)
        t0 = time.perf_counter()
        ps = [subprocess.Popen([TRAIL, "sync", "--spool-root", r, "--collector",
                                "tcp://127.0.0.1:%d" % ports[i % len(ports)], "--timeout",
                                "600"], env=e, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE) for i, r in enumerate(roots)]
        for p in ps:
            _, err = p.communicate()
            if p.returncode != 0:
                for t in tds:
                    t.kill()
                raise RuntimeError("trail sync --collector failed: %s" % err[-300:])
        wall = time.perf_counter() - t0
        try:
            with open("/proc/%d/status" % td.pid) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        rss.append(int(line.split()[1]) / 1024)
        except OSError:
            pass
        for t in tds:
            t.send_signal(signal.SIGTERM)
            t.wait()
        return n / wall / 1000
    return fn


def bench_ingest():
    n = size("ingest")
    mspool = os.path.join(TMP, "metric-spool")
    make_metric_spool(mspool, n)
    interleave("ingest %d metric records (trail sync, embedded)" % n,
               [("raw SQLite", raw_rate("metric", n)),
                ("trail sync", sync_rate(mspool, n, "sync-m"))],
               "k rows/s", "raw SQLite", higher_better=True,
               note="raw: tests/bench/raw_sqlite.c, metrics table and index, one prepared "
                    "statement, 5000 rows per transaction, WAL, synchronous=FULL")
    fn_ = size("io_n")
    fspool = os.path.join(TMP, "file-spool")
    make_file_spool(fspool, fn_)
    interleave("ingest %d file records (io_micro spool, trail sync)" % fn_,
               [("raw SQLite", raw_rate("file", fn_)),
                ("trail sync", sync_rate(fspool, fn_, "sync-f", events=True))],
               "k rows/s", "raw SQLite", higher_better=True,
               note="io_micro over %d distinct files, each opened once; raw: the events table "
                    "with the store's two run/version indexes" % fn_)
    parts = []
    for i in range(8):
        p = os.path.join(TMP, "agent-spool%d" % i)
        make_metric_spool(p, n // 8)
        parts.append(p)
    rss1, rss8 = [], []
    interleave("traild over tcp, %d metric records" % n,
               [("1 agent", traild_rate([mspool], n, "td1", rss1)),
                ("8 agents", traild_rate(parts, n // 8 * 8, "td8", rss8))],
               "k rows/s", "1 agent", higher_better=True)
    if rss8:
        record("traild RSS while 8 agents send at once (overload)", "traild VmHWM", "MiB", rss8)


# ---- the SDK call ----

def bench_sdk():
    calls = size("sdk_calls")

    def c(mode, threads, disable=False, fld="ns_per_call"):
        def fn():
            e = env_for("sdk")
            shutil.rmtree(e["TRAIL_SPOOL_ROOT"], ignore_errors=True)
            if disable:
                e["TRAIL_DISABLE"] = "1"
            return field(run([SDK_BENCH, mode, str(calls // threads), str(threads)], env=e)[3],
                         fld)
        return fn
    # sdk_bench prints the wall time per call of one thread (ns_per_call), the median thread's
    # own CPU time per call (cpu_ns_per_call) and the wall time per call of all threads
    # together (wall_ns_per_any). With more threads than free cores the first grows with the
    # time slicing alone (4 threads on 2 cores: twice the 1-thread figure at best): the CPU
    # time of each thread is what shows whether threads slow each other down (a lock or a
    # written cache line shared on the path); the last is the throughput.
    interleave("SDK from C, %d calls" % calls,
               [("fprintf same line", c("fprintf", 1)),
                ("TRAIL_DISABLE=1", c("metric", 1, True)),
                ("trail_log_metric 1 thread", c("metric", 1)),
                ("trail_log_metric 1 thread, CPU time", c("metric", 1, fld="cpu_ns_per_call")),
                ("trail_log_metric 4 threads, CPU time of each",
                 c("metric", 4, fld="cpu_ns_per_call")),
                ("trail_log_metric 4 threads, wall per call of all",
                 c("metric", 4, fld="wall_ns_per_any"))],
               "ns/call", "fprintf same line",
               note="wall time per call unless said; 4 threads make calls/4 each (sdk_bench.c)")
    # Python: tests/bench/py_sdk.py (the package's own benchmark), once per repetition
    script = os.path.join(HERE, "py_sdk.py")
    if not os.path.isfile(os.path.join(SRC, "sdk", "python", "trail", "__init__.py")) or \
            not os.path.isfile(script):
        return
    pats = [("trail.log_metric(key, v)", r"log_metric\(key, v\) ([0-9.]+)"),
            ("trail.log_metric(key, v, step)", r"log_metric\(key, v, step\) ([0-9.]+)"),
            ("bare ctypes trail_log_metric", r"bare ctypes trail_log_metric ([0-9.]+)"),
            ("empty Python loop", r"empty loop ([0-9.]+)")]
    got = {label: [] for label, _ in pats}
    n = calls // 10
    for r in range(REPS):
        e = env_for("pysdk")
        e.update(BENCH_REPS="5", BENCH_N=str(n))
        out = run([PY, script, BUILD], env=e)[3]
        for label, pat in pats:
            m = re.search(pat, out)
            if not m:
                raise RuntimeError("py_sdk.py: no %s in %r" % (label, out))
            got[label].append(float(m.group(1)))
        log("SDK from Python rep %d/%d: %s" % (r + 1, REPS, out.strip()))
    for label, _ in pats:
        record("SDK from Python, %d calls (tests/bench/py_sdk.py)" % n, label, "ns/call",
               got[label])


# ---- queries on the generated store ----

def bench_queries():
    runs, events = size("store_runs"), size("store_events")
    cache = os.path.join(BUILD, "bench-store-%d-%d.db" % (runs, events))
    if not os.path.exists(cache) or os.path.getmtime(cache) < os.path.getmtime(GEN_STORE):
        log("generating %s (cached for later runs)..." % cache)
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(cache + suffix):
                os.remove(cache + suffix)
        t0 = time.perf_counter()
        run([GEN_STORE, "--store", cache + ".tmp", "--runs", str(runs), "--events", str(events)])
        os.rename(cache + ".tmp", cache)
        for suffix in ("-wal", "-shm"):
            if os.path.exists(cache + ".tmp" + suffix):
                os.remove(cache + ".tmp" + suffix)
        record("gen_store (%d runs, %d file events)" % (runs, events), "generation", "s",
               [time.perf_counter() - t0])
    os.chmod(cache, 0o600)
    e = env_for("q")
    e["TRAIL_STORE"] = cache
    p = runs // 3 // 2  # a pipeline in the middle of the store
    train = "%016x%016x" % (p * 3 + 1, 0x7A11)
    evaluate = "%016x%016x" % (p * 3 + 2, 0x7A11)
    prepare_run = "%016x%016x" % (p * 3, 0x7A11)
    q = {
        "lineage up depth 10 (an evaluate run)": [TRAIL, "lineage", "--up", "--depth", "10",
                                                  evaluate],
        "lineage down depth 10 (a data run)": [TRAIL, "lineage", "--down", "--depth", "10",
                                               prepare_run],
        "runs --where (two predicates)": [TRAIL, "runs", "--where",
                                          "params.seed = '21' and metrics.loss < 0.5"],
        "runs (first page)": [TRAIL, "runs"],
        "runs --json (first page)": [TRAIL, "runs", "--json"],
        "diff two runs": [TRAIL, "diff", train, evaluate],
        "show a run": [TRAIL, "show", train],
        "trail --version (the command's start alone)": [TRAIL, "--version"],
    }
    rss = {k: [] for k in q}
    cpu = {k: [] for k in q}

    rss_file = os.path.join(TMP, "q.rss")

    def query(k):
        def fn():  # GNU time's child: the query's own max RSS, not a forked Python's
            wall, used = run(["/usr/bin/time", "-o", rss_file, "-f", "maxrss_kb=%M"] + q[k],
                             env=e)[:2]
            with open(rss_file) as f:
                rss[k].append(field(f.read(), "maxrss_kb") / 1024)
            cpu[k].append(used * 1000)
            return wall * 1000
        return fn
    interleave("queries on the %d-run store" % runs, [(k, query(k)) for k in q], "ms")
    # CPU time (user + system) of the command and of GNU time around it (wait4's rusage of a
    # process counts its waited-for children): what the other processes of a shared machine
    # move least
    for k in q:
        record("queries on the %d-run store, CPU time" % runs, k, "ms", cpu[k])
    for k in q:
        record("queries on the %d-run store, max RSS" % runs, k, "MiB", rss[k])


def bench_shim_rss():
    def maxrss(shim):
        def fn():
            e = env_for("rss")
            if shim:
                e.update(LD_PRELOAD=SHIM, TRAIL_RUN_ID="0" * 32,
                         TRAIL_SPOOL=os.path.join(TMP, "rss", "shim-spool"))
            # GNU time's own child: the max RSS of /bin/true itself, not of a forked Python
            out = subprocess.run(["/usr/bin/time", "-f", "maxrss_kb=%M", "/bin/true"], env=e,
                                 stderr=subprocess.PIPE, text=True, check=True).stderr
            return field(out, "maxrss_kb") / 1024
        return fn
    interleave("shim RSS per process (/bin/true)", [("bare", maxrss(False)),
                                                    ("shim", maxrss(True))], "MiB max RSS", "bare")


# ---- the web UI over big stores (BENCH_ONLY=ui) ----

UI_SEED = tool("tests", "ui_seed")
BROWSER_DIR = tool("browser")


def ui_store(runs):
    """A gen_store store of `runs` runs (4 file events a run), cached under the build directory."""
    path = os.path.join(BUILD, "bench-ui-%d.db" % runs)
    if not os.path.exists(path) or os.path.getmtime(path) < os.path.getmtime(GEN_STORE):
        log("generating %s (cached for later runs)..." % path)
        for suffix in ("", "-wal", "-shm", ".tmp", ".tmp-wal", ".tmp-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
        run([GEN_STORE, "--store", path + ".tmp", "--runs", str(runs), "--events", str(runs * 4)])
        os.rename(path + ".tmp", path)
    os.chmod(path, 0o600)
    return path


def ui_traild(store, tag):
    """traild --http on loopback over store: (process, base URL)."""
    d = os.path.join(TMP, tag)
    os.makedirs(d, mode=0o700, exist_ok=True)
    logf = open(os.path.join(d, "traild.log"), "w+")
    td = subprocess.Popen([TRAILD, "--store", store, "--listen", "tcp://127.0.0.1:0", "--http",
                           "127.0.0.1:0", "--http-no-auth"], env=env_for(tag), stdout=logf,
                          stderr=subprocess.STDOUT)
    for _ in range(1000):
        logf.seek(0)
        text = logf.read()
        m = re.search(r"http on .* \(port (\d+)\)", text)
        if m and " ready: " in text:
            return td, "http://127.0.0.1:%s" % m.group(1)
        time.sleep(0.02)
    td.kill()
    raise RuntimeError("traild --http did not start: %s" % text[-500:])


def vm_hwm_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def bench_ui():
    """Time to first render of the runs page, filter, sort and page responses at 10 000 and
    100 000 runs, and a 1 000 000-point chart, in Debian's chromium (tests/browser/bench.mjs),
    each beside the API request alone; the page's JS heap and traild's max RSS."""
    node = shutil.which("node")
    if not node or not os.path.exists("/usr/bin/chromium"):
        log("ui: skipped (node or /usr/bin/chromium missing; scripts/deps.sh installs them)")
        return
    if not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")):
        os.makedirs(BROWSER_DIR, exist_ok=True)
        for f in ("package.json", "package-lock.json"):
            shutil.copy(os.path.join(SRC, "tests", "browser", f), BROWSER_DIR)
        run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=BROWSER_DIR)
    for f in ("bench.mjs", "browser.mjs"):
        shutil.copy(os.path.join(SRC, "tests", "browser", f), BROWSER_DIR)
    chart_db = os.path.join(TMP, "ui-chart", "chart.db")
    os.makedirs(os.path.dirname(chart_db), mode=0o700, exist_ok=True)
    run([UI_SEED, chart_db, "10", "1000000"])  # the run "big": 1 000 000 points of "wave"
    chart_td, chart_url = ui_traild(chart_db, "ui-chart-d")
    try:
        for runs in (10_000,) if QUICK else (10_000, 100_000):
            td, url = ui_traild(ui_store(runs), "ui-%d" % runs)
            try:
                out = run([node, os.path.join(BROWSER_DIR, "bench.mjs"), url, chart_url,
                           str(REPS)])[3]
                rss = vm_hwm_mib(td.pid)
            finally:
                td.send_signal(signal.SIGTERM)
                td.wait()
            vals, order = {}, []
            for line in out.splitlines():
                kind, rest = line.split(" ", 1)
                parts = rest.split("\t")
                if kind == "ms":
                    key = (parts[0], parts[1])
                    if key not in vals:
                        order.append(key)
                    vals.setdefault(key, []).append(float(parts[2]))
                else:
                    record("web UI, %d runs" % runs, parts[0],
                           "MiB" if kind == "mib" else "count", [float(parts[1])])
            for name, variant in order:
                if runs != 10_000 and name.startswith("chart"):
                    continue  # the chart's store is the same at every size
                base = statistics.median(vals[(name, "API request alone")])
                label = "%s: %s" % (name, variant)
                ROWS.append(("web UI, %d runs" % runs if not name.startswith("chart") else
                             "web UI, chart", label, "ms", vals[(name, variant)],
                             base if variant == "page" else None,
                             "wall ms in chromium headless (tests/browser/bench.mjs), "
                             "each page action beside the API request it makes", False))
            record("web UI, %d runs" % runs, "traild max RSS", "MiB", [rss])
    finally:
        chart_td.send_signal(signal.SIGTERM)
        chart_td.wait()


def bench_pg():  # BENCH_ONLY=pg (tests/bench/pg_bench.py)
    sys.path.insert(0, HERE)
    import pg_bench
    pg_bench.bench_pg(sys.modules[__name__])


def fmt(v):
    return "%.3g" % v if abs(v) < 1000 else "%.0f" % v


def table():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cmd = os.environ.get("BENCH_CMD", "make bench")
    lines = ["Date: %s UTC; machine: %s, %d cores, %s; command: `%s`%s; %d interleaved "
             "repetitions per workload." % (time.strftime("%Y-%m-%d %H:%M", time.gmtime()), cpu,
                                            os.cpu_count(), platform.platform(), cmd,
                                            " (BENCH_QUICK=1 sizes)" if QUICK else "", REPS), "",
             "| workload | variant | unit | median | min | max | ratio |",
             "|---|---|---|---:|---:|---:|---:|"]
    notes = []
    for name, label, unit, vals, base, note, hb in ROWS:
        med = statistics.median(vals)
        ratio = "" if base is None or base == 0 else "%.2fx" % (med / base)
        lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            name, label, unit, fmt(med), fmt(min(vals)), fmt(max(vals)), ratio))
        if note and (name, note) not in notes:
            notes.append((name, note))
    lines.append("")
    for name, note in notes:
        lines.append("- %s: %s" % (name, note))
    return "\n".join(lines) + "\n"


def main():
    for f in (TRAIL, TRAILD, SHIM, IO_MICRO, GEN_STORE, RAW_SQLITE, SDK_BENCH):
        if not os.path.exists(f):
            sys.exit("bench: %s missing (build first)" % f)
    try:
        for fn in (bench_programs, bench_io_micro, bench_ingest, bench_sdk, bench_queries,
                   bench_shim_rss, bench_ui, bench_pg):
            if ONLY and fn.__name__[len("bench_"):] not in ONLY:
                continue
            fn()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    t = table()
    print(t)
    if OUT:
        with open(OUT, "w") as f:
            f.write(t)


if __name__ == "__main__":
    main()
