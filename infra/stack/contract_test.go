package stack_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/infra/contract"
	"github.com/hokusai-protocol/registry-gateway/infra/stack"
)

// functionEnvironments reads each function's Environment.Variables from the template, by function
// name. A value CloudFormation resolves at deploy time (a table name, a secret's ARN) stands as a
// placeholder string: every such variable is a name or an ARN the configuration reads as a string.
func (s synthesized) functionEnvironments(t *testing.T) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for id, f := range s.resources("AWS::Lambda::Function") {
		name, ok := strings.CutPrefix(f["Description"].(string), "Hokusai registry gateway: ")
		if !ok {
			t.Fatalf("%s: description %q names no function", id, f["Description"])
		}
		env := map[string]string{}
		if e, ok := f["Environment"].(map[string]any); ok {
			for k, v := range e["Variables"].(map[string]any) {
				if str, ok := v.(string); ok {
					env[k] = str
				} else {
					env[k] = "deploy-time:" + fmtAny(v)
				}
			}
		}
		out[name] = env
	}
	return out
}

// TestFunctionEnvironmentsMatchTheirConfiguration loads every function's configuration from
// exactly the variables the template gives it, with the loader the function uses at start, in
// every environment and in the variants context can select: a variable a function cannot parse,
// or sets but does not read, fails here instead of at a cold start (or never).
func TestFunctionEnvironmentsMatchTheirConfiguration(t *testing.T) {
	variants := map[string]map[string]string{"defaults": nil}
	for _, mode := range []string{"basic", "bearer", "forward"} {
		variants["mlflowUpstreamAuth="+mode] = map[string]string{"mlflowUpstreamAuth": mode}
	}
	variants["external auth, webhook, admins, gateway cache"] = map[string]string{
		"authSource": "external", "authServiceUrl": "https://auth.hokus.ai", "authStaleGrace": "0",
		"webhookUrl": "https://hooks.example.com/h", "webhookDetailTypes": "model_registered",
		"adminEmails": "a@hokus.ai,b@hokus.ai", "authorizerCacheTtl": "300", "registryAdminOnly": "true",
		"mlflowAjaxApi": "true", "mlflowServeArtifacts": "false",
	}
	for _, env := range stack.Environments {
		for variant, overrides := range variants {
			t.Run(env+"/"+variant, func(t *testing.T) {
				envs := synth(t, env, overrides).functionEnvironments(t)
				if len(envs) < len(deployed) {
					t.Fatalf("%d functions in the template", len(envs))
				}
				for name, environ := range envs {
					if err := contract.Check(name, environ); err != nil {
						t.Error(err)
					}
				}
			})
		}
	}
}

// TestEveryFunctionReachesMLflowTheSameWay: health, register and the proxy get the same upstream
// variables — the same secret in basic and bearer mode — and no other function gets any.
func TestEveryFunctionReachesMLflowTheSameWay(t *testing.T) {
	callers := []string{"health", "mlflowproxy", "register"}
	upstreamVars := []string{"MLFLOW_URL", "MLFLOW_UPSTREAM_AUTH", "MLFLOW_UPSTREAM_SECRET_ARN"}
	for _, mode := range []string{"none", "basic", "bearer", "forward"} {
		t.Run(mode, func(t *testing.T) {
			envs := synth(t, "dev", map[string]string{"mlflowUpstreamAuth": mode}).functionEnvironments(t)
			want := envs["mlflowproxy"]
			if want["MLFLOW_UPSTREAM_AUTH"] != mode || (want["MLFLOW_UPSTREAM_SECRET_ARN"] != "") != (mode == "basic" || mode == "bearer") {
				t.Fatalf("the proxy's upstream environment: %v", want)
			}
			for name, env := range envs {
				for _, v := range upstreamVars {
					switch {
					case slices.Contains(callers, name) && env[v] != want[v]:
						t.Errorf("%s: %s=%q, the proxy's is %q", name, v, env[v], want[v])
					case !slices.Contains(callers, name) && env[v] != "":
						t.Errorf("%s does not call MLflow but has %s", name, v)
					}
				}
			}
		})
	}
}
