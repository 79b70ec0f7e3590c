# deps.cmake - process images and dependencies: the store's process model (ingest order,
# migration from v2), the process tree and crashes under the real shim, and dependency
# resolution (dpkg, Python distributions, git) by the agent under the real `trail`.
trail_test(proc_store_test SOURCES proc_store_test.c LIBS trail_store PkgConfig::CJSON PkgConfig::SQLITE3 PkgConfig::PQ LABELS unit)
trail_test(proc_test SOURCES proc_test.c LIBS PkgConfig::CJSON LABELS integration)
add_dependencies(proc_test trail trail_preload)
trail_test(deps_test SOURCES deps_test.c LIBS PkgConfig::CJSON LABELS integration)
add_dependencies(deps_test trail trail_preload)
