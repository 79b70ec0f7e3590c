/* shim.h - internal interface of the capture shim (libtrail_preload.so), shared by its files. */
#ifndef TR_SHIM_H
#define TR_SHIM_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "record.h"

/* Only the interposed libc symbols leave the library; everything else is hidden (the
 * project compiles with -fvisibility=hidden, the trail_core objects included). */
#define SHIM_EXPORT __attribute__((visibility("default")))
#define SHIM_TLS __thread __attribute__((tls_model("initial-exec")))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

enum { SHIM_OFF = -1, SHIM_UNINIT = 0, SHIM_INITING = 1, SHIM_ON = 2, SHIM_DONE = 3 };

/* Process-wide state. `state` is read on every intercepted call. */
typedef struct shim_global {
    int state;
    pid_t pid, ppid;
    uid_t uid;
    int64_t start_ns;
    uint64_t env_hash; /* hash of the environment this image last recorded (or inherited) */
    uint64_t dropped;  /* events not recorded: tables full, paths too long */
    int exit_code;     /* from exit()/_exit()/main's return; -1 unknown */
    int ended;         /* the image end was recorded */
    size_t spool_len;
    int nexclude;
    uint16_t exclude_len[16];
    char run_id[40];
    /* Sized so that the used beginnings of these share a page or two: each page the shim
     * touches at start costs a page fault in every process. Longer values turn the shim off
     * (self_path, spool) or are cut (exe). */
    char self_path[1024]; /* absolute path of libtrail_preload.so */
    char spool[1024];     /* TRAIL_SPOOL, excluded from capture */
    char exe[1024];
    /* Prefixes never recorded as data files, '\0'-separated. */
    char exclude[1024];
    /* Regular files the run's first process was started with (trail run's stdio redirected to
     * a file, descriptors leaked by whoever started trail run): outside the run, never
     * adopted. Passed down in the handoff as "dev.ino,...". */
#define SHIM_MAX_OUTSIDE 16
    int noutside;
    uint64_t outside_dev[SHIM_MAX_OUTSIDE], outside_ino[SHIM_MAX_OUTSIDE];
    char outside[512];
    /* `trail run --redact LIST`: patterns of secret variable names beyond the defaults and
     * TRAIL_REDACT, read from the launcher's command line and passed down in the handoff. */
    char redact[256];
} shim_global;

extern shim_global shim_g;

/* Per-thread state: re-entrancy depth, and a vfork marker set by our vfork entry point. */
typedef struct shim_tls_t {
    int depth;
    int vfork;
} shim_tls_t;
extern SHIM_TLS shim_tls_t shim_t;

/* Wipe-on-fork page: reads 0 in a child made by fork/clone without CLONE_VM that we did not
 * see (raw clone, _Fork, syscall(SYS_fork)); shim_fork_check() then updates the shim. */
extern volatile uint32_t *shim_fork_page;

void shim_init(int argc, char **argv, char **envp);
void shim_lazy_init(void);
int shim_in_vfork_child(void);
void shim_after_fork_child(const char *kind);

/* Returns 1 when an intercepted call should be recorded (shim on, not re-entered, not a vfork
 * child). Cheap: two loads and two branches in the common case. */
static inline int shim_active(void)
{
    if (UNLIKELY(shim_g.state != SHIM_ON)) {
        if (shim_g.state == SHIM_UNINIT) shim_lazy_init();
        if (shim_g.state != SHIM_ON) return 0;
    }
    if (UNLIKELY(shim_t.depth)) return 0;
    if (UNLIKELY(shim_t.vfork) && shim_in_vfork_child()) return 0;
    return 1;
}

static inline void shim_fork_check(void)
{
    if (UNLIKELY(shim_fork_page && *shim_fork_page == 0)) shim_after_fork_child("fork");
}

#define SHIM_ENTER() (shim_t.depth++)
#define SHIM_LEAVE() (shim_t.depth--)

/* Real symbols: resolved with dlsym(RTLD_NEXT) in the constructor for the hot ones and on
 * first use for the rest; NULL while this thread is inside dlsym (which may call calloc). */
