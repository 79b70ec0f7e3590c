/* io_micro.c - capture overhead micro-benchmark: N x (open, read 4 KiB, close) over 100 files. */
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

/* `io_micro setup DIR`: creates DIR/f000..f099 of 4 KiB each. */
static int setup(const char *dir)
{
    char path[4096], buf[FSIZE];
    memset(buf, 'x', sizeof buf);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        perror(dir);
        return 1;
    }
    for (int i = 0; i < NFILES; i++) {
        snprintf(path, sizeof path, "%s/f%03d", dir, i);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || write(fd, buf, sizeof buf) != (ssize_t)sizeof buf || close(fd) != 0) {
            perror(path);
            return 1;
        }
    }
    return 0;
}

/* `io_micro run DIR [N]`: N (default 100000) iterations; prints the loop time in seconds. */
static int run(const char *dir, long n)
{
    static char paths[NFILES][4096];
    char buf[FSIZE];
    for (int i = 0; i < NFILES; i++)
        snprintf(paths[i], sizeof paths[i], "%s/f%03d", dir, i);
    long total = 0;
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        int fd = open(paths[i % NFILES], O_RDONLY);
        if (fd < 0) {
            perror(paths[i % NFILES]);
            return 1;
        }
        ssize_t r = read(fd, buf, sizeof buf);
        if (r != FSIZE) {
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
    if (argc >= 3 && !strcmp(argv[1], "setup")) return setup(argv[2]);
    if (argc >= 3 && !strcmp(argv[1], "run"))
        return run(argv[2], argc > 3 ? atol(argv[3]) : 100000);
    fprintf(stderr, "usage: io_micro setup DIR | io_micro run DIR [N]\n");
    return 2;
}
