# shim.cmake - capture shim (libtrail_preload.so) tests: conformance programs under the shim
# alone (records read from the spool) and under the real `trail run` (records in the store).
add_subdirectory(${CMAKE_CURRENT_SOURCE_DIR}/conformance ${CMAKE_CURRENT_BINARY_DIR}/conformance)
set(_shim_programs trail_preload conform probe static_prog asan_prog shim_early)

trail_test(shim_unit_test SOURCES shim_unit_test.c
  LIBS trail_core PkgConfig::CJSON PkgConfig::SQLITE3 LABELS unit)
add_dependencies(shim_unit_test ${_shim_programs})

trail_test(shim_test SOURCES shim_test.c
  LIBS trail_core PkgConfig::CJSON PkgConfig::SQLITE3 LABELS integration)
add_dependencies(shim_test trail ${_shim_programs})

# Ground truth from strace -f for a shell pipeline, a python3 script and a gcc build.
trail_test(shim_truth_test SOURCES shim_truth_test.c
  LIBS trail_core PkgConfig::CJSON PkgConfig::SQLITE3 LABELS integration)
add_dependencies(shim_truth_test trail trail_preload)

# PyTorch DataLoader workers (prints SKIP when python3 cannot import torch).
trail_test(shim_torch_test SOURCES shim_torch_test.c
  LIBS trail_core PkgConfig::CJSON PkgConfig::SQLITE3 LABELS integration)
add_dependencies(shim_torch_test trail trail_preload)

# dlopen under the shim: the program stays the caller; an object loaded by path is recorded at once.
trail_test(shim_dlopen_test SOURCES shim_dlopen_test.c
  LIBS trail_core PkgConfig::CJSON PkgConfig::SQLITE3 LABELS integration)
add_dependencies(shim_dlopen_test trail_preload dlo_prog dlo_lib)
