/* tstore.h - a store for a library test on either backend: a file in the test's directory, or,
 * when $TRAIL_TEST_PG_DIR names the socket directory of a test server (pg_store_test starts
 * one and runs the library tests again against it), a fresh PostgreSQL database. */
#ifndef TSTORE_H
#define TSTORE_H

#include <ctype.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tassert.h"

/* The test server's directory, or NULL: the tests run on SQLite. */
static inline const char *tstore_pg(void)
{
    const char *d = getenv("TRAIL_TEST_PG_DIR");
    return d && *d ? d : NULL;
}

/* Runs sql on database db of the test server; 1 integer result (t/f read as 1/0) into *out. */
static inline int tstore_pg_sql(const char *db, const char *sql, long long *out)
{
    char conn[400];
    snprintf(conn, sizeof conn, "host=%s user=trail dbname=%s", tstore_pg(), db);
    PGconn *c = PQconnectdb(conn);
    int ok = PQstatus(c) == CONNECTION_OK;
    if (ok) {
        PGresult *r = PQexec(c, sql);
        ExecStatusType es = PQresultStatus(r);
        ok = es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK;
        if (!ok) fprintf(stderr, "tstore: %s: %s", sql, PQresultErrorMessage(r));
        if (ok && out && es == PGRES_TUPLES_OK && PQntuples(r) > 0) {
            const char *v = PQgetvalue(r, 0, 0);
            *out = !strcmp(v, "t") ? 1 : !strcmp(v, "f") ? 0 : strtoll(v, NULL, 10);
        }
        PQclear(r);
    } else {
        fprintf(stderr, "tstore: %s", PQerrorMessage(c));
    }
    PQfinish(c);
    return ok ? 0 : -1;
}

/* The database name a store URL of tstore_location names. */
static inline const char *tstore_pg_db(const char *url)
{
    static char db[80];
    const char *p = strstr(url, ":///");
    size_t n = p ? strcspn(p + 4, "?") : 0;
    snprintf(db, sizeof db, "%.*s", (int)(n < sizeof db ? n : sizeof db - 1), p ? p + 4 : "");
    return db;
}

/* A store named name: dir/name, or a new database t_PID_NAME on the test server. */
static inline const char *tstore_location(const char *dir, const char *name)
{
    static char buf[8][512];
    static int k;
    char *p = buf[k++ % 8];
    if (!tstore_pg()) {
        snprintf(p, 512, "%s/%s", dir, name);
        return p;
    }
    char db[64], sql[128];
    int n = snprintf(db, sizeof db, "t%d_", (int)getpid());
    for (const char *s = name; *s && *s != '.' && n < (int)sizeof db - 1; s++)
        db[n++] = isalnum((unsigned char)*s) ? (char)tolower((unsigned char)*s) : '_';
    db[n] = 0;
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
    T_ASSERT(tstore_pg_sql("postgres", sql, NULL) == 0);
    snprintf(p, 512, "postgresql:///%s?host=%s&user=trail", db, tstore_pg());
    return p;
}

#endif
