/* spool_test.c - unit tests of spool segments and the client: threads, fork, death, corruption. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "record.h"
#include "spool.h"
#include "tassert.h"
#include "trail.h"

#define RUN "0123456789abcdef0123456789abcdef"

/* ---- helpers ---- */

static void make_tmpdir(char *out, size_t n)
{
    const char *t = getenv("TMPDIR");
    if (!t || !*t) t = "/tmp";
    snprintf(out, n, "%s/trail-spool-test-XXXXXX", t);
    T_ASSERT(mkdtemp(out) != NULL);
}

static void rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d))) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
                char sub[4096];
                snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
                rm_rf(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* Entries of dir whose name ends with suffix ("" counts every entry). */
static int count_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    size_t sl = strlen(suffix);
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        size_t l = strlen(e->d_name);
        if (l >= sl && strcmp(e->d_name + l - sl, suffix) == 0) n++;
    }
    closedir(d);
    return n;
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static const char pad_chars[] = "abcdefghijklmnopqrstuvwxyz0123456789";

/* A real record: who (thread, pid...) and i identify it; pad varies the size. */
static long mkrec(uint8_t *buf, size_t cap, int64_t who, int64_t i, size_t pad)
{
    char key[2048];
    if (pad > sizeof key) pad = sizeof key;
    for (size_t k = 0; k < pad; k++)
        key[k] = pad_chars[(size_t)(i + (int64_t)k) % 36];
    tr_enc e;
    tr_enc_init(&e, buf, cap, TR_REC_METRIC, 1000 + i);
    tr_enc_i64(&e, TR_F_PID, who);
    tr_enc_i64(&e, TR_F_STEP, i);
    tr_enc_f64(&e, TR_F_NUM, (double)i * 0.5);
    tr_enc_strn(&e, TR_F_KEY, key, pad);
    return tr_enc_finish(&e);
}

/* Decodes a record made by mkrec and checks every field; 0 when intact. */
static int parse(const uint8_t *b, size_t len, int64_t *who, int64_t *i)
{
    tr_rec r;
    double num;
    const char *key;
    size_t kn;
    if (tr_rec_decode(b, len, &r) != 0 || r.type != TR_REC_METRIC || r.nfields != 4) return -1;
    if (tr_rec_get_i64(&r, TR_F_PID, who) || tr_rec_get_i64(&r, TR_F_STEP, i)) return -1;
    if (tr_rec_get_f64(&r, TR_F_NUM, &num) || num != (double)*i * 0.5) return -1;
    if (r.time_ns != 1000 + *i) return -1;
    if (tr_rec_get_str(&r, TR_F_KEY, &key, &kn)) return -1;
    for (size_t k = 0; k < kn; k++)
        if (key[k] != pad_chars[(size_t)(*i + (int64_t)k) % 36]) return -1;
    return 0;
}

static uint32_t frame_size(size_t len)
{
    return (uint32_t)((TR_FRAME_HDR + len + 7) & ~(size_t)7);
}

static void child_setup(void)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a test that died */
}

/* Waits for a child in a bounded number of steps; kills it (and fails) when it never ends. */
static int wait_child(pid_t pid, const char *what)
{
    int st = 0;
    for (long it = 0; it < 120000; it++) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) return st;
        if (w < 0 && errno != EINTR) {
            T_FAIL("%s: waitpid: %s", what, strerror(errno));
            return -1;
        }
        usleep(500);
    }
    T_FAIL("%s: child %d never finished (deadlock?)", what, (int)pid);
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

/* Polls and commits until every segment is finished and removed (writers must be done). */
static void drain(const char *dir, tr_spool_cb cb, void *ctx, tr_spool_stats *stats)
{
    tr_spool_reader *r;
    T_ASSERT_OK(tr_spool_reader_open(dir, &r));
    int done = 0;
    for (long it = 0; it < 20000 && !done; it++) {
        long n = tr_spool_reader_poll(r, cb, ctx, 0);
        if (n < 0) T_FAIL("poll: %ld", n);
        T_EQ_INT(tr_spool_reader_commit(r), 0);
        if (n == 0 && tr_spool_reader_pending(r) == 0) done = 1;
        if (n == 0 && !done) usleep(1000);
    }
    if (!done) T_FAIL("spool in %s never drained", dir);
    if (stats) tr_spool_reader_stats(r, stats);
    tr_spool_reader_close(r);
}

/* ---- (a) single writer: order, seq, rewind, commit ---- */

typedef struct item {
    uint64_t seq;
    size_t len;
    uint8_t body[1200];
    int64_t pid;
    char stream[33], run[33], path[512];
} item;

typedef struct collect {
    item *v;
    int n, cap;
    int stop_at; /* the callback refuses the record when n reaches this (-1: never) */
    int calls;
} collect;

static int cb_collect(void *ctx, const tr_seg_info *si, uint64_t seq, const uint8_t *body,
                      size_t len)
{
    collect *c = ctx;
    c->calls++;
    if (c->n == c->stop_at) return 1;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->v = realloc(c->v, (size_t)c->cap * sizeof *c->v);
        T_ASSERT(c->v);
    }
    item *it = &c->v[c->n++];
    it->seq = seq;
    it->len = len;
    memcpy(it->body, body, len < sizeof it->body ? len : sizeof it->body);
    it->pid = si->pid;
    snprintf(it->stream, sizeof it->stream, "%s", si->stream_id);
    snprintf(it->run, sizeof it->run, "%s", si->run_id);
    snprintf(it->path, sizeof it->path, "%s", si->path);
    if (!si->host || !si->host[0]) T_FAIL("segment without host");
    return 0;
}

typedef struct sent {
    uint8_t body[256];
    size_t len;
    uint64_t seq;
} sent;

/* Checks c->v[0..n) against expected records first..first+n. */
static void check_items(const collect *c, const sent *exp, int first, int n, const tr_seg *seg)
{
    T_EQ_INT(c->n, n);
    for (int k = 0; k < n && k < c->n; k++) {
        const item *it = &c->v[k];
        const sent *s = &exp[first + k];
        if (it->seq != s->seq)
            T_FAIL("record %d: seq %llu != %llu", first + k, (unsigned long long)it->seq,
                   (unsigned long long)s->seq);
        if (it->len != s->len || memcmp(it->body, s->body, s->len) != 0)
            T_FAIL("record %d: body differs", first + k);
        if (it->pid != getpid()) T_FAIL("record %d: pid %lld", first + k, (long long)it->pid);
        if (strcmp(it->stream, seg->stream_id) != 0) T_FAIL("record %d: stream", first + k);
        if (strcmp(it->run, RUN) != 0) T_FAIL("record %d: run", first + k);
        if (strcmp(it->path, seg->path) != 0) T_FAIL("record %d: path", first + k);
    }
}

