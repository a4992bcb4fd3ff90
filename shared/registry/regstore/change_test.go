package regstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore/regstoretest"
)

// A registry change the proxy could not publish is owed like a registration's events: listed
// pending beside registrations, backed off and marked published by its key, repeated puts one item.
func TestChangeItemsGoThroughTheOutbox(t *testing.T) {
	db := dynamodb.NewFromConfig(testenv.AWS(t))
	s := regstoretest.NewStore(t, db)
	ctx := t.Context()
	if err := s.Create(ctx, registration("reg", t0)); err != nil {
		t.Fatal(err)
	}
	ev := regstore.Event{EventID: "e1", DetailType: "model_version_alias.created", Detail: `{"event_id":"e1"}`}
	for range 2 {
		if err := s.PutChange(ctx, ev, t0); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutChange(ctx, regstore.Event{EventID: "e2"}, t0); err == nil {
		t.Error("a change without a detail was stored")
	}
	pending, err := s.ListPending(ctx, t0, 10)
	if err != nil {
		t.Fatal(err)
	}
	byPK := map[string]regstore.Registration{}
	for _, p := range pending {
		byPK[p.PK] = p
	}
	got, ok := byPK[regstore.ChangePK("e1")]
	if len(pending) != 2 || !ok || byPK[regstore.RegistrationPK("reg")].RegistrationID != "reg" {
		t.Fatalf("pending %+v", pending)
	}
	if len(got.Events) != 1 || got.Events[0].Status != regstore.EventPending || got.Events[0].Detail != ev.Detail ||
		got.CreatedAt != t0.Format(time.RFC3339Nano) {
		t.Fatalf("change item %+v", got)
	}

	next := t0.Add(time.Minute)
	if err := s.RecordFailureItem(ctx, got.PK, "unreachable", next); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.ListPending(ctx, t0, 10); len(p) != 1 || p[0].PK != regstore.RegistrationPK("reg") {
		t.Errorf("backed-off change still due: %+v", p)
	}
	if err := s.MarkPublishedItem(ctx, got.PK, []string{"e1"}); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.ListPending(ctx, next.Add(time.Hour), 10); len(p) != 1 || p[0].PK != regstore.RegistrationPK("reg") {
		t.Errorf("published change still listed: %+v", p)
	}
	if err := s.MarkPublishedItem(ctx, regstore.ChangePK("missing"), []string{"x"}); !errors.Is(err, regstore.ErrNotFound) {
		t.Errorf("missing: %v", err)
	}
}
