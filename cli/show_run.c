/* show_run.c - `trail show RUN` as text: the run, its files grouped by directory, the process
 * tree with exec chains, environment, dependencies by origin, and a crash's backtrace. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "jsonfmt.h"
#include "show_inputs.h"
#include "textout.h"

static const cJSON *item(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* Every string printed here goes through tr_esc (textout.c): no control characters. */
static const char *or_dash(const char *s)
{
    return tr_esc(s ? s : "-");
}

static void file_name(const cJSON *f, char *buf, size_t n)
{
    const char *host = tr_jstr(f, "host");
    snprintf(buf, n, "%s%s%s", host ? tr_esc(host) : "", host ? ":" : "",
             or_dash(tr_jstr(f, "path")));
}

/* Files, one line each, or one line for a directory holding TR_FOLD_MIN or more of them. */
static void show_files(const char *title, const cJSON *arr, int every)
{
    int n = cJSON_GetArraySize(arr), i = 0;
    if (n == 0) return;
    char **names = calloc((size_t)n, sizeof *names), name[4400], size[32];
    const cJSON *f, *g;
    double total = 0;
    tr_fold fold = {0};
    cJSON_ArrayForEach(f, arr)
    {
        file_name(f, name, sizeof name);
        if (names) names[i++] = strdup(name);
        total += tr_jnum(f, "bytes", 0);
    }
    if (!every && names) tr_fold_plan(&fold, n, (const char *const *)names, NULL);
    tr_fmt_bytes(total, size, sizeof size);
    printf("\n%s (%d file%s, %s):\n", title, n, n == 1 ? "" : "s", size);
    i = 0;
    cJSON_ArrayForEach(f, arr)
    {
        int at = i++, d = tr_fold_at(&fold, at), j = 0;
        if (d >= 0 && fold.first[d] != at) continue;
        if (d >= 0) {
            double bytes = 0;
            cJSON_ArrayForEach(g, arr)
            {
                if (tr_fold_at(&fold, j++) == d) bytes += tr_jnum(g, "bytes", 0);
            }
            tr_fmt_bytes(bytes, size, sizeof size);
            printf("  %s/ (%d files, %s)\n", fold.dir[d], fold.count[d], size);
            continue;
        }
        const char *v = tr_jstr(f, "version");
        int temp = cJSON_IsTrue(item(f, "temporary"));
        file_name(f, name, sizeof name);
        /* an output the run wrote more than once: the last version, and how it got there */
        double writes = tr_jnum(f, "writes", 0), versions = tr_jnum(f, "versions", 0);
        char made[64] = "";
        if (writes > 1 || versions > 1)
            snprintf(made, sizeof made, "  (%.0f write%s, %.0f version%s)", writes,
                     writes == 1 ? "" : "s", versions, versions == 1 ? "" : "s");
        printf("  %-50s %10.0f bytes  %.16s%s%s\n", name, tr_jnum(f, "bytes", 0), v ? v : "", made,
               temp ? "  (temporary)" : "");
    }
    tr_fold_free(&fold);
    for (i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

static const char *base(const char *p)
{
    const char *s = p ? strrchr(p, '/') : NULL;
    return tr_esc(s ? s + 1 : p ? p : "?");
}

static const cJSON *find_proc(const cJSON *procs, double pid, const cJSON *parent)
{
    const cJSON *p;
    cJSON_ArrayForEach(p, procs)
    {
        if (tr_jnum(p, "pid", -1) != pid) continue;
        if (!parent || tr_jnum(p, "ppid", -1) == tr_jnum(parent, "pid", -2)) return p;
    }
    return NULL;
}

/* One line of l bytes at p, indented, control characters escaped. */
static void print_line(int indent, const char *p, size_t l)
{
    char *line = strndup(p, l);
    printf("%*s%s\n", indent, "", line ? tr_esc(line) : "?");
    free(line);
}

static void print_backtrace(const char *bt, int indent)
{
    while (bt && *bt) {
        size_t l = strcspn(bt, "\n");
        print_line(indent, bt, l);
        bt += l + (bt[l] == '\n');
    }
}

/* One process and, below it, its children: PID, the argv[0] of each image of its exec chain,
 * how it ended. */
static void show_proc(const cJSON *procs, const cJSON *p, int depth, double crash_pid)
{
    if (depth > 64) return;
    printf("  %*s%.0f ", depth * 2, "", tr_jnum(p, "pid", 0));
    const cJSON *img, *c;
    int k = 0;
    cJSON_ArrayForEach(img, item(p, "exec"))
    {
        const cJSON *a0 = cJSON_GetArrayItem(item(img, "argv"), 0);
        printf("%s%s", k++ ? " -> " : "",
               cJSON_IsString(a0) ? base(a0->valuestring) : base(tr_jstr(img, "exe")));
    }
    const char *status = tr_jstr(p, "status");
    double sig = tr_jnum(p, "signal", 0);
    if (sig > 0)
        printf("  signal %.0f (%s)", sig, strsignal((int)sig));
    else if (cJSON_IsNumber(item(p, "exit_code")))
        printf("  exit %.0f", tr_jnum(p, "exit_code", 0));
    if (status && !strcmp(status, "crashed"))
        printf("  crashed");
    else if (status && !strcmp(status, "unknown"))
        printf(tr_jstr(p, "ended_at") ? "  (ended, exit status unknown)" : "  (end not recorded)");
    if (!cJSON_IsTrue(item(p, "interposed")))
        printf("  [%s: not captured]", or_dash(tr_jstr(p, "note")));
    printf("\n");
    if (tr_jstr(p, "backtrace") && tr_jnum(p, "pid", -1) != crash_pid)
        print_backtrace(tr_jstr(p, "backtrace"), depth * 2 + 6);
    cJSON_ArrayForEach(c, item(p, "children"))
    {
        const cJSON *child = find_proc(procs, c->valuedouble, p);
        if (child) show_proc(procs, child, depth + 1, crash_pid);
    }
}

static void show_procs(const cJSON *r, double crash_pid)
{
    const cJSON *procs = item(r, "processes"), *p, *c;
    int n = cJSON_GetArraySize(procs);
    if (n == 0) return;
    printf("\nprocesses (%d):\n", n);
    cJSON_ArrayForEach(p, procs) /* roots: no parent among the run's processes */
    {
        int child = 0;
        const cJSON *q;
        cJSON_ArrayForEach(q, procs)
        {
            cJSON_ArrayForEach(c, item(q, "children"))
            {
                if (c->valuedouble == tr_jnum(p, "pid", -1) &&
                    tr_jnum(p, "ppid", -1) == tr_jnum(q, "pid", -2))
                    child = 1;
            }
        }
        if (!child) show_proc(procs, p, 0, crash_pid);
    }
}

/* A shared object or executable a Debian package provided. */
static int from_dpkg(const cJSON *d)
{
    const char *src = tr_jstr(d, "source"), *kind = tr_jstr(d, "kind");
    return src && !strcmp(src, "dpkg") && tr_jstr(d, "package") &&
           (!kind || strcmp(kind, "interpreter"));
}

/* One line per package (the first row of it), naming the objects it provided. */
static int show_debian(const cJSON *deps)
{
    const cJSON *d, *e;
    int shown = 0;
    cJSON_ArrayForEach(d, deps)
    {
        if (!from_dpkg(d)) continue;
        const char *pkg = tr_jstr(d, "package");
        int earlier = 0;
        for (e = deps->child; e && e != d && !earlier; e = e->next)
            earlier = from_dpkg(e) && !strcmp(tr_jstr(e, "package"), pkg);
        if (earlier) continue;
        printf("  %-10s %s=%s  (", shown++ ? "" : "debian", tr_esc(pkg),
               or_dash(tr_jstr(d, "version")));
        int k = 0;
        cJSON_ArrayForEach(e, deps)
        {
            if (from_dpkg(e) && !strcmp(tr_jstr(e, "package"), pkg))
                printf("%s%s", k++ ? ", " : "", base(tr_jstr(e, "path")));
        }
        printf(")\n");
    }
    return shown;
}

/* A Python distribution, with the shared objects it installed that processes loaded. */
static void show_dist(const cJSON *deps, const cJSON *d, const char *label)
{
    const char *pkg = tr_jstr(d, "package") ? tr_jstr(d, "package") : "-";
    const cJSON *e;
    int k = 0;
    printf("  %-10s %s=%s", label, tr_esc(pkg), or_dash(tr_jstr(d, "version")));
    cJSON_ArrayForEach(e, deps)
    {
        const char *src = tr_jstr(e, "source"), *p2 = tr_jstr(e, "package"),
                   *kind = tr_jstr(e, "kind");
        if (!src || strcmp(src, "python") || !p2 || strcmp(p2, pkg) || !kind ||
            !strcmp(kind, "python") || !strcmp(kind, "interpreter"))
            continue;
        printf("%s%s", k++ ? ", " : "  (", base(tr_jstr(e, "path")));
    }
    printf("%s\n", k ? ")" : "");
}

/* Dependencies grouped by where their version came from. */
static void show_deps(const cJSON *r)
{
    const cJSON *deps = item(r, "deps"), *d;
    if (cJSON_GetArraySize(deps) == 0) return;
    static const char *const groups[] = {"python", "python", "git", "unresolved"};
    printf("\ndependencies:\n");
    show_debian(deps);
    int shown = 0;
    for (int g = 0; g < 4; g++) {
        if (g != 1) shown = 0; /* the interpreter and the distributions share a heading */
        cJSON_ArrayForEach(d, deps)
        {
            const char *src = tr_jstr(d, "source"), *ver = tr_jstr(d, "version");
            const char *kind = or_dash(tr_jstr(d, "kind")), *label = shown ? "" : groups[g];
            if (g == 0 && !strcmp(kind, "interpreter"))
                printf("  %-10s python=%s  (interpreter %s)\n", label, or_dash(ver),
                       or_dash(tr_jstr(d, "path")));
            else if (g == 1 && !strcmp(kind, "python"))
                show_dist(deps, d, label);
            else if (g == 2 && !strcmp(kind, "git"))
                printf("  %-10s %s  %s\n", label, or_dash(tr_jstr(d, "path")), or_dash(ver));
            else if (g == 3 && !src && strcmp(kind, "git"))
                printf("  %-10s %s  (%s)\n", label, or_dash(tr_jstr(d, "path")), kind);
            else
                continue;
            shown = 1;
        }
    }
}

static void show_crash(const cJSON *r)
{
    const cJSON *c = item(r, "crash");
    if (!cJSON_IsObject(c)) return;
    double sig = tr_jnum(c, "signal", 0);
    printf("\ncrash: process %.0f, signal %.0f (%s)", tr_jnum(c, "pid", 0), sig,
           sig > 0 ? strsignal((int)sig) : "?");
    if (tr_jstr(c, "note")) printf(", %s", tr_esc(tr_jstr(c, "note")));
    printf("\n");
    if (tr_jstr(c, "backtrace"))
        print_backtrace(tr_jstr(c, "backtrace"), 2);
    else
        printf("  (no backtrace: libunwind missing or the unwinder failed)\n");
}

/* A failed run's last lines of stderr (its traceback), as the store cleaned them. */
static void show_stderr_tail(const cJSON *r)
{
    const char *t = tr_jstr(r, "stderr_tail");
    if (!t || !*t) return;
    printf("\nstderr (last lines; all of it: trail logs --stderr):\n");
    for (const char *p = t; *p;) {
        size_t l = strcspn(p, "\n");
        print_line(2, p, l);
        p += l + (p[l] == '\n');
    }
}

void tr_show_run_sections(const cJSON *r, int flags)
{
    int every = flags & (TR_SHOW_ALL | TR_SHOW_FILES);
    tr_show_inputs(item(r, "inputs"), every, show_files); /* data, code, env groups */
    show_files("outputs", item(r, "outputs"), every);
    const cJSON *c = item(r, "crash");
    show_procs(r, cJSON_IsObject(c) ? tr_jnum(c, "pid", -1) : -1);
    show_crash(r);
    show_stderr_tail(r);
    const cJSON *env = item(r, "env"), *e;
    if (cJSON_GetArraySize(env) > 0) {
        printf("\nenvironment (%d variables):\n", cJSON_GetArraySize(env));
        cJSON_ArrayForEach(e, env)
            printf("  %s=%s\n", tr_esc(e->string), tr_esc(cJSON_IsString(e) ? e->valuestring : ""));
    }
    show_deps(r);
}
