/* where.c - `trail runs --where`: a recursive-descent parser that emits SQL with bound values. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "trail.h"
#include "where_int.h"
#include "where_sql.h"

static void emit(parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void emit(parser *p, const char *fmt, ...)
{
    tr_where *w = p->w;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || p->oom) return;
    if (w->len + (size_t)n + 1 > w->cap) {
        size_t cap = (w->len + (size_t)n + 1) * 2;
        char *grown = realloc(w->sql, cap);
        if (!grown) {
            p->oom = 1;
            return;
        }
        w->sql = grown;
        w->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(w->sql + w->len, w->cap - w->len, fmt, ap);
    va_end(ap);
    w->len += (size_t)n;
}

/* Adds a bound value; returns its parameter number. */
static int param(parser *p, int is_num, double num, const char *text)
{
    tr_where *w = p->w;
    if (w->np >= MAX_PARAMS)
        return tr_where_fail(p, p->pos, "expression too long (over %d values)", MAX_PARAMS);
    wparam *q = &w->p[w->np];
    q->is_num = is_num;
    q->num = num;
    if (!is_num && !(q->text = strdup(text))) p->oom = 1;
    return FIRST_PARAM + w->np++;
}

/* The kinds of field, and the SQL of an attribute column. */
enum fkind { F_METRIC, F_PARAM, F_TAG, F_ENV, F_ATTR, F_INPUT, F_OUTPUT };

static const struct {
    const char *name, *col;
    int numeric;
} attrs[] = {{"id", "runs.id", 0},
             {"run_id", "runs.id", 0},
             {"name", "runs.name", 0},
             {"run_name", "runs.name", 0},
             {"experiment", "runs.experiment", 0},
             {"status", "runs.status", 0},
             {"exit_code", "runs.exit_code", 1},
             {"signal", "runs.signal", 1},
             {"host", "runs.host", 0},
             {"user", "runs.user", 0},
             {"cwd", "runs.cwd", 0}};

typedef struct field {
    enum fkind kind;
    size_t col;      /* column of the field */
    int key;         /* parameter number of the key */
    const char *sql; /* attribute column */
    int numeric;
} field;

static int starts(const char *s, const char *prefix, const char **rest)
{
    size_t n = strlen(prefix);
    if (strncasecmp(s, prefix, n) != 0) return 0;
    *rest = s + n;
    return 1;
}

static int parse_field(parser *p, field *f)
{
    memset(f, 0, sizeof *f);
    f->col = p->pos;
    if (p->t != T_IDENT)
        return tr_where_fail(p, p->pos,
                             p->t == T_END ? "expected a field at the end (metrics.KEY, "
                                             "params.KEY, tags.KEY, input, output, status, ...)"
                                           : "expected a field (metrics.KEY, params.KEY, "
                                             "tags.KEY, input, output, status, ...)");
    const char *t = p->text, *rest;
    if (starts(t, "metrics.", &rest) || starts(t, "metric.", &rest))
        f->kind = F_METRIC;
    else if (starts(t, "params.", &rest) || starts(t, "param.", &rest))
        f->kind = F_PARAM;
    else if (starts(t, "tags.", &rest) || starts(t, "tag.", &rest))
        f->kind = F_TAG;
    else if (starts(t, "env.", &rest))
        f->kind = F_ENV;
    else {
        if (!starts(t, "attributes.", &rest) && !starts(t, "attribute.", &rest) &&
            !starts(t, "attr.", &rest) && !starts(t, "run.", &rest))
            rest = t;
        if (!strcasecmp(rest, "input") || !strcasecmp(rest, "inputs"))
            f->kind = F_INPUT;
        else if (!strcasecmp(rest, "output") || !strcasecmp(rest, "outputs"))
            f->kind = F_OUTPUT;
        else {
            f->kind = F_ATTR;
            for (size_t i = 0; i < sizeof attrs / sizeof attrs[0] && !f->sql; i++)
                if (!strcasecmp(rest, attrs[i].name)) {
                    f->sql = attrs[i].col;
                    f->numeric = attrs[i].numeric;
                }
            if (!f->sql)
                return tr_where_fail(
                    p, p->pos,
                    "unknown field '%s' (metrics.KEY, params.KEY, tags.KEY, env.NAME, "
                    "input, output, id, name, experiment, status, exit_code, signal, "
                    "host, user, cwd)",
                    t);
        }
        tr_where_next(p);
        return 0;
    }
    if (!*rest)
        return tr_where_fail(p, p->pos + (size_t)(rest - t), "expected a key after '%s'", t);
    f->key = param(p, 0, 0, rest);
    tr_where_next(p);
    return f->key < 0 ? -1 : 0;
}

