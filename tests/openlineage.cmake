# openlineage.cmake - trail export openlineage: events checked against the spec, POSTed to loopback.
trail_test(openlineage_test SOURCES openlineage_test.c LIBS PkgConfig::CJSON LABELS integration)
add_dependencies(openlineage_test trail trail_preload)
