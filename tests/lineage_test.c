/* lineage_test.c - store-level lineage from FILE/FILEOP records: versions, renames, hashes, walks.
 */
#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include "lineage_rec.h"
#include "tschema.h"
#include "tstore.h"

#define RP "11111111111111111111111111111111"
#define RT "22222222222222222222222222222222"
#define RE "33333333333333333333333333333333"
#define RX "44444444444444444444444444444444"
#define RY "55555555555555555555555555555555"

static char dir[64];

static tr_store *fresh(const char *name)
{
    char err[512];
    tr_store *s = NULL;
    const char *p = tstore_location(dir, name); /* a file, or a PostgreSQL database */
    T_ASSERT_OK(tr_store_open(p, TR_STORE_CREATE, &s, err, sizeof err));
    return s;
}

static int64_t ver(tr_store *s, const char *key, const char *spec)
{
    int64_t v = 0;
    char found[4608];
    if (tr_store_resolve_file(s, key, spec, &v, found, sizeof found) != 0) return 0;
    return v;
}

static const char *jstr(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static int count(const cJSON *doc, const char *kind)
{
    int n = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(doc, "nodes")) n +=
        !strcmp(jstr(x, "kind"), kind);
    return n;
}

/* 1 when the document has a node whose field equals value. */
static int has(const cJSON *doc, const char *field, const char *value)
{
    const cJSON *x;
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(
                              doc, "nodes")) if (jstr(x, field) &&
                                                 !strcmp(jstr(x, field), value)) return 1;
    return 0;
}

static cJSON *lineage_of(tr_store *s, const char *key, int dirs, int depth)
{
    cJSON *doc = NULL;
    int64_t v = ver(s, key, NULL);
    T_CHECK(v > 0);
    T_OK(tr_store_lineage_json(s, NULL, v, dirs, depth, &doc));
    return doc;
}

/* prepare -> train (reads on another host: other st_dev, NFS) -> evaluate. */
static void test_chain_across_hosts(void)
{
    tr_store *s = fresh("chain.db");
    lr p, t, e;
    lr_begin(&p, s, RP, "h1");
    lr_start(&p, "prepare", NULL);
    lr_file(&p, "/shared/data/labels.csv", "output", 1, 10, 100, 5);
    lr_end(&p, 0);
    lr_begin(&t, s, RT, "h2");
    lr_start(&t, "train", "1");
    lr_file(&t, "/shared/data/labels.csv", "input", 77, 10, 100, 5); /* dev differs */
    lr_file(&t, "/shared/model.pt", "output", 77, 11, 42, 6);
    lr_end(&t, 0);
    lr_begin(&e, s, RE, "h1");
    lr_start(&e, "evaluate", NULL);
    lr_file(&e, "/shared/model.pt", "input", 1, 11, 42, 6);
    lr_file(&e, "/shared/data/labels.csv", "input", 1, 10, 100, 5);
    lr_file(&e, "/shared/report.json", "output", 1, 12, 9, 7);
    lr_end(&e, 0);
    cJSON *doc = lineage_of(s, "/shared/report.json", TR_LINEAGE_UP, 0);
    T_EQ_INT(count(doc, "run"), 3);
    T_CHECK(has(doc, "name", "prepare") && has(doc, "name", "train") &&
            has(doc, "name", "evaluate"));
    T_CHECK(has(doc, "path", "/shared/model.pt") && has(doc, "path", "/shared/data/labels.csv"));
    cJSON_Delete(doc);
    /* Downstream of the labels: both readers, not the writer. */
    doc = lineage_of(s, "/shared/data/labels.csv", TR_LINEAGE_DOWN, 0);
    T_CHECK(has(doc, "name", "train") && has(doc, "name", "evaluate") &&
            !has(doc, "name", "prepare"));
    cJSON_Delete(doc);
    /* One version per file: the read on h2 matched the write on h1. */
    cJSON *f = NULL;
    T_OK(tr_store_file_json(s, "/shared/data/labels.csv", &f));
    T_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(f, "versions")), 1);
    cJSON_Delete(f);
    tr_store_close(s);
}

/* write tmp, rename into place (FILE before FILEOP, and FILEOP before FILE), read by another run.
 */
