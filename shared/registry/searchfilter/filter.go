// Package searchfilter answers MLflow's searches with only what the caller may read, in full
// pages. MLflow's basic-auth app filters a page after the query, so pages come back short
// (mlflow#24964); here, searches scoped to experiments are first narrowed to the readable ones,
// and when filtering drops results, further upstream pages fill the client's page, at most
// MaxUpstreamCalls of them. The client's page token is the gateway's own (token.go): it names
// MLflow's token and how many results of that upstream page are already behind the client, so
// paging through never repeats or skips a result. A caller who may read everything (the default
// READ, an admin) gets MLflow's answer untouched: the filter makes no call and changes no byte.
package searchfilter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/contentcoding"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
)

// MaxUpstreamCalls bounds the MLflow calls one client page makes. When it is reached the page
// is answered with what was found and a token continuing exactly there.
const MaxUpstreamCalls = 5

// MaxAnswer bounds one upstream page, decoded, that the filter reads.
const MaxAnswer = 32 << 20

// ErrPermissions marks a failure to learn the caller's permissions (the store is unavailable):
// the search is not answered.
var ErrPermissions = errors.New("permissions cannot be read")

// Permissions is what the filter needs to know of the caller's rights.
type Permissions interface {
	// ReadsAll reports whether the caller may read every experiment and registered model, so
	// nothing could be filtered.
	ReadsAll(c permissions.Caller) bool
	// Readable reports, for each resource, whether the caller may read it.
	Readable(ctx context.Context, c permissions.Caller, rs []permissions.Resource) ([]bool, error)
}

// Request is one search as the client sent it.
type Request struct {
	Operation string // the catalog's name of it ("SearchRuns")
	Method    string
	RawQuery  string
	Body      []byte
	Caller    permissions.Caller
}

// Answer is an HTTP answer: MLflow's to one call, or the filter's to the client.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte // as sent (Content-Encoding in Header)
}

// Fetch makes one call to MLflow: the client's search with this query and body.
type Fetch func(ctx context.Context, rawQuery string, body []byte) (Answer, error)

// Filter serves searches through Permissions.
type Filter struct {
	perms    Permissions
	maxCalls int
}

// New is a filter asking perms.
func New(perms Permissions) *Filter { return &Filter{perms: perms, maxCalls: MaxUpstreamCalls} }

// Serve answers a search; handled is false when the request is to be relayed to MLflow as it is
// (not a search of this package's, or a caller who reads everything and sends no gateway token).
// An *Error is the client's fault; any other error is the gateway's.
func (f *Filter) Serve(ctx context.Context, req Request, fetch Fetch) (a Answer, handled bool, err error) {
	s, ok := searches[req.Operation]
	if !ok {
		return Answer{}, false, nil
	}
	r, err := parseRequest(req.Method, req.RawQuery, req.Body)
	if err != nil {
		return Answer{}, true, err
	}
	token, err := r.str(fPageToken)
	if err != nil {
		return Answer{}, true, err
	}
	if s.defaultSize == 0 {
		token = "" // an unpaged search has no page token; MLflow ignores one
	}
	if f.perms.ReadsAll(req.Caller) && !isGatewayToken(token) {
		return Answer{}, false, nil
	}
	p := &pager{filter: f, search: s, req: req, base: r, fetch: fetch}
	return p.page(ctx, token)
}

// pager serves one client page.
type pager struct {
	filter *Filter
	search search
	req    Request
	base   *request
	fetch  Fetch
}

