/* conform_fortify.c - opens and reads through the fortified entry points (-D_FORTIFY_SOURCE=2). */
#include <fcntl.h>
#include <unistd.h>

int fort_run(void);

/* Flags the compiler cannot see make open()/openat() call __open_2/__openat_2, and a buffer of
 * known size with a variable length makes read() call __read_chk. */
static volatile int rd_flags = O_RDONLY;
static volatile size_t want = 16;

int fort_run(void)
{
    char buf[64];
    int fd = open("fort_in.txt", rd_flags);
    if (fd < 0 || read(fd, buf, want) <= 0 || close(fd) != 0) return 1;
    fd = openat(AT_FDCWD, "fort_at_in.txt", rd_flags);
    if (fd < 0 || read(fd, buf, want) <= 0 || close(fd) != 0) return 1;
    return 0;
}
