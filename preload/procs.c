/* procs.c - process tree: fork, vfork, posix_spawn, system, popen, wait, exit and image end. */
/* process tree: fork (and forks we only notice later), vfork (no shim code in the child until
 * exec), posix_spawn/p, system, popen/pclose with environment repair, the exit status of reaped
 * children, and the end of an image (exit/_exit/_Exit, the destructor). */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "shim.h"

extern char **environ;

REAL_DECL(pid_t, fork, (void));
REAL_DECL(pid_t, vfork, (void));
REAL_DECL(int, posix_spawn,
          (pid_t *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
           char *const[], char *const[]));
REAL_DECL(int, posix_spawnp,
          (pid_t *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
           char *const[], char *const[]));
REAL_DECL(int, system, (const char *));
REAL_DECL(FILE *, popen, (const char *, const char *));
REAL_DECL(int, pclose, (FILE *));
REAL_DECL(pid_t, waitpid, (pid_t, int *, int));
REAL_DECL(pid_t, wait4, (pid_t, int *, int, struct rusage *));
REAL_DECL(int, waitid, (idtype_t, id_t, siginfo_t *, int));

/* In a child made by fork (or clone without CLONE_VM, noticed through the wipe-on-fork page):
 * a process of its own, with its own segment; descriptions it inherited stay the parent's to
 * report unless the child uses them. */
void shim_after_fork_child(const char *kind)
{
    SHIM_ENTER();
    if (shim_fork_page) *shim_fork_page = 1;
    shim_g.pid = (pid_t)SYS0(SYS_getpid);
    shim_g.ppid = (pid_t)SYS0(SYS_getppid);
    shim_g.start_ns = shim_now();
    shim_g.exit_code = -1;
    shim_g.ended = 0;
    shim_t.vfork = 0;
    shim_fd_after_fork();
    shim_emit_proc_start(shim_g.pid, shim_g.ppid, kind, NULL, shim_g.exe, shim_argv);
    SHIM_LEAVE();
}

SHIM_EXPORT pid_t fork(void)
{
    MAP_OR_FAIL(fork);
    if (!shim_active()) return real_fork();
    shim_deps_scan("dlopen"); /* the child inherits an up-to-date list */
    pid_t r = real_fork();
    if (r == 0) {
        int e = errno;
        shim_after_fork_child("fork");
        errno = e;
    }
    return r;
}

/* vfork cannot be wrapped by a C function (the child would return through our frame and the
 * parent would find it clobbered): mark the thread and jump to the real vfork, so it returns
 * straight to the caller. Shim calls in the child see the mark and a pid that is not ours and
 * do nothing except repair the environment at exec. */
__attribute__((used, noinline, visibility("hidden"))) void *shim_vfork_prepare(void)
{
    if (shim_g.state == SHIM_ON) shim_t.vfork = 1;
    if (REAL(vfork)) return (void *)real_vfork;
    shim_t.vfork = 0;
    return REAL(fork) ? (void *)real_fork : NULL;
}

#if defined(__x86_64__)
__attribute__((naked)) SHIM_EXPORT pid_t vfork(void)
{
    __asm__ volatile("push %rbp\n\t"
                     "call shim_vfork_prepare\n\t"
                     "pop %rbp\n\t"
                     "jmp *%rax\n\t");
}
#elif defined(__aarch64__)
__attribute__((naked)) SHIM_EXPORT pid_t vfork(void)
{
    __asm__ volatile("stp x29, x30, [sp, #-16]!\n\t"
                     "bl shim_vfork_prepare\n\t"
                     "ldp x29, x30, [sp], #16\n\t"
                     "br x0\n\t");
}
#endif

/* ---- posix_spawn: glibc's child runs no exported function, so repair the env up front ---- */

