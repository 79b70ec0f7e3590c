#!/usr/bin/python3
"""mlflow_client.py - logs to an MLflow tracking server the way the mlflow client does
(mlflow.set_experiment, start_run, log_params, log_metric per epoch, set_tag, end_run, then
reads back), with Python's standard library only. Used by tests/mlflow_test.c against traild.

usage: mlflow_client.py URL log|join|resume   (token: $MLFLOW_TRACKING_TOKEN)
Prints run_id=ID; exits 1 with a message when an answer is not what MLflow's server gives."""
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

BASE = sys.argv[1].rstrip("/") + "/api/2.0/mlflow"


def call(method, endpoint, body=None, query=None, want=200):
    """One request as mlflow's rest_utils.call_endpoint makes it: GET with a query string,
    POST with a JSON body, the bearer token from MLFLOW_TRACKING_TOKEN."""
    url = BASE + endpoint
    if query:
        url += "?" + urllib.parse.urlencode(query, doseq=True)
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    req.add_header("User-Agent", "mlflow-python-client/stdlib-test")
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, text = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read()
    doc = json.loads(text)
    if status != want:
        sys.exit(f"{method} {endpoint}: status {status}, wanted {want}: {doc}")
    return doc


def check(cond, what):
    if not cond:
        sys.exit("check failed: " + what)


def now_ms():
    return int(time.time() * 1000)


def get_or_create_experiment(name):
    """mlflow.set_experiment: get-by-name, and create on RESOURCE_DOES_NOT_EXIST."""
    url_query = {"experiment_name": name}
    req = urllib.request.Request(
        BASE + "/experiments/get-by-name?" + urllib.parse.urlencode(url_query))
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())["experiment"]["experiment_id"]
    except urllib.error.HTTPError as e:
        doc = json.loads(e.read())
        check(e.code == 404 and doc["error_code"] == "RESOURCE_DOES_NOT_EXIST",
              f"get-by-name of a new experiment: {e.code} {doc}")
    return call("POST", "/experiments/create", {"name": name})["experiment_id"]


def start_run(experiment_id, name, extra_tags=()):
    tags = [{"key": "mlflow.user", "value": "tester"},
            {"key": "mlflow.source.name", "value": sys.argv[0]},
            {"key": "mlflow.source.type", "value": "LOCAL"},
            {"key": "mlflow.runName", "value": name}] + list(extra_tags)
    run = call("POST", "/runs/create", {"experiment_id": experiment_id, "user_id": "tester",
                                        "start_time": now_ms(), "tags": tags,
                                        "run_name": name})["run"]
    check(run["info"]["status"] == "RUNNING", "a new run is RUNNING")
    return run["info"]["run_id"]


def log(run_id):
    # mlflow.log_params: one log-batch of params
    call("POST", "/runs/log-batch", {"run_id": run_id, "metrics": [], "tags": [],
                                     "params": [{"key": "lr", "value": "0.01"},
                                                {"key": "batch_size", "value": "32"}]})
    for epoch in range(5):  # mlflow.log_metric("loss", v, step=epoch)
        call("POST", "/runs/log-metric", {"run_id": run_id, "key": "loss",
                                          "value": 1.0 / (epoch + 1), "timestamp": now_ms(),
                                          "step": epoch})
    call("POST", "/runs/set-tag", {"run_id": run_id, "key": "stage", "value": "trained"})
    # mlflow.log_metrics at the end: a log-batch of metrics
    call("POST", "/runs/log-batch", {"run_id": run_id, "params": [], "tags": [],
                                     "metrics": [{"key": "acc", "value": 0.9,
                                                  "timestamp": now_ms(), "step": 4}]})
    # logging a param again with another value is refused, as by MLflow's server
    doc = call("POST", "/runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.5"},
               want=400)
    check(doc["error_code"] == "INVALID_PARAMETER_VALUE", f"param change refused: {doc}")
    # mlflow.end_run()
    info = call("POST", "/runs/update", {"run_id": run_id, "run_uuid": run_id,
                                         "status": "FINISHED", "end_time": now_ms()})["run_info"]
    check(info["status"] == "FINISHED" and info["end_time"] >= info["start_time"], "ended")
    hist = call("GET", "/metrics/get-history", query={"run_id": run_id, "metric_key": "loss"})
    check([m["step"] for m in hist["metrics"]] == [0, 1, 2, 3, 4], f"history {hist}")
    check(abs(hist["metrics"][4]["value"] - 0.2) < 1e-12, "last loss 0.2")
    run = call("GET", "/runs/get", query={"run_id": run_id})["run"]
    params = {p["key"]: p["value"] for p in run["data"]["params"]}
    check(params == {"lr": "0.01", "batch_size": "32"}, f"params {params}")
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    check(tags.get("stage") == "trained" and tags.get("mlflow.runName") == "py-run", f"tags {tags}")


def main():
    mode = sys.argv[2]
    if mode == "log":
        exp = get_or_create_experiment("py-client")
        check(get_or_create_experiment("py-client") == exp, "the same experiment id again")
        run_id = start_run(exp, "py-run")
        log(run_id)
        found = call("POST", "/runs/search", {
            "experiment_ids": [exp], "max_results": 10,
            "filter": "metrics.loss < 0.5 and params.lr = '0.01' and tags.stage = 'trained' "
                      "and attributes.status = 'FINISHED'",
            "order_by": ["attributes.start_time DESC"], "run_view_type": "ACTIVE_ONLY"})
        check([r["info"]["run_id"] for r in found.get("runs", [])] == [run_id], f"search {found}")
    elif mode == "resume":  # mlflow.start_run() under MLFLOW_RUN_ID (`trail run --mlflow`)
        run_id = os.environ["MLFLOW_RUN_ID"]
        check(run_id == os.environ["TRAIL_RUN_ID"], "MLFLOW_RUN_ID is the trail run")
        # at once, as mlflow does: the run must exist already (no retry, no sleep)
        run = call("GET", "/runs/get", query={"run_id": run_id})["run"]
        check(run["info"]["lifecycle_stage"] == "active", f"resumable {run['info']}")
        call("POST", "/runs/update", {"run_id": run_id, "run_uuid": run_id, "status": "RUNNING"})
        call("POST", "/runs/log-metric", {"run_id": run_id, "key": "resumed_metric", "value": 7,
                                          "timestamp": now_ms(), "step": 0})
        call("POST", "/runs/update", {"run_id": run_id, "run_uuid": run_id,
                                      "status": "FINISHED", "end_time": now_ms()})
    else:  # join: the run of `trail run` this process runs under
        trail_id = os.environ["TRAIL_RUN_ID"]
        run_id = start_run("0", "script-name", [{"key": "trail.run_id", "value": trail_id}])
        check(run_id == trail_id, "the MLflow run is the trail run")
        call("POST", "/runs/log-metric", {"run_id": run_id, "key": "joined_metric",
                                          "value": 42, "timestamp": now_ms(), "step": 0})
    print(f"run_id={run_id}")


main()
