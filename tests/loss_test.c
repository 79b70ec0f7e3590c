/* loss_test.c - no silent loss: a full spool disk, start and end records, retired segments. */
#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "client.h"
#include "record.h"
#include "spool.h"
#include "store_sql.h"
#include "tassert.h"
#include "tproc.h"
#include "trail.h"

static char sandbox[256], mnt[300], self[4096];

/* A small tmpfs as the spool's file system (needs root); 0 when it could not be mounted. */
static int mount_small(const char *size)
{
    char opt[64];
    snprintf(opt, sizeof opt, "size=%s,mode=0700", size);
    if (mkdir(mnt, 0700) != 0 && errno != EEXIST) return 0;
    return mount("tmpfs", mnt, "tmpfs", 0, opt) == 0;
}

static void unmount_small(void)
{
    umount2(mnt, MNT_DETACH);
}

/* The child: N metrics through the SDK, results ignored, like a training loop would. */
static int child(int n)
{
    for (int i = 0; i < n; i++)
        trail_log_metric("m", i * 0.5, i);
    return 0;
}

static cJSON *show_json(const char *store, const char *run)
{
    char *out = NULL;
    int st = tproc_run((char *const[]){(char *)tproc_bin("trail"), "show", (char *)run, "--store",
                                       (char *)store, "--json", NULL},
                       &out, NULL);
    cJSON *doc = st == 0 ? cJSON_Parse(out) : NULL;
    if (!doc) T_FAIL("trail show %s: exit %d: %.300s", run, st, out ? out : "");
    free(out);
    return doc;
}

