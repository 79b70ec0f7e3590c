/* spool.c - spool segments: creation, lock-free append, and the tailing reader. */
#include "spool.h"

#include <dirent.h>
#include <stddef.h>
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

/* The host name, asked once per process (a uname per segment otherwise). */
static void host_name(char host[64])
{
    static char cached[64];
    static pid_t cached_pid;
    pid_t pid = getpid();
    if (__atomic_load_n(&cached_pid, __ATOMIC_ACQUIRE) != pid) {
        char h[64] = {0};
        tr_hostname(h, sizeof h);
        memcpy(cached, h, sizeof cached);
        __atomic_store_n(&cached_pid, pid, __ATOMIC_RELEASE);
    }
    memcpy(host, cached, 64);
}

/* A segment's header, the magic last: a reader of a slab slot takes the slot once it sees it. */
static void write_header(tr_seg *seg, const char *run_id, pid_t pid)
{
    uint8_t *h = seg->base;
    tr_put_u32(h + TR_SEG_OFF_VERSION, TR_SEG_VERSION);
    tr_put_u32(h + TR_SEG_OFF_HDRSIZE, TR_SEG_HDR_SIZE);
    tr_put_u32(h + TR_SEG_OFF_CAP, seg->cap);
    tr_put_u64(h + TR_SEG_OFF_PID, (uint64_t)pid);
    tr_put_u64(h + TR_SEG_OFF_CREATED, (uint64_t)tr_now_ns());
    memcpy(h + TR_SEG_OFF_STREAM, seg->stream_id, TR_ID_LEN);
    memcpy(h + TR_SEG_OFF_RUN, run_id, TR_ID_LEN);
    char host[64];
    host_name(host);
    memcpy(h + TR_SEG_OFF_HOST, host, sizeof host);
    __atomic_store_n(word_at(h, TR_SEG_OFF_TAIL), TR_SEG_HDR_SIZE, __ATOMIC_RELEASE);
    uint64_t magic;
    memcpy(&magic, TR_SEG_MAGIC, 8);
    __atomic_store_n((uint64_t *)(void *)h, magic, __ATOMIC_RELEASE);
}

/* Clears a tr_seg except its 4 KiB path (no page of it touched that is not written). */
static void seg_init(tr_seg *seg)
{
    memset(seg, 0, offsetof(tr_seg, path));
    seg->path[0] = 0;
}

