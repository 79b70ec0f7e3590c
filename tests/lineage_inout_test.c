/* lineage_inout_test.c - files a run both read and wrote, under the real shim and `trail run`:
 * a read of a version the run wrote itself is internal (not an input in `trail show`, --where,
 * `trail show PATH` or `trail lineage`), a read of a version from before the run is an input, and
 * an output says how many times the run wrote it and how many versions it made. */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim_util.h"

static char *base;

static int have(const char *prog)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", prog);
    return system(cmd) == 0;
}

static double num(const cJSON *o, const char *k)
{
    return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static const char *str(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* The output of `trail ARGS...` (exit status in *st). */
static char *trail_out(int *st, char *a1, char *a2, char *a3, char *a4)
{
    char *out = NULL;
    *st = TPROC(&out, NULL, (char *)tproc_bin("trail"), a1, a2, a3, a4);
    return out ? out : strdup("");
}

/* 1 when `trail runs --where COND --json` lists a run named name. */
static int where_lists(const char *cond, const char *name)
{
    int st;
    char *out = trail_out(&st, "runs", "--where", (char *)cond, "--json");
    T_EQ_INT(st, 0);
    cJSON *doc = cJSON_Parse(out), *r;
    free(out);
    T_ASSERT(doc);
    int found = 0;
    const cJSON *runs = cJSON_IsArray(doc) ? doc : cJSON_GetObjectItemCaseSensitive(doc, "runs");
    cJSON_ArrayForEach(r, runs)
    {
        const char *n = str(r, "name");
        found |= n && !strcmp(n, name);
    }
    cJSON_Delete(doc);
    return found;
}

/* The sha256 of a file now, as trail shows a version whose content was hashed. */
static void sha256(const char *path, char hex[80])
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "sha256sum '%s'", path);
    FILE *p = popen(cmd, "r");
    T_ASSERT(p);
    hex[0] = 0;
    T_CHECK(fscanf(p, "%64s", hex) == 1);
    pclose(p);
}

/* sqlite3 creates j.db, a second sqlite3 reads and updates it, a third reads it back; Python's
 * sqlite3 creates results.sqlite and reads it back in one process; a database from before the
 * run is read and updated. */
