/* exit.c - end of a process image: exit/_exit/_Exit wrappers and the destructor record the
 * FILE records of still-open descriptions, PROC_END with rusage, and close the segment. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "client.h"
#include "shim.h"

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
