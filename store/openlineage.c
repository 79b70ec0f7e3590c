/* openlineage.c - a run as OpenLineage RunEvents (spec 2-0-2): START and COMPLETE/FAIL/ABORT for
 * the run and, as child runs with the parent facet, for each of its processes. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_int.h"
#include "trail.h"
#include "util.h"

#define OL_PRODUCER "urn:trail:" TRAIL_VERSION /* a URI naming the producer and its version */
#define OL_EVENT_SCHEMA "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
#define OL_FACETS "https://openlineage.io/spec/facets/"

static const char *str(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* ms since the epoch of an RFC 3339 UTC time as the store writes it (0 when unreadable). */
static int64_t time_ms(const char *t)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int us = 0;
    if (!t || sscanf(t, "%d-%d-%dT%d:%d:%d.%6dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                     &tm.tm_min, &tm.tm_sec, &us) < 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + us / 1000;
}

void tr_store_uuid7(int64_t ms, const char *seed, uint64_t salt, char out[37])
{
    uint64_t a = tr_hash64_more(tr_hash64_str(TR_HASH64_INIT, seed), &salt, sizeof salt);
    uint64_t b = tr_hash64_more(a, "trail", 5);
    uint8_t u[16];
    for (int i = 0; i < 6; i++)
        u[i] = (uint8_t)((uint64_t)ms >> (8 * (5 - i))); /* 48 bits: unix ms */
    u[6] = (uint8_t)(0x70 | (a & 0x0f));                 /* version 7 */
    u[7] = (uint8_t)(a >> 8);
    u[8] = (uint8_t)(0x80 | ((b >> 56) & 0x3f)); /* variant 10 */
    for (int i = 9; i < 16; i++)
        u[i] = (uint8_t)(b >> (8 * (15 - i)));
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
             u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
             u[14], u[15]);
}

/* A facet object with the two fields every facet carries. */
static cJSON *facet(cJSON *parent, const char *key, const char *schema)
{
    char url[256];
    snprintf(url, sizeof url, OL_FACETS "%s", schema);
    cJSON *f = cJSON_AddObjectToObject(parent, key);
    cJSON_AddStringToObject(f, "_producer", OL_PRODUCER);
    cJSON_AddStringToObject(f, "_schemaURL", url);
    return f;
}

/* A file as a dataset: namespace "file" (shared paths) or "file://HOST" (node-local ones). */
static cJSON *dataset(const cJSON *file)
{
    cJSON *d = cJSON_CreateObject();
    const char *host = str(file, "host"), *version = str(file, "version");
    char ns[300] = "file";
    if (host && *host) snprintf(ns, sizeof ns, "file://%s", host);
    cJSON_AddStringToObject(d, "namespace", ns);
    cJSON_AddStringToObject(d, "name", str(file, "path") ? str(file, "path") : "");
    cJSON *facets = cJSON_AddObjectToObject(d, "facets");
    if (version && *version)
        cJSON_AddStringToObject(facet(facets, "version", "1-0-0/DatasetVersionDatasetFacet.json"),
                                "datasetVersion", version);
    return d;
}

/* The run's data and code files: env files (interpreters, libraries, caches) are left out
 * unless all, by their role when the store gives one, else by the system-path rule. */
static cJSON *datasets(const cJSON *files, int all)
{
    cJSON *arr = cJSON_CreateArray(), *f;
    cJSON_ArrayForEach(f, files)
    {
        const char *role = str(f, "role"), *path = str(f, "path");
        if (!path || (!all && (role ? !strcmp(role, "env") : tr_store_is_system_path(path))))
            continue;
        cJSON_AddItemToArray(arr, dataset(f));
    }
    return arr;
}

static const char *end_type(const char *status)
{
    if (!status || !strcmp(status, "running")) return NULL;
    if (!strcmp(status, "finished")) return "COMPLETE";
    if (!strcmp(status, "killed") || !strcmp(status, "lost")) return "ABORT";
    return "FAIL"; /* failed, crashed */
}

/* The end's reason for errorMessage: exit code or signal, the crash's backtrace. */
static void error_facet(cJSON *facets, const cJSON *run, const cJSON *crash)
{
    char msg[160];
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(run, "exit_code");
    const cJSON *sig = cJSON_GetObjectItemCaseSensitive(run, "signal");
    if (cJSON_IsNumber(sig) && sig->valueint)
        snprintf(msg, sizeof msg, "%s: signal %d", str(run, "status"), sig->valueint);
    else
        snprintf(msg, sizeof msg, "%s: exit %d", str(run, "status"),
                 cJSON_IsNumber(code) ? code->valueint : -1);
    cJSON *f = facet(facets, "errorMessage", "1-0-0/ErrorMessageRunFacet.json");
    cJSON_AddStringToObject(f, "message", msg);
    cJSON_AddStringToObject(f, "programmingLanguage", "native"); /* recorded from outside */
    const char *bt = crash ? str(crash, "backtrace") : NULL;
    if (bt) cJSON_AddStringToObject(f, "stackTrace", bt);
}

/* Facets of the job: where its code came from (git), and what kind of job it is. */
static void job_facets(cJSON *facets, const cJSON *tags, const cJSON *deps)
{
    const char *commit = str(tags, "git.commit");
    const cJSON *d;
    cJSON *f = facet(facets, "jobType", "2-0-4/JobTypeJobFacet.json");
    cJSON_AddStringToObject(f, "processingType", "BATCH");
    cJSON_AddStringToObject(f, "integration", "TRAIL");
    cJSON_AddStringToObject(f, "jobType", "JOB");
    if (!commit) return;
    cJSON_ArrayForEach(d, deps)
    {
        const char *kind = str(d, "kind"), *root = str(d, "path");
        if (!kind || strcmp(kind, "git") || !root) continue;
        char url[4200];
        snprintf(url, sizeof url, "file://%s", root);
        f = facet(facets, "sourceCodeLocation", "1-0-1/SourceCodeLocationJobFacet.json");
        cJSON_AddStringToObject(f, "type", "git");
        cJSON_AddStringToObject(f, "url", url);
        cJSON_AddStringToObject(f, "repoUrl", url);
        cJSON_AddStringToObject(f, "version", commit);
        if (str(tags, "git.branch")) cJSON_AddStringToObject(f, "branch", str(tags, "git.branch"));
        return;
    }
}

static cJSON *event(const char *type, const char *time, const char *uuid, const char *ns,
                    const char *job)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "eventType", type);
    cJSON_AddStringToObject(e, "eventTime", time);
    cJSON_AddStringToObject(e, "producer", OL_PRODUCER);
    cJSON_AddStringToObject(e, "schemaURL", OL_EVENT_SCHEMA);
    cJSON *r = cJSON_AddObjectToObject(e, "run");
    cJSON_AddStringToObject(r, "runId", uuid);
    cJSON_AddObjectToObject(r, "facets");
    cJSON *j = cJSON_AddObjectToObject(e, "job");
    cJSON_AddStringToObject(j, "namespace", ns);
    cJSON_AddStringToObject(j, "name", job);
    cJSON_AddObjectToObject(j, "facets");
    return e;
}

