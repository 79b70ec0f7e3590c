/* console_metrics.c - the pure parser of metrics printed on a console line (no state, no I/O).
 */
#include "console_metrics.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A line being parsed: the cleaned text and what it yields so far. */
typedef struct cm {
    const char *s;
    size_t n;
    tr_cm_line *out;
    int step_rank; /* rank of the step field found (0 none): global_step 4, step 3, iter 2 ... */
    int metricish; /* keys naming metrics seen: 1 a setting too (lr), 2 a result (loss, acc) */
} cm;

/* Keys that are never metrics: identifiers, versions, times, ranks and sizes of the setup. */
static const char *const not_metrics[] = {
    "id",      "pid",         "ppid",       "tid",        "uid",       "gid",        "port",
    "version", "ver",         "v",          "date",       "time",      "timestamp",  "ts",
    "host",    "seed",        "rank",       "local_rank", "node_rank", "world_size", "line",
    "lineno",  "errno",       "code",       "exit_code",  "status",    "thread",     "worker",
    "workers", "num_workers", "nproc",      "gpu",        "gpus",      "device",     "cuda",
    "python",  "torch",       "numpy",      "year",       "month",     "day",        "hour",
    "minute",  "second",      "page",       "build",      "release",   "commit",     "hash",
    "sha",     "pytorch",     "tensorflow", "keras",      "jax",       "sklearn",    "cudnn",
    "nccl",    "driver",      "level",      "col",        "column",    "offset",     "addr",
    "address", "file",        "files",      "bytes",      "size",      "chunk",      "pos"};

/* Words in a key that make it a metric. */
static const char *const metric_words[] = {"loss",
                                           "acc",
                                           "accuracy",
                                           "err",
                                           "error",
                                           "lr",
                                           "learning_rate",
                                           "perplexity",
                                           "ppl",
                                           "f1",
                                           "precision",
                                           "recall",
                                           "auc",
                                           "mae",
                                           "mse",
                                           "rmse",
                                           "bleu",
                                           "rouge",
                                           "score",
                                           "reward",
                                           "return",
                                           "top1",
                                           "top5",
                                           "grad_norm",
                                           "norm",
                                           "map",
                                           "iou",
                                           "dice",
                                           "entropy",
                                           "kl",
                                           "psnr",
                                           "ssim",
                                           "wer",
                                           "cer",
                                           "throughput",
                                           "mrr",
                                           "ndcg",
                                           "r2",
                                           "logloss",
                                           "nll",
                                           "elbo",
                                           "fid",
                                           "energy",
                                           "objective",
                                           "cost",
                                           "metric",
                                           "samples_per_second",
                                           "steps_per_second",
                                           "runtime"};

/* Step fields and their rank (the highest found gives the line's step). */
static int step_rank(const char *k)
{
    if (!strcasecmp(k, "global_step")) return 5;
    if (!strcasecmp(k, "step")) return 4;
    if (!strcasecmp(k, "iteration") || !strcasecmp(k, "iter")) return 3;
    if (!strcasecmp(k, "epoch")) return 2;
    return 0;
}

static int is_blacklisted(const char *k)
{
    for (size_t i = 0; i < sizeof not_metrics / sizeof not_metrics[0]; i++)
        if (!strcasecmp(k, not_metrics[i])) return 1;
    size_t n = strlen(k);
    return n > 3 && !strcasecmp(k + n - 3, "_id");
}

/* A key with a part (split at _ / . -) that is a metric word, or containing loss/acc: 2, or
 * 1 for a learning rate (a metric in a log line, a setting in a printed configuration). */
static int is_metricish(const char *k)
{
    if (!strcasecmp(k, "lr") || !strcasecmp(k, "learning_rate")) return 1;
    char low[TR_CM_KEY_MAX];
    size_t n = 0;
    for (; k[n] && n < sizeof low - 1; n++)
        low[n] = (char)tolower((unsigned char)k[n]);
    low[n] = 0;
    if (strstr(low, "loss") || strstr(low, "acc")) return 2;
    for (size_t i = 0; i < sizeof metric_words / sizeof metric_words[0]; i++)
        if (!strcmp(low, metric_words[i])) return 2;
    for (char *p = low; *p;) {
        size_t l = strcspn(p, "_/.-");
        for (size_t i = 0; i < sizeof metric_words / sizeof metric_words[0]; i++)
            if (strlen(metric_words[i]) == l && !strncmp(p, metric_words[i], l)) return 2;
        p += l;
        if (*p) p++;
    }
    return 0;
}

