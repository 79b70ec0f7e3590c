/* params.h - params are immutable in the store: the first value of a key stays (params.c). */
#ifndef TR_PARAMS_H
#define TR_PARAMS_H

#include <stddef.h>

struct tr_store;

/* Before storing param key = value of a run: 0 when the run has no value for key yet (store
 * it), 1 when it has one (not applied; a different value is counted in the run's tag
 * trail.param_conflicts and named in trail.param_conflict.KEY), or TRAIL_E*. value may be NULL
 * (an empty value). */
int tr_store_param_check(struct tr_store *s, const char *run, size_t runlen, const char *key,
                         size_t keylen, const char *value, size_t valuelen);

#endif
