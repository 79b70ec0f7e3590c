/* client.c - per-process run context and segment writer, safe across threads, fork and signals. */
#include "client.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "drops.h"
#include "record.h"
#include "spool.h"
#include "trail.h"
#include "util.h"

/* Segments live in a small ring. The current one is published by index; a writer pins an
 * entry (writers++) and re-checks that it is still current before touching its mapping, so
 * a retired segment is unmapped only once nobody writes into it. Pin/re-check against
 * publish/scan is a store-load (Dekker) pattern, hence sequentially consistent atomics. A thread
 * pins one slot at a time, so a roll finds a free slot unless RING-1 threads sit preempted inside
 * appends to retired segments (8 slots were exhausted by 8 threads on 2 cores: records dropped with
 * TRAIL_ENOSPC). Untouched slots cost no memory. */
#define RING 64

/* A thread that keeps logging (tr_client_emit_hot: the SDK's metrics) while another thread logs
 * too gets a segment of its own after PRIV_AFTER records, so that threads share no cache line
 * when appending: 4 threads on one segment spent most of each call moving its tail, its slot's
 * writer count and its frames between cores. At most PRIV_MAX at once; the rest share. */
#define PRIV_AFTER 1024
#define PRIV_MAX 32
#define PRIV_FIRST_CAP (1u << 20)

typedef struct slot {
    int used;         /* holds a mapping (current or retired) */
    int priv;         /* the current segment of one thread: not retired by a roll */
    unsigned writers; /* threads inside tr_seg_append on this slot */
    char pad[64];     /* writers of different slots on different cache lines */
} slot;

static struct {
    char run_id[33];
    char dir[4096];
    uint32_t cap;      /* the largest segment (TRAIL_SEGMENT_SIZE, else TR_SEG_DEFAULT_CAP) */
    uint32_t next_cap; /* the next segment's size: TR_SEG_FIRST_CAP, doubling up to cap */
    int configured;
    slot ring[RING];
    int cur; /* index in ring, -1 when none */
    int lock;
    uint64_t dropped;
    uint64_t reported; /* of those, the number a DROPPED record already carries */
    int64_t failed_at; /* coarse monotonic second a new segment last failed, 0: none */
    int last_err;
    uint64_t budget;   /* TRAIL_SPOOL_BUDGET_MB in bytes, 0: none */
    int64_t budget_at; /* when the spool root was last measured (s) */
    int over, noted;
    unsigned epoch; /* moves on fork, shutdown and a new run: threads' own segments are gone */
    int nthreads;   /* threads that logged through tr_client_emit_hot */
    int npriv;      /* slots that are some thread's own segment */
    tr_slab slab;   /* the run's slab (first segments), kept across fork */
    int slab_state; /* 0 not looked for in this image, 1 mapped, -1 none */
} G = {.cur = -1};

/* The ring's segments, apart from the slots' flags: a scan of the ring (every roll, every fork)
 * then reads one page or two, not one per slot (a tr_seg holds a 4 KiB path: 64 slots were 64
 * pages faulted by every process, twice in a forked child). */
static tr_seg segs[RING];

/* A page the kernel zeroes in a forked child (MADV_WIPEONFORK): *fork_marker == 0 tells a
 * child, with no syscall, that the segments it sees belong to its parent. */
static volatile uint32_t *fork_marker;
static uint32_t fork_marker_fallback;
static pid_t marker_pid; /* used only when the kernel lacks MADV_WIPEONFORK */
static int wipe_ok;

/* initial-exec: a few bytes of static TLS, read without a __tls_get_addr call per record */
#define TLS __thread __attribute__((tls_model("initial-exec")))
static TLS int in_slow; /* a signal handler arriving inside the slow path drops its record */
/* This thread's own segment (tr_client_emit_hot): its slot while t_epoch is G.epoch. */
static TLS int t_slot = -1;
static TLS unsigned t_epoch;
static TLS uint32_t t_count, t_cap;
static TLS int t_seen;
static pthread_key_t t_key; /* its destructor gives up an exiting thread's segment */
static pthread_once_t t_once = PTHREAD_ONCE_INIT;
static int t_key_ok;

