package searchfilter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/httpapi"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/changes"
)

// Request fields, by proto name and JSON name: MLflow's ParseDict takes a body's field under
// either; a GET's query only under its proto name (_get_request_message).
var (
	fPageToken     = [2]string{"page_token", "pageToken"}
	fMaxResults    = [2]string{"max_results", "maxResults"}
	fExperimentIDs = [2]string{"experiment_ids", "experimentIds"}
	fLocations     = [2]string{"locations", "locations"}
)

// request is a search as MLflow reads it: a GET's query, any other method's JSON body. It is
// changed only through set, and what MLflow is sent is encode's, so MLflow reads exactly the
// fields the filter read.
type request struct {
	get   bool
	pairs []pair                     // GET: the query in order
	body  map[string]json.RawMessage // otherwise: the body's top-level fields
}

// pair is one name=value of a query, its name decoded as werkzeug's parser decodes it.
type pair struct {
	name string
	raw  string
}

func parseRequest(method, rawQuery string, body []byte) (*request, error) {
	if method == http.MethodGet || method == http.MethodHead {
		// Flask reads the query only when it has one; an empty query is an empty message.
		r := &request{get: true}
		for _, p := range strings.Split(rawQuery, "&") {
			if p == "" {
				continue
			}
			name, _, _ := strings.Cut(p, "=")
			r.pairs = append(r.pairs, pair{name: queryDecode(name), raw: p})
		}
		return r, nil
	}
	fields, err := changes.ParseBody(body)
	if err != nil {
		return nil, invalid("The request body is not a JSON object")
	}
	return &request{body: fields}, nil
}

// queryDecode is a query name or value as Python's parse_qsl reads it: "+" a space, every valid
// escape decoded once, a bad one kept.
func queryDecode(s string) string {
	return httpapi.LenientUnescape(strings.ReplaceAll(s, "+", " "))
}

// values are the field's values as MLflow reads them: a GET's every value of the parameter; a
// body's field, raw, under exactly one of its names (MLflow refuses both), null being unset.
func (r *request) values(f [2]string) ([]string, json.RawMessage, error) {
	if r.get {
		var out []string
		for _, p := range r.pairs {
			if p.name == f[0] {
				_, v, _ := strings.Cut(p.raw, "=")
				out = append(out, queryDecode(v))
			}
		}
		return out, nil, nil
	}
	v, hasName := r.body[f[0]]
	alt, hasAlias := r.body[f[1]]
	if f[0] != f[1] && hasName && hasAlias {
		return nil, nil, invalid(fmt.Sprintf("Both %q and %q are set", f[0], f[1]))
	}
	if hasAlias {
		v = alt
	}
	if v == nil || string(bytes.TrimSpace(v)) == "null" {
		return nil, nil, nil
	}
	return nil, v, nil
}

// str is a string field; "" when unset. A GET's repeated parameter reads as its first value
// (werkzeug's MultiDict.get).
func (r *request) str(f [2]string) (string, error) {
	vs, raw, err := r.values(f)
	switch {
	case err != nil:
		return "", err
	case r.get && len(vs) > 0:
		return vs[0], nil
	case raw == nil:
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", invalid(fmt.Sprintf("%s must be a string", f[0]))
	}
	return s, nil
}

// integer is an integer field (false: unset), in the forms MLflow's parser and the stock
// clients send: a JSON integer, or a decimal string. Anything else is refused here rather than
// guessed at.
func (r *request) integer(f [2]string) (int, bool, error) {
	vs, raw, err := r.values(f)
	if err != nil {
		return 0, false, err
	}
	var text string
	switch {
	case r.get && len(vs) > 0:
		text = vs[0]
	case r.get || raw == nil:
		return 0, false, nil
	default:
		var s string
		if json.Unmarshal(raw, &s) == nil {
			text = s
		} else {
			text = string(bytes.TrimSpace(raw))
		}
	}
	n, err := strconv.Atoi(text)
	if err != nil || strings.HasPrefix(text, "+") {
		return 0, false, invalid(fmt.Sprintf("%s must be an integer", f[0]))
	}
	return n, true, nil
}

// strs is a repeated string field.
func (r *request) strs(f [2]string) ([]string, error) {
	vs, raw, err := r.values(f)
	if err != nil || r.get || raw == nil {
		return vs, err
	}
	var out []string
	if json.Unmarshal(raw, &out) != nil {
		return nil, invalid(fmt.Sprintf("%s must be a list of strings", f[0]))
	}
	return out, nil
}

// objects is a repeated message field, each raw.
func (r *request) objects(f [2]string) ([]json.RawMessage, error) {
	if r.get {
		return nil, invalid(fmt.Sprintf("%s cannot be sent in a query", f[0]))
	}
	_, raw, err := r.values(f)
	if err != nil || raw == nil {
		return nil, err
	}
	var out []json.RawMessage
	if json.Unmarshal(raw, &out) != nil {
		return nil, invalid(fmt.Sprintf("%s must be a list", f[0]))
	}
	return out, nil
}

// set replaces the field, under every name it could be read by, with values; none removes it.
// A body's field is set to value as JSON; a query's to one parameter per value (strings).
func (r *request) set(f [2]string, value any) {
	if !r.get {
		delete(r.body, f[0])
		delete(r.body, f[1])
		if value == nil {
			return
		}
		b, err := json.Marshal(value)
		if err != nil {
			panic(err) // strings, ints and raw JSON always marshal
		}
		r.body[f[0]] = b
		return
	}
	kept := r.pairs[:0:0]
	for _, p := range r.pairs {
		if p.name != f[0] {
			kept = append(kept, p)
		}
	}
	var vals []string
	switch v := value.(type) {
	case string:
		vals = []string{v}
	case int:
		vals = []string{strconv.Itoa(v)}
	case []string:
		vals = v
	}
	for _, v := range vals {
		kept = append(kept, pair{name: f[0], raw: url.QueryEscape(f[0]) + "=" + url.QueryEscape(v)})
	}
	r.pairs = kept
}

// encode is the request MLflow is sent: its query and body.
func (r *request) encode() (string, []byte) {
	if r.get {
		raws := make([]string, len(r.pairs))
		for i, p := range r.pairs {
			raws[i] = p.raw
		}
		return strings.Join(raws, "&"), nil
	}
	b, err := json.Marshal(r.body)
	if err != nil {
		panic(err) // raw JSON values that were parsed always marshal
	}
	return "", b
}

// clone is a copy whose changes leave r as it is.
func (r *request) clone() *request {
	c := &request{get: r.get, pairs: append([]pair(nil), r.pairs...)}
	if r.body != nil {
		c.body = make(map[string]json.RawMessage, len(r.body))
		for k, v := range r.body {
			c.body[k] = v
		}
	}
	return c
}

// Error is a search the filter refuses: MLflow's error shape and status.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func invalid(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "INVALID_PARAMETER_VALUE", Message: msg}
}
