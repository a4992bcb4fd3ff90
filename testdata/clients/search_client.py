"""Searches with the stock MLflow client through the gateway (issue 14, item 2).

Run by infra/local/e2e (TestSearchesShowOnlyWhatTheCallerMayRead) with MLFLOW_TRACKING_URI pointing
at the gateway and MLFLOW_TRACKING_TOKEN set to a Hokusai key. Pages through the searches of names
starting with the prefix (argv[1]) and the runs of the experiment ids (argv[2], comma-separated), a
few results a page, and prints the pages it got as one E2E_RESULT line.
"""

import json
import sys

from mlflow import MlflowClient

PREFIX, EXPERIMENT_IDS = sys.argv[1], sys.argv[2].split(",")
PER_PAGE = 2
observed = {}


def pages(search, key):
    out, token = [], None
    for _ in range(100):
        page = search(token)
        out.append([key(x) for x in page])
        token = page.token
        if not token:
            return out
    raise AssertionError("paging did not end")


def main():
    c = MlflowClient()
    like = f"name LIKE '{PREFIX}-%'"
    observed["experiments"] = pages(
        lambda t: c.search_experiments(filter_string=like, max_results=PER_PAGE, order_by=["name ASC"], page_token=t),
        lambda e: e.name,
    )
    observed["models"] = pages(
        lambda t: c.search_registered_models(filter_string=like, max_results=PER_PAGE, order_by=["name ASC"], page_token=t),
        lambda m: m.name,
    )
    observed["versions"] = pages(
        lambda t: c.search_model_versions(filter_string=like, max_results=PER_PAGE, order_by=["name ASC"], page_token=t),
        lambda v: v.name,
    )
    observed["runs"] = pages(
        lambda t: c.search_runs(EXPERIMENT_IDS, max_results=PER_PAGE, page_token=t),
        lambda r: r.info.experiment_id,
    )


if __name__ == "__main__":
    try:
        main()
        observed["ok"] = True
    except Exception as e:  # report, then fail
        observed["ok"] = False
        observed["error"] = f"{type(e).__name__}: {e}"[:2000]
    print("E2E_RESULT " + json.dumps(observed))
    sys.exit(0 if observed["ok"] else 1)
