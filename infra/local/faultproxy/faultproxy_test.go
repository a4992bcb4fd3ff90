package faultproxy_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/hokusai-protocol/registry-gateway/infra/local/faultproxy"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/servers"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"
)

// outcome is how an SDK call ended, as a caller would tell.
type outcome string

const (
	ok        outcome = "ok"
	transport outcome = "transport error"
	throttled outcome = "throttling error"
	serverErr outcome = "5xx error"
	other     outcome = "other error"
)

func classify(err error) outcome {
	var sendErr *smithyhttp.RequestSendError
	var respErr *awshttp.ResponseError
	switch {
	case err == nil:
		return ok
	case errors.As(err, &sendErr):
		return transport
	case retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary:
		return throttled
	case errors.As(err, &respErr) && respErr.HTTPStatusCode() >= 500:
		return serverErr
	default:
		return other
	}
}

// attempts is the SDK's attempt budget per call in these tests; a faulted call must use all of
// them, which shows the SDK took the fault as retryable.
const attempts = 2

// TestFaultsPerService drives DynamoDB and EventBridge SDK clients through one proxy and checks
// that a fault on one service leaves the other alone. It runs against a stub backend, and against
// a real moto when the repository's virtualenv exists.
func TestFaultsPerService(t *testing.T) {
	backends := map[string]func(t *testing.T) string{
		"stub": stubBackend,
		"moto": motoBackend,
	}
	for name, backend := range backends {
		t.Run(name, func(t *testing.T) {
			target, err := url.Parse(backend(t))
			if err != nil {
				t.Fatal(err)
			}
			proxy := faultproxy.New(target)
			srv, err := proxy.Start("")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = srv.Close() })
			runSteps(t, proxy, clients(srv.URL))
		})
	}
}

func runSteps(t *testing.T, proxy *faultproxy.Proxy, calls map[string]func(context.Context) error) {
	const delay = 300 * time.Millisecond
	for _, step := range []struct {
		name   string
		faults map[string]faultproxy.Fault
		want   map[string]outcome
	}{
		{"no fault", nil, map[string]outcome{"dynamodb": ok, "events": ok}},
		{
			"dynamodb unreachable",
			map[string]faultproxy.Fault{"dynamodb": {Unreachable: true}},
			map[string]outcome{"dynamodb": transport, "events": ok},
		},
		{"cleared", nil, map[string]outcome{"dynamodb": ok, "events": ok}},
		{
			"dynamodb throttled",
			map[string]faultproxy.Fault{"dynamodb": {Throttle: true}},
			map[string]outcome{"dynamodb": throttled, "events": ok},
		},
		{
			"eventbridge throttled, by alias",
			map[string]faultproxy.Fault{"eventbridge": {Throttle: true}},
			map[string]outcome{"dynamodb": ok, "events": throttled},
		},
		{
			"events 503",
			map[string]faultproxy.Fault{"events": {Status: http.StatusServiceUnavailable}},
			map[string]outcome{"dynamodb": ok, "events": serverErr},
		},
		{
			"dynamodb delayed",
			map[string]faultproxy.Fault{"dynamodb": {Delay: delay}},
			map[string]outcome{"dynamodb": ok, "events": ok},
		},
		{
			"dynamodb delayed then dropped",
			map[string]faultproxy.Fault{"dynamodb": {Delay: delay, Unreachable: true}},
			map[string]outcome{"dynamodb": transport, "events": ok},
		},
	} {
		t.Run(step.name, func(t *testing.T) {
			proxy.ClearAll()
			for svc, f := range step.faults {
				proxy.SetFault(svc, f)
			}
			proxy.ResetCounts()
			for svc, want := range step.want {
				start := time.Now()
				err := calls[svc](t.Context())
				elapsed := time.Since(start)
				if got := classify(err); got != want {
					t.Errorf("%s: got %s (%v), want %s", svc, got, err, want)
				}
				wantCount := 1
				if want != ok {
					wantCount = attempts
				}
				if got := proxy.Counts()[svc]; got != wantCount {
					t.Errorf("%s: proxy saw %d requests, want %d", svc, got, wantCount)
				}
				if f := step.faults[svc]; f.Delay > 0 && elapsed < f.Delay {
					t.Errorf("%s: took %s, want at least the %s delay", svc, elapsed, f.Delay)
				}
			}
		})
	}
	proxy.ClearAll()
}

// The SDK must map the injected DynamoDB throttle to its modelled error type.
func TestDynamoDBThrottleIsModelledError(t *testing.T) {
	target, _ := url.Parse(stubBackend(t))
	proxy := faultproxy.New(target)
	proxy.SetFault("dynamodb", faultproxy.Fault{Throttle: true})
	srv, err := proxy.Start("")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	err = clients(srv.URL)["dynamodb"](t.Context())
	var pte *types.ProvisionedThroughputExceededException
	if !errors.As(err, &pte) {
		t.Fatalf("err = %v, want ProvisionedThroughputExceededException", err)
	}
}

