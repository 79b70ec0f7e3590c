/* trust_util.h - helpers of the trust tests: SQL on a store file, background trail commands. */
#ifndef TRUST_UTIL_H
#define TRUST_UTIL_H

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tnet.h"
#include "tproc.h"

/* One integer from a read-only query on db (-1 when it cannot be read). */
#define tu_sql_int tnet_sql

/* One text value (copied into out, "" when none). */
static inline void tu_sql_text(const char *db, const char *sql, char *out, size_t n)
{
    sqlite3 *h;
    sqlite3_stmt *s = NULL;
    out[0] = 0;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(h);
        return;
    }
    sqlite3_busy_timeout(h, 10000);
    if (sqlite3_prepare_v2(h, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW &&
        sqlite3_column_text(s, 0))
        snprintf(out, n, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    sqlite3_close(h);
}

static inline void tu_nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Starts argv in the background, stdout and stderr to err_path (NULL: /dev/null); own_group
 * puts it in a process group of its own (pgid = its pid). */
static inline pid_t tu_spawn(char *const argv[], const char *err_path, int own_group)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (own_group) setpgid(0, 0);
        int fd = open(err_path ? err_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    if (own_group && pid > 0) setpgid(pid, pid);
    return pid;
}

/* The exit status as tproc_run reports it (128+N for signal N). */
static inline int tu_wait(pid_t pid)
{
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#endif
