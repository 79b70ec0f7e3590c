/* deps_dpkg.c - Debian package and version of a path: the dpkg database's *.list files read
 * once into a hash map, versions from its status file, merged-usr aliases and symlinks
 * resolved. */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deps.h"
#include "strmap.h"

typedef struct pkg {
    char *name, *version; /* name without ":arch"; version NULL when not installed */
} pkg;

struct tr_dpkg {
    tr_strmap *paths; /* path -> package index (the first .list naming a path owns it) */
    pkg *p;
    size_t np, pcap;
    char merged[6][8]; /* top-level directories that link into /usr: "/lib" ... */
    int nmerged;
};

/* Folds a merged-usr alias: "/lib/x" -> "/usr/lib/x" when /lib is a link to usr/lib. */
static const char *canon(const tr_dpkg *d, const char *path, char *buf, size_t n)
{
    for (int i = 0; i < d->nmerged; i++) {
        size_t l = strlen(d->merged[i]);
        if (!strncmp(path, d->merged[i], l) && (path[l] == '/' || !path[l])) {
            if (snprintf(buf, n, "/usr%s", path) >= (int)n) return path;
            return buf;
        }
    }
    return path;
}

/* Adds a package named as its .list file is ("name" or "name:arch"); its index or -1. */
static long add_pkg(tr_dpkg *d, const char *name, size_t n)
{
    if (d->np == d->pcap) {
        size_t cap = d->pcap ? d->pcap * 2 : 256;
        pkg *g = realloc(d->p, cap * sizeof *g);
        if (!g) return -1;
        d->p = g;
        d->pcap = cap;
    }
    if (!(d->p[d->np].name = strndup(name, n))) return -1;
    d->p[d->np].version = NULL;
    return (long)d->np++;
}

static int read_list(tr_dpkg *d, const char *dir, const char *fname, uint32_t p)
{
    char path[PATH_MAX], line[PATH_MAX], buf[PATH_MAX + 8];
    snprintf(path, sizeof path, "%s/info/%s", dir, fname);
    FILE *f = fopen(path, "re");
    if (!f) return 0;
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        size_t n = strcspn(line, "\n");
        line[n] = 0;
        if (line[0] != '/' || (n == 2 && line[1] == '.')) continue;
        const char *c = canon(d, line, buf, sizeof buf);
        rc = tr_strmap_add(d->paths, c, strlen(c), (tr_mapval){.i = p}, NULL) < 0 ? -1 : 0;
    }
    fclose(f);
    return rc;
}

/* status: "Package:", "Architecture:", "Version:" and "Status: install ok installed" of each
 * stanza; versions are set on the names the .list files used (with or without ":arch"). */
static void read_status(tr_dpkg *d, const char *dir)
{
    char path[PATH_MAX], line[4096], name[256] = "", arch[64] = "", ver[256] = "";
    int installed = 0;
    snprintf(path, sizeof path, "%s/status", dir);
    FILE *f = fopen(path, "re");
    if (!f) return;
    for (int more = 1; more;) {
        more = fgets(line, sizeof line, f) != NULL;
        line[strcspn(line, "\n")] = 0;
        if (more && line[0]) {
            if (!strncmp(line, "Package: ", 9))
                snprintf(name, sizeof name, "%.255s", line + 9);
            else if (!strncmp(line, "Architecture: ", 14))
                snprintf(arch, sizeof arch, "%.63s", line + 14);
            else if (!strncmp(line, "Version: ", 9))
                snprintf(ver, sizeof ver, "%.255s", line + 9);
            else if (!strncmp(line, "Status: ", 8))
                installed = strstr(line, " installed") != NULL;
            continue;
        }
        char full[330];
        snprintf(full, sizeof full, "%s:%s", name, arch);
        for (size_t i = 0; name[0] && ver[0] && installed && i < d->np; i++) {
            if ((strcmp(d->p[i].name, name) && strcmp(d->p[i].name, full)) || d->p[i].version)
                continue;
            d->p[i].version = strdup(ver);
        }
        name[0] = arch[0] = ver[0] = 0;
        installed = 0;
    }
    fclose(f);
}