/* The slow path's lock: spins, then yields (more threads than cores: a holder making a
 * segment must get the CPU back). */
static void lock(void)
{
    for (unsigned spins = 0; __atomic_exchange_n(&G.lock, 1, __ATOMIC_ACQUIRE);)
        while (__atomic_load_n(&G.lock, __ATOMIC_RELAXED))
            if (++spins < 1024)
                __builtin_ia32_pause();
            else
                sched_yield();
}

static void unlock(void)
{
    __atomic_store_n(&G.lock, 0, __ATOMIC_RELEASE);
}

static void marker_init(void)
{
    if (fork_marker) return;
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED && madvise(p, 4096, MADV_WIPEONFORK) == 0) {
        wipe_ok = 1;
        fork_marker = p;
    } else {
        if (p != MAP_FAILED) munmap(p, 4096);
        fork_marker = &fork_marker_fallback;
        marker_pid = getpid();
    }
    *fork_marker = 1;
}

volatile uint32_t *tr_client_fork_word(void)
{
    marker_init();
    return wipe_ok ? fork_marker + 1 : NULL;
}

static int forked(void)
{
    if (!fork_marker) return 0;
    if (wipe_ok) return *fork_marker != 1;
    return getpid() != marker_pid;
}

/* In a forked child only the forking thread exists: drop the parent's mappings and locks. */
static void after_fork(void)
{
    uint32_t expect = 0;
    if (!wipe_ok) {
        if (getpid() == marker_pid) return;
        marker_pid = getpid();
    } else if (!__atomic_compare_exchange_n(fork_marker, &expect, 2, 0, __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE)) {
        while (*fork_marker != 1)
            __builtin_ia32_pause();
        return;
    }
    for (int i = 0; i < RING; i++) {
        if (G.ring[i].used) tr_seg_forget(&segs[i]);
        G.ring[i].used = 0;
        G.ring[i].priv = 0;
        G.ring[i].writers = 0;
    }
    G.epoch++;
    G.npriv = 0;
    G.nthreads = t_seen;
    G.cur = -1;
    G.lock = 0;
    G.next_cap = 0; /* the child starts with a small segment of its own */
    G.failed_at = 0;
    G.dropped = G.reported = 0; /* the parent reports its own */
    __atomic_store_n(fork_marker, 1, __ATOMIC_RELEASE);
}

int tr_env_disabled(void)
{
    const char *d = getenv("TRAIL_DISABLE");
    return d && (!strcmp(d, "1") || !strcasecmp(d, "true") || !strcasecmp(d, "yes"));
}

static void reap_retired(void)
{
    for (int i = 0; i < RING; i++) {
        slot *s = &G.ring[i];
        if (!s->used || s->priv || i == G.cur) continue;
        if (__atomic_load_n(&s->writers, __ATOMIC_SEQ_CST) == 0) {
            tr_seg_close(&segs[s - G.ring]);
            s->used = 0;
        }
    }
}

/* Bytes of segment files under root/<run>/ (the spool root of this run directory). */
static uint64_t spool_bytes(const char *root)
{
    uint64_t total = 0;
    DIR *d = opendir(root);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *rd = fd >= 0 ? fdopendir(fd) : NULL;
        struct dirent *f;
        struct stat st;
        while (rd && (f = readdir(rd)))
            if ((strstr(f->d_name, ".seg") || !strcmp(f->d_name, TR_SLAB_NAME)) &&
                fstatat(fd, f->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
                total += (uint64_t)st.st_blocks * 512;
        if (rd)
            closedir(rd);
        else if (fd >= 0)
            close(fd);
    }
    if (d) closedir(d);
    return total;
}

/* The size of the next segment: small first (most processes record a start and an end), twice
 * the last one after that, never above the configured maximum. */
static uint32_t next_cap(void)
{
    uint32_t max =
        G.cap >= TR_SEG_MIN_CAP && G.cap <= TR_SEG_MAX_CAP ? G.cap & ~7u : TR_SEG_DEFAULT_CAP;
    uint32_t c = G.next_cap ? G.next_cap : TR_SEG_FIRST_CAP;
    return c < max ? c : max;
}

/* A second count that never reads 0, from the vDSO clock: no system call. */
static int64_t coarse_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec + 1;
}

