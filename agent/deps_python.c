/* deps_python.c - Python distributions of the files a run read from site-packages /
 * dist-packages (from *.dist-info and *.egg-info metadata), and interpreter versions. */
#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "deps.h"
#include "strmap.h"
#include "util.h"

typedef struct pydist {
    char *name, *version, *meta;
    char **tops; /* top-level modules and packages it installs */
    size_t ntops;
    char **subs; /* "top/sub" directories it installs, read when a top is shared */
    size_t nsubs;
    int subs_read;
} pydist;

typedef struct pysite {
    char *dir;
    int64_t mtime_ns; /* of the directory when scanned: a rescan follows installs */
    pydist *d;
    size_t n;
    tr_strmap *files; /* file (relative) -> distribution index, from RECORD, built on need */
    int files_read;
} pysite;

struct tr_pysites {
    pysite *s;
    size_t n, cap;
};

tr_pysites *tr_deps_py_new(void)
{
    return calloc(1, sizeof(tr_pysites));
}

static void site_clear(pysite *s)
{
    for (size_t i = 0; i < s->n; i++) {
        pydist *d = &s->d[i];
        for (size_t k = 0; k < d->ntops; k++)
            free(d->tops[k]);
        free(d->tops);
        for (size_t k = 0; k < d->nsubs; k++)
            free(d->subs[k]);
        free(d->subs);
        free(d->name);
        free(d->version);
        free(d->meta);
    }
    free(s->d);
    s->d = NULL;
    s->n = 0;
    tr_strmap_free(s->files);
    s->files = NULL;
    s->files_read = 0;
}

void tr_deps_py_free(tr_pysites *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) {
        site_clear(&p->s[i]);
        free(p->s[i].dir);
    }
    free(p->s);
    free(p);
}

/* Length of the site directory prefix of path ("/x/site-packages"), 0 when none. */
static size_t site_len(const char *path)
{
    static const char *const names[] = {"/site-packages/", "/dist-packages/"};
    size_t best = 0;
    for (int i = 0; i < 2; i++) {
        const char *p = strstr(path, names[i]);
        size_t l = p ? (size_t)(p - path) + 14 : 0;
        if (l && (!best || l < best)) best = l;
    }
    return best;
}

int tr_deps_py_candidate(const char *path)
{
    return site_len(path) > 0;
}

/* Python's name normalisation (PEP 503), for comparing a module with a distribution name. */
static void norm(const char *in, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < cap; i++)
        out[o++] = in[i] == '-' || in[i] == '.' ? '_' : (char)tolower((unsigned char)in[i]);
    out[o] = 0;
}

/* Adds s[0..n) to a list of strings unless present; -1 when out of memory. */
static int add_name(char ***list, size_t *count, const char *s, size_t n)
{
    for (size_t i = 0; i < *count; i++)
        if (strlen((*list)[i]) == n && !memcmp((*list)[i], s, n)) return 0;
    char **g = realloc(*list, (*count + 1) * sizeof *g);
    if (!g) return -1;
    *list = g;
    if (!(g[*count] = strndup(s, n))) return -1;
    (*count)++;
    return 0;
}

static int add_top(pydist *d, const char *s, size_t n)
{
    if (!n || (n == 11 && !memcmp(s, "__pycache__", 11)) || s[0] == '.') return 0;
    return add_name(&d->tops, &d->ntops, s, n);
}

/* The "top/sub" directories of a distribution's files, from RECORD (dist-info) or
 * installed-files.txt (egg-info, relative to it): they tell apart the distributions sharing a
 * namespace package (nvidia-cublas-* and nvidia-cudnn-* both install under nvidia/). */
static void read_subs(pydist *d)
{
    char file[PATH_MAX + 32], line[4096];
    size_t ml = strlen(d->meta);
    int dist = ml > 10 && !strcmp(d->meta + ml - 10, ".dist-info");
    d->subs_read = 1;
    tr_fmt(file, sizeof file, "%s/%s", d->meta, dist ? "RECORD" : "installed-files.txt");
    FILE *f = fopen(file, "re");
    while (f && fgets(line, sizeof line, f)) {
        const char *p = line;
        while (!dist && !strncmp(p, "../", 3))
            p += 3;
        size_t a = strcspn(p, "/,\r\n");
        if (p[a] != '/') continue;
        size_t b = a + 1 + strcspn(p + a + 1, "/,\r\n");
        if (p[b] != '/' || add_name(&d->subs, &d->nsubs, p, b) != 0) continue;
    }
    if (f) fclose(f);
}

