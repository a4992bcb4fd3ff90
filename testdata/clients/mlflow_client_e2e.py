"""End-to-end scenario for the stock MLflow client through the gateway.

Run by infra/local/e2e with MLFLOW_TRACKING_URI pointing at the gateway and MLFLOW_TRACKING_TOKEN
set to a Hokusai key. Prints one JSON object with what it observed; exits non-zero on any failure,
with the failing step named.
"""

import hashlib
import json
import os
import sys
import tempfile
import time

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

SCENARIO = sys.argv[1] if len(sys.argv) > 1 else "full"
observed = {"scenario": SCENARIO, "steps": []}


def step(name):
    observed["steps"].append(name)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class AddOne(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input["x"] + 1


def random_file(directory, name, size):
    path = os.path.join(directory, name)
    with open(path, "wb") as f:
        remaining = size
        while remaining:
            n = min(remaining, 1 << 20)
            f.write(os.urandom(n))
            remaining -= n
    return path


def full():
    client = MlflowClient()
    suffix = str(int(time.time() * 1000))
    exp_id = mlflow.create_experiment(f"e2e-{suffix}")
    step("create_experiment")
    mlflow.set_experiment(experiment_id=exp_id)
    with mlflow.start_run() as run:
        mlflow.log_params({"alpha": "0.5", "layers": "3"})
        mlflow.log_metric("accuracy", 0.91)
        client.log_batch(run.info.run_id, metrics=[mlflow.entities.Metric("loss", 0.2, int(time.time() * 1000), 0)],
                         params=[mlflow.entities.Param("batch", "yes")])
        step("log_params_metrics_batch")
        info = mlflow.pyfunc.log_model(name="model", python_model=AddOne(),
                                       input_example=pd.DataFrame({"x": [1.0, 2.0]}))
        step("log_model")
        with tempfile.TemporaryDirectory() as d:
            small = os.path.join(d, "notes.txt")
            with open(small, "w") as f:
                f.write("hello through the gateway\n")
            mlflow.log_artifact(small)
            big = random_file(d, "four_mb.bin", 4 * 1024 * 1024)
            mlflow.log_artifact(big)
            step("log_artifacts")
            out = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="notes.txt", dst_path=os.path.join(d, "dl1"))
            assert sha256(out) == sha256(small), "small artifact differs"
            out = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="four_mb.bin", dst_path=os.path.join(d, "dl2"))
            assert sha256(out) == sha256(big), "4 MB artifact differs"
            step("download_artifacts_identical")
    runs = mlflow.search_runs(experiment_ids=[exp_id])
    assert len(runs) == 1, f"search_runs found {len(runs)}"
    step("search_runs")
    name = f"e2e-model-{suffix}"
    mv = mlflow.register_model(f"runs:/{run.info.run_id}/model", name)
    observed["model_version"] = {"name": name, "version": mv.version, "source": mv.source, "run_id": mv.run_id}
    step("register_model")
    found = client.search_registered_models(filter_string=f"name = '{name}'")
    assert len(found) == 1, "search_registered_models"
    step("search_models")
    client.set_model_version_tag(name, mv.version, "stage", "e2e")
    client.set_registered_model_alias(name, "champion", mv.version)
    step("tag_and_alias")
    model = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    pred = model.predict(pd.DataFrame({"x": [41.0]}))
    assert float(pred.iloc[0]) == 42.0, f"predicted {pred}"
    step("load_by_alias_and_predict")
    observed["run_id"] = run.info.run_id
    observed["experiment_id"] = exp_id


def large():
    """A 50 MB artifact, up and down, with the README's multipart settings."""
    exp_id = mlflow.create_experiment(f"e2e-large-{int(time.time() * 1000)}")
    with mlflow.start_run(experiment_id=exp_id) as run, tempfile.TemporaryDirectory() as d:
        big = random_file(d, "fifty_mb.bin", 50 * 1024 * 1024)
        mlflow.log_artifact(big)
        step("upload_50mb")
        out = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="fifty_mb.bin", dst_path=os.path.join(d, "dl"))
        assert sha256(out) == sha256(big), "50 MB artifact differs"
        step("download_50mb_identical")


def readonly():
    """A read-only key: searches and downloads work, creating is refused with 403."""
    run_id = os.environ["E2E_RUN_ID"]
    exp_id = os.environ["E2E_EXPERIMENT_ID"]
    assert len(mlflow.search_runs(experiment_ids=[exp_id])) >= 1
    step("search_runs")
    with tempfile.TemporaryDirectory() as d:
        mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="notes.txt", dst_path=d)
    step("download")
    try:
        mlflow.create_experiment(f"forbidden-{time.time()}")
    except MlflowException as e:
        observed["create_error"] = {"error_code": e.error_code, "message": e.message}
        step("create_refused")
    else:
        raise AssertionError("a read-only key created an experiment")


if __name__ == "__main__":
    try:
        {"full": full, "large": large, "readonly": readonly}[SCENARIO]()
        observed["ok"] = True
    except Exception as e:  # report, then fail
        observed["ok"] = False
        observed["error"] = f"{type(e).__name__}: {e}"[:2000]
    print("E2E_RESULT " + json.dumps(observed))
    sys.exit(0 if observed["ok"] else 1)
