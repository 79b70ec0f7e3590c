/* start.c - process start: PROC_START, redacted environment, shared objects (at start, dlopen). */
/* process start records: PROC_START (argv, cwd, exe, uid), the environment with secrets redacted
 * in the process, loaded shared objects (at start and dlopen'd later). */
#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "argv_rec.h"
#include "redact.h"
#include "shim.h"
#include "util.h"

#define ARGV_FIELDS 48 /* a record holds at most TR_REC_MAX_FIELDS fields */

static char host[256];
char **shim_argv;

/* PROC_START always fits its frame: the small fields first, then exe, cwd and argv cut field by
 * field (argv redacted by tr_redact_arg: "--password x", "--db=postgres://u:[redacted]@h"), and
 * the bytes cut in a TRUNCATED marker; a huge command line never costs the record. */
void shim_emit_proc_start(pid_t pid, pid_t ppid, const char *kind, const char *note,
                          const char *exe, char *const *argv)
{
    tr_redact r;
    tr_redact_init(&r, shim_g.redact);
    if (!host[0]) tr_hostname(host, sizeof host);
    size_t need = 1024 + (exe ? strlen(exe) : 0) + (note ? strlen(note) : 0);
    for (int i = 0; argv && argv[i]; i++)
        need += strlen(argv[i]) + 32; /* a redacted secret can be longer */
    need += 4096;                     /* cwd */
    if (need > TR_REC_MAX_SIZE) need = TR_REC_MAX_SIZE;
    uint8_t buf[need];
    char cwd[4096], scratch[4096];
    tr_enc e;
    int64_t now = shim_now();
    tr_enc_init(&e, buf, need, TR_REC_PROC_START, now);
    tr_enc_i64(&e, TR_F_PID, pid);
    tr_enc_i64(&e, TR_F_PPID, ppid);
    tr_enc_str(&e, TR_F_KIND, kind);
    tr_enc_i64(&e, TR_F_UID, shim_g.uid);
    tr_enc_str(&e, TR_F_HOST, host);
    tr_enc_i64(&e, TR_F_START_NS, now);
    tr_enc_str(&e, TR_F_SOURCE, "shim");
    uint64_t cut = tr_enc_str_fit(&e, TR_F_EXE, exe, 4096, 64);
    if (shim_resolve(AT_FDCWD, ".", cwd, sizeof cwd) >= 0)
        cut += tr_enc_str_fit(&e, TR_F_CWD, cwd, sizeof cwd, 64);
    cut += tr_enc_argv(&e, &r, argv, ARGV_FIELDS, 64, scratch, sizeof scratch);
    if (note) cut += tr_enc_str_fit(&e, TR_F_NOTE, note, 1024, 32);
    if (cut) tr_enc_i64(&e, TR_F_TRUNCATED, (int64_t)cut);
    shim_emit(&e);
}

/* ---- environment ---- */

/* The environment as a set: the sum of each string's mixed hash, so that the same variables in
 * another order hash alike. A shell (dash, make) passes its children the environment it was
 * given, reordered: with an order-dependent hash every child of `sh` recorded its whole
 * environment again (40 ENV records for each /bin/true of a shell loop, most of what such a run
 * stored; issue 15). */
uint64_t shim_env_hash(char *const *envp)
{
    uint64_t h = 0;
    size_t hl = strlen(SHIM_HANDOFF);
    for (; envp && *envp; envp++) {
        if (!strncmp(*envp, SHIM_HANDOFF, hl) && (*envp)[hl] == '=') continue;
        uint64_t x = tr_hash64_str(TR_HASH64_INIT, *envp);
        x ^= x >> 33; /* the murmur3 finaliser: each string's bits spread over all 64 */
        x *= 0xff51afd7ed558ccdULL;
        x ^= x >> 33;
        x *= 0xc4ceb9fe1a85ec53ULL;
        x ^= x >> 33;
        h += x;
    }
    return h;
}

/* Secrets by the common rule (redact.c): the default words and value forms unless
 * TRAIL_REDACT_DEFAULTS=0, plus TRAIL_REDACT and `trail run --redact` (shim_g.redact). */
void shim_emit_env(char **envp)
{
    tr_redact r;
    tr_redact_init(&r, shim_g.redact);
    for (char **p = envp; p && *p; p++) {
        const char *eq = strchr(*p, '=');
        if (!eq || eq == *p) continue;
        size_t nl = (size_t)(eq - *p), vl = strlen(eq + 1);
        size_t need = nl + vl + 128;
        if (need > TR_REC_MAX_SIZE) need = TR_REC_MAX_SIZE;
        uint8_t buf[need];
        tr_enc e;
        shim_enc_begin(&e, buf, need, TR_REC_ENV);
        tr_enc_strn(&e, TR_F_KEY, *p, nl < 4096 ? nl : 4096);
        tr_enc_i64(&e, TR_F_PID, shim_g.pid);
        if (tr_redact_env(&r, *p))
            tr_enc_i64(&e, TR_F_REDACTED, 1); /* the value never leaves the process */
        else
            tr_enc_str_trunc(&e, TR_F_VALUE, eq + 1, vl, 0);
        shim_emit(&e);
    }
}