static void test_single_writer(void)
{
    char dir[256];
    make_tmpdir(dir, sizeof dir);
    tr_seg seg, bad;
    T_ERR(tr_seg_create(&bad, dir, "not-a-run-id", 65536), TRAIL_EINVAL);
    T_ERR(tr_seg_create(&bad, dir, NULL, 65536), TRAIL_EINVAL);
    T_ASSERT_OK(tr_seg_create(&seg, dir, RUN, 65536));
    T_EQ_INT(count_files(dir, ""), 1);

    /* (f) the segment file: 0600, full size, named <pid>-<stream>.seg */
    struct stat st;
    T_ASSERT(stat(seg.path, &st) == 0);
    T_EQ_INT(st.st_mode & 07777, 0600);
    T_EQ_INT(st.st_size, 65536);
    char name[128];
    snprintf(name, sizeof name, "/%d-%s.seg", (int)getpid(), seg.stream_id);
    T_CHECK(strlen(seg.path) > strlen(name) &&
            strcmp(seg.path + strlen(seg.path) - strlen(name), name) == 0);
    T_EQ_INT(strlen(seg.stream_id), 32);

    static sent s[80];
    uint64_t next = TR_SEG_HDR_SIZE;
    int nsent = 0;
#define ADD(k)                                                                                     \
    do {                                                                                           \
        long _n = mkrec(s[k].body, sizeof s[k].body, 1, k, (size_t)((k)*7 % 61));                  \
        T_ASSERT(_n > 0);                                                                          \
        s[k].len = (size_t)_n;                                                                     \
        s[k].seq = next;                                                                           \
        next += frame_size(s[k].len);                                                              \
        T_OK(tr_seg_append(&seg, s[k].body, s[k].len));                                            \
        nsent = (k) + 1;                                                                           \
    } while (0)
    for (int k = 0; k < 50; k++)
        ADD(k);

    tr_spool_reader *r;
    T_ASSERT_OK(tr_spool_reader_open(dir, &r));
    collect c = {.stop_at = -1};
    T_EQ_INT(tr_spool_reader_poll(r, cb_collect, &c, 0), 50);
    check_items(&c, s, 0, 50, &seg);
    c.n = 0;
    T_EQ_INT(tr_spool_reader_poll(r, cb_collect, &c, 0), 0);
    for (int k = 50; k < 55; k++)
        ADD(k);
    T_EQ_INT(tr_spool_reader_poll(r, cb_collect, &c, 0), 5);
    check_items(&c, s, 50, 5, &seg);
    /* max limits one poll */
    for (int k = 55; k < 65; k++)
        ADD(k);
    c.n = 0;
    T_EQ_INT(tr_spool_reader_poll(r, cb_collect, &c, 3), 3);
    T_EQ_INT(tr_spool_reader_poll(r, cb_collect, &c, 0), 7);
    check_items(&c, s, 55, 10, &seg);

    /* nothing committed: the file stays; rewind delivers everything again, identically */
    T_CHECK(exists(seg.path));
    tr_spool_reader_rewind(r);
    c.n = 0;
    T_EQ_INT(tr_spool_reader_poll(r, cb_collect, &c, 0), 65);
    check_items(&c, s, 0, 65, &seg);
    T_EQ_INT(tr_spool_reader_commit(r), 0);
    T_CHECK(exists(seg.path)); /* the writer is alive and has not closed it */
    T_EQ_INT(tr_spool_reader_pending(r), 1);
    T_EQ_INT(tr_spool_reader_live_writers(r), 1);
    tr_spool_reader_rewind(r); /* back to the commit: nothing to redeliver */
    c.n = 0;
    T_EQ_INT(tr_spool_reader_poll(r, cb_collect, &c, 0), 0);

    /* a callback that refuses a record stops the poll; the record is delivered later */
    for (int k = 65; k < 70; k++)
        ADD(k);
    c.n = 0;
    c.stop_at = 2;
    T_EQ_INT(tr_spool_reader_poll(r, cb_collect, &c, 0), 2);
    c.stop_at = -1;
    T_EQ_INT(tr_spool_reader_poll(r, cb_collect, &c, 0), 3);
    check_items(&c, s, 65, 5, &seg);
    tr_spool_reader_rewind(r);
    c.n = 0;
    T_EQ_INT(tr_spool_reader_poll(r, cb_collect, &c, 0), 5);
    check_items(&c, s, 65, 5, &seg);
    T_EQ_INT(tr_spool_reader_commit(r), 0);

    /* the writer closes: the next poll finishes the segment, the commit removes it */
    T_EQ_INT(nsent, 70);
    char path[4096];
    snprintf(path, sizeof path, "%s", seg.path);
    tr_seg_close(&seg);
    T_ERR(tr_seg_append(&seg, s[0].body, s[0].len), TRAIL_ECLOSED);
    T_EQ_INT(tr_spool_reader_live_writers(r), 0);
    T_CHECK(exists(path));
    c.n = 0;
    T_EQ_INT(tr_spool_reader_poll(r, cb_collect, &c, 0), 0);
    T_CHECK(exists(path)); /* finished but not yet committed */
    T_EQ_INT(tr_spool_reader_commit(r), 0);
    T_CHECK(!exists(path));
    T_EQ_INT(tr_spool_reader_pending(r), 0);
    tr_spool_stats stats;
    tr_spool_reader_stats(r, &stats);
    T_EQ_INT(stats.records, 50 + 5 + 10 + 65 + 5 + 5);
    T_EQ_INT(stats.segments_done, 1);
    T_EQ_INT(stats.torn, 0);
    T_EQ_INT(stats.corrupt, 0);
    tr_spool_reader_close(r);
    T_EQ_INT(count_files(dir, ""), 0);
    free(c.v);
    rm_rf(dir);
#undef ADD
}

/* A full segment is finished by its END marker (or its exact end) without being closed. */
static void test_full_segment(void)
{
    static const size_t lens[] = {1000, 1080}; /* 1080: 60 frames of 1088 fill it exactly */
    for (int v = 0; v < 2; v++) {
        char dir[256];
        make_tmpdir(dir, sizeof dir);
        tr_seg seg;
        T_ASSERT_OK(tr_seg_create(&seg, dir, RUN, 65536));
        uint8_t body[2048];
        /* pad so that the record is exactly lens[v] bytes */
        long base = mkrec(body, sizeof body, 2, 0, 0);
        size_t pad = lens[v] - (size_t)base;
        int k = 0, rc;
        for (;;) {
            long n = mkrec(body, sizeof body, 2, k, pad);
            T_ASSERT(n == (long)lens[v]);
            rc = tr_seg_append(&seg, body, (size_t)n);
            if (rc) break;
            k++;
        }
        T_ERR(rc, TRAIL_ENOSPC);
        int expect = (int)((65536 - TR_SEG_HDR_SIZE) / frame_size(lens[v]));
        T_EQ_INT(k, expect);
        T_ERR(tr_seg_append(&seg, body, 16 + 8), TRAIL_ENOSPC); /* stays full */
        T_ERR(tr_seg_append(&seg, body, 15), TRAIL_ETOOBIG);
        T_ERR(tr_seg_append(&seg, body, TR_REC_MAX_SIZE + 1), TRAIL_ETOOBIG);
        tr_spool_reader *r;
        T_ASSERT_OK(tr_spool_reader_open(dir, &r));
        collect c = {.stop_at = -1};
        T_EQ_INT(tr_spool_reader_poll(r, cb_collect, &c, 0), k);
        for (int j = 0; j < c.n; j++) {
            int64_t who, i;
            T_CHECK(parse(c.v[j].body, c.v[j].len, &who, &i) == 0 && who == 2 && i == j);
        }
        T_EQ_INT(tr_spool_reader_commit(r), 0);
        T_CHECK(!exists(seg.path)); /* finished although its writer never closed it */
        tr_spool_reader_close(r);
        tr_seg_close(&seg);
        free(c.v);
        rm_rf(dir);
    }
}

