# parity.cmake - one job through the embedded store and through traild: the same run stored.
trail_test(parity_test SOURCES parity_test.c LIBS PkgConfig::CJSON PkgConfig::SQLITE3 LABELS integration)
add_dependencies(parity_test trail traild trail_preload)
