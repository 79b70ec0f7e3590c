/* store.c - opening the SQLite store: file checks, pragmas, migrations, errors, transactions. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "exposure.h"
#include "json_safe.h"
#include "store_int.h"
#include "trail.h"
#include "util.h"

#define TR_STORE_BUSY_MS_DEFAULT 5000

static const char *const stmt_sql[TR_STMT_COUNT] = {
#define TR_STMT_SQL(name, sql) [TR_STMT_##name] = sql,
    TR_STORE_STMTS(TR_STMT_SQL)
#undef TR_STMT_SQL
};

/* PostgreSQL's own text of a statement, where it has one (pg_sql.h). */
static const char *const pg_stmt_sql[TR_STMT_COUNT] = {
#define TR_STMT_PG_SQL(name, sql) [TR_STMT_##name] = TR_PG_NATIVE sql,
    TR_PG_STMTS(TR_STMT_PG_SQL)
#undef TR_STMT_PG_SQL
};

/* The statement's text for the store's backend. */
static const char *tr_store_stmt_sql(const tr_store *s, enum tr_stmt_id id)
{
    if (s->pg && pg_stmt_sql[id]) return pg_stmt_sql[id];
    return stmt_sql[id];
}

static const char *const migrations[] = TR_SQL_MIGRATIONS;
#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))
static const char *const pg_migrations[][2] = TR_PG_MIGRATIONS;
_Static_assert(sizeof pg_migrations / sizeof pg_migrations[0] == SCHEMA_VERSION,
               "every migration has its PostgreSQL form (pg_sql.h)");

int tr_store_code(int rc)
{
    switch (rc & 0xff) {
    case TR_DB_OK:
    case TR_DB_ROW:
    case TR_DB_DONE:
        return 0;
    case TR_DB_BUSY:
    case TR_DB_LOCKED:
        return TRAIL_EBUSY;
    case TR_DB_CORRUPT:
    case TR_DB_NOTADB:
        return TRAIL_ECORRUPT;
    case TR_DB_NOMEM:
        return TRAIL_ENOMEM;
    case TR_DB_FULL:
        return TRAIL_ENOSPC;
    case TR_DB_IOERR:
    case TR_DB_CANTOPEN:
        return TRAIL_EIO;
    case TR_DB_TOOBIG:
        return TRAIL_ETOOBIG;
    default:
        return TRAIL_ESTORE;
    }
}

int tr_store_fail(tr_store *s, int code, const char *fmt, ...)
{
    int n = snprintf(s->err, sizeof s->err, "store %s: ", s->shown);
    if (n < 0 || (size_t)n >= sizeof s->err) return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err + n, sizeof s->err - (size_t)n, fmt, ap);
    va_end(ap);
    return code;
}

int tr_store_sqlerr(tr_store *s, int rc, const char *what)
{
    const char *detail = s->db ? tr_db_errmsg(s->db) : tr_db_errstr(rc);
    switch (rc & 0xff) {
    case TR_DB_BUSY:
    case TR_DB_LOCKED:
        return tr_store_fail(s, TRAIL_EBUSY, "database is locked by another process");
    case TR_DB_NOTADB:
        return tr_store_fail(s, TRAIL_ECORRUPT, "file is not a database (corrupt or not SQLite)");
    case TR_DB_CORRUPT:
        return tr_store_fail(s, TRAIL_ECORRUPT, "database is corrupt (%s)", detail);
    case TR_DB_FULL:
        return tr_store_fail(s, TRAIL_ENOSPC, "disk full while %s", what);
    default:
        return tr_store_fail(s, tr_store_code(rc), "%s: %s", what, detail);
    }
}

tr_dbst *tr_store_stmt(tr_store *s, enum tr_stmt_id id)
{
    /* metric points ingest keeps (ingest_cache.c) are in the table before any other statement */
    if (id != TR_STMT_METRIC && id != TR_STMT_METRIC_ROWS && tr_ingest_metrics_pending(s) &&
        tr_ingest_metrics_flush(s) != 0)
        return NULL;
    if (s->stmt[id]) return s->stmt[id];
    int rc = tr_db_prepare_persistent(s->db, tr_store_stmt_sql(s, id), &s->stmt[id]);
    if (rc != TR_DB_OK) {
        tr_store_sqlerr(s, rc, "preparing a statement");
        tr_db_finalize(s->stmt[id]);
        s->stmt[id] = NULL;
    }
    return s->stmt[id];
}

