/* parity_test.c - one Python job recorded twice, into the embedded store and through a real
 * traild on loopback: both stores hold the same run (content-hash versions of every input and
 * output, every resolved dependency, the git tags), because enrichment travels as records. */
#include <cjson/cJSON.h>
#include <sys/stat.h>

#include "tassert.h"
#include "tnet.h"

#define TRAIL (char *)tproc_bin("trail")

static char base[512];

static const char *in_base(const char *name)
{
    static char buf[8][700];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 700, "%s/%s", base, name);
    return p;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    T_ASSERT(f && fputs(text, f) >= 0 && fclose(f) == 0);
}

static int sh(const char *cmd)
{
    return TPROC(NULL, NULL, "sh", "-c", (char *)cmd);
}

static cJSON *show(const char *db, const char *name)
{
    char *out = NULL;
    int st = TPROC(&out, NULL, TRAIL, "show", (char *)name, "--json", "--store", (char *)db);
    cJSON *doc = st == 0 ? cJSON_Parse(out) : NULL;
    if (!doc) T_FAIL("trail show %s --store %s: exit %d: %.300s", name, db, st, out ? out : "");
    free(out);
    return doc;
}

static const char *jstr(const cJSON *o, const char *k)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
    return s ? s : "";
}

/* The run's files or deps as one sorted, newline-joined text of the fields named. */
static char *rows(const cJSON *doc, const char *list, const char *const *fields)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, list), *it;
    size_t n = (size_t)cJSON_GetArraySize(arr), k = 0, len = 1;
    char **v = calloc(n + 1, sizeof *v);
    T_ASSERT(v);
    cJSON_ArrayForEach(it, arr)
    {
        char line[8192] = "";
        size_t w = 0;
        for (int f = 0; fields[f]; f++)
            w += (size_t)snprintf(line + w, sizeof line - w, "%s%s", f ? " | " : "",
                                  jstr(it, fields[f]));
        v[k] = strdup(line);
        len += strlen(line) + 1;
        k++;
    }
    for (size_t i = 1; i < k; i++) /* insertion sort: a few thousand rows at most */
        for (size_t j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
            char *t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    char *out = calloc(1, len);
    T_ASSERT(out);
    for (size_t i = 0; i < k; i++) {
        strcat(out, v[i]);
        strcat(out, "\n");
        free(v[i]);
    }
    free(v);
    return out;
}

/* The first line where two row texts differ, for the failure message. */
static void first_difference(const char *what, const char *a, const char *b)
{
    while (*a && *b) {
        const char *ea = strchr(a, '\n'), *eb = strchr(b, '\n');
        if (ea - a != eb - b || memcmp(a, b, (size_t)(ea - a))) {
            T_FAIL("%s differ: embedded '%.*s' vs collector '%.*s'", what, (int)(ea - a), a,
                   (int)(eb - b), b);
            return;
        }
        a = ea + 1;
        b = eb + 1;
    }
    if (*a || *b) T_FAIL("%s differ in number", what);
}

/* The version the run document gives a file (its content hash when hashed). */
static const char *version_of(const cJSON *doc, const char *list, const char *path)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, list))
    {
        if (!strcmp(jstr(it, "path"), path)) return jstr(it, "version");
    }
    return "";
}

static char *sha256_of(const char *path)
{
    char *out = NULL;
    T_ASSERT(TPROC(&out, NULL, "sha256sum", (char *)path) == 0 && out && strlen(out) >= 64);
    out[64] = 0;
    return out;
}

static int count_resolved(const cJSON *doc)
{
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "deps"))
    {
        n += jstr(it, "package")[0] != 0;
    }
    return n;
}

