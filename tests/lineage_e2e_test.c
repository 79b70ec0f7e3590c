/* lineage_e2e_test.c - lineage, show PATH and --where through the real `trail` and SDK programs. */
#include <cjson/cJSON.h>
#include <sys/stat.h>

#include "tassert.h"
#include "tproc.h"

static const char *sandbox;
static char data[300];

static int trail(char **out, char **err, char *const args[])
{
    char *argv[64];
    int k = 0;
    argv[k++] = (char *)tproc_bin("trail");
    for (int i = 0; args[i] && k < 63; i++)
        argv[k++] = args[i];
    argv[k] = NULL;
    return tproc_run(argv, out, err);
}

#define TRAIL(out, err, ...) trail(out, err, (char *const[]){__VA_ARGS__, NULL})
#define CLIENT (char *)tproc_test_bin("sdk_client")

static const char *path(const char *rel)
{
    static char buf[8][400];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 400, "%s/%s", data, rel);
    return p;
}

static void write_file(const char *p, const char *text)
{
    FILE *f = fopen(p, "w");
    T_ASSERT(f);
    fputs(text, f);
    fclose(f);
}

static cJSON *json_of(char *const args[])
{
    char *out = NULL, *err = NULL;
    int st = trail(&out, &err, args);
    cJSON *doc = cJSON_Parse(out);
    if (st != 0 || !doc) T_FAIL("trail %s: exit %d: %s", args[0], st, err);
    free(out);
    free(err);
    return doc;
}

#define TJSON(...) json_of((char *const[]){__VA_ARGS__, NULL})

static int count(const cJSON *doc, const char *kind, const char *label_part)
{
    int n = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(doc, "nodes"))
    {
        const char *k = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "kind"));
        const char *l = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "label"));
        n += !strcmp(k, kind) && (!label_part || strstr(l, label_part));
    }
    return n;
}

/* prepare (10 samples + labels) -> train -> evaluate, each an SDK program under trail run. */
static void test_pipeline(void)
{
    char *args[64];
    static char sp[10][400];
    int k = 0;
    mkdir(path("samples"), 0700);
    args[k++] = "run";
    args[k++] = "--name";
    args[k++] = "prepare";
    args[k++] = "--";
    args[k++] = CLIENT;
    for (int i = 0; i < 10; i++) {
        char rel[32];
        snprintf(rel, sizeof rel, "samples/s%02d.txt", i);
        write_file(path(rel), rel);
        args[k++] = "output";
        snprintf(sp[i], sizeof sp[i], "%s", path(rel));
        args[k++] = sp[i];
    }
    write_file(path("labels.csv"), "0,1\n");
    args[k++] = "output";
    args[k++] = (char *)path("labels.csv");
    args[k] = NULL;
    T_EQ_INT(trail(NULL, NULL, args), 0);
    for (int i = 5; i < k; i += 2)
        args[i] = "input"; /* the same files, read */
    args[2] = "train";
    write_file(path("model.bin"), "weights");
    args[k++] = "output";
    args[k++] = (char *)path("model.bin");
    args[k] = NULL;
    T_EQ_INT(trail(NULL, NULL, args), 0);
    write_file(path("report.json"), "{}");
    T_EQ_INT(TRAIL(NULL, NULL, "run", "--name", "evaluate", "--", CLIENT, "input",
                   (char *)path("model.bin"), "input", (char *)path("labels.csv"), "output",
                   (char *)path("report.json")),
             0);

    cJSON *doc = TJSON("lineage", (char *)path("report.json"), "--up", "--format", "json");
    T_EQ_INT(count(doc, "run", NULL), 3);
    T_EQ_INT(count(doc, "run", "prepare"), 1);
    T_EQ_INT(count(doc, "run", "train"), 1);
    T_EQ_INT(count(doc, "run", "evaluate"), 1);
    T_EQ_INT(count(doc, "file", "model.bin"), 1);
    T_EQ_INT(count(doc, "file", "labels.csv"), 1);
    T_EQ_INT(count(doc, "file", "samples/ (10 files)"), 1); /* folded */
    T_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "edges")), 8);
    const cJSON *n0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "nodes"), 0);
    T_EQ_INT(cJSON_GetArraySize((cJSON *)n0), 3); /* exactly id, kind, label */
    cJSON_Delete(doc);
    doc = TJSON("lineage", (char *)path("report.json"), "--up", "--format", "json", "--files");
    T_EQ_INT(count(doc, "file", "samples/s0"), 10);
    cJSON_Delete(doc);
    doc = TJSON("lineage", (char *)path("report.json"), "--up", "--depth", "1", "--json");
    T_EQ_INT(count(doc, "run", NULL), 1);
    cJSON_Delete(doc);
    doc = TJSON("lineage", "prepare", "--down", "--json");
    T_EQ_INT(count(doc, "run", NULL), 3);
    cJSON_Delete(doc);

    char *out = NULL;
    T_EQ_INT(TRAIL(&out, NULL, "show", "train"), 0); /* 10 samples: one line (TR_FOLD_MIN) */
    T_CHECK(out && strstr(out, "data/samples/ (10 files, "));
    free(out);
    T_EQ_INT(TRAIL(&out, NULL, "show", "train", "--files"), 0);
    for (int i = 0; i < 10; i++) {
        char rel[32];
        snprintf(rel, sizeof rel, "samples/s%02d.txt", i);
        T_CHECK(out && strstr(out, rel));
    }
    free(out);
    T_EQ_INT(TRAIL(&out, NULL, "lineage", (char *)path("report.json"), "--up"), 0);
    T_CHECK(out && strstr(out, "written by run train") && strstr(out, "(10 files)"));
    free(out);
    T_EQ_INT(TRAIL(&out, NULL, "lineage", "train", "--format", "dot"), 0);
    T_CHECK(out && strstr(out, "digraph lineage") && strstr(out, "->"));
    free(out);
    T_EQ_INT(TRAIL(&out, NULL, "lineage", "train", "--format", "mermaid"), 0);
    T_CHECK(out && strstr(out, "flowchart LR") && strstr(out, "-->|output|"));
    free(out);
}

