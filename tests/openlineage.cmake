# openlineage.cmake - trail export openlineage: events checked against the spec, POSTed to loopback.
trail_test(openlineage_test SOURCES openlineage_test.c LIBS PkgConfig::CJSON LABELS integration)
add_dependencies(openlineage_test trail trail_preload)
# traild --openlineage-url: runs that end POSTed to a receiver on loopback, through its outages.
trail_test(openlineage_emit_test SOURCES openlineage_emit_test.c LIBS PkgConfig::SQLITE3
  LABELS integration)
add_dependencies(openlineage_emit_test trail traild trail_preload)
