/* io.c - byte counters: read/write family and stdio, and stdio's own opens and closes. */
/* read/write and friends count bytes per open file description with no system call of their
 * own. glibc's stdio bypasses the exported open/close/read/write: fopen/freopen/fdopen/fclose
 * are interposed for the descriptions, the common FILE calls for the bytes. */
/* glibc's bits/stdio.h gives getline, vprintf and putchar extern inline bodies when optimising
 * (__USE_EXTERN_INLINES): clang then ignores SHIM_EXPORT on our later definitions and the
 * interposers end up hidden. Without the inline bodies there is only our definition. */
#ifndef __NO_INLINE__
#define __NO_INLINE__ 1
#endif
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "shim.h"

/* glibc may define these as macros when optimising: we define the functions. */
#undef fread_unlocked
#undef fwrite_unlocked
#undef fputs_unlocked
#undef fgets_unlocked
#undef getc
#undef putc
#undef fgetc
#undef fputc
#undef putchar

/* fopen mode string -> open(2) flags. */
static int mode_flags(const char *m)
{
    int f;
    switch (m ? m[0] : 0) {
    case 'r':
        f = O_RDONLY;
        break;
    case 'w':
        f = O_WRONLY | O_CREAT | O_TRUNC;
        break;
    case 'a':
        f = O_WRONLY | O_CREAT | O_APPEND;
        break;
    default:
        return -1;
    }
    for (const char *p = m + 1; *p && *p != ','; p++) {
        if (*p == '+')
            f = (f & ~O_ACCMODE) | O_RDWR;
        else if (*p == 'e')
            f |= O_CLOEXEC;
        else if (*p == 'x')
            f |= O_EXCL;
    }
    return f;
}

/* SHIM_O_CREATED when fopen is about to create path ("a", "a+": O_CREAT without O_TRUNC). */
static int fcreating(const char *path, const char *mode)
{
    int f = mode_flags(mode);
    return f >= 0 && (shim_creating(AT_FDCWD, path, f) & SHIM_O_CREATED) ? SHIM_O_CREATED : 0;
}

static FILE *fopened_made(FILE *fp, const char *path, const char *mode, int made)
{
    if (fp && path && shim_active()) {
        int e = errno, flags = mode_flags(mode);
        if (flags >= 0) flags |= made;
        SHIM_ENTER();
        if (flags >= 0) shim_fd_opened(fp->_fileno, AT_FDCWD, path, flags, fp);
        SHIM_LEAVE();
        errno = e;
    }
    return fp;
}

REAL_DECL(FILE *, fopen, (const char *, const char *));
REAL_DECL(FILE *, fopen64, (const char *, const char *));
REAL_DECL(FILE *, freopen, (const char *, const char *, FILE *));
REAL_DECL(FILE *, freopen64, (const char *, const char *, FILE *));
REAL_DECL(int, fclose, (FILE *));

#define FP_OR_NULL(name)                                                                           \
    do {                                                                                           \
        if (UNLIKELY(!REAL(name))) {                                                               \
            errno = ENOSYS;                                                                        \
            return NULL;                                                                           \
        }                                                                                          \
    } while (0)

static FILE *fopened(FILE *fp, const char *path, const char *mode)
{
    return fopened_made(fp, path, mode, 0);
}

SHIM_EXPORT FILE *fopen(const char *path, const char *mode)
{
    FP_OR_NULL(fopen);
    int made = fcreating(path, mode);
    return fopened_made(real_fopen(path, mode), path, mode, made);
}

SHIM_EXPORT FILE *fopen64(const char *path, const char *mode)
{
    FP_OR_NULL(fopen64);
    int made = fcreating(path, mode);
    return fopened_made(real_fopen64(path, mode), path, mode, made);
}

/* The stream's old descriptor is closed inside freopen: its record is made here. With a NULL
 * path the same file is reopened in a new mode. */
static FILE *do_freopen(FILE *(*fn)(const char *, const char *, FILE *), const char *path,
                        const char *mode, FILE *fp)
{
    if (!fp || !shim_active()) return fn(path, mode, fp);
    int e = errno;
    char old[4096];
    SHIM_ENTER();
    int oldfd = fp->_fileno;
    int have_old = shim_fd_path(oldfd, old, sizeof old) >= 0;
    int t = shim_fd_close_begin(oldfd, 1);
    SHIM_LEAVE();
    errno = e;
    FILE *r = fn(path, mode, fp);
    e = errno;
    SHIM_ENTER();
    shim_fd_close_end(t);
    SHIM_LEAVE();
    errno = e;
    return fopened(r, path ? path : have_old ? old : NULL, mode);
}

SHIM_EXPORT FILE *freopen(const char *path, const char *mode, FILE *fp)
{
    FP_OR_NULL(freopen);
    return do_freopen(real_freopen, path, mode, fp);
}

