package regstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore/regstoretest"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// registration is a record owing both events, pending unless statuses say otherwise.
func registration(id string, next time.Time, statuses ...string) regstore.Registration {
	if len(statuses) == 0 {
		statuses = []string{regstore.EventPending, regstore.EventPending}
	}
	rec := regstore.Registration{
		RegistrationID: id, UserID: "u1", KeyID: "k1", ModelName: "hokusai-TOK", Version: "1",
		TokenID: "TOK", ModelID: "hokusai-TOK/1/TOK", RunID: "r1", CreatedAt: t0.Format(time.RFC3339),
		Response: `{"registration_id":"` + id + `"}`, NextAttemptAt: next.UnixMilli(),
	}
	for i, st := range statuses {
		e := regstore.Event{EventID: fmt.Sprintf("%s-e%d", id, i), DetailType: fmt.Sprintf("type-%d", i), Status: st}
		if st != regstore.EventNotEligible {
			e.Detail = `{"n":` + fmt.Sprint(i) + `}`
		} else {
			e.Reason = "not eligible"
		}
		rec.Events = append(rec.Events, e)
	}
	return rec
}

func statuses(rec *regstore.Registration) string {
	var s []string
	for _, e := range rec.Events {
		s = append(s, e.Status)
	}
	return strings.Join(s, ",")
}

