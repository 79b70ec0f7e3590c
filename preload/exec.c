/* exec.c - every exec* variant: environment repair, interposability check, end of the old image. */
/* every exec* variant: environment repair (the shim and the run survive env -i and execle),
 * interposability check of the target (PT_INTERP, setuid), end of the old image. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "client.h"
#include "elfread.h"
#include "shim.h"
#include "util.h"

extern char **environ;

REAL_DECL(int, execve, (const char *, char *const[], char *const[]));
REAL_DECL(int, execvpe, (const char *, char *const[], char *const[]));
REAL_DECL(int, fexecve, (int, char *const[], char *const[]));
REAL_DECL(int, execveat, (int, const char *, char *const[], char *const[], int));

/* A sanitizer runtime the new image links (ASan, TSan, HWASan): it must come first in the
 * loader's list, so it goes before us in LD_PRELOAD (else it aborts the program). Set by the
 * check of the exec target, read by the environment repair on the same thread. */
static SHIM_TLS char san_rt[64];

/* Configuration that must reach children even when the program rebuilt their environment. */
static const char *const carried[] = {"TRAIL_CAPTURE_EXCLUDE", "TRAIL_REDACT",
                                      "TRAIL_REDACT_DEFAULTS", "TRAIL_SEGMENT_SIZE",
                                      "TRAIL_UNWIND",          NULL};
static char carry_buf[4096];
static char *carry_ptr[8];

void shim_exec_init(void)
{
    size_t o = 0;
    int k = 0;
    for (int i = 0; carried[i]; i++) {
        const char *v = getenv(carried[i]);
        size_t nl = strlen(carried[i]), vl = v ? strlen(v) : 0;
        if (!v || o + nl + vl + 2 > sizeof carry_buf) continue;
        carry_ptr[k++] = carry_buf + o;
        memcpy(carry_buf + o, carried[i], nl);
        carry_buf[o + nl] = '=';
        memcpy(carry_buf + o + nl + 1, v, vl + 1);
        o += nl + vl + 2;
    }
    carry_ptr[k] = NULL;
}

static int is_var(const char *entry, const char *name, size_t nl)
{
    return strncmp(entry, name, nl) == 0 && entry[nl] == '=';
}

/* 1 when LD_PRELOAD's value already names this library. */
static int names_us(const char *v)
{
    while (v && *v) {
        size_t l = strcspn(v, ": ");
        size_t sl = strlen(shim_g.self_path);
        if ((l == sl && !memcmp(v, shim_g.self_path, l)) ||
            (l >= 20 && !memcmp(v + l - 20, "/libtrail_preload.so", 20)))
            return 1;
        v += l;
        while (*v == ':' || *v == ' ')
            v++;
    }
    return 0;
}

static void put_handoff(char *p, size_t n, long pid)
{
    snprintf(p, n, "%s=%ld:%016llx:%s:%s", SHIM_HANDOFF, pid, (unsigned long long)shim_g.env_hash,
             shim_g.outside, shim_g.redact);
}

/* Builds the child's environment: envp without our variables, then LD_PRELOAD (others first,
 * in order, ours last and absolute), the run's variables, carried configuration and the
 * handoff. Stack memory when it fits (vfork children must not allocate), else a mapping. */
char **shim_env_repair(shim_envbuf *b, char *const *envp, char **stackarr, size_t stackn,
                       pid_t handoff_pid)
{
    size_t n = 0;
    for (char *const *p = envp; p && *p; p++)
        n++;
    size_t want = n + 16;
    char **out = stackarr;
    b->mapped = 0;
    if (want > stackn) {
        size_t bytes = (want * sizeof(char *) + 4095) & ~(size_t)4095;
        void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) return (char **)envp;
        out = m;
        b->mapped = bytes;
    }
    const char *old = NULL;
    size_t k = 0;
    for (char *const *p = envp; p && *p; p++) {
        if (is_var(*p, "LD_PRELOAD", 10))
            old = *p + 11;
        else if (!is_var(*p, "TRAIL_RUN_ID", 12) && !is_var(*p, "TRAIL_SPOOL", 11) &&
                 !is_var(*p, SHIM_HANDOFF, strlen(SHIM_HANDOFF)))
            out[k++] = *p;
    }
    for (int i = 0; carry_ptr[i]; i++) {
        size_t nl = strcspn(carry_ptr[i], "=");
        int present = 0;
        for (size_t j = 0; j < k && !present; j++)
            present = is_var(out[j], carry_ptr[i], nl);
        if (!present) out[k++] = carry_ptr[i];
    }
    /* a sanitizer runtime first (see san_rt), the program's own preloads in order, ours last */
    const char *san = san_rt[0] && !(old && !strncmp(old, san_rt, strlen(san_rt))) ? san_rt : "";
    if (old && *old && names_us(old))
        snprintf(b->preload, sizeof b->preload, "LD_PRELOAD=%s%s%s", san, *san ? ":" : "", old);
    else if (old && *old)
        snprintf(b->preload, sizeof b->preload, "LD_PRELOAD=%s%s%s:%s", san, *san ? ":" : "", old,
                 shim_g.self_path);
    else
        snprintf(b->preload, sizeof b->preload, "LD_PRELOAD=%s%s%s", san, *san ? ":" : "",
                 shim_g.self_path);
    snprintf(b->run, sizeof b->run, "TRAIL_RUN_ID=%s", shim_g.run_id);
    snprintf(b->spool, sizeof b->spool, "TRAIL_SPOOL=%s", shim_g.spool);
    put_handoff(b->handoff, sizeof b->handoff, (long)handoff_pid);
    out[k++] = b->preload;
    out[k++] = b->run;
    out[k++] = b->spool;
    out[k++] = b->handoff;
    out[k] = NULL;
    b->envp = out;
    return out;
}

