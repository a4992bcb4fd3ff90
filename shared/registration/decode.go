package registration

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"unicode/utf8"

	"github.com/hokusai-protocol/registry-gateway/shared/httpapi"
	"github.com/hokusai-protocol/registry-gateway/shared/logging"
)

// MaxBodyBytes is the largest request body either registration route reads.
const MaxBodyBytes = 256 << 10

const (
	maxUnknownShown = 10 // unknown members named in a 422; the rest are counted
	msgUnknown      = "unknown field"
)

// readBody reads at most MaxBodyBytes of r's body (413 beyond).
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	tooLarge := httpapi.TooLarge(fmt.Sprintf("the request body is limited to %d KB; "+
		"send large schemas or documents as MLflow artifacts and refer to them (eval_spec, api_schema)", MaxBodyBytes>>10))
	if r.ContentLength > MaxBodyBytes {
		return nil, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, tooLarge
	}
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	return body, nil
}

// field is one member of a JSON object body: where it goes and what the client is told when its
// type is wrong.
type field struct {
	name string
	into any
	want string
}

// decodeObject decodes body, which must be one JSON object, into fields, and returns a FieldError
// for each member of the wrong type and, when strict, for each unknown member. Member names match
// exactly (encoding/json alone would also take "Token_ID"), and each member is decoded on its own
// so every problem is reported, not just the first. err is a body that is not a JSON object.
func decodeObject(body []byte, fields []field, strict bool) (errs []httpapi.FieldError, err error) {
	members, err := members(body)
	if err != nil {
		return nil, err
	}
	for _, f := range fields {
		raw, ok := members[f.name]
		if !ok {
			continue
		}
		if err := json.Unmarshal(raw, f.into); err != nil {
			errs = append(errs, httpapi.FieldError{Field: f.name, Message: "must be " + f.want})
		}
		delete(members, f.name)
	}
	if !strict {
		return errs, nil
	}
	unknown := slices.Sorted(maps.Keys(members))
	for _, name := range unknown[:min(len(unknown), maxUnknownShown)] {
		// A member named with a pasted key must not come back verbatim.
		errs = append(errs, httpapi.FieldError{Field: logging.Redacted(truncate(name, 64)), Message: msgUnknown})
	}
	if n := len(unknown) - maxUnknownShown; n > 0 {
		errs = append(errs, httpapi.FieldError{Field: "body", Message: fmt.Sprintf("%d more unknown fields", n)})
	}
	return errs, nil
}

// members splits a JSON object into its members; anything that is not exactly one JSON value is a
// 400, a value other than an object a 422.
func members(body []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	var v json.RawMessage
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, httpapi.BadRequest("the request body is empty; send a JSON object")
		}
		return nil, httpapi.BadRequest("the request body is not valid JSON").WithCause(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, httpapi.BadRequest("the request body has data after its JSON value")
	}
	var m map[string]json.RawMessage
	if bytes.TrimSpace(v)[0] != '{' || json.Unmarshal(v, &m) != nil {
		return nil, httpapi.Validation(httpapi.FieldError{Field: "body", Message: "must be a JSON object"})
	}
	return m, nil
}

// merge adds to decoding errors the rule violations of fields that decoded (a field of the wrong
// type is not also reported as missing), keeping unknown members last.
func merge(decoding, rules []httpapi.FieldError) []httpapi.FieldError {
	failed := func(f string) bool {
		return slices.ContainsFunc(decoding, func(fe httpapi.FieldError) bool { return fe.Field == f })
	}
	i := slices.IndexFunc(decoding, func(fe httpapi.FieldError) bool { return fe.Message == msgUnknown })
	if i < 0 {
		i = len(decoding)
	}
	out := slices.Clone(decoding[:i])
	for _, fe := range rules {
		if !failed(baseField(fe.Field)) {
			out = append(out, fe)
		}
	}
	return append(out, decoding[i:]...)
}

// baseField is the member a field path belongs to: "tags" for "tags.mlflow.user".
func baseField(f string) string {
	for i, c := range f {
		if c == '.' || c == '[' {
			return f[:i]
		}
	}
	return f
}

// truncate shortens what is echoed back of a client's value.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
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
