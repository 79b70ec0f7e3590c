/* tproc.h - test helper: run a real command, capture its output and exit status. */
#ifndef TPROC_H
#define TPROC_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct tproc_buf {
    char *data;
    size_t len, cap;
} tproc_buf;

static void tproc_append(tproc_buf *b, const char *d, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->data = realloc(b->data, b->cap);
    }
    memcpy(b->data + b->len, d, n);
    b->len += n;
    b->data[b->len] = 0;
}

/* Runs argv (PATH lookup), returns its exit status (128+N for signal N), stdout/stderr in
 * *out and *err (malloc'd; pass NULL to discard). */
static int tproc_run(char *const argv[], char **out, char **err)
{
    int po[2], pe[2];
    if (pipe(po) || pipe(pe)) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]);
        close(pe[0]);
        close(po[1]);
        close(pe[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    tproc_buf bo = {0}, be = {0};
    tproc_append(&bo, "", 0);
    tproc_append(&be, "", 0);
    struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    int open_fds = 2;
    while (open_fds > 0) {
        if (poll(fds, 2, -1) < 0 && errno != EINTR) break;
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            char buf[65536];
            ssize_t n = read(fds[i].fd, buf, sizeof buf);
            if (n <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            } else {
                tproc_append(i == 0 ? &bo : &be, buf, (size_t)n);
            }
        }
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (out)
        *out = bo.data;
    else
        free(bo.data);
    if (err)
        *err = be.data;
    else
        free(be.data);
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    return 128 + WTERMSIG(st);
}

/* Convenience: a NULL-terminated list of arguments. */
#define TPROC(out, err, ...) tproc_run((char *const[]){__VA_ARGS__, NULL}, out, err)

/* "$TRAIL_BIN/name" (set by ctest), else build/bin/name. */
static inline const char *tproc_bin(const char *name)
{
    static char buf[8][4096];
    static int k;
    const char *b = getenv("TRAIL_BIN");
    char *p = buf[k++ % 8];
    snprintf(p, 4096, "%s/%s", b ? b : "build/bin", name);
    return p;
}

static inline const char *tproc_test_bin(const char *name)
{
    static char buf[8][4096];
    static int k;
    const char *b = getenv("TRAIL_BUILD");
    char *p = buf[k++ % 8];
    snprintf(p, 4096, "%s/tests/%s", b ? b : "build", name);
    return p;
}

/* A fresh private directory; sets TRAIL_STORE and TRAIL_SPOOL_ROOT inside it. */
static inline const char *tproc_sandbox(void)
{
    static char dir[256];
    snprintf(dir, sizeof dir, "/tmp/trail-test-XXXXXX");
    if (!mkdtemp(dir)) abort();
    char p[512];
    snprintf(p, sizeof p, "%s/store.db", dir);
    setenv("TRAIL_STORE", p, 1);
    snprintf(p, sizeof p, "%s/spool", dir);
    setenv("TRAIL_SPOOL_ROOT", p, 1);
    return dir;
}

#endif
