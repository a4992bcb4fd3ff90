// Package signin serves sign-in to the MLflow UI through the gateway: the sign-in page, sessions
// from a key, one-time sign-in links and their landing, and sign-out; and the guard that keeps
// other sites from writing with a browser's session cookie. The tokens, the cookie and the
// sessions' storage are package uisession's, which the authorizer shares.
package signin

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/access"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/uisession"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/apigw"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/apikey"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/httpapi"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/jsonbody"
)

// Sessions is the part of Store the sign-in endpoints use.
type Sessions interface {
	PutLink(ctx context.Context, token string, b uisession.Binding) error
	ConsumeLink(ctx context.Context, token string, now time.Time) (uisession.Binding, error)
	PutSession(ctx context.Context, id string, b uisession.Binding) error
	EndSession(ctx context.Context, id string) error
}

// Handler serves the sign-in endpoints: the page, sessions from a key, sign-in links, their
// landing, and sign-out.
type Handler struct {
	codec      *uisession.Codec
	store      Sessions
	sessionTTL time.Duration
	linkTTL    time.Duration
	now        func() time.Time
	mux        *httpapi.Mux
}

// New builds the handler; now is the clock (nil: time.Now).
func New(cfg Config, codec *uisession.Codec, store Sessions, now func() time.Time) *Handler {
	if now == nil {
		now = time.Now
	}
	h := &Handler{codec: codec, store: store, sessionTTL: cfg.SessionTTL, linkTTL: cfg.LinkTTL, now: now, mux: httpapi.NewMux()}
	h.mux.Handle("POST /"+uisession.SessionsPath, httpapi.Endpoint(h.createSession))
	h.mux.Handle("POST /"+uisession.LinksPath, httpapi.Endpoint(h.createLink))
	h.mux.Handle("POST /"+uisession.SignoutPath, httpapi.Endpoint(h.signout))
	for _, m := range uisession.Mounts {
		h.mux.Handle("GET /"+uisession.MountPath(m, uisession.PagePath), page(m))
		h.mux.Handle("GET /"+uisession.MountPath(m, "signin/{token}"), http.HandlerFunc(h.land))
	}
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Nothing here may be cached or leak its URL (a link holds its token) to another site.
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	h.mux.ServeHTTP(w, r)
}

// Errors of the sign-in endpoints.
var (
	errCrossSite = httpapi.NewError(http.StatusForbidden, "CROSS_SITE_REQUEST",
		"this request must come from the gateway's own pages (Sec-Fetch-Site: same-origin or a matching Origin)")
	errNoKey = httpapi.NewError(http.StatusUnauthorized, "UNAUTHORIZED", "Missing, invalid or revoked API key")
	errLink  = httpapi.NewError(http.StatusUnauthorized, "SIGNIN_LINK_INVALID",
		"this sign-in link is invalid, expired or already used; mint a new one with POST /api/ui/signin-links")
)

// caller is the key the authorizer accepted on this request: its user, and its digest from the
// same header the authorizer read.
func caller(r *http.Request) (uisession.Binding, error) {
	p, ok := access.From(r.Context())
	key, _, found := apikey.Extract(r.Header.Values)
	if !ok || !found {
		return uisession.Binding{}, errNoKey
	}
	return uisession.Binding{KeyHash: apikey.Digest(key), UserID: p.UserID}, nil
}

// Session is the answer to a new session: the cookie is in Set-Cookie, never in the body.
type Session struct {
	UserID    string    `json:"user_id"`
	ExpiresAt time.Time `json:"expires_at"`
}

// createSession is POST /api/ui/sessions: the sign-in page's key, checked by the authorizer, for
// a session cookie. Same-origin only, so no other site can sign a browser in as someone else.
func (h *Handler) createSession(w http.ResponseWriter, r *http.Request) (int, any, error) {
	if !uisession.SameOrigin(r) {
		return 0, nil, errCrossSite
	}
	b, err := caller(r)
	if err != nil {
		return 0, nil, err
	}
	s, err := h.start(w, r.Context(), b)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, s, nil
}

func (h *Handler) start(w http.ResponseWriter, ctx context.Context, b uisession.Binding) (Session, error) {
	now := h.now()
	b.Expires = now.Add(h.sessionTTL).Truncate(time.Second)
	value, id, err := h.codec.Mint(b.Expires)
	if err != nil {
		return Session{}, err
	}
	if err := h.store.PutSession(ctx, id, b); err != nil {
		return Session{}, httpapi.Unavailable("the session store is unavailable; retry shortly", 1, err)
	}
	w.Header().Add("Set-Cookie", uisession.SetCookie(value, b.Expires, now))
	return Session{UserID: b.UserID, ExpiresAt: b.Expires}, nil
}

