package authorizer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/uisession"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/apikey"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/eventheader"
)

// SessionStore finds a UI session by id (uisession.Store satisfies it).
type SessionStore interface {
	Session(ctx context.Context, id string, now time.Time) (uisession.Binding, error)
}

// sessions is the authorizer's view of UI sessions: the cookie's codec and the sessions table.
type sessions struct {
	codec *uisession.Codec
	store SessionStore
	now   func() time.Time
}

// EnableSessions lets the session cookie stand in for a key on the UI's routes
// (uisession.IsUIResource) and nowhere else.
func (h *Handler) EnableSessions(codec *uisession.Codec, store SessionStore) {
	h.sessions = &sessions{codec: codec, store: store, now: h.v.s.Now}
}

// fromSession is the cookie's session checked, then its key re-validated by digest through the
// same caches as a key on an API call: a revoked key's sessions end within AUTH_CACHE_TTL. The
// stack never caches this authorizer's results in API Gateway (the UI authorizer has no identity
// source), so no decision outlives its request.
func (h *Handler) fromSession(ctx context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest, resource string, start time.Time) (events.APIGatewayCustomAuthorizerResponse, error) {
	s := h.sessions
	value, ok := uisession.FromCookieHeaders(cookieLines(req))
	if s == nil || !ok || !uisession.IsUIResource(req.Resource) {
		h.logOutcome(ctx, req, slog.LevelInfo, "unauthorized", Decision{Via: ViaHeaders}, "", start, nil)
		return events.APIGatewayCustomAuthorizerResponse{}, errUnauthorized
	}
	now := s.now()
	id, err := s.codec.Parse(value, now)
	if err != nil {
		h.logOutcome(ctx, req, slog.LevelInfo, "unauthorized", Decision{Via: ViaSession}, fromSession, start, err)
		return events.APIGatewayCustomAuthorizerResponse{}, errUnauthorized
	}
	b, err := s.store.Session(ctx, id, now)
	switch {
	case errors.Is(err, uisession.ErrInvalid):
		h.logOutcome(ctx, req, slog.LevelInfo, "unauthorized", Decision{Via: ViaSession}, fromSession, start, err)
		return events.APIGatewayCustomAuthorizerResponse{}, errUnauthorized
	case err != nil:
		h.logOutcome(ctx, req, slog.LevelError, "unavailable", Decision{Via: ViaSession}, fromSession, start, err)
		return events.APIGatewayCustomAuthorizerResponse{}, errFailure
	}
	d, err := h.v.ValidateDigest(ctx, b.KeyHash)
	if err == nil && d.Principal.UserID != b.UserID {
		err = fmt.Errorf("%w: the session's key now belongs to another user", ErrUnauthorized)
	}
	switch {
	case err == nil:
		h.logOutcome(ctx, req, slog.LevelDebug, "allow", d, fromSession, start, nil)
		pc := d.Principal.Context()
		pc[uisession.AuthMethodKey] = uisession.AuthMethodSession
		return policy(d.Principal.UserID, "Allow", resource, pc), nil
	case errors.Is(err, ErrUnauthorized):
		h.logOutcome(ctx, req, slog.LevelInfo, "unauthorized", d, fromSession, start, err)
		return events.APIGatewayCustomAuthorizerResponse{}, errUnauthorized
	default:
		h.logOutcome(ctx, req, slog.LevelError, "unavailable", d, fromSession, start, err)
		return events.APIGatewayCustomAuthorizerResponse{}, errFailure
	}
}

// fromSession is the "key_from" of a decision made on the session cookie.
const fromSession apikey.Source = "session_cookie"

// cookieLines are the request's Cookie header lines, under every spelling of the name.
func cookieLines(req events.APIGatewayCustomAuthorizerRequestTypeRequest) []string {
	return eventheader.Parse(req.Headers, req.MultiValueHeaders).Values("Cookie")
}

// ValidateDigest decides about the key whose digest is given, for a UI session that names its key
// only so. With the keys table it is Validate without the key; the external auth service needs
// the key itself, so there a session lives only while the key's last validation is fresh in this
// container's memory or the shared validation cache, and is refused (fails closed) after.
func (v *Validator) ValidateDigest(ctx context.Context, digest string) (Decision, error) {
	if !isDigest(digest) {
		return Decision{Via: ViaFormat}, errMalformed
	}
	ref := digest[:12]
	now := v.s.Now()
	cached, ok := v.mem.Get(digest, now)
	if ok && cached.Fresh(now) {
		v.memoryHits.Add(1)
		return decide(cached, ViaMemory, ref)
	}
	if v.keys == nil {
		e, found, err := v.cache.Get(ctx, digest)
		if err != nil || !found || !e.Fresh(now) {
			return Decision{Via: ViaCacheTable, KeyRef: ref}, fmt.Errorf("%w: the auth service's answer for this session's key is not cached", ErrUnauthorized)
		}
		return decide(e, ViaCacheTable, ref)
	}
	e, via, err := v.lookup(ctx, query{digest: digest, now: now, stale: cached})
	if err != nil {
		return Decision{Via: via, KeyRef: ref}, err
	}
	v.remember(digest, e, now)
	return decide(e, via, ref)
}

// isDigest is a SHA-256 digest as apikey.Digest writes it: 64 lower-case hex characters.
func isDigest(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