static void test_sqlite_inout(void)
{
    if (!have("sqlite3")) T_SKIP("sqlite3 not installed");
    char cmd[2048], path[600], before[80], after[80];
    snprintf(cmd, sizeof cmd,
             "cd %s && rm -f j.db* pre.db* results.sqlite* && sqlite3 pre.db"
             " 'CREATE TABLE t(x); INSERT INTO t VALUES (0);'",
             base);
    T_EQ_INT(system(cmd), 0);
    snprintf(path, sizeof path, "%s/pre.db", base);
    sha256(path, before);
    snprintf(cmd, sizeof cmd,
             "cd %s && sqlite3 j.db 'CREATE TABLE t(x);' && sqlite3 j.db"
             " 'INSERT INTO t SELECT count(*) FROM t;' && sqlite3 j.db 'SELECT count(*) FROM t;'"
             " >/dev/null && sqlite3 pre.db 'INSERT INTO t SELECT count(*) FROM t;' &&"
             " python3 -c 'import sqlite3\nc = sqlite3.connect(\"results.sqlite\")\n"
             "c.execute(\"CREATE TABLE r(v)\"); c.execute(\"INSERT INTO r VALUES (1)\");"
             " c.commit()\nprint(c.execute(\"SELECT count(*) FROM r\").fetchone())\nc.close()'",
             base);
    char *out = NULL;
    T_EQ_INT(SHU_TRAIL("inout-sqlite", &out, "sh", "-c", cmd), 0);
    free(out);
    sha256(path, after);
    T_CHECK(strcmp(before, after) != 0);
    cJSON *run = shu_show("inout-sqlite");
    T_ASSERT(run);
    /* made by the run: outputs only */
    const cJSON *j = shu_entry(run, "outputs", "/j.db");
    T_ASSERT(j);
    T_CHECK(shu_entry(run, "inputs", "/j.db") == NULL);
    T_CHECK(shu_entry(run, "outputs", "/results.sqlite") != NULL);
    T_CHECK(shu_entry(run, "inputs", "/results.sqlite") == NULL);
    /* j.db: written by the creating and the updating sqlite3 (the reader only read) */
    T_CHECK(num(j, "writes") >= 2);
    T_CHECK(num(j, "versions") >= 2);
    /* from before the run: its old version an input, its new one the output */
    const cJSON *pin = shu_entry(run, "inputs", "/pre.db"),
                *pout = shu_entry(run, "outputs", "/pre.db");
    T_ASSERT(pin && pout);
    T_CHECK(strcmp(str(pin, "version"), str(pout, "version")) != 0);
    cJSON_Delete(run);
    /* --where agrees with show */
    T_CHECK(!where_lists("input = 'j.db'", "inout-sqlite"));
    T_CHECK(where_lists("output = 'j.db'", "inout-sqlite"));
    T_CHECK(!where_lists("input = 'results.sqlite'", "inout-sqlite"));
    T_CHECK(where_lists("input = 'pre.db'", "inout-sqlite"));
    /* `trail show PATH`: written by the run, read by nobody */
    int st;
    snprintf(path, sizeof path, "%s/j.db", base);
    char *text = trail_out(&st, "show", path, "--json", NULL);
    T_EQ_INT(st, 0);
    cJSON *doc = cJSON_Parse(text);
    T_ASSERT(doc);
    char *flat = cJSON_PrintUnformatted(doc);
    /* the run appears as the writer; no entry of it as a reader */
    T_CHECK(flat && strstr(flat, "inout-sqlite"));
    T_CHECK(flat && !strstr(flat, "\"input\""));
    free(flat);
    cJSON_Delete(doc);
    free(text);
    /* `trail lineage` upstream of the run's j.db: the run, and no edge from j.db into it */
    text = trail_out(&st, "lineage", path, "--json", NULL);
    T_EQ_INT(st, 0);
    doc = cJSON_Parse(text);
    T_ASSERT(doc);
    free(text);
    flat = cJSON_PrintUnformatted(doc);
    T_CHECK(flat && strstr(flat, "inout-sqlite"));
    cJSON_Delete(doc);
    free(flat);
}

/* A log appended to 300 times: one output, 300 writes, 300 versions, in the JSON and the text. */
static void test_append_counts(void)
{
    char cmd[512], *out = NULL;
    snprintf(cmd, sizeof cmd,
             "cd %s && rm -f c.log && for i in $(seq 1 300); do echo \"$i\" >> c.log; done", base);
    T_EQ_INT(SHU_TRAIL("append-counts", &out, "sh", "-c", cmd), 0);
    free(out);
    cJSON *run = shu_show("append-counts");
    T_ASSERT(run);
    const cJSON *log = shu_entry(run, "outputs", "/c.log");
    T_ASSERT(log);
    T_EQ_INT((long long)num(log, "writes"), 300);
    T_EQ_INT((long long)num(log, "versions"), 300);
    char path[600];
    snprintf(path, sizeof path, "%s/c.log", base);
    struct stat sb;
    T_ASSERT(stat(path, &sb) == 0);
    T_EQ_INT((long long)num(log, "bytes"), (long long)sb.st_size);
    cJSON_Delete(run);
    int st;
    char *text = trail_out(&st, "show", "append-counts", NULL, NULL);
    T_EQ_INT(st, 0);
    T_CHECK(strstr(text, "c.log") && strstr(text, "(300 writes, 300 versions)"));
    free(text);
}

int main(void)
{
    (void)tproc_test_bin;
    tproc_sandbox();
    base = shu_mkdtemp("inout");
    T_RUN(test_sqlite_inout);
    T_RUN(test_append_counts);
    if (!tassert_failures) shu_rm_rf(base);
    free(base);
    return T_DONE();
}
