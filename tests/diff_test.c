/* diff_test.c - `trail diff`: pairs of runs that differ in exactly one thing, and the ranking. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <unistd.h>

#include "lineage_rec.h"
#include "tproc.h"

static char dir[256], db[320];
static tr_store *store;
static int nrun;

/* Adds one run; what selects its single difference from the baseline (0 = baseline). */
enum diff_what { BASE, PARAM, INPUT, ENV, DEP, SAME_BYTES, ALL3 };

static void add_run(char id[33], enum diff_what what)
{
    lr c;
    snprintf(id, 33, "%08x000000000000000000000000", ++nrun);
    lr_begin(&c, store, id, "h1");
    lr_start(&c, what == BASE ? "base" : "other", what == PARAM || what == ALL3 ? "2" : "1");
    lr_kv(&c, TR_REC_ENV, "HOME", "/home/u");
    lr_kv(&c, TR_REC_ENV, "OMP_NUM_THREADS", what == ENV || what == ALL3 ? "8" : "4");
    lr_kv(&c, TR_REC_DEP, what == DEP ? "/usr/lib/libtorch.so.2.1" : "/usr/lib/libtorch.so.2.0",
          "so");
    lr_kv(&c, TR_REC_DEP, "/lib/libc.so.6", "so");
    int changed = what == INPUT || what == SAME_BYTES || what == ALL3;
    lr_file(&c, "/d/train.csv", "input", 1, changed ? 2 : 1, 100, changed ? 9 : 5);
    lr_metric(&c, "acc", 0.9);
    lr_end(&c, 0);
    const char *hash = what == INPUT || what == ALL3 ? "bbbb" : "aaaa";
    char full[80];
    tr_fingerprint fp = {1, changed ? 2 : 1, 100, changed ? 9 : 5};
    tr_hash_target t;
    snprintf(full, sizeof full, "%s%060d", hash, 0);
    T_ASSERT_OK(tr_store_hash_target(store, "/d/train.csv", &fp, &t));
    T_OK(tr_store_set_content_hash(store, t.version, full));
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(text, f);
    return fclose(f);
}

static cJSON *diff(const char *a, const char *b)
{
    char *out = NULL, *err = NULL;
    int st = TPROC(&out, &err, (char *)tproc_bin("trail"), "diff", "--store", db, (char *)a,
                   (char *)b, "--json");
    cJSON *doc = cJSON_Parse(out);
    if (st != 0 || !doc) T_FAIL("trail diff exit %d: %s %s", st, out, err);
    free(out);
    free(err);
    return doc;
}

static const char *field(const cJSON *c, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, k));
}

/* The diff has exactly one change: section and name. */
static void one(enum diff_what what, const char *section, const char *name)
{
    char a[33], b[33];
    add_run(a, BASE);
    add_run(b, what);
    cJSON *doc = diff(a, b), *ch = cJSON_GetObjectItemCaseSensitive(doc, "changes");
    if (cJSON_GetArraySize(ch) != (section ? 1 : 0)) {
        char *s = cJSON_Print(ch);
        T_FAIL("diff for case %d: %s", (int)what, s);
        free(s);
    } else if (section) {
        T_EQ_STR(field(cJSON_GetArrayItem(ch, 0), "section"), section);
        T_EQ_STR(field(cJSON_GetArrayItem(ch, 0), "name"), name);
    }
    cJSON_Delete(doc);
}

static void test_param(void)
{
    one(PARAM, "params", "seed");
}

static void test_input_content(void)
{
    one(INPUT, "inputs", "/d/train.csv");
}

static void test_env(void)
{
    one(ENV, "env", "OMP_NUM_THREADS");
}

static void test_dependency(void)
{
    one(DEP, "deps", "libtorch");
}

/* New inode and mtime, identical bytes: the same input. */
static void test_same_bytes_is_no_change(void)
{
    one(SAME_BYTES, NULL, NULL);
}

/* Changed data ranks before params, params before the environment. */
static void test_ranking(void)
{
    char a[33], b[33];
    add_run(a, BASE);
    add_run(b, ALL3);
    cJSON *doc = diff(a, b), *ch = cJSON_GetObjectItemCaseSensitive(doc, "changes");
    T_EQ_INT(cJSON_GetArraySize(ch), 3);
    T_EQ_STR(field(cJSON_GetArrayItem(ch, 0), "section"), "inputs");
    T_EQ_STR(field(cJSON_GetArrayItem(ch, 1), "section"), "params");
    T_EQ_STR(field(cJSON_GetArrayItem(ch, 2), "section"), "env");
    cJSON_Delete(doc);
    char *out = NULL;
    int st = TPROC(&out, NULL, (char *)tproc_bin("trail"), "diff", "--store", db, a, b);
    T_EQ_INT(st, 0);
    T_CHECK(out && strstr(out, "inputs (1)") && strstr(out, "params (1)") &&
            strstr(out, "inputs (1)") < strstr(out, "params (1)"));
    free(out);
}