static long long sql_count(const char *store, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    long long n = -1;
    if (sqlite3_open_v2(store, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) return -1;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
}

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* issue 10.4: 200 000 metrics into a 2 MiB spool. The program runs to its end, trail run says
 * how many records were dropped, the run is stored with its start, its end and the count, and
 * every metric is either stored or counted. */
static void test_full_spool_disk(void)
{
    if (!mount_small("2m")) T_SKIP("cannot mount a tmpfs (needs root): %s", strerror(errno));
    char store[400];
    snprintf(store, sizeof store, "%s/full.db", sandbox);
    setenv("TRAIL_SPOOL_ROOT", mnt, 1);
    char *err = NULL;
    int st = tproc_run((char *const[]){(char *)tproc_bin("trail"), "run", "--store", store,
                                       "--name", "full-disk", "--", self, "child", "200000", NULL},
                       NULL, &err);
    unsetenv("TRAIL_SPOOL_ROOT");
    T_EQ_INT(st, 0);
    const char *line = err ? strstr(err, "record(s) of this run were dropped") : NULL;
    if (!line) T_FAIL("trail run did not say what it dropped: %.500s", err ? err : "");
    cJSON *run = show_json(store, "full-disk");
    double dropped = cJSON_IsNumber(get(run, "dropped")) ? get(run, "dropped")->valuedouble : -1;
    T_CHECK(dropped > 0);
    if (line) { /* the count trail run printed is the stored one */
        const char *p = line;
        while (p > err && p[-1] != '\n')
            p--;
        T_CHECK(strstr(p, "trail: ") == p);
        T_EQ_INT(strtoll(p + 7, NULL, 10), (long long)dropped);
    }
    T_EQ_STR(cJSON_GetStringValue(get(run, "status")), "finished");
    T_CHECK(cJSON_GetStringValue(get(run, "started_at")) != NULL);
    T_CHECK(cJSON_GetStringValue(get(run, "ended_at")) != NULL);
    T_CHECK(cJSON_GetArraySize(get(run, "argv")) == 3);
    /* the root process has its start and its end */
    const cJSON *p, *root = NULL;
    cJSON_ArrayForEach(p, get(run, "processes")) if (!root) root = p;
    T_CHECK(root && cJSON_IsNumber(get(root, "exit_code")) &&
            get(root, "exit_code")->valueint == 0);
    /* nothing lost without a word: every metric is stored or counted */
    long long stored = sql_count(store, "SELECT count(*) FROM metrics WHERE key = 'm'");
    fprintf(stderr, "     %lld metrics stored, %.0f records dropped\n", stored, dropped);
    T_CHECK(stored > 0 && stored < 200000);
    T_CHECK(stored + (long long)dropped >= 200000);
    cJSON_Delete(run);
    /* the text form says it too */
    char *out = NULL;
    tproc_run(
        (char *const[]){(char *)tproc_bin("trail"), "show", "full-disk", "--store", store, NULL},
        &out, NULL);
    char count[32];
    snprintf(count, sizeof count, " %.0f", dropped);
    T_CHECK(out && strstr(out, "dropped") && strstr(out, count));
    free(out);
    free(err);
    unmount_small();
}

/* A process that starts when the disk is already full has no segment to count its losses in:
 * it adds them to the run's shared count, which trail run stores as its own DROPPED record. */
static void test_no_segment_at_all(void)
{
    if (!mount_small("2m")) T_SKIP("cannot mount a tmpfs (needs root): %s", strerror(errno));
    char store[400], script[6000];
    snprintf(store, sizeof store, "%s/none.db", sandbox);
    snprintf(script, sizeof script,
             "dd if=/dev/zero of=%s/fill bs=64k 2>/dev/null; %s child 1000; rc=$?; rm -f %s/fill; "
             "exit $rc",
             mnt, self, mnt);
    setenv("TRAIL_SPOOL_ROOT", mnt, 1);
    char *err = NULL;
    int st = tproc_run((char *const[]){(char *)tproc_bin("trail"), "run", "--store", store,
                                       "--name", "no-segment", "--", "sh", "-c", script, NULL},
                       NULL, &err);
    unsetenv("TRAIL_SPOOL_ROOT");
    T_EQ_INT(st, 0);
    T_CHECK(err && strstr(err, "record(s) of this run were dropped"));
    cJSON *run = show_json(store, "no-segment");
    double dropped = cJSON_IsNumber(get(run, "dropped")) ? get(run, "dropped")->valuedouble : -1;
    long long stored = sql_count(store, "SELECT count(*) FROM metrics WHERE key = 'm'");
    fprintf(stderr, "     %lld metrics stored, %.0f records dropped\n", stored, dropped);
    T_EQ_INT(stored, 0);
    T_CHECK(dropped >= 1000); /* the child's 1000 metrics and its shim's records */
    T_EQ_STR(cJSON_GetStringValue(get(run, "status")), "finished");
    cJSON_Delete(run);
    free(err);
    unmount_small();
}

/* Number of system calls of `self child n` writing into spool (a full file system). */
static long syscalls_for(const char *spool, int n)
{
    char out[600], cmd[6000];
    snprintf(out, sizeof out, "%s/strace.%d", sandbox, n);
    snprintf(cmd, sizeof cmd,
             "TRAIL_RUN_ID=0123456789abcdef0123456789abcdef TRAIL_SPOOL=%s "
             "strace -f -c -o %s %s child %d >/dev/null 2>&1",
             spool, out, self, n);
    if (system(cmd) != 0) return -1;
    FILE *f = fopen(out, "r");
    char line[256];
    long calls = -1;
    while (f && fgets(line, sizeof line, f)) {
        double pct, secs;
        long usecs, c;
        if (strstr(line, " total") && sscanf(line, "%lf %lf %ld %ld", &pct, &secs, &usecs, &c) == 4)
            calls = c;
    }
    if (f) fclose(f);
    return calls;
}

/* With the disk full, a dropped record costs no system call (issue 10.4: ~12 each). */
static void test_drops_cost_no_syscalls(void)
{
#ifdef __SANITIZE_ADDRESS__
    T_SKIP("under ASan: the sanitizer runtime makes system calls of its own");
#endif
    if (system("command -v strace >/dev/null 2>&1") != 0) T_SKIP("strace not installed");
    if (!mount_small("1m")) T_SKIP("cannot mount a tmpfs (needs root): %s", strerror(errno));
    char fill[400], spool[400], cmd[1000];
    snprintf(fill, sizeof fill, "%s/fill", mnt);
    snprintf(spool, sizeof spool, "%s/run", mnt);
    snprintf(cmd, sizeof cmd, "dd if=/dev/zero of=%s bs=64k 2>/dev/null; mkdir -p %s", fill, spool);
    T_CHECK(system(cmd) != -1);
    struct statvfs vs;
    T_ASSERT(statvfs(mnt, &vs) == 0);
    T_EQ_INT(vs.f_bavail, 0);
    long few = syscalls_for(spool, 1000), many = syscalls_for(spool, 200000);
    fprintf(stderr, "     %ld system calls for 1000 dropped metrics, %ld for 200000\n", few, many);
    T_CHECK(few > 0);
    T_CHECK(many >= 0 && many <= few + 200); /* a retry a second, not a cost per record */
    unmount_small();
}

static long mkrec(uint8_t *buf, size_t cap, uint8_t type, int64_t i, size_t pad)
{
    static char filler[8192];
    memset(filler, 'x', sizeof filler);
    tr_enc e;
    tr_enc_init(&e, buf, cap, type, 1);
    tr_enc_i64(&e, TR_F_STEP, i);
    if (pad) tr_enc_strn(&e, TR_F_VALUE, filler, pad);
    return tr_enc_finish(&e);
}

typedef struct seen {
    long by_type[32];
    int64_t dropped_count;
    int64_t last_step; /* the largest step read (segments are read in any order) */
} seen;

static int cb_seen(void *ctx, const tr_seg_info *seg, uint64_t seq, const uint8_t *body, size_t len)
{
    (void)seg;
    (void)seq;
    seen *s = ctx;
    tr_rec r;
    if (tr_rec_decode(body, len, &r) != 0) return 0;
    if (r.type < 32) s->by_type[r.type]++;
    int64_t v;
    if (r.type == TR_REC_DROPPED && tr_rec_get_i64(&r, TR_F_COUNT, &v) == 0) s->dropped_count += v;
    if (r.type == TR_REC_METRIC && tr_rec_get_i64(&r, TR_F_STEP, &v) == 0 && v > s->last_step)
        s->last_step = v;
    return 0;
}

static void drain(const char *dir, seen *s)
{
    tr_spool_reader *r;
    T_ASSERT_OK(tr_spool_reader_open(dir, &r));
    while (tr_spool_reader_poll(r, cb_seen, s, 0) > 0)
        tr_spool_reader_commit(r);
    tr_spool_reader_commit(r);
    tr_spool_reader_close(r);
}

/* The start and end of a process fit whatever else filled the spool: its segment keeps room
 * for them, and the records lost meanwhile are counted in a DROPPED record. */
static void test_start_end_reserved(void)
{
    if (!mount_small("1m")) T_SKIP("cannot mount a tmpfs (needs root): %s", strerror(errno));
    char spool[400];
    snprintf(spool, sizeof spool, "%s/run", mnt);
    setenv("TRAIL_SEGMENT_SIZE", "262144", 1);
    T_ASSERT_OK(tr_client_configure("0123456789abcdef0123456789abcdef", spool));
    uint64_t before = tr_client_dropped();
    uint8_t buf[4096];
    long n = mkrec(buf, sizeof buf, TR_REC_PROC_START, 0, 100);
    T_OK(tr_client_emit(buf, (size_t)n));
    long ok = 0, lost = 0;
    for (int i = 1; i <= 2000; i++) { /* 2000 x ~1 KiB: twice the file system */
        n = mkrec(buf, sizeof buf, TR_REC_METRIC, i, 1000);
        if (tr_client_emit(buf, (size_t)n) == 0)
            ok++;
        else
            lost++;
    }
    T_CHECK(ok > 0 && lost > 0);
    T_EQ_INT(tr_client_dropped() - before, lost);
    n = mkrec(buf, sizeof buf, TR_REC_PROC_END, 0, 100);
    T_OK(tr_client_emit(buf, (size_t)n)); /* the end has its room */
    tr_client_shutdown();                 /* and the count of what was lost goes in too */
    seen s = {0};
    drain(spool, &s);
    T_EQ_INT(s.by_type[TR_REC_PROC_START], 1);
    T_EQ_INT(s.by_type[TR_REC_PROC_END], 1);
    T_EQ_INT(s.by_type[TR_REC_METRIC], ok);
    T_EQ_INT(s.dropped_count, lost);
    tr_client_reset();
    unsetenv("TRAIL_SEGMENT_SIZE");
    unmount_small();
}

/* Mappings of deleted segment files in this process (space that would never come back). */
static int deleted_mappings(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[4600];
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, ".seg (deleted)")) n++;
    if (f) fclose(f);
    return n;
}

