/* redact.c - the one rule for what of an environment or command line is secret (redact.h). */
#include "redact.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const name_words[] = {"TOKEN",
                                         "SECRET",
                                         "PASSWORD",
                                         "PASSWD",
                                         "KEY",
                                         "CREDENTIAL",
                                         "AUTH",
                                         "COOKIE",
                                         "SESSION",
                                         "WEBHOOK",
                                         "PRIVATE",
                                         "CONNECTION_STRING",
                                         "CONNECTIONSTRING"};
/* Name endings (MY_PASS, DB_PWD, SENTRY_DSN): as words inside a name they mean other things
 * (PASSENGER, DSNAME); PWD and OLDPWD themselves are the shell's directories. */
static const char *const name_ends[] = {"PASS", "PWD", "DSN"};

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

static int ends_with(const char *s, size_t n, const char *w)
{
    size_t wn = strlen(w);
    return n >= wn && strncasecmp(s + n - wn, w, wn) == 0;
}

int tr_redact_name(const tr_redact *r, const char *name, size_t n)
{
    if (r->defaults) {
        for (size_t i = 0; i < sizeof name_words / sizeof name_words[0]; i++)
            if (contains(name, n, name_words[i], strlen(name_words[i]))) return 1;
        int shell_dir =
            (n == 3 && !strncmp(name, "PWD", 3)) || (n == 6 && !strncmp(name, "OLDPWD", 6));
        for (size_t i = 0; i < sizeof name_ends / sizeof name_ends[0] && !shell_dir; i++)
            if (ends_with(name, n, name_ends[i])) return 1;
    }
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

/* Each matcher looks at v[i] in the whole of v[0..n) and returns the end of the secret it finds
 * there (0: none), its start in *s. */

/* scheme://user:password@host: the password. Only the authority (up to '/', '?', '#' or white
 * space) is looked at. i is at the ':' of "://". */
static size_t url_password(const char *v, size_t n, size_t i, size_t *s)
{
    size_t colon = 0, e = i + 3;
    while (e < n && !strchr("/?# \t\n,;\"'", v[e]) && v[e] != '@')
        if (v[e++] == ':' && !colon) colon = e;
    if (e >= n || v[e] != '@' || !colon || colon == e) return 0;
    *s = colon;
    return e;
}

/* Hosts (and path prefixes) of URLs that are secrets by themselves: webhook URLs carry their
 * credential in the path, DSNs (Sentry) in a userinfo without password. */
static const char *const webhook_prefixes[] = {
    "hooks.slack.com/services/",    "hooks.slack.com/workflows/",  "discord.com/api/webhooks/",
    "discordapp.com/api/webhooks/", "outlook.office.com/webhook/", "hooks.zapier.com/hooks/"};

/* The end of the URL (or authority) that starts after "://" at a. */
static size_t url_end(const char *v, size_t n, size_t a)
{
    while (a < n && !strchr(" \t\n\"'", v[a]))
        a++;
    return a;
}

/* A webhook URL (its path) or a DSN (user@...sentry.io: its user): i at the ':' of "://". */
static size_t url_secret_part(const char *v, size_t n, size_t i, size_t *s)
{
    size_t a = i + 3;
    for (size_t w = 0; w < sizeof webhook_prefixes / sizeof webhook_prefixes[0]; w++) {
        size_t pl = strlen(webhook_prefixes[w]);
        if (n - a > pl && !strncasecmp(v + a, webhook_prefixes[w], pl)) {
            *s = a + pl;
            return url_end(v, n, a + pl);
        }
    }
    size_t at = a;
    while (at < n && !strchr("/?#@ \t\n\"'", v[at]))
        at++;
    if (at >= n || v[at] != '@' || at == a) return 0;
    size_t host = at + 1, he = host;
    while (he < n && !strchr("/?#: \t\n\"'", v[he]))
        he++;
    if (ends_with(v + host, he - host, ".sentry.io") ||
        contains(v + host, he - host, "sentry", 6)) {
        *s = a;
        return at;
    }
    return 0;
}

/* key=value with a secret key: the value. i is at the '='. */
static size_t pair_value(const char *v, size_t n, size_t i, size_t *s)
{
    size_t k = i;
    while (k > 0 && (is_alnum((unsigned char)v[k - 1]) || v[k - 1] == '_' || v[k - 1] == '-'))
        k--;
    if (k == i || i + 1 >= n || strchr(" ;&,", v[i + 1])) return 0; /* no key or no value */
    if (k > 0 && !strchr(" \t;&?,\"'", v[k - 1])) return 0;         /* inside another word */
    for (size_t w = 0; w < sizeof value_keys / sizeof value_keys[0]; w++)
        if (strlen(value_keys[w]) == i - k && !strncasecmp(v + k, value_keys[w], i - k)) {
            size_t e = i + 1;
            while (e < n && !strchr(" \t\n;&,\"'", v[e]))
                e++;
            *s = i + 1;
            return e;
        }
    return 0;
}

/* A JWT at i: three dot-separated base64url parts, the first one "eyJ...". */
static size_t jwt_at(const char *v, size_t n, size_t i)
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
    return p;
}

