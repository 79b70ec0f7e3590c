/* manage_ops.h - management commands as JSON requests, run on a store (manage_ops.c): the one
 * implementation behind `trail rm/gc/forget/tag/rename/close` on the embedded store and
 * traild's POST /api/manage. */
#ifndef TR_MANAGE_OPS_H
#define TR_MANAGE_OPS_H

#include "store.h"

struct cJSON;

/* req: {"op": "rm"|"gc"|"forget"|"tag"|"rename"|"close", "dry_run": bool, and per op: rm
 * "runs": [RUN...]; gc "older_than": AGE, "status": "S,..."; forget "key", "path", "spec"; tag
 * "run", "tags": [[K, V]...]; rename "run", "name"; close "run", "status", "force"}. *out (always
 * set; the caller frees it): {"lines": [what to print on stdout], "error": one line for stderr
 * when it failed, "exit": the command's exit status (0, 1, or 2 for a bad request)}. Returns
 * that exit status. */
int tr_store_manage_json(tr_store *s, const struct cJSON *req, struct cJSON **out);

#endif