int tr_store_step_done(tr_store *s, tr_dbst *st)
{
    int rc;
    while ((rc = tr_db_step(st)) == TR_DB_ROW) {
    }
    tr_db_reset(st);
    tr_db_clear_bindings(st);
    return rc == TR_DB_DONE ? 0 : tr_store_sqlerr(s, rc, "writing");
}

int tr_stmt_begin(tr_stmt *q, tr_store *s, enum tr_stmt_id id)
{
    q->s = s;
    q->rc = TR_DB_OK;
    return (q->st = tr_store_stmt(s, id)) ? 0 : TRAIL_ESTORE;
}

void tr_bind_note(tr_stmt *q, int rc)
{
    if (rc != TR_DB_OK && q->rc == TR_DB_OK) q->rc = rc;
}

void tr_bind_int(tr_stmt *q, int i, int64_t v)
{
    tr_bind_note(q, tr_db_bind_int64(q->st, i, v));
}

void tr_bind_double(tr_stmt *q, int i, double v)
{
    tr_bind_note(q, tr_db_bind_double(q->st, i, v));
}

void tr_bind_null(tr_stmt *q, int i)
{
    tr_bind_note(q, tr_db_bind_null(q->st, i));
}

void tr_bind_text(tr_stmt *q, int i, const char *p, size_t n)
{
    tr_bind_note(q, p ? tr_db_bind_text(q->st, i, p, (int)n, TR_DB_STATIC)
                      : tr_db_bind_null(q->st, i));
}

void tr_bind_cstr(tr_stmt *q, int i, const char *p)
{
    tr_bind_text(q, i, p && *p ? p : NULL, p ? strlen(p) : 0);
}

void tr_bind_field_int(tr_stmt *q, int i, const tr_rec *r, uint16_t id)
{
    int64_t v;
    if (tr_rec_get_i64(r, id, &v) == 0)
        tr_bind_int(q, i, v);
    else
        tr_bind_null(q, i);
}

void tr_bind_field_str(tr_stmt *q, int i, const tr_rec *r, uint16_t id)
{
    const char *p = NULL;
    size_t n = 0;
    if (tr_rec_get_str(r, id, &p, &n) != 0) p = NULL;
    tr_bind_text(q, i, p, n);
}

void tr_stmt_reset(tr_stmt *q)
{
    tr_db_reset(q->st);
    tr_db_clear_bindings(q->st);
    q->rc = TR_DB_OK;
}

/* A kept bind error fails the statement without stepping it. */
static int bind_failed(tr_stmt *q)
{
    int rc = q->rc;
    tr_stmt_reset(q);
    return tr_store_sqlerr(q->s, rc, "binding");
}

int tr_stmt_done(tr_stmt *q)
{
    if (q->rc != TR_DB_OK) return bind_failed(q);
    return tr_store_step_done(q->s, q->st);
}

int tr_stmt_row(tr_stmt *q)
{
    if (q->rc != TR_DB_OK) return bind_failed(q);
    int rc = tr_db_step(q->st);
    if (rc == TR_DB_ROW) return 1;
    tr_stmt_reset(q);
    return rc == TR_DB_DONE ? 0 : tr_store_sqlerr(q->s, rc, "reading");
}

int tr_stmt_row_int(tr_stmt *q, int *found, int64_t *out)
{
    int rc = tr_stmt_row(q);
    *found = rc == 1;
    if (rc != 1) return rc;
    if (out) *out = tr_db_column_int64(q->st, 0);
    tr_stmt_reset(q);
    return 0;
}

int tr_stmt_get_or_add(tr_store *s, enum tr_stmt_id get, enum tr_stmt_id add,
                       void (*bind)(tr_stmt *q, const void *arg), const void *arg, int64_t *id)
{
    tr_stmt q;
    int found, rc;
    *id = 0;
    if ((rc = tr_stmt_begin(&q, s, get))) return rc;
    bind(&q, arg);
    if ((rc = tr_stmt_row_int(&q, &found, id)) || found) return rc;
    if ((rc = tr_stmt_begin(&q, s, add))) return rc;
    bind(&q, arg);
    if ((rc = tr_stmt_done(&q))) return rc;
    *id = tr_db_last_insert_rowid(s->db);
    return 0;
}

