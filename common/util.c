/* util.c - clocks, random ids, directory creation, path and name helpers. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "trail.h"

int64_t tr_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t tr_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void tr_random_hex(char *out, size_t nbytes)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t raw[64];
    if (nbytes > sizeof raw) nbytes = sizeof raw;
    size_t got = 0;
    while (got < nbytes) {
        ssize_t r = getrandom(raw + got, nbytes - got, GRND_NONBLOCK);
        if (r <= 0) break;
        got += (size_t)r;
    }
    if (got < nbytes) { /* no entropy source: mix time, pid and a counter (splitmix64) */
        static uint64_t ctr;
        uint64_t x = (uint64_t)tr_mono_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)tr_now_ns();
        for (size_t i = got; i < nbytes; i++) {
            x += 0x9E3779B97F4A7C15ull + __atomic_add_fetch(&ctr, 1, __ATOMIC_RELAXED);
            uint64_t z = x;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
            raw[i] = (uint8_t)(z ^ (z >> 31));
        }
    }
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[2 * nbytes] = 0;
}

int tr_is_hex_id(const char *s)
{
    size_t i = 0;
    for (; s[i]; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return i == TR_ID_LEN;
}

int tr_mkdir_p(const char *path, mode_t mode)
{
    char tmp[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof tmp) {
        errno = ENAMETOOLONG;
        return TRAIL_EIO;
    }
    memcpy(tmp, path, len + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, mode) != 0 && errno != EEXIST) return TRAIL_EIO;
        *p = '/';
    }
    if (mkdir(tmp, mode) != 0 && errno != EEXIST) return TRAIL_EIO;
    struct stat st;
    if (stat(tmp, &st) != 0 || !S_ISDIR(st.st_mode)) {
        if (errno == 0) errno = ENOTDIR;
        return TRAIL_EIO;
    }
    return 0;
}

void tr_hostname(char *buf, size_t n)
{
    if (gethostname(buf, n) != 0 || buf[0] == 0) snprintf(buf, n, "unknown");
    buf[n - 1] = 0;
}

void tr_username(char *buf, size_t n)
{
    struct passwd pw, *res = NULL;
    char tmp[1024];
    if (getpwuid_r(getuid(), &pw, tmp, sizeof tmp, &res) == 0 && res && res->pw_name)
        snprintf(buf, n, "%s", res->pw_name);
    else
        snprintf(buf, n, "%u", (unsigned)getuid());
}

void tr_spool_root(char *buf, size_t n)
{
    const char *r = getenv("TRAIL_SPOOL_ROOT");
    const char *home = getenv("HOME");
    if (r && *r)
        snprintf(buf, n, "%s", r);
    else if (home && *home)
        snprintf(buf, n, "%s/.trail/spool", home);
    else
        snprintf(buf, n, "/tmp/trail-%u/spool", (unsigned)getuid());
}

uint64_t tr_hash64_more(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

uint64_t tr_hash64(const void *p, size_t n)
{
    return tr_hash64_more(TR_HASH64_INIT, p, n);
}

uint64_t tr_hash64_str(uint64_t h, const char *s)
{
    for (const unsigned char *c = (const unsigned char *)s; *c; c++)
        h = (h ^ *c) * 0x100000001b3ull;
    return h;
}

int tr_fmt(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(out, n, fmt, ap);
    va_end(ap);
    return w < 0 || (size_t)w >= n ? TRAIL_ETOOBIG : 0;
}

int tr_path_search(const char *file, const char *path, int (*ok)(const char *), char *out, size_t n)
{
    while (path && *path) {
        size_t l = strcspn(path, ":");
        int w = l ? snprintf(out, n, "%.*s/%s", (int)l, path, file) : snprintf(out, n, "%s", file);
        if (w > 0 && (size_t)w < n && ok(out)) return 0;
        path += l;
        if (*path) path++;
    }
    return -1;
}

int tr_path_join(char *buf, size_t n, const char *a, const char *b)
{
    size_t la = strlen(a);
    while (la > 1 && a[la - 1] == '/')
        la--;
    while (*b == '/')
        b++;
    int w = snprintf(buf, n, "%.*s/%s", (int)la, a, b);
    return (w < 0 || (size_t)w >= n) ? TRAIL_ETOOBIG : 0;
}

int tr_path_append(char *out, int len, size_t n, const char *rel)
{
    const char *p = rel;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p) break;
        const char *e = p;
        while (*e && *e != '/')
            e++;
        size_t sl = (size_t)(e - p);
        if (sl == 1 && p[0] == '.') {
            /* nothing */
        } else if (sl == 2 && p[0] == '.' && p[1] == '.') {
            while (len > 0 && out[len - 1] != '/')
                len--;
            if (len > 0) len--;
        } else {
            if ((size_t)len + 1 + sl + 1 > n) return -1;
            out[len++] = '/';
            memcpy(out + len, p, sl);
            len += (int)sl;
        }
        p = e;
    }
    if (len == 0) {
        if (n < 2) return -1;
        out[len++] = '/';
    }
    out[len] = 0;
    return len;
}

int tr_path_normalize(const char *path, const char *cwd, char *out, size_t n)
{
    int len = 0;
    if (path[0] != '/' && (len = tr_path_append(out, 0, n, cwd ? cwd : "/")) < 0)
        return TRAIL_ETOOBIG;
    return tr_path_append(out, len, n, path) < 0 ? TRAIL_ETOOBIG : 0;
}

int tr_write_file(const char *path, const char *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) return TRAIL_EIO;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            close(fd);
            return TRAIL_EIO;
        }
        off += (size_t)w;
    }
    return close(fd) == 0 ? 0 : TRAIL_EIO;
}

/* Reads an open regular file into buf (NUL-terminated); closes fd. */
static long read_regular(int fd, char *buf, size_t n, int64_t uid)
{
    struct stat st;
    if (fd < 0) return TRAIL_EIO;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uid >= 0 && (int64_t)st.st_uid != uid)) {
        close(fd);
        return TRAIL_EIO;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    size_t off = 0;
    while (off + 1 < n) {
        ssize_t r = read(fd, buf + off, n - 1 - off);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            close(fd);
            return TRAIL_EIO;
        }
        if (r == 0) break;
        off += (size_t)r;
    }
    close(fd);
    buf[off] = 0;
    return (long)off;
}

long tr_read_file(const char *path, char *buf, size_t n)
{
    /* O_NONBLOCK: a FIFO put in the file's place cannot hang the reader (refused below) */
    return read_regular(open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY), buf, n, -1);
}

long tr_read_file_owned(const char *path, char *buf, size_t n, int64_t uid)
{
    return read_regular(open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW), buf,
                        n, uid);
}

int64_t tr_parse_duration_ns(const char *s)
{
    char *end;
    double v = s ? strtod(s, &end) : -1;
    if (!s || end == s || v < 0) return -1;
    double unit = 1;
    switch (*end) {
    case 'w':
        unit = 7 * 86400;
        break;
    case 'd':
        unit = 86400;
        break;
    case 'h':
        unit = 3600;
        break;
    case 'm':
        unit = 60;
        break;
    case 's':
    case 0:
        break;
    default:
        return -1;
    }
    if (*end && end[1]) return -1;
    return (int64_t)(v * unit * 1e9);
}