/* tr_store_diff_json folds changes of one kind by directory from TR_FOLD_MIN files: TR_FOLD_MIN
 * changed inputs of one directory are one change, one fewer in another stay single. */
static void test_folding(void)
{
    char a[33], b[33], *id[2] = {a, b}, p[64];
    for (int r = 0; r < 2; r++) {
        lr c;
        snprintf(id[r], 33, "%08x000000000000000000000000", ++nrun);
        lr_begin(&c, store, id[r], "h1");
        lr_start(&c, "fold", "1");
        for (int i = 0; i < 2 * TR_FOLD_MIN - 1; i++) {
            snprintf(p, sizeof p, i < TR_FOLD_MIN ? "/f/many/m%d" : "/f/few/f%d", i);
            lr_file(&c, p, "input", 1, (uint64_t)(5000 + 100 * r + i), 10, 5);
        }
        lr_end(&c, 0);
    }
    cJSON *doc = NULL;
    T_OK(tr_store_diff_json(store, id[0], id[1], 0, &doc));
    cJSON *ch = cJSON_GetObjectItemCaseSensitive(doc, "changes");
    T_EQ_INT(cJSON_GetArraySize(ch), TR_FOLD_MIN);
    int folded = 0, single = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, ch)
    {
        const char *name = field(c, "name");
        const cJSON *files = cJSON_GetObjectItemCaseSensitive(c, "files");
        T_EQ_STR(field(c, "kind"), "changed");
        if (files) {
            folded++;
            T_EQ_STR(name, "/f/many/");
            T_EQ_INT(cJSON_GetNumberValue(files), TR_FOLD_MIN);
            T_CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(c, "a")));
        } else {
            single++;
            T_CHECK(name && !strncmp(name, "/f/few/f", 8));
        }
    }
    T_EQ_INT(folded, 1);
    T_EQ_INT(single, TR_FOLD_MIN - 1);
    cJSON_Delete(doc);
    T_ERR(tr_store_diff_json(store, id[0], "ffffffff000000000000000000000000", 0, &doc),
          TRAIL_ENOTFOUND);
    T_CHECK(doc == NULL);
}

/* The real launcher: two runs of sdk_client reading a file whose content changed in between. */
static void test_end_to_end(void)
{
    char data[300], *out = NULL, *err = NULL;
    snprintf(data, sizeof data, "%s/in.csv", dir);
    const char *client = tproc_test_bin("sdk_client");
    setenv("TRAIL_STORE", db, 1);
    tr_store_close(store);
    store = NULL;
    T_ASSERT(write_file(data, "1,2\n") == 0);
    T_EQ_INT(TPROC(NULL, NULL, (char *)tproc_bin("trail"), "run", "--name", "e2e-a", "--param",
                   "lr=0.1", "--", (char *)client, "input", data),
             0);
    T_ASSERT(write_file(data, "1,3\n") == 0);
    T_EQ_INT(TPROC(NULL, NULL, (char *)tproc_bin("trail"), "run", "--name", "e2e-b", "--param",
                   "lr=0.2", "--", (char *)client, "input", data),
             0);
    int st = TPROC(&out, &err, (char *)tproc_bin("trail"), "diff", "e2e-a", "e2e-b", "--json");
    T_EQ_INT(st, 0);
    cJSON *doc = cJSON_Parse(out), *ch = cJSON_GetObjectItemCaseSensitive(doc, "changes");
    T_CHECK(cJSON_GetArraySize(ch) >= 2);
    T_EQ_STR(field(cJSON_GetArrayItem(ch, 0), "section"), "inputs");
    const char *name = field(cJSON_GetArrayItem(ch, 0), "name"); /* "host:/tmp/...": node-local */
    T_CHECK(name && strlen(name) >= strlen(data) &&
            !strcmp(name + strlen(name) - strlen(data), data));
    T_EQ_STR(field(cJSON_GetArrayItem(ch, 1), "section"), "params");
    for (int i = 2; i < cJSON_GetArraySize(ch); i++) /* nothing else but the command line */
        T_EQ_STR(field(cJSON_GetArrayItem(ch, i), "section"), "outputs");
    cJSON_Delete(doc);
    free(out);
    free(err);
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s", tproc_sandbox());
    snprintf(db, sizeof db, "%s/diff.db", dir);
    char err[512];
    T_ASSERT_OK(tr_store_open(db, TR_STORE_CREATE, &store, err, sizeof err));
    T_RUN(test_param);
    T_RUN(test_input_content);
    T_RUN(test_env);
    T_RUN(test_dependency);
    T_RUN(test_same_bytes_is_no_change);
    T_RUN(test_ranking);
    T_RUN(test_folding);
    T_RUN(test_end_to_end);
    tr_store_close(store);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (!tassert_failures && system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return T_DONE();
}
