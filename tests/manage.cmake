# manage.cmake - rm, gc, forget, tag, rename, close under the real `trail` on a real store.
trail_test(manage_test SOURCES manage_test.c LIBS PkgConfig::CJSON LABELS integration)
add_dependencies(manage_test trail trail_preload)
# The same commands against traild (--store http://...): POST /api/manage.
trail_test(manage_remote_test SOURCES manage_remote_test.c LIBS PkgConfig::SQLITE3 PkgConfig::CJSON
  LABELS integration)
add_dependencies(manage_remote_test trail traild trail_preload)