// One moto server for the package's tests, a table per subtest.
func TestStore(t *testing.T) {
	db := dynamodb.NewFromConfig(testenv.AWS(t))

	t.Run("create, get, replace; the outbox attributes follow the events", func(t *testing.T) {
		s := regstoretest.NewStore(t, db)
		ctx := t.Context()
		rec := registration("a", t0)
		if err := s.Create(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if err := s.Create(ctx, rec); !errors.Is(err, regstore.ErrExists) {
			t.Errorf("second create: %v", err)
		}
		got, err := s.Get(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		if got.PK != "REG#a" || got.OutboxStatus != regstore.OutboxPending || got.NextAttemptAt != t0.UnixMilli() ||
			got.Events[1].Detail != `{"n":1}` || got.Response != rec.Response {
			t.Errorf("round trip: %+v", got)
		}
		done := registration("a", t0, regstore.EventPublished, regstore.EventNotEligible)
		if err := s.Replace(ctx, done); err != nil {
			t.Fatal(err)
		}
		got, _ = s.Get(ctx, "a")
		if got.OutboxStatus != "" || got.NextAttemptAt != 0 || got.Events[1].Reason != "not eligible" {
			t.Errorf("nothing pending, yet %+v", got)
		}
		if _, err := s.Get(ctx, "missing"); !errors.Is(err, regstore.ErrNotFound) {
			t.Errorf("missing: %v", err)
		}
	})

	t.Run("list pending: due records only, earliest first, up to the limit", func(t *testing.T) {
		s := regstoretest.NewStore(t, db)
		ctx := t.Context()
		for i, rec := range []regstore.Registration{
			registration("due-2", t0.Add(-time.Minute)),
			registration("due-1", t0.Add(-time.Hour)),
			registration("later", t0.Add(time.Minute)),
			registration("done", t0.Add(-time.Hour), regstore.EventPublished, regstore.EventPublished),
			registration("due-3", t0, regstore.EventPublished, regstore.EventPending),
		} {
			if err := s.Create(ctx, rec); err != nil {
				t.Fatalf("%d: %v", i, err)
			}
		}
		got, err := s.ListPending(ctx, t0, 10)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range got {
			ids = append(ids, r.RegistrationID)
		}
		if strings.Join(ids, ",") != "due-1,due-2,due-3" {
			t.Errorf("pending %v", ids)
		}
		if got, _ := s.ListPending(ctx, t0, 2); len(got) != 2 {
			t.Errorf("limit 2: %d", len(got))
		}
		if got[0].Events[0].Detail == "" {
			t.Error("the index must carry the whole record (details to publish)")
		}
	})

	t.Run("mark published: some, then all; unknown ids ignored", func(t *testing.T) {
		s := regstoretest.NewStore(t, db)
		ctx := t.Context()
		if err := s.Create(ctx, registration("m", t0)); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkPublished(ctx, "m", []string{"m-e0", "nope"}); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Get(ctx, "m")
		if statuses(got) != "published,pending" || got.OutboxStatus != regstore.OutboxPending {
			t.Errorf("after one: %s %q", statuses(got), got.OutboxStatus)
		}
		if err := s.MarkPublished(ctx, "m", []string{"m-e1", "m-e0"}); err != nil {
			t.Fatal(err)
		}
		got, _ = s.Get(ctx, "m")
		if statuses(got) != "published,published" || got.OutboxStatus != "" || got.NextAttemptAt != 0 {
			t.Errorf("after all: %s %q %d", statuses(got), got.OutboxStatus, got.NextAttemptAt)
		}
		if pending, _ := s.ListPending(ctx, t0.Add(time.Hour), 10); len(pending) != 0 {
			t.Errorf("still listed: %+v", pending)
		}
		if err := s.MarkPublished(ctx, "m", []string{"m-e1"}); err != nil {
			t.Errorf("repeat: %v", err)
		}
		if err := s.MarkPublished(ctx, "missing", []string{"x"}); !errors.Is(err, regstore.ErrNotFound) {
			t.Errorf("missing: %v", err)
		}
	})

	t.Run("concurrent marks of different events leave nothing pending", func(t *testing.T) {
		s := regstoretest.NewStore(t, db)
		ctx := t.Context()
		for round := range 5 {
			id := fmt.Sprintf("c%d", round)
			if err := s.Create(ctx, registration(id, t0)); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i := range 2 {
				wg.Go(func() { errs[i] = s.MarkPublished(ctx, id, []string{fmt.Sprintf("%s-e%d", id, i)}) })
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			got, _ := s.Get(ctx, id)
			if statuses(got) != "published,published" || got.OutboxStatus != "" {
				t.Fatalf("round %d: %s outbox %q", round, statuses(got), got.OutboxStatus)
			}
		}
	})

	t.Run("an update that raced with another write is redone on a fresh read", func(t *testing.T) {
		s := regstoretest.NewStore(t, db)
		ctx := t.Context()
		if err := s.Create(ctx, registration("r", t0)); err != nil {
			t.Fatal(err)
		}
		// Between the store's read and its write, another writer publishes event 1: the write
		// must not land on the stale read (which would leave outbox_status behind).
		racy := regstore.New(&interleaved{DB: regstore.DBOf(s), before: func() {
			if err := s.MarkPublished(ctx, "r", []string{"r-e1"}); err != nil {
				t.Error(err)
			}
		}}, regstore.TableOf(s))
		if err := racy.MarkPublished(ctx, "r", []string{"r-e0"}); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Get(ctx, "r")
		if statuses(got) != "published,published" || got.OutboxStatus != "" {
			t.Errorf("%s outbox %q", statuses(got), got.OutboxStatus)
		}
	})

	t.Run("record failure counts attempts on pending events only", func(t *testing.T) {
		s := regstoretest.NewStore(t, db)
		ctx := t.Context()
		if err := s.Create(ctx, registration("f", t0, regstore.EventPublished, regstore.EventPending)); err != nil {
			t.Fatal(err)
		}
		next := t0.Add(2 * time.Minute)
		for range 2 {
			if err := s.RecordFailure(ctx, "f", "throttled: "+strings.Repeat("x", 5000), next); err != nil {
				t.Fatal(err)
			}
		}
		got, _ := s.Get(ctx, "f")
		if got.Events[0].Attempts != 0 || got.Events[1].Attempts != 2 || got.NextAttemptAt != next.UnixMilli() ||
			!strings.HasPrefix(got.Events[1].LastError, "throttled: ") || len(got.Events[1].LastError) > 1000 || got.Events[0].LastError != "" {
			t.Errorf("%+v", got)
		}
		if pending, _ := s.ListPending(ctx, t0.Add(time.Minute), 10); len(pending) != 0 {
			t.Error("listed before its next attempt")
		}
		if pending, _ := s.ListPending(ctx, next, 10); len(pending) != 1 {
			t.Error("not listed at its next attempt")
		}
		if err := s.RecordFailure(ctx, "missing", "x", next); !errors.Is(err, regstore.ErrNotFound) {
			t.Errorf("missing: %v", err)
		}
	})

	t.Run("idempotency keys", func(t *testing.T) {
		s := regstoretest.NewStore(t, db)
		ctx := t.Context()
		pk := regstore.IdempotencyPK("u1", "key-1")
		claim := func(owner, hash string, now time.Time) (*regstore.Idempotency, error) {
			return s.ClaimIdempotency(ctx, regstore.Idempotency{
				PK: pk, UserID: "u1", BodyHash: hash, RegistrationID: "reg-" + owner, Owner: owner,
				LeaseUntil: now.Add(30 * time.Second).UnixMilli(),
			}, now)
		}
		if held, err := claim("a", "h1", t0); held != nil || err != nil {
			t.Fatalf("first claim: %+v %v", held, err)
		}
		held, err := claim("b", "h2", t0)
		if err != nil || held == nil || held.Owner != "a" || held.BodyHash != "h1" || held.RegistrationID != "reg-a" || held.Status != regstore.IdemInProgress {
			t.Fatalf("second claim: %+v %v", held, err)
		}
		if held.Stale(t0) || !held.Stale(t0.Add(31*time.Second)) {
			t.Error("lease")
		}
		if _, err := s.TakeOverIdempotency(ctx, pk, "a", "b", t0.Add(time.Minute), t0); !errors.Is(err, regstore.ErrConflict) {
			t.Errorf("take over a live lease: %v", err)
		}
		if err := s.CompleteIdempotency(ctx, pk, "b"); !errors.Is(err, regstore.ErrConflict) {
			t.Errorf("complete by a stranger: %v", err)
		}
		later := t0.Add(31 * time.Second)
		if err := s.MarkCreateSent(ctx, pk, "a", t0.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		now, err := s.TakeOverIdempotency(ctx, pk, "a", "b", later.Add(time.Minute), later)
		if err != nil {
			t.Fatalf("take over a stale lease: %v", err)
		}
		if now.Owner != "b" || !now.CreateSent || !now.SentAt().Equal(t0.Add(time.Second).Truncate(time.Millisecond)) ||
			now.RegistrationID != "reg-a" || now.LeaseUntil != later.Add(time.Minute).UnixMilli() {
			t.Errorf("taken over: %+v", now)
		}
		if err := s.MarkCreateSent(ctx, pk, "a", later); !errors.Is(err, regstore.ErrConflict) {
			t.Errorf("mark by the owner taken over from: %v", err)
		}
		if _, err := s.TakeOverIdempotency(ctx, pk, "a", "c", later.Add(time.Minute), later); !errors.Is(err, regstore.ErrConflict) {
			t.Errorf("second take over: %v", err)
		}
		if err := s.LeaseIdempotency(ctx, pk, "a", later); !errors.Is(err, regstore.ErrConflict) {
			t.Errorf("lease by the old owner: %v", err)
		}
		if err := s.CompleteIdempotency(ctx, pk, "b"); err != nil {
			t.Fatal(err)
		}
		if held, _ := claim("c", "h1", later); held == nil || held.Status != regstore.IdemCompleted || held.Owner != "b" {
			t.Errorf("completed key: %+v", held)
		}
		if err := s.ReleaseIdempotency(ctx, pk, "b"); !errors.Is(err, regstore.ErrConflict) {
			t.Errorf("release after completion: %v", err)
		}
		// A day later the key is free, whether or not DynamoDB has deleted it yet.
		if held, err := claim("d", "h3", t0.Add(regstore.IdempotencyWindow)); held != nil || err != nil {
			t.Errorf("expired key: %+v %v", held, err)
		}
		// A released key is free at once, for any body.
		if err := s.ReleaseIdempotency(ctx, pk, "d"); err != nil {
			t.Fatal(err)
		}
		if held, err := claim("e", "h4", t0.Add(regstore.IdempotencyWindow)); held != nil || err != nil {
			t.Errorf("released key: %+v %v", held, err)
		}
		if !strings.HasPrefix(pk, "IDEM#u1#") || strings.Contains(pk, "key-1") || pk == regstore.IdempotencyPK("u2", "key-1") {
			t.Errorf("key %s", pk)
		}
	})

	t.Run("concurrent claims: exactly one wins", func(t *testing.T) {
		s := regstoretest.NewStore(t, db)
		ctx := t.Context()
		pk := regstore.IdempotencyPK("u1", "race")
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for i := range 20 {
			wg.Go(func() {
				held, err := s.ClaimIdempotency(ctx, regstore.Idempotency{PK: pk, UserID: "u1", BodyHash: "h",
					Owner: fmt.Sprint(i), LeaseUntil: t0.Add(time.Minute).UnixMilli()}, t0)
				if err != nil {
					t.Error(err)
					return
				}
				if held == nil {
					mu.Lock()
					won++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if won != 1 {
			t.Errorf("%d claims won", won)
		}
	})

	t.Run("owners: the first claim wins, names compare case-folded, never expire", func(t *testing.T) {
		s := regstoretest.NewStore(t, db)
		ctx := t.Context()
		model := regstore.ModelOwnerPK("Sales-Model")
		if owner, err := s.OwnerOf(ctx, model); owner != "" || err != nil {
			t.Fatalf("before any claim: %q %v", owner, err)
		}
		if owner, err := s.ClaimOwner(ctx, model, "u1", "Sales-Model", "", t0); owner != "u1" || err != nil {
			t.Fatalf("first claim: %q %v", owner, err)
		}
		if owner, err := s.OwnerOf(ctx, regstore.ModelOwnerPK("SALES-model")); owner != "u1" || err != nil {
			t.Errorf("read back: %q %v", owner, err)
		}
		if owner, err := s.ClaimOwner(ctx, model, "u1", "Sales-Model", "", t0.Add(time.Hour)); owner != "u1" || err != nil {
			t.Errorf("owner's repeat: %q %v", owner, err)
		}
		for _, name := range []string{"Sales-Model", "sales-model", "SALES-MODEL", "ſales-model"} {
			owner, err := s.ClaimOwner(ctx, regstore.ModelOwnerPK(name), "u2", name, "", t0)
			if owner != "u1" || !errors.Is(err, regstore.ErrOwned) {
				t.Errorf("%s by another user: %q %v", name, owner, err)
			}
		}
		v1 := regstore.VersionOwnerPK("Sales-Model", "1")
		if owner, err := s.ClaimOwner(ctx, v1, "u2", "Sales-Model", "1", t0); owner != "u2" || err != nil {
			t.Errorf("a version is claimed on its own: %q %v", owner, err)
		}
		if v1 == regstore.VersionOwnerPK("Sales-Model", "11") || regstore.VersionOwnerPK("a#1", "2") == regstore.VersionOwnerPK("a", "1#2") {
			t.Error("version keys collide")
		}
	})

	t.Run("owners: of concurrent claims exactly one wins", func(t *testing.T) {
		s := regstoretest.NewStore(t, db)
		ctx := t.Context()
		pk := regstore.ModelOwnerPK("race")
		var wg sync.WaitGroup
		owners := make([]string, 20)
		for i := range owners {
			wg.Go(func() {
				owner, err := s.ClaimOwner(ctx, pk, fmt.Sprint("u", i), "race", "", t0)
				if err != nil && !errors.Is(err, regstore.ErrOwned) {
					t.Error(err)
				}
				owners[i] = owner
			})
		}
		wg.Wait()
		for _, o := range owners {
			if o != owners[0] {
				t.Fatalf("owners %v", owners)
			}
		}
	})

	t.Run("replace own: another user's record stays as it is", func(t *testing.T) {
		s := regstoretest.NewStore(t, db)
		ctx := t.Context()
		rec := registration("own", t0)
		if err := s.ReplaceOwn(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if err := s.ReplaceOwn(ctx, rec); err != nil {
			t.Errorf("owner's repeat: %v", err)
		}
		forged := registration("own", t0)
		forged.UserID, forged.KeyID = "intruder", "k9"
		if err := s.ReplaceOwn(ctx, forged); !errors.Is(err, regstore.ErrOwned) {
			t.Errorf("another user's: %v", err)
		}
		if got, _ := s.Get(ctx, "own"); got.UserID != "u1" || got.KeyID != "k1" {
			t.Errorf("record now %+v", got)
		}
	})

}

// interleaved runs before once, just before the first UpdateItem goes out.
type interleaved struct {
	regstore.DB
	before func()
	once   sync.Once
}

func (i *interleaved) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	i.once.Do(i.before)
	return i.DB.UpdateItem(ctx, in, o...)
}
