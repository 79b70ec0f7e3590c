/* where_lex.c - the --where tokenizer: names, quoted strings, numbers, operators, errors with
 * columns. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "where_int.h"

int tr_where_fail(parser *p, size_t col, const char *fmt, ...)
{
    if (p->failed) return -1;
    p->failed = 1;
    p->err->column = (int)col + 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err->msg, sizeof p->err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

static int ident_char(int ch)
{
    return isalnum(ch) || ch == '_' || ch == '.' || ch == '-' || ch == '/' || ch == ':';
}

/* Reads a quoted run starting at s[i] (quote q) into the token text; returns the index past it. */
static size_t quoted(parser *p, size_t i, char q, size_t *k)
{
    const char *s = p->src;
    size_t start = i++;
    for (;;) {
        if (!s[i]) {
            tr_where_fail(p, start, "unterminated %s", q == '`' ? "quoted name" : "string");
            return i;
        }
        if (s[i] == q) {
            if (q == '\'' && s[i + 1] == '\'')
                i++; /* '' is one quote */
            else
                return i + 1;
        }
        if (*k + 1 < sizeof p->text) p->text[(*k)++] = s[i];
        i++;
    }
}

void tr_where_next(parser *p)
{
    const char *s = p->src;
    size_t i = p->end, k = 0;
    while (isspace((unsigned char)s[i]))
        i++;
    p->pos = i;
    p->text[0] = 0;
    char c = s[i];
    if (!c) {
        p->t = T_END;
    } else if (c == '(' || c == ')' || c == ',') {
        p->t = c == '(' ? T_LP : c == ')' ? T_RP : T_COMMA;
        i++;
    } else if (c == '\'' || c == '"') {
        p->t = T_STR;
        i = quoted(p, i, c, &k);
    } else if (isdigit((unsigned char)c) ||
               ((c == '-' || c == '+' || c == '.') &&
                (isdigit((unsigned char)s[i + 1]) || s[i + 1] == '.'))) {
        char *endp;
        strtod(s + i, &endp);
        p->t = endp > s + i ? T_NUM : T_BAD;
        size_t n = (size_t)(endp - (s + i));
        if (n == 0) n = 1;
        k = n < sizeof p->text ? n : sizeof p->text - 1;
        memcpy(p->text, s + i, k);
        i += n;
        if (ident_char((unsigned char)s[i])) p->t = T_BAD;
    } else if (strchr("=!<>", c)) {
        p->t = T_OP;
        p->text[k++] = c;
        i++;
        if ((s[i] == '=' && c != '=') || (c == '=' && s[i] == '=') || (c == '<' && s[i] == '>'))
            p->text[k++] = s[i++];
        if (!strcmp(p->text, "!") || (p->text[0] == '!' && k == 1)) p->t = T_BAD;
    } else if (isalpha((unsigned char)c) || c == '_' || c == '`') {
        p->t = T_IDENT;
        while (s[i] && !p->failed) {
            if (s[i] == '`')
                i = quoted(p, i, '`', &k);
            else if (ident_char((unsigned char)s[i])) {
                if (k + 1 < sizeof p->text) p->text[k++] = s[i];
                i++;
            } else
                break;
        }
    } else {
        p->t = T_BAD;
        i++;
    }
    p->text[k] = 0;
    p->end = i;
    if (p->t == T_BAD) tr_where_fail(p, p->pos, "unexpected character '%c'", s[p->pos]);
}

int tr_where_kw(const parser *p, const char *word)
{
    return p->t == T_IDENT && strcasecmp(p->text, word) == 0;
}
