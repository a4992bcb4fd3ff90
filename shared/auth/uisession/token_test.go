package uisession_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/uisession"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
)

var (
	t0     = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	secret = []byte(strings.Repeat("s", 48))
)

func codec(t testing.TB, key []byte) *uisession.Codec {
	c, err := uisession.NewCodec(key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCodecRoundTrip(t *testing.T) {
	c := codec(t, secret)
	value, id, err := c.Mint(t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Parse(value, t0)
	if err != nil || got != id {
		t.Fatalf("Parse = %q, %v; want %q", got, err, id)
	}
	if !logging.HoldsKey(value) || strings.Contains(logging.Redacted("cookie "+value), id) {
		t.Errorf("a session value is not redacted from logs: %q", logging.Redacted(value))
	}
	if _, err := c.Parse(value, t0.Add(time.Hour)); err == nil {
		t.Error("accepted at its expiry")
	}
	if _, err := codec(t, []byte(strings.Repeat("x", 48))).Parse(value, t0); err == nil {
		t.Error("accepted under another secret")
	}
	if _, err := uisession.NewCodec([]byte("short")); err == nil {
		t.Error("a short secret was accepted")
	}
}

// TestCodecRefusesUglyValues: every malformed, tampered or extended value is refused.
func TestCodecRefusesUglyValues(t *testing.T) {
	c := codec(t, secret)
	value, _, _ := c.Mint(t0.Add(time.Hour))
	parts := strings.Split(strings.TrimPrefix(value, "hss_"), ".")
	other, _, _ := c.Mint(t0.Add(2 * time.Hour))
	otherParts := strings.Split(strings.TrimPrefix(other, "hss_"), ".")
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	for name, v := range map[string]string{
		"empty":                "",
		"prefix only":          "hss_",
		"wrong prefix":         "hsx_" + value[4:],
		"upper prefix":         "HSS_" + value[4:],
		"link token":           "hsl_" + parts[0],
		"no signature":         "hss_" + parts[0] + "." + parts[1],
		"extra part":           value + ".x",
		"trailing dot":         value + ".",
		"signature flipped":    "hss_" + parts[0] + "." + parts[1] + "." + flip(parts[2], 0),
		"id flipped":           "hss_" + flip(parts[0], 3) + "." + parts[1] + "." + parts[2],
		"expiry extended":      "hss_" + parts[0] + "." + otherParts[1] + "." + parts[2],
		"signature swapped":    "hss_" + parts[0] + "." + parts[1] + "." + otherParts[2],
		"leading zero expiry":  "hss_" + parts[0] + ".0" + parts[1] + "." + parts[2],
		"signed expiry":        "hss_" + parts[0] + ".+" + parts[1] + "." + parts[2],
		"short id":             "hss_" + parts[0][1:] + "." + parts[1] + "." + parts[2],
		"padded id":            "hss_" + parts[0] + "=." + parts[1] + "." + parts[2],
		"std base64 id":        "hss_" + strings.NewReplacer("-", "+", "_", "/").Replace(parts[0]) + "+/." + parts[1] + "." + parts[2],
		"space":                " " + value,
		"quoted":               `"` + value + `"`,
		"huge":                 value + strings.Repeat("A", 1<<16),
		"non-ascii":            "hss_" + parts[0] + ".１." + parts[2],
		"non-canonical base64": "hss_" + parts[0][:42] + "B." + parts[1] + "." + parts[2],
	} {
		t.Run(name, func(t *testing.T) {
			if id, err := c.Parse(v, t0); err == nil {
				t.Errorf("accepted %q as %q", v, id)
			}
		})
	}
}

func TestLinkTokens(t *testing.T) {
	tok, err := uisession.NewLinkToken()
	if err != nil || uisession.CheckLinkToken(tok) != nil {
		t.Fatalf("%q %v", tok, err)
	}
	if strings.Contains(logging.Redacted("/signin/"+tok), tok[4:]) {
		t.Errorf("a link token is not redacted: %s", logging.Redacted(tok))
	}
	for _, bad := range []string{"", "hsl_", tok + "A", tok[:len(tok)-1], "hss_" + tok[4:], strings.ToUpper(tok[:4]) + tok[4:],
		tok[:10] + "%2F" + tok[13:], tok[:10] + "." + tok[11:], tok[:10] + "/" + tok[11:]} {
		if uisession.CheckLinkToken(bad) == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	if uisession.Digest(tok) == uisession.Digest(tok+"x") || len(uisession.Digest(tok)) != 64 {
		t.Error("digest")
	}
}

func TestFromCookieHeaders(t *testing.T) {
	const n = uisession.CookieName
	for _, tc := range []struct {
		name  string
		lines []string
		want  string
		ok    bool
	}{
		{"alone", []string{n + "=v1"}, "v1", true},
		{"among others", []string{"a=b; " + n + "=v1; c=d"}, "v1", true},
		{"no spaces", []string{"a=b;" + n + "=v1;c=d"}, "v1", true},
		{"second line", []string{"a=b", n + "=v1"}, "v1", true},
		{"absent", []string{"a=b"}, "", false},
		{"none", nil, "", false},
		{"empty value", []string{n + "="}, "", false},
		{"twice (tossed)", []string{n + "=v1; " + n + "=v2"}, "", false},
		{"twice across lines", []string{n + "=v1", n + "=v1"}, "", false},
		{"without the prefix", []string{"hokusai_session=v1"}, "", false},
		{"other case", []string{strings.ToLower(n) + "=v1"}, "", false},
		{"name only", []string{n}, "", false},
		{"oversized", []string{strings.Repeat("a=b; ", 4000) + n + "=v1"}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := uisession.FromCookieHeaders(tc.lines)
			if got != tc.want || ok != tc.ok {
				t.Errorf("= %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestSetCookieAttributes(t *testing.T) {
	h := uisession.SetCookie("hss_v", t0.Add(8*time.Hour), t0)
	c, err := http.ParseSetCookie(h)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != uisession.CookieName || c.Value != "hss_v" || c.Path != "/" || c.Domain != "" || !c.Secure || !c.HttpOnly ||
		c.SameSite != http.SameSiteStrictMode || c.MaxAge != 8*3600 {
		t.Errorf("%s → %+v", h, c)
	}
	clear, _ := http.ParseSetCookie(uisession.ClearCookie())
	if clear.Name != uisession.CookieName || clear.MaxAge >= 0 || !clear.Secure || clear.Path != "/" {
		t.Errorf("clear: %+v", clear)
	}
}

func TestSameOrigin(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers map[string][]string
		host    string
		want    bool
	}{
		{"fetch metadata same-origin", map[string][]string{"Sec-Fetch-Site": {"same-origin"}}, "gw.example", true},
		{"fetch metadata cross-site", map[string][]string{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://gw.example"}}, "gw.example", false},
		{"fetch metadata same-site", map[string][]string{"Sec-Fetch-Site": {"same-site"}}, "gw.example", false},
		{"fetch metadata none", map[string][]string{"Sec-Fetch-Site": {"none"}}, "gw.example", false},
		{"fetch metadata twice", map[string][]string{"Sec-Fetch-Site": {"same-origin", "cross-site"}}, "gw.example", false},
		{"origin matches", map[string][]string{"Origin": {"https://gw.example"}}, "gw.example", true},
		{"origin matches over http locally", map[string][]string{"Origin": {"http://127.0.0.1:3000"}, "X-Forwarded-Proto": {"http"}}, "127.0.0.1:3000", true},
		{"origin scheme differs", map[string][]string{"Origin": {"http://gw.example"}}, "gw.example", false},
		{"origin other host", map[string][]string{"Origin": {"https://evil.example"}}, "gw.example", false},
		{"origin suffix trick", map[string][]string{"Origin": {"https://gw.example.evil.example"}}, "gw.example", false},
		{"origin null", map[string][]string{"Origin": {"null"}}, "gw.example", false},
		{"origin twice", map[string][]string{"Origin": {"https://gw.example", "https://gw.example"}}, "gw.example", false},
		{"neither", nil, "gw.example", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodPost, "/x", nil)
			r.Host = tc.host
			for k, vs := range tc.headers {
				r.Header[k] = vs
			}
			if got := uisession.SameOrigin(r); got != tc.want {
				t.Errorf("= %v, want %v", got, tc.want)
			}
		})
	}
}

func TestUIResources(t *testing.T) {
	want := map[string]bool{
		"/api/mlflow": true, "/api/mlflow/ajax-api/{proxy+}": true, "/mlflow/static-files/{proxy+}": true, "/": true,
		"/ajax-api/{proxy+}": true, "/static-files/{proxy+}": true,
		"/api/mlflow/{proxy+}": false, "/api/2.0/mlflow/{proxy+}": false, "/api/keys": false, "/api/models/register": false,
		"/api/ui/signin-links": false, "/api/ui/sessions": false, "/{proxy+}": false, "": false, "/api/mlflow/": false,
	}
	for res, ok := range want {
		if uisession.IsUIResource(res) != ok {
			t.Errorf("IsUIResource(%q) = %v", res, !ok)
		}
	}
}

// signed is a session value built independently of the codec (the MAC as the format defines
// it), the same in every fuzz worker process.
func signed(id string, exp int64) string {
	body := "hss_" + id + "." + strconv.FormatInt(exp, 10)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("hokusai-ui-session\x00" + body))
	return body + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func FuzzParse(f *testing.F) {
	c := codec(f, secret)
	value := signed(strings.Repeat("A", 43), t0.Add(time.Hour).Unix())
	if _, err := c.Parse(value, t0); err != nil {
		f.Fatalf("the independently signed value is refused: %v", err)
	}
	for _, s := range []string{value, "", "hss_", "hss_a.b.c", value + "."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := c.Parse(s, t0)
		if err == nil && s != value {
			// Only a value this codec minted is accepted; anything else would be a forgery.
			t.Fatalf("accepted %q as %q", s, id)
		}
		_ = uisession.CheckLinkToken(s)
	})
}

func FuzzFromCookieHeaders(f *testing.F) {
	for _, s := range []string{uisession.CookieName + "=x", "a=b; " + uisession.CookieName + "=y", ";;=;", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		v, ok := uisession.FromCookieHeaders([]string{line})
		if ok && (v == "" || strings.ContainsRune(v, ';')) {
			t.Fatalf("%q → %q", line, v)
		}
	})
}
