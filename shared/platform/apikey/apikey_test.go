package apikey_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/apikey"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/eventheader"
)

func TestGenerate(t *testing.T) {
	seen := map[string]bool{}
	for _, env := range apikey.Environments {
		for range 50 {
			k, err := apikey.Generate(env)
			if err != nil {
				t.Fatal(err)
			}
			if got, ok := apikey.Env(k); !ok || got != env || len(k) != len("hk_"+env+"_")+40 {
				t.Fatalf("generated %q: env %q ok %v", k, got, ok)
			}
			if seen[k] {
				t.Fatal("duplicate key")
			}
			seen[k] = true
		}
	}
	if _, err := apikey.Generate("prod"); err == nil {
		t.Error("generated a key for an unknown environment")
	}
}

func TestEnvAndCheck(t *testing.T) {
	b20, b64 := strings.Repeat("a", 20), strings.Repeat("Z9", 32)
	for _, tc := range []struct {
		key     string
		env     string
		ok      bool
		allowed []string
		checkOK bool
	}{
		{"hk_live_" + b20, "live", true, []string{"live"}, true},
		{"hk_dev_" + b64, "dev", true, []string{"live", "dev"}, true},
		{"hk_test_" + b20, "test", true, []string{"live"}, false}, // prod refuses test keys
		{"hk_live_" + b20[:19], "", false, []string{"live"}, false},
		{"hk_live_" + b64 + "x", "", false, []string{"live"}, false},
		{"hk_prod_" + b20, "", false, []string{"live"}, false},
		{"hk_live_" + b20[:19] + "-", "", false, []string{"live"}, false},
		{"HK_live_" + b20, "", false, []string{"live"}, false},
		{"hk_live" + b20, "", false, []string{"live"}, false},
		{"hk_live_" + b20 + "é", "", false, []string{"live"}, false},
		{"", "", false, []string{"live"}, false},
	} {
		env, ok := apikey.Env(tc.key)
		if env != tc.env || ok != tc.ok {
			t.Errorf("Env(%q) = %q, %v", tc.key, env, ok)
		}
		if err := apikey.Check(tc.key, tc.allowed); (err == nil) != tc.checkOK {
			t.Errorf("Check(%q, %v) = %v", tc.key, tc.allowed, err)
		}
	}
}

func TestDigestAndDisplayPrefix(t *testing.T) {
	k := "hk_live_AbCdefghijklmnopqrstuvwxyz0123456789ABCD"
	if d := apikey.Digest(k); len(d) != 64 || d == apikey.Digest(k+"x") || strings.Contains(d, "AbCd") {
		t.Errorf("digest %q", d)
	}
	if p := apikey.DisplayPrefix(k); p != "hk_live_AbCd" {
		t.Errorf("prefix %q", p)
	}
	if p := apikey.DisplayPrefix("garbage"); p != "" {
		t.Errorf("prefix of garbage %q", p)
	}
}

func TestExtract(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers map[string]string
		multi   map[string][]string
		key     string
		source  apikey.Source
	}{
		{"bearer", map[string]string{"Authorization": "Bearer k1"}, nil, "k1", apikey.FromBearer},
		{"apikey scheme, lower-case header and scheme", map[string]string{"authorization": "apikey k2"}, nil, "k2", apikey.FromApiKey},
		{"x-api-key", map[string]string{"x-api-key": " k3 "}, nil, "k3", apikey.FromHeader},
		{"Authorization wins over X-API-Key", map[string]string{"Authorization": "Bearer k1", "X-API-Key": "k3"}, nil, "k1", apikey.FromBearer},
		{"unknown scheme falls through to X-API-Key", map[string]string{"Authorization": "Basic abc", "X-API-Key": "k3"}, nil, "k3", apikey.FromHeader},
		{"empty bearer", map[string]string{"Authorization": "Bearer "}, nil, "", ""},
		{"nothing", map[string]string{"X-Other": "k"}, nil, "", ""},
		{"the same key under two spellings", map[string]string{"X-Api-Key": "k3", "x-api-key": " k3"}, nil, "k3", apikey.FromHeader},
		{"the same key in both maps", map[string]string{"X-API-Key": "k3"}, map[string][]string{"X-API-Key": {"k3"}}, "k3", apikey.FromHeader},
		// Which of two keys a map or a header list yields first is not something to decide on.
		{"two keys under two spellings", map[string]string{"X-Api-Key": "k3", "x-api-key": "k4"}, nil, "", ""},
		{"two keys sent as one header twice", map[string]string{"X-API-Key": "k4"}, map[string][]string{"X-API-Key": {"k3", "k4"}}, "", ""},
		{"two Authorizations, even with a good X-API-Key", map[string]string{"authorization": "Bearer k1", "Authorization": "Bearer k2", "X-API-Key": "k3"}, nil, "", ""},
		{"a second Authorization of another scheme", map[string]string{"Authorization": "Bearer k1"}, map[string][]string{"Authorization": {"Bearer k1", "Basic abc"}}, "", ""},
		{"an empty second value is no second key", map[string]string{"X-API-Key": "k3"}, map[string][]string{"x-api-key": {"", "k3"}}, "k3", apikey.FromHeader},
	} {
		key, src, ok := apikey.Extract(eventheader.Parse(tc.headers, tc.multi).Values)
		if key != tc.key || src != tc.source || ok != (tc.key != "") {
			t.Errorf("%s: %q %q %v", tc.name, key, src, ok)
		}
		// What net/http hands a handler (the sign-in function's reader) reads the same.
		h := http.Header{}
		for k, v := range tc.headers {
			h.Add(k, v)
		}
		for k, vs := range tc.multi {
			for _, v := range vs {
				h.Add(k, v)
			}
		}
		if key2, src2, ok2 := apikey.Extract(h.Values); key2 != key || src2 != src || ok2 != ok {
			t.Errorf("%s: net/http headers read %q %q %v, the maps %q %q %v", tc.name, key2, src2, ok2, key, src, ok)
		}
	}
}

// FuzzEnv: the format check never panics and accepts only the documented shape.
func FuzzEnv(f *testing.F) {
	f.Add("hk_live_abcdefghijklmnopqrst")
	f.Add("hk_dev_" + strings.Repeat("9", 64))
	f.Add("hk__")
	f.Fuzz(func(t *testing.T, key string) {
		env, ok := apikey.Env(key)
		if !ok {
			return
		}
		secret := strings.TrimPrefix(key, "hk_"+env+"_")
		if len(secret) < 20 || len(secret) > 64 || strings.Trim(secret, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != "" {
			t.Fatalf("accepted %q", key)
		}
		if apikey.DisplayPrefix(key) == "" {
			t.Fatalf("no display prefix for accepted %q", key)
		}
	})
}
