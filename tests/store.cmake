# store.cmake - registers the SQLite store unit test.
trail_test(store_test SOURCES store_test.c LIBS trail_store PkgConfig::PQ LABELS unit)
