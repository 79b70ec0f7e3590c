/* static_prog.c - a statically linked program: the shim cannot be loaded into it. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const char *msg = "written by a static binary\n";
    if (fd < 0 || write(fd, msg, strlen(msg)) < 0) return 1;
    return close(fd) == 0 ? 0 : 1;
}
