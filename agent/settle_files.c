/* settle_files.c - files of killed processes: FILE_OPEN records no FILE settled, turned into
 * FILE_SETTLE records once their process is gone (fingerprints of writers taken then, bytes from
 * the process's counter file, common/fdctr.h, which the shim kept mapped). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "fdctr.h"
#include "record.h"
#include "spool.h"
#include "trail.h"
#include "util.h"

/* One FILE_OPEN waiting for the FILE of its close (or its image's PROC_END). */
typedef struct sopen {
    char stream[33], run[33];
    int64_t pid, seq, flags, start_ns, open_size;
    tr_fingerprint fp;
    int has_fp;
    char *path;
} sopen;

/* A process's counter file: removed once the process is gone (it removes it itself when it
 * ends on its own: its PROC_END of kind exit or signal). */
typedef struct scnt {
    char stream[33];
    int64_t pid;
    int gone_seen; /* gone at a flush after which records were still read */
    char *path;
} scnt;

struct tr_settleq {
    sopen *v;
    size_t n, cap;
    scnt *c;
    size_t nc, capc;
    uint64_t noted; /* records seen since the last flush */
    /* the counter file of the process being settled, read once */
    int64_t cpid;
    tr_fdctr *ctr;
    size_t nctr;
};

tr_settleq *tr_settleq_new(void)
{
    return calloc(1, sizeof(tr_settleq));
}

void tr_settleq_free(tr_settleq *q)
{
    if (!q) return;
    for (size_t i = 0; i < q->n; i++)
        free(q->v[i].path);
    for (size_t i = 0; i < q->nc; i++)
        free(q->c[i].path);
    free(q->v);
    free(q->c);
    free(q->ctr);
    free(q);
}

static void drop(tr_settleq *q, size_t i)
{
    free(q->v[i].path);
    q->v[i] = q->v[--q->n];
}

/* Most recent first: a description is usually closed soon after it was opened. */
static long find(const tr_settleq *q, const char *stream, int64_t seq)
{
    for (size_t i = q->n; i-- > 0;)
        if (q->v[i].seq == seq && !strcmp(q->v[i].stream, stream)) return (long)i;
    return -1;
}

static int get_i64(const tr_rec *rec, uint16_t id, int64_t *v)
{
    return tr_rec_get_i64(rec, id, v) == 0;
}

/* `<the segment's directory>/<pid>.cnt`, remembered once per stream. */
static void note_counters(tr_settleq *q, const tr_seg_info *seg, int64_t pid)
{
    for (size_t i = q->nc; i-- > 0;)
        if (!strcmp(q->c[i].stream, seg->stream_id)) return;
    const char *slash = seg->path ? strrchr(seg->path, '/') : NULL;
    if (!slash) return;
    if (q->nc == q->capc) {
        size_t cap = q->capc ? q->capc * 2 : 16;
        scnt *g = realloc(q->c, cap * sizeof *g);
        if (!g) return;
        q->c = g;
        q->capc = cap;
    }
    scnt *c = &q->c[q->nc];
    size_t dl = (size_t)(slash - seg->path), n = dl + 32;
    if (!(c->path = malloc(n))) return;
    snprintf(c->path, n, "%.*s/%lld%s", (int)dl, seg->path, (long long)pid, TR_FDCTR_SUFFIX);
    snprintf(c->stream, sizeof c->stream, "%s", seg->stream_id);
    c->pid = pid;
    c->gone_seen = 0;
    q->nc++;
}

static const char *counters_of(const tr_settleq *q, int64_t pid)
{
    for (size_t i = q->nc; i-- > 0;)
        if (q->c[i].pid == pid) return q->c[i].path;
    return NULL;
}

