/* sdk_test.c - the SDK in-process: validation, errno, threads, and what reaches the spool. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "record.h"
#include "spool.h"
#include "tassert.h"
#include "trail.h"

static char root[256];

typedef struct counts {
    long metrics, params, tags, run_start, run_end, files, other;
    long per_thread[16];
    int nan_seen, inf_seen;
    /* test_thread_segments: keys "u<i>" (threads) and "c0" (a forked child's thread) */
    long hot[4], child;
    char streams[4][3][33]; /* the streams each hot thread's records came in */
    int64_t child_pid;
} counts;

/* Notes the stream of hot thread i's record (at most 3 kept). */
static void note_stream(counts *c, int i, const char *stream)
{
    for (int k = 0; k < 3; k++) {
        if (!c->streams[i][k][0]) {
            snprintf(c->streams[i][k], sizeof c->streams[i][k], "%s", stream);
            return;
        }
        if (!strcmp(c->streams[i][k], stream)) return;
    }
}

static int count_cb(void *ctx, const tr_seg_info *seg, uint64_t seq, const uint8_t *body,
                    size_t len)
{
    (void)seq;
    counts *c = ctx;
    tr_rec r;
    if (tr_rec_decode(body, len, &r) != 0) {
        c->other++;
        return 0;
    }
    char key[64] = "";
    tr_rec_copy_str(&r, TR_F_KEY, key, sizeof key);
    double v = 0;
    switch (r.type) {
    case TR_REC_METRIC:
        c->metrics++;
        if (key[0] == 't' && key[1] >= '0' && key[1] <= '9') c->per_thread[atoi(key + 1) % 16]++;
        if (key[0] == 'u' && key[1] >= '0' && key[1] <= '3') {
            c->hot[key[1] - '0']++;
            note_stream(c, key[1] - '0', seg->stream_id);
        }
        if (!strcmp(key, "c0")) {
            c->child++;
            c->child_pid = seg->pid;
        }
        tr_rec_get_f64(&r, TR_F_NUM, &v);
        if (isnan(v)) c->nan_seen++;
        if (isinf(v)) c->inf_seen++;
        break;
    case TR_REC_PARAM:
        c->params++;
        break;
    case TR_REC_TAG:
        c->tags++;
        break;
    case TR_REC_RUN_START:
        c->run_start++;
        break;
    case TR_REC_RUN_END:
        c->run_end++;
        break;
    case TR_REC_FILE:
        c->files++;
        break;
    default:
        c->other++;
    }
    return 0;
}

static counts read_spool(const char *run_id)
{
    counts c;
    memset(&c, 0, sizeof c);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", root, run_id);
    tr_spool_reader *r;
    T_ASSERT_OK(tr_spool_reader_open(dir, &r));
    while (tr_spool_reader_poll(r, count_cb, &c, 0) > 0) {
    }
    tr_spool_reader_close(r);
    return c;
}

static void test_validation(void)
{
    T_ERR(trail_log_param("", "v"), TRAIL_EKEY);
    T_ERR(trail_log_param(NULL, "v"), TRAIL_EKEY);
    T_ERR(trail_log_param("bad\nkey", "v"), TRAIL_EKEY);
    T_ERR(trail_log_param("bad;key", "v"), TRAIL_EKEY);
    char longkey[300];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = 0;
    T_ERR(trail_log_metric(longkey, 1, 0), TRAIL_EKEY);
    longkey[TRAIL_KEY_MAX] = 0;
    T_OK(trail_log_metric(longkey, 1, 0)); /* exactly 250 is fine */
    T_ERR(trail_log_param("k", NULL), TRAIL_EVALUE);
    char *big = malloc(TRAIL_VALUE_MAX + 2);
    memset(big, 'v', TRAIL_VALUE_MAX + 1);
    big[TRAIL_VALUE_MAX + 1] = 0;
    T_ERR(trail_log_param("k", big), TRAIL_ETOOBIG);
    big[TRAIL_VALUE_MAX] = 0;
    T_OK(trail_log_param("big", big));
    free(big);
    T_OK(trail_log_param("a.b-c_d/e f:g", "ok"));
    T_ERR(trail_end_run(7), TRAIL_EINVAL);
    T_ERR(trail_log_input("/definitely/not/here"), TRAIL_ENOTFOUND);
    T_ERR(trail_log_input(NULL), TRAIL_EINVAL);
    T_CHECK(strstr(trail_strerror(TRAIL_EKEY), "key") != NULL);
    T_CHECK(strcmp(trail_strerror(-999), "unknown error") == 0);
}

static void test_errno_preserved(void)
{
    errno = EDOM;
    trail_log_metric("e", 1, 0);
    T_EQ_INT(errno, EDOM);
    errno = ERANGE;
    trail_log_input("/definitely/not/here");
    T_EQ_INT(errno, ERANGE);
    errno = EILSEQ;
    trail_log_param("p", "v");
    T_EQ_INT(errno, EILSEQ);
}

static void *hammer(void *arg)
{
    long id = (long)arg;
    char key[16];
    snprintf(key, sizeof key, "t%ld", id);
    for (int i = 0; i < 5000; i++)
        if (trail_log_metric(key, i, i) != 0) abort();
    return NULL;
}

