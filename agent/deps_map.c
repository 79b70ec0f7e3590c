/* deps_map.c - a compact string -> integer map (one arena, open addressing) for the large path
 * indexes of dependency resolution: the dpkg database, site directories' RECORD files. */
#include <stdlib.h>
#include <string.h>

#include "deps.h"

typedef struct entry {
    size_t off;
    uint32_t len, val;
} entry;

struct tr_pathmap {
    char *arena;
    size_t alen, acap;
    entry *e;
    size_t ne, ecap;
    uint32_t *tab; /* entry index + 1, 0 = empty */
    size_t tcap;   /* power of two */
};

static uint64_t hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

tr_pathmap *tr_deps_map_new(void)
{
    return calloc(1, sizeof(tr_pathmap));
}

void tr_deps_map_free(tr_pathmap *m)
{
    if (!m) return;
    free(m->arena);
    free(m->e);
    free(m->tab);
    free(m);
}

size_t tr_deps_map_size(const tr_pathmap *m)
{
    return m ? m->ne : 0;
}

static int grow_table(tr_pathmap *m)
{
    size_t cap = m->tcap ? m->tcap * 2 : 1 << 12;
    uint32_t *t = calloc(cap, sizeof *t);
    if (!t) return -1;
    for (size_t i = 0; i < m->tcap; i++) {
        if (!m->tab[i]) continue;
        const entry *e = &m->e[m->tab[i] - 1];
        size_t k = hash(m->arena + e->off, e->len) & (cap - 1);
        while (t[k])
            k = (k + 1) & (cap - 1);
        t[k] = m->tab[i];
    }
    free(m->tab);
    m->tab = t;
    m->tcap = cap;
    return 0;
}

long tr_deps_map_get(const tr_pathmap *m, const char *s, size_t n)
{
    if (!m || !m->tcap) return -1;
    for (size_t k = hash(s, n) & (m->tcap - 1); m->tab[k]; k = (k + 1) & (m->tcap - 1)) {
        const entry *e = &m->e[m->tab[k] - 1];
        if (e->len == n && !memcmp(m->arena + e->off, s, n)) return (long)e->val;
    }
    return -1;
}

int tr_deps_map_put(tr_pathmap *m, const char *s, size_t n, uint32_t val)
{
    if (tr_deps_map_get(m, s, n) >= 0) return 0; /* the first owner stays */
    if ((m->ne + 1) * 2 > m->tcap && grow_table(m) != 0) return -1;
    if (m->alen + n > m->acap) {
        size_t cap = m->acap ? m->acap * 2 : 1 << 16;
        while (cap < m->alen + n)
            cap *= 2;
        char *a = realloc(m->arena, cap);
        if (!a) return -1;
        m->arena = a;
        m->acap = cap;
    }
    if (m->ne == m->ecap) {
        size_t cap = m->ecap ? m->ecap * 2 : 1 << 10;
        entry *e = realloc(m->e, cap * sizeof *e);
        if (!e) return -1;
        m->e = e;
        m->ecap = cap;
    }
    memcpy(m->arena + m->alen, s, n);
    m->e[m->ne] = (entry){m->alen, (uint32_t)n, val};
    m->alen += n;
    size_t k = hash(s, n) & (m->tcap - 1);
    while (m->tab[k])
        k = (k + 1) & (m->tcap - 1);
    m->tab[k] = (uint32_t)++m->ne;
    return 0;
}

/* Lexical normalisation of an absolute path: "//", "/./" and "dir/.." removed (a loader's
 * "torch/lib/../../nvidia/x.so" becomes "nvidia/x.so"). 0, or -1 when it does not fit. */
int tr_deps_normalize(const char *in, char *out, size_t n)
{
    size_t o = 0;
    if (in[0] != '/' || n < 2) return -1;
    out[o++] = '/';
    for (const char *p = in; *p;) {
        while (*p == '/')
            p++;
        size_t l = strcspn(p, "/");
        if (l == 0 || (l == 1 && p[0] == '.')) {
        } else if (l == 2 && p[0] == '.' && p[1] == '.') {
            while (o > 1 && out[o - 1] != '/')
                o--;
            if (o > 1) o--; /* the slash before the removed component */
            while (o > 1 && out[o - 1] != '/')
                o--;
        } else {
            if (o + l + 2 > n) return -1;
            memcpy(out + o, p, l);
            o += l;
            out[o++] = '/';
        }
        p += l;
    }
    if (o > 1) o--; /* no trailing slash */
    out[o] = 0;
    return 0;
}