/* The SQL of a field's value (not for input/output). */
static void field_sql(parser *p, const field *f, int numeric_value)
{
    const char *fmt = f->kind == F_METRIC  ? TR_WHERE_METRIC
                      : f->kind == F_PARAM ? TR_WHERE_PARAM
                      : f->kind == F_TAG   ? TR_WHERE_TAG
                      : f->kind == F_ENV   ? TR_WHERE_ENV
                                           : NULL;
    int cast = numeric_value && f->kind != F_METRIC && !(f->kind == F_ATTR && f->numeric);
    if (cast) emit(p, "CAST(");
    if (fmt)
        emit(p, fmt, f->key);
    else
        emit(p, "%s", f->sql);
    if (cast) emit(p, " AS REAL)");
}

/* A LIKE pattern as a case-sensitive GLOB pattern: % -> *, _ -> ?, GLOB specials bracketed. */
static char *like_to_glob(const char *like)
{
    char *g = malloc(strlen(like) * 3 + 1), *o = g;
    if (!g) return NULL;
    for (const char *s = like; *s; s++) {
        if (*s == '%')
            *o++ = '*';
        else if (*s == '_')
            *o++ = '?';
        else if (*s == '*' || *s == '?' || *s == '[') {
            *o++ = '[';
            *o++ = *s;
            *o++ = ']';
        } else
            *o++ = *s;
    }
    *o = 0;
    return g;
}

/* One value: a parameter number; *is_num tells its kind. */
static int parse_value(parser *p, int *is_num)
{
    if (p->t == T_NUM) {
        *is_num = 1;
        int n = param(p, 1, strtod(p->text, NULL), NULL);
        tr_where_next(p);
        return n;
    }
    if (p->t == T_STR) {
        *is_num = 0;
        int n = param(p, 0, 0, p->text);
        tr_where_next(p);
        return n;
    }
    return tr_where_fail(p, p->pos,
                         p->t == T_END ? "expected a value at the end ('text' or a number)"
                                       : "expected a value ('text' or a number)");
}

/* input/output OP value: EXISTS over the run's file events. */
static int file_cmp(parser *p, const field *f, const char *op, int negate, size_t vcol)
{
    int is_num, n = parse_value(p, &is_num);
    if (n < 0) return -1;
    if (is_num)
        return tr_where_fail(p, vcol, "%s compares with a path in quotes",
                             f->kind == F_INPUT ? "input" : "output");
    emit(p, "%s" TR_WHERE_FILE_OPEN, negate ? "NOT " : "",
         f->kind == F_INPUT ? TR_WHERE_ROLES_IN : TR_WHERE_ROLES_OUT);
    wparam *v = &p->w->p[n - FIRST_PARAM];
    if (!strcmp(op, "=")) {
        emit(p, TR_WHERE_PATH_EQ, n, n, n, n, n);
    } else {
        int glob = !strcmp(op, "like");
        if (glob) {
            char *g = like_to_glob(v->text);
            if (!g) p->oom = 1;
            free(v->text);
            v->text = g;
        }
        const char *cmp = glob ? "GLOB" : "LIKE", *any = glob ? "*/" : "%/";
        if (v->text && v->text[0] != '/' && v->text[0] != (glob ? '*' : '%'))
            emit(p, "a.path %s ?%d OR a.path %s '%s' || ?%d", cmp, n, cmp, any, n);
        else
            emit(p, "a.path %s ?%d", cmp, n);
    }
    emit(p, "))");
    return 0;
}

