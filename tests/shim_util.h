/* shim_util.h - helpers for the shim tests: environments, spool records, trail show, SQL. */
/* helpers for the capture shim's tests: run programs with a modified environment, read the records
 * a spool holds, query `trail show` and the store. */
#ifndef SHIM_UTIL_H
#define SHIM_UTIL_H

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include "record.h"
#include "spool.h"
#include "tassert.h"
#include "tproc.h"

#define SHU_RUN_ID "0123456789abcdef0123456789abcdef"
#define SHU_FN static __attribute__((unused))

/* "$TRAIL_LIB/libtrail_preload.so" (set by ctest), else build/lib/... */
SHU_FN const char *shu_preload(void)
{
    static char buf[4096];
    const char *l = getenv("TRAIL_LIB");
    snprintf(buf, sizeof buf, "%s/libtrail_preload.so", l ? l : "build/lib");
    return buf;
}

/* Runs argv with the environment changed by env ("NAME=VALUE" sets, "-NAME" removes); the
 * test process's own environment is restored afterwards. */
SHU_FN int shu_run(char *const argv[], char *const env[], char **out, char **err)
{
    char *saved[64];
    int n = 0;
    for (; env && env[n]; n++) {
        const char *e = env[n];
        char name[256];
        size_t l = e[0] == '-' ? strlen(e + 1) : strcspn(e, "=");
        memcpy(name, e[0] == '-' ? e + 1 : e, l);
        name[l] = 0;
        const char *old = getenv(name);
        saved[n] = old ? strdup(old) : NULL;
        if (e[0] == '-')
            unsetenv(name);
        else
            setenv(name, e + l + 1, 1);
    }
    int st = tproc_run(argv, out, err);
    for (int i = n - 1; i >= 0; i--) {
        const char *e = env[i];
        char name[256];
        size_t l = e[0] == '-' ? strlen(e + 1) : strcspn(e, "=");
        memcpy(name, e[0] == '-' ? e + 1 : e, l);
        name[l] = 0;
        if (saved[i])
            setenv(name, saved[i], 1);
        else
            unsetenv(name);
        free(saved[i]);
    }
    return st;
}

#define SHU_RUN(env, out, err, ...) shu_run((char *const[]){__VA_ARGS__, NULL}, env, out, err)

/* ---- records straight from a spool directory ---- */

typedef struct shu_rec {
    tr_rec r;
    uint8_t *body;
    int64_t stream_pid;
    char stream[33]; /* one per process image: an exec starts a new one */
} shu_rec;

typedef struct shu_recs {
    shu_rec *v;
    size_t n, cap;
} shu_recs;

SHU_FN int shu_cb(void *ctx, const tr_seg_info *seg, uint64_t seq, const uint8_t *body, size_t len)
{
    (void)seq;
    shu_recs *rs = ctx;
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 256;
        rs->v = realloc(rs->v, rs->cap * sizeof *rs->v);
    }
    shu_rec *r = &rs->v[rs->n];
    r->body = malloc(len);
    memcpy(r->body, body, len);
    r->stream_pid = seg->pid;
    snprintf(r->stream, sizeof r->stream, "%s", seg->stream_id);
    if (tr_rec_decode(r->body, len, &r->r) != 0) {
        free(r->body);
        T_FAIL("undecodable record in %s", seg->path);
        return 0;
    }
    rs->n++;
    return 0;
}

SHU_FN void shu_load(shu_recs *rs, const char *dir)
{
    memset(rs, 0, sizeof *rs);
    tr_spool_reader *rd;
    T_ASSERT(tr_spool_reader_open(dir, &rd) == 0);
    while (tr_spool_reader_poll(rd, shu_cb, rs, 0) > 0) {
    }
    tr_spool_stats st;
    tr_spool_reader_stats(rd, &st);
    if (st.corrupt || st.torn)
        T_FAIL("spool %s: %llu corrupt, %llu torn", dir, (unsigned long long)st.corrupt,
               (unsigned long long)st.torn);
    tr_spool_reader_close(rd);
}

SHU_FN void shu_free(shu_recs *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        free(rs->v[i].body);
    free(rs->v);
    memset(rs, 0, sizeof *rs);
}