static void test_atomic_rename(void)
{
    for (int order = 0; order < 2; order++) {
        tr_store *s = fresh(order ? "rename2.db" : "rename1.db");
        lr t, e;
        lr_begin(&t, s, RT, "h1");
        lr_start(&t, "train", NULL);
        if (order == 0) {
            lr_file(&t, "/w/model.pt.tmp", "output", 1, 20, 64, 9);
            lr_op(&t, "rename", "/w/model.pt.tmp", "/w/model.pt", 0, 0, 0);
        } else { /* renamed while open: the FILE record (at close) comes after */
            t.t += 10;
            lr_op(&t, "rename", "/w/model.pt.tmp", "/w/model.pt", 0, 0, 0);
            t.t -= 2000; /* the open happened before the rename */
            lr_file(&t, "/w/model.pt.tmp", "output", 1, 20, 64, 9);
        }
        lr_end(&t, 0);
        lr_begin(&e, s, RE, "h1");
        lr_start(&e, "evaluate", NULL);
        lr_file(&e, "/w/model.pt", "input", 1, 20, 64, 9);
        lr_end(&e, 0);
        cJSON *doc = lineage_of(s, "/w/model.pt", TR_LINEAGE_UP, 0);
        T_CHECK(has(doc, "name", "train"));
        cJSON_Delete(doc);
        doc = NULL;
        T_OK(tr_store_run_json(s, RT, &doc));
        cJSON *outs = cJSON_GetObjectItemCaseSensitive(doc, "outputs");
        T_EQ_INT(cJSON_GetArraySize(outs), 1); /* the temporary is folded away */
        T_EQ_STR(jstr(cJSON_GetArrayItem(outs, 0), "path"), "/w/model.pt");
        T_EQ_INT(cJSON_GetNumberValue(
                     cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(outs, 0), "bytes")),
                 64);
        cJSON_Delete(doc);
        T_OK(tr_store_run_json_ex(s, RT, TR_RUN_ALL_FILES, &doc));
        outs = cJSON_GetObjectItemCaseSensitive(doc, "outputs");
        T_EQ_INT(cJSON_GetArraySize(outs), 2);
        T_CHECK(cJSON_IsTrue(
            cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(outs, 1), "temporary")));
        cJSON_Delete(doc);
        /* The renamed version remembers where it came from. */
        T_OK(tr_store_file_json(s, "/w/model.pt", &doc));
        cJSON *v0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "versions"), 0);
        T_EQ_STR(jstr(cJSON_GetObjectItemCaseSensitive(v0, "origin"), "kind"), "rename");
        cJSON_Delete(doc);
        /* The temporary's hash (its HASH record, as the agent sends it) reaches the renamed
         * version: the same bytes. */
        const char *h = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        T_EQ_INT(tr_store_hash_version(s, "/w/model.pt.tmp", &(tr_fingerprint){1, 20, 64, 9}, h),
                 0);
        T_OK(tr_store_file_json(s, "/w/model.pt", &doc));
        v0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "versions"), 0);
        T_EQ_STR(jstr(v0, "version"), h);
        cJSON_Delete(doc);
        tr_store_close(s);
    }
}

/* Rewritten in place: a new version each time, the old ones stay queryable. */
static void test_in_place_rewrite(void)
{
    tr_store *s = fresh("rewrite.db");
    lr a, b, r;
    lr_begin(&a, s, RX, "h1");
    lr_start(&a, "write-1", NULL);
    lr_file(&a, "/d/table.csv", "output", 1, 30, 100, 1);
    lr_end(&a, 0);
    lr_begin(&r, s, RE, "h1");
    lr_start(&r, "reader-of-v1", NULL);
    lr_file(&r, "/d/table.csv", "input", 1, 30, 100, 1);
    lr_end(&r, 0);
    lr_begin(&b, s, RY, "h1");
    lr_start(&b, "write-2", NULL);
    lr_file(&b, "/d/table.csv", "output", 1, 30, 120, 2); /* same inode, new size/mtime */
    lr_end(&b, 0);
    int64_t v1 = ver(s, "/d/table.csv", "v1"), v2 = ver(s, "/d/table.csv", "v2");
    T_CHECK(v1 > 0 && v2 > 0 && v1 != v2);
    T_EQ_INT(ver(s, "/d/table.csv", NULL), v2);
    cJSON *doc = NULL;
    T_OK(tr_store_lineage_json(s, NULL, v1, TR_LINEAGE_UP | TR_LINEAGE_DOWN, 0, &doc));
    T_CHECK(has(doc, "name", "write-1") && has(doc, "name", "reader-of-v1"));
    T_CHECK(!has(doc, "name", "write-2"));
    cJSON_Delete(doc);
    T_OK(tr_store_file_json(s, "/d/table.csv", &doc));
    cJSON *vers = cJSON_GetObjectItemCaseSensitive(doc, "versions");
    T_EQ_INT(cJSON_GetArraySize(vers), 2);
    cJSON *w = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(vers, 0), "read_by");
    T_EQ_STR(jstr(cJSON_GetArrayItem(w, 0), "name"), "reader-of-v1");
    cJSON_Delete(doc);
    tr_store_close(s);
}

