package mlflowproxy_test

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/mlflowproxy"
	"github.com/hokusai-protocol/registry-gateway/shared/principal"
)

// FuzzTranslate feeds arbitrary requests to the path translation: it never panics, anything it
// accepts lands on the configured host under the base path with no dot segment at any depth of
// decoding, and every accepted call is classified as a read or a write.
func FuzzTranslate(f *testing.F) {
	for _, tc := range unsafePaths {
		f.Add("GET", tc.path, tc.rawPath, "a=1")
	}
	for _, p := range []string{
		"/api/mlflow/api/2.0/mlflow/runs/search", "/mlflow/api/3.0/mlflow/traces/search", "/api/mlflow/version",
		"/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/my%20file.txt", "/api/3.0/mlflow/logged-models/search",
		"/api/mlflow/ajax-api/2.0/mlflow-artifacts/mpu/create/x", "/api/2.0/mlflow-artifacts/artifacts/%25%32%65%25%32%65",
	} {
		f.Add("POST", p, "", "b=2&a=1&a=3")
	}
	f.Add("PUT", "/api/2.0/mlflow-artifacts/artifacts/a b", "/api/2.0/mlflow-artifacts/artifacts/a%20b", "")
	f.Add("DELETE", "/api/mlflow/api/2.0/mlflow/runs/delete", "", "x=%zz#frag")

	const base = "https://mlflow.internal:8443/base%20dir"
	baseURL, _ := url.Parse(base)
	routers := []mlflowproxy.Router{router(f, base, false), router(f, base, true)}

	f.Fuzz(func(t *testing.T, method, path, rawPath, query string) {
		for _, rt := range routers {
			route, err := rt.Route(path, rawPath)
			if err != nil {
				continue
			}
			if lvl := route.Access(method); lvl != principal.Read && lvl != principal.Write {
				t.Fatalf("%s %q classified %s", method, path, lvl)
			}
			// What the proxy sends: the route's URL with the query exactly as received (the handler
			// refuses a query with a raw space, # or control character).
			u := *route.URL
			if !strings.ContainsFunc(query, func(c rune) bool { return c <= ' ' || c == '#' || c == 0x7f }) {
				u.RawQuery = query
			}
			sent, err := url.Parse(u.String())
			if err != nil {
				t.Fatalf("%q maps to an unparsable URL %q: %v", path, u.String(), err)
			}
			if sent.Scheme != baseURL.Scheme || sent.Host != baseURL.Host || sent.User != nil {
				t.Fatalf("%q reaches %s://%s", path, sent.Scheme, sent.Host)
			}
			escaped := sent.EscapedPath()
			if !strings.HasPrefix(escaped, baseURL.EscapedPath()+"/") || !strings.HasPrefix(sent.Path, baseURL.Path+"/") {
				t.Fatalf("%q leaves the base path: %s", path, escaped)
			}
			assertNoTraversal(t, path, escaped)
		}
	})
}

// escapes are the valid percent escapes; decoding them and leaving anything else is what a
// lenient server (Python's unquote) does.
var escapes = regexp.MustCompile(`%[0-9A-Fa-f]{2}`)

// assertNoTraversal checks every segment at every depth of decoding.
func assertNoTraversal(t *testing.T, from, escaped string) {
	t.Helper()
	segs := strings.Split(strings.TrimPrefix(escaped, "/"), "/")
	for i, seg := range segs {
		if seg == "" && i < len(segs)-1 {
			t.Fatalf("%q maps to %s: empty segment", from, escaped)
		}
		for range 12 {
			if seg == "." || seg == ".." || strings.ContainsAny(seg, `/\`+"\x00") {
				t.Fatalf("%q maps to %s: segment decodes to %q", from, escaped, seg)
			}
			next := escapes.ReplaceAllStringFunc(seg, func(e string) string {
				b, _ := strconv.ParseUint(e[1:], 16, 8)
				return string([]byte{byte(b)})
			})
			if next == seg {
				break
			}
			seg = next
		}
	}
}
