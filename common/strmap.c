/* strmap.c - the one string map of trail (see strmap.h). */
#include "strmap.h"

#include <stdlib.h>
#include <string.h>

#include "trail.h"
#include "util.h"

#define CHUNK_MIN (64u << 10)

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    char data[];
} chunk;

typedef struct entry {
    const char *key;
    uint32_t len, hash; /* hash: the low bits of tr_hash64, for growth and quick misses */
    tr_mapval v;
} entry;

struct tr_strmap {
    chunk *chunks; /* newest first */
    entry *e;
    size_t ne, ecap;
    uint32_t *tab; /* entry index + 1, 0 = empty */
    size_t tcap;   /* power of two, or 0 */
};

tr_strmap *tr_strmap_new(void)
{
    return calloc(1, sizeof(tr_strmap));
}

static void free_chunks(tr_strmap *m)
{
    for (chunk *c = m->chunks, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    m->chunks = NULL;
}

void tr_strmap_free(tr_strmap *m)
{
    if (!m) return;
    free_chunks(m);
    free(m->e);
    free(m->tab);
    free(m);
}

void tr_strmap_clear(tr_strmap *m)
{
    if (!m) return;
    chunk *keep = m->chunks; /* the newest (largest used) chunk is reused */
    if (keep) {
        m->chunks = keep->next;
        keep->next = NULL;
        keep->used = 0;
    }
    free_chunks(m);
    m->chunks = keep;
    m->ne = 0;
    if (m->tab) memset(m->tab, 0, m->tcap * sizeof *m->tab);
}

size_t tr_strmap_size(const tr_strmap *m)
{
    return m ? m->ne : 0;
}

const char *tr_strmap_strdup(tr_strmap *m, const char *s, size_t n)
{
    chunk *c = m->chunks;
    if (!c || c->cap - c->used < n + 1) {
        size_t cap = n + 1 > CHUNK_MIN ? n + 1 : CHUNK_MIN;
        if (!(c = malloc(sizeof *c + cap))) return NULL;
        c->next = m->chunks;
        c->used = 0;
        c->cap = cap;
        m->chunks = c;
    }
    char *d = c->data + c->used;
    memcpy(d, s, n);
    d[n] = 0;
    c->used += n + 1;
    return d;
}

/* The table slot holding key, or the empty slot where it would go. */
static size_t slot(const tr_strmap *m, const void *key, size_t n, uint32_t h)
{
    size_t mask = m->tcap - 1, k = h & mask;
    for (; m->tab[k]; k = (k + 1) & mask) {
        const entry *e = &m->e[m->tab[k] - 1];
        if (e->hash == h && e->len == n && !memcmp(e->key, key, n)) break;
    }
    return k;
}

static int grow_table(tr_strmap *m)
{
    size_t cap = m->tcap ? m->tcap * 2 : 64;
    uint32_t *t = calloc(cap, sizeof *t);
    if (!t) return TRAIL_ENOMEM;
    for (size_t i = 0; i < m->ne; i++) {
        size_t k = m->e[i].hash & (cap - 1);
        while (t[k])
            k = (k + 1) & (cap - 1);
        t[k] = (uint32_t)i + 1;
    }
    free(m->tab);
    m->tab = t;
    m->tcap = cap;
    return 0;
}

long tr_strmap_find(const tr_strmap *m, const void *key, size_t n)
{
    if (!m || !m->ne || n > UINT32_MAX) return -1;
    size_t k = slot(m, key, n, (uint32_t)tr_hash64(key, n));
    return m->tab[k] ? (long)m->tab[k] - 1 : -1;
}

int tr_strmap_get(const tr_strmap *m, const void *key, size_t n, tr_mapval *out)
{
    long i = tr_strmap_find(m, key, n);
    if (i < 0) return 0;
    if (out) *out = m->e[i].v;
    return 1;
}

long tr_strmap_add(tr_strmap *m, const void *key, size_t n, tr_mapval v, int *added)
{
    if (added) *added = 0;
    if (n > UINT32_MAX || m->ne >= UINT32_MAX - 1) return TRAIL_ENOMEM;
    uint32_t h = (uint32_t)tr_hash64(key, n);
    if (m->tcap) {
        size_t k = slot(m, key, n, h);
        if (m->tab[k]) return (long)m->tab[k] - 1;
    }
    if ((m->ne + 1) * 2 > m->tcap && grow_table(m) != 0) return TRAIL_ENOMEM;
    if (m->ne == m->ecap) {
        size_t cap = m->ecap ? m->ecap * 2 : 64;
        entry *e = realloc(m->e, cap * sizeof *e);
        if (!e) return TRAIL_ENOMEM;
        m->e = e;
        m->ecap = cap;
    }
    const char *copy = tr_strmap_strdup(m, key, n);
    if (!copy) return TRAIL_ENOMEM;
    size_t k = slot(m, key, n, h);
    m->e[m->ne] = (entry){copy, (uint32_t)n, h, v};
    m->tab[k] = (uint32_t)++m->ne;
    if (added) *added = 1;
    return (long)m->ne - 1;
}

int tr_strmap_set(tr_strmap *m, const void *key, size_t n, tr_mapval v)
{
    int added;
    long i = tr_strmap_add(m, key, n, v, &added);
    if (i < 0) return (int)i;
    m->e[i].v = v;
    return 0;
}

const char *tr_strmap_key(const tr_strmap *m, size_t i, size_t *n)
{
    if (n) *n = m->e[i].len;
    return m->e[i].key;
}

tr_mapval *tr_strmap_val(tr_strmap *m, size_t i)
{
    return &m->e[i].v;
}