/* A DROPPED record for the records lost since the last one, into seg (lock held). It goes in
 * with tr_seg_append, into the segment's reserve when the rest is full. */
static void report_drops(tr_seg *seg)
{
    uint64_t n = __atomic_load_n(&G.dropped, __ATOMIC_RELAXED);
    if (n <= G.reported || !seg->base) return;
    uint8_t buf[128];
    tr_enc e;
    tr_enc_init(&e, buf, sizeof buf, TR_REC_DROPPED, tr_now_ns());
    tr_enc_i64(&e, TR_F_COUNT, (int64_t)(n - G.reported));
    tr_enc_i64(&e, TR_F_PID, (int64_t)getpid());
    tr_enc_i64(&e, TR_F_ERROR, G.last_err);
    long len = tr_enc_finish(&e);
    if (len > 0 && tr_seg_append(seg, buf, (size_t)len) == 0) G.reported = n;
}

/* Spool disk budget (lock held): a new segment is refused while the run's spool root holds
 * more than TRAIL_SPOOL_BUDGET_MB; records are then dropped and counted, never waited for.
 * An over-budget verdict is kept for a second (no directory walk per dropped record). The first
 * refusal leaves <root>/over-budget for the agent to report: nothing is printed to the program. */
static int over_budget(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    if (!G.budget) return 0;
    if (G.over && ts.tv_sec == G.budget_at) return 1; /* rolls under budget always measure */
    G.budget_at = ts.tv_sec;
    char root[4096], note[4200];
    snprintf(root, sizeof root, "%s", G.dir);
    char *slash = strrchr(root, '/');
    if (slash && slash != root) *slash = 0;
    G.over = spool_bytes(root) + next_cap() > G.budget;
    if (!G.over) G.noted = 0; /* a later exhaustion is reported again */
    if (G.over && !G.noted && snprintf(note, sizeof note, "%s/over-budget", root) > 0) {
        int fd = open(note, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0) {
            char line[128];
            int n = snprintf(line, sizeof line, "%d %llu\n", (int)getpid(),
                             (unsigned long long)(G.budget >> 20));
            if (write(fd, line, (size_t)n) == n) G.noted = 1;
            close(fd);
        }
    }
    return G.over;
}

/* Opens a new current segment (lock held). full_idx is the slot seen full, or -1. Returns 0
 * when it opened one, 1 when another thread already had, or a TRAIL_E* code.
 * After a failure (a full disk, the budget) the next attempt waits for the next second of the
 * coarse clock: records dropped meanwhile cost no system call (issue 10: a full spool disk
 * made every dropped metric pay ~12 of them, the program ran 2.8x slower). */
