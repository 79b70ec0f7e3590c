/* where_test.c - the --where filter language: valid queries against a store, errors with columns.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <unistd.h>

#include "lineage_rec.h"
#include "where.h"

static tr_store *store;

static void build(const char *dir)
{
    char p[256], err[512];
    snprintf(p, sizeof p, "%s/where.db", dir);
    T_ASSERT_OK(tr_store_open(p, TR_STORE_CREATE, &store, err, sizeof err));
    static const struct {
        const char *id, *name, *lr, *in, *out;
        double loss;
        int code;
    } runs[] = {
        {"aaaa0000000000000000000000000000", "a", "0.01", "/w/data/train.csv", "/w/m.pt", 0.1, 0},
        {"bbbb0000000000000000000000000000", "b", "0.1", "/w/data/test.csv", "/w/m.onnx", 0.3, 0},
        {"cccc0000000000000000000000000000", "c", "0.01", NULL, NULL, 0.15, 1},
    };
    for (int i = 0; i < 3; i++) {
        lr c;
        lr_begin(&c, store, runs[i].id, "h1");
        lr_start(&c, runs[i].name, NULL);
        lr_kv(&c, TR_REC_PARAM, "lr", runs[i].lr);
        lr_kv(&c, TR_REC_PARAM, "epochs", i == 1 ? "10" : "5");
        lr_kv(&c, TR_REC_TAG, "team", i ? "vision" : "nlp");
        lr_metric(&c, "loss", runs[i].loss + 1); /* an earlier step: not the last value */
        lr_metric(&c, "loss", runs[i].loss);
        if (runs[i].in) lr_file(&c, runs[i].in, "input", 1, (uint64_t)(10 + i), 5, 1);
        if (runs[i].out) lr_file(&c, runs[i].out, "output", 1, (uint64_t)(20 + i), 5, 1);
        lr_end(&c, runs[i].code);
    }
}

/* The names of the runs expr selects, sorted and joined: "a,c". */
static const char *names(const char *expr)
{
    static char out[64];
    tr_where *w = NULL;
    tr_where_error err;
    out[0] = 0;
    if (tr_where_compile(expr, &w, &err) != 0) {
        T_FAIL("'%s': %s at %d", expr, err.msg, err.column);
        return "error";
    }
    tr_runs_filter f = {NULL, 0, w};
    cJSON *runs = NULL;
    if (tr_store_runs_json(store, &f, &runs) != 0) {
        T_FAIL("'%s': %s (sql %s)", expr, tr_store_errmsg(store), tr_where_sql(w));
        tr_where_free(w);
        return "error";
    }
    char got[3] = {0, 0, 0};
    const cJSON *r;
    cJSON_ArrayForEach(r, runs)
    {
        const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "name"));
        got[n[0] - 'a'] = 1;
    }
    for (int i = 0; i < 3; i++)
        if (got[i])
            snprintf(out + strlen(out), sizeof out - strlen(out), "%s%c", out[0] ? "," : "",
                     'a' + i);
    cJSON_Delete(runs);
    tr_where_free(w);
    return out;
}

static void test_valid(void)
{
    T_EQ_STR(names("metrics.loss < 0.2"), "a,c");
    T_EQ_STR(names("metrics.loss < 0.2 and params.lr = '0.01' and status = 'finished'"), "a");
    T_EQ_STR(names("status = 'failed' or metrics.loss >= 0.3"), "b,c");
    T_EQ_STR(names("(status = 'failed' or metrics.loss >= 0.3) and params.lr = '0.1'"), "b");
    T_EQ_STR(names("not (params.lr = '0.01')"), "b");
    T_EQ_STR(names("params.epochs > 6"), "b");      /* unquoted number: numeric compare */
    T_EQ_STR(names("params.epochs >= '5'"), "a,c"); /* quoted: text order, '10' < '5' */
    T_EQ_STR(names("input = 'data/train.csv'"), "a");
    T_EQ_STR(names("input = '/w/data/train.csv'"), "a");
    T_EQ_STR(names("input = 'train.csv' or input = 'test.csv'"), "a,b");
    T_EQ_STR(names("input = 'ata/train.csv'"), ""); /* suffixes match whole components */
    T_EQ_STR(names("output like '%.pt'"), "a");
    T_EQ_STR(names("output like '%.PT'"), ""); /* like is case-sensitive */
    T_EQ_STR(names("output ilike '%.PT'"), "a");
    T_EQ_STR(names("output != '/w/m.pt'"), "b,c");
    T_EQ_STR(names("name in ('a', 'c')"), "a,c");
    T_EQ_STR(names("attributes.name not in ('a', 'c')"), "b");
    T_EQ_STR(names("tags.team = 'vision' AND exit_code = 0"), "b");
    T_EQ_STR(names("tags.team like 'v%'"), "b,c");
    T_EQ_STR(names("metrics.`loss` = 0.15"), "c");
    T_EQ_STR(names("metrics.missing > 0"), "");
    T_EQ_STR(names("name = 'x'' or 1=1 --'"), ""); /* quoting is data, never SQL */
}

/* An invalid expression: the message mentions want, the column is col. */
static void bad(const char *expr, int col, const char *want)
{
    tr_where *w = NULL;
    tr_where_error err;
    int rc = tr_where_compile(expr, &w, &err);
    if (rc != TRAIL_EINVAL) {
        T_FAIL("'%s' compiled (rc %d)", expr, rc);
        tr_where_free(w);
        return;
    }
    if (err.column != col || !strstr(err.msg, want))
        T_FAIL("'%s': column %d '%s', wanted column %d '%s'", expr, err.column, err.msg, col, want);
}

static void test_invalid(void)
{
    bad("", 1, "empty");
    bad("metrics.loss <", 15, "expected a value");
    bad("metrics.loss 0.2", 14, "expected an operator");
    bad("metrics.loss < 'x'", 16, "numbers");
    bad("metrics.loss like '%'", 14, "numbers");
    bad("bogus = 1", 1, "unknown field");
    bad("params. = 'x'", 8, "expected a key");
    bad("(status = 'x'", 14, "expected ')'");
    bad("status = 'x' params.lr = 1", 14, "after a complete condition");
    bad("status = 'unterminated", 10, "unterminated");
    bad("status ! 'x'", 8, "unexpected character");
    bad("status = 'a' and", 17, "expected a field");
    bad("input < 'x'", 7, "input and output");
    bad("name in ('a' 'b')", 14, "expected ','");
}

int main(void)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/trail-where-test-XXXXXX");
    T_ASSERT(mkdtemp(dir));
    build(dir);
    T_RUN(test_valid);
    T_RUN(test_invalid);
    tr_store_close(store);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (!tassert_failures && system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return T_DONE();
}
