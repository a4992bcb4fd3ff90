"""Managing grants through the gateway with MLflow's own auth client.

Run by infra/local/e2e (TestMLflowAuthClientManagesGrants) with MLFLOW_TRACKING_URI pointing at a
gateway tracking URI. The keys come in the environment: E2E_KEY_A (user E2E_USER_A),
E2E_KEY_B (user E2E_USER_B, not a manager of anything here), E2E_KEY_ADMIN, and E2E_KEY_A_NARROWED
(A's key narrowed to registered models matching E2E_NARROW_GLOB); E2E_PATTERN is a model name
pattern no other test uses. Each call sends one of them as MLFLOW_TRACKING_TOKEN, as a user of
the stock client would.

User A creates an experiment and a registered model with the stock client, grants B EDIT on each
with mlflow.server.get_app_client("basic-auth"), reads the grants back, lists them, and revokes
them; B's own attempt to grant is refused. An admin grants on a pattern, which A may not; A's
narrowed key manages nothing its pattern does not name. This is the management API only: whether
the proxy enforces the grants is tested elsewhere.

Prints one line "E2E_RESULT <json>"; exits non-zero when a step fails, naming it.
"""

import json
import os
import sys
import traceback

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.server import get_app_client
from mlflow.server.auth.routes import LIST_CURRENT_USER_PERMISSIONS, LIST_USER_PERMISSIONS
from mlflow.utils.credentials import get_default_host_creds
from mlflow.utils.rest_utils import http_request, verify_rest_response

TRACKING_URI = os.environ["MLFLOW_TRACKING_URI"]
KEYS = {
    "a": os.environ["E2E_KEY_A"],
    "b": os.environ["E2E_KEY_B"],
    "admin": os.environ["E2E_KEY_ADMIN"],
    "a_narrowed": os.environ["E2E_KEY_A_NARROWED"],
}
USER_A, USER_B = os.environ["E2E_USER_A"], os.environ["E2E_USER_B"]
PATTERN = os.environ["E2E_PATTERN"]
NAME = os.environ["E2E_NAME"]

observed = {"ok": False, "steps": [], "refusals": {}, "levels": {}, "lists": {}}


def step(name):
    observed["steps"].append(name)


def as_user(who):
    """Every later call sends who's key: the client reads MLFLOW_TRACKING_TOKEN per request."""
    os.environ["MLFLOW_TRACKING_TOKEN"] = KEYS[who]


def refused(name, fn):
    """Runs fn, which must fail; records MLflow's error code under name."""
    try:
        fn()
    except MlflowException as e:
        observed["refusals"][name] = e.error_code
        return
    raise AssertionError(f"{name}: was not refused")


def level(auth, key, user, resource_type, resource_id):
    got = auth.get_user_permission(user, resource_type, resource_id)
    observed["levels"][key] = {"permission": got.permission, "allowed": got.allowed}


def listing(key, endpoint, **params):
    """MLflow's list endpoints, which the 3.17 client has no method for, called as it calls the rest."""
    resp = http_request(get_default_host_creds(TRACKING_URI), endpoint, "GET", params=params)
    rows = verify_rest_response(resp, endpoint).json()["permissions"]
    observed["lists"][key] = sorted(
        f"{r['resource_type']}:{r['resource_pattern']}:{r['permission']}" for r in rows
    )


def main():
    auth = get_app_client("basic-auth", tracking_uri=TRACKING_URI)
    client = MlflowClient()

    as_user("a")
    exp_id = client.create_experiment(NAME)
    client.create_registered_model(NAME)
    observed["experiment_id"] = exp_id
    step("A created an experiment and a registered model")

    # The proxy records a registered model's creator as its owner; an experiment's creator is
    # recorded by the enforcement's change, so here an admin makes A its manager explicitly (a
    # MANAGE grant manages as owning does).
    as_user("admin")
    auth.grant_user_permission(USER_A, "experiment", exp_id, "MANAGE")
    step("admin granted A MANAGE on the experiment")

    as_user("a")
    auth.grant_user_permission(USER_B, "experiment", exp_id, "EDIT")
    auth.grant_user_permission(USER_B, "registered_model", NAME, "EDIT")
    step("A granted B EDIT on both")
    level(auth, "b_experiment_granted", USER_B, "experiment", exp_id)
    level(auth, "b_model_granted", USER_B, "registered_model", NAME)
    refused("a_grants_twice", lambda: auth.grant_user_permission(USER_B, "registered_model", NAME, "READ"))

    as_user("b")
    listing("b_current", LIST_CURRENT_USER_PERMISSIONS)
    listing("b_own", LIST_USER_PERMISSIONS, username=USER_B)
    refused("b_lists_a", lambda: listing("b_lists_a", LIST_USER_PERMISSIONS, username=USER_A))
    # EDIT is not MANAGE: B may change no grant, not even their own.
    refused("b_grants_self_manage", lambda: auth.grant_user_permission(USER_B, "registered_model", NAME, "MANAGE"))
    refused("b_grants_a", lambda: auth.grant_user_permission(USER_A, "experiment", exp_id, "READ"))
    refused("b_revokes", lambda: auth.revoke_user_permission(USER_B, "registered_model", NAME))
    step("B refused")
    as_user("a")
    level(auth, "b_model_after_refusals", USER_B, "registered_model", NAME)

    # A key narrowed to other models manages nothing else, though its user owns it: a grant A's
    # other key could make (to a user holding none) is refused.
    as_user("a_narrowed")
    refused("narrowed_grants", lambda: auth.grant_user_permission(USER_B + "-c", "registered_model", NAME, "READ"))
    step("A's narrowed key refused")

    as_user("a")
    auth.revoke_user_permission(USER_B, "experiment", exp_id)
    auth.revoke_user_permission(USER_B, "registered_model", NAME)
    step("A revoked both")
    level(auth, "b_experiment_revoked", USER_B, "experiment", exp_id)
    level(auth, "b_model_revoked", USER_B, "registered_model", NAME)
    refused("revoke_again", lambda: auth.revoke_user_permission(USER_B, "registered_model", NAME))
    as_user("b")
    listing("b_after_revoke", LIST_CURRENT_USER_PERMISSIONS)

    # Pattern grants are an admin's.
    as_user("a")
    refused("a_grants_pattern", lambda: auth.grant_user_permission(USER_B, "registered_model", PATTERN, "EDIT"))
    as_user("admin")
    auth.grant_user_permission(USER_B, "registered_model", PATTERN, "EDIT")
    step("admin granted B EDIT on the pattern")
    level(auth, "b_pattern_match", USER_B, "registered_model", PATTERN.rstrip("*") + "-one")
    level(auth, "b_pattern_other", USER_B, "registered_model", "not-" + PATTERN.rstrip("*"))
    listing("b_by_admin", LIST_USER_PERMISSIONS, username=USER_B)
    auth.revoke_user_permission(USER_B, "registered_model", PATTERN)
    step("admin revoked the pattern grant")
    listing("b_after_pattern_revoke", LIST_USER_PERMISSIONS, username=USER_B)


if __name__ == "__main__":
    try:
        main()
        observed["ok"] = True
    except Exception as e:  # reported to the test, which prints the traceback
        observed["error"] = f"after {observed['steps'][-1:]}: {e!r}"
        traceback.print_exc()
    print("E2E_RESULT " + json.dumps(observed))
    sys.exit(0 if observed["ok"] else 1)
