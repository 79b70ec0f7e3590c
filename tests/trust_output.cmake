# trust_output.cmake - traild's bounds, API token and token files; safe text and JSON output.
trail_test(traild_limits_test SOURCES traild_limits_test.c LIBS PkgConfig::SQLITE3
  LABELS integration)
add_dependencies(traild_limits_test trail traild sdk_client)
