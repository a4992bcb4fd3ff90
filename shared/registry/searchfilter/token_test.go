package searchfilter

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
)

func TestTokenRoundTrip(t *testing.T) {
	for _, p := range []position{
		{Operation: "SearchRuns", Upstream: "eyJvZmZzZXQiOiAxMDB9", Skip: 0, Size: 100},
		{Operation: "SearchRuns", Upstream: "", Skip: 3, Size: 4},
		{Operation: "SearchModelVersions", Upstream: "ÿ \"quoted\" \\ é", Skip: 199_999, Size: 200_000},
	} {
		got, err := decodeToken(p.encode(), p.Operation)
		if err != nil || got != p {
			t.Errorf("%+v: got %+v, %v", p, got, err)
		}
	}
}

func rawToken(json string) string {
	return tokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(json))
}

func TestBadTokensAreRefused(t *testing.T) {
	good := position{Operation: "SearchRuns", Upstream: "abc", Skip: 1, Size: 10}.encode()
	cases := map[string]string{
		"MLflow's own token":        "eyJvZmZzZXQiOiAxMH0=",
		"empty after the prefix":    tokenPrefix,
		"another version":           "hkp2." + strings.TrimPrefix(good, tokenPrefix),
		"padded base64":             good + "=",
		"standard base64 alphabet":  tokenPrefix + base64.StdEncoding.EncodeToString([]byte(`{"o":"SearchRuns","t":"a?>","k":1,"n":10}`)),
		"truncated":                 good[:len(good)-2],
		"altered":                   good[:len(good)-3] + "A" + good[len(good)-2:],
		"another search":            position{Operation: "SearchExperiments", Upstream: "abc", Skip: 1, Size: 10}.encode(),
		"negative offset":           rawToken(`{"o":"SearchRuns","t":"abc","k":-1,"n":10}`),
		"offset past the page":      rawToken(`{"o":"SearchRuns","t":"abc","k":10,"n":10}`),
		"zero page size":            rawToken(`{"o":"SearchRuns","t":"abc","k":0,"n":0}`),
		"huge page size":            rawToken(`{"o":"SearchRuns","t":"abc","k":0,"n":200001}`),
		"the first page itself":     rawToken(`{"o":"SearchRuns","t":"","k":0,"n":10}`),
		"a missing field":           rawToken(`{"o":"SearchRuns","t":"abc","n":10}`),
		"an unknown field":          rawToken(`{"o":"SearchRuns","t":"abc","k":1,"n":10,"x":1}`),
		"a duplicated field":        rawToken(`{"o":"SearchRuns","t":"abc","k":1,"k":2,"n":10}`),
		"trailing data":             rawToken(`{"o":"SearchRuns","t":"abc","k":1,"n":10}{}`),
		"a float offset":            rawToken(`{"o":"SearchRuns","t":"abc","k":1.0,"n":10}`),
		"not canonical (spaces)":    rawToken(`{"o": "SearchRuns","t":"abc","k":1,"n":10}`),
		"a nested gateway token":    position{Operation: "SearchRuns", Upstream: good, Skip: 1, Size: 10}.encode(),
		"null fields":               rawToken(`{"o":null,"t":null,"k":null,"n":null}`),
		"JSON that is not a object": rawToken(`[1,2]`),
		"over the length bound":     tokenPrefix + strings.Repeat("A", maxTokenLength),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := decodeToken(tok, "SearchRuns"); err == nil {
				t.Errorf("%q accepted", tok)
			}
			calls := 0
			f := New(nobody{})
			_, handled, err := f.Serve(context.Background(), Request{Operation: "SearchRuns", Method: "POST",
				Body: []byte(`{"experiment_ids":["1"],"page_token":` + quote(tok) + `}`)},
				func(context.Context, string, []byte) (Answer, error) { calls++; return Answer{}, nil })
			var e *Error
			if !handled || !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Code != "INVALID_PARAMETER_VALUE" || calls != 0 {
				t.Errorf("handled %v, %v, %d calls", handled, err, calls)
			}
			if e != nil && strings.Contains(e.Message, tok) {
				t.Errorf("the message echoes the token: %s", e.Message)
			}
		})
	}
}

func quote(s string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
}

// nobody reads nothing but the experiments named "1".
type nobody struct{}

func (nobody) ReadsAll(permissions.Caller) bool { return false }
func (nobody) Readable(_ context.Context, _ permissions.Caller, rs []permissions.Resource) ([]bool, error) {
	out := make([]bool, len(rs))
	for i, r := range rs {
		out[i] = r.ID == "1"
	}
	return out, nil
}

