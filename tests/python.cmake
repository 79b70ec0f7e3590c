# python.cmake - the Python training job (issue 9): immutable params in the C SDK, the rule of
# input roles; python_sdk_test (the package `trail` under the real `trail run`) joins them once
# the store's role and param hooks are in.
# The C side of immutable params: the SDK itself (sdk.c, compiled in as sdk_test does).
trail_test(param_test SOURCES param_test.c ${PROJECT_SOURCE_DIR}/sdk/sdk.c LIBS trail_core
  LABELS unit)
# The rule of input roles (store/roles.c, compiled in) on its own.
trail_test(roles_test SOURCES roles_test.c ${PROJECT_SOURCE_DIR}/store/roles.c
  LIBS PkgConfig::CJSON LABELS unit)
target_include_directories(roles_test PRIVATE ${PROJECT_SOURCE_DIR}/store)