/* Two runs write identical bytes: one hash; a copy nobody wrote links to the latest writer. */
static void test_identical_content(void)
{
    tr_store *s = fresh("hash.db");
    lr a, b, c;
    const char *h = "aaaabbbbccccddddaaaabbbbccccddddaaaabbbbccccddddaaaabbbbccccdddd";
    lr_begin(&a, s, RX, "h1");
    lr_start(&a, "first", NULL);
    lr_file(&a, "/o/out.bin", "output", 1, 40, 8, 1);
    lr_end(&a, 0);
    lr_begin(&b, s, RY, "h1");
    lr_start(&b, "second", NULL);
    lr_file(&b, "/o/out.bin", "output", 1, 41, 8, 2);
    lr_end(&b, 0);
    lr_begin(&c, s, RE, "h2");
    lr_start(&c, "reader", NULL);
    lr_file(&c, "/o/out.bin", "input", 9, 99, 8, 3); /* e.g. rsynced: new inode and mtime */
    lr_end(&c, 0);
    T_OK(tr_store_set_content_hash(s, ver(s, "/o/out.bin", "v1"), h));
    T_OK(tr_store_set_content_hash(s, ver(s, "/o/out.bin", "v3"), h));
    T_OK(tr_store_set_content_hash(s, ver(s, "/o/out.bin", "v2"), h));
    cJSON *doc = NULL;
    T_OK(tr_store_file_json(s, "/o/out.bin", &doc));
    cJSON *vers = cJSON_GetObjectItemCaseSensitive(doc, "versions");
    for (int i = 0; i < 3; i++)
        T_EQ_STR(jstr(cJSON_GetArrayItem(vers, i), "version"), h);
    cJSON *o = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(vers, 2), "origin");
    T_EQ_STR(jstr(o, "kind"), "hash");
    cJSON_Delete(doc);
    T_OK(tr_store_lineage_json(s, RE, 0, TR_LINEAGE_UP, 0, &doc));
    T_CHECK(has(doc, "name", "first") || has(doc, "name", "second"));
    cJSON_Delete(doc);
    tr_store_close(s);
}

/* A run that reads its own output, and writes then deletes scratch files. */
static void test_intra_run(void)
{
    tr_store *s = fresh("intra.db");
    lr r;
    lr_begin(&r, s, RX, "h1");
    lr_start(&r, "loop", NULL);
    lr_file(&r, "/w/cache.db", "output", 1, 50, 10, 1);
    lr_file(&r, "/w/cache.db", "input", 1, 50, 10, 1);
    lr_file(&r, "/w/scratch", "output", 1, 51, 10, 1);
    lr_op(&r, "unlink", "/w/scratch", NULL, 0, 0, 0);
    lr_end(&r, 0);
    cJSON *doc = NULL;
    T_OK(tr_store_lineage_json(s, RX, 0, TR_LINEAGE_UP, 0, &doc));
    T_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "edges")), 0);
    cJSON_Delete(doc);
    T_OK(tr_store_run_json(s, RX, &doc));
    T_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "inputs")), 0);
    T_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "outputs")), 1);
    cJSON_Delete(doc);
    tr_store_close(s);
}

