/* files.c - interposed open/close family, dup, fcntl, close_range, mmap, truncate and syscall(). */
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"

REAL_DECL(int, open, (const char *, int, ...));
REAL_DECL(int, open64, (const char *, int, ...));
REAL_DECL(int, openat, (int, const char *, int, ...));
REAL_DECL(int, openat64, (int, const char *, int, ...));
REAL_DECL(int, __open_2, (const char *, int));
REAL_DECL(int, __open64_2, (const char *, int));
REAL_DECL(int, __openat_2, (int, const char *, int));
REAL_DECL(int, __openat64_2, (int, const char *, int));
REAL_DECL(int, creat, (const char *, mode_t));
REAL_DECL(int, creat64, (const char *, mode_t));
REAL_DECL(int, close, (int));
REAL_DECL(int, close_range, (unsigned, unsigned, int));
REAL_DECL(void, closefrom, (int));
REAL_DECL(int, dup, (int));
REAL_DECL(int, dup2, (int, int));
REAL_DECL(int, dup3, (int, int, int));
REAL_DECL(int, fcntl, (int, int, ...));
REAL_DECL(int, fcntl64, (int, int, ...));
REAL_DECL(void *, mmap, (void *, size_t, int, int, int, off_t));
REAL_DECL(void *, mmap64, (void *, size_t, int, int, int, off64_t));
REAL_DECL(int, truncate, (const char *, off_t));
REAL_DECL(int, truncate64, (const char *, off64_t));
REAL_DECL(int, ftruncate, (int, off_t));
REAL_DECL(int, ftruncate64, (int, off64_t));
REAL_DECL(long, syscall, (long, ...));

/* A raw openat when the real symbol is not resolvable yet (we are inside dlsym). */
static int raw_open(int dirfd, const char *path, int flags, mode_t mode)
{
    long r = SYS4(SYS_openat, dirfd, path, flags, mode);
    if (r < 0) {
        errno = (int)-r;
        return -1;
    }
    return (int)r;
}

/* flags, with SHIM_O_CREATED when an O_CREAT open (without O_EXCL or O_TRUNC, which say it
 * already) finds no file at path: asked before the open, one stat. */
int shim_creating(int dirfd, const char *path, int flags)
{
    if (!(flags & O_CREAT) || (flags & (O_EXCL | O_TRUNC)) || !path || !shim_active()) return flags;
    struct stat st;
    long r = SYS4(SYS_newfstatat, dirfd, path, &st, 0);
    return r == -ENOENT ? flags | SHIM_O_CREATED : flags;
}

static int opened(int fd, int dirfd, const char *path, int flags)
{
    if (fd >= 0 && shim_active()) {
        int e = errno;
        SHIM_ENTER();
        shim_fd_opened(fd, dirfd, path, flags, NULL);
        SHIM_LEAVE();
        errno = e;
    }
    return fd;
}

#define MODE_ARG(flags, mode)                                                                      \
    mode_t mode = 0;                                                                               \
    if (__OPEN_NEEDS_MODE(flags)) {                                                                \
        va_list ap;                                                                                \
        va_start(ap, flags);                                                                       \
        mode = (mode_t)va_arg(ap, int);                                                            \
        va_end(ap);                                                                                \
    }

SHIM_EXPORT int open(const char *path, int flags, ...)
{
    MODE_ARG(flags, mode);
    int made = shim_creating(AT_FDCWD, path, flags);
    int fd = REAL(open) ? real_open(path, flags, mode) : raw_open(AT_FDCWD, path, flags, mode);
    return opened(fd, AT_FDCWD, path, made);
}

SHIM_EXPORT int open64(const char *path, int flags, ...)
{
    MODE_ARG(flags, mode);
    int made = shim_creating(AT_FDCWD, path, flags);
    int fd = REAL(open64) ? real_open64(path, flags, mode)
                          : raw_open(AT_FDCWD, path, flags | O_LARGEFILE, mode);
    return opened(fd, AT_FDCWD, path, made);
}

SHIM_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
    MODE_ARG(flags, mode);
    int made = shim_creating(dirfd, path, flags);
    int fd =
        REAL(openat) ? real_openat(dirfd, path, flags, mode) : raw_open(dirfd, path, flags, mode);
    return opened(fd, dirfd, path, made);
}

SHIM_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
    MODE_ARG(flags, mode);
    int made = shim_creating(dirfd, path, flags);
    int fd = REAL(openat64) ? real_openat64(dirfd, path, flags, mode)
                            : raw_open(dirfd, path, flags | O_LARGEFILE, mode);
    return opened(fd, dirfd, path, made);
}

/* Fortified entry points (-D_FORTIFY_SOURCE): the real ones keep their checks. */
SHIM_EXPORT int __open_2(const char *path, int flags)
{
    MAP_OR_FAIL(__open_2);
    return opened(real___open_2(path, flags), AT_FDCWD, path, flags);
}

