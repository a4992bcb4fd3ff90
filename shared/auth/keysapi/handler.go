// Package keysapi is the API-key admin API of AUTH_SOURCE=dynamodb deployments (POST, GET
// /api/keys, DELETE /api/keys/{key_id}) and the direct-invocation bootstrap of the first admin key.
//
// A plain key exists only in the create response: it is stored as its digest, and no log line,
// listing or error ever carries it.
package keysapi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/access"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/keystore"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/apikey"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/httpapi"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
)

// Store is the part of the key store the API uses; *keystore.Store satisfies it.
type Store interface {
	Create(ctx context.Context, rec keystore.Record) error
	ByID(ctx context.Context, keyID string) (*keystore.Record, error)
	ListByUser(ctx context.Context, userID string) ([]keystore.Record, error)
	ListAll(ctx context.Context) ([]keystore.Record, error)
	Revoke(ctx context.Context, keyHash string, at time.Time) error
}

// Warning accompanies every new key.
const Warning = "Store this key now: it is not shown again"

// Created is the answer to a create (201) and to a bootstrap invocation. It is the only value that
// ever holds a plain key.
type Created struct {
	Key           string     `json:"key"`
	KeyID         string     `json:"key_id"`
	UserID        string     `json:"user_id"`
	Email         string     `json:"email"`
	Scopes        []string   `json:"scopes"`
	CreatedAt     time.Time  `json:"created_at"`
	ExpiresAt     *time.Time `json:"expires_at"`
	DisplayPrefix string     `json:"display_prefix"`
	Description   string     `json:"description"`
	// ResourcePatterns is the key's narrowing; [] when it is not narrowed.
	ResourcePatterns []string `json:"resource_patterns"`
	Warning          string   `json:"warning"`
}

// LogValue keeps the key out of a log line should a Created ever be logged whole.
func (c Created) LogValue() slog.Value {
	return slog.GroupValue(slog.String("key_id", c.KeyID), slog.String("user_id", c.UserID),
		slog.Any("scopes", c.Scopes))
}

// Key is one entry of a listing: the record without its digest.
type Key struct {
	KeyID         string     `json:"key_id"`
	UserID        string     `json:"user_id"`
	Email         string     `json:"email"`
	Scopes        []string   `json:"scopes"`
	Status        string     `json:"status"`
	CreatedAt     time.Time  `json:"created_at"`
	ExpiresAt     *time.Time `json:"expires_at"`
	RevokedAt     *time.Time `json:"revoked_at"`
	DisplayPrefix string     `json:"display_prefix"`
	Description   string     `json:"description"`
	// ResourcePatterns is the key's narrowing; [] when it is not narrowed.
	ResourcePatterns []string `json:"resource_patterns"`
}

// KeyList is the answer to GET /api/keys, newest key first.
type KeyList struct {
	Keys  []Key `json:"keys"`
	Count int   `json:"count"`
}

// Revoked is the answer to DELETE /api/keys/{key_id}.
type Revoked struct {
	KeyID                  string    `json:"key_id"`
	Status                 string    `json:"status"`
	RevokedAt              time.Time `json:"revoked_at"`
	EffectiveWithinSeconds int       `json:"effective_within_seconds"`
	Detail                 string    `json:"detail"`
}

// Handler serves the keys API.
type Handler struct {
	cfg    Config
	store  Store
	policy access.Policy
	mux    *httpapi.Mux
	// auditor, when set, gets a record of every creation, revocation and refusal (audit.go).
	auditor Auditor
	// now is the clock; tests replace it.
	now func() time.Time
}

// New builds the handler. In AUTH_SOURCE=external mode it answers every request with
// KEYS_API_DISABLED.
func New(cfg Config, store Store) *Handler {
	h := &Handler{cfg: cfg, store: store, policy: access.Policy{AdminEmails: cfg.AdminEmails}, now: time.Now}
	h.mux = httpapi.NewMux()
	h.mux.Handle("POST /api/keys", httpapi.Endpoint(h.create))
	h.mux.Handle("GET /api/keys", httpapi.Endpoint(h.list))
	h.mux.Handle("DELETE /api/keys/{key_id}", httpapi.Endpoint(h.revoke))
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Key material and key listings must not sit in any shared or browser cache.
	w.Header().Set("Cache-Control", "no-store")
	h.serveAudited(w, r, http.HandlerFunc(h.serve))
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	if h.disabled() {
		httpapi.WriteError(w, r, errDisabled())
		return
	}
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) disabled() bool { return h.cfg.AuthSource == keystore.SourceExternal }

