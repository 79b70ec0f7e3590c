/* sanitizer.c - finds the sanitizer runtime a command links, which must come first in LD_PRELOAD.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "elfread.h"
#include "util.h"

static int executable(const char *path)
{
    return access(path, X_OK) == 0;
}

/* The command's path as execvp would find it. */
static int resolve_cmd(const char *cmd, char *out, size_t n)
{
    if (strchr(cmd, '/')) return tr_fmt(out, n, "%s", cmd) ? -1 : 0;
    const char *path = getenv("PATH");
    return tr_path_search(cmd, path ? path : "/usr/local/bin:/usr/bin:/bin", executable, out, n);
}

static long read_at(int fd, void *buf, size_t n, uint64_t off)
{
    return pread(fd, buf, n, (off_t)off);
}

int tr_sanitizer_runtime(const char *cmd, char *out, size_t n)
{
    char path[4096];
    if (!cmd || resolve_cmd(cmd, path, sizeof path) != 0) return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    tr_elf e;
    int rc = tr_elf_open(&e, fd, read_at, NULL, 0) == 0 ? tr_elf_sanitizer(&e, out, n) : -1;
    close(fd);
    return rc;
}
