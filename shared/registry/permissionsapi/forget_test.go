package permissionsapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/permstore"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/permissionsapi"
)

// A grant changed through the API is enforced at once by the proxy in the same process, whose
// cache (permstore.Cached, a long TTL here) would otherwise keep the old grants: a user grant
// forgets its resource, in any spelling, a pattern grant every resource.
func TestGrantChangesForgetTheCachedResource(t *testing.T) {
	model := string(permissions.RegisteredModel)
	fraud := permissions.Resource{Kind: permissions.RegisteredModel, ID: "fraud"}
	xray := permissions.Resource{Kind: permissions.RegisteredModel, ID: "hokusai-XRAY-1"}
	levelOf := func(c *permstore.Cached, user string, r permissions.Resource) permissions.Level {
		t.Helper()
		f, err := c.Facts(t.Context(), r)
		if err != nil {
			t.Fatal(err)
		}
		return permissions.Policy{Default: permissions.NoPermissions}.Effective(permissions.Caller{UserID: user}, r, f)
	}
	for _, tc := range []struct {
		name   string
		op     string
		body   string
		user   string
		r      permissions.Resource
		before permissions.Level
		after  permissions.Level
	}{
		{"a revoke", "RevokeUserPermission", js("username", "bob", "resource_type", model, "resource_id", "FRAUD"),
			"bob", fraud, permissions.Edit, permissions.NoPermissions},
		{"an update (MLflow 2's endpoint)", "UpdateRegisteredModelPermission", js("name", "Fraud", "username", "bob", "permission", "READ"),
			"bob", fraud, permissions.Edit, permissions.Read},
		{"a delete (MLflow 2's endpoint)", "DeleteRegisteredModelPermission", js("name", "fraud", "username", "bob"),
			"bob", fraud, permissions.Edit, permissions.NoPermissions},
		{"a grant", "GrantUserPermission", js("username", "carol", "resource_type", model, "resource_id", "fraud", "permission", "EDIT"),
			"carol", fraud, permissions.NoPermissions, permissions.Edit},
		{"a pattern grant", "GrantUserPermission", js("username", "carol", "resource_type", model, "resource_id", "hokusai-XRAY*", "permission", "EDIT"),
			"carol", xray, permissions.NoPermissions, permissions.Edit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore()
			cached := permstore.NewCached(s, time.Hour, 100)
			h := permissionsapi.New(permissionsapi.Forgetting{Store: s, Forget: cached.Forget, ForgetAll: cached.ForgetAll},
				permissions.Policy{Default: permissions.Read}, nil)
			if got := levelOf(cached, tc.user, tc.r); got != tc.before {
				t.Fatalf("before: %s, want %s", got, tc.before)
			}
			caller := alice
			if tc.op == "GrantUserPermission" && tc.r == xray {
				caller = root
			}
			method := http.MethodPost
			switch {
			case strings.HasPrefix(tc.op, "Update"):
				method = http.MethodPatch
			case strings.HasPrefix(tc.op, "Delete"):
				method = http.MethodDelete
			}
			if status, out := call(t, h, tc.op, &caller, method, "", tc.body); status != 200 {
				t.Fatalf("%d %v", status, out)
			}
			if got := levelOf(cached, tc.user, tc.r); got != tc.after {
				t.Errorf("after: %s, want %s (the cache kept the old grants)", got, tc.after)
			}
		})
	}
}
