/* mlflow_exp.c - MLflow's experiments endpoints: create, get, get-by-name, search (and 1.x's
 * list), over the ids store/mlflow.c gives trail's experiment names. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mlflow_int.h"
#include "store.h"
#include "trail.h"

#include "mlflow_store.h"

int mlf_exp_create(mlf_req *r)
{
    const char *name, *loc;
    if (mlf_need(r, r->in, "name", &name) || mlf_str(r, r->in, "artifact_location", &loc) < 0)
        return -1;
    if (!*name) return mlf_invalid(r, "Invalid experiment name: ''");
    if (strlen(name) > MLF_MAX_EXP_NAME)
        return mlf_invalid(r, "Experiment name exceeds the maximum length of %d characters",
                           MLF_MAX_EXP_NAME);
    if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r->in, "tags")) > 0)
        return mlf_invalid(r, "experiment tags are not supported by trail");
    int64_t id = 0;
    int rc = tr_mlf_exp_create(r->s, name, loc && *loc ? loc : NULL, r->now_ns, &id);
    if (rc == 1)
        return mlf_fail(r, 400, "RESOURCE_ALREADY_EXISTS", "Experiment '%s' already exists.", name);
    if (rc) return mlf_store_fail(r, rc);
    char ids[32];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "experiment_id", ids);
    return mlf_ok(r, d);
}

/* {"experiment": doc} of an id (name NULL) or a name. */
static int exp_answer(mlf_req *r, int64_t id, const char *name, const char *shown)
{
    cJSON *e = NULL;
    int rc = tr_mlf_exp_json(r->s, id, name, &e);
    if (rc == TRAIL_ENOTFOUND)
        return mlf_fail(r, 404, "RESOURCE_DOES_NOT_EXIST", "Could not find experiment with %s",
                        shown);
    if (rc) return mlf_store_fail(r, rc);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddItemToObject(d, "experiment", e);
    return mlf_ok(r, d);
}

int mlf_exp_get(mlf_req *r)
{
    int64_t id;
    int got = mlf_int(r, r->in, "experiment_id", &id);
    if (got < 0) return -1;
    if (!got) return mlf_invalid(r, "Missing value for required parameter 'experiment_id'.");
    char shown[64];
    snprintf(shown, sizeof shown, "ID %lld", (long long)id);
    return exp_answer(r, id, NULL, shown);
}

int mlf_exp_get_by_name(mlf_req *r)
{
    const char *name;
    if (mlf_need(r, r->in, "experiment_name", &name)) return -1;
    char shown[600];
    snprintf(shown, sizeof shown, "name '%.500s'", name);
    return exp_answer(r, 0, name, shown);
}

/* filter: [attribute[s].]name (= | LIKE | ILIKE) 'VALUE', the form trail answers: the value
 * into val, *mode 0 for =, 1 LIKE, 2 ILIKE; 0, or -1 answered. */
static int exp_filter(mlf_req *r, const char *f, char *val, size_t n, int *mode)
{
    const char *p = f;
    while (isspace((unsigned char)*p))
        p++;
    if (!strncasecmp(p, "attributes.", 11))
        p += 11;
    else if (!strncasecmp(p, "attribute.", 10))
        p += 10;
    if (strncasecmp(p, "name", 4)) goto bad;
    p += 4;
    while (isspace((unsigned char)*p))
        p++;
    *mode = 0;
    if (*p == '=')
        p++;
    else if (!strncasecmp(p, "ilike", 5) && (p += 5))
        *mode = 2;
    else if (!strncasecmp(p, "like", 4) && (p += 4))
        *mode = 1;
    else
        goto bad;
    while (isspace((unsigned char)*p))
        p++;
    char q = *p;
    if (q != '\'' && q != '"') goto bad;
    size_t o = 0;
    for (p++; *p && *p != q && o + 1 < n; p++)
        val[o++] = *p;
    val[o] = 0;
    if (*p != q) goto bad;
    for (p++; isspace((unsigned char)*p); p++)
        ;
    if (!*p) return 0;
bad:
    return mlf_invalid(r,
                       "Invalid filter '%s': trail answers name = 'X', name LIKE 'X' and name "
                       "ILIKE 'X' for experiments",
                       f);
}

int mlf_exp_search(mlf_req *r)
{
    int limit, mode = 1;
    int64_t offset;
    const char *filter, *view;
    char val[1100];
    if (mlf_paging(r, 1000, MLF_SEARCH_MAX, &limit, &offset) ||
        mlf_str(r, r->in, "filter", &filter) < 0 || mlf_str(r, r->in, "view_type", &view) < 0)
        return -1;
    if (view && strcmp(view, "ACTIVE_ONLY") && strcmp(view, "DELETED_ONLY") && strcmp(view, "ALL"))
        return mlf_invalid(r, "Invalid view_type '%s'", view);
    if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r->in, "order_by")) > 0)
        return mlf_invalid(r, "order_by is not supported for experiments: they come in id order");
    int filtered = filter && *filter;
    if (filtered && exp_filter(r, filter, val, sizeof val, &mode)) return -1;
    cJSON *d = NULL;
    int rc;
    if ((view && !strcmp(view, "DELETED_ONLY")) || (filtered && mode == 0)) {
        /* trail deletes no experiment; name = 'X' is the one experiment of that name */
        cJSON *e = NULL;
        d = cJSON_CreateObject();
        cJSON *arr = cJSON_AddArrayToObject(d, "experiments");
        rc = mode == 0 && offset == 0 && !(view && !strcmp(view, "DELETED_ONLY"))
                 ? tr_mlf_exp_json(r->s, 0, val, &e)
                 : 0;
        if (rc && rc != TRAIL_ENOTFOUND) {
            cJSON_Delete(d);
            return mlf_store_fail(r, rc);
        }
        if (e) cJSON_AddItemToArray(arr, e);
        return mlf_ok(r, d);
    }
    rc = tr_mlf_exp_search_json(r->s, filtered ? val : NULL, mode == 2, limit, offset, &d);
    return rc ? mlf_store_fail(r, rc) : mlf_ok(r, d);
}
