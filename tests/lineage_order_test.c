/* lineage_order_test.c - one run's segments ingested in every order give the same lineage: gcc's
 * temporaries, a temporary renamed into place, opens of killed processes settled by the agent. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "record.h"
#include "store.h"
#include "tassert.h"
#include "trail.h"

#define RUN "66666666666666666666666666666666"
#define T0 1795846439000000000LL
#define NSTREAM 8
#define NREC 8

/* Records of one stream (a process's segment), encoded. */
typedef struct seg {
    tr_stream st;
    uint8_t buf[NREC][1024];
    long len[NREC];
    int n;
} seg;

static seg segs[NSTREAM];
static tr_enc enc;

static tr_enc *rec(int sg, int type, int64_t t)
{
    seg *g = &segs[sg];
    T_ASSERT(g->n < NREC);
    tr_enc_init(&enc, g->buf[g->n], sizeof g->buf[0], (uint8_t)type, T0 + t);
    return &enc;
}

static void put(int sg)
{
    seg *g = &segs[sg];
    g->len[g->n] = tr_enc_finish(&enc);
    T_ASSERT(g->len[g->n] > 0);
    g->n++;
}

static void fp(tr_enc *e, uint64_t ino, int64_t size, int64_t mtime)
{
    tr_enc_u64(e, TR_F_DEV, 1);
    tr_enc_u64(e, TR_F_INO, ino);
    tr_enc_i64(e, TR_F_SIZE, size);
    tr_enc_i64(e, TR_F_MTIME_NS, mtime);
}

/* A FILE of stream sg: open at t0, close at t1. */
static void file(int sg, const char *path, const char *role, int64_t t0, int64_t t1, uint64_t ino,
                 int64_t size, int64_t mtime, int64_t seq, int64_t open_seq)
{
    tr_enc *e = rec(sg, TR_REC_FILE, t1);
    tr_enc_str(e, TR_F_PATH, path);
    tr_enc_str(e, TR_F_ROLE, role);
    tr_enc_i64(e, TR_F_START_NS, T0 + t0);
    tr_enc_i64(e, TR_F_END_NS, T0 + t1);
    tr_enc_u64(e, role[0] == 'i' ? TR_F_BYTES_READ : TR_F_BYTES_WRITTEN, (uint64_t)size);
    if (seq) tr_enc_i64(e, TR_F_SEQ, seq);
    if (open_seq) tr_enc_i64(e, TR_F_OPEN_SEQ, open_seq);
    tr_enc_str(e, TR_F_SOURCE, "shim");
    fp(e, ino, size, mtime);
    put(sg);
}

static void op(int sg, const char *name, const char *path, const char *path2, int64_t t,
               int64_t seq, uint64_t ino, int64_t size, int64_t mtime)
{
    tr_enc *e = rec(sg, TR_REC_FILEOP, t);
    tr_enc_str(e, TR_F_OP, name);
    tr_enc_str(e, TR_F_PATH, path);
    tr_enc_str(e, TR_F_PATH2, path2);
    tr_enc_i64(e, TR_F_SEQ, seq);
    if (ino) fp(e, ino, size, mtime);
    put(sg);
}

static void settle_for(int sg, const char *path, const char *role, int64_t pid, int64_t open_seq,
                       int64_t t0, int64_t t1, uint64_t ino, int64_t size, int64_t mtime)
{
    tr_enc *e = rec(sg, TR_REC_FILE_SETTLE, t1);
    tr_enc_str(e, TR_F_PATH, path);
    tr_enc_str(e, TR_F_ROLE, role);
    tr_enc_i64(e, TR_F_PID, pid);
    tr_enc_i64(e, TR_F_OPEN_SEQ, open_seq);
    tr_enc_i64(e, TR_F_START_NS, T0 + t0);
    tr_enc_i64(e, TR_F_END_NS, T0 + t1);
    tr_enc_str(e, TR_F_ENDED, "killed");
    tr_enc_u64(e, TR_F_BYTES_READ, 0);
    if (role[0] == 'o') tr_enc_u64(e, TR_F_BYTES_WRITTEN, (uint64_t)size);
    tr_enc_str(e, TR_F_SOURCE, "agent");
    fp(e, ino, size, mtime);
    put(sg);
}

static void stream(int sg, int64_t pid)
{
    seg *g = &segs[sg];
    memset(g, 0, sizeof *g);
    snprintf(g->st.id, sizeof g->st.id, "%08x%024x", sg + 1, 0xabc);
    snprintf(g->st.run_id, sizeof g->st.run_id, "%s", RUN);
    snprintf(g->st.host, sizeof g->st.host, "h1");
    g->st.pid = pid;
}

