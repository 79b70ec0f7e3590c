# ui.cmake - the HTTP API and the web page: API tests against a real traild on loopback, and the
# browser test (Debian's chromium headless, driven by playwright-core; label browser).
add_executable(ui_seed ui_seed.c)
target_link_libraries(ui_seed PRIVATE trail_store m)
target_include_directories(ui_seed PRIVATE ${PROJECT_SOURCE_DIR}/sdk/include)
set_target_properties(ui_seed PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
trail_test(api_test SOURCES api_test.c LIBS PkgConfig::SQLITE3 PkgConfig::CJSON m
  LABELS integration)
add_dependencies(api_test trail traild sdk_client trail_preload ui_seed)
add_test(NAME browser_test COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/browser/run_browser.sh
  ${CMAKE_BINARY_DIR} ${PROJECT_SOURCE_DIR})
set_tests_properties(browser_test PROPERTIES LABELS "browser" TIMEOUT 300 SKIP_RETURN_CODE 77)