void shim_env_release(shim_envbuf *b)
{
    if (b->mapped) munmap(b->envp, b->mapped);
    b->mapped = 0;
}

/* ---- will the new image load us? ---- */

/* access(X_OK) by raw syscall. */
static int executable(const char *path)
{
    return SYS4(SYS_faccessat, AT_FDCWD, path, X_OK, 0) == 0;
}

/* pread by raw syscall: reading the target never enters our wrappers. */
static long raw_pread(int fd, void *buf, size_t n, uint64_t off)
{
    return SYS4(SYS_pread64, fd, buf, n, off);
}

static const char *check_file(int dirfd, const char *path, int depth)
{
    int fd = (int)SYS4(SYS_openat, dirfd, path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) return NULL; /* unreadable (or missing): exec decides */
    const char *why = NULL;
    struct stat st;
    unsigned char h[256];
    long n = shim_fstat(fd, &st) == 0 ? SYS4(SYS_pread64, fd, h, sizeof h - 1, 0) : -1;
    if (n > 0 && (((st.st_mode & S_ISUID) && st.st_uid != shim_g.uid) ||
                  ((st.st_mode & S_ISGID) && st.st_gid != (gid_t)SYS0(SYS_getgid)))) {
        why = "not interposable: setuid/setgid executable";
    } else if (n > 2 && h[0] == '#' && h[1] == '!' && depth == 0) {
        h[n] = 0;
        char *p = (char *)h + 2;
        while (*p == ' ' || *p == '\t')
            p++;
        size_t l = strcspn(p, " \t\n");
        p[l] = 0;
        if (*p == '/') why = check_file(AT_FDCWD, p, 1);
    } else if (n >= (long)sizeof(Elf64_Ehdr)) {
        tr_elf e;
        int rc = tr_elf_open(&e, fd, raw_pread, h, (size_t)n);
        if (rc == TR_ELF_32BIT) {
            why = "not interposable: 32-bit binary";
        } else if (rc == 0 && !tr_elf_has_interp(&e)) {
            why = "not interposable: static binary";
        } else if (rc == 0) {
            tr_elf_sanitizer(&e, san_rt, sizeof san_rt);
        }
    }
    SYS1(SYS_close, fd);
    return why;
}

const char *shim_not_interposable(const char *path, int dirfd, int search_path)
{
    char found[4096];
    san_rt[0] = 0;
    if (!path || !*path) return NULL;
    if (search_path && !strchr(path, '/')) {
        const char *dirs = getenv("PATH");
        if (tr_path_search(path, dirs ? dirs : "/bin:/usr/bin", executable, found, sizeof found))
            return NULL;
        path = found;
    }
    return check_file(dirfd, path, 0);
}

/* ---- the exec wrappers ---- */

enum { X_EXECVE, X_EXECVPE, X_FEXECVE, X_EXECVEAT };

void shim_proc_end(const char *kind, int code, int sig);