static void test_threads_and_spool(void)
{
    /* the first call above started an implicit run in our spool root */
    const char *id = trail_run_id();
    T_ASSERT(id != NULL && strlen(id) == 32);
    char run_id[33];
    strcpy(run_id, id);
    pthread_t th[8];
    for (long i = 0; i < 8; i++)
        pthread_create(&th[i], NULL, hammer, (void *)i);
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    T_OK(trail_log_metric("special", NAN, 0));
    T_OK(trail_log_metric("special", INFINITY, 1));
    T_OK(trail_set_tag("t", "v"));
    char path[512];
    snprintf(path, sizeof path, "%s/data.bin", root);
    FILE *f = fopen(path, "w");
    fputs("hello", f);
    fclose(f);
    T_OK(trail_log_input(path));
    T_OK(trail_log_output("relative-output.bin")); /* may not exist yet: still recorded */
    T_OK(trail_flush());
    T_ERR(trail_start_run("x", "y"), TRAIL_EACTIVE);
    T_OK(trail_end_run(TRAIL_STATUS_FINISHED));

    counts c = read_spool(run_id);
    for (int t = 0; t < 8; t++)
        T_EQ_INT(c.per_thread[t], 5000);
    T_EQ_INT(c.nan_seen, 1);
    T_EQ_INT(c.inf_seen, 1);
    T_EQ_INT(c.run_start, 1);
    T_EQ_INT(c.run_end, 1);
    T_EQ_INT(c.files, 2);
    T_EQ_INT(c.tags, 1);
    T_EQ_INT(c.params, 3); /* "big", "a.b-c_d/e f:g", "p" */
    T_EQ_INT(c.other, 0);

    struct stat st;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", root, run_id);
    T_ASSERT(stat(dir, &st) == 0);
    T_EQ_INT(st.st_mode & 0777, 0700);

    /* after end_run a new call starts a new run */
    T_OK(trail_start_run("exp", "second"));
    T_CHECK(trail_run_id() && strcmp(trail_run_id(), run_id) != 0);
    T_OK(trail_end_run(TRAIL_STATUS_FAILED));
}

static void *hot_thread(void *arg)
{
    const char *key = arg;
    for (int i = 0; i < 3000; i++)
        if (trail_log_metric(key, i, i) != 0) abort();
    return NULL;
}

/* Threads that keep logging while others do move to segments of their own (client.c): every
 * point still arrives exactly once, in one or two streams per thread (the shared segment first,
 * then its own), a thread's segment is given up when it exits, and a child forked afterwards
 * writes segments of its own. */
static void test_thread_segments(void)
{
    T_OK(trail_start_run("exp", "threads"));
    char run_id[33];
    snprintf(run_id, sizeof run_id, "%s", trail_run_id());
    static char keys[4][3] = {"u0", "u1", "u2", "u3"};
    pthread_t th[4];
    for (int round = 0; round < 2; round++) { /* the second round reuses the slots given up */
        for (int i = 0; i < 4; i++)
            pthread_create(&th[i], NULL, hot_thread, keys[i]);
        for (int i = 0; i < 4; i++)
            pthread_join(th[i], NULL);
    }
    pid_t pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0) {
        pthread_t t[2];
        static char ck[] = "c0";
        for (int i = 0; i < 2; i++)
            pthread_create(&t[i], NULL, hot_thread, ck);
        for (int i = 0; i < 2; i++)
            pthread_join(t[i], NULL);
        exit(0);
    }
    int status;
    T_ASSERT(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    T_OK(trail_flush());
    T_OK(trail_end_run(TRAIL_STATUS_FINISHED));
    counts c = read_spool(run_id);
    int own = 0;
    for (int i = 0; i < 4; i++) {
        T_EQ_INT(c.hot[i], 6000);
        T_CHECK(c.streams[i][0][0]);
        own += c.streams[i][1][0] != 0;
    }
    T_CHECK(own > 0); /* at least one thread wrote into a segment of its own */
    T_EQ_INT(c.child, 6000);
    T_EQ_INT(c.child_pid, pid);
    T_EQ_INT(c.run_start, 1);
    T_EQ_INT(c.run_end, 1);
    T_EQ_INT(c.other, 0);
}

/* Number of system calls `sdk_client metrics n` makes, counted by strace -f -c. */
static long syscalls_for(int n)
{
    char out[600], cmd[1400];
    snprintf(out, sizeof out, "%s/strace.%d", root, n);
    snprintf(cmd, sizeof cmd, "strace -f -c -o %s %s/tests/sdk_client metrics %d >/dev/null 2>&1",
             out, getenv("TRAIL_BUILD") ? getenv("TRAIL_BUILD") : "build", n);
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

/* The SDK's hot path: a metric is a CAS and a copy into the mapped segment, no system call.
 * 10 and 800 metrics must cost the same number of system calls (800 records fit in the first
 * segment, 64 KiB since segments start small and double, so no roll-over either). */
static void test_metric_costs_no_syscall(void)
{
#ifdef __SANITIZE_ADDRESS__
    T_SKIP("under ASan: the sanitizer runtime makes system calls of its own");
#endif
    if (system("command -v strace >/dev/null 2>&1") != 0) T_SKIP("strace not installed");
    long few = syscalls_for(10), many = syscalls_for(800);
    T_CHECK(few > 0);
    T_EQ_INT(many, few);
}

int main(void)
{
    snprintf(root, sizeof root, "/tmp/trail-sdk-XXXXXX");
    T_ASSERT(mkdtemp(root));
    setenv("TRAIL_SPOOL_ROOT", root, 1);
    unsetenv("TRAIL_RUN_ID");
    unsetenv("TRAIL_SPOOL");
    T_RUN(test_validation);
    T_RUN(test_errno_preserved);
    T_RUN(test_threads_and_spool);
    T_RUN(test_thread_segments);
    T_RUN(test_metric_costs_no_syscall);
    return T_DONE();
}
