/* roles_test.c - the one rule of input roles (store/roles.c): data, code and env by path and run,
 * and the dependency group of env files from a run's deps. */
#include <cjson/cJSON.h>
#include <string.h>

#include "roles.h"
#include "tassert.h"
#include "trail.h"

static void expect(const char *path, const char *role)
{
    const char *got = tr_role_name(tr_role_of(path, NULL));
    if (strcmp(got, role)) T_FAIL("%s: %s, want %s", path, got, role);
}

static void test_env(void)
{
    expect("/usr/lib/python3.11/os.py", "env");
    expect("/usr/lib/python3.11/__pycache__/os.cpython-311.pyc", "env");
    expect("/usr/lib/python3/dist-packages/sklearn/__init__.py", "env");
    expect("/usr/lib/python3/dist-packages/scikit_learn-1.2.1.egg-info/PKG-INFO", "env");
    expect("/home/u/.venv/lib/python3.11/site-packages/torch/lib/libtorch_cpu.so", "env");
    expect("/opt/conda/lib/python3.11/site-packages/numpy-1.26.0.dist-info/METADATA", "env");
    expect("/home/u/p/__pycache__/model.cpython-311.pyc", "env");
    expect("/usr/lib/x86_64-linux-gnu/libgomp.so.1", "env");
    expect("/etc/ssl/certs/ca-certificates.crt", "env");
    expect("/usr/share/zoneinfo/UTC", "env");
    expect("/usr/lib/locale/C.utf8/LC_CTYPE", "env");
    expect("/usr/share/matplotlib/mpl-data/fonts/ttf/DejaVuSans.ttf", "env");
    expect("/proc/self/maps", "env");
    expect("/usr/bin/python3.11", "env");
}

static void test_data(void)
{
    /* a data set a distribution ships under /usr is data, not env */
    expect("/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz", "data");
    expect("/usr/share/dict/words", "data");
    expect("/data/train.csv", "data");
    expect("/home/u/.cache/huggingface/hub/models--gpt2/blobs/abc", "data");
    expect("/dev/shm/batch-0", "data");
}

static void test_code(void)
{
    expect("/home/u/p/train.py", "code");
    expect("/home/u/p/nb.ipynb", "code");
    expect("/home/u/p/run.sh", "code");
    /* the script an interpreter runs, without an extension; other arguments are data */
    tr_role_ctx c = {
        .cwd = "/home/u/p", .argv = {"/usr/bin/python3", "-u", "train", "data.bin"}, .nargv = 4};
    T_EQ_INT(tr_role_of("/home/u/p/train", &c), TR_ROLE_CODE);
    T_EQ_INT(tr_role_of("/home/u/p/data.bin", &c), TR_ROLE_DATA);
    tr_role_ctx direct = {.cwd = "/w", .argv = {"./job", "/w/input"}, .nargv = 2};
    T_EQ_INT(tr_role_of("/w/job", &direct), TR_ROLE_CODE);
    T_EQ_INT(tr_role_of("/w/input", &direct), TR_ROLE_DATA);
}

static void test_groups(void)
{
    const char *deps_json =
        "[{\"path\":\"/usr/bin/python3.11\",\"kind\":\"interpreter\",\"version\":\"3.11.2\"},"
        "{\"path\":\"/usr/lib/python3/dist-packages/numpy-1.24.2.egg-info\",\"kind\":\"python\","
        "\"package\":\"numpy\",\"version\":\"1.24.2\"},"
        "{\"path\":\"/usr/lib/python3/dist-packages/scikit_learn-1.2.1.egg-info\","
        "\"kind\":\"python\",\"package\":\"scikit-learn\",\"version\":\"1.2.1\"},"
        "{\"path\":\"/usr/lib/python3/dist-packages/sklearn/_loss.cpython-311.so\","
        "\"kind\":\"dlopen\",\"package\":\"python3-sklearn-lib\",\"version\":\"1.2.1+dfsg-1\"},"
        "{\"path\":\"/lib/x86_64-linux-gnu/libc.so.6\",\"kind\":\"so\",\"package\":\"libc6\","
        "\"version\":\"2.36-9\"}]";
    cJSON *deps = cJSON_Parse(deps_json);
    T_ASSERT(deps);
    char g[256];
    tr_role_env_group("/usr/lib/python3/dist-packages/numpy/core/__pycache__/x.cpython-311.pyc",
                      deps, g, sizeof g);
    T_EQ_STR(g, "numpy=1.24.2");
    /* the import name differs from the distribution's: found through its shared object */
    tr_role_env_group("/usr/lib/python3/dist-packages/sklearn/base.py", deps, g, sizeof g);
    T_EQ_STR(g, "scikit-learn=1.2.1");
    tr_role_env_group("/usr/lib/python3.11/os.py", deps, g, sizeof g);
    T_EQ_STR(g, "python=3.11.2 (standard library)");
    tr_role_env_group("/lib/x86_64-linux-gnu/libc.so.6", deps, g, sizeof g);
    T_EQ_STR(g, "libc6=2.36-9");
    tr_role_env_group("/usr/lib/python3/dist-packages/six.py", deps, g, sizeof g);
    T_EQ_STR(g, "six (python module)");
    tr_role_env_group("/etc/ssl/certs/ca-certificates.crt", deps, g, sizeof g);
    T_EQ_STR(g, "certificates");
    cJSON_Delete(deps);
}

int main(void)
{
    T_RUN(test_env);
    T_RUN(test_data);
    T_RUN(test_code);
    T_RUN(test_groups);
    return T_DONE();
}
