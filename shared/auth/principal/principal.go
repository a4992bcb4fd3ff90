// Package principal is the authenticated caller as the authorizer describes it to every function,
// and the scope rules of SPEC section 4 that each function enforces for its own actions. It knows
// nothing of HTTP: the check of a request's caller is package access.
package principal

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
)

// Principal is who is calling.
type Principal struct {
	UserID    string
	KeyID     string
	Email     string
	ServiceID string
	Scopes    []string
	// Admin is the is_admin flag the key source reported (ADMIN_EMAILS is applied by Level).
	Admin bool
	// Patterns narrow the key to the resources they name (keystore's resource_patterns, or the
	// auth service's); none: the key is not narrowed.
	Patterns []permissions.Pattern
}

// MaxPatterns bounds a key's narrowing: the patterns travel in every request's authorizer
// context, at most MaxPatterns·(MaxGlobLength+20) bytes, a few kilobytes.
const MaxPatterns = 10

// Authorizer context keys (API Gateway allows only strings, numbers and booleans as values).
const (
	ctxUserID    = "user_id"
	ctxKeyID     = "key_id"
	ctxScopes    = "scopes"
	ctxEmail     = "email"
	ctxIsAdmin   = "is_admin"
	ctxServiceID = "service_id"
	// ctxPatterns is a JSON list of "<kind>:<glob>" strings (a glob may hold spaces, so the
	// scopes' space-joined form would not do); absent when the key is not narrowed.
	ctxPatterns = "resource_patterns"
)

// Context is the authorizer context for p.
func (p Principal) Context() map[string]any {
	ctx := map[string]any{
		ctxUserID: p.UserID, ctxKeyID: p.KeyID, ctxScopes: strings.Join(p.Scopes, " "),
		ctxEmail: p.Email, ctxIsAdmin: strconv.FormatBool(p.Admin), ctxServiceID: p.ServiceID,
	}
	if len(p.Patterns) > 0 {
		b, _ := json.Marshal(permissions.PatternStrings(p.Patterns)) // a list of strings always encodes
		ctx[ctxPatterns] = string(b)
	}
	return ctx
}

// FromAuthorizer rebuilds the principal from the context API Gateway passes to a function.
func FromAuthorizer(ctx map[string]any) (Principal, bool) {
	str := func(k string) string {
		switch v := ctx[k].(type) {
		case string:
			return v
		case bool:
			return strconv.FormatBool(v)
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
		return ""
	}
	p := Principal{
		UserID: str(ctxUserID), KeyID: str(ctxKeyID), Email: str(ctxEmail), ServiceID: str(ctxServiceID),
		Scopes: strings.Fields(str(ctxScopes)), Admin: str(ctxIsAdmin) == "true",
	}
	// A narrowing that cannot be read back is no principal at all: read as "not narrowed", it
	// would give a CI key everything its user may do.
	if raw := str(ctxPatterns); raw != "" {
		var list []string
		if json.Unmarshal([]byte(raw), &list) != nil || len(list) > MaxPatterns {
			return Principal{}, false
		}
		patterns, err := permissions.ParsePatterns(list)
		if err != nil {
			return Principal{}, false
		}
		p.Patterns = patterns
	}
	return p, p.UserID != ""
}

// Caller is p as the permission model sees it: admin as Level decides it (scopes, is_admin,
// ADMIN_EMAILS), and the key's narrowing.
func (p Principal) Caller(adminEmails []string) permissions.Caller {
	return permissions.Caller{UserID: p.UserID, Admin: p.Level(adminEmails) == Admin, Patterns: p.Patterns}
}

// Level is what a principal may do.
type Level int

const (
	None Level = iota
	Read
	Write
	Admin
)

func (l Level) String() string {
	return [...]string{"none", "read", "write", "admin"}[l]
}

var (
	adminScopes = []string{"admin", "mlflow:admin", "registry:admin"}
	writeScopes = []string{"model:write", "mlflow:write", "mlflow:access", "write", "full_access"}
	readScopes  = []string{"model:read", "mlflow:read"}
)

// Level applies SPEC section 4: admin (admin scopes, is_admin, or an ADMIN_EMAILS address)
// implies write, which implies read.
func (p Principal) Level(adminEmails []string) Level {
	has := func(set []string) bool {
		return slices.ContainsFunc(p.Scopes, func(s string) bool { return slices.Contains(set, s) })
	}
	switch {
	case p.Admin || has(adminScopes) || p.Email != "" && slices.ContainsFunc(adminEmails, func(e string) bool { return strings.EqualFold(e, p.Email) }):
		return Admin
	case has(writeScopes):
		return Write
	case has(readScopes):
		return Read
	}
	return None
}
