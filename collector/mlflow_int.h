/* mlflow_int.h - internals of the MLflow API shared by mlflow.c (requests, routing),
 * mlflow_exp.c (experiments), mlflow_runs.c (runs and logging) and mlflow_search.c (the runs
 * search). */
#ifndef TR_MLFLOW_INT_H
#define TR_MLFLOW_INT_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct cJSON;

/* MLflow's limits (mlflow/utils/validation.py, REST API "Request Limits"). */
#define MLF_MAX_KEY 250
#define MLF_MAX_PARAM_VALUE 6000
#define MLF_MAX_TAG_VALUE 8000
#define MLF_MAX_EXP_NAME 500
#define MLF_BATCH_METRICS 1000
#define MLF_BATCH_PARAMS 100
#define MLF_BATCH_TAGS 100
#define MLF_BATCH_ENTITIES 1000
#define MLF_BATCH_BYTES 1000000
#define MLF_SEARCH_MAX 50000 /* max_results accepted */
#define MLF_PAGE_MAX 1000    /* runs per page answered (a next_page_token brings the rest) */

/* One request: its parameters (the JSON body of a POST, or the query string of a GET as an
 * object of strings), and the answer. */
typedef struct mlf_req {
    tr_store *s;
    struct cJSON *in;
    size_t body_len;
    int64_t now_ns;
    int status;
    struct cJSON *doc;
} mlf_req;

/* Answers {"error_code": code, "message": ...} with status; returns -1. */
int mlf_fail(mlf_req *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* INVALID_PARAMETER_VALUE (400). */
#define mlf_invalid(r, ...) mlf_fail(r, 400, "INVALID_PARAMETER_VALUE", __VA_ARGS__)
/* A store error: TRAIL_ENOTFOUND 404 RESOURCE_DOES_NOT_EXIST, TRAIL_EINVAL 400, else 500. */
int mlf_store_fail(mlf_req *r, int rc);
/* The answer doc (200); returns 0. */
int mlf_ok(mlf_req *r, struct cJSON *doc);

/* A string parameter: 1 with *v, 0 absent (or null), -1 not a string (answered). */
int mlf_str(mlf_req *r, const struct cJSON *o, const char *name, const char **v);
/* A required string parameter: 0, or -1 answered ("Missing value for required parameter"). */
int mlf_need(mlf_req *r, const struct cJSON *o, const char *name, const char **v);
/* An int64 parameter given as a number or a decimal string: 1, 0 absent, -1 answered. */
int mlf_int(mlf_req *r, const struct cJSON *o, const char *name, int64_t *v);
/* The latest time in milliseconds whose nanoseconds fit int64 (in 2262). */
#define MLF_MAX_MS (INT64_MAX / 1000000)
/* A time in milliseconds since the epoch (mlf_int in [0, MLF_MAX_MS]): 1, 0 absent, -1
 * answered (INVALID_PARAMETER_VALUE). */
int mlf_ms(mlf_req *r, const struct cJSON *o, const char *name, int64_t *v);
/* max_results in [1, max] (default def) and page_token (an offset) into *limit and *offset. */
int mlf_paging(mlf_req *r, int64_t def, int64_t max, int *limit, int64_t *offset);
/* Checks an entity key (metric, param or tag name) as MLflow does; 0 or -1 answered. */
int mlf_check_key(mlf_req *r, const char *what, const char *key);

/* The run named by run_id (or run_uuid) in the request, which must exist: 0 with id, status
 * and stage, or -1 answered (404 RESOURCE_DOES_NOT_EXIST). */
int mlf_run_of(mlf_req *r, char id[33], char *status, size_t sn, char *stage, size_t gn);

/* Endpoints (mlflow_exp.c, mlflow_runs.c, mlflow_search.c). */
int mlf_exp_create(mlf_req *r);
int mlf_exp_get(mlf_req *r);
int mlf_exp_get_by_name(mlf_req *r);
int mlf_exp_search(mlf_req *r);
int mlf_runs_create(mlf_req *r);
int mlf_runs_get(mlf_req *r);
int mlf_runs_update(mlf_req *r);
int mlf_runs_delete(mlf_req *r);
int mlf_runs_restore(mlf_req *r);
int mlf_log_metric(mlf_req *r);
int mlf_log_param(mlf_req *r);
int mlf_set_tag(mlf_req *r);
int mlf_delete_tag(mlf_req *r);
int mlf_log_batch(mlf_req *r);
int mlf_get_history(mlf_req *r);
int mlf_runs_search(mlf_req *r);

struct tr_mlf_time;
/* MLflow's search filter as a trail --where expression (store/where.h) into out, and its
 * attributes.start_time / end_time comparisons (which --where has no field for) into times
 * (at most TR_MLF_TIMES_MAX; *ntimes), allowed in filters of AND only: 0, or -1 with a message
 * in err. */
int mlf_filter_to_where(const char *filter, char *out, size_t n, struct tr_mlf_time *times,
                        int *ntimes, char *err, size_t en);

#endif
