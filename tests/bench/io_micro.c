/* io_micro.c - capture overhead micro-benchmark: N x (open, read 4 KiB, close) over 100 files;
 * with NFILES, over that many small files (the file-record ingest workload: each open is a
 * version of its own, since the shim makes repeated opens of one version one description). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NFILES 100
#define FSIZE 4096

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The size of each file of a set of nfiles. */
static int fsize(long nfiles)
{
    return nfiles == NFILES ? FSIZE : 64;
}

/* `io_micro setup DIR [NFILES]`: creates DIR/f000..f099 of 4 KiB each (NFILES files of 64
 * bytes). */
static int setup(const char *dir, long nfiles)
{
    char path[4096], buf[FSIZE];
    memset(buf, 'x', sizeof buf);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        perror(dir);
        return 1;
    }
    ssize_t size = fsize(nfiles);
    for (long i = 0; i < nfiles; i++) {
        snprintf(path, sizeof path, "%s/f%03ld", dir, i);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || write(fd, buf, (size_t)size) != size || close(fd) != 0) {
            perror(path);
            return 1;
        }
    }
    return 0;
}

/* `io_micro run DIR [N [NFILES]]`: N (default 100000) iterations; prints the loop time in
 * seconds. With NFILES each path is formatted in the loop (100 are formatted before it). */
static int run(const char *dir, long n, long nfiles)
{
    static char paths[NFILES][4096];
    char buf[FSIZE], many[4096];
    for (int i = 0; i < NFILES; i++)
        snprintf(paths[i], sizeof paths[i], "%s/f%03d", dir, i);
    long total = 0;
    ssize_t size = fsize(nfiles);
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        const char *path = paths[i % NFILES];
        if (nfiles != NFILES) {
            snprintf(many, sizeof many, "%s/f%03ld", dir, i % nfiles);
            path = many;
        }
        int fd = open(path, O_RDONLY);
        if (fd < 0) {
            perror(path);
            return 1;
        }
        ssize_t r = read(fd, buf, sizeof buf);
        if (r != size) {
            fprintf(stderr, "short read %zd\n", r);
            return 1;
        }
        total += r;
        close(fd);
    }
    double t1 = now_s();
    printf("loop_s=%.6f iterations=%ld bytes=%ld\n", t1 - t0, n, total);
    return 0;
}

int main(int argc, char **argv)
{
    long nfiles = NFILES;
    if (argc >= 3 && !strcmp(argv[1], "setup")) {
        if (argc > 3) nfiles = atol(argv[3]);
        return nfiles > 0 ? setup(argv[2], nfiles) : 2;
    }
    if (argc >= 3 && !strcmp(argv[1], "run")) {
        if (argc > 4) nfiles = atol(argv[4]);
        return nfiles > 0 ? run(argv[2], argc > 3 ? atol(argv[3]) : 100000, nfiles) : 2;
    }
    fprintf(stderr, "usage: io_micro setup DIR [NFILES] | io_micro run DIR [N [NFILES]]\n");
    return 2;
}