static void merged_init(tr_dpkg *d)
{
    static const char *const tops[] = {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"};
    for (int i = 0; i < 6; i++) {
        char target[64];
        ssize_t n = readlink(tops[i], target, sizeof target - 1);
        if (n <= 0) continue;
        target[n] = 0;
        const char *t = target[0] == '/' ? target + 1 : target;
        if (!strncmp(t, "usr", 3) && !strcmp(t + 3, tops[i]))
            snprintf(d->merged[d->nmerged++], sizeof d->merged[0], "%s", tops[i]);
    }
}

static const char *admindir(void)
{
    const char *dir = getenv("TRAIL_DPKG_ADMINDIR");
    return dir && *dir ? dir : "/var/lib/dpkg";
}

void tr_deps_dpkg_stamp(char *out, size_t n)
{
    char path[PATH_MAX];
    struct stat a, b;
    snprintf(path, sizeof path, "%s/status", admindir());
    int ha = stat(path, &a) == 0;
    snprintf(path, sizeof path, "%s/info", admindir());
    int hb = stat(path, &b) == 0;
    snprintf(out, n, "%s:%lld.%09ld:%lld.%09ld", admindir(), ha ? (long long)a.st_mtim.tv_sec : 0,
             ha ? a.st_mtim.tv_nsec : 0, hb ? (long long)b.st_mtim.tv_sec : 0,
             hb ? b.st_mtim.tv_nsec : 0);
}

tr_dpkg *tr_deps_dpkg_open(void)
{
    tr_dpkg *d = calloc(1, sizeof *d);
    if (!d || !(d->paths = tr_strmap_new())) {
        free(d);
        return NULL;
    }
    merged_init(d);
    const char *dir = admindir();
    char info[PATH_MAX];
    snprintf(info, sizeof info, "%s/info", dir);
    DIR *dh = opendir(info);
    struct dirent *de;
    while (dh && (de = readdir(dh))) {
        size_t n = strlen(de->d_name);
        if (n < 6 || strcmp(de->d_name + n - 5, ".list")) continue;
        long p = add_pkg(d, de->d_name, n - 5);
        if (p < 0 || read_list(d, dir, de->d_name, (uint32_t)p) != 0) {
            closedir(dh);
            tr_deps_dpkg_free(d);
            return NULL;
        }
    }
    if (dh) closedir(dh);
    read_status(d, dir);
    for (size_t i = 0; i < d->np; i++) /* display names drop the architecture */
        d->p[i].name[strcspn(d->p[i].name, ":")] = 0;
    return d;
}

void tr_deps_dpkg_free(tr_dpkg *d)
{
    if (!d) return;
    for (size_t i = 0; i < d->np; i++) {
        free(d->p[i].name);
        free(d->p[i].version);
    }
    free(d->p);
    tr_strmap_free(d->paths);
    free(d);
}

size_t tr_deps_dpkg_size(const tr_dpkg *d)
{
    return d ? tr_strmap_size(d->paths) : 0;
}

int tr_deps_dpkg_lookup(tr_dpkg *d, const char *path, const char **pkg_out, const char **version)
{
    char buf[PATH_MAX + 8], real[PATH_MAX];
    if (!d || !path || path[0] != '/' || !tr_deps_dpkg_size(d)) return -1;
    const char *c = canon(d, path, buf, sizeof buf);
    tr_mapval i;
    int found = tr_strmap_get(d->paths, c, strlen(c), &i);
    if (!found && realpath(path, real)) {
        c = canon(d, real, buf, sizeof buf);
        found = tr_strmap_get(d->paths, c, strlen(c), &i);
    }
    if (!found) return -1;
    const pkg *p = &d->p[i.i];
    *pkg_out = p->name;
    *version = p->version;
    return 0;
}