func TestBadRequestsAreRefusedWithoutMLflow(t *testing.T) {
	cases := map[string]Request{
		"both page token names":     {Operation: "SearchRuns", Method: "POST", Body: []byte(`{"page_token":"a","pageToken":"b"}`)},
		"a page token not a string": {Operation: "SearchRuns", Method: "POST", Body: []byte(`{"page_token":5}`)},
		"max_results not a number":  {Operation: "SearchRuns", Method: "POST", Body: []byte(`{"max_results":"ten"}`)},
		"max_results zero":          {Operation: "SearchRuns", Method: "POST", Body: []byte(`{"max_results":0}`)},
		"max_results fractional":    {Operation: "SearchRuns", Method: "POST", Body: []byte(`{"max_results":1.5}`)},
		"max_results in a query":    {Operation: "SearchRegisteredModels", Method: "GET", RawQuery: "max_results=1e3"},
		"experiment ids not a list": {Operation: "SearchRuns", Method: "POST", Body: []byte(`{"experiment_ids":"1"}`)},
		"experiment ids numbers":    {Operation: "SearchRuns", Method: "POST", Body: []byte(`{"experiment_ids":[1]}`)},
		"locations not a list":      {Operation: "SearchTracesV3", Method: "POST", Body: []byte(`{"locations":{}}`)},
		"a body that is a list":     {Operation: "SearchExperiments", Method: "POST", Body: []byte(`[1]`)},
	}
	for name, req := range cases {
		t.Run(name, func(t *testing.T) {
			calls := 0
			_, handled, err := New(nobody{}).Serve(context.Background(), req,
				func(context.Context, string, []byte) (Answer, error) { calls++; return Answer{}, nil })
			var e *Error
			if !handled || !errors.As(err, &e) || e.Status != http.StatusBadRequest || calls != 0 {
				t.Errorf("handled %v, %v, %d calls", handled, err, calls)
			}
		})
	}
}

// FuzzPageToken: any token is either the canonical encoding of a valid position or refused, and
// a refused one makes no upstream call.
func FuzzPageToken(f *testing.F) {
	f.Add(position{Operation: "SearchRuns", Upstream: "abc", Skip: 1, Size: 10}.encode())
	f.Add(position{Operation: "SearchRuns", Upstream: "", Skip: 3, Size: 4}.encode())
	f.Add("eyJvZmZzZXQiOiAxMH0=")
	f.Add(tokenPrefix)
	f.Add(rawToken(`{"o":"SearchRuns","t":"abc","k":1,"n":10}`))
	f.Fuzz(func(t *testing.T, tok string) {
		p, err := decodeToken(tok, "SearchRuns")
		if err != nil {
			return
		}
		if p.encode() != tok || p.Operation != "SearchRuns" || p.Skip < 0 || p.Skip >= p.Size || p.Size > maxPageSize ||
			(p.Upstream == "" && p.Skip == 0) || isGatewayToken(p.Upstream) {
			t.Fatalf("accepted %q as %+v", tok, p)
		}
	})
}

// failing cannot read permissions (the store is down).
type failing struct{}

func (failing) ReadsAll(permissions.Caller) bool { return false }
func (failing) Readable(context.Context, permissions.Caller, []permissions.Resource) ([]bool, error) {
	return nil, errors.New("store down")
}

// asking records what it is asked about; it reads everything.
type asking struct{ asked []permissions.Resource }

func (a *asking) ReadsAll(permissions.Caller) bool { return false }
func (a *asking) Readable(_ context.Context, _ permissions.Caller, rs []permissions.Resource) ([]bool, error) {
	a.asked = append(a.asked, rs...)
	out := make([]bool, len(rs))
	for i := range out {
		out[i] = true
	}
	return out, nil
}

func TestExperimentIDsMLflowDoesNotIssueAreNotSearched(t *testing.T) {
	perms := &asking{}
	var sent []byte
	_, handled, err := New(perms).Serve(context.Background(), Request{Operation: "SearchRuns", Method: "POST",
		Body: []byte(`{"experiment_ids":["", " 1", "1 ", "x", "-1", "1e3", "١", "0123", "` + strings.Repeat("9", 33) + `"]}`)},
		func(_ context.Context, _ string, b []byte) (Answer, error) {
			sent = b
			return Answer{Status: 200, Header: http.Header{}, Body: []byte(`{}`)}, nil
		})
	if err != nil || !handled {
		t.Fatal(handled, err)
	}
	if len(perms.asked) != 1 || perms.asked[0].ID != "0123" {
		t.Errorf("asked about %v", perms.asked)
	}
	if !strings.Contains(string(sent), `"experiment_ids":["0123"]`) {
		t.Errorf("MLflow was sent %s", sent)
	}
}

func TestUnreadablePermissionsAnswerNothing(t *testing.T) {
	calls := 0
	fetch := func(context.Context, string, []byte) (Answer, error) {
		calls++
		return Answer{Status: 200, Header: http.Header{}, Body: []byte(`{"experiments":[{"experiment_id":"1"}]}`)}, nil
	}
	for _, req := range []Request{
		{Operation: "SearchRuns", Method: "POST", Body: []byte(`{"experiment_ids":["1"]}`)},
		{Operation: "SearchExperiments", Method: "POST", Body: []byte(`{}`)},
	} {
		a, _, err := New(failing{}).Serve(context.Background(), req, fetch)
		if !errors.Is(err, ErrPermissions) || a.Body != nil {
			t.Errorf("%s: %v %s", req.Operation, err, a.Body)
		}
	}
	if calls != 1 { // the experiments search fetched its page before asking
		t.Errorf("%d calls", calls)
	}
}
