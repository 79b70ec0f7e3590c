/* redact.c - the one rule for what of an environment or command line is secret (redact.h). */
#include "redact.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const name_words[] = {"TOKEN",      "SECRET", "PASSWORD", "PASSWD", "KEY",
                                         "CREDENTIAL", "AUTH",   "COOKIE",   "SESSION"};

/* Keys of key=value pairs inside a value (connection strings, query strings, libpq) whose
 * value is a secret: compared whole, case-insensitively. */
static const char *const value_keys[] = {"password",
                                         "passwd",
                                         "pwd",
                                         "secret",
                                         "client_secret",
                                         "token",
                                         "access_token",
                                         "refresh_token",
                                         "auth_token",
                                         "api_key",
                                         "apikey",
                                         "accountkey",
                                         "sharedaccesskey",
                                         "sig",
                                         "x-amz-signature",
                                         "x-amz-security-token"};

enum { ALNUM, B64URL, UPPER_DIGIT, ALNUM_UNDERSCORE };

/* Well-known token formats: a prefix, then at least min (and at most max, 0: any) characters
 * of a class. */
static const struct {
    const char *prefix;
    int cls;
    unsigned min, max;
} token_formats[] = {
    {"ghp_", ALNUM, 30, 0},        {"gho_", ALNUM, 30, 0},
    {"ghu_", ALNUM, 30, 0},        {"ghs_", ALNUM, 30, 0},
    {"ghr_", ALNUM, 30, 0},        {"github_pat_", ALNUM_UNDERSCORE, 30, 0},
    {"glpat-", B64URL, 20, 0},     {"xoxb-", B64URL, 10, 0},
    {"xoxp-", B64URL, 10, 0},      {"xoxa-", B64URL, 10, 0},
    {"xoxr-", B64URL, 10, 0},      {"xoxs-", B64URL, 10, 0},
    {"AKIA", UPPER_DIGIT, 16, 16}, {"ASIA", UPPER_DIGIT, 16, 16},
    {"sk-", B64URL, 20, 0},        {"hf_", ALNUM, 30, 0},
    {"AIza", B64URL, 35, 35},      {"npm_", ALNUM, 36, 36},
    {"sk_live_", ALNUM, 16, 0},    {"rk_live_", ALNUM, 16, 0},
    {"pypi-", B64URL, 50, 0},
};

static int is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int in_class(unsigned char c, int cls)
{
    switch (cls) {
    case ALNUM:
        return is_alnum(c);
    case UPPER_DIGIT:
        return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
    case ALNUM_UNDERSCORE:
        return is_alnum(c) || c == '_';
    default:
        return is_alnum(c) || c == '_' || c == '-';
    }
}

/* Case-insensitive substring search of w[0..wn) in s[0..n). */
static int contains(const char *s, size_t n, const char *w, size_t wn)
{
    if (wn == 0 || wn > n) return 0;
    for (size_t i = 0; i + wn <= n; i++)
        if (strncasecmp(s + i, w, wn) == 0) return 1;
    return 0;
}

static int off(const char *v)
{
    return v && (!strcmp(v, "0") || !strcasecmp(v, "false"));
}

void tr_redact_init(tr_redact *r, const char *extra)
{
    r->defaults = !off(getenv("TRAIL_REDACT_DEFAULTS"));
    r->lists[0] = getenv("TRAIL_REDACT");
    r->lists[1] = extra;
}

int tr_redact_name(const tr_redact *r, const char *name, size_t n)
{
    if (r->defaults)
        for (size_t i = 0; i < sizeof name_words / sizeof name_words[0]; i++)
            if (contains(name, n, name_words[i], strlen(name_words[i]))) return 1;
    for (int l = 0; l < 2; l++)
        for (const char *p = r->lists[l]; p && *p;) {
            size_t pn = strcspn(p, ","), s = 0, e = pn;
            while (s < pn && (p[s] == ' ' || p[s] == '\t'))
                s++;
            while (e > s && (p[e - 1] == ' ' || p[e - 1] == '\t'))
                e--;
            if (contains(name, n, p + s, e - s)) return 1;
            p += pn;
            if (*p == ',') p++;
        }
    return 0;
}

