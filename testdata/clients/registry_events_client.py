"""Registry writes with the stock MLflow client through the gateway (issue 13's registry events).

Run by infra/local/e2e (registry_events_test.go) with MLFLOW_TRACKING_URI pointing at the gateway
and MLFLOW_TRACKING_TOKEN set to a Hokusai key. Scenarios:

  lifecycle-setup <model_id> <name>  register_model only
  lifecycle <model_id> <name>   register_model, set alias, set tag, delete tag, delete alias,
                                rename to <name>-renamed, delete
  burst <name> <version> <n>    n alias changes and n model-version tag writes, 8 at a time
  refused <name> <version>      writes MLflow or the gateway refuse; each must fail

Prints one line "E2E_RESULT <json>"; exits non-zero on any failure, with the failing step named.
"""

import json
import sys
from concurrent.futures import ThreadPoolExecutor

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException, RestException

observed = {"ok": False, "steps": []}


def step(name):
    observed["steps"].append(name)


def lifecycle(model_id, name):
    client = MlflowClient()
    step("register_model")
    mv = mlflow.register_model(f"models:/{model_id}", name)
    observed["version"] = mv.version
    step("set alias")
    client.set_registered_model_alias(name, "champion", mv.version)
    step("set tag")
    client.set_model_version_tag(name, mv.version, "stage", "canary")
    step("delete tag")
    client.delete_model_version_tag(name, mv.version, "stage")
    step("delete alias")
    client.delete_registered_model_alias(name, "champion")
    step("rename")
    client.rename_registered_model(name, name + "-renamed")
    step("delete")
    client.delete_registered_model(name + "-renamed")


def setup(model_id, name):
    step("register_model")
    observed["version"] = mlflow.register_model(f"models:/{model_id}", name).version


def burst(name, version, n):
    client = MlflowClient()
    calls = [lambda i=i: client.set_registered_model_alias(name, f"a{i}", version) for i in range(n)]
    calls += [lambda i=i: client.set_model_version_tag(name, version, f"k{i}", str(i)) for i in range(n)]
    step(f"{len(calls)} writes")
    with ThreadPoolExecutor(8) as pool:
        for f in [pool.submit(c) for c in calls]:
            f.result()


def refused(name, version):
    client = MlflowClient()
    attempts = {
        "alias on a version that does not exist": lambda: client.set_registered_model_alias(name, "ghost", "999"),
        "tag on a model that does not exist": lambda: client.set_registered_model_tag(name + "-missing", "k", "v"),
    }
    for what, call in attempts.items():
        step(what)
        try:
            call()
        except (MlflowException, RestException) as e:
            observed.setdefault("refusals", {})[what] = getattr(e, "error_code", str(e))
            continue
        raise AssertionError(f"{what}: MLflow accepted it")


def main():
    scenario, args = sys.argv[1], sys.argv[2:]
    try:
        if scenario == "lifecycle":
            lifecycle(*args)
        elif scenario == "lifecycle-setup":
            setup(*args)
        elif scenario == "burst":
            burst(args[0], args[1], int(args[2]))
        elif scenario == "refused":
            refused(*args)
        else:
            raise ValueError(f"unknown scenario {scenario}")
        observed["ok"] = True
    except Exception as e:  # reported, then the exit status says it failed
        observed["error"] = f"{observed['steps'][-1:]} {type(e).__name__}: {e}"
    print("E2E_RESULT " + json.dumps(observed), flush=True)
    sys.exit(0 if observed["ok"] else 1)


if __name__ == "__main__":
    main()
