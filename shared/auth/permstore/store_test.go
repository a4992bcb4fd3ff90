package permstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/permstore"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func model(name string) permissions.Resource {
	return permissions.Resource{Kind: permissions.RegisteredModel, ID: name}
}

func experiment(id string) permissions.Resource {
	return permissions.Resource{Kind: permissions.Experiment, ID: id}
}

func pattern(t *testing.T, s string) permissions.Pattern {
	t.Helper()
	p, err := permissions.ParsePattern(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// counting is the moto client, counting the calls the store makes.
type counting struct {
	*dynamodb.Client
	calls sync.Map // operation → *atomic.Int64
}

func (c *counting) count(op string) {
	v, _ := c.calls.LoadOrStore(op, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func (c *counting) total() map[string]int64 {
	out := map[string]int64{}
	c.calls.Range(func(k, v any) bool { out[k.(string)] = v.(*atomic.Int64).Load(); return true })
	return out
}

func (c *counting) reset() { c.calls.Clear() }

func (c *counting) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.count("GetItem")
	return c.Client.GetItem(ctx, in, o...)
}

func (c *counting) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.count("PutItem")
	return c.Client.PutItem(ctx, in, o...)
}

func (c *counting) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.count("UpdateItem")
	return c.Client.UpdateItem(ctx, in, o...)
}

func (c *counting) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	c.count("BatchGetItem")
	return c.Client.BatchGetItem(ctx, in, o...)
}

func (c *counting) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.count("TransactWriteItems")
	return c.Client.TransactWriteItems(ctx, in, o...)
}

// newStore creates a table laid out as the registrations table (partition key pk only) in moto.
func newStore(t *testing.T) (*permstore.Store, *counting, string) {
	t.Helper()
	db := dynamodb.NewFromConfig(testenv.AWS(t))
	table := fmt.Sprintf("permissions-%d", time.Now().UnixNano())
	_, err := db.CreateTable(t.Context(), &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := &counting{Client: db}
	return permstore.New(c, table), c, table
}

// putModelOwner writes an owner item as the registry (regstore.ClaimOwner) writes it.
func putModelOwner(t *testing.T, db *dynamodb.Client, table, name, userID string) {
	t.Helper()
	_, err := db.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]types.AttributeValue{
		"pk":         &types.AttributeValueMemberS{Value: permstore.ModelOwnerPK(name)},
		"user_id":    &types.AttributeValueMemberS{Value: userID},
		"model_name": &types.AttributeValueMemberS{Value: name},
		"created_at": &types.AttributeValueMemberS{Value: t0.Format(time.RFC3339Nano)},
	}})
	if err != nil {
		t.Fatal(err)
	}
}

func grantsString(gs []permissions.Grant) string {
	var s []string
	for _, g := range gs {
		p := ""
		if g.Pattern {
			p = "pattern "
		}
		s = append(s, fmt.Sprintf("%s%s:%s %s=%s", p, g.Kind, g.Target, g.UserID, g.Level))
	}
	return strings.Join(s, "; ")
}