/* A writer that moves on leaves its old segment: the agent removes it and its blocks come back,
 * so a spool that is drained while the program writes never fills up. */
static void test_retired_segments_unmapped(void)
{
    if (!mount_small("1m")) T_SKIP("cannot mount a tmpfs (needs root): %s", strerror(errno));
    char spool[400];
    snprintf(spool, sizeof spool, "%s/run", mnt);
    setenv("TRAIL_SEGMENT_SIZE", "131072", 1);
    T_ASSERT_OK(tr_client_configure("0123456789abcdef0123456789abcdef", spool));
    T_ASSERT_OK(tr_client_prepare());
    uint64_t before = tr_client_dropped();
    tr_spool_reader *r;
    T_ASSERT_OK(tr_spool_reader_open(spool, &r));
    seen s = {0};
    uint8_t buf[4096];
    long emitted = 0;
    for (int round = 0; round < 40; round++) { /* 40 x 256 KiB through a 1 MiB file system */
        for (int i = 0; i < 256; i++) {
            long n = mkrec(buf, sizeof buf, TR_REC_METRIC, emitted, 1000);
            T_OK(tr_client_emit(buf, (size_t)n));
            emitted++;
        }
        while (tr_spool_reader_poll(r, cb_seen, &s, 0) > 0)
            tr_spool_reader_commit(r);
        tr_spool_reader_commit(r);
        T_EQ_INT(deleted_mappings(), 0);
    }
    tr_client_shutdown();
    while (tr_spool_reader_poll(r, cb_seen, &s, 0) > 0)
        tr_spool_reader_commit(r);
    tr_spool_reader_close(r);
    T_EQ_INT(tr_client_dropped() - before, 0);
    T_EQ_INT(s.by_type[TR_REC_METRIC], emitted);
    T_EQ_INT(s.last_step, emitted - 1);
    tr_client_reset();
    unsetenv("TRAIL_SEGMENT_SIZE");
    unmount_small();
}