/* Characters that may end a number: anything but letters, digits, '.', ':', '-', '/', '_'. */
static int ends_number(const char *s, size_t n, size_t i)
{
    if (i >= n) return 1;
    char c = s[i];
    if (c == '.' || c == ':') return i + 1 >= n || s[i + 1] == ' ' || s[i + 1] == '\t';
    if (c == '%') return ends_number(s, n, i + 1) && !(i + 1 < n && s[i + 1] == '%');
    return c == ' ' || c == '\t' || c == ',' || c == ';' || c == '|' || c == ')' || c == ']' ||
           c == '}' || c == '\'' || c == '"';
}

/* A number at s[*i] ending where a number may end: its value, *i past it, *integer when it had
 * no fraction or exponent. nan and inf (any case) count when names is set. 0 or -1. */
static int number_at(const char *s, size_t n, size_t *i, double *v, int *integer, int names)
{
    size_t j = *i;
    if (j < n && (s[j] == '-' || s[j] == '+')) j++;
    size_t digits = j;
    if (names && j + 3 <= n && (!strncasecmp(s + j, "nan", 3) || !strncasecmp(s + j, "inf", 3))) {
        size_t e = j + 3;
        if (e + 5 <= n && !strncasecmp(s + j, "infinity", 8)) e = j + 8;
        if (!ends_number(s, n, e)) return -1;
        char buf[16];
        snprintf(buf, sizeof buf, "%.*s", (int)(e - *i), s + *i);
        *v = strtod(buf, NULL);
        *integer = 0;
        *i = e;
        return 0;
    }
    while (j < n && isdigit((unsigned char)s[j]))
        j++;
    int frac = 0;
    if (j < n && s[j] == '.' && j + 1 < n && isdigit((unsigned char)s[j + 1])) {
        frac = 1;
        for (j++; j < n && isdigit((unsigned char)s[j]);)
            j++;
    }
    if (j == digits) return -1;
    if (j < n && (s[j] == 'e' || s[j] == 'E')) {
        size_t e = j + 1;
        if (e < n && (s[e] == '-' || s[e] == '+')) e++;
        if (e < n && isdigit((unsigned char)s[e])) {
            while (e < n && isdigit((unsigned char)s[e]))
                e++;
            j = e;
            frac = 1;
        }
    }
    if (!ends_number(s, n, j)) return -1;
    char buf[64];
    if (j - *i >= sizeof buf) return -1;
    memcpy(buf, s + *i, j - *i);
    buf[j - *i] = 0;
    *v = strtod(buf, NULL);
    *integer = !frac;
    *i = j;
    return 0;
}

/* Records key = v: a step field sets the line's step (integers only), anything else a point. */
static void add(cm *c, const char *key, double v, int integer)
{
    int rank = step_rank(key);
    if (rank && integer && v >= 0 && v < 9e15) {
        if (rank > c->step_rank) {
            /* the strongest step field names the step; weaker ones are dropped */
            c->step_rank = rank;
            c->out->has_step = 1;
            c->out->step = (int64_t)v;
        }
        return;
    }
    if (is_blacklisted(key) || c->out->npoints >= TR_CM_MAX_POINTS) return;
    for (int i = 0; i < c->out->npoints; i++)
        if (!strcmp(c->out->p[i].key, key)) return; /* the first of a repeated key */
    c->metricish |= is_metricish(key);
    tr_cm_point *p = &c->out->p[c->out->npoints++];
    snprintf(p->key, sizeof p->key, "%s", key);
    p->value = v;
}

static int key_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '/' || c == '.' || c == '-';
}

/* A key starting at s[i]: a letter or '_', then key characters, not ending in . / -. Returns
 * its length (0: none). */
static size_t key_at(const char *s, size_t n, size_t i)
{
    if (i >= n || !(isalpha((unsigned char)s[i]) || s[i] == '_')) return 0;
    size_t j = i + 1;
    while (j < n && key_char(s[j]) && j - i < TR_CM_KEY_MAX - 1)
        j++;
    while (j > i + 1 && (s[j - 1] == '.' || s[j - 1] == '/' || s[j - 1] == '-'))
        j--;
    if (j < n && key_char(s[j]) && s[j] != '.' && s[j] != '/' && s[j] != '-') return 0;
    return j - i;
}

static size_t skip_blank(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    return i;
}