static int roll(int full_idx)
{
    if (__atomic_load_n(&G.cur, __ATOMIC_ACQUIRE) != full_idx) return 1; /* someone rolled */
    if (!G.configured) return TRAIL_ENORUN;
    reap_retired();
    int64_t now = coarse_sec();
    if (G.failed_at == now) return TRAIL_ENOSPC;
    int free_idx = -1;
    for (int i = 0; i < RING && free_idx < 0; i++)
        if (!G.ring[i].used) free_idx = i;
    if (free_idx < 0) return TRAIL_ENOSPC;
    uint32_t cap = next_cap();
    /* This image's first segment is a slot of the run's slab when there is one (no file, no
     * budget walk: the slab is allocated already); a later one, or none free, is a file. */
    int rc = TRAIL_ENOSPC, slotted = 0;
    if (!G.next_cap && G.slab_state == 0)
        G.slab_state = tr_slab_map(&G.slab, G.dir, G.run_id) == 0 ? 1 : -1;
    if (!G.next_cap && G.slab_state == 1)
        slotted = (rc = tr_seg_claim(&segs[free_idx], &G.slab, G.run_id)) == 0;
    if (!slotted)
        rc = over_budget() ? TRAIL_ENOSPC : tr_seg_create(&segs[free_idx], G.dir, G.run_id, cap);
    /* the directory is made (0700, with its parents) only when it is missing: four system
     * calls less for every process of a run whose directory exists */
    if (rc == TRAIL_EIO && errno == ENOENT)
        rc = tr_mkdir_p(G.dir, 0700) != 0 ? TRAIL_EIO
                                          : tr_seg_create(&segs[free_idx], G.dir, G.run_id, cap);
    if (rc) {
        G.failed_at = now;
        /* A sealed segment is finished for readers, who remove it: unmapped now, so that its
         * blocks are freed instead of held by a mapping of a deleted file. An open one keeps
         * its reserve for this process's end record. */
        if (full_idx >= 0 && __atomic_load_n(&segs[full_idx].sealed, __ATOMIC_RELAXED)) {
            __atomic_store_n(&G.cur, -1, __ATOMIC_SEQ_CST);
            reap_retired();
        }
        return rc;
    }
    G.failed_at = 0;
    G.next_cap = slotted ? cap : cap <= TR_SEG_MAX_CAP / 2 ? cap * 2 : cap;
    report_drops(&segs[free_idx]); /* what was lost before this segment, first */
    /* writers is not reset: a thread that loaded a stale G.cur may be between its pin and
     * its re-check on this slot, and its unpin must not wrap the count */
    G.ring[free_idx].used = 1;
    __atomic_store_n(&G.cur, free_idx, __ATOMIC_SEQ_CST);
    if (full_idx >= 0) {
        /* the old segment ends here (after the frames already reserved in it) and is unmapped
         * as soon as no thread is inside it: readers finish and remove it */
        tr_seg_seal(&segs[full_idx]);
        reap_retired();
    }
    return 0;
}

static int slow_path(int seen)
{
    if (in_slow) return TRAIL_EAGAIN;
    in_slow = 1;
    lock();
    int rc = roll(seen);
    unlock();
    in_slow = 0;
    return rc;
}

/* Records that must never be lost for lack of room: they may use a segment's reserve. */
static int reserved_type(const void *body, size_t len)
{
    if (len < TR_REC_HDR_SIZE) return 0;
    uint8_t t = ((const uint8_t *)body)[1];
    return t == TR_REC_RUN_START || t == TR_REC_RUN_END || t == TR_REC_PROC_START ||
           t == TR_REC_PROC_END || t == TR_REC_DROPPED;
}

int tr_client_emit(const void *body, size_t len)
{
    int saved = errno;
    int rc, prio = reserved_type(body, len);
    if (forked()) after_fork();
    /* An attempt is spent only when this thread opened a segment itself and still lost it;
     * when another thread rolled first it made progress, so retry (within a hard bound):
     * with small segments and more threads than cores, 4 plain attempts dropped records. */
    for (int attempt = 0, tries = 0; attempt < 4 && tries < 1024; tries++) {
        int idx = __atomic_load_n(&G.cur, __ATOMIC_ACQUIRE);
        if (idx < 0) {
            rc = slow_path(-1);
            if (rc < 0) goto out;
            attempt += rc == 0;
            continue;
        }
        slot *s = &G.ring[idx];
        __atomic_add_fetch(&s->writers, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&G.cur, __ATOMIC_SEQ_CST) != idx) {
            __atomic_sub_fetch(&s->writers, 1, __ATOMIC_RELEASE);
            continue;
        }
        rc = prio ? tr_seg_append(&segs[s - G.ring], body, len)
                  : tr_seg_append_soft(&segs[s - G.ring], body, len);
        int slotted = segs[s - G.ring].in_slab;
        __atomic_sub_fetch(&s->writers, 1, __ATOMIC_RELEASE);
        /* a start record larger than a slab slot goes to the file segment that follows it */
        if (rc != TRAIL_ENOSPC && !(rc == TRAIL_ETOOBIG && slotted)) goto out;
        rc = slow_path(idx);
        if (rc < 0) goto out;
        attempt += rc == 0;
    }
    rc = TRAIL_EAGAIN;
