/* ingest_fresh.c - the versions the last committed transaction added and nothing has hashed:
 * the embedded agent asks, right after a batch commits, which of its files the store knows
 * the hash of, and for these the answer is "none" without a look-up. */
#include <stdlib.h>
#include <string.h>

#include "lineage.h"
#include "record.h"
#include "store_int.h"
#include "strmap.h"
#include "trail.h"

struct tr_fresh {
    tr_strmap *cur;  /* added by the open transaction */
    tr_strmap *prev; /* added by the last committed one */
};

/* The key: the artifact key, NUL, then ino, size and mtime_ns (as LN_HASH_FIND matches: dev
 * ignored); 0 when it does not fit. */
static size_t fresh_key(char *k, size_t cap, const char *key, int64_t ino, int64_t size,
                        int64_t mtime)
{
    size_t n = strlen(key);
    if (n + 1 + 24 > cap) return 0;
    memcpy(k, key, n + 1);
    memcpy(k + n + 1, &ino, 8);
    memcpy(k + n + 9, &size, 8);
    memcpy(k + n + 17, &mtime, 8);
    return n + 25;
}

void tr_fresh_note(tr_store *s, const char *key, const tr_rec *rec)
{
    int64_t fp[3];
    if (tr_rec_get_i64(rec, TR_F_INO, &fp[0]) || tr_rec_get_i64(rec, TR_F_SIZE, &fp[1]) ||
        tr_rec_get_i64(rec, TR_F_MTIME_NS, &fp[2]))
        return; /* no fingerprint: no hash is asked for by one */
    tr_fresh_note_fp(s, key, fp);
}

void tr_fresh_note_fp(tr_store *s, const char *key, const int64_t fp[3])
{
    if (!s->fresh) {
        struct tr_fresh *f = calloc(1, sizeof *f);
        if (!f || !(f->cur = tr_strmap_new()) || !(f->prev = tr_strmap_new())) {
            if (f) tr_strmap_free(f->cur);
            free(f);
            return; /* only a look-up saved: nothing lost */
        }
        s->fresh = f;
    }
    char k[TR_LINEAGE_KEY_MAX + 32];
    size_t n = fresh_key(k, sizeof k, key, fp[0], fp[1], fp[2]);
    if (n) tr_strmap_add(s->fresh->cur, k, n, (tr_mapval){.i = 1}, NULL);
}

void tr_fresh_end(tr_store *s, int committed)
{
    struct tr_fresh *f = s->fresh;
    if (!f) return;
    if (committed) {
        tr_strmap *was = f->prev;
        f->prev = f->cur;
        f->cur = was;
    }
    tr_strmap_clear(f->cur);
}

void tr_fresh_free(tr_store *s)
{
    if (!s->fresh) return;
    tr_strmap_free(s->fresh->cur);
    tr_strmap_free(s->fresh->prev);
    free(s->fresh);
    s->fresh = NULL;
}

int tr_store_hash_known(tr_store *s, const char *key, const tr_fingerprint *fp)
{
    if (!s || !key || !fp) return 0;
    char k[TR_LINEAGE_KEY_MAX + 32];
    size_t n = fresh_key(k, sizeof k, key, (int64_t)fp->ino, fp->size, fp->mtime_ns);
    if (n && s->fresh && tr_strmap_get(s->fresh->prev, k, n, NULL)) return 0;
    tr_hash_target t;
    return tr_store_hash_target(s, key, fp, &t) == 0 && t.has_hash;
}
