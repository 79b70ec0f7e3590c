/* sysmetrics.c - the launcher's sampler of the run's process tree (/proc) and GPUs (NVML). */
#include "sysmetrics.h"

#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "client.h"
#include "record.h"
#include "util.h"

/* NVML, loaded at run time: the few calls used, with their C types. */
typedef struct nvml_util {
    unsigned int gpu, memory;
} nvml_util;
typedef struct nvml_mem {
    unsigned long long total, free, used;
} nvml_mem;
struct tr_nvml {
    void *lib;
    int (*shutdown)(void);
    int (*count)(unsigned int *);
    int (*handle)(unsigned int, void **);
    int (*util)(void *, nvml_util *);
    int (*mem)(void *, nvml_mem *);
    int (*power)(void *, unsigned int *);
    unsigned int n;
};

static void emit_point(const char *key, double v, int64_t step, int64_t now)
{
    uint8_t buf[512];
    tr_enc e;
    tr_enc_init(&e, buf, sizeof buf, TR_REC_METRIC, now);
    tr_enc_str(&e, TR_F_KEY, key);
    tr_enc_f64(&e, TR_F_NUM, v);
    tr_enc_i64(&e, TR_F_STEP, step);
    tr_enc_str(&e, TR_F_SOURCE, "system");
    long n = tr_enc_finish(&e);
    if (n > 0) tr_client_emit(buf, (size_t)n);
}

/* The one note a run gets when there is no GPU to sample. */
static void emit_note(const char *text)
{
    uint8_t buf[1024];
    tr_enc e;
    tr_enc_init(&e, buf, sizeof buf, TR_REC_TAG, tr_now_ns());
    tr_enc_str(&e, TR_F_KEY, "system.gpu");
    tr_enc_str(&e, TR_F_VALUE, text);
    tr_enc_str(&e, TR_F_SOURCE, "agent");
    long n = tr_enc_finish(&e);
    if (n > 0) tr_client_emit(buf, (size_t)n);
}

static struct tr_nvml *nvml_open(void)
{
    void *lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        emit_note("not sampled: libnvidia-ml.so.1 cannot be loaded");
        return NULL;
    }
    struct tr_nvml *g = calloc(1, sizeof *g);
    int (*init)(void) = (int (*)(void))dlsym(lib, "nvmlInit_v2");
    if (g) {
        g->lib = lib;
        g->shutdown = (int (*)(void))dlsym(lib, "nvmlShutdown");
        g->count = (int (*)(unsigned int *))dlsym(lib, "nvmlDeviceGetCount_v2");
        g->handle = (int (*)(unsigned int, void **))dlsym(lib, "nvmlDeviceGetHandleByIndex_v2");
        g->util = (int (*)(void *, nvml_util *))dlsym(lib, "nvmlDeviceGetUtilizationRates");
        g->mem = (int (*)(void *, nvml_mem *))dlsym(lib, "nvmlDeviceGetMemoryInfo");
        g->power = (int (*)(void *, unsigned int *))dlsym(lib, "nvmlDeviceGetPowerUsage");
    }
    if (!g || !init || !g->shutdown || !g->count || !g->handle || init() != 0) {
        emit_note("not sampled: NVML did not initialise");
        free(g);
        dlclose(lib);
        return NULL;
    }
    if (g->count(&g->n) != 0 || g->n == 0) {
        emit_note("not sampled: NVML reports no GPU");
        g->shutdown();
        dlclose(lib);
        free(g);
        return NULL;
    }
    return g;
}