static void note_open(tr_settleq *q, const tr_seg_info *seg, const tr_rec *rec, const char *run)
{
    int64_t seq;
    const char *p;
    size_t n;
    if (!get_i64(rec, TR_F_SEQ, &seq) || tr_rec_get_str(rec, TR_F_PATH, &p, &n) != 0 || !n) return;
    if (find(q, seg->stream_id, seq) >= 0) return; /* delivered again after a failed batch */
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 64;
        sopen *g = realloc(q->v, cap * sizeof *g);
        if (!g) return;
        q->v = g;
        q->cap = cap;
    }
    sopen *o = &q->v[q->n];
    memset(o, 0, sizeof *o);
    if (!(o->path = malloc(n + 1))) return;
    memcpy(o->path, p, n);
    o->path[n] = 0;
    snprintf(o->stream, sizeof o->stream, "%s", seg->stream_id);
    snprintf(o->run, sizeof o->run, "%s", run);
    o->pid = seg->pid;
    get_i64(rec, TR_F_PID, &o->pid);
    note_counters(q, seg, o->pid);
    o->seq = seq;
    get_i64(rec, TR_F_FLAGS, &o->flags);
    if (!get_i64(rec, TR_F_START_NS, &o->start_ns)) o->start_ns = rec->time_ns;
    if (!get_i64(rec, TR_F_OPEN_SIZE, &o->open_size)) o->open_size = -1;
    int64_t dev = 0, ino, size, mtime;
    uint64_t udev;
    if (tr_rec_get_u64(rec, TR_F_DEV, &udev) == 0) dev = (int64_t)udev;
    uint64_t uino;
    if (tr_rec_get_u64(rec, TR_F_INO, &uino) == 0 && get_i64(rec, TR_F_SIZE, &size) &&
        get_i64(rec, TR_F_MTIME_NS, &mtime)) {
        ino = (int64_t)uino;
        o->fp = (tr_fingerprint){(uint64_t)dev, (uint64_t)ino, size, mtime};
        o->has_fp = 1;
    }
    q->n++;
}

void tr_settleq_note(tr_settleq *q, const tr_seg_info *seg, const tr_rec *rec, const char *run)
{
    if (!q) return;
    q->noted++;
    int64_t seq;
    if (rec->type == TR_REC_FILE_OPEN) {
        note_open(q, seg, rec, run);
    } else if (rec->type == TR_REC_FILE && get_i64(rec, TR_F_OPEN_SEQ, &seq)) {
        long i = find(q, seg->stream_id, seq);
        if (i >= 0) drop(q, (size_t)i);
    } else if (rec->type == TR_REC_PROC_END) {
        /* every way an image ends on its own records its open files first (exit, exec, a
         * crash): what is left of it was handed over to the next image, or was never open */
        int64_t pid = seg->pid; /* a forked child's end can come in its parent's stream */
        get_i64(rec, TR_F_PID, &pid);
        for (size_t i = q->n; i-- > 0;)
            if (q->v[i].pid == pid && !strcmp(q->v[i].stream, seg->stream_id)) drop(q, i);
        const char *kind;
        size_t kn;
        int exec = tr_rec_get_str(rec, TR_F_KIND, &kind, &kn) == 0 && kn == 4 &&
                   !memcmp(kind, "exec", 4); /* the next image makes its own counter file */
        for (size_t i = q->nc; i-- > 0 && !exec;)
            if (q->c[i].pid == pid && !strcmp(q->c[i].stream, seg->stream_id)) {
                free(q->c[i].path);
                q->c[i] = q->c[--q->nc];
            }
    }
}

/* The counters of pid's open descriptions as its counter file has them (read once per process);
 * the entry of the open seq made at start_ns, or NULL. */
static const tr_fdctr *counters(tr_settleq *q, int64_t pid, int64_t seq, int64_t start_ns)
{
    if (q->cpid != pid) {
        q->cpid = pid;
        q->nctr = 0;
        const char *path = counters_of(q, pid);
        if (!q->ctr) q->ctr = malloc(TR_FDCTR_N * sizeof *q->ctr);
        FILE *f = path && q->ctr ? fopen(path, "rb") : NULL;
        if (f) {
            q->nctr = fread(q->ctr, sizeof *q->ctr, TR_FDCTR_N, f);
            fclose(f);
        }
    }
    for (size_t i = 0; i < q->nctr; i++)
        if (q->ctr[i].oseq == seq && q->ctr[i].start_ns == start_ns) return &q->ctr[i];
    return NULL;
}

/* 1 when process pid no longer runs: gone, or a zombie waiting for its parent. */
static int gone(int64_t pid)
{
    if (pid <= 0) return 0;
    if (kill((pid_t)pid, 0) != 0) return errno == ESRCH;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%lld/stat", (long long)pid);
    long n = tr_read_file(path, buf, sizeof buf);
    if (n <= 0) return 0;
    const char *rp = strrchr(buf, ')');
    return rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
}

/* The FILE_SETTLE of one open: an input keeps its fingerprint at open; a writer gets the one
 * the path has now, and the growth since open as its bytes. */
