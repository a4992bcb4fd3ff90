package authorizer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/authcache"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/authorizer"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/authservice"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/keystore"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/apikey"
)

const (
	ttl    = 60 * time.Second
	negTTL = 5 * time.Second
	grace  = 5 * time.Minute
)

// rig is one deployment: a shared DynamoDB and auth service, a clock, and the container under
// test. container() starts another one (empty memory) against the same shared state.
type rig struct {
	t        testing.TB
	external bool
	settings authorizer.Settings
	clk      *clock
	db       *fakeDB
	svc      *fakeService
	logs     *bytes.Buffer
	v        *authorizer.Validator
}

func newRig(t testing.TB, external bool, tweak func(*authorizer.Settings)) *rig {
	r := &rig{t: t, external: external, clk: newClock(), db: newFakeDB(), svc: newFakeService(), logs: &bytes.Buffer{}}
	r.settings = authorizer.Settings{
		AllowedEnvs: []string{"live", "test", "dev"}, TTL: ttl, NegativeTTL: negTTL, Grace: grace,
		MaxEntries: 100, ServiceID: "platform", Now: r.clk.Now,
		// Plain JSON, no redaction: the test must see a key if the code ever logged one.
		Log: slog.New(slog.NewJSONHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if tweak != nil {
		tweak(&r.settings)
	}
	r.v = r.container()
	return r
}

func (r *rig) container() *authorizer.Validator {
	if r.external {
		return authorizer.NewExternal(r.settings, r.svc, authcache.NewTable(r.db, cacheTable, r.settings.Grace))
	}
	return authorizer.NewDynamoDB(r.settings, authorizer.NewKeysTable(r.db, keysTable))
}

func (r *rig) calls() calls {
	get, put := r.db.totals()
	return calls{get: get, service: r.svc.count(), put: put}
}

// step is one request, what happens before it, and what it must cost and answer.
type step struct {
	advance   time.Duration
	service   *answer // the auth service's next answer, when it changes
	newCtr    bool    // served by a new container (empty memory)
	key       string  // default: the scenario's key
	want      error
	via       authorizer.Via
	cost      calls
	graceSeen int64 // GraceServed of the serving container afterwards, when non-zero
}

var validKey = testKey("live", 1)

func TestValidateDynamoDB(t *testing.T) {
	active := keystore.Record{KeyID: "k1", UserID: "u1", Email: "ada@example.com", Scopes: []string{"model:read"}, Status: keystore.StatusActive, CreatedAt: t0}
	revoked := active
	revoked.Status, revoked.RevokedAt = keystore.StatusRevoked, t0
	expired := active
	expired.ExpiresAt = t0.Add(-time.Second)
	expiringSoon := active
	expiringSoon.ExpiresAt = t0.Add(10 * time.Second)

	for _, tc := range []struct {
		name    string
		record  *keystore.Record
		allowed []string
		steps   []step
	}{
		{name: "malformed key costs no call", steps: []step{
			{key: "hk_live_short", want: authorizer.ErrUnauthorized, via: authorizer.ViaFormat},
			{key: "Bearer " + validKey, want: authorizer.ErrUnauthorized, via: authorizer.ViaFormat},
			{key: "hk_prod_" + strings.Repeat("a", 40), want: authorizer.ErrUnauthorized, via: authorizer.ViaFormat},
		}},
		{name: "test key refused where only live is allowed", record: &active, allowed: []string{"live"}, steps: []step{
			{key: testKey("test", 1), want: authorizer.ErrUnauthorized, via: authorizer.ViaFormat},
		}},
		{name: "valid: one GetItem, then memory until the TTL", record: &active, steps: []step{
			{via: authorizer.ViaKeysTable, cost: calls{get: 1}},
			{advance: ttl - time.Second, via: authorizer.ViaMemory},
			{advance: time.Second, via: authorizer.ViaKeysTable, cost: calls{get: 1}},
		}},
		{name: "unknown key: negative for the negative TTL", steps: []step{
			{want: authorizer.ErrUnauthorized, via: authorizer.ViaKeysTable, cost: calls{get: 1}},
			{advance: negTTL - time.Millisecond, want: authorizer.ErrUnauthorized, via: authorizer.ViaMemory},
			{advance: time.Millisecond, want: authorizer.ErrUnauthorized, via: authorizer.ViaKeysTable, cost: calls{get: 1}},
		}},
		{name: "revoked", record: &revoked, steps: []step{
			{want: authorizer.ErrUnauthorized, via: authorizer.ViaKeysTable, cost: calls{get: 1}},
		}},
		{name: "expired", record: &expired, steps: []step{
			{want: authorizer.ErrUnauthorized, via: authorizer.ViaKeysTable, cost: calls{get: 1}},
		}},
		{name: "never remembered past the key's own expiry", record: &expiringSoon, steps: []step{
			{via: authorizer.ViaKeysTable, cost: calls{get: 1}},
			{advance: 9 * time.Second, via: authorizer.ViaMemory},
			{advance: time.Second, want: authorizer.ErrUnauthorized, via: authorizer.ViaKeysTable, cost: calls{get: 1}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, false, func(s *authorizer.Settings) {
				if tc.allowed != nil {
					s.AllowedEnvs = tc.allowed
				}
			})
			if tc.record != nil {
				r.db.putRecord(t, validKey, *tc.record)
				r.db.putRecord(t, testKey("test", 1), *tc.record)
			}
			r.run(t, validKey, tc.steps)
		})
	}
}

func TestValidateDynamoDBPrincipal(t *testing.T) {
	r := newRig(t, false, nil)
	r.db.putRecord(t, validKey, keystore.Record{KeyID: "k1", UserID: "u1", Email: "ada@example.com",
		Scopes: []string{"admin", "model:read"}, Status: keystore.StatusActive, CreatedAt: t0})
	d, err := r.v.Validate(context.Background(), validKey, "203.0.113.7")
	if err != nil {
		t.Fatal(err)
	}
	p := d.Principal
	if p.UserID != "u1" || p.KeyID != "k1" || p.Email != "ada@example.com" || p.ServiceID != "platform" ||
		!slices.Equal(p.Scopes, []string{"admin", "model:read"}) || p.Admin {
		t.Errorf("principal %+v (Admin must stay false: records carry no is_admin)", p)
	}
	if d.KeyRef != apikey.Digest(validKey)[:12] {
		t.Errorf("key ref %q", d.KeyRef)
	}
	if !r.db.consistent[keysTable] {
		t.Error("a key just minted could be refused: the keys-table read must be strongly consistent")
	}
}

func TestValidateDynamoDBOutage(t *testing.T) {
	r := newRig(t, false, nil)
	r.db.putRecord(t, validKey, keystore.Record{UserID: "u1", Status: keystore.StatusActive})
	r.db.setErr(keysTable, errors.New("throttled"), nil)
	_, err := r.v.Validate(context.Background(), validKey, "")
	if !errors.Is(err, authorizer.ErrUnavailable) {
		t.Fatalf("err = %v, want unavailable", err)
	}
}

func TestValidateExternal(t *testing.T) {
	p := func(a answer) *answer { return &a }
	for _, tc := range []struct {
		name  string
		grace time.Duration
		setup func(r *rig)
		steps []step
	}{
		{name: "malformed key costs no call", steps: []step{
			{key: "hk_live_" + strings.Repeat("!", 40), want: authorizer.ErrUnauthorized, via: authorizer.ViaFormat},
		}},
		{name: "miss: GetItem, service, PutItem; then memory; another container reads the shared cache", steps: []step{
			{via: authorizer.ViaService, cost: calls{get: 1, service: 1, put: 1}},
			{advance: ttl - time.Second, via: authorizer.ViaMemory},
			{newCtr: true, via: authorizer.ViaCacheTable, cost: calls{get: 1}},
			{via: authorizer.ViaMemory},
			{advance: time.Second, via: authorizer.ViaService, cost: calls{get: 1, service: 1, put: 1}},
		}},
		{name: "invalid: negative shared for the negative TTL", steps: []step{
			{service: p(answerNo), want: authorizer.ErrUnauthorized, via: authorizer.ViaService, cost: calls{get: 1, service: 1, put: 1}},
			{want: authorizer.ErrUnauthorized, via: authorizer.ViaMemory},
			{newCtr: true, want: authorizer.ErrUnauthorized, via: authorizer.ViaCacheTable, cost: calls{get: 1}},
			{advance: negTTL, want: authorizer.ErrUnauthorized, via: authorizer.ViaService, cost: calls{get: 1, service: 1, put: 1}},
		}},
		{name: "rate limited: nothing remembered", steps: []step{
			{service: p(answer429), want: authorizer.ErrRateLimited, via: authorizer.ViaService, cost: calls{get: 1, service: 1}},
			{want: authorizer.ErrRateLimited, via: authorizer.ViaService, cost: calls{get: 1, service: 1}},
		}},
		{name: "unavailable with nothing cached", steps: []step{
			{service: p(answer503), want: authorizer.ErrUnavailable, via: authorizer.ViaService, cost: calls{get: 1, service: 1}},
			{service: p(answerHang), want: authorizer.ErrUnavailable, via: authorizer.ViaService, cost: calls{get: 1, service: 1}},
		}},
		{name: "outage grace from memory: honoured, counted, then over", steps: []step{
			{via: authorizer.ViaService, cost: calls{get: 1, service: 1, put: 1}},
			{advance: ttl + time.Minute, service: p(answer503), via: authorizer.ViaStale, cost: calls{get: 1, service: 1}, graceSeen: 1},
			// A stand-in is not refreshed: every request still asks the service.
			{advance: time.Minute, service: p(answerHang), via: authorizer.ViaStale, cost: calls{get: 1, service: 1}, graceSeen: 2},
			{advance: grace - 2*time.Minute, want: authorizer.ErrUnavailable, via: authorizer.ViaService, cost: calls{get: 1, service: 1}},
		}},
		{name: "outage grace from the shared cache in a new container", steps: []step{
			{via: authorizer.ViaService, cost: calls{get: 1, service: 1, put: 1}},
			{advance: ttl + 2*time.Minute, newCtr: true, service: p(answer503), via: authorizer.ViaStale, cost: calls{get: 1, service: 1}, graceSeen: 1},
		}},
		{name: "service back after an outage", steps: []step{
			{via: authorizer.ViaService, cost: calls{get: 1, service: 1, put: 1}},
			{advance: ttl, service: p(answer503), via: authorizer.ViaStale, cost: calls{get: 1, service: 1}, graceSeen: 1},
			{service: p(answerValid), via: authorizer.ViaService, cost: calls{get: 1, service: 1, put: 1}},
			{via: authorizer.ViaMemory},
		}},
		{name: "a 401 never uses the grace", steps: []step{
			{via: authorizer.ViaService, cost: calls{get: 1, service: 1, put: 1}},
			{advance: ttl, service: p(answerNo), want: authorizer.ErrUnauthorized, via: authorizer.ViaService, cost: calls{get: 1, service: 1, put: 1}},
			{want: authorizer.ErrUnauthorized, via: authorizer.ViaMemory},
		}},
		{name: "a 429 never uses the grace", steps: []step{
			{via: authorizer.ViaService, cost: calls{get: 1, service: 1, put: 1}},
			{advance: ttl, service: p(answer429), want: authorizer.ErrRateLimited, via: authorizer.ViaService, cost: calls{get: 1, service: 1}},
		}},
		{name: "a key found invalid does not come back through the grace", steps: []step{
			{via: authorizer.ViaService, cost: calls{get: 1, service: 1, put: 1}},
			{advance: ttl, service: p(answerNo), want: authorizer.ErrUnauthorized, via: authorizer.ViaService, cost: calls{get: 1, service: 1, put: 1}},
			{advance: negTTL, newCtr: true, service: p(answer503), want: authorizer.ErrUnavailable, via: authorizer.ViaService, cost: calls{get: 1, service: 1}},
		}},
		{name: "grace 0 disables it", grace: -1, steps: []step{
			{via: authorizer.ViaService, cost: calls{get: 1, service: 1, put: 1}},
			{advance: ttl, service: p(answer503), want: authorizer.ErrUnavailable, via: authorizer.ViaService, cost: calls{get: 1, service: 1}},
		}},
		{name: "shared cache unreadable: the service still answers", setup: func(r *rig) { r.db.setErr(cacheTable, errors.New("throttled"), nil) }, steps: []step{
			{via: authorizer.ViaService, cost: calls{get: 1, service: 1, put: 1}},
		}},
		{name: "shared cache unwritable: the answer still stands", setup: func(r *rig) { r.db.setErr(cacheTable, nil, errors.New("throttled")) }, steps: []step{
			{via: authorizer.ViaService, cost: calls{get: 1, service: 1, put: 1}},
			{via: authorizer.ViaMemory},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, true, func(s *authorizer.Settings) {
				if tc.grace < 0 {
					s.Grace = 0
				}
			})
			if tc.setup != nil {
				tc.setup(r)
			}
			r.run(t, validKey, tc.steps)
		})
	}
}

// run plays steps against r, checking each one's answer and exact cost.
func (r *rig) run(t *testing.T, key string, steps []step) {
	t.Helper()
	v := r.v
	for i, s := range steps {
		r.clk.Advance(s.advance)
		if s.service != nil {
			r.svc.set(*s.service)
		}
		if s.newCtr {
			v = r.container()
		}
		k := key
		if s.key != "" {
			k = s.key
		}
		before := r.calls()
		d, err := v.Validate(context.Background(), k, "203.0.113.7")
		after := r.calls()
		cost := calls{get: after.get - before.get, service: after.service - before.service, put: after.put - before.put}
		if !errors.Is(err, s.want) || (s.want == nil) != (err == nil) {
			t.Errorf("step %d: err = %v, want %v", i, err, s.want)
		}
		if d.Via != s.via {
			t.Errorf("step %d: via %s, want %s", i, d.Via, s.via)
		}
		if cost != s.cost {
			t.Errorf("step %d: cost %+v, want %+v", i, cost, s.cost)
		}
		if s.graceSeen != 0 && v.Stats().GraceServed != s.graceSeen {
			t.Errorf("step %d: grace served %d, want %d", i, v.Stats().GraceServed, s.graceSeen)
		}
		if s.via == authorizer.ViaStale && !strings.Contains(r.logs.String(), `"event":"auth.stale_grace_served"`) {
			t.Errorf("step %d: the stand-in was not logged", i)
		}
		if err == nil && d.Principal.UserID == "" {
			t.Errorf("step %d: allowed without a user", i)
		}
	}
	if secret := key[len("hk_live_"):]; strings.Contains(r.logs.String(), secret) {
		t.Errorf("a log line carries the key:\n%s", r.logs)
	}
}

const window = 10 * time.Second

// After a failure of the auth service a container stops asking it for the outage window: the
// grace is honoured at once, anything else is unavailable at once, and after the window one
// request probes the service again.
func TestValidateExternalOutageMemory(t *testing.T) {
	p := func(a answer) *answer { return &a }
	other, third := testKey("live", 2), testKey("live", 3)
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{name: "a failure stops the calls for the window, then one probe", steps: []step{
			{service: p(answer503), want: authorizer.ErrUnavailable, via: authorizer.ViaService, cost: calls{get: 1, service: 1}},
			{want: authorizer.ErrUnavailable, via: authorizer.ViaOutage, cost: calls{get: 1}},
			{key: other, service: p(answerValid), want: authorizer.ErrUnavailable, via: authorizer.ViaOutage, cost: calls{get: 1}},
			{advance: window - time.Millisecond, want: authorizer.ErrUnavailable, via: authorizer.ViaOutage, cost: calls{get: 1}},
			// The window is over: this request asks, and the service is back.
			{advance: time.Millisecond, via: authorizer.ViaService, cost: calls{get: 1, service: 1, put: 1}},
			{key: other, via: authorizer.ViaService, cost: calls{get: 1, service: 1, put: 1}},
		}},
		{name: "a timeout opens it too; a failed probe reopens it for a whole window", steps: []step{
			{service: p(answerHang), want: authorizer.ErrUnavailable, via: authorizer.ViaService, cost: calls{get: 1, service: 1}},
			{advance: window, service: p(answer503), want: authorizer.ErrUnavailable, via: authorizer.ViaService, cost: calls{get: 1, service: 1}},
			{advance: window - time.Millisecond, want: authorizer.ErrUnavailable, via: authorizer.ViaOutage, cost: calls{get: 1}},
			{advance: time.Millisecond, want: authorizer.ErrUnavailable, via: authorizer.ViaService, cost: calls{get: 1, service: 1}},
		}},
		{name: "the grace is honoured at once while the service is not asked", steps: []step{
			{via: authorizer.ViaService, cost: calls{get: 1, service: 1, put: 1}},
			{key: other, via: authorizer.ViaService, cost: calls{get: 1, service: 1, put: 1}},
			{advance: ttl + time.Minute, service: p(answer503), via: authorizer.ViaStale, cost: calls{get: 1, service: 1}, graceSeen: 1},
			{key: other, via: authorizer.ViaStale, cost: calls{get: 1}, graceSeen: 2},
			{via: authorizer.ViaStale, cost: calls{get: 1}, graceSeen: 3},
			{key: third, want: authorizer.ErrUnavailable, via: authorizer.ViaOutage, cost: calls{get: 1}},
		}},
		{name: "answers of a working service leave it closed", steps: []step{
			{service: p(answerNo), want: authorizer.ErrUnauthorized, via: authorizer.ViaService, cost: calls{get: 1, service: 1, put: 1}},
			{key: other, service: p(answer429), want: authorizer.ErrRateLimited, via: authorizer.ViaService, cost: calls{get: 1, service: 1}},
			{key: other, service: p(answerValid), via: authorizer.ViaService, cost: calls{get: 1, service: 1, put: 1}},
		}},
		{name: "each container remembers its own outage", steps: []step{
			{service: p(answer503), want: authorizer.ErrUnavailable, via: authorizer.ViaService, cost: calls{get: 1, service: 1}},
			{newCtr: true, service: p(answerValid), via: authorizer.ViaService, cost: calls{get: 1, service: 1, put: 1}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, true, func(s *authorizer.Settings) { s.OutageWindow = window })
			r.run(t, validKey, tc.steps)
		})
	}
}

