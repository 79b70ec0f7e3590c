/* asan_prog.c - built with AddressSanitizer: its runtime must come first in the loader's list. */
#include <fcntl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, "asan\n", 5) != 5) return 1;
    return close(fd) == 0 ? 0 : 1;
}
