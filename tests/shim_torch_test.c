/* shim_torch_test.c - PyTorch DataLoader workers under `trail run`: files read in workers. */
/* PyTorch DataLoader(num_workers=2) under `trail run`: the files read inside the forked worker
 * processes are recorded and attributed to those workers, and the loss the loop prints each
 * epoch becomes a metric at the epoch's step. SKIP without torch. */
#include "shim_util.h"

int main(void)
{
    (void)tproc_test_bin;
    if (TPROC(NULL, NULL, "/usr/bin/python3", "-c", "import torch") != 0)
        T_SKIP_TEST("/usr/bin/python3 cannot import torch");
    const char *sandbox = tproc_sandbox();
    char script[4200], data[4200], model[4200];
    const char *src = getenv("TRAIL_SRC");
    snprintf(script, sizeof script, "%s/tests/device/torch_dataloader.py", src ? src : ".");
    snprintf(data, sizeof data, "%s/data", sandbox);
    snprintf(model, sizeof model, "%s/model.pt", sandbox);
    char *out = NULL;
    T_EQ_INT(SHU_TRAIL("torch", &out, "/usr/bin/python3", script, data, model, "64", "2"), 0);
    T_CHECK(out && strstr(out, "epoch 2 loss="));
    free(out);

    /* the unmodified loop's printed losses are metrics: one point an epoch, at the epoch */
    char *mj = NULL;
    T_EQ_INT(TPROC(&mj, NULL, (char *)tproc_bin("trail"), "metrics", "torch", "--json"), 0);
    cJSON *m = mj ? cJSON_Parse(mj) : NULL, *pt;
    const cJSON *loss = cJSON_GetObjectItemCaseSensitive(m, "loss");
    T_EQ_INT(cJSON_GetArraySize(loss), 3);
    int epoch = 0;
    cJSON_ArrayForEach(pt, loss)
    {
        T_EQ_INT(cJSON_GetObjectItemCaseSensitive(pt, "step")->valuedouble, epoch);
        T_CHECK(cJSON_GetObjectItemCaseSensitive(pt, "value")->valuedouble > 0);
        epoch++;
    }
    T_CHECK(!cJSON_GetObjectItemCaseSensitive(m, "device"));
    cJSON_Delete(m);
    free(mj);

    cJSON *run = shu_show("torch");
    T_ASSERT(run != NULL);
    T_EQ_STR(cJSON_GetObjectItemCaseSensitive(run, "status")->valuestring, "finished");
    T_CHECK(shu_entry(run, "outputs", model) != NULL);
    long long root = (long long)cJSON_GetObjectItemCaseSensitive(run, "pid")->valuedouble;
    cJSON_Delete(run);

    /* every sample was read in a worker (a forked child of the training process), each epoch */
    const char *events =
        "FROM events e JOIN artifact_versions v ON v.id = e.version_id"
        " JOIN artifacts a ON a.id = v.artifact_id JOIN runs r ON r.id = e.run_id"
        " WHERE r.name = 'torch' AND a.path LIKE '%%/data/sample!_%%.bin' ESCAPE '!'"
        " AND e.role = 'input' AND e.bytes_read = 128";
    T_EQ_INT(shu_sql("SELECT count(DISTINCT a.path) %s AND e.pid != %lld", events, root), 64);
    T_EQ_INT(shu_sql("SELECT count(*) %s AND e.pid != %lld", events, root), 64 * 3);
    T_CHECK(shu_sql("SELECT count(DISTINCT e.pid) %s AND e.pid IN (SELECT pid FROM processes p"
                    " WHERE p.run_id = e.run_id AND p.ppid = %lld)",
                    events, root) >= 2);
    T_EQ_INT(shu_sql("SELECT count(*) %s AND e.pid = %lld", events, root), 0);
    /* Python's extension modules arrive through dlopen: dependencies of the run */
    T_CHECK(shu_sql("SELECT count(*) FROM deps d JOIN runs r ON r.id = d.run_id WHERE"
                    " r.name = 'torch' AND d.kind = 'dlopen' AND d.path LIKE '%%torch%%'") > 0);
    if (!tassert_failures) shu_rm_rf(sandbox);
    return T_DONE();
}