/* Top-level names from top_level.txt (one per line) or RECORD ("pkg/mod.py,sha256=..,n"). */
static void read_tops(pydist *d, const char *file, int record)
{
    FILE *f = fopen(file, "re");
    char line[4096];
    while (f && fgets(line, sizeof line, f)) {
        size_t n = strcspn(line, record ? "/,\r\n" : "\r\n");
        if (record) {
            if (line[n] != '/') { /* a module file at the top: "six.py" -> "six" */
                size_t dot = strcspn(line, ".,");
                if (line[dot] != '.' || strncmp(line + dot, ".py", 3) != 0) continue;
                n = dot;
            } else if (n > 10 && (!memcmp(line + n - 10, ".dist-info", 10) ||
                                  !memcmp(line + n - 9, ".egg-info", 9))) {
                continue;
            }
        }
        if (add_top(d, line, n) != 0) break;
    }
    if (f) fclose(f);
}

/* Name and Version from an RFC 822 style header block (METADATA, PKG-INFO). */
static int read_meta(pydist *d, const char *file)
{
    FILE *f = fopen(file, "re");
    char line[1024];
    while (f && fgets(line, sizeof line, f) && line[0] != '\n' && line[0] != '\r') {
        line[strcspn(line, "\r\n")] = 0;
        if (!strncmp(line, "Name: ", 6) && !d->name)
            d->name = strdup(line + 6);
        else if (!strncmp(line, "Version: ", 9) && !d->version)
            d->version = strdup(line + 9);
    }
    if (f) fclose(f);
    return d->name && d->version ? 0 : -1;
}

static void scan_entry(pysite *s, const char *name)
{
    size_t n = strlen(name);
    int dist = n > 10 && !strcmp(name + n - 10, ".dist-info");
    int egg = n > 9 && !strcmp(name + n - 9, ".egg-info");
    if (!dist && !egg) return;
    char path[PATH_MAX], file[PATH_MAX + 32];
    tr_fmt(path, sizeof path, "%s/%s", s->dir, name);
    struct stat sb;
    if (stat(path, &sb) != 0) return;
    pydist *g = realloc(s->d, (s->n + 1) * sizeof *g), *d;
    if (!g) return;
    s->d = g;
    d = memset(&s->d[s->n], 0, sizeof *d);
    if (S_ISDIR(sb.st_mode))
        tr_fmt(file, sizeof file, "%s/%s", path, dist ? "METADATA" : "PKG-INFO");
    else
        tr_fmt(file, sizeof file, "%s", path); /* an egg-info file is PKG-INFO itself */
    if (read_meta(d, file) != 0 || !(d->meta = strdup(path))) {
        free(d->name);
        free(d->version);
        return;
    }
    s->n++;
    if (!S_ISDIR(sb.st_mode)) return;
    tr_fmt(file, sizeof file, "%s/top_level.txt", path);
    read_tops(d, file, 0);
    if (d->ntops == 0 && dist) {
        tr_fmt(file, sizeof file, "%s/RECORD", path);
        read_tops(d, file, 1);
    }
}

static void scan(pysite *s)
{
    site_clear(s);
    DIR *dh = opendir(s->dir);
    struct dirent *de;
    while (dh && (de = readdir(dh)))
        scan_entry(s, de->d_name);
    if (dh) closedir(dh);
}

static int64_t mtime_of(const char *dir)
{
    struct stat sb;
    if (stat(dir, &sb) != 0) return -1;
    return (int64_t)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec;
}

static pysite *site_get(tr_pysites *p, const char *dir, size_t n)
{
    for (size_t i = 0; i < p->n; i++)
        if (strlen(p->s[i].dir) == n && !memcmp(p->s[i].dir, dir, n)) return &p->s[i];
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        pysite *g = realloc(p->s, cap * sizeof *g);
        if (!g) return NULL;
        p->s = g;
        p->cap = cap;
    }
    pysite *s = memset(&p->s[p->n], 0, sizeof *s);
    if (!(s->dir = strndup(dir, n))) return NULL;
    p->n++;
    s->mtime_ns = mtime_of(s->dir);
    scan(s);
    return s;
}

