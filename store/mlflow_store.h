/* mlflow_store.h - the store side of MLflow's tracking API (traild): experiment ids, MLflow's
 * run and experiment documents, lifecycle, metric history and the runs search (mlflow.c,
 * mlflow_search.c). Records themselves are stored by tr_store_ingest, like any other. */
#ifndef TR_MLFLOW_STORE_H
#define TR_MLFLOW_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct cJSON;
struct tr_where;

/* The stream the API's records of a run are ingested as: a fixed id per run (FNV-1a of
 * "mlflow:" and the run id, 32 hex characters), claiming no owner uid nor agent host, so the
 * agent of a `trail run` run joined through the API still becomes its owner. */
void tr_mlf_stream(const char *run_id, tr_stream *st);

/* A new experiment: 0 with *id, 1 when the name is taken (*id: its id), or TRAIL_E*. */
int tr_mlf_exp_create(tr_store *s, const char *name, const char *artifact_location, int64_t now_ns,
                      int64_t *id);
/* MLflow's Experiment object of the experiment id (name NULL) or of name; TRAIL_ENOTFOUND. */
int tr_mlf_exp_json(tr_store *s, int64_t id, const char *name, struct cJSON **out);
/* The trail experiment of an id: its name, "" for 0 (Default: runs without one); or
 * TRAIL_ENOTFOUND. */
int tr_mlf_exp_name(tr_store *s, int64_t id, char *name, size_t n);
/* {"experiments":[...], "next_page_token"} (the token only when more follow): names matching
 * the LIKE pattern (NULL: all; icase: ILIKE), in id order, limit from offset. */
int tr_mlf_exp_search_json(tr_store *s, const char *like, int icase, int limit, int64_t offset,
                           struct cJSON **out);
/* A run's last-update time for its experiment (a run created or ended). */
int tr_mlf_exp_touch(tr_store *s, int64_t id, int64_t now_ns);

/* MLflow's Run of a trail run: {"info": RunInfo, "data": {"metrics" (latest of each key),
 * "params", "tags"}, "inputs": {}}; with info_only, the RunInfo alone. TRAIL_ENOTFOUND. */
int tr_mlf_run_json(tr_store *s, const char *run_id, int info_only, struct cJSON **out);
/* The run's trail status and MLflow lifecycle stage ("active" or "deleted"); TRAIL_ENOTFOUND. */
int tr_mlf_run_state(tr_store *s, const char *run_id, char *status, size_t sn, char *stage,
                     size_t gn);
int tr_mlf_set_lifecycle(tr_store *s, const char *run_id, const char *stage, int64_t now_ns);
/* Sets an ended run running again (an MLflow client resuming it). */
int tr_mlf_reopen(tr_store *s, const char *run_id);
/* *has 1 when a `trail run` launched run_id (the launcher owns its status). */
int tr_mlf_has_launcher(tr_store *s, const char *run_id, int *has);
/* Removes a run's tag (MLflow's runs/delete-tag): 0, or TRAIL_ENOTFOUND when it has none. */
int tr_mlf_tag_delete(tr_store *s, const char *run_id, const char *key);
/* A param's value: 1 found (copied), 0 none, or TRAIL_E*. */
int tr_mlf_param_get(tr_store *s, const char *run_id, const char *key, char *out, size_t n);
/* {"metrics":[{"key","value","timestamp","step"}], "next_page_token"}: the key's points in the
 * order logged, limit from offset. */
int tr_mlf_history_json(tr_store *s, const char *run_id, const char *key, int limit, int64_t offset,
                        struct cJSON **out);
/* MLflow's status name of a trail status: RUNNING, FINISHED, FAILED (failed, crashed, lost),
 * KILLED. */
const char *tr_mlf_status_name(const char *trail_status);
/* A metric value as MLflow's JSON carries it: a number, or "NaN", "Infinity", "-Infinity". */
struct cJSON *tr_mlf_number(double v, int special);

/* A bound on a run's start ('s') or end ('e') time in ms: col op ms, op one of = != < <= > >=. */
typedef struct tr_mlf_time {
    char col;
    char op[3];
    int64_t ms;
} tr_mlf_time;
#define TR_MLF_TIMES_MAX 8

/* One sort key of the search: sql an expression over runs, or kind 'p', 't', 'm' with key (a
 * param, tag or metric name); desc for descending. */
typedef struct tr_mlf_order {
    const char *sql;
    char kind;
    const char *key;
    int desc;
} tr_mlf_order;
#define TR_MLF_ORDER_MAX 4

/* The runs search: experiments and lifecycle stages as JSON arrays of ids and of stage names,
 * a compiled --where filter (NULL: all) and time bounds (all must hold), the sort keys (none:
 * start time, latest first; ties always go to the later start, then the id), limit from
 * offset. */
typedef struct tr_mlf_search {
    const char *exp_ids, *stages;
    const struct tr_where *where;
    const tr_mlf_time *times;
    int ntimes;
    tr_mlf_order order[TR_MLF_ORDER_MAX];
    int norder;
    int limit;
    int64_t offset;
} tr_mlf_search;
/* {"runs":[Run...], "next_page_token"} (the token only when more follow). */
int tr_mlf_search_json(tr_store *s, const tr_mlf_search *q, struct cJSON **out);

#endif
