# pg.cmake - the PostgreSQL store on a real server (tests/pg/server.sh: initdb + pg_ctl as an
# unprivileged user, unix socket only): same answers as SQLite, two traild on one database.
trail_test(pg_store_test SOURCES pg_store_test.c LIBS PkgConfig::PQ PkgConfig::SQLITE3 PkgConfig::CJSON LABELS integration TIMEOUT 600)
add_dependencies(pg_store_test trail traild sdk_client train_logreg trail_preload io_micro store_test lineage_test
  proc_store_test prefetch_test)
