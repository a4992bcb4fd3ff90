package authorizer_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/authcache"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/authorizer"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/authservice"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/keystore"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/apikey"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"
)

// TestWithDynamoDB runs both sources against a real DynamoDB API (moto): the keys table as the
// keys function writes it, and the validation cache as the stack defines it.
func TestWithDynamoDB(t *testing.T) {
	ctx := context.Background()
	db := dynamodb.NewFromConfig(testenv.AWS(t))
	for _, name := range []string{keysTable, cacheTable} {
		_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
			TableName:            aws.String(name),
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("key_hash"), AttributeType: types.ScalarAttributeTypeS}},
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("key_hash"), KeyType: types.KeyTypeHash}},
			BillingMode:          types.BillingModePayPerRequest,
		})
		if err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}

	t.Run("dynamodb source", func(t *testing.T) { motoKeys(t, db) })
	t.Run("external source", func(t *testing.T) { motoExternal(t, db) })
}

func motoKeys(t *testing.T, db *dynamodb.Client) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	base := keystore.Record{KeyID: "k", UserID: "u-moto", Email: "m@example.com", Scopes: []string{"model:write"},
		Status: keystore.StatusActive, CreatedAt: now, DisplayPrefix: "hk_live_Test"}
	revoked, expired, later, narrowed, damaged := base, base, base, base, base
	narrowed.ResourcePatterns = []string{"registered_model:hokusai-XRAY*", "experiment:12"}
	damaged.ResourcePatterns = []string{"run:abc"} // no keys API writes it: a damaged record
	revoked.Status, revoked.RevokedAt = keystore.StatusRevoked, now
	expired.ExpiresAt = now.Add(-time.Minute)
	later.ExpiresAt = now.Add(time.Hour)
	records := map[string]keystore.Record{
		testKey("live", 101): base, testKey("live", 102): revoked, testKey("live", 103): expired, testKey("live", 104): later,
		testKey("live", 106): narrowed, testKey("live", 107): damaged,
	}
	for key, rec := range records {
		rec.KeyHash = apikey.Digest(key)
		item, err := attributevalue.MarshalMap(rec)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(keysTable), Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := authorizer.Config{Source: keystore.SourceDynamoDB, KeysTable: keysTable, ServiceID: "platform",
		AllowedKeyPrefixes: []string{"live"}, CacheTTL: time.Minute, NegativeCacheTTL: 5 * time.Second, CacheMaxEntries: 100}
	h := authorizer.FromConfig(cfg, db, nil, quietLog)
	for _, tc := range []struct {
		name, key string
		allow     bool
	}{
		{"active", testKey("live", 101), true},
		{"revoked", testKey("live", 102), false},
		{"expired", testKey("live", 103), false},
		{"expires later", testKey("live", 104), true},
		{"unknown", testKey("live", 105), false},
		{"narrowed", testKey("live", 106), true},
		{"a narrowing that does not parse: refused, never widened", testKey("live", 107), false},
	} {
		res, err := h.Handle(ctx, request(map[string]string{"Authorization": "Bearer " + tc.key}))
		switch {
		case tc.allow && (err != nil || res.PrincipalID != "u-moto" || res.Context["scopes"] != "model:write"):
			t.Errorf("%s: %+v %v", tc.name, res, err)
		case !tc.allow && (err == nil || err.Error() != "Unauthorized"):
			t.Errorf("%s: err = %v, want Unauthorized", tc.name, err)
		}
	}

	// The narrowing travels in the context as one string and comes back as the principal's.
	res, err := h.Handle(ctx, request(map[string]string{"Authorization": "Bearer " + testKey("live", 106)}))
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Context["resource_patterns"]; got != `["registered_model:hokusai-XRAY*","experiment:12"]` {
		t.Errorf("context resource_patterns = %#v", got)
	}
	p, ok := principal.FromAuthorizer(res.Context)
	if !ok || len(p.Patterns) != 2 || p.Patterns[0].String() != "registered_model:hokusai-XRAY*" || p.Patterns[1].String() != "experiment:12" {
		t.Errorf("principal %+v, %v", p, ok)
	}
	res, err = h.Handle(ctx, request(map[string]string{"Authorization": "Bearer " + testKey("live", 101)}))
	if _, present := res.Context["resource_patterns"]; err != nil || present {
		t.Errorf("a key not narrowed: %v, context %v", err, res.Context)
	}
}

func motoExternal(t *testing.T, db *dynamodb.Client) {
	ctx := context.Background()
	var calls atomic.Int64
	var down atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if down.Load() {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+testKey("live", 201) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`{"user_id":"ext-user","key_id":"ek","scopes":["mlflow:write"],"is_admin":true,"resource_patterns":["registered_model:ci-*"]}`))
	}))
	t.Cleanup(srv.Close)
	base, _ := url.Parse(srv.URL)
	svc := authservice.New(base, "platform", time.Second, srv.Client())

	clk := newClock()
	settings := newRig(t, true, nil).settings
	settings.Now = clk.Now
	container := func() *authorizer.Validator {
		return authorizer.NewExternal(settings, svc, authcache.NewTable(db, cacheTable, settings.Grace))
	}
	good, bad := testKey("live", 201), testKey("live", 202)

	v := container()
	if d, err := v.Validate(ctx, good, "203.0.113.7"); err != nil || d.Via != authorizer.ViaService || !d.Principal.Admin {
		t.Fatalf("first: %+v %v", d, err)
	}
	if _, err := v.Validate(ctx, bad, ""); err == nil {
		t.Fatal("bad key allowed")
	}
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(cacheTable),
		Key: map[string]types.AttributeValue{"key_hash": &types.AttributeValueMemberS{Value: apikey.Digest(good)}}})
	if err != nil || out.Item == nil {
		t.Fatalf("shared item: %v", err)
	}
	expires, _ := strconv.ParseInt(out.Item["expires_at"].(*types.AttributeValueMemberN).Value, 10, 64)
	ttlAttr, _ := strconv.ParseInt(out.Item["ttl"].(*types.AttributeValueMemberN).Value, 10, 64)
	if expires != t0.Add(ttl).UnixMilli() || ttlAttr != t0.Add(ttl+grace).Unix() {
		t.Errorf("expires_at %d ttl %d", expires, ttlAttr)
	}

	// Another container: the shared cache answers, the service is not asked.
	before := calls.Load()
	// The narrowing survives the shared cache: lost there, another container would widen the key.
	if d, err := container().Validate(ctx, good, ""); err != nil || d.Via != authorizer.ViaCacheTable || d.Principal.UserID != "ext-user" ||
		len(d.Principal.Patterns) != 1 || d.Principal.Patterns[0].String() != "registered_model:ci-*" {
		t.Errorf("shared: %+v %v", d, err)
	}
	if _, err := container().Validate(ctx, bad, ""); err == nil {
		t.Error("shared negative not honoured")
	}
	if calls.Load() != before {
		t.Errorf("service asked %d times on shared hits", calls.Load()-before)
	}

	// Outage: within the grace a new container lets the key through, after it refuses.
	down.Store(true)
	clk.Advance(ttl + time.Minute)
	if d, err := container().Validate(ctx, good, ""); err != nil || d.Via != authorizer.ViaStale {
		t.Errorf("grace: %+v %v", d, err)
	}
	clk.Advance(grace)
	if _, err := container().Validate(ctx, good, ""); err == nil {
		t.Error("allowed after the grace")
	}
}
