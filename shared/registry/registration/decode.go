package registration

import (
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
