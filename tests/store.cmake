# store.cmake - registers the store library's unit tests.
trail_test(store_test SOURCES store_test.c LIBS trail_store PkgConfig::PQ LABELS unit)
# prefetch_test: a batch's look-ups made ahead of it (store/ingest_prefetch.c), on both
# backends (pg_store_test runs it again against its server).
trail_test(prefetch_test SOURCES prefetch_test.c LIBS trail_store PkgConfig::PQ PkgConfig::SQLITE3 LABELS unit)
