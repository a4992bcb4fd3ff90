"""MLflow client steps around a registration, for the registration tests.

Run with MLFLOW_TRACKING_URI (and MLFLOW_TRACKING_TOKEN through the gateway) set. The first
argument is the step; the rest are its arguments. Prints one line `E2E_RESULT <json>` with what it
observed and exits non-zero on failure.

  log [<experiment>]            log a pyfunc model named "model" in a new run
  register <run_id> <name>      mlflow.register_model("runs:/<run_id>/model", name), as a client would
  version <name> <version>      the model version as the client reads it
  load <name> <version>         load models:/<name>/<version> and predict
"""

import json
import sys
import time

import mlflow
import pandas as pd
from mlflow import MlflowClient


class AddOne(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input["x"] + 1


def log(experiment=None):
    mlflow.set_experiment(experiment or f"registration-{time.time_ns()}")
    with mlflow.start_run() as run:
        mlflow.log_metric("reply_rate", 0.15)
        info = mlflow.pyfunc.log_model(name="model", python_model=AddOne(),
                                       input_example=pd.DataFrame({"x": [1.0]}))
    return {"run_id": run.info.run_id, "experiment_id": run.info.experiment_id, "model_id": info.model_id}


def version_info(name, version):
    mv = MlflowClient().get_model_version(name, version)
    return {"name": mv.name, "version": str(mv.version), "source": mv.source, "run_id": mv.run_id,
            "model_id": mv.model_id, "tags": mv.tags}


def register(run_id, name):
    mv = mlflow.register_model(f"runs:/{run_id}/model", name)
    return version_info(name, mv.version)


def load(name, version):
    model = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    pred = model.predict(pd.DataFrame({"x": [41.0]}))
    return {"prediction": float(pred.iloc[0])}


if __name__ == "__main__":
    steps = {"log": log, "register": register, "version": version_info, "load": load}
    try:
        result = steps[sys.argv[1]](*sys.argv[2:])
        result["ok"] = True
    except Exception as e:  # report, then fail
        result = {"ok": False, "error": f"{type(e).__name__}: {e}"[:2000]}
    print("E2E_RESULT " + json.dumps(result))
    sys.exit(0 if result["ok"] else 1)
