/* output_safety_test.c - integration: hostile bytes in names, tags, params, argv, metric keys
 * and file paths never reach the terminal raw and never break --json; --where nesting has a
 * limit; integers past 2^53 print exactly; the embedded store warns about exposed files. */
#include <cjson/cJSON.h>
#include <sys/stat.h>

#include "tassert.h"
#include "tproc.h"

#define TRAIL (char *)tproc_bin("trail")
#define CLIENT (char *)tproc_test_bin("trust_client")
#define NFUZZ 24

static const char *sandbox;

/* 1 when s (n bytes) is valid UTF-8. */
static int valid_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t l = c < 0x80                 ? 1
                   : c >= 0xc2 && c <= 0xdf ? 2
                   : c >= 0xe0 && c <= 0xef ? 3
                   : c >= 0xf0 && c <= 0xf4 ? 4
                                            : 0;
        if (!l || i + l > n) return 0;
        for (size_t k = 1; k < l; k++)
            if ((s[i + k] & 0xc0) != 0x80) return 0;
        if ((c == 0xe0 && s[i + 1] < 0xa0) || (c == 0xed && s[i + 1] > 0x9f) ||
            (c == 0xf0 && s[i + 1] < 0x90) || (c == 0xf4 && s[i + 1] > 0x8f))
            return 0;
        i += l;
    }
    return 1;
}

/* The first raw control byte in text output (C0 but newline, or tab in JSON; DEL; C1 as
 * UTF-8), or -1. */
static long raw_control(const char *s, int tabs_ok)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; u[i]; i++) {
        if (u[i] == '\n' || (tabs_ok && u[i] == '\t')) continue;
        if (u[i] < 0x20 || u[i] == 0x7f) return (long)i;
        if (u[i] == 0xc2 && u[i + 1] >= 0x80 && u[i + 1] < 0xa0) return (long)i;
    }
    return -1;
}

static unsigned rng = 12345;

static unsigned next_rand(void)
{
    rng = rng * 1103515245u + 12345u;
    return (rng >> 8) & 0xffffff;
}

/* A hostile string: printable text mixed with ESC/OSC/CSI sequences, CR, BEL, DEL, C1 and
 * bytes that are not UTF-8. */
static void fuzz_string(char *buf, size_t cap, int i)
{
    static const char *const bits[] = {"\x1b[2J",
                                       "\x1b]0;pwned\x07",
                                       "\r",
                                       "\x07",
                                       "\x7f",
                                       "\xc2\x9b\x33\x31m",
                                       "\xff",
                                       "\xc3",
                                       "\xed\xa0\x80",
                                       "\x08",
                                       "\xe2\x82",
                                       "ok",
                                       "é",
                                       "\t",
                                       "\n",
                                       "\x1b[31m",
                                       "\xf8\x88"};
    size_t n = 0;
    snprintf(buf, cap, "f%d-", i);
    n = strlen(buf);
    int parts = 2 + (int)(next_rand() % 6);
    for (int k = 0; k < parts; k++) {
        const char *b = bits[next_rand() % (sizeof bits / sizeof bits[0])];
        char one[2] = {(char)(1 + next_rand() % 255), 0};
        if (next_rand() % 3 == 0) b = one;
        size_t l = strlen(b);
        if (n + l + 1 >= cap) break;
        memcpy(buf + n, b, l);
        n += l;
    }
    buf[n] = 0;
}

/* Parses a --json document: valid UTF-8, cJSON accepts it, no raw control bytes. */
static cJSON *parse_json(const char *what, const char *out)
{
    T_CHECK(out && valid_utf8((const unsigned char *)out, strlen(out)));
    cJSON *doc = out ? cJSON_Parse(out) : NULL;
    if (!doc) T_FAIL("%s: not JSON", what);
    long at = out ? raw_control(out, 1) : -1;
    if (at >= 0) T_FAIL("%s: raw control byte 0x%02x at %ld", what, (unsigned char)out[at], at);
    return doc;
}

static void check_text(const char *what, const char *out)
{
    long at = out ? raw_control(out, 0) : 0;
    if (at >= 0)
        T_FAIL("%s: raw control byte 0x%02x at %ld", what, out ? (unsigned char)out[at] : 0, at);
}

