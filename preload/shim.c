/* shim.c - capture shim core: initialisation, real-symbol resolution, raw syscalls, paths, emit. */
#include "shim.h"
#include "util.h"

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "record.h"
#include "trail.h"

shim_global shim_g = {.exit_code = -1};
SHIM_TLS shim_tls_t shim_t;
volatile uint32_t *shim_fork_page;

static SHIM_TLS int resolving;

void *shim_dlsym(const char *name)
{
    if (resolving) return NULL; /* dlsym -> calloc -> (a malloc that opens files) -> here */
    resolving = 1;
    void *p = dlsym(RTLD_NEXT, name);
    resolving = 0;
    return p;
}

long shim_sys(long n, long a, long b, long c, long d, long e, long f)
{
#if defined(__x86_64__)
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    register long x5 __asm__("x5") = f;
    __asm__ volatile("svc 0"
                     : "+r"(x0)
                     : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                     : "memory");
    return x0;
#else
#error "libtrail_preload: raw system calls are implemented for x86_64 and aarch64"
#endif
}

int shim_fstat(int fd, struct stat *st)
{
#ifdef SYS_fstat
    return SYS2(SYS_fstat, fd, st) == 0 ? 0 : -1;
#else
    return SYS4(SYS_newfstatat, fd, "", st, AT_EMPTY_PATH) == 0 ? 0 : -1;
#endif
}

int shim_stat(const char *path, struct stat *st, int nofollow)
{
    return SYS4(SYS_newfstatat, AT_FDCWD, path, st, nofollow ? AT_SYMLINK_NOFOLLOW : 0) == 0 ? 0
                                                                                             : -1;
}

int64_t shim_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- the working directory, tracked through chdir/fchdir (a seqlock: readers copy) ---- */

static char cwd_buf[4096];
static size_t cwd_len;
static unsigned cwd_seq;

void shim_cwd_update(void)
{
    char tmp[4096];
    long r = SYS2(SYS_getcwd, tmp, sizeof tmp);
    if (r <= 1 || tmp[0] != '/') return;
    __atomic_add_fetch(&cwd_seq, 1, __ATOMIC_ACQ_REL);
    memcpy(cwd_buf, tmp, (size_t)r);
    cwd_len = (size_t)r - 1;
    __atomic_add_fetch(&cwd_seq, 1, __ATOMIC_ACQ_REL);
}

static int cwd_copy(char *out, size_t n)
{
    for (int tries = 0; tries < 64; tries++) {
        unsigned s = __atomic_load_n(&cwd_seq, __ATOMIC_ACQUIRE);
        if (s & 1) continue;
        size_t l = cwd_len;
        if (l == 0 || l >= n) return -1;
        memcpy(out, cwd_buf, l);
        out[l] = 0;
        if (__atomic_load_n(&cwd_seq, __ATOMIC_ACQUIRE) == s) return (int)l;
    }
    long r = SYS2(SYS_getcwd, out, n); /* a signal handler interrupted an update on this thread */
    return r > 1 && out[0] == '/' ? (int)r - 1 : -1;
}

int shim_resolve(int dirfd, const char *path, char *out, size_t n)
{
    if (!path || !*path || n < 2) return -1;
    int len = 0;
    if (path[0] != '/') {
        if (dirfd == AT_FDCWD) {
            len = cwd_copy(out, n);
        } else {
            len = shim_fd_path(dirfd, out, n);
            if (len < 0) { /* a directory opened before us or by libc internally */
                char link[64];
                memcpy(link, "/proc/self/fd/", 14);
                int k = 14, d = dirfd, digits = 1;
                for (int t = dirfd; t >= 10; t /= 10)
                    digits++;
                for (int i = digits - 1; i >= 0; i--, d /= 10)
                    link[k + i] = (char)('0' + d % 10);
                link[k + digits] = 0;
                long r = SYS3(SYS_readlink, link, out, n - 1);
                len = (r > 0 && out[0] == '/') ? (int)r : -1;
                if (len > 0) out[len] = 0;
            }
        }
        if (len < 0) return -1;
        if (len == 1) len = 0; /* "/" */
    }
    return tr_path_append(out, len, n, path);
}