/* "N/M" or "[N/M]" after a step word: N. */
static int step_of_total(const char *s, size_t n, size_t *i, double *v)
{
    size_t j = *i, br = j < n && s[j] == '[';
    j += br;
    size_t d = j;
    while (j < n && isdigit((unsigned char)s[j]))
        j++;
    if (j == d || j >= n || s[j] != '/') return -1;
    size_t t = ++j;
    while (j < n && isdigit((unsigned char)s[j]))
        j++;
    if (j == t) return -1;
    if (br) {
        if (j >= n || s[j] != ']') return -1;
        j++;
    }
    if (!ends_number(s, n, j)) return -1;
    *v = strtod(s + d, NULL);
    *i = j;
    return 0;
}

/* The text forms: key=value, key: value, and "key value" for step and metric words (a
 * train/val/test word before a metric word prefixes it: "val loss 0.3" is val_loss). */
static void parse_text(cm *c)
{
    const char *s = c->s;
    size_t n = c->n;
    char key[TR_CM_KEY_MAX];
    for (size_t i = 0; i < n;) {
        char prev = i ? s[i - 1] : ' ';
        int boundary = prev == ' ' || prev == '\t' || prev == '(' || prev == '[' || prev == '{' ||
                       prev == ',' || prev == ';' || prev == '|';
        size_t kl = (boundary || prev == ':') ? key_at(s, n, i) : 0;
        if (!kl) {
            i++;
            continue;
        }
        memcpy(key, s + i, kl);
        key[kl] = 0;
        size_t j = i + kl, v0;
        double v;
        int integer;
        size_t e = skip_blank(s, n, j);
        if (e < n && s[e] == '=' && (boundary || prev == ':') && !(e + 1 < n && s[e + 1] == '=')) {
            v0 = skip_blank(s, n, e + 1);
            if (number_at(s, n, &v0, &v, &integer, 1) == 0) {
                add(c, key, v, integer);
                i = v0;
                continue;
            }
        } else if (boundary && j < n && s[j] == ':' && j + 1 < n &&
                   (s[j + 1] == ' ' || s[j + 1] == '\t')) {
            v0 = skip_blank(s, n, j + 1);
            if (number_at(s, n, &v0, &v, &integer, 1) == 0 ||
                (step_rank(key) && step_of_total(s, n, &v0, &v) == 0 && (integer = 1))) {
                add(c, key, v, integer);
                i = v0;
                continue;
            }
        } else if (boundary && e > j && e < n) {
            v0 = e;
            int step = step_rank(key) != 0, metric = !step && is_metricish(key);
            if ((step || metric) &&
                (number_at(s, n, &v0, &v, &integer, 0) == 0 ||
                 (step && step_of_total(s, n, &v0, &v) == 0 && (integer = 1)))) {
                /* "val loss 0.3": the word before names the split */
                static const char *const splits[] = {"train",      "training", "val", "valid",
                                                     "validation", "test",     "eval"};
                char full[TR_CM_KEY_MAX];
                snprintf(full, sizeof full, "%s", key);
                for (size_t k = 0; metric && k < sizeof splits / sizeof splits[0]; k++) {
                    size_t l = strlen(splits[k]);
                    if (i >= l + 1 && s[i - 1] == ' ' &&
                        !strncasecmp(s + i - 1 - l, splits[k], l) &&
                        (i == l + 1 || !key_char(s[i - 2 - l])))
                        snprintf(full, sizeof full, "%.*s_%.*s", (int)l, s + i - 1 - l,
                                 (int)(TR_CM_KEY_MAX - l - 2), key);
                }
                for (char *p = full; metric && *p; p++)
                    *p = (char)tolower((unsigned char)*p);
                add(c, step ? key : full, v, integer);
                i = v0;
                continue;
            }
        }
        i = j;
    }
}

/* A JSON object or Python dict on one line: top-level 'key' or "key" with a number value;
 * strings, literals and nested values are skipped. A log record (level/msg fields) yields
 * nothing. */
