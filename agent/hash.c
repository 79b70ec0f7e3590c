/* hash.c - content hashes (SHA-256) of recorded files, computed by the agent off the program's
 * path, on a worker thread while the next batch is stored. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

#include "agent.h"
#include "record.h"
#include "sink.h"
#include "strmap.h"
#include "trail.h"
#include "util.h"

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#define SHA_START mbedtls_sha256_starts
#define SHA_UPDATE mbedtls_sha256_update
#define SHA_FINISH mbedtls_sha256_finish
#else
#define SHA_START mbedtls_sha256_starts_ret
#define SHA_UPDATE mbedtls_sha256_update_ret
#define SHA_FINISH mbedtls_sha256_finish_ret
#endif

#define HASH_BUDGET_DEFAULT (256LL << 20)
#define CHUNK (128 << 10)

/* A version to hash: its path as recorded and the fingerprint recorded (has_fp 0: a rename
 * or link result whose bytes are whatever the path holds now); the worker fills in the rest. */
typedef struct hitem {
    char *path, *run, *host;
    tr_fingerprint fp, seen; /* seen: the fingerprint of the bytes hashed */
    int has_fp, hashed;
    char hex[65];
} hitem;

/* The versions of one durable batch, hashed by a worker thread while the main thread stores
 * the next batch; their HASH records are emitted by the next flush (tr_hashq_flush). */
typedef struct hjob {
    hitem *v;
    size_t n, cap;
    int64_t budget;
    pthread_t th;
    int running;
} hjob;

struct tr_hashq {
    hitem *v;
    size_t n, cap;
    tr_strmap *batch;    /* (path, fingerprint) noted in this batch: each queued once */
    tr_strmap *inflight; /* ... handed to the job: not queued again meanwhile */
    tr_strmap *done;     /* (path, fingerprint) hashed, or known to the sink, by this agent */
    hjob job;
    int64_t budget;
};

int64_t tr_hash_budget(void)
{
    const char *e = getenv("TRAIL_HASH_BUDGET");
    if (!e || !*e) return HASH_BUDGET_DEFAULT;
    char *end;
    double v = strtod(e, &end);
    if (end == e || v < 0) return HASH_BUDGET_DEFAULT;
    switch (*end) {
    case 'k':
    case 'K':
        v *= 1024;
        break;
    case 'm':
    case 'M':
        v *= 1024 * 1024;
        break;
    case 'g':
    case 'G':
        v *= 1024.0 * 1024 * 1024;
        break;
    default:
        break;
    }
    return (int64_t)v;
}

static int same_file(const struct stat *sb, const tr_fingerprint *fp, int check_dev)
{
    int64_t mt = (int64_t)sb->st_mtim.tv_sec * 1000000000LL + sb->st_mtim.tv_nsec;
    return (uint64_t)sb->st_ino == fp->ino && (int64_t)sb->st_size == fp->size &&
           mt == fp->mtime_ns && (!check_dev || (uint64_t)sb->st_dev == fp->dev);
}

int tr_hash_file(const char *path, const tr_fingerprint *expect, int check_dev, int64_t budget,
                 char hex[65], tr_fingerprint *seen)
{
    struct stat sb;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK), rc = 1;
    unsigned char buf[CHUNK], sum[32]; /* on the caller's stack: no allocation per file */
    mbedtls_sha256_context ctx;
    mbedtls_sha256_init(&ctx);
    if (fd < 0) return 1; /* gone, or not ours to read: no hash */
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > budget ||
        (expect && !same_file(&sb, expect, check_dev)))
        goto done; /* the version recorded is no longer what the path holds */
    if (SHA_START(&ctx, 0) != 0) goto done;
    /* up to the size fstat gave: a file that grew or shrank meanwhile fails the check after
     * (no read only to see the end, one system call per file) */
    for (off_t left = sb.st_size; left > 0;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) goto done;
        if (n == 0) break;
        if (SHA_UPDATE(&ctx, buf, (size_t)n) != 0) goto done;
        left -= n;
    }
    if (SHA_FINISH(&ctx, sum) != 0) goto done;
    struct stat after;
    if (fstat(fd, &after) != 0 ||
        !same_file(
            &after,
            &(tr_fingerprint){(uint64_t)sb.st_dev, (uint64_t)sb.st_ino, (int64_t)sb.st_size,
                              (int64_t)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec},
            1))
        goto done; /* written while we read it */
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[sum[i] >> 4];
        hex[2 * i + 1] = digits[sum[i] & 15];
    }
    hex[64] = 0;
    if (seen)
        *seen = (tr_fingerprint){(uint64_t)sb.st_dev, (uint64_t)sb.st_ino, (int64_t)sb.st_size,
                                 (int64_t)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec};
    rc = 0;
done:
    mbedtls_sha256_free(&ctx);
    close(fd);
    return rc;
}

