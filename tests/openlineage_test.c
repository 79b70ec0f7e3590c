/* openlineage_test.c - `trail export openlineage` on runs recorded by the real `trail run`: every
 * event checked against the fields and facet shapes spec 2-0-2 requires, to stdout and POSTed to
 * an HTTP receiver on loopback. */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <ctype.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "tassert.h"
#include "tproc.h"

#define TRAIL (char *)tproc_bin("trail")

static const char *sandbox;
static char data_file[600], out_file[600];

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static const char *gs(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(get(o, k));
}

static int is_uuid7(const char *u)
{
    if (!u || strlen(u) != 36) return 0;
    for (int i = 0; i < 36; i++)
        if ((i == 8 || i == 13 || i == 18 || i == 23) ? u[i] != '-'
                                                      : !isxdigit((unsigned char)u[i]))
            return 0;
    return u[14] == '7' && strchr("89ab", u[19]) != NULL;
}

/* A URI: a scheme (letters, then ':') and something after it. */
static int is_uri(const char *u)
{
    size_t i = 0;
    while (u && isalpha((unsigned char)u[i]))
        i++;
    return u && i > 0 && u[i] == ':' && u[i + 1];
}

static int is_time(const char *t)
{
    int y, mo, d, h, mi, s;
    return t && sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &s) == 6 &&
           t[strlen(t) - 1] == 'Z';
}

/* Every facet carries _producer and _schemaURL, plus the fields its own schema requires. */
static void check_facets(const cJSON *facets)
{
    static const struct {
        const char *key, *fields[3];
    } required[] = {{"errorMessage", {"message", "programmingLanguage", NULL}},
                    {"sourceCodeLocation", {"type", "url", NULL}},
                    {"processing_engine", {"version", NULL}},
                    {"jobType", {"processingType", "integration", NULL}},
                    {"version", {"datasetVersion", NULL}},
                    {"parent", {"run", "job", NULL}}};
    const cJSON *f;
    T_CHECK(facets == NULL || cJSON_IsObject(facets));
    cJSON_ArrayForEach(f, facets)
    {
        T_CHECK(is_uri(gs(f, "_producer")));
        T_CHECK(gs(f, "_schemaURL") && strstr(gs(f, "_schemaURL"), "openlineage.io/spec/"));
        for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
            if (!strcmp(f->string, required[i].key))
                for (int k = 0; required[i].fields[k]; k++)
                    if (!get(f, required[i].fields[k]))
                        T_FAIL("facet %s lacks %s", f->string, required[i].fields[k]);
        if (!strcmp(f->string, "parent")) {
            T_CHECK(is_uuid7(gs(get(f, "run"), "runId")));
            T_CHECK(gs(get(f, "job"), "namespace") && gs(get(f, "job"), "name"));
        }
        if (!strcmp(f->string, "environmentVariables")) {
            const cJSON *v;
            T_CHECK(cJSON_IsArray(get(f, "environmentVariables")));
            cJSON_ArrayForEach(v, get(f, "environmentVariables"))
                T_CHECK(gs(v, "name") && gs(v, "value"));
        }
    }
}

static void check_datasets(const cJSON *list)
{
    const cJSON *d;
    T_CHECK(list == NULL || cJSON_IsArray(list));
    cJSON_ArrayForEach(d, list)
    {
        T_CHECK(gs(d, "namespace") && !strncmp(gs(d, "namespace"), "file", 4));
        T_CHECK(gs(d, "name") && gs(d, "name")[0] == '/');
        check_facets(get(d, "facets"));
    }
}

