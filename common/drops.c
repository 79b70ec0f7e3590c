/* drops.c - the run's shared drop count for processes with no segment (see drops.h). */
#include "drops.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trail.h"
#include "util.h"

static int path_of(char *out, size_t n, const char *dir)
{
    return tr_path_join(out, n, dir, TR_DROPS_FILE) == 0 ? 0 : TRAIL_ETOOBIG;
}

int tr_drops_create(const char *dir)
{
    char p[4200];
    if (path_of(p, sizeof p, dir)) return TRAIL_ETOOBIG;
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return TRAIL_EIO;
    /* blocks now: adding to it later on a full disk must not SIGBUS */
    int rc = posix_fallocate(fd, 0, 4096);
    close(fd);
    if (rc) unlink(p);
    return rc == 0 ? 0 : rc == ENOSPC ? TRAIL_ENOSPC : TRAIL_EIO;
}

/* Maps the count of dir's file (ours, regular, allocated); NULL when there is none. */
static uint64_t *map_count(const char *dir)
{
    char p[4200];
    struct stat st;
    if (path_of(p, sizeof p, dir)) return NULL;
    int fd = open(p, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return NULL;
    void *m = MAP_FAILED;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
        st.st_size >= 4096 && st.st_blocks * 512 >= 4096)
        m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    return m == MAP_FAILED ? NULL : m;
}

int tr_drops_add(const char *dir, uint64_t n)
{
    uint64_t *c = map_count(dir);
    if (!c) return TRAIL_ENOTFOUND;
    __atomic_add_fetch(c, n, __ATOMIC_SEQ_CST);
    munmap(c, 4096);
    return 0;
}

uint64_t tr_drops_take(const char *dir)
{
    uint64_t *c = map_count(dir);
    if (!c) return 0;
    uint64_t n = __atomic_exchange_n(c, 0, __ATOMIC_SEQ_CST);
    munmap(c, 4096);
    return n;
}