static int settle(tr_enrich *e, const sopen *o, const tr_fdctr *c)
{
    uint8_t buf[4096 + 512];
    tr_enc enc;
    int64_t now = tr_now_ns();
    int acc = (int)(o->flags & 3), writable = acc != 0; /* O_RDONLY is 0 */
    struct stat sb;
    int have = writable && stat(o->path, &sb) == 0 && S_ISREG(sb.st_mode);
    if (writable && !have) return 0; /* removed before the end (a temporary): nothing left */
    tr_fingerprint now_fp = {0};
    if (have) {
        now_fp = (tr_fingerprint){(uint64_t)sb.st_dev, (uint64_t)sb.st_ino, (int64_t)sb.st_size,
                                  (int64_t)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec};
        /* opened read-write and left as it was: an input of its version at open */
        if (acc == 2 && o->has_fp && o->fp.ino == now_fp.ino && o->fp.size == now_fp.size &&
            o->fp.mtime_ns == now_fp.mtime_ns)
            writable = 0;
    }
    if (!writable && acc == 0 && !o->has_fp) return 0; /* a directory or not a regular file */
    const tr_fingerprint *f = writable ? &now_fp : o->has_fp ? &o->fp : NULL;
    int64_t wrote = 0;
    if (c) { /* what the process counted, up to its last call */
        wrote = (int64_t)c->wr;
    } else if (writable) { /* no counters: the growth since open */
        wrote = now_fp.size - (o->open_size >= 0 ? o->open_size : 0);
        if (wrote < 0) wrote = 0;
    }
    tr_enc_init(&enc, buf, sizeof buf, TR_REC_FILE_SETTLE, now);
    tr_enc_str(&enc, TR_F_PATH, o->path);
    tr_enc_i64(&enc, TR_F_FLAGS, o->flags);
    tr_enc_i64(&enc, TR_F_PID, o->pid);
    tr_enc_i64(&enc, TR_F_OPEN_SEQ, o->seq);
    tr_enc_str(&enc, TR_F_ROLE, writable ? "output" : "input");
    tr_enc_i64(&enc, TR_F_START_NS, o->start_ns);
    tr_enc_i64(&enc, TR_F_END_NS, now);
    tr_enc_str(&enc, TR_F_ENDED, "killed");
    tr_enc_u64(&enc, TR_F_BYTES_READ, c ? c->rd : 0);
    if (writable) tr_enc_u64(&enc, TR_F_BYTES_WRITTEN, (uint64_t)wrote);
    if (f) {
        tr_enc_u64(&enc, TR_F_DEV, f->dev);
        tr_enc_u64(&enc, TR_F_INO, f->ino);
        tr_enc_i64(&enc, TR_F_SIZE, f->size);
        tr_enc_i64(&enc, TR_F_MTIME_NS, f->mtime_ns);
    }
    if (o->open_size >= 0) tr_enc_i64(&enc, TR_F_OPEN_SIZE, o->open_size);
    tr_enc_str(&enc, TR_F_SOURCE, "agent");
    return tr_enrich_emit(e, o->run, &enc);
}

int tr_settleq_flush(tr_settleq *q, tr_enrich *e)
{
    if (!q) return 0;
    if (q->n == 0 && q->nc == 0) {
        q->noted = 0;
        return 0;
    }
    int rc = 0;
    /* one liveness check per process, not per open */
    int64_t last_pid = -1;
    int last_gone = 0;
    for (size_t i = q->n; i-- > 0;) {
        sopen *o = &q->v[i];
        if (o->pid != last_pid) {
            last_pid = o->pid;
            last_gone = gone(o->pid);
        }
        if (!last_gone) continue;
        int r = settle(e, o, counters(q, o->pid, o->seq, o->start_ns));
        if (r && !rc) rc = r;
        drop(q, i);
    }
    q->cpid = 0;
    /* Counter files of processes that are gone, once every record of theirs was read: after a
     * flush that read nothing new, or at the flush after the one that first saw them gone (a
     * process that died while its segment was being read has the rest read by then). */
    for (size_t i = q->nc; i-- > 0;) {
        if (!gone(q->c[i].pid)) continue;
        if (q->noted && !q->c[i].gone_seen) {
            q->c[i].gone_seen = 1;
            continue;
        }
        unlink(q->c[i].path);
        free(q->c[i].path);
        q->c[i] = q->c[--q->nc];
    }
    q->noted = 0;
    return rc;
}
