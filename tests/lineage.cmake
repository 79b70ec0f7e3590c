# lineage.cmake - lineage, --where, diff and show PATH: store-level unit tests, end-to-end
# tests under the real `trail` binary, the Python pipeline (skipped until the capture shim
# exists), and the synthetic-store generator for the benchmarks (built, not run by ctest).
trail_test(lineage_test SOURCES lineage_test.c LIBS trail_store PkgConfig::CJSON PkgConfig::SQLITE3 PkgConfig::PQ LABELS unit)
trail_test(where_test SOURCES where_test.c LIBS trail_store PkgConfig::CJSON LABELS unit)
trail_test(diff_test SOURCES diff_test.c LIBS trail_store PkgConfig::CJSON LABELS integration)
add_dependencies(diff_test trail sdk_client)
trail_test(lineage_e2e_test SOURCES lineage_e2e_test.c LIBS trail_store PkgConfig::CJSON LABELS integration)
add_dependencies(lineage_e2e_test trail sdk_client)
trail_test(lineage_pipeline_test SOURCES lineage_pipeline_test.c LIBS PkgConfig::CJSON LABELS integration)
add_dependencies(lineage_pipeline_test trail)

add_executable(gen_store bench/gen_store.c)
target_link_libraries(gen_store PRIVATE trail_store)
set_target_properties(gen_store PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
