/* manage_test.c - `trail rm`, `gc`, `forget`, `tag`, `rename`, `close` on a real store under the
 * real `trail`: what they report, what stays, and that removed data is gone from the file. */
#include <cjson/cJSON.h>
#include <sys/stat.h>

#include "tassert.h"
#include "tproc.h"

#define TRAIL (char *)tproc_bin("trail")

static const char *sandbox;
static char store[600], secret_file[700], run_name[64], param_value[64];

/* 1 when needle occurs in the store file or its WAL. */
static int in_store_files(const char *needle)
{
    const char *suffix[] = {"", "-wal"};
    for (int i = 0; i < 2; i++) {
        char p[700];
        snprintf(p, sizeof p, "%s%s", store, suffix[i]);
        FILE *f = fopen(p, "rb");
        if (!f) continue;
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        char *buf = malloc((size_t)n + 1);
        size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
        fclose(f);
        int hit = buf && memmem(buf, got, needle, strlen(needle)) != NULL;
        free(buf);
        if (hit) return 1;
    }
    return 0;
}

static cJSON *show(const char *run, int *status)
{
    char *out = NULL;
    *status = TPROC(&out, NULL, TRAIL, "show", (char *)run, "--json");
    cJSON *doc = *status == 0 ? cJSON_Parse(out) : NULL;
    free(out);
    return doc;
}

static const char *tag(const cJSON *doc, const char *k)
{
    return cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "tags"), k));
}

static int has_input(const cJSON *doc, const char *path)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "inputs"))
    {
        const char *p = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "path"));
        if (p && !strcmp(p, path)) return 1;
    }
    return 0;
}

static void seed(void)
{
    FILE *f = fopen(secret_file, "w");
    T_ASSERT(f && fputs("id,value\n1,2\n", f) >= 0 && fclose(f) == 0);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "keep", "--", "cat", secret_file), 0);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", run_name, "--param", param_value, "--",
                   "cat", secret_file),
             0);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "broken", "--", "sh", "-c", "exit 3"), 3);
    T_CHECK(in_store_files(run_name));
}

static void test_rm(void)
{
    char *out = NULL;
    int st;
    T_EQ_INT(TPROC(&out, NULL, TRAIL, "rm", run_name, "--dry-run"), 0);
    T_CHECK(out && strstr(out, "would remove") && strstr(out, "1 run(s)"));
    free(out);
    cJSON *doc = show(run_name, &st);
    T_EQ_INT(st, 0); /* a dry run changes nothing */
    cJSON_Delete(doc);
    T_EQ_INT(TPROC(&out, NULL, TRAIL, "rm", run_name), 0);
    T_CHECK(out && strstr(out, "removed 1 run(s)") && strstr(out, "store "));
    free(out);
    doc = show(run_name, &st);
    T_EQ_INT(st, 2);
    cJSON_Delete(doc);
    T_CHECK(!in_store_files(run_name)); /* nothing of it left in the file */
    T_CHECK(!in_store_files(strchr(param_value, '=') + 1));
    doc = show("keep", &st); /* the other run, and the file it read, stay */
    T_EQ_INT(st, 0);
    T_CHECK(has_input(doc, secret_file));
    cJSON_Delete(doc);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "rm", "no-such-run"), 2);
}

static void test_forget(void)
{
    char *out = NULL;
    int st;
    T_EQ_INT(TPROC(&out, NULL, TRAIL, "forget", secret_file), 0);
    T_CHECK(out && strstr(out, "forgot") && strstr(out, "1 run(s)"));
    free(out);
    cJSON *doc = show("keep", &st);
    T_EQ_INT(st, 0);
    T_CHECK(!has_input(doc, secret_file));
    T_EQ_STR(tag(doc, "trail.forgotten"), "1");
    cJSON_Delete(doc);
    const char *base = strrchr(secret_file, '/') + 1;
    T_CHECK(!in_store_files(base)); /* not in versions, events, nor the command line */
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "forget", secret_file), 2); /* nothing left to forget */
}

static void test_tag_rename_close(void)
{
    int st;
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "tag", "keep", "owner=ml-team", "stage=prod"), 0);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "tag", "keep", "not-a-pair"), 2);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "rename", "keep", "kept"), 0);
    cJSON *doc = show("kept", &st);
    T_EQ_INT(st, 0);
    T_EQ_STR(tag(doc, "owner"), "ml-team");
    T_EQ_STR(tag(doc, "stage"), "prod");
    cJSON_Delete(doc);
    /* a finished run is closed only with --force */
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "close", "kept", "--status", "lost"), 2);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "close", "kept", "--status", "bogus"), 2);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "close", "kept", "--status", "lost", "--force"), 0);
    doc = show("kept", &st);
    T_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "status")), "lost");
    cJSON_Delete(doc);
}

static void test_gc(void)
{
    char *out = NULL;
    int st;
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "gc"), 2); /* --older-than is required */
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "gc", "--older-than", "ten days"), 2);
    T_EQ_INT(TPROC(&out, NULL, TRAIL, "gc", "--older-than", "1d"), 0);
    T_CHECK(out && strstr(out, "no run ended before"));
    free(out);
    T_EQ_INT(
        TPROC(&out, NULL, TRAIL, "gc", "--older-than", "0s", "--status", "failed", "--dry-run"), 0);
    T_CHECK(out && strstr(out, "would remove 1 run(s)"));
    free(out);
    cJSON *doc = show("broken", &st);
    T_EQ_INT(st, 0);
    cJSON_Delete(doc);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "gc", "--older-than", "0s", "--status", "failed"), 0);
    doc = show("broken", &st);
    T_EQ_INT(st, 2);
    cJSON_Delete(doc);
    doc = show("kept", &st); /* status lost: not in the list */
    T_EQ_INT(st, 0);
    cJSON_Delete(doc);
}

int main(void)
{
    if (access(tproc_bin("trail"), X_OK) != 0) T_SKIP_TEST("needs the trail binary");
    sandbox = tproc_sandbox();
    snprintf(store, sizeof store, "%s", getenv("TRAIL_STORE"));
    unsigned r = (unsigned)getpid() * 2654435761u;
    snprintf(secret_file, sizeof secret_file, "%s/patient-records-%08x.csv", sandbox, r);
    snprintf(run_name, sizeof run_name, "doomed-run-%08x", r);
    snprintf(param_value, sizeof param_value, "key=marker-%08x", r ^ 0x5a5a5a5au);
    seed();
    T_RUN(test_rm);
    T_RUN(test_forget);
    T_RUN(test_tag_rename_close);
    T_RUN(test_gc);
    return T_DONE();
}
