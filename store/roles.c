/* roles.c - the one rule that gives each file of a run its role (data, code or env) and, for env
 * files, the dependency group (distribution and version) they belong to. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roles.h"
#include "trail.h"

static int has_prefix(const char *s, const char *p)
{
    return !strncmp(s, p, strlen(p));
}

static const char *base_of(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* The extension of the base name (after its last dot, lowercase compare), or "". */
static const char *ext_of(const char *path)
{
    const char *b = base_of(path), *d = strrchr(b, '.');
    return d && d != b ? d + 1 : "";
}

static int ext_in(const char *path, const char *const *list)
{
    const char *e = ext_of(path);
    for (; *list; list++)
        if (!strcasecmp(e, *list)) return 1;
    return 0;
}

/* Source files a program is written in. */
static const char *const src_exts[] = {"py",   "pyx",   "pxd", "ipynb", "sh",    "bash", "r",
                                       "jl",   "lua",   "pl",  "rb",    "js",    "ts",   "c",
                                       "cc",   "cpp",   "cxx", "h",     "hpp",   "go",   "rs",
                                       "java", "scala", "kt",  "m",     "swift", NULL};
/* Files a distribution installs besides its code that are never a data set. */
static const char *const pkg_env_exts[] = {"pyi", "pth", "typed", "rst", "md", "cfg", NULL};
/* Certificates and compiled translations, wherever they are. */
static const char *const env_exts[] = {"pem", "crt", "cer", "mo", NULL};

/* Length of the site directory prefix ("/x/site-packages" or "/x/dist-packages"), 0 when the
 * path lies in none. */
static size_t site_dir_len(const char *path)
{
    static const char *const names[] = {"/site-packages/", "/dist-packages/"};
    size_t best = 0;
    for (size_t i = 0; i < 2; i++) {
        const char *p = strstr(path, names[i]);
        if (p && (!best || (size_t)(p - path) + 14 < best)) best = (size_t)(p - path) + 14;
    }
    return best;
}

/* Length of a Python standard library prefix ("/usr/lib/python3.11"), 0 when none. */
static size_t stdlib_len(const char *path)
{
    for (const char *p = strstr(path, "/lib"); p; p = strstr(p + 1, "/lib")) {
        const char *q = p + 4;
        if (!strncmp(q, "64", 2)) q += 2;
        if (strncmp(q, "/python", 7) || !(q[7] >= '0' && q[7] <= '9')) continue;
        q += 7;
        while (*q && *q != '/')
            q++;
        if (*q == '/') return (size_t)(q - path);
    }
    return 0;
}

/* Metadata of an installed distribution (dist-info, egg-info directories or files). */
static int is_dist_meta(const char *path)
{
    static const char *const m[] = {".dist-info", ".egg-info", ".egg-link"};
    for (size_t i = 0; i < 3; i++)
        for (const char *p = strstr(path, m[i]); p; p = strstr(p + 1, m[i])) {
            char c = p[strlen(m[i])];
            if (c == '/' || c == 0) return 1;
        }
    return 0;
}

static int is_shared_object(const char *path)
{
    for (const char *so = strstr(base_of(path), ".so"); so; so = strstr(so + 1, ".so"))
        if (so[3] == 0 || so[3] == '.') return 1;
    return 0;
}

/* /usr/share and /usr/local/share: the parts that hold the system's own files; the rest (word
 * lists, corpora installed as packages) can be data. */
static int system_share(const char *path)
{
    static const char *const env_dirs[] = {
        "locale/",          "zoneinfo/", "i18n/",    "terminfo/",        "fonts/",     "mime/",
        "ca-certificates/", "X11/",      "misc/",    "icons/",           "themes/",    "glib-2.0/",
        "fontconfig/",      "doc/",      "python3/", "pyshared/",        "perl/",      "perl5/",
        "lintian/",         "dpkg/",     "zsh/",     "bash-completion/", "matplotlib/"};
    const char *rest = has_prefix(path, "/usr/share/")         ? path + 11
                       : has_prefix(path, "/usr/local/share/") ? path + 17
                                                               : NULL;
    if (!rest) return -1;
    for (size_t i = 0; i < sizeof env_dirs / sizeof env_dirs[0]; i++)
        if (has_prefix(rest, env_dirs[i])) return 1;
    return 0;
}

