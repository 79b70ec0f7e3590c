/* shim_unit_test.c - the shim preloaded into real programs, records read back from the spool. */
/* the capture shim preloaded into real programs, its records read back from the spool: what it
 * records, and that it never changes what the program sees. */
#include <fcntl.h>

#include "shim_util.h"

static char *work, *spool;
static char env_preload[4200], env_spool[4200];

/* The environment of a process under the shim, without `trail run`. */
#define SHIM_ENV(...)                                                                              \
    ((char *const[]){env_preload, "TRAIL_RUN_ID=" SHU_RUN_ID, env_spool, __VA_ARGS__ NULL})

static const char *conform(void)
{
    return tproc_test_bin("conform");
}

static const char *probe(void)
{
    return tproc_test_bin("probe");
}

static const char *wpath(const char *name)
{
    static char buf[4][4096];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, 4096, "%s/%s", work, name);
    return b;
}

static void fresh(shu_recs *rs)
{
    shu_free(rs);
    shu_rm_rf(spool);
    T_ASSERT(mkdir(spool, 0700) == 0);
}

/* The PROC_START of the process image that made a record (same pid, same stream). */
static const shu_rec *start_of(const shu_recs *rs, const shu_rec *of)
{
    for (size_t i = 0; i < rs->n; i++)
        if (rs->v[i].r.type == TR_REC_PROC_START &&
            shu_i(&rs->v[i], TR_F_PID, -1) == of->stream_pid &&
            !strcmp(rs->v[i].stream, of->stream))
            return &rs->v[i];
    return NULL;
}

/* The FILE record of a path whose image wrote bytes into it. */
static const shu_rec *writer(const shu_recs *rs, const char *name)
{
    const shu_rec *r;
    for (int i = 0; (r = shu_find(rs, TR_REC_FILE, wpath(name), i)) != NULL; i++)
        if (shu_i(r, TR_F_BYTES_WRITTEN, 0) > 0) return r;
    return NULL;
}

/* The FILE records of a path (one per process image that held the description): the role of
 * the first, the bytes of all. */
static void expect_file(const shu_recs *rs, const char *name, const char *role, int64_t bytes)
{
    const shu_rec *r = shu_find(rs, TR_REC_FILE, wpath(name), 0);
    if (!r) {
        T_FAIL("no FILE record for %s", name);
        return;
    }
    T_EQ_STR(shu_s(r, TR_F_PATH), wpath(name)); /* absolute and normalised */
    int64_t rd = 0, wr = 0;
    for (int i = 0; (r = shu_find(rs, TR_REC_FILE, wpath(name), i)) != NULL; i++) {
        int64_t r1 = shu_i(r, TR_F_BYTES_READ, 0), w1 = shu_i(r, TR_F_BYTES_WRITTEN, 0);
        const char *explicit_role = shu_s(r, TR_F_ROLE);
        const char *derived = *explicit_role ? explicit_role
                              : w1           ? (r1 ? "inout" : "output")
                                             : "input";
        if (strcmp(derived, role) != 0) T_FAIL("%s: role %s, expected %s", name, derived, role);
        if (shu_i(r, TR_F_INO, 0) == 0) T_FAIL("%s: no fingerprint", name);
        rd += r1;
        wr += w1;
    }
    if (bytes >= 0 && (role[0] == 'i' ? rd : wr) != bytes)
        T_FAIL("%s: %lld bytes, expected %lld", name, (long long)(role[0] == 'i' ? rd : wr),
               (long long)bytes);
}

