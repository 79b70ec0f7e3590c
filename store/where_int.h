/* where_int.h - internals of the --where compiler shared by the lexer and the parser. */
#ifndef TR_WHERE_INT_H
#define TR_WHERE_INT_H

#include <stddef.h>

#include "where.h"

#define FIRST_PARAM 3
#define MAX_PARAMS 200
#define MAX_DEPTH 32 /* nested parentheses and NOTs: deeper is an error, not a deep stack */

typedef struct wparam {
    int is_num;
    double num;
    char *text;
} wparam;

struct tr_where {
    char *sql;
    size_t len, cap;
    wparam p[MAX_PARAMS];
    int np;
};

enum tok { T_END, T_IDENT, T_STR, T_NUM, T_OP, T_LP, T_RP, T_COMMA, T_BAD };

typedef struct parser {
    const char *src;
    size_t pos; /* start of the current token */
    size_t end; /* end of the current token */
    enum tok t;
    char text[512]; /* the token's text (strings unquoted, idents with quoted parts joined) */
    tr_where *w;
    tr_where_error *err;
    int failed, oom;
    int depth; /* parentheses and NOTs open around the current token */
} parser;

/* Records the first error (1-based column col + 1) and returns -1. */
int tr_where_fail(parser *p, size_t col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Reads the next token into p (t, pos, end, text). */
void tr_where_next(parser *p);
/* 1 when the current token is the keyword word (case-insensitive). */
int tr_where_kw(const parser *p, const char *word);

#endif
