package mlflowcatalog_test

import (
	"slices"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
	mc "github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowcatalog"
)

func TestLookup(t *testing.T) {
	for _, tc := range []struct {
		service         mc.Service
		version, method string
		endpoint        string
		name            string // "" when not found
		access          principal.Level
		resource        mc.Resource
	}{
		{mc.Tracking, "2.0", "POST", "registered-models/alias", "SetRegisteredModelAlias", principal.Write, mc.RegisteredModel},
		{mc.Tracking, "2.0", "DELETE", "registered-models/alias", "DeleteRegisteredModelAlias", principal.Write, mc.RegisteredModel},
		{mc.Tracking, "2.0", "GET", "registered-models/alias", "GetModelVersionByAlias", principal.Read, mc.RegisteredModel},
		{mc.Tracking, "2.0", "HEAD", "registered-models/get", "GetRegisteredModel", principal.Read, mc.RegisteredModel},
		{mc.Tracking, "2.0", "POST", "model-versions/transition-stage", "TransitionModelVersionStage", principal.Write, mc.ModelVersion},
		{mc.Tracking, "2.0", "POST", "runs/search", "SearchRuns", principal.Read, mc.Run},
		{mc.Tracking, "2.0", "POST", "registered-models/get-latest-versions", "GetLatestVersions", principal.Read, mc.RegisteredModel},
		{mc.Tracking, "2.0", "PATCH", "logged-models/m-1", "FinalizeLoggedModel", principal.Write, mc.LoggedModel},
		{mc.Tracking, "2.0", "DELETE", "logged-models/m-1/tags/k", "DeleteLoggedModelTag", principal.Write, mc.LoggedModel},
		{mc.Tracking, "3.0", "POST", "traces/search", "SearchTracesV3", principal.Read, mc.Trace},
		// A literal beats a parameter: traces/batchGet is not the trace "batchGet".
		{mc.Tracking, "3.0", "GET", "traces/batchGet", "BatchGetTraces", principal.Read, mc.Trace},
		{mc.Tracking, "3.0", "GET", "traces/tr-1", "GetTraceInfoV3", principal.Read, mc.Trace},
		// One endpoint, two RPCs by version.
		{mc.Tracking, "2.0", "POST", "traces", "StartTrace", principal.Write, mc.Trace},
		{mc.Tracking, "3.0", "POST", "traces", "StartTraceV3", principal.Write, mc.Trace},
		{mc.Tracking, "3.0", "GET", "server-info", "GetServerInfo", principal.Read, mc.None},
		{mc.Tracking, "2.0", "POST", "webhooks", "CreateWebhook", principal.Admin, mc.None},
		{mc.Tracking, "3.0", "POST", "gateway/secrets/create", "CreateGatewaySecret", principal.Admin, mc.None},
		{mc.Tracking, "3.0", "GET", "gateway/secrets/get", "GetGatewaySecretInfo", principal.Admin, mc.None},
		{mc.Tracking, "3.0", "GET", "gateway/endpoints/list", "ListGatewayEndpoints", principal.Read, mc.None},
		{mc.Tracking, "3.0", "POST", "mcp-servers", "CreateMcpServer", principal.Admin, mc.None},
		{mc.Tracking, "3.0", "GET", "mcp-servers/s1/versions/2", "GetMcpServerVersion", principal.Read, mc.None},
		{mc.Tracking, "3.0", "GET", "mcp-servers/s1", "GetMcpServer", principal.Read, mc.None},
		{mc.Artifacts, "2.0", "PUT", "artifacts/1/r/artifacts/a b.bin", "UploadArtifact", principal.Write, mc.ArtifactPath},
		{mc.Artifacts, "2.0", "GET", "artifacts/dir/", "DownloadArtifact", principal.Read, mc.ArtifactPath},
		{mc.Artifacts, "2.0", "GET", "artifacts", "ListArtifacts", principal.Read, mc.ArtifactPath},
		{mc.Artifacts, "2.0", "POST", "mpu/create/1/r/big.bin", "CreateMultipartUpload", principal.Write, mc.ArtifactPath},
		{mc.OTLP, "", "POST", "v1/traces", "OTLPExportTraces", principal.Write, mc.Trace},
		{mc.Version, "", "GET", "version", "GetServerVersion", principal.Read, mc.None},
		// The web UI: its page and files read no resource; its data routes name theirs.
		{mc.UI, "", "GET", "", "GetUIPage", principal.Read, mc.None},
		{mc.UI, "", "HEAD", "", "GetUIPage", principal.Read, mc.None},
		{mc.UI, "", "GET", "static-files/static/js/main.c2f5f8d4.js", "ServeStaticFile", principal.Read, mc.None},
		{mc.UI, "", "GET", "get-artifact", "ServeArtifacts", principal.Read, mc.Run},
		{mc.UI, "", "GET", "model-versions/get-artifact", "ServeModelVersionArtifact", principal.Read, mc.ModelVersion},
		{mc.Tracking, "2.0", "GET", "metrics/get-history-bulk", "ServeGetMetricHistoryBulk", principal.Read, mc.Run},
		{mc.Tracking, "2.0", "POST", "upload-artifact", "ServeUploadArtifact", principal.Write, mc.Run},
		{mc.Tracking, "3.0", "GET", "get-trace-artifact", "ServeGetTraceArtifact", principal.Read, mc.Trace},
		{mc.Tracking, "2.0", "GET", "logged-models/m-1/artifacts/files", "ServeGetLoggedModelArtifact", principal.Read, mc.LoggedModel},
		{mc.Tracking, "2.0", "POST", "experiments/search-datasets", "ServeSearchDatasets", principal.Read, mc.Experiment},
		// Not in the catalog.
		{mc.UI, "", "POST", "", "", 0, 0},                                 // the page is read only
		{mc.UI, "", "GET", "static-files", "", 0, 0},                      // no file named
		{mc.UI, "", "GET", "static-files/", "", 0, 0},                     // no file named
		{mc.UI, "", "GET", "index.html", "", 0, 0},                        // MLflow serves the page at its root only
		{mc.UI, "2.0", "GET", "get-artifact", "", 0, 0},                   // not versioned
		{mc.Tracking, "3.0", "GET", "metrics/get-history-bulk", "", 0, 0}, // 2.0 only
		{mc.Tracking, "3.0", "POST", "runs/search", "", 0, 0},             // MLflow serves it under 2.0 only
		{mc.Tracking, "2.0", "POST", "runs/search/", "", 0, 0},            // MLflow's rules are strict about the slash
		{mc.Tracking, "2.0", "POST", "runs/search-extra", "", 0, 0},       // whole, never by prefix
		{mc.Tracking, "2.0", "POST", "Runs/Search", "", 0, 0},             // case-sensitive, as Flask
		{mc.Tracking, "2.0", "PUT", "runs/search", "", 0, 0},              // wrong method
		{mc.Tracking, "2.0", "GET", "logged-models//tags/k", "", 0, 0},    // an empty parameter
		{mc.Tracking, "2.0", "GET", "logged-models/m-1/x/y", "", 0, 0},    // one segment only
		{mc.Artifacts, "2.0", "GET", "artifacts/", "", 0, 0},              // an empty artifact path
		{mc.Artifacts, "3.0", "GET", "artifacts/a", "", 0, 0},             // no 3.0 artifacts service
		{mc.Tracking, "", "GET", "experiments/get", "", 0, 0},
		{mc.Version, "2.0", "GET", "version", "", 0, 0},
		{mc.OTLP, "", "GET", "v1/traces", "", 0, 0},
		{mc.Tracking, "3.0", "GET", "assistant/config", "", 0, 0}, // refused
		{mc.Tracking, "2.0", "get", "experiments/get", "", 0, 0},
	} {
		op, ok := mc.Lookup(tc.service, tc.version, tc.method, tc.endpoint)
		if ok != (tc.name != "") || op.Name != tc.name || op.Access != tc.access || op.Resource != tc.resource {
			t.Errorf("Lookup(%s, %q, %s, %q) = %s %s %s %v, want %q %s %s", tc.service, tc.version, tc.method, tc.endpoint,
				op.Name, op.Access, op.Resource, ok, tc.name, tc.access, tc.resource)
		}
	}
}

