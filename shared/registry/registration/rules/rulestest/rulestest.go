// Package rulestest builds request bodies for the tests of the registration rules and of the
// handler above them: valid bodies of both routes, and variations of them.
package rulestest

import (
	"encoding/json"
	"maps"
)

type absent struct{}

// Absent, as a change's value, removes the member from the body.
var Absent absent

// JSONOf is base with changes applied (Absent deletes a member), as a JSON object.
func JSONOf(base map[string]any, changes map[string]any) []byte {
	m := maps.Clone(base)
	for k, v := range changes {
		if _, ok := v.(absent); ok {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// ValidRegister is a valid POST /api/models/register body; JSONOf copies it, never changes it.
var ValidRegister = map[string]any{
	"token_id": "msg-ai", "mlflow_run_id": "0123456789abcdef0123456789abcdef",
	"metric_name": "sales:reply_rate", "baseline_value": 0.1342,
}

// ValidEvent is a valid POST /api/models/tokenized-registration-events body, as the SDK sends it.
var ValidEvent = map[string]any{
	"model_name": "hokusai-HLEAD", "version": "7", "token_id": "hlead", "metric_name": "reply_rate",
	"baseline_value": 0.1342, "mlflow_run_id": "0123456789abcdef0123456789abcdef",
	"proposal_identifier": "HLEAD", "model_uri": "models:/hokusai-HLEAD/7", "tags": map[string]string{"hokusai_token_id": "HLEAD"},
}