/* ---- (b) many threads through the client, a concurrent reader ---- */

#define NTHR 8
#define NPER 20000

static uint8_t mt_seen[NTHR][NPER];
static long mt_bad, mt_dup, mt_emit_fail, mt_reader_stuck;
static long mt_fail_rc[32]; /* emit failures by -rc, for the diagnosis */
static int mt_done;
static tr_spool_stats mt_stats;
static const char *mt_dir;

static int cb_threads(void *ctx, const tr_seg_info *si, uint64_t seq, const uint8_t *b, size_t len)
{
    (void)ctx;
    (void)seq;
    int64_t who, i;
    if (parse(b, len, &who, &i) != 0 || who < 0 || who >= NTHR || i < 0 || i >= NPER ||
        si->pid != getpid() || strcmp(si->run_id, RUN) != 0) {
        __atomic_add_fetch(&mt_bad, 1, __ATOMIC_RELAXED);
        return 0;
    }
    if (mt_seen[who][i]) __atomic_add_fetch(&mt_dup, 1, __ATOMIC_RELAXED);
    if (mt_seen[who][i] < 255) mt_seen[who][i]++;
    return 0;
}

static void *mt_reader(void *arg)
{
    (void)arg;
    tr_spool_reader *r;
    if (tr_spool_reader_open(mt_dir, &r) != 0) {
        mt_bad++;
        return NULL;
    }
    long after_done = 0;
    for (;;) {
        int done = __atomic_load_n(&mt_done, __ATOMIC_ACQUIRE); /* read before the poll */
        long n = tr_spool_reader_poll(r, cb_threads, NULL, 0);
        if (n < 0) __atomic_add_fetch(&mt_bad, 1, __ATOMIC_RELAXED);
        tr_spool_reader_commit(r);
        if (done) {
            if (n == 0 && tr_spool_reader_pending(r) == 0) break;
            if (++after_done > 20000) {
                mt_reader_stuck = 1;
                break;
            }
        }
        if (n == 0) usleep(200);
    }
    tr_spool_reader_stats(r, &mt_stats);
    tr_spool_reader_close(r);
    return NULL;
}

static void *mt_writer(void *arg)
{
    int t = (int)(intptr_t)arg;
    uint8_t buf[256];
    for (int i = 0; i < NPER; i++) {
        long n = mkrec(buf, sizeof buf, t, i, (size_t)(i % 13));
        int rc = n > 0 ? tr_client_emit(buf, (size_t)n) : (int)n;
        if (rc != 0) {
            __atomic_add_fetch(&mt_emit_fail, 1, __ATOMIC_RELAXED);
            __atomic_add_fetch(&mt_fail_rc[-rc & 31], 1, __ATOMIC_RELAXED);
        }
    }
    return NULL;
}

static void test_threads(void)
{
    char dir[256];
    make_tmpdir(dir, sizeof dir);
    mt_dir = dir;
    T_ASSERT(setenv("TRAIL_SEGMENT_SIZE", "65536", 1) == 0);
    T_ASSERT_OK(tr_client_configure(RUN, dir));
    T_EQ_STR(tr_client_run_id(), RUN);
    T_EQ_STR(tr_client_spool_dir(), dir);
    uint64_t dropped0 = tr_client_dropped();
    pthread_t rd, wr[NTHR];
    T_ASSERT(pthread_create(&rd, NULL, mt_reader, NULL) == 0);
    for (int t = 0; t < NTHR; t++)
        T_ASSERT(pthread_create(&wr[t], NULL, mt_writer, (void *)(intptr_t)t) == 0);
    for (int t = 0; t < NTHR; t++)
        pthread_join(wr[t], NULL);
    tr_client_shutdown();
    __atomic_store_n(&mt_done, 1, __ATOMIC_RELEASE);
    pthread_join(rd, NULL);

    T_EQ_INT(mt_emit_fail, 0);
    for (int k = 0; k < 32; k++)
        if (mt_fail_rc[k]) T_FAIL("%ld emits failed with %s", mt_fail_rc[k], trail_strerror(-k));
    T_EQ_INT(tr_client_dropped() - dropped0, 0);
    T_EQ_INT(mt_bad, 0);
    T_EQ_INT(mt_dup, 0);
    T_EQ_INT(mt_reader_stuck, 0);
    long missing = 0;
    for (int t = 0; t < NTHR; t++)
        for (int i = 0; i < NPER; i++)
            if (mt_seen[t][i] != 1) missing++;
    T_EQ_INT(missing, 0);
    T_EQ_INT(mt_stats.records, (long)NTHR * NPER);
    T_EQ_INT(mt_stats.torn, 0);
    T_EQ_INT(mt_stats.corrupt, 0);
    /* about 100 bytes a frame in 64 KiB segments: well over a hundred rollovers */
    T_CHECK(mt_stats.segments_done > 100);
    fprintf(stderr, "     %ld records in %llu segments\n", (long)NTHR * NPER,
            (unsigned long long)mt_stats.segments_done);
    T_EQ_INT(count_files(dir, ".seg"), 0);
    T_EQ_INT(count_files(dir, ""), 0);
    rm_rf(dir);
}

/* ---- (c) fork without exec ---- */

#define NKIDS 4
#define KID_RECS 1000

typedef struct forkctx {
    pid_t parent;
    pid_t pids[64];
    long count[64];
    char streams[64][16][33];
    int nstreams[64];
    int npids;
    uint8_t *seen_parent; /* indexed by i for the parent's records */
    long nparent_max;
    long bad;
} forkctx;

static int cb_fork(void *ctx, const tr_seg_info *si, uint64_t seq, const uint8_t *b, size_t len)
{
    (void)seq;
    forkctx *f = ctx;
    int64_t who, i;
    if (parse(b, len, &who, &i) != 0 ||
        who != si->pid) { /* records live in their own pid's segment */
        f->bad++;
        return 0;
    }
    int k = 0;
    while (k < f->npids && f->pids[k] != (pid_t)who)
        k++;
    if (k == f->npids) {
        if (k == 64) {
            f->bad++;
            return 0;
        }
        f->pids[f->npids++] = (pid_t)who;
    }
    f->count[k]++;
    int s = 0;
    while (s < f->nstreams[k] && strcmp(f->streams[k][s], si->stream_id) != 0)
        s++;
    if (s == f->nstreams[k] && s < 16)
        snprintf(f->streams[k][f->nstreams[k]++], 33, "%s", si->stream_id);
    if ((pid_t)who == f->parent) {
        if (i < 0 || i >= f->nparent_max) {
            f->bad++;
        } else if (f->seen_parent[i] < 255) {
            f->seen_parent[i]++;
        }
    } else if (i < 0 || i >= KID_RECS) {
        f->bad++;
    }
    return 0;
}

