/* console_metrics.h - metrics read off one printed line (key=value, key: value, epoch N ...,
 * JSON and Python dict lines, Keras and tqdm progress) and user patterns (--metrics-regex). */
#ifndef TR_CONSOLE_METRICS_H
#define TR_CONSOLE_METRICS_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#define TR_CM_KEY_MAX 64
#define TR_CM_MAX_POINTS 32
#define TR_CM_LINE_MAX 4096 /* longer lines yield nothing */
#define TR_CM_MAX_RULES 8
#define TR_CM_MAX_GROUPS 8

typedef struct tr_cm_point {
    char key[TR_CM_KEY_MAX];
    double value;
} tr_cm_point;

/* What one line holds: its points, and its step (from step/global_step/iter/iteration, or an
 * integer epoch) when it names one; a line naming only a step has has_step and no points. */
typedef struct tr_cm_line {
    int npoints;
    int has_step;
    int64_t step;
    tr_cm_point p[TR_CM_MAX_POINTS];
} tr_cm_line;

/* User patterns: POSIX extended regular expressions whose named groups (?<name>...) or
 * (?P<name>...) give the points: groups `key` and `value` a key and its value, any other
 * named group a value whose key is the group's name. */
typedef struct tr_cm_rule {
    regex_t re;
    int ngroups;
    char names[TR_CM_MAX_GROUPS][TR_CM_KEY_MAX]; /* by group number - 1; "" unnamed */
} tr_cm_rule;
typedef struct tr_cm_rules {
    int n;
    tr_cm_rule r[TR_CM_MAX_RULES];
} tr_cm_rules;

/* Adds a pattern; 0, or -1 with the reason in err. */
int tr_cm_rules_add(tr_cm_rules *rules, const char *pattern, char *err, size_t errlen);
void tr_cm_rules_free(tr_cm_rules *rules);

/* Parses one line (without its line ending; ANSI escapes allowed) with the built-in forms and
 * rules (NULL: none). Returns the number of points (out->npoints). Pure: no state, no I/O. */
int tr_cm_parse(const char *line, size_t n, const tr_cm_rules *rules, tr_cm_line *out);

#endif
