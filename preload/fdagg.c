/* fdagg.c - repeated read-only opens of one version of a file in one image: one description. */
/* A program that opens the same file again and again (a loop over a small data set, a config
 * re-read per request) would write a FILE_OPEN and a FILE per open. Here the first open and
 * close are recorded as usual and leave their key (path, flags, fingerprint) in a bucket; the
 * next read-only open of the same key starts an aggregate: one FILE_OPEN (so that a kill still
 * keeps it: the agent settles it, with its counter from the mapped file), every later open of it
 * joins without a record, and one FILE with OPENS and the bytes of them all is written at image
 * end or when the bucket is wanted by another file. A changed file (any of dev, inode, size,
 * mtime, ctime) is another key: its own record. Buckets are taken with a try-lock: an open in a
 * signal handler that finds it held is simply recorded on its own. */
#include <fcntl.h>
#include <string.h>

#include "fdslot.h"

enum { A_FREE = 0, A_RECENT = 1, A_ACTIVE = 2 };

typedef struct agg {
    uint16_t pathlen;
    int32_t flags;
    uint32_t users; /* open descriptions joined to it now */
    uint16_t bits;  /* B_MMAP of any of them */
    uint32_t gen;   /* fd_agg_gen when the version was last verified by fstat */
    int64_t opens, start_ns, last_ns, oseq, verified_ns;
    fingerprint fp;
    shim_ctr *c;
    char path[SHORT_PATH];
} agg;

static agg aggs[NAGG]; /* touched only where used */
static uint8_t state[NAGG];
static uint16_t by_path[NAGG]; /* path hash -> aggregate index + 1 */
uint32_t fd_agg_gen;

/* Eight bytes a step: this runs on every read-only open. */
static unsigned path_hash(const char *p, int len)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (uint64_t)len;
    int i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    uint64_t w = 0;
    memcpy(&w, p + i, (size_t)(len - i));
    h ^= w; /* then every bit into the low ones (MurmurHash3's finalizer): a tail byte moves */
    h = (h ^ (h >> 33)) * 0xff51afd7ed558ccdull;
    h = (h ^ (h >> 33)) * 0xc4ceb9fe1a85ec53ull;
    return (unsigned)(h ^ (h >> 33)) & (NAGG - 1);
}
static int lock;
#define ST(a) state[(a)-aggs]

static int try_lock(void)
{
    return !__atomic_exchange_n(&lock, 1, __ATOMIC_ACQUIRE);
}

static void unlock(void)
{
    __atomic_store_n(&lock, 0, __ATOMIC_RELEASE);
}

static int same_key(const agg *a, const slot *s);

static agg *way(const fingerprint *f, int w)
{
    uint64_t h = (f->ino * 0x9e3779b97f4a7c15ull) ^ f->dev;
    return &aggs[((h >> 32) & (NAGG - 1)) ^ (unsigned)w];
}

/* Two ways per key: the one holding it, else (take) one to take: free, recent, or an aggregate
 * with nothing open; else NULL. */
static agg *bucket(const slot *s, int take)
{
    agg *a = way(&s->fp, 0), *b = way(&s->fp, 1);
    if (ST(a) != A_FREE && same_key(a, s)) return a;
    if (ST(b) != A_FREE && same_key(b, s)) return b;
    if (!take) return NULL;
    if (ST(a) != A_ACTIVE) return a;
    if (ST(b) != A_ACTIVE) return b;
    if (__atomic_load_n(&a->users, __ATOMIC_ACQUIRE) == 0) return a;
    if (__atomic_load_n(&b->users, __ATOMIC_ACQUIRE) == 0) return b;
    return NULL;
}

static int same_key(const agg *a, const slot *s)
{
    return a->pathlen == s->pathlen && a->flags == s->flags && fp_same(&a->fp, &s->fp) &&
           a->fp.dev == s->fp.dev && a->fp.ctime_ns == s->fp.ctime_ns &&
           !memcmp(a->path, s->path, s->pathlen);
}

static int eligible(const slot *s)
{
    return s->longidx < 0 && (s->bits & B_OPENFP) && S_ISREG(s->fp.mode) &&
           !(s->flags & (O_CREAT | O_TRUNC | O_PATH)) && (s->flags & O_ACCMODE) == O_RDONLY;
}

/* The aggregate's FILE: an input of its version, the bytes of all its opens. */
static void flush(agg *a)
{
    slot t;
    memset(&t, 0, sizeof t);
    t.kind = SLOT_FILE;
    t.flags = a->flags;
    t.bits = (uint16_t)(B_OPENFP | a->bits);
    t.longidx = -1;
    t.pathlen = a->pathlen;
    t.start_ns = a->start_ns;
    t.oseq = a->oseq;
    t.fp = a->fp;
    memcpy(t.path, a->path, a->pathlen + 1u);
    uint64_t rd = __atomic_load_n(&a->c->rd, __ATOMIC_RELAXED);
    int64_t last = __atomic_load_n(&a->last_ns, __ATOMIC_RELAXED);
    fd_emit_file(&t, "input", &a->fp, rd, 0, last ? last : shim_now(), a->opens);
    a->c->oseq = 0; /* settled */
    a->c->rd = 0;
    ST(a) = A_RECENT;
    a->opens = 0;
}

