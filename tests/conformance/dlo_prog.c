/* dlo_prog.c - dlopen under the shim: `dlo_prog bare|path PATH|origin [kill]` loads libdlo_lib.so
 * by its bare name (found only through this program's RUNPATH), by PATH, or as
 * "$ORIGIN/dlo/libdlo_lib.so"; calls it; with "kill", SIGKILLs itself right after. */
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    const char *name = !strcmp(argv[1], "bare")               ? "libdlo_lib.so"
                       : !strcmp(argv[1], "origin")           ? "$ORIGIN/dlo/libdlo_lib.so"
                       : !strcmp(argv[1], "path") && argc > 2 ? argv[2]
                                                              : NULL;
    if (!name) return 2;
    void *h = dlopen(name, RTLD_NOW);
    if (!h) {
        fprintf(stderr, "dlopen %s: %s\n", name, dlerror());
        return 1;
    }
    int (*f)(void) = (int (*)(void))dlsym(h, "dlo_answer");
    printf("%d\n", f ? f() : -1);
    fflush(stdout);
    if (argc > 2 && !strcmp(argv[argc - 1], "kill")) raise(SIGKILL);
    return 0;
}