/* One RunEvent against the spec: required fields, kinds, enum values, facet shapes. */
static void check_event(const cJSON *e)
{
    const char *type = gs(e, "eventType");
    T_CHECK(type && strstr(" START RUNNING COMPLETE ABORT FAIL OTHER ", type));
    T_CHECK(is_time(gs(e, "eventTime")));
    T_CHECK(is_uri(gs(e, "producer")));
    T_EQ_STR(gs(e, "schemaURL"),
             "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent");
    T_CHECK(is_uuid7(gs(get(e, "run"), "runId")));
    T_CHECK(gs(get(e, "job"), "namespace") && gs(get(e, "job"), "name"));
    check_facets(get(get(e, "run"), "facets"));
    check_facets(get(get(e, "job"), "facets"));
    check_datasets(get(e, "inputs"));
    check_datasets(get(e, "outputs"));
}

/* The events of an export (one JSON document a line), each checked. */
static cJSON *parse_lines(const char *text)
{
    cJSON *all = cJSON_CreateArray();
    for (const char *p = text; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        cJSON *e = cJSON_ParseWithLength(p, n);
        if (!e)
            T_FAIL("not JSON: %.*s", (int)(n > 200 ? 200 : n), p);
        else {
            check_event(e);
            cJSON_AddItemToArray(all, e);
        }
        p = nl ? nl + 1 : NULL;
    }
    return all;
}

static const cJSON *find(const cJSON *events, const char *job, const char *type)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, events) if (!strcmp(gs(get(e, "job"), "name"), job) &&
                                      !strcmp(gs(e, "eventType"), type)) return e;
    return NULL;
}

static int has_dataset(const cJSON *list, const char *path, const char *version)
{
    const cJSON *d;
    cJSON_ArrayForEach(d, list)
    {
        const char *v = gs(get(get(d, "facets"), "version"), "datasetVersion");
        if (!strcmp(gs(d, "name"), path) && (!version || (v && !strcmp(v, version)))) return 1;
    }
    return 0;
}

static void test_events(void)
{
    char *out = NULL, *again = NULL, *sum = NULL;
    T_EQ_INT(TPROC(&out, NULL, TRAIL, "export", "openlineage"), 0);
    cJSON *events = parse_lines(out);
    T_CHECK(cJSON_GetArraySize(events) >= 6); /* 2 runs x (START, end, process START, end) */
    const cJSON *start = find(events, "train", "START"), *done = find(events, "train", "COMPLETE");
    T_ASSERT(start && done);
    T_EQ_STR(gs(get(start, "run"), "runId"), gs(get(done, "run"), "runId"));
    T_EQ_STR(gs(get(start, "job"), "namespace"), "exp1");
    T_ASSERT(TPROC(&sum, NULL, "sha256sum", data_file) == 0 && sum);
    sum[64] = 0;
    T_CHECK(has_dataset(get(start, "inputs"), data_file, sum)); /* version: its content hash */
    T_CHECK(has_dataset(get(done, "outputs"), out_file, NULL));
    T_CHECK(get(get(get(start, "run"), "facets"), "processing_engine") != NULL);
    T_CHECK(get(get(get(start, "run"), "facets"), "environmentVariables") != NULL);
    const cJSON *fail = find(events, "broken", "FAIL");
    T_ASSERT(fail);
    T_CHECK(strstr(gs(get(get(get(fail, "run"), "facets"), "errorMessage"), "message"), "exit 3"));
    /* processes are child runs of theirs */
    int children = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, events)
    {
        const cJSON *p = get(get(get(e, "run"), "facets"), "parent");
        if (p && !strcmp(gs(get(p, "run"), "runId"), gs(get(start, "run"), "runId"))) children++;
    }
    T_CHECK(children >= 2);
    /* the same events on every export */
    T_EQ_INT(TPROC(&again, NULL, TRAIL, "export", "openlineage", "train"), 0);
    cJSON *second = parse_lines(again);
    const cJSON *s2 = find(second, "train", "START");
    T_CHECK(s2 && !strcmp(gs(get(s2, "run"), "runId"), gs(get(start, "run"), "runId")));
    T_CHECK(find(second, "broken", "FAIL") == NULL); /* only the run named */
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "export", "openlineage", "--since", "1h"), 0);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "export", "openlineage", "--since", "yesterday"), 2);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "export", "csv"), 2);
    cJSON_Delete(events);
    cJSON_Delete(second);
    free(out);
    free(again);
    free(sum);
}