tr_hashq *tr_hashq_new(void)
{
    tr_hashq *q = calloc(1, sizeof *q);
    if (!q) return NULL;
    q->budget = q->job.budget = tr_hash_budget();
    q->batch = tr_strmap_new();
    q->inflight = tr_strmap_new();
    q->done = tr_strmap_new();
    if (!q->batch || !q->inflight || !q->done) {
        tr_hashq_free(q);
        return NULL;
    }
    return q;
}

static void items_free(hitem *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].path);
        free(v[i].run);
        free(v[i].host);
    }
}

void tr_hashq_clear(tr_hashq *q)
{
    if (!q) return;
    items_free(q->v, q->n);
    q->n = 0;
    tr_strmap_clear(q->batch);
}

/* Waits for the job; its results are dropped (nothing delivered them). */
static void job_wait(hjob *j)
{
    if (j->running) pthread_join(j->th, NULL);
    j->running = 0;
}

void tr_hashq_free(tr_hashq *q)
{
    if (!q) return;
    job_wait(&q->job);
    items_free(q->job.v, q->job.n);
    free(q->job.v);
    tr_hashq_clear(q);
    free(q->v);
    tr_strmap_free(q->batch);
    tr_strmap_free(q->inflight);
    tr_strmap_free(q->done);
    free(q);
}

static int job_collect(tr_hashq *q, tr_enrich *e);

int tr_hashq_finish(tr_hashq *q, tr_enrich *e)
{
    return q ? job_collect(q, e) : 0;
}

int tr_hashq_busy(const tr_hashq *q)
{
    return q && q->job.n > 0;
}

/* The identity of a version for the sets: path, NUL, then the fingerprint (if any). */
static size_t item_key(char *out, size_t cap, const char *path, size_t n, const tr_fingerprint *fp)
{
    if (n + 1 + sizeof *fp > cap) return 0;
    memcpy(out, path, n);
    out[n] = 0;
    if (!fp) return n + 1;
    memcpy(out + n + 1, fp, sizeof *fp);
    return n + 1 + sizeof *fp;
}

/* Queues one version for hashing, once per batch however often it was read, and never again
 * once this agent hashed it. */
static void push(tr_hashq *q, const char *path, size_t n, const char *run, const char *host,
                 const tr_fingerprint *fp)
{
    char k[4200];
    size_t kn = n && path[0] == '/' ? item_key(k, sizeof k, path, n, fp) : 0;
    int added = 0;
    if (!kn || tr_strmap_get(q->done, k, kn, NULL) || tr_strmap_get(q->inflight, k, kn, NULL))
        return;
    if (tr_strmap_add(q->batch, k, kn, (tr_mapval){.i = 0}, &added) < 0 || !added) return;
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 32;
        hitem *grown = realloc(q->v, cap * sizeof *grown);
        if (!grown) return;
        q->v = grown;
        q->cap = cap;
    }
    hitem *it = &q->v[q->n];
    memset(it, 0, sizeof *it);
    it->path = strndup(path, n);
    it->run = strdup(run);
    it->host = strdup(host);
    if (!it->path || !it->run || !it->host) {
        free(it->path);
        free(it->run);
        free(it->host);
        return;
    }
    if (fp) it->fp = *fp;
    it->has_fp = fp != NULL;
    q->n++;
}

void tr_hashq_note(tr_hashq *q, const tr_rec *rec, const char *run, const char *host)
{
    if (!q || q->budget <= 0 || !run || !*run) return;
    const char *path, *op;
    size_t n, on;
    int64_t ino = 0, size = 0, mtime = 0, dev = 0;
    int has = tr_rec_get_i64(rec, TR_F_INO, &ino) == 0 &&
              tr_rec_get_i64(rec, TR_F_SIZE, &size) == 0 &&
              tr_rec_get_i64(rec, TR_F_MTIME_NS, &mtime) == 0;
    tr_rec_get_i64(rec, TR_F_DEV, &dev);
    tr_fingerprint fp = {(uint64_t)dev, (uint64_t)ino, size, mtime};
    if (rec->type == TR_REC_FILE) {
        if (has && size <= q->budget && tr_rec_get_str(rec, TR_F_PATH, &path, &n) == 0)
            push(q, path, n, run, host, &fp);
    } else if (rec->type == TR_REC_FILEOP && tr_rec_get_str(rec, TR_F_OP, &op, &on) == 0) {
        /* The result of a rename/link lives at PATH2, of a truncate at PATH. */
        int moved = (on == 6 && !memcmp(op, "rename", 6)) || (on == 4 && !memcmp(op, "link", 4));
        int trunc = on == 8 && !memcmp(op, "truncate", 8);
        if ((moved && tr_rec_get_str(rec, TR_F_PATH2, &path, &n) == 0) ||
            (trunc && has && tr_rec_get_str(rec, TR_F_PATH, &path, &n) == 0))
            push(q, path, n, run, host, has ? &fp : NULL);
    }
}

