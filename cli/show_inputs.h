/* show_inputs.h - `trail show RUN`'s inputs by role: data, code, then env by dependency group. */
#ifndef TR_SHOW_INPUTS_H
#define TR_SHOW_INPUTS_H

struct cJSON;

/* Lists files under a title, one line each (every) or folded by directory. */
typedef void tr_show_files_fn(const char *title, const struct cJSON *arr, int every);

/* The run document's inputs: data files, then code, then one line per env group (or, with
 * every, each env file); show lists each part. */
void tr_show_inputs(const struct cJSON *inputs, int every, tr_show_files_fn *show);

#endif
