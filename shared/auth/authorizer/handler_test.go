package authorizer_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/authorizer"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/apikey"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
)

const methodArn = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/POST/api/models/register"

func request(headers map[string]string) events.APIGatewayCustomAuthorizerRequestTypeRequest {
	return events.APIGatewayCustomAuthorizerRequestTypeRequest{
		Type: "REQUEST", MethodArn: methodArn, Headers: headers,
		RequestContext: events.APIGatewayCustomAuthorizerRequestTypeRequestContext{
			RequestID: "req-1", Identity: events.APIGatewayCustomAuthorizerRequestTypeRequestIdentity{SourceIP: "203.0.113.7"},
		},
	}
}

func TestKeyFrom(t *testing.T) {
	k1, k2 := testKey("live", 1), testKey("live", 2)
	for _, tc := range []struct {
		name    string
		headers map[string]string
		query   map[string]string
		want    string
		from    apikey.Source
	}{
		{"bearer", map[string]string{"Authorization": "Bearer " + k1}, nil, k1, apikey.FromBearer},
		{"apikey scheme", map[string]string{"Authorization": "ApiKey " + k1}, nil, k1, apikey.FromApiKey},
		{"x-api-key", map[string]string{"X-API-Key": k1}, nil, k1, apikey.FromHeader},
		{"authorization before x-api-key", map[string]string{"Authorization": "Bearer " + k1, "X-API-Key": k2}, nil, k1, apikey.FromBearer},
		{"lower-case header names", map[string]string{"authorization": "Bearer " + k1}, nil, k1, apikey.FromBearer},
		{"lower-case x-api-key", map[string]string{"x-api-key": k2}, nil, k2, apikey.FromHeader},
		{"lower-case scheme", map[string]string{"authorization": "bearer " + k1}, nil, k1, apikey.FromBearer},
		{"other scheme falls back to x-api-key", map[string]string{"Authorization": "Basic dXNlcjpwYXNz", "x-api-key": k2}, nil, k2, apikey.FromHeader},
		{"empty bearer falls back", map[string]string{"Authorization": "Bearer ", "X-Api-Key": k2}, nil, k2, apikey.FromHeader},
		{"query string ignored", nil, map[string]string{"api_key": k1, "apikey": k1, "key": k1}, "", ""},
		{"nothing", map[string]string{"Accept": "application/json"}, nil, "", ""},
		// Two keys in one request: refused, not settled by whichever spelling the map yields first.
		{"two spellings of x-api-key, two keys", map[string]string{"X-Api-Key": k1, "x-api-key": k2}, nil, "", ""},
		{"two spellings of authorization, two keys", map[string]string{"Authorization": "Bearer " + k1, "authorization": "Bearer " + k2}, nil, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := request(tc.headers)
			req.QueryStringParameters = tc.query
			key, from, ok := authorizer.KeyFrom(req)
			if key != tc.want || from != tc.from || ok != (tc.want != "") {
				t.Errorf("got %q %q %v, want %q %q", key, from, ok, tc.want, tc.from)
			}
		})
	}
}