static int spawn(int search, pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                 const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    int (*fn)(pid_t *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
              char *const[], char *const[]) = search ? REAL(posix_spawnp) : REAL(posix_spawn);
    if (!fn) return ENOSYS;
    if (!shim_active() || !envp) return fn(pid, path, fa, attr, argv, envp);
    int e = errno;
    SHIM_ENTER();
    const char *why = shim_not_interposable(path, AT_FDCWD, search);
    shim_envbuf b;
    char *arr[512];
    char **env = shim_env_repair(&b, envp, arr, 512, 0);
    SHIM_LEAVE();
    errno = e;
    pid_t child = 0;
    int r = fn(&child, path, fa, attr, argv, env);
    e = errno;
    SHIM_ENTER();
    shim_env_release(&b);
    if (r == 0 && why) shim_emit_proc_start(child, shim_g.pid, "start", why, path, argv);
    SHIM_LEAVE();
    if (r == 0 && pid) *pid = child;
    errno = e;
    return r;
}

SHIM_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                            const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    return spawn(0, pid, path, fa, attr, argv, envp);
}

SHIM_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                             const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    return spawn(1, pid, file, fa, attr, argv, envp);
}

/* ---- system and popen: libc spawns /bin/sh with `environ`; when the program removed our
 * variables from it we start the shell ourselves with a repaired environment ---- */

static int environ_ok(void)
{
    int pre = 0, run = 0;
    for (char **e = environ; e && *e; e++) {
        if (!strncmp(*e, "LD_PRELOAD=", 11))
            pre = strstr(*e, shim_g.self_path) != NULL;
        else if (!strncmp(*e, "TRAIL_RUN_ID=", 13))
            run = !strcmp(*e + 13, shim_g.run_id);
    }
    return pre && run;
}

static int sh_spawn(pid_t *pid, const char *cmd, const posix_spawn_file_actions_t *fa,
                    const sigset_t *mask, int sigdefault)
{
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    short flags = 0;
    if (mask) {
        posix_spawnattr_setsigmask(&attr, mask);
        flags |= POSIX_SPAWN_SETSIGMASK;
    }
    if (sigdefault) {
        sigset_t def;
        sigemptyset(&def);
        sigaddset(&def, SIGINT);
        sigaddset(&def, SIGQUIT);
        posix_spawnattr_setsigdefault(&attr, &def);
        flags |= POSIX_SPAWN_SETSIGDEF;
    }
    posix_spawnattr_setflags(&attr, flags);
    char *argv[] = {"sh", "-c", (char *)cmd, NULL};
    int r = spawn(0, pid, "/bin/sh", fa, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);
    return r;
}

SHIM_EXPORT int system(const char *cmd)
{
    MAP_OR_FAIL(system);
    if (!cmd || !shim_active() || environ_ok()) return real_system(cmd);
    struct sigaction ign = {.sa_handler = SIG_IGN}, intr, quit;
    sigset_t block, omask;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGINT, &ign, &intr);
    sigaction(SIGQUIT, &ign, &quit);
    sigemptyset(&block);
    sigaddset(&block, SIGCHLD);
    sigprocmask(SIG_BLOCK, &block, &omask);
    pid_t pid;
    int status;
    if (sh_spawn(&pid, cmd, NULL, &omask, 1) == 0) {
        while (waitpid(pid, &status, 0) < 0)
            if (errno != EINTR) {
                status = -1;
                break;
            }
    } else {
        status = 127 << 8; /* as glibc: the shell could not be run */
    }
    sigaction(SIGINT, &intr, NULL);
    sigaction(SIGQUIT, &quit, NULL);
    sigprocmask(SIG_SETMASK, &omask, NULL);
    return status;
}

#define NPOPEN 64
static struct {
    FILE *fp;
    pid_t pid;
} popened[NPOPEN];

SHIM_EXPORT FILE *popen(const char *cmd, const char *mode)
{
    if (!REAL(popen)) return NULL;
    if (!cmd || !mode || !shim_active() || environ_ok()) return real_popen(cmd, mode);
    int rd = mode[0] == 'r', p[2];
    if ((mode[0] != 'r' && mode[0] != 'w') || pipe2(p, O_CLOEXEC) != 0)
        return real_popen(cmd, mode);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    int child_end = rd ? p[1] : p[0], want = rd ? 1 : 0;
    if (child_end != want)
        posix_spawn_file_actions_adddup2(&fa, child_end, want);
    else
        fcntl(child_end, F_SETFD, 0);
    pid_t pid;
    int r = sh_spawn(&pid, cmd, &fa, NULL, 0);
    posix_spawn_file_actions_destroy(&fa);
    close(child_end);
    int mine = rd ? p[0] : p[1];
    if (r != 0) {
        close(mine);
        errno = r;
        return NULL;
    }
    if (!strchr(mode, 'e')) fcntl(mine, F_SETFD, 0);
    FILE *fp = fdopen(mine, rd ? "r" : "w");
    for (int i = 0; fp && i < NPOPEN; i++)
        if (__atomic_compare_exchange_n(&popened[i].fp, &(FILE *){NULL}, fp, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED)) {
            popened[i].pid = pid;
            break;
        }
    return fp;
}

