# rules.cmake - unit tests of the shared rules in common/ (hash, string map, error table, redaction, ELF).
trail_test(rules_test SOURCES rules_test.c LIBS trail_core LABELS unit)