static void nvml_sample(struct tr_nvml *g, int64_t step, int64_t now)
{
    for (unsigned int i = 0; i < g->n && i < 64; i++) {
        void *h;
        char key[96];
        if (g->handle(i, &h) != 0) continue;
        nvml_util u;
        nvml_mem m;
        unsigned int mw;
        if (g->util && g->util(h, &u) == 0) {
            snprintf(key, sizeof key, "system/gpu%u/utilization_percent", i);
            emit_point(key, u.gpu, step, now);
        }
        if (g->mem && g->mem(h, &m) == 0) {
            snprintf(key, sizeof key, "system/gpu%u/memory_used_bytes", i);
            emit_point(key, (double)m.used, step, now);
        }
        if (g->power && g->power(h, &mw) == 0) {
            snprintf(key, sizeof key, "system/gpu%u/power_watts", i);
            emit_point(key, mw / 1000.0, step, now);
        }
    }
}

void tr_sys_open(tr_sysmetrics *m, pid_t root, double interval_s)
{
    memset(m, 0, sizeof *m);
    m->root = root;
    if (interval_s <= 0 || root <= 0) return;
    m->interval_ns = (int64_t)(interval_s * 1e9);
    if (m->interval_ns < 100000000LL) m->interval_ns = 100000000LL;
    m->ticks = sysconf(_SC_CLK_TCK);
    m->page = sysconf(_SC_PAGESIZE);
    if (m->ticks <= 0) m->ticks = 100;
    if (m->page <= 0) m->page = 4096;
    m->last_ns = tr_now_ns();
    m->next_ns = m->last_ns + m->interval_ns; /* a run shorter than one interval has none */
}

/* /proc/PID/stat: ppid, utime + stime (ticks) and rss (pages); 0, or -1 (also for a zombie:
 * it holds no memory, and its time is its parent's to collect). */
static int read_stat(pid_t pid, pid_t *ppid, int64_t *cpu, int64_t *rss)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
    if (!p) return -1;
    long long f4, ut, st, rs;
    char state;
    /* fields after the name: 3 state 4 ppid ... 14 utime 15 stime ... 24 rss */
    if (sscanf(p + 1,
               " %c %lld %*s %*s %*s %*s %*s %*s %*s %*s %*s %lld %lld %*s %*s %*s %*s %*s"
               " %*s %*s %*s %lld",
               &state, &f4, &ut, &st, &rs) != 5)
        return -1;
    if (state == 'Z' || state == 'X') return -1;
    *ppid = (pid_t)f4;
    *cpu = ut + st;
    *rss = rs;
    return 0;
}

/* /proc/PID/io read_bytes and write_bytes (storage I/O); 0 each when unreadable. */
static void read_io(pid_t pid, int64_t *rd, int64_t *wr)
{
    char path[64], line[128];
    snprintf(path, sizeof path, "/proc/%d/io", (int)pid);
    *rd = *wr = 0;
    FILE *f = fopen(path, "re");
    if (!f) return;
    long long v;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "read_bytes: %lld", &v) == 1) *rd = v;
        if (sscanf(line, "write_bytes: %lld", &v) == 1) *wr = v;
    }
    fclose(f);
}

static int64_t count_fds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (!d) return 0;
    int64_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

/* The previous sample's counters of pid (a new entry when unknown; NULL when full). */
static tr_sys_proc *prev_of(tr_sysmetrics *m, pid_t pid)
{
    for (int i = 0; i < m->nprev; i++)
        if (m->prev[i].pid == pid) return &m->prev[i];
    if (m->nprev >= TR_SYS_MAX_PROCS) return NULL;
    tr_sys_proc *p = &m->prev[m->nprev++];
    memset(p, 0, sizeof *p);
    p->pid = pid;
    return p;
}

/* trail's own share: the launcher's CPU time (its console copy, sampling and delivery) since it
 * started, and its rate over the last interval, beside the job's. */
static void trail_cpu(tr_sysmetrics *m, int64_t now)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return;
    int64_t us = (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
                 ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
    double dt = (double)(now - m->last_ns) / 1e9;
    if (m->step > 0 && dt > 0 && us >= m->self_us)
        emit_point("system/trail_cpu_percent", 100.0 * (double)(us - m->self_us) / 1e6 / dt,
                   m->step, now);
    emit_point("system/trail_cpu_seconds", (double)us / 1e6, m->step, now);
    m->self_us = us;
}