static void parse_dict(cm *c)
{
    const char *s = c->s;
    size_t n = c->n, i = 1;
    char key[TR_CM_KEY_MAX];
    int depth = 0;
    while (i < n - 1) {
        char ch = s[i];
        if (ch == '{' || ch == '[') {
            depth++;
            i++;
            continue;
        }
        if (ch == '}' || ch == ']') {
            depth--;
            i++;
            continue;
        }
        if (ch != '"' && ch != '\'') {
            i++;
            continue;
        }
        /* a quoted string: a key when a ':' follows at the top level */
        size_t q = i + 1, k = 0;
        while (q < n && s[q] != ch) {
            if (s[q] == '\\') q++;
            if (k < sizeof key - 1 && q < n) key[k++] = s[q];
            q++;
        }
        key[k] = 0;
        if (q >= n) return;
        size_t j = skip_blank(s, n, q + 1);
        i = q + 1;
        if (depth != 0 || j >= n || s[j] != ':') continue;
        if (!strcasecmp(key, "level") || !strcasecmp(key, "levelname") || !strcasecmp(key, "msg") ||
            !strcasecmp(key, "message") || !strcasecmp(key, "severity")) {
            c->out->npoints = 0;
            c->out->has_step = 0;
            c->metricish = 0;
            c->step_rank = 0;
            c->n = 0;
            return;
        }
        size_t v0 = skip_blank(s, n, j + 1);
        double v;
        int integer;
        if (k > 0 && k < sizeof key - 1 && number_at(s, n, &v0, &v, &integer, 1) == 0) {
            add(c, key, v, integer);
            i = v0;
        }
    }
}

/* Copies the line without ANSI escape sequences and with other control characters as spaces;
 * returns the length. */
static size_t clean(const char *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)in[i];
        if (ch == 0x1b) {
            if (i + 1 < n && in[i + 1] == '[') { /* CSI: parameters, then a final byte */
                for (i += 2;
                     i < n && !((unsigned char)in[i] >= 0x40 && (unsigned char)in[i] <= 0x7e);)
                    i++;
            } else if (i + 1 < n && in[i + 1] == ']') { /* OSC: up to BEL or ESC \ */
                for (i += 2; i < n && in[i] != 0x07 && !(in[i] == 0x1b); i++) {
                }
                if (i < n && in[i] == 0x1b) i++;
            } else {
                i++;
            }
            continue;
        }
        out[o++] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
    }
    return o;
}

/* Named groups of a user pattern: (?<name> and (?P<name> become plain groups. */
int tr_cm_rules_add(tr_cm_rules *rules, const char *pattern, char *err, size_t errlen)
{
    if (rules->n >= TR_CM_MAX_RULES) {
        snprintf(err, errlen, "at most %d patterns", TR_CM_MAX_RULES);
        return -1;
    }
    tr_cm_rule *r = &rules->r[rules->n];
    memset(r, 0, sizeof *r);
    size_t len = strlen(pattern);
    char *re = malloc(len + 1);
    if (!re) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t o = 0;
    int bracket = 0, named = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = pattern[i];
        if (ch == '\\' && i + 1 < len) {
            re[o++] = ch;
            re[o++] = pattern[++i];
            continue;
        }
        if (bracket) {
            if (ch == ']') bracket = 0;
            re[o++] = ch;
            continue;
        }
        if (ch == '[') {
            bracket = 1;
            re[o++] = ch;
            if (i + 1 < len && pattern[i + 1] == ']') re[o++] = pattern[++i];
            continue;
        }
        re[o++] = ch;
        if (ch != '(') continue;
        int g = r->ngroups++;
        /* the name starts after "(?<" or "(?P<" */
        size_t nm = 0;
        if (i + 2 < len && pattern[i + 1] == '?' && pattern[i + 2] == '<') nm = i + 3;
        if (i + 3 < len && pattern[i + 1] == '?' && pattern[i + 2] == 'P' && pattern[i + 3] == '<')
            nm = i + 4;
        if (nm) {
            const char *end = strchr(pattern + nm, '>');
            size_t l = end ? (size_t)(end - (pattern + nm)) : 0;
            if (!end || l == 0 || l >= TR_CM_KEY_MAX) {
                snprintf(err, errlen, "bad group name in '%s'", pattern);
                free(re);
                return -1;
            }
            if (g < TR_CM_MAX_GROUPS) memcpy(r->names[g], pattern + nm, l);
            named++;
            i = (size_t)(end - pattern);
        }
    }
    re[o] = 0;
    if (!named || r->ngroups > TR_CM_MAX_GROUPS) {
        snprintf(err, errlen, "'%s' needs named groups: (?<key>..)(?<value>..) or (?<NAME>..)",
                 pattern);
        free(re);
        return -1;
    }
    int rc = regcomp(&r->re, re, REG_EXTENDED);
    free(re);
    if (rc) {
        char msg[128];
        regerror(rc, &r->re, msg, sizeof msg);
        snprintf(err, errlen, "'%s': %s", pattern, msg);
        return -1;
    }
    rules->n++;
    return 0;
}

