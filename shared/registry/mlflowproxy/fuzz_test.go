package mlflowproxy_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowproxy"
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
		"/version", "/v1/traces", "/mlflow/v1/traces", "/v1/traces/%2e%2e",
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

// FuzzQueryAndHeaders sends arbitrary query strings and header names through the handler: a key
// placed anywhere in the query is refused before MLflow, and whatever headers arrive, MLflow sees
// no credential and no identity but the authorizer's, under any spelling it would read as one.
func FuzzQueryAndHeaders(f *testing.F) {
	f.Add("max_results=1", "X_Hokusai_User_Id", "victim", "q=", "")
	f.Add("a=1&b=2", "X.API.Key", fullKey, "api_key=", "&x=1")
	f.Add("filter=name%3D%27a%27", "Authorization_", "Bearer "+fullKey, "filter=name%3D%27", "%27")
	f.Add("", "x-hokusai-api-key-id", "forged", "", "")
	f.Add("page_token=abc", "Cookie", "a=b", "t=Bearer+", "")
	up := newRecorder(f, nil)
	h := newProxy(f, up.URL, nil)
	f.Fuzz(func(t *testing.T, query, hname, hvalue, before, after string) {
		if !validHeaderName(hname) || strings.ContainsAny(hvalue, "\r\n\x00") {
			return
		}
		for _, q := range []string{query, before + fullKey + after} {
			if strings.ContainsFunc(q, func(c rune) bool { return c <= ' ' || c == '#' || c == 0x7f }) {
				continue
			}
			r := request(t, "GET", "/api/mlflow/api/2.0/mlflow/experiments/get", nil, &writer, http.Header{hname: {hvalue}})
			r.URL.RawQuery = q
			before := up.count.Load()
			rec := serve(h, r)
			if strings.Contains(rec.Body.String(), fullKey) {
				t.Fatalf("%q: the answer echoes the key: %s", q, rec.Body)
			}
			if up.count.Load() == before {
				continue // refused
			}
			if strings.Contains(q, fullKey) {
				t.Fatalf("a query holding the key reached MLflow: %q", q)
			}
			for name, vs := range up.last(t).Header {
				folded := strings.NewReplacer("_", "-", ".", "-").Replace(strings.ToLower(name))
				switch {
				case folded == "x-hokusai-user-id" && (len(vs) != 1 || vs[0] != writer.UserID),
					folded == "x-hokusai-api-key-id" && (len(vs) != 1 || vs[0] != writer.KeyID),
					strings.HasPrefix(folded, "x-hokusai-") && folded != "x-hokusai-user-id" && folded != "x-hokusai-api-key-id",
					folded == "authorization", folded == "x-api-key", folded == "cookie":
					t.Fatalf("header %q (%q) reached MLflow as %s: %q", hname, hvalue, name, vs)
				}
				for _, v := range vs {
					if strings.Contains(v, fullKey) {
						t.Fatalf("the key reached MLflow in %s", name)
					}
				}
			}
		}
	})
}

// validHeaderName is an RFC 9110 token, the only names Go's client sends.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