/* In-place rewrites make versions; rewriting identical bytes gives the same version string. */
static void test_versions(void)
{
    const char *t = path("table.csv");
    write_file(t, "a\n");
    T_EQ_INT(TRAIL(NULL, NULL, "run", "--name", "w1", "--", CLIENT, "output", (char *)t), 0);
    write_file(t, "b,longer\n");
    T_EQ_INT(TRAIL(NULL, NULL, "run", "--name", "w2", "--", CLIENT, "output", (char *)t), 0);
    write_file(t, "b,longer\n");
    T_EQ_INT(TRAIL(NULL, NULL, "run", "--name", "w3", "--", CLIENT, "output", (char *)t), 0);
    cJSON *doc = TJSON("show", (char *)t, "--json");
    cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "versions");
    T_EQ_INT(cJSON_GetArraySize(v), 3);
    const char *h1 =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(v, 0), "hash"));
    const char *h2 =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(v, 1), "hash"));
    const char *h3 =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(v, 2), "hash"));
    T_CHECK(h1 && h2 && h3 && strlen(h1) == 64);
    T_CHECK(h1 && h2 && strcmp(h1, h2) != 0);
    T_CHECK(h2 && h3 && strcmp(h2, h3) == 0); /* two runs, identical bytes: one hash */
    cJSON_Delete(doc);
    char spec[500];
    snprintf(spec, sizeof spec, "%s@v1", t);
    doc = TJSON("lineage", spec, "--json");
    T_EQ_INT(count(doc, "run", "w1"), 1);
    T_EQ_INT(count(doc, "run", "w2"), 0);
    cJSON_Delete(doc);
    char *out = NULL;
    T_EQ_INT(TRAIL(&out, NULL, "show", (char *)t), 0);
    T_CHECK(out && strstr(out, "versions   3") && strstr(out, "w3"));
    free(out);
}

static void test_where_cli(void)
{
    cJSON *doc = TJSON("runs", "--json", "--where", "input = 'labels.csv' and status = 'finished'");
    T_EQ_INT(cJSON_GetArraySize(doc), 2);
    cJSON_Delete(doc);
    doc = TJSON("runs", "--json", "--where", "output like '%.bin' or name = 'prepare'");
    T_EQ_INT(cJSON_GetArraySize(doc), 2);
    cJSON_Delete(doc);
    char *err = NULL;
    int st = TRAIL(NULL, &err, "runs", "--where", "metrics.loss < and status = 'x'");
    T_EQ_INT(st, 2);
    /* The expression, then the caret under column 16 ("and"). */
    char want[128];
    snprintf(want, sizeof want, "  metrics.loss < and status = 'x'\n  %*s^\n", 15, "");
    T_CHECK(err && strstr(err, want));
    T_CHECK(err && strstr(err, "column 16"));
    free(err);
}

/* `trail show X`: a run when X resolves as one, a file when it exists or has a '/'. */
static void test_show_target(void)
{
    char *out = NULL, *err = NULL;
    T_EQ_INT(TRAIL(&out, NULL, "show", "evaluate"), 0);
    T_CHECK(out && strstr(out, "name       evaluate"));
    free(out);
    T_EQ_INT(TRAIL(NULL, &err, "show", "no/such/file.txt"), 2);
    T_CHECK(err && strstr(err, "no recorded file"));
    free(err);
    T_EQ_INT(TRAIL(NULL, &err, "show", "nosuchrun"), 2);
    T_CHECK(err && strstr(err, "no run"));
    free(err);
}

int main(void)
{
    sandbox = tproc_sandbox();
    snprintf(data, sizeof data, "%s/data", sandbox);
    mkdir(data, 0700);
    T_RUN(test_pipeline);
    T_RUN(test_versions);
    T_RUN(test_where_cli);
    T_RUN(test_show_target);
    return T_DONE();
}
