/* crash.c - fatal signals: CRASH records with libunwind backtraces, the program's handlers kept. */
/* fatal signals: a CRASH record with a libunwind backtrace (async-signal-safe code, pre-reserved
 * buffers), then the program's handler or the default disposition as it would have run.
 * sigaction/signal are interposed so the program's view of these signals is its own. */
#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <libunwind.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "client.h"
#include "shim.h"

#define XSTR(x) STR(x)
#define STR(x) #x
#define NSIGS 5
#define ALTSTACK (256 * 1024)

static const int crash_sigs[NSIGS] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
static struct sigaction views[NSIGS]; /* what the program set (or inherited) */
static int installed[65];             /* signal -> index in views + 1 */
#define view(sig) views[installed[sig] - 1]
static void *altstack;
static int crashed;

REAL_DECL(int, sigaction, (int, const struct sigaction *, struct sigaction *));
REAL_DECL(int, sigaltstack, (const stack_t *, stack_t *));
REAL_DECL(__sighandler_t, signal, (int, __sighandler_t));

/* libunwind, opened RTLD_LOCAL so its _Unwind_* never replace libgcc's for the program. Loaded
 * at a crash, in a copy of the process, by default (TRAIL_UNWIND=eager: at start, in every
 * process, which costs its loading; off: never). */
typedef int (*init2_fn)(unw_cursor_t *, unw_context_t *, int);
typedef int (*step_fn)(unw_cursor_t *);
typedef int (*getreg_fn)(unw_cursor_t *, unw_regnum_t, unw_word_t *);
typedef int (*name_fn)(unw_cursor_t *, char *, size_t, unw_word_t *);
static struct {
    void *h;
    init2_fn init2;
    step_fn step;
    getreg_fn getreg;
    name_fn name;
    int mode; /* 0 lazy, 1 eager, 2 off */
} unw;