void tr_cm_rules_free(tr_cm_rules *rules)
{
    for (int i = 0; i < rules->n; i++)
        regfree(&rules->r[i].re);
    rules->n = 0;
}

/* A group's text as a number (all of it, blanks around allowed). */
static int group_number(const char *s, regmatch_t m, double *v)
{
    char buf[64];
    size_t l = (size_t)(m.rm_eo - m.rm_so);
    if (m.rm_so < 0 || l == 0 || l >= sizeof buf) return -1;
    memcpy(buf, s + m.rm_so, l);
    buf[l] = 0;
    char *end;
    *v = strtod(buf, &end);
    while (*end == ' ')
        end++;
    return end == buf || *end ? -1 : 0;
}

static void parse_rules(cm *c, const char *s, const tr_cm_rules *rules)
{
    for (int i = 0; i < rules->n; i++) {
        const tr_cm_rule *r = &rules->r[i];
        regmatch_t m[TR_CM_MAX_GROUPS + 1];
        const char *p = s;
        for (int guard = 0; guard < TR_CM_MAX_POINTS && *p; guard++) {
            if (regexec(&r->re, p, TR_CM_MAX_GROUPS + 1, m, guard ? REG_NOTBOL : 0)) break;
            int kg = -1, vg = -1;
            for (int g = 0; g < r->ngroups && g < TR_CM_MAX_GROUPS; g++) {
                if (!strcmp(r->names[g], "key")) kg = g + 1;
                if (!strcmp(r->names[g], "value")) vg = g + 1;
            }
            double v;
            if (kg > 0 && vg > 0 && m[kg].rm_so >= 0 && group_number(p, m[vg], &v) == 0) {
                char key[TR_CM_KEY_MAX];
                size_t l = (size_t)(m[kg].rm_eo - m[kg].rm_so);
                if (l > 0 && l < sizeof key) {
                    memcpy(key, p + m[kg].rm_so, l);
                    key[l] = 0;
                    add(c, key, v, 0);
                }
            }
            for (int g = 0; g < r->ngroups && g < TR_CM_MAX_GROUPS; g++)
                if (r->names[g][0] && g + 1 != kg && g + 1 != vg &&
                    group_number(p, m[g + 1], &v) == 0)
                    add(c, r->names[g], v, 0);
            if (m[0].rm_eo <= 0) break;
            p += m[0].rm_eo;
        }
    }
}

int tr_cm_parse(const char *line, size_t n, const tr_cm_rules *rules, tr_cm_line *out)
{
    char buf[TR_CM_LINE_MAX + 1];
    out->npoints = out->has_step = 0; /* points past npoints are never read */
    out->step = 0;
    if (!line || n > TR_CM_LINE_MAX) return 0;
    size_t len = clean(line, n, buf);
    buf[len] = 0;
    cm c = {.s = buf, .n = len, .out = out};
    if (rules && rules->n) {
        parse_rules(&c, buf, rules);
        c.metricish = out->npoints > 0 ? 2 : 0; /* the user's own patterns name metrics */
    }
    size_t a = skip_blank(buf, len, 0), b = len;
    while (b > a && (buf[b - 1] == ' ' || buf[b - 1] == '\t'))
        b--;
    size_t id = a;
    while (id < b && (isalnum((unsigned char)buf[id]) || buf[id] == '_' || buf[id] == '.'))
        id++;
    if (b - a >= 2 && buf[a] == '{' && buf[b - 1] == '}') {
        /* a dict of settings ({'lr': 0.1, 'epochs': 10}) is not one of results */
        cm d = c;
        d.s = buf + a;
        d.n = b - a;
        d.metricish = 0;
        parse_dict(&d);
        c.metricish |= d.metricish & 2;
        c.step_rank = d.step_rank;
    } else if (id > a && id < b && buf[id] == '(' && !isdigit((unsigned char)buf[a])) {
        /* an object's repr, Namespace(lr=0.1, epochs=10): settings, not results */
    } else {
        parse_text(&c);
    }
    /* a line with no step and no metric word is not a metrics line (versions, sizes, ids) */
    if (!c.metricish && !out->has_step) out->npoints = 0;
    return out->npoints;
}
