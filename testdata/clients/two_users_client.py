"""User B's reads and writes of user A's resources with the stock MLflow client (issue 14, item 5).

Run by infra/local/e2e (TestTwoUsers) with MLFLOW_TRACKING_URI pointing at the gateway and
MLFLOW_TRACKING_TOKEN set to B's key. argv[1] is the group of calls (reads, writes, deletes) and
argv[2] A's resources as JSON: experiment_id, run_id, model (a registered model name), version,
alias. Each call's outcome, "ok" or MLflow's error code as the client raised it, is printed as one
E2E_RESULT line; nothing is judged here.
"""

import json
import sys

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

GROUP, R = sys.argv[1], json.loads(sys.argv[2])


def calls(c):
    exp, run, model, version, alias = R["experiment_id"], R["run_id"], R["model"], R["version"], R["alias"]
    if GROUP == "reads":
        return {
            "get_experiment": lambda: c.get_experiment(exp),
            "get_run": lambda: c.get_run(run),
            "search_runs": lambda: c.search_runs([exp], max_results=5),
            "get_metric_history": lambda: c.get_metric_history(run, "m"),
            "list_artifacts": lambda: c.list_artifacts(run),
            "get_registered_model": lambda: c.get_registered_model(model),
            "get_model_version": lambda: c.get_model_version(model, version),
            "get_model_version_by_alias": lambda: c.get_model_version_by_alias(model, alias),
            "search_model_versions": lambda: c.search_model_versions(f"name = '{model}'"),
        }
    if GROUP == "writes":
        return {
            "set_experiment_tag": lambda: c.set_experiment_tag(exp, "b", "1"),
            "set_run_tag": lambda: c.set_tag(run, "b", "1"),
            "log_metric": lambda: c.log_metric(run, "b_metric", 1.0),
            "set_registered_model_tag": lambda: c.set_registered_model_tag(model, "b", "1"),
            "update_registered_model": lambda: c.update_registered_model(model, description="B was here"),
            "set_model_version_tag": lambda: c.set_model_version_tag(model, version, "b", "1"),
            "overwrite_hokusai_tag": lambda: c.set_model_version_tag(model, version, "hokusai_token_id", "B-TOKEN"),
            "set_alias": lambda: c.set_registered_model_alias(model, "b-alias", version),
            "create_model_version": lambda: c.create_model_version(model, f"runs:/{run}/model", run_id=run),
        }
    if GROUP == "deletes":
        return {
            "delete_alias": lambda: c.delete_registered_model_alias(model, alias),
            "delete_model_version_tag": lambda: c.delete_model_version_tag(model, version, "hokusai_token_id"),
            "delete_model_version": lambda: c.delete_model_version(model, version),
            "delete_registered_model": lambda: c.delete_registered_model(model),
            "delete_run": lambda: c.delete_run(run),
            "delete_experiment": lambda: c.delete_experiment(exp),
        }
    raise SystemExit(f"unknown group {GROUP}")


def main():
    c = MlflowClient()
    outcomes = {}
    for name, call in calls(c).items():
        try:
            call()
            outcomes[name] = "ok"
        except MlflowException as e:
            outcomes[name] = e.error_code
    print("E2E_RESULT " + json.dumps({"ok": True, "outcomes": outcomes}))


if __name__ == "__main__":
    main()
