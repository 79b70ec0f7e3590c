/* counters.c - per-description byte counters in a file mapped shared, so they outlive a kill. */
/* A process's counters live in `<spool>/<pid>.cnt` (common/fdctr.h), mapped MAP_SHARED: a counter
 * update is a plain add to memory, no system call, and what a process had read and written is
 * still in the file when SIGKILL ends it. The agent settles a killed process's open descriptions
 * with them (agent/settle_files.c: the entry whose oseq and start_ns match the FILE_OPEN) and
 * removes the file; a process that ends by itself removes its own. */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "client.h"
#include "fdctr.h"
#include "shim.h"

static shim_ctr local[TR_FDCTR_N]; /* before the file is mapped, or when it cannot be */
static shim_ctr *mapped;
static int state; /* 0 not tried, 1 being made, 2 mapped, -1 failed (this image) */
static char path[1100];

shim_ctr *shim_ctr_local(int i)
{
    return &local[i];
}

/* The entry i of the mapped file, made on the first call of an image; NULL when it cannot be
 * (no spool, disk full: the counters are then private, and lost with a kill). */
shim_ctr *shim_ctr_shared(int i)
{
    int st = __atomic_load_n(&state, __ATOMIC_ACQUIRE);
    if (LIKELY(st == 2)) return &mapped[i];
    if (st != 0) return NULL;
    int zero = 0;
    if (!__atomic_compare_exchange_n(&state, &zero, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        return NULL; /* another thread is making it: this description counts privately */
    const char *dir = tr_client_spool_dir();
    size_t dl = dir ? strlen(dir) : 0;
    int fd = -1;
    if (dl && dl + 32 < sizeof path) {
        memcpy(path, dir, dl);
        char *p = path + dl, num[24];
        int n = 0;
        *p++ = '/';
        for (long v = shim_g.pid; v > 0 && n < 23; v /= 10)
            num[n++] = (char)('0' + v % 10);
        while (n)
            *p++ = num[--n];
        memcpy(p, TR_FDCTR_SUFFIX, sizeof TR_FDCTR_SUFFIX);
        fd = (int)SYS4(SYS_openat, AT_FDCWD, path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    }
    void *m = MAP_FAILED;
    if (fd >= 0) {
        if (SYS2(SYS_ftruncate, fd, sizeof local) == 0)
            m = (void *)SYS6(SYS_mmap, NULL, sizeof local, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                             0);
        SYS1(SYS_close, fd);
        if ((long)m < 0 && (long)m > -4096) m = MAP_FAILED;
        if (m == MAP_FAILED) SYS1(SYS_unlink, path);
    }
    if (m == MAP_FAILED) {
        __atomic_store_n(&state, -1, __ATOMIC_RELEASE);
        return NULL;
    }
    mapped = m;
    __atomic_store_n(&state, 2, __ATOMIC_RELEASE);
    return &mapped[i];
}

/* Image end. At exit every description was recorded: the file goes. At exec the next image
 * makes its own (the same name, emptied). */
void shim_ctr_end(int exiting)
{
    if (__atomic_load_n(&state, __ATOMIC_ACQUIRE) != 2) return;
    if (exiting) SYS1(SYS_unlink, path);
}

/* A forked child: the parent's mapping is the parent's; the child makes its own. */
void shim_ctr_after_fork(void)
{
    if (state == 2) SYS2(SYS_munmap, mapped, sizeof local);
    mapped = NULL;
    state = 0;
}
