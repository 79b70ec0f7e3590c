/* launcher.h - who launched a run: its note in the run's spool directory, and process identity
 * (pid + start time + boot) that tells a live launcher from a dead one or a reused pid. */
#ifndef TR_LAUNCHER_H
#define TR_LAUNCHER_H

#include <stddef.h>
#include <stdint.h>

/* `<run dir>/launcher`: one line "PID START ROOT_PID ROOT_START BOOT_ID", written 0600 by the
 * process that owns the run (`trail run`, or the SDK when it starts a run itself) and removed
 * with the directory when the run ended normally. A directory that keeps it after its launcher
 * died tells the agent that nobody will record the run's end (agent/liveness.c). */
#define TR_LAUNCHER_FILE "launcher"

typedef struct tr_launcher {
    int64_t pid, start;           /* the launcher; start in clock ticks since boot, -1 unknown */
    int64_t root_pid, root_start; /* the run's root process (the launcher itself for the SDK) */
    char boot_id[64];             /* the boot it ran in ("" unknown) */
} tr_launcher;

/* The start time of pid in clock ticks since boot (/proc/PID/stat field 22), -1 if none. */
int64_t tr_proc_start_ticks(int64_t pid);
/* This boot's id (/proc/sys/kernel/random/boot_id). 0 or TRAIL_EIO (buf ""). */
int tr_boot_id(char *buf, size_t n);
/* Fills l for launcher pid and root process root_pid as they are now. */
void tr_launcher_self(tr_launcher *l, int64_t pid, int64_t root_pid);
/* Writes/reads dir's note. 0 or TRAIL_E* (TRAIL_ENOTFOUND: no note). */
int tr_launcher_write(const char *dir, const tr_launcher *l);
int tr_launcher_read(const char *dir, tr_launcher *l);
/* 1 when pid still runs the process that started at ticks (not a reused pid), else 0. */
int tr_same_process(int64_t pid, int64_t ticks);
/* Whether the launcher or its root process lives: 1 yes, 0 both gone (or another boot),
 * -1 cannot tell (no boot id, no start time). */
int tr_launcher_alive(const tr_launcher *l);

#endif
