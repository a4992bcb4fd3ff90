package mlflowproxy

import (
	"net/http"
	"strings"
)

// forwardedHeaders are the request headers MLflow is sent: what MLflow 3.17's server and the stock
// client's calls need, and nothing else. Everything not listed is dropped, whatever it is called:
// credentials (Authorization, X-API-Key, Cookie), identities (X-Hokusai-*), routing and address
// claims (X-Original-URL, X-Rewrite-URL, X-Real-IP, X-Forwarded-*, Forwarded), method overrides,
// Origin/Referer (MLflow's CORS guard judges those), Expect (the body is already in memory).
//
// Found by reading MLflow 3.17.2: rest_utils.http_request sends the request-header providers'
// User-Agent and X-MLflow-Client-Version, Content-Type (JSON, or the artifact's MIME type from
// http_artifact_repo), X-MLFLOW-WORKSPACE when a workspace is set, and requests adds Accept and
// Accept-Encoding. The artifact download route serves files with Range and conditional requests.
// The span export (rest_store.log_spans) sends a protobuf body as Content-Type
// application/x-protobuf with X-MLflow-Experiment-Id, the experiment MLflow's OTLP route stores
// the spans in (otel_api.export_traces; it also reads Content-Encoding). That route's optional
// X-MLflow-Run-Id is sent by no MLflow client, and traceparent is read only by the AI-gateway
// routes, which the gateway does not route, so neither is listed.
var forwardedHeaders = map[string]bool{
	"accept":                  true,
	"accept-encoding":         true,
	"content-encoding":        true,
	"content-type":            true,
	"if-match":                true,
	"if-modified-since":       true,
	"if-none-match":           true,
	"if-range":                true,
	"if-unmodified-since":     true,
	"range":                   true,
	"user-agent":              true,
	"x-mlflow-client-version": true,
	"x-mlflow-experiment-id":  true,
	"x-mlflow-workspace":      true,
}

// foldHeaderName is a request header's name as MLflow's server stack reads it: ASGI lowercases it
// and the WSGI environ MLflow's Flask app sees maps "-" to "_" (starlette build_environ, as
// gunicorn's does), so X_Hokusai_User_Id and X-Hokusai-User-Id are one variable there, their
// values joined. "." is folded too: some proxies treat it like "_".
func foldHeaderName(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '_' || r == '.':
			return '-'
		case 'A' <= r && r <= 'Z':
			return r + ('a' - 'A')
		}
		return r
	}, name)
}

// filterHeaders keeps only the forwarded headers, each under its one true spelling: a name that
// folds onto a forwarded header but is spelled otherwise (Content_Type) is dropped, never merged.
// Authorization is not among them: the upstream transport sets what MLflow gets.
func filterHeaders(hdr http.Header) {
	for name := range hdr {
		folded := foldHeaderName(name)
		if !forwardedHeaders[folded] || strings.ToLower(name) != folded {
			delete(hdr, name)
		}
	}
}
