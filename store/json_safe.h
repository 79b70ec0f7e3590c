/* json_safe.h - JSON that stays valid whatever bytes the store holds: UTF-8 repair, exact integers.
 */
#ifndef TR_JSON_SAFE_H
#define TR_JSON_SAFE_H

#include <stddef.h>
#include <stdint.h>

struct cJSON;

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when the bytes there are not one
 * (overlong forms, surrogates and code points above U+10FFFF count as invalid). n: bytes left. */
size_t tr_utf8_seq(const unsigned char *s, size_t n);
/* s with every invalid UTF-8 sequence replaced by U+FFFD; NULL when s is already valid (or
 * memory ran out). The caller frees the result. */
char *tr_utf8_repair(const char *s);
/* Repairs, in place, every string value and member name of doc (and below) so cJSON prints a
 * valid document. 0, or -1 when memory ran out (the document is left printable but may keep
 * an invalid string). */
int tr_json_make_valid(struct cJSON *doc);
/* tr_json_make_valid, then cJSON_Print (pretty) or cJSON_PrintUnformatted, with DEL and the C1
 * controls (which cJSON leaves raw) written as \u escapes; free() the text. */
char *tr_json_print_safe(struct cJSON *doc, int pretty);
/* An integer that prints exactly: a cJSON number when |v| <= 2^53, else a raw decimal item
 * (cJSON_IsRaw; its text in valuestring). */
struct cJSON *tr_json_int(int64_t v);
/* The integer member k of o as exact decimal text in buf (number or raw item); def when
 * missing. */
const char *tr_json_int_text(const struct cJSON *o, const char *k, const char *def, char *buf,
                             size_t n);

#endif
