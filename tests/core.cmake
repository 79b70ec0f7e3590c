# Unit tests of the client core: codec, spool, client.
trail_test(record_test SOURCES record_test.c LIBS trail_core LABELS unit)
trail_test(spool_test SOURCES spool_test.c LIBS trail_core LABELS unit)