static int parse_in(parser *p, const field *f, int negate)
{
    if (p->t != T_LP) return tr_where_fail(p, p->pos, "expected '(' after 'in'");
    tr_where_next(p);
    if (f->kind == F_INPUT || f->kind == F_OUTPUT) {
        emit(p, "%s(", negate ? "NOT " : "");
        for (int first = 1;; first = 0) {
            if (!first) emit(p, " OR ");
            if (file_cmp(p, f, "=", 0, p->pos)) return -1;
            if (p->t != T_COMMA) break;
            tr_where_next(p);
        }
        emit(p, ")");
    } else {
        int nums[64], n = 0, all_num = 1;
        for (;;) {
            int is_num, k = parse_value(p, &is_num);
            if (k < 0) return -1;
            if (n == 64)
                return tr_where_fail(p, p->pos, "too many values in the list (64 at most)");
            nums[n++] = k;
            all_num &= is_num;
            if (p->t != T_COMMA) break;
            tr_where_next(p);
        }
        if (f->kind == F_METRIC && !all_num)
            return tr_where_fail(p, p->pos, "metrics compare with numbers");
        emit(p, "(");
        field_sql(p, f, all_num);
        emit(p, " %sIN (", negate ? "NOT " : "");
        for (int i = 0; i < n; i++)
            emit(p, "%s?%d", i ? ", " : "", nums[i]);
        emit(p, "))");
    }
    if (p->t != T_RP) return tr_where_fail(p, p->pos, "expected ',' or ')' in the list");
    tr_where_next(p);
    return 0;
}

static int parse_cmp(parser *p)
{
    field f;
    if (parse_field(p, &f)) return -1;
    size_t opcol = p->pos;
    char op[8];
    int negate = 0;
    if (tr_where_kw(p, "not")) {
        negate = 1;
        tr_where_next(p);
    }
    if (tr_where_kw(p, "in")) {
        tr_where_next(p);
        return parse_in(p, &f, negate);
    }
    if (p->t == T_OP)
        snprintf(op, sizeof op, "%.3s", p->text);
    else if (tr_where_kw(p, "like") || tr_where_kw(p, "ilike"))
        snprintf(op, sizeof op, "%s", tr_where_kw(p, "like") ? "like" : "ilike");
    else
        return tr_where_fail(p, p->pos,
                             "expected an operator (=, !=, <, <=, >, >=, like, ilike, in)%s",
                             p->t == T_END ? " at the end" : "");
    if (negate && op[0] != 'l' && op[0] != 'i')
        return tr_where_fail(p, opcol, "'not' here must be followed by like, ilike or in");
    if (!strcmp(op, "==")) snprintf(op, sizeof op, "=");
    if (!strcmp(op, "<>")) snprintf(op, sizeof op, "!=");
    int text_op = op[0] == 'l' || op[0] == 'i';
    size_t vcol = (tr_where_next(p), p->pos);
    if (f.kind == F_INPUT || f.kind == F_OUTPUT) {
        if (strcmp(op, "=") && strcmp(op, "!=") && !text_op)
            return tr_where_fail(p, opcol, "input and output take =, !=, like, ilike or in");
        return file_cmp(p, &f, !strcmp(op, "!=") ? "=" : op, negate || !strcmp(op, "!="), vcol);
    }
    if (f.kind == F_METRIC && text_op)
        return tr_where_fail(p, opcol, "metrics compare with numbers, not like");
    int is_num, n = parse_value(p, &is_num);
    if (n < 0) return -1;
    if (f.kind == F_METRIC && !is_num)
        return tr_where_fail(p, vcol, "metrics compare with numbers");
    if (text_op && is_num) return tr_where_fail(p, vcol, "%s needs a 'text' pattern", op);
    if (negate) emit(p, "NOT ");
    emit(p, "(");
    field_sql(p, &f, is_num);
    if (!strcmp(op, "like")) {
        wparam *v = &p->w->p[n - FIRST_PARAM];
        char *g = like_to_glob(v->text);
        if (!g) p->oom = 1;
        free(v->text);
        v->text = g;
        emit(p, " GLOB ?%d)", n);
    } else {
        emit(p, " %s ?%d)", !strcmp(op, "ilike") ? "LIKE" : op, n);
    }
    return 0;
}

static int parse_or(parser *p);

static int parse_unary_in(parser *p);