/* Fuzzed names through trail run, then every text and --json view of them. */
static void test_fuzzed_names(void)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/files", sandbox);
    T_ASSERT(mkdir(dir, 0700) == 0);
    for (int i = 0; i < NFUZZ; i++) {
        char s[128], tag[160], param[160];
        fuzz_string(s, sizeof s, i);
        snprintf(tag, sizeof tag, "t=%s", s);
        snprintf(param, sizeof param, "p=%s", s);
        T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", s, "--tag", tag, "--param", param, "--",
                       CLIENT, dir, s),
                 0);
    }
    char *out = NULL, *err = NULL;
    T_EQ_INT(TPROC(&out, NULL, TRAIL, "runs", "--json", "--limit", "1000"), 0);
    cJSON *runs = parse_json("runs --json", out);
    free(out);
    T_EQ_INT(cJSON_GetArraySize(runs), NFUZZ);
    T_EQ_INT(TPROC(&out, NULL, TRAIL, "runs", "--limit", "1000"), 0);
    check_text("runs", out);
    free(out);
    const cJSON *r;
    int shown = 0;
    cJSON_ArrayForEach(r, runs)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(r, "id");
        T_ASSERT(cJSON_IsString(id));
        char *ref = id->valuestring;
        T_EQ_INT(TPROC(&out, NULL, TRAIL, "show", ref, "--json"), 0);
        cJSON *doc = parse_json("show --json", out);
        free(out);
        cJSON_Delete(doc);
        T_EQ_INT(TPROC(&out, &err, TRAIL, "show", ref, "--all"), 0);
        check_text("show", out);
        shown += out && strstr(out, "\\x1b") != NULL;
        free(out);
        free(err);
        T_EQ_INT(TPROC(&out, NULL, TRAIL, "metrics", ref, "--format", "json"), 0);
        doc = parse_json("metrics --json", out);
        free(out);
        cJSON_Delete(doc);
        T_EQ_INT(TPROC(&out, NULL, TRAIL, "metrics", ref), 0);
        check_text("metrics", out);
        free(out);
        T_EQ_INT(TPROC(&out, NULL, TRAIL, "lineage", ref), 0);
        check_text("lineage", out);
        free(out);
        T_EQ_INT(TPROC(&out, NULL, TRAIL, "lineage", ref, "--format", "dot"), 0);
        check_text("lineage dot", out);
        free(out);
        T_EQ_INT(TPROC(&out, NULL, TRAIL, "lineage", ref, "--format", "mermaid"), 0);
        check_text("lineage mermaid", out);
        free(out);
    }
    T_CHECK(shown > 0); /* the ESC bytes are there, escaped */
    const cJSON *a = cJSON_GetArrayItem(runs, 0), *b = cJSON_GetArrayItem(runs, 1);
    T_EQ_INT(TPROC(&out, NULL, TRAIL, "diff", cJSON_GetObjectItem(a, "id")->valuestring,
                   cJSON_GetObjectItem(b, "id")->valuestring),
             0);
    check_text("diff", out);
    free(out);
    T_EQ_INT(TPROC(&out, NULL, TRAIL, "diff", cJSON_GetObjectItem(a, "id")->valuestring,
                   cJSON_GetObjectItem(b, "id")->valuestring, "--json"),
             0);
    cJSON_Delete(parse_json("diff --json", out));
    free(out);
    cJSON_Delete(runs);
}

/* Metric steps past 2^53 print exactly, as text and as JSON. */
static void test_exact_steps(void)
{
    char *out = NULL;
    char dir[600];
    snprintf(dir, sizeof dir, "%s/steps", sandbox);
    T_ASSERT(mkdir(dir, 0700) == 0);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "bigstep", "--", CLIENT, dir, "plain"), 0);
    T_EQ_INT(TPROC(&out, NULL, TRAIL, "metrics", "bigstep", "--format", "json"), 0);
    cJSON *doc = parse_json("metrics --json", out);
    T_CHECK(out && strstr(out, "9007199254740993"));
    free(out);
    cJSON_Delete(doc);
    T_EQ_INT(TPROC(&out, NULL, TRAIL, "metrics", "bigstep"), 0);
    T_CHECK(out && strstr(out, "9007199254740993") && !strstr(out, "9007199254740992"));
    free(out);
    T_EQ_INT(TPROC(&out, NULL, TRAIL, "metrics", "bigstep", "--format", "csv"), 0);
    T_CHECK(out && strstr(out, ",9007199254740993,"));
    free(out);
}

/* 20 000 nested parentheses: a clear error, no crash. */
static void test_where_nesting(void)
{
    size_t n = 20000;
    char *expr = malloc(2 * n + 32), *out = NULL, *err = NULL;
    T_ASSERT(expr != NULL);
    memset(expr, '(', n);
    strcpy(expr + n, "name = 'x'");
    memset(expr + n + 10, ')', n);
    expr[2 * n + 10] = 0;
    T_EQ_INT(TPROC(&out, &err, TRAIL, "runs", "--where", expr), 2);
    T_CHECK(err && strstr(err, "nested too deeply"));
    free(out);
    free(err);
    /* 30 levels are fine */
    memset(expr, '(', 30);
    strcpy(expr + 30, "name = 'x'");
    memset(expr + 40, ')', 30);
    expr[70] = 0;
    T_EQ_INT(TPROC(&out, &err, TRAIL, "runs", "--where", expr), 0);
    free(out);
    free(err);
    free(expr);
}

/* A store others can read, or in a directory others can write: one warning line. */
static void test_exposed_store(void)
{
    char dir[600], db[700], *out = NULL, *err = NULL;
    snprintf(dir, sizeof dir, "%s/shared", sandbox);
    T_ASSERT(mkdir(dir, 0700) == 0);
    snprintf(db, sizeof db, "%s/s.db", dir);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--store", db, "--", "true"), 0);
    T_EQ_INT(TPROC(&out, &err, TRAIL, "runs", "--store", db), 0);
    T_CHECK(err && !strstr(err, "warning"));
    free(out);
    free(err);
    chmod(db, 0644);
    T_EQ_INT(TPROC(&out, &err, TRAIL, "runs", "--store", db), 0);
    T_CHECK(err && strstr(err, "readable by group or others") && strstr(err, "0644"));
    free(out);
    free(err);
    chmod(db, 0600);
    chmod(dir, 0777);
    T_EQ_INT(TPROC(&out, &err, TRAIL, "runs", "--store", db), 0);
    T_CHECK(err && strstr(err, "a directory group or others can write") && strstr(err, "0777"));
    free(out);
    free(err);
    chmod(dir, 0700);
}

int main(void)
{
    sandbox = tproc_sandbox();
    T_RUN(test_fuzzed_names);
    T_RUN(test_exact_steps);
    T_RUN(test_where_nesting);
    T_RUN(test_exposed_store);
    return T_DONE();
}