static cJSON *run_facets(cJSON *e)
{
    return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(e, "run"), "facets");
}

static cJSON *job_facets_of(cJSON *e)
{
    return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(e, "job"), "facets");
}

/* The engine, and the environment as recorded (secret values were withheld at the source). */
static void common_run_facets(cJSON *facets, const cJSON *env)
{
    cJSON *f = facet(facets, "processing_engine", "1-1-0/ProcessingEngineRunFacet.json");
    cJSON_AddStringToObject(f, "version", TRAIL_VERSION);
    cJSON_AddStringToObject(f, "name", "trail");
    cJSON_AddStringToObject(f, "openlineageAdapterVersion", TRAIL_VERSION);
    if (!env) return;
    f = facet(facets, "environmentVariables", "1-0-0/EnvironmentVariablesRunFacet.json");
    cJSON *arr = cJSON_AddArrayToObject(f, "environmentVariables");
    const cJSON *v;
    cJSON_ArrayForEach(v, env)
    {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", v->string);
        cJSON_AddStringToObject(o, "value", cJSON_IsString(v) ? v->valuestring : "[redacted]");
        cJSON_AddItemToArray(arr, o);
    }
}

/* START and end events of one process, a child run of the run's. */
static void process_events(cJSON *out, const cJSON *p, const char *run_uuid, const char *ns,
                           const char *job, const char *run_id)
{
    char uuid[37], name[600];
    const cJSON *pid = cJSON_GetObjectItemCaseSensitive(p, "pid");
    const char *exe = str(p, "exe"), *base = exe ? strrchr(exe, '/') : NULL;
    const char *start = str(p, "started_at"), *end = str(p, "ended_at");
    if (!cJSON_IsNumber(pid) || !start) return;
    tr_store_uuid7(time_ms(start), run_id, (uint64_t)pid->valuedouble + 1, uuid);
    snprintf(name, sizeof name, "%.500s.%.90s", job, base ? base + 1 : exe ? exe : "process");
    for (int k = 0; k < 2; k++) {
        const char *status = str(p, "status");
        const cJSON *sig = cJSON_GetObjectItemCaseSensitive(p, "signal");
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(p, "exit_code");
        const char *type = !k                                          ? "START"
                           : !end                                      ? NULL
                           : cJSON_IsNumber(sig) && sig->valueint      ? "FAIL"
                           : cJSON_IsNumber(code) && code->valueint    ? "FAIL"
                           : status && !strcmp(status, "not captured") ? "OTHER"
                                                                       : "COMPLETE";
        if (!type) return;
        cJSON *e = event(type, k ? end : start, uuid, ns, name);
        cJSON *pf = facet(run_facets(e), "parent", "1-0-1/ParentRunFacet.json");
        cJSON_AddStringToObject(cJSON_AddObjectToObject(pf, "run"), "runId", run_uuid);
        cJSON *pj = cJSON_AddObjectToObject(pf, "job");
        cJSON_AddStringToObject(pj, "namespace", ns);
        cJSON_AddStringToObject(pj, "name", job);
        cJSON_AddItemToArray(out, e);
    }
}