out:
    if (rc) {
        __atomic_add_fetch(&G.dropped, 1, __ATOMIC_RELAXED);
        G.last_err = rc;
    }
    errno = saved;
    return rc;
}

/* Every thread's own segment is given up (lock held): sealed, and unmapped once idle; the
 * epoch moves so that each thread finds out at its next record. */
static void release_private(void)
{
    __atomic_add_fetch(&G.epoch, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < RING; i++)
        if (G.ring[i].priv) {
            tr_seg_seal(&segs[i]);
            G.ring[i].priv = 0;
        }
    G.npriv = 0;
}

/* An exiting thread's segment is finished: readers complete it. */
static void thread_gone(void *arg)
{
    (void)arg;
    if (t_slot < 0 || in_slow) return;
    in_slow = 1;
    lock();
    if (t_epoch == G.epoch && G.ring[t_slot].priv) {
        tr_seg_seal(&segs[t_slot]);
        G.ring[t_slot].priv = 0;
        G.npriv--;
        reap_retired();
    }
    t_slot = -1;
    unlock();
    in_slow = 0;
}

static void key_init(void)
{
    t_key_ok = pthread_key_create(&t_key, thread_gone) == 0;
}

/* Gives up this thread's full segment old, if still its own (lock held). */
static void drop_private(int old)
{
    if (old < 0 || t_epoch != G.epoch || !G.ring[old].priv) return;
    tr_seg_seal(&segs[old]); /* it ends after its frames: readers finish it */
    G.ring[old].priv = 0;
    G.npriv--;
}

/* Whether this thread may have a segment of its own now (lock held): room in the ring (a
 * quarter of it stays for the shared segment's rolls), under PRIV_MAX, not just failed, within
 * the budget. Its size in *cap. */
static int private_allowed(int old, uint32_t *cap)
{
    int nfree = 0;
    reap_retired();
    for (int i = 0; i < RING; i++)
        nfree += !G.ring[i].used;
    if (!G.configured || !t_key_ok || nfree <= RING / 4) return 0;
    if (old >= 0 ? t_epoch != G.epoch || !G.ring[old].priv : G.npriv >= PRIV_MAX) return 0;
    if (G.failed_at == coarse_sec() || over_budget()) return 0;
    uint32_t max =
        G.cap >= TR_SEG_MIN_CAP && G.cap <= TR_SEG_MAX_CAP ? G.cap & ~7u : TR_SEG_DEFAULT_CAP;
    *cap = t_cap ? t_cap : PRIV_FIRST_CAP;
    if (*cap > max) *cap = max;
    return 1;
}

/* A segment of this thread's own, replacing old (its full one) or the first (old -1). The file
 * is made outside the lock (a large one is written full of zeros: milliseconds during which
 * other threads must be able to roll). 0 when the thread has one, 1 when it shares (no room,
 * or the run changed meanwhile), TRAIL_E* when making it failed (the thread then shares). */