/* A string field copied out ("" when absent). */
SHU_FN const char *shu_s(const shu_rec *r, uint16_t id)
{
    static char buf[4][8192];
    static int k;
    char *b = buf[k++ % 4];
    if (tr_rec_copy_str(&r->r, id, b, sizeof buf[0]) != 0) b[0] = 0;
    return b;
}

SHU_FN int64_t shu_i(const shu_rec *r, uint16_t id, int64_t def)
{
    int64_t v;
    return tr_rec_get_i64(&r->r, id, &v) == 0 ? v : def;
}

SHU_FN int shu_ends(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix) &&
           (a == b || suffix[0] == '/' || s[a - b - 1] == '/');
}

/* The nth record of a type whose PATH ends with "/suffix" (or any record when suffix is NULL). */
SHU_FN const shu_rec *shu_find(const shu_recs *rs, int type, const char *suffix, int nth)
{
    for (size_t i = 0; i < rs->n; i++) {
        const shu_rec *r = &rs->v[i];
        if (r->r.type != type) continue;
        if (suffix && !shu_ends(shu_s(r, TR_F_PATH), suffix)) continue;
        if (nth-- == 0) return r;
    }
    return NULL;
}

SHU_FN int shu_count(const shu_recs *rs, int type, const char *suffix)
{
    int n = 0;
    while (shu_find(rs, type, suffix, n))
        n++;
    return n;
}

/* 1 when some file of dir contains the bytes of needle. */
SHU_FN int shu_dir_contains(const char *dir, const char *needle)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "grep -rqaF -- '%s' '%s'", needle, dir);
    return system(cmd) == 0;
}

SHU_FN char *shu_mkdtemp(const char *tag)
{
    char *d = malloc(256);
    snprintf(d, 256, "/tmp/trail-shim-%s-XXXXXX", tag);
    T_ASSERT(mkdtemp(d) != NULL);
    return d;
}

SHU_FN void shu_rm_rf(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

/* ---- `trail show --json` and the store ---- */

SHU_FN cJSON *shu_show(const char *run)
{
    char *out = NULL, *err = NULL;
    int st = TPROC(&out, &err, (char *)tproc_bin("trail"), "show", (char *)run, "--json");
    cJSON *doc = cJSON_Parse(out ? out : "");
    if (!doc) T_FAIL("trail show %s --json (exit %d): %s", run, st, err ? err : "");
    free(out);
    free(err);
    return doc;
}

/* The entry of a `trail show` array (inputs, outputs, deps) whose path ends with suffix. */
SHU_FN const cJSON *shu_entry(const cJSON *run, const char *arr, const char *suffix)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(run, arr), *e;
    cJSON_ArrayForEach(e, a)
    {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "path");
        if (cJSON_IsString(p) && shu_ends(p->valuestring, suffix)) return e;
    }
    return NULL;
}

SHU_FN int shu_array_size(const cJSON *run, const char *arr)
{
    return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(run, arr));
}

SHU_FN long long shu_sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
SHU_FN long long shu_sql(const char *fmt, ...)
{
    char sql[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    sqlite3 *db;
    sqlite3_stmt *s = NULL;
    long long n = -1;
    if (sqlite3_open_v2(getenv("TRAIL_STORE"), &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(db); /* a failed open still holds a handle */
        return -1;
    }
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int64(s, 0);
    else
        fprintf(stderr, "sql: %s: %s\n", sql, sqlite3_errmsg(db));
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
}

/* Runs `trail run --name NAME -- argv...`; returns its exit status. */
SHU_FN int shu_trail_run(const char *name, char *const argv[], char **out)
{
    char *a[64];
    int k = 0;
    a[k++] = (char *)tproc_bin("trail");
    a[k++] = "run";
    a[k++] = "--name";
    a[k++] = (char *)name;
    a[k++] = "--";
    for (int i = 0; argv[i] && k < 63; i++)
        a[k++] = argv[i];
    a[k] = NULL;
    char *err = NULL;
    int st = tproc_run(a, out, &err);
    if (err && *err) fprintf(stderr, "[%s stderr] %s", name, err);
    free(err);
    return st;
}

#define SHU_TRAIL(name, out, ...) shu_trail_run(name, (char *const[]){__VA_ARGS__, NULL}, out)

#endif
