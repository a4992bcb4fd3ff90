package mlflowcatalog_test

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"
	mc "github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowcatalog"
)

// authValidators asks the installed MLflow's basic-auth app which validator guards each RPC: its
// BEFORE_REQUEST_HANDLERS and LOGGED_MODEL_BEFORE_REQUEST_HANDLERS, keyed by request message,
// named here by the RPC that takes the message.
const authValidators = `
import json
import mlflow.server.auth as auth
from mlflow.protos.service_pb2 import MlflowService
from mlflow.protos.model_registry_pb2 import ModelRegistryService
rpc = {}
for svc in (MlflowService, ModelRegistryService):
    for m in svc.DESCRIPTOR.methods:
        rpc[m.input_type.full_name] = m.name[:1].upper() + m.name[1:]
out = {}
for table in (auth.BEFORE_REQUEST_HANDLERS, auth.LOGGED_MODEL_BEFORE_REQUEST_HANDLERS):
    for cls, fn in table.items():
        name = rpc.get(cls.DESCRIPTOR.full_name)
        if name:
            out[name] = getattr(fn, "__name__", "") if fn else ""
print(json.dumps(out))
`

// validatorLevels is the level each of MLflow's validators demands on the experiment or
// registered model, read from its body: can_read → READ, can_update → EDIT, can_delete and
// can_manage → MANAGE. A create in an experiment is an "update" requirement on it
// (_authorize_create_in_experiment); a search validator only vetoes selectors and leaves the rows
// to filtering, which is a read. "create" marks the creates of an experiment or registered model.
var validatorLevels = map[string]string{
	"validate_can_read_experiment":                           "READ",
	"validate_can_read_experiment_by_name":                   "READ",
	"validate_can_update_experiment":                         "EDIT",
	"validate_can_delete_experiment":                         "MANAGE",
	"validate_can_create_experiment":                         "create",
	"validate_can_read_run":                                  "READ",
	"validate_can_update_run":                                "EDIT",
	"validate_can_log_metric":                                "EDIT",
	"validate_can_log_batch":                                 "EDIT",
	"validate_can_log_inputs":                                "EDIT",
	"validate_can_log_outputs":                               "EDIT",
	"validate_can_update_run_or_logged_model":                "EDIT",
	"validate_can_create_run":                                "EDIT",
	"validate_can_delete_run":                                "MANAGE",
	"validate_can_read_logged_model":                         "READ",
	"validate_can_search_logged_models":                      "READ",
	"validate_can_update_logged_model":                       "EDIT",
	"validate_can_create_logged_model":                       "EDIT",
	"validate_can_delete_logged_model":                       "MANAGE",
	"validate_can_create_registered_model":                   "create",
	"_validate_can_read_registered_model_or_prompt":          "READ",
	"_validate_can_update_registered_model_or_prompt":        "EDIT",
	"validate_can_delete_registered_model_or_prompt_cascade": "MANAGE",
	"validate_can_read_model_or_prompt_version":              "READ",
	"validate_can_search_model_versions":                     "READ",
	"validate_can_update_model_or_prompt_version":            "EDIT",
	"validate_can_create_model_version":                      "EDIT",
	"validate_can_set_model_or_prompt_version_alias":         "EDIT",
	"validate_can_delete_model_or_prompt_version":            "MANAGE",
	"validate_can_delete_model_or_prompt_version_alias":      "MANAGE",
	"validate_can_start_trace":                               "EDIT",
	"validate_can_start_trace_v3":                            "EDIT",
	"validate_can_read_trace_by_request_id":                  "READ",
	"validate_can_read_trace_by_trace_id":                    "READ",
	"validate_can_update_trace_by_request_id":                "EDIT",
	"validate_can_update_trace_by_trace_id":                  "EDIT",
	"validate_can_search_traces":                             "READ",
	"validate_can_search_traces_v3":                          "READ",
	"validate_can_batch_get_traces":                          "READ",
	"validate_can_read_traces_by_experiment_ids":             "READ",
	"validate_can_query_trace_metrics":                       "READ",
	"validate_can_link_traces_to_run":                        "EDIT",
	"validate_can_delete_traces":                             "MANAGE",
	"validate_can_get_assessment":                            "READ",
	"validate_can_create_assessment":                         "EDIT",
	"validate_can_update_assessment":                         "EDIT",
	"validate_can_delete_assessment":                         "EDIT",
}

// TestNeedsMirrorMLflow fails for each operation whose Needs differs from what MLflow's basic-auth
// app demands for the same RPC, and for an RPC of ours guarded by a validator this test has not
// classified (an upgrade that adds or changes one).
func TestNeedsMirrorMLflow(t *testing.T) {
	cmd := exec.Command(testenv.Python(t), "-W", "ignore", "-c", authValidators)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("reading MLflow's auth validators: %v\n%s", err, stderr.Bytes())
	}
	var validators map[string]string
	if err := json.Unmarshal(out, &validators); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	compared := 0
	for _, op := range mc.Operations() {
		if op.Resource == mc.None {
			continue
		}
		fn, ok := validators[op.Name]
		if !ok {
			continue // an RPC MLflow guards another way (the artifact service's paths) or not at all
		}
		want, known := validatorLevels[fn]
		if !known {
			t.Errorf("%s: MLflow guards it with %s, which this test has not classified", op.Name, fn)
			continue
		}
		got := op.Needs.String()
		if op.Creates {
			got = "create"
		}
		if got != want {
			t.Errorf("%s needs %s here; MLflow's %s demands %s", op.Name, got, fn, want)
		}
		compared++
	}
	if compared < 80 {
		t.Errorf("only %d operations compared with MLflow's validators", compared)
	}
	t.Logf("%d operations' levels match MLflow's basic-auth validators", compared)
}

// TestEveryResourceOperationNeedsALevel: an operation on a resource of the registry's either needs
// a level or is a create; one on none needs nothing, so enforcement never guesses. The gateway's
// own operations (the permission API) judge the caller themselves: MANAGE to change a grant.
func TestEveryResourceOperationNeedsALevel(t *testing.T) {
	for _, op := range mc.Operations() {
		switch {
		case op.Served == mc.Gateway:
			if op.Needs != permissions.NoPermissions || op.Creates {
				t.Errorf("%s is the gateway's and judges its caller itself, but needs %s (creates %v)", op.Name, op.Needs, op.Creates)
			}
		case op.Resource == mc.None && (op.Needs != permissions.NoPermissions || op.Creates):
			t.Errorf("%s addresses no resource but needs %s (creates %v)", op.Name, op.Needs, op.Creates)
		case op.Resource != mc.None && op.Needs == permissions.NoPermissions && !op.Creates:
			t.Errorf("%s (%s) needs no level", op.Name, op.Resource)
		case op.Creates && op.Needs != permissions.NoPermissions:
			t.Errorf("%s is a create and needs %s too", op.Name, op.Needs)
		case op.Method == "GET" && op.Needs > permissions.Read:
			t.Errorf("%s: a GET that needs %s", op.Name, op.Needs)
		}
	}
}
