"""Tracing through the gateway with the stock MLflow client.

Run by infra/local/e2e (TestTracingThroughTheGateway) with MLFLOW_TRACKING_URI pointing at one of
the gateway's tracking URIs and MLFLOW_TRACKING_TOKEN set to a Hokusai key. A function decorated
with @mlflow.trace calls another; MLflow 3's exporter sends both spans to <tracking URI>/v1/traces
(OTLP, protobuf) after asking <tracking URI>/version whether the server takes them.

When either call fails the client still records the trace, but falls back: it logs "Failed to
log span" (at debug) or, without a server version, says nothing at all, and uploads the spans as
an artifact instead. So the script reports every warning it sees, every failure the span export
logs at any level, and where MLflow says the spans are stored (TRACKING_STORE only when they came
through OTLP), and the test judges them.

Prints one line "E2E_RESULT <json>"; exits non-zero when a step fails, naming it.
"""

import json
import logging
import sys
import time
import traceback

import mlflow
from mlflow.tracing.constant import TraceTagKey


class Recorder(logging.Handler):
    """Keeps every record MLflow, OpenTelemetry and the HTTP stack log."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)


recorder = Recorder()
# MLflow's loggers do not propagate, so the recorder joins them directly as well as the root.
for name in ("", "mlflow", "opentelemetry", "urllib3", "requests"):
    logging.getLogger(name).addHandler(recorder)
# The span export reports a refused upload at debug level only.
logging.getLogger("mlflow.tracing").setLevel(logging.DEBUG)
logging.captureWarnings(True)


def problems():
    """Warnings from anyone, and any failure the tracing code logs, as "LEVEL logger: message"."""
    out = []
    for r in recorder.records:
        msg = r.getMessage()
        tracing_failure = r.name.startswith("mlflow.tracing") and (
            "fail" in msg.lower() or "not supported" in msg.lower()
        )
        if r.levelno >= logging.WARNING or tracing_failure:
            out.append(f"{r.levelname} {r.name}: {msg}")
    return out


@mlflow.trace(name="inner", span_type="TOOL")
def inner(x):
    return x * 2


@mlflow.trace(name="outer")
def outer(x):
    return inner(x) + 1


def main():
    observed = {"steps": []}
    try:
        exp_id = mlflow.create_experiment(f"e2e-tracing-{int(time.time() * 1000)}")
        mlflow.set_experiment(experiment_id=exp_id)
        observed["experiment_id"] = exp_id
        observed["steps"].append("experiment")

        assert outer(20) == 41, "the traced function's result changed"
        trace_id = mlflow.get_last_active_trace_id()
        assert trace_id, "no trace recorded"
        mlflow.flush_trace_async_logging()
        observed["trace_id"] = trace_id
        observed["steps"].append("traced")

        # Through the gateway: the trace, found by search, with the spans MLflow stored.
        found = mlflow.search_traces(locations=[exp_id], return_type="list")
        traces = [t for t in found if t.info.trace_id == trace_id]
        assert traces, f"search_traces did not find {trace_id} (found {[t.info.trace_id for t in found]})"
        trace = traces[0]
        observed["span_names"] = sorted(s.name for s in trace.data.spans)
        observed["spans_location"] = trace.info.tags.get(TraceTagKey.SPANS_LOCATION, "")
        observed["state"] = str(trace.info.state)
        observed["steps"].append("searched")
        observed["ok"] = True
    except Exception as e:  # reported to the test, with the step it failed after
        observed["ok"] = False
        observed["error"] = f"{type(e).__name__}: {e}\n{traceback.format_exc()}"
    observed["problems"] = problems()
    print("E2E_RESULT " + json.dumps(observed), flush=True)
    return 0 if observed["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