int tr_seg_create(tr_seg *seg, const char *dir, const char *run_id, uint32_t cap)
{
    pid_t pid = getpid();
    char tmp[4096], name[128];
    int fd = -1, rc = TRAIL_EIO;
    seg_init(seg);
    if (cap < TR_SEG_MIN_CAP || cap > TR_SEG_MAX_CAP) cap = TR_SEG_DEFAULT_CAP;
    cap &= ~7u;
    if (!run_id || strlen(run_id) != TR_ID_LEN) return TRAIL_EINVAL;
    tr_random_hex(seg->stream_id, 16);
    snprintf(name, sizeof name, ".%d-%s.tmp", (int)pid, seg->stream_id);
    if (tr_path_join(tmp, sizeof tmp, dir, name) != 0) return TRAIL_ETOOBIG;
    snprintf(name, sizeof name, "%d-%s.seg", (int)pid, seg->stream_id);
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
    write_header(seg, run_id, pid);
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

/* ---- the run's slab: first segments without a file each ---- */

static uint32_t *slab_owner(uint8_t *base, uint32_t i)
{
    return word_at(base, TR_SLAB_OFF_OWNERS + 4 * i);
}

int tr_slab_create(const char *dir, const char *run_id, uint32_t nslots, uint32_t slot_size)
{
    char path[4200], tmp[4200];
    if (!run_id || strlen(run_id) != TR_ID_LEN || nslots == 0 || nslots > TR_SLAB_MAX_SLOTS ||
        slot_size < 8192 || slot_size % 4096 || slot_size > (1u << 20))
        return TRAIL_EINVAL; /* at most 1008 MiB and 4 KiB: offsets fit 32 bits */
    if (tr_path_join(path, sizeof path, dir, TR_SLAB_NAME) != 0 ||
        tr_path_join(tmp, sizeof tmp, dir, "." TR_SLAB_NAME ".tmp") != 0)
        return TRAIL_ETOOBIG;
    uint64_t size = TR_SLAB_HDR_SIZE + (uint64_t)nslots * slot_size;
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return TRAIL_EIO;
    int rc = posix_fallocate(fd, 0, (off_t)size);
    if (rc == EOPNOTSUPP || rc == EINVAL) { /* no fallocate here: every byte written */
        rc = write_zeros(fd, 0, (uint32_t)size);
    } else if (rc != 0) {
        rc = rc == ENOSPC ? TRAIL_ENOSPC : TRAIL_EIO;
    }
    uint8_t h[TR_SLAB_HDR_SIZE];
    memset(h, 0, sizeof h);
    memcpy(h, TR_SLAB_MAGIC, 8);
    tr_put_u32(h + TR_SLAB_OFF_VERSION, TR_SLAB_VERSION);
    tr_put_u32(h + TR_SLAB_OFF_NSLOTS, nslots);
    tr_put_u32(h + TR_SLAB_OFF_SLOTSZ, slot_size);
    memcpy(h + TR_SLAB_OFF_RUN, run_id, TR_ID_LEN);
    if (rc == 0 && pwrite(fd, h, sizeof h, 0) != (ssize_t)sizeof h) rc = TRAIL_EIO;
    /* the first page of the first slots (claims are first fit) in the page cache now: a
     * process's first append there takes a minor fault, not one that allocates the page; the
     * reader's zeroing keeps a reused slot's pages cached. Not all 512: a pwrite each. */
    for (uint32_t i = 0; rc == 0 && i < nslots && i < TR_SLAB_WARM; i++) {
        uint64_t off = TR_SLAB_HDR_SIZE + (uint64_t)i * slot_size;
        if (pwrite(fd, zero, 4096, (off_t)off) != 4096) rc = TRAIL_EIO;
    }
    close(fd);
    if (rc == 0 && rename(tmp, path) != 0) rc = TRAIL_EIO;
    if (rc) unlink(tmp);
    return rc;
}

int tr_slab_map(tr_slab *slab, const char *dir, const char *run_id)
{
    char path[4200];
    memset(slab, 0, sizeof *slab);
    if (tr_path_join(path, sizeof path, dir, TR_SLAB_NAME) != 0) return TRAIL_ENOTFOUND;
    int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return TRAIL_ENOTFOUND;
    struct stat st;
    int ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
             st.st_size >= (off_t)TR_SLAB_HDR_SIZE;
    void *m =
        ok ? mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
    close(fd);
    if (m == MAP_FAILED) return TRAIL_ENOTFOUND;
    uint8_t *b = m;
    uint32_t n = tr_get_u32(b + TR_SLAB_OFF_NSLOTS), sz = tr_get_u32(b + TR_SLAB_OFF_SLOTSZ);
    if (memcmp(b, TR_SLAB_MAGIC, 8) != 0 ||
        tr_get_u32(b + TR_SLAB_OFF_VERSION) != TR_SLAB_VERSION || n == 0 || n > TR_SLAB_MAX_SLOTS ||
        sz < 8192 || sz % 4096 || sz > (1u << 20) ||
        TR_SLAB_HDR_SIZE + (uint64_t)n * sz != (uint64_t)st.st_size ||
        memcmp(b + TR_SLAB_OFF_RUN, run_id, TR_ID_LEN) != 0) {
        munmap(m, (size_t)st.st_size);
        return TRAIL_ENOTFOUND;
    }
    /* a slot is touched page by page as it fills: no read-around */
    madvise(m, (size_t)st.st_size, MADV_RANDOM);
    slab->base = b;
    slab->size = (size_t)st.st_size;
    slab->nslots = n;
    slab->slot_size = sz;
    return 0;
}

void tr_slab_unmap(tr_slab *slab)
{
    if (slab->base) munmap(slab->base, slab->size);
    memset(slab, 0, sizeof *slab);
}

int tr_seg_claim(tr_seg *seg, tr_slab *slab, const char *run_id)
{
    seg_init(seg);
    if (!slab->base || !run_id || strlen(run_id) != TR_ID_LEN) return TRAIL_ENOSPC;
    uint32_t *flags = word_at(slab->base, TR_SLAB_OFF_FLAGS);
    if (__atomic_load_n(flags, __ATOMIC_SEQ_CST) & TR_SLAB_F_RETIRED) return TRAIL_ENOSPC;
    pid_t pid = getpid();
    for (uint32_t k = 0; k < slab->nslots; k++) {
        uint32_t i = k; /* first fit: the slots in use stay few and their pages warm */
        uint32_t *owner = slab_owner(slab->base, i), free_ = 0;
        if (__atomic_load_n(owner, __ATOMIC_RELAXED) != 0 ||
            !__atomic_compare_exchange_n(owner, &free_, (uint32_t)pid, 0, __ATOMIC_SEQ_CST,
                                         __ATOMIC_RELAXED))
            continue;
        /* against a reader retiring the slab: it sets the flag, then finds every slot free
         * before removing the file; this claim is seen by it, or sees the flag */
        if (__atomic_load_n(flags, __ATOMIC_SEQ_CST) & TR_SLAB_F_RETIRED) {
            __atomic_store_n(owner, 0, __ATOMIC_RELEASE);
            return TRAIL_ENOSPC;
        }
        seg->base = slab->base + TR_SLAB_HDR_SIZE + (size_t)i * slab->slot_size;
        seg->cap = slab->slot_size;
        seg->in_slab = 1;
        tr_random_hex(seg->stream_id, 16);
        /* "slab.pool#<i>", without snprintf (its pages are faulted by no other start code) */
        char num[12];
        int k = 0;
        for (uint32_t v = i;; v /= 10) {
            num[k++] = (char)('0' + v % 10);
            if (v < 10) break;
        }
        size_t nl = sizeof TR_SLAB_NAME - 1;
        memcpy(seg->path, TR_SLAB_NAME "#", nl + 1);
        while (k)
            seg->path[++nl] = num[--k];
        seg->path[nl + 1] = 0;
        write_header(seg, run_id, pid);
        return 0;
    }
    return TRAIL_ENOSPC;
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
    /* a slot: the writer lets go of it here; the reader frees it once its records are stored */
    __atomic_or_fetch(word_at(seg->base, TR_SEG_OFF_FLAGS), TR_SEG_F_CLOSED, __ATOMIC_RELEASE);
    if (!seg->in_slab) munmap(seg->base, seg->cap);
    seg->base = NULL;
}

void tr_seg_forget(tr_seg *seg)
{
    if (seg->base && !seg->in_slab) munmap(seg->base, seg->cap);
    seg->base = NULL;
}

int tr_seg_sync(tr_seg *seg)
{
    if (!seg->base) return TRAIL_ECLOSED;
    return msync(seg->base, seg->cap, MS_SYNC) == 0 ? 0 : TRAIL_EIO; /* slots: page-aligned */
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
    int slot;    /* a slot of the run's slab (base inside the reader's mapping of it), else -1 */
} rseg;

struct tr_spool_reader {
    char dir[4096];
    char run[33];      /* the directory's name when it is a run id: the run of every record */
    int64_t owner_uid; /* uid owning the directory: the only writer whose segments count */
    rseg *segs;
    int nsegs, capsegs;
    tr_spool_stats stats;
    /* the run's slab (TR_SLAB_NAME), mapped once it is there; slab_rw: this reader frees slots */
    uint8_t *slab;
    size_t slab_size;
    uint32_t nslots, slot_size;
    int slab_rw, slab_gone;
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
        if (r->segs[i].base && r->segs[i].slot < 0) munmap(r->segs[i].base, r->segs[i].cap);
    if (r->slab) munmap(r->slab, r->slab_size);
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

static rseg *new_rseg(tr_spool_reader *r)
{
    if (r->nsegs == r->capsegs) {
        int nc = r->capsegs ? r->capsegs * 2 : 16;
        rseg *n = realloc(r->segs, (size_t)nc * sizeof *n);
        if (!n) return NULL;
        r->segs = n;
        r->capsegs = nc;
    }
    rseg *s = &r->segs[r->nsegs];
    memset(s, 0, sizeof *s);
    s->slot = -1;
    return s;
}

static void load_segment(tr_spool_reader *r, const char *name)
{
    for (int i = 0; i < r->nsegs; i++) {
        const char *base = strrchr(r->segs[i].path, '/');
        if (base && strcmp(base + 1, name) == 0) return;
    }
    rseg *s = new_rseg(r);
    if (!s) return;
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

/* ---- the slab: each claimed slot is a segment of its own ---- */

static uint32_t slab_owner_of(const tr_spool_reader *r, uint32_t i)
{
    return __atomic_load_n(slab_owner(r->slab, i), __ATOMIC_SEQ_CST);
}

static uint8_t *slot_base(const tr_spool_reader *r, uint32_t i)
{
    return r->slab + TR_SLAB_HDR_SIZE + (size_t)i * r->slot_size;
}

/* Maps the run's slab once it is there (trail run makes it before CMD starts). Refused like a
 * segment when it is not the directory owner's (or ours) or names another run. */
static void load_slab(tr_spool_reader *r)
{
    char path[4200];
    if (r->slab || r->slab_gone || tr_path_join(path, sizeof path, r->dir, TR_SLAB_NAME) != 0)
        return;
    int rw = 1, fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == EACCES) {
        rw = 0;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    }
    if (fd < 0) return;
    struct stat st;
    uint8_t h[TR_SLAB_HDR_SIZE];
    const char *why = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        why = "not a regular file";
    else if ((int64_t)st.st_uid != r->owner_uid && st.st_uid != geteuid())
        why = "its owner does not own the run directory";
    else if (pread(fd, h, sizeof h, 0) != (ssize_t)sizeof h || memcmp(h, TR_SLAB_MAGIC, 8) != 0 ||
             tr_get_u32(h + TR_SLAB_OFF_VERSION) != TR_SLAB_VERSION)
        why = "no slab header";
    uint32_t n = why ? 0 : tr_get_u32(h + TR_SLAB_OFF_NSLOTS);
    uint32_t sz = why ? 0 : tr_get_u32(h + TR_SLAB_OFF_SLOTSZ);
    if (!why && (n == 0 || n > TR_SLAB_MAX_SLOTS || sz < 8192 || sz % 4096 || sz > (1u << 20) ||
                 TR_SLAB_HDR_SIZE + (uint64_t)n * sz != (uint64_t)st.st_size))
        why = "its size does not match its header";
    if (!why && r->run[0] && memcmp(h + TR_SLAB_OFF_RUN, r->run, TR_ID_LEN) != 0)
        why = "it names another run";
    void *m = MAP_FAILED;
    if (!why) {
        m = mmap(NULL, (size_t)st.st_size, PROT_READ | (rw ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
        if (m == MAP_FAILED) why = "it cannot be mapped";
    }
    close(fd);
    if (why) {
        fprintf(stderr,
                "trail: refused slab %s (uid %lld; run directory of uid %lld): %s; not "
                "stored\n",
                path, (long long)st.st_uid, (long long)r->owner_uid, why);
        r->stats.refused++;
        r->slab_gone = 1;
        return;
    }
    r->slab = m;
    r->slab_size = (size_t)st.st_size;
    r->nslots = n;
    r->slot_size = sz;
    r->slab_rw = rw;
}

/* Gives slot i back to writers: its bytes zeroed (the used part; all of it when damaged), then
 * its owner word cleared. Only once its writer let go of it (closed, or gone). */
static void free_slot(tr_spool_reader *r, uint32_t i, int all)
{
    uint8_t *b = slot_base(r, i);
    uint32_t end = r->slot_size;
    if (!all) {
        uint32_t t = __atomic_load_n(word_at(b, TR_SEG_OFF_TAIL), __ATOMIC_ACQUIRE);
        if (t >= TR_SEG_HDR_SIZE && t <= r->slot_size - TR_FRAME_HDR) end = t + TR_FRAME_HDR;
    }
    memset(b, 0, end);
    __atomic_store_n(slab_owner(r->slab, i), 0, __ATOMIC_SEQ_CST);
}

static int pid_gone(uint32_t pid)
{
    return pid == 0 || pid > 0x7fffffff || (kill((pid_t)pid, 0) != 0 && errno == ESRCH);
}

/* A slot's segment, once its claimer wrote the header (the magic last). */
static void load_slot(tr_spool_reader *r, uint32_t i)
{
    uint8_t *b = slot_base(r, i);
    uint64_t magic, want;
    memcpy(&want, TR_SEG_MAGIC, 8);
    magic = __atomic_load_n((uint64_t *)(void *)b, __ATOMIC_ACQUIRE);
    if (magic != want) { /* being set up, or its claimer died before the header was written */
        uint32_t owner = slab_owner_of(r, i);
        if (r->slab_rw && pid_gone(owner) &&
            __atomic_load_n((uint64_t *)(void *)b, __ATOMIC_ACQUIRE) != want)
            free_slot(r, i, 1);
        return;
    }
    char stream[TR_ID_LEN + 1];
    memcpy(stream, b + TR_SEG_OFF_STREAM, TR_ID_LEN);
    stream[TR_ID_LEN] = 0;
    for (int k = 0; k < r->nsegs; k++)
        if (r->segs[k].slot == (int)i && !strcmp(r->segs[k].stream_id, stream)) return;
    rseg *s = new_rseg(r);
    if (!s) return;
    r->nsegs++;
    s->slot = (int)i;
    char name[128];
    snprintf(name, sizeof name, "%s#%u:%s", TR_SLAB_NAME, i, stream);
    tr_path_join(s->path, sizeof s->path, r->dir, name); /* r->dir fits: the slab's path did */
    memcpy(s->stream_id, stream, sizeof stream);
    char named[TR_ID_LEN + 1];
    memcpy(named, b + TR_SEG_OFF_RUN, TR_ID_LEN);
    named[TR_ID_LEN] = 0;
    if (tr_get_u32(b + TR_SEG_OFF_VERSION) != TR_SEG_VERSION ||
        tr_get_u32(b + TR_SEG_OFF_HDRSIZE) != TR_SEG_HDR_SIZE ||
        tr_get_u32(b + TR_SEG_OFF_CAP) != r->slot_size || !tr_is_hex_id(stream) ||
        !tr_is_hex_id(named)) {
        s->bad = s->eof = 1;
        r->stats.corrupt++;
        return;
    }
    if (r->run[0] && strcmp(named, r->run) != 0) {
        fprintf(stderr, "trail: refused segment %s: it names another run; not stored\n", s->path);
        s->bad = s->eof = 1;
        r->stats.refused++;
        return;
    }
    s->base = b;
    s->cap = r->slot_size;
    s->pid = (int64_t)tr_get_u64(b + TR_SEG_OFF_PID);
    memcpy(s->run_id, r->run[0] ? (const uint8_t *)r->run : b + TR_SEG_OFF_RUN, TR_ID_LEN);
    memcpy(s->host, b + TR_SEG_OFF_HOST, 64);
    s->pos = s->committed_pos = TR_SEG_HDR_SIZE;
}

static void scan_slab(tr_spool_reader *r)
{
    load_slab(r);
    if (!r->slab) return;
    for (uint32_t i = 0; i < r->nslots; i++)
        if (slab_owner_of(r, i)) load_slot(r, i);
}

static void scan(tr_spool_reader *r)
{
    scan_slab(r);
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

/* A slot whose records are all stored: its damaged frames kept in a file of their own (as a
 * damaged segment file is), then the slot freed, or remembered as done by a reader that may not
 * write the slab. Not before its writer let go of it: a thread of the writer may still be inside
 * an append there (sealed slots end with END before they are closed). */
static int finish_slot(tr_spool_reader *r, rseg *s)
{
    if (!writer_gone(s)) return 0;
    if (s->damaged) {
        char kept[4300];
        snprintf(kept, sizeof kept, "%s/%lld-%s.seg.corrupt", r->dir, (long long)s->pid,
                 s->stream_id);
        tr_write_file(kept, (const char *)s->base, s->cap, 0600);
    }
    if (r->slab_rw) free_slot(r, (uint32_t)s->slot, s->damaged);
    s->base = NULL;
    return 1;
}

int tr_spool_reader_commit(tr_spool_reader *r)
{
    int j = 0;
    for (int i = 0; i < r->nsegs; i++) {
        rseg *s = &r->segs[i];
        s->committed_pos = s->pos;
        if (s->slot >= 0) {
            if (s->eof && !s->bad && !s->removed && finish_slot(r, s)) {
                s->removed = 1;
                r->stats.segments_done++;
            }
            /* freed: the slot's next claim is a new stream; not freed (a read-only reader): kept,
             * so that the slot is not read again */
            if (s->removed && r->slab_rw) continue;
            r->segs[j++] = *s;
            continue;
        }
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

/* Claimed slots this reader has no segment for yet (a claimer writing its header). */
static int slots_claimed_unread(const tr_spool_reader *r)
{
    int n = 0;
    for (uint32_t i = 0; r->slab && i < r->nslots; i++) {
        if (!slab_owner_of(r, i)) continue;
        int known = 0;
        for (int k = 0; k < r->nsegs && !known; k++)
            known = r->segs[k].slot == (int)i && !r->segs[k].removed;
        n += !known;
    }
    return n;
}

/* Nothing else pending: the slab is retired (a process that still has it mapped makes a file
 * instead of claiming) and removed once every slot is free. Claims race with this by the
 * store-then-load of tr_seg_claim. */
static int retire_slab(tr_spool_reader *r)
{
    if (!r->slab || !r->slab_rw) return 0;
    __atomic_or_fetch(word_at(r->slab, TR_SLAB_OFF_FLAGS), TR_SLAB_F_RETIRED, __ATOMIC_SEQ_CST);
    int busy = 0;
    for (uint32_t i = 0; i < r->nslots; i++)
        busy += slab_owner_of(r, i) != 0;
    if (busy) return busy;
    char path[4200];
    if (tr_path_join(path, sizeof path, r->dir, TR_SLAB_NAME) == 0 &&
        (unlink(path) == 0 || errno == ENOENT)) {
        munmap(r->slab, r->slab_size);
        r->slab = NULL;
        r->slab_gone = 1;
    }
    return 0;
}

int tr_spool_reader_pending(tr_spool_reader *r)
{
    scan(r);
    int n = 0;
    for (int i = 0; i < r->nsegs; i++)
        if (!r->segs[i].bad && !r->segs[i].removed) n++;
    n += slots_claimed_unread(r);
    if (n == 0) n = retire_slab(r);
    return n;
}

int tr_spool_reader_live_writers(tr_spool_reader *r)
{
    int n = 0;
    for (int i = 0; i < r->nsegs; i++)
        if (!r->segs[i].bad && !r->segs[i].removed && !writer_gone(&r->segs[i])) n++;
    for (uint32_t i = 0; r->slab && i < r->nslots; i++) { /* claimers writing their header */
        uint32_t owner = slab_owner_of(r, i);
        int known = 0;
        for (int k = 0; owner && k < r->nsegs && !known; k++)
            known = r->segs[k].slot == (int)i && !r->segs[k].removed;
        n += owner && !known && !pid_gone(owner);
    }
    return n;
}

void tr_spool_reader_stats(const tr_spool_reader *r, tr_spool_stats *out)
{
    *out = r->stats;
}