func (p *pager) page(ctx context.Context, token string) (Answer, bool, error) {
	at := position{Operation: p.req.Operation}
	if token != "" {
		var err error
		if at, err = decodeToken(token, p.req.Operation); err != nil {
			return Answer{}, true, invalid(fmt.Sprintf("Invalid page_token: %v", err))
		}
	}
	want := 0 // 0: unpaged, every result
	if p.search.defaultSize > 0 {
		n, set, err := p.base.integer(fMaxResults)
		switch {
		case err != nil:
			return Answer{}, true, err
		case !set:
			n = p.search.defaultSize
		case n < 1 || n > maxPageSize:
			return Answer{}, true, invalid(fmt.Sprintf("Invalid value %d for parameter 'max_results': it must be between 1 and %d", n, maxPageSize))
		}
		want = n
	}
	empty, err := p.narrow(ctx)
	switch {
	case err != nil:
		return Answer{}, true, err
	case empty:
		return emptyAnswer(), true, nil
	}

	var results []json.RawMessage
	var upstream Answer
	var top map[string]json.RawMessage
	for calls := 0; ; calls++ {
		if calls == p.filter.maxCalls {
			// The bound: continue where this page stopped, at the start of the next upstream page.
			return p.answer(top, results, at.encode()), true, nil
		}
		size := want
		if calls == 0 && token != "" {
			size = at.Size // the same upstream page the token counted in
		}
		if upstream, top, err = p.call(ctx, at.Upstream, size); err != nil || top == nil {
			return upstream, true, err
		}
		items, next, err := page(top, p.search.list)
		if err != nil {
			return Answer{}, true, err
		}
		readable, err := p.readable(ctx, items[min(at.Skip, len(items)):])
		if err != nil {
			return Answer{}, true, err
		}
		for i := at.Skip; i < len(items); i++ {
			if !readable[i-at.Skip] {
				continue
			}
			results = append(results, items[i])
			if want > 0 && len(results) == want {
				switch {
				case i+1 < len(items):
					return p.answer(top, results, position{p.req.Operation, at.Upstream, i + 1, size}.encode()), true, nil
				case next != "":
					return p.answer(top, results, position{p.req.Operation, next, 0, want}.encode()), true, nil
				default:
					return p.answer(top, results, ""), true, nil
				}
			}
		}
		if next == "" {
			return p.answer(top, results, ""), true, nil
		}
		at = position{Operation: p.req.Operation, Upstream: next, Size: want}
	}
}

// narrow keeps only the readable experiments in an experiment-scoped search; empty reports that
// none is left, and MLflow is then not called.
func (p *pager) narrow(ctx context.Context) (empty bool, err error) {
	switch p.search.scope {
	case experimentIDs:
		ids, err := p.base.strs(fExperimentIDs)
		if err != nil || len(ids) == 0 {
			return false, err
		}
		keep, err := p.keep(ctx, ids)
		if err != nil {
			return false, err
		}
		var kept []string
		for i, id := range ids {
			if keep[i] {
				kept = append(kept, id)
			}
		}
		if len(kept) == 0 {
			return true, nil
		}
		p.base.set(fExperimentIDs, kept)
	case traceLocations:
		locs, err := p.base.objects(fLocations)
		if err != nil || len(locs) == 0 {
			return false, err
		}
		experiment := nested("mlflow_experiment", "mlflowExperiment", idField("experiment_id", "experimentId"))
		ids := make([]string, len(locs))
		for i, l := range locs {
			// A location that is not an experiment's names nothing MLflow's server searches
			// (handlers.py _search_traces_v3 skips it); it is left out.
			ids[i], _ = experiment(l)
		}
		keep, err := p.keep(ctx, ids)
		if err != nil {
			return false, err
		}
		var kept []json.RawMessage
		for i, l := range locs {
			if keep[i] {
				kept = append(kept, l)
			}
		}
		if len(kept) == 0 {
			return true, nil
		}
		p.base.set(fLocations, kept)
	}
	return false, nil
}

// keep reports which experiment ids are readable. An id that is not one MLflow issues (digits)
// names no experiment the caller could be granted, and is not asked about.
func (p *pager) keep(ctx context.Context, ids []string) ([]bool, error) {
	var rs []permissions.Resource
	var at []int
	for i, id := range ids {
		if isExperimentID(id) {
			rs = append(rs, permissions.Resource{Kind: permissions.Experiment, ID: id})
			at = append(at, i)
		}
	}
	keep := make([]bool, len(ids))
	if len(rs) == 0 {
		return keep, nil
	}
	ok, err := p.filter.perms.Readable(ctx, p.req.Caller, rs)
	if err != nil {
		return nil, fmt.Errorf("%w: the searched experiments: %w", ErrPermissions, err)
	}
	if len(ok) != len(rs) {
		return nil, fmt.Errorf("%w: %d answers for %d experiments", ErrPermissions, len(ok), len(rs))
	}
	for j, i := range at {
		keep[i] = ok[j]
	}
	return keep, nil
}

