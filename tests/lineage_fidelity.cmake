# lineage_fidelity.cmake - lineage you can trust: the same run ingested in any order gives the
# same lineage; real programs under the real shim (killed processes, gcc temporaries, rsync,
# sqlite WAL, append logs, SDK declarations, static parents) against strace ground truth.
trail_test(lineage_order_test SOURCES lineage_order_test.c LIBS trail_store PkgConfig::CJSON LABELS unit)
trail_test(lineage_fidelity_test SOURCES lineage_fidelity_test.c
  LIBS trail_core PkgConfig::CJSON PkgConfig::SQLITE3 LABELS integration)
add_dependencies(lineage_fidelity_test trail trail_preload sdk_client)
trail_test(lineage_inout_test SOURCES lineage_inout_test.c
  LIBS trail_core PkgConfig::CJSON PkgConfig::SQLITE3 LABELS integration)
add_dependencies(lineage_inout_test trail trail_preload)
trail_test(lineage_kill_test SOURCES lineage_kill_test.c
  LIBS trail_core PkgConfig::CJSON PkgConfig::SQLITE3 LABELS integration)
add_dependencies(lineage_kill_test trail trail_preload)
