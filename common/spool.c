/* spool.c - spool segments: creation, lock-free append, and the tailing reader. */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "record.h"
#include "trail.h"
#include "util.h"

static inline uint32_t *word_at(uint8_t *base, uint32_t off)
{
    return (uint32_t *)(void *)(base + off);
}

static const char zero[65536];

/* Zeroes [off, end) with pwrite: ENOSPC, or the I/O error, is said here. */
static int write_zeros(int fd, uint32_t off, uint32_t end)
{
    while (off < end) {
        ssize_t w = pwrite(fd, zero, end - off < sizeof zero ? end - off : sizeof zero, off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return errno == ENOSPC ? TRAIL_ENOSPC : TRAIL_EIO;
        off += (uint32_t)w;
    }
    return 0;
}

static int reserve_space(int fd, uint32_t cap)
{
    /* Blocks are allocated now so that a full disk is an error here, never a SIGBUS later
     * inside the host program when it touches a page of a sparse file. */
    int rc = posix_fallocate(fd, 0, cap);
    if (rc != 0 && rc != EOPNOTSUPP && rc != EINVAL) {
        errno = rc;
        return rc == ENOSPC ? TRAIL_ENOSPC : TRAIL_EIO;
    }
    if (rc != 0) return write_zeros(fd, 0, cap);
    /* A segment after a process's first is written full by its writer: its pages are put in
     * the page cache now, by pwrite, so that appending into the mapping takes a minor fault
     * per page (about 1-2 us here) instead of a fault that allocates and zeroes the page and
     * maps its block (7-13 us: 56 metric records a page made it most of trail_log_metric's
     * cost). The first segment (most processes record a start and an end only) keeps its
     * start cost: only its header page. */
    return write_zeros(fd, 0, cap > TR_SEG_FIRST_CAP ? cap : 4096);
}

int tr_seg_create(tr_seg *seg, const char *dir, const char *run_id, uint32_t cap)
{
    char tmp[4096], name[128];
    int fd = -1, rc = TRAIL_EIO;
    memset(seg, 0, sizeof *seg);
    if (cap < TR_SEG_MIN_CAP || cap > TR_SEG_MAX_CAP) cap = TR_SEG_DEFAULT_CAP;
    cap &= ~7u;
    if (!run_id || strlen(run_id) != TR_ID_LEN) return TRAIL_EINVAL;
    tr_random_hex(seg->stream_id, 16);
    snprintf(name, sizeof name, ".%d-%s.tmp", (int)getpid(), seg->stream_id);
    if (tr_path_join(tmp, sizeof tmp, dir, name) != 0) return TRAIL_ETOOBIG;
    snprintf(name, sizeof name, "%d-%s.seg", (int)getpid(), seg->stream_id);
    if (tr_path_join(seg->path, sizeof seg->path, dir, name) != 0) return TRAIL_ETOOBIG;

    fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return TRAIL_EIO;
    rc = reserve_space(fd, cap);
    if (rc) goto fail;
    seg->base = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (seg->base == MAP_FAILED) {
        seg->base = NULL;
        rc = TRAIL_EIO;
        goto fail;
    }
    /* Pages are touched one by one as frames are appended: without this a first touch reads
     * around (read_ahead_kb, 8 MiB on some disks) and zeroes pages nobody writes yet, the
     * largest cost of starting a process under trail (issue 15). */
    madvise(seg->base, cap, MADV_RANDOM);
    close(fd);
    fd = -1;
    seg->cap = cap;
    uint8_t *h = seg->base;
    memcpy(h, TR_SEG_MAGIC, 8);
    tr_put_u32(h + TR_SEG_OFF_VERSION, TR_SEG_VERSION);
    tr_put_u32(h + TR_SEG_OFF_HDRSIZE, TR_SEG_HDR_SIZE);
    tr_put_u32(h + TR_SEG_OFF_CAP, cap);
    tr_put_u64(h + TR_SEG_OFF_PID, (uint64_t)getpid());
    tr_put_u64(h + TR_SEG_OFF_CREATED, (uint64_t)tr_now_ns());
    memcpy(h + TR_SEG_OFF_STREAM, seg->stream_id, TR_ID_LEN);
    memcpy(h + TR_SEG_OFF_RUN, run_id, TR_ID_LEN);
    char host[64] = {0};
    tr_hostname(host, sizeof host);
    memcpy(h + TR_SEG_OFF_HOST, host, sizeof host);
    __atomic_store_n(word_at(h, TR_SEG_OFF_TAIL), TR_SEG_HDR_SIZE, __ATOMIC_RELEASE);
    if (rename(tmp, seg->path) != 0) {
        rc = TRAIL_EIO;
        goto fail;
    }
    return 0;
fail:
    if (fd >= 0) close(fd);
    if (seg->base) munmap(seg->base, cap);
    seg->base = NULL;
    unlink(tmp);
    return rc;
}

/* Reserves size bytes ending at or before limit; returns the frame offset or 0 when they do
 * not fit. Past the soft limit (soft) the segment stays open; past its end it is sealed. */
static uint32_t reserve(tr_seg *seg, uint32_t size, uint32_t limit, int soft)
{
    uint32_t *tailp = word_at(seg->base, TR_SEG_OFF_TAIL);
    for (;;) {
        uint32_t t = __atomic_load_n(tailp, __ATOMIC_ACQUIRE);
        if (t < TR_SEG_HDR_SIZE || t > seg->cap || (t & 7)) return 0; /* damaged: stop */
        if (t + TR_FRAME_HDR > seg->cap) return 0;
        uint32_t *w = word_at(seg->base, t);
        uint32_t cur = __atomic_load_n(w, __ATOMIC_ACQUIRE);
        if (cur == 0) {
            int fits = (uint64_t)t + size <= limit;
            if (!fits && soft) return 0; /* the reserve stays for start and end records */
            uint32_t want = fits ? (TR_FRAME_RESERVED | size) : TR_FRAME_END;
            if (__atomic_compare_exchange_n(w, &cur, want, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
                if (want == TR_FRAME_END) {
                    __atomic_store_n(&seg->sealed, 1, __ATOMIC_RELAXED);
                    return 0;
                }
                uint32_t expect = t; /* a failed CAS overwrites its expected value */
                __atomic_compare_exchange_n(tailp, &expect, t + size, 0, __ATOMIC_RELEASE,
                                            __ATOMIC_RELAXED);
                return t;
            }
        }
        if (cur == TR_FRAME_END) {
            __atomic_store_n(&seg->sealed, 1, __ATOMIC_RELAXED);
            return 0;
        }
        uint32_t csz = cur & TR_FRAME_SIZE_MASK;
        /* not a frame another writer reserved (bytes written over the mapping): stop here */
        if (!(cur & (TR_FRAME_RESERVED | TR_FRAME_COMMITTED)) || (cur & TR_FRAME_END) ||
            csz < TR_FRAME_HDR || (csz & 7) || csz > seg->cap - t)
            return 0;
        /* Another writer reserved t but has not advanced the tail yet: help it. */
        __atomic_compare_exchange_n(tailp, &t, t + csz, 0, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
    }
}

static int append(tr_seg *seg, const void *body, size_t len, int soft)
{
    if (!seg->base) return TRAIL_ECLOSED;
    if (len < TR_REC_HDR_SIZE || len > TR_REC_MAX_SIZE) return TRAIL_ETOOBIG;
    uint32_t size = (uint32_t)((TR_FRAME_HDR + len + 7) & ~(size_t)7);
    uint32_t limit = soft ? seg->cap - TR_SEG_RESERVE : seg->cap;
    if (size > seg->cap - TR_SEG_HDR_SIZE) return soft ? TRAIL_ENOSPC : TRAIL_ETOOBIG;
    uint32_t off = reserve(seg, size, limit, soft);
    if (off == 0) return TRAIL_ENOSPC;
    uint8_t *f = seg->base + off;
    tr_put_u32(f + 4, tr_crc32c(body, len));
    memcpy(f + TR_FRAME_HDR, body, len);
    __atomic_store_n(word_at(seg->base, off), TR_FRAME_COMMITTED | size, __ATOMIC_RELEASE);
    return 0;
}

int tr_seg_append(tr_seg *seg, const void *body, size_t len)
{
    return append(seg, body, len, 0);
}

int tr_seg_append_soft(tr_seg *seg, const void *body, size_t len)
{
    return append(seg, body, len, 1);
}

void tr_seg_seal(tr_seg *seg)
{
    /* a frame larger than any segment: reserve() writes END at the tail, after every frame
     * already reserved (and returns 0 at a damaged tail, which readers stop at anyway) */
    if (seg->base && !__atomic_load_n(&seg->sealed, __ATOMIC_RELAXED))
        reserve(seg, TR_FRAME_SIZE_MASK & ~7u, seg->cap, 0);
}

void tr_seg_close(tr_seg *seg)
{
    if (!seg->base) return;
    __atomic_or_fetch(word_at(seg->base, TR_SEG_OFF_FLAGS), TR_SEG_F_CLOSED, __ATOMIC_RELEASE);
    munmap(seg->base, seg->cap);
    seg->base = NULL;
}

void tr_seg_forget(tr_seg *seg)
{
    if (seg->base) munmap(seg->base, seg->cap);
    seg->base = NULL;
}

int tr_seg_sync(tr_seg *seg)
{
    if (!seg->base) return TRAIL_ECLOSED;
    return msync(seg->base, seg->cap, MS_SYNC) == 0 ? 0 : TRAIL_EIO;
}

/* ---- reader ---- */

typedef struct rseg {
    char path[4096];
    char stream_id[33], run_id[33], host[65];
    int64_t pid;
    uint8_t *base;
    uint32_t cap;
    uint32_t pos, committed_pos;
    uint32_t counted_pos; /* damage before this offset is counted already (a rewind rereads) */
    int eof;              /* nothing more will ever be read (finished or abandoned) */
    int bad;              /* header unusable: left on disk, ignored */
    int removed;          /* unlinked after its last record was committed */
    int damaged; /* frame chain broken: renamed to *.corrupt once its good records are stored */
} rseg;

struct tr_spool_reader {
    char dir[4096];
    char run[33];      /* the directory's name when it is a run id: the run of every record */
    int64_t owner_uid; /* uid owning the directory: the only writer whose segments count */
    rseg *segs;
    int nsegs, capsegs;
    tr_spool_stats stats;
};

int tr_spool_reader_open(const char *dir, tr_spool_reader **out)
{
    tr_spool_reader *r = calloc(1, sizeof *r);
    if (!r) return TRAIL_ENOMEM;
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    struct stat st;
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        free(r);
        return TRAIL_EIO; /* a run directory is a directory, never a link to one */
    }
    r->owner_uid = st.st_uid;
    const char *base = strrchr(r->dir, '/');
    base = base ? base + 1 : r->dir;
    if (tr_is_hex_id(base)) memcpy(r->run, base, TR_ID_LEN + 1);
    *out = r;
    return 0;
}

/* A segment joins the run only when its owner owns the run directory (or it is this reader's
 * own, an agent's enrichment stream) and it names this directory's run: else it is refused,
 * said once, kept on disk, never delivered. */
static int refuse(tr_spool_reader *r, rseg *s, const struct stat *st, const uint8_t *h)
{
    const char *why = NULL;
    char named[TR_ID_LEN + 1];
    memcpy(named, h + TR_SEG_OFF_RUN, TR_ID_LEN);
    named[TR_ID_LEN] = 0;
    if (!S_ISREG(st->st_mode))
        why = "not a regular file";
    else if ((int64_t)st->st_uid != r->owner_uid && st->st_uid != geteuid())
        why = "its owner does not own the run directory";
    else if (r->run[0] && strcmp(named, r->run) != 0)
        why = "it names another run";
    if (!why) return 0;
    fprintf(stderr,
            "trail: refused segment %s (uid %lld; run directory of uid %lld): %s; not stored\n",
            s->path, (long long)st->st_uid, (long long)r->owner_uid, why);
    s->bad = s->eof = 1;
    r->stats.refused++;
    return 1;
}

void tr_spool_reader_close(tr_spool_reader *r)
{
    if (!r) return;
    for (int i = 0; i < r->nsegs; i++)
        if (r->segs[i].base) munmap(r->segs[i].base, r->segs[i].cap);
    free(r->segs);
    free(r);
}

static int writer_gone(const rseg *s)
{
    uint32_t flags = __atomic_load_n(word_at(s->base, TR_SEG_OFF_FLAGS), __ATOMIC_ACQUIRE);
    if (flags & TR_SEG_F_CLOSED) return 1;
    if (s->pid <= 0 || s->pid > 0x7fffffff) return 1; /* kill() would see a group or -1 */
    return kill((pid_t)s->pid, 0) != 0 && errno == ESRCH;
}

static void load_segment(tr_spool_reader *r, const char *name)
{
    for (int i = 0; i < r->nsegs; i++) {
        const char *base = strrchr(r->segs[i].path, '/');
        if (base && strcmp(base + 1, name) == 0) return;
    }
    if (r->nsegs == r->capsegs) {
        int nc = r->capsegs ? r->capsegs * 2 : 16;
        rseg *n = realloc(r->segs, (size_t)nc * sizeof *n);
        if (!n) return;
        r->segs = n;
        r->capsegs = nc;
    }
    rseg *s = &r->segs[r->nsegs];
    memset(s, 0, sizeof *s);
    if (tr_path_join(s->path, sizeof s->path, r->dir, name) != 0) return;
    r->nsegs++;
    int fd = open(s->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    uint8_t h[TR_SEG_HDR_SIZE];
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < TR_SEG_HDR_SIZE ||
        pread(fd, h, sizeof h, 0) != (ssize_t)sizeof h || memcmp(h, TR_SEG_MAGIC, 8) != 0 ||
        tr_get_u32(h + TR_SEG_OFF_VERSION) != TR_SEG_VERSION ||
        tr_get_u32(h + TR_SEG_OFF_HDRSIZE) != TR_SEG_HDR_SIZE ||
        tr_get_u32(h + TR_SEG_OFF_CAP) != (uint64_t)st.st_size ||
        (tr_get_u32(h + TR_SEG_OFF_CAP) & 7)) {
        if (fd >= 0) close(fd);
        s->bad = s->eof = 1;
        r->stats.corrupt++;
        return;
    }
    if (refuse(r, s, &st, h)) {
        close(fd);
        return;
    }
    s->cap = tr_get_u32(h + TR_SEG_OFF_CAP);
    s->pid = (int64_t)tr_get_u64(h + TR_SEG_OFF_PID);
    memcpy(s->stream_id, h + TR_SEG_OFF_STREAM, TR_ID_LEN);
    memcpy(s->run_id, r->run[0] ? (const uint8_t *)r->run : h + TR_SEG_OFF_RUN, TR_ID_LEN);
    memcpy(s->host, h + TR_SEG_OFF_HOST, 64);
    s->base = mmap(NULL, s->cap, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (s->base == MAP_FAILED || !tr_is_hex_id(s->stream_id) || !tr_is_hex_id(s->run_id)) {
        if (s->base == MAP_FAILED) s->base = NULL;
        s->bad = s->eof = 1;
        r->stats.corrupt++;
        return;
    }
    s->pos = s->committed_pos = TR_SEG_HDR_SIZE;
}

static void scan(tr_spool_reader *r)
{
    DIR *d = opendir(r->dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n > 4 && strcmp(e->d_name + n - 4, ".seg") == 0 && e->d_name[0] != '.')
            load_segment(r, e->d_name);
    }
    closedir(d);
}

/* Reads committed frames of one segment; returns records delivered (*stopped set when cb
 * refused one). */

/* Counts damage at s->pos once: a rewound segment (a failed batch) passes it again. */
static void count_damage(rseg *s, uint64_t *counter)
{
    if (s->pos < s->counted_pos) return;
    (*counter)++;
    s->counted_pos = s->pos + 1;
}

static long read_segment(tr_spool_reader *r, rseg *s, tr_spool_cb cb, void *ctx, long max,
                         int *stopped)
{
    long n = 0;
    tr_seg_info info = {s->path, s->stream_id, s->run_id, s->host, s->pid, r->owner_uid};
    while (!s->eof && (max == 0 || n < max)) {
        if (s->pos + TR_FRAME_HDR > s->cap) {
            s->eof = 1;
            break;
        }
        uint32_t w = __atomic_load_n(word_at(s->base, s->pos), __ATOMIC_ACQUIRE);
        if (w == 0) {
            if (writer_gone(s)) {
                /* re-read: the writer may have committed just before closing */
                if (__atomic_load_n(word_at(s->base, s->pos), __ATOMIC_ACQUIRE) == 0) s->eof = 1;
                continue;
            }
            break;
        }
        if (w == TR_FRAME_END) { /* exactly the writer's marker: other bits are damage */
            s->eof = 1;
            break;
        }
        uint32_t size = w & TR_FRAME_SIZE_MASK;
        if ((w & TR_FRAME_END) || size < TR_FRAME_HDR + TR_REC_HDR_SIZE || (size & 7) ||
            size > s->cap - s->pos) {
            /* Bytes that are no frame (0xff written ahead of the writer): a live writer is
             * not past them yet or moves to a new segment there; wait until it is gone. */
            if (!writer_gone(s)) break;
            count_damage(s, &r->stats.corrupt); /* chain broken: keep the file for inspection */
            s->eof = 1;
            s->damaged = 1;
            break;
        }
        if (!(w & TR_FRAME_COMMITTED)) {
            if (!writer_gone(s)) break;
            count_damage(s, &r->stats.torn); /* the writer died between reserve and commit */
            s->pos += size;
            continue;
        }
        const uint8_t *f = s->base + s->pos;
        uint32_t blen = tr_get_u32(f + TR_FRAME_HDR + 4);
        if (blen < TR_REC_HDR_SIZE || blen > size - TR_FRAME_HDR ||
            tr_crc32c(f + TR_FRAME_HDR, blen) != tr_get_u32(f + 4)) {
            count_damage(s, &r->stats.corrupt);
            s->pos += size; /* the frame boundary is intact; only this record is lost */
            continue;
        }
        if (cb(ctx, &info, s->pos, f + TR_FRAME_HDR, blen) != 0) {
            *stopped = 1;
            break;
        }
        s->pos += size;
        n++;
        r->stats.records++;
    }
    return n;
}

long tr_spool_reader_poll(tr_spool_reader *r, tr_spool_cb cb, void *ctx, long max)
{
    scan(r);
    long total = 0;
    int stopped = 0;
    for (int i = 0; i < r->nsegs; i++) {
        rseg *s = &r->segs[i];
        if (s->eof || s->removed) continue;
        total += read_segment(r, s, cb, ctx, max ? max - total : 0, &stopped);
        if (stopped || (max && total >= max)) break;
    }
    return total;
}

int tr_spool_reader_commit(tr_spool_reader *r)
{
    int j = 0;
    for (int i = 0; i < r->nsegs; i++) {
        rseg *s = &r->segs[i];
        s->committed_pos = s->pos;
        if (s->eof && !s->bad && !s->removed) {
            char kept[4200];
            snprintf(kept, sizeof kept, "%s.corrupt", s->path);
            if ((s->damaged ? rename(s->path, kept) : unlink(s->path)) == 0 || errno == ENOENT) {
                s->removed = 1;
                r->stats.segments_done++;
            }
        }
        if (s->removed) {
            if (s->base) munmap(s->base, s->cap);
            continue; /* drop from the list: its name will not come back */
        }
        r->segs[j++] = *s;
    }
    r->nsegs = j;
    return 0;
}

void tr_spool_reader_refuse(tr_spool_reader *r, const char *path)
{
    for (int i = 0; i < r->nsegs; i++) {
        rseg *s = &r->segs[i];
        if (strcmp(s->path, path) || s->bad) continue;
        s->bad = s->eof = 1; /* kept on disk, never read again by this reader */
        r->stats.refused++;
    }
}

void tr_spool_reader_rewind(tr_spool_reader *r)
{
    for (int i = 0; i < r->nsegs; i++) {
        rseg *s = &r->segs[i];
        if (s->bad) continue;
        s->pos = s->committed_pos;
        s->eof = 0;
    }
}

int tr_spool_reader_pending(tr_spool_reader *r)
{
    scan(r);
    int n = 0;
    for (int i = 0; i < r->nsegs; i++)
        if (!r->segs[i].bad && !r->segs[i].removed) n++;
    return n;
}

int tr_spool_reader_live_writers(tr_spool_reader *r)
{
    int n = 0;
    for (int i = 0; i < r->nsegs; i++)
        if (!r->segs[i].bad && !r->segs[i].removed && !writer_gone(&r->segs[i])) n++;
    return n;
}

void tr_spool_reader_stats(const tr_spool_reader *r, tr_spool_stats *out)
{
    *out = r->stats;
}