int fd_agg_join(slot *s)
{
    if (!eligible(s)) return 0;
    agg *a = way(&s->fp, 0), *b = way(&s->fp, 1);
    if ((ST(a) == A_FREE && ST(b) == A_FREE) || !try_lock()) return 0;
    int joined = 0;
    a = bucket(s, 0);
    if (a && ST(a) == A_RECENT) { /* the second open: the aggregate's FILE_OPEN */
        int i = (int)(a - aggs);
        shim_ctr *c = shim_ctr_shared(NSLOTS + i);
        a->c = c ? c : shim_ctr_local(NSLOTS + i);
        a->c->rd = a->c->wr = 0;
        a->oseq = fd_emit_open(s, -1);
        a->start_ns = s->start_ns;
        a->last_ns = 0;
        a->opens = 0;
        a->users = 0;
        a->bits = 0;
        if (a->oseq) {
            a->c->start_ns = a->start_ns;
            __atomic_store_n(&a->c->oseq, a->oseq, __ATOMIC_RELEASE);
            ST(a) = A_ACTIVE;
        }
    }
    if (a && ST(a) == A_ACTIVE) {
        if (!(s->bits & B_KNOWN)) { /* fstat'd now: the version is known good for a while */
            a->verified_ns = s->start_ns;
            a->gen = __atomic_load_n(&fd_agg_gen, __ATOMIC_RELAXED);
            unsigned h = path_hash(s->path, s->pathlen), me = (unsigned)(a - aggs + 1);
            unsigned o = by_path[h]; /* two ways: the other one unless this one is free */
            if (o && o != me && state[o - 1] == A_ACTIVE && by_path[h ^ 1] != me) h ^= 1;
            by_path[h] = (uint16_t)me;
        }
        a->opens++;
        __atomic_add_fetch(&a->users, 1, __ATOMIC_ACQ_REL);
        s->agg = (int32_t)(a - aggs) + 1;
        s->c = a->c;
        s->oseq = 0;
        joined = 1;
    }
    unlock();
    return joined;
}

void fd_agg_leave(slot *s)
{
    agg *a = &aggs[s->agg - 1];
    if (s->bits & B_MMAP) __atomic_or_fetch(&a->bits, (uint16_t)B_MMAP, __ATOMIC_RELAXED);
    __atomic_store_n(&a->last_ns, s->start_ns, __ATOMIC_RELAXED);
    __atomic_sub_fetch(&a->users, 1, __ATOMIC_ACQ_REL);
    s->agg = 0;
}

/* A description recorded on its own was closed: its key takes its bucket, unless the bucket's
 * aggregate still has open descriptions. */
void fd_agg_closed(const slot *s)
{
    if (!eligible(s) || !try_lock()) return;
    agg *a = bucket(s, 1);
    if (a && !(ST(a) != A_FREE && same_key(a, s))) {
        if (ST(a) == A_ACTIVE) flush(a); /* nothing of it is open: its record now */
        ST(a) = A_RECENT;
        a->flags = s->flags;
        a->fp = s->fp;
        a->pathlen = s->pathlen;
        memcpy(a->path, s->path, s->pathlen + 1u);
    }
    unlock();
}

/* Image end (exit, exec): every aggregate's FILE; reset: forget them (exec). */
void fd_agg_flush_all(int reset)
{
    for (int spin = 0; !try_lock() && spin < 1000000; spin++) {
    }
    for (int i = 0; i < NAGG; i++) {
        if (state[i] == A_ACTIVE) flush(&aggs[i]);
        if (reset) state[i] = A_FREE;
    }
    unlock();
}

int fd_agg_known(const char *abs, int len, int flags, fingerprint *f)
{
    if (len >= SHORT_PATH || (flags & (O_CREAT | O_TRUNC | O_PATH))) return 0;
    unsigned h = path_hash(abs, len), i = by_path[h], j = by_path[h ^ 1];
    if ((!i || state[i - 1] != A_ACTIVE) && (!j || state[j - 1] != A_ACTIVE)) return 0;
    if (!try_lock()) return 0;
    int ok = 0;
    for (int w = 0; w < 2 && !ok; w++) {
        unsigned x = w ? j : i;
        const agg *a = x ? &aggs[x - 1] : NULL;
        ok = a && state[x - 1] == A_ACTIVE && a->pathlen == len && a->flags == flags &&
             a->gen == __atomic_load_n(&fd_agg_gen, __ATOMIC_RELAXED) &&
             !memcmp(a->path, abs, (size_t)len) && shim_now() - a->verified_ns < SHIM_AGG_TRUST_NS;
        if (ok) *f = a->fp;
    }
    unlock();
    return ok;
}

/* A forked child: the parent's aggregates are the parent's records. */
void fd_agg_after_fork(void)
{
    memset(state, 0, sizeof state);
    memset(by_path, 0, sizeof by_path);
    lock = 0;
}