void *shim_dlsym(const char *name);
#define REAL_DECL(ret, name, params) static ret(*real_##name) params
#define REAL(name)                                                                                 \
    (LIKELY(real_##name) ? real_##name : (real_##name = (__typeof__(real_##name))shim_dlsym(#name)))
/* Darshan's MAP_OR_FAIL, without exiting: the call fails with ENOSYS. */
#define MAP_OR_FAIL(name)                                                                          \
    do {                                                                                           \
        if (UNLIKELY(!REAL(name))) {                                                               \
            errno = ENOSYS;                                                                        \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)

/* Raw system calls: used by the shim itself so that it never re-enters a wrapper. */
long shim_sys(long n, long a, long b, long c, long d, long e, long f);
#define SYS0(n) shim_sys(n, 0, 0, 0, 0, 0, 0)
#define SYS1(n, a) shim_sys(n, (long)(a), 0, 0, 0, 0, 0)
#define SYS2(n, a, b) shim_sys(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define SYS3(n, a, b, c) shim_sys(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define SYS4(n, a, b, c, d) shim_sys(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define SYS5(n, a, b, c, d, e) shim_sys(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)
#define SYS6(n, a, b, c, d, e, f)                                                                  \
    shim_sys(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))
int shim_fstat(int fd, struct stat *st);
int shim_stat(const char *path, struct stat *st, int nofollow);

int64_t shim_now(void);
/* Resolves path (relative to dirfd or the tracked cwd) to a normalised absolute path in out.
 * Returns its length, or -1 when it cannot be resolved or does not fit. */
int shim_resolve(int dirfd, const char *path, char *out, size_t n);
/* 1 when an absolute normalised path is not recorded as a data file. */
int shim_excluded(const char *path, size_t len);
void shim_cwd_update(void);

/* Records: encode into a caller buffer, then emit. Emitting never changes errno. */
void shim_emit(tr_enc *e);
void shim_enc_begin(tr_enc *e, uint8_t *buf, size_t cap, uint8_t type);
void shim_enc_fingerprint(tr_enc *e, const struct stat *st);

/* fdtable.c: one slot per open file description. shim_seq: the next number of this image's
 * order of FILE_OPEN, FILE and FILEOP records (TR_F_SEQ). */
int64_t shim_seq(void);
enum { SLOT_FILE = 1, SLOT_DIR = 2 };
/* Added to an open's flags by the wrappers: the path did not exist before this O_CREAT open (no
 * O_EXCL, no O_TRUNC), so the open made the file (a write even with no bytes, and never an
 * input of what it read back). Stripped before anything is recorded. */
#define SHIM_O_CREATED 0x40000000
int shim_creating(int dirfd, const char *path, int flags);
void shim_fd_opened(int fd, int dirfd, const char *path, int flags, void *fp);
void shim_fd_flush_stdio(void);
void shim_fd_stdio_closed(void);
void shim_fd_closing(int fd);
/* close in two steps: begin (fd still open: fingerprint of a writer) returns a token when the
 * description's last reference goes, end (after the real close) records and frees it. */
int shim_fd_close_begin(int fd, int defer_fp);
void shim_fd_close_end(int token);
void shim_fd_close_abort(int fd, int token);
int shim_fd_range_begin(unsigned first, unsigned last);
void shim_fd_range_end(void);
void shim_fd_dup(int oldfd, int newfd);
void shim_fd_count(int fd, ssize_t n, int write);
void shim_fd_count_stream(int fd, long n, int write);
void shim_fd_set_stream(int fd, void *fp);
void shim_fd_named(int fd, const char *path, size_t len);
void shim_fd_mmap(int fd, int prot, int flags);
void shim_fd_truncated(int fd);
/* This image changed a file (rename, unlink, link, utime...): versions read before are re-checked.
 */
void shim_fd_changed(void);
/* Copies the tracked path of fd (a file or directory) into out; returns its length or -1. */
int shim_fd_path(int fd, char *out, size_t n);
void shim_fd_after_fork(void);
/* Image end. reason: 0 exit (record every open description), 1 exec into an interposable
 * image (descriptions surviving it are handed over), 2 exec into one that is not. */
void shim_fd_finish(int reason);
void shim_fd_adopt_inherited(void);

/* counters.c: byte counters of open descriptions, in a file mapped shared (survives a kill). */
#include "fdctr.h"
typedef tr_fdctr shim_ctr;
shim_ctr *shim_ctr_shared(int i); /* NULL: not mapped (no spool, another thread making it) */
shim_ctr *shim_ctr_local(int i);
void shim_ctr_end(int exiting);
void shim_ctr_after_fork(void);

/* start.c */
void shim_emit_proc_start(pid_t pid, pid_t ppid, const char *kind, const char *note,
                          const char *exe, char *const *argv);
extern char **shim_argv;
void shim_exec_init(void);
void shim_proc_end(const char *kind, int code, int sig);
void shim_fileop(const char *op, int dirfd, const char *path, int dirfd2, const char *path2, int fd,
                 int64_t size);
void shim_emit_env(char **envp);
uint64_t shim_env_hash(char *const *envp);
void shim_deps_scan(const char *kind);
/* dlopen.c: set by a dlopen the shim could not follow at once (a searched name): the next
 * tracked open scans. */
extern int shim_dlopen_pending;

/* exit.c */
void shim_image_end(const char *kind, int code, int sig);

/* crash.c */
void shim_crash_init(void);

/* exec.c: the environment a child must get (LD_PRELOAD, run variables, handoff). */
#define SHIM_HANDOFF "TRAIL_SHIM_HANDOFF"
typedef struct shim_envbuf {
    char **envp;   /* the repaired array (points into caller memory or a mapping) */
    size_t mapped; /* bytes mapped for the array, 0 when on the caller's stack */
    char preload[8192];
    char run[64];
    char spool[4200];
    char handoff[1024];
} shim_envbuf;
char **shim_env_repair(shim_envbuf *b, char *const *envp, char **stackarr, size_t stackn,
                       pid_t handoff_pid);
void shim_env_release(shim_envbuf *b);
/* 0: dynamic ELF (or script/unknown: let exec decide), else a reason it will not load us. */
const char *shim_not_interposable(const char *path, int dirfd, int search_path);

#endif
