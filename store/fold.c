/* fold.c - the one rule for folding many files of one directory into one entry (lineage, diff,
 * `trail show`). */
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "trail.h"

/* Entries ordered by kind, directory, then position: a group is a run of equal neighbours. */
typedef struct fold_key {
    const char *kind;
    char *dir;
    int i;
} fold_key;

static int cmp_str(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "");
}

static int cmp_key(const void *pa, const void *pb)
{
    const fold_key *a = pa, *b = pb;
    int c = cmp_str(a->kind, b->kind);
    if (!c) c = strcmp(a->dir, b->dir);
    return c ? c : (a->i > b->i) - (a->i < b->i);
}

void tr_fold_free(tr_fold *f)
{
    if (!f) return;
    for (int g = 0; f->dir && g < f->ngroups; g++)
        free(f->dir[g]);
    free(f->dir);
    free(f->group);
    free(f->count);
    free(f->first);
    memset(f, 0, sizeof *f);
}

int tr_fold_plan(tr_fold *f, int n, const char *const *names, const char *const *kinds)
{
    memset(f, 0, sizeof *f);
    if (n <= 0) return 0;
    fold_key *keys = calloc((size_t)n, sizeof *keys);
    f->n = n;
    f->group = malloc((size_t)n * sizeof *f->group);
    f->count = calloc((size_t)n, sizeof *f->count);
    f->first = calloc((size_t)n, sizeof *f->first);
    f->dir = calloc((size_t)n, sizeof *f->dir);
    int m = 0, rc = 0;
    if (!keys || !f->group || !f->count || !f->first || !f->dir) rc = TRAIL_ENOMEM;
    for (int i = 0; i < n && !rc; i++) {
        f->group[i] = -1;
        const char *slash = names[i] ? strrchr(names[i], '/') : NULL;
        if (!slash) continue;
        keys[m].dir = strndup(names[i], (size_t)(slash - names[i]));
        keys[m].kind = kinds ? kinds[i] : NULL;
        keys[m].i = i;
        if (!keys[m++].dir) rc = TRAIL_ENOMEM;
    }
    if (!rc) qsort(keys, (size_t)m, sizeof *keys, cmp_key);
    for (int k = 0; k < m && !rc; k++) {
        int same = k > 0 && !cmp_str(keys[k].kind, keys[k - 1].kind) &&
                   !strcmp(keys[k].dir, f->dir[f->ngroups - 1]);
        if (!same) { /* a new group: it keeps the directory string */
            f->first[f->ngroups] = keys[k].i;
            f->dir[f->ngroups++] = keys[k].dir;
            keys[k].dir = NULL;
        }
        f->group[keys[k].i] = f->ngroups - 1;
        f->count[f->ngroups - 1]++;
    }
    for (int k = 0; keys && k < m; k++)
        free(keys[k].dir);
    free(keys);
    if (rc) tr_fold_free(f);
    return rc;
}

int tr_fold_at(const tr_fold *f, int i)
{
    if (!f->group || i < 0 || i >= f->n || f->group[i] < 0) return -1;
    return f->count[f->group[i]] >= TR_FOLD_MIN ? f->group[i] : -1;
}
