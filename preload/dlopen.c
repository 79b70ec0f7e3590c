/* dlopen.c - objects a process dlopens are recorded when they are loaded, so a kill keeps them. */
/* glibc takes dlopen's caller from its return address: a bare name ("libfoo.so") is searched in
 * the caller's RPATH/RUNPATH, $ORIGIN is the caller's directory, and the caller's namespace is
 * the one loaded into. A wrapper that calls the real dlopen would become that caller. So dlopen
 * is a small trampoline (x86-64) that asks shim_dlopen_route where to go and jumps there with the
 * program's return address untouched: a name with a '/' and no '$' (nothing to search or
 * substitute: Python's extension modules, ctypes by path) goes to shim_dlopen_path, which loads
 * it and records the new objects at once; any other name goes straight to the real dlopen, and
 * the objects it loaded are recorded by the next scan (the next tracked open, fork, exec, exit,
 * dlclose). A process killed before that keeps what the last scan saw: the limit. */
#include <dlfcn.h>
#include <errno.h>
#include <string.h>

#include "shim.h"

#if defined(__x86_64__)

typedef void *(*dlopen_fn)(const char *, int);
static dlopen_fn real_dlopen;
int shim_dlopen_pending;

static dlopen_fn real(void)
{
    if (!real_dlopen) real_dlopen = (dlopen_fn)shim_dlsym("dlopen");
    return real_dlopen;
}

__attribute__((used, visibility("hidden"))) void *shim_dlopen_path(const char *file, int mode)
{
    dlopen_fn f = real();
    if (!f) return NULL;
    void *h = f(file, mode);
    if (h && !(mode & RTLD_NOLOAD) && shim_active()) {
        int e = errno;
        shim_deps_scan("dlopen");
        errno = e;
    }
    return h;
}

/* Where the trampoline jumps: shim_dlopen_path, or the real dlopen (the program its caller). */
__attribute__((used, visibility("hidden"))) void *shim_dlopen_route(const char *file)
{
    dlopen_fn f = real();
    if (!f) return (void *)shim_dlopen_path; /* returns NULL: no dlopen to call */
    if (file && strchr(file, '/') && !strchr(file, '$')) return (void *)shim_dlopen_path;
    if (file) __atomic_store_n(&shim_dlopen_pending, 1, __ATOMIC_RELAXED);
    return (void *)f;
}

/* dlopen(file, mode): the arguments kept across the call to the router (the stack stays 16-byte
 * aligned), then a jump, never a call: the real dlopen sees the program's return address. */
__asm__(".text\n"
        ".globl dlopen\n"
        ".type dlopen, @function\n"
        "dlopen:\n"
        "    pushq %rdi\n"
        "    pushq %rsi\n"
        "    subq $8, %rsp\n"
        "    call shim_dlopen_route\n"
        "    addq $8, %rsp\n"
        "    popq %rsi\n"
        "    popq %rdi\n"
        "    jmp *%rax\n"
        ".size dlopen, .-dlopen\n");

#else
int shim_dlopen_pending; /* dlopen is not interposed here: objects are found by scans */
#endif
