# collector.cmake - traild and delivery: batch codec unit test, daemons on loopback (integration).
trail_test(batch_test SOURCES batch_test.c LIBS trail_batch LABELS unit)
trail_test(traild_test SOURCES traild_test.c LIBS PkgConfig::SQLITE3 LABELS integration)
add_dependencies(traild_test trail traild sdk_client)
trail_test(traild_security_test SOURCES traild_security_test.c
  LIBS trail_batch nng::nng PkgConfig::SQLITE3 LABELS integration)
add_dependencies(traild_security_test trail traild sdk_client)
