package signin

import (
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
	"strings"
)

// The sign-in page: one form, no external assets, a CSP that allows exactly its own inline script
// and style (by hash) and requests to its own origin. Element ids are stable for browser tests:
// signin-form, signin-key, signin-submit, signin-error.
const pageScript = `
const form = document.getElementById("signin-form");
const error = document.getElementById("signin-error");
form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  error.textContent = "";
  const key = document.getElementById("signin-key").value.trim();
  if (!key) { error.textContent = "Paste an API key."; return; }
  document.getElementById("signin-submit").disabled = true;
  try {
    const res = await fetch(form.dataset.api + "api/ui/sessions", {
      method: "POST", credentials: "same-origin", headers: {"Authorization": "Bearer " + key}});
    if (res.ok) { location.assign("./"); return; }
    let msg = "Sign-in failed (" + res.status + ").";
    try { const b = await res.json(); msg = b.detail || b.message || msg; } catch (e) {}
    error.textContent = msg;
  } catch (e) {
    error.textContent = "The gateway could not be reached.";
  } finally {
    document.getElementById("signin-submit").disabled = false;
  }
});
`

const pageStyle = `
body { font-family: system-ui, sans-serif; max-width: 32rem; margin: 4rem auto; padding: 0 1rem; }
input { width: 100%; padding: .5rem; font-family: monospace; box-sizing: border-box; }
button { margin-top: 1rem; padding: .5rem 1.5rem; }
#signin-error { color: #b00020; min-height: 1.5rem; margin-top: 1rem; }
`

var pageTemplate = template.Must(template.New("signin").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · Hokusai MLflow</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>` + pageStyle + `</style></head>
<body><h1>Sign in to MLflow</h1>
<p>Paste a Hokusai API key. The key stays in this page: the gateway answers with a session cookie,
not the key, and the session ends when the key is revoked or you sign out.</p>
<form id="signin-form" data-api="{{.API}}" autocomplete="off">
<label for="signin-key">API key</label>
<input id="signin-key" name="key" type="password" autocomplete="off" spellcheck="false" required>
<button id="signin-submit" type="submit">Sign in</button>
<div id="signin-error" role="alert"></div>
</form>
<script>` + pageScript + `</script></body></html>
`))

func hashSource(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// PageCSP is the sign-in page's Content-Security-Policy.
var PageCSP = "default-src 'none'; script-src " + hashSource(pageScript) + "; style-src " + hashSource(pageStyle) +
	"; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// page serves the sign-in page of mount. Its API calls and its redirect are relative, so it works
// under any stage or base path: from <mount>/signin, the API root is one "../" per mount segment
// up, and the UI is "./".
func page(mount string) http.Handler {
	api := "./"
	if mount != "" {
		api = strings.Repeat("../", strings.Count(mount, "/")+1)
	}
	var b strings.Builder
	if err := pageTemplate.Execute(&b, struct{ API string }{api}); err != nil {
		panic(err) // a fixed template and a fixed value: only a programming error gets here
	}
	body := []byte(b.String())
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", PageCSP)
		w.Header().Set("X-Frame-Options", "DENY")
		_, _ = w.Write(body)
	})
}