SHIM_EXPORT FILE *freopen64(const char *path, const char *mode, FILE *fp)
{
    FP_OR_NULL(freopen64);
    return do_freopen(real_freopen64, path, mode, fp);
}

/* fdopen: the descriptor is tracked already; the stream is remembered so that it is flushed
 * before the exit record (and fclose of it is seen by the wrapper below). */
REAL_DECL(FILE *, fdopen, (int, const char *));
SHIM_EXPORT FILE *fdopen(int fd, const char *mode)
{
    FP_OR_NULL(fdopen);
    FILE *fp = real_fdopen(fd, mode);
    if (fp && shim_active()) shim_fd_set_stream(fd, fp);
    return fp;
}

SHIM_EXPORT int fclose(FILE *fp)
{
    if (UNLIKELY(!REAL(fclose))) {
        errno = ENOSYS;
        return EOF;
    }
    if (!fp || !shim_active()) return real_fclose(fp);
    int e = errno;
    SHIM_ENTER();
    int t = shim_fd_close_begin(fp->_fileno, 1); /* writers: fingerprint after the flush */
    SHIM_LEAVE();
    errno = e;
    int r = real_fclose(fp);
    if (t) {
        e = errno;
        SHIM_ENTER();
        shim_fd_close_end(t);
        SHIM_LEAVE();
        errno = e;
    }
    return r;
}

/* ---- byte counters: what the program moved through the stream ---- */

static inline void count(FILE *fp, long n, int write)
{
    if (n > 0 && fp && shim_active()) shim_fd_count_stream(fp->_fileno, n, write);
}

#define STDIO_SIZED(name, ptrt, isw)                                                               \
    REAL_DECL(size_t, name, (ptrt, size_t, size_t, FILE *));                                       \
    SHIM_EXPORT size_t name(ptrt p, size_t size, size_t n, FILE *fp)                               \
    {                                                                                              \
        if (UNLIKELY(!REAL(name))) return 0;                                                       \
        size_t r = real_##name(p, size, n, fp);                                                    \
        count(fp, (long)(r * size), isw);                                                          \
        return r;                                                                                  \
    }

STDIO_SIZED(fread, void *, 0)
STDIO_SIZED(fread_unlocked, void *, 0)
STDIO_SIZED(fwrite, const void *, 1)
STDIO_SIZED(fwrite_unlocked, const void *, 1)

REAL_DECL(size_t, __fread_chk, (void *, size_t, size_t, size_t, FILE *));
SHIM_EXPORT size_t __fread_chk(void *p, size_t plen, size_t size, size_t n, FILE *fp)
{
    if (UNLIKELY(!REAL(__fread_chk))) return 0;
    size_t r = real___fread_chk(p, plen, size, n, fp);
    count(fp, (long)(r * size), 0);
    return r;
}

#define STDIO_GETS(name, params, args, fp)                                                         \
    REAL_DECL(char *, name, params);                                                               \
    SHIM_EXPORT char *name params                                                                  \
    {                                                                                              \
        if (UNLIKELY(!REAL(name))) return NULL;                                                    \
        char *r = real_##name args;                                                                \
        if (r) count(fp, (long)strlen(r), 0);                                                      \
        return r;                                                                                  \
    }

STDIO_GETS(fgets, (char *s, int n, FILE *fp), (s, n, fp), fp)
STDIO_GETS(fgets_unlocked, (char *s, int n, FILE *fp), (s, n, fp), fp)
STDIO_GETS(__fgets_chk, (char *s, size_t sz, int n, FILE *fp), (s, sz, n, fp), fp)

#define STDIO_PUTS(name)                                                                           \
    REAL_DECL(int, name, (const char *, FILE *));                                                  \
    SHIM_EXPORT int name(const char *s, FILE *fp)                                                  \
    {                                                                                              \
        if (UNLIKELY(!REAL(name))) return EOF;                                                     \
        int r = real_##name(s, fp);                                                                \
        if (r >= 0) count(fp, (long)strlen(s), 1);                                                 \
        return r;                                                                                  \
    }

STDIO_PUTS(fputs)
STDIO_PUTS(fputs_unlocked)

#define STDIO_CHAR_OUT(name)                                                                       \
    REAL_DECL(int, name, (int, FILE *));                                                           \
    SHIM_EXPORT int name(int c, FILE *fp)                                                          \
    {                                                                                              \
        if (UNLIKELY(!REAL(name))) return EOF;                                                     \
        int r = real_##name(c, fp);                                                                \
        if (r != EOF) count(fp, 1, 1);                                                             \
        return r;                                                                                  \
    }

