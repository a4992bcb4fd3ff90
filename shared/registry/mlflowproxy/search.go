package mlflowproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/registry/searchfilter"
)

// Searches (issue 14): MLflow's searches answer only what the caller may read, in full pages
// (package searchfilter). Each upstream page is one call through the same ReverseProxy as any
// other, so it gets the same credentials, headers, time budget and answer hygiene; MLflow's
// error to any of them is the client's answer.

// FilterSearches makes the proxy filter searches by perms. Without it every search is relayed.
func (h *Handler) FilterSearches(perms searchfilter.Permissions) *Handler {
	h.searches = searchfilter.New(perms)
	return h
}

// serveSearch answers a search through the filter and reports whether it did; false: the
// request is relayed as it is, its body untouched.
func (h *Handler) serveSearch(w http.ResponseWriter, r *http.Request, ex *exchange) bool {
	if h.searches == nil {
		return false
	}
	op, err := ex.route.Operation(r.Method)
	if err != nil || !searchfilter.Filters(op.Name) {
		return false
	}
	body, err := readRegistryBody(r) // bounded, and replayable if the search is relayed after all
	if err != nil {
		writeError(w, r, err)
		return true
	}
	a, handled, err := h.searches.Serve(r.Context(), searchfilter.Request{
		Operation: op.Name, Method: r.Method, RawQuery: r.URL.RawQuery, Body: body,
		Caller: ex.caller.Caller(h.adminEmails),
	}, h.fetchSearch(r, ex))
	var refused *searchfilter.Error
	var own *apiError
	switch {
	case errors.As(err, &refused):
		writeError(w, r, newError(refused.Status, refused.Code, refused.Message).withCause(err))
	case errors.As(err, &own):
		writeError(w, r, own) // the proxy's own (a timeout before an upstream call)
	case errors.Is(err, searchfilter.ErrPermissions):
		// As the per-resource check answers it (enforce.go): the client may retry.
		writeError(w, r, newError(http.StatusServiceUnavailable, "TEMPORARILY_UNAVAILABLE", "Permissions cannot be read now; retry later").withCause(err))
	case err != nil:
		writeError(w, r, newError(http.StatusBadGateway, "BAD_GATEWAY", "MLflow's search answer could not be read").withCause(err))
	case !handled:
		if body != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		return false
	default:
		for _, k := range []string{"Content-Type", "Content-Encoding"} {
			if v := a.Header.Get(k); v != "" {
				w.Header().Set(k, v)
			}
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(a.Body)))
		w.WriteHeader(a.Status)
		_, _ = w.Write(a.Body)
	}
	return true
}

// fetchSearch makes one upstream call of a search: the client's request with the filter's query
// and body, through the ReverseProxy with an exchange of its own (its own header timer, within
// what is left of the invocation's time).
func (h *Handler) fetchSearch(r *http.Request, ex *exchange) searchfilter.Fetch {
	return func(ctx context.Context, query string, body []byte) (searchfilter.Answer, error) {
		call := *ex
		if call.budget = h.budget(ctx); call.budget <= 0 {
			return searchfilter.Answer{}, timeoutError(call.budget)
		}
		out := r.Clone(ctx)
		out.URL.RawQuery = query
		out.Body, out.ContentLength = http.NoBody, 0
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			out.Body, out.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		}
		// The transport then asks for gzip itself and decodes it, so the filter reads plain JSON.
		out.Header.Del("Accept-Encoding")
		cctx, cancel := context.WithCancelCause(context.WithValue(ctx, exchangeKey{}, &call))
		defer cancel(nil)
		call.headers = time.AfterFunc(call.budget, func() { cancel(errHeaderTimeout) })
		defer call.headers.Stop()
		rec := &bufferedAnswer{header: http.Header{}, limit: searchfilter.MaxAnswer}
		h.proxy.ServeHTTP(rec, out.WithContext(cctx))
		if call.bodyErr != nil || rec.err != nil {
			return searchfilter.Answer{}, fmt.Errorf("MLflow's search answer: %w", errors.Join(call.bodyErr, rec.err))
		}
		return searchfilter.Answer{Status: rec.status, Header: rec.header, Body: rec.body.Bytes()}, nil
	}
}

// bufferedAnswer is an http.ResponseWriter that keeps one upstream answer, bounded.
type bufferedAnswer struct {
	header http.Header
	status int
	body   bytes.Buffer
	limit  int
	err    error
}

func (b *bufferedAnswer) Header() http.Header { return b.header }

func (b *bufferedAnswer) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *bufferedAnswer) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	if b.body.Len()+len(p) > b.limit {
		b.err = fmt.Errorf("answer over %d bytes", b.limit)
		return 0, b.err
	}
	return b.body.Write(p)
}
