package permstore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/permstore"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/config"
)

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		env     map[string]string
		want    permstore.Config
		wantErr string
	}{
		{env: map[string]string{}, want: permstore.Config{Default: permissions.Read, CacheTTL: 30 * time.Second}},
		{env: map[string]string{"PERMISSIONS_DEFAULT": "NO_PERMISSIONS", "PERMISSIONS_CACHE_TTL": "5"},
			want: permstore.Config{Default: permissions.NoPermissions, CacheTTL: 5 * time.Second}},
		{env: map[string]string{"PERMISSIONS_DEFAULT": "EDIT", "PERMISSIONS_CACHE_TTL": "0"}, want: permstore.Config{Default: permissions.Edit}},
		{env: map[string]string{"PERMISSIONS_DEFAULT": "read"}, wantErr: "PERMISSIONS_DEFAULT"},
		{env: map[string]string{"PERMISSIONS_DEFAULT": "ADMIN"}, wantErr: "PERMISSIONS_DEFAULT"},
		{env: map[string]string{"PERMISSIONS_CACHE_TTL": "-1"}, wantErr: "PERMISSIONS_CACHE_TTL"},
		{env: map[string]string{"PERMISSIONS_CACHE_TTL": "2h"}, wantErr: "PERMISSIONS_CACHE_TTL"},
		{env: map[string]string{"PERMISSIONS_CACHE_TTL": "soon"}, wantErr: "PERMISSIONS_CACHE_TTL"},
	} {
		got, err := config.Load[permstore.Config](tc.env)
		switch {
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%v: err %v, want one naming %s", tc.env, err, tc.wantErr)
		case tc.wantErr == "" && (err != nil || got != tc.want):
			t.Errorf("%v: %+v, %v; want %+v", tc.env, got, err, tc.want)
		}
	}
	if p := (permstore.Config{Default: permissions.Use}).Policy(); p.Default != permissions.Use {
		t.Errorf("policy %+v", p)
	}
}