static int private_slow(int old)
{
    if (in_slow) return TRAIL_EAGAIN;
    pthread_once(&t_once, key_init);
    in_slow = 1;
    lock();
    uint32_t cap = 0;
    unsigned epoch = G.epoch;
    char dir[sizeof G.dir], run[sizeof G.run_id];
    int rc = 1, ok = private_allowed(old, &cap);
    memcpy(dir, G.dir, sizeof dir);
    memcpy(run, G.run_id, sizeof run);
    unlock();
    tr_seg seg;
    if (ok) rc = tr_seg_create(&seg, dir, run, cap);
    lock();
    int free_idx = -1;
    for (int i = 0; i < RING && free_idx < 0; i++)
        if (!G.ring[i].used) free_idx = i;
    if (ok && rc == 0 && (G.epoch != epoch || free_idx < 0)) { /* the run changed, or no room */
        tr_seg_close(&seg);
        rc = 1;
    } else if (ok && rc == 0) {
        segs[free_idx] = seg;
        G.failed_at = 0;
        t_cap = cap <= TR_SEG_MAX_CAP / 2 ? cap * 2 : cap;
        report_drops(&segs[free_idx]);
        G.ring[free_idx].used = 1;
        G.ring[free_idx].priv = 1;
        G.npriv++;
        pthread_setspecific(t_key, (void *)1);
    } else if (ok) {
        G.failed_at = coarse_sec();
    }
    drop_private(old);
    t_slot = rc ? -1 : free_idx;
    t_epoch = G.epoch;
    reap_retired();
    unlock();
    in_slow = 0;
    return rc;
}

int tr_client_emit_hot(const void *body, size_t len)
{
    if (forked()) after_fork();
    for (int tries = 0; t_slot >= 0 && tries < 2; tries++) {
        int idx = t_slot;
        slot *s = &G.ring[idx];
        /* pinned, then the epoch re-checked: a shutdown unmaps only slots nobody pins */
        __atomic_add_fetch(&s->writers, 1, __ATOMIC_SEQ_CST);
        if (t_epoch != __atomic_load_n(&G.epoch, __ATOMIC_SEQ_CST)) {
            __atomic_sub_fetch(&s->writers, 1, __ATOMIC_RELEASE);
            t_slot = -1;
            break;
        }
        int rc = tr_seg_append_soft(&segs[s - G.ring], body, len);
        __atomic_sub_fetch(&s->writers, 1, __ATOMIC_RELEASE);
        if (rc != TRAIL_ENOSPC) {
            if (rc) {
                __atomic_add_fetch(&G.dropped, 1, __ATOMIC_RELAXED);
                G.last_err = rc;
            }
            return rc;
        }
        int saved = errno;
        rc = private_slow(idx); /* full: the next one (else the shared segment) */
        errno = saved;
        if (rc == TRAIL_EAGAIN) {
            __atomic_add_fetch(&G.dropped, 1, __ATOMIC_RELAXED);
            return rc;
        }
    }
    if (!t_seen) {
        t_seen = 1;
        __atomic_add_fetch(&G.nthreads, 1, __ATOMIC_RELAXED);
    }
    int rc = tr_client_emit(body, len);
    if (rc == 0 && ++t_count >= PRIV_AFTER && __atomic_load_n(&G.nthreads, __ATOMIC_RELAXED) > 1) {
        t_count = 0;
        int saved = errno;
        private_slow(-1);
        errno = saved;
    }
    return rc;
}

/* The run changes (lock held): its slab is unmapped unless a slot of it is still mapped in the
 * ring (a thread may be inside an append there: the mapping is then left, never reused). */
static void forget_slab(void)
{
    int busy = 0;
    for (int i = 0; i < RING; i++)
        busy |= G.ring[i].used && segs[i].in_slab;
    if (!busy) tr_slab_unmap(&G.slab);
    memset(&G.slab, 0, sizeof G.slab);
    G.slab_state = 0;
}

int tr_client_configure(const char *run_id, const char *spool_dir)
{
    if (!run_id || !tr_is_hex_id(run_id) || !spool_dir || !*spool_dir) return TRAIL_EINVAL;
    if (strlen(spool_dir) >= sizeof G.dir) return TRAIL_ETOOBIG;
    marker_init();
    if (forked()) after_fork();
    in_slow = 1;
    lock();
    if (G.configured && (strcmp(G.run_id, run_id) != 0 || strcmp(G.dir, spool_dir) != 0)) {
        __atomic_store_n(&G.cur, -1, __ATOMIC_SEQ_CST);
        release_private();
        reap_retired();
        G.next_cap = 0;
        G.failed_at = 0;
        forget_slab();
    }
    memcpy(G.run_id, run_id, TR_ID_LEN + 1);
    strcpy(G.dir, spool_dir);
    const char *cap = getenv("TRAIL_SEGMENT_SIZE");
    G.cap = cap ? (uint32_t)strtoul(cap, NULL, 10) : TR_SEG_DEFAULT_CAP;
    const char *budget = getenv("TRAIL_SPOOL_BUDGET_MB");
    G.budget = budget ? (uint64_t)strtoull(budget, NULL, 10) << 20 : 0;
    G.configured = 1;
    unlock();
    in_slow = 0;
    return 0;
}

