# perf.cmake - benchmark programs for `make bench` (tests/bench/run.sh): built, not run by ctest.
add_executable(raw_sqlite bench/raw_sqlite.c)
target_link_libraries(raw_sqlite PRIVATE PkgConfig::SQLITE3)
add_executable(sdk_bench bench/sdk_bench.c)
target_link_libraries(sdk_bench PRIVATE trail_sdk Threads::Threads)
set_target_properties(raw_sqlite sdk_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
trail_test(perf_paths_test SOURCES perf_paths_test.c LIBS trail_store PkgConfig::CJSON PkgConfig::SQLITE3 LABELS integration)
add_dependencies(perf_paths_test trail trail_preload io_micro)
