# trust_loss.cmake - no silent loss (issue 10): a full spool disk, start/end reserve, retired
# segments, damaged frames, start records cut to fit; argv redaction (one rule with the env).
trail_test(loss_test SOURCES loss_test.c
  LIBS trail_core trail_sdk PkgConfig::CJSON PkgConfig::SQLITE3 LABELS integration)
add_dependencies(loss_test trail trail_preload)
# the released migrations make the older store it upgrades (store/store_sql.h)
target_include_directories(loss_test PRIVATE ${PROJECT_SOURCE_DIR}/store)
trail_test(redact_argv_test SOURCES redact_argv_test.c
  LIBS trail_core PkgConfig::CJSON PkgConfig::SQLITE3 LABELS unit)
add_dependencies(redact_argv_test trail trail_preload)