void tr_json_add(cJSON *parent, const char *key, cJSON *item, int *oom)
{
    int ok = item && parent &&
             (cJSON_IsArray(parent) ? cJSON_AddItemToArray(parent, item)
                                    : cJSON_AddItemToObject(parent, key, item));
    if (!ok) {
        cJSON_Delete(item);
        *oom = 1;
    }
}

cJSON *tr_json_chk(cJSON *item, int *oom)
{
    if (!item) *oom = 1;
    return item;
}

cJSON *tr_json_col_text(tr_dbst *st, int i)
{
    const unsigned char *t = tr_db_column_text(st, i);
    return t ? cJSON_CreateString((const char *)t) : cJSON_CreateNull();
}

cJSON *tr_json_col_int(tr_dbst *st, int i)
{
    if (tr_db_column_type(st, i) == TR_DB_NULL) return cJSON_CreateNull();
    return tr_json_int(tr_db_column_int64(st, i)); /* exact past 2^53 (json_safe.c) */
}

cJSON *tr_json_time(int64_t ns)
{
    char buf[40];
    tr_store_fmt_time(ns, buf, sizeof buf);
    return cJSON_CreateString(buf);
}

cJSON *tr_json_col_time(tr_dbst *st, int i)
{
    if (tr_db_column_type(st, i) == TR_DB_NULL) return cJSON_CreateNull();
    return tr_json_time(tr_db_column_int64(st, i));
}

/* Runs SQL text that takes no parameters (pragmas, transaction control, migrations). */
static int exec(tr_store *s, const char *sql, const char *what)
{
    int rc = tr_db_exec(s->db, sql, NULL, NULL, NULL);
    return rc == TR_DB_OK ? 0 : tr_store_sqlerr(s, rc, what);
}

/* Runs a one-row, one-column integer query. */
static int query_int(tr_store *s, const char *sql, int64_t *out)
{
    tr_dbst *st = NULL;
    *out = 0;
    int rc = tr_db_prepare(s->db, sql, -1, &st, NULL);
    if (rc == TR_DB_OK) {
        rc = tr_db_step(st);
        if (rc == TR_DB_ROW) {
            *out = tr_db_column_int64(st, 0);
            rc = TR_DB_OK;
        }
    }
    if (rc != TR_DB_OK) rc = tr_store_sqlerr(s, rc, "reading the schema");
    tr_db_finalize(st);
    return rc;
}

/* Checks the path before SQLite sees it; creates the file 0600 (and its directory 0700). */
static int prepare_file(tr_store *s)
{
    struct stat sb;
    if (stat(s->path, &sb) == 0) {
        if (S_ISDIR(sb.st_mode)) return tr_store_fail(s, TRAIL_EIO, "is a directory");
        return 0;
    }
    if (errno != ENOENT) return tr_store_fail(s, TRAIL_EIO, "%s", strerror(errno));
    if (!(s->flags & TR_STORE_CREATE) || (s->flags & TR_STORE_READONLY))
        return tr_store_fail(s, TRAIL_ENOTFOUND, "no such file (and not asked to create it)");

    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", s->path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        if (tr_mkdir_p(dir, 0700) != 0)
            return tr_store_fail(s, TRAIL_EIO, "cannot create directory %s: %s", dir,
                                 strerror(errno));
    }
    int fd = open(s->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST) return 0; /* created meanwhile by another process */
        return tr_store_fail(s, TRAIL_EIO, "cannot create: %s", strerror(errno));
    }
    int rc = fchmod(fd, 0600) == 0 ? 0 : tr_store_fail(s, TRAIL_EIO, "%s", strerror(errno));
    close(fd);
    return rc;
}

static int busy_timeout_ms(void)
{
    const char *v = getenv("TRAIL_BUSY_TIMEOUT_MS");
    if (v && *v) {
        char *end;
        long ms = strtol(v, &end, 10);
        if (*end == 0 && ms >= 0 && ms <= INT_MAX) return (int)ms;
    }
    return TR_STORE_BUSY_MS_DEFAULT;
}

/* The identity of a PostgreSQL store: trail_store's row, when the schema has that table. */
static int pg_identity(tr_store *s, int64_t *app, int64_t *ver, int64_t *tables)
{
    int64_t has;
    int rc;
    *app = *ver = 0;
    if ((rc = query_int(s, TR_PG_HAS_IDENTITY, &has)) ||
        (rc = query_int(s, TR_PG_USER_TABLES, tables)))
        return rc;
    if (!has) return 0;
    if ((rc = query_int(s, TR_PG_APP_ID, app)) || (rc = query_int(s, TR_PG_USER_VERSION, ver)))
        return rc;
    return 0;
}

