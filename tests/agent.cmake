# SDK and `trail` integration tests: real binaries, real stores, real processes.
add_executable(sdk_client sdk_client.c)
target_link_libraries(sdk_client PRIVATE trail_sdk Threads::Threads m)
set_target_properties(sdk_client PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)

trail_test(sdk_test SOURCES sdk_test.c LIBS trail_store trail_core LABELS unit)
target_sources(sdk_test PRIVATE ${PROJECT_SOURCE_DIR}/sdk/sdk.c)
add_dependencies(sdk_test sdk_client)
trail_test(run_test SOURCES run_test.c LIBS trail_store trail_core PkgConfig::CJSON PkgConfig::SQLITE3 LABELS integration)
add_dependencies(run_test trail trail_sdk sdk_client train_logreg)

# Built against the ASan libtrail.so a plain cc client could not load: not in the ASan pass.
trail_test(sdk_link_test SOURCES sdk_link_test.c LIBS PkgConfig::CJSON m LABELS "integration;noasan")
add_dependencies(sdk_link_test trail trail_sdk)
