package uisession_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/uisession"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"
)

// TestStoreWithDynamoDB runs the store against moto, with the table the stack defines.
func TestStoreWithDynamoDB(t *testing.T) {
	ctx := context.Background()
	db := dynamodb.NewFromConfig(testenv.AWS(t))
	const table = "sessions"
	if _, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(uisession.PK), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(uisession.PK), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	}); err != nil {
		t.Fatal(err)
	}
	s := uisession.NewStore(db, table)
	now := time.Now().Truncate(time.Second)
	b := uisession.Binding{KeyHash: uisession.Digest("k"), UserID: "u1", Expires: now.Add(time.Minute)}

	t.Run("a link is consumed once, by one of racing requests", func(t *testing.T) {
		tok, _ := uisession.NewLinkToken()
		if err := s.PutLink(ctx, tok, b); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := s.ConsumeLink(ctx, tok, now)
				if err == nil {
					mu.Lock()
					wins++
					mu.Unlock()
					if got.UserID != "u1" || got.KeyHash != b.KeyHash || !got.Expires.Equal(b.Expires) {
						t.Errorf("binding %+v", got)
					}
				} else if !errors.Is(err, uisession.ErrInvalid) {
					t.Errorf("consume: %v", err)
				}
			}()
		}
		wg.Wait()
		if wins != 1 {
			t.Errorf("%d requests consumed the link, want 1", wins)
		}
	})
	t.Run("an expired link is refused and gone", func(t *testing.T) {
		tok, _ := uisession.NewLinkToken()
		_ = s.PutLink(ctx, tok, b)
		if _, err := s.ConsumeLink(ctx, tok, b.Expires); !errors.Is(err, uisession.ErrInvalid) {
			t.Errorf("at expiry: %v", err)
		}
		if _, err := s.ConsumeLink(ctx, tok, now); !errors.Is(err, uisession.ErrInvalid) {
			t.Errorf("after: %v", err)
		}
	})
	t.Run("a link is not a session and a session not a link", func(t *testing.T) {
		tok, _ := uisession.NewLinkToken()
		_ = s.PutLink(ctx, tok, b)
		if _, err := s.Session(ctx, tok, now); !errors.Is(err, uisession.ErrInvalid) {
			t.Errorf("link read as a session: %v", err)
		}
		_ = s.PutSession(ctx, "sid-1", b)
		if _, err := s.ConsumeLink(ctx, "sid-1", now); !errors.Is(err, uisession.ErrInvalid) {
			t.Errorf("session consumed as a link: %v", err)
		}
	})
	t.Run("sessions: read, expiry, end", func(t *testing.T) {
		if err := s.PutSession(ctx, "sid-2", b); err != nil {
			t.Fatal(err)
		}
		if err := s.PutSession(ctx, "sid-2", b); err == nil {
			t.Error("a second put under the same id overwrote the first")
		}
		got, err := s.Session(ctx, "sid-2", now)
		if err != nil || got.UserID != "u1" {
			t.Fatalf("%+v %v", got, err)
		}
		if _, err := s.Session(ctx, "sid-2", b.Expires); !errors.Is(err, uisession.ErrInvalid) {
			t.Errorf("at expiry: %v", err)
		}
		if err := s.EndSession(ctx, "sid-2"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Session(ctx, "sid-2", now); !errors.Is(err, uisession.ErrInvalid) {
			t.Errorf("after sign-out: %v", err)
		}
		if err := s.EndSession(ctx, "sid-2"); err != nil {
			t.Errorf("ending twice: %v", err)
		}
	})
	t.Run("the table never holds a secret part", func(t *testing.T) {
		out, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table)})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range out.Items {
			pk := it[uisession.PK].(*types.AttributeValueMemberS).Value
			if len(pk) < 64 || pk[len(pk)-64:] == "" || containsAny(pk, "sid-1", "sid-2", "hsl_") {
				t.Errorf("pk %q", pk)
			}
		}
	})
}

func containsAny(s string, subs ...string) bool {
	for _, x := range subs {
		if len(x) > 0 && len(s) >= len(x) {
			for i := 0; i+len(x) <= len(s); i++ {
				if s[i:i+len(x)] == x {
					return true
				}
			}
		}
	}
	return false
}
