/* manage.c - changing what is stored: removing runs, forgetting a path, renaming and closing
 * runs, and reclaiming the space (secure delete, VACUUM, the WAL truncated). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "manage_sql.h"
#include "store_int.h"
#include "trail.h"

/* These run rarely, once per command: statements are prepared where they are used. */

/* Runs sql with up to two bound texts (NULL: none); rows changed, or TRAIL_E*. */
static long run_sql(tr_store *s, const char *sql, const char *a, const char *b, const char *what)
{
    tr_dbst *st = NULL;
    int rc = tr_db_prepare(s->db, sql, -1, &st, NULL);
    if (rc == TR_DB_OK && a) rc = tr_db_bind_text(st, 1, a, -1, TR_DB_STATIC);
    if (rc == TR_DB_OK && b) rc = tr_db_bind_text(st, 2, b, -1, TR_DB_STATIC);
    if (rc == TR_DB_OK) rc = tr_db_step(st);
    tr_db_finalize(st);
    if (rc != TR_DB_DONE && rc != TR_DB_ROW) return tr_store_sqlerr(s, rc, what);
    return tr_db_changes(s->db);
}

/* Every table with a run_id (or argv) column, by the schema's own names, so tables added later
 * are covered without a change here (identifiers are quoted; values are always bound). */
static int tables_with(tr_store *s, const char *sql, char names[][64], int max)
{
    tr_dbst *st = NULL;
    int n = 0, rc = tr_db_prepare(s->db, sql, -1, &st, NULL);
    while (rc == TR_DB_OK && (rc = tr_db_step(st)) == TR_DB_ROW) {
        rc = TR_DB_OK;
        const char *t = (const char *)tr_db_column_text(st, 0);
        if (n < max && t && strlen(t) < 64 && !strchr(t, '"')) snprintf(names[n++], 64, "%s", t);
    }
    tr_db_finalize(st);
    return rc == TR_DB_DONE ? n : tr_store_sqlerr(s, rc, "listing tables");
}

/* Versions nothing refers to any more, repeatedly, then artifacts left without versions. */
static int drop_orphans(tr_store *s, tr_manage_report *rep)
{
    long v;
    do {
        if ((v = run_sql(s, TR_SQL_M_ORPHAN_VERSIONS, NULL, NULL, "removing versions")) < 0)
            return (int)v;
        rep->versions += v;
    } while (v > 0);
    long a = run_sql(s, TR_SQL_M_ORPHAN_ARTIFACTS, NULL, NULL, "removing artifacts");
    if (a < 0) return (int)a;
    rep->artifacts += a;
    return 0;
}

/* Commits, or with dry_run (or after an error) rolls back what was counted. */
static int finish(tr_store *s, int rc, int dry_run)
{
    if (rc || dry_run) {
        tr_store_rollback(s);
        return rc;
    }
    return tr_store_commit(s);
}

int tr_store_rm_runs(tr_store *s, const char *const *ids, int n, int dry_run, tr_manage_report *rep)
{
    char tables[64][64], sql[160];
    memset(rep, 0, sizeof *rep);
    int nt = tables_with(s, s->pg ? TR_PG_M_RUN_TABLES : TR_SQL_M_RUN_TABLES, tables, 64), rc;
    if (nt < 0) return nt;
    if ((rc = tr_store_begin(s))) return rc;
    /* SQLite zeroes the freed pages; PostgreSQL's dead rows go at the VACUUM FULL of reclaim */
    long ch = s->pg ? 0 : run_sql(s, TR_SQL_M_SECURE_DELETE, NULL, NULL, "secure delete");
    for (int i = 0; i < n && ch >= 0; i++) {
        for (int t = 0; t < nt && ch >= 0; t++) {
            snprintf(sql, sizeof sql, TR_SQL_M_DELETE_RUN_ROWS_FMT, tables[t]);
            if ((ch = run_sql(s, sql, ids[i], NULL, "removing a run's rows")) >= 0) rep->rows += ch;
        }
        if (ch >= 0 && (ch = run_sql(s, TR_SQL_M_DELETE_RUN, ids[i], NULL, "removing a run")) >= 0)
            rep->runs += ch;
    }
    rc = ch < 0 ? (int)ch : drop_orphans(s, rep);
    return finish(s, rc, dry_run);
}

