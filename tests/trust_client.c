/* trust_client.c - test program: logs one hostile string as a metric key, param and tag, a
 * metric at a step past 2^53, and writes a file of that name (output_safety_test). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "trail.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: trust_client DIR STRING\n");
        return 2;
    }
    const char *s = argv[2];
    /* s as a key may be refused by the SDK's key rules; as a value it is stored */
    (void)trail_log_metric(s, 1.0, 1);
    (void)trail_log_param(s, "v");
    int rc = trail_log_param("fuzz", s) | trail_set_tag("fuzz", s) |
             trail_log_metric("big", 2.5, (INT64_C(1) << 53) + 1);
    char path[4096], name[256];
    snprintf(name, sizeof name, "%s", s);
    for (char *p = name; *p; p++)
        if (*p == '/') *p = '_';
    snprintf(path, sizeof path, "%s/%s", argv[1], name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
        if (write(fd, "x", 1) != 1) rc = -1;
        close(fd);
    }
    return rc ? 1 : 0;
}