/* Tells a trail store (any version) from an empty file and from someone else's database. */
static int check_identity(tr_store *s, int *fresh, int64_t *version)
{
    int64_t probe, app, ver, tables;
    int rc;
    const char *what = s->pg ? "PostgreSQL schema" : "SQLite database";
    /* Reading sqlite_master makes SQLite parse the header and schema: corruption and foreign
     * formats show up here, at open, rather than in the middle of an ingest. */
    if (s->pg)
        rc = pg_identity(s, &app, &ver, &tables);
    else if ((rc = query_int(s, TR_SQL_PROBE, &probe)) ||
             (rc = query_int(s, TR_SQL_APP_ID, &app)) ||
             (rc = query_int(s, TR_SQL_USER_VERSION, &ver)))
        ;
    else
        rc = query_int(s, TR_SQL_USER_TABLES, &tables);
    if (rc) return rc;
    *fresh = 0;
    *version = ver;
    if (app == TR_STORE_APP_ID || (app == 0 && tables == 0)) {
        if (ver > SCHEMA_VERSION)
            return tr_store_fail(s, TRAIL_EVERSION,
                                 "schema version %" PRId64
                                 " is newer than this trail supports (%d); upgrade trail",
                                 ver, SCHEMA_VERSION);
        if (app == 0 && ver == 0) {
            *fresh = 1;
            return 0;
        }
        if (app == TR_STORE_APP_ID) return 0;
    }
    if (app == 0)
        return tr_store_fail(s, TRAIL_ECORRUPT,
                             "not a trail store (%s with application_id 0 and %s)", what,
                             tables ? "foreign tables" : "a foreign user_version");
    return tr_store_fail(s, TRAIL_ECORRUPT,
                         "not a trail store (%s with application_id 0x%08" PRIx64 ")", what,
                         (uint64_t)app & 0xffffffffu);
}

/* Reads the identity in one read transaction: the four values come from one state of the file,
 * never from both sides of another process's migration. */
static int read_identity(tr_store *s, int *fresh, int64_t *ver)
{
    int rc = exec(s, s->pg ? TR_PG_BEGIN_READ : TR_SQL_BEGIN_READ, "reading the schema");
    if (rc) return rc;
    rc = check_identity(s, fresh, ver);
    if (!tr_db_get_autocommit(s->db)) tr_db_exec(s->db, TR_SQL_COMMIT, NULL, NULL, NULL);
    return rc;
}

/* Identity check and every missing migration in one write transaction: a store is seen either
 * before or after a migration, and two processes never migrate the same file. */
static int migrate(tr_store *s)
{
    int fresh;
    int64_t ver;
    char sql[64];
    int rc = exec(s, TR_SQL_BEGIN, "starting a migration");
    if (rc) return rc;
    if ((rc = check_identity(s, &fresh, &ver))) goto fail;
    if (s->pg && ver == 0 && (rc = exec(s, TR_PG_PREAMBLE, "creating the schema's functions")))
        goto fail;
    for (int64_t v = ver; v < SCHEMA_VERSION; v++) {
        const char *a = s->pg ? pg_migrations[v][0] : migrations[v];
        const char *b = s->pg ? pg_migrations[v][1] : NULL;
        if ((a && (rc = exec(s, a, "migrating the schema"))) ||
            (b && (rc = exec(s, b, "migrating the schema"))))
            goto fail;
    }
    if (ver < SCHEMA_VERSION) {
        if (ver == 0 &&
            (rc = exec(s, s->pg ? TR_PG_SET_APP_ID : TR_SQL_SET_APP_ID, "migrating the schema")))
            goto fail;
        snprintf(sql, sizeof sql, s->pg ? TR_PG_SET_USER_VERSION_FMT : TR_SQL_SET_USER_VERSION_FMT,
                 SCHEMA_VERSION);
        if ((rc = exec(s, sql, "migrating the schema"))) goto fail;
    }
    if ((rc = exec(s, TR_SQL_COMMIT, "committing a migration"))) goto fail;
    return 0;
fail:
    if (!tr_db_get_autocommit(s->db)) tr_db_exec(s->db, TR_SQL_ROLLBACK, NULL, NULL, NULL);
    return rc;
}

