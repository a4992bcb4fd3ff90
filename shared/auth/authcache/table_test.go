package authcache_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/authcache"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
)

// fakeDB keeps the last item put, by key_hash.
type fakeDB struct {
	items      map[string]map[string]types.AttributeValue
	table      string
	getErr     error
	putErr     error
	gets, puts int
}

func (f *fakeDB) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	f.gets++
	f.table = *in.TableName
	if f.getErr != nil {
		return nil, f.getErr
	}
	return &dynamodb.GetItemOutput{Item: f.items[in.Key["key_hash"].(*types.AttributeValueMemberS).Value]}, nil
}

func (f *fakeDB) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	f.puts++
	f.table = *in.TableName
	if f.putErr != nil {
		return nil, f.putErr
	}
	if f.items == nil {
		f.items = map[string]map[string]types.AttributeValue{}
	}
	f.items[in.Item["key_hash"].(*types.AttributeValueMemberS).Value] = in.Item
	return &dynamodb.PutItemOutput{}, nil
}

func number(t *testing.T, av types.AttributeValue) int64 {
	t.Helper()
	n, ok := av.(*types.AttributeValueMemberN)
	if !ok {
		t.Fatalf("%T is not a number", av)
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestTableTTLAttributeIsExpiryPlusGrace(t *testing.T) {
	const grace = 5 * time.Minute
	for _, tc := range []struct {
		name    string
		entry   authcache.Entry
		wantTTL int64
	}{
		{"valid: expiry + grace", valid("u", t0.Add(time.Minute)), t0.Add(time.Minute + grace).Unix()},
		{"valid, sub-second expiry rounds up", valid("u", t0.Add(1500*time.Millisecond)), t0.Add(2*time.Second + grace).Unix()},
		{"invalid: no grace to keep", authcache.Entry{ExpiresAt: t0.Add(5 * time.Second)}, t0.Add(5 * time.Second).Unix()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := &fakeDB{}
			tbl := authcache.NewTable(db, "cache", grace)
			if err := tbl.Put(context.Background(), "digest", tc.entry); err != nil {
				t.Fatal(err)
			}
			it := db.items["digest"]
			if got := number(t, it[authcache.TTLAttr]); got != tc.wantTTL {
				t.Errorf("ttl = %d, want %d (expires_at + grace)", got, tc.wantTTL)
			}
			if got := number(t, it["expires_at"]); got != tc.entry.ExpiresAt.UnixMilli() {
				t.Errorf("expires_at = %d, want %d", got, tc.entry.ExpiresAt.UnixMilli())
			}
			if db.table != "cache" {
				t.Errorf("table %q", db.table)
			}
		})
	}
}

func TestTableRoundTrip(t *testing.T) {
	db := &fakeDB{}
	tbl := authcache.NewTable(db, "cache", time.Minute)
	want := authcache.Entry{Valid: true, ExpiresAt: t0.Add(time.Minute), Principal: principal.Principal{
		UserID: "u1", KeyID: "k1", Email: "a@b.c", ServiceID: "platform", Scopes: []string{"model:read", "admin"}, Admin: true}}
	ctx := context.Background()
	if err := tbl.Put(ctx, "d1", want); err != nil {
		t.Fatal(err)
	}
	got, ok, err := tbl.Get(ctx, "d1")
	if err != nil || !ok {
		t.Fatalf("get: %v %v", ok, err)
	}
	if !got.ExpiresAt.Equal(want.ExpiresAt) || got.Valid != want.Valid || got.Principal.UserID != "u1" || got.Principal.KeyID != "k1" ||
		got.Principal.Email != "a@b.c" || got.Principal.ServiceID != "platform" || !got.Principal.Admin || !slices.Equal(got.Principal.Scopes, want.Principal.Scopes) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if _, ok, err := tbl.Get(ctx, "absent"); ok || err != nil {
		t.Errorf("absent: %v %v", ok, err)
	}
	if err := tbl.Put(ctx, "neg", authcache.Entry{ExpiresAt: t0}); err != nil {
		t.Fatal(err)
	}
	if neg, ok, _ := tbl.Get(ctx, "neg"); !ok || neg.Valid {
		t.Errorf("negative entry: %+v %v", neg, ok)
	}
}

func TestTableDamagedItemsAreAbsent(t *testing.T) {
	db := &fakeDB{items: map[string]map[string]types.AttributeValue{
		"no-expiry": {"key_hash": &types.AttributeValueMemberS{Value: "no-expiry"}, "valid": &types.AttributeValueMemberBOOL{Value: true}, "user_id": &types.AttributeValueMemberS{Value: "u"}},
		"no-user":   {"key_hash": &types.AttributeValueMemberS{Value: "no-user"}, "valid": &types.AttributeValueMemberBOOL{Value: true}, "expires_at": &types.AttributeValueMemberN{Value: "99999999999999"}},
		"wrong":     {"key_hash": &types.AttributeValueMemberS{Value: "wrong"}, "expires_at": &types.AttributeValueMemberS{Value: "soon"}},
	}}
	tbl := authcache.NewTable(db, "cache", 0)
	for _, d := range []string{"no-expiry", "no-user"} {
		if e, ok, err := tbl.Get(context.Background(), d); ok || err != nil {
			t.Errorf("%s: %+v %v %v", d, e, ok, err)
		}
	}
	if _, _, err := tbl.Get(context.Background(), "wrong"); err == nil {
		t.Error("an undecodable item is an error")
	}
}

func TestTableErrorsAreWrapped(t *testing.T) {
	boom := errors.New("boom")
	tbl := authcache.NewTable(&fakeDB{getErr: boom, putErr: boom}, "cache", 0)
	if _, _, err := tbl.Get(context.Background(), "d"); !errors.Is(err, boom) {
		t.Errorf("get: %v", err)
	}
	if err := tbl.Put(context.Background(), "d", valid("u", t0)); !errors.Is(err, boom) {
		t.Errorf("put: %v", err)
	}
}