#define STDIO_CHAR_IN(name)                                                                        \
    REAL_DECL(int, name, (FILE *));                                                                \
    SHIM_EXPORT int name(FILE *fp)                                                                 \
    {                                                                                              \
        if (UNLIKELY(!REAL(name))) return EOF;                                                     \
        int r = real_##name(fp);                                                                   \
        if (r != EOF) count(fp, 1, 0);                                                             \
        return r;                                                                                  \
    }

STDIO_CHAR_OUT(fputc)
STDIO_CHAR_OUT(putc)
STDIO_CHAR_OUT(_IO_putc)
STDIO_CHAR_IN(fgetc)
STDIO_CHAR_IN(getc)
STDIO_CHAR_IN(_IO_getc)

REAL_DECL(ssize_t, getdelim, (char **, size_t *, int, FILE *));
REAL_DECL(ssize_t, __getdelim, (char **, size_t *, int, FILE *));
REAL_DECL(ssize_t, getline, (char **, size_t *, FILE *));

SHIM_EXPORT ssize_t getdelim(char **l, size_t *n, int d, FILE *fp)
{
    MAP_OR_FAIL(getdelim);
    ssize_t r = real_getdelim(l, n, d, fp);
    count(fp, (long)r, 0);
    return r;
}

SHIM_EXPORT ssize_t __getdelim(char **l, size_t *n, int d, FILE *fp)
{
    MAP_OR_FAIL(__getdelim);
    ssize_t r = real___getdelim(l, n, d, fp);
    count(fp, (long)r, 0);
    return r;
}

SHIM_EXPORT ssize_t getline(char **l, size_t *n, FILE *fp)
{
    MAP_OR_FAIL(getline);
    ssize_t r = real_getline(l, n, fp);
    count(fp, (long)r, 0);
    return r;
}

REAL_DECL(int, vfprintf, (FILE *, const char *, va_list));
REAL_DECL(int, __vfprintf_chk, (FILE *, int, const char *, va_list));

SHIM_EXPORT int vfprintf(FILE *fp, const char *fmt, va_list ap)
{
    MAP_OR_FAIL(vfprintf);
    int r = real_vfprintf(fp, fmt, ap);
    count(fp, r, 1);
    return r;
}

SHIM_EXPORT int __vfprintf_chk(FILE *fp, int flag, const char *fmt, va_list ap)
{
    MAP_OR_FAIL(__vfprintf_chk);
    int r = real___vfprintf_chk(fp, flag, fmt, ap);
    count(fp, r, 1);
    return r;
}

SHIM_EXPORT int fprintf(FILE *fp, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vfprintf(fp, fmt, ap);
    va_end(ap);
    return r;
}

SHIM_EXPORT int __fprintf_chk(FILE *fp, int flag, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = __vfprintf_chk(fp, flag, fmt, ap);
    va_end(ap);
    return r;
}

/* stdout: printf and friends (a program's stdout redirected to a file inside the run). */
REAL_DECL(int, vprintf, (const char *, va_list));
REAL_DECL(int, __vprintf_chk, (int, const char *, va_list));
REAL_DECL(int, puts, (const char *));
REAL_DECL(int, putchar, (int));

SHIM_EXPORT int vprintf(const char *fmt, va_list ap)
{
    MAP_OR_FAIL(vprintf);
    int r = real_vprintf(fmt, ap);
    count(stdout, r, 1);
    return r;
}

SHIM_EXPORT int __vprintf_chk(int flag, const char *fmt, va_list ap)
{
    MAP_OR_FAIL(__vprintf_chk);
    int r = real___vprintf_chk(flag, fmt, ap);
    count(stdout, r, 1);
    return r;
}

SHIM_EXPORT int printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vprintf(fmt, ap);
    va_end(ap);
    return r;
}

SHIM_EXPORT int __printf_chk(int flag, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = __vprintf_chk(flag, fmt, ap);
    va_end(ap);
    return r;
}

SHIM_EXPORT int puts(const char *s)
{
    MAP_OR_FAIL(puts);
    int r = real_puts(s);
    if (r >= 0) count(stdout, (long)strlen(s) + 1, 1);
    return r;
}

SHIM_EXPORT int putchar(int c)
{
    if (UNLIKELY(!REAL(putchar))) return EOF;
    int r = real_putchar(c);
    if (r != EOF) count(stdout, 1, 1);
    return r;
}

/* ---- the read/write family ---- */

static inline ssize_t counted(ssize_t r, int fd, int write)
{
    if (r > 0 && shim_active()) shim_fd_count(fd, r, write);
    return r;
}

static inline ssize_t raw_ret(long r)
{
    if (r < 0) {
        errno = (int)-r;
        return -1;
    }
    return r;
}

REAL_DECL(ssize_t, read, (int, void *, size_t));
REAL_DECL(ssize_t, write, (int, const void *, size_t));

