package stack_test

import (
	"strings"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/uisession"
)

// TestUISessionWiring: the UI authorizer is never cached and has no identity source (so a request
// with only the cookie reaches it), it guards exactly resources the authorizer accepts the cookie
// on, and the key authorizer keeps guarding every other route; the sign-in routes exist with the
// access they need; both functions read the session secret and the sessions table.
func TestUISessionWiring(t *testing.T) {
	for _, ttl := range []string{"0", "300"} {
		t.Run("authorizer cache "+ttl, func(t *testing.T) {
			s := synth(t, "dev", map[string]string{"authorizerCacheTtl": ttl})
			var uiID, keyID string
			for id, a := range s.resources("AWS::ApiGateway::Authorizer") {
				switch a["Name"] {
				case "hokusai-ui-session":
					uiID = id
					if a["AuthorizerResultTtlInSeconds"] != float64(0) || a["IdentitySource"] != nil && a["IdentitySource"] != "" {
						t.Errorf("the UI authorizer is cached or needs an identity source: %v", a)
					}
				case "hokusai-api-key":
					keyID = id
				}
			}
			if uiID == "" || keyID == "" {
				t.Fatal("authorizers missing")
			}
			resources := s.resources("AWS::ApiGateway::Resource")
			var path func(id string) string
			path = func(id string) string {
				r := resources[id]
				parent, ok := r["ParentId"].(map[string]any)["Ref"].(string)
				if !ok {
					return "/" + r["PathPart"].(string)
				}
				return path(parent) + "/" + r["PathPart"].(string)
			}
			seen := map[string]string{}
			for _, m := range s.resources("AWS::ApiGateway::Method") {
				resRef, _ := m["ResourceId"].(map[string]any)
				ref, _ := resRef["Ref"].(string)
				p := "/"
				if ref != "" {
					p = path(ref)
				}
				azRef, _ := m["AuthorizerId"].(map[string]any)
				az, _ := azRef["Ref"].(string)
				seen[m["HttpMethod"].(string)+" "+p] = az
				if az == uiID && !uisession.IsUIResource(p) {
					t.Errorf("%s %s is behind the UI authorizer but is no UI resource", m["HttpMethod"], p)
				}
				if az == keyID && uisession.IsUIResource(p) {
					t.Errorf("%s %s is a UI resource behind the key-only authorizer", m["HttpMethod"], p)
				}
			}
			for route, want := range map[string]string{
				"POST /api/ui/sessions": keyID, "POST /api/ui/signin-links": keyID, "POST /api/ui/signout": "",
				"GET /api/mlflow/signin": "", "GET /api/mlflow/signin/{token}": "", "GET /mlflow/signin": "", "GET /signin/{token}": "",
				"ANY /api/mlflow/ajax-api/{proxy+}": uiID, "ANY /mlflow/ajax-api/{proxy+}": uiID, "ANY /ajax-api/{proxy+}": uiID,
				"ANY /api/mlflow/{proxy+}": keyID,
			} {
				if got, ok := seen[route]; !ok || got != want {
					t.Errorf("%s: authorizer %q (present %v), want %q", route, got, ok, want)
				}
			}
			envs := s.functionEnvironments(t)
			for _, fn := range []string{"authorizer", "uisession"} {
				if envs[fn]["SESSIONS_TABLE"] == "" || envs[fn]["SESSION_SECRET_ARN"] == "" {
					t.Errorf("%s: %v", fn, envs[fn])
				}
			}
			if !strings.Contains(envs["authorizer"]["SESSION_SECRET_ARN"], "UiSessionSecret") {
				t.Errorf("authorizer reads %s", envs["authorizer"]["SESSION_SECRET_ARN"])
			}
		})
	}
}