/* 0xff bytes written ahead of a live writer are not an end marker: every record before and
 * after them is read, and the damage is counted once the writer has left the segment. at: a
 * frame boundary (the writer moves to a new segment there) or inside a later frame (which
 * overwrites them). */
static void garbage_at(long at, int damaged)
{
    char spool[400];
    snprintf(spool, sizeof spool, "%s/garbage-%ld", sandbox, at);
    T_ASSERT_OK(tr_client_configure("0123456789abcdef0123456789abcdef", spool));
    uint64_t before = tr_client_dropped();
    uint8_t buf[4096];
    long n = mkrec(buf, sizeof buf, TR_REC_METRIC, 0, 200);
    T_OK(tr_client_emit(buf, (size_t)n));
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "f=$(ls %s/*.seg) && printf '\\377%%.0s' $(seq 64) | dd of=$f bs=1 seek=%ld "
             "conv=notrunc 2>/dev/null",
             spool, at);
    T_ASSERT(system(cmd) == 0);
    tr_spool_reader *r;
    T_ASSERT_OK(tr_spool_reader_open(spool, &r));
    seen s = {0};
    long emitted = 1;
    for (int i = 1; i < 400; i++) { /* well past the damage, into a second segment */
        n = mkrec(buf, sizeof buf, TR_REC_METRIC, i, 200);
        T_OK(tr_client_emit(buf, (size_t)n));
        emitted++;
        if (i % 50 == 0) {
            tr_spool_reader_poll(r, cb_seen, &s, 0);
            tr_spool_reader_commit(r);
        }
    }
    tr_client_shutdown();
    while (tr_spool_reader_poll(r, cb_seen, &s, 0) > 0)
        tr_spool_reader_commit(r);
    tr_spool_reader_commit(r);
    tr_spool_stats st;
    tr_spool_reader_stats(r, &st);
    tr_spool_reader_close(r);
    T_EQ_INT(s.by_type[TR_REC_METRIC], emitted);
    T_EQ_INT(s.last_step, emitted - 1);
    T_EQ_INT(st.corrupt, damaged);
    T_EQ_INT(tr_client_dropped() - before, 0);
    tr_client_reset();
}

/* Damaged frames are not only counted by the reader: `trail sync` stores their number with the
 * run (runs.damaged, the run document's "damaged", a `damaged` line in `trail show`). */
