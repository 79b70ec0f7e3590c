/* db_pg.h - internals of the PostgreSQL backend (db_pg.c, db_pgsql.c); not a public header. */
#ifndef TR_DB_PG_H
#define TR_DB_PG_H

#include "db.h"

/* The advisory lock every writer takes at BEGIN IMMEDIATE: writers of one database take turns,
 * as they do on SQLite, however many collectors there are ("trl1", the store's app id). */
#define TR_PG_WRITER_LOCK "1953655857"

/* sql (SQLite's dialect, one or more statements) rewritten for PostgreSQL; *nparams: the
 * highest parameter number. malloc'd; NULL when out of memory. */
char *tr_pgsql_translate(const char *sql, int *nparams);

/* used[i] = 1 when $i+1 appears in pgsql (a parameter SQLite's text numbered but never used
 * has no type PostgreSQL could infer: it is declared text). */
void tr_pgsql_used(const char *pgsql, unsigned char *used, int n);

#endif
