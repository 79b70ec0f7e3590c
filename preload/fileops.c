/* fileops.c - rename/link/symlink/unlink/remove as FILEOP records; chdir/fchdir cwd tracking. */
/* interposed rename/link/symlink/unlink/remove (FILEOP records) and chdir/fchdir (the tracked
 * working directory that relative paths resolve against). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#include <utime.h>

#include "shim.h"

/* Emits FILEOP OP PATH [PATH2] with the fingerprint of the result when there is one. A path
 * comes from (dirfd, path), or from fd when path is NULL. */
void shim_fileop(const char *op, int dirfd, const char *path, int dirfd2, const char *path2, int fd,
                 int64_t size)
{
    (void)size;
    shim_fd_changed();
    char a[4096], b[4096];
    int la = path ? shim_resolve(dirfd, path, a, sizeof a) : shim_fd_path(fd, a, sizeof a);
    int lb = path2 ? shim_resolve(dirfd2, path2, b, sizeof b) : -1;
    if (la < 0 && lb < 0) return;
    if ((la < 0 || shim_excluded(a, (size_t)la)) && (lb < 0 || shim_excluded(b, (size_t)lb)))
        return;
    uint8_t buf[8192 + 512];
    tr_enc e;
    shim_enc_begin(&e, buf, sizeof buf, TR_REC_FILEOP);
    tr_enc_str(&e, TR_F_OP, op);
    if (la >= 0) tr_enc_strn(&e, TR_F_PATH, a, (size_t)la);
    if (lb >= 0) tr_enc_strn(&e, TR_F_PATH2, b, (size_t)lb);
    tr_enc_str(&e, TR_F_SOURCE, "shim");
    tr_enc_i64(&e, TR_F_SEQ, shim_seq());
    /* the version the operation produced: the renamed/linked file, or the truncated one */
    int same = !strcmp(op, "truncate") || !strcmp(op, "utime");
    const char *result = lb >= 0 ? b : (same && la >= 0) ? a : NULL;
    struct stat st;
    if (result && shim_stat(result, &st, 1) == 0 && S_ISREG(st.st_mode))
        shim_enc_fingerprint(&e, &st);
    shim_emit(&e);
}

static int op_done(int r, const char *op, int d1, const char *p1, int d2, const char *p2)
{
    if (r == 0 && shim_active()) {
        int e = errno;
        SHIM_ENTER();
        shim_fileop(op, d1, p1, d2, p2, -1, 0);
        SHIM_LEAVE();
        errno = e;
    }
    return r;
}

REAL_DECL(int, rename, (const char *, const char *));
REAL_DECL(int, renameat, (int, const char *, int, const char *));
REAL_DECL(int, renameat2, (int, const char *, int, const char *, unsigned));
REAL_DECL(int, link, (const char *, const char *));
REAL_DECL(int, linkat, (int, const char *, int, const char *, int));
REAL_DECL(int, symlink, (const char *, const char *));
REAL_DECL(int, symlinkat, (const char *, int, const char *));
REAL_DECL(int, unlink, (const char *));
REAL_DECL(int, unlinkat, (int, const char *, int));
REAL_DECL(int, remove, (const char *));
REAL_DECL(int, chdir, (const char *));
REAL_DECL(int, fchdir, (int));

SHIM_EXPORT int rename(const char *from, const char *to)
{
    MAP_OR_FAIL(rename);
    return op_done(real_rename(from, to), "rename", AT_FDCWD, from, AT_FDCWD, to);
}

SHIM_EXPORT int renameat(int fd1, const char *from, int fd2, const char *to)
{
    MAP_OR_FAIL(renameat);
    return op_done(real_renameat(fd1, from, fd2, to), "rename", fd1, from, fd2, to);
}

SHIM_EXPORT int renameat2(int fd1, const char *from, int fd2, const char *to, unsigned flags)
{
    MAP_OR_FAIL(renameat2);
    return op_done(real_renameat2(fd1, from, fd2, to, flags), "rename", fd1, from, fd2, to);
}

SHIM_EXPORT int link(const char *from, const char *to)
{
    MAP_OR_FAIL(link);
    return op_done(real_link(from, to), "link", AT_FDCWD, from, AT_FDCWD, to);
}

SHIM_EXPORT int linkat(int fd1, const char *from, int fd2, const char *to, int flags)
{
    MAP_OR_FAIL(linkat);
    int r = real_linkat(fd1, from, fd2, to, flags);
    /* an O_TMPFILE file gets its name: by its fd, or through /proc/self/fd/N */
    int anon = (flags & AT_EMPTY_PATH) && !*from ? fd1 : -1;
    if (anon < 0 && (flags & AT_SYMLINK_FOLLOW) && !strncmp(from, "/proc/self/fd/", 14))
        anon = atoi(from + 14);
    if (r == 0 && anon >= 0 && shim_active()) {
        int e = errno;
        char p[4096];
        SHIM_ENTER();
        int l = shim_resolve(fd2, to, p, sizeof p);
        if (l > 0) shim_fd_named(anon, p, (size_t)l);
        SHIM_LEAVE();
        errno = e;
        return op_done(r, "link", AT_FDCWD, NULL, fd2, to);
    }
    return op_done(r, "link", fd1, from, fd2, to);
}