/* 1 when status is one of the comma-separated list (an empty list: every status). */
static int status_in(const char *status, const char *list)
{
    if (!list || !*list) return 1;
    size_t l = strlen(status);
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (n == l && !strncmp(p, status, n)) return 1;
        p += n + (p[n] == ',');
    }
    return 0;
}

int tr_store_gc_select(tr_store *s, int64_t before_ns, const char *statuses, char (*ids)[33],
                       int max, int *n)
{
    tr_dbst *st = NULL;
    *n = 0;
    int rc = tr_db_prepare(s->db, TR_SQL_M_GC_CANDIDATES, -1, &st, NULL);
    if (rc == TR_DB_OK) rc = tr_db_bind_int64(st, 1, before_ns);
    while (rc == TR_DB_OK && (rc = tr_db_step(st)) == TR_DB_ROW) {
        rc = TR_DB_OK;
        const char *id = (const char *)tr_db_column_text(st, 0);
        const char *status = (const char *)tr_db_column_text(st, 1);
        if (id && strlen(id) <= 32 && status_in(status ? status : "", statuses) && *n < max)
            snprintf(ids[(*n)++], 33, "%s", id);
    }
    tr_db_finalize(st);
    return rc == TR_DB_DONE ? 0 : tr_store_sqlerr(s, rc, "selecting runs");
}

/* path made absolute against cwd (NULL: only absolute paths) with ".", ".." and repeated '/'
 * folded, in out; 0, or -1 when it cannot be told. */
static int lexical_abs(const char *p, const char *cwd, char *out, size_t n)
{
    char buf[8192];
    if (p[0] == '/')
        snprintf(buf, sizeof buf, "%s", p);
    else if (cwd && cwd[0] == '/' &&
             (size_t)snprintf(buf, sizeof buf, "%s/%s", cwd, p) < sizeof buf)
        ;
    else
        return -1;
    size_t o = 0;
    for (char *c = buf; *c;) {
        while (*c == '/')
            c++;
        size_t l = strcspn(c, "/");
        if (l == 0) break;
        if (l == 1 && c[0] == '.') {
        } else if (l == 2 && c[0] == '.' && c[1] == '.') {
            while (o > 0 && out[--o] != '/')
                ;
        } else {
            if (o + l + 2 > n) return -1;
            out[o++] = '/';
            memcpy(out + o, c, l);
            o += l;
        }
        c += l;
    }
    if (o == 0) out[o++] = '/';
    out[o] = 0;
    return 0;
}

/* 1 when the argument names path (itself, or relative to cwd). */
static int names_path(const char *arg, const char *cwd, const char *path)
{
    char abs[4608];
    return *arg && lexical_abs(arg, cwd, abs, sizeof abs) == 0 && !strcmp(abs, path);
}

/* 1 when c can be part of a path (the bounds of a path named inside a longer argument). */
static int path_char(char c)
{
    return c && (strchr("/._-+~%@", c) || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
                 (c >= 'a' && c <= 'z'));
}

/* 1 when path stands whole at p inside e. */
static int whole_at(const char *e, const char *p, const char *path, size_t pl)
{
    return !strncmp(p, path, pl) && !(p > e && path_char(p[-1])) && !path_char(p[pl]);
}

/* e with each whole occurrence of the absolute path inside it (a shell command's "cat PATH |
 * ...": not part of a longer path or word) replaced by "[forgotten]"; malloc'd, NULL when there
 * is none (*oom on failure). */
