package mlflowproxy_test

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowproxy"
)

// uiScript is the first script index.html loads, relative to the page ("static-files/static/js/…").
var uiScript = regexp.MustCompile(`<script[^>]+src="(static-files/[^"]+\.js)"`)

// TestUIThroughTheProxy loads MLflow's real UI through the handler under each tracking-URI mount:
// the page at the mount's root with its CSP and no-cache, a content-hashed script immutable, a file
// without a hash revalidated, the data call the page makes, and a conditional request answered 304.
func TestUIThroughTheProxy(t *testing.T) {
	h := newProxy(t, realMLflow(t), nil)
	asReader := client{gateway(t, h, reader).URL}
	for _, mount := range []string{"/api/mlflow/", "/mlflow/", "/"} {
		code, hdr, page := asReader.call(t, "GET", mount, nil, nil)
		if code != http.StatusOK || !strings.Contains(string(page), `<div id="root"`) {
			t.Fatalf("GET %s: %d %.300s", mount, code, page)
		}
		for name, want := range map[string]string{
			"Content-Security-Policy": mlflowproxy.ContentSecurityPolicy,
			"Cache-Control":           mlflowproxy.CacheRevalidate,
			"X-Content-Type-Options":  "nosniff",
			"X-Frame-Options":         "DENY",
		} {
			if got := hdr.Get(name); got != want {
				t.Errorf("GET %s: %s %q, want %q", mount, name, got, want)
			}
		}
		m := uiScript.FindSubmatch(page)
		if m == nil {
			t.Fatalf("GET %s: no script in the page: %s", mount, page)
		}
		script := mount + string(m[1])
		code, hdr, js := asReader.call(t, "GET", script, nil, nil)
		if code != http.StatusOK || len(js) < 1000 || hdr.Get("Cache-Control") != mlflowproxy.CacheImmutable ||
			!strings.Contains(hdr.Get("Content-Type"), "javascript") || hdr.Get("Content-Security-Policy") != "" {
			t.Errorf("GET %s: %d %v (%d bytes)", script, code, hdr, len(js))
		}
		// A file whose name carries no hash may change under it: revalidated, and MLflow's
		// validator answers a repeat with 304.
		code, hdr, _ = asReader.call(t, "GET", mount+"static-files/manifest.json", nil, nil)
		if code != http.StatusOK || hdr.Get("Cache-Control") != mlflowproxy.CacheRevalidate || hdr.Get("ETag") == "" {
			t.Errorf("GET %sstatic-files/manifest.json: %d %v", mount, code, hdr)
		}
		code, hdr, _ = asReader.call(t, "GET", mount+"static-files/manifest.json", nil, http.Header{"If-None-Match": {hdr.Get("ETag")}})
		if code != http.StatusNotModified || hdr.Get("Cache-Control") != mlflowproxy.CacheRevalidate {
			t.Errorf("conditional GET %sstatic-files/manifest.json: %d %v", mount, code, hdr)
		}
		// The page's own data calls, relative to it.
		var got struct {
			Experiments []map[string]any `json:"experiments"`
		}
		asReader.decode(t, "POST", mount+"ajax-api/2.0/mlflow/experiments/search", map[string]any{"max_results": 5}, &got)
		if len(got.Experiments) == 0 {
			t.Errorf("POST %sajax-api/2.0/mlflow/experiments/search: no experiment (MLflow has Default)", mount)
		}
		// A file MLflow does not have is a JSON 404, never cached.
		code, hdr, body := asReader.call(t, "GET", mount+"static-files/static/js/nope.0123abcd.js", nil, nil)
		if code != http.StatusNotFound || mlflowBody(t, body)["error_code"] != "RESOURCE_NOT_FOUND" || hdr.Get("Cache-Control") != mlflowproxy.CacheErrorAnswer {
			t.Errorf("GET a missing file under %s: %d %v %s", mount, code, hdr, body)
		}
	}
}