// Link is the answer to POST /api/ui/signin-links.
type Link struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// createLink is POST /api/ui/signin-links: a one-time URL, valid for LinkTTL, that signs a
// browser in as the key's session. The body is empty or {"mount": "api/mlflow" | "mlflow" | ""},
// the tracking-URI mount whose UI the link opens (api/mlflow by default).
func (h *Handler) createLink(w http.ResponseWriter, r *http.Request) (int, any, error) {
	b, err := caller(r)
	if err != nil {
		return 0, nil, err
	}
	mount, err := linkMount(w, r)
	if err != nil {
		return 0, nil, err
	}
	token, err := uisession.NewLinkToken()
	if err != nil {
		return 0, nil, err
	}
	b.Expires = h.now().Add(h.linkTTL).Truncate(time.Second)
	if err := h.store.PutLink(r.Context(), token, b); err != nil {
		return 0, nil, httpapi.Unavailable("the session store is unavailable; retry shortly", 1, err)
	}
	return http.StatusCreated, Link{URL: base(r) + "/" + uisession.MountPath(mount, "signin/"+token), ExpiresAt: b.Expires}, nil
}

func linkMount(w http.ResponseWriter, r *http.Request) (string, error) {
	body, err := jsonbody.Read(w, r, 1<<10, httpapi.TooLarge("the body is over 1 KB"))
	if err != nil || len(strings.TrimSpace(string(body))) == 0 {
		return uisession.Mounts[0], err
	}
	mount := uisession.Mounts[0]
	errs, err := jsonbody.DecodeObject(body, []jsonbody.Field{{Name: "mount", Into: &mount, Want: "a string"}}, true)
	if err != nil {
		return "", err
	}
	if len(errs) == 0 && !validMount(mount) {
		errs = append(errs, httpapi.FieldError{Field: "mount", Message: `must be one of "api/mlflow", "mlflow" or "" (the bare host)`})
	}
	if len(errs) > 0 {
		return "", httpapi.Validation(errs...)
	}
	return mount, nil
}

func validMount(m string) bool {
	for _, v := range uisession.Mounts {
		if m == v {
			return true
		}
	}
	return false
}

// base is the gateway's URL as this request reached it: the host it named and the path before the
// route (the stage, or a custom domain's base path), as API Gateway reports it.
func base(r *http.Request) string {
	scheme := "https"
	if r.Header.Get("X-Forwarded-Proto") == "http" {
		scheme = "http"
	}
	prefix := ""
	if rc, ok := apigw.RequestContext(r.Context()); ok {
		prefix = strings.TrimSuffix(strings.TrimSuffix(rc.Path, r.URL.Path), "/")
	}
	return scheme + "://" + r.Host + prefix
}

// land is GET <mount>/signin/{token}: the link's token, consumed, for a session cookie, and a
// redirect to the mount's UI. The redirect is relative ("../"), so it holds under any stage or
// base path.
func (h *Handler) land(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	if uisession.CheckLinkToken(token) != nil {
		httpapi.WriteError(w, r, errLink)
		return
	}
	b, err := h.store.ConsumeLink(r.Context(), token, h.now())
	switch {
	case errors.Is(err, uisession.ErrInvalid):
		httpapi.WriteError(w, r, errLink)
		return
	case err != nil:
		httpapi.WriteError(w, r, httpapi.Unavailable("the session store is unavailable; retry shortly", 1, err))
		return
	}
	if _, err := h.start(w, r.Context(), b); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	w.Header().Set("Location", "../")
	w.WriteHeader(http.StatusSeeOther)
}

// signout is POST /api/ui/signout: the session ends server-side and the cookie is cleared,
// whether or not one was sent (signing out twice is no error).
func (h *Handler) signout(w http.ResponseWriter, r *http.Request) (int, any, error) {
	if !uisession.SameOrigin(r) {
		return 0, nil, errCrossSite
	}
	if value, ok := uisession.FromCookieHeaders(r.Header.Values("Cookie")); ok {
		if id, err := h.codec.Parse(value, h.now()); err == nil {
			if err := h.store.EndSession(r.Context(), id); err != nil {
				return 0, nil, httpapi.Unavailable("the session store is unavailable; retry shortly", 1, err)
			}
		}
	}
	w.Header().Add("Set-Cookie", uisession.ClearCookie())
	return http.StatusOK, map[string]bool{"signed_out": true}, nil
}
