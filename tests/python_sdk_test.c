/* python_sdk_test.c - the Python package `trail` (sdk/python) in /usr/bin/python3 scripts under
 * the real `trail run`: what they log lands in the store; immutable params; a failing block's
 * traceback; input roles of an sklearn job in `trail show` and `trail lineage`. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "tassert.h"
#include "tproc.h"

#define PY "/usr/bin/python3"

static const char *sandbox;

static const char *in_box(const char *name)
{
    static char buf[8][512];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 512, "%s/%s", sandbox, name);
    return p;
}

static void write_script(const char *name, const char *text)
{
    FILE *f = fopen(in_box(name), "w");
    T_ASSERT(f);
    fputs(text, f);
    fclose(f);
}

static const cJSON *item(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static const char *jstr(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(item(o, k));
}

/* The line of out that starts with prefix, copied into buf (without the prefix), or NULL. */
static const char *line_value(const char *out, const char *prefix, char *buf, size_t n)
{
    for (const char *p = out; p && *p;) {
        size_t l = strcspn(p, "\n");
        if (!strncmp(p, prefix, strlen(prefix))) {
            snprintf(buf, n, "%.*s", (int)(l - strlen(prefix)), p + strlen(prefix));
            return buf;
        }
        p += l + (p[l] == '\n');
    }
    return NULL;
}

/* Runs `trail run [--param PARAM] -- python3 SCRIPT` in the sandbox; returns its exit status. */
static int trail_run_py(const char *script, const char *param, char **out, char **err)
{
    char *argv[8];
    int k = 0;
    argv[k++] = (char *)tproc_bin("trail");
    argv[k++] = "run";
    if (param) {
        argv[k++] = "--param";
        argv[k++] = (char *)param;
    }
    argv[k++] = "--";
    argv[k++] = PY;
    argv[k++] = (char *)in_box(script);
    argv[k] = NULL;
    return tproc_run(argv, out, err);
}

static cJSON *run_doc(const char *id)
{
    tr_store *s = NULL;
    char err[256];
    cJSON *doc = NULL;
    T_ASSERT_OK(tr_store_open(getenv("TRAIL_STORE"), TR_STORE_READONLY, &s, err, sizeof err));
    T_OK(tr_store_run_json(s, id, &doc));
    tr_store_close(s);
    T_ASSERT(doc);
    return doc;
}

static cJSON *metrics_doc(const char *id)
{
    tr_store *s = NULL;
    char err[256];
    cJSON *doc = NULL;
    T_ASSERT_OK(tr_store_open(getenv("TRAIL_STORE"), TR_STORE_READONLY, &s, err, sizeof err));
    T_OK(tr_store_metrics_json(s, id, &doc));
    tr_store_close(s);
    T_ASSERT(doc);
    return doc;
}

static const char api_script[] =
    "import os, trail\n"
    "r = trail.active_run()\n"
    "print('env-id', os.environ['TRAIL_RUN_ID'])\n"
    "print('active-id', r.id if r else None)\n"
    "with trail.start_run(name='pyapi', params={'lr': 0.1, 'layers': 3},\n"
    "                     tags={'team': 'vision'}) as run:\n"
    "    print('run-id', run.id)\n"
    "    for epoch in range(3):\n"
    "        trail.log_metric('loss', 1.0 / (epoch + 1))\n"
    "    trail.log_metrics({'acc': 0.5, 'f1': 0.25}, step=10)\n"
    "    trail.log_metric('acc', 0.75, step=20)\n"
    "    trail.log_param('lr', 0.1)\n"
    "    trail.log_params({'seed': 7})\n"
    "    trail.set_tag('stage', 'dev')\n"
    "    trail.set_tags({'owner': 'me'})\n"
    "    for key, value in (('lr', 0.5), ('batch', 64)):\n"
    "        try:\n"
    "            trail.log_param(key, value)\n"
    "            print('param-ok', key)\n"
    "        except trail.TrailError as e:\n"
    "            print('param-error', e.name, e.code, e.message)\n"
    "    try:\n"
    "        trail.log_metric('bad key!', 1.0)\n"
    "    except trail.TrailError as e:\n"
    "        print('key-error', e.name)\n"
    "    trail.log_input('in.csv')\n"
    "    open('model.bin', 'wb').write(b'w' * 10)\n"
    "    trail.log_output('model.bin')\n"
    "    trail.flush()\n";