int tr_client_from_env(void)
{
    if (tr_env_disabled()) return TRAIL_EDISABLED;
    const char *run = getenv("TRAIL_RUN_ID");
    const char *dir = getenv("TRAIL_SPOOL");
    if (!run || !dir || !*dir) return 0;
    int rc = tr_client_configure(run, dir);
    return rc ? rc : 1;
}

int tr_client_prepare(void)
{
    if (forked()) after_fork();
    if (in_slow) return TRAIL_EAGAIN;
    in_slow = 1;
    lock();
    int rc = G.cur >= 0 ? 0 : roll(-1);
    unlock();
    in_slow = 0;
    return rc < 0 ? rc : 0;
}

int tr_client_flush(void)
{
    if (forked()) after_fork();
    int idx = __atomic_load_n(&G.cur, __ATOMIC_ACQUIRE);
    if (idx < 0 && !__atomic_load_n(&G.npriv, __ATOMIC_RELAXED))
        return G.configured ? 0 : TRAIL_ENORUN;
    if (in_slow) return TRAIL_EAGAIN;
    /* the shared segment and every thread's own: mapped while the lock is held */
    in_slow = 1;
    lock();
    int rc = 0;
    for (int i = 0; i < RING; i++) {
        slot *s = &G.ring[i];
        if (!s->used || (i != G.cur && !s->priv)) continue;
        int r = tr_seg_sync(&segs[s - G.ring]);
        if (r && !rc) rc = r;
    }
    unlock();
    in_slow = 0;
    return rc;
}

void tr_client_shutdown(void)
{
    if (!fork_marker) return;
    if (forked()) after_fork();
    if (in_slow) return;
    in_slow = 1;
    lock();
    /* records lost (spool full) are counted in a DROPPED record: into the current segment's
     * reserve, else into a new segment when one can be made now */
    if (G.dropped > G.reported && G.configured) {
        if (G.cur < 0) {
            G.failed_at = 0;
            roll(-1);
        }
        if (G.cur >= 0)
            report_drops(&segs[G.cur]);
        else if (tr_drops_add(G.dir, G.dropped - G.reported) == 0) /* no segment at all */
            G.reported = G.dropped;
    }
    __atomic_store_n(&G.cur, -1, __ATOMIC_SEQ_CST);
    release_private();
    for (int i = 0; i < RING; i++) {
        slot *s = &G.ring[i];
        if (!s->used) continue;
        /* mark closed even while a late writer is inside: it finishes its copy into the
         * still-mapped pages only if we keep them; unmap only when idle */
        if (__atomic_load_n(&s->writers, __ATOMIC_SEQ_CST) == 0) {
            tr_seg_close(&segs[s - G.ring]);
            s->used = 0;
        }
    }
    unlock();
    in_slow = 0;
}

void tr_client_reset(void)
{
    tr_client_shutdown();
    lock();
    G.configured = 0;
    G.run_id[0] = 0;
    G.next_cap = 0;
    G.failed_at = 0;
    forget_slab();
    unlock();
}

const char *tr_client_run_id(void)
{
    return G.configured ? G.run_id : NULL;
}

const char *tr_client_spool_dir(void)
{
    return G.configured ? G.dir : NULL;
}

uint64_t tr_client_dropped(void)
{
    return __atomic_load_n(&G.dropped, __ATOMIC_RELAXED);
}

int tr_client_last_error(void)
{
    return G.last_err;
}