int tr_store_openlineage_json(tr_store *s, const char *run_id, int all_files, cJSON **out)
{
    cJSON *run = NULL;
    *out = NULL;
    int rc = tr_store_run_json(s, run_id, &run);
    if (rc) return rc;
    char uuid[37], job[600];
    const char *exp = str(run, "experiment"), *name = str(run, "name");
    const char *start = str(run, "started_at"), *end = str(run, "ended_at");
    const cJSON *argv0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(run, "argv"), 0);
    const char *cmd = cJSON_GetStringValue(argv0), *base = cmd ? strrchr(cmd, '/') : NULL;
    const char *ns = exp && *exp ? exp : "trail";
    snprintf(job, sizeof job, "%s", name && *name ? name : base ? base + 1 : cmd ? cmd : run_id);
    tr_store_uuid7(time_ms(start), run_id, 0, uuid);
    cJSON *events = cJSON_CreateArray();
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(run, "tags");
    const cJSON *deps = cJSON_GetObjectItemCaseSensitive(run, "deps");
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(run, "inputs");
    const cJSON *outputs = cJSON_GetObjectItemCaseSensitive(run, "outputs");
    /* START carries what the run read; the end carries both (a consumer may see either). */
    cJSON *e = event("START", start ? start : "1970-01-01T00:00:00Z", uuid, ns, job);
    common_run_facets(run_facets(e), cJSON_GetObjectItemCaseSensitive(run, "env"));
    job_facets(job_facets_of(e), tags, deps);
    cJSON_AddItemToObject(e, "inputs", datasets(inputs, all_files));
    cJSON_AddItemToArray(events, e);
    const char *type = end_type(str(run, "status"));
    if (type) {
        e = event(type, end ? end : start, uuid, ns, job);
        common_run_facets(run_facets(e), NULL);
        job_facets(job_facets_of(e), tags, deps);
        if (strcmp(type, "COMPLETE"))
            error_facet(run_facets(e), run, cJSON_GetObjectItemCaseSensitive(run, "crash"));
        cJSON_AddItemToObject(e, "inputs", datasets(inputs, all_files));
        cJSON_AddItemToObject(e, "outputs", datasets(outputs, all_files));
        cJSON_AddItemToArray(events, e);
    }
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(run, "processes"))
        process_events(events, p, uuid, ns, job, run_id);
    cJSON_Delete(run);
    *out = events;
    return 0;
}