func TestLookupIDs(t *testing.T) {
	for _, tc := range []struct {
		method, endpoint string
		want             []mc.IDField
	}{
		{"POST", "registered-models/alias", []mc.IDField{{In: mc.Body, Field: "name"}, {In: mc.Body, Field: "alias"}, {In: mc.Body, Field: "version"}}},
		// MLflow reads a DELETE's fields from the JSON body.
		{"DELETE", "model-versions/delete-tag", []mc.IDField{{In: mc.Body, Field: "name"}, {In: mc.Body, Field: "version"}}},
		{"GET", "model-versions/get", []mc.IDField{{In: mc.Query, Field: "name"}, {In: mc.Query, Field: "version"}}},
		{"GET", "logged-models/m-1", []mc.IDField{{In: mc.Path, Field: "model_id"}}},
	} {
		op, ok := mc.Lookup(mc.Tracking, "2.0", tc.method, tc.endpoint)
		if !ok || !slices.Equal(op.IDs, tc.want) {
			t.Errorf("%s %s: %v %+v, want %+v", tc.method, tc.endpoint, ok, op.IDs, tc.want)
		}
	}
}

func TestMethods(t *testing.T) {
	for _, tc := range []struct {
		service           mc.Service
		version, endpoint string
		want              []string
	}{
		{mc.Tracking, "2.0", "registered-models/alias", []string{"DELETE", "GET", "HEAD", "POST"}},
		{mc.Tracking, "2.0", "runs/create", []string{"POST"}},
		{mc.Tracking, "2.0", "logged-models/m-1", []string{"DELETE", "GET", "HEAD", "PATCH"}},
		{mc.Artifacts, "2.0", "artifacts/a/b", []string{"DELETE", "GET", "HEAD", "PUT"}},
		{mc.Tracking, "2.0", "no-such", nil},
		{mc.Tracking, "3.0", "runs/create", nil},
	} {
		if got := mc.Methods(tc.service, tc.version, tc.endpoint); !slices.Equal(got, tc.want) {
			t.Errorf("Methods(%s %s %s) = %v, want %v", tc.service, tc.version, tc.endpoint, got, tc.want)
		}
	}
}

