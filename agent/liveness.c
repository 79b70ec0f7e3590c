/* liveness.c - is a run's launcher (or its process tree) alive on this host; settling runs. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "agent.h"
#include "settle.h"
#include "spool.h"
#include "trail.h"
#include "util.h"

int64_t tr_proc_start_ticks(int64_t pid)
{
    char path[64], buf[1024];
    if (pid <= 0) return -1;
    snprintf(path, sizeof path, "/proc/%lld/stat", (long long)pid);
    long n = tr_read_file(path, buf, sizeof buf);
    if (n <= 0) return -1;
    /* the name in parentheses may hold anything: fields are counted after its last ')' */
    char *p = strrchr(buf, ')');
    if (!p) return -1;
    p++;
    unsigned long long start = 0;
    /* after ')': state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
     * stime cutime cstime priority nice threads itrealvalue starttime(22) */
    if (sscanf(p,
               " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
               &start) != 1)
        return -1;
    return (int64_t)start;
}

int tr_boot_id(char *buf, size_t n)
{
    long l = tr_read_file("/proc/sys/kernel/random/boot_id", buf, n);
    if (l <= 0) {
        if (n) buf[0] = 0;
        return TRAIL_EIO;
    }
    buf[strcspn(buf, "\n")] = 0;
    return 0;
}

/* pid runs the process that started at ticks (a reused pid started at another time). */
static int same_process(int64_t pid, int64_t ticks)
{
    return ticks >= 0 && pid > 0 && tr_proc_start_ticks(pid) == ticks;
}

/* A process writes the run's spool directory still. */
static int spool_live(const char *root, const char *run)
{
    char dir[4200];
    tr_spool_reader *r = NULL;
    if (!root || tr_path_join(dir, sizeof dir, root, run) != 0) return 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    closedir(d);
    if (tr_spool_reader_open(dir, &r) != 0) return 1; /* cannot tell: alive */
    int live = tr_spool_reader_pending(r) > 0 && tr_spool_reader_live_writers(r) > 0;
    tr_spool_reader_close(r);
    return live;
}

/* tr_settle_alive_fn: ctx is the spool root. Another boot means everything of it is gone. */
static int alive(void *ctx, const tr_settle_run *run)
{
    char boot[64];
    if (tr_boot_id(boot, sizeof boot) != 0) return -1;
    if (run->boot_id[0] && strcmp(run->boot_id, boot)) return 0;
    if (!run->boot_id[0] || run->launcher_start < 0) return -1; /* no way to tell */
    if (same_process(run->launcher_pid, run->launcher_start)) return 1;
    if (same_process(run->pid, run->root_start)) return 1;
    return spool_live(ctx, run->id);
}

int tr_agent_settle(tr_store *st, const char *spool_root)
{
    char host[256], root[4096];
    if (!st) return 0;
    if (!spool_root) {
        tr_spool_root(root, sizeof root);
        spool_root = root;
    }
    tr_hostname(host, sizeof host);
    return tr_store_settle(st, host, alive, (void *)spool_root);
}
