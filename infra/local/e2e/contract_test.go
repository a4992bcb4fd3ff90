package e2e

import (
	"testing"

	"github.com/hokusai-protocol/registry-gateway/infra/contract"
)

// TestHarnessEnvironmentsMatchTheirConfiguration: the environment the harness runs each function
// with (the local template's, MLFLOW_URL pointed at the MLflow fault proxy, the AWS variables
// Lambda would set) loads with that function's own loader and holds nothing it does not read.
func TestHarnessEnvironmentsMatchTheirConfiguration(t *testing.T) {
	if len(h.Model.Functions) == 0 {
		t.Fatal("no functions")
	}
	for _, fn := range h.Model.Functions {
		if err := contract.Check(fn.Name, h.FunctionEnv(fn)); err != nil {
			t.Error(err)
		}
	}
}
