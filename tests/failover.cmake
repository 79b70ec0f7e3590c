# failover.cmake - agents with several collectors: a dead one passed over, one killed mid-stream.
trail_test(failover_test SOURCES failover_test.c LIBS PkgConfig::SQLITE3 LABELS integration)
add_dependencies(failover_test trail traild sdk_client)