/* scheme://user:password@host: the offset of the password, or -1. Only the authority (up to
 * '/', '?', '#' or white space) is looked at. */
static long url_password(const char *v, size_t n, size_t i)
{
    size_t a = i + 3, colon = 0, e = a;
    while (e < n && !strchr("/?# \t\n,;\"'", v[e]) && v[e] != '@')
        if (v[e++] == ':' && !colon) colon = e;
    if (e >= n || v[e] != '@' || !colon || colon == e) return -1;
    return (long)colon;
}

/* key=value with a secret key: the offset of the value, or -1. i is at the '='. */
static long pair_value(const char *v, size_t n, size_t i)
{
    size_t k = i;
    while (k > 0 && (is_alnum((unsigned char)v[k - 1]) || v[k - 1] == '_' || v[k - 1] == '-'))
        k--;
    if (k == i || i + 1 >= n || strchr(" ;&,", v[i + 1])) return -1; /* no key or no value */
    if (k > 0 && !strchr(" \t;&?,\"'", v[k - 1])) return -1;         /* inside another word */
    for (size_t w = 0; w < sizeof value_keys / sizeof value_keys[0]; w++)
        if (strlen(value_keys[w]) == i - k && !strncasecmp(v + k, value_keys[w], i - k))
            return (long)i + 1;
    return -1;
}

/* A JWT at i: three dot-separated base64url parts, the first one "eyJ...". */
static int jwt_at(const char *v, size_t n, size_t i)
{
    if (n - i < 3 || memcmp(v + i, "eyJ", 3)) return 0;
    size_t p = i;
    for (int part = 0; part < 3; part++) {
        size_t s = p;
        while (p < n && in_class((unsigned char)v[p], B64URL))
            p++;
        if (p - s < 8) return 0;
        if (part < 2 && (p >= n || v[p++] != '.')) return 0;
    }
    return 1;
}

static int token_at(const char *v, size_t n, size_t i)
{
    for (size_t t = 0; t < sizeof token_formats / sizeof token_formats[0]; t++) {
        size_t pl = strlen(token_formats[t].prefix), k = i + pl;
        if (n - i < pl || memcmp(v + i, token_formats[t].prefix, pl)) continue;
        while (k < n && in_class((unsigned char)v[k], token_formats[t].cls))
            k++;
        size_t body = k - i - pl;
        if (body >= token_formats[t].min && (!token_formats[t].max || body == token_formats[t].max))
            return 1;
    }
    return jwt_at(v, n, i);
}

int tr_redact_value(const tr_redact *r, const char *v, size_t n, size_t *at)
{
    if (!r->defaults) return 0;
    for (size_t i = 0; i < n; i++) {
        long hit = -1;
        if (v[i] == ':' && i + 3 <= n && v[i + 1] == '/' && v[i + 2] == '/')
            hit = url_password(v, n, i);
        else if (v[i] == '=')
            hit = pair_value(v, n, i);
        else if ((i == 0 || !is_alnum((unsigned char)v[i - 1])) && token_at(v, n, i))
            hit = (long)i;
        else if (v[i] == '-' && n - i >= 11 && !memcmp(v + i, "-----BEGIN ", 11) &&
                 contains(v + i, n - i, "PRIVATE KEY-----", 16))
            hit = (long)i;
        if (hit >= 0) {
            if (at) *at = (size_t)hit;
            return 1;
        }
    }
    return 0;
}

int tr_redact_env(const tr_redact *r, const char *entry)
{
    size_t nn = strcspn(entry, "=");
    if (tr_redact_name(r, entry, nn)) return 1;
    return entry[nn] == '=' && tr_redact_value(r, entry + nn + 1, strlen(entry + nn + 1), NULL);
}