static void test_parity(void)
{
    const char *edb = in_base("embedded.db"), *cdb = in_base("collector.db");
    char url[64], job[700], data[700], model[700];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", tnet_free_port());
    snprintf(job, sizeof job, "%s/job.py", base);
    snprintf(data, sizeof data, "%s/data.csv", base);
    snprintf(model, sizeof model, "%s/model.bin", base);
    write_text(data, "1,2,3\n4,5,6\n7,8,10\n");
    write_text(job, "import numpy as np\n"
                    "d = np.loadtxt('data.csv', delimiter=',')\n"
                    "open('model.bin', 'wb').write(d.mean(axis=0).tobytes())\n");
    T_ASSERT(sh("git init -q -b main . && git add job.py data.csv && "
                "git -c user.name=t -c user.email=t@t commit -q -m job") == 0);
    setenv("PYTHONDONTWRITEBYTECODE", "1", 1);

    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--store", (char *)edb, "--name", "job", "--",
                   "/usr/bin/python3", "job.py"),
             0);
    T_ASSERT(unlink(model) == 0);
    pid_t d = TNET_TRAILD(in_base("traild.log"), "--listen", url, "--store", (char *)cdb);
    T_ASSERT(d > 0);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--collector", url, "--name", "job", "--",
                   "/usr/bin/python3", "job.py"),
             0);
    kill(d, SIGTERM);
    T_EQ_INT(tnet_wait(d), 0);

    cJSON *e = show(edb, "job"), *c = show(cdb, "job");
    T_ASSERT(e && c);
    /* the data read and the model written: SHA-256 of their bytes, on both paths */
    char *dsum = sha256_of(data), *msum = sha256_of(model);
    T_EQ_STR(version_of(e, "inputs", data), dsum);
    T_EQ_STR(version_of(c, "inputs", data), dsum);
    T_EQ_STR(version_of(e, "outputs", model), msum);
    T_EQ_STR(version_of(c, "outputs", model), msum);
    free(dsum);
    free(msum);

    /* every input and output version, every dependency, the same on both paths */
    static const char *const file_fields[] = {"path", "version", "role", NULL};
    static const char *const dep_fields[] = {"path", "kind", "package", "version", "source", NULL};
    const char *lists[] = {"inputs", "outputs", "deps"};
    for (int i = 0; i < 3; i++) {
        char *a = rows(e, lists[i], i < 2 ? file_fields : dep_fields);
        char *b = rows(c, lists[i], i < 2 ? file_fields : dep_fields);
        T_CHECK(strlen(a) > 0);
        if (strcmp(a, b)) first_difference(lists[i], a, b);
        free(a);
        free(b);
    }
    int resolved = count_resolved(e);
    T_CHECK(resolved > 10); /* libc, python, numpy and its libraries at least */
    T_EQ_INT(count_resolved(c), resolved);

    /* git state: the same tags, naming the commit the job came from */
    char *head = NULL;
    T_ASSERT(TPROC(&head, NULL, "git", "rev-parse", "HEAD") == 0 && head);
    head[strcspn(head, "\n")] = 0;
    const cJSON *et = cJSON_GetObjectItemCaseSensitive(e, "tags");
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(c, "tags");
    T_EQ_STR(jstr(et, "git.commit"), head);
    T_EQ_STR(jstr(ct, "git.commit"), head);
    T_EQ_STR(jstr(ct, "git.branch"), jstr(et, "git.branch"));
    T_EQ_STR(jstr(ct, "git.dirty"), "false");
    T_EQ_STR(jstr(et, "git.dirty"), "false");
    free(head);
    cJSON_Delete(e);
    cJSON_Delete(c);
}

int main(void)
{
    char lib[4096];
    snprintf(lib, sizeof lib, "%s/libtrail_preload.so",
             getenv("TRAIL_LIB") ? getenv("TRAIL_LIB") : "build/lib");
    if (access(lib, R_OK) != 0 ||
        TPROC(NULL, NULL, "/usr/bin/python3", "-c", "import numpy") != 0 ||
        TPROC(NULL, NULL, "git", "--version") != 0)
        T_SKIP_TEST("parity_test needs %s, /usr/bin/python3 with numpy, and git", lib);
    tnet_asan_preload_ok();
    setenv("TRAIL_PRELOAD", lib, 1);
    snprintf(base, sizeof base, "%s", tproc_sandbox());
    T_ASSERT(chdir(base) == 0);
    T_RUN(test_parity);
    return T_DONE();
}
