/* shim_truth_test.c - files trail records as read/written vs `strace -f` ground truth. */
/* the files trail records as read and written, compared with `strace -f` ground truth, for a shell
 * pipeline, a python3 script and a gcc build of a small C project.  Ground truth: every successful
 * open/openat/creat in `strace -f -y` of the same command, the path resolved lexically against the
 * dirfd strace names (trail records names, not symlink targets). Read = opened read-only, written
 * = opened with a write mode, O_CREAT or O_TRUNC. Differences allowed, and why: - /etc/ld.so.cache
 * and the shared objects the dynamic loader maps: ld.so opens them with its own internal calls
 * before (or without) any interposable libc function; trail records the objects as dependencies
 * (DEP records, `deps` in `trail show`) instead of inputs. Checked: each such file strace saw is a
 * dependency of the run. - files glibc opens for itself with internal, non-interposable calls:
 * locale data (/usr/lib/locale, locale.alias), gconv modules, the time zone (/etc/localtime,
 * zoneinfo) and NSS files. Environment, not data; only a syscall tracer sees them. - names of
 * temporary files (gcc's /tmp/ccXXXXXX.*) are random: compared with the random part masked. - a
 * file renamed into place: the store files the written version under its final name (file_ops has
 * the rename); matched through the rename, which strace must also show. - directories, /proc,
 * /sys, /dev: not data files, not recorded (by design). - the shim's own files (its spool
 * segments, the library itself): strace is not run under trail, so it never sees them; trail never
 * records them (checked). */
#include <sys/wait.h>

#include "shim_util.h"
#include "util.h"

typedef struct sset {
    char **v;
    size_t n, cap;
} sset;

static void sset_add(sset *s, const char *p)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i], p)) return;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = strdup(p);
}

static int sset_has(const sset *s, const char *p)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i], p)) return 1;
    return 0;
}