SHIM_EXPORT int pclose(FILE *fp)
{
    MAP_OR_FAIL(pclose);
    for (int i = 0; fp && i < NPOPEN; i++) {
        if (__atomic_load_n(&popened[i].fp, __ATOMIC_ACQUIRE) != fp) continue;
        pid_t pid = popened[i].pid;
        __atomic_store_n(&popened[i].fp, NULL, __ATOMIC_RELEASE);
        fclose(fp);
        int status;
        while (waitpid(pid, &status, 0) < 0)
            if (errno != EINTR) return -1;
        return status;
    }
    return real_pclose(fp);
}

/* ---- reaped children: their exit status, even when they could not record it ---- */

static void reaped(pid_t pid, int status)
{
    if (pid <= 0 || !(WIFEXITED(status) || WIFSIGNALED(status)) || !shim_active()) return;
    int e = errno;
    uint8_t buf[256];
    tr_enc enc;
    shim_enc_begin(&enc, buf, sizeof buf, TR_REC_PROC_END);
    tr_enc_i64(&enc, TR_F_PID, pid);
    if (WIFEXITED(status))
        tr_enc_i64(&enc, TR_F_EXIT_CODE, WEXITSTATUS(status));
    else
        tr_enc_i64(&enc, TR_F_SIGNAL, WTERMSIG(status));
    tr_enc_str(&enc, TR_F_KIND, "reaped");
    tr_enc_str(&enc, TR_F_SOURCE, "shim");
    shim_emit(&enc);
    errno = e;
}

SHIM_EXPORT pid_t waitpid(pid_t pid, int *status, int options)
{
    MAP_OR_FAIL(waitpid);
    int st = 0;
    pid_t r = real_waitpid(pid, &st, options);
    if (r > 0 && status) *status = st;
    if (r > 0) reaped(r, st);
    return r;
}

SHIM_EXPORT pid_t wait(int *status)
{
    return waitpid(-1, status, 0);
}

SHIM_EXPORT pid_t wait4(pid_t pid, int *status, int options, struct rusage *ru)
{
    MAP_OR_FAIL(wait4);
    int st = 0;
    pid_t r = real_wait4(pid, &st, options, ru);
    if (r > 0 && status) *status = st;
    if (r > 0) reaped(r, st);
    return r;
}

SHIM_EXPORT int waitid(idtype_t idtype, id_t id, siginfo_t *info, int options)
{
    MAP_OR_FAIL(waitid);
    int r = real_waitid(idtype, id, info, options);
    if (r == 0 && info && info->si_pid > 0 && !(options & WNOWAIT)) {
        if (info->si_code == CLD_EXITED)
            reaped(info->si_pid, (info->si_status & 0xff) << 8);
        else if (info->si_code == CLD_KILLED || info->si_code == CLD_DUMPED)
            reaped(info->si_pid, info->si_status & 0x7f);
    }
    return r;
}

/* ---- end of an image: FILE records of still-open descriptions, PROC_END with rusage, the
 * segment closed ---- */

typedef void (*exit_fn)(int) __attribute__((noreturn));
static exit_fn real_exit, real__exit, real__Exit;
REAL_DECL(int, fcloseall, (void));