static int emit_rec(int64_t who, int64_t i)
{
    uint8_t buf[256];
    long n = mkrec(buf, sizeof buf, who, i, (size_t)(i % 29));
    return n > 0 ? tr_client_emit(buf, (size_t)n) : (int)n;
}

static void child_emit_and_exit(int n)
{
    child_setup();
    if (!tr_client_run_id()) _exit(5);
    for (int i = 0; i < n; i++)
        if (emit_rec(getpid(), i) != 0) _exit(2);
    _exit(0);
}

/* Every stream id belongs to exactly one pid. */
static void check_streams_disjoint(const forkctx *f)
{
    for (int a = 0; a < f->npids; a++)
        for (int b = a + 1; b < f->npids; b++)
            for (int x = 0; x < f->nstreams[a]; x++)
                for (int y = 0; y < f->nstreams[b]; y++)
                    if (!strcmp(f->streams[a][x], f->streams[b][y]))
                        T_FAIL("pids %d and %d share stream %s", (int)f->pids[a], (int)f->pids[b],
                               f->streams[a][x]);
}

static void test_fork_children(void)
{
    char dir[256];
    make_tmpdir(dir, sizeof dir);
    T_ASSERT(setenv("TRAIL_SEGMENT_SIZE", "65536", 1) == 0);
    T_ASSERT_OK(tr_client_configure(RUN, dir));
    pid_t me = getpid();
    for (int i = 0; i < 100; i++)
        T_EQ_INT(emit_rec(me, i), 0);
    pid_t kids[NKIDS];
    for (int k = 0; k < NKIDS; k++) {
        kids[k] = fork();
        T_ASSERT(kids[k] >= 0);
        if (kids[k] == 0) child_emit_and_exit(KID_RECS);
    }
    for (int k = 0; k < NKIDS; k++) {
        int st = wait_child(kids[k], "fork child");
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) T_FAIL("child %d: status %#x", k, st);
    }
    /* the parent keeps writing into its own segment */
    for (int i = 100; i < 200; i++)
        T_EQ_INT(emit_rec(me, i), 0);
    tr_client_shutdown();

    static forkctx f;
    static uint8_t seen[200];
    memset(&f, 0, sizeof f);
    memset(seen, 0, sizeof seen);
    f.parent = me;
    f.seen_parent = seen;
    f.nparent_max = 200;
    tr_spool_stats st;
    drain(dir, cb_fork, &f, &st);
    T_EQ_INT(f.bad, 0);
    T_EQ_INT(f.npids, NKIDS + 1);
    for (int k = 0; k < f.npids; k++) {
        if (f.pids[k] == me) {
            T_EQ_INT(f.count[k], 200);
            T_EQ_INT(f.nstreams[k], 1); /* 200 small records: one segment, before and after */
            continue;
        }
        int known = 0;
        for (int j = 0; j < NKIDS; j++)
            known |= kids[j] == f.pids[k];
        T_CHECK(known);
        T_EQ_INT(f.count[k], KID_RECS);
        T_CHECK(f.nstreams[k] >= 2); /* 1000 records overflow one 64 KiB segment */
    }
    for (int i = 0; i < 200; i++)
        if (seen[i] != 1) T_FAIL("parent record %d seen %d times", i, seen[i]);
    check_streams_disjoint(&f);
    T_EQ_INT(st.torn, 0);
    T_EQ_INT(st.corrupt, 0);
    T_EQ_INT(count_files(dir, ""), 0);
    rm_rf(dir);
}

static int hammer_stop;
static long hammer_count, hammer_fail;

static void *hammer(void *arg)
{
    pid_t me = *(pid_t *)arg;
    long i = 0;
    while (!__atomic_load_n(&hammer_stop, __ATOMIC_ACQUIRE)) {
        if (emit_rec(me, i) != 0) hammer_fail++;
        i++;
    }
    hammer_count = i;
    return NULL;
}

