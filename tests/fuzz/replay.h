/* replay.h - the corpus replay driver shared by the fuzz targets when built without libFuzzer. */
#ifndef FUZZ_REPLAY_H
#define FUZZ_REPLAY_H

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

/* Replays one file from an exactly sized heap copy (so sanitizers see any overread). */
static int fuzz_replay_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        perror(path);
        if (fd >= 0) close(fd);
        return -1;
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) abort();
    size_t off = 0;
    while (off < n) {
        ssize_t r = read(fd, buf + off, n - off);
        if (r <= 0) break;
        off += (size_t)r;
    }
    close(fd);
    LLVMFuzzerTestOneInput(buf, off);
    free(buf);
    return 0;
}

/* Replays every file in the corpus directories (or files) named in argv[1..]; counts the
 * inputs in *files and returns the number of errors. */
static long fuzz_replay_all(int argc, char **argv, long *files)
{
    long errors = 0;
    *files = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            errors++;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            errors += fuzz_replay_file(argv[i]) != 0;
            (*files)++;
            continue;
        }
        DIR *dir = opendir(argv[i]);
        if (!dir) {
            perror(argv[i]);
            errors++;
            continue;
        }
        struct dirent *e;
        while ((e = readdir(dir))) {
            if (e->d_name[0] == '.') continue;
            char p[8192];
            snprintf(p, sizeof p, "%s/%s", argv[i], e->d_name);
            if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) continue;
            errors += fuzz_replay_file(p) != 0;
            (*files)++;
        }
        closedir(dir);
    }
    return errors;
}

#endif