static void sset_free(sset *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static int excluded(const char *p)
{
    static const char *const pre[] = {"/proc/", "/sys/", "/dev/", NULL};
    for (int i = 0; pre[i]; i++)
        if (!strncmp(p, pre[i], strlen(pre[i]))) return 1;
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Files glibc opens itself through internal calls (see the comment at the top). */
static int libc_internal(const char *p)
{
    static const char *const pre[] = {"/etc/ld.so.cache",
                                      "/usr/lib/locale/",
                                      "/usr/share/locale/",
                                      "/usr/lib/x86_64-linux-gnu/gconv/",
                                      "/usr/lib/gconv/",
                                      "/etc/localtime",
                                      "/usr/share/zoneinfo/",
                                      "/etc/nsswitch.conf",
                                      "/etc/passwd",
                                      "/etc/group",
                                      NULL};
    for (int i = 0; pre[i]; i++)
        if (!strncmp(p, pre[i], strlen(pre[i]))) return 1;
    return 0;
}

/* gcc's temporary files get random names: /tmp/ccAbC123.s -> /tmp/ccXXXXXX.s */
static void canonical(char *p)
{
    if (strncmp(p, "/tmp/cc", 7) != 0 || strlen(p) < 13) return;
    memcpy(p + 7, "XXXXXX", 6);
}

/* Parses `strace -f -y -z -e trace=open,openat,creat` output into read and written sets. */
static void parse_strace(const char *log, sset *rd, sset *wr)
{
    FILE *f = fopen(log, "r");
    T_ASSERT(f != NULL);
    char line[16384];
    while (fgets(line, sizeof line, f)) {
        char *call = strstr(line, " open");
        int is_creat = 0;
        if (!call) call = strstr(line, " creat("), is_creat = call != NULL;
        if (!call || !strstr(line, ") = ")) continue;
        char base[4096] = "";
        char *lt = strchr(call, '<'), *q = strchr(call, '"');
        if (!q) continue;
        if (lt && lt < q) { /* openat(AT_FDCWD</cwd>, ... or a dirfd 3</dir> */
            char *gt = strchr(lt, '>');
            if (!gt) continue;
            snprintf(base, sizeof base, "%.*s", (int)(gt - lt - 1), lt + 1);
        }
        char *qe = strchr(q + 1, '"');
        if (!qe) continue;
        char rel[4096], abs[4096];
        snprintf(rel, sizeof rel, "%.*s", (int)(qe - q - 1), q + 1);
        if (rel[0] != '/' && !base[0]) continue; /* open() of a relative path: cwd unknown */
        if (tr_path_normalize(rel, base, abs, sizeof abs) != 0) continue; /* the shim's rule */
        if (excluded(abs)) continue;
        canonical(abs);
        int w = is_creat || strstr(qe, "O_WRONLY") || strstr(qe, "O_RDWR") ||
                strstr(qe, "O_CREAT") || strstr(qe, "O_TRUNC");
        sset_add(w ? wr : rd, abs);
    }
    fclose(f);
}

/* Everything trail stored for a run: files by role, and dependencies. */
static void load_trail(const char *run, sset *in, sset *out, sset *deps, sset *renamed)
{
    sqlite3 *db;
    T_ASSERT(sqlite3_open_v2(getenv("TRAIL_STORE"), &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    sqlite3_stmt *s;
    const char *q =
        "SELECT DISTINCT substr(a.path, instr(a.path, '/')), e.role FROM events e"
        " JOIN artifact_versions v ON v.id = e.version_id JOIN artifacts a"
        " ON a.id = v.artifact_id WHERE e.run_id = (SELECT id FROM runs WHERE name = ?1)";
    T_ASSERT(sqlite3_prepare_v2(db, q, -1, &s, NULL) == SQLITE_OK);
    sqlite3_bind_text(s, 1, run, -1, SQLITE_STATIC);
    while (sqlite3_step(s) == SQLITE_ROW) {
        char p[4096];
        snprintf(p, sizeof p, "%s", (const char *)sqlite3_column_text(s, 0));
        canonical(p);
        const char *role = (const char *)sqlite3_column_text(s, 1);
        sset_add(strcmp(role, "input") ? out : in, p);
    }
    sqlite3_finalize(s);
    q = "SELECT DISTINCT substr(path, instr(path, '/')) FROM deps"
        " WHERE run_id = (SELECT id FROM runs WHERE name = ?1)";
    T_ASSERT(sqlite3_prepare_v2(db, q, -1, &s, NULL) == SQLITE_OK);
    sqlite3_bind_text(s, 1, run, -1, SQLITE_STATIC);
    while (sqlite3_step(s) == SQLITE_ROW)
        sset_add(deps, (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    q = "SELECT substr(path2, instr(path2, '/')) FROM file_ops WHERE op = 'rename'"
        " AND run_id = (SELECT id FROM runs WHERE name = ?1)";
    T_ASSERT(sqlite3_prepare_v2(db, q, -1, &s, NULL) == SQLITE_OK);
    sqlite3_bind_text(s, 1, run, -1, SQLITE_STATIC);
    while (sqlite3_step(s) == SQLITE_ROW)
        sset_add(renamed, (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    sqlite3_close(db);
}

/* A shared object the loader mapped: recorded as a dependency under this or another name
 * (ld.so opens "/lib/x86_64-linux-gnu/libc.so.6", the link map may say /usr/lib/...). */
static int is_dep(const sset *deps, const char *p)
{
    if (sset_has(deps, p)) return 1;
    const char *base = strrchr(p, '/');
    for (size_t i = 0; i < deps->n; i++) {
        const char *b = strrchr(deps->v[i], '/');
        if (b && base && !strcmp(b, base)) return 1;
    }
    return 0;
}

/* strace shows a successful rename* whose target is name. */
static int renamed_per_strace(const char *log, const char *name)
{
    char a[4200], b[4200];
    snprintf(a, sizeof a, "\"%s\"", name);
    snprintf(b, sizeof b, "/%s\"", name);
    for (const char *l = log; l && *l;) {
        const char *e = strchr(l, '\n');
        size_t n = e ? (size_t)(e - l) : strlen(l);
        char line[8192];
        snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line ? n : sizeof line - 1), l);
        if (strstr(line, "rename") && (strstr(line, a) || strstr(line, b))) return 1;
        l = e ? e + 1 : NULL;
    }
    return 0;
}

static void compare(const char *name, const char *setup, const char *cmd, const char *dir)
{
    char script[16384], log[4200];
    snprintf(log, sizeof log, "%s/strace.log", dir);
    snprintf(script, sizeof script, "cd '%s' && %s", dir, setup);
    T_ASSERT(system(script) == 0);
    snprintf(script, sizeof script, "cd '%s' && %s", dir, cmd);
    int st = SHU_TRAIL(name, NULL, "sh", "-c", script);
    T_EQ_INT(st, 0);
    snprintf(script, sizeof script, "cd '%s' && %s", dir, setup); /* the same starting state */
    T_ASSERT(system(script) == 0);
    snprintf(script, sizeof script, "cd '%s' && %s", dir, cmd);
    T_EQ_INT(TPROC(NULL, NULL, "strace", "-f", "-y", "-qq", "-z", "-o", log, "-e",
                   "trace=open,openat,openat2,creat,rename,renameat,renameat2", "sh", "-c", script),
             0);
    sset srd = {0}, swr = {0}, tin = {0}, tout = {0}, deps = {0}, renamed = {0};
    parse_strace(log, &srd, &swr);
    load_trail(name, &tin, &tout, &deps, &renamed);
    char *slog = NULL;
    FILE *lf = fopen(log, "r");
    if (lf) {
        slog = calloc(1, 1 << 22);
        size_t got = fread(slog, 1, (1 << 22) - 1, lf);
        slog[got] = 0;
        fclose(lf);
    }
    int missing = 0, phantom = 0;
    for (size_t i = 0; i < srd.n; i++) {
        const char *p = srd.v[i];
        if (!strcmp(p, log)) continue;
        if (sset_has(&tin, p) || sset_has(&tout, p)) continue;
        if (libc_internal(p)) continue; /* the loader's and libc's own, see above */
        if (strstr(p, ".so") && is_dep(&deps, p)) continue;
        fprintf(stderr, "%s: read per strace, not recorded by trail: %s\n", name, p);
        missing++;
    }
    for (size_t i = 0; i < swr.n; i++) {
        if (sset_has(&tout, swr.v[i])) continue;
        fprintf(stderr, "%s: written per strace, not recorded by trail: %s\n", name, swr.v[i]);
        missing++;
    }
    for (size_t i = 0; i < tin.n; i++)
        if (!sset_has(&srd, tin.v[i]) && !sset_has(&swr, tin.v[i])) {
            fprintf(stderr, "%s: input per trail, never opened per strace: %s\n", name, tin.v[i]);
            phantom++;
        }
    for (size_t i = 0; i < tout.n; i++) {
        const char *b = strrchr(tout.v[i], '/');
        if (sset_has(&renamed, tout.v[i]) && renamed_per_strace(slog, b ? b + 1 : tout.v[i]))
            continue;
        if (!sset_has(&swr, tout.v[i])) {
            fprintf(stderr, "%s: output per trail, not written per strace: %s\n", name, tout.v[i]);
            phantom++;
        }
    }
    free(slog);
    T_EQ_INT(missing, 0);
    T_EQ_INT(phantom, 0);
    T_CHECK(tin.n > 0 && tout.n > 0);
    fprintf(stderr,
            "%s: strace %zu read / %zu written; trail %zu inputs / %zu outputs / %zu deps\n", name,
            srd.n, swr.n, tin.n, tout.n, deps.n);
    sset_free(&srd);
    sset_free(&swr);
    sset_free(&tin);
    sset_free(&tout);
    sset_free(&deps);
    sset_free(&renamed);
}

static char *base;

static void test_shell_pipeline(void)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/pipe", base);
    T_ASSERT(mkdir(dir, 0755) == 0);
    compare("truth-pipeline",
            "rm -f out.txt sorted.txt final.txt; printf 'b 2\\na 1\\nc 3\\n' > data.txt",
            "cat data.txt | tr a-z A-Z > out.txt && sort -k2 < out.txt > sorted.txt && "
            "cut -d' ' -f1 sorted.txt | tee names.txt | wc -l > count.txt && "
            "mv sorted.txt final.txt && head -c 3 data.txt >> count.txt && rm out.txt",
            dir);
}

static void test_python_script(void)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/py", base);
    T_ASSERT(mkdir(dir, 0755) == 0);
    compare("truth-python",
            "rm -f rows.json; printf 'x,y\\n1,2\\n3,4\\n' > table.csv; cat > job.py <<'EOF'\n"
            "import csv, json, os, sys\n"
            "with open('table.csv', newline='') as f:\n"
            "    rows = list(csv.DictReader(f))\n"
            "with open('rows.json.tmp', 'w') as f:\n"
            "    json.dump(rows, f)\n"
            "os.replace('rows.json.tmp', 'rows.json')\n"
            "print(len(rows))\n"
            "EOF",
            "/usr/bin/python3 job.py > /dev/null", dir);
}

static void test_gcc_build(void)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/cc", base);
    T_ASSERT(mkdir(dir, 0755) == 0);
    compare(
        "truth-gcc",
        "rm -f *.o prog; printf '#define K 3\\nint twice(int);\\n' > lib.h;"
        "printf '#include \"lib.h\"\\nint twice(int x) { return K * x - x; }\\n' > lib.c;"
        "printf '#include <stdio.h>\\n#include \"lib.h\"\\nint main(void) { printf(\"%%d\\\\n\","
        " twice(21)); return 0; }\\n' > main.c;"
        "printf 'prog: main.o lib.o\\n\\tgcc -o prog main.o lib.o\\n%%%%.o: %%%%.c lib.h\\n"
        "\\tgcc -O2 -c $< -o $@\\n' > Makefile",
        "make -s && ./prog > result.txt", dir);
}

int main(void)
{
    (void)tproc_test_bin;
    tproc_sandbox();
    if (TPROC(NULL, NULL, "strace", "-V") != 0) T_SKIP_TEST("strace not installed");
    base = shu_mkdtemp("truth");
    T_RUN(test_shell_pipeline);
    T_RUN(test_python_script);
    T_RUN(test_gcc_build);
    if (!tassert_failures) shu_rm_rf(base);
    free(base);
    return T_DONE();
}