// A shared result another container wrote is used while this one's service calls are off.
func TestValidateExternalOutageMemoryUsesTheSharedCache(t *testing.T) {
	r := newRig(t, true, func(s *authorizer.Settings) { s.OutageWindow = window })
	r.run(t, validKey, []step{
		{key: testKey("live", 2), service: &answer503, want: authorizer.ErrUnavailable, via: authorizer.ViaService, cost: calls{get: 1, service: 1}},
	})
	healthy := *r
	healthy.svc = newFakeService()
	if _, err := healthy.container().Validate(context.Background(), validKey, ""); err != nil {
		t.Fatal(err)
	}
	r.run(t, validKey, []step{{via: authorizer.ViaCacheTable, cost: calls{get: 1}}})
}

// While the one probe after the window is under way, every other request fails at once.
func TestValidateExternalOutageMemoryProbesOnce(t *testing.T) {
	r := newRig(t, true, func(s *authorizer.Settings) { s.OutageWindow = window })
	r.svc.set(answer503)
	if _, err := r.v.Validate(context.Background(), validKey, ""); !errors.Is(err, authorizer.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
	r.clk.Advance(window)
	entered, release := make(chan struct{}), make(chan struct{})
	r.svc.gate(entered, release)
	r.svc.set(answerValid)
	probe := make(chan error)
	go func() {
		_, err := r.v.Validate(context.Background(), validKey, "")
		probe <- err
	}()
	<-entered
	for i := range 5 {
		d, err := r.v.Validate(context.Background(), testKey("live", 10+i), "")
		if !errors.Is(err, authorizer.ErrUnavailable) || d.Via != authorizer.ViaOutage {
			t.Errorf("during the probe: %v via %s, want unavailable via outage", err, d.Via)
		}
	}
	if n := r.svc.count(); n != 2 {
		t.Errorf("%d service calls, want 2 (the failure and the probe)", n)
	}
	close(release)
	if err := <-probe; err != nil {
		t.Fatalf("probe: %v", err)
	}
	if _, err := r.v.Validate(context.Background(), testKey("live", 20), ""); err != nil || r.svc.count() != 3 {
		t.Errorf("after a good probe: %v, %d calls, want a call", err, r.svc.count())
	}
	for _, event := range []string{`"event":"auth.outage_opened"`, `"event":"auth.outage_closed"`} {
		if strings.Count(r.logs.String(), event) != 1 {
			t.Errorf("want %s logged once:\n%s", event, r.logs)
		}
	}
}

// A request abandoned by its caller says nothing about the service.
func TestValidateExternalOutageMemoryIgnoresCancelledCallers(t *testing.T) {
	r := newRig(t, true, func(s *authorizer.Settings) { s.OutageWindow = window })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r.svc.set(answer{err: fmt.Errorf("%w: %w", authservice.ErrUnavailable, context.Canceled)})
	if _, err := r.v.Validate(ctx, validKey, ""); !errors.Is(err, authorizer.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
	r.svc.set(answerValid)
	if _, err := r.v.Validate(context.Background(), validKey, ""); err != nil || r.svc.count() != 2 {
		t.Errorf("%v after %d calls, want the service asked again", err, r.svc.count())
	}
}

func TestValidateExternalPrincipalAndClientIP(t *testing.T) {
	r := newRig(t, true, nil)
	d, err := r.v.Validate(context.Background(), validKey, "198.51.100.9")
	if err != nil {
		t.Fatal(err)
	}
	if p := d.Principal; p.UserID != "user-1" || !p.Admin || p.Email != "ada@example.com" || p.KeyID != "key-1" {
		t.Errorf("principal %+v: is_admin comes from the service", p)
	}
	if r.svc.lastIP != "198.51.100.9" {
		t.Errorf("client ip %q", r.svc.lastIP)
	}
	// The shared item survives a container change with every field.
	d2, err := r.container().Validate(context.Background(), validKey, "")
	if err != nil || d2.Via != authorizer.ViaCacheTable || !d2.Principal.Admin || !slices.Equal(d2.Principal.Scopes, d.Principal.Scopes) {
		t.Errorf("from the shared cache: %+v %v", d2, err)
	}
}

func TestValidateSharedCacheTTLAttribute(t *testing.T) {
	r := newRig(t, true, nil)
	if _, err := r.v.Validate(context.Background(), validKey, ""); err != nil {
		t.Fatal(err)
	}
	it := r.db.item(cacheTable, apikey.Digest(validKey))
	if it == nil {
		t.Fatal("nothing shared")
	}
	expires := t0.Add(ttl)
	if got := number(t, it["expires_at"]); got != expires.UnixMilli() {
		t.Errorf("expires_at %d, want %d", got, expires.UnixMilli())
	}
	if got := number(t, it[authcache.TTLAttr]); got != expires.Add(grace).Unix() {
		t.Errorf("ttl %d, want expires_at + grace = %d", got, expires.Add(grace).Unix())
	}
	if _, stored := it["key"]; stored {
		t.Error("the key itself is stored")
	}
}

func TestValidateMemoryIsBounded(t *testing.T) {
	r := newRig(t, false, func(s *authorizer.Settings) { s.MaxEntries = 2 })
	keys := []string{testKey("live", 1), testKey("live", 2), testKey("live", 3)}
	for _, k := range keys {
		r.db.putRecord(t, k, keystore.Record{UserID: "u", Status: keystore.StatusActive})
	}
	ctx := context.Background()
	for _, k := range keys { // the third evicts the first
		if _, err := r.v.Validate(ctx, k, ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		key string
		via authorizer.Via
	}{{keys[2], authorizer.ViaMemory}, {keys[1], authorizer.ViaMemory}, {keys[0], authorizer.ViaKeysTable}} {
		if d, _ := r.v.Validate(ctx, tc.key, ""); d.Via != tc.via {
			t.Errorf("%s: via %s, want %s", tc.key[len(tc.key)-2:], d.Via, tc.via)
		}
	}
}

func TestValidateConcurrent(t *testing.T) {
	r := newRig(t, true, nil)
	ctx := context.Background()
	done := make(chan struct{})
	for g := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 200 {
				if _, err := r.v.Validate(ctx, testKey("live", (g+i)%10), ""); err != nil {
					t.Error(err)
					return
				}
				if i%50 == 0 {
					r.clk.Advance(ttl)
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
}