/* The run: launcher; gcc's driver, cc1 and as around /tmp/cc1.s (mkstemps makes it empty, cc1
 * rewrites it, as reads it, the driver unlinks it); two writers of /w/out.tmp, renamed to
 * /w/out; a log whose writer's close arrives after the agent settled it; an input of a killed
 * reader that only the agent knows. */
static void build(void)
{
    stream(0, 1); /* launcher */
    tr_enc *e = rec(0, TR_REC_RUN_START, 0);
    tr_enc_str(e, TR_F_RUN_ID, RUN);
    tr_enc_str(e, TR_F_NAME, "build");
    tr_enc_str(e, TR_F_HOST, "h1");
    put(0);
    e = rec(0, TR_REC_RUN_END, 100);
    tr_enc_str(e, TR_F_RUN_ID, RUN);
    tr_enc_i64(e, TR_F_EXIT_CODE, 0);
    put(0);
    stream(1, 10); /* gcc driver */
    file(1, "/tmp/cc1.s", "output", 10, 11, 5, 0, 100, 2, 1);
    op(1, "unlink", "/tmp/cc1.s", NULL, 60, 9, 0, 0, 0);
    file(1, "/w/app", "output", 70, 80, 9, 500, 300, 11, 10);
    stream(2, 11); /* cc1 */
    file(2, "/tmp/cc1.s", "output", 20, 30, 5, 100, 200, 2, 1);
    stream(3, 12); /* as */
    file(3, "/tmp/cc1.s", "input", 40, 45, 5, 100, 200, 2, 1);
    file(3, "/w/a.o", "output", 41, 50, 7, 50, 250, 4, 3);
    stream(4, 13); /* creates /w/out.tmp, later renames it into place */
    file(4, "/w/out.tmp", "output", 14, 15, 8, 0, 110, 2, 1);
    op(4, "rename", "/w/out.tmp", "/w/out", 90, 3, 8, 64, 220);
    stream(5, 14); /* fills /w/out.tmp */
    file(5, "/w/out.tmp", "output", 21, 31, 8, 64, 220, 2, 1);
    stream(6, 15); /* the log's writer: its close came after all */
    file(6, "/w/log.txt", "output", 22, 85, 10, 77, 240, 4, 3);
    stream(7, 2); /* the agent's enrichment stream */
    settle_for(7, "/w/log.txt", "output", 15, 3, 22, 95, 10, 77, 240);
    settle_for(7, "/w/data.bin", "input", 16, 1, 23, 96, 11, 774, 50);
}

static void strip_ids(cJSON *o)
{
    cJSON *c;
    cJSON_DeleteItemFromObjectCaseSensitive(o, "id");
    cJSON_DeleteItemFromObjectCaseSensitive(o, "version_id");
    cJSON_ArrayForEach(c, o) if (cJSON_IsObject(c) || cJSON_IsArray(c)) strip_ids(c);
}

static const char *const paths[] = {"h1:/tmp/cc1.s", "/w/app",     "/w/a.o",      "/w/out.tmp",
                                    "/w/out",        "/w/log.txt", "/w/data.bin", NULL};

/* The documents that must not depend on the order: the run (with its temporaries) and every
 * file, row ids left out. */
static char *documents(tr_store *s)
{
    cJSON *all = cJSON_CreateArray(), *doc = NULL;
    T_OK(tr_store_run_json_ex(s, RUN, TR_RUN_ALL_FILES, &doc));
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "duration_s");
    cJSON_AddItemToArray(all, doc);
    T_OK(tr_store_run_json(s, RUN, &doc));
    cJSON_AddItemToArray(all, cJSON_DetachItemFromObjectCaseSensitive(doc, "inputs"));
    cJSON_AddItemToArray(all, cJSON_DetachItemFromObjectCaseSensitive(doc, "outputs"));
    cJSON_Delete(doc);
    for (int i = 0; paths[i]; i++) {
        doc = NULL;
        T_OK(tr_store_file_json(s, paths[i], &doc));
        strip_ids(doc);
        cJSON_AddItemToArray(all, doc);
    }
    char *text = cJSON_PrintUnformatted(all);
    cJSON_Delete(all);
    return text;
}

static char dir[64];

static char *ingest_order(const int *order, int n, int k)
{
    char p[128], err[512];
    snprintf(p, sizeof p, "%s/o%d.db", dir, k);
    tr_store *s = NULL;
    T_ASSERT_OK(tr_store_open(p, TR_STORE_CREATE, &s, err, sizeof err));
    for (int i = 0; i < n; i++) {
        seg *g = &segs[order[i]];
        for (int r = 0; r < g->n; r++) {
            tr_rec rr;
            T_ASSERT(tr_rec_decode(g->buf[r], (size_t)g->len[r], &rr) == 0);
            int rc = tr_store_ingest(s, &g->st, (uint64_t)r, &rr);
            if (rc < 0) T_FAIL("ingest: %s", tr_store_errmsg(s));
        }
    }
    char *text = documents(s);
    tr_store_close(s);
    unlink(p);
    return text;
}

