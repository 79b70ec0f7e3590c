# python.cmake - the Python training job (issue 9): the package `trail` (sdk/python) under the
# real `trail run`, immutable params, the rule of input roles.
# python_sdk_test: /usr/bin/python3 scripts log through ctypes into libtrail.so. noasan: python3
# cannot load an ASan-built libtrail.so.
trail_test(python_sdk_test SOURCES python_sdk_test.c LIBS trail_store PkgConfig::CJSON
  LABELS integration noasan)
add_dependencies(python_sdk_test trail trail_sdk trail_preload)
# The C side of immutable params: the SDK itself (sdk.c, compiled in as sdk_test does).
trail_test(param_test SOURCES param_test.c ${PROJECT_SOURCE_DIR}/sdk/sdk.c LIBS trail_core
  LABELS unit)
# The rule of input roles (store/roles.c, compiled in) on its own.
trail_test(roles_test SOURCES roles_test.c ${PROJECT_SOURCE_DIR}/store/roles.c
  LIBS PkgConfig::CJSON LABELS unit)
target_include_directories(roles_test PRIVATE ${PROJECT_SOURCE_DIR}/store)
