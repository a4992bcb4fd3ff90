package keysapi

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/apikey"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/httpapi"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
)

// FuzzCreateRequest: the decoder never panics, rejects only as 400 or 422, and whatever it accepts
// satisfies every rule of the create request.
func FuzzCreateRequest(f *testing.F) {
	for _, seed := range []string{
		`{"scopes":["model:read"]}`,
		`{"user_id":"alice","email":"alice@example.com","scopes":["admin","admin"],"description":"ci","expires_in_days":30,"environment":"test"}`,
		`{"scopes":[]}`, `{"scopes":"admin"}`, `{"Scopes":["admin"]}`, `{"scopes":["admin"],"x":1}`,
		`{"scopes":["admin"],"expires_in_days":1e400}`, `{"scopes":["admin"],"expires_in_days":-1}`,
		`{"scopes":["admin"],"user_id":"\u0000"}`, `{"scopes":["admin"],"description":"\xff\xfe"}`,
		`{"scopes":["admin"],"resource_patterns":["registered_model:x*","experiment:1"]}`, `{"scopes":["admin"],"resource_patterns":["x"]}`,
		`{"scopes":["admin"]} {}`, `null`, `[]`, `"x"`, ``, `{`, `{"scopes":["admin"],"scopes":[]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeCreate(body)
		if err != nil {
			var he *httpapi.Error
			if !errors.As(err, &he) || (he.Status != http.StatusBadRequest && he.Status != http.StatusUnprocessableEntity) {
				t.Fatalf("rejection %v is not a 400 or 422", err)
			}
			return
		}
		if msg := breaksRules(req); msg != "" {
			t.Fatalf("accepted %q: %s", body, msg)
		}
	})
}

// breaksRules restates the create rules independently of the code under test.
func breaksRules(req CreateRequest) string {
	switch {
	case len(req.Scopes) == 0:
		return "no scopes"
	case slices.ContainsFunc(req.Scopes, func(s string) bool { return !slices.Contains(Scopes, s) }):
		return "unknown scope"
	case len(slices.Compact(slices.Sorted(slices.Values(req.Scopes)))) != len(req.Scopes):
		return "duplicate scope"
	case utf8.RuneCountInString(req.Description) > 500:
		return "description too long"
	case req.ExpiresInDays != nil && (*req.ExpiresInDays < 1 || *req.ExpiresInDays > 3650):
		return "expiry out of range"
	case req.Environment != "" && !slices.Contains(apikey.Environments, req.Environment):
		return "unknown environment"
	case logging.Redacted(req.Description) != req.Description || logging.Redacted(req.UserID) != req.UserID:
		return "a key kept in plain text"
	case len(req.UserID) > 128 || strings.ContainsAny(req.UserID, " \t\r\n\x00"):
		return "bad user id"
	case len(req.ResourcePatterns) > 10 || slices.ContainsFunc(req.ResourcePatterns, func(p string) bool {
		kind, glob, _ := strings.Cut(p, ":")
		return kind != "experiment" && kind != "registered_model" || glob == "" || utf8.RuneCountInString(glob) > 256 ||
			logging.Redacted(p) != p
	}):
		return "bad resource pattern"
	case len(slices.Compact(slices.Sorted(slices.Values(req.ResourcePatterns)))) != len(req.ResourcePatterns):
		return "duplicate resource pattern"
	case req.Email != "" && (len(req.Email) > 254 || !strings.Contains(req.Email, "@") || strings.ContainsAny(req.Email, " <>")):
		return "bad e-mail"
	}
	return ""
}

// A member named after a pasted key is reported without the key.
func TestUnknownMemberNamedWithAKey(t *testing.T) {
	key, _ := apikey.Generate("live")
	_, err := DecodeCreate([]byte(`{"scopes":["admin"],"` + key + `":1}`))
	var he *httpapi.Error
	if !errors.As(err, &he) {
		t.Fatalf("err = %v", err)
	}
	fes := he.Detail.([]httpapi.FieldError)
	if len(fes) != 1 || strings.Contains(fes[0].Field, key[8:]) {
		t.Errorf("detail %v", fes)
	}
}