static size_t token_at(const char *v, size_t n, size_t i)
{
    for (size_t t = 0; t < sizeof token_formats / sizeof token_formats[0]; t++) {
        size_t pl = strlen(token_formats[t].prefix), k = i + pl;
        if (n - i < pl || memcmp(v + i, token_formats[t].prefix, pl)) continue;
        while (k < n && in_class((unsigned char)v[k], token_formats[t].cls))
            k++;
        size_t body = k - i - pl;
        if (body >= token_formats[t].min && (!token_formats[t].max || body == token_formats[t].max))
            return k;
    }
    return jwt_at(v, n, i);
}

/* The first secret of v[0..n) that starts at or after from: 1 with [*s, *e), else 0. */
static int find(const tr_redact *r, const char *v, size_t n, size_t from, size_t *s, size_t *e)
{
    if (!r->defaults) return 0;
    for (size_t i = from; i < n; i++) {
        size_t end = 0;
        *s = i;
        if (v[i] == ':' && i + 3 <= n && v[i + 1] == '/' && v[i + 2] == '/') {
            end = url_password(v, n, i, s);
            if (!end) end = url_secret_part(v, n, i, s);
        } else if (v[i] == '=')
            end = pair_value(v, n, i, s);
        else if (i == 0 || !is_alnum((unsigned char)v[i - 1]))
            end = token_at(v, n, i);
        if (!end && v[i] == '-' && n - i >= 11 && !memcmp(v + i, "-----BEGIN ", 11) &&
            contains(v + i, n - i, "PRIVATE KEY-----", 16))
            end = n; /* a PEM private key: the rest */
        if (end) {
            *e = end;
            return 1;
        }
    }
    return 0;
}

int tr_redact_value(const tr_redact *r, const char *v, size_t n, size_t *at, size_t *len)
{
    size_t s, e;
    if (!find(r, v, n, 0, &s, &e)) return 0;
    if (at) *at = s;
    if (len) *len = e - s;
    return 1;
}

size_t tr_redact_copy(const tr_redact *r, const char *v, size_t n, char *out, size_t outn)
{
    static const char mark[] = "[redacted]";
    size_t o = 0, p = 0, s, e;
    if (!outn) return 0;
    while (p < n) {
        int hit = find(r, v, n, p, &s, &e);
        if (!hit) s = e = n;
        for (; p < s && o + 1 < outn; p++)
            out[o++] = v[p];
        for (size_t k = 0; hit && k < sizeof mark - 1 && o + 1 < outn; k++)
            out[o++] = mark[k];
        if (o + 1 >= outn) break;
        p = e;
    }
    out[o] = 0;
    return o;
}

/* "--NAME" or "--NAME=...": 1 when NAME (dashes count as underscores do: neither is part of a
 * word) is secret by the name rule; *nl gets the length of "--NAME". */
static int secret_flag(const tr_redact *r, const char *a, size_t n, size_t *nl)
{
    if (n < 3 || a[0] != '-' || a[1] != '-' || a[2] == '-' || a[2] == '=') return 0;
    size_t e = 2;
    while (e < n && a[e] != '=')
        e++;
    *nl = e;
    return tr_redact_name(r, a + 2, e - 2);
}

/* Another long flag after "--auth" is no value ("--no-auth --verbose"). */
static int next_flag(const char *a, size_t n)
{
    return n > 2 && a[0] == '-' && a[1] == '-';
}

int tr_redact_arg(const tr_redact *r, const char *prev, const char *a, size_t n)
{
    size_t nl;
    if (prev && secret_flag(r, prev, strlen(prev), &nl) && prev[nl] != '=' && !next_flag(a, n))
        return 1;
    if (secret_flag(r, a, n, &nl) && nl < n) return 1;
    return tr_redact_value(r, a, n, NULL, NULL);
}

size_t tr_redact_arg_copy(const tr_redact *r, const char *prev, const char *a, size_t n, char *out,
                          size_t outn)
{
    static const char mark[] = "[redacted]";
    size_t nl, o = 0;
    if (!outn) return 0;
    if (prev && secret_flag(r, prev, strlen(prev), &nl) && prev[nl] != '=' && !next_flag(a, n)) {
        n = 0; /* the value of "--password" given as the next argument: all of it */
    } else if (secret_flag(r, a, n, &nl) && nl < n) {
        for (; o < nl + 1 && o + 1 < outn; o++) /* "--password=" stays */
            out[o] = a[o];
        n = 0;
    } else {
        return tr_redact_copy(r, a, n, out, outn);
    }
    for (size_t k = 0; k < sizeof mark - 1 && o + 1 < outn; k++)
        out[o++] = mark[k];
    out[o] = 0;
    return o;
}

int tr_redact_env(const tr_redact *r, const char *entry)
{
    size_t nn = strcspn(entry, "=");
    if (tr_redact_name(r, entry, nn)) return 1;
    return entry[nn] == '=' &&
           tr_redact_value(r, entry + nn + 1, strlen(entry + nn + 1), NULL, NULL);
}
