/* sysmetrics.h - the launcher's sampler of the run's process tree and GPUs, every interval, as
 * system/... METRIC records (SOURCE "system"). */
#ifndef TR_SYSMETRICS_H
#define TR_SYSMETRICS_H

#include <stdint.h>
#include <sys/types.h>

#define TR_SYS_MAX_PROCS 1024 /* processes of the tree followed between samples */
#define TR_SYS_MAX_SCAN 32768 /* processes of the machine looked at per sample */

typedef struct tr_sys_proc {
    pid_t pid;
    int64_t cpu, rd, wr, seen;
} tr_sys_proc;

struct tr_nvml;

typedef struct tr_sysmetrics {
    pid_t root;
    int64_t interval_ns, next_ns, last_ns, step;
    long ticks, page;
    int64_t rd_total, wr_total; /* bytes read and written by the tree so far */
    int64_t self_us;            /* the launcher's own CPU time at the last sample */
    int nprev;
    tr_sys_proc prev[TR_SYS_MAX_PROCS];
    struct tr_nvml *gpu; /* NULL: no GPU sampled (the run got one note saying why) */
} tr_sysmetrics;

/* Starts sampling root's tree every interval_s seconds (<= 0: never), the first one interval
 * after the start; GPUs (NVML) are looked for at the first sample. */
void tr_sys_open(tr_sysmetrics *m, pid_t root, double interval_s);
/* Samples when one is due. */
void tr_sys_tick(tr_sysmetrics *m);
/* Ends sampling: a last system/trail_cpu_seconds point (the launcher's own CPU while the
 * command ran) when a sample was taken. */
void tr_sys_close(tr_sysmetrics *m);

#endif