static char *scrub_inside(const char *e, const char *path, int *oom)
{
    size_t pl = strlen(path), n = 0, o = 0;
    if (pl < 2 || path[0] != '/') return NULL;
    for (const char *p = e; (p = strstr(p, path)); p++)
        n += whole_at(e, p, path, pl);
    if (!n) return NULL;
    char *out = malloc(strlen(e) + n * 11 + 1);
    if (!out) {
        *oom = 1;
        return NULL;
    }
    for (const char *p = e; *p;) {
        if (whole_at(e, p, path, pl)) {
            memcpy(out + o, "[forgotten]", 11);
            o += 11;
            p += pl;
        } else
            out[o++] = *p++;
    }
    out[o] = 0;
    return out;
}

/* The command line argv (a JSON array) with each element that names path (whole, or the value
 * of a --flag=PATH) replaced by "[forgotten]", and the absolute path where it stands whole inside
 * a longer element too; NULL when none does (or it is no array). */
static char *scrub_argv(const char *argv, const char *cwd, const char *path, int *oom)
{
    cJSON *a = cJSON_Parse(argv), *it;
    int changed = 0;
    if (!cJSON_IsArray(a)) {
        cJSON_Delete(a);
        return NULL;
    }
    cJSON_ArrayForEach(it, a)
    {
        const char *e = cJSON_GetStringValue(it), *eq = e && e[0] == '-' ? strchr(e, '=') : NULL;
        char repl[300];
        if (!e) continue;
        if (names_path(e, cwd, path))
            snprintf(repl, sizeof repl, "[forgotten]");
        else if (eq && eq - e < 256 && names_path(eq + 1, cwd, path))
            snprintf(repl, sizeof repl, "%.*s=[forgotten]", (int)(eq - e), e);
        else {
            char *in = scrub_inside(e, path, oom);
            if (in && !cJSON_SetValuestring(it, in)) *oom = 1;
            changed |= in != NULL;
            free(in);
            continue;
        }
        if (!cJSON_SetValuestring(it, repl)) *oom = 1;
        changed = 1;
    }
    char *out = changed && !*oom ? cJSON_PrintUnformatted(a) : NULL;
    if (changed && !out) *oom = 1;
    cJSON_Delete(a);
    return out;
}

/* The command lines (the run's and its processes') of run that name path; rows changed. */
static long scrub_run_argv(tr_store *s, const char *run, const char *path)
{
    tr_dbst *st = NULL, *up[2] = {NULL, NULL};
    long n = 0;
    int oom = 0, rc = tr_db_prepare(s->db, TR_SQL_M_ARGV_OF_RUN, -1, &st, NULL);
    if (rc == TR_DB_OK) rc = tr_db_prepare(s->db, TR_SQL_M_SET_RUN_ARGV, -1, &up[0], NULL);
    if (rc == TR_DB_OK) rc = tr_db_prepare(s->db, TR_SQL_M_SET_PROC_ARGV, -1, &up[1], NULL);
    if (rc == TR_DB_OK) rc = tr_db_bind_text(st, 1, run, -1, TR_DB_STATIC);
    while (rc == TR_DB_OK && (rc = tr_db_step(st)) == TR_DB_ROW) {
        rc = TR_DB_OK;
        const char *argv = (const char *)tr_db_column_text(st, 1);
        const char *cwd = (const char *)tr_db_column_text(st, 2);
        char *fixed = argv ? scrub_argv(argv, cwd, path, &oom) : NULL;
        if (oom) break;
        if (!fixed) continue;
        tr_dbst *u = up[tr_db_column_int(st, 3) ? 1 : 0];
        rc = tr_db_bind_text(u, 1, fixed, -1, TR_DB_TRANSIENT);
        if (rc == TR_DB_OK) rc = tr_db_bind_int64(u, 2, tr_db_column_int64(st, 0));
        if (rc == TR_DB_OK && (rc = tr_db_step(u)) == TR_DB_DONE) rc = TR_DB_OK;
        tr_db_reset(u);
        cJSON_free(fixed);
        n++;
    }
    tr_db_finalize(st);
    tr_db_finalize(up[0]);
    tr_db_finalize(up[1]);
    if (oom) return tr_store_fail(s, TRAIL_ENOMEM, "scrubbing a command line");
    return rc == TR_DB_DONE || rc == TR_DB_OK ? n
                                              : tr_store_sqlerr(s, rc, "scrubbing a command line");
}