/* Every file the site's distributions list (RECORD; an egg-info's installed-files.txt, relative
 * to it) -> its distribution. */
static void read_files(pysite *s)
{
    char file[PATH_MAX + 32], line[4096];
    s->files_read = 1;
    if (!(s->files = tr_strmap_new())) return;
    for (size_t i = 0; i < s->n; i++) {
        const char *meta = s->d[i].meta;
        size_t ml = strlen(meta);
        int dist = ml > 10 && !strcmp(meta + ml - 10, ".dist-info");
        tr_fmt(file, sizeof file, "%s/%s", meta, dist ? "RECORD" : "installed-files.txt");
        FILE *f = fopen(file, "re");
        while (f && fgets(line, sizeof line, f)) {
            const char *q = line;
            if (!dist && strncmp(q, "../", 3)) continue; /* the egg-info's own files */
            while (!dist && !strncmp(q, "../", 3))
                q += 3;
            size_t l = strcspn(q, dist ? ",\r\n" : "\r\n");
            if (l && q[0] != '.' && q[0] != '/' &&
                tr_strmap_add(s->files, q, l, (tr_mapval){.i = (int64_t)i}, NULL) < 0)
                break;
        }
        if (f) fclose(f);
    }
}

static int has_top(const pydist *d, const char *mod, size_t n)
{
    for (size_t k = 0; k < d->ntops; k++)
        if (strlen(d->tops[k]) == n && !memcmp(d->tops[k], mod, n)) return 1;
    return 0;
}

/* The distribution of module mod (rest: the file's path inside the site directory): the one
 * declaring it as a top-level name; when several do (a namespace package) or none does
 * (numpy.libs/), the one whose RECORD lists the file, else whose files include its "top/sub"
 * directory; else the one named like the module. */
static const pydist *match(pysite *s, const char *rest, const char *mod, size_t n)
{
    char want[256], have[256];
    const pydist *first = NULL;
    int claims = 0;
    for (size_t i = 0; i < s->n; i++)
        if (has_top(&s->d[i], mod, n)) {
            if (!first) first = &s->d[i];
            claims++;
        }
    if (claims == 1) return first;
    if (!s->files_read) read_files(s); /* unclaimed or shared: the file lists decide */
    tr_mapval owner;
    if (tr_strmap_get(s->files, rest, strlen(rest), &owner) && owner.i >= 0 &&
        (size_t)owner.i < s->n)
        return &s->d[owner.i];
    size_t a = strcspn(rest, "/"), b = rest[a] ? a + 1 + strcspn(rest + a + 1, "/") : a;
    for (size_t i = 0; claims > 1 && rest[a] && rest[b] && i < s->n; i++) {
        pydist *d = &s->d[i]; /* files not listed (bytecode written later) */
        if (!has_top(d, mod, n)) continue;
        if (!d->subs_read) read_subs(d);
        for (size_t k = 0; k < d->nsubs; k++)
            if (strlen(d->subs[k]) == b && !memcmp(d->subs[k], rest, b)) return d;
    }
    if (first) return first;
    norm(mod, n, want, sizeof want);
    for (size_t i = 0; i < s->n; i++) {
        norm(s->d[i].name, strlen(s->d[i].name), have, sizeof have);
        if (!strcmp(want, have)) return &s->d[i];
    }
    return NULL;
}

