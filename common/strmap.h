/* strmap.h - the one string map of trail: byte-string keys (copied) -> integer, pointer, string. */
#ifndef TR_STRMAP_H
#define TR_STRMAP_H

#include <stddef.h>
#include <stdint.h>

/* Open addressing over tr_hash64, grown by doubling, at most half full; entries are kept in
 * insertion order and numbered from 0, keys are copied NUL-terminated into chunks that never
 * move (a key pointer stays valid as long as the map). Sized for the agent's large indexes
 * (~150k dpkg paths). It allocates: not for the shim's hot paths. Not thread-safe. */
typedef union tr_mapval {
    int64_t i;
    void *p;
    const char *s;
} tr_mapval;

typedef struct tr_strmap tr_strmap;

/* NULL out of memory. */
tr_strmap *tr_strmap_new(void);
void tr_strmap_free(tr_strmap *m);
/* Removes every entry; keeps the table and one chunk of key memory for reuse. Keys and strings
 * from the map are invalid after. */
void tr_strmap_clear(tr_strmap *m);
size_t tr_strmap_size(const tr_strmap *m);

/* The index of key[0..n), or -1. */
long tr_strmap_find(const tr_strmap *m, const void *key, size_t n);
/* 1 and *out = its value when key[0..n) is present, else 0. out may be NULL. */
int tr_strmap_get(const tr_strmap *m, const void *key, size_t n, tr_mapval *out);
/* Adds key[0..n) -> v unless present (a present key keeps its value). Returns the entry's
 * index, *added (may be NULL) 1 when it is new; TRAIL_ENOMEM. */
long tr_strmap_add(tr_strmap *m, const void *key, size_t n, tr_mapval v, int *added);
/* Adds or replaces: 0 or TRAIL_ENOMEM. */
int tr_strmap_set(tr_strmap *m, const void *key, size_t n, tr_mapval v);

/* Entry i (0 <= i < size): its key (NUL-terminated), *n its length (n may be NULL). */
const char *tr_strmap_key(const tr_strmap *m, size_t i, size_t *n);
/* Entry i's value, writable in place. */
tr_mapval *tr_strmap_val(tr_strmap *m, size_t i);
/* A NUL-terminated copy of s[0..n) in the map's own memory, freed with the map (for string
 * values); NULL out of memory. */
const char *tr_strmap_strdup(tr_strmap *m, const char *s, size_t n);

#endif
