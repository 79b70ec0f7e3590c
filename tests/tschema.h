/* tschema.h - test helper: the schema version a store has after every migration. */
#ifndef TSCHEMA_H
#define TSCHEMA_H

#include "store_sql.h"

/* Migration i brings user_version from i-1 to i: the version is the number of migrations. */
static const char *const tschema_migrations[] = TR_SQL_MIGRATIONS;
#define T_SCHEMA ((int)(sizeof tschema_migrations / sizeof tschema_migrations[0]))

#endif
