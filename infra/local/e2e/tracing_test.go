package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	cct "github.com/hokusai-protocol/registry-gateway/shared/platform/contentcoding/contentcodingtest"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"
)

// trackingBases are the gateway's three tracking URIs, relative to its host (SPEC section 6).
var trackingBases = []string{"/api/mlflow", "/mlflow", ""}

type tracingResult struct {
	OK            bool     `json:"ok"`
	Error         string   `json:"error"`
	Steps         []string `json:"steps"`
	TraceID       string   `json:"trace_id"`
	SpanNames     []string `json:"span_names"`
	SpansLocation string   `json:"spans_location"`
	Problems      []string `json:"problems"`
}

// runTracing runs testdata/clients/tracing_client.py with the tracking URI and key, returning
// what it reported and its stderr.
func runTracing(t *testing.T, trackingURI, key string) (tracingResult, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testenv.Python(t), filepath.Join(root, "testdata/clients/tracing_client.py"))
	cmd.Dir = t.TempDir()
	// Synchronous export, so the spans have been sent when the traced call returns.
	cmd.Env = append(os.Environ(),
		"MLFLOW_TRACKING_URI="+trackingURI, "MLFLOW_TRACKING_TOKEN="+key,
		"MLFLOW_HTTP_REQUEST_MAX_RETRIES=0", "GIT_PYTHON_REFRESH=quiet", "MLFLOW_ENABLE_ASYNC_TRACE_LOGGING=false",
		"HOME="+cmd.Dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var res tracingResult
	for _, line := range strings.Split(stdout.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, "E2E_RESULT "); ok {
			if jerr := json.Unmarshal([]byte(rest), &res); jerr != nil {
				t.Fatalf("result line: %v", jerr)
			}
		}
	}
	if err != nil || !res.OK {
		t.Fatalf("tracing via %s: %v %s\nproblems: %q\n%s\n%s", trackingURI, err, res.Error, res.Problems,
			tail(stdout.String(), 2000), tail(stderr.String(), 4000))
	}
	return res, stderr.String()
}

// A warning about exporting traces or spans, however the client words it.
var traceWarning = regexp.MustCompile(`(?i)(warn|fail|error|not supported).*(trace|span|otlp)|(trace|span|otlp).*(warn|fail|error|not supported)`)

// MLflow 3's client exports spans over OTLP to <tracking URI>/v1/traces once <tracking URI>/version
// says the server takes them. Through every tracking URI it does so without a warning or a
// fallback, and MLflow stores the trace with its spans.
func TestTracingThroughTheGateway(t *testing.T) {
	writer, _ := writerAndReader(t)
	for _, base := range trackingBases {
		t.Run("tracking URI "+h.APIURL+base, func(t *testing.T) {
			res, stderr := runTracing(t, h.APIURL+base, writer)
			if len(res.Problems) > 0 {
				t.Errorf("the client reported problems:\n  %s", strings.Join(res.Problems, "\n  "))
			}
			for _, line := range strings.Split(stderr, "\n") {
				if traceWarning.MatchString(line) {
					t.Errorf("stderr: %s", line)
				}
			}
			if !slices.Equal(res.SpanNames, []string{"inner", "outer"}) {
				t.Errorf("trace %s has spans %q, want inner and outer", res.TraceID, res.SpanNames)
			}
			// TRACKING_STORE: the spans came over OTLP, not in the client's artifact fallback.
			if res.SpansLocation != "TRACKING_STORE" {
				t.Errorf("spans stored in %q, want TRACKING_STORE (the OTLP export was refused)", res.SpansLocation)
			}
		})
	}
}

// The OTLP and version routes are exactly what the client uses: span export is a write, POST only;
// the version is GET only; nothing else under v1/ reaches MLflow. Each answer is JSON.
func TestOTLPAndVersionRoutes(t *testing.T) {
	writer, reader := writerAndReader(t)
	res, err := http.Get(h.MLflowURL + "/version")
	if err != nil {
		t.Fatal(err)
	}
	version, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || len(version) == 0 {
		t.Fatalf("MLflow's own /version: %d %q", res.StatusCode, version)
	}
	otlp := map[string]string{"Content-Type": "application/x-protobuf", "X-MLflow-Experiment-Id": "0"}
	gzipOTLP := map[string]string{"Content-Type": "application/x-protobuf", "X-MLflow-Experiment-Id": "0", "Content-Encoding": "gzip"}
	withKey := func(key string, hdr map[string]string) map[string]string {
		out := bearer(key)
		for k, v := range hdr {
			out[k] = v
		}
		return out
	}
	for _, base := range trackingBases {
		for _, tc := range []struct {
			name         string
			method, path string
			body         []byte
			headers      map[string]string
			status       []int
			reachMLflow  bool
		}{
			{"the version, with a read key", "GET", "/version", nil, bearer(reader), []int{200}, true},
			{"span export with a read key is a write", "POST", "/v1/traces", []byte{}, withKey(reader, otlp), []int{403}, false},
			{"span export is POST only", "GET", "/v1/traces", nil, bearer(writer), []int{404, 405}, false},
			{"the version is GET only", "POST", "/version", []byte{}, bearer(writer), []int{404, 405}, false},
			{"no other OTLP signal", "POST", "/v1/metrics", []byte{}, withKey(writer, otlp), []int{404}, false},
			{"no other OTLP signal", "POST", "/v1/logs", []byte{}, withKey(writer, otlp), []int{404}, false},
			{"nothing below the span route", "POST", "/v1/traces/x", []byte{}, withKey(writer, otlp), []int{404}, false},
			{"span export over the body limit", "POST", "/v1/traces", bytes.Repeat([]byte("a"), 11<<20), withKey(writer, otlp), []int{413}, false},
			// Not spans: MLflow itself refuses the body, so the call and its headers got there.
			{"span export reaches MLflow", "POST", "/v1/traces", []byte("not protobuf"), withKey(writer, otlp), []int{400}, true},
			// MLflow decompresses whatever it is sent, in the one server everybody shares: a few
			// kilobytes that decompress to 64 MiB never get there, nor a body that is not gzip.
			{"a gzip bomb", "POST", "/v1/traces", cct.Encode(t, cct.Gzip, make([]byte, 64<<20)), withKey(writer, gzipOTLP), []int{413}, false},
			{"a body that is not the gzip it claims", "POST", "/v1/traces", []byte("not gzip"), withKey(writer, gzipOTLP), []int{400}, false},
			{"gzipped, within the bound, reaches MLflow", "POST", "/v1/traces", cct.Encode(t, cct.Gzip, []byte("not protobuf")), withKey(writer, gzipOTLP), []int{400}, true},
		} {
			t.Run(tc.method+" "+base+tc.path+": "+tc.name, func(t *testing.T) {
				h.MLflowFaults.ResetCounts()
				var body io.Reader
				if tc.body != nil {
					body = bytes.NewReader(tc.body)
				}
				res, b := call(t, tc.method, base+tc.path, body, tc.headers)
				if !slices.Contains(tc.status, res.StatusCode) {
					t.Errorf("%d %.300s, want %v", res.StatusCode, b, tc.status)
				}
				if tc.path == "/version" && res.StatusCode == 200 {
					if !bytes.Equal(b, version) {
						t.Errorf("version %q, MLflow says %q", b, version)
					}
				} else if !json.Valid(b) {
					t.Errorf("not JSON: %.300q", b)
				}
				if reached := h.MLflowFaults.Counts()["mlflow"] > 0; reached != tc.reachMLflow {
					t.Errorf("reached MLflow: %v, want %v", reached, tc.reachMLflow)
				}
			})
		}
	}
}
