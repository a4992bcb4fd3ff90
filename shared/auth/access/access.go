// Package access is the check an HTTP function makes of its caller: the principal the authorizer
// put on the API Gateway request, and the 401/403 to answer when its level falls short. It is apart
// from principal so that the authorizer, which only describes principals, links no HTTP adapter.
package access

import (
	"context"
	"fmt"
	"net/http"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/apigw"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/httpapi"
)

// Policy is a function's view of the rules: its ADMIN_EMAILS.
type Policy struct {
	AdminEmails []string
}

// From returns the principal of an API Gateway request (set by the authorizer).
func From(ctx context.Context) (principal.Principal, bool) {
	rc, ok := apigw.RequestContext(ctx)
	if !ok {
		return principal.Principal{}, false
	}
	return principal.FromAuthorizer(rc.Authorizer)
}

// Require returns the principal if it has at least level, or the 401/403 to answer with.
func (pol Policy) Require(r *http.Request, level principal.Level) (principal.Principal, error) {
	p, ok := From(r.Context())
	if !ok {
		// Only a misconfigured route (no authorizer) gets here.
		return p, httpapi.NewError(http.StatusUnauthorized, "UNAUTHORIZED", "Missing, invalid or revoked API key")
	}
	if p.Level(pol.AdminEmails) < level {
		e := httpapi.NewError(http.StatusForbidden, "FORBIDDEN", fmt.Sprintf("this action needs %s scope", level))
		e.Extra = map[string]any{"required_scope": level.String(), "current_scopes": append([]string{}, p.Scopes...)}
		return p, e
	}
	return p, nil
}