/* A chain of 6 runs; --depth counts edges from the target. */
static void test_depth(void)
{
    tr_store *s = fresh("depth.db");
    for (int i = 0; i < 6; i++) {
        lr c;
        char run[33], in[32], out[32], name[16];
        snprintf(run, sizeof run, "%032x", 0xabc0 + i);
        snprintf(in, sizeof in, "/c/f%d", i);
        snprintf(out, sizeof out, "/c/f%d", i + 1);
        snprintf(name, sizeof name, "step%d", i);
        lr_begin(&c, s, run, "h1");
        lr_start(&c, name, NULL);
        if (i) lr_file(&c, in, "input", 1, (uint64_t)(60 + i), 1, i);
        lr_file(&c, out, "output", 1, (uint64_t)(61 + i), 1, i + 1);
        lr_end(&c, 0);
    }
    cJSON *doc = lineage_of(s, "/c/f6", TR_LINEAGE_UP, 0);
    T_EQ_INT(count(doc, "run"), 6);
    cJSON_Delete(doc);
    doc = lineage_of(s, "/c/f6", TR_LINEAGE_UP, 3); /* f6 <- step5 <- f5 <- step4 */
    T_EQ_INT(count(doc, "run"), 2);
    T_EQ_INT(count(doc, "file"), 2);
    cJSON_Delete(doc);
    doc = lineage_of(s, "/c/f1", TR_LINEAGE_DOWN, 2);
    T_EQ_INT(count(doc, "run"), 1);
    cJSON_Delete(doc);
    tr_store_close(s);
}

/* /tmp on two hosts is two files; the key names the host. */
static void test_node_local(void)
{
    tr_store *s = fresh("local.db");
    lr a, b;
    lr_begin(&a, s, RX, "node1");
    lr_start(&a, "a", NULL);
    lr_file(&a, "/tmp/x", "output", 1, 70, 1, 1);
    lr_end(&a, 0);
    lr_begin(&b, s, RY, "node2");
    lr_start(&b, "b", NULL);
    lr_file(&b, "/tmp/x", "input", 1, 70, 1, 1);
    lr_end(&b, 0);
    T_CHECK(ver(s, "node1:/tmp/x", NULL) > 0 && ver(s, "node2:/tmp/x", NULL) > 0);
    T_CHECK(ver(s, "node1:/tmp/x", NULL) != ver(s, "node2:/tmp/x", NULL));
    T_EQ_INT(ver(s, "/tmp/x", NULL), 0); /* recorded on two hosts: ambiguous */
    cJSON *doc = lineage_of(s, "node2:/tmp/x", TR_LINEAGE_UP, 0);
    T_EQ_INT(count(doc, "run"), 0);
    cJSON_Delete(doc);
    char key[256];
    T_OK(tr_store_artifact_key("/tmp/y", "n", key, sizeof key));
    T_EQ_STR(key, "n:/tmp/y");
    T_OK(tr_store_artifact_key("/data/y", "n", key, sizeof key));
    T_EQ_STR(key, "/data/y");
    tr_store_close(s);
}

/* The view the commands show: TR_FOLD_MIN files of one directory become one node (one fewer
 * stay), system files go; with files and all, every file stays. */
static void test_view(void)
{
    tr_store *s = fresh("view.db");
    lr w;
    char p[64], label[64];
    lr_begin(&w, s, RP, "h1");
    lr_start(&w, "writer", NULL);
    lr_file(&w, "/usr/lib/libx.so", "input", 1, 50, 10, 1);
    for (int i = 0; i < 2 * TR_FOLD_MIN - 1; i++) {
        snprintf(p, sizeof p, i < TR_FOLD_MIN ? "/g/many/m%d" : "/g/few/f%d", i);
        lr_file(&w, p, "output", 1, (uint64_t)(100 + i), 10, 1);
    }
    lr_end(&w, 0);
    tr_lineage_view_opts o = {0};
    cJSON *doc = NULL, *e;
    T_OK(tr_store_lineage_view(s, RP, 0, &o, &doc));
    snprintf(label, sizeof label, "/g/many/ (%d files)", TR_FOLD_MIN);
    T_CHECK(has(doc, "id", "dir:/g/many/") && has(doc, "label", label));
    T_CHECK(!has(doc, "path", "/g/many/m0") && has(doc, "path", "/g/few/f8"));
    T_CHECK(!has(doc, "path", "/usr/lib/libx.so"));
    T_EQ_INT(count(doc, "file"), TR_FOLD_MIN);
    int to_dir = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(doc, "edges")) to_dir +=
        jstr(e, "to") && !strcmp(jstr(e, "to"), "dir:/g/many/");
    T_EQ_INT(to_dir, 1); /* the writes of one directory: one edge */
    cJSON_Delete(doc);
    o.files = o.all = 1;
    T_OK(tr_store_lineage_view(s, RP, 0, &o, &doc));
    T_EQ_INT(count(doc, "file"), 2 * TR_FOLD_MIN);
    T_CHECK(has(doc, "path", "/usr/lib/libx.so") && has(doc, "path", "/g/many/m0"));
    cJSON_Delete(doc);
    tr_store_close(s);
}

