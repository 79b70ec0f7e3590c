/* where.h - the `trail runs --where` filter language: parsed and compiled to bound SQL. */
#ifndef TR_WHERE_H
#define TR_WHERE_H

#include "store.h"

struct tr_dbst;

/* Grammar (keywords case-insensitive):
 *   expr    := and ('or' and)*          and := unary ('and' unary)*
 *   unary   := 'not' unary | '(' expr ')' | field op value | field ['not'] 'in' '(' value, ... ')'
 *   field   := metrics.KEY | params.KEY | tags.KEY | env.NAME | input | output
 *            | [attributes.](id | name | experiment | status | exit_code | signal | host | user
 *              | cwd)          KEY may be quoted with backticks: metrics.`val loss`
 *   op      := = | == | != | <> | < | <= | > | >= | like | ilike | not like | not ilike
 *   value   := 'text' | "text" | number
 * metrics.KEY is the run's last value of the metric and compares with numbers; params, tags and
 * attributes compare as text, or as numbers when the value is an unquoted number. input/output
 * hold when some file the run read/wrote matches: '=' takes an absolute path or a path suffix
 * ('data/train.csv'), like is case-sensitive (ilike is not). */
typedef struct tr_where tr_where;

typedef struct tr_where_error {
    int column; /* 1-based byte column of the offending token (length + 1 at the end) */
    char msg[256];
} tr_where_error;

/* Returns 0, TRAIL_EINVAL with err filled for a syntax error, or TRAIL_ENOMEM. */
int tr_where_compile(const char *expr, tr_where **out, tr_where_error *err);
void tr_where_free(tr_where *w);
/* The SQL condition over `runs` (for tests and --explain); parameters start at ?3. */
const char *tr_where_sql(const tr_where *w);

/* Store side: the runs listing with this filter, ?1 experiment and ?2 limit left to bind. The
 * caller finalizes it. NULL on error (message in the store). */
struct tr_dbst *tr_where_prepare(tr_store *s, const tr_where *w);

#endif