/* ---- shared objects ---- */

/* Objects already recorded, in order (a scan compares against all: a few hundred at most, and
 * only when the loader's count of added objects changed). */
#define NSEEN 2048
static uint64_t seen[NSEEN];
static int nseen;
static unsigned long last_adds;

static int seen_add(uint64_t key)
{
    for (int i = 0; i < nseen; i++)
        if (seen[i] == key) return 0;
    if (nseen >= NSEEN) return 0; /* full: stop recording new objects */
    seen[nseen++] = key;
    return 1;
}

static void emit_dep(const char *path, const char *kind)
{
    size_t l = strlen(path);
    uint8_t buf[4096 + 256];
    tr_enc e;
    shim_enc_begin(&e, buf, sizeof buf, TR_REC_DEP);
    tr_enc_strn(&e, TR_F_PATH, path, l < 4096 ? l : 4096);
    tr_enc_str(&e, TR_F_KIND, kind);
    tr_enc_i64(&e, TR_F_PID, shim_g.pid);
    shim_emit(&e);
}

/* Objects are listed in load order and only a dlclose removes one: while none was removed
 * since the last scan, the objects it went through are skipped. */
typedef struct scan_arg {
    const char *kind;
    int idx, skip;
} scan_arg;
static int last_count;
static unsigned long last_subs;

static int dep_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    scan_arg *a = arg;
    if (a->idx++ < a->skip) return 0;
    const char *name = info->dlpi_name;
    int is_main = !name || !*name;
    if (!is_main && name[0] != '/') return 0; /* linux-vdso.so.1 */
    if (!is_main && shim_g.self_path[0] && !strcmp(name, shim_g.self_path)) return 0;
    uint64_t h = tr_hash64_str(TR_HASH64_INIT, is_main ? "<main>" : name);
    if (!seen_add(h ^ (uint64_t)info->dlpi_addr)) return 0;
    if (is_main) {
        if (shim_g.exe[0]) emit_dep(shim_g.exe, "exe");
    } else {
        emit_dep(name, a->kind);
    }
    return 0;
}

static int adds_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    unsigned long *v = arg;
    v[0] = info->dlpi_adds;
    v[1] = info->dlpi_subs;
    return 1;
}

/* kind "so" at start; "dlopen" later: objects not seen before. Cheap when nothing changed. */
void shim_deps_scan(const char *kind)
{
    SHIM_ENTER();
    unsigned long v[2] = {0, 0};
    if (nseen) dl_iterate_phdr(adds_cb, v);
    if (!nseen || v[0] != last_adds) {
        scan_arg a = {kind, 0, nseen && v[1] == last_subs ? last_count : 0};
        dl_iterate_phdr(dep_cb, &a);
        last_count = a.idx;
        if (!v[0]) dl_iterate_phdr(adds_cb, v);
        last_adds = v[0];
        last_subs = v[1];
    }
    SHIM_LEAVE();
}

/* dlopen (preload/dlopen.c) records what a dlopen by path loaded at once; other new objects
 * are found by scanning at fork, exec, exit and opens, and here, before an object may go away. */
REAL_DECL(int, dlclose, (void *));
SHIM_EXPORT int dlclose(void *handle)
{
    MAP_OR_FAIL(dlclose);
    if (shim_active()) {
        int e = errno;
        shim_deps_scan("dlopen");
        errno = e;
    }
    return real_dlclose(handle);
}

/* ---- main's return value: __libc_start_main calls exit() from inside libc ---- */

typedef int (*shim_main_fn)(int, char **, char **);
static shim_main_fn program_main;

static int shim_main(int argc, char **argv, char **envp)
{
    int r = program_main(argc, argv, envp);
    shim_g.exit_code = r & 0xff;
    return r;
}

typedef int (*start_main_fn)(shim_main_fn, int, char **, void (*)(void), void (*)(void),
                             void (*)(void), void *);

SHIM_EXPORT int __libc_start_main(shim_main_fn main, int argc, char **argv, void (*init)(void),
                                  void (*fini)(void), void (*rtld_fini)(void), void *stack_end)
{
    start_main_fn real = (start_main_fn)shim_dlsym("__libc_start_main");
    if (!real) abort(); /* cannot happen in a dynamically linked glibc program */
    if (shim_g.state != SHIM_ON) return real(main, argc, argv, init, fini, rtld_fini, stack_end);
    program_main = main;
    return real(shim_main, argc, argv, init, fini, rtld_fini, stack_end);
}