/* Children forked while another thread emits (and rolls segments, holding the client lock). */
static void test_fork_while_hammering(void)
{
    enum { FORKS = 24, PER_KID = 200 };
    char dir[256];
    make_tmpdir(dir, sizeof dir);
    T_ASSERT(setenv("TRAIL_SEGMENT_SIZE", "65536", 1) == 0);
    T_ASSERT_OK(tr_client_configure(RUN, dir));
    pid_t me = getpid();
    hammer_stop = 0;
    hammer_count = hammer_fail = 0;
    pthread_t th;
    T_ASSERT(pthread_create(&th, NULL, hammer, &me) == 0);
    pid_t kids[FORKS];
    for (int k = 0; k < FORKS; k++) {
        usleep(2000 + 500 * (unsigned)k);
        kids[k] = fork();
        T_ASSERT(kids[k] >= 0);
        if (kids[k] == 0) child_emit_and_exit(PER_KID);
        int st = wait_child(kids[k], "child forked under load");
        if (st != -1 && (!WIFEXITED(st) || WEXITSTATUS(st) != 0))
            T_FAIL("child %d: status %#x", k, st);
    }
    __atomic_store_n(&hammer_stop, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    tr_client_shutdown();
    T_EQ_INT(hammer_fail, 0);
    T_CHECK(hammer_count > 0);

    static forkctx f;
    memset(&f, 0, sizeof f);
    f.parent = me;
    f.nparent_max = hammer_count;
    f.seen_parent = calloc((size_t)hammer_count + 1, 1);
    T_ASSERT(f.seen_parent);
    tr_spool_stats st;
    drain(dir, cb_fork, &f, &st);
    T_EQ_INT(f.bad, 0);
    T_EQ_INT(f.npids, FORKS + 1);
    for (int k = 0; k < f.npids; k++)
        T_EQ_INT(f.count[k], f.pids[k] == me ? hammer_count : PER_KID);
    long missing = 0;
    for (long i = 0; i < hammer_count; i++)
        missing += f.seen_parent[i] != 1;
    T_EQ_INT(missing, 0);
    check_streams_disjoint(&f);
    T_EQ_INT(st.torn, 0);
    T_EQ_INT(st.corrupt, 0);
    T_EQ_INT(count_files(dir, ".seg"), 0);
    fprintf(stderr, "     %d children, %ld parent records\n", FORKS, hammer_count);
    free(f.seen_parent);
    rm_rf(dir);
}

/* ---- (d) a writer that dies mid-append ---- */

typedef struct steps {
    uint8_t *seen;
    long cap, max, bad;
    int64_t who;
} steps;

static int cb_steps(void *ctx, const tr_seg_info *si, uint64_t seq, const uint8_t *b, size_t len)
{
    (void)si;
    (void)seq;
    steps *s = ctx;
    int64_t who, i;
    if (parse(b, len, &who, &i) != 0 || who != s->who || i < 0) {
        s->bad++;
        return 0;
    }
    if (i >= s->cap) {
        long nc = s->cap ? s->cap : 1024;
        while (nc <= i)
            nc *= 2;
        s->seen = realloc(s->seen, (size_t)nc);
        T_ASSERT(s->seen);
        memset(s->seen + s->cap, 0, (size_t)(nc - s->cap));
        s->cap = nc;
    }
    if (s->seen[i] < 255) s->seen[i]++;
    if (i > s->max) s->max = i;
    return 0;
}

/* Deterministic torn write: committed records, a reserved frame that is never committed,
 * optionally more records committed by "another thread" behind it, then death. */
static void torn_case(int after)
{
    char dir[256];
    make_tmpdir(dir, sizeof dir);
    int ready[2], go[2];
    T_ASSERT(pipe(ready) == 0 && pipe(go) == 0);
    pid_t pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0) {
        child_setup();
        close(ready[0]);
        close(go[1]);
        tr_seg seg;
        uint8_t buf[256];
        if (tr_seg_create(&seg, dir, RUN, 65536) != 0) _exit(3);
        for (int i = 0; i < 10; i++) {
            long n = mkrec(buf, sizeof buf, 5, i, 10);
            if (n <= 0 || tr_seg_append(&seg, buf, (size_t)n) != 0) _exit(4);
        }
        /* what reserve() leaves behind when the writer dies before its commit store */
        uint32_t *tailp = (uint32_t *)(void *)(seg.base + TR_SEG_OFF_TAIL);
        uint32_t t = __atomic_load_n(tailp, __ATOMIC_ACQUIRE);
        __atomic_store_n((uint32_t *)(void *)(seg.base + t), TR_FRAME_RESERVED | 64u,
                         __ATOMIC_RELEASE);
        __atomic_store_n(tailp, t + 64, __ATOMIC_RELEASE);
        memset(seg.base + t + TR_FRAME_HDR, 0x5A, 20); /* half-copied body */
        for (int i = 10; i < 10 + after; i++) {
            long n = mkrec(buf, sizeof buf, 5, i, 10);
            if (n <= 0 || tr_seg_append(&seg, buf, (size_t)n) != 0) _exit(4);
        }
        if (write(ready[1], "r", 1) != 1) _exit(6);
        char ch;
        if (read(go[0], &ch, 1) != 1) _exit(7);
        _exit(0); /* no tr_seg_close: the segment is not marked closed */
    }
    close(ready[1]);
    close(go[0]);
    char ch;
    T_ASSERT(read(ready[0], &ch, 1) == 1);

    tr_spool_reader *r;
    T_ASSERT_OK(tr_spool_reader_open(dir, &r));
    steps s = {.who = 5, .max = -1};
    /* writer alive: the reserved frame may still be committed, so the reader waits at it */
    T_EQ_INT(tr_spool_reader_poll(r, cb_steps, &s, 0), 10);
    T_EQ_INT(tr_spool_reader_poll(r, cb_steps, &s, 0), 0);
    tr_spool_stats st;
    tr_spool_reader_stats(r, &st);
    T_EQ_INT(st.torn, 0);
    T_EQ_INT(tr_spool_reader_live_writers(r), 1);
    T_EQ_INT(tr_spool_reader_commit(r), 0);
    T_EQ_INT(count_files(dir, ".seg"), 1);

    T_ASSERT(write(go[1], "g", 1) == 1);
    int wst = wait_child(pid, "torn writer");
    T_CHECK(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
    close(ready[0]);
    close(go[1]);
    /* writer gone: the torn frame is skipped and counted, the segment finishes in one poll */
    T_EQ_INT(tr_spool_reader_live_writers(r), 0);
    /* a failed batch reads it all again (rewind): the torn frame still counts once */
    steps again = {.who = 5, .max = -1};
    T_EQ_INT(tr_spool_reader_poll(r, cb_steps, &again, 0), after);
    tr_spool_reader_rewind(r);
    free(again.seen);
    T_EQ_INT(tr_spool_reader_poll(r, cb_steps, &s, 0), after);
    tr_spool_reader_stats(r, &st);
    T_EQ_INT(st.torn, 1);
    T_EQ_INT(st.corrupt, 0);
    T_EQ_INT(st.records, 10 + 2 * after); /* deliveries: the rewound ones were delivered twice */
    T_EQ_INT(tr_spool_reader_commit(r), 0);
    T_EQ_INT(tr_spool_reader_pending(r), 0);
    T_EQ_INT(count_files(dir, ""), 0);
    tr_spool_reader_stats(r, &st);
    T_EQ_INT(st.segments_done, 1);
    tr_spool_reader_close(r);
    T_EQ_INT(s.bad, 0);
    T_EQ_INT(s.max, 9 + after);
    for (long i = 0; i <= s.max; i++)
        if (s.seen[i] != 1) T_FAIL("record %ld seen %d times", i, s.seen[i]);
    free(s.seen);
    rm_rf(dir);
}

static void test_torn_write(void)
{
    torn_case(0);
    torn_case(2);
}

static void test_sigkill_writer(void)
{
    char dir[256];
    make_tmpdir(dir, sizeof dir);
    int ready[2];
    T_ASSERT(pipe(ready) == 0);
    pid_t pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0) {
        child_setup();
        close(ready[0]);
        tr_seg seg;
        uint8_t buf[256];
        if (tr_seg_create(&seg, dir, RUN, 1u << 20) != 0) _exit(3);
        for (long i = 0;;) {
            long n = mkrec(buf, sizeof buf, 6, i, (size_t)(i % 23));
            int rc = tr_seg_append(&seg, buf, (size_t)n);
            if (rc == TRAIL_ENOSPC) {
                tr_seg_close(&seg);
                if (tr_seg_create(&seg, dir, RUN, 1u << 20) != 0) _exit(3);
                continue;
            }
            if (rc) _exit(4);
            if (++i == 1000 && write(ready[1], "r", 1) != 1) _exit(6);
        }
    }
    close(ready[1]);
    char ch;
    T_ASSERT(read(ready[0], &ch, 1) == 1);
    close(ready[0]);
    usleep(50000);
    T_ASSERT(kill(pid, SIGKILL) == 0);
    int wst = wait_child(pid, "killed writer");
    T_CHECK(WIFSIGNALED(wst) && WTERMSIG(wst) == SIGKILL);

    steps s = {.who = 6, .max = -1};
    tr_spool_stats st;
    drain(dir, cb_steps, &s, &st);
    T_EQ_INT(s.bad, 0);
    T_CHECK(s.max >= 999);
    long wrong = 0;
    for (long i = 0; i <= s.max; i++)
        wrong += s.seen[i] != 1;
    T_EQ_INT(wrong, 0); /* 0..k-1, each once: nothing committed was lost */
    T_CHECK(st.torn <= 1);
    T_EQ_INT(st.corrupt, 0);
    T_EQ_INT((long)st.records, s.max + 1);
    T_EQ_INT(count_files(dir, ".seg"), 0);
    fprintf(stderr, "     killed after %ld records in %llu segments (torn %llu)\n", s.max + 1,
            (unsigned long long)st.segments_done, (unsigned long long)st.torn);
    free(s.seen);
    rm_rf(dir); /* may hold a .tmp of a segment being created at the kill */
}

/* ---- the run's slab: first segments in slots of one file ---- */