static void test_conformance_records(void)
{
    shu_recs rs = {0};
    fresh(&rs);
    T_EQ_INT(SHU_RUN(NULL, NULL, NULL, (char *)conform(), "setup", work), 0);
    char *out = NULL;
    T_EQ_INT(SHU_RUN(SHIM_ENV(), &out, NULL, (char *)conform(), "all", work), 0);
    T_CHECK(out && strstr(out, "all done"));
    free(out);
    shu_load(&rs, spool);

    static const char *inputs[] = {"in_common.txt",
                                   "fork_in.txt",
                                   "vfork_in.txt",
                                   "spawn_in.txt",
                                   "sys_in.txt",
                                   "popen_in.txt",
                                   "envi_in.txt",
                                   "envi2_in.txt",
                                   "stdio_in.txt",
                                   "sub/at_in.txt",
                                   "fort_in.txt",
                                   "fort_at_in.txt",
                                   NULL};
    for (int i = 0; inputs[i]; i++)
        expect_file(&rs, inputs[i], "input", -1);
    expect_file(&rs, "rel_in.txt", "input", 35); /* opened as ../rel_in.txt from sub/ */
    expect_file(&rs, "cr_in.txt", "input", 5);   /* closed by close_range */
    expect_file(&rs, "cr_a.out", "output", 2);
    expect_file(&rs, "cr_b.out", "output", 3);
    expect_file(&rs, "cr_c.out", "output", 1);
    expect_file(&rs, "sub/at_out.txt", "output", 3); /* openat with a dirfd */
    expect_file(&rs, "stdio_out.txt", "output", 21);
    expect_file(&rs, "stdio_a.txt", "output", 0); /* created, then the stream was reopened */
    expect_file(&rs, "stdio_b.txt", "output", 9);
    expect_file(&rs, "fork2_out.txt", "output", 13);
    expect_file(&rs, "model.tmp", "output", 11);
    expect_file(&rs, "tmpfile_named.txt", "output", 8); /* O_TMPFILE, named by linkat */
    for (int i = 0; i < 4; i++) {
        char n[32];
        snprintf(n, sizeof n, "thread_%d.out", i);
        expect_file(&rs, n, "output", 9);
    }
    static const char *by_children[] = {
        "vfork_out.txt", "spawn_out.txt", "sys_out.txt", "envi_out.txt",
        "envi2_out.txt", "popen_out.txt", NULL};
    for (int i = 0; by_children[i]; i++)
        expect_file(&rs, by_children[i], "output", 35);

    /* one description, five fds (dup, F_DUPFD_CLOEXEC, dup2, dup3): one record, all bytes */
    T_EQ_INT(shu_count(&rs, TR_REC_FILE, wpath("dup_out.txt")), 1);
    expect_file(&rs, "dup_out.txt", "output", 20);
    const shu_rec *m = shu_find(&rs, TR_REC_FILE, wpath("mmap_in.bin"), 0);
    T_CHECK(m && shu_i(m, TR_F_MMAP, 0) == 1);

    /* written through stdio by a forked child that returned through exit(): the size at close
     * is the flushed one */
    const shu_rec *f = shu_find(&rs, TR_REC_FILE, wpath("fork_out.txt"), 0);
    T_ASSERT(f != NULL);
    T_CHECK(shu_i(f, TR_F_BYTES_WRITTEN, 0) > 0);
    T_EQ_INT(shu_i(f, TR_F_SIZE, -1), shu_i(f, TR_F_BYTES_WRITTEN, 0));
    const shu_rec *fs = start_of(&rs, f);
    T_CHECK(fs && !strcmp(shu_s(fs, TR_F_KIND), "fork"));

    /* children exec'd with an emptied environment still recorded, with their own exe */
    const shu_rec *e = writer(&rs, "envi_out.txt");
    const shu_rec *es = e ? start_of(&rs, e) : NULL;
    T_CHECK(es && shu_ends(shu_s(es, TR_F_EXE), "/cp"));
    const shu_rec *v = writer(&rs, "vfork_out.txt");
    const shu_rec *vs = v ? start_of(&rs, v) : NULL;
    T_CHECK(vs && shu_ends(shu_s(vs, TR_F_EXE), "/cat") && !strcmp(shu_s(vs, TR_F_KIND), "start"));

    /* file operations */
    int renamed = 0, linked = 0, symlinked = 0, unlinked = 0, truncated = 0;
    for (size_t i = 0; i < rs.n; i++) {
        const shu_rec *r = &rs.v[i];
        if (r->r.type != TR_REC_FILEOP) continue;
        const char *op = shu_s(r, TR_F_OP), *p = shu_s(r, TR_F_PATH), *p2 = shu_s(r, TR_F_PATH2);
        if (!strcmp(op, "rename") && !strcmp(p, wpath("model.tmp")) &&
            !strcmp(p2, wpath("model.bin")) && shu_i(r, TR_F_SIZE, -1) == 11)
            renamed = 1;
        linked |= !strcmp(op, "link") && !strcmp(p2, wpath("model.link"));
        symlinked |= !strcmp(op, "symlink") && !strcmp(p2, wpath("model.sym")) &&
                     !strcmp(p, wpath("model.bin"));
        unlinked |= !strcmp(op, "unlink") && !strcmp(p, wpath("model.link"));
        truncated |= !strcmp(op, "truncate") && !strcmp(p, wpath("trunc.txt")) &&
                     shu_i(r, TR_F_SIZE, -1) == 2;
    }
    T_CHECK(renamed && linked && symlinked && unlinked && truncated);

    /* processes: every image that started also ended; dependencies; nothing from /proc, /dev
     * or the spool itself; no crash (the program's own SIGSEGV handler recovered) */
    int starts = 0;
    for (size_t i = 0; i < rs.n; i++) {
        const shu_rec *r = &rs.v[i];
        if (r->r.type == TR_REC_PROC_START && shu_s(r, TR_F_NOTE)[0] == 0) {
            starts++;
            int ended = 0;
            for (size_t j = 0; j < rs.n; j++)
                ended |= rs.v[j].r.type == TR_REC_PROC_END &&
                         shu_i(&rs.v[j], TR_F_PID, -2) == shu_i(r, TR_F_PID, -1);
            if (!ended)
                T_FAIL("pid %lld (%s) has no PROC_END", (long long)shu_i(r, TR_F_PID, 0),
                       shu_s(r, TR_F_EXE));
        }
        if (r->r.type == TR_REC_FILE) {
            const char *p = shu_s(r, TR_F_PATH);
            if (!strncmp(p, "/proc", 5) || !strncmp(p, "/dev", 4) ||
                !strncmp(p, spool, strlen(spool)))
                T_FAIL("recorded %s", p);
        }
    }
    T_CHECK(starts >= 12);
    int exec_ends = 0; /* the forked child that exec'd cp: its first image ended by exec */
    for (size_t i = 0; i < rs.n; i++)
        exec_ends +=
            rs.v[i].r.type == TR_REC_PROC_END && !strcmp(shu_s(&rs.v[i], TR_F_KIND), "exec");
    T_CHECK(exec_ends >= 1);
    T_EQ_INT(shu_count(&rs, TR_REC_CRASH, NULL), 0);
    T_CHECK(shu_find(&rs, TR_REC_DEP, "/libc.so.6", 0) != NULL);
    T_CHECK(shu_find(&rs, TR_REC_DEP, "/conform", 0) != NULL);
    T_EQ_INT(shu_count(&rs, TR_REC_DEP, "/libtrail_preload.so"), 0);
    T_EQ_INT(shu_count(&rs, TR_REC_FILE, "no/such/file"), 0); /* failed opens are not inputs */
    shu_free(&rs);
}

