/* kids.c - children of static processes (busybox, Go programs), which the shim never sees. */
/* A static executable is never interposed: what it forks records nothing itself (until a child
 * execs a dynamic program, whose shim records it). trail run makes itself the run's child
 * subreaper and looks into /proc: it walks the run's process tree (each process's
 * /proc/PID/task/TID/children) every WALK_MS, and every FAST_MS the children of the static
 * processes it knows (while a new process appeared in the last second: a static process idle
 * longer is looked at with the walks only, so a static server costs no fast polling), and records
 * each child of a static process as a PROC_START (kind "fork", NOTE "not interposable: ...", pid,
 * parent, exe and command line as /proc has them) and, when a static process (one of those, or one
 * an interposed parent exec'd) is gone while still static, a PROC_END: with its exit status when
 * trail run reaped it (an orphan, reparented to the subreaper), else with the note that its parent
 * reaped it (status unknown). Limits: a child that lives less than the polling interval can be
 * missed; one first seen after its static parent is gone has trail run as its parent; a process
 * that checks getppid() == 1 to learn that its parent died sees trail run instead while it runs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "argv_rec.h"
#include "client.h"
#include "elfread.h"
#include "record.h"
#include "redact.h"
#include "util.h"

#define WALK_MS 20
#define FAST_MS 2
#define BUSY_NS 1000000000LL
#define MAXK 4096

typedef struct kid {
    int pid, ppid;
    unsigned long long start; /* start time in ticks: (pid, start) is one process */
    int is_static, recorded, alive;
    char comm[20]; /* changes at an exec: the executable is looked at again */
} kid;

struct tr_kids {
    int root;
    kid *v;
    size_t n;
    int64_t last_walk;
    int64_t last_new; /* when a process was last seen for the first time */
    int nstatic;      /* static processes alive: the fast poll runs while there are some */
    char host[256];
};

/* ppid and start time from /proc/PID/stat; 0 when it is gone. */
static int proc_stat(int pid, int *ppid, unsigned long long *start, char *state, char comm[20])
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    long n = tr_read_file(path, buf, sizeof buf - 1);
    if (n <= 0) return 0;
    buf[n] = 0;
    const char *rp = strrchr(buf, ')'), *lp = strchr(buf, '(');
    if (!rp || !lp || rp < lp) return 0;
    if (comm) snprintf(comm, 20, "%.*s", (int)(rp - lp - 1), lp + 1);
    unsigned long long f[20];
    char st = 0;
    int pp = 0;
    /* fields after comm: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
     * utime stime cutime cstime priority nice threads itrealvalue starttime */
    if (sscanf(rp + 2,
               "%c %d %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu "
               "%llu %llu %llu %llu %llu",
               &st, &pp, &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &f[9],
               &f[10], &f[11], &f[12], &f[13], &f[14], &f[15], &f[16], &f[17]) < 20)
        return 0;
    *ppid = pp;
    *start = f[17];
    if (state) *state = st;
    return 1;
}

static long elf_pread(int fd, void *buf, size_t n, uint64_t off)
{
    return (long)pread(fd, buf, n, (off_t)off);
}

/* 1 when the process's executable has no program interpreter (a static ELF). */
static int is_static_exe(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/exe", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    uint8_t head[64];
    tr_elf e;
    int r = pread(fd, head, sizeof head, 0) == (ssize_t)sizeof head &&
            tr_elf_open(&e, fd, elf_pread, head, sizeof head) == 0 && !tr_elf_has_interp(&e);
    close(fd);
    return r;
}

static kid *find(tr_kids *k, int pid)
{
    for (size_t i = k->n; i-- > 0;)
        if (k->v[i].pid == pid) return &k->v[i];
    return NULL;
}

static void emit(tr_enc *e)
{
    long n = tr_enc_finish(e);
    if (n > 0) tr_client_emit(e->buf, (size_t)n);
}

/* When process c started (its fork), from its start time in clock ticks since boot: rounded
 * down, so never after an exec of its that its own shim records. */
static int64_t started_ns(const kid *c)
{
    struct timespec b;
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0 || clock_gettime(CLOCK_BOOTTIME, &b) != 0) return tr_now_ns();
    int64_t boot_ns = (int64_t)b.tv_sec * 1000000000LL + b.tv_nsec;
    int64_t at = (int64_t)(c->start / (unsigned long long)hz) * 1000000000LL +
                 (int64_t)(c->start % (unsigned long long)hz) * (1000000000LL / hz);
    return tr_now_ns() - (boot_ns - at);
}

