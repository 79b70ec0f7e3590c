/* jsonfmt.c - small readers of the store's JSON documents and text formatters for the commands. */
#include "jsonfmt.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

const char *tr_jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

double tr_jnum(const cJSON *o, const char *k, double def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : def;
}

void tr_fmt_bytes(double b, char *buf, size_t n)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (b >= 1024 && u < 4) {
        b /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, n, "%.0f B", b);
    else
        snprintf(buf, n, "%.1f %s", b, unit[u]);
}

const char *tr_fmt_short_time(const char *t, char *buf, size_t n)
{
    if (!t) {
        snprintf(buf, n, "-");
        return buf;
    }
    snprintf(buf, n, "%.10s %.8s", t, strlen(t) > 11 ? t + 11 : "");
    return buf;
}