/* A bare run and a run under the shim print the same observations. */
static void same_output(const char *what, char *const argv[])
{
    char *bare = NULL, *shim = NULL;
    int a = shu_run(argv, NULL, &bare, NULL);
    int b = shu_run(argv, SHIM_ENV(), &shim, NULL);
    T_EQ_INT(a, b);
    if (!bare || !shim || strcmp(bare, shim) != 0)
        T_FAIL("%s differs under the shim:\n--- bare\n%s--- shim\n%s", what, bare, shim);
    free(bare);
    free(shim);
}

static void test_never_harm_observations(void)
{
    char in[4200];
    snprintf(in, sizeof in, "%s/probe_in.txt", work);
    FILE *f = fopen(in, "w");
    fputs("probe input\n", f);
    fclose(f);
    T_ASSERT(chdir(work) == 0);
    same_output("errno and return values", (char *const[]){(char *)probe(), "errno", NULL});
    same_output("visible descriptors", (char *const[]){(char *)probe(), "fds", NULL});
    same_output("threads", (char *const[]){(char *)probe(), "threads", NULL});
    same_output("signal dispositions", (char *const[]){(char *)probe(), "sigview", NULL});
    char *out = NULL;
    T_EQ_INT(SHU_RUN(SHIM_ENV(), &out, NULL, (char *)probe(), "threads"), 0);
    T_EQ_STR(out, "threads 1\n"); /* no thread of ours */
    free(out);
    /* no heap growth per event, also across segment rolls (64 KiB segments) */
    T_EQ_INT(SHU_RUN(SHIM_ENV("TRAIL_SEGMENT_SIZE=65536", ), &out, NULL, (char *)probe(), "heap",
                     "3000"),
             0);
    T_EQ_STR(out, "heap in-use growth 0 arena growth 0\n");
    free(out);
    /* more open descriptions than the table holds: the program is unaffected, the shim says
     * how many events it could not record */
    shu_recs rs = {0};
    fresh(&rs);
    T_EQ_INT(SHU_RUN(SHIM_ENV(), &out, NULL, (char *)probe(), "many", "5000"), 0);
    T_CHECK(out && strstr(out, "many: "));
    if (out && strstr(out, "open at once")) {
        shu_load(&rs, spool);
        int files = shu_count(&rs, TR_REC_FILE, wpath("probe_in.txt"));
        T_CHECK(files >= 4000 && files <= 4096);
        const shu_rec *end = shu_find(&rs, TR_REC_PROC_END, NULL, 0);
        T_CHECK(end && strstr(shu_s(end, TR_F_NOTE), "not recorded"));
    }
    free(out);
    shu_free(&rs);
    /* signal handlers doing file I/O, threads and forks at the same time: no deadlock */
    T_EQ_INT(SHU_RUN(SHIM_ENV(), &out, NULL, (char *)probe(), "stress"), 0);
    T_CHECK(out && strstr(out, "stress ok"));
    free(out);
    T_ASSERT(chdir("/") == 0);
}