/* A store written by schema v1 opens, migrates, and its files keep their events. */
static void test_migrate_v1(void)
{
    if (tstore_pg()) T_SKIP("a SQLite file of schema version 1");
    char p[256];
    snprintf(p, sizeof p, "%s/v1.db", dir);
    sqlite3 *db;
    T_ASSERT(sqlite3_open(p, &db) == SQLITE_OK);
    const char *v1 =
        "CREATE TABLE runs (id TEXT PRIMARY KEY, experiment TEXT, name TEXT, status TEXT NOT NULL"
        " DEFAULT 'running', exit_code INTEGER, signal INTEGER, argv TEXT, cwd TEXT, host TEXT,"
        " user TEXT, pid INTEGER, started_ns INTEGER, ended_ns INTEGER, utime_us INTEGER,"
        " stime_us INTEGER, maxrss_kb INTEGER, created_by TEXT);"
        "CREATE TABLE artifacts (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE);"
        "CREATE TABLE artifact_versions (id INTEGER PRIMARY KEY, artifact_id INTEGER NOT NULL,"
        " dev INTEGER, ino INTEGER, size INTEGER, mtime_ns INTEGER, content_hash TEXT,"
        " UNIQUE (artifact_id, dev, ino, size, mtime_ns));"
        "CREATE TABLE events (id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, pid INTEGER,"
        " version_id INTEGER NOT NULL, role TEXT NOT NULL, flags INTEGER, bytes_read INTEGER,"
        " bytes_written INTEGER, mmap INTEGER NOT NULL DEFAULT 0, start_ns INTEGER,"
        " end_ns INTEGER, source TEXT);"
        "CREATE INDEX events_run ON events(run_id, role);"
        "CREATE INDEX events_version ON events(version_id, role);"
        "CREATE TABLE file_ops (run_id TEXT NOT NULL, pid INTEGER, op TEXT NOT NULL, path TEXT,"
        " path2 TEXT, time_ns INTEGER);"
        "INSERT INTO runs (id, name) VALUES ('" RX "', 'old');"
        "INSERT INTO artifacts VALUES (1, '/old/file');"
        "INSERT INTO artifact_versions VALUES (1, 1, 1, 2, 3, 4, NULL);"
        "INSERT INTO events (run_id, version_id, role) VALUES ('" RX "', 1, 'output');"
        "PRAGMA application_id = 1953655857; PRAGMA user_version = 1;";
    T_ASSERT(sqlite3_exec(db, v1, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    tr_store *s = NULL;
    char err[512];
    /* Only the tables v2 touches exist: the migration must not need the others. */
    T_OK(tr_store_open(p, 0, &s, err, sizeof err));
    if (!s) {
        T_FAIL("%s", err);
        return;
    }
    T_EQ_INT(tr_store_schema_version(s), T_SCHEMA);
    cJSON *doc = lineage_of(s, "/old/file", TR_LINEAGE_UP, 0);
    T_CHECK(has(doc, "name", "old"));
    cJSON_Delete(doc);
    tr_store_close(s);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/trail-lineage-test-XXXXXX");
    T_ASSERT(mkdtemp(dir));
    T_RUN(test_chain_across_hosts);
    T_RUN(test_atomic_rename);
    T_RUN(test_in_place_rewrite);
    T_RUN(test_identical_content);
    T_RUN(test_intra_run);
    T_RUN(test_depth);
    T_RUN(test_node_local);
    T_RUN(test_migrate_v1);
    T_RUN(test_view);
    if (!tassert_failures) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    }
    return T_DONE();
}
