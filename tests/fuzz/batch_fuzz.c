/* batch_fuzz.c - fuzz target: wire batch parser, HMAC check, reply parser, and the ingest path. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch.h"
#include "record.h"
#include "store.h"
#include "trail.h"

#define KEY "fuzz-key" /* the seed corpus is macced with it */

static volatile uint64_t sink;
static uint64_t parsed, authentic, ingested, duplicates, replies;
static tr_store *store;
static char store_dir[4096], store_path[4200];

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "batch_fuzz: invariant broken: %s\n", #c);                             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void cleanup(void)
{
    char p[4300];
    tr_store_close(store);
    store = NULL;
    static const char *suffix[] = {"", "-wal", "-shm", "-journal"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s%s", store_path, suffix[i]);
        unlink(p);
    }
    rmdir(store_dir);
}

static tr_store *get_store(void)
{
    if (store) return store;
    const char *t = getenv("TMPDIR");
    snprintf(store_dir, sizeof store_dir, "%s/trail-bfuzz-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(store_dir)) abort();
    snprintf(store_path, sizeof store_path, "%s/fuzz.db", store_dir);
    char err[4400];
    if (tr_store_open(store_path, TR_STORE_CREATE, &store, err, sizeof err) != 0) {
        fprintf(stderr, "batch_fuzz: %s\n", err);
        abort();
    }
    atexit(cleanup);
    return store;
}

/* The records of a parsed batch: bounds, order, decodability; then traild's ingest path
 * (one transaction, rolled back so the store stays small). */
static void use_batch(const uint8_t *d, size_t n, const tr_batch *b)
{
    CHECK(b->hdr.nrec >= 1 && b->hdr.nrec <= TR_BATCH_MAX_RECORDS);
    CHECK(strlen(b->hdr.stream_id) == 32 && strlen(b->hdr.run_id) == 32);
    tr_stream st;
    memset(&st, 0, sizeof st);
    memcpy(st.id, b->hdr.stream_id, sizeof st.id);
    memcpy(st.run_id, b->hdr.run_id, sizeof st.run_id);
    snprintf(st.host, sizeof st.host, "%s", b->hdr.host);
    st.pid = b->hdr.pid;
    tr_store *s = get_store();
    CHECK(tr_store_begin(s) == 0);
    size_t pos = 0, len;
    uint64_t seq, prev = 0;
    const uint8_t *body;
    uint32_t count = 0;
    int failed = 0;
    static uint8_t stored[TR_BATCH_MAX_RECORDS];
    tr_rec rec;
    while (tr_batch_next(b, &pos, &seq, &body, &len)) {
        CHECK(body >= d && body + len <= d + n);
        CHECK(count == 0 || seq > prev);
        CHECK(tr_rec_decode(body, len, &rec) == 0);
        int64_t skipped = tr_store_skipped(s);
        int rc = failed ? -1 : tr_store_ingest(s, &st, seq, &rec);
        CHECK(rc <= 1);
        if (rc < 0) failed = 1;
        stored[count] = rc == 0 && tr_store_skipped(s) == skipped;
        ingested += rc == 0;
        duplicates += rc == 1;
        prev = seq;
        count++;
    }
    CHECK(count == b->hdr.nrec && pos == n);
    CHECK(prev == b->last_seq);
    /* the same batch again inside the transaction: what was stored is a duplicate now */
    pos = 0;
    count = 0;
    while (!failed && tr_batch_next(b, &pos, &seq, &body, &len)) {
        CHECK(tr_rec_decode(body, len, &rec) == 0);
        int rc = tr_store_ingest(s, &st, seq, &rec);
        if (rc < 0)
            failed = 1;
        else if (stored[count])
            CHECK(rc == 1);
        count++;
    }
    tr_store_rollback(s);
}

static void fuzz_one(const uint8_t *d, size_t n)
{
    tr_batch b;
    const char *why = NULL;
    tr_batch_limits lim = {TR_BATCH_MAX_BYTES, TR_BATCH_MAX_RECORDS};
    int st = tr_batch_parse(d, n, &lim, &b, &why);
    CHECK(st >= TR_BATCH_OK && st <= TR_BATCH_STATUS_MAX && why && *why);
    sink += strlen(tr_batch_status_name(st));
    if (tr_batch_verify((const uint8_t *)KEY, strlen(KEY), d, n, NULL, 0)) authentic++;
    if (st == TR_BATCH_OK) {
        parsed++;
        use_batch(d, n, &b);
    }
    tr_batch_reply r;
    if (tr_batch_reply_parse(d, n, &r) == 0) {
        replies++;
        CHECK(strlen(r.msg) <= TR_BATCH_MSG_MAX && n == TR_BATCH_REPLY_HDR + strlen(r.msg));
        uint8_t out[TR_BATCH_REPLY_HDR + TR_BATCH_MSG_MAX];
        size_t m = tr_batch_reply_encode(out, sizeof out, &r, NULL, 0, NULL);
        CHECK(m == n);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    fuzz_one(d, n);
    return 0;
}

#ifndef TRAIL_LIBFUZZER
#include "replay.h"

/* Replays every file in the corpus directories (or files) named on the command line. */
int main(int argc, char **argv)
{
    long files = 0, errors = fuzz_replay_all(argc, argv, &files);
    fprintf(stderr,
            "batch_fuzz: replayed %ld inputs, %ld errors; %llu batches parsed (%llu authentic), "
            "%llu records ingested, %llu duplicates, %llu replies\n",
            files, errors, (unsigned long long)parsed, (unsigned long long)authentic,
            (unsigned long long)ingested, (unsigned long long)duplicates,
            (unsigned long long)replies);
    /* the seed corpus holds valid batches: a replay that parses none is a broken setup */
    return files > 0 && errors == 0 && parsed > 0 && authentic > 0 ? 0 : 1;
}
#endif