static const cJSON *by_path(const cJSON *arr, const char *path)
{
    const cJSON *x;
    cJSON_ArrayForEach(x, arr)
    {
        const char *p = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "path"));
        if (p && !strcmp(p, path)) return x;
    }
    return NULL;
}

/* What the run is, whatever the order. */
static void check_meaning(const char *text)
{
    cJSON *all = cJSON_Parse(text);
    T_ASSERT(all);
    const cJSON *in = cJSON_GetArrayItem(all, 1), *out = cJSON_GetArrayItem(all, 2);
    T_CHECK(by_path(out, "/w/app") && by_path(out, "/w/a.o") && by_path(out, "/w/out"));
    T_CHECK(by_path(out, "/w/log.txt"));
    T_CHECK(!by_path(out, "/tmp/cc1.s")); /* gcc's temporary: never an output */
    T_CHECK(!by_path(out, "/w/out.tmp"));
    T_EQ_INT(cJSON_GetArraySize(out), 4);
    T_CHECK(!by_path(in, "/tmp/cc1.s")); /* read by as after cc1 wrote it: internal */
    T_CHECK(by_path(in, "/w/data.bin")); /* the killed reader's input */
    T_EQ_INT(cJSON_GetArraySize(in), 1);
    const cJSON *log = by_path(out, "/w/log.txt");
    T_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(log, "bytes")), 77);
    /* /w/out holds the filled version, 64 bytes */
    const cJSON *f = cJSON_GetArrayItem(all, 3 + 4);
    const cJSON *v0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(f, "versions"), 0);
    T_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(f, "versions")), 1);
    T_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(v0, "size")), 64);
    cJSON_Delete(all);
}

static int next_perm(int *a, int n)
{
    int i = n - 2;
    while (i >= 0 && a[i] >= a[i + 1])
        i--;
    if (i < 0) return 0;
    int j = n - 1;
    while (a[j] <= a[i])
        j--;
    int t = a[i];
    a[i] = a[j];
    a[j] = t;
    for (int l = i + 1, r = n - 1; l < r; l++, r--) {
        t = a[l];
        a[l] = a[r];
        a[r] = t;
    }
    return 1;
}

/* Every order of the five gcc/rename segments; the launcher, the log writer and the agent's
 * stream put in at positions of a seeded generator. */
static void test_every_order(void)
{
    build();
    int perm[5] = {1, 2, 3, 4, 5}, k = 0;
    unsigned rng = 12345;
    char *first = NULL;
    do {
        int order[NSTREAM], n = 0;
        int extra[3] = {0, 6, 7};
        for (int i = 0; i < 5; i++)
            order[n++] = perm[i];
        for (int x = 0; x < 3; x++) { /* insert at a random position */
            rng = rng * 1103515245u + 12345u;
            int at = (int)((rng >> 16) % (unsigned)(n + 1));
            memmove(order + at + 1, order + at, (size_t)(n - at) * sizeof order[0]);
            order[at] = extra[x];
            n++;
        }
        char *text = ingest_order(order, n, k);
        if (!first) {
            first = text;
            check_meaning(first);
        } else {
            if (strcmp(first, text) != 0) {
                fprintf(stderr, "order %d:", k);
                for (int i = 0; i < n; i++)
                    fprintf(stderr, " %d", order[i]);
                fprintf(stderr, "\nfirst: %s\nthis:  %s\n", first, text);
                T_FAIL("the lineage depends on the ingest order");
                free(text);
                break;
            }
            free(text);
        }
        k++;
    } while (next_perm(perm, 5));
    T_EQ_INT(k, 120);
    free(first);
}

/* The reverse of the natural order and the natural order itself, with every stream permuted
 * as a whole (launcher and agent included): a few more shapes. */
static void test_reverse(void)
{
    build();
    int fwd[NSTREAM] = {0, 1, 2, 3, 4, 5, 6, 7}, rev[NSTREAM] = {7, 6, 5, 4, 3, 2, 1, 0};
    char *a = ingest_order(fwd, NSTREAM, 1000), *b = ingest_order(rev, NSTREAM, 1001);
    T_EQ_STR(a, b);
    check_meaning(a);
    free(a);
    free(b);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/trail-order-test-XXXXXX");
    T_ASSERT(mkdtemp(dir));
    T_RUN(test_every_order);
    T_RUN(test_reverse);
    rmdir(dir);
    return T_DONE();
}