func TestFacts(t *testing.T) {
	t.Run("one BatchGetItem, whatever is stored", func(t *testing.T) {
		s, db, table := newStore(t)
		ctx := t.Context()
		if f, err := s.Facts(ctx, model("nothing-stored")); err != nil || f.Owner != "" || len(f.Grants) != 0 {
			t.Fatalf("Facts of an unknown model = %+v, %v", f, err)
		}
		putModelOwner(t, db.Client, table, "hokusai-XRAY-chest", "user-a")
		if err := s.SetGrant(ctx, model("hokusai-xray-chest"), "user-b", permissions.Edit); err != nil {
			t.Fatal(err)
		}
		if err := s.SetPatternGrant(ctx, pattern(t, "registered_model:hokusai-XRAY*"), "user-c", permissions.Use); err != nil {
			t.Fatal(err)
		}
		if err := s.SetPatternGrant(ctx, pattern(t, "registered_model:hokusai-CT*"), "user-c", permissions.Manage); err != nil {
			t.Fatal(err)
		}
		if err := s.SetPatternGrant(ctx, pattern(t, "experiment:*"), "user-c", permissions.Manage); err != nil {
			t.Fatal(err)
		}
		db.reset()
		f, err := s.Facts(ctx, model("HOKUSAI-XRAY-CHEST")) // as MySQL reads it: the same model
		if err != nil {
			t.Fatal(err)
		}
		if calls := db.total(); len(calls) != 1 || calls["BatchGetItem"] != 1 {
			t.Errorf("Facts made %v, want one BatchGetItem", calls)
		}
		if f.Owner != "user-a" {
			t.Errorf("owner %q, want user-a", f.Owner)
		}
		want := "registered_model:HOKUSAI-XRAY-CHEST user-b=EDIT; pattern registered_model:hokusai-XRAY* user-c=USE"
		if got := grantsString(f.Grants); got != want {
			t.Errorf("grants\n got %s\nwant %s", got, want)
		}
		policy := permissions.Policy{Default: permissions.Read}
		for user, level := range map[string]permissions.Level{
			"user-a": permissions.Manage, "user-b": permissions.Edit, "user-c": permissions.Use, "user-d": permissions.Read,
		} {
			if got := policy.Effective(permissions.Caller{UserID: user}, model("hokusai-XRAY-chest"), f); got != level {
				t.Errorf("%s holds %v, want %v", user, got, level)
			}
		}
	})

	t.Run("experiments: the owner claimed, grants by id", func(t *testing.T) {
		s, _, _ := newStore(t)
		ctx := t.Context()
		if owner, err := s.ClaimExperimentOwner(ctx, "7", "user-a", t0); err != nil || owner != "user-a" {
			t.Fatalf("claim = %q, %v", owner, err)
		}
		if err := s.SetGrant(ctx, experiment("7"), "user-b", permissions.Read); err != nil {
			t.Fatal(err)
		}
		f, err := s.Facts(ctx, experiment("7"))
		if err != nil || f.Owner != "user-a" || grantsString(f.Grants) != "experiment:7 user-b=READ" {
			t.Fatalf("Facts = %+v, %v", f, err)
		}
		// A model named like the experiment's id shares nothing with it.
		if f, err := s.Facts(ctx, model("7")); err != nil || f.Owner != "" || len(f.Grants) != 0 {
			t.Fatalf("Facts of model 7 = %+v, %v", f, err)
		}
	})

	t.Run("a bad resource reads nothing", func(t *testing.T) {
		s, db, _ := newStore(t)
		for _, r := range []permissions.Resource{{Kind: "run", ID: "x"}, model(""), model("a\x00b"), model(strings.Repeat("m", 2000))} {
			if _, err := s.Facts(t.Context(), r); !errors.Is(err, permstore.ErrInvalid) {
				t.Errorf("Facts(%+v) = %v, want ErrInvalid", r, err)
			}
		}
		if calls := db.total(); len(calls) != 0 {
			t.Errorf("bad resources made %v", calls)
		}
	})
}

func TestClaimExperimentOwner(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := t.Context()
	if owner, err := s.ClaimExperimentOwner(ctx, "42", "user-a", t0); err != nil || owner != "user-a" {
		t.Fatalf("first claim = %q, %v", owner, err)
	}
	if owner, err := s.ClaimExperimentOwner(ctx, "42", "user-a", t0.Add(time.Hour)); err != nil || owner != "user-a" {
		t.Fatalf("the owner's repeated claim = %q, %v", owner, err)
	}
	if owner, err := s.ClaimExperimentOwner(ctx, "42", "user-b", t0); !errors.Is(err, permstore.ErrOwned) || owner != "user-a" {
		t.Fatalf("another user's claim = %q, %v; want user-a, ErrOwned", owner, err)
	}
	if _, err := s.ClaimExperimentOwner(ctx, "43", "", t0); !errors.Is(err, permstore.ErrInvalid) {
		t.Fatalf("a claim without user = %v", err)
	}

	// Of racing claims exactly one wins, and every loser learns who.
	var wg sync.WaitGroup
	owners := make([]string, 8)
	errs := make([]error, 8)
	for i := range owners {
		wg.Go(func() { owners[i], errs[i] = s.ClaimExperimentOwner(ctx, "99", fmt.Sprintf("user-%d", i), t0) })
	}
	wg.Wait()
	wins := 0
	for i := range owners {
		if errs[i] == nil {
			wins++
		} else if !errors.Is(errs[i], permstore.ErrOwned) {
			t.Errorf("claim %d: %v", i, errs[i])
		}
		if owners[i] != owners[0] {
			t.Errorf("claim %d sees owner %q, claim 0 %q", i, owners[i], owners[0])
		}
	}
	if wins != 1 {
		t.Errorf("%d claims won, want 1", wins)
	}
}

