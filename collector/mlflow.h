/* mlflow.h - MLflow's tracking REST API under /api/2.0/mlflow (and /ajax-api/2.0/mlflow), served
 * by traild --http over the same store (docs/mlflow.md). */
#ifndef TR_MLFLOW_API_H
#define TR_MLFLOW_API_H

#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

typedef struct tr_mlflow tr_mlflow;

/* Adds the handlers to srv (before it starts). The store at store_path is opened read-write on
 * the first request; records go through tr_store_ingest. With token_len > 0 every request needs
 * "Authorization: Bearer TOKEN" (MLflow's client sends $MLFLOW_TRACKING_TOKEN so). 0 or an nng
 * error. */
int tr_mlflow_register(nng_http_server *srv, const char *store_path, const uint8_t *token,
                       size_t token_len, tr_mlflow **out);
/* After the server stopped. */
void tr_mlflow_free(tr_mlflow *m);

#endif