/* params, metrics (steps), tags, inputs and outputs in the store; params immutable (a
 * --param counts as logged); TrailError on a bad key; active_run is the launcher's run. */
static void test_api(void)
{
    write_script("api.py", api_script);
    write_script("in.csv", "a,b\n1,2\n"); /* a data set the script reads */
    char *out = NULL, *err = NULL, env_id[64], active[64], run_id[64], v[256];
    T_ASSERT(chdir(sandbox) == 0);
    int st = trail_run_py("api.py", "batch=32", &out, &err);
    if (st != 0) T_FAIL("trail run api.py: exit %d\n%s\n%s", st, out, err);
    T_ASSERT(line_value(out, "env-id ", env_id, sizeof env_id));
    T_ASSERT(line_value(out, "active-id ", active, sizeof active));
    T_ASSERT(line_value(out, "run-id ", run_id, sizeof run_id));
    T_EQ_INT((int)strlen(env_id), 32);
    T_EQ_STR(active, env_id); /* joined before start_run */
    T_EQ_STR(run_id, env_id);
    /* lr again with another value, and batch given by --param batch=32: both refused */
    T_EQ_STR(line_value(out, "param-error TRAIL_EPARAM -23 param 'lr'", v, sizeof v),
             " already logged as '0.1'");
    T_EQ_STR(line_value(out, "param-error TRAIL_EPARAM -23 param 'batch'", v, sizeof v),
             " already logged as '32'");
    T_CHECK(!strstr(out, "param-ok"));
    T_ASSERT(line_value(out, "key-error ", v, sizeof v));
    T_EQ_STR(v, "TRAIL_EKEY");

    cJSON *doc = run_doc(run_id);
    T_EQ_STR(jstr(doc, "name"), "pyapi");
    T_EQ_STR(jstr(doc, "status"), "finished");
    const cJSON *params = item(doc, "params"), *tags = item(doc, "tags");
    T_EQ_STR(jstr(params, "lr"), "0.1");
    T_EQ_STR(jstr(params, "layers"), "3");
    T_EQ_STR(jstr(params, "seed"), "7");
    T_EQ_STR(jstr(params, "batch"), "32");
    T_CHECK(!item(tags, "trail.param_conflicts")); /* the SDK refused them: nothing was sent */
    T_EQ_STR(jstr(tags, "team"), "vision");
    T_EQ_STR(jstr(tags, "stage"), "dev");
    T_EQ_STR(jstr(tags, "owner"), "me");
    int in_csv = 0, model = 0;
    const cJSON *f;
    cJSON_ArrayForEach(f, item(doc, "inputs"))
    {
        const char *p = jstr(f, "path");
        if (p && strstr(p, "/in.csv")) in_csv = !strcmp(jstr(f, "role"), "data");
        T_CHECK(jstr(f, "role") != NULL);
    }
    cJSON_ArrayForEach(f, item(doc, "outputs"))
    {
        const char *p = jstr(f, "path");
        if (p && strstr(p, "/model.bin")) model = 1;
    }
    T_CHECK(in_csv);
    T_CHECK(model);
    cJSON_Delete(doc);

    cJSON *m = metrics_doc(run_id);
    const cJSON *loss = item(m, "loss"), *acc = item(m, "acc");
    T_EQ_INT(cJSON_GetArraySize(loss), 3);
    for (int i = 0; i < 3; i++) { /* step None: 0, 1, 2 */
        const cJSON *p = cJSON_GetArrayItem(loss, i);
        T_EQ_INT((int)item(p, "step")->valuedouble, i);
        T_CHECK(item(p, "value")->valuedouble == 1.0 / (i + 1));
    }
    T_EQ_INT(cJSON_GetArraySize(acc), 2);
    T_EQ_INT((int)item(cJSON_GetArrayItem(acc, 0), "step")->valuedouble, 10);
    T_EQ_INT((int)item(cJSON_GetArrayItem(acc, 1), "step")->valuedouble, 20);
    T_CHECK(item(cJSON_GetArrayItem(item(m, "f1"), 0), "value")->valuedouble == 0.25);
    cJSON_Delete(m);
    free(out);
    free(err);
}

/* An exception inside `with trail.start_run()`: the run fails, the exception's type and
 * traceback are the tags trail.exception and trail.traceback. */