/* A PostgreSQL store's password from $TRAIL_STORE_PASSWORD_FILE (traild and trail take
 * --store-password-file): its first line, from a regular file of ours that only we can read.
 * Without one, libpq's own sources apply (the URL, PGPASSWORD, PGPASSFILE/~/.pgpass). */
static int store_password(tr_store *s, char *pw, size_t n)
{
    const char *f = getenv("TRAIL_STORE_PASSWORD_FILE");
    struct stat st;
    pw[0] = 0;
    if (!f || !*f) return 0;
    if (stat(f, &st) == 0 && (st.st_mode & 077))
        return tr_store_fail(s, TRAIL_EINVAL,
                             "password file %s is accessible by group or others (chmod 600 it)", f);
    long len = tr_read_file_owned(f, pw, n, (int64_t)geteuid());
    if (len < 0)
        return tr_store_fail(s, TRAIL_EINVAL, "cannot read password file %s: %s", f,
                             strerror(errno));
    pw[strcspn(pw, "\r\n")] = 0;
    return 0;
}

static int open_db(tr_store *s)
{
    int ro = s->flags & TR_STORE_READONLY;
    char pw[1024] = "";
    int rc = s->pg ? store_password(s, pw, sizeof pw) : 0;
    if (rc) return rc;
    rc = tr_db_open(s->path, ro ? TR_DB_OPEN_READONLY : 0, busy_timeout_ms(), pw[0] ? pw : NULL,
                    &s->db);
    memset(pw, 0, sizeof pw);
    if (rc != TR_DB_OK) return tr_store_sqlerr(s, rc, "cannot open");

    int fresh;
    int64_t ver;
    if ((rc = read_identity(s, &fresh, &ver))) return rc;
    if (ro) {
        if (fresh) return tr_store_fail(s, TRAIL_ENOTFOUND, "empty (no trail schema yet)");
        if (ver < SCHEMA_VERSION)
            return tr_store_fail(s, TRAIL_EVERSION,
                                 "schema version %" PRId64
                                 " is older than this trail uses (%d); open it read-write once "
                                 "to upgrade",
                                 ver, SCHEMA_VERSION);
        return s->pg ? 0 : exec(s, TR_SQL_RO_PRAGMAS, "setting pragmas");
    }
    if (s->pg) return migrate(s);
    if ((rc = exec(s, TR_SQL_WAL, "enabling WAL")) ||
        (rc = exec(s, TR_SQL_RW_PRAGMAS, "setting pragmas")))
        return rc;
    return migrate(s); /* also proves the store writable now: a locked one is EBUSY here */
}

/* One line on stderr, once a process, when others can read the store or write its directory
 * (traild refuses such a store; exposure.c). */
static void warn_exposed(const char *path)
{
    static int warned;
    char why[PATH_MAX * 2 + 200];
    if (__atomic_load_n(&warned, __ATOMIC_RELAXED) || !tr_store_exposed(path, why, sizeof why))
        return;
    if (__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED)) return;
    fprintf(stderr, "trail: warning: %s\n", why);
}

int tr_store_open(const char *path, int flags, tr_store **out, char *err, size_t errlen)
{
    if (err && errlen) err[0] = 0;
    if (!out) return TRAIL_EINVAL;
    *out = NULL;
    if (!path || !*path) {
        if (err && errlen) snprintf(err, errlen, "store: no path given");
        return TRAIL_EINVAL;
    }
    tr_store *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        if (err && errlen) snprintf(err, errlen, "store: out of memory");
        free(s);
        return TRAIL_ENOMEM;
    }
    tr_db_redact(path, s->shown, sizeof s->shown);
    s->flags = flags;
    s->pg = tr_db_is_pg_url(path);
    int rc = s->pg ? 0 : prepare_file(s);
    if (rc == 0 && !s->pg) warn_exposed(s->path);
    if (rc == 0) rc = open_db(s);
    if (rc) {
        if (err && errlen) snprintf(err, errlen, "%s", s->err);
        tr_store_close(s);
        return rc;
    }
    s->err[0] = 0;
    *out = s;
    return 0;
}

