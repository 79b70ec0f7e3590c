/* json_safe.c - JSON that stays valid whatever bytes the store holds: UTF-8 repair, exact integers.
 */
#include "json_safe.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXACT_MAX 9007199254740992LL /* 2^53: every integer up to it is a double */

size_t tr_utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len = c >= 0xc2 && c <= 0xdf   ? 2
                 : c >= 0xe0 && c <= 0xef ? 3
                 : c >= 0xf0 && c <= 0xf4 ? 4
                                          : 0;
    if (!len || n < len) return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    if (c == 0xe0 && s[1] < 0xa0) return 0; /* overlong */
    if (c == 0xed && s[1] > 0x9f) return 0; /* surrogates */
    if (c == 0xf0 && s[1] < 0x90) return 0; /* overlong */
    if (c == 0xf4 && s[1] > 0x8f) return 0; /* above U+10FFFF */
    return len;
}

char *tr_utf8_repair(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s), bad = 0;
    for (size_t i = 0; i < n;) {
        size_t l = tr_utf8_seq(u + i, n - i);
        if (!l) {
            bad++;
            l = 1;
        }
        i += l;
    }
    if (!bad) return NULL;
    char *out = malloc(n + 2 * bad + 1), *o = out;
    if (!out) return NULL;
    for (size_t i = 0; i < n;) {
        size_t l = tr_utf8_seq(u + i, n - i);
        if (!l) {
            memcpy(o, "\xef\xbf\xbd", 3); /* U+FFFD */
            o += 3;
            i++;
            continue;
        }
        memcpy(o, u + i, l);
        o += l;
        i += l;
    }
    *o = 0;
    return out;
}

/* Replaces *field (a cJSON-owned string) by its repaired copy. */
static int repair_field(char **field)
{
    if (!*field) return 0;
    char *fixed = tr_utf8_repair(*field);
    if (!fixed) return 0;
    size_t n = strlen(fixed) + 1;
    char *mine = cJSON_malloc(n);
    if (!mine) {
        free(fixed);
        return -1;
    }
    memcpy(mine, fixed, n);
    free(fixed);
    cJSON_free(*field);
    *field = mine;
    return 0;
}

/* Repairs c's name and string value. */
static int fix_item(cJSON *c)
{
    int rc = 0;
    /* constant names (cJSON_StringIsConst) are the program's own text: valid already */
    if (c->string && !(c->type & cJSON_StringIsConst) && repair_field(&c->string)) rc = -1;
    if (cJSON_IsString(c) && !(c->type & cJSON_IsReference) && repair_field(&c->valuestring))
        rc = -1;
    return rc;
}

/* Repairs the children of parent and below (the store's documents are a few levels deep). */
static int fix_children(cJSON *parent)
{
    int rc = 0;
    for (cJSON *c = parent->child; c; c = c->next) {
        if (fix_item(c)) rc = -1;
        if (c->child && fix_children(c)) rc = -1;
    }
    return rc;
}

int tr_json_make_valid(cJSON *doc)
{
    if (!doc) return 0;
    int a = fix_item(doc), b = fix_children(doc);
    return a || b ? -1 : 0;
}

/* cJSON escapes C0 controls only; DEL and C1 controls (U+0080..U+009F) can only stand
 * inside strings of the printed text, where \u escapes mean the same and reach no terminal. */
static char *escape_del_c1(char *text)
{
    size_t n = 0, extra = 0;
    for (const unsigned char *u = (const unsigned char *)text; u[n]; n++) {
        if (u[n] == 0x7f) extra += 5;
        if (u[n] == 0xc2 && u[n + 1] >= 0x80 && u[n + 1] < 0xa0) extra += 4;
    }
    if (!extra) return text;
    char *out = cJSON_malloc(n + extra + 1), *o = out;
    if (!out) return text;
    for (const unsigned char *u = (const unsigned char *)text; *u; u++) {
        if (*u == 0x7f) {
            o += sprintf(o, "\\u007f");
        } else if (*u == 0xc2 && u[1] >= 0x80 && u[1] < 0xa0) {
            o += sprintf(o, "\\u%04x", (unsigned)u[1]);
            u++;
        } else {
            *o++ = (char)*u;
        }
    }
    *o = 0;
    cJSON_free(text);
    return out;
}

char *tr_json_print_safe(cJSON *doc, int pretty)
{
    if (!doc) return NULL;
    tr_json_make_valid(doc);
    char *text = pretty ? cJSON_Print(doc) : cJSON_PrintUnformatted(doc);
    return text ? escape_del_c1(text) : NULL;
}

cJSON *tr_json_int(int64_t v)
{
    if (v >= -EXACT_MAX && v <= EXACT_MAX) return cJSON_CreateNumber((double)v);
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    return cJSON_CreateRaw(buf);
}

const char *tr_json_int_text(const cJSON *o, const char *k, const char *def, char *buf, size_t n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (cJSON_IsRaw(v) && v->valuestring) return v->valuestring;
    if (!cJSON_IsNumber(v)) return def;
    snprintf(buf, n, "%.0f", v->valuedouble);
    return buf;
}
