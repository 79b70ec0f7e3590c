# rules.cmake - unit tests of the shared rules in common/ (hash, string map, error table, redaction, ELF).
trail_test(rules_test SOURCES rules_test.c LIBS trail_core LABELS unit)
# The shim applies the redaction rule in the process (records read back from the spool).
trail_test(redact_shim_test SOURCES redact_shim_test.c
  LIBS trail_core PkgConfig::CJSON PkgConfig::SQLITE3 LABELS unit)
add_dependencies(redact_shim_test trail_preload)