/* A receiver on loopback: answers every request with status, keeps the bodies (one a line). */
static pid_t receiver(int *port, int status, const char *bodies)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    T_ASSERT(bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 64) == 0);
    getsockname(fd, (struct sockaddr *)&a, &al);
    *port = ntohs(a.sin_port);
    pid_t pid = fork();
    if (pid) {
        close(fd);
        return pid;
    }
    FILE *f = fopen(bodies, "w");
    for (;;) {
        int c = accept(fd, NULL, NULL);
        if (c < 0) continue;
        char buf[1 << 16];
        size_t got = 0;
        long want = -1;
        for (ssize_t n;
             got < sizeof buf - 1 && (n = read(c, buf + got, sizeof buf - 1 - got)) > 0;) {
            got += (size_t)n;
            buf[got] = 0;
            char *body = strstr(buf, "\r\n\r\n"), *cl = strcasestr(buf, "Content-Length:");
            if (body && cl) want = atol(cl + 15);
            if (body && want >= 0 && (long)(got - (size_t)(body + 4 - buf)) >= want) {
                fprintf(f, "%.*s\n", (int)want, body + 4);
                fflush(f);
                break;
            }
        }
        char reply[128];
        int rl =
            snprintf(reply, sizeof reply, "HTTP/1.1 %d X\r\nContent-Length: 0\r\n\r\n", status);
        if (write(c, reply, (size_t)rl) < 0) {
        }
        close(c);
    }
}

static void test_post(void)
{
    char bodies[700], url[128], *out = NULL, *err = NULL;
    int port;
    snprintf(bodies, sizeof bodies, "%s/received.ndjson", sandbox);
    pid_t r = receiver(&port, 201, bodies);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/lineage", port);
    T_EQ_INT(TPROC(NULL, &err, TRAIL, "export", "openlineage", "--url", url), 0);
    T_CHECK(err && strstr(err, "posted to"));
    free(err);
    T_EQ_INT(TPROC(&out, NULL, TRAIL, "export", "openlineage"), 0);
    kill(r, SIGKILL);
    waitpid(r, NULL, 0);
    char *got = NULL;
    T_EQ_INT(TPROC(&got, NULL, "cat", bodies), 0);
    cJSON *sent = parse_lines(got), *printed = parse_lines(out);
    T_EQ_INT(cJSON_GetArraySize(sent), cJSON_GetArraySize(printed));
    cJSON_Delete(sent);
    cJSON_Delete(printed);
    free(got);
    free(out);
    /* an endpoint that refuses: the export fails, saying so */
    r = receiver(&port, 500, bodies);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/lineage", port);
    err = NULL;
    T_EQ_INT(TPROC(NULL, &err, TRAIL, "export", "openlineage", "--url", url), 1);
    T_CHECK(err && strstr(err, "HTTP 500"));
    free(err);
    kill(r, SIGKILL);
    waitpid(r, NULL, 0);
}

int main(void)
{
    char lib[4096];
    snprintf(lib, sizeof lib, "%s/libtrail_preload.so",
             getenv("TRAIL_LIB") ? getenv("TRAIL_LIB") : "build/lib");
    if (access(lib, R_OK) != 0) T_SKIP_TEST("needs the capture shim");
    sandbox = tproc_sandbox();
    T_ASSERT(chdir(sandbox) == 0);
    snprintf(data_file, sizeof data_file, "%s/data.csv", sandbox);
    snprintf(out_file, sizeof out_file, "%s/model.txt", sandbox);
    FILE *f = fopen(data_file, "w");
    T_ASSERT(f && fputs("a,b\n1,2\n", f) >= 0 && fclose(f) == 0);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--experiment", "exp1", "--name", "train", "--", "cp",
                   data_file, out_file),
             0);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "broken", "--", "sh", "-c", "exit 3"), 3);
    T_RUN(test_events);
    T_RUN(test_post);
    return T_DONE();
}