static void test_damaged_frames_stored(void)
{
    static const char run[] = "fedcba9876543210fedcba9876543210";
    char root[400], spool[500], store[400];
    snprintf(root, sizeof root, "%s/spool-damaged", sandbox);
    snprintf(spool, sizeof spool, "%s/%s", root, run);
    snprintf(store, sizeof store, "%s/damaged.db", sandbox);
    T_ASSERT_OK(tr_client_configure(run, spool));
    uint8_t buf[4096];
    for (int i = 0; i < 400; i++) {
        long n = mkrec(buf, sizeof buf, TR_REC_METRIC, i, 200);
        T_OK(tr_client_emit(buf, (size_t)n));
        if (i == 0) { /* 0xff ahead of the writer, where its 41st frame goes */
            char cmd[1200];
            snprintf(cmd, sizeof cmd,
                     "f=$(ls %s/*.seg) && printf '\\377%%.0s' $(seq 64) | dd of=$f bs=1 "
                     "seek=%d conv=notrunc 2>/dev/null",
                     spool, 256 + 40 * 248);
            T_ASSERT(system(cmd) == 0);
        }
    }
    tr_client_shutdown();
    tr_client_reset();
    T_EQ_INT(tproc_run((char *const[]){(char *)tproc_bin("trail"), "sync", "--spool-root", root,
                                       "--store", store, NULL},
                       NULL, NULL),
             0);
    cJSON *doc = show_json(store, run);
    T_ASSERT(doc);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(doc, "damaged");
    T_CHECK(cJSON_IsNumber(d) && d->valuedouble == 1);
    const cJSON *metrics = cJSON_GetObjectItemCaseSensitive(doc, "metrics");
    T_CHECK(cJSON_IsObject(metrics));
    cJSON_Delete(doc);
    char *out = NULL;
    T_EQ_INT(tproc_run((char *const[]){(char *)tproc_bin("trail"), "show", "--store", store,
                                       (char *)run, NULL},
                       &out, NULL),
             0);
    T_CHECK(out && strstr(out, "damaged    1 spool frames skipped"));
    free(out);
    /* a later sync counts nothing twice */
    T_EQ_INT(tproc_run((char *const[]){(char *)tproc_bin("trail"), "sync", "--spool-root", root,
                                       "--store", store, NULL},
                       NULL, NULL),
             0);
    doc = show_json(store, run);
    T_CHECK(doc && cJSON_GetObjectItemCaseSensitive(doc, "damaged")->valuedouble == 1);
    cJSON_Delete(doc);
}

/* A v7 store kept the drop total as the tag trail.dropped: migration 8 moves it into the run's
 * row (where `trail tag` cannot overwrite it) and removes the tag. The v7 store is made by the
 * released migrations 1..7 themselves. */
static void test_dropped_tag_migrates(void)
{
    static const char run[] = "abcdefabcdefabcdefabcdefabcdef12";
    static const char *const migrations[] = TR_SQL_MIGRATIONS;
    char store[400], sql[1024];
    snprintf(store, sizeof store, "%s/migrate-dropped.db", sandbox);
    sqlite3 *db;
    T_ASSERT(sqlite3_open(store, &db) == SQLITE_OK);
    char *msg = NULL;
    T_CHECK(sqlite3_exec(db, "BEGIN", NULL, NULL, &msg) == SQLITE_OK);
    for (int v = 1; v <= 7 && !msg; v++)
        sqlite3_exec(db, migrations[v - 1], NULL, NULL, &msg);
    snprintf(sql, sizeof sql,
             "INSERT INTO runs (id, name) VALUES ('%s', 'old');"
             "INSERT INTO tags VALUES ('%s', 'trail.dropped', '1234');"
             "PRAGMA application_id = 1953655857; PRAGMA user_version = 7; COMMIT;",
             run, run);
    if (!msg) sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (msg) T_FAIL("making a v7 store: %s", msg);
    sqlite3_free(msg);
    sqlite3_close(db);
    chmod(store, 0600);
    /* the next read-write open (a run into it) upgrades it */
    T_EQ_INT(tproc_run((char *const[]){(char *)tproc_bin("trail"), "run", "--store", store, "--",
                                       "true", NULL},
                       NULL, NULL),
             0);
    cJSON *doc = show_json(store, run);
    T_ASSERT(doc);
    T_CHECK(cJSON_GetObjectItemCaseSensitive(doc, "dropped")->valuedouble == 1234);
    T_CHECK(!cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "tags"),
                                              "trail.dropped"));
    cJSON_Delete(doc);
    T_EQ_INT(sql_count(store, "SELECT count(*) FROM tags WHERE key = 'trail.dropped'"), 0);
}

static void test_garbage_ahead_of_writer(void)
{
    /* frames of these records are 248 bytes, from offset 256 */
    garbage_at(256 + 40 * 248, 1);
    garbage_at(256 + 40 * 248 + 100, 0);
}