/* A HASH record: the digest and the fingerprint of the bytes it covers. */
static int emit_hash(tr_enrich *e, const hitem *it, const char *hex, const tr_fingerprint *fp)
{
    uint8_t buf[4096 + 512];
    tr_enc enc;
    tr_enc_init(&enc, buf, sizeof buf, TR_REC_HASH, tr_now_ns());
    tr_enc_str(&enc, TR_F_PATH, it->path);
    tr_enc_str(&enc, TR_F_KIND, "sha256");
    tr_enc_str(&enc, TR_F_VALUE, hex);
    tr_enc_i64(&enc, TR_F_DEV, (int64_t)fp->dev);
    tr_enc_i64(&enc, TR_F_INO, (int64_t)fp->ino);
    tr_enc_i64(&enc, TR_F_SIZE, fp->size);
    tr_enc_i64(&enc, TR_F_MTIME_NS, fp->mtime_ns);
    tr_enc_str(&enc, TR_F_SOURCE, "agent");
    return tr_enrich_emit(e, it->run, &enc);
}

/* The worker: reads and hashes every version of the job (only files: no store, no sink). */
static void *job_main(void *arg)
{
    hjob *j = arg;
    for (size_t i = 0; i < j->n; i++) {
        hitem *it = &j->v[i];
        /* a recorded fingerprint must still be what the path holds (dev too: same host) */
        it->hashed = tr_hash_file(it->path, it->has_fp ? &it->fp : NULL, it->has_fp, j->budget,
                                  it->hex, &it->seen) == 0;
    }
    return NULL;
}

/* Starts the worker with every signal blocked: the program's signals (forwarded, SIGCHLD,
 * SIGWINCH) stay with the agent's main thread. */
static int job_start(hjob *j)
{
    sigset_t all, was;
    pthread_attr_t a;
    if (pthread_attr_init(&a) != 0) return -1;
    pthread_attr_setstacksize(&a, CHUNK + (256 << 10)); /* tr_hash_file's buffer, whatever the
                                                           default thread stack */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &was);
    int rc = pthread_create(&j->th, &a, job_main, j);
    pthread_sigmask(SIG_SETMASK, &was, NULL);
    pthread_attr_destroy(&a);
    if (rc == 0) j->running = 1;
    return rc;
}

/* The job's results as HASH records; the job is empty after. */
static int job_collect(tr_hashq *q, tr_enrich *e)
{
    hjob *j = &q->job;
    int rc = 0;
    job_wait(j);
    for (size_t i = 0; i < j->n; i++) {
        hitem *it = &j->v[i];
        if (!it->hashed) continue; /* gone or changed: a later record of it may try again */
        char k[4200];
        size_t kn = item_key(k, sizeof k, it->path, strlen(it->path), it->has_fp ? &it->fp : NULL);
        if (kn) tr_strmap_add(q->done, k, kn, (tr_mapval){.i = 0}, NULL);
        int erc = emit_hash(e, it, it->hex, &it->seen);
        if (!rc) rc = erc;
    }
    items_free(j->v, j->n);
    j->n = 0;
    tr_strmap_clear(q->inflight);
    return rc;
}

int tr_hashq_flush(tr_hashq *q, tr_enrich *e, tr_sink *sink, int wait)
{
    if (!q) return 0;
    int rc = job_collect(q, e);
    if (q->n == 0) return rc;
    /* versions the sink knows the hash of are skipped (look-ups on this thread: the sink is
     * not shared); the rest become the job */
    hjob *j = &q->job;
    size_t keep = 0;
    for (size_t i = 0; i < q->n; i++) {
        hitem *it = &q->v[i];
        const tr_fingerprint *fp = it->has_fp ? &it->fp : NULL;
        if (fp && sink->vt->hash_known && sink->vt->hash_known(sink, it->path, it->host, fp)) {
            char k[4200];
            size_t kn = item_key(k, sizeof k, it->path, strlen(it->path), fp);
            if (kn) tr_strmap_add(q->done, k, kn, (tr_mapval){.i = 0}, NULL);
            items_free(it, 1);
            continue;
        }
        it->hashed = 0;
        q->v[keep++] = *it;
    }
    /* the job takes the queue's items (its own array, empty, becomes the queue's) */
    hitem *v = j->v;
    size_t cap = j->cap;
    j->v = q->v;
    j->cap = q->cap;
    j->n = keep;
    q->v = v;
    q->cap = cap;
    q->n = 0;
    if (sink->vt->cache_sync) sink->vt->cache_sync(sink); /* ends the look-ups' read snapshot */
    /* the batch's keys stay taken while the job holds them */
    tr_strmap *was = q->inflight;
    q->inflight = q->batch;
    q->batch = was;
    if (j->n == 0) return rc;
    if (!wait && job_start(j) == 0) return rc;
    job_main(j); /* asked to wait, or no thread: hashed here */
    int crc = job_collect(q, e);
    return rc ? rc : crc;
}