int shim_excluded(const char *path, size_t len)
{
    const char *p = shim_g.exclude;
    for (int i = 0; i < shim_g.nexclude; p += shim_g.exclude_len[i++] + 1) {
        size_t l = shim_g.exclude_len[i];
        if (len >= l && memcmp(path, p, l) == 0 && (path[l] == '/' || path[l] == 0)) return 1;
    }
    return 0;
}

static void exclude_add(size_t *off, const char *p, size_t l)
{
    while (l > 1 && p[l - 1] == '/')
        l--;
    if (l == 0 || p[0] != '/' || *off + l + 2 > sizeof shim_g.exclude || shim_g.nexclude >= 16)
        return;
    shim_g.exclude_len[shim_g.nexclude++] = (uint16_t)l;
    memcpy(shim_g.exclude + *off, p, l);
    *off += l;
    shim_g.exclude[(*off)++] = 0;
    shim_g.exclude[*off] = 0;
}

static void exclude_init(void)
{
    size_t off = 0;
    static const char *const defaults[] = {"/proc", "/sys", "/dev", NULL};
    for (int i = 0; defaults[i]; i++)
        exclude_add(&off, defaults[i], strlen(defaults[i]));
    exclude_add(&off, shim_g.spool, shim_g.spool_len);
    const char *x = getenv("TRAIL_CAPTURE_EXCLUDE");
    while (x && *x) {
        size_t l = strcspn(x, ",:");
        exclude_add(&off, x, l);
        x += l;
        if (*x) x++;
    }
}

/* ---- records ---- */

void shim_enc_begin(tr_enc *e, uint8_t *buf, size_t cap, uint8_t type)
{
    tr_enc_init(e, buf, cap, type, shim_now());
}

