/* early_lib.c - preloaded next to the shim: file I/O in its constructor and inside calloc. */
/* a library preloaded next to the shim that does file I/O before the shim's constructor runs (in
 * its own constructor) and inside calloc (as allocators that read their configuration do), which
 * dlsym may call while the shim resolves a symbol. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

void *__libc_calloc(size_t n, size_t size);

static __thread int inside;

static void touch_file(const char *path)
{
    char buf[64];
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        if (read(fd, buf, sizeof buf) < 0) _exit(5);
        close(fd);
    }
}

__attribute__((visibility("default"))) void *calloc(size_t n, size_t size)
{
    if (!inside) {
        inside = 1;
        touch_file("/etc/hostname");
        inside = 0;
    }
    return __libc_calloc(n, size);
}

__attribute__((constructor)) static void early(void)
{
    const char *p = getenv("EARLY_FILE");
    if (p) touch_file(p);
}
