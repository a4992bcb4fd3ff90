// Package principal is the authenticated caller as the authorizer describes it to every function,
// and the scope rules of SPEC section 4 that each function enforces for its own actions. It knows
// nothing of HTTP: the check of a request's caller is package access.
package principal

import (
	"slices"
	"strconv"
	"strings"
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
}

// Authorizer context keys (API Gateway allows only strings, numbers and booleans as values).
const (
	ctxUserID    = "user_id"
	ctxKeyID     = "key_id"
	ctxScopes    = "scopes"
	ctxEmail     = "email"
	ctxIsAdmin   = "is_admin"
	ctxServiceID = "service_id"
)

// Context is the authorizer context for p.
func (p Principal) Context() map[string]any {
	return map[string]any{
		ctxUserID: p.UserID, ctxKeyID: p.KeyID, ctxScopes: strings.Join(p.Scopes, " "),
		ctxEmail: p.Email, ctxIsAdmin: strconv.FormatBool(p.Admin), ctxServiceID: p.ServiceID,
	}
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
	return p, p.UserID != ""
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