static void test_disabled(void)
{
    shu_recs rs = {0};
    fresh(&rs);
    T_EQ_INT(SHU_RUN(SHIM_ENV("TRAIL_DISABLE=1", ), NULL, NULL, (char *)conform(), "all", work), 0);
    T_CHECK(!shu_dir_contains(spool, "TRLSEG"));
    /* outside `trail run` (no run id): nothing either */
    T_EQ_INT(SHU_RUN(((char *const[]){env_preload, "-TRAIL_RUN_ID", env_spool, NULL}), NULL, NULL,
                     (char *)conform(), "all", work),
             0);
    T_CHECK(!shu_dir_contains(spool, "TRLSEG"));
}

static void test_env_repair_and_redaction(void)
{
    shu_recs rs = {0};
    fresh(&rs);
    char *out = NULL;
    /* the program execs a child with an environment of its own making */
    T_EQ_INT(SHU_RUN(SHIM_ENV(), &out, NULL, (char *)probe(), "exec", (char *)probe(), "env"), 0);
    char want[4300];
    snprintf(want, sizeof want, "%s\n", env_preload);
    T_CHECK(out && strstr(out, want) && strstr(out, "TRAIL_RUN_ID=" SHU_RUN_ID "\n") &&
            strstr(out, env_spool) && !strstr(out, "HANDOFF"));
    free(out);
    shu_load(&rs, spool);
    int kept = 0;
    for (size_t i = 0; i < rs.n; i++)
        kept |= rs.v[i].r.type == TR_REC_ENV && !strcmp(shu_s(&rs.v[i], TR_F_KEY), "KEPT_VAR") &&
                !strcmp(shu_s(&rs.v[i], TR_F_VALUE), "1");
    T_CHECK(kept); /* the child's environment differs from its parent's: recorded */

    fresh(&rs);
    T_EQ_INT(SHU_RUN(SHIM_ENV("MY_API_TOKEN=s3cr3t-value-123", "PLAIN_VAR=visible-value",
                              "CUSTOMTHING=zzz-custom-zzz", "TRAIL_REDACT=customthing", ),
                     NULL, NULL, "sh", "-c", "export CHANGED=1; exec true"),
             0);
    shu_load(&rs, spool);
    int redacted = 0, custom = 0, plain = 0;
    for (size_t i = 0; i < rs.n; i++) {
        const shu_rec *r = &rs.v[i];
        if (r->r.type != TR_REC_ENV) continue;
        const char *k = shu_s(r, TR_F_KEY);
        if (!strcmp(k, "MY_API_TOKEN"))
            redacted = shu_i(r, TR_F_REDACTED, 0) == 1 &&
                       tr_rec_get_str(&r->r, TR_F_VALUE, &(const char *){0}, &(size_t){0}) != 0;
        if (!strcmp(k, "CUSTOMTHING")) custom = shu_i(r, TR_F_REDACTED, 0) == 1;
        if (!strcmp(k, "PLAIN_VAR")) plain = !strcmp(shu_s(r, TR_F_VALUE), "visible-value");
    }
    T_CHECK(redacted && custom && plain);
    T_CHECK(!shu_dir_contains(spool, "s3cr3t-value-123"));
    T_CHECK(!shu_dir_contains(spool, "zzz-custom-zzz"));
    shu_free(&rs);
}

