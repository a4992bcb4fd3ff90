package mlflowproxy

import (
	"net/http"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
)

// postReads are the MLflow calls that read through POST (SPEC section 4), by endpoint. They are
// matched whole, never by prefix or substring: "runs/search-extra" is a write.
var postReads = map[string]bool{
	"runs/search":                           true,
	"experiments/search":                    true,
	"registered-models/search":              true,
	"registered-models/get-latest-versions": true,
	"model-versions/search":                 true,
	"logged-models/search":                  true,
	"traces/search":                         true,
}

// Access is the level a call needs: GET and HEAD read, the listed POST searches read in API 2.0
// and 3.0 (under api/ and ajax-api/ alike), and every other method and endpoint writes. It is
// total: an unknown method is a write.
func (r Route) Access(method string) principal.Level {
	switch method {
	case http.MethodGet, http.MethodHead:
		return principal.Read
	case http.MethodPost:
		if r.Service == ServiceTracking && postReads[r.Endpoint] {
			return principal.Read
		}
	}
	return principal.Write
}