func TestHandle(t *testing.T) {
	key := testKey("live", 1)
	bearer := map[string]string{"authorization": "Bearer " + key, "X-Forwarded-For": "10.9.9.9"}
	for _, tc := range []struct {
		name      string
		external  bool
		headers   map[string]string
		query     map[string]string
		arn       string
		service   answer
		wantErr   string // "" means a policy is returned
		wantEff   string
		wantCalls calls
	}{
		{name: "allow", external: true, headers: bearer, service: answerValid, wantEff: "Allow", wantCalls: calls{get: 1, service: 1, put: 1}},
		{name: "no key", external: true, headers: map[string]string{}, wantErr: "Unauthorized"},
		{name: "key only in the query string", external: true, query: map[string]string{"api_key": key}, wantErr: "Unauthorized"},
		{name: "malformed key", external: true, headers: map[string]string{"X-API-Key": "hk_live_tooshort"}, wantErr: "Unauthorized"},
		{name: "invalid key", external: true, headers: bearer, service: answerNo, wantErr: "Unauthorized", wantCalls: calls{get: 1, service: 1, put: 1}},
		{name: "rate limited: Deny", external: true, headers: bearer, service: answer429, wantEff: "Deny", wantCalls: calls{get: 1, service: 1}},
		{name: "service down: failure", external: true, headers: bearer, service: answer503, wantErr: "authorizer failure", wantCalls: calls{get: 1, service: 1}},
		{name: "unparsable method ARN: failure", external: true, headers: bearer, arn: "nonsense", wantErr: "authorizer failure"},
		{name: "dynamodb: unknown key", headers: bearer, wantErr: "Unauthorized", wantCalls: calls{get: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, tc.external, nil)
			r.svc.set(tc.service)
			h := authorizer.NewHandler(r.v, r.settings.Log)
			req := request(tc.headers)
			req.QueryStringParameters = tc.query
			if tc.arn != "" {
				req.MethodArn = tc.arn
			}
			before := r.calls()
			res, err := h.Handle(context.Background(), req)
			after := r.calls()
			if got := (calls{after.get - before.get, after.service - before.service, after.put - before.put}); got != tc.wantCalls {
				t.Errorf("calls %+v, want %+v", got, tc.wantCalls)
			}
			switch {
			case tc.wantErr == "Unauthorized":
				// API Gateway matches this exact message to answer 401.
				if err == nil || err.Error() != "Unauthorized" {
					t.Fatalf("err = %v, want exactly Unauthorized", err)
				}
			case tc.wantErr != "":
				if err == nil || err.Error() == "Unauthorized" || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want a failure (not Unauthorized)", err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				checkPolicy(t, res, tc.wantEff)
			}
			if strings.Contains(r.logs.String(), key[len("hk_live_"):]) || (err != nil && strings.Contains(err.Error(), key[len("hk_live_"):])) {
				t.Error("the key reached a log line or an error")
			}
		})
	}
}

func checkPolicy(t *testing.T, res events.APIGatewayCustomAuthorizerResponse, effect string) {
	t.Helper()
	st := res.PolicyDocument.Statement
	if res.PolicyDocument.Version != "2012-10-17" || len(st) != 1 || st[0].Effect != effect ||
		len(st[0].Action) != 1 || st[0].Action[0] != "execute-api:Invoke" ||
		len(st[0].Resource) != 1 || st[0].Resource[0] != "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/*/*" {
		t.Errorf("policy %+v", res.PolicyDocument)
	}
	if res.PrincipalID == "" {
		t.Error("no principalId")
	}
}

func TestHandleAllowContext(t *testing.T) {
	r := newRig(t, true, nil)
	h := authorizer.NewHandler(r.v, r.settings.Log)
	res, err := h.Handle(context.Background(), request(map[string]string{"X-API-Key": testKey("live", 1)}))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"user_id": "user-1", "key_id": "key-1", "scopes": "mlflow:write model:read",
		"email": "ada@example.com", "is_admin": "true", "service_id": "platform"}
	if res.PrincipalID != "user-1" || len(res.Context) != len(want) {
		t.Fatalf("principal %q context %v", res.PrincipalID, res.Context)
	}
	for k, v := range want {
		if res.Context[k] != v {
			t.Errorf("context[%s] = %v, want %v", k, res.Context[k], v)
		}
	}
	// What API Gateway receives, read back the way a function reads its authorizer context.
	raw, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var wire struct {
		PrincipalID    string         `json:"principalId"`
		Context        map[string]any `json:"context"`
		PolicyDocument struct {
			Statement []struct{ Effect string }
		} `json:"policyDocument"`
	}
	if err := json.Unmarshal(raw, &wire); err != nil {
		t.Fatal(err)
	}
	p, ok := principal.FromAuthorizer(wire.Context)
	if !ok || p.UserID != "user-1" || !p.Admin || len(p.Scopes) != 2 || wire.PolicyDocument.Statement[0].Effect != "Allow" {
		t.Errorf("round trip: %+v %v (%s)", p, ok, raw)
	}
	if r.svc.lastIP != "203.0.113.7" {
		t.Errorf("client_ip %q: must be requestContext.identity.sourceIp", r.svc.lastIP)
	}
}

func TestHandleDenyIdentifiesKeyByDigestOnly(t *testing.T) {
	r := newRig(t, true, nil)
	r.svc.set(answer429)
	key := testKey("live", 1)
	res, err := authorizer.NewHandler(r.v, r.settings.Log).Handle(context.Background(), request(map[string]string{"X-API-Key": key}))
	if err != nil {
		t.Fatal(err)
	}
	if want := "key:" + apikey.Digest(key)[:12]; res.PrincipalID != want || res.Context != nil {
		t.Errorf("principal %q context %v, want %q and no context", res.PrincipalID, res.Context, want)
	}
}