static void test_static_and_crash(void)
{
    shu_recs rs = {0};
    fresh(&rs);
    const char *st = tproc_test_bin("static_prog");
    T_EQ_INT(SHU_RUN(SHIM_ENV(), NULL, NULL, (char *)conform(), "exec-static", work, (char *)st),
             0);
    shu_load(&rs, spool);
    int spawned = 0, execd = 0;
    for (size_t i = 0; i < rs.n; i++) {
        const shu_rec *r = &rs.v[i];
        if (r->r.type != TR_REC_PROC_START || !strstr(shu_s(r, TR_F_NOTE), "static binary"))
            continue;
        T_EQ_STR(shu_s(r, TR_F_EXE), st);
        spawned |= !strcmp(shu_s(r, TR_F_KIND), "start");
        execd |= !strcmp(shu_s(r, TR_F_KIND), "exec");
    }
    T_CHECK(spawned && execd);

    fresh(&rs);
    T_EQ_INT(SHU_RUN(SHIM_ENV(), NULL, NULL, (char *)conform(), "crash", work), 128 + SIGSEGV);
    shu_load(&rs, spool);
    const shu_rec *c = NULL;
    for (size_t i = 0; i < rs.n; i++)
        if (rs.v[i].r.type == TR_REC_CRASH && shu_s(&rs.v[i], TR_F_BACKTRACE)[0]) c = &rs.v[i];
    T_ASSERT(c != NULL);
    T_EQ_INT(shu_i(c, TR_F_SIGNAL, 0), SIGSEGV);
    const char *bt = shu_s(c, TR_F_BACKTRACE);
    T_CHECK(strstr(bt, "#0 ") && strstr(bt, " in crash_here+") && strstr(bt, " in main+"));
    T_CHECK(!strstr(bt, "shim_"));
    const shu_rec *end = shu_find(&rs, TR_REC_PROC_END, NULL, 0);
    T_CHECK(end && shu_i(end, TR_F_SIGNAL, 0) == SIGSEGV &&
            !strcmp(shu_s(end, TR_F_KIND), "signal"));
    expect_file(&rs, "crash_partial.txt", "output", 25);
    shu_free(&rs);
}

/* Python's faulthandler (a program SIGSEGV handler) survives subprocess (whose vfork child
 * resets handlers in memory it shares with the parent), runs on a crash, and the crash is
 * still recorded after it re-raises. */
static void test_python_faulthandler(void)
{
    shu_recs rs = {0};
    fresh(&rs);
    char script[4200];
    snprintf(script, sizeof script, "%s", wpath("fh.py"));
    FILE *f = fopen(script, "w");
    fputs("import ctypes, faulthandler, subprocess\n"
          "libc = ctypes.CDLL(None)\n"
          "def handler():\n"
          "    buf = ctypes.create_string_buffer(256)\n"
          "    libc.sigaction(11, None, buf)\n"
          "    return ctypes.c_void_p.from_buffer(buf).value\n"
          "faulthandler.enable()\n"
          "before = handler()\n"
          "subprocess.run(['true'])\n"
          "print('kept', before is not None and handler() == before, flush=True)\n"
          "ctypes.string_at(0)\n",
          f);
    fclose(f);
    char *out = NULL, *err = NULL;
    T_EQ_INT(SHU_RUN(SHIM_ENV(), &out, &err, "/usr/bin/python3", script), 128 + SIGSEGV);
    T_EQ_STR(out, "kept True\n");
    T_CHECK(err && strstr(err, "Fatal Python error: Segmentation fault"));
    free(out);
    free(err);
    shu_load(&rs, spool);
    T_CHECK(shu_count(&rs, TR_REC_CRASH, NULL) >= 1);
    int dlopened = 0; /* ctypes' extension module arrives through dlopen after start */
    for (size_t i = 0; i < rs.n; i++)
        dlopened |= rs.v[i].r.type == TR_REC_DEP && strstr(shu_s(&rs.v[i], TR_F_PATH), "_ctypes") &&
                    !strcmp(shu_s(&rs.v[i], TR_F_KIND), "dlopen");
    T_CHECK(dlopened);
    shu_free(&rs);
}

