/* hash.c - content hashes (SHA-256) of recorded files, computed by the agent off the program's
 * path. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

#include "agent.h"
#include "trail.h"

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
#define CHUNK (1 << 20)

typedef struct hitem {
    char *path, *key;
    tr_fingerprint fp;
    int has_fp;
    int64_t version; /* filled at flush */
    char hex[65];
} hitem;

struct tr_hashq {
    hitem *v;
    size_t n, cap;
    uint32_t *slots; /* open-addressing set of (key, fingerprint) -> index + 1 */
    size_t nslots;
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
                 char hex[65])
{
    struct stat sb;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK), rc = 1;
    unsigned char *buf = NULL, sum[32];
    mbedtls_sha256_context ctx;
    mbedtls_sha256_init(&ctx);
    if (fd < 0) return 1; /* gone, or not ours to read: no hash */
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > budget ||
        (expect && !same_file(&sb, expect, check_dev)))
        goto done; /* the version recorded is no longer what the path holds */
    if (!(buf = malloc(CHUNK))) {
        rc = TRAIL_ENOMEM;
        goto done;
    }
    if (SHA_START(&ctx, 0) != 0) goto done;
    for (;;) {
        ssize_t n = read(fd, buf, CHUNK);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) goto done;
        if (n == 0) break;
        if (SHA_UPDATE(&ctx, buf, (size_t)n) != 0) goto done;
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
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", sum[i]);
    rc = 0;
done:
    mbedtls_sha256_free(&ctx);
    free(buf);
    close(fd);
    return rc;
}

tr_hashq *tr_hashq_new(void)
{
    tr_hashq *q = calloc(1, sizeof *q);
    if (q) q->budget = tr_hash_budget();
    return q;
}

void tr_hashq_clear(tr_hashq *q)
{
    if (!q) return;
    for (size_t i = 0; i < q->n; i++) {
        free(q->v[i].path);
        free(q->v[i].key);
    }
    q->n = 0;
    if (q->slots) memset(q->slots, 0, q->nslots * sizeof *q->slots);
}

void tr_hashq_free(tr_hashq *q)
{
    if (!q) return;
    tr_hashq_clear(q);
    free(q->v);
    free(q->slots);
    free(q);
}

static uint64_t item_hash(const char *key, int has_fp, const tr_fingerprint *fp)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *p = key; *p; p++)
        h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
    if (has_fp) {
        const uint8_t *b = (const uint8_t *)fp;
        for (size_t i = 0; i < sizeof *fp; i++)
            h = (h ^ b[i]) * 0x100000001b3ull;
    }
    return h;
}

static int same(const hitem *it, const char *key, const tr_fingerprint *fp)
{
    return !strcmp(it->key, key) && it->has_fp == (fp != NULL) &&
           (!fp || !memcmp(&it->fp, fp, sizeof *fp));
}

/* Keeps the set at most half full; rebuilds it from the items when it grows. */
static int set_reserve(tr_hashq *q)
{
    if (q->nslots >= 2 * (q->n + 1)) return 0;
    size_t ns = q->nslots ? q->nslots * 2 : 256;
    while (ns < 2 * (q->n + 1))
        ns *= 2;
    uint32_t *slots = calloc(ns, sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i < q->n; i++) {
        const hitem *it = &q->v[i];
        size_t k = item_hash(it->key, it->has_fp, &it->fp) & (ns - 1);
        while (slots[k])
            k = (k + 1) & (ns - 1);
        slots[k] = (uint32_t)i + 1;
    }
    free(q->slots);
    q->slots = slots;
    q->nslots = ns;
    return 0;
}

/* Queues one version for hashing, once per batch however often it was read. */
static void push(tr_hashq *q, const char *path, size_t n, const char *host,
                 const tr_fingerprint *fp)
{
    char p[4096], key[4608];
    if (n == 0 || n >= sizeof p) return;
    memcpy(p, path, n);
    p[n] = 0;
    if (tr_store_artifact_key(p, host, key, sizeof key) != 0) return;
    if (set_reserve(q) != 0) return;
    size_t k = item_hash(key, fp != NULL, fp) & (q->nslots - 1);
    for (; q->slots[k]; k = (k + 1) & (q->nslots - 1))
        if (same(&q->v[q->slots[k] - 1], key, fp)) return;
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 32;
        hitem *grown = realloc(q->v, cap * sizeof *grown);
        if (!grown) return;
        q->v = grown;
        q->cap = cap;
    }
    hitem *it = &q->v[q->n];
    memset(it, 0, sizeof *it);
    it->path = strdup(p);
    it->key = strdup(key);
    if (!it->path || !it->key) {
        free(it->path);
        free(it->key);
        return;
    }
    if (fp) it->fp = *fp;
    it->has_fp = fp != NULL;
    q->slots[k] = (uint32_t)q->n + 1;
    q->n++;
}

void tr_hashq_note(tr_hashq *q, const tr_rec *rec, const char *host)
{
    if (!q || q->budget <= 0) return;
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
            push(q, path, n, host, &fp);
    } else if (rec->type == TR_REC_FILEOP && tr_rec_get_str(rec, TR_F_OP, &op, &on) == 0) {
        /* The result of a rename/link lives at PATH2, of a truncate at PATH. */
        int moved = (on == 6 && !memcmp(op, "rename", 6)) || (on == 4 && !memcmp(op, "link", 4));
        int trunc = on == 8 && !memcmp(op, "truncate", 8);
        if ((moved && tr_rec_get_str(rec, TR_F_PATH2, &path, &n) == 0) ||
            (trunc && has && tr_rec_get_str(rec, TR_F_PATH, &path, &n) == 0))
            push(q, path, n, host, has ? &fp : NULL);
    }
}

int tr_hashq_flush(tr_hashq *q, tr_store *st)
{
    if (!q || q->n == 0) return 0;
    size_t done = 0;
    /* Look up and hash without holding the store's write lock. */
    for (size_t i = 0; i < q->n; i++) {
        hitem *it = &q->v[i];
        tr_hash_target t;
        it->hex[0] = 0;
        if (tr_store_hash_target(st, it->key, it->has_fp ? &it->fp : NULL, &t) != 0 || t.has_hash ||
            !t.has_fp)
            continue;
        it->version = t.version;
        if (tr_hash_file(it->path, it->has_fp ? &it->fp : &t.fp, it->has_fp, q->budget, it->hex) !=
            0)
            it->hex[0] = 0;
        else
            done++;
    }
    int rc = 0;
    if (done && (rc = tr_store_begin(st)) == 0) {
        for (size_t i = 0; i < q->n && rc == 0; i++)
            if (q->v[i].hex[0]) rc = tr_store_set_content_hash(st, q->v[i].version, q->v[i].hex);
        rc = rc == 0 ? tr_store_commit(st) : (tr_store_rollback(st), rc);
    }
    tr_hashq_clear(q);
    return rc;
}