/* The ids of the runs that knew key, into a malloc'd array of *n (NULL and 0 when none). */
static int linked_runs(tr_store *s, const char *key, char (**ids)[33], long *n)
{
    tr_dbst *st = NULL;
    long cap = 0;
    *ids = NULL;
    *n = 0;
    int rc = tr_db_prepare(s->db, TR_SQL_M_FORGET_RUNS, -1, &st, NULL);
    if (rc == TR_DB_OK) rc = tr_db_bind_text(st, 1, key, -1, TR_DB_STATIC);
    while (rc == TR_DB_OK && (rc = tr_db_step(st)) == TR_DB_ROW) {
        rc = TR_DB_OK;
        const char *id = (const char *)tr_db_column_text(st, 0);
        if (!id || strlen(id) > 32) continue;
        if (*n == cap) {
            void *m = realloc(*ids, (size_t)(cap = cap ? cap * 2 : 16) * sizeof **ids);
            if (!m) {
                tr_db_finalize(st);
                return tr_store_fail(s, TRAIL_ENOMEM, "listing runs");
            }
            *ids = m;
        }
        snprintf((*ids)[(*n)++], 33, "%s", id);
    }
    tr_db_finalize(st);
    return rc == TR_DB_DONE ? 0 : tr_store_sqlerr(s, rc, "listing runs");
}

int tr_store_forget(tr_store *s, const char *key, int dry_run, tr_manage_report *rep)
{
    static const char *const steps[] = {TR_SQL_M_FORGET_NOTE,     TR_SQL_M_FORGET_EVENTS,
                                        TR_SQL_M_FORGET_ORIGINS,  TR_SQL_M_FORGET_VERSIONS,
                                        TR_SQL_M_FORGET_FILE_OPS, TR_SQL_M_FORGET_ARTIFACT};
    char host[256], (*runs)[33] = NULL;
    long nruns = 0;
    const char *path = tr_store_key_path(key, host, sizeof host); /* the path, from the key */
    memset(rep, 0, sizeof *rep);
    int rc = tr_store_begin(s);
    if (rc) return rc;
    long ch = s->pg ? 0 : run_sql(s, TR_SQL_M_SECURE_DELETE, NULL, NULL, "secure delete");
    if (ch >= 0 && (rc = linked_runs(s, key, &runs, &nruns))) ch = rc;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0] && ch >= 0; i++) {
        if ((ch = run_sql(s, steps[i], key, NULL, "forgetting a path")) < 0) break;
        if (i == 0)
            rep->runs = ch; /* the runs noted: they knew the path */
        else if (i == 3)
            rep->versions = ch;
        else if (i == 5)
            rep->artifacts = ch;
        else
            rep->rows += ch;
    }
    /* the path as a dependency of a run on its host, and in the agent's package cache */
    if (ch >= 0 && (ch = run_sql(s, TR_SQL_M_FORGET_DEPS, path, host, "forgetting a path")) >= 0)
        rep->rows += ch;
    if (ch >= 0 &&
        (ch = run_sql(s, TR_SQL_M_FORGET_DEP_CACHE, path, NULL, "forgetting a path")) >= 0)
        rep->rows += ch;
    /* the command lines of the runs that knew it, where an argument names it */
    for (long i = 0; i < nruns && ch >= 0; i++)
        if ((ch = scrub_run_argv(s, runs[i], path)) >= 0) rep->rows += ch;
    free(runs);
    return finish(s, ch < 0 ? (int)ch : 0, dry_run);
}

