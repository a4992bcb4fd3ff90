package keysapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/keystore"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/keystore/keystoretest"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/apikey"
)

// The API over the real store in moto: bootstrap an admin, create a key for a user, list it as
// both, revoke it as its owner, and find it revoked by digest, the authorizer's lookup.
func TestEndToEndOnDynamoDB(t *testing.T) {
	store := keystoretest.NewStore(t, dynamodb.NewFromConfig(testenv.AWS(t)), "keys")
	h := New(testConfig(), store) // the real clock
	ctx := context.Background()

	out, err := h.Lambda(slog.New(slog.DiscardHandler))(ctx, json.RawMessage(`{"bootstrap_admin":{"user_id":"ops","email":"ops@example.com"}}`))
	if err != nil {
		t.Fatal(err)
	}
	boot := out.(Created)
	if rec, err := store.Get(ctx, apikey.Digest(boot.Key)); err != nil || rec == nil || rec.Scopes[0] != "admin" {
		t.Fatalf("bootstrapped key stored as %+v, %v", rec, err)
	}

	w := call(t, h, "POST", "/api/keys", `{"user_id":"alice","scopes":["model:write"],"expires_in_days":7}`, admin, nil)
	if w.Code != 201 {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	created := decode[Created](t, w)

	for _, caller := range [...]struct {
		name string
		want int
	}{{"admin", 2}, {"alice", 1}} {
		p := alice
		if caller.name == "admin" {
			p = admin
		}
		w := call(t, h, "GET", "/api/keys", "", p, nil)
		list := decode[KeyList](t, w)
		if w.Code != 200 || list.Count != caller.want || list.Keys[0].KeyID != created.KeyID {
			t.Errorf("%s lists %d: %s", caller.name, w.Code, w.Body)
		}
	}

	w = call(t, h, "DELETE", "/api/keys/"+created.KeyID, "", alice, nil)
	if w.Code != 200 {
		t.Fatalf("revoke: %d %s", w.Code, w.Body)
	}
	revoked := decode[Revoked](t, w)
	rec, err := store.Get(ctx, apikey.Digest(created.Key))
	if err != nil || rec == nil {
		t.Fatalf("Get = %v, %v", rec, err)
	}
	if rec.Status != keystore.StatusRevoked || !rec.RevokedAt.Equal(revoked.RevokedAt) || rec.Usable(time.Now()) ||
		rec.ExpiresAt.Sub(rec.CreatedAt) != 7*24*time.Hour {
		t.Errorf("stored after revoke: %+v", rec)
	}

	w = call(t, h, "DELETE", "/api/keys/"+created.KeyID, "", admin, nil)
	if again := decode[Revoked](t, w); w.Code != 200 || !again.RevokedAt.Equal(revoked.RevokedAt) {
		t.Errorf("second revoke: %d %s", w.Code, w.Body)
	}
}