void shim_enc_fingerprint(tr_enc *e, const struct stat *st)
{
    tr_enc_u64(e, TR_F_DEV, (uint64_t)st->st_dev);
    tr_enc_u64(e, TR_F_INO, (uint64_t)st->st_ino);
    tr_enc_i64(e, TR_F_SIZE, (int64_t)st->st_size);
    tr_enc_i64(e, TR_F_MTIME_NS, (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec);
}

void shim_emit(tr_enc *e)
{
    long n = tr_enc_finish(e);
    if (n < 0) {
        __atomic_add_fetch(&shim_g.dropped, 1, __ATOMIC_RELAXED);
        return;
    }
    SHIM_ENTER(); /* the client's own files (segment creation) are not recorded */
    tr_client_emit(e->buf, (size_t)n);
    SHIM_LEAVE();
}

/* ---- start ---- */

int shim_in_vfork_child(void)
{
    if ((pid_t)SYS0(SYS_getpid) != shim_g.pid) return 1;
    shim_t.vfork = 0; /* we are the parent, resumed after the child exec'd or exited */
    return 0;
}

/* A word of the client's wipe-on-fork page: one page (a mapping, an madvise and a fault) for
 * both. NULL on an old kernel: forks are still seen through our fork wrapper. */
static void fork_page_init(void)
{
    volatile uint32_t *w = tr_client_fork_word();
    if (!w) return;
    *w = 1;
    shim_fork_page = w;
}

static void self_path_init(void)
{
    Dl_info info;
    if (!dladdr((void *)&shim_init, &info) || !info.dli_fname) return;
    if (info.dli_fname[0] == '/') {
        size_t l = strlen(info.dli_fname);
        if (l < sizeof shim_g.self_path) memcpy(shim_g.self_path, info.dli_fname, l + 1);
    } else if (!realpath(info.dli_fname, shim_g.self_path)) {
        shim_g.self_path[0] = 0;
    }
}

static void outside_parse(const char *p)
{
    size_t l = strcspn(p, ":");
    if (p[l] == ':' && strlen(p + l + 1) < sizeof shim_g.redact)
        memcpy(shim_g.redact, p + l + 1, strlen(p + l + 1) + 1);
    if (l >= sizeof shim_g.outside) return;
    memcpy(shim_g.outside, p, l);
    shim_g.outside[l] = 0;
    while (*p && shim_g.noutside < SHIM_MAX_OUTSIDE) {
        char *end;
        uint64_t dev = strtoull(p, &end, 16);
        if (*end != '.') break;
        uint64_t ino = strtoull(end + 1, &end, 16);
        shim_g.outside_dev[shim_g.noutside] = dev;
        shim_g.outside_ino[shim_g.noutside++] = ino;
        if (*end != ',') break;
        p = end + 1;
    }
}

/* The root image of the run: files it was started with (trail run's stdio redirected to a
 * file, descriptors leaked by whoever started trail run) are outside the run. */
static void outside_init(void)
{
    size_t o = 0;
    int dfd = (int)SYS3(SYS_openat, AT_FDCWD, "/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return;
    char buf[2048];
    long n;
    while ((n = SYS3(SYS_getdents64, dfd, buf, sizeof buf)) > 0) {
        for (long off = 0; off < n;) {
            struct dirent64 *d = (struct dirent64 *)(void *)(buf + off);
            off += d->d_reclen;
            int fd = atoi(d->d_name);
            struct stat st;
            if (d->d_name[0] < '0' || d->d_name[0] > '9' || fd == dfd) continue;
            if (shim_fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) continue;
            if (shim_g.noutside >= SHIM_MAX_OUTSIDE) break;
            shim_g.outside_dev[shim_g.noutside] = (uint64_t)st.st_dev;
            shim_g.outside_ino[shim_g.noutside++] = (uint64_t)st.st_ino;
            int w =
                snprintf(shim_g.outside + o, sizeof shim_g.outside - o, "%s%llx.%llx", o ? "," : "",
                         (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
            if (w > 0 && (size_t)w < sizeof shim_g.outside - o)
                o += (size_t)w;
            else
                shim_g.outside[o] = 0;
        }
    }
    SYS1(SYS_close, dfd);
}

/* The run's first process: `trail run --redact LIST` does not put LIST into the environment,
 * so it is read from the launcher's command line (the parent, when it is `trail run`). */
static void launcher_redact(void)
{
    char path[64], buf[8192];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)shim_g.ppid);
    int fd = (int)SYS3(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    long n = SYS3(SYS_read, fd, buf, sizeof buf - 1);
    SYS1(SYS_close, fd);
    if (n <= 0) return;
    buf[n] = 0;
    const char *a0 = buf, *slash = strrchr(a0, '/');
    const char *a1 = a0 + strlen(a0) + 1;
    if (strcmp(slash ? slash + 1 : a0, "trail") != 0 || a1 >= buf + n || strcmp(a1, "run") != 0)
        return;
    size_t o = 0;
    for (const char *a = a1 + strlen(a1) + 1; a < buf + n; a += strlen(a) + 1) {
        if (!strcmp(a, "--")) break;
        const char *v = a + strlen(a) + 1;
        if (strcmp(a, "--redact") != 0 || v >= buf + n) continue;
        size_t l = strlen(v);
        if (o + l + 2 > sizeof shim_g.redact) break;
        if (o) shim_g.redact[o++] = ',';
        memcpy(shim_g.redact + o, v, l + 1);
        o += l;
    }
}

/* Reads and removes the handoff variable an interposed parent put into our environment:
 * "PID:ENVHASH:OUTSIDE:REDACT". Returns the kind of this image ("exec" when PID is ours). */
static const char *handoff_take(int *have)
{
    extern char **environ;
    const char *kind = "start";
    size_t hl = strlen(SHIM_HANDOFF);
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, SHIM_HANDOFF, hl) != 0 || (*e)[hl] != '=') continue;
        char *end;
        long pid = strtol(*e + hl + 1, &end, 10);
        if (pid == (long)shim_g.pid) kind = "exec";
        if (*end == ':') {
            shim_g.env_hash = strtoull(end + 1, &end, 16);
            *have = 1;
            if (*end == ':') outside_parse(end + 1);
        }
        char **d = e;
        do
            d[0] = d[1];
        while (*d++);
        break;
    }
    if (!*have) {
        outside_init();
        launcher_redact();
    }
    return kind;
}