void shim_proc_end(const char *kind, int code, int sig)
{
    struct rusage ru;
    uint8_t buf[512];
    tr_enc e;
    shim_enc_begin(&e, buf, sizeof buf, TR_REC_PROC_END);
    tr_enc_i64(&e, TR_F_PID, shim_g.pid);
    if (sig)
        tr_enc_i64(&e, TR_F_SIGNAL, sig);
    else if (code >= 0)
        tr_enc_i64(&e, TR_F_EXIT_CODE, code);
    if (SYS2(SYS_getrusage, RUSAGE_SELF, &ru) == 0) {
        tr_enc_i64(&e, TR_F_UTIME_US, (int64_t)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec);
        tr_enc_i64(&e, TR_F_STIME_US, (int64_t)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec);
        tr_enc_i64(&e, TR_F_MAXRSS_KB, ru.ru_maxrss);
    }
    tr_enc_str(&e, TR_F_KIND, kind);
    tr_enc_str(&e, TR_F_SOURCE, "shim");
    uint64_t dropped = __atomic_load_n(&shim_g.dropped, __ATOMIC_RELAXED);
    if (dropped) {
        char note[96];
        snprintf(note, sizeof note, "%llu file events not recorded (tables full or paths too long)",
                 (unsigned long long)dropped);
        tr_enc_str(&e, TR_F_NOTE, note);
    }
    shim_emit(&e);
}

/* Records the end of this image once: open descriptions, late dlopens, PROC_END. */
void shim_image_end(const char *kind, int code, int sig)
{
    if (__atomic_exchange_n(&shim_g.ended, 1, __ATOMIC_ACQ_REL)) return;
    SHIM_ENTER();
    shim_fd_finish(0);
    shim_deps_scan("dlopen");
    shim_proc_end(kind, code, sig);
    tr_client_shutdown();
    __atomic_store_n(&shim_g.state, SHIM_DONE, __ATOMIC_RELEASE);
    SHIM_LEAVE();
}

/* exit() in a vfork child (undefined behaviour, but it happens) must not end the parent's
 * image: that state is shared. */
static int ending_here(void)
{
    if (shim_g.state != SHIM_ON || shim_t.depth) return 0;
    if ((pid_t)SYS0(SYS_getpid) != shim_g.pid) {
        if (shim_fork_page && *shim_fork_page == 0) {
            shim_after_fork_child("fork"); /* a clone child we had not noticed yet */
            return 1;
        }
        return 0;
    }
    return 1;
}

SHIM_EXPORT void exit(int code)
{
    if (!real_exit) real_exit = (exit_fn)shim_dlsym("exit");
    if (ending_here()) shim_g.exit_code = code & 0xff; /* the destructor records the end */
    if (real_exit) real_exit(code);
    SYS1(SYS_exit_group, code);
    __builtin_unreachable();
}

SHIM_EXPORT void _exit(int code)
{
    if (!real__exit) real__exit = (exit_fn)shim_dlsym("_exit");
    if (ending_here()) shim_image_end("exit", code & 0xff, 0); /* no destructor will run */
    if (real__exit) real__exit(code);
    SYS1(SYS_exit_group, code);
    __builtin_unreachable();
}

SHIM_EXPORT void _Exit(int code)
{
    if (!real__Exit) real__Exit = (exit_fn)shim_dlsym("_Exit");
    if (ending_here()) shim_image_end("exit", code & 0xff, 0);
    if (real__Exit) real__Exit(code);
    SYS1(SYS_exit_group, code);
    __builtin_unreachable();
}

/* fcloseall closes streams inside libc: the descriptions' records are made after it. */
SHIM_EXPORT int fcloseall(void)
{
    MAP_OR_FAIL(fcloseall);
    int r = real_fcloseall();
    if (shim_active()) {
        int e = errno;
        SHIM_ENTER();
        shim_fd_stdio_closed();
        SHIM_LEAVE();
        errno = e;
    }
    return r;
}

/* exit() and a return from main arrive here (after the program's atexit handlers and the
 * destructors of objects initialised after us). stdio is flushed by libc only after this, so
 * the streams writing tracked files are flushed first: their fingerprints must be final. */
__attribute__((destructor)) static void shim_dtor(void)
{
    if (!ending_here()) return;
    int e = errno;
    SHIM_ENTER();
    shim_fd_flush_stdio();
    SHIM_LEAVE();
    shim_image_end("exit", shim_g.exit_code, 0);
    errno = e;
}
