# fuzz.cmake - record/spool fuzzing: a corpus replay test in every build, a libFuzzer build with clang.
set(_trail_fuzz_dir ${CMAKE_CURRENT_SOURCE_DIR}/fuzz)
set(_trail_fuzz_corpus ${_trail_fuzz_dir}/corpus/record)

# Replays the seed corpus through the fuzz target, built with the project's compiler (and its
# sanitizers when TRAIL_SANITIZE is on).
add_executable(record_fuzz_replay ${_trail_fuzz_dir}/record_fuzz.c)
target_link_libraries(record_fuzz_replay PRIVATE trail_core)
set_target_properties(record_fuzz_replay PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
add_test(NAME record_fuzz_replay COMMAND record_fuzz_replay ${_trail_fuzz_corpus})
set_tests_properties(record_fuzz_replay PROPERTIES LABELS fuzz TIMEOUT 120)

# Regenerates the seed corpus: cmake --build build --target record_fuzz_gen_corpus, then run
# build/tests/record_fuzz_gen_corpus tests/fuzz/corpus/record
add_executable(record_fuzz_gen_corpus EXCLUDE_FROM_ALL ${_trail_fuzz_dir}/gen_corpus.c)
target_link_libraries(record_fuzz_gen_corpus PRIVATE trail_core)
set_target_properties(record_fuzz_gen_corpus PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)

# libFuzzer build: needs clang with its fuzzer runtime; never part of `all`.
set(_trail_clang "")
if(CMAKE_C_COMPILER_ID STREQUAL "Clang")
  set(_trail_clang ${CMAKE_C_COMPILER})
elseif(EXISTS /usr/bin/clang)
  set(_trail_clang /usr/bin/clang)
endif()
if(_trail_clang AND NOT DEFINED TRAIL_CLANG_LIBFUZZER)
  set(_probe ${CMAKE_BINARY_DIR}/CMakeFiles/trail_fuzz_probe)
  file(MAKE_DIRECTORY ${_probe})
  file(WRITE ${_probe}/probe.c
    "int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);\n"
    "int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n")
  execute_process(COMMAND ${_trail_clang} -fsanitize=fuzzer,address,undefined probe.c -o probe
    WORKING_DIRECTORY ${_probe} RESULT_VARIABLE _probe_rc OUTPUT_QUIET ERROR_QUIET)
  if(_probe_rc EQUAL 0)
    set(TRAIL_CLANG_LIBFUZZER ON CACHE INTERNAL "clang can build libFuzzer targets")
  else()
    set(TRAIL_CLANG_LIBFUZZER OFF CACHE INTERNAL "clang can build libFuzzer targets")
  endif()
endif()

if(_trail_clang AND TRAIL_CLANG_LIBFUZZER)
  set(_fuzzer ${CMAKE_BINARY_DIR}/tests/record_fuzzer)
  set(_fuzz_srcs ${_trail_fuzz_dir}/record_fuzz.c ${PROJECT_SOURCE_DIR}/common/record.c
    ${PROJECT_SOURCE_DIR}/common/spool.c ${PROJECT_SOURCE_DIR}/common/util.c
    ${PROJECT_SOURCE_DIR}/common/error.c)
  add_custom_command(OUTPUT ${_fuzzer}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/tests
    COMMAND ${_trail_clang} -std=c11 -g -O1 -fno-omit-frame-pointer -fno-strict-aliasing
      -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
      -DTRAIL_LIBFUZZER -D_GNU_SOURCE -DTRAIL_VERSION="${PROJECT_VERSION}"
      -I${PROJECT_SOURCE_DIR}/common -I${PROJECT_SOURCE_DIR}/sdk/include
      ${_fuzz_srcs} -o ${_fuzzer}
    DEPENDS ${_fuzz_srcs} ${PROJECT_SOURCE_DIR}/common/record.h ${PROJECT_SOURCE_DIR}/common/spool.h
      ${PROJECT_SOURCE_DIR}/common/util.h
    COMMENT "Building libFuzzer target record_fuzzer with ${_trail_clang}"
    VERBATIM)
  add_custom_target(record_fuzzer DEPENDS ${_fuzzer})

  # Builds the fuzzer if needed, then fuzzes a scratch copy of the seed corpus for 30 s.
  set(_work ${CMAKE_BINARY_DIR}/tests/record_fuzz_corpus)
  add_test(NAME record_fuzz_bounded
    COMMAND sh -c "\"$1\" --build \"$2\" --target record_fuzzer && rm -rf \"$3\" && mkdir -p \"$3\" && cp \"$4\"/* \"$3\"/ && exec \"$5\" -max_total_time=30 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \"$3\""
      sh ${CMAKE_COMMAND} ${CMAKE_BINARY_DIR} ${_work} ${_trail_fuzz_corpus} ${_fuzzer})
  set_tests_properties(record_fuzz_bounded PROPERTIES LABELS fuzz TIMEOUT 600)
endif()
