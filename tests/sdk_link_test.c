/* sdk_link_test.c - an SDK client built outside the tree (cc against trail.h and libtrail.so,
 * no rpath) runs under `trail run`: every point, the param, the final value, the status. */
#include <cjson/cJSON.h>
#include <math.h>
#include <sys/stat.h>

#include "tassert.h"
#include "tproc.h"

static const char *sandbox;
static char client[600];

static const char *src =
    "#include <signal.h>\n#include <stdlib.h>\n#include <string.h>\n#include <trail.h>\n"
    "int main(int argc, char **argv) {\n"
    "    if (trail_log_param(\"lr\", \"0.05\") != 0) return 90;\n"
    "    for (int i = 0; i < 1000; i++)\n"
    "        if (trail_log_metric(\"loss\", 1.0 / (i + 1), i) != 0) return 91;\n"
    "    if (argc > 1 && !strcmp(argv[1], \"kill\")) raise(SIGKILL);\n"
    "    return argc > 1 ? atoi(argv[1]) : 0;\n"
    "}\n";

static cJSON *json_of(char *const argv[])
{
    char *out = NULL;
    int st = tproc_run(argv, &out, NULL);
    cJSON *doc = st == 0 ? cJSON_Parse(out) : NULL;
    if (!doc) T_FAIL("no JSON from %s %s (exit %d)", argv[1], argv[2], st);
    free(out);
    return doc;
}

#define TRAIL (char *)tproc_bin("trail")

static void check_run(const char *name, const char *status, const char *field, int value)
{
    cJSON *m = json_of((char *const[]){TRAIL, "metrics", (char *)name, "--json", NULL});
    const cJSON *loss = cJSON_GetObjectItemCaseSensitive(m, "loss");
    T_EQ_INT(cJSON_GetArraySize(loss), 1000);
    const cJSON *last = cJSON_GetArrayItem(loss, 999);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(last, "value");
    T_CHECK(cJSON_IsNumber(v) && fabs(v->valuedouble - 1.0 / 1000) < 1e-15);
    cJSON_Delete(m);
    cJSON *r = json_of((char *const[]){TRAIL, "show", (char *)name, "--json", NULL});
    T_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "status")), status);
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(r, field);
    T_CHECK(cJSON_IsNumber(f) && f->valueint == value);
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(r, "params");
    T_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(params, "lr")), "0.05");
    cJSON_Delete(r);
}

static void test_external_client(void)
{
    char c[600], inc[600], lib[600];
    snprintf(c, sizeof c, "%s/client.c", sandbox);
    snprintf(client, sizeof client, "%s/client", sandbox);
    snprintf(inc, sizeof inc, "-I%s/sdk/include", getenv("TRAIL_SRC"));
    snprintf(lib, sizeof lib, "-L%s", getenv("TRAIL_LIB"));
    FILE *f = fopen(c, "w");
    T_ASSERT(f);
    fputs(src, f);
    fclose(f);
    T_ASSERT(TPROC(NULL, NULL, "cc", "-o", client, c, inc, lib, "-ltrail") == 0);
    /* no rpath, no LD_LIBRARY_PATH: trail run makes its own libtrail.so findable */
    unsetenv("LD_LIBRARY_PATH");
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "ok", "--", client), 0);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "three", "--", client, "3"), 3);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "killed", "--", client, "kill"), 137);
    check_run("ok", "finished", "exit_code", 0);
    check_run("three", "failed", "exit_code", 3);
    check_run("killed", "killed", "signal", 9);
}

int main(void)
{
    sandbox = tproc_sandbox();
    T_RUN(test_external_client);
    return T_DONE();
}
