/* rw.c - interposed read/write family: byte counters per open file description, no syscall. */
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "shim.h"

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