static int unw_open(void)
{
    if (unw.h) return unw.init2 != NULL;
    unw.h = dlopen(TRAIL_LIBUNWIND_SONAME, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    if (!unw.h) unw.h = dlopen(TRAIL_LIBUNWIND_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!unw.h) return 0;
    unw.step = (step_fn)dlsym(unw.h, XSTR(unw_step));
    unw.getreg = (getreg_fn)dlsym(unw.h, XSTR(unw_get_reg));
    unw.name = (name_fn)dlsym(unw.h, XSTR(unw_get_proc_name));
    init2_fn i2 = (init2_fn)dlsym(unw.h, XSTR(unw_init_local2));
    if (unw.step && unw.getreg && unw.name) unw.init2 = i2;
    return unw.init2 != NULL;
}

/* Async-signal-safe text building. */
typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static void put(sbuf *b, const char *s, size_t l)
{
    if (l > b->cap - b->n) l = b->cap - b->n;
    memcpy(b->p + b->n, s, l);
    b->n += l;
}

static void puts_(sbuf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void putnum(sbuf *b, unsigned long v, int base)
{
    char t[24];
    int i = 24;
    do
        t[--i] = "0123456789abcdef"[v % (unsigned)base];
    while ((v /= (unsigned)base) && i > 0);
    if (base == 16) puts_(b, "0x");
    put(b, t + i, (size_t)(24 - i));
}

static char bt_text[16384];
static uint8_t bt_rec[16384 + 512];
static char bt_name[512];

static void emit_crash(int sig, const char *text, size_t len, const char *note)
{
    tr_enc e;
    shim_enc_begin(&e, bt_rec, sizeof bt_rec, TR_REC_CRASH);
    tr_enc_i64(&e, TR_F_PID, shim_g.pid);
    tr_enc_i64(&e, TR_F_SIGNAL, sig);
    if (len) tr_enc_strn(&e, TR_F_BACKTRACE, text, len);
    if (note) tr_enc_str(&e, TR_F_NOTE, note);
    tr_enc_str(&e, TR_F_SOURCE, "shim");
    shim_emit(&e);
}

static size_t backtrace_text(ucontext_t *uc, sbuf *b)
{
    unw_context_t ctx;
    unw_cursor_t cur;
    memcpy(&ctx, uc, sizeof ctx < sizeof *uc ? sizeof ctx : sizeof *uc);
    if (unw.init2(&cur, &ctx, UNW_INIT_SIGNAL_FRAME) != 0) return 0;
    for (int i = 0, n = 0; i < 64; i++) {
        unw_word_t ip = 0, off = 0;
        unw.getreg(&cur, UNW_REG_IP, &ip);
        int named = unw.name(&cur, bt_name, sizeof bt_name, &off) == 0;
        if (!(named && !strncmp(bt_name, "shim_", 5))) { /* our own frames are not the program's */
            puts_(b, "#");
            putnum(b, (unsigned long)n++, 10);
            puts_(b, " ");
            putnum(b, (unsigned long)ip, 16);
            puts_(b, named ? " in " : " in ??");
            if (named) {
                puts_(b, bt_name);
                puts_(b, "+");
                putnum(b, (unsigned long)off, 16);
            }
            puts_(b, "\n");
        }
        if (unw.step(&cur) <= 0) break;
    }
    return b->n;
}

/* What is not async-signal-safe happens in a disposable copy of the crashed process: the scan
 * for dlopen'd objects (the loader's lock) and, unless libunwind was loaded at start, loading
 * it and unwinding. Either may deadlock or fault when the crash left the allocator or the
 * loader locked or the heap corrupt; only the copy pays. The copy is a raw clone (no atfork
 * handlers, no locks, no SIGCHLD to the program), its stderr is /dev/null, a timer bounds it. */
static void in_child(int sig, ucontext_t *uc, const char *note, int unwind)
{
    long c = SYS5(SYS_clone, 0, 0, 0, 0, 0);
    if (c == 0) {
        int nul = (int)SYS3(SYS_openat, AT_FDCWD, "/dev/null", O_WRONLY);
        if (nul >= 0) SYS3(SYS_dup3, nul, 2, 0);
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        for (int i = 0; i < NSIGS; i++)
            real_sigaction(crash_sigs[i], &dfl, NULL);
        sigset_t all;
        sigfillset(&all);
        sigprocmask(SIG_UNBLOCK, &all, NULL); /* a fault in here ends the copy, not a hang */
        struct itimerval it = {{0, 0}, {2, 0}};
        SYS3(SYS_setitimer, ITIMER_REAL, &it, NULL); /* SIGALRM, default: ends the copy */
        shim_deps_scan("dlopen"); /* objects dlopen'd since the last scan (records of the parent) */
        sbuf b = {bt_text, 0, sizeof bt_text};
        if (unwind && unw_open() && backtrace_text(uc, &b) > 0) emit_crash(sig, bt_text, b.n, note);
        tr_client_shutdown();
        SYS1(SYS_exit_group, 0);
    }
    if (c < 0) return;
    for (int i = 0; i < 1500; i++) { /* at most ~3 s */
        if (SYS4(SYS_wait4, c, NULL, WNOHANG | __WALL, NULL) == c) return;
        struct timespec ts = {0, 2000000};
        SYS2(SYS_nanosleep, &ts, NULL);
    }
    SYS2(SYS_kill, c, SIGKILL);
    SYS4(SYS_wait4, c, NULL, __WALL, NULL);
}

static void record_crash(int sig, siginfo_t *si, ucontext_t *uc)
{
    char note[96];
    sbuf nb = {note, 0, sizeof note - 1};
    puts_(&nb, "fault address ");
    putnum(&nb, (unsigned long)si->si_addr, 16);
    note[nb.n] = 0;
    /* first what needs no unwinding: the crash, the files, the end of the process */
    emit_crash(sig, NULL, 0, note);
    shim_fd_finish(0);
    shim_proc_end("signal", -1, sig);
    shim_g.ended = 1;
    int unwind = uc && unw.mode != 2;
    if (unwind && unw.init2) { /* loaded at start (TRAIL_UNWIND=eager) or by the program */
        sbuf b = {bt_text, 0, sizeof bt_text};
        if (backtrace_text(uc, &b) > 0) emit_crash(sig, bt_text, b.n, note);
        unwind = 0;
    }
    in_child(sig, uc, note, unwind);
}

static void crash_handler(int sig, siginfo_t *si, void *ucv)
{
    int e = errno;
    struct sigaction v = view(sig);
    void (*h)(int) = v.sa_handler;
    int fault = si && si->si_code > 0 && sig != SIGABRT; /* raised by the CPU, not sent */
    if (h == SIG_DFL || (h == SIG_IGN && fault)) {
        if (!__atomic_exchange_n(&crashed, 1, __ATOMIC_ACQ_REL) && shim_g.state == SHIM_ON &&
            !shim_t.depth && !shim_g.ended) {
            SHIM_ENTER();
            record_crash(sig, si, ucv);
            SHIM_LEAVE();
        }
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        real_sigaction(sig, &dfl, NULL);
        if (!fault) /* sent by kill/raise/abort: deliver it again, now fatal, on return */
            SYS3(SYS_tgkill, SYS0(SYS_getpid), SYS0(SYS_gettid), sig);
        errno = e;
        return; /* a fault re-executes the instruction and meets the default disposition */
    }
    if (h == SIG_IGN) return;
    /* the program's own handler, with its mask and flags */
    if (v.sa_flags & SA_RESETHAND) {
        memset(&view(sig), 0, sizeof view(sig));
        view(sig).sa_handler = SIG_DFL;
    }
    sigset_t mask = v.sa_mask, old;
    if (v.sa_flags & SA_NODEFER) {
        sigset_t self;
        sigemptyset(&self);
        sigaddset(&self, sig);
        sigprocmask(SIG_UNBLOCK, &self, NULL);
    }
    sigprocmask(SIG_BLOCK, &mask, &old);
    errno = e;
    if (v.sa_flags & SA_SIGINFO)
        v.sa_sigaction(sig, si, ucv);
    else
        h(sig);
    sigprocmask(SIG_SETMASK, &old, NULL);
}

/* One of the signals whose view we keep. Not in a vfork child: it shares our memory, and what
 * it sets (Python's subprocess resets handlers there) is for its own, separate dispositions. */
static int ours(int sig)
{
    if (sig <= 0 || sig >= 65 || !installed[sig] || shim_g.state != SHIM_ON) return 0;
    return !(shim_t.vfork && shim_in_vfork_child());
}

/* Our handler for sig; what was there before into *old when old is not NULL (one call). */
static int install(int sig, int restart, struct sigaction *old)
{
    struct sigaction a;
    memset(&a, 0, sizeof a);
    a.sa_sigaction = crash_handler;
    a.sa_flags = SA_SIGINFO | SA_ONSTACK | (restart ? SA_RESTART : 0);
    sigemptyset(&a.sa_mask);
    return real_sigaction(sig, &a, old);
}

void shim_crash_init(void)
{
    const char *m = getenv("TRAIL_UNWIND");
    unw.mode = m && !strcmp(m, "eager") ? 1 : m && !strcmp(m, "off") ? 2 : 0;
    if (unw.mode == 1) unw_open();
    if (!REAL(sigaction) || !REAL(sigaltstack)) return;
    stack_t cur;
    if (real_sigaltstack(NULL, &cur) == 0 && (cur.ss_flags & SS_DISABLE)) {
        /* for stack overflows; pages are touched only when a crash uses them */
        void *p = mmap(NULL, ALTSTACK, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        stack_t ss = {.ss_sp = p, .ss_size = ALTSTACK, .ss_flags = 0};
        if (p != MAP_FAILED && real_sigaltstack(&ss, NULL) == 0) altstack = p;
    }
    for (int i = 0; i < NSIGS; i++) { /* the program's view and our handler in one call */
        int s = crash_sigs[i];
        if (install(s, 0, &views[i]) != 0) continue;
        installed[s] = i + 1;
    }
}

SHIM_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    MAP_OR_FAIL(sigaction);
    if (!ours(sig)) return real_sigaction(sig, act, old);
    struct sigaction prev = view(sig);
    if (act) {
        view(sig) = *act;
        install(sig, (act->sa_flags & SA_RESTART) != 0, NULL);
    }
    if (old) *old = prev;
    return 0;
}

static __sighandler_t set_simple(int sig, __sighandler_t h, int flags)
{
    struct sigaction a, old;
    memset(&a, 0, sizeof a);
    a.sa_handler = h;
    a.sa_flags = flags;
    sigemptyset(&a.sa_mask);
    if (sigaction(sig, &a, &old) != 0) return SIG_ERR;
    return old.sa_handler;
}

SHIM_EXPORT __sighandler_t signal(int sig, __sighandler_t h)
{
    if (!ours(sig)) {
        if (!REAL(signal)) return SIG_ERR;
        return real_signal(sig, h);
    }
    return set_simple(sig, h, SA_RESTART);
}

SHIM_EXPORT __sighandler_t bsd_signal(int sig, __sighandler_t h)
{
    return signal(sig, h);
}

REAL_DECL(__sighandler_t, sysv_signal, (int, __sighandler_t));
SHIM_EXPORT __sighandler_t sysv_signal(int sig, __sighandler_t h)
{
    if (!ours(sig)) return REAL(sysv_signal) ? real_sysv_signal(sig, h) : SIG_ERR;
    return set_simple(sig, h, SA_RESETHAND | SA_NODEFER);
}

SHIM_EXPORT __sighandler_t __sysv_signal(int sig, __sighandler_t h)
{
    return sysv_signal(sig, h);
}

/* Our alternate stack is invisible: a program asking sees none until it sets its own. */
SHIM_EXPORT int sigaltstack(const stack_t *ss, stack_t *old)
{
    MAP_OR_FAIL(sigaltstack);
    int r = real_sigaltstack(ss, old);
    if (r == 0 && old && altstack && old->ss_sp == altstack) {
        old->ss_sp = NULL;
        old->ss_size = 0;
        old->ss_flags = SS_DISABLE;
    }
    return r;
}
