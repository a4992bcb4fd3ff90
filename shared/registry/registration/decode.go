package registration

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/httpapi"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/jsonbody"
)

// MaxBodyBytes is the largest request body either registration route reads.
const MaxBodyBytes = 256 << 10

// readBody reads at most MaxBodyBytes of r's body (413 beyond).
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	return jsonbody.Read(w, r, MaxBodyBytes, httpapi.TooLarge(fmt.Sprintf("the request body is limited to %d KB; "+
		"send large schemas or documents as MLflow artifacts and refer to them (eval_spec, api_schema)", MaxBodyBytes>>10)))
}

// canonicalHash is the SHA-256 of body as canonical JSON (members sorted, no insignificant space,
// numbers in one notation), so two bodies that mean the same compare equal however written.
func canonicalHash(body []byte) (string, error) {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return "", fmt.Errorf("canonical JSON: %w", err)
	}
	canon, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("canonical JSON: %w", err)
	}
	return sha256Hex(canon), nil
}
