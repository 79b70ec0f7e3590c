/* runs_sql.h - SQL of `trail runs` paging (query.c): how many runs a listing left out. */
#ifndef TR_RUNS_SQL_H
#define TR_RUNS_SQL_H

/* Counted without the ORDER BY walk; the experiment form uses runs_experiment. */
#define TR_SQL_RUNS_COUNT "SELECT count(*) FROM runs"
#define TR_SQL_RUNS_COUNT_EXP "SELECT count(*) FROM runs WHERE experiment = ?1"

#endif
