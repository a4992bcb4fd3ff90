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
)

// Limits on what a create request may carry.
const (
	MaxBodyBytes     = 16 << 10
	MaxDescription   = 500 // characters
	MaxExpiresInDays = 3650
	maxUserIDLength  = 128
	maxEmailLength   = 254
)

// Scopes a key may be issued with (SPEC section 4), and those that make its holder an admin.
var (
	Scopes      = []string{"model:read", "mlflow:read", "model:write", "mlflow:write", "mlflow:access", "write", "full_access", "admin", "mlflow:admin", "registry:admin"}
	AdminScopes = []string{"admin", "mlflow:admin", "registry:admin"}
)

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
	if err := decodeObject(body, req.fields()); err != nil {
		return CreateRequest{}, err
	}
	req.Scopes = dedupe(req.Scopes)
	if errs := req.validate(); len(errs) > 0 {
		return CreateRequest{}, httpapi.Validation(errs...)
	}
	return req, nil
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

// decodeObject decodes body, which must be one JSON object, into fields. Member names match
// exactly (encoding/json alone would also take "Scopes" or "USER_ID"), and each member is decoded
// on its own so that every wrong type and unknown member is reported, not just the first.
func decodeObject(body []byte, fields []field) error {
	members, err := members(body)
	if err != nil {
		return err
	}
	var errs []httpapi.FieldError
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
	for _, name := range slices.Sorted(maps.Keys(members)) {
		errs = append(errs, httpapi.FieldError{Field: name, Message: "unknown field"})
	}
	if len(errs) > 0 {
		return httpapi.Validation(errs...)
	}
	return nil
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
	if len(req.Scopes) == 0 {
		add("scopes", "is required: a non-empty list of "+strings.Join(Scopes, ", "))
	}
	for i, s := range req.Scopes {
		if !slices.Contains(Scopes, s) {
			add(fmt.Sprintf("scopes[%d]", i), fmt.Sprintf("unknown scope %q; known scopes: %s", truncate(s, 40), strings.Join(Scopes, ", ")))
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
	return ""
}

// dedupe drops repeated scopes, keeping the first of each.
func dedupe(scopes []string) []string {
	var out []string
	for _, s := range scopes {
		if !slices.Contains(out, s) {
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