/* PROC_START of a process of a static parent (kind fork), or of a static process's exec of a
 * static image (kind exec: busybox running an applet as /proc/self/exe), from what /proc says. */
static void record_start(tr_kids *k, const kid *c, const char *kind)
{
    char path[64], exe[4096], cmd[8192], scratch[4096];
    uint8_t buf[16384];
    tr_enc e;
    int64_t now = tr_now_ns();
    tr_enc_init(&e, buf, sizeof buf, TR_REC_PROC_START, now);
    tr_enc_i64(&e, TR_F_PID, c->pid);
    tr_enc_i64(&e, TR_F_PPID, c->ppid);
    tr_enc_str(&e, TR_F_KIND, kind);
    tr_enc_i64(&e, TR_F_START_NS, strcmp(kind, "fork") ? now : started_ns(c));
    tr_enc_str(&e, TR_F_HOST, k->host);
    tr_enc_i64(&e, TR_F_UID, (int64_t)getuid());
    tr_enc_str(&e, TR_F_SOURCE, "cli");
    tr_enc_str(&e, TR_F_NOTE,
               "not interposable: a child of a static process, seen by trail run in /proc");
    snprintf(path, sizeof path, "/proc/%d/exe", c->pid);
    ssize_t l = readlink(path, exe, sizeof exe - 1);
    if (l > 0) {
        exe[l] = 0;
        tr_enc_str_fit(&e, TR_F_EXE, exe, sizeof exe, 64);
    }
    snprintf(path, sizeof path, "/proc/%d/cwd", c->pid);
    if ((l = readlink(path, exe, sizeof exe - 1)) > 0) {
        exe[l] = 0;
        tr_enc_str_fit(&e, TR_F_CWD, exe, sizeof exe, 64);
    }
    snprintf(path, sizeof path, "/proc/%d/cmdline", c->pid);
    long n = tr_read_file(path, cmd, sizeof cmd - 1);
    char *argv[65];
    int argc = 0;
    for (long i = 0; n > 0 && i < n && argc < 64; i += (long)strlen(cmd + i) + 1)
        argv[argc++] = cmd + i;
    argv[argc] = NULL;
    if (n > 0) cmd[n] = 0;
    tr_redact r;
    tr_redact_init(&r, getenv("TRAIL_REDACT"));
    tr_enc_argv(&e, &r, argv, 48, 64, scratch, sizeof scratch);
    emit(&e);
}

static void record_end(const kid *c, const int *wstatus, const struct rusage *ru)
{
    uint8_t buf[512];
    tr_enc e;
    tr_enc_init(&e, buf, sizeof buf, TR_REC_PROC_END, tr_now_ns());
    tr_enc_i64(&e, TR_F_PID, c->pid);
    tr_enc_str(&e, TR_F_SOURCE, "cli");
    if (wstatus) {
        tr_enc_str(&e, TR_F_KIND, "reaped");
        if (WIFEXITED(*wstatus))
            tr_enc_i64(&e, TR_F_EXIT_CODE, WEXITSTATUS(*wstatus));
        else
            tr_enc_i64(&e, TR_F_SIGNAL, WTERMSIG(*wstatus));
        if (ru) {
            tr_enc_i64(&e, TR_F_UTIME_US,
                       (int64_t)ru->ru_utime.tv_sec * 1000000 + ru->ru_utime.tv_usec);
            tr_enc_i64(&e, TR_F_STIME_US,
                       (int64_t)ru->ru_stime.tv_sec * 1000000 + ru->ru_stime.tv_usec);
            tr_enc_i64(&e, TR_F_MAXRSS_KB, ru->ru_maxrss);
        }
    } else {
        tr_enc_str(&e, TR_F_KIND, "exit");
        tr_enc_str(&e, TR_F_NOTE, "exit status unknown: its parent reaped it");
    }
    emit(&e);
}

/* A process of the tree seen now: known from before, or new (recorded when its parent is
 * static). */
