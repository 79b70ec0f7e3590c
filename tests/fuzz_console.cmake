# fuzz_console.cmake - libFuzzer build of the console metrics parser (console.cmake replays its
# corpus in every build), when fuzz.cmake (included before this file) found a capable clang.
# libFuzzer build when fuzz.cmake found a clang that can link -fsanitize=fuzzer.
if(_trail_clang AND TRAIL_CLANG_LIBFUZZER)
  set(_cm_fuzzer ${CMAKE_BINARY_DIR}/tests/console_metrics_fuzzer)
  set(_cm_srcs ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/console_metrics_fuzz.c
    ${PROJECT_SOURCE_DIR}/agent/console_metrics.c)
  add_custom_command(OUTPUT ${_cm_fuzzer}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/tests
    COMMAND ${_trail_clang} -std=c11 -g -O1 -fno-omit-frame-pointer
      -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
      -DTRAIL_LIBFUZZER -D_GNU_SOURCE -I${PROJECT_SOURCE_DIR}/agent ${_cm_srcs} -o ${_cm_fuzzer}
    DEPENDS ${_cm_srcs} ${PROJECT_SOURCE_DIR}/agent/console_metrics.h
    COMMENT "Building libFuzzer target console_metrics_fuzzer with ${_trail_clang}"
    VERBATIM)
  add_custom_target(console_metrics_fuzzer DEPENDS ${_cm_fuzzer})
  set(_cm_work ${CMAKE_BINARY_DIR}/tests/console_metrics_fuzz_corpus)
  add_test(NAME console_metrics_fuzz_bounded
    COMMAND sh -c "\"$1\" --build \"$2\" --target console_metrics_fuzzer && rm -rf \"$3\" && mkdir -p \"$3\" && cp \"$4\"/* \"$3\"/ && exec \"$5\" -max_total_time=30 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \"$3\""
      sh ${CMAKE_COMMAND} ${CMAKE_BINARY_DIR} ${_cm_work} ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/console ${_cm_fuzzer})
  set_tests_properties(console_metrics_fuzz_bounded PROPERTIES LABELS fuzz TIMEOUT 600)
endif()