static void sample(tr_sysmetrics *m, int64_t now)
{
    /* every process and its parent, then the tree under root by repeated passes */
    static pid_t pids[TR_SYS_MAX_SCAN], ppids[TR_SYS_MAX_SCAN];
    static unsigned char in[TR_SYS_MAX_SCAN];
    int n = 0;
    DIR *d = opendir("/proc");
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) && n < TR_SYS_MAX_SCAN) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0) continue;
        int64_t cpu, rss;
        pid_t pp;
        if (read_stat((pid_t)pid, &pp, &cpu, &rss) != 0) continue;
        pids[n] = (pid_t)pid;
        ppids[n] = pp;
        in[n] = pid == m->root;
        n++;
    }
    closedir(d);
    for (int changed = 1; changed;) {
        changed = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; !in[i] && j < n; j++)
                if (in[j] && ppids[i] == pids[j]) in[i] = changed = 1;
    }
    int64_t rss = 0, fds = 0, dcpu = 0, procs = 0;
    for (int i = 0; i < n; i++) {
        if (!in[i]) continue;
        int64_t cpu, r, rd, wr;
        pid_t pp;
        if (read_stat(pids[i], &pp, &cpu, &r) != 0) continue;
        read_io(pids[i], &rd, &wr);
        procs++;
        rss += r * m->page;
        fds += count_fds(pids[i]);
        tr_sys_proc *p = prev_of(m, pids[i]);
        if (!p) continue;
        /* counters grow: a drop is a new process of a reused pid */
        if (cpu >= p->cpu) dcpu += cpu - p->cpu;
        if (rd >= p->rd) m->rd_total += rd - p->rd;
        if (wr >= p->wr) m->wr_total += wr - p->wr;
        p->cpu = cpu;
        p->rd = rd;
        p->wr = wr;
        p->seen = m->step + 1;
    }
    /* forget the processes gone since */
    for (int i = 0; i < m->nprev;)
        if (m->prev[i].seen != m->step + 1)
            m->prev[i] = m->prev[--m->nprev];
        else
            i++;
    if (procs == 0) return;
    double dt = (double)(now - m->last_ns) / 1e9;
    if (dt > 0) /* the first: what the tree used since it started, over the time since then */
        emit_point("system/cpu_percent", 100.0 * (double)dcpu / (double)m->ticks / dt, m->step,
                   now);
    emit_point("system/rss_bytes", (double)rss, m->step, now);
    emit_point("system/read_bytes", (double)m->rd_total, m->step, now);
    emit_point("system/write_bytes", (double)m->wr_total, m->step, now);
    emit_point("system/open_fds", (double)fds, m->step, now);
    emit_point("system/processes", (double)procs, m->step, now);
    trail_cpu(m, now);
    if (m->step == 0) m->gpu = nvml_open(); /* or the run's one note saying why not */
    if (m->gpu) nvml_sample(m->gpu, m->step, now);
    m->last_ns = now;
    m->step++;
}

void tr_sys_tick(tr_sysmetrics *m)
{
    if (!m->interval_ns) return;
    int64_t now = tr_now_ns();
    if (now < m->next_ns) return;
    sample(m, now);
    while (m->next_ns <= now)
        m->next_ns += m->interval_ns;
}

void tr_sys_close(tr_sysmetrics *m)
{
    if (m->interval_ns && m->step > 0) { /* trail's own CPU while the command ran, at its end */
        int64_t now = tr_now_ns();
        trail_cpu(m, now);
        m->last_ns = now;
        m->step++;
    }
    if (m->gpu) {
        m->gpu->shutdown();
        dlclose(m->gpu->lib);
        free(m->gpu);
    }
    m->gpu = NULL;
    m->interval_ns = 0;
}
