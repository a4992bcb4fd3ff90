// Package authorizer decides, for API Gateway's REQUEST authorizer, whether a request's API key is
// valid and who it belongs to (SPEC section 4): the key is checked for format before anything
// else, then looked up through the in-memory cache and the configured source — the keys table, or
// the external auth service behind its shared DynamoDB validation cache.
package authorizer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/authcache"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/authservice"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/keystore"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/apikey"
)

// Validate's failures. Each becomes one API Gateway outcome (see Handler).
var (
	ErrUnauthorized = errors.New("missing, invalid or revoked API key")
	ErrRateLimited  = errors.New("key rate limited by the auth service")
	ErrUnavailable  = errors.New("key source unavailable")

	// errMalformed is built once: junk keys are what an attacker can send most cheaply.
	errMalformed = fmt.Errorf("%w: %w", ErrUnauthorized, apikey.ErrMalformed)
)

// KeyStore finds an issued key by digest, returning nil, nil when there is none.
type KeyStore interface {
	Get(ctx context.Context, digest string) (*keystore.Record, error)
}

// AuthService asks the external auth service about a key; its errors wrap authservice's.
type AuthService interface {
	Validate(ctx context.Context, key, clientIP string) (authservice.Result, error)
}

// ValidationCache is the DynamoDB cache every container shares in front of the auth service.
type ValidationCache interface {
	Get(ctx context.Context, digest string) (authcache.Entry, bool, error)
	Put(ctx context.Context, digest string, e authcache.Entry) error
}

// Via says which layer decided.
type Via string

const (
	ViaHeaders    Via = "headers"     // no key in the request
	ViaFormat     Via = "format"      // malformed, or an environment not allowed here
	ViaMemory     Via = "memory"      // this container's cache
	ViaKeysTable  Via = "keys_table"  // dynamodb source
	ViaCacheTable Via = "cache_table" // external source, shared cache
	ViaService    Via = "service"     // external source, the auth service itself
	ViaStale      Via = "stale"       // external source down: an expired result within AUTH_STALE_GRACE
	ViaOutage     Via = "outage"      // external source failed moments ago (AUTH_SERVICE_OUTAGE_WINDOW): not asked
	ViaSession    Via = "session"     // the UI session cookie was refused before its key was looked up
)

// Decision is what Validate found. Via and KeyRef are set even when Validate fails.
type Decision struct {
	Principal principal.Principal
	Via       Via
	// KeyRef is the first characters of the key's digest, for logs: enough to correlate, useless
	// to an attacker. Empty for a malformed key, whose digest could be brute-forced if it were a
	// low-entropy secret pasted by mistake.
	KeyRef string
}

// Settings are a Validator's knobs; see Config for their meaning.
type Settings struct {
	AllowedEnvs []string
	TTL         time.Duration
	NegativeTTL time.Duration
	Grace       time.Duration
	// OutageWindow is how long after an auth-service failure this container stops asking it (see
	// outage); 0 asks every time.
	OutageWindow time.Duration
	MaxEntries   int
	ServiceID    string // reported for keys from the keys table, which carry none
	Now          func() time.Time
	Log          *slog.Logger
}

// Stats counts, per container, what a Validator did. GraceServed is the number of requests let
// through on an expired result while the auth service was down.
type Stats struct {
	MemoryHits     int64
	CacheTableHits int64
	GraceServed    int64
}

// Validator checks keys. It is safe for concurrent use.
type Validator struct {
	s       Settings
	mem     *authcache.Memory
	keys    KeyStore
	service AuthService
	cache   ValidationCache
	lookup  func(context.Context, query) (authcache.Entry, Via, error)
	outage  *outage

	memoryHits, cacheTableHits, graceServed atomic.Int64
}

// query is one lookup past the in-memory cache. stale is what memory held, if anything: an
// expired entry still good as an outage stand-in.
type query struct {
	key, digest, clientIP string
	now                   time.Time
	stale                 authcache.Entry
}

// NewDynamoDB validates keys issued by this system, one GetItem per miss.
func NewDynamoDB(s Settings, keys KeyStore) *Validator {
	s.Grace = 0 // the outage grace is the external source's; a keys-table error is an outage of ours
	v := newValidator(s)
	v.keys = keys
	v.lookup = v.fromKeys
	return v
}

// NewExternal validates keys at the auth service, behind the shared validation cache.
func NewExternal(s Settings, service AuthService, cache ValidationCache) *Validator {
	v := newValidator(s)
	v.service, v.cache = service, cache
	v.lookup = v.fromService
	return v
}

func newValidator(s Settings) *Validator {
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Log == nil {
		s.Log = slog.Default()
	}
	return &Validator{s: s, mem: authcache.NewMemory(s.MaxEntries, s.Grace), outage: &outage{window: s.OutageWindow, log: s.Log}}
}

// Stats returns the counters so far.
func (v *Validator) Stats() Stats {
	return Stats{MemoryHits: v.memoryHits.Load(), CacheTableHits: v.cacheTableHits.Load(), GraceServed: v.graceServed.Load()}
}

// Validate decides about key for a caller at clientIP. Its errors wrap ErrUnauthorized,
// ErrRateLimited or ErrUnavailable and never contain the key.
func (v *Validator) Validate(ctx context.Context, key, clientIP string) (Decision, error) {
	// The format check comes first so that junk costs no lookup and never enters a cache.
	if apikey.Check(key, v.s.AllowedEnvs) != nil {
		return Decision{Via: ViaFormat}, errMalformed
	}
	digest := apikey.Digest(key)
	ref := digest[:12]
	now := v.s.Now()
	cached, ok := v.mem.Get(digest, now)
	if ok && cached.Fresh(now) {
		v.memoryHits.Add(1)
		return decide(cached, ViaMemory, ref)
	}
	e, via, err := v.lookup(ctx, query{key: key, digest: digest, clientIP: clientIP, now: now, stale: cached})
	if err != nil {
		return Decision{Via: via, KeyRef: ref}, err
	}
	v.remember(digest, e, now)
	return decide(e, via, ref)
}

