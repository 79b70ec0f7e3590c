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

/* The run's command line as one string, elements joined by '|' (NULL when it has none). */
static char *argv_of(const char *run)
{
    int st;
    cJSON *doc = show(run, &st), *it;
    char buf[4096] = "";
    size_t o = 0;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "argv"))
    {
        const char *e = cJSON_GetStringValue(it);
        if (e && o < sizeof buf) o += (size_t)snprintf(buf + o, sizeof buf - o, "%s|", e);
    }
    cJSON_Delete(doc);
    return o ? strdup(buf) : NULL;
}

/* forget scrubs only the command lines of the runs that used the file, whole arguments naming
 * it (relative to the run's cwd, or as --flag=PATH): a second file of the same name read by
 * another run, and a word containing the name, stay as they were, with no note. */
static void test_forget_scoped(void)
{
    char dir[700], p[800], here[4096], *out = NULL, *dry = NULL;
    int st;
    T_ASSERT(getcwd(here, sizeof here) != NULL);
    for (int i = 0; i < 2; i++) {
        snprintf(dir, sizeof dir, "%s/w%s", sandbox, i ? "/b" : "");
        T_EQ_INT(mkdir(dir, 0700), 0);
    }
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/w/%c", sandbox, "ab"[i]);
        T_EQ_INT(mkdir(p, 0700) == 0 || i == 1, 1);
        snprintf(p, sizeof p, "%s/w/%c/data.csv", sandbox, "ab"[i]);
        FILE *f = fopen(p, "w");
        T_ASSERT(f && fputs("x,y\n", f) >= 0 && fclose(f) == 0);
    }
    T_EQ_INT(chdir(sandbox), 0);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "one", "--", "cat", "w/a/data.csv"), 0);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "two", "--", "cat", "w/b/data.csv"), 0);
    T_EQ_INT(
        TPROC(NULL, NULL, TRAIL, "run", "--name", "three", "--", "echo", "mydata.csv_is_a_word"),
        0);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "four", "--", "sh", "-c",
                   "cat \"${1#--in=}\" data.csv 2>/dev/null; true", "sh",
                   "--in=./w/b/../a/data.csv"),
             0);
    T_EQ_INT(chdir(here), 0);
    /* a shell command naming the absolute path inside a longer argument, and a longer path */
    char sh[2000];
    snprintf(sh, sizeof sh, "cat %s/w/a/data.csv >/dev/null; echo %s/w/a/data.csv.bak", sandbox,
             sandbox);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "five", "--", "sh", "-c", sh), 0);
    snprintf(p, sizeof p, "%s/w/a/data.csv", sandbox);
    T_EQ_INT(TPROC(&dry, NULL, TRAIL, "forget", p, "--dry-run"), 0);
    T_EQ_INT(TPROC(&out, NULL, TRAIL, "forget", p), 0);
    T_CHECK(out && strstr(out, "from 3 run(s)"));
    /* the dry run counted the rows the forget changed (only those of runs one, four, five) */
    long long rd = -1, ro = -2;
    const char *ld = dry ? strstr(dry, "would remove ") : NULL,
               *lo = out ? strstr(out, "removed ") : NULL;
    T_CHECK(ld && sscanf(ld, "would remove %*d run(s), %lld row(s)", &rd) == 1);
    T_CHECK(lo && sscanf(lo, "removed %*d run(s), %lld row(s)", &ro) == 1);
    T_EQ_INT(rd, ro);
    free(out);
    free(dry);
    char *a = argv_of("one"), *b = argv_of("two"), *c = argv_of("three"), *d = argv_of("four");
    T_EQ_STR(a, "cat|[forgotten]|");
    T_EQ_STR(b, "cat|w/b/data.csv|");
    T_EQ_STR(c, "echo|mydata.csv_is_a_word|");
    T_CHECK(d && strstr(d, "|sh|--in=[forgotten]|") && strstr(d, " data.csv 2>"));
    char *e = argv_of("five"), want[2100];
    snprintf(want, sizeof want, "sh|-c|cat [forgotten] >/dev/null; echo %s/w/a/data.csv.bak|",
             sandbox);
    T_EQ_STR(e, want);
    free(a);
    free(b);
    free(c);
    free(d);
    free(e);
    const char *const noted[] = {"one", "two", "three", "four", "five"};
    for (int i = 0; i < 5; i++) {
        cJSON *doc = show(noted[i], &st);
        T_EQ_INT(st, 0);
        const char *t = tag(doc, "trail.forgotten");
        T_CHECK(i == 0 || i >= 3 ? t && !strcmp(t, "1") : t == NULL);
        cJSON_Delete(doc);
    }
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
    T_RUN(test_forget_scoped);
    T_RUN(test_tag_rename_close);
    T_RUN(test_gc);
    return T_DONE();
}
