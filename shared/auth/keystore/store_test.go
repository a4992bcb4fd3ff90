package keystore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/keystore"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/keystore/keystoretest"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func record(n int, user string, created time.Time) keystore.Record {
	return keystore.Record{
		KeyHash:       fmt.Sprintf("%064x", n),
		KeyID:         fmt.Sprintf("key-%d", n),
		UserID:        user,
		Scopes:        []string{"model:read"},
		Status:        keystore.StatusActive,
		CreatedAt:     created,
		DisplayPrefix: "hk_test_abcd",
	}
}

// pagedDB forces one item per page, so every listing must follow LastEvaluatedKey to be complete.
type pagedDB struct{ keystore.DB }

func (p pagedDB) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	in.Limit = aws.Int32(1)
	return p.DB.Query(ctx, in, o...)
}

func (p pagedDB) Scan(ctx context.Context, in *dynamodb.ScanInput, o ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	in.Limit = aws.Int32(1)
	return p.DB.Scan(ctx, in, o...)
}

// The store against moto, with the table laid out as the stack lays it out. One server, a table
// per subtest.
func TestStoreOnDynamoDB(t *testing.T) {
	db := dynamodb.NewFromConfig(testenv.AWS(t))
	tables := 0
	newStore := func(t *testing.T) (*keystore.Store, string) {
		tables++
		name := fmt.Sprintf("keys-%d", tables)
		return keystoretest.NewStore(t, db, name), name
	}

	t.Run("create then get round-trips and omits absent times", func(t *testing.T) {
		s, table := newStore(t)
		ctx := t.Context()
		recs := map[string]keystore.Record{"no expiry": record(1, "u1", t0), "full": record(2, "u1", t0.Add(time.Nanosecond))}
		full := recs["full"]
		full.Email, full.Description = "a@example.com", "ci"
		full.ExpiresAt = t0.Add(24 * time.Hour).In(time.FixedZone("CET", 3600))
		recs["full"] = full
		for name, rec := range recs {
			t.Run(name, func(t *testing.T) {
				if err := s.Create(ctx, rec); err != nil {
					t.Fatal(err)
				}
				got, err := s.Get(ctx, rec.KeyHash)
				if err != nil || got == nil {
					t.Fatalf("Get = %v, %v", got, err)
				}
				assertSame(t, *got, rec)
				item := rawItem(t, db, table, rec.KeyHash)
				for attr, want := range map[string]bool{
					"expires_at": !rec.ExpiresAt.IsZero(), "revoked_at": false,
					"email": rec.Email != "", "description": rec.Description != "",
				} {
					if _, ok := item[attr]; ok != want {
						t.Errorf("attribute %s present = %v, want %v", attr, ok, want)
					}
				}
				created := item["created_at"].(*types.AttributeValueMemberS).Value
				if want := rec.CreatedAt.UTC().Format("2006-01-02T15:04:05.000000000Z"); created != want {
					t.Errorf("created_at = %q, want %q", created, want)
				}
			})
		}
	})

	t.Run("create refuses a duplicate digest and incomplete records", func(t *testing.T) {
		s, _ := newStore(t)
		ctx := t.Context()
		rec := record(1, "u1", t0)
		if err := s.Create(ctx, rec); err != nil {
			t.Fatal(err)
		}
		dup := rec
		dup.KeyID = "other"
		if err := s.Create(ctx, dup); !errors.Is(err, keystore.ErrExists) {
			t.Errorf("duplicate Create = %v, want ErrExists", err)
		}
		for name, mutate := range map[string]func(*keystore.Record){
			"no hash":    func(r *keystore.Record) { r.KeyHash = "" },
			"no key id":  func(r *keystore.Record) { r.KeyID = "" },
			"no user id": func(r *keystore.Record) { r.UserID = "" },
			"no created": func(r *keystore.Record) { r.CreatedAt = time.Time{} },
		} {
			bad := record(2, "u1", t0)
			mutate(&bad)
			if err := s.Create(ctx, bad); err == nil || errors.Is(err, keystore.ErrExists) {
				t.Errorf("%s: Create = %v, want a validation error", name, err)
			}
		}
	})

	t.Run("lookups of absent records are nil without error", func(t *testing.T) {
		s, _ := newStore(t)
		ctx := t.Context()
		if got, err := s.Get(ctx, "absent"); got != nil || err != nil {
			t.Errorf("Get = %v, %v", got, err)
		}
		for _, id := range []string{"absent", ""} {
			if got, err := s.ByID(ctx, id); got != nil || err != nil {
				t.Errorf("ByID(%q) = %v, %v", id, got, err)
			}
		}
		if got, err := s.ListByUser(ctx, "nobody"); len(got) != 0 || err != nil {
			t.Errorf("ListByUser = %v, %v", got, err)
		}
	})

	t.Run("listings are complete across pages and by_user is newest first", func(t *testing.T) {
		s, table := newStore(t)
		ctx := t.Context()
		// Whole seconds next to fractions: the case a trimmed RFC3339Nano sort key gets wrong.
		created := []time.Time{t0, t0.Add(100 * time.Millisecond), t0.Add(time.Second), t0.Add(-time.Hour), t0.Add(time.Nanosecond)}
		for i, c := range created {
			if err := s.Create(ctx, record(i, "u1", c)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Create(ctx, record(99, "u2", t0)); err != nil {
			t.Fatal(err)
		}
		paged := keystore.New(pagedDB{db}, table)
		got, err := paged.ListByUser(ctx, "u1")
		if err != nil {
			t.Fatal(err)
		}
		want := slices.SortedFunc(slices.Values(created), func(a, b time.Time) int { return b.Compare(a) })
		if len(got) != len(want) {
			t.Fatalf("ListByUser returned %d records, want %d", len(got), len(want))
		}
		for i := range got {
			if !got[i].CreatedAt.Equal(want[i]) {
				t.Errorf("record %d created %s, want %s", i, got[i].CreatedAt, want[i])
			}
		}
		all, err := paged.ListAll(ctx)
		if err != nil || len(all) != len(created)+1 {
			t.Errorf("ListAll = %d records, %v; want %d", len(all), err, len(created)+1)
		}
		byID, err := paged.ByID(ctx, "key-3")
		if err != nil || byID == nil || byID.KeyHash != record(3, "", t0).KeyHash {
			t.Errorf("ByID(key-3) = %+v, %v", byID, err)
		}
	})

	t.Run("revoke is conditional and keeps the first time", func(t *testing.T) {
		s, _ := newStore(t)
		ctx := t.Context()
		rec := record(1, "u1", t0)
		if err := s.Create(ctx, rec); err != nil {
			t.Fatal(err)
		}
		first := t0.Add(time.Hour)
		for _, at := range []time.Time{first, first.Add(time.Hour)} {
			if err := s.Revoke(ctx, rec.KeyHash, at); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Get(ctx, rec.KeyHash)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != keystore.StatusRevoked || !got.RevokedAt.Equal(first) || got.Usable(first) {
			t.Errorf("after revoke: status %s, revoked_at %s, usable %v", got.Status, got.RevokedAt, got.Usable(first))
		}
		if err := s.Revoke(ctx, "absent", first); !errors.Is(err, keystore.ErrNotFound) {
			t.Errorf("Revoke(absent) = %v, want ErrNotFound", err)
		}
	})

	t.Run("a cancelled context is an error, not an empty result", func(t *testing.T) {
		s, _ := newStore(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := s.Get(ctx, "x"); err == nil || !strings.Contains(err.Error(), "get key") {
			t.Errorf("Get = %v, want a wrapped error", err)
		}
		if _, err := s.ListAll(ctx); err == nil {
			t.Error("ListAll succeeded on a cancelled context")
		}
	})
}

func assertSame(t *testing.T, got, want keystore.Record) {
	t.Helper()
	times := [][2]time.Time{{got.CreatedAt, want.CreatedAt}, {got.ExpiresAt, want.ExpiresAt}, {got.RevokedAt, want.RevokedAt}}
	for _, p := range times {
		if !p[0].Equal(p[1]) {
			t.Errorf("time %s, want %s", p[0], p[1])
		}
	}
	got.CreatedAt, got.ExpiresAt, got.RevokedAt = time.Time{}, time.Time{}, time.Time{}
	want.CreatedAt, want.ExpiresAt, want.RevokedAt = time.Time{}, time.Time{}, time.Time{}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("record\n got %+v\nwant %+v", got, want)
	}
}

func rawItem(t *testing.T, db *dynamodb.Client, table, hash string) map[string]types.AttributeValue {
	t.Helper()
	out, err := db.GetItem(t.Context(), &dynamodb.GetItemInput{
		TableName: aws.String(table),
		Key:       map[string]types.AttributeValue{keystore.HashAttr: &types.AttributeValueMemberS{Value: hash}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}
