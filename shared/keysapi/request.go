package keysapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/mail"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hokusai-protocol/registry-gateway/shared/apikey"
	"github.com/hokusai-protocol/registry-gateway/shared/httpapi"
	"github.com/hokusai-protocol/registry-gateway/shared/logging"
)

// Limits on what a create request may carry.
const (
	MaxBodyBytes     = 16 << 10
	MaxDescription   = 500 // characters
	MaxExpiresInDays = 3650
	maxScopes        = 32 // entries as sent, duplicates included
	maxUnknownShown  = 10 // unknown members named in a 422; the rest are counted
	maxUserIDLength  = 128
	maxEmailLength   = 254
)

// Scopes a key may be issued with (SPEC section 4).
var Scopes = []string{"model:read", "mlflow:read", "model:write", "mlflow:write", "mlflow:access", "write", "full_access", "admin", "mlflow:admin", "registry:admin"}

// CreateRequest is the body of POST /api/keys. Absent, null and "" all mean "the default".
type CreateRequest struct {
	// UserID defaults to the caller's user, Email then to the caller's e-mail.
	UserID      string   `json:"user_id"`
	Email       string   `json:"email"`
	Scopes      []string `json:"scopes"`
	Description string   `json:"description"`
	// ExpiresInDays is nil for a key that never expires.
	ExpiresInDays *int `json:"expires_in_days"`
	// Environment defaults to the deployment's KEY_ENVIRONMENT.
	Environment string `json:"environment"`
}

// field is one member of a JSON object body: where it goes and what the client is told when its
// type is wrong.
type field struct {
	name string
	into any
	want string
}

func (req *CreateRequest) fields() []field {
	return []field{
		{"user_id", &req.UserID, "a string"},
		{"email", &req.Email, "a string"},
		{"scopes", &req.Scopes, "a list of strings"},
		{"description", &req.Description, "a string"},
		{"expires_in_days", &req.ExpiresInDays, "a whole number of days"},
		{"environment", &req.Environment, "a string"},
	}
}

// DecodeCreate parses and validates a create body: a syntax error is a 400, anything else wrong a
// 422 listing every offending field.
func DecodeCreate(body []byte) (CreateRequest, error) {
	var req CreateRequest
	errs, err := decodeObject(body, req.fields())
	if err != nil {
		return CreateRequest{}, err
	}
	if errs = merge(errs, req.validate()); len(errs) > 0 {
		return CreateRequest{}, httpapi.Validation(errs...)
	}
	req.Scopes = dedupe(req.Scopes)
	return req, nil
}

// merge adds to decoding errors the rule violations of fields that decoded (a field of the wrong
// type is not also reported as missing), keeping unknown members last.
func merge(decoding, rules []httpapi.FieldError) []httpapi.FieldError {
	failed := func(field string) bool {
		base, _, _ := strings.Cut(field, "[")
		return slices.ContainsFunc(decoding, func(fe httpapi.FieldError) bool { return fe.Field == base })
	}
	i := slices.IndexFunc(decoding, func(fe httpapi.FieldError) bool { return fe.Message == msgUnknown })
	if i < 0 {
		i = len(decoding)
	}
	out := slices.Clone(decoding[:i])
	for _, fe := range rules {
		if !failed(fe.Field) {
			out = append(out, fe)
		}
	}
	return append(out, decoding[i:]...)
}

// readBody reads at most MaxBodyBytes of r's body (413 beyond).
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	tooLarge := httpapi.TooLarge(fmt.Sprintf("the request body is limited to %d bytes; a key request needs far less", MaxBodyBytes))
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

const msgUnknown = "unknown field"

// decodeObject decodes body, which must be one JSON object, into fields, and returns a
// FieldError for each member of the wrong type, then for each unknown member. Member names match
// exactly (encoding/json alone would also take "Scopes" or "USER_ID"), and each member is decoded
// on its own so that every problem is reported, not just the first. err is a body that is not a
// JSON object at all.
func decodeObject(body []byte, fields []field) (errs []httpapi.FieldError, err error) {
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

// members splits a JSON object into its members; anything that is not exactly one JSON value is
// a 400, a value other than an object a 422.
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

// validate applies the rules a decoded request must satisfy.
func (req *CreateRequest) validate() []httpapi.FieldError {
	var errs []httpapi.FieldError
	add := func(f, msg string) { errs = append(errs, httpapi.FieldError{Field: f, Message: msg}) }
	if msg := checkUserID(req.UserID); msg != "" {
		add("user_id", msg)
	}
	if msg := checkEmail(req.Email); msg != "" {
		add("email", msg)
	}
	switch n := len(req.Scopes); {
	case n == 0:
		add("scopes", "is required: a non-empty list of "+strings.Join(Scopes, ", "))
	case n > maxScopes:
		add("scopes", fmt.Sprintf("must list at most %d scopes", maxScopes))
		return errs // one error, not one per entry
	}
	for i, s := range req.Scopes {
		if !slices.Contains(Scopes, s) {
			// The value is not echoed: a pasted key would travel back in the response.
			add(fmt.Sprintf("scopes[%d]", i), "unknown scope; known scopes: "+strings.Join(Scopes, ", "))
		}
	}
	if msg := checkDescription(req.Description); msg != "" {
		add("description", msg)
	}
	if d := req.ExpiresInDays; d != nil && (*d < 1 || *d > MaxExpiresInDays) {
		add("expires_in_days", fmt.Sprintf("must be between 1 and %d", MaxExpiresInDays))
	}
	if req.Environment != "" && !slices.Contains(apikey.Environments, req.Environment) {
		add("environment", "must be one of "+strings.Join(apikey.Environments, ", "))
	}
	return errs
}

// checkUserID allows any printable identifier without spaces ("" is the default, not an error).
func checkUserID(id string) string {
	if len(id) > maxUserIDLength {
		return fmt.Sprintf("must be at most %d bytes", maxUserIDLength)
	}
	if strings.ContainsFunc(id, func(r rune) bool { return !unicode.IsGraphic(r) || unicode.IsSpace(r) || r == utf8.RuneError }) {
		return "must be printable, without spaces"
	}
	if holdsKey(id) {
		return msgHoldsKey
	}
	return ""
}

// checkEmail allows a bare address ("a@example.com", not "A <a@example.com>").
func checkEmail(email string) string {
	if email == "" {
		return ""
	}
	if len(email) > maxEmailLength {
		return fmt.Sprintf("must be at most %d bytes", maxEmailLength)
	}
	if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email {
		return "must be an e-mail address such as name@example.com"
	}
	return ""
}

func checkDescription(d string) string {
	if utf8.RuneCountInString(d) > MaxDescription {
		return fmt.Sprintf("must be at most %d characters", MaxDescription)
	}
	if holdsKey(d) {
		return msgHoldsKey
	}
	return ""
}

const msgHoldsKey = "must not contain an API key"

// holdsKey reports a key-shaped substring: stored, it would be a key kept in plain text and shown
// in every listing.
func holdsKey(s string) bool { return logging.Redacted(s) != s }

// dedupe drops repeated scopes, keeping the first of each.
func dedupe(scopes []string) []string {
	seen := make(map[string]bool, len(scopes))
	out := scopes[:0:0]
	for _, s := range scopes {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// truncate shortens what is echoed back of a client's value.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