func TestHandleErrorsAreDistinct(t *testing.T) {
	// The gateway tells 401 from 503 by the error text alone.
	r := newRig(t, true, nil)
	h := authorizer.NewHandler(r.v, r.settings.Log)
	_, unauth := h.Handle(context.Background(), request(nil))
	r.svc.set(answer503)
	_, failure := h.Handle(context.Background(), request(map[string]string{"X-API-Key": testKey("live", 1)}))
	if unauth == nil || failure == nil || unauth.Error() == failure.Error() || errors.Is(failure, unauth) {
		t.Errorf("unauthorized %v, failure %v", unauth, failure)
	}
}

func FuzzExtract(f *testing.F) {
	k := testKey("live", 1)
	for _, s := range [][8]string{
		{"Authorization", "Bearer " + k, "", "", "", "", "", ""},
		{"authorization", "ApiKey " + k, "x-api-key", "other", "", "", k, ""},
		{"X-API-Key", " " + k + " ", "AUTHORIZATION", "Basic x", "Cookie", "a=b", "", ""},
		{"Authorization", "Bearer", "x-Api-key", "\t", "authorization", "bearer  x  y", k, ""},
		{"", "", "", "", "", "", k, ""},
		// Two spellings of X-API-Key with different values: once read by map order (CI found it).
		{"X-Api-Key", "(", "x-api-key", "00", "", "", "", ""},
		{"X-API-Key", k, "", "", "", "", "", "other"},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7])
	}
	f.Fuzz(func(t *testing.T, n1, v1, n2, v2, n3, v3, query, repeat string) {
		headers := map[string]string{n1: v1, n2: v2, n3: v3}
		req := request(headers)
		if repeat != "" {
			// The client sent n1 twice; API Gateway keeps the last in headers, both in multiValueHeaders.
			req.Headers[n1] = repeat
			req.MultiValueHeaders = map[string][]string{n1: {v1, repeat}}
		}
		key, from, ok := authorizer.KeyFrom(req)
		if ok != (key != "") || ok != (from != "") {
			t.Fatalf("inconsistent: %q %q %v", key, from, ok)
		}
		if ok && !strings.Contains(v1, key) && !strings.Contains(v2, key) && !strings.Contains(v3, key) && !strings.Contains(repeat, key) {
			t.Fatalf("key %q is not from any header value", key)
		}
		// Map order never matters: the same request read again reads the same.
		for range 4 {
			if k2, f2, ok2 := authorizer.KeyFrom(req); k2 != key || f2 != from || ok2 != ok {
				t.Fatalf("the same headers read %q, then %q", key, k2)
			}
		}
		// The query string never matters.
		req.QueryStringParameters = map[string]string{"api_key": query, "apikey": query, "key": query}
		req.MultiValueQueryStringParameters = map[string][]string{"api_key": {query}}
		if k2, f2, ok2 := authorizer.KeyFrom(req); k2 != key || f2 != from || ok2 != ok {
			t.Fatalf("query string changed the result: %q -> %q", key, k2)
		}
	})
}

func TestHandleLogsOutcomeWithoutKey(t *testing.T) {
	var buf strings.Builder
	key := testKey("live", 1)
	r := newRig(t, true, nil)
	// The function's own logger, as main builds it.
	h := authorizer.NewHandler(r.v, logging.New(&buf, slog.LevelInfo, "authorizer"))
	if _, err := h.Handle(context.Background(), request(map[string]string{"X-API-Key": key})); err != nil {
		t.Fatal(err)
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(buf.String()), &line); err != nil {
		t.Fatalf("%v: %q", err, buf.String())
	}
	for k, want := range map[string]any{"msg": "authorization", "outcome": "allow", "via": "service",
		"key_ref": apikey.Digest(key)[:12], "key_from": "x-api-key", "user_id": "user-1", "request_id": "req-1"} {
		if line[k] != want {
			t.Errorf("%s = %v, want %v", k, line[k], want)
		}
	}
	if _, ok := line["latency_ms"].(float64); !ok {
		t.Errorf("no latency: %v", line)
	}
	if strings.Contains(buf.String(), key[len("hk_live_"):]) {
		t.Errorf("key logged: %s", buf.String())
	}
}
