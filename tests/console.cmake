# console.cmake - the kept console of `trail run`, metrics read off it, system metrics.
# The parser over corpora of training-log lines that must and must not yield metrics.
trail_test(console_metrics_test SOURCES console_metrics_test.c
  ${PROJECT_SOURCE_DIR}/agent/console_metrics.c LABELS unit)
target_include_directories(console_metrics_test PRIVATE ${PROJECT_SOURCE_DIR}/agent)

# Real programs under the real `trail run` (pipes, a pty), `trail logs`, and a real traild.
trail_test(console_test SOURCES console_test.c
  LIBS trail_core PkgConfig::CJSON PkgConfig::SQLITE3 LABELS integration)
add_dependencies(console_test trail traild trail_sdk trail_preload)

# Fuzz target replayed over its seed corpus in every build (label fuzz).
add_executable(console_metrics_fuzz_replay ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/console_metrics_fuzz.c
  ${PROJECT_SOURCE_DIR}/agent/console_metrics.c)
target_include_directories(console_metrics_fuzz_replay PRIVATE ${PROJECT_SOURCE_DIR}/agent
  ${CMAKE_CURRENT_SOURCE_DIR}/fuzz)
set_target_properties(console_metrics_fuzz_replay PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
add_test(NAME console_metrics_fuzz_replay COMMAND console_metrics_fuzz_replay
  ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/console)
set_tests_properties(console_metrics_fuzz_replay PROPERTIES LABELS fuzz TIMEOUT 120)
# Its libFuzzer build: fuzz_console.cmake (after fuzz.cmake, which finds clang).
