// Package jsonbody reads and strictly decodes the JSON object bodies of Hokusai requests: a capped
// read, exact member names, one error per offending member, and a 422 that names every problem at
// once without echoing a pasted key.
package jsonbody

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

	"github.com/hokusai-protocol/registry-gateway/shared/platform/httpapi"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
)

const (
	maxUnknownShown = 10 // unknown members named in a 422; the rest are counted
	maxNameShown    = 64 // characters of an unknown member's name echoed back
	msgUnknown      = "unknown field"
)

// Read reads at most limit bytes of r's body. A longer body, declared or sent, is tooLarge (a 413
// whose message the caller words).
func Read(w http.ResponseWriter, r *http.Request, limit int64, tooLarge *httpapi.Error) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, tooLarge
	}
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	return body, nil
}

// Field is one member of a JSON object body: its exact name, where it goes, and what the client is
// told when its type is wrong ("must be " + Want).
type Field struct {
	Name string
	Into any
	Want string
}

// DecodeObject decodes body, which must be one JSON object, into fields, and returns a FieldError
// for each member of the wrong type and, when strict, then for each unknown member (sorted, at
// most ten named, the rest counted). Member names match exactly (encoding/json alone would also
// take "Token_ID" for "token_id"), and each member is decoded on its own so every problem is
// reported, not just the first. err is a body that is not a JSON object at all (see Members).
func DecodeObject(body []byte, fields []Field, strict bool) (errs []httpapi.FieldError, err error) {
	members, err := Members(body)
	if err != nil {
		return nil, err
	}
	for _, f := range fields {
		raw, ok := members[f.Name]
		if !ok {
			continue
		}
		if err := json.Unmarshal(raw, f.Into); err != nil {
			errs = append(errs, httpapi.FieldError{Field: f.Name, Message: "must be " + f.Want})
		}
		delete(members, f.Name)
	}
	if !strict {
		return errs, nil
	}
	unknown := slices.Sorted(maps.Keys(members))
	for _, name := range unknown[:min(len(unknown), maxUnknownShown)] {
		// A member named with a pasted key must not come back verbatim.
		errs = append(errs, httpapi.FieldError{Field: logging.Redacted(Truncate(name, maxNameShown)), Message: msgUnknown})
	}
	if n := len(unknown) - maxUnknownShown; n > 0 {
		errs = append(errs, httpapi.FieldError{Field: "body", Message: fmt.Sprintf("%d more unknown fields", n)})
	}
	return errs, nil
}

// Members splits a JSON object into its members; anything that is not exactly one JSON value is a
// 400, a value other than an object a 422. The literals Python writes for non-finite floats are
// read as numbers out of range (see pythonNonFinite).
func Members(body []byte) (map[string]json.RawMessage, error) {
	body = pythonNonFinite(body)
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

// nonFiniteLiterals are what Python's json.dumps writes for float("nan"), float("inf") and
// float("-inf"), and all its json.loads accepts besides JSON; each is replaced by a number that no
// float64 holds, so a client that sends them is told which field is wrong, exactly as for 1e400.
var nonFiniteLiterals = []struct{ literal, number []byte }{
	{[]byte("NaN"), []byte("1e999")},
	{[]byte("Infinity"), []byte("1e999")},
	{[]byte("-Infinity"), []byte("-1e999")},
}

// pythonNonFinite returns body with each non-finite literal that stands where a value may (at the
// start, after ':', ',' or '[', outside strings, followed by white space, a delimiter or the end)
// replaced by an out-of-range number; body itself when there is none. Anything else stays as it
// was, so what was not JSON before is still not JSON after.
func pythonNonFinite(body []byte) []byte {
	var out []byte
	copied := 0   // body[:copied] is in out
	var prev byte // the last byte outside strings and white space; 0 at the start
	inString, escaped := false, false
	for i := 0; i < len(body); i++ {
		c := body[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString, prev = false, c
			}
			continue
		}
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '"':
			inString = true
			continue
		}
		if prev == 0 || prev == ':' || prev == ',' || prev == '[' {
			for _, l := range nonFiniteLiterals {
				end := i + len(l.literal)
				if bytes.HasPrefix(body[i:], l.literal) && (end == len(body) || bytes.IndexByte([]byte(" \t\n\r,]}"), body[end]) >= 0) {
					out = append(append(out, body[copied:i]...), l.number...)
					copied, i, c = end, end-1, '0'
					break
				}
			}
		}
		prev = c
	}
	if out == nil {
		return body
	}
	return append(out, body[copied:]...)
}

// Merge adds to the errors of DecodeObject the rule violations of fields that decoded (a field of
// the wrong type is not also reported as missing; "tags.k" and "scopes[2]" belong to "tags" and
// "scopes"), keeping unknown members last.
func Merge(decoding, rules []httpapi.FieldError) []httpapi.FieldError {
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

// baseField is the member a field path belongs to: "tags" for "tags.mlflow.user", "scopes" for
// "scopes[2]".
func baseField(f string) string {
	for i, c := range f {
		if c == '.' || c == '[' {
			return f[:i]
		}
	}
	return f
}

// Truncate shortens what is echoed back of a client's value to n characters, marking the cut
// with "…".
func Truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
