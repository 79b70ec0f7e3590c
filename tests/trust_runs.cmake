# Trust (issue 10): records belong to who wrote them, the program always runs, every run ends.
# Real `trail` binaries, real stores, real processes under other uids.
trail_test(concurrency_test SOURCES concurrency_test.c LIBS PkgConfig::SQLITE3 LABELS integration)
add_dependencies(concurrency_test trail trail_sdk sdk_client)
trail_test(settle_test SOURCES settle_test.c LIBS PkgConfig::SQLITE3 LABELS integration)
add_dependencies(settle_test trail traild trail_sdk trail_preload sdk_client)
trail_test(ownership_test SOURCES ownership_test.c LIBS PkgConfig::SQLITE3 LABELS integration)
add_dependencies(ownership_test trail traild trail_sdk sdk_client)