static void test_failure(void)
{
    write_script("fail.py", "import trail\n"
                            "def train():\n"
                            "    raise ValueError('diverged at epoch 3')\n"
                            "with trail.start_run(name='pyfail') as run:\n"
                            "    print('run-id', run.id)\n"
                            "    trail.log_metric('loss', 0.5)\n"
                            "    train()\n");
    char *out = NULL, *err = NULL, run_id[64];
    int st = trail_run_py("fail.py", NULL, &out, &err);
    T_EQ_INT(st, 1);
    T_ASSERT(line_value(out, "run-id ", run_id, sizeof run_id));
    T_CHECK(strstr(err, "ValueError: diverged at epoch 3") != NULL); /* still shown */
    cJSON *doc = run_doc(run_id);
    T_EQ_STR(jstr(doc, "status"), "failed");
    const cJSON *tags = item(doc, "tags");
    T_EQ_STR(jstr(tags, "trail.exception"), "ValueError: diverged at epoch 3");
    T_EQ_STR(jstr(tags, "trail.sdk_end_status"), "failed");
    const char *tb = jstr(tags, "trail.traceback");
    T_CHECK(tb && strstr(tb, "Traceback (most recent call last):") && strstr(tb, "in train") &&
            strstr(tb, "ValueError: diverged at epoch 3"));
    cJSON_Delete(doc);
    free(out);
    free(err);
}

/* Two processes of one run log lr with different values: each SDK accepts its own, the store
 * keeps the first it ingests and counts the other as a conflict. */
static void test_store_authority(void)
{
    write_script("p1.py", "import trail\ntrail.log_param('lr', '0.1')\n");
    write_script("p2.py", "import trail, os\ntrail.log_param('lr', '0.2')\n"
                          "print('run-id', os.environ['TRAIL_RUN_ID'])\n");
    char cmd[2048], *out = NULL, *err = NULL, run_id[64];
    snprintf(cmd, sizeof cmd, "%s %s && %s %s", PY, in_box("p1.py"), PY, in_box("p2.py"));
    int st = TPROC(&out, &err, (char *)tproc_bin("trail"), "run", "--", "/bin/sh", "-c", cmd);
    if (st != 0) T_FAIL("two processes: exit %d\n%s", st, err);
    T_ASSERT(line_value(out, "run-id ", run_id, sizeof run_id));
    cJSON *doc = run_doc(run_id);
    const char *lr = jstr(item(doc, "params"), "lr");
    T_CHECK(lr && (!strcmp(lr, "0.1") || !strcmp(lr, "0.2")));
    T_EQ_STR(jstr(item(doc, "tags"), "trail.param_conflicts"), "1");
    const char *other = jstr(item(doc, "tags"), "trail.param_conflict.lr");
    T_CHECK(other && lr && strcmp(other, lr) && (!strcmp(other, "0.1") || !strcmp(other, "0.2")));
    cJSON_Delete(doc);
    free(out);
    free(err);
}

/* An sklearn job: its inputs start with the data set sklearn ships under /usr, no .pyc is
 * listed without --all, and lineage shows the data set. */
