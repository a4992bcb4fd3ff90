"""The HTTP requests of the Hokusai SDK's ModelRegistry.register_tokenized_model, made directly.

Written from reading the SDK (Hokusai-protocol/hokusai-data-pipeline, hokusai-ml-platform,
hokusai/core/registry.py and notification.py), not copied from it: MLflow's client sends each of
these calls as one JSON POST under <tracking URI>/api/2.0/mlflow/, with the key as a bearer token;
the announcement goes to <api>/api/models/tokenized-registration-events.

  register <run_id> <name> <token_id>

Environment: MLFLOW_TRACKING_URI, MLFLOW_TRACKING_TOKEN (the key, sent to MLflow and with the
announcement), E2E_API_URL (where the announcement goes; unset: no announcement, as with
notify_site=False). Prints one line `E2E_RESULT <json>` with what each step answered.
"""

import json
import os
import sys
import urllib.error
import urllib.request

METRIC = "reply_rate"
BASELINE = 0.1342
METADATA = {"hokusai.eval_spec": "specs/eval.yaml", "hokusai.primary_metric": "reply_rate"}


def post(url, body, key):
    """POST body as JSON; returns (status, decoded answer)."""
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req, timeout=60) as res:
            return res.status, json.loads(res.read() or b"{}")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, {"raw": raw.decode(errors="replace")[:500]}


def register(run_id, name, token_id):
    tracking = os.environ["MLFLOW_TRACKING_URI"].rstrip("/") + "/api/2.0/mlflow/"
    key = os.environ.get("MLFLOW_TRACKING_TOKEN", "")
    token = token_id.upper()
    model_uri = f"runs:/{run_id}/model"
    result = {"steps": []}

    # create_registered_model; the SDK ignores any failure (the model may exist).
    status, _ = post(tracking + "registered-models/create",
                     {"name": name, "description": f"Hokusai tokenized model: {token_id}"}, key)
    result["steps"].append(["registered-models/create", status])

    # create_model_version(name, source=model_uri, description=...): no run_id, no model_id.
    status, answer = post(tracking + "model-versions/create",
                          {"name": name, "source": model_uri, "description": f"Token: {token_id}, Metric: {METRIC}"}, key)
    result["steps"].append(["model-versions/create", status])
    if status != 200:
        result["create_error"] = answer
        return result
    version = str(answer["model_version"]["version"])
    result["version"] = version

    # One set_model_version_tag per tag, then set_tag on the run for each metadata tag.
    tags = {"hokusai_token_id": token, "benchmark_metric": METRIC, "benchmark_value": str(BASELINE),
            "hokusai_status": "registered", "hokusai_proposal_identifier": token, "mlflow_run_id": run_id}
    tags.update(METADATA)
    for k, v in tags.items():
        status, answer = post(tracking + "model-versions/set-tag", {"name": name, "version": version, "key": k, "value": v}, key)
        if status != 200:
            raise RuntimeError(f"set-tag {k}: {status} {answer}")
    for k, v in METADATA.items():
        status, answer = post(tracking + "runs/set-tag", {"run_uuid": run_id, "run_id": run_id, "key": k, "value": v}, key)
        if status != 200:
            raise RuntimeError(f"runs/set-tag {k}: {status} {answer}")
    result["tags"] = tags

    api = os.environ.get("E2E_API_URL")
    if api:
        payload = {"model_name": name, "version": version, "token_id": token, "proposal_identifier": token,
                   "metric_name": METRIC, "baseline_value": BASELINE, "mlflow_run_id": run_id,
                   "model_uri": f"models:/{name}/{version}", "tags": tags,
                   "eval_spec": METADATA["hokusai.eval_spec"], "primary_metric": METADATA["hokusai.primary_metric"]}
        status, answer = post(api.rstrip("/") + "/api/models/tokenized-registration-events", payload, key)
        result["announcement"] = {"status": status, "answer": answer}
    return result


if __name__ == "__main__":
    try:
        result = {"register": register}[sys.argv[1]](*sys.argv[2:])
        result["ok"] = True
    except Exception as e:  # report, then fail
        result = {"ok": False, "error": f"{type(e).__name__}: {e}"[:2000]}
    print("E2E_RESULT " + json.dumps(result))
    sys.exit(0 if result["ok"] else 1)
