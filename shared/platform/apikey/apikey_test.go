package apikey_test

import (
	"strings"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/apikey"
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
		key     string
		source  apikey.Source
	}{
		{"bearer", map[string]string{"Authorization": "Bearer k1"}, "k1", apikey.FromBearer},
		{"apikey scheme, lower-case header and scheme", map[string]string{"authorization": "apikey k2"}, "k2", apikey.FromApiKey},
		{"x-api-key", map[string]string{"x-api-key": " k3 "}, "k3", apikey.FromHeader},
		{"Authorization wins over X-API-Key", map[string]string{"Authorization": "Bearer k1", "X-API-Key": "k3"}, "k1", apikey.FromBearer},
		{"unknown scheme falls through to X-API-Key", map[string]string{"Authorization": "Basic abc", "X-API-Key": "k3"}, "k3", apikey.FromHeader},
		{"empty bearer", map[string]string{"Authorization": "Bearer "}, "", ""},
		{"nothing", map[string]string{"X-Other": "k"}, "", ""},
	} {
		key, src, ok := apikey.Extract(apikey.HeaderGetter(tc.headers))
		if key != tc.key || src != tc.source || ok != (tc.key != "") {
			t.Errorf("%s: %q %q %v", tc.name, key, src, ok)
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
