/* jsonfmt.h - small readers of the store's JSON documents and text formatters for the commands. */
#ifndef TR_JSONFMT_H
#define TR_JSONFMT_H

#include <stddef.h>

struct cJSON;

/* The string member k of o, or NULL when missing or not a string. */
const char *tr_jstr(const struct cJSON *o, const char *k);
/* The number member k of o, or def. */
double tr_jnum(const struct cJSON *o, const char *k, double def);
/* 1536 -> "1.5 KiB" */
void tr_fmt_bytes(double b, char *buf, size_t n);
/* "2026-11-28T06:13:59.123456Z" -> "2026-11-28 06:13:59" in buf; "-" for NULL. */
const char *tr_fmt_short_time(const char *rfc3339, char *buf, size_t n);

#endif