/* A relative symlink target is relative to the link's directory, not to the cwd. */
static int symlinked(int r, const char *target, int dirfd, const char *linkpath)
{
    if (r != 0 || !shim_active()) return r;
    int e = errno;
    SHIM_ENTER();
    char lp[4096];
    int l = shim_resolve(dirfd, linkpath, lp, sizeof lp);
    if (l > 0) {
        char *slash = strrchr(lp, '/');
        char dir[4096];
        size_t dl = slash && slash != lp ? (size_t)(slash - lp) : 1;
        memcpy(dir, lp, dl);
        dir[dl] = 0;
        char full[8200];
        if (target[0] == '/')
            snprintf(full, sizeof full, "%s", target);
        else
            snprintf(full, sizeof full, "%s/%s", dir, target);
        shim_fileop("symlink", AT_FDCWD, full, AT_FDCWD, lp, -1, 0);
    }
    SHIM_LEAVE();
    errno = e;
    return r;
}

SHIM_EXPORT int symlink(const char *target, const char *linkpath)
{
    MAP_OR_FAIL(symlink);
    return symlinked(real_symlink(target, linkpath), target, AT_FDCWD, linkpath);
}

SHIM_EXPORT int symlinkat(const char *target, int dirfd, const char *linkpath)
{
    MAP_OR_FAIL(symlinkat);
    return symlinked(real_symlinkat(target, dirfd, linkpath), target, dirfd, linkpath);
}

SHIM_EXPORT int unlink(const char *path)
{
    MAP_OR_FAIL(unlink);
    return op_done(real_unlink(path), "unlink", AT_FDCWD, path, AT_FDCWD, NULL);
}

SHIM_EXPORT int unlinkat(int dirfd, const char *path, int flags)
{
    MAP_OR_FAIL(unlinkat);
    return op_done(real_unlinkat(dirfd, path, flags), (flags & AT_REMOVEDIR) ? "rmdir" : "unlink",
                   dirfd, path, AT_FDCWD, NULL);
}

SHIM_EXPORT int remove(const char *path)
{
    MAP_OR_FAIL(remove);
    struct stat st;
    int isdir = shim_active() && shim_stat(path, &st, 1) == 0 && S_ISDIR(st.st_mode);
    return op_done(real_remove(path), isdir ? "rmdir" : "unlink", AT_FDCWD, path, AT_FDCWD, NULL);
}

/* Time changes (rsync sets a temporary's times before renaming it into place): FILEOP "utime"
 * with the fingerprint they leave, a version the run made. */
static int timed(int r, int dirfd, const char *path, int fd)
{
    if (r == 0 && shim_active()) {
        int e = errno;
        SHIM_ENTER();
        shim_fileop("utime", dirfd, path, AT_FDCWD, NULL, fd, 0);
        SHIM_LEAVE();
        errno = e;
    }
    return r;
}

REAL_DECL(int, utimensat, (int, const char *, const struct timespec[2], int));
REAL_DECL(int, futimens, (int, const struct timespec[2]));
REAL_DECL(int, utimes, (const char *, const struct timeval[2]));
REAL_DECL(int, lutimes, (const char *, const struct timeval[2]));
REAL_DECL(int, futimes, (int, const struct timeval[2]));
REAL_DECL(int, futimesat, (int, const char *, const struct timeval[2]));
REAL_DECL(int, utime, (const char *, const struct utimbuf *));

/* A NULL path (the descriptor itself) is resolved through fd = dirfd. */
SHIM_EXPORT int utimensat(int dirfd, const char *path, const struct timespec ts[2], int flags)
{
    MAP_OR_FAIL(utimensat);
    return timed(real_utimensat(dirfd, path, ts, flags), dirfd, path, dirfd);
}

SHIM_EXPORT int futimens(int fd, const struct timespec ts[2])
{
    MAP_OR_FAIL(futimens);
    return timed(real_futimens(fd, ts), AT_FDCWD, NULL, fd);
}

SHIM_EXPORT int utimes(const char *path, const struct timeval tv[2])
{
    MAP_OR_FAIL(utimes);
    return timed(real_utimes(path, tv), AT_FDCWD, path, -1);
}

SHIM_EXPORT int lutimes(const char *path, const struct timeval tv[2])
{
    MAP_OR_FAIL(lutimes);
    return timed(real_lutimes(path, tv), AT_FDCWD, path, -1);
}

SHIM_EXPORT int futimes(int fd, const struct timeval tv[2])
{
    MAP_OR_FAIL(futimes);
    return timed(real_futimes(fd, tv), AT_FDCWD, NULL, fd);
}

SHIM_EXPORT int futimesat(int dirfd, const char *path, const struct timeval tv[2])
{
    MAP_OR_FAIL(futimesat);
    return timed(real_futimesat(dirfd, path, tv), dirfd, path, dirfd);
}

SHIM_EXPORT int utime(const char *path, const struct utimbuf *b)
{
    MAP_OR_FAIL(utime);
    return timed(real_utime(path, b), AT_FDCWD, path, -1);
}

static int cwd_changed(int r)
{
    if (r == 0 && shim_active()) {
        int e = errno;
        shim_cwd_update(); /* the kernel's view: symlinks in the path resolved */
        errno = e;
    }
    return r;
}

SHIM_EXPORT int chdir(const char *path)
{
    MAP_OR_FAIL(chdir);
    return cwd_changed(real_chdir(path));
}

SHIM_EXPORT int fchdir(int fd)
{
    MAP_OR_FAIL(fchdir);
    return cwd_changed(real_fchdir(fd));
}
