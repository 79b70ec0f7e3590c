/* lineage_pipeline_test.c - the Python pipeline (unmodified programs) under trail with the capture
 * shim. */
#include <cjson/cJSON.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tassert.h"
#include "tproc.h"

static char work[400], lib[400];

static cJSON *json_of(char *const args[])
{
    char *argv[16], *out = NULL, *err = NULL;
    int k = 0;
    argv[k++] = (char *)tproc_bin("trail");
    for (int i = 0; args[i] && k < 15; i++)
        argv[k++] = args[i];
    argv[k] = NULL;
    int st = tproc_run(argv, &out, &err);
    cJSON *doc = cJSON_Parse(out);
    if (st != 0 || !doc) T_FAIL("trail %s %s: exit %d: %s", args[0], args[1], st, err);
    free(out);
    free(err);
    return doc;
}

#define TJSON(...) json_of((char *const[]){__VA_ARGS__, NULL})

static int has_label(const cJSON *doc, const char *kind, const char *part)
{
    const cJSON *n;
    int k = 0;
    cJSON_ArrayForEach(n, cJSON_GetObjectItemCaseSensitive(doc, "nodes"))
    {
        const char *l = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(n, "label"));
        k += !strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(n, "kind")), kind) &&
             l && strstr(l, part);
    }
    return k;
}

static int run_pipeline(void)
{
    char script[600];
    snprintf(script, sizeof script, "%s/examples/pipeline/run.sh",
             getenv("TRAIL_SRC") ? getenv("TRAIL_SRC") : ".");
    char *err = NULL;
    int st = TPROC(NULL, &err, "bash", script, (char *)tproc_bin("trail"), work, "256");
    if (st != 0) T_FAIL("pipeline exit %d: %s", st, err);
    free(err);
    return st;
}

static void test_lineage_of_report(void)
{
    char report[500];
    snprintf(report, sizeof report, "%s/report.json", work);
    cJSON *doc = TJSON("lineage", report, "--up", "--format", "json");
    T_EQ_INT(has_label(doc, "run", "prepare"), 1);
    T_EQ_INT(has_label(doc, "run", "train-seed1"), 1);
    T_EQ_INT(has_label(doc, "run", "evaluate"), 1);
    T_EQ_INT(has_label(doc, "run", "train-seed2"), 0);
    T_CHECK(has_label(doc, "file", "model-seed1.json") == 1);
    T_CHECK(has_label(doc, "file", "labels.csv") == 1);
    T_CHECK(has_label(doc, "file", "samples/ ("));
    T_CHECK(!has_label(doc, "file", ".tmp")); /* the atomic save's temporary is folded away */
    cJSON_Delete(doc);
}

static void test_workers_reads(void)
{
    cJSON *run = TJSON("show", "train-seed1", "--json");
    int samples = 0;
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(run, "inputs"))
    {
        const char *p = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "path"));
        samples += p && strstr(p, "/data/samples/") != NULL;
    }
    T_EQ_INT(samples, 256 - 52); /* every sample but the held-out fifth, read by workers */
    cJSON_Delete(run);
}

static void test_diff_changed_data_first(void)
{
    char script[4096];
    snprintf(script, sizeof script,
             "cd %s && %s run --name prepare-v2 -- /usr/bin/python3 "
             "%s/examples/pipeline/prepare.py --out data --n 256 --seed 7 >/dev/null 2>&1 && "
             "%s run --name train-v2 -- /usr/bin/python3 %s/examples/pipeline/train.py --data "
             "data --model model-seed1.json --seed 1 >/dev/null 2>&1",
             work, tproc_bin("trail"), getenv("TRAIL_SRC"), tproc_bin("trail"),
             getenv("TRAIL_SRC"));
    T_EQ_INT(TPROC(NULL, NULL, "bash", "-c", script), 0);
    cJSON *doc = TJSON("diff", "train-seed1", "train-v2", "--json");
    const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "changes"), 0);
    T_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(first, "section")), "inputs");
    cJSON_Delete(doc);
}

int main(void)
{
    (void)tproc_test_bin;
    snprintf(lib, sizeof lib, "%s/libtrail_preload.so",
             getenv("TRAIL_LIB") ? getenv("TRAIL_LIB") : "build/lib");
    if (access(lib, R_OK) != 0 || access("/usr/bin/python3", X_OK) != 0)
        T_SKIP_TEST("lineage_pipeline_test needs %s (the capture shim) and /usr/bin/python3", lib);
    snprintf(work, sizeof work, "%s/w", tproc_sandbox());
    setenv("TRAIL_PRELOAD", lib, 1);
    if (run_pipeline() != 0) return T_DONE();
    T_RUN(test_lineage_of_report);
    T_RUN(test_workers_reads);
    T_RUN(test_diff_changed_data_first);
    return T_DONE();
}
