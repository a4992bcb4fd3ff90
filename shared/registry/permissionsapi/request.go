package permissionsapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/httpapi"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/jsonbody"
)

// MaxBodyBytes bounds a request body: MLflow's auth client sends four short strings.
const MaxBodyBytes = 16 << 10

// maxShown is how many characters of a client's value an error message quotes.
const maxShown = 64

// maxUserID bounds a user id: Hokusai's are far shorter.
const maxUserID = 256

// Parameter names, MLflow's.
const (
	pUsername     = "username"
	pResourceType = "resource_type"
	pResourceID   = "resource_id"
	pPermission   = "permission"
	pExperimentID = "experiment_id"
	pName         = "name"
)

// params reads the request's parameters where MLflow's auth app reads them (_get_request_param):
// a GET's from the query, a POST's and PATCH's from the JSON body, a DELETE's from its JSON body
// or, without one, from the query. Unlike MLflow it is strict: exactly the names in want, each
// once and a non-empty string, every one of them present; anything else is 400
// INVALID_PARAMETER_VALUE and nothing is done.
func params(r *http.Request, want ...string) (map[string]string, error) {
	var body []byte
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		var err error
		if body, err = readBody(r); err != nil {
			return nil, err
		}
	}
	var got map[string]string
	var err error
	switch {
	case len(body) > 0 || r.Method == http.MethodPost || r.Method == http.MethodPatch:
		if r.URL.RawQuery != "" {
			return nil, invalid("Send the parameters in the JSON body, not in the query string")
		}
		got, err = bodyParams(body)
	default:
		got, err = queryParams(r.URL.RawQuery)
	}
	if err != nil {
		return nil, err
	}
	var unknown []string
	for k := range got {
		if !slices.Contains(want, k) {
			unknown = append(unknown, shown(k))
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return nil, invalid("Unknown parameter(s) %s; this call takes %s", quoteAll(unknown), quoteAll(want))
	}
	for _, k := range want {
		if _, ok := got[k]; !ok {
			return nil, invalid("Missing value for required parameter '%s'", k)
		}
	}
	return got, nil
}

func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	if r.ContentLength > MaxBodyBytes {
		return nil, tooLarge()
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, invalid("The request body could not be read")
	}
	if len(body) > MaxBodyBytes {
		return nil, tooLarge()
	}
	return body, nil
}

func tooLarge() *Error {
	return &Error{Status: http.StatusRequestEntityTooLarge, Code: "INVALID_PARAMETER_VALUE",
		Message: "The request body is over 16 KiB; a permission call is a few short strings"}
}

// bodyParams reads a JSON object of string members, each name exact (jsonbody.Members).
func bodyParams(body []byte) (map[string]string, error) {
	members, err := jsonbody.Members(body)
	if err != nil {
		var he *httpapi.Error
		if errors.As(err, &he) {
			if d, ok := he.Detail.(string); ok {
				return nil, invalid("Invalid request body: %s", d)
			}
		}
		return nil, invalid("Invalid request body: send a JSON object of string parameters")
	}
	out := make(map[string]string, len(members))
	for k, raw := range members {
		var s string
		// A JSON null decodes into a string as nothing at all.
		if err := json.Unmarshal(raw, &s); err != nil || raw[0] != '"' {
			return nil, invalid("Parameter '%s' must be a string", shown(k))
		}
		if s == "" {
			return nil, invalid("Parameter '%s' must not be empty", shown(k))
		}
		out[k] = s
	}
	return out, nil
}

func queryParams(raw string) (map[string]string, error) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, invalid("The query string is malformed")
	}
	out := make(map[string]string, len(q))
	for k, vs := range q {
		if len(vs) != 1 {
			return nil, invalid("Parameter '%s' is given %d times; give it once", shown(k), len(vs))
		}
		if vs[0] == "" {
			return nil, invalid("Parameter '%s' must not be empty", shown(k))
		}
		out[k] = vs[0]
	}
	return out, nil
}

// userID checks a username: the Hokusai user id the grant is for.
func userID(s string) (string, error) {
	if utf8.RuneCountInString(s) > maxUserID || !printable(s) || strings.TrimSpace(s) != s {
		return "", invalid("Parameter 'username' must be a Hokusai user id (printable, no surrounding spaces, at most %d characters), got '%s'", maxUserID, shown(s))
	}
	return s, nil
}

// kindOf reads resource_type: the gateway keeps permissions on experiments and registered models
// only (runs, logged models, traces and versions follow theirs).
func kindOf(s string) (permissions.Kind, error) {
	if k := permissions.Kind(s); k.Valid() {
		return k, nil
	}
	return "", invalid("resource_type '%s' is not supported by this gateway; use '%s' or '%s' (runs, logged models and traces follow their experiment, versions and aliases their registered model)",
		shown(s), permissions.Experiment, permissions.RegisteredModel)
}

// target reads a resource id or name; one with "*" is a pattern over names (or ids) of its kind.
func target(kind permissions.Kind, param, s string) (permissions.Resource, bool, error) {
	// A plain name is a pattern that matches itself, so one parser vets both.
	if _, err := permissions.ParsePattern(string(kind) + ":" + s); err != nil {
		// The reason, without ParsePattern's quote of the whole value.
		if inner := errors.Unwrap(err); inner != nil {
			err = inner
		}
		what := "a registered model name, or a name pattern with *"
		if kind == permissions.Experiment {
			what = "an experiment id (digits), or an id pattern with *"
		}
		return permissions.Resource{}, false, invalid("Parameter '%s' must be %s: %v", param, what, err)
	}
	return permissions.Resource{Kind: kind, ID: s}, strings.Contains(s, "*"), nil
}

// level reads a permission: MLflow's names, exactly.
func level(s string) (permissions.Level, error) {
	l, err := permissions.ParseLevel(s)
	if err != nil {
		return 0, invalid("Invalid permission '%s'. Valid permissions are: READ, USE, EDIT, MANAGE, NO_PERMISSIONS", shown(s))
	}
	return l, nil
}

func printable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) })
}

// shown is a client's value as a message quotes it: at most maxShown characters, unprintable
// ones escaped.
func shown(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return '?'
		}
		return r
	}, s)
	return jsonbody.Truncate(s, maxShown)
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "'" + n + "'"
	}
	return strings.Join(q, ", ")
}
