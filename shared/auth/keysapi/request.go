package keysapi

import (
	"fmt"
	"net/http"
	"net/mail"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/apikey"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/httpapi"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/jsonbody"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
)

// Limits on what a create request may carry.
const (
	MaxBodyBytes     = 16 << 10
	MaxDescription   = 500 // characters
	MaxExpiresInDays = 3650
	maxScopes        = 32 // entries as sent, duplicates included
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
	// ResourcePatterns narrow the key to the resources they name ("registered_model:team-*"):
	// elsewhere it may at most read. None: not narrowed.
	ResourcePatterns []string `json:"resource_patterns"`
}

func (req *CreateRequest) fields() []jsonbody.Field {
	return []jsonbody.Field{
		{Name: "user_id", Into: &req.UserID, Want: "a string"},
		{Name: "email", Into: &req.Email, Want: "a string"},
		{Name: "scopes", Into: &req.Scopes, Want: "a list of strings"},
		{Name: "description", Into: &req.Description, Want: "a string"},
		{Name: "expires_in_days", Into: &req.ExpiresInDays, Want: "a whole number of days"},
		{Name: "environment", Into: &req.Environment, Want: "a string"},
		{Name: "resource_patterns", Into: &req.ResourcePatterns, Want: `a list of "<kind>:<glob>" strings`},
	}
}

// readBody reads at most MaxBodyBytes of r's body (413 beyond).
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	return jsonbody.Read(w, r, MaxBodyBytes,
		httpapi.TooLarge(fmt.Sprintf("the request body is limited to %d bytes; a key request needs far less", MaxBodyBytes)))
}

// DecodeCreate parses and validates a create body: a syntax error is a 400, anything else wrong a
// 422 listing every offending field. Unknown members are rejected.
func DecodeCreate(body []byte) (CreateRequest, error) {
	var req CreateRequest
	errs, err := jsonbody.DecodeObject(body, req.fields(), true)
	if err != nil {
		return CreateRequest{}, err
	}
	if errs = jsonbody.Merge(errs, req.validate()); len(errs) > 0 {
		return CreateRequest{}, httpapi.Validation(errs...)
	}
	req.Scopes = dedupe(req.Scopes)
	req.ResourcePatterns = dedupe(req.ResourcePatterns)
	return req, nil
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
	if len(req.ResourcePatterns) > principal.MaxPatterns {
		add("resource_patterns", fmt.Sprintf("must list at most %d patterns", principal.MaxPatterns))
		return errs
	}
	for i, p := range req.ResourcePatterns {
		field := fmt.Sprintf("resource_patterns[%d]", i)
		if logging.HoldsKey(p) {
			add(field, msgHoldsKey)
		} else if _, err := permissions.ParsePattern(p); err != nil {
			add(field, err.Error()) // ParsePattern's errors never quote the pattern
		}
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
	if logging.HoldsKey(id) { // stored, it would be a key kept in plain text and shown in every listing
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
	if logging.HoldsKey(d) {
		return msgHoldsKey
	}
	return ""
}

const msgHoldsKey = "must not contain an API key"

// dedupe drops repeated entries, keeping the first of each.
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