int tr_role_is_env(const char *path)
{
    if (!path || path[0] != '/') return 0;
    if (has_prefix(path, "/dev/shm/")) return 0;
    static const char *const sys[] = {"/proc/", "/sys/", "/dev/", "/etc/", "/run/"};
    for (size_t i = 0; i < sizeof sys / sizeof sys[0]; i++)
        if (has_prefix(path, sys[i])) return 1;
    const char *e = ext_of(path);
    if (!strcasecmp(e, "pyc") || !strcasecmp(e, "pyo") || strstr(path, "/__pycache__/")) return 1;
    if (is_dist_meta(path) || is_shared_object(path) || ext_in(path, env_exts)) return 1;
    /* locale and time zone data; matplotlib's fonts and styles */
    if (strstr(path, "/locale/") || strstr(path, "/zoneinfo/") || strstr(path, "/mpl-data/"))
        return 1;
    if (site_dir_len(path)) /* a distribution's code is env; its other files may be data */
        return ext_in(path, src_exts) || ext_in(path, pkg_env_exts) ||
               !strncasecmp(base_of(path), "LICENSE", 7) || !strcmp(base_of(path), "RECORD");
    if (stdlib_len(path)) return 1;
    int share = system_share(path);
    if (share >= 0) return share;
    static const char *const prefixes[] = {"/usr/",       "/lib/",     "/lib64/",
                                           "/lib32/",     "/bin/",     "/sbin/",
                                           "/var/cache/", "/var/lib/", "/opt/conda/pkgs/"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (has_prefix(path, prefixes[i])) return 1;
    return 0;
}

/* a resolved against the run's cwd equals path. */
static int same_file(const char *path, const char *a, const char *cwd)
{
    if (!a || !*a) return 0;
    if (a[0] == '/') return !strcmp(a, path);
    size_t l = cwd ? strlen(cwd) : 0;
    if (!l || strncmp(path, cwd, l) || path[l] != '/') return 0;
    if (has_prefix(a, "./")) a += 2;
    return !strcmp(path + l + 1, a);
}

/* path is the run's program: its command (argv[0]) or, when that is an interpreter, the
 * script it runs (its first argument that is not an option). Other arguments are data. */
static int is_command_file(const char *path, const tr_role_ctx *c)
{
    static const char *const interp[] = {"python", "sh",   "bash", "zsh",  "dash", "Rscript",
                                         "julia",  "perl", "ruby", "node", "lua",  NULL};
    if (!c || c->nargv < 1) return 0;
    if (same_file(path, c->argv[0], c->cwd)) return 1;
    const char *b = c->argv[0] ? base_of(c->argv[0]) : "";
    int is_interp = 0;
    for (const char *const *i = interp; *i && !is_interp; i++)
        is_interp = has_prefix(b, *i);
    if (!is_interp) return 0;
    for (int i = 1; i < c->nargv; i++) {
        const char *a = c->argv[i];
        if (!a || a[0] == '-') {
            if (a && (!strcmp(a, "-c") || !strcmp(a, "-m"))) return 0; /* no script file */
            continue;
        }
        return same_file(path, a, c->cwd);
    }
    return 0;
}

int tr_role_of(const char *path, const tr_role_ctx *ctx)
{
    if (!path) return TR_ROLE_DATA;
    if (tr_role_is_env(path)) return TR_ROLE_ENV;
    if (ext_in(path, src_exts) || is_command_file(path, ctx)) return TR_ROLE_CODE;
    return TR_ROLE_DATA;
}

const char *tr_role_name(int role)
{
    return role == TR_ROLE_ENV ? "env" : role == TR_ROLE_CODE ? "code" : "data";
}

/* ---- env groups: which distribution or part of the system an env file belongs to ---- */

static const char *jstr(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* Python's name normalisation (PEP 503), into out: lowercase, runs of - _ . as one _. */
static void norm_name(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < cap; i++) {
        char c = s[i];
        if (c == '-' || c == '_' || c == '.') {
            if (o && out[o - 1] != '_') out[o++] = '_';
        } else {
            out[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
    }
    out[o] = 0;
}

/* The upstream part of a Debian version: "1:1.24.2-1+deb12u1" -> "1.24.2". */
static void upstream(const char *v, char *out, size_t cap)
{
    const char *colon = strchr(v, ':');
    if (colon) v = colon + 1;
    size_t n = strcspn(v, "-+~");
    snprintf(out, cap, "%.*s", (int)n, v);
}

/* The group of a file under a site directory (sl its length): the distribution of its
 * top-level module. */
static void site_group(const char *path, size_t sl, const cJSON *deps, char *out, size_t cap)
{
    const char *top = path + sl + 1;
    if (has_prefix(top, "__pycache__/")) top += 12; /* a top-level module's bytecode */
    size_t tl = strcspn(top, "/");
    char mod[256], name[256], ver[128];
    const char *dot = memchr(top, '.', tl);
    if (dot && !memchr(top, '/', (size_t)(dot - top))) {
        /* a module file (x.py) or a distribution's metadata (name-1.0.dist-info) */
        const char *dash = memchr(top, '-', (size_t)(dot - top));
        tl = (size_t)((dash && is_dist_meta(path) ? dash : dot) - top);
    }
    norm_name(top, tl, mod, sizeof mod);
    const cJSON *d, *so = NULL;
    cJSON_ArrayForEach(d, deps)
    {
        const char *kind = jstr(d, "kind"), *pkg = jstr(d, "package"), *dp = jstr(d, "path");
        if (!pkg || !dp || strncmp(dp, path, sl)) continue;
        if (kind && !strcmp(kind, "python")) {
            norm_name(pkg, strlen(pkg), name, sizeof name);
            if (!strcmp(name, mod)) {
                snprintf(out, cap, "%s=%s", pkg, jstr(d, "version") ? jstr(d, "version") : "-");
                return;
            }
        } else if (!so && dp[sl] == '/' && !strncmp(dp + sl + 1, top, tl) &&
                   dp[sl + 1 + tl] == '/') {
            so = d; /* a shared object of this module: its package */
        }
    }
    if (so && jstr(so, "version")) {
        /* the distribution of that version, when exactly one has it */
        upstream(jstr(so, "version"), ver, sizeof ver);
        const cJSON *match = NULL;
        int n = 0;
        cJSON_ArrayForEach(d, deps)
        {
            const char *kind = jstr(d, "kind"), *v = jstr(d, "version"), *dp = jstr(d, "path");
            if (kind && !strcmp(kind, "python") && v && dp && !strncmp(dp, path, sl) &&
                !strcmp(v, ver)) {
                match = d;
                n++;
            }
        }
        if (n == 1)
            snprintf(out, cap, "%s=%s", jstr(match, "package"), ver);
        else
            snprintf(out, cap, "%s=%s", jstr(so, "package"), jstr(so, "version"));
        return;
    }
    if (is_dist_meta(path))
        snprintf(out, cap, "distribution metadata");
    else
        snprintf(out, cap, "%.*s (python module)", (int)tl, top);
}

/* The interpreter's version from the deps ("python=3.11.2"), or "python". */
static void interpreter(const cJSON *deps, char *out, size_t cap)
{
    const cJSON *d;
    cJSON_ArrayForEach(d, deps)
    {
        const char *kind = jstr(d, "kind");
        if (kind && !strcmp(kind, "interpreter") && jstr(d, "version")) {
            snprintf(out, cap, "python=%s", jstr(d, "version"));
            return;
        }
    }
    snprintf(out, cap, "python");
}

void tr_role_env_group(const char *path, const cJSON *deps, char *out, size_t cap)
{
    const cJSON *d;
    size_t sl = site_dir_len(path), stl;
    cJSON_ArrayForEach(d, deps) /* a dependency itself (a shared object, an executable) */
    {
        const char *dp = jstr(d, "path"), *pkg = jstr(d, "package");
        if (dp && pkg && !strcmp(dp, path) && !sl) {
            snprintf(out, cap, "%s=%s", pkg, jstr(d, "version") ? jstr(d, "version") : "-");
            return;
        }
    }
    if (sl) {
        site_group(path, sl, deps, out, cap);
    } else if ((stl = stdlib_len(path))) {
        char py[96];
        interpreter(deps, py, sizeof py);
        snprintf(out, cap, "%s (standard library)", py);
    } else if (ext_in(path, env_exts) && strcasecmp(ext_of(path), "mo")) {
        snprintf(out, cap, "certificates");
    } else if (strstr(path, "/locale/") || has_prefix(path, "/usr/share/zoneinfo/") ||
               has_prefix(path, "/usr/share/i18n/") || !strcasecmp(ext_of(path), "mo")) {
        snprintf(out, cap, "locale data");
    } else if (has_prefix(path, "/etc/")) {
        snprintf(out, cap, "system configuration (/etc)");
    } else if (has_prefix(path, "/proc/") || has_prefix(path, "/sys/") ||
               has_prefix(path, "/dev/") || has_prefix(path, "/run/")) {
        snprintf(out, cap, "kernel and device files");
    } else if (strstr(path, "/__pycache__/") || !strcasecmp(ext_of(path), "pyc")) {
        snprintf(out, cap, "bytecode caches");
    } else if (is_shared_object(path)) {
        snprintf(out, cap, "shared objects");
    } else {
        snprintf(out, cap, "system files");
    }
}

/* The role context of a run document: its cwd and command line. */
static void ctx_of(const cJSON *run, tr_role_ctx *c)
{
    memset(c, 0, sizeof *c);
    c->cwd = jstr(run, "cwd");
    const cJSON *a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(run, "argv"))
    {
        if (c->nargv >= TR_ROLE_ARGV_MAX) break;
        if (cJSON_IsString(a)) c->argv[c->nargv++] = a->valuestring;
    }
}

int tr_roles_annotate(cJSON *run)
{
    tr_role_ctx ctx;
    ctx_of(run, &ctx);
    const cJSON *deps = cJSON_GetObjectItemCaseSensitive(run, "deps");
    static const char *const lists[] = {"inputs", "outputs"};
    for (int l = 0; l < 2; l++) {
        cJSON *f;
        cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(run, lists[l]))
        {
            const char *path = jstr(f, "path");
            int role = tr_role_of(path, &ctx);
            if (!cJSON_AddStringToObject(f, "role", tr_role_name(role))) return TRAIL_ENOMEM;
            if (role != TR_ROLE_ENV || l) continue;
            char group[512];
            tr_role_env_group(path, deps, group, sizeof group);
            if (!cJSON_AddStringToObject(f, "group", group)) return TRAIL_ENOMEM;
        }
    }
    return 0;
}