func errDisabled() *httpapi.Error {
	return httpapi.NewError(http.StatusNotFound, "KEYS_API_DISABLED",
		"API keys are managed by the Hokusai auth service in this deployment; this API is disabled")
}

// create is POST /api/keys. Only admins create keys, for themselves or anyone.
func (h *Handler) create(w http.ResponseWriter, r *http.Request) (int, any, error) {
	caller, err := h.policy.Require(r, principal.Admin)
	if err != nil {
		return 0, nil, err
	}
	body, err := readBody(w, r)
	if err != nil {
		return 0, nil, err
	}
	req, err := DecodeCreate(body)
	if err != nil {
		return 0, nil, err
	}
	if req.UserID == "" {
		req.UserID, req.Email = caller.UserID, cmp.Or(req.Email, caller.Email)
	}
	if req.Environment != "" && !slices.Contains(h.cfg.AllowedKeyPrefixes, req.Environment) {
		return 0, nil, httpapi.Validation(httpapi.FieldError{Field: "environment",
			Message: "this deployment accepts only " + strings.Join(h.cfg.AllowedKeyPrefixes, ", ") + " keys"})
	}
	out, err := h.issue(r.Context(), req)
	if err != nil {
		return 0, nil, err
	}
	noteKeyID(r.Context(), out.KeyID)
	logging.FromContext(r.Context()).Info("api key created", "key_id", out.KeyID, "user_id", out.UserID,
		"scopes", out.Scopes, "resource_patterns", out.ResourcePatterns, "created_by", caller.UserID, "created_by_key", caller.KeyID)
	return http.StatusCreated, out, nil
}

// issue mints a key for a validated request whose UserID is set, stores its digest and returns
// the one response that carries the plain key.
func (h *Handler) issue(ctx context.Context, req CreateRequest) (Created, error) {
	key, err := apikey.Generate(cmp.Or(req.Environment, h.cfg.KeyEnvironment))
	if err != nil {
		return Created{}, fmt.Errorf("issue key: %w", err)
	}
	now := h.now().UTC()
	rec := keystore.Record{
		KeyHash:          apikey.Digest(key),
		KeyID:            uuid.NewString(),
		UserID:           req.UserID,
		Email:            req.Email,
		Scopes:           req.Scopes,
		Status:           keystore.StatusActive,
		CreatedAt:        now,
		Description:      req.Description,
		DisplayPrefix:    apikey.DisplayPrefix(key),
		ResourcePatterns: req.ResourcePatterns,
	}
	if req.ExpiresInDays != nil {
		rec.ExpiresAt = now.AddDate(0, 0, *req.ExpiresInDays)
	}
	if err := h.store.Create(ctx, rec); err != nil {
		return Created{}, fmt.Errorf("issue key for %s: %w", rec.UserID, err)
	}
	return Created{
		Key: key, KeyID: rec.KeyID, UserID: rec.UserID, Email: rec.Email, Scopes: rec.Scopes,
		CreatedAt: rec.CreatedAt, ExpiresAt: optional(rec.ExpiresAt), DisplayPrefix: rec.DisplayPrefix,
		Description: rec.Description, ResourcePatterns: orEmpty(rec.ResourcePatterns), Warning: Warning,
	}, nil
}

// list is GET /api/keys: every key for an admin, the caller's user's keys for anyone else.
func (h *Handler) list(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	caller, err := h.policy.Require(r, principal.Read)
	if err != nil {
		return 0, nil, err
	}
	var recs []keystore.Record
	if h.isAdmin(caller) {
		recs, err = h.store.ListAll(r.Context())
	} else {
		recs, err = h.store.ListByUser(r.Context(), caller.UserID)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("list keys: %w", err)
	}
	slices.SortFunc(recs, func(a, b keystore.Record) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), strings.Compare(a.KeyID, b.KeyID))
	})
	keys := make([]Key, len(recs))
	for i, rec := range recs {
		keys[i] = view(rec)
	}
	return http.StatusOK, KeyList{Keys: keys, Count: len(keys)}, nil
}