/* Processes of a run with a slab: each one's first segment is a slot (no file of its own), a
 * process that outgrows its slot goes on in files, and once everything is stored the slots are
 * free again and, nothing else pending, the slab is retired and removed. */
static void test_slab_children(void)
{
    char dir[256];
    make_tmpdir(dir, sizeof dir);
    T_ASSERT(setenv("TRAIL_SEGMENT_SIZE", "65536", 1) == 0);
    T_ASSERT_OK(tr_slab_create(dir, RUN, 8, TR_SLAB_SLOT_CAP));
    T_ASSERT_OK(tr_client_configure(RUN, dir));
    pid_t me = getpid();
    for (int i = 0; i < 20; i++)
        T_EQ_INT(emit_rec(me, i), 0);
    T_EQ_INT(count_files(dir, ".seg"), 0); /* the parent's first segment is a slot */
    pid_t kids[NKIDS];
    for (int k = 0; k < NKIDS; k++) {
        kids[k] = fork();
        T_ASSERT(kids[k] >= 0);
        if (kids[k] == 0) child_emit_and_exit(k == 0 ? KID_RECS : 30); /* kid 0 outgrows it */
    }
    for (int k = 0; k < NKIDS; k++) {
        int st = wait_child(kids[k], "slab child");
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) T_FAIL("child %d: status %#x", k, st);
    }
    T_CHECK(count_files(dir, ".seg") >= 1); /* kid 0's later segments: files */
    for (int i = 20; i < 200; i++)
        T_EQ_INT(emit_rec(me, i), 0);
    tr_client_shutdown();

    static forkctx f;
    static uint8_t seen[200];
    memset(&f, 0, sizeof f);
    memset(seen, 0, sizeof seen);
    f.parent = me;
    f.seen_parent = seen;
    f.nparent_max = 200;
    tr_spool_stats st;
    drain(dir, cb_fork, &f, &st);
    T_EQ_INT(f.bad, 0);
    T_EQ_INT(f.npids, NKIDS + 1);
    for (int k = 0; k < f.npids; k++) {
        if (f.pids[k] == me) {
            T_EQ_INT(f.count[k], 200);
            T_EQ_INT(f.nstreams[k], 2); /* 200 records: its slot, then a file */
            continue;
        }
        T_EQ_INT(f.count[k], f.pids[k] == kids[0] ? KID_RECS : 30);
        if (f.pids[k] != kids[0]) T_EQ_INT(f.nstreams[k], 1); /* its slot only */
    }
    for (int i = 0; i < 200; i++)
        if (seen[i] != 1) T_FAIL("parent record %d seen %d times", i, seen[i]);
    check_streams_disjoint(&f);
    T_EQ_INT(st.torn, 0);
    T_EQ_INT(st.corrupt, 0);
    T_EQ_INT(count_files(dir, ""), 0); /* the slab too: retired and removed */
    rm_rf(dir);
}

/* Slots are freed once their records are stored and taken again; a full slab makes files; a
 * writer killed in its slot is read to its last committed record and its slot freed, as is a
 * slot whose claimer died before writing its header; a retired slab takes no claim. */
static void test_slab_reuse_and_death(void)
{
    char dir[256];
    make_tmpdir(dir, sizeof dir);
    T_ASSERT_OK(tr_slab_create(dir, RUN, 2, 8192));
    tr_slab slab;
    T_ASSERT_OK(tr_slab_map(&slab, dir, RUN));
    T_EQ_INT(tr_slab_map(&(tr_slab){0}, dir, "fedcba9876543210fedcba9876543210"),
             TRAIL_ENOTFOUND); /* another run's */
    tr_spool_reader *r;
    T_ASSERT_OK(tr_spool_reader_open(dir, &r));
    uint8_t buf[256];
    steps s = {.who = 7, .max = -1};
    long next = 0;
    for (int round = 0; round < 5; round++) { /* 5 writers through 2 slots */
        tr_seg a, b, c;
        T_ASSERT_OK(tr_seg_claim(&a, &slab, RUN));
        T_ASSERT_OK(tr_seg_claim(&b, &slab, RUN));
        T_ERR(tr_seg_claim(&c, &slab, RUN), TRAIL_ENOSPC); /* full: the caller makes a file */
        for (int k = 0; k < 10; k++, next++) {
            long n = mkrec(buf, sizeof buf, 7, next, (size_t)(next % 23));
            T_EQ_INT(tr_seg_append(k & 1 ? &b : &a, buf, (size_t)n), 0);
        }
        tr_seg_close(&a);
        tr_seg_close(&b);
        T_CHECK(tr_spool_reader_poll(r, cb_steps, &s, 0) == 10);
        T_EQ_INT(tr_spool_reader_commit(r), 0);
    }
    T_EQ_INT(s.bad, 0);
    T_EQ_INT(s.max, 49);
    for (long i = 0; i < 50; i++)
        if (s.seen[i] != 1) T_FAIL("record %ld seen %d times", i, s.seen[i]);

    /* killed inside its slot: nothing committed lost, the slot freed */
    int ready[2];
    T_ASSERT(pipe(ready) == 0);
    pid_t pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0) {
        child_setup();
        close(ready[0]);
        tr_seg seg;
        if (tr_seg_claim(&seg, &slab, RUN) != 0) _exit(3);
        for (long i = 100; i < 120; i++) {
            long n = mkrec(buf, sizeof buf, 7, i, 5);
            if (tr_seg_append(&seg, buf, (size_t)n) != 0) _exit(4);
        }
        if (write(ready[1], "r", 1) != 1) _exit(6);
        pause();
        _exit(0);
    }
    close(ready[1]);
    char ch;
    T_ASSERT(read(ready[0], &ch, 1) == 1);
    close(ready[0]);
    T_ASSERT(kill(pid, SIGKILL) == 0);
    wait_child(pid, "killed slot writer");
    /* a claimer that died before its header: its owner word names a pid that is gone */
    pid_t dead = fork();
    if (dead == 0) _exit(0);
    wait_child(dead, "dead claimer");
    tr_seg d;
    T_ASSERT_OK(tr_seg_claim(&d, &slab, RUN));
    memset(d.base, 0, 256); /* as if it never wrote the header */
    uint32_t slot = (uint32_t)((d.base - slab.base - TR_SLAB_HDR_SIZE) / slab.slot_size);
    __atomic_store_n((uint32_t *)(void *)(slab.base + TR_SLAB_OFF_OWNERS + 4 * slot),
                     (uint32_t)dead, __ATOMIC_SEQ_CST);
    for (int it = 0; it < 200 && s.max < 119; it++) {
        T_CHECK(tr_spool_reader_poll(r, cb_steps, &s, 0) >= 0);
        T_EQ_INT(tr_spool_reader_commit(r), 0);
    }
    T_EQ_INT(s.max, 119);
    for (long i = 100; i < 120; i++)
        if (s.seen[i] != 1) T_FAIL("record %ld seen %d times", i, s.seen[i]);
    T_EQ_INT(tr_spool_reader_pending(r), 0); /* both slots free: the slab retired, removed */
    T_CHECK(!exists(dir) || count_files(dir, TR_SLAB_NAME) == 0);
    tr_seg late;
    T_ERR(tr_seg_claim(&late, &slab, RUN), TRAIL_ENOSPC); /* a process that still maps it */
    tr_slab_unmap(&slab);
    tr_spool_reader_close(r);
    free(s.seen);
    T_EQ_INT(count_files(dir, ""), 0);
    rm_rf(dir);
}