SHIM_EXPORT int __open64_2(const char *path, int flags)
{
    MAP_OR_FAIL(__open64_2);
    return opened(real___open64_2(path, flags), AT_FDCWD, path, flags);
}

SHIM_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
    MAP_OR_FAIL(__openat_2);
    return opened(real___openat_2(dirfd, path, flags), dirfd, path, flags);
}

SHIM_EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
    MAP_OR_FAIL(__openat64_2);
    return opened(real___openat64_2(dirfd, path, flags), dirfd, path, flags);
}

SHIM_EXPORT int creat(const char *path, mode_t mode)
{
    MAP_OR_FAIL(creat);
    return opened(real_creat(path, mode), AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC);
}

SHIM_EXPORT int creat64(const char *path, mode_t mode)
{
    MAP_OR_FAIL(creat64);
    return opened(real_creat64(path, mode), AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC);
}

/* mkstemp and friends open inside libc: the created temporary file is recorded here. */
#define MKSTEMP(name, params, args, extra)                                                         \
    REAL_DECL(int, name, params);                                                                  \
    SHIM_EXPORT int name params                                                                    \
    {                                                                                              \
        MAP_OR_FAIL(name);                                                                         \
        return opened(real_##name args, AT_FDCWD, t, O_RDWR | O_CREAT | O_EXCL | (extra));         \
    }

MKSTEMP(mkstemp, (char *t), (t), 0)
MKSTEMP(mkstemp64, (char *t), (t), 0)
MKSTEMP(mkostemp, (char *t, int fl), (t, fl), fl)
MKSTEMP(mkostemp64, (char *t, int fl), (t, fl), fl)
MKSTEMP(mkstemps, (char *t, int sl), (t, sl), 0)
MKSTEMP(mkstemps64, (char *t, int sl), (t, sl), 0)
MKSTEMP(mkostemps, (char *t, int sl, int fl), (t, sl, fl), fl)
MKSTEMP(mkostemps64, (char *t, int sl, int fl), (t, sl, fl), fl)

/* ---- close ---- */

static int close_begin(int fd)
{
    if (!shim_active()) return 0;
    int e = errno;
    SHIM_ENTER();
    int t = shim_fd_close_begin(fd, 0);
    SHIM_LEAVE();
    errno = e;
    return t;
}

static void close_end(int t)
{
    if (!t) return;
    int e = errno;
    SHIM_ENTER();
    shim_fd_close_end(t);
    SHIM_LEAVE();
    errno = e;
}

SHIM_EXPORT int close(int fd)
{
    int t = close_begin(fd);
    int r;
    if (LIKELY(REAL(close))) {
        r = real_close(fd);
    } else {
        long x = SYS1(SYS_close, fd);
        r = x < 0 ? (errno = (int)-x, -1) : 0;
    }
    close_end(t);
    return r;
}

static int range_begin(unsigned first, unsigned last, int flags)
{
    if (first > last || (flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)) ||
        (flags & CLOSE_RANGE_CLOEXEC) || !shim_active())
        return 0; /* invalid (the call fails), or nothing closes now (exec handles cloexec) */
    int e = errno;
    SHIM_ENTER();
    int any = shim_fd_range_begin(first, last);
    SHIM_LEAVE();
    errno = e;
    return any;
}

static void range_end(int any)
{
    if (!any) return;
    int e = errno;
    SHIM_ENTER();
    shim_fd_range_end();
    SHIM_LEAVE();
    errno = e;
}

SHIM_EXPORT int close_range(unsigned first, unsigned last, int flags)
{
    MAP_OR_FAIL(close_range);
    int any = range_begin(first, last, flags);
    int r = real_close_range(first, last, flags);
    range_end(any);
    return r;
}

SHIM_EXPORT void closefrom(int lowfd)
{
    if (!REAL(closefrom)) {
        SYS3(SYS_close_range, lowfd, ~0u, 0);
        return;
    }
    int any = lowfd >= 0 ? range_begin((unsigned)lowfd, ~0u, 0) : 0;
    real_closefrom(lowfd);
    range_end(any);
}

/* ---- dup ---- */

static int dupped(int oldfd, int newfd)
{
    if (newfd >= 0 && shim_active()) {
        int e = errno;
        SHIM_ENTER();
        shim_fd_dup(oldfd, newfd);
        SHIM_LEAVE();
        errno = e;
    }
    return newfd;
}

SHIM_EXPORT int dup(int fd)
{
    MAP_OR_FAIL(dup);
    return dupped(fd, real_dup(fd));
}

/* dup2/dup3 onto an open tracked fd close its description first: record that close. */
static int dup_onto(int oldfd, int newfd, int flags, int three)
{
    int t = 0;
    if (oldfd != newfd && oldfd >= 0) t = close_begin(newfd);
    int r = three ? real_dup3(oldfd, newfd, flags) : real_dup2(oldfd, newfd);
    if (r < 0 && t) {
        int e = errno;
        shim_fd_close_abort(newfd, t);
        errno = e;
        return r;
    }
    close_end(t);
    return dupped(oldfd, r);
}

