package mlflowproxy

import (
	"strings"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/httpapi"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
)

// credentialParams are query parameter names that carry a credential, folded like header names
// (case, "-" and "." read as "_"). None is an MLflow request field; MLflow's own "key",
// "page_token" and "secret_id" are not here, and a key-shaped value is refused under any name.
var credentialParams = map[string]bool{
	"api_key": true, "apikey": true, "x_api_key": true, "api_token": true, "access_token": true,
	"auth_token": true, "token": true, "authorization": true, "bearer": true, "hk_key": true,
}

var paramFolder = strings.NewReplacer("-", "_", ".", "_")

// credentialInQuery returns the name of the first query parameter that carries a credential: a
// credential name, or a value (or name) holding anything key-shaped (logging.HoldsKey, what the
// log would redact). Keys are never accepted from
// the query string (SPEC section 4), so such a query is refused rather than forwarded or quietly
// trimmed. The query is read as MLflow's server reads it: split on "&", "+" as a space, every
// valid escape decoded, a bad one kept.
func credentialInQuery(rawQuery string) (string, bool) {
	for _, pair := range strings.Split(rawQuery, "&") {
		name, value, _ := strings.Cut(pair, "=")
		name, value = decodeQueryPart(name), decodeQueryPart(value)
		folded := paramFolder.Replace(strings.ToLower(strings.TrimSpace(name)))
		if credentialParams[folded] || logging.HoldsKey(name) || logging.HoldsKey(value) {
			return name, true
		}
	}
	return "", false
}

func decodeQueryPart(s string) string {
	s = strings.ReplaceAll(s, "+", " ")
	for range maxDecodes {
		next := httpapi.LenientUnescape(s)
		if next == s {
			break
		}
		s = next
	}
	return s
}