int tr_deps_py_lookup(tr_pysites *p, const char *path_in, tr_pydist *out)
{
    char path[PATH_MAX];
    if (!p || path_in[0] != '/' || tr_path_normalize(path_in, NULL, path, sizeof path) != 0)
        return -1;
    size_t sl = site_len(path);
    if (!sl) return -1;
    const char *rest = path + sl + 1, *mod = rest;
    size_t n = strcspn(rest, "/");
    if (n > 10 &&
        (!memcmp(rest + n - 10, ".dist-info", 10) || !memcmp(rest + n - 9, ".egg-info", 9)))
        return -1; /* metadata read (entry points, versions): no module of it was */
    if (n == 11 && !memcmp(rest, "__pycache__", 11) && rest[n] == '/') mod = rest + n + 1;
    int top_file = mod[strcspn(mod, "/")] == 0;
    size_t mn = top_file ? strcspn(mod, ".") : strcspn(mod, "/");
    if (!mn) return -1;
    size_t ml = strlen(mod);
    if (top_file && ml > 4 && !strcmp(mod + ml - 4, ".pth"))
        return -1; /* startup hooks of the site directory, no module */
    pysite *s = site_get(p, path, sl);
    if (!s) return -1;
    const pydist *d = NULL;
    for (int attempt = 0; attempt < 2 && !d; attempt++) {
        d = match(s, rest, mod, mn);
        int64_t mt = mtime_of(s->dir);
        if (d || mt == s->mtime_ns) break;
        s->mtime_ns = mt; /* installed meanwhile: read the directory again */
        scan(s);
    }
    if (!d) return -1;
    *out = (tr_pydist){d->name, d->version, d->meta};
    return 0;
}

/* X.Y of "python3.11" (or of a pythonX.Y directory under prefix/lib). */
static int short_version(const char *base, const char *prefix, char *xy, size_t n)
{
    if (strlen(base) > 7 && isdigit((unsigned char)base[6])) {
        tr_fmt(xy, n, "%s", base + 6);
        return strchr(xy, '.') ? 0 : -1;
    }
    char lib[PATH_MAX];
    tr_fmt(lib, sizeof lib, "%s/lib", prefix);
    DIR *dh = opendir(lib);
    struct dirent *de;
    int rc = -1;
    while (dh && rc && (de = readdir(dh)))
        if (!strncmp(de->d_name, "python3.", 8) && isdigit((unsigned char)de->d_name[8])) {
            tr_fmt(xy, n, "%s", de->d_name + 6);
            rc = 0;
        }
    if (dh) closedir(dh);
    return rc;
}

int tr_deps_py_interpreter(const char *exe, const char *dpkg_version, char *ver, size_t n)
{
    const char *base = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
    if (strncmp(base, "python", 6) != 0 || strspn(base + 6, "0123456789.") != strlen(base + 6))
        return 0;
    if (dpkg_version && *dpkg_version) { /* "1:3.11.2-6+deb12u5" -> "3.11.2" */
        const char *v = strchr(dpkg_version, ':') ? strchr(dpkg_version, ':') + 1 : dpkg_version;
        const char *dash = strrchr(v, '-');
        tr_fmt(ver, n, "%.*s", (int)(dash ? (size_t)(dash - v) : strlen(v)), v);
        return 1;
    }
    char prefix[PATH_MAX], xy[32], file[PATH_MAX + 64], line[256];
    tr_fmt(prefix, sizeof prefix, "%s", exe);
    for (int up = 0; up < 2; up++)
        *(strrchr(prefix, '/') ? strrchr(prefix, '/') : prefix) = 0;
    if (short_version(base, prefix, xy, sizeof xy) != 0) {
        tr_fmt(ver, n, "unknown");
        return 1;
    }
    tr_fmt(file, sizeof file, "%s/include/python%s/patchlevel.h", prefix, xy);
    FILE *f = fopen(file, "re");
    while (f && fgets(line, sizeof line, f)) {
        const char *q = strstr(line, "#define PY_VERSION ");
        if (q && (q = strchr(q, '"'))) {
            tr_fmt(ver, n, "%.*s", (int)strcspn(q + 1, "\"+"), q + 1);
            fclose(f);
            return 1;
        }
    }
    if (f) fclose(f);
    /* a versioned installation directory: /opt/python/3.11.7/bin, ~/.pyenv/versions/3.11.7 */
    for (const char *c = prefix; (c = strstr(c, xy)); c++)
        if ((c == prefix || c[-1] == '/' || c[-1] == '-') && c[strlen(xy)] == '.' &&
            isdigit((unsigned char)c[strlen(xy) + 1])) {
            tr_fmt(ver, n, "%.*s", (int)strspn(c, "0123456789."), c);
            return 1;
        }
    tr_fmt(ver, n, "%s", xy);
    return 1;
}
