/* fdtable.c - fixed-size table of open file descriptions: fds -> slots, counters, FILE records. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "client.h"
#include "fdslot.h"

static slot slots[NSLOTS];
static uint64_t slot_used[NSLOTS / 64];
static uint16_t fd2slot[FD_MAX]; /* slot index + 1; 0: not tracked */
static int hi_fd = -1;
static int64_t seq_next; /* per-image order of FILE_OPEN, FILE and FILEOP records */

int64_t shim_seq(void)
{
    return __atomic_add_fetch(&seq_next, 1, __ATOMIC_RELAXED);
}
static char longpath[NLONG][4096];
static uint64_t long_used;

static void fp_from(fingerprint *f, const struct stat *st)
{
    f->dev = (uint64_t)st->st_dev;
    f->ino = (uint64_t)st->st_ino;
    f->size = (int64_t)st->st_size;
    f->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
    f->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000LL + st->st_ctim.tv_nsec;
    f->mode = st->st_mode;
}

const char *fd_slot_path(const slot *s)
{
    return s->longidx >= 0 ? longpath[s->longidx] : s->path;
}

static int slot_alloc(void)
{
    for (int w = 0; w < NSLOTS / 64; w++) {
        uint64_t cur = __atomic_load_n(&slot_used[w], __ATOMIC_RELAXED);
        while (cur != ~0ull) {
            int bit = __builtin_ctzll(~cur);
            if (__atomic_compare_exchange_n(&slot_used[w], &cur, cur | (1ull << bit), 0,
                                            __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
                return w * 64 + bit;
        }
    }
    return -1;
}

static void slot_free(int idx)
{
    slot *s = &slots[idx];
    if (s->longidx >= 0) __atomic_and_fetch(&long_used, ~(1ull << s->longidx), __ATOMIC_RELEASE);
    s->longidx = -1;
    s->kind = 0;
    __atomic_and_fetch(&slot_used[idx / 64], ~(1ull << (idx % 64)), __ATOMIC_RELEASE);
}

static int set_path(slot *s, const char *p, size_t len)
{
    s->longidx = -1;
    s->pathlen = (uint16_t)len;
    if (len < SHORT_PATH) {
        memcpy(s->path, p, len + 1);
        return 0;
    }
    uint64_t cur = __atomic_load_n(&long_used, __ATOMIC_RELAXED);
    while (cur != ~0ull) {
        int bit = __builtin_ctzll(~cur);
        if (__atomic_compare_exchange_n(&long_used, &cur, cur | (1ull << bit), 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED)) {
            s->longidx = (int16_t)bit;
            memcpy(longpath[bit], p, len + 1);
            return 0;
        }
    }
    return -1;
}

static void map_fd(int fd, int idx)
{
    __atomic_store_n(&fd2slot[fd], (uint16_t)(idx + 1), __ATOMIC_RELEASE);
    int h = __atomic_load_n(&hi_fd, __ATOMIC_RELAXED);
    while (fd > h &&
           !__atomic_compare_exchange_n(&hi_fd, &h, fd, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
}

/* Emits the FILE record of a description whose last reference in this image goes away. */
static void slot_emit(slot *s)
{
    if (s->kind != SLOT_FILE || (s->bits & B_ANON)) return; /* never named: nothing to say */
    if (s->agg) { /* one of repeated opens: its aggregate says it */
        fd_agg_leave(s);
        return;
    }
    uint64_t rd = __atomic_load_n(&s->c->rd, __ATOMIC_RELAXED);
    uint64_t wr = __atomic_load_n(&s->c->wr, __ATOMIC_RELAXED);
    int acc = s->flags & O_ACCMODE, writable = acc != O_RDONLY;
    if ((s->bits & B_STATLATER) && writable) {
        struct stat st;
        if (shim_stat(fd_slot_path(s), &st, 0) == 0) {
            fp_from(&s->cfp, &st);
            s->bits |= B_CLOSEFP;
        }
    }
    int changed = (s->bits & B_OPENFP) && (s->bits & B_CLOSEFP) &&
                  (s->fp.size != s->cfp.size || s->fp.mtime_ns != s->cfp.mtime_ns);
    /* created (O_EXCL) or emptied (O_TRUNC) by this image is a write even without bytes; so is
     * an O_CREAT open that found an empty file whose inode changed just then (sqlite's -wal,
     * ld's output): the file system's clock is coarse, 10 ms of it */
    int fresh = (s->flags & O_CREAT) && (s->bits & B_OPENFP) && s->fp.size == 0 &&
                s->start_ns - s->fp.ctime_ns < 10000000LL;
    int made = (s->flags & O_TRUNC) || ((s->flags & O_CREAT) && (s->flags & O_EXCL)) || fresh ||
               (s->bits & B_CREATED);
    int wrote = wr > 0 || (s->bits & B_TRUNCATED) || changed ||
                (made && !(s->bits & (B_INHERITED | B_REPORTED)));
    if ((s->bits & (B_INHERITED | B_REPORTED)) && rd == 0 && !wrote) return;
    /* an input's version is the one it had at open; an output's the one it has at close */
    int input = !writable || (acc == O_RDWR && !wrote);
    const fingerprint *ofp = (s->bits & B_OPENFP) ? &s->fp : NULL;
    const fingerprint *cfp = (s->bits & B_CLOSEFP) ? &s->cfp : NULL;
    if (input) {
        fd_emit_file(s, "input", ofp, rd, 0, 0, 0);
        s->c->oseq = 0; /* settled */
        if (acc == O_RDONLY && ofp && !(s->bits & (B_ADOPTED | B_INHERITED | B_REPORTED)))
            fd_agg_closed(s); /* opened again, it joins an aggregate */
        return;
    }
    /* read and written: what it read at open is the version it had then (an input, unless the
     * run wrote that version itself: the store keeps such reads internal); what it left, the
     * output. What a read-write open read of a file it created or emptied, it wrote itself. */
    if (acc == O_RDWR && rd && !made && ofp && !(cfp && fp_same(ofp, cfp)))
        fd_emit_file(s, "input", ofp, rd, 0, 0, 0);
    fd_emit_file(s, "output", cfp, 0, wr, 0, 0);
    s->c->oseq = 0;
}

/* Takes what a record needs while the fd is still open: the fingerprint of a writer. */
static void slot_closing_fp(slot *s, int fd, int defer)
{
    if ((s->flags & O_ACCMODE) == O_RDONLY || s->kind != SLOT_FILE) return;
    if (defer) {
        s->bits |= B_STATLATER;
        return;
    }
    struct stat st;
    if (shim_fstat(fd, &st) == 0) {
        fp_from(&s->cfp, &st);
        s->bits |= B_CLOSEFP;
    }
}

int shim_fd_close_begin(int fd, int defer_fp)
{
    if ((unsigned)fd >= FD_MAX || !__atomic_load_n(&fd2slot[fd], __ATOMIC_RELAXED)) return 0;
    uint16_t v = __atomic_exchange_n(&fd2slot[fd], 0, __ATOMIC_ACQ_REL);
    if (!v) return 0;
    slot *s = &slots[v - 1];
    if (__atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) != 0) return 0;
    slot_closing_fp(s, fd, defer_fp);
    return v;
}

void shim_fd_close_end(int token)
{
    if (!token) return;
    slot_emit(&slots[token - 1]);
    slot_free(token - 1);
}

void shim_fd_close_abort(int fd, int token)
{
    if (!token || (unsigned)fd >= FD_MAX) return;
    slot *s = &slots[token - 1];
    s->bits &= (uint16_t) ~(B_CLOSEFP | B_STATLATER);
    __atomic_add_fetch(&s->refs, 1, __ATOMIC_ACQ_REL);
    map_fd(fd, token - 1);
}

void shim_fd_closing(int fd)
{
    shim_fd_close_end(shim_fd_close_begin(fd, 0));
}

/* The counters of slot idx: in the mapped file for a named file (so that they survive a kill),
 * else private. Zeroed; the FILE_OPEN's seq and time name the entry once it is written. */
static shim_ctr *ctr_for(int idx, int shared)
{
    shim_ctr *c = shared ? shim_ctr_shared(idx) : NULL;
    if (!c) c = shim_ctr_local(idx);
    c->oseq = 0;
    c->rd = c->wr = 0;
    return c;
}

static void ctr_name(shim_ctr *c, const slot *s)
{
    c->start_ns = s->start_ns;
    __atomic_store_n(&c->oseq, s->oseq, __ATOMIC_RELEASE);
}

static void track(int fd, const char *abs, int len, int flags, const fingerprint *st, int bits,
                  void *fp, int64_t open_size)
{
    int idx = slot_alloc();
    if (idx < 0) {
        __atomic_add_fetch(&shim_g.dropped, 1, __ATOMIC_RELAXED);
        return;
    }
    slot *s = &slots[idx];
    if (set_path(s, abs, (size_t)len) != 0) {
        slot_free(idx);
        __atomic_add_fetch(&shim_g.dropped, 1, __ATOMIC_RELAXED);
        return;
    }
    s->refs = 1;
    s->flags = flags;
    s->kind = (st && S_ISDIR(st->mode)) ? SLOT_DIR : SLOT_FILE;
    s->bits = (uint16_t)bits;
    int named = s->kind == SLOT_FILE && !(bits & B_ANON);
    s->c = ctr_for(idx, named);
    s->agg = 0;
    s->start_ns = shim_now();
    s->stream = fp;
    static unsigned opens;
    /* also for processes killed later: objects dlopen'd by a searched name, and every 1024 opens */
    if (UNLIKELY(__atomic_load_n(&shim_dlopen_pending, __ATOMIC_RELAXED)) ||
        (++opens & 1023) == 0) {
        __atomic_store_n(&shim_dlopen_pending, 0, __ATOMIC_RELAXED);
        shim_deps_scan("dlopen");
    }
    if (st) {
        s->fp = *st;
        s->bits |= B_OPENFP;
    }
    s->oseq = 0;
    int writable = (flags & O_ACCMODE) != O_RDONLY;
    if (writable) fd_agg_changed(); /* a version read before may not be the one of now */
    s->open_size = !writable ? -1 : (flags & O_TRUNC) ? 0 : st ? st->size : open_size;
    /* a read-only open of a version this image opened before joins that one's aggregate */
    int joined = named && !writable && !(bits & B_ADOPTED) && st && fd_agg_join(s);
    if (named && !joined) {
        s->oseq = fd_emit_open(s, s->open_size);
        ctr_name(s->c, s);
    }
    map_fd(fd, idx);
}

void shim_fd_opened(int fd, int dirfd, const char *path, int flags, void *fp)
{
    int created = flags & SHIM_O_CREATED ? B_CREATED : 0;
    flags &= ~SHIM_O_CREATED;
    if ((unsigned)fd >= FD_MAX) {
        __atomic_add_fetch(&shim_g.dropped, 1, __ATOMIC_RELAXED);
        return;
    }
    shim_fork_check();
    if (fd2slot[fd]) shim_fd_closing(fd); /* closed behind our back (raw syscall, libc) */
    char abs[4096];
    int len = shim_resolve(dirfd, path, abs, sizeof abs);
    if (len < 0) {
        __atomic_add_fetch(&shim_g.dropped, 1, __ATOMIC_RELAXED);
        return;
    }
    if (shim_excluded(abs, (size_t)len)) return;
    if ((flags & O_TMPFILE) == O_TMPFILE) { /* unnamed: the path is its directory, for now */
        track(fd, abs, len, (flags & ~O_TMPFILE) | O_CREAT | O_EXCL, NULL, B_ANON, fp, 0);
        return;
    }
    struct stat st;
    fingerprint f;
    int acc = flags & O_ACCMODE;
    if (acc == O_RDONLY && fd_agg_known(abs, len, flags, &f)) {
        track(fd, abs, len, flags, &f, B_KNOWN, fp, -1); /* opened again just now: no fstat */
    } else if (acc != O_WRONLY) {
        /* the fingerprint of an input, taken at open: the one extra syscall per open */
        if (shim_fstat(fd, &st) != 0) return;
        if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) return;
        if ((flags & O_PATH) && !S_ISDIR(st.st_mode)) return;
        fp_from(&f, &st);
        track(fd, abs, len, flags, &f, created, fp, -1);
    } else {
        /* a writer that keeps what was there (append logs): its size at open, so that bytes
         * written by a process killed before its close can be told from the file's growth */
        int64_t osz = -1;
        if (!(flags & O_TRUNC) && shim_fstat(fd, &st) == 0) osz = (int64_t)st.st_size;
        track(fd, abs, len, flags, NULL, created, fp, osz);
    }
}

void shim_fd_dup(int oldfd, int newfd)
{
    if ((unsigned)oldfd >= FD_MAX || (unsigned)newfd >= FD_MAX || oldfd == newfd) return;
    if (fd2slot[newfd]) shim_fd_closing(newfd);
    uint16_t v = __atomic_load_n(&fd2slot[oldfd], __ATOMIC_ACQUIRE);
    if (!v) return;
    __atomic_add_fetch(&slots[v - 1].refs, 1, __ATOMIC_ACQ_REL);
    map_fd(newfd, v - 1);
}

void shim_fd_count(int fd, ssize_t n, int write)
{
    if (n <= 0 || (unsigned)fd >= FD_MAX) return;
    uint16_t v = fd2slot[fd];
    if (!v) return;
    slot *s = &slots[v - 1];
    __atomic_add_fetch(write ? &s->c->wr : &s->c->rd, (uint64_t)n, __ATOMIC_RELAXED);
    if (write) fd_agg_changed();
}

/* An O_TMPFILE file got a name (linkat): its record will carry that name. */
void shim_fd_named(int fd, const char *path, size_t len)
{
    if ((unsigned)fd >= FD_MAX || !fd2slot[fd]) return;
    slot *s = &slots[fd2slot[fd] - 1];
    if (!(s->bits & B_ANON)) return;
    if (s->longidx >= 0) __atomic_and_fetch(&long_used, ~(1ull << s->longidx), __ATOMIC_RELEASE);
    if (set_path(s, path, len) == 0) s->bits &= (uint16_t)~B_ANON;
}

void shim_fd_set_stream(int fd, void *fp)
{
    if ((unsigned)fd < FD_MAX && fd2slot[fd]) slots[fd2slot[fd] - 1].stream = fp;
}

/* stdio: calls on one stream are serialised by its lock, and getc/putc count one byte a call:
 * no locked instruction here. */
void shim_fd_count_stream(int fd, long n, int write)
{
    if (n <= 0 || (unsigned)fd >= FD_MAX) return;
    uint16_t v = fd2slot[fd];
    if (!v) return;
    uint64_t *c = write ? &slots[v - 1].c->wr : &slots[v - 1].c->rd;
    if (write) fd_agg_changed();
    __atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + (uint64_t)n, __ATOMIC_RELAXED);
}

void shim_fd_mmap(int fd, int prot, int flags)
{
    (void)prot;
    (void)flags;
    if ((unsigned)fd >= FD_MAX || !fd2slot[fd]) return;
    __atomic_or_fetch(&slots[fd2slot[fd] - 1].bits, (uint16_t)B_MMAP, __ATOMIC_RELAXED);
}

void shim_fd_changed(void)
{
    fd_agg_changed();
}

void shim_fd_truncated(int fd)
{
    fd_agg_changed();
    if ((unsigned)fd >= FD_MAX || !fd2slot[fd]) return;
    __atomic_or_fetch(&slots[fd2slot[fd] - 1].bits, (uint16_t)B_TRUNCATED, __ATOMIC_RELAXED);
}

int shim_fd_path(int fd, char *out, size_t n)
{
    if ((unsigned)fd >= FD_MAX || !fd2slot[fd]) return -1;
    const slot *s = &slots[fd2slot[fd] - 1];
    if ((size_t)s->pathlen + 1 > n) return -1;
    memcpy(out, fd_slot_path(s), (size_t)s->pathlen + 1);
    return s->pathlen;
}

/* close_range and closefrom: fingerprints first (fds open), then the call, then records. */
int shim_fd_range_begin(unsigned first, unsigned last)
{
    int h = __atomic_load_n(&hi_fd, __ATOMIC_RELAXED), any = 0;
    for (int fd = (int)first; fd <= h && (unsigned)fd <= last; fd++) {
        int t = shim_fd_close_begin(fd, 0);
        if (t) {
            slots[t - 1].bits |= B_SURVIVE; /* reused as "closing in this range" */
            any = 1;
        }
    }
    return any;
}

void shim_fd_range_end(void)
{
    for (int i = 0; i < NSLOTS; i++)
        if ((slot_used[i / 64] & (1ull << (i % 64))) && (slots[i].bits & B_SURVIVE) &&
            slots[i].refs == 0)
            shim_fd_close_end(i + 1);
}

/* Before the exit record: streams writing tracked files are flushed (libc would do it only
 * after our destructor), so that the fingerprint taken at "close" is the final one. */
void shim_fd_flush_stdio(void)
{
    int h = __atomic_load_n(&hi_fd, __ATOMIC_RELAXED);
    for (int fd = 0; fd <= h; fd++) {
        uint16_t v = fd2slot[fd];
        if (!v || (slots[v - 1].flags & O_ACCMODE) == O_RDONLY) continue;
        FILE *fp = slots[v - 1].stream ? slots[v - 1].stream
                   : fd == 1           ? stdout
                   : fd == 2           ? stderr
                                       : NULL;
        if (fp && fp->_fileno == fd) fflush_unlocked(fp);
    }
}

/* fcloseall closed every stream (the standard ones too) inside libc. */
void shim_fd_stdio_closed(void)
{
    int h = __atomic_load_n(&hi_fd, __ATOMIC_RELAXED);
    for (int fd = 0; fd <= h; fd++) {
        uint16_t v = fd2slot[fd];
        if (v && (slots[v - 1].stream || fd <= 2)) shim_fd_close_end(shim_fd_close_begin(fd, 1));
    }
}

void shim_fd_after_fork(void)
{
    for (int i = 0; i < NSLOTS; i++) {
        if (!(slot_used[i / 64] & (1ull << (i % 64)))) continue;
        slot *s = &slots[i];
        /* the parent's counters and aggregates are the parent's: private ones from here */
        s->c = ctr_for(i, 0);
        s->agg = 0;
        s->oseq = 0; /* the parent's FILE_OPEN: its own close settles it */
        s->bits = (uint16_t)((s->bits | B_INHERITED) & ~(B_REPORTED | B_TRUNCATED));
    }
    fd_agg_after_fork();
    shim_ctr_after_fork();
}

void shim_fd_finish(int reason)
{
    int h = __atomic_load_n(&hi_fd, __ATOMIC_RELAXED);
    for (int fd = 0; fd <= h; fd++) {
        uint16_t v = fd2slot[fd];
        if (!v) continue;
        slot *s = &slots[v - 1];
        if (reason != 0) {
            long fl = SYS2(SYS_fcntl, fd, F_GETFD);
            if (fl >= 0 && !(fl & FD_CLOEXEC)) s->bits |= B_SURVIVE;
        }
        slot_closing_fp(s, fd, 0);
    }
    /* repeated opens: one record each, their open ones included */
    fd_agg_flush_all(reason != 0);
    for (int i = 0; i < NSLOTS; i++) {
        if (!(slot_used[i / 64] & (1ull << (i % 64)))) continue;
        slot *s = &slots[i];
        int survive = s->bits & B_SURVIVE;
        s->bits &= (uint16_t)~B_SURVIVE;
        if (s->agg) { /* said by its aggregate; one of its own from here */
            s->agg = 0;
            s->c = ctr_for(i, 0);
            s->oseq = 0;
            s->bits |= B_REPORTED;
            continue;
        }
        if (reason == 1 && survive && s->c->rd == 0 && s->c->wr == 0)
            continue; /* handed over: the next image adopts and reports it */
        slot_emit(s);
        if (reason != 0) { /* exec may fail: later records carry only what is new */
            s->c->rd = s->c->wr = 0;
            s->bits = (uint16_t)((s->bits | B_REPORTED) & ~(B_CLOSEFP | B_TRUNCATED));
        }
    }
    shim_ctr_end(reason == 0);
}

/* At image start: descriptions inherited across exec (or from trail run) are ours now. */
void shim_fd_adopt_inherited(void)
{
    int dfd = (int)SYS3(SYS_openat, AT_FDCWD, "/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return;
    char buf[2048], link[40], path[4096];
    long n;
    while ((n = SYS3(SYS_getdents64, dfd, buf, sizeof buf)) > 0) {
        for (long off = 0; off < n;) {
            struct dirent64 *d = (struct dirent64 *)(void *)(buf + off);
            off += d->d_reclen;
            int fd = 0;
            const char *c = d->d_name;
            if (*c < '0' || *c > '9') continue;
            while (*c >= '0' && *c <= '9')
                fd = fd * 10 + (*c++ - '0');
            if (fd == dfd || fd >= FD_MAX || fd2slot[fd]) continue;
            /* fstat first: pipes, terminals, /dev/null and the files trail run was started
             * with cost no readlink of /proc (the dearer call) */
            struct stat st;
            if (shim_fstat(fd, &st) != 0) continue;
            if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) continue;
            int outside = 0;
            for (int i = 0; i < shim_g.noutside; i++)
                outside |= shim_g.outside_dev[i] == (uint64_t)st.st_dev &&
                           shim_g.outside_ino[i] == (uint64_t)st.st_ino;
            if (outside) continue;
            memcpy(link, "/proc/self/fd/", 14);
            memcpy(link + 14, d->d_name, strlen(d->d_name) + 1);
            long l = SYS3(SYS_readlink, link, path, sizeof path - 1);
            if (l <= 0 || path[0] != '/') continue;
            path[l] = 0;
            if (l > 10 && !strcmp(path + l - 10, " (deleted)")) continue;
            if (shim_excluded(path, (size_t)l)) continue;
            long fl = SYS2(SYS_fcntl, fd, F_GETFL);
            if (fl < 0) continue;
            fingerprint f;
            fp_from(&f, &st);
            track(fd, path, (int)l, (int)fl, &f, B_ADOPTED, NULL, -1);
        }
    }
    SYS1(SYS_close, dfd);
}