static char *cmdline_argv[256];
static char cmdline_buf[16384];

static char **argv_from_proc(void)
{
    int fd = (int)SYS3(SYS_openat, AT_FDCWD, "/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    long n = SYS3(SYS_read, fd, cmdline_buf, sizeof cmdline_buf - 1);
    SYS1(SYS_close, fd);
    if (n <= 0) return NULL;
    cmdline_buf[n] = 0;
    int k = 0;
    for (long i = 0; i < n && k < 255; i += (long)strlen(cmdline_buf + i) + 1)
        cmdline_argv[k++] = cmdline_buf + i;
    cmdline_argv[k] = NULL;
    return cmdline_argv;
}

static int config_ok(void)
{
    if (tr_env_disabled()) return 0;
    const char *run = getenv("TRAIL_RUN_ID"), *spool = getenv("TRAIL_SPOOL");
    if (!run || !spool || spool[0] != '/' || strlen(run) >= sizeof shim_g.run_id) return 0;
    size_t sl = strlen(spool);
    if (sl >= sizeof shim_g.spool) return 0;
    memcpy(shim_g.run_id, run, strlen(run) + 1);
    shim_g.spool_len = (size_t)tr_path_append(shim_g.spool, 0, sizeof shim_g.spool, spool);
    return tr_client_configure(run, spool) == 0;
}

void shim_init(int argc, char **argv, char **envp)
{
    (void)argc;
    int expect = SHIM_UNINIT;
    if (!__atomic_compare_exchange_n(&shim_g.state, &expect, SHIM_INITING, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
        return;
    SHIM_ENTER();
    int errno_saved = errno;
    tr_crc32c_init(); /* common/record.c: the crc32 instruction where the CPU has it */
    if (!config_ok()) {
        __atomic_store_n(&shim_g.state, SHIM_OFF, __ATOMIC_RELEASE);
        SHIM_LEAVE();
        errno = errno_saved;
        return;
    }
    shim_g.pid = (pid_t)SYS0(SYS_getpid);
    shim_g.ppid = (pid_t)SYS0(SYS_getppid);
    shim_g.uid = (uid_t)SYS0(SYS_getuid);
    shim_g.start_ns = shim_now();
    fork_page_init();
    self_path_init();
    exclude_init();
    shim_cwd_update();
    long l = SYS3(SYS_readlink, "/proc/self/exe", shim_g.exe, sizeof shim_g.exe - 1);
    shim_g.exe[l > 0 ? l : 0] = 0;
    int have_hash = 0;
    const char *kind = handoff_take(&have_hash);
    if (!argv) argv = argv_from_proc();
    __atomic_store_n(&shim_g.state, SHIM_ON, __ATOMIC_RELEASE);

    shim_argv = argv;
    shim_exec_init();
    shim_emit_proc_start(shim_g.pid, shim_g.ppid, kind, NULL, shim_g.exe, argv);
    /* The environment is recorded where it differs from the parent image's. Without a handoff
     * the parent is `trail run` (it recorded the launch environment) or not interposed. */
    extern char **environ;
    if (!envp) envp = environ;
    uint64_t h = shim_env_hash(envp);
    if (have_hash && h != shim_g.env_hash) shim_emit_env(envp);
    shim_g.env_hash = h;
    shim_deps_scan("so");
    /* Descriptions inherited from an interposed image of this run are ours to report; those
     * `trail run` itself was given (its stdout redirected to a file) are not part of the run. */
    if (have_hash) shim_fd_adopt_inherited();
    shim_crash_init();
    SHIM_LEAVE();
    errno = errno_saved;
}

void shim_lazy_init(void)
{
    shim_init(0, NULL, NULL); /* a call before our constructor ran (another constructor) */
}

__attribute__((constructor)) static void shim_ctor(int argc, char **argv, char **envp)
{
    shim_init(argc, argv, envp);
}