func TestGrants(t *testing.T) {
	t.Run("set, replace, list, delete; the user's list follows", func(t *testing.T) {
		s, _, _ := newStore(t)
		ctx := t.Context()
		steps := []struct {
			r     permissions.Resource
			user  string
			level permissions.Level
		}{
			{model("hokusai-XRAY"), "user-b", permissions.Read},
			{model("hokusai-XRAY"), "user-c", permissions.Edit},
			{model("HOKUSAI-xray"), "user-b", permissions.Manage}, // the same model: replaces
			{experiment("3"), "user-b", permissions.Use},
		}
		for _, st := range steps {
			if err := s.SetGrant(ctx, st.r, st.user, st.level); err != nil {
				t.Fatalf("SetGrant %+v: %v", st, err)
			}
		}
		gs, err := s.ListGrants(ctx, model("hokusai-xray"))
		if want := "registered_model:hokusai-xray user-b=MANAGE; registered_model:hokusai-xray user-c=EDIT"; err != nil || grantsString(gs) != want {
			t.Fatalf("ListGrants = %s, %v; want %s", grantsString(gs), err, want)
		}
		if err := s.SetPatternGrant(ctx, pattern(t, "registered_model:team-*"), "user-b", permissions.Edit); err != nil {
			t.Fatal(err)
		}
		gs, err = s.GrantsOfUser(ctx, "user-b")
		if want := "experiment:3 user-b=USE; registered_model:HOKUSAI-xray user-b=MANAGE; pattern registered_model:team-* user-b=EDIT"; err != nil || grantsString(gs) != want {
			t.Fatalf("GrantsOfUser = %s, %v\nwant %s", grantsString(gs), err, want)
		}
		if err := s.DeleteGrant(ctx, model("Hokusai-Xray"), "user-b"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteGrant(ctx, model("hokusai-XRAY"), "user-b"); !errors.Is(err, permstore.ErrNotFound) {
			t.Fatalf("deleting it again = %v, want ErrNotFound", err)
		}
		if err := s.DeleteGrant(ctx, model("never-granted"), "user-b"); !errors.Is(err, permstore.ErrNotFound) {
			t.Fatalf("deleting a grant on a model never granted = %v, want ErrNotFound", err)
		}
		gs, err = s.ListGrants(ctx, model("hokusai-XRAY"))
		if want := "registered_model:hokusai-XRAY user-c=EDIT"; err != nil || grantsString(gs) != want {
			t.Fatalf("after delete ListGrants = %s, %v", grantsString(gs), err)
		}
		gs, err = s.GrantsOfUser(ctx, "user-b")
		if want := "experiment:3 user-b=USE; pattern registered_model:team-* user-b=EDIT"; err != nil || grantsString(gs) != want {
			t.Fatalf("after delete GrantsOfUser = %s, %v", grantsString(gs), err)
		}
		if gs, err := s.GrantsOfUser(ctx, "nobody"); err != nil || len(gs) != 0 {
			t.Fatalf("GrantsOfUser(nobody) = %v, %v", gs, err)
		}
	})

	t.Run("concurrent first grants on a new resource all hold", func(t *testing.T) {
		s, _, _ := newStore(t)
		ctx := t.Context()
		var wg sync.WaitGroup
		errs := make([]error, 6)
		for i := range errs {
			wg.Go(func() { errs[i] = s.SetGrant(ctx, model("fresh"), fmt.Sprintf("user-%d", i), permissions.Edit) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("grant %d: %v", i, err)
			}
		}
		if gs, err := s.ListGrants(ctx, model("fresh")); err != nil || len(gs) != len(errs) {
			t.Fatalf("ListGrants = %s, %v; want %d grants", grantsString(gs), err, len(errs))
		}
	})

	t.Run("bad input changes nothing", func(t *testing.T) {
		s, db, _ := newStore(t)
		ctx := t.Context()
		for name, err := range map[string]error{
			"kind":     s.SetGrant(ctx, permissions.Resource{Kind: "run", ID: "r"}, "u", permissions.Read),
			"no id":    s.SetGrant(ctx, model(""), "u", permissions.Read),
			"no user":  s.SetGrant(ctx, model("m"), "", permissions.Read),
			"control":  s.SetGrant(ctx, model("m"), "u\n", permissions.Read),
			"level":    s.SetGrant(ctx, model("m"), "u", permissions.Level(9)),
			"negative": s.SetGrant(ctx, model("m"), "u", permissions.Level(-1)),
			"pattern":  s.SetPatternGrant(ctx, permissions.Pattern{Kind: permissions.Experiment, Glob: "abc"}, "u", permissions.Read),
			"delete":   s.DeleteGrant(ctx, model("m"), ""),
		} {
			if !errors.Is(err, permstore.ErrInvalid) {
				t.Errorf("%s: %v, want ErrInvalid", name, err)
			}
		}
		if calls := db.total(); len(calls) != 0 {
			t.Errorf("bad input made %v", calls)
		}
	})
}

func TestPatternGrants(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := t.Context()
	if gs, err := s.ListPatternGrants(ctx); err != nil || len(gs) != 0 {
		t.Fatalf("no pattern grants yet: %v, %v", gs, err)
	}
	xray := pattern(t, "registered_model:hokusai-XRAY*")
	for _, st := range []struct {
		p     permissions.Pattern
		user  string
		level permissions.Level
	}{
		{xray, "user-b", permissions.Read},
		{pattern(t, "experiment:1*"), "user-b", permissions.Edit},
		{pattern(t, "registered_model:HOKUSAI-xray*"), "user-b", permissions.Edit}, // folds to xray: replaces
		{xray, "user-c", permissions.Use},
	} {
		if err := s.SetPatternGrant(ctx, st.p, st.user, st.level); err != nil {
			t.Fatal(err)
		}
	}
	gs, err := s.ListPatternGrants(ctx)
	want := "pattern registered_model:HOKUSAI-xray* user-b=EDIT; pattern experiment:1* user-b=EDIT; pattern registered_model:hokusai-XRAY* user-c=USE"
	if err != nil || grantsString(gs) != want {
		t.Fatalf("ListPatternGrants = %s, %v\nwant %s", grantsString(gs), err, want)
	}
	if err := s.DeletePatternGrant(ctx, xray, "user-b"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeletePatternGrant(ctx, xray, "user-b"); !errors.Is(err, permstore.ErrNotFound) {
		t.Fatalf("deleting it again = %v", err)
	}
	f, err := s.Facts(ctx, model("hokusai-XRAY-1"))
	if err != nil || grantsString(f.Grants) != "pattern registered_model:hokusai-XRAY* user-c=USE" {
		t.Fatalf("Facts = %s, %v", grantsString(f.Grants), err)
	}

	// Concurrent writers of the one patterns item lose no grant.
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Go(func() {
			errs[i] = s.SetPatternGrant(ctx, pattern(t, fmt.Sprintf("registered_model:team-%d-*", i)), "user-d", permissions.Edit)
		})
	}
	wg.Wait()
	gs, err = s.ListPatternGrants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stored := slices.IndexFunc(gs, func(g permissions.Grant) bool { return g.UserID == "user-d" })
	for i, err := range errs {
		switch {
		case errors.Is(err, permstore.ErrConflict): // lost every race: reported, not silently dropped
		case err != nil:
			t.Errorf("writer %d: %v", i, err)
		case !slices.ContainsFunc(gs, func(g permissions.Grant) bool { return g.Target == fmt.Sprintf("team-%d-*", i) }):
			t.Errorf("writer %d succeeded but its grant is gone: %s", i, grantsString(gs))
		}
	}
	if stored < 0 {
		t.Errorf("no concurrent writer's grant was stored: %s", grantsString(gs))
	}
}
