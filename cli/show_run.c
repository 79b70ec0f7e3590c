/* show_run.c - `trail show RUN` as text: the run, its files grouped by directory, the process
 * tree with exec chains, environment, dependencies by origin, and a crash's backtrace. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "jsonfmt.h"

#define GROUP_MIN 11 /* a directory with more files than 10 is shown as one line */

static const cJSON *item(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static const char *or_dash(const char *s)
{
    return s ? s : "-";
}

static void file_name(const cJSON *f, char *buf, size_t n)
{
    const char *host = tr_jstr(f, "host");
    snprintf(buf, n, "%s%s%s", host ? host : "", host ? ":" : "", or_dash(tr_jstr(f, "path")));
}

/* The directory part of a file name ("host:/a/b/c" -> "host:/a/b"). */
static void dir_of(const char *name, char *buf, size_t n)
{
    snprintf(buf, n, "%s", name);
    char *slash = strrchr(buf, '/');
    if (slash) slash[slash == buf || slash[-1] == ':' ? 1 : 0] = 0;
}

/* Files, one line each, or one line per directory holding more than 10 of them. */
static void show_files(const char *title, const cJSON *arr, int every)
{
    int n = cJSON_GetArraySize(arr);
    if (n == 0) return;
    cJSON *dirs = cJSON_CreateObject(); /* dir -> [files, bytes, printed] */
    const cJSON *f;
    double total = 0;
    char name[4400], dir[4400], size[32];
    cJSON_ArrayForEach(f, arr)
    {
        file_name(f, name, sizeof name);
        dir_of(name, dir, sizeof dir);
        cJSON *d = cJSON_GetObjectItemCaseSensitive(dirs, dir);
        if (!d && dirs) {
            d = cJSON_CreateIntArray((const int[]){0, 0, 0}, 3);
            if (d) cJSON_AddItemToObject(dirs, dir, d);
        }
        for (int i = 0; d && i < 2; i++) {
            cJSON *v = cJSON_GetArrayItem(d, i);
            cJSON_SetNumberValue(v, v->valuedouble + (i ? tr_jnum(f, "bytes", 0) : 1));
        }
        total += tr_jnum(f, "bytes", 0);
    }
    tr_fmt_bytes(total, size, sizeof size);
    printf("\n%s (%d file%s, %s):\n", title, n, n == 1 ? "" : "s", size);
    cJSON_ArrayForEach(f, arr)
    {
        file_name(f, name, sizeof name);
        dir_of(name, dir, sizeof dir);
        cJSON *d = cJSON_GetObjectItemCaseSensitive(dirs, dir);
        double count = d ? cJSON_GetArrayItem(d, 0)->valuedouble : 1;
        if (!every && count >= GROUP_MIN) {
            cJSON *printed = cJSON_GetArrayItem(d, 2);
            if (printed->valuedouble) continue;
            cJSON_SetNumberValue(printed, 1);
            tr_fmt_bytes(cJSON_GetArrayItem(d, 1)->valuedouble, size, sizeof size);
            printf("  %s%s (%.0f files, %s)\n", dir, strcmp(dir, "/") ? "/" : "", count, size);
            continue;
        }
        const char *v = tr_jstr(f, "version");
        int temp = cJSON_IsTrue(item(f, "temporary"));
        printf("  %-50s %10.0f bytes  %.16s%s\n", name, tr_jnum(f, "bytes", 0), v ? v : "",
               temp ? "  (temporary)" : "");
    }
    cJSON_Delete(dirs);
}

static const char *base(const char *p)
{
    const char *s = p ? strrchr(p, '/') : NULL;
    return s ? s + 1 : p ? p : "?";
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

static void print_backtrace(const char *bt, int indent)
{
    while (bt && *bt) {
        size_t l = strcspn(bt, "\n");
        printf("%*s%.*s\n", indent, "", (int)l, bt);
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
        printf("  (end not recorded)");
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
        printf("  %-10s %s=%s  (", shown++ ? "" : "debian", pkg, or_dash(tr_jstr(d, "version")));
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
    const char *pkg = or_dash(tr_jstr(d, "package"));
    const cJSON *e;
    int k = 0;
    printf("  %-10s %s=%s", label, pkg, or_dash(tr_jstr(d, "version")));
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
    if (tr_jstr(c, "note")) printf(", %s", tr_jstr(c, "note"));
    printf("\n");
    if (tr_jstr(c, "backtrace"))
        print_backtrace(tr_jstr(c, "backtrace"), 2);
    else
        printf("  (no backtrace: libunwind missing or the unwinder failed)\n");
}

void tr_show_run_sections(const cJSON *r, int flags)
{
    int every = flags & (TR_SHOW_ALL | TR_SHOW_FILES);
    show_files("inputs", item(r, "inputs"), every);
    show_files("outputs", item(r, "outputs"), every);
    const cJSON *c = item(r, "crash");
    show_procs(r, cJSON_IsObject(c) ? tr_jnum(c, "pid", -1) : -1);
    show_crash(r);
    const cJSON *env = item(r, "env"), *e;
    if (cJSON_GetArraySize(env) > 0) {
        printf("\nenvironment (%d variables):\n", cJSON_GetArraySize(env));
        cJSON_ArrayForEach(e, env)
            printf("  %s=%s\n", e->string, cJSON_IsString(e) ? e->valuestring : "");
    }
    show_deps(r);
}
