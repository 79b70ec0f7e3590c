"""pg_bench.py - BENCH_ONLY=pg: the PostgreSQL store beside SQLite, in the same invocation.

A PostgreSQL 15 of its own (tests/pg/server.sh, fsync on, unix socket): 8 agents' metric
records through one traild and through two in front of one database, against one traild on a
SQLite store; FILE records by `trail sync` straight into each store and through traild; the queries benchmark's generated store (1M runs, cached in the build directory) copied into
PostgreSQL (trail store copy) and the query commands timed on both.
"""
import glob
import os
import shutil
import subprocess
import tempfile
import time


def bench_pg(s):
    """s: the suite module (interleave, record, run, size, traild helpers)."""
    server = os.path.join(s.SRC, "tests", "pg", "server.sh")
    top = tempfile.mkdtemp(prefix="trail-bench-pg-")  # the server runs as nobody: it must
    os.chmod(top, 0o711)                                # reach its directory (TMP is 0700)
    pgdir = os.path.join(top, "pg")
    env = dict(os.environ, TRAIL_PG_FSYNC="on")
    if subprocess.run([server, "start", pgdir], env=env, capture_output=True).returncode != 0:
        s.log("bench pg: PostgreSQL did not start: skipped")
        return
    dbs = [0]

    def new_db():
        dbs[0] += 1
        out = subprocess.run([server, "db", pgdir, "b%d" % dbs[0]], capture_output=True,
                             text=True, check=True).stdout
        return out.strip()
    try:
        n = s.size("ingest")
        parts = []
        for i in range(8):
            p = os.path.join(s.TMP, "pg-agent-spool%d" % i)
            s.make_metric_spool(p, n // 8)
            parts.append(p)
        m = n // 8 * 8
        s.interleave("traild over tcp, 8 agents, %d metric records, by store" % m,
                     [("SQLite, 1 collector", s.traild_rate(parts, m, "pgs1", [])),
                      ("PostgreSQL, 1 collector",
                       s.traild_rate(parts, m, "pgp1", [], store=new_db, collectors=1)),
                      ("PostgreSQL, 2 collectors",
                       s.traild_rate(parts, m, "pgp2", [], store=new_db, collectors=2))],
                     "k rows/s", "SQLite, 1 collector", higher_better=True,
                     note="PostgreSQL 15 on the same machine over a unix socket, fsync on; "
                          "writers take turns (one advisory lock per transaction)")
        # FILE records (io_micro over distinct files, each opened once; hashed by the agent):
        # trail sync straight into the store (the agent's store sink) and through traild
        nf = max(s.size("io_n") // 5, 1000)
        fspool = os.path.join(s.TMP, "pg-file-spool")
        s.make_file_spool(fspool, nf)
        psql = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))[-1:]

        def direct(tag):
            def fn():
                d = os.path.join(s.TMP, tag)
                shutil.rmtree(d, ignore_errors=True)
                os.makedirs(d)
                spool = os.path.join(d, "spool")
                shutil.copytree(fspool, spool)
                url = new_db()
                wall = s.run([s.TRAIL, "sync", "--spool-root", spool, "--store", url],
                             env=s.env_for(tag))[0]
                got = subprocess.run(psql + [url, "-Atc", "SELECT count(*) FROM events"],
                                     capture_output=True, text=True, check=True).stdout
                if int(got.strip() or 0) < nf:  # the rate is of rows stored
                    raise RuntimeError("trail sync stored %s events, expected %d" % (got, nf))
                return nf / wall / 1000
            return fn
        s.interleave("file records (io_micro spool, %d files, hashed), by store" % nf,
                     [("SQLite, trail sync", s.sync_rate(fspool, nf, "pgf-lite", events=True)),
                      ("PostgreSQL, trail sync", direct("pgf-direct")),
                      ("PostgreSQL, 1 collector",
                       s.traild_rate([fspool], nf, "pgf-td", [], store=new_db, collectors=1))],
                     "k rows/s", "SQLite, trail sync", higher_better=True,
                     note="trail sync: the agent's own store sink (each batch taken at commit, "
                          "its look-ups made together); 1 collector: trail sync --collector to "
                          "traild on that store")
        # the queries benchmark's generated store (1M runs; cached in BUILD), made if missing
        runs, events = s.size("store_runs"), s.size("store_events")
        lite = os.path.join(s.BUILD, "bench-store-%d-%d.db" % (runs, events))
        if not os.path.exists(lite):
            s.run([s.GEN_STORE, "--store", lite + ".tmp", "--runs", str(runs), "--events",
                   str(events)])
            os.rename(lite + ".tmp", lite)
        os.chmod(lite, 0o600)
        url = new_db()
        t0 = time.perf_counter()
        s.run([s.TRAIL, "store", "copy", lite, url, "--quiet", "--batch", "50000"])
        s.record("trail store copy of the %d-run store (%d file events) into PostgreSQL"
                 % (runs, events), "copy", "s", [time.perf_counter() - t0])
        p = runs // 3 // 2
        train = "%016x%016x" % (p * 3 + 1, 0x7A11)
        evaluate = "%016x%016x" % (p * 3 + 2, 0x7A11)
        prepare_run = "%016x%016x" % (p * 3, 0x7A11)
        q = {
            "lineage up depth 10": ["lineage", "--up", "--depth", "10", evaluate],
            "lineage down depth 10": ["lineage", "--down", "--depth", "10", prepare_run],
            "runs --where (two predicates)": ["runs", "--where",
                                              "params.seed = '21' and metrics.loss < 0.5"],
            "runs (first page)": ["runs"],
            "show a run": ["show", train],
            "diff two runs": ["diff", train, evaluate],
        }
        for k, args in q.items():
            def fn(store):
                def f():
                    return s.run([s.TRAIL] + args + ["--store", store])[0] * 1000
                return f
            s.interleave("queries on the %d-run store: %s" % (runs, k),
                         [("SQLite", fn(lite)), ("PostgreSQL", fn(url))], "ms", "SQLite")
    finally:
        s.run([server, "stop", pgdir], check=False)
        shutil.rmtree(top, ignore_errors=True)