func TestThrottleResponses(t *testing.T) {
	var backendHit atomic.Bool
	backend := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { backendHit.Store(true) }))
	defer backend.Close()
	target, _ := url.Parse(backend.URL)
	proxy := faultproxy.New(target)
	for _, svc := range []string{"dynamodb", "events", "sqs", "s3", "sns", "lambda"} {
		proxy.SetFault(svc, faultproxy.Fault{Throttle: true})
	}
	for _, tc := range []struct {
		name        string
		header      http.Header
		wantStatus  int
		wantType    string
		wantInBody  string
		wantErrType string
	}{
		{"dynamodb json 1.0", hdr("dynamodb", "DynamoDB_20120810.PutItem", "application/x-amz-json-1.0"), 400, "application/x-amz-json-1.0", "#ProvisionedThroughputExceededException", ""},
		{"eventbridge json 1.1", hdr("events", "AWSEvents.PutEvents", "application/x-amz-json-1.1"), 400, "application/x-amz-json-1.1", `"__type":"ThrottlingException"`, ""},
		{"sqs json 1.0", hdr("sqs", "AmazonSQS.SendMessage", "application/x-amz-json-1.0"), 400, "application/x-amz-json-1.0", `"__type":"ThrottlingException"`, ""},
		{"s3 rest-xml", hdr("s3", "", ""), 503, "text/xml", "<Code>SlowDown</Code>", ""},
		{"sns query", hdr("sns", "", "application/x-www-form-urlencoded; charset=utf-8"), 400, "text/xml", "<Code>Throttling</Code>", ""},
		{"lambda rest-json", hdr("lambda", "", "application/json"), 429, "application/json", "throttling", "ThrottlingException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}"))
			req.Header = tc.header
			proxy.ServeHTTP(rec, req)
			if rec.Code != tc.wantStatus || rec.Header().Get("Content-Type") != tc.wantType ||
				!strings.Contains(rec.Body.String(), tc.wantInBody) || rec.Header().Get("X-Amzn-ErrorType") != tc.wantErrType {
				t.Errorf("got %d %q X-Amzn-ErrorType=%q %s; want %d %q %q containing %q",
					rec.Code, rec.Header().Get("Content-Type"), rec.Header().Get("X-Amzn-ErrorType"), rec.Body,
					tc.wantStatus, tc.wantType, tc.wantErrType, tc.wantInBody)
			}
		})
	}
	if backendHit.Load() {
		t.Error("a throttled request reached the backend")
	}
}

func TestServiceOf(t *testing.T) {
	for _, tc := range []struct {
		name   string
		url    string
		header http.Header
		want   string
	}{
		{"sigv4 scope", "/", http.Header{"Authorization": {"AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc"}}, "dynamodb"},
		{"sigv4 scope wins over target", "/", http.Header{
			"Authorization": {"AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/events/aws4_request, SignedHeaders=host, Signature=abc"},
			"X-Amz-Target":  {"DynamoDB_20120810.ListTables"},
		}, "events"},
		{"sigv4a scope", "/", http.Header{"Authorization": {"AWS4-ECDSA-P256-SHA256 Credential=test/20240101/s3/aws4_request, SignedHeaders=host, Signature=abc"}}, "s3"},
		{"presigned url", "/bucket/key?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=test%2F20240101%2Fus-east-1%2Fs3%2Faws4_request", nil, "s3"},
		{"unsigned dynamodb", "/", http.Header{"X-Amz-Target": {"DynamoDB_20120810.GetItem"}}, "dynamodb"},
		{"unsigned sqs", "/", http.Header{"X-Amz-Target": {"AmazonSQS.ReceiveMessage"}}, "sqs"},
		{"unsigned secrets manager", "/", http.Header{"X-Amz-Target": {"secretsmanager.GetSecretValue"}}, "secretsmanager"},
		{"malformed scope", "/", http.Header{"Authorization": {"AWS4-HMAC-SHA256 Credential=garbage"}}, faultproxy.Unknown},
		{"nothing", "/moto-api/", nil, faultproxy.Unknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tc.url, nil)
			if tc.header != nil {
				req.Header = tc.header
			}
			if got := faultproxy.ServiceOf(req); got != tc.want {
				t.Errorf("ServiceOf = %q, want %q", got, tc.want)
			}
		})
	}
}

// Requests pass through with their body and Host intact.
func TestForwardsUnchanged(t *testing.T) {
	type seen struct{ host, body string }
	got := make(chan seen, 1)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Host, string(b)}
		io.WriteString(w, "pong")
	}))
	defer backend.Close()
	target, _ := url.Parse(backend.URL)
	srv, err := faultproxy.New(target).Start("")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/x", "text/plain", strings.NewReader("ping"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	s := <-got
	proxyHost := strings.TrimPrefix(srv.URL, "http://")
	if string(body) != "pong" || s.body != "ping" || s.host != proxyHost {
		t.Errorf("response %q, backend saw body %q host %q; want pong, ping, %q", body, s.body, s.host, proxyHost)
	}
}

// clients returns one call per service, through endpoint, with a fast fixed retry budget.
func clients(endpoint string) map[string]func(context.Context) error {
	cfg := aws.Config{
		Region:      servers.Region,
		Credentials: credentials.NewStaticCredentialsProvider(servers.AccessKeyID, servers.SecretAccessKey, ""),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = attempts
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
				o.RateLimiter = ratelimit.None
			})
		},
	}
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(endpoint) })
	eb := eventbridge.NewFromConfig(cfg, func(o *eventbridge.Options) { o.BaseEndpoint = aws.String(endpoint) })
	return map[string]func(context.Context) error{
		"dynamodb": func(ctx context.Context) error {
			_, err := db.ListTables(ctx, &dynamodb.ListTablesInput{})
			return err
		},
		"events": func(ctx context.Context) error {
			_, err := eb.ListEventBuses(ctx, &eventbridge.ListEventBusesInput{})
			return err
		},
	}
}

// stubBackend answers every JSON-protocol call with an empty result, which both ListTables and
// ListEventBuses accept.
func stubBackend(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
		io.WriteString(w, "{}")
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func motoBackend(t *testing.T) string {
	return testenv.Moto(t).URL
}

func hdr(service, target, contentType string) http.Header {
	h := http.Header{"Authorization": {"AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/" + service + "/aws4_request, SignedHeaders=host, Signature=abc"}}
	if target != "" {
		h.Set("X-Amz-Target", target)
	}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	return h
}
