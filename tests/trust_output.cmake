# trust_output.cmake - traild's bounds, API token and token files; safe text and JSON output.
trail_test(traild_limits_test SOURCES traild_limits_test.c LIBS PkgConfig::SQLITE3
  LABELS integration)
add_dependencies(traild_limits_test trail traild sdk_client)
add_executable(trust_client trust_client.c)
target_include_directories(trust_client PRIVATE ${PROJECT_SOURCE_DIR}/sdk/include)
target_link_libraries(trust_client PRIVATE trail_sdk)
set_target_properties(trust_client PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
trail_test(output_safety_test SOURCES output_safety_test.c LIBS PkgConfig::CJSON LABELS integration)
add_dependencies(output_safety_test trail trust_client)