/* issue 10.8: a start record too large for a frame is cut field by field, never dropped. */
static void test_huge_start_record(void)
{
    char store[400], spool_root[400];
    snprintf(store, sizeof store, "%s/huge.db", sandbox);
    snprintf(spool_root, sizeof spool_root, "%s/spool-huge", sandbox);
    setenv("TRAIL_SPOOL_ROOT", spool_root, 1);
    static char name[100001], param[100010];
    memset(name, 'n', sizeof name - 1);
    snprintf(param, sizeof param, "big=");
    memset(param + 4, 'v', 100000);
    int argc = 9000;
    char **argv = calloc((size_t)argc + 16, sizeof *argv);
    static char args[9000][8];
    int k = 0;
    argv[k++] = (char *)tproc_bin("trail");
    argv[k++] = "run";
    argv[k++] = "--store";
    argv[k++] = store;
    argv[k++] = "--name";
    argv[k++] = name;
    argv[k++] = "--param";
    argv[k++] = param;
    argv[k++] = "--";
    argv[k++] = "/bin/true";
    for (int i = 0; i < argc; i++) {
        snprintf(args[i], sizeof args[i], "a%d", i);
        argv[k++] = args[i];
    }
    char *err = NULL;
    T_EQ_INT(tproc_run(argv, NULL, &err), 0);
    unsetenv("TRAIL_SPOOL_ROOT");
    T_CHECK(err && strstr(err, "--param big...: value cut by"));
    char *out = NULL;
    T_EQ_INT(tproc_run((char *const[]){(char *)tproc_bin("trail"), "runs", "--store", store,
                                       "--json", NULL},
                       &out, NULL),
             0);
    cJSON *runs = cJSON_Parse(out);
    T_ASSERT(cJSON_GetArraySize(runs) == 1);
    const char *id = cJSON_GetStringValue(get(cJSON_GetArrayItem(runs, 0), "id"));
    T_ASSERT(id);
    cJSON *run = show_json(store, id);
    const char *nm = cJSON_GetStringValue(get(run, "name"));
    T_CHECK(nm && strlen(nm) == 4096 && !strncmp(nm, name, 4096));
    const cJSON *av = get(run, "argv");
    T_CHECK(cJSON_GetArraySize(av) == 40);
    T_EQ_STR(cJSON_GetStringValue(cJSON_GetArrayItem(av, 0)), "/bin/true");
    T_EQ_STR(cJSON_GetStringValue(cJSON_GetArrayItem(av, 1)), "a0");
    const char *rest = cJSON_GetStringValue(cJSON_GetArrayItem(av, 39));
    T_CHECK(rest && !strncmp(rest, "a38 a39 a40", 11));
    T_CHECK(cJSON_GetStringValue(get(run, "started_at")) != NULL);
    T_EQ_STR(cJSON_GetStringValue(get(run, "status")), "finished");
    const char *pv = cJSON_GetStringValue(get(get(run, "params"), "big"));
    T_CHECK(pv && strlen(pv) > 50000 && pv[0] == 'v');
    /* the shim's start of /bin/true with its 9000 arguments is there too */
    const cJSON *p, *root = NULL;
    cJSON_ArrayForEach(p, get(run, "processes")) if (!root) root = p;
    T_CHECK(root != NULL);
    cJSON_Delete(run);
    cJSON_Delete(runs);
    free(out);
    free(err);
    free(argv);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "child")) return child(atoi(argv[2]));
    if (!realpath("/proc/self/exe", self)) return 1;
    snprintf(sandbox, sizeof sandbox, "/tmp/trail-loss-XXXXXX");
    T_ASSERT(mkdtemp(sandbox));
    snprintf(mnt, sizeof mnt, "%s/mnt", sandbox);
    unsetenv("TRAIL_RUN_ID");
    unsetenv("TRAIL_SPOOL");
    unsetenv("TRAIL_SEGMENT_SIZE");
    unsetenv("TRAIL_SPOOL_BUDGET_MB");
    T_RUN(test_start_end_reserved);
    T_RUN(test_retired_segments_unmapped);
    T_RUN(test_garbage_ahead_of_writer);
    T_RUN(test_damaged_frames_stored);
    T_RUN(test_dropped_tag_migrates);
    T_RUN(test_drops_cost_no_syscalls);
    T_RUN(test_full_spool_disk);
    T_RUN(test_no_segment_at_all);
    T_RUN(test_huge_start_record);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", sandbox);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", sandbox);
    return T_DONE();
}