/* Bounds the recursion: nesting deeper than MAX_DEPTH is refused with the column. */
static int parse_unary(parser *p)
{
    if ((tr_where_kw(p, "not") || p->t == T_LP) && p->depth >= MAX_DEPTH)
        return tr_where_fail(p, p->pos, "nested too deeply (more than %d parentheses or NOTs)",
                             MAX_DEPTH);
    p->depth++;
    int rc = parse_unary_in(p);
    p->depth--;
    return rc;
}

static int parse_unary_in(parser *p)
{
    if (tr_where_kw(p, "not")) {
        tr_where_next(p);
        emit(p, "NOT ");
        return parse_unary(p);
    }
    if (p->t == T_LP) {
        size_t col = p->pos;
        tr_where_next(p);
        emit(p, "(");
        if (parse_or(p)) return -1;
        if (p->t != T_RP)
            return tr_where_fail(p, p->pos, "expected ')' to close the '(' of column %zu", col + 1);
        tr_where_next(p);
        emit(p, ")");
        return 0;
    }
    return parse_cmp(p);
}

static int parse_and(parser *p)
{
    if (parse_unary(p)) return -1;
    while (tr_where_kw(p, "and")) {
        tr_where_next(p);
        emit(p, " AND ");
        if (parse_unary(p)) return -1;
    }
    return 0;
}

static int parse_or(parser *p)
{
    emit(p, "(");
    if (parse_and(p)) return -1;
    while (tr_where_kw(p, "or")) {
        tr_where_next(p);
        emit(p, " OR ");
        if (parse_and(p)) return -1;
    }
    emit(p, ")");
    return 0;
}

int tr_where_compile(const char *expr, tr_where **out, tr_where_error *err)
{
    tr_where_error dummy;
    if (!err) err = &dummy;
    memset(err, 0, sizeof *err);
    if (!out || !expr) return TRAIL_EINVAL;
    *out = NULL;
    tr_where *w = calloc(1, sizeof *w);
    if (!w) return TRAIL_ENOMEM;
    parser p = {.src = expr, .w = w, .err = err};
    tr_where_next(&p);
    if (!p.failed && p.t == T_END) tr_where_fail(&p, p.pos, "empty expression");
    if (!p.failed) parse_or(&p);
    if (!p.failed && p.t != T_END)
        tr_where_fail(&p, p.pos, "unexpected '%s' after a complete condition (missing and/or?)",
                      p.text[0] ? p.text : ")");
    if (p.failed || p.oom) {
        tr_where_free(w);
        if (p.oom && !p.failed) snprintf(err->msg, sizeof err->msg, "out of memory");
        return p.failed ? TRAIL_EINVAL : TRAIL_ENOMEM;
    }
    *out = w;
    return 0;
}

void tr_where_free(tr_where *w)
{
    if (!w) return;
    for (int i = 0; i < w->np; i++)
        free(w->p[i].text);
    free(w->sql);
    free(w);
}

const char *tr_where_sql(const tr_where *w)
{
    return w && w->sql ? w->sql : "1 = 1"; /* true on every backend */
}

tr_dbst *tr_where_prepare(tr_store *s, const tr_where *w)
{
    tr_dbst *st = NULL;
    const char *cond = tr_where_sql(w);
    size_t n = strlen(TR_WHERE_RUNS_FMT) + strlen(cond) + 1;
    char *sql = malloc(n);
    if (!sql) {
        tr_store_fail(s, TRAIL_ENOMEM, "out of memory");
        return NULL;
    }
    snprintf(sql, n, TR_WHERE_RUNS_FMT, cond);
    int rc = tr_db_prepare(s->db, sql, -1, &st, NULL);
    free(sql);
    if (rc != TR_DB_OK) {
        tr_store_sqlerr(s, rc, "preparing the --where filter");
        tr_db_finalize(st);
        return NULL;
    }
    for (int i = 0; i < w->np && rc == TR_DB_OK; i++)
        rc = w->p[i].is_num ? tr_db_bind_double(st, FIRST_PARAM + i, w->p[i].num)
                            : tr_db_bind_text(st, FIRST_PARAM + i, w->p[i].text, -1, TR_DB_STATIC);
    if (rc != TR_DB_OK) {
        tr_store_sqlerr(s, rc, "binding the --where filter");
        tr_db_finalize(st);
        return NULL;
    }
    return st;
}
