package authorizer_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/authorizer"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/keystore"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/config"
)

func TestConfig(t *testing.T) {
	external := func(extra map[string]string) map[string]string {
		env := map[string]string{"AUTH_SOURCE": "external", "VALIDATION_CACHE_TABLE": "cache", "AUTH_SERVICE_URL": "https://auth.example"}
		for k, v := range extra {
			env[k] = v
		}
		return env
	}
	for _, tc := range []struct {
		name    string
		env     map[string]string
		wantErr []string
		check   func(t *testing.T, c authorizer.Config)
	}{
		{name: "defaults", env: map[string]string{"KEYS_TABLE": "keys"}, check: func(t *testing.T, c authorizer.Config) {
			if c.Source != "dynamodb" || c.ServiceID != "platform" || c.ServiceTimeout != 5*time.Second ||
				!slices.Equal(c.AllowedKeyPrefixes, []string{"live", "test", "dev"}) || c.CacheTTL != time.Minute ||
				c.NegativeCacheTTL != 5*time.Second || c.StaleGrace != 5*time.Minute || c.CacheMaxEntries != 10000 ||
				c.OutageWindow != 5*time.Second {
				t.Errorf("%+v", c)
			}
		}},
		{name: "external", env: external(nil), check: func(t *testing.T, c authorizer.Config) {
			if c.ServiceURL.Host != "auth.example" || c.ValidationCacheTable != "cache" {
				t.Errorf("%+v", c)
			}
		}},
		{name: "prefixes normalised", env: map[string]string{"KEYS_TABLE": "k", "ALLOWED_KEY_PREFIXES": " Live ,live,,test"},
			check: func(t *testing.T, c authorizer.Config) {
				if !slices.Equal(c.AllowedKeyPrefixes, []string{"live", "test"}) {
					t.Errorf("%v", c.AllowedKeyPrefixes)
				}
			}},
		// Every duration is read as the keys function reads it: bare seconds too.
		{name: "durations in seconds", env: map[string]string{"KEYS_TABLE": "k", "AUTH_CACHE_TTL": "60", "AUTH_STALE_GRACE": "300", "AUTH_SERVICE_TIMEOUT": "2.5"},
			check: func(t *testing.T, c authorizer.Config) {
				if c.CacheTTL != time.Minute || c.StaleGrace != 5*time.Minute || c.ServiceTimeout != 2500*time.Millisecond {
					t.Errorf("%+v", c)
				}
			}},
		{name: "grace 0 allowed", env: map[string]string{"KEYS_TABLE": "k", "AUTH_STALE_GRACE": "0s"}},
		{name: "outage window in seconds, as the stack writes durations", env: map[string]string{"KEYS_TABLE": "k", "AUTH_SERVICE_OUTAGE_WINDOW": "7.5"},
			check: func(t *testing.T, c authorizer.Config) {
				if c.OutageWindow != 7500*time.Millisecond {
					t.Errorf("%v", c.OutageWindow)
				}
			}},
		{name: "outage window 0 allowed", env: map[string]string{"KEYS_TABLE": "k", "AUTH_SERVICE_OUTAGE_WINDOW": "0"}},
		{name: "outage window malformed", env: map[string]string{"KEYS_TABLE": "k", "AUTH_SERVICE_OUTAGE_WINDOW": "soon"},
			wantErr: []string{"AUTH_SERVICE_OUTAGE_WINDOW"}},
		{name: "dynamodb needs KEYS_TABLE", env: map[string]string{}, wantErr: []string{"KEYS_TABLE"}},
		{name: "external needs its table and URL", env: map[string]string{"AUTH_SOURCE": "external"},
			wantErr: []string{"VALIDATION_CACHE_TABLE", "AUTH_SERVICE_URL"}},
		{name: "bad URL", env: external(map[string]string{"AUTH_SERVICE_URL": "auth.example"}), wantErr: []string{"AUTH_SERVICE_URL"}},
		{name: "unknown source", env: map[string]string{"AUTH_SOURCE": "ldap"}, wantErr: []string{"AUTH_SOURCE"}},
		{name: "unknown prefix", env: map[string]string{"KEYS_TABLE": "k", "ALLOWED_KEY_PREFIXES": "live,prod"}, wantErr: []string{"ALLOWED_KEY_PREFIXES", "prod"}},
		{name: "empty prefixes", env: map[string]string{"KEYS_TABLE": "k", "ALLOWED_KEY_PREFIXES": " , "}, wantErr: []string{"ALLOWED_KEY_PREFIXES"}},
		{name: "malformed duration", env: map[string]string{"KEYS_TABLE": "k", "AUTH_CACHE_TTL": "a minute"}, wantErr: []string{"AUTH_CACHE_TTL"}},
		{name: "every bad number named", env: map[string]string{"KEYS_TABLE": "k", "AUTH_CACHE_TTL": "0s", "AUTH_NEGATIVE_CACHE_TTL": "-1s",
			"AUTH_STALE_GRACE": "-1s", "AUTH_CACHE_MAX_ENTRIES": "0", "AUTH_SERVICE_TIMEOUT": "0s", "AUTH_SERVICE_ID": " ",
			"AUTH_SERVICE_OUTAGE_WINDOW": "-1"},
			wantErr: []string{"AUTH_CACHE_TTL", "AUTH_NEGATIVE_CACHE_TTL", "AUTH_STALE_GRACE", "AUTH_CACHE_MAX_ENTRIES", "AUTH_SERVICE_TIMEOUT", "AUTH_SERVICE_ID",
				"AUTH_SERVICE_OUTAGE_WINDOW"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Load[authorizer.Config](tc.env)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if tc.check != nil {
					tc.check(t, c)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
		})
	}
}

func TestFromConfig(t *testing.T) {
	key := testKey("live", 7)
	t.Run("dynamodb reads KEYS_TABLE", func(t *testing.T) {
		cfg, err := config.Load[authorizer.Config](map[string]string{"KEYS_TABLE": keysTable, "ALLOWED_KEY_PREFIXES": "live"})
		if err != nil {
			t.Fatal(err)
		}
		db := newFakeDB()
		db.putRecord(t, key, keystore.Record{UserID: "u7", Status: keystore.StatusActive})
		h := authorizer.FromConfig(cfg, db, nil, quietLog)
		res, err := h.Handle(context.Background(), request(map[string]string{"X-API-Key": key}))
		if err != nil || res.PrincipalID != "u7" || db.gets[keysTable] != 1 {
			t.Errorf("%+v %v gets %v", res, err, db.gets)
		}
		_, err = h.Handle(context.Background(), request(map[string]string{"X-API-Key": testKey("test", 7)}))
		if err == nil || err.Error() != "Unauthorized" || db.gets[keysTable] != 1 {
			t.Errorf("test key where only live is allowed: %v, gets %v", err, db.gets)
		}
	})
	t.Run("external calls the service and shares through VALIDATION_CACHE_TABLE", func(t *testing.T) {
		var calls int
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls++
			_, _ = w.Write([]byte(`{"user_id":"svc-user","scopes":["model:read"]}`))
		}))
		defer srv.Close()
		cfg, err := config.Load[authorizer.Config](map[string]string{
			"AUTH_SOURCE": "external", "AUTH_SERVICE_URL": srv.URL, "VALIDATION_CACHE_TABLE": cacheTable, "AUTH_SERVICE_ID": "registry"})
		if err != nil {
			t.Fatal(err)
		}
		db := newFakeDB()
		h := authorizer.FromConfig(cfg, db, srv.Client(), quietLog)
		res, err := h.Handle(context.Background(), request(map[string]string{"Authorization": "Bearer " + key}))
		if err != nil || res.PrincipalID != "svc-user" || res.Context["service_id"] != "registry" {
			t.Fatalf("%+v %v", res, err)
		}
		if calls != 1 || db.gets[cacheTable] != 1 || db.puts[cacheTable] != 1 {
			t.Errorf("service %d, gets %v, puts %v", calls, db.gets, db.puts)
		}
		srv.Close()
		if _, err := h.Handle(context.Background(), request(map[string]string{"Authorization": "Bearer " + testKey("live", 8)})); err == nil ||
			err.Error() == "Unauthorized" || errors.Is(err, authorizer.ErrUnauthorized) {
			t.Errorf("service down: %v, want a failure", err)
		}
	})
	t.Run("AUTH_SERVICE_OUTAGE_WINDOW keeps a failing service from being asked again", func(t *testing.T) {
		for window, wantCalls := range map[string]int{"10m": 1, "0": 3} {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				http.Error(w, "down", http.StatusBadGateway)
			}))
			cfg, err := config.Load[authorizer.Config](map[string]string{
				"AUTH_SOURCE": "external", "AUTH_SERVICE_URL": srv.URL, "VALIDATION_CACHE_TABLE": cacheTable, "AUTH_SERVICE_OUTAGE_WINDOW": window})
			if err != nil {
				t.Fatal(err)
			}
			h := authorizer.FromConfig(cfg, newFakeDB(), srv.Client(), quietLog)
			for i := range 3 {
				_, err := h.Handle(context.Background(), request(map[string]string{"Authorization": "Bearer " + testKey("live", 30+i)}))
				if err == nil || err.Error() == "Unauthorized" {
					t.Errorf("window %s, request %d: %v, want a failure", window, i, err)
				}
			}
			srv.Close()
			if int(calls.Load()) != wantCalls {
				t.Errorf("window %s: %d service calls, want %d", window, calls.Load(), wantCalls)
			}
		}
	})
}
