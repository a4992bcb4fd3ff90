package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/uisession"
)

// browser is an HTTP client with a cookie jar that does not follow redirects, so each answer can
// be looked at. Go's jar, like browsers, treats 127.0.0.1 as a secure origin for Secure cookies.
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func do(t *testing.T, c *http.Client, method, path, body string, headers map[string]string) (*http.Response, []byte) {
	t.Helper()
	target := path
	if strings.HasPrefix(path, "/") {
		target = h.APIURL + path
	}
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// mintLink asks for a sign-in link with key and returns its URL.
func mintLink(t *testing.T, key, body string) string {
	t.Helper()
	res, b := do(t, http.DefaultClient, "POST", "/"+uisession.LinksPath, body, bearer(key))
	var out struct {
		URL       string    `json:"url"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	if res.StatusCode != 201 || json.Unmarshal(b, &out) != nil || out.URL == "" {
		t.Fatalf("mint a link: %d %s", res.StatusCode, b)
	}
	if d := time.Until(out.ExpiresAt); d <= 0 || d > 5*time.Minute {
		t.Errorf("link expires at %s", out.ExpiresAt)
	}
	return out.URL
}

// signIn opens a fresh link of key in a new browser and returns the browser and its cookie.
func signIn(t *testing.T, key string) (*http.Client, *http.Cookie) {
	t.Helper()
	c := browser(t)
	res, b := do(t, c, "GET", mintLink(t, key, ""), "", nil)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "../" {
		t.Fatalf("open the link: %d %v %s", res.StatusCode, res.Header, b)
	}
	cookies := res.Cookies()
	if len(cookies) != 1 {
		t.Fatalf("cookies %v", cookies)
	}
	return c, cookies[0]
}

const uiRead = "/api/mlflow/ajax-api/2.0/mlflow/experiments/get?experiment_id=0"

func TestUISignIn(t *testing.T) {
	admin := adminKey(t)
	key, keyID := createKey(t, admin, "e2e-ui-user", "mlflow:write")
	secretsSeen := []string{key}

	c, cookie := signIn(t, key)
	secretsSeen = append(secretsSeen, cookie.Value)

	t.Run("the link sets a session cookie with the right attributes, never the key", func(t *testing.T) {
		if cookie.Name != uisession.CookieName || !cookie.HttpOnly || !cookie.Secure || cookie.SameSite != http.SameSiteStrictMode ||
			cookie.Path != "/" || cookie.Domain != "" || cookie.MaxAge <= 0 || cookie.MaxAge > 8*3600 {
			t.Errorf("cookie %+v", cookie)
		}
		if strings.Contains(cookie.Value, key) || strings.Contains(cookie.Value, key[7:]) {
			t.Error("the cookie holds the key")
		}
	})
	t.Run("a UI route works with the cookie and no key", func(t *testing.T) {
		res, b := do(t, c, "GET", uiRead, "", nil)
		if res.StatusCode != 200 || !strings.Contains(string(b), `"experiment"`) {
			t.Fatalf("%d %s", res.StatusCode, b)
		}
		// and with a key and no cookie, as any route
		res, b = do(t, http.DefaultClient, "GET", uiRead, "", bearer(key))
		if res.StatusCode != 200 {
			t.Errorf("with a key: %d %s", res.StatusCode, b)
		}
	})
	t.Run("the cookie opens no API route", func(t *testing.T) {
		for _, tc := range []struct{ method, path, body string }{
			{"GET", "/api/2.0/mlflow/experiments/get?experiment_id=0", ""},
			{"GET", "/api/mlflow/api/2.0/mlflow/experiments/get?experiment_id=0", ""},
			{"GET", "/mlflow/api/2.0/mlflow/experiments/get?experiment_id=0", ""},
			{"GET", "/api/keys", ""},
			{"POST", "/api/models/register", "{}"},
			{"POST", "/" + uisession.LinksPath, ""},
		} {
			res, b := do(t, c, tc.method, tc.path, tc.body, map[string]string{"Sec-Fetch-Site": "same-origin"})
			if res.StatusCode != 401 {
				t.Errorf("%s %s with the cookie: %d %s", tc.method, tc.path, res.StatusCode, b)
			}
		}
	})
	t.Run("a cross-site write is 403 and changes nothing", func(t *testing.T) {
		create := `{"name":"e2e-ui-cross-site"}`
		const path = "/api/mlflow/ajax-api/2.0/mlflow/experiments/create"
		for name, headers := range map[string]map[string]string{
			"fetch metadata cross-site": {"Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"},
			"foreign origin":            {"Origin": "https://evil.example", "Content-Type": "application/json"},
			"no origin at all":          {"Content-Type": "application/json"},
		} {
			res, b := do(t, c, "POST", path, create, headers)
			if res.StatusCode != 403 || !strings.Contains(string(b), `"error_code":"PERMISSION_DENIED"`) {
				t.Errorf("%s: %d %s", name, res.StatusCode, b)
			}
		}
		res, b := do(t, http.DefaultClient, "GET", "/api/2.0/mlflow/experiments/get-by-name?experiment_name=e2e-ui-cross-site", "", bearer(key))
		if res.StatusCode != 404 {
			t.Errorf("the refused create happened: %d %s", res.StatusCode, b)
		}
		res, b = do(t, c, "POST", path, create, map[string]string{"Sec-Fetch-Site": "same-origin", "Content-Type": "application/json"})
		if res.StatusCode != 200 {
			t.Errorf("a same-origin write: %d %s", res.StatusCode, b)
		}
	})
	t.Run("a link is single-use", func(t *testing.T) {
		link := mintLink(t, key, `{"mount":"mlflow"}`)
		if !strings.HasPrefix(link, h.APIURL+"/mlflow/signin/hsl_") {
			t.Errorf("link %s", link)
		}
		secretsSeen = append(secretsSeen, link[strings.LastIndex(link, "/")+1:])
		if res, b := do(t, browser(t), "GET", link, "", nil); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("first use: %d %s", res.StatusCode, b)
		}
		res, b := do(t, browser(t), "GET", link, "", nil)
		if res.StatusCode != 401 || !strings.Contains(string(b), "SIGNIN_LINK_INVALID") || len(res.Cookies()) != 0 {
			t.Errorf("second use: %d %v %s", res.StatusCode, res.Cookies(), b)
		}
		if strings.Contains(string(b), "hsl_") {
			t.Errorf("the token is echoed: %s", b)
		}
		res, _ = do(t, browser(t), "GET", "/api/mlflow/signin/hsl_"+strings.Repeat("A", 43), "", nil)
		if res.StatusCode != 401 {
			t.Errorf("an unknown token: %d", res.StatusCode)
		}
	})
	t.Run("the sign-in page signs in with a key, same-origin only", func(t *testing.T) {
		res, b := do(t, browser(t), "GET", "/api/mlflow/signin", "", nil)
		page := string(b)
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") ||
			!strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Fatalf("%d %v", res.StatusCode, res.Header)
		}
		for _, id := range []string{`id="signin-form"`, `id="signin-key"`, `id="signin-submit"`, `data-api="../../"`} {
			if !strings.Contains(page, id) {
				t.Errorf("the page lacks %s", id)
			}
		}
		pc := browser(t)
		headers := bearer(key)
		headers["Sec-Fetch-Site"] = "cross-site"
		if res, b := do(t, pc, "POST", "/"+uisession.SessionsPath, "", headers); res.StatusCode != 403 || len(res.Cookies()) != 0 {
			t.Errorf("cross-site sign-in: %d %s", res.StatusCode, b)
		}
		headers["Sec-Fetch-Site"] = "same-origin"
		res, b = do(t, pc, "POST", "/"+uisession.SessionsPath, "", headers)
		if res.StatusCode != 200 || len(res.Cookies()) != 1 || strings.Contains(string(b), res.Cookies()[0].Value) {
			t.Fatalf("sign-in: %d %s", res.StatusCode, b)
		}
		secretsSeen = append(secretsSeen, res.Cookies()[0].Value)
		if res, b := do(t, pc, "GET", uiRead, "", nil); res.StatusCode != 200 {
			t.Errorf("after sign-in: %d %s", res.StatusCode, b)
		}
	})
	t.Run("sign-out ends the session server-side", func(t *testing.T) {
		c2, kept := signIn(t, key)
		if res, _ := do(t, c2, "POST", "/"+uisession.SignoutPath, "", map[string]string{"Sec-Fetch-Site": "cross-site"}); res.StatusCode != 403 {
			t.Errorf("cross-site sign-out: %d", res.StatusCode)
		}
		res, b := do(t, c2, "POST", "/"+uisession.SignoutPath, "", map[string]string{"Sec-Fetch-Site": "same-origin"})
		if res.StatusCode != 200 || len(res.Cookies()) != 1 || res.Cookies()[0].MaxAge >= 0 {
			t.Fatalf("sign-out: %d %v %s", res.StatusCode, res.Cookies(), b)
		}
		// The old value, replayed, is refused: the session is gone, not just the cookie.
		res, b = do(t, http.DefaultClient, "GET", uiRead, "", map[string]string{"Cookie": kept.Name + "=" + kept.Value})
		if res.StatusCode != 401 {
			t.Errorf("the signed-out cookie replayed: %d %s", res.StatusCode, b)
		}
	})
	t.Run("revoking the key ends its sessions within AUTH_CACHE_TTL", func(t *testing.T) {
		if res, b := do(t, c, "GET", uiRead, "", nil); res.StatusCode != 200 {
			t.Fatalf("before: %d %s", res.StatusCode, b)
		}
		if res, b := call(t, "DELETE", "/api/keys/"+keyID, nil, bearer(admin)); res.StatusCode != 200 && res.StatusCode != 204 {
			t.Fatalf("revoke: %d %s", res.StatusCode, b)
		}
		// Local AUTH_CACHE_TTL is 5 s; the deadline is generous, the loop ends at the first 401.
		deadline := time.Now().Add(60 * time.Second)
		for {
			res, _ := do(t, c, "GET", uiRead, "", nil)
			if res.StatusCode == 401 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the revoked key's session still answers %d", res.StatusCode)
			}
			time.Sleep(250 * time.Millisecond)
		}
	})
	t.Run("no key, cookie or token reaches the logs", func(t *testing.T) {
		out := output.String()
		for _, s := range secretsSeen {
			if strings.Contains(out, s) {
				t.Errorf("the stack's output holds a secret (%d chars)", len(s))
			}
		}
	})
}