static kid *see(tr_kids *k, int pid, int parent_static)
{
    int ppid;
    unsigned long long start;
    char st;
    char comm[20];
    kid *c = find(k, pid);
    if (!proc_stat(pid, &ppid, &start, &st, comm)) return NULL;
    if (c && c->start == start) {
        if (c->alive && strcmp(c->comm, comm) != 0) { /* an exec since: static now? */
            int was = c->is_static;
            memcpy(c->comm, comm, sizeof comm);
            c->is_static = is_static_exe(pid);
            if (c->is_static && was) { /* static to static: no shim saw it */
                record_start(k, c, "exec");
            } else if (parent_static && c->is_static && !c->recorded) {
                record_start(k, c, "fork");
                c->recorded = 1;
            }
        }
        return c;
    }
    if (c) { /* the pid was reused: the old one is gone */
        if (c->alive && c->is_static && c->pid != k->root) record_end(c, NULL, NULL);
        c->alive = 0;
    }
    if (!c) {
        if (k->n >= MAXK) return NULL;
        c = &k->v[k->n++];
    }
    memset(c, 0, sizeof *c);
    k->last_new = tr_mono_ns();
    c->pid = pid;
    c->ppid = ppid;
    c->start = start;
    memcpy(c->comm, comm, sizeof comm);
    c->alive = st != 'Z' && st != 'X';
    c->is_static = c->alive && is_static_exe(pid);
    if (parent_static && c->is_static) { /* a dynamic child records itself */
        record_start(k, c, "fork");
        c->recorded = 1;
    }
    return c;
}

/* The children of pid (every thread's), each seen; recursion into them when deep. */
static void children(tr_kids *k, int pid, int is_static, int deep, int depth)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *d = opendir(path);
    if (!d) return;
    struct dirent *t;
    while ((t = readdir(d))) {
        if (t->d_name[0] < '0' || t->d_name[0] > '9') continue;
        char cp[320];
        snprintf(cp, sizeof cp, "/proc/%d/task/%s/children", pid, t->d_name);
        long n = tr_read_file(cp, buf, sizeof buf - 1);
        if (n <= 0) continue;
        buf[n] = 0;
        for (char *s = buf, *end; *s; s = end) {
            long c = strtol(s, &end, 10);
            if (end == s) break;
            kid *x = c > 0 ? see(k, (int)c, is_static && c != k->root) : NULL;
            if (x && deep && depth < 64) children(k, x->pid, x->is_static, deep, depth + 1);
        }
    }
    closedir(d);
}

tr_kids *tr_kids_open(int root)
{
    tr_kids *k = calloc(1, sizeof *k);
    if (!k || !(k->v = calloc(MAXK, sizeof *k->v))) {
        free(k);
        return NULL;
    }
    k->root = root;
    tr_hostname(k->host, sizeof k->host);
    return k;
}

/* A process trail run reaped (an orphan of the run, reparented to it). */
void tr_kids_reaped(tr_kids *k, int pid, int wstatus, const struct rusage *ru)
{
    kid *c = k ? find(k, pid) : NULL;
    if (!c || !c->alive) return;
    if (c->is_static && c->pid != k->root) record_end(c, &wstatus, ru);
    c->alive = 0;
}

/* One look; returns the milliseconds until the next one is due. */
int tr_kids_tick(tr_kids *k)
{
    if (!k) return 1000;
    int64_t now = tr_mono_ns();
    if (now - k->last_walk >= WALK_MS * 1000000LL) {
        k->last_walk = now;
        kid *r = see(k, k->root, 0);
        if (r) children(k, r->pid, r->is_static, 1, 0);
        /* orphans of the run, reparented to us: a static one was forked by a static process
         * that is gone (its parent is trail run from here) */
        children(k, (int)getpid(), 1, 1, 0);
    } else if (now - k->last_new < BUSY_NS) {
        for (size_t i = 0; i < k->n; i++)
            if (k->v[i].alive && k->v[i].is_static) children(k, k->v[i].pid, 1, 0, 0);
    }
    /* the end of static processes still known alive: gone, exec'd a dynamic program (its own
     * records from here), or a zombie of a static parent */
    int nstatic = 0, walked = k->last_walk == now;
    for (size_t i = 0; i < k->n; i++) {
        kid *c = &k->v[i];
        if (!c->alive || !c->is_static) continue;
        int ppid;
        unsigned long long start;
        char st;
        if (!proc_stat(c->pid, &ppid, &start, &st, NULL) || start != c->start || st == 'Z') {
            if (st == 'Z' && start == c->start && ppid == getpid()) continue; /* ours to reap */
            if (c->pid != k->root) record_end(c, NULL, NULL); /* the root: trail run's */
            c->alive = 0;
        } else if (walked && !is_static_exe(c->pid)) {
            c->is_static = 0; /* interposed now */
        } else {
            nstatic++;
        }
    }
    k->nstatic = nstatic;
    /* the fast look while static processes make children (a script of applets); one that has
     * made none for a second (a static server) is looked at with the walks only */
    return nstatic && now - k->last_new < BUSY_NS ? FAST_MS : WALK_MS;
}

void tr_kids_close(tr_kids *k)
{
    if (!k) return;
    free(k->v);
    free(k);
}