int tr_store_rename_run(tr_store *s, const char *run_id, const char *name)
{
    long ch = run_sql(s, TR_SQL_M_RENAME, name, run_id, "renaming a run");
    if (ch < 0) return (int)ch;
    return ch ? 0 : tr_store_fail(s, TRAIL_ENOTFOUND, "no run %s", run_id);
}

int tr_store_close_run(tr_store *s, const char *run_id, const char *status, int64_t now_ns,
                       int force, char *was, size_t wn)
{
    tr_dbst *st = NULL;
    int open = -1, rc = tr_db_prepare(s->db, TR_SQL_M_RUN_OPEN, -1, &st, NULL);
    if (rc == TR_DB_OK) rc = tr_db_bind_text(st, 1, run_id, -1, TR_DB_STATIC);
    if (rc == TR_DB_OK && (rc = tr_db_step(st)) == TR_DB_ROW) {
        open = tr_db_column_int(st, 0);
        snprintf(was, wn, "%s", (const char *)tr_db_column_text(st, 1));
        rc = TR_DB_DONE;
    }
    tr_db_finalize(st);
    if (rc != TR_DB_DONE) return tr_store_sqlerr(s, rc, "reading a run");
    if (open < 0) return tr_store_fail(s, TRAIL_ENOTFOUND, "no run %s", run_id);
    if (!open && !force)
        return tr_store_fail(s, TRAIL_EINVAL, "run %s has ended (%s); --force closes it anyway",
                             run_id, was);
    rc = tr_db_prepare(s->db, TR_SQL_M_CLOSE, -1, &st, NULL);
    if (rc == TR_DB_OK) rc = tr_db_bind_text(st, 1, status, -1, TR_DB_STATIC);
    if (rc == TR_DB_OK) rc = tr_db_bind_int64(st, 2, now_ns);
    if (rc == TR_DB_OK) rc = tr_db_bind_text(st, 3, run_id, -1, TR_DB_STATIC);
    if (rc == TR_DB_OK) rc = tr_db_step(st);
    tr_db_finalize(st);
    return rc == TR_DB_DONE ? 0 : tr_store_sqlerr(s, rc, "closing a run");
}

static int64_t file_bytes(const char *path, const char *suffix)
{
    char p[4200];
    struct stat sb;
    snprintf(p, sizeof p, "%s%s", path, suffix);
    return stat(p, &sb) == 0 ? (int64_t)sb.st_size : 0;
}

/* A PostgreSQL store's size: its database's (the tables, indexes and dead rows). */
static int64_t pg_bytes(tr_store *s)
{
    tr_dbst *st;
    int64_t n = 0;
    if (tr_db_prepare(s->db, TR_PG_M_SIZE, -1, &st, NULL) != TR_DB_OK) return 0;
    if (tr_db_step(st) == TR_DB_ROW) n = tr_db_column_int64(st, 0);
    tr_db_finalize(st);
    return n;
}

int tr_store_reclaim(tr_store *s, int64_t *before, int64_t *after)
{
    if (s->pg) { /* rewrites the tables: the removed rows leave the files (not the WAL) */
        *before = pg_bytes(s);
        int rc = tr_db_exec(s->db, TR_PG_M_RECLAIM, NULL, NULL, NULL);
        *after = pg_bytes(s);
        return rc == TR_DB_OK ? 0 : tr_store_sqlerr(s, rc, "reclaiming space (VACUUM FULL)");
    }
    *before = file_bytes(s->path, "") + file_bytes(s->path, "-wal");
    int rc = tr_db_exec(s->db, TR_SQL_M_RECLAIM, NULL, NULL, NULL);
    *after = file_bytes(s->path, "") + file_bytes(s->path, "-wal");
    return rc == TR_DB_OK ? 0 : tr_store_sqlerr(s, rc, "reclaiming space (VACUUM)");
}