static void test_sklearn_roles(void)
{
    if (TPROC(NULL, NULL, PY, "-c", "import sklearn.datasets") != 0) {
        T_SKIP("python3-sklearn is not installed");
        return;
    }
    write_script("digits.py", "import pickle\n"
                              "from sklearn.datasets import load_digits\n"
                              "from sklearn.linear_model import LogisticRegression\n"
                              "X, y = load_digits(return_X_y=True)\n"
                              "m = LogisticRegression(max_iter=50).fit(X[:300], y[:300])\n"
                              "with open('model.pkl', 'wb') as f:\n"
                              "    pickle.dump(m, f)\n"
                              "import os\n"
                              "print('run-id', os.environ['TRAIL_RUN_ID'])\n");
    char *out = NULL, *err = NULL, run_id[64], first[4096];
    int st = trail_run_py("digits.py", NULL, &out, &err);
    if (st != 0) T_FAIL("digits.py: exit %d\n%s", st, err);
    T_ASSERT(line_value(out, "run-id ", run_id, sizeof run_id));
    free(out);
    free(err);

    st = TPROC(&out, &err, (char *)tproc_bin("trail"), "show", run_id);
    T_EQ_INT(st, 0);
    /* the first input listed is the data set */
    const char *in = strstr(out, "\ninputs: data (");
    T_ASSERT(in);
    in = strchr(in + 1, '\n');
    T_ASSERT(in);
    snprintf(first, sizeof first, "%.*s", (int)strcspn(in + 1, "\n"), in + 1);
    T_CHECK(strstr(first, "/sklearn/datasets/data/digits.csv.gz") != NULL);
    T_CHECK(!strstr(out, ".pyc"));
    T_CHECK(!strstr(out, "__pycache__"));
    T_CHECK(strstr(out, "\ninputs: code (") && strstr(out, "digits.py"));
    T_CHECK(strstr(out, "\ninputs: env (") && strstr(out, "scikit-learn="));
    free(out);
    free(err);

    st = TPROC(&out, &err, (char *)tproc_bin("trail"), "show", "--all", run_id);
    T_EQ_INT(st, 0);
    T_CHECK(strstr(out, ".pyc") != NULL); /* --all lists everything */
    free(out);
    free(err);

    cJSON *doc = run_doc(run_id);
    int n = 0, data = 0;
    const cJSON *f;
    cJSON_ArrayForEach(f, item(doc, "inputs"))
    {
        const char *role = jstr(f, "role"), *p = jstr(f, "path");
        T_CHECK(role && (!strcmp(role, "data") || !strcmp(role, "code") || !strcmp(role, "env")));
        if (p && strstr(p, ".pyc")) T_EQ_STR(role, "env");
        if (p && strstr(p, "digits.csv.gz")) data = !strcmp(role, "data");
        n++;
    }
    T_CHECK(n > 50 && data);
    cJSON_Delete(doc);

    st = TPROC(&out, &err, (char *)tproc_bin("trail"), "lineage", run_id);
    T_EQ_INT(st, 0);
    T_CHECK(strstr(out, "digits.csv.gz") != NULL);
    T_CHECK(strstr(out, "model.pkl") != NULL);
    T_CHECK(!strstr(out, ".pyc"));
    free(out);
    free(err);
}

/* `pip install sdk/python` needs no network: pip builds the wheel in an isolated environment
 * with nothing to fetch (the in-tree backend), here with every index turned off. */
static void test_pip_offline(void)
{
    if (TPROC(NULL, NULL, PY, "-m", "pip", "--version") != 0) {
        T_SKIP("pip is not installed for %s", PY);
        return;
    }
    char src[4096], wheel[512], *out = NULL, *err = NULL;
    unsetenv("PIP_FIND_LINKS"); /* no local wheel directory either */
    unsetenv("PIP_INDEX_URL");
    snprintf(src, sizeof src, "%s/sdk/python", getenv("TRAIL_SRC") ? getenv("TRAIL_SRC") : ".");
    snprintf(wheel, sizeof wheel, "%s/wheels", sandbox);
    int st = TPROC(&out, &err, PY, "-m", "pip", "wheel", "--no-index", "--no-deps", "-q", "-w",
                   wheel, src);
    if (st != 0) T_FAIL("pip wheel: exit %d\n%s\n%s", st, out, err);
    free(out);
    free(err);
    /* the wheel holds the package, and imports from it alone */
    char whl[600], code[1200];
    snprintf(whl, sizeof whl, "%s/trail-0.1.0-py3-none-any.whl", wheel);
    T_CHECK(access(whl, R_OK) == 0);
    snprintf(code, sizeof code,
             "import sys; sys.path.insert(0, '%s'); import trail; print(trail.__file__)", whl);
    st = TPROC(&out, &err, PY, "-c", code);
    T_EQ_INT(st, 0);
    T_CHECK(out && strstr(out, ".whl/trail/__init__.py"));
    free(out);
    free(err);
}

int main(void)
{
    if (access(PY, X_OK) != 0) T_SKIP_TEST("%s is not installed", PY);
    sandbox = tproc_sandbox();
    char pp[4096];
    const char *src = getenv("TRAIL_SRC");
    snprintf(pp, sizeof pp, "%s/sdk/python", src ? src : ".");
    setenv("PYTHONPATH", pp, 1);
    setenv("PYTHONDONTWRITEBYTECODE", "1", 1); /* the source tree stays clean */
    T_RUN(test_api);
    T_RUN(test_failure);
    T_RUN(test_store_authority);
    T_RUN(test_sklearn_roles);
    T_RUN(test_pip_offline);
    return T_DONE();
}
