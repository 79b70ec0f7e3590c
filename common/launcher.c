/* launcher.c - a run's launcher note and the process identity that judges it alive. */
#include "launcher.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

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

void tr_launcher_self(tr_launcher *l, int64_t pid, int64_t root_pid)
{
    memset(l, 0, sizeof *l);
    l->pid = pid;
    l->start = tr_proc_start_ticks(pid);
    l->root_pid = root_pid;
    l->root_start = root_pid == pid ? l->start : tr_proc_start_ticks(root_pid);
    tr_boot_id(l->boot_id, sizeof l->boot_id);
}

int tr_launcher_write(const char *dir, const tr_launcher *l)
{
    char path[4200], line[256];
    if (tr_path_join(path, sizeof path, dir, TR_LAUNCHER_FILE) != 0) return TRAIL_ETOOBIG;
    int n =
        snprintf(line, sizeof line, "%" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %s\n", l->pid,
                 l->start, l->root_pid, l->root_start, l->boot_id[0] ? l->boot_id : "-");
    return tr_write_file(path, line, (size_t)n, 0600);
}

int tr_launcher_read(const char *dir, tr_launcher *l)
{
    char path[4200], line[256], boot[64];
    memset(l, 0, sizeof *l);
    if (tr_path_join(path, sizeof path, dir, TR_LAUNCHER_FILE) != 0) return TRAIL_ETOOBIG;
    /* the directory may be in a spool root every user can write: a note counts only as a
     * regular file (no FIFO to hang on, no link) of the directory's own owner */
    struct stat st;
    if (stat(dir, &st) != 0 || tr_read_file_owned(path, line, sizeof line, st.st_uid) <= 0)
        return TRAIL_ENOTFOUND;
    if (sscanf(line, "%" SCNd64 " %" SCNd64 " %" SCNd64 " %" SCNd64 " %63s", &l->pid, &l->start,
               &l->root_pid, &l->root_start, boot) != 5)
        return TRAIL_ECORRUPT;
    if (strcmp(boot, "-")) snprintf(l->boot_id, sizeof l->boot_id, "%s", boot);
    return 0;
}

int tr_same_process(int64_t pid, int64_t ticks)
{
    return ticks >= 0 && pid > 0 && tr_proc_start_ticks(pid) == ticks;
}

int tr_launcher_alive(const tr_launcher *l)
{
    char boot[64];
    if (tr_boot_id(boot, sizeof boot) != 0) return -1;
    if (l->boot_id[0] && strcmp(l->boot_id, boot)) return 0; /* another boot: all gone */
    if (!l->boot_id[0] || l->start < 0) return -1;
    return tr_same_process(l->pid, l->start) || tr_same_process(l->root_pid, l->root_start);
}
