package httpapi

import (
	"net/http"
)

// Mux is http.ServeMux with JSON answers for unknown routes (404) and wrong methods (405). It never
// redirects: ServeMux would send a path with dot segments, doubled slashes or a missing trailing
// slash to its cleaned form with a 307 and an HTML body, and a client following it would re-send
// its key to a route it did not name. An API has no pages that moved, so such a path is a 404.
type Mux struct{ http.ServeMux }

// NewMux returns an empty Mux.
func NewMux() *Mux { return &Mux{} }

// routed marks the handlers registered through Mux, so ServeHTTP can tell a route that matched
// from the handlers ServeMux makes up itself (not found, method not allowed, redirect), which it
// reports with a pattern too.
type routed struct{ http.Handler }

// Handle registers h for pattern, as http.ServeMux.Handle.
func (m *Mux) Handle(pattern string, h http.Handler) { m.ServeMux.Handle(pattern, routed{h}) }

// HandleFunc registers fn for pattern, as http.ServeMux.HandleFunc.
func (m *Mux) HandleFunc(pattern string, fn func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(fn))
}

func (m *Mux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, _ := m.Handler(r)
	if _, ok := h.(routed); ok {
		// ServeMux.ServeHTTP, not h: only it fills in r.PathValue.
		m.ServeMux.ServeHTTP(w, r)
		return
	}
	// No route matched: let ServeMux decide between 405 (with its Allow header) and the rest,
	// then answer in JSON instead of its plain text or HTML.
	rec := &verdict{header: http.Header{}, code: http.StatusOK}
	h.ServeHTTP(rec, r)
	// However the client encoded it, a key pasted into the path is not echoed.
	path := ShownPath(r.URL.Path)
	if rec.code == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", rec.Header().Get("Allow"))
		WriteError(w, r, NewError(rec.code, "METHOD_NOT_ALLOWED", "method "+r.Method+" is not allowed on "+path))
		return
	}
	WriteError(w, r, NotFound("no route for "+r.Method+" "+path))
}

// verdict keeps what ServeMux's own not-found or method-not-allowed handler decided (status and
// Allow header) and drops its plain-text body, which Mux replaces with JSON.
type verdict struct {
	header http.Header
	code   int
	wrote  bool
}

func (v *verdict) Header() http.Header { return v.header }

func (v *verdict) WriteHeader(code int) {
	if !v.wrote {
		v.code, v.wrote = code, true
	}
}

func (v *verdict) Write(p []byte) (int, error) { v.WriteHeader(http.StatusOK); return len(p), nil }