static void test_early_calls_and_raw_forks(void)
{
    shu_recs rs = {0};
    fresh(&rs);
    char pre[8400], early[4300], file[4200];
    const char *lib = getenv("TRAIL_BUILD");
    snprintf(pre, sizeof pre, "LD_PRELOAD=%s/tests/libshim_early.so:%s", lib ? lib : "build",
             shu_preload());
    snprintf(file, sizeof file, "%s", wpath("early.txt"));
    snprintf(early, sizeof early, "EARLY_FILE=%s", file);
    FILE *f = fopen(file, "w");
    fputs("read by another library's constructor\n", f);
    fclose(f);
    char *out = NULL;
    T_EQ_INT(SHU_RUN(((char *const[]){pre, "TRAIL_RUN_ID=" SHU_RUN_ID, env_spool, early, NULL}),
                     &out, NULL, (char *)probe(), "threads"),
             0);
    T_EQ_STR(out, "threads 1\n");
    free(out);
    shu_load(&rs, spool);
    expect_file(&rs, "early.txt", "input", -1);
    const shu_rec *s = shu_find(&rs, TR_REC_PROC_START, NULL, 0);
    T_CHECK(s && shu_ends(shu_s(s, TR_F_EXE), "/probe"));

    fresh(&rs);
    T_ASSERT(chdir(work) == 0);
    T_EQ_INT(SHU_RUN(SHIM_ENV(), &out, NULL, (char *)probe(), "rawfork"), 0);
    T_EQ_STR(out, "rawfork child 0\n");
    free(out);
    T_ASSERT(chdir("/") == 0);
    shu_load(&rs, spool);
    const shu_rec *r = shu_find(&rs, TR_REC_FILE, wpath("rawfork_out.txt"), 0);
    T_ASSERT(r != NULL);
    const shu_rec *rs_start = start_of(&rs, r);
    T_CHECK(rs_start && !strcmp(shu_s(rs_start, TR_F_KIND), "fork"));
    shu_free(&rs);
}

static void test_paths_and_exclusions(void)
{
    shu_recs rs = {0};
    fresh(&rs);
    char deep[1024] = "", script[8192];
    snprintf(deep, sizeof deep, "%s/", work);
    for (int i = 0; i < 12; i++)
        strcat(deep, "a_rather_long_directory_name_/");
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", deep);
    T_ASSERT(system(cmd) == 0);
    snprintf(script, sizeof script,
             "cat /proc/self/status > /dev/null; cat /etc/hostname > '%s/x.txt';"
             "echo deep > '%sdeep.txt'; cd '%s' && cat ./x.txt ../%s/x.txt > /dev/null",
             work, deep, deep, strrchr(work, '/') + 1);
    T_EQ_INT(SHU_RUN(SHIM_ENV("TRAIL_CAPTURE_EXCLUDE=/etc", ), NULL, NULL, "sh", "-c", script), 1);
    shu_load(&rs, spool);
    char deepfile[4200];
    snprintf(deepfile, sizeof deepfile, "%sdeep.txt", deep);
    T_CHECK(shu_find(&rs, TR_REC_FILE, deepfile, 0) != NULL); /* longer than the inline slot */
    T_CHECK(shu_find(&rs, TR_REC_FILE, wpath("x.txt"), 0) != NULL);
    T_EQ_INT(shu_count(&rs, TR_REC_FILE, "/etc/hostname"), 0);
    T_EQ_INT(shu_count(&rs, TR_REC_FILE, "/proc/self/status"), 0);
    T_EQ_INT(shu_count(&rs, TR_REC_FILE, "/dev/null"), 0);
    shu_free(&rs);
}

int main(void)
{
    tproc_sandbox(); /* no store is used: records are read from the spool */
    work = shu_mkdtemp("work");
    spool = shu_mkdtemp("spool");
    snprintf(env_preload, sizeof env_preload, "LD_PRELOAD=%s", shu_preload());
    snprintf(env_spool, sizeof env_spool, "TRAIL_SPOOL=%s", spool);
    T_RUN(test_conformance_records);
    T_RUN(test_never_harm_observations);
    T_RUN(test_disabled);
    T_RUN(test_env_repair_and_redaction);
    T_RUN(test_static_and_crash);
    T_RUN(test_python_faulthandler);
    T_RUN(test_early_calls_and_raw_forks);
    T_RUN(test_paths_and_exclusions);
    if (!tassert_failures) {
        shu_rm_rf(work);
        shu_rm_rf(spool);
    }
    free(work);
    free(spool);
    return T_DONE();
}
