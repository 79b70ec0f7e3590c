# fuzz_batch.cmake - wire batch + ingest fuzzing: corpus replay in every build, libFuzzer with clang.
set(_bf_dir ${CMAKE_CURRENT_SOURCE_DIR}/fuzz)
set(_bf_corpus ${_bf_dir}/corpus/batch)

# Replays the seed corpus through the fuzz target (with the build's sanitizers, if any).
add_executable(batch_fuzz_replay ${_bf_dir}/batch_fuzz.c)
target_link_libraries(batch_fuzz_replay PRIVATE trail_batch trail_store)
set_target_properties(batch_fuzz_replay PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
add_test(NAME batch_fuzz_replay COMMAND batch_fuzz_replay ${_bf_corpus})
set_tests_properties(batch_fuzz_replay PROPERTIES LABELS fuzz TIMEOUT 120)

# Regenerates the seed corpus: cmake --build build --target batch_fuzz_gen_corpus, then run
# build/tests/batch_fuzz_gen_corpus tests/fuzz/corpus/batch
add_executable(batch_fuzz_gen_corpus EXCLUDE_FROM_ALL ${_bf_dir}/batch_gen_corpus.c)
target_link_libraries(batch_fuzz_gen_corpus PRIVATE trail_batch)
set_target_properties(batch_fuzz_gen_corpus PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)

# libFuzzer build, when fuzz.cmake (included before this file) found a clang that can link
# -fsanitize=fuzzer. The store's sources come from the trail_store target itself.
if(_trail_clang AND TRAIL_CLANG_LIBFUZZER)
  set(_bf_fuzzer ${CMAKE_BINARY_DIR}/tests/batch_fuzzer)
  get_target_property(_bf_core trail_core SOURCES)
  get_target_property(_bf_store trail_store SOURCES)
  list(TRANSFORM _bf_core PREPEND ${PROJECT_SOURCE_DIR}/common/)
  list(TRANSFORM _bf_store PREPEND ${PROJECT_SOURCE_DIR}/store/)
  list(TRANSFORM PQ_INCLUDE_DIRS PREPEND -I OUTPUT_VARIABLE _bf_pq_include) # libpq-fe.h
  set(_bf_srcs ${_bf_dir}/batch_fuzz.c ${PROJECT_SOURCE_DIR}/common/batch.c ${_bf_core} ${_bf_store})
  add_custom_command(OUTPUT ${_bf_fuzzer}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/tests
    COMMAND ${_trail_clang} -std=c11 -g -O1 -fno-omit-frame-pointer -fno-strict-aliasing
      -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
      -DTRAIL_LIBFUZZER -D_GNU_SOURCE -DTRAIL_VERSION="${PROJECT_VERSION}"
      -I${PROJECT_SOURCE_DIR}/common -I${PROJECT_SOURCE_DIR}/sdk/include
      -I${PROJECT_SOURCE_DIR}/store ${_bf_pq_include}
      ${_bf_srcs} -o ${_bf_fuzzer} -lsqlite3 -lpq -lcjson ${TRAIL_MBEDCRYPTO} -lm -lpthread
    DEPENDS ${_bf_srcs} ${PROJECT_SOURCE_DIR}/common/batch.h ${PROJECT_SOURCE_DIR}/store/store.h
    COMMENT "Building libFuzzer target batch_fuzzer with ${_trail_clang}"
    VERBATIM)
  add_custom_target(batch_fuzzer DEPENDS ${_bf_fuzzer})

  # Builds the fuzzer if needed, then fuzzes a scratch copy of the seed corpus for 30 s.
  set(_bf_work ${CMAKE_BINARY_DIR}/tests/batch_fuzz_corpus)
  add_test(NAME batch_fuzz_bounded
    COMMAND sh -c "\"$1\" --build \"$2\" --target batch_fuzzer && rm -rf \"$3\" && mkdir -p \"$3\" && cp \"$4\"/* \"$3\"/ && exec \"$5\" -max_total_time=30 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \"$3\""
      sh ${CMAKE_COMMAND} ${CMAKE_BINARY_DIR} ${_bf_work} ${_bf_corpus} ${_bf_fuzzer})
  set_tests_properties(batch_fuzz_bounded PROPERTIES LABELS fuzz TIMEOUT 600)
endif()
