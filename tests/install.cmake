# Install test: `cmake --install` into a temporary prefix, SDK clients built against it with
# pkg-config and find_package(trail), run bare and under the installed `trail run`.
# Not in the ASan pass: clients built outside the tree cannot load an ASan libtrail.so.
trail_test(install_test SOURCES install_test.c LIBS PkgConfig::CJSON m LABELS "integration;noasan")
add_dependencies(install_test trail traild trail_sdk trail_preload)
set_property(TEST install_test APPEND PROPERTY ENVIRONMENT
  "CMAKE=${CMAKE_COMMAND};TRAIL_INSTALL_LIBDIR=${CMAKE_INSTALL_LIBDIR}")