// Every file of MLflow's build is cached as its name allows: a name with a content hash for a
// year, immutable; any other revalidated. A hash-named file that changed would be served stale
// for a year, so the rule is checked against the whole installed build.
func TestUICachingOfEveryBuiltFile(t *testing.T) {
	server := strings.TrimSpace(string(runPython(t, "", "-c", "import os, mlflow.server as s; print(os.path.dirname(s.__file__))")))
	build := filepath.Join(server, "js", "build")
	var hashed, other int
	err := filepath.WalkDir(build, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(build, path)
		hdr := http.Header{}
		mlflowproxy.SetUIHeaders("static-files/"+filepath.ToSlash(rel), http.StatusOK, hdr)
		want := mlflowproxy.CacheRevalidate
		if regexp.MustCompile(`\.[0-9a-f]{8,}\.`).MatchString(d.Name()) {
			want, hashed = mlflowproxy.CacheImmutable, hashed+1
		} else {
			other++
		}
		if got := hdr.Get("Cache-Control"); got != want {
			t.Errorf("%s: Cache-Control %q, want %q", rel, got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if hashed < 100 || other == 0 {
		t.Errorf("%d hashed and %d other files in %s: not MLflow's build?", hashed, other, build)
	}
}

func TestUIHeaders(t *testing.T) {
	for _, tc := range []struct {
		endpoint string
		status   int
		cache    string
		csp      bool
	}{
		{"", 200, mlflowproxy.CacheRevalidate, true},
		{"", 304, mlflowproxy.CacheRevalidate, true},
		{"", 404, mlflowproxy.CacheErrorAnswer, false},
		{"static-files/static/js/main.c2f5f8d4.js", 200, mlflowproxy.CacheImmutable, false},
		{"static-files/static/js/main.c2f5f8d4.js", 304, mlflowproxy.CacheImmutable, false},
		{"static-files/static/media/logo.4b3a3c8e1d7f5a2e9c10.svg", 200, mlflowproxy.CacheImmutable, false},
		{"static-files/static/js/main.c2f5f8d4.js", 404, mlflowproxy.CacheErrorAnswer, false},
		{"static-files/manifest.json", 200, mlflowproxy.CacheRevalidate, false},
		{"static-files/favicon.ico", 200, mlflowproxy.CacheRevalidate, false},
		{"static-files/deadbeef.js", 200, mlflowproxy.CacheRevalidate, false},        // no hash before the extension
		{"static-files/main.c2f5f8d4/x.js", 200, mlflowproxy.CacheRevalidate, false}, // a folder's name is not the file's
		{"static-files/main.C2F5F8D4.js", 200, mlflowproxy.CacheRevalidate, false},   // webpack's hashes are lower-case
		{"get-artifact", 200, "private, no-cache", false},
	} {
		hdr := http.Header{"Cache-Control": {"public, max-age=2419200"}, "X-Frame-Options": {"SAMEORIGIN"}}
		mlflowproxy.SetUIHeaders(tc.endpoint, tc.status, hdr)
		if got := hdr.Get("Cache-Control"); got != tc.cache {
			t.Errorf("%q %d: Cache-Control %q, want %q", tc.endpoint, tc.status, got, tc.cache)
		}
		if got := hdr.Get("Content-Security-Policy") != ""; got != tc.csp {
			t.Errorf("%q %d: CSP %v, want %v", tc.endpoint, tc.status, got, tc.csp)
		}
		if hdr.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%q %d: no nosniff", tc.endpoint, tc.status)
		}
	}
}

// The page of a mount asked for without its final "/" would resolve its relative files one level
// up: it is redirected, relatively, so an API Gateway stage before the mount is kept.
func TestUIMountRootRedirects(t *testing.T) {
	up := newRecorder(t, nil)
	h := newProxy(t, up.URL, nil)
	for _, tc := range []struct{ method, path, want string }{
		{"GET", "/api/mlflow", "mlflow/"},
		{"GET", "/mlflow", "mlflow/"},
		{"HEAD", "/mlflow", "mlflow/"},
		{"GET", "/api/mlflow?x=1", "mlflow/?x=1"},
	} {
		code, hdr, _ := do(t, h, tc.method, tc.path, nil, reader, nil)
		if code != http.StatusPermanentRedirect || hdr.Get("Location") != tc.want {
			t.Errorf("%s %s: %d Location %q, want 308 %q", tc.method, tc.path, code, hdr.Get("Location"), tc.want)
		}
	}
	if code, _, _ := do(t, h, "POST", "/api/mlflow", nil, writer, nil); code != http.StatusNotFound {
		t.Errorf("POST /api/mlflow: %d, want 404", code)
	}
	if n := up.count.Load(); n != 0 {
		t.Errorf("MLflow was called %d times", n)
	}
}
