package httpapi

import (
	"net/http"
	"net/http/httptest"
)

// Mux is http.ServeMux with JSON answers for unknown routes (404) and wrong methods (405).
type Mux struct{ http.ServeMux }

// NewMux returns an empty Mux.
func NewMux() *Mux { return &Mux{} }

func (m *Mux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, pattern := m.Handler(r)
	if pattern != "" {
		// ServeMux.ServeHTTP, not h: only it fills in r.PathValue.
		m.ServeMux.ServeHTTP(w, r)
		return
	}
	// No route matched: let ServeMux decide between 404 and 405 (and the Allow header), then
	// answer in JSON instead of its plain text.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusNotFound && rec.Code != http.StatusMethodNotAllowed {
		// A redirect to the cleaned path: pass it on as ServeMux wrote it.
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		return
	}
	if allow := rec.Header().Get("Allow"); allow != "" {
		w.Header().Set("Allow", allow)
	}
	code := "NOT_FOUND"
	detail := "no route for " + r.Method + " " + r.URL.Path
	if rec.Code == http.StatusMethodNotAllowed {
		code = "METHOD_NOT_ALLOWED"
		detail = "method " + r.Method + " is not allowed on " + r.URL.Path
	}
	WriteError(w, r, NewError(rec.Code, code, detail))
}
