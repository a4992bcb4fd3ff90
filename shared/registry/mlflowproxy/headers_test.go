package mlflowproxy_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowproxy"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/upstream"
)

const fullKey = "hk_live_abcdefghijklmnopqrstuvwxyz0123456789ABCD"

// spoofHeaders are request headers a caller may send that MLflow must never see, spelled every way
// MLflow's server stack reads as the same name, plus what MLflow does need.
var spoofHeaders = http.Header{
	// Credentials and identities, in spellings that fold onto the ones the proxy sets or strips.
	"Authorization":        {"Bearer " + fullKey},
	"X-Api-Key":            {fullKey},
	"X_API_Key":            {fullKey},
	"X.Api.Key":            {fullKey},
	"X-Hokusai-User-Id":    {"victim"},
	"X_Hokusai_User_Id":    {"victim"},
	"x_hokusai_user_id":    {"victim"},
	"X.Hokusai.User.Id":    {"victim"},
	"X-Hokusai-Api-Key-Id": {"forged"},
	"X_Hokusai_API_Key_Id": {"forged"},
	"X-Hokusai-Admin":      {"true"},
	"Authorization_":       {"Bearer " + fullKey},
	"Cookie":               {"session=" + fullKey},
	// Routing, address and method claims that some servers and middlewares honour.
	"X-Original-Url":         {"/api/2.0/mlflow/experiments/delete"},
	"X-Rewrite-Url":          {"/api/2.0/mlflow/experiments/delete"},
	"X_Original_URL":         {"/api/2.0/mlflow/experiments/delete"},
	"X-Real-Ip":              {"127.0.0.1"},
	"X-Forwarded-For":        {"127.0.0.1"},
	"X-Forwarded-Host":       {"localhost"},
	"X_Forwarded_Host":       {"localhost"},
	"X-Forwarded-Proto":      {"https"},
	"Forwarded":              {"for=127.0.0.1;host=localhost"},
	"X-Http-Method-Override": {"DELETE"},
	"X-Http-Method":          {"DELETE"},
	"X-Method-Override":      {"DELETE"},
	"Origin":                 {"http://localhost:5000"},
	"Referer":                {"http://localhost:5000/"},
	"Expect":                 {"100-continue"},
	"Traceparent":            {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
	// Aliases of headers MLflow does need: never merged into the real ones.
	"Content_Type":           {"text/html"},
	"Content.Type":           {"text/html"},
	"X_MLflow_Experiment_Id": {"666"},
	// Read by MLflow's OTLP route, sent by no MLflow client: it would link spans to any run.
	"X-Mlflow-Run-Id": {"r-1"},
	// What MLflow needs.
	"Content-Type":            {"application/json"},
	"User-Agent":              {"mlflow-python-client/3.17.2"},
	"X-Mlflow-Client-Version": {"3.17.2"},
	"X-Mlflow-Experiment-Id":  {"0"},
	"Accept":                  {"*/*"},
	"Accept-Encoding":         {"identity"},
	"Range":                   {"bytes=0-9"},
	"If-None-Match":           {`"etag"`},
}

// wantForwarded is every header MLflow receives for spoofHeaders from writer.
var wantForwarded = map[string]string{
	"Content-Type":            "application/json",
	"User-Agent":              "mlflow-python-client/3.17.2",
	"X-Mlflow-Client-Version": "3.17.2",
	"X-Mlflow-Experiment-Id":  "0",
	"Accept":                  "*/*",
	"Accept-Encoding":         "identity",
	"Range":                   "bytes=0-9",
	"If-None-Match":           `"etag"`,
	"X-Hokusai-User-Id":       writer.UserID,
	"X-Hokusai-Api-Key-Id":    writer.KeyID,
}

func TestProxyForwardsOnlyTheHeadersMLflowNeeds(t *testing.T) {
	up := newRecorder(t, nil)
	h := newProxy(t, up.URL, nil)
	if code, _, body := do(t, h, "POST", "/api/mlflow/api/2.0/mlflow/runs/search", []byte(`{}`), writer, spoofHeaders.Clone()); code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	got := up.last(t).Header
	for name, vs := range got {
		if name == "Content-Length" {
			continue // Go's transport writes it from the body
		}
		if want, ok := wantForwarded[name]; !ok || len(vs) != 1 || vs[0] != want {
			t.Errorf("MLflow got %s: %q", name, vs)
		}
	}
	for name := range wantForwarded {
		if _, ok := got[name]; !ok {
			t.Errorf("MLflow did not get %s", name)
		}
	}
}

func TestProxyForwardModePassesOnlyTheRealAuthorization(t *testing.T) {
	up := newRecorder(t, nil)
	cfg := testConfig(t, up.URL, map[string]string{"MLFLOW_UPSTREAM_AUTH": "forward"})
	creds, err := upstream.LoadCredentials(context.Background(), cfg.Config, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Wired as functions/mlflowproxy does: the caller's Authorization travels in the context to
	// the upstream transport, never as a forwarded header.
	h := creds.Caller(mlflowproxy.New(cfg, creds, &owners{}, nil, quietLog()))
	hdr := http.Header{"Authorization": {"Basic dTpw"}, "Authorization_": {"Basic ZXZpbDpldmls"}, "X_Api_Key": {fullKey}}
	if code, _, body := do(t, h, "GET", "/api/mlflow/api/2.0/mlflow/experiments/get", nil, writer, hdr); code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	got := up.last(t).Header
	if v := got.Values("Authorization"); len(v) != 1 || v[0] != "Basic dTpw" {
		t.Errorf("Authorization %q", v)
	}
	for name := range got {
		if n := strings.ToLower(name); n == "authorization_" || n == "x_api_key" {
			t.Errorf("%s reached MLflow", name)
		}
	}
}

// TestSpoofedHeadersAsMLflowReadsThem feeds the headers the proxy sent, as they went over the
// wire, to the code MLflow's server (uvicorn, then starlette's WSGI bridge into MLflow's Flask
// app) uses to build the environ its handlers read: the spoofed identity and keys are not there,
// and the identity MLflow reads is the authorizer's alone.
func TestSpoofedHeadersAsMLflowReadsThem(t *testing.T) {
	up := newRecorder(t, nil)
	h := newProxy(t, up.URL, nil)
	if code, _, body := do(t, h, "POST", "/api/mlflow/api/2.0/mlflow/runs/search", []byte(`{}`), writer, spoofHeaders.Clone()); code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	var sent [][2]string
	for name, vs := range up.last(t).Header {
		for _, v := range vs {
			sent = append(sent, [2]string{strings.ToLower(name), v})
		}
	}
	sort.Slice(sent, func(i, j int) bool { return sent[i][0] < sent[j][0] })
	environ := mlflowEnviron(t, sent)
	if got := environ["HTTP_X_HOKUSAI_USER_ID"]; got != writer.UserID {
		t.Errorf("MLflow reads X-Hokusai-User-Id as %q, want %q", got, writer.UserID)
	}
	if got := environ["HTTP_X_HOKUSAI_API_KEY_ID"]; got != writer.KeyID {
		t.Errorf("MLflow reads X-Hokusai-API-Key-Id as %q, want %q", got, writer.KeyID)
	}
	if got := environ["CONTENT_TYPE"]; got != "application/json" {
		t.Errorf("MLflow reads Content-Type as %q", got)
	}
	for k, v := range environ {
		if strings.Contains(v, fullKey) || strings.Contains(v, "victim") || strings.Contains(v, "forged") || strings.Contains(v, "localhost") {
			t.Errorf("MLflow reads %s=%q", k, v)
		}
		for _, banned := range []string{"HTTP_X_API_KEY", "HTTP_AUTHORIZATION", "HTTP_COOKIE", "HTTP_X_ORIGINAL_URL", "HTTP_X_REWRITE_URL",
			"HTTP_X_REAL_IP", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_HOST", "HTTP_X_HTTP_METHOD_OVERRIDE", "HTTP_X_METHOD_OVERRIDE", "HTTP_ORIGIN"} {
			if k == banned {
				t.Errorf("MLflow reads %s=%q", k, v)
			}
		}
	}
}

// mlflowEnviron is the WSGI environ MLflow's server builds for an HTTP request with headers.
func mlflowEnviron(t *testing.T, headers [][2]string) map[string]string {
	t.Helper()
	in, _ := json.Marshal(headers)
	out := runPython(t, string(in), "-W", "ignore", "-c", `
import json, sys
from mlflow.server import fastapi_app  # the module MLflow's uvicorn server runs
headers = [(k.encode("latin1"), v.encode("latin1")) for k, v in json.load(sys.stdin)]
scope = {"type": "http", "http_version": "1.1", "method": "POST", "path": "/api/2.0/mlflow/runs/search",
         "root_path": "", "query_string": b"", "headers": headers, "server": ("127.0.0.1", 5000), "client": ("127.0.0.1", 1)}
environ = fastapi_app.build_environ(scope, b"{}")
print(json.dumps({k: v for k, v in environ.items() if isinstance(v, str)}))
`)
	var environ map[string]string
	if err := json.Unmarshal(out, &environ); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return environ
}