func TestRefused(t *testing.T) {
	for _, tc := range []struct {
		service  mc.Service
		endpoint string
		want     bool
	}{
		{mc.Tracking, "assistant/sessions/s1/stream", true},
		{mc.Tracking, "jobs/j1", true},
		{mc.Tracking, "prompt-optimization/jobs/j-1/cancel", true},
		{mc.Tracking, "scorer/invoke", true},
		{mc.Tracking, "ui-telemetry", true},
		{mc.Tracking, "demo/generate", true},
		// GraphQL is an operation (POST); only its GET is refused (TestRefusedMethod).
		{mc.UI, "graphql", false},
		{0, "graphql", false},
		// The UI's own data routes are operations now, not refusals.
		{mc.Tracking, "logged-models/m-1/artifacts/files", false},
		{mc.Tracking, "metrics/get-history-bulk", false},
		{0, "", false},
		{0, "static-files/static/js/main.js", false},
		{mc.Tracking, "ui-telemetry/", true},
		{mc.Tracking, "runs/create", false},
		{mc.Tracking, "logged-models/m-1/artifacts/directories", false},
		{mc.Artifacts, "assistant/config", false},
	} {
		if _, got := mc.Refused(tc.service, tc.endpoint); got != tc.want {
			t.Errorf("Refused(%s, %q) = %v", tc.service, tc.endpoint, got)
		}
	}
}

func TestUIOnly(t *testing.T) {
	for _, tc := range []struct {
		service           mc.Service
		version, endpoint string
		want              bool
	}{
		{mc.Tracking, "2.0", "metrics/get-history-bulk", true},
		{mc.Tracking, "2.0", "upload-artifact", true},
		{mc.Tracking, "3.0", "get-trace-artifact", true},
		{mc.Tracking, "2.0", "logged-models/m-1/artifacts/files", true},
		{mc.Tracking, "2.0", "metrics/get-history-bulk-interval", false}, // served under api/ too
		{mc.Tracking, "2.0", "experiments/search", false},
		{mc.Tracking, "2.0", "logged-models/m-1", false},
		{mc.Tracking, "2.0", "no-such", false},
	} {
		if got := mc.UIOnly(tc.service, tc.version, tc.endpoint); got != tc.want {
			t.Errorf("UIOnly(%s %s %s) = %v", tc.service, tc.version, tc.endpoint, got)
		}
	}
}

// TestCatalogIsConsistent keeps the table's own rules: a GET reads, admin groups stay admin, every
// entry is named, no two entries answer one request.
func TestCatalogIsConsistent(t *testing.T) {
	for _, op := range mc.Operations() {
		if op.Name == "" || op.Service == 0 || op.Method == "" || op.Access == principal.None {
			t.Errorf("incomplete entry %+v", op)
		}
		if op.Method == "GET" && op.Access == principal.Write {
			t.Errorf("%s: a GET that writes", op.Name)
		}
		for _, v := range append(op.Versions, "") {
			if v == "" && len(op.Versions) > 0 {
				continue
			}
			if got, _ := mc.Lookup(op.Service, v, op.Method, fillPattern(op.Endpoint)); got.Name != op.Name {
				t.Errorf("%s %s under %q looks up %s", op.Method, op.Endpoint, v, got.Name)
			}
		}
	}
}

func fillPattern(p string) string { return fill(p) }

func TestRefusedMethod(t *testing.T) {
	for _, tt := range []struct {
		method string
		want   bool
	}{{"GET", true}, {"POST", false}, {"", false}} {
		if _, got := mc.RefusedMethod(mc.UI, tt.method, "graphql"); got != tt.want {
			t.Errorf("RefusedMethod(ui, %q, graphql) = %v, want %v", tt.method, got, tt.want)
		}
	}
	if _, ok := mc.RefusedMethod(mc.Tracking, "POST", "jobs/j1"); !ok {
		t.Error("a refusal of every method does not refuse POST")
	}
	if op, ok := mc.Lookup(mc.UI, "", "POST", "graphql"); !ok || op.Needs.String() == "" || op.Access.String() != "read" {
		t.Errorf("Lookup(ui POST graphql) = %+v, %v; want a read", op, ok)
	}
}
