package signin

import (
	"encoding/json"
	"net/http"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/uisession"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/apigw"
)

// Guard refuses, before next sees it, a write that authenticated with the session cookie and did
// not come from the gateway's own pages (uisession.SameOrigin), answering 403 in MLflow's error
// shape, which the UI shows. SameSite=Strict already keeps browsers from sending the cookie on
// cross-site requests; this holds when a browser or a same-site sibling does not. Requests that
// carried a key pass untouched: no browser attaches a key by itself.
func Guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if bySession(r) && !uisession.Safe(r.Method) && !uisession.SameOrigin(r) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_ = json.NewEncoder(w).Encode(map[string]string{
				"error_code": "PERMISSION_DENIED",
				"message":    "Cross-site request refused: a write signed in with the UI session must come from the gateway's own pages",
			})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func bySession(r *http.Request) bool {
	rc, ok := apigw.RequestContext(r.Context())
	return ok && rc.Authorizer[uisession.AuthMethodKey] == uisession.AuthMethodSession
}