void tr_store_close(tr_store *s)
{
    if (!s) return;
    tr_ingest_cache_free(s);
    tr_prefetch_free(s);
    tr_fresh_free(s);
    tr_store_sdk_keys_free(s);
    for (int i = 0; i < TR_STMT_COUNT; i++)
        tr_db_finalize(s->stmt[i]);
    if (s->db && !tr_db_get_autocommit(s->db)) tr_db_exec(s->db, TR_SQL_ROLLBACK, NULL, NULL, NULL);
    tr_db_close(s->db);
    free(s->path);
    free(s);
}

const char *tr_store_errmsg(const tr_store *s)
{
    return s ? s->err : "store: no store";
}

const char *tr_store_path(const tr_store *s)
{
    return s ? s->shown : NULL;
}

int64_t tr_store_skipped(const tr_store *s)
{
    return s ? s->skipped : 0;
}

int tr_store_schema_version(tr_store *s)
{
    int64_t ver;
    int rc = query_int(s, s->pg ? TR_PG_USER_VERSION : TR_SQL_USER_VERSION, &ver);
    return rc ? rc : (int)ver;
}

int tr_store_begin(tr_store *s)
{
    if (s->flags & TR_STORE_READONLY)
        return tr_store_fail(s, TRAIL_EINVAL, "opened read-only: cannot write");
    if (s->in_tx) return tr_store_fail(s, TRAIL_EINVAL, "transaction already open");
    tr_store_read_end(s);
    int rc = exec(s, TR_SQL_BEGIN, "beginning a transaction");
    if (rc) return rc;
    s->in_tx = 1;
    s->tx_broken = 0;
    return 0;
}

int tr_store_read_begin(tr_store *s)
{
    if (!s) return TRAIL_EINVAL;
    if (s->in_tx || s->in_read) return 0;
    int rc = exec(s, s->pg ? TR_PG_BEGIN_READ : TR_SQL_BEGIN_READ, "beginning a read");
    if (rc == 0) s->in_read = 1;
    return rc;
}

void tr_store_read_end(tr_store *s)
{
    if (!s || !s->in_read) return;
    s->in_read = 0;
    if (!tr_db_get_autocommit(s->db)) tr_db_exec(s->db, TR_SQL_COMMIT, NULL, NULL, NULL);
}

int tr_store_rollback(tr_store *s)
{
    if (!s->in_tx) return 0;
    s->in_tx = 0;
    s->tx_broken = 0;
    tr_ingest_cache_forget(s); /* its marks and ids may name rows rolled back */
    tr_fresh_end(s, 0);
    tr_store_sdk_keys_forget(s);
    /* A failed statement (disk full, I/O error) may have rolled back already. */
    if (tr_db_get_autocommit(s->db)) return 0;
    return exec(s, TR_SQL_ROLLBACK, "rolling back");
}

int tr_store_commit(tr_store *s)
{
    if (!s->in_tx) return tr_store_fail(s, TRAIL_EINVAL, "commit without a transaction");
    if (s->tx_broken) {
        int rc = s->tx_broken;
        char keep[sizeof s->err];
        memcpy(keep, s->err, sizeof keep);
        tr_store_rollback(s);
        memcpy(s->err, keep, sizeof keep);
        return rc;
    }
    int rc = tr_ingest_cache_flush(s);
    if (rc == 0) rc = exec(s, TR_SQL_COMMIT, "committing");
    if (rc) {
        /* Leave no half-open transaction behind: the caller re-ingests (ingest is idempotent). */
        char keep[sizeof s->err];
        memcpy(keep, s->err, sizeof keep);
        tr_store_rollback(s);
        memcpy(s->err, keep, sizeof keep);
        return rc;
    }
    s->in_tx = 0;
    tr_ingest_cache_forget(s);
    tr_store_sdk_keys_forget(s);
    tr_fresh_end(s, 1);
    return 0;
}

void tr_store_fmt_time(int64_t ns, char *buf, size_t n)
{
    if (!buf || n == 0) return;
    int64_t sec = ns / 1000000000, rem = ns % 1000000000;
    if (rem < 0) {
        rem += 1000000000;
        sec--;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(buf, n, "invalid-time");
        return;
    }
    int w =
        snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(rem / 1000));
    /* A cut-off time is no time (a year past 9999 into a 40-byte buffer, a short buffer). */
    if (w < 0 || (size_t)w >= n) snprintf(buf, n, "invalid-time");
}