static int do_exec(int how, int dirfd, const char *path, char *const argv[], char *const envp[],
                   int flags)
{
    if (shim_g.state != SHIM_ON || shim_t.depth) goto plain;
    pid_t self = (pid_t)SYS0(SYS_getpid);
    int vchild = self != shim_g.pid; /* a vfork child shares our memory: no records of ours */
    if (!vchild) shim_fork_check();
    char fdpath[64];
    const char *target = path;
    if (how == X_FEXECVE || (how == X_EXECVEAT && path && !*path && (flags & AT_EMPTY_PATH))) {
        snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", dirfd);
        target = fdpath;
        dirfd = AT_FDCWD;
    }
    int e0 = errno;
    SHIM_ENTER();
    const char *why =
        shim_not_interposable(target, how == X_EXECVEAT ? dirfd : AT_FDCWD, how == X_EXECVPE);
    shim_envbuf b;
    char *stackarr[512];
    char **env = shim_env_repair(&b, envp, stackarr, 512, vchild ? 0 : self);
    if (!vchild) {
        shim_fd_finish(why ? 2 : 1);
        shim_deps_scan("dlopen");
        shim_proc_end("exec", -1, 0);
    }
    if (why) { /* the new image records nothing itself: say so for it */
        char resolved[4096];
        if (shim_resolve(dirfd, target, resolved, sizeof resolved) < 0)
            snprintf(resolved, sizeof resolved, "%s", target);
        shim_emit_proc_start(self, vchild ? shim_g.pid : shim_g.ppid, "exec", why, resolved, argv);
        if (strchr(target, '/') && resolved[0] == '/') { /* a static executable: a dependency */
            uint8_t db[4096 + 256];
            tr_enc de;
            shim_enc_begin(&de, db, sizeof db, TR_REC_DEP);
            tr_enc_str(&de, TR_F_PATH, resolved);
            tr_enc_str(&de, TR_F_KIND, "exe");
            tr_enc_i64(&de, TR_F_PID, self);
            shim_emit(&de);
        }
    }
    if (!vchild) tr_client_shutdown();
    SHIM_LEAVE();
    errno = e0;
    int r = -1;
    switch (how) {
    case X_EXECVE:
        r = REAL(execve) ? real_execve(path, argv, env) : (errno = ENOSYS, -1);
        break;
    case X_EXECVPE:
        r = REAL(execvpe) ? real_execvpe(path, argv, env) : (errno = ENOSYS, -1);
        break;
    case X_FEXECVE:
        r = REAL(fexecve) ? real_fexecve(dirfd, argv, env) : (errno = ENOSYS, -1);
        break;
    default:
        r = REAL(execveat) ? real_execveat(dirfd, path, argv, env, flags) : (errno = ENOSYS, -1);
    }
    int e = errno;
    shim_env_release(&b);
    errno = e;
    return r;
plain:
    switch (how) {
    case X_EXECVE:
        MAP_OR_FAIL(execve);
        return real_execve(path, argv, envp);
    case X_EXECVPE:
        MAP_OR_FAIL(execvpe);
        return real_execvpe(path, argv, envp);
    case X_FEXECVE:
        MAP_OR_FAIL(fexecve);
        return real_fexecve(dirfd, argv, envp);
    default:
        MAP_OR_FAIL(execveat);
        return real_execveat(dirfd, path, argv, envp, flags);
    }
}

SHIM_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    return do_exec(X_EXECVE, AT_FDCWD, path, argv, envp, 0);
}

SHIM_EXPORT int execv(const char *path, char *const argv[])
{
    return do_exec(X_EXECVE, AT_FDCWD, path, argv, environ, 0);
}

SHIM_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    return do_exec(X_EXECVPE, AT_FDCWD, file, argv, envp, 0);
}

SHIM_EXPORT int execvp(const char *file, char *const argv[])
{
    return do_exec(X_EXECVPE, AT_FDCWD, file, argv, environ, 0);
}

SHIM_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
    return do_exec(X_FEXECVE, fd, NULL, argv, envp, 0);
}

SHIM_EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[],
                         int flags)
{
    return do_exec(X_EXECVEAT, dirfd, path, argv, envp, flags);
}

/* execl family: the variadic arguments become an argv array on the stack; execle's envp
 * follows the terminating NULL. */
#define VA_ARGV(first, argvname)                                                                   \
    va_list ap;                                                                                    \
    size_t argc = 1;                                                                               \
    va_start(ap, first);                                                                           \
    while (va_arg(ap, char *))                                                                     \
        argc++;                                                                                    \
    va_end(ap);                                                                                    \
    char *argvname[argc + 1];                                                                      \
    argvname[0] = (char *)first;                                                                   \
    va_start(ap, first);                                                                           \
    for (size_t i = 1; i <= argc; i++)                                                             \
        argvname[i] = va_arg(ap, char *);

SHIM_EXPORT int execl(const char *path, const char *arg, ...)
{
    VA_ARGV(arg, argv);
    va_end(ap);
    return do_exec(X_EXECVE, AT_FDCWD, path, argv, environ, 0);
}

SHIM_EXPORT int execlp(const char *file, const char *arg, ...)
{
    VA_ARGV(arg, argv);
    va_end(ap);
    return do_exec(X_EXECVPE, AT_FDCWD, file, argv, environ, 0);
}

SHIM_EXPORT int execle(const char *path, const char *arg, ...)
{
    VA_ARGV(arg, argv);
    char *const *envp = va_arg(ap, char *const *);
    va_end(ap);
    return do_exec(X_EXECVE, AT_FDCWD, path, argv, envp, 0);
}