SHIM_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
    if (UNLIKELY(!REAL(read))) return raw_ret(SYS3(SYS_read, fd, buf, n));
    return counted(real_read(fd, buf, n), fd, 0);
}

SHIM_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
    if (UNLIKELY(!REAL(write))) return raw_ret(SYS3(SYS_write, fd, buf, n));
    return counted(real_write(fd, buf, n), fd, 1);
}

/* One wrapper per symbol, with the exact prototype (off_t vs off64_t matters). */
#define RW_WRAP(ret, name, params, args, fdarg, isw)                                               \
    REAL_DECL(ret, name, params);                                                                  \
    SHIM_EXPORT ret name params                                                                    \
    {                                                                                              \
        MAP_OR_FAIL(name);                                                                         \
        return counted(real_##name args, fdarg, isw);                                              \
    }

RW_WRAP(ssize_t, pread, (int fd, void *b, size_t n, off_t o), (fd, b, n, o), fd, 0)
RW_WRAP(ssize_t, pread64, (int fd, void *b, size_t n, off64_t o), (fd, b, n, o), fd, 0)
RW_WRAP(ssize_t, pwrite, (int fd, const void *b, size_t n, off_t o), (fd, b, n, o), fd, 1)
RW_WRAP(ssize_t, pwrite64, (int fd, const void *b, size_t n, off64_t o), (fd, b, n, o), fd, 1)
RW_WRAP(ssize_t, readv, (int fd, const struct iovec *v, int c), (fd, v, c), fd, 0)
RW_WRAP(ssize_t, writev, (int fd, const struct iovec *v, int c), (fd, v, c), fd, 1)
RW_WRAP(ssize_t, preadv, (int fd, const struct iovec *v, int c, off_t o), (fd, v, c, o), fd, 0)
RW_WRAP(ssize_t, preadv64, (int fd, const struct iovec *v, int c, off64_t o), (fd, v, c, o), fd, 0)
RW_WRAP(ssize_t, pwritev, (int fd, const struct iovec *v, int c, off_t o), (fd, v, c, o), fd, 1)
RW_WRAP(ssize_t, pwritev64, (int fd, const struct iovec *v, int c, off64_t o), (fd, v, c, o), fd, 1)
RW_WRAP(ssize_t, preadv2, (int fd, const struct iovec *v, int c, off_t o, int fl),
        (fd, v, c, o, fl), fd, 0)
RW_WRAP(ssize_t, preadv64v2, (int fd, const struct iovec *v, int c, off64_t o, int fl),
        (fd, v, c, o, fl), fd, 0)
RW_WRAP(ssize_t, pwritev2, (int fd, const struct iovec *v, int c, off_t o, int fl),
        (fd, v, c, o, fl), fd, 1)
RW_WRAP(ssize_t, pwritev64v2, (int fd, const struct iovec *v, int c, off64_t o, int fl),
        (fd, v, c, o, fl), fd, 1)
/* Fortified reads (-D_FORTIFY_SOURCE): the real ones check the buffer size. */
RW_WRAP(ssize_t, __read_chk, (int fd, void *b, size_t n, size_t bl), (fd, b, n, bl), fd, 0)
RW_WRAP(ssize_t, __pread_chk, (int fd, void *b, size_t n, off_t o, size_t bl), (fd, b, n, o, bl),
        fd, 0)
RW_WRAP(ssize_t, __pread64_chk, (int fd, void *b, size_t n, off64_t o, size_t bl),
        (fd, b, n, o, bl), fd, 0)

/* In-kernel copies: bytes leave one file and enter another. */
static ssize_t copied(ssize_t r, int in, int out)
{
    if (r > 0 && shim_active()) {
        shim_fd_count(in, r, 0);
        shim_fd_count(out, r, 1);
    }
    return r;
}

REAL_DECL(ssize_t, sendfile, (int, int, off_t *, size_t));
REAL_DECL(ssize_t, sendfile64, (int, int, off64_t *, size_t));
REAL_DECL(ssize_t, copy_file_range, (int, off64_t *, int, off64_t *, size_t, unsigned));

SHIM_EXPORT ssize_t sendfile(int out, int in, off_t *off, size_t n)
{
    MAP_OR_FAIL(sendfile);
    return copied(real_sendfile(out, in, off, n), in, out);
}

SHIM_EXPORT ssize_t sendfile64(int out, int in, off64_t *off, size_t n)
{
    MAP_OR_FAIL(sendfile64);
    return copied(real_sendfile64(out, in, off, n), in, out);
}

SHIM_EXPORT ssize_t copy_file_range(int in, off64_t *oin, int out, off64_t *oout, size_t n,
                                    unsigned flags)
{
    MAP_OR_FAIL(copy_file_range);
    return copied(real_copy_file_range(in, oin, out, oout, n, flags), in, out);
}