SHIM_EXPORT int dup2(int oldfd, int newfd)
{
    MAP_OR_FAIL(dup2);
    return dup_onto(oldfd, newfd, 0, 0);
}

SHIM_EXPORT int dup3(int oldfd, int newfd, int flags)
{
    MAP_OR_FAIL(dup3);
    return dup_onto(oldfd, newfd, flags, 1);
}

/* fcntl's third argument is an int or a pointer; both travel in one register. */
#define FCNTL_BODY(fn)                                                                             \
    va_list ap;                                                                                    \
    va_start(ap, cmd);                                                                             \
    void *arg = va_arg(ap, void *);                                                                \
    va_end(ap);                                                                                    \
    MAP_OR_FAIL(fn);                                                                               \
    int r = real_##fn(fd, cmd, arg);                                                               \
    if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) return dupped(fd, r);                            \
    return r;

SHIM_EXPORT int fcntl(int fd, int cmd, ...){FCNTL_BODY(fcntl)}

SHIM_EXPORT int fcntl64(int fd, int cmd, ...)
{
    FCNTL_BODY(fcntl64)
}

/* ---- mmap, truncate ---- */

static void *mapped(void *r, int fd, int prot, int flags)
{
    if (r != MAP_FAILED && fd >= 0 && !(flags & MAP_ANONYMOUS) && shim_active())
        shim_fd_mmap(fd, prot, flags);
    return r;
}

SHIM_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (UNLIKELY(!REAL(mmap))) {
        long r = shim_sys(SYS_mmap, (long)addr, (long)len, prot, flags, fd, (long)off);
        if (r < 0 && r > -4096) {
            errno = (int)-r;
            return MAP_FAILED;
        }
        return (void *)r;
    }
    return mapped(real_mmap(addr, len, prot, flags, fd, off), fd, prot, flags);
}

SHIM_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
    if (UNLIKELY(!REAL(mmap64))) return mmap(addr, len, prot, flags, fd, (off_t)off);
    return mapped(real_mmap64(addr, len, prot, flags, fd, off), fd, prot, flags);
}

static int truncated_path(int r, const char *path, off64_t len)
{
    if (r == 0 && shim_active()) {
        int e = errno;
        SHIM_ENTER();
        shim_fileop("truncate", AT_FDCWD, path, AT_FDCWD, NULL, -1, (int64_t)len);
        SHIM_LEAVE();
        errno = e;
    }
    return r;
}

static int truncated_fd(int r, int fd, off64_t len)
{
    if (r == 0 && shim_active()) {
        int e = errno;
        SHIM_ENTER();
        shim_fd_truncated(fd);
        shim_fileop("truncate", AT_FDCWD, NULL, AT_FDCWD, NULL, fd, (int64_t)len);
        SHIM_LEAVE();
        errno = e;
    }
    return r;
}

SHIM_EXPORT int truncate(const char *path, off_t len)
{
    MAP_OR_FAIL(truncate);
    return truncated_path(real_truncate(path, len), path, len);
}

SHIM_EXPORT int truncate64(const char *path, off64_t len)
{
    MAP_OR_FAIL(truncate64);
    return truncated_path(real_truncate64(path, len), path, len);
}

SHIM_EXPORT int ftruncate(int fd, off_t len)
{
    MAP_OR_FAIL(ftruncate);
    return truncated_fd(real_ftruncate(fd, len), fd, len);
}

SHIM_EXPORT int ftruncate64(int fd, off64_t len)
{
    MAP_OR_FAIL(ftruncate64);
    return truncated_fd(real_ftruncate64(fd, len), fd, len);
}

/* syscall(2) used for the calls libc wrappers would have shown us. */
struct shim_open_how {
    uint64_t flags, mode, resolve;
};

SHIM_EXPORT long syscall(long n, ...)
{
    va_list ap;
    va_start(ap, n);
    long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long);
    long d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long);
    va_end(ap);
    MAP_OR_FAIL(syscall);
    int t = 0;
    if (n == SYS_close) t = close_begin((int)a);
    long r = real_syscall(n, a, b, c, d, e, f);
    if (n == SYS_close) {
        close_end(t);
    } else if (r >= 0 && (n == SYS_openat || n == SYS_openat2)) {
        int flags =
            n == SYS_openat ? (int)c : (c ? (int)((const struct shim_open_how *)c)->flags : 0);
        opened((int)r, (int)a, (const char *)b, flags);
#ifdef SYS_open
    } else if (r >= 0 && n == SYS_open) {
        opened((int)r, AT_FDCWD, (const char *)a, (int)b);
#endif
    }
    return r;
}
