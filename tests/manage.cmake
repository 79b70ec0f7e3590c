# manage.cmake - rm, gc, forget, tag, rename, close under the real `trail` on a real store.
trail_test(manage_test SOURCES manage_test.c LIBS PkgConfig::CJSON LABELS integration)
add_dependencies(manage_test trail trail_preload)