func view(rec keystore.Record) Key {
	return Key{
		KeyID: rec.KeyID, UserID: rec.UserID, Email: rec.Email, Scopes: rec.Scopes, Status: rec.Status,
		CreatedAt: rec.CreatedAt, ExpiresAt: optional(rec.ExpiresAt), RevokedAt: optional(rec.RevokedAt),
		DisplayPrefix: rec.DisplayPrefix, Description: rec.Description, ResourcePatterns: orEmpty(rec.ResourcePatterns),
	}
}

// orEmpty shows "not narrowed" as [], never null: a client iterates it either way.
func orEmpty(patterns []string) []string {
	if patterns == nil {
		return []string{}
	}
	return patterns
}

// revoke is DELETE /api/keys/{key_id}: admins revoke any key, others their own user's. Revoking
// a revoked key answers as the first revocation did.
func (h *Handler) revoke(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	caller, err := h.policy.Require(r, principal.Read)
	if err != nil {
		return 0, nil, err
	}
	id := keyID(r)
	rec, err := h.byID(r.Context(), id)
	if err != nil {
		return 0, nil, err
	}
	if rec.UserID != caller.UserID && !h.isAdmin(caller) {
		e := httpapi.NewError(http.StatusForbidden, "FORBIDDEN", "only an admin may revoke another user's key")
		e.Extra = map[string]any{"required_scope": principal.Admin.String(), "current_scopes": append([]string{}, caller.Scopes...)}
		return 0, nil, e
	}
	if rec.Status != keystore.StatusRevoked {
		rec.RevokedAt = h.now().UTC()
		if err := h.store.Revoke(r.Context(), rec.KeyHash, rec.RevokedAt); errors.Is(err, keystore.ErrNotFound) {
			return 0, nil, notFound()
		} else if err != nil {
			return 0, nil, fmt.Errorf("revoke key %s: %w", id, err)
		}
		logging.FromContext(r.Context()).Info("api key revoked", "key_id", rec.KeyID, "user_id", rec.UserID,
			"revoked_by", caller.UserID, "revoked_by_key", caller.KeyID)
	}
	return http.StatusOK, h.revoked(rec), nil
}

// keyID is the path's {key_id}. httpapi.Mux dispatches through ServeMux.Handler, which sets no
// path values, so the path itself is read when PathValue has nothing.
func keyID(r *http.Request) string {
	if id := r.PathValue("key_id"); id != "" {
		return id
	}
	return strings.TrimPrefix(r.URL.Path, "/api/keys/")
}

// byID finds a key by id; an id that is not one we could have issued is as unknown as a missing one.
func (h *Handler) byID(ctx context.Context, id string) (*keystore.Record, error) {
	if issuedID(id) == "" {
		return nil, notFound()
	}
	rec, err := h.store.ByID(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("find key %s: %w", id, err)
	}
	if rec == nil {
		return nil, notFound()
	}
	return rec, nil
}

// notFound does not echo the id: a client may have pasted a key into the path.
func notFound() *httpapi.Error {
	return httpapi.NotFound("no key with this id")
}

func (h *Handler) revoked(rec *keystore.Record) Revoked {
	n := int(math.Ceil(h.cfg.RevocationDelay().Seconds()))
	detail := fmt.Sprintf("The key is revoked; every cache forgets the key within %d seconds "+
		"(authorizer cache %s, API Gateway authorizer cache %s), after which it is rejected everywhere.",
		n, time.Duration(h.cfg.AuthCacheTTL), time.Duration(h.cfg.AuthorizerCacheTTL))
	if n == 0 {
		detail = "The key is revoked; no cache holds it, so it is rejected from now on."
	}
	return Revoked{KeyID: rec.KeyID, Status: keystore.StatusRevoked, RevokedAt: rec.RevokedAt, EffectiveWithinSeconds: n, Detail: detail}
}

func (h *Handler) isAdmin(p principal.Principal) bool {
	return p.Level(h.policy.AdminEmails) >= principal.Admin
}

// optional is nil for the zero time, so JSON shows null rather than year 1.
func optional(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