/* ---- (e) corrupt data ---- */

static void test_bad_crc(void)
{
    char dir[256];
    make_tmpdir(dir, sizeof dir);
    tr_seg seg;
    T_ASSERT_OK(tr_seg_create(&seg, dir, RUN, 65536));
    uint8_t buf[256];
    uint32_t off[5];
    uint32_t next = TR_SEG_HDR_SIZE;
    for (int i = 0; i < 5; i++) {
        long n = mkrec(buf, sizeof buf, 3, i, 8);
        T_ASSERT(n > 0 && tr_seg_append(&seg, buf, (size_t)n) == 0);
        off[i] = next;
        next += frame_size((size_t)n);
    }
    seg.base[off[1] + TR_FRAME_HDR + 20] ^= 0x01; /* body no longer matches crc */
    tr_put_u32(seg.base + off[2] + 4, tr_get_u32(seg.base + off[2] + 4) ^ 0x80000000u); /* crc */
    tr_put_u32(seg.base + off[3] + TR_FRAME_HDR + 4, 0xFFFF); /* body_len beyond the frame */
    tr_spool_reader *r;
    T_ASSERT_OK(tr_spool_reader_open(dir, &r));
    steps s = {.who = 3, .max = -1};
    T_EQ_INT(tr_spool_reader_poll(r, cb_steps, &s, 0), 2);
    T_EQ_INT(s.max, 4);
    T_CHECK(s.seen[0] == 1 && s.seen[1] == 0 && s.seen[2] == 0 && s.seen[3] == 0 && s.seen[4] == 1);
    tr_spool_stats st;
    tr_spool_reader_stats(r, &st);
    T_EQ_INT(st.corrupt, 3);
    T_EQ_INT(st.records, 2);
    /* the frame chain is intact: later records still arrive */
    long n = mkrec(buf, sizeof buf, 3, 5, 8);
    T_ASSERT_OK(tr_seg_append(&seg, buf, (size_t)n));
    T_EQ_INT(tr_spool_reader_poll(r, cb_steps, &s, 0), 1);
    char path[4096], kept[4200];
    snprintf(path, sizeof path, "%s", seg.path);
    snprintf(kept, sizeof kept, "%s.corrupt", seg.path);
    tr_seg_close(&seg);
    T_EQ_INT(tr_spool_reader_poll(r, cb_steps, &s, 0), 0);
    T_EQ_INT(tr_spool_reader_commit(r), 0);
    T_CHECK(!exists(path)); /* skipped records do not keep the segment */
    T_CHECK(!exists(kept));
    T_EQ_INT(count_files(dir, ""), 0);
    tr_spool_reader_close(r);
    free(s.seen);
    rm_rf(dir);
}

static void write_bytes(const char *dir, const char *name, const void *data, size_t len)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    T_ASSERT(fd >= 0);
    T_ASSERT(write(fd, data, len) == (ssize_t)len);
    close(fd);
}

static void test_bad_headers(void)
{
    char dir[256];
    make_tmpdir(dir, sizeof dir);
    static uint8_t junk[65536];
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < sizeof junk; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        junk[i] = (uint8_t)x;
    }
    write_bytes(dir, "1-garbage.seg", junk, sizeof junk);
    write_bytes(dir, "2-short.seg", junk, 100);
    /* a plausible header with one defect each */
    static uint8_t h[65536];
    memset(h, 0, sizeof h);
    memcpy(h, TR_SEG_MAGIC, 8);
    tr_put_u32(h + TR_SEG_OFF_VERSION, TR_SEG_VERSION);
    tr_put_u32(h + TR_SEG_OFF_HDRSIZE, TR_SEG_HDR_SIZE);
    tr_put_u32(h + TR_SEG_OFF_CAP, 65536);
    tr_put_u64(h + TR_SEG_OFF_PID, 1);
    memcpy(h + TR_SEG_OFF_STREAM, "00112233445566778899aabbccddeeff", 32);
    memcpy(h + TR_SEG_OFF_RUN, RUN, 32);
    tr_put_u32(h + TR_SEG_OFF_TAIL, TR_SEG_HDR_SIZE);
    tr_put_u32(h + TR_SEG_OFF_FLAGS, TR_SEG_F_CLOSED);
    write_bytes(dir, "3-capsize.seg", h, 4096); /* cap says 64 KiB, file is 4 KiB */
    h[TR_SEG_OFF_STREAM + 3] = 'Z';
    write_bytes(dir, "4-streamid.seg", h, sizeof h);
    h[TR_SEG_OFF_STREAM + 3] = '3';
    tr_put_u32(h + TR_SEG_OFF_VERSION, 2);
    write_bytes(dir, "5-version.seg", h, sizeof h);
    tr_put_u32(h + TR_SEG_OFF_VERSION, TR_SEG_VERSION);
    h[0] = 'X';
    write_bytes(dir, "6-magic.seg", h, sizeof h);
    h[0] = 'T';
    write_bytes(dir, "7-good.seg", h, sizeof h); /* closed and empty: finished, removed */
    /* not closed, but no such writer can exist: finished too (a pid beyond pid_t must not
     * reach kill() as -1 or a process group) */
    tr_put_u32(h + TR_SEG_OFF_FLAGS, 0);
    tr_put_u64(h + TR_SEG_OFF_PID, 0xFFFFFFFFull);
    write_bytes(dir, "7-bigpid.seg", h, sizeof h);
    tr_put_u64(h + TR_SEG_OFF_PID, 0x100000000ull + (uint64_t)getpid());
    write_bytes(dir, "7-widepid.seg", h, sizeof h);
    tr_put_u64(h + TR_SEG_OFF_PID, 0);
    write_bytes(dir, "7-pid0.seg", h, sizeof h);
    /* names the reader must not even look at */
    write_bytes(dir, ".8-hidden.seg", junk, 1000);
    write_bytes(dir, "9-x.seg.corrupt", junk, 1000);
    write_bytes(dir, ".10-y.tmp", junk, 1000);

    tr_spool_reader *r;
    T_ASSERT_OK(tr_spool_reader_open(dir, &r));
    collect c = {.stop_at = -1};
    T_EQ_INT(tr_spool_reader_poll(r, cb_collect, &c, 0), 0);
    tr_spool_stats st;
    tr_spool_reader_stats(r, &st);
    T_EQ_INT(st.corrupt, 6);
    T_EQ_INT(tr_spool_reader_commit(r), 0);
    T_EQ_INT(tr_spool_reader_pending(r), 0);
    T_EQ_INT(tr_spool_reader_poll(r, cb_collect, &c, 0), 0);
    T_EQ_INT(tr_spool_reader_commit(r), 0);
    tr_spool_reader_stats(r, &st);
    T_EQ_INT(st.corrupt, 6); /* a bad file is reported once, not at every poll */
    T_EQ_INT(st.segments_done, 4);
    tr_spool_reader_close(r);
    /* everything but the good segments is left on disk for inspection */
    T_EQ_INT(count_files(dir, ""), 9);
    static const char *left[] = {"1-garbage.seg",  "2-short.seg",     "3-capsize.seg",
                                 "4-streamid.seg", "5-version.seg",   "6-magic.seg",
                                 ".8-hidden.seg",  "9-x.seg.corrupt", ".10-y.tmp"};
    for (size_t i = 0; i < sizeof left / sizeof left[0]; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, left[i]);
        if (!exists(p)) T_FAIL("%s was removed", left[i]);
    }
    free(c.v);
    rm_rf(dir);
}