func decide(e authcache.Entry, via Via, ref string) (Decision, error) {
	if !e.Valid {
		return Decision{Via: via, KeyRef: ref}, ErrUnauthorized
	}
	return Decision{Principal: e.Principal, Via: via, KeyRef: ref}, nil
}

// remember keeps e in memory no longer than this container's TTLs, whatever a shared entry says.
// It never extends an expiry, so an outage stand-in stays what it is and the grace ends on time.
func (v *Validator) remember(digest string, e authcache.Entry, now time.Time) {
	ttl := v.s.TTL
	if !e.Valid {
		ttl = v.s.NegativeTTL
	}
	if limit := now.Add(ttl); e.ExpiresAt.After(limit) {
		e.ExpiresAt = limit
	}
	if e.Fresh(now) {
		v.mem.Put(digest, e)
	}
}

// fromKeys is the dynamodb source: one GetItem. A missing, revoked or expired record is invalid.
func (v *Validator) fromKeys(ctx context.Context, q query) (authcache.Entry, Via, error) {
	rec, err := v.keys.Get(ctx, q.digest)
	if err != nil {
		return authcache.Entry{}, ViaKeysTable, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if rec == nil || !rec.Usable(q.now) || rec.UserID == "" {
		return v.invalid(q.now), ViaKeysTable, nil
	}
	// The keys API stores only patterns that parse; one that does not is a damaged record, and a
	// narrowed key read as not narrowed would be given everything its user may do.
	patterns, err := permissions.ParsePatterns(rec.ResourcePatterns)
	if err != nil || len(patterns) > principal.MaxPatterns {
		return v.invalid(q.now), ViaKeysTable, nil
	}
	expires := q.now.Add(v.s.TTL)
	if !rec.ExpiresAt.IsZero() && rec.ExpiresAt.Before(expires) {
		expires = rec.ExpiresAt // never remember a key as valid past its own expiry
	}
	return authcache.Entry{
		Valid: true,
		// Records carry no is_admin: admin comes from scopes and ADMIN_EMAILS, in the functions.
		Principal: principal.Principal{
			UserID: rec.UserID, KeyID: rec.KeyID, Email: rec.Email, ServiceID: v.s.ServiceID, Scopes: rec.Scopes,
			Patterns: patterns,
		},
		ExpiresAt: expires,
	}, ViaKeysTable, nil
}

// fromService is the external source: the shared cache, then the service, whose answer is shared.
// When the service is down (not when it says no), an expired valid result within the grace,
// from memory or the shared cache, stands in. After a failure the service is not asked for the
// outage window (see outage): the stand-in, or the failure, comes at once.
func (v *Validator) fromService(ctx context.Context, q query) (authcache.Entry, Via, error) {
	standIn := q.stale
	shared, found, err := v.cache.Get(ctx, q.digest)
	switch {
	case err != nil:
		// The cache is an optimisation: the service can still answer.
		v.s.Log.Warn("validation cache read failed", "key_ref", q.digest[:12], "error", err)
	case found && shared.Fresh(q.now):
		v.cacheTableHits.Add(1)
		return shared, ViaCacheTable, nil
	case found && shared.ExpiresAt.After(standIn.ExpiresAt):
		standIn = shared
	}

	res, asked, err := v.outage.call(ctx, v.s.Now, func() (authservice.Result, error) {
		return v.service.Validate(ctx, q.key, q.clientIP)
	})
	switch {
	case err == nil:
		return v.share(ctx, q, authcache.Entry{Valid: true, Principal: res.Principal, ExpiresAt: q.now.Add(v.s.TTL)}), ViaService, nil
	case errors.Is(err, authservice.ErrInvalid):
		return v.share(ctx, q, v.invalid(q.now)), ViaService, nil
	case errors.Is(err, authservice.ErrRateLimited):
		return authcache.Entry{}, ViaService, fmt.Errorf("%w: %w", ErrRateLimited, err)
	}
	if standIn.WithinGrace(q.now, v.s.Grace) {
		v.graceServed.Add(1)
		// event is stable, for a CloudWatch metric filter and alarm across containers.
		v.s.Log.Warn("auth service unavailable; honouring an expired validation within AUTH_STALE_GRACE",
			"event", "auth.stale_grace_served", "key_ref", q.digest[:12], "user_id", standIn.Principal.UserID,
			"expired_ago", q.now.Sub(standIn.ExpiresAt).String(), "error", err)
		return standIn, ViaStale, nil
	}
	if !asked {
		return authcache.Entry{}, ViaOutage, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return authcache.Entry{}, ViaService, fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// share writes the service's answer to the shared cache. A failed write costs another container
// one service call, not this request its answer.
func (v *Validator) share(ctx context.Context, q query, e authcache.Entry) authcache.Entry {
	if !e.Valid && v.s.NegativeTTL == 0 {
		return e
	}
	if err := v.cache.Put(ctx, q.digest, e); err != nil {
		v.s.Log.Warn("validation cache write failed", "key_ref", q.digest[:12], "error", err)
	}
	return e
}

func (v *Validator) invalid(now time.Time) authcache.Entry {
	return authcache.Entry{Valid: false, ExpiresAt: now.Add(v.s.NegativeTTL)}
}
