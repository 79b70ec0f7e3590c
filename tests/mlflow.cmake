# mlflow.cmake - MLflow's tracking REST API served by traild (tests/mlflow_test.c, which also runs
# tests/mlflow_client.py with Debian's /usr/bin/python3 and a `trail run --collector` run).
trail_test(mlflow_test SOURCES mlflow_test.c LIBS PkgConfig::SQLITE3 PkgConfig::CJSON m
  LABELS integration)
add_dependencies(mlflow_test trail traild trail_preload)