static void test_broken_frame_size(void)
{
    static const uint32_t words[] = {
        TR_FRAME_COMMITTED | 4u,          /* smaller than a frame header */
        TR_FRAME_COMMITTED | 30u,         /* not 8-aligned */
        TR_FRAME_COMMITTED | 0x1FFFFFF8u, /* runs past the end of the segment */
        TR_FRAME_RESERVED | 16u,          /* reserved, too small for a record */
        TR_FRAME_COMMITTED | TR_FRAME_RESERVED | 0x100000u,
    };
    for (size_t v = 0; v < sizeof words / sizeof words[0]; v++) {
        char dir[256];
        make_tmpdir(dir, sizeof dir);
        tr_seg seg;
        T_ASSERT_OK(tr_seg_create(&seg, dir, RUN, 65536));
        uint8_t buf[256];
        uint32_t off1 = 0;
        for (int i = 0; i < 3; i++) {
            long n = mkrec(buf, sizeof buf, 4, i, 5);
            T_ASSERT(n > 0 && tr_seg_append(&seg, buf, (size_t)n) == 0);
            if (i == 0) off1 = TR_SEG_HDR_SIZE + frame_size((size_t)n);
        }
        __atomic_store_n((uint32_t *)(void *)(seg.base + off1), words[v], __ATOMIC_RELEASE);
        char path[4096], kept[4200];
        snprintf(path, sizeof path, "%s", seg.path);
        snprintf(kept, sizeof kept, "%s.corrupt", seg.path);
        tr_spool_reader *r;
        T_ASSERT_OK(tr_spool_reader_open(dir, &r));
        steps s = {.who = 4, .max = -1};
        T_EQ_INT(tr_spool_reader_poll(r, cb_steps, &s, 0), 1); /* the record before the break */
        T_EQ_INT(s.max, 0);
        tr_spool_stats st;
        tr_spool_reader_stats(r, &st);
        /* its writer is alive: the segment is neither abandoned nor removed under it */
        T_EQ_INT(st.corrupt, 0);
        T_EQ_INT(tr_spool_reader_commit(r), 0);
        T_CHECK(exists(path));
        T_EQ_INT(tr_spool_reader_pending(r), 1);
        /* the segment stops there: later appends are never read */
        long n = mkrec(buf, sizeof buf, 4, 3, 5);
        T_OK(tr_seg_append(&seg, buf, (size_t)n));
        T_EQ_INT(tr_spool_reader_poll(r, cb_steps, &s, 0), 0);
        T_CHECK(exists(path));
        tr_seg_close(&seg); /* the writer is gone: now the frame counts as damaged */
        T_EQ_INT(tr_spool_reader_poll(r, cb_steps, &s, 0), 0);
        tr_spool_reader_stats(r, &st);
        T_EQ_INT(st.corrupt, 1);
        T_EQ_INT(st.torn, 0);
        T_EQ_INT(tr_spool_reader_commit(r), 0);
        T_CHECK(!exists(path));
        T_CHECK(exists(kept)); /* kept for inspection, out of the reader's way */
        T_EQ_INT(tr_spool_reader_pending(r), 0);
        tr_spool_reader_stats(r, &st);
        T_EQ_INT(st.corrupt, 1);
        tr_spool_reader_close(r);
        /* a new reader ignores the .corrupt file */
        T_ASSERT_OK(tr_spool_reader_open(dir, &r));
        T_EQ_INT(tr_spool_reader_poll(r, cb_steps, &s, 0), 0);
        T_EQ_INT(tr_spool_reader_pending(r), 0);
        tr_spool_reader_stats(r, &st);
        T_EQ_INT(st.corrupt, 0);
        tr_spool_reader_close(r);
        T_EQ_INT(s.bad, 0);
        free(s.seen);
        rm_rf(dir);
    }
}

/* ---- (f) permissions of what the client creates ---- */

static int cb_count(void *ctx, const tr_seg_info *si, uint64_t seq, const uint8_t *b, size_t len)
{
    (void)si;
    (void)seq;
    (void)b;
    (void)len;
    ++*(long *)ctx;
    return 0;
}

static void test_client_permissions(void)
{
    mode_t old = umask(0); /* modes must not depend on a friendly umask */
    char dir[256], spool[512], p[4096];
    make_tmpdir(dir, sizeof dir);
    snprintf(spool, sizeof spool, "%s/a/b/spool", dir);
    T_ASSERT(unsetenv("TRAIL_SEGMENT_SIZE") == 0);
    T_ASSERT_OK(tr_client_configure(RUN, spool));
    T_CHECK(!exists(spool)); /* created on first use */
    T_EQ_INT(emit_rec(getpid(), 0), 0);
    struct stat st;
    static const char *sub[] = {"a", "a/b", "a/b/spool"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, sub[i]);
        T_ASSERT(stat(p, &st) == 0);
        T_CHECK(S_ISDIR(st.st_mode));
        if ((st.st_mode & 07777) != 0700) T_FAIL("%s: mode %o", sub[i], st.st_mode & 07777);
    }
    DIR *d = opendir(spool);
    T_ASSERT(d);
    struct dirent *e;
    int nseg = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(p, sizeof p, "%s/%s", spool, e->d_name);
        T_ASSERT(stat(p, &st) == 0);
        if ((st.st_mode & 07777) != 0600) T_FAIL("%s: mode %o", e->d_name, st.st_mode & 07777);
        T_EQ_INT(st.st_size, TR_SEG_FIRST_CAP); /* small first, grown by later rolls */
        nseg++;
    }
    closedir(d);
    T_EQ_INT(nseg, 1);
    tr_client_shutdown();
    long n = 0;
    drain(spool, cb_count, &n, NULL);
    T_EQ_INT(n, 1);
    umask(old);
    rm_rf(dir);
}

int main(void)
{
    umask(022);
    signal(SIGPIPE, SIG_IGN);
    T_RUN(test_single_writer);
    T_RUN(test_full_segment);
    T_RUN(test_threads);
    T_RUN(test_fork_children);
    T_RUN(test_fork_while_hammering);
    T_RUN(test_slab_children);
    T_RUN(test_slab_reuse_and_death);
    T_RUN(test_torn_write);
    T_RUN(test_sigkill_writer);
    T_RUN(test_bad_crc);
    T_RUN(test_bad_headers);
    T_RUN(test_broken_frame_size);
    T_RUN(test_client_permissions);
    return T_DONE();
}