// maxExperimentIDLength bounds an experiment id asked about: MLflow's are int64s.
const maxExperimentIDLength = 32

func isExperimentID(id string) bool {
	if id == "" || len(id) > maxExperimentIDLength {
		return false
	}
	for _, c := range []byte(id) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// readable reports which results the caller may read; a result naming no resource is not.
func (p *pager) readable(ctx context.Context, items []json.RawMessage) ([]bool, error) {
	out := make([]bool, len(items))
	var rs []permissions.Resource
	var at []int
	for i, it := range items {
		if r, ok := p.search.resource(it); ok {
			rs = append(rs, r)
			at = append(at, i)
		}
	}
	if len(rs) == 0 {
		return out, nil
	}
	ok, err := p.filter.perms.Readable(ctx, p.req.Caller, rs)
	if err != nil {
		return nil, fmt.Errorf("%w: search results: %w", ErrPermissions, err)
	}
	if len(ok) != len(rs) {
		return nil, fmt.Errorf("%w: %d answers for %d resources", ErrPermissions, len(ok), len(rs))
	}
	for j, i := range at {
		out[i] = ok[j]
	}
	return out, nil
}

// call fetches the upstream page at token (sized size; 0: unpaged). top is nil when MLflow did
// not answer 200: its answer is then the client's.
func (p *pager) call(ctx context.Context, token string, size int) (Answer, map[string]json.RawMessage, error) {
	r := p.base.clone()
	if p.search.defaultSize > 0 {
		r.set(fPageToken, nilIfEmpty(token))
		r.set(fMaxResults, size)
	}
	query, body := r.encode()
	if !r.get {
		query = p.req.RawQuery
	}
	a, err := p.fetch(ctx, query, body)
	if err != nil || a.Status != http.StatusOK {
		return a, nil, err
	}
	decoded, err := contentcoding.Decode(a.Body, a.Header.Get("Content-Encoding"), MaxAnswer)
	if err != nil {
		return Answer{}, nil, fmt.Errorf("MLflow's search answer: %w", err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(decoded, &top); err != nil || top == nil {
		return Answer{}, nil, fmt.Errorf("MLflow's search answer is not a JSON object")
	}
	return a, top, nil
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// page is an answer's results and next token.
func page(top map[string]json.RawMessage, list string) ([]json.RawMessage, string, error) {
	var items []json.RawMessage
	if v, ok := top[list]; ok {
		if err := json.Unmarshal(v, &items); err != nil {
			return nil, "", fmt.Errorf("MLflow's search answer: %s is not a list", list)
		}
	}
	var next string
	if v, ok := top["next_page_token"]; ok {
		if err := json.Unmarshal(v, &next); err != nil {
			return nil, "", fmt.Errorf("MLflow's search answer: next_page_token is not a string")
		}
	}
	if isGatewayToken(next) {
		return nil, "", fmt.Errorf("MLflow's search answer: next_page_token has the gateway's prefix")
	}
	return items, next, nil
}

// answer is the client's page: MLflow's last answer's other fields, the readable results and
// the gateway's token. Empty fields are left out, as MLflow's own JSON leaves them.
func (p *pager) answer(top map[string]json.RawMessage, results []json.RawMessage, token string) Answer {
	out := make(map[string]json.RawMessage, len(top)+2)
	for k, v := range top {
		out[k] = v
	}
	delete(out, p.search.list)
	delete(out, "next_page_token")
	if len(results) > 0 {
		out[p.search.list] = mustJSON(results)
	}
	if token != "" {
		out["next_page_token"] = mustJSON(token)
	}
	return jsonAnswer(mustJSON(out))
}

func emptyAnswer() Answer { return jsonAnswer([]byte("{}")) }

func jsonAnswer(body []byte) Answer {
	return Answer{Status: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}}, Body: body}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // raw JSON that was parsed and strings always marshal
	}
	return b
}
