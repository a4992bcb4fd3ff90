//go:build linux

package servers_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/servers"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"
)

const artifactsBucket = "mlflow-artifacts"

func TestMain(m *testing.M) { testenv.Main(m) }

func TestMotoServesDynamoDB(t *testing.T) {
	moto := testenv.Moto(t)
	t.Logf("moto start took %s", moto.StartDuration)
	ctx := t.Context()
	db := dynamodb.NewFromConfig(servers.AWSConfig(moto.URL))
	if _, err := db.ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("ListTables: %v", err)
	}
}

// MLflow as the harness runs it: artifacts in moto's S3.
func TestMLflowOnMotoS3(t *testing.T) {
	moto := testenv.Moto(t)
	mlflow, err := servers.StartMLflow(t.Context(), servers.MLflowOptions{
		VenvDir:              testenv.Venv(t, "mlflow"),
		StateDir:             t.TempDir(),
		ArtifactsDestination: "s3://" + artifactsBucket + "/",
		S3EndpointURL:        moto.URL,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := mlflow.Stop(); err != nil {
			t.Errorf("stop MLflow: %v", err)
		}
	})
	t.Logf("MLflow start took %s", mlflow.StartDuration)
	t.Run("stores artifacts in moto S3", func(t *testing.T) { storesArtifacts(t, moto, mlflow) })
	t.Run("checks the Host header", func(t *testing.T) { hostHeaderCheck(t, mlflow) })
}

func storesArtifacts(t *testing.T, moto *servers.Moto, mlflow *servers.MLflow) {
	ctx := t.Context()

	var exp struct {
		ExperimentID string `json:"experiment_id"`
	}
	mlflowJSON(t, mlflow.URL, "experiments/create", map[string]any{"name": "artifacts-" + strconv.FormatInt(time.Now().UnixNano(), 36)}, &exp)
	var run struct {
		Run struct {
			Info struct {
				ArtifactURI string `json:"artifact_uri"`
			} `json:"info"`
		} `json:"run"`
	}
	mlflowJSON(t, mlflow.URL, "runs/create", map[string]any{"experiment_id": exp.ExperimentID}, &run)
	rel, ok := strings.CutPrefix(run.Run.Info.ArtifactURI, "mlflow-artifacts:/")
	if !ok {
		t.Fatalf("artifact_uri = %q, want the mlflow-artifacts:/ proxy", run.Run.Info.ArtifactURI)
	}
	key := strings.TrimPrefix(rel, "/") + "/model/hello.txt"
	content := []byte("hello from the harness\n")

	artifactURL := mlflow.URL + "/api/2.0/mlflow-artifacts/artifacts/" + key
	if code, body := do(t, http.MethodPut, artifactURL, content); code != http.StatusOK {
		t.Fatalf("PUT artifact: %d %s", code, body)
	}
	if code, body := do(t, http.MethodGet, artifactURL, nil); code != http.StatusOK || !bytes.Equal(body, content) {
		t.Fatalf("GET artifact via MLflow: %d %q, want 200 %q", code, body, content)
	}
	if got := s3Get(t, ctx, moto.URL, artifactsBucket, key); !bytes.Equal(got, content) {
		t.Fatalf("object in moto S3 = %q, want %q", got, content)
	}
}

// MLflow rejects unknown Host headers (DNS-rebinding protection) except on /health; the harness
// proxies with Host 127.0.0.1:<port>, which the default allow-list must accept.
func hostHeaderCheck(t *testing.T, mlflow *servers.MLflow) {
	port := strconv.Itoa(mlflow.Port)
	for _, tc := range []struct {
		host, path string
		want       int
	}{
		{"127.0.0.1:" + port, "/api/2.0/mlflow/experiments/search?max_results=1", http.StatusOK},
		{"localhost:" + port, "/api/2.0/mlflow/experiments/search?max_results=1", http.StatusOK},
		{"registry.example.com", "/api/2.0/mlflow/experiments/search?max_results=1", http.StatusForbidden},
		{"registry.example.com", "/health", http.StatusOK},
	} {
		t.Run(tc.host+tc.path, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, mlflow.URL+tc.path, nil)
			req.Host = tc.host
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}

func TestStopLeavesNoProcess(t *testing.T) {
	venv := testenv.Venv(t, "mlflow")
	t.Parallel()
	stateDir := t.TempDir()
	ctx := t.Context()
	moto, err := servers.StartMoto(ctx, servers.MotoOptions{VenvDir: venv, StateDir: stateDir})
	if err != nil {
		t.Fatal(err)
	}
	defer moto.Stop()
	// Two workers make uvicorn run a supervisor with forked children: the tree Stop must end.
	mlflow, err := servers.StartMLflow(ctx, servers.MLflowOptions{VenvDir: venv, StateDir: stateDir, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer mlflow.Stop()
	t.Logf("second start: moto %s, MLflow (2 workers, local artifacts) %s", moto.StartDuration, mlflow.StartDuration)

	for _, tc := range []struct {
		name    string
		leader  int
		stop    func() error
		minProc int
	}{
		{"mlflow", servers.MLflowPid(mlflow), mlflow.Stop, 4}, // CLI, uvicorn supervisor, 2 workers
		{"moto", servers.MotoPid(moto), moto.Stop, 1},
	} {
		pids := servers.Descendants(tc.leader)
		if len(pids) < tc.minProc {
			t.Errorf("%s: %d processes before Stop (%v), want at least %d", tc.name, len(pids), pids, tc.minProc)
		}
		if err := tc.stop(); err != nil {
			t.Fatalf("%s: Stop: %v", tc.name, err)
		}
		for _, pid := range pids {
			if servers.Running(pid) {
				t.Errorf("%s: pid %d still running after Stop", tc.name, pid)
			}
		}
		if err := tc.stop(); err != nil {
			t.Errorf("%s: second Stop: %v", tc.name, err)
		}
		if _, err := os.Stat(filepath.Join(stateDir, tc.name+".pid")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: pid file left behind (%v)", tc.name, err)
		}
	}
}

// mlflowJSON POSTs body to the MLflow REST API method and decodes the answer into out.
func mlflowJSON(t *testing.T, base, method string, body, out any) {
	t.Helper()
	b, _ := json.Marshal(body)
	code, resp := do(t, http.MethodPost, base+"/api/2.0/mlflow/"+method, b)
	if code != http.StatusOK {
		t.Fatalf("%s: %d %s", method, code, resp)
	}
	if err := json.Unmarshal(resp, out); err != nil {
		t.Fatalf("%s: decode %s: %v", method, resp, err)
	}
}

func do(t *testing.T, method, url string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// s3Get reads an object straight from moto with a signed request, bypassing MLflow.
func s3Get(t *testing.T, ctx context.Context, endpoint, bucket, key string) []byte {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/"+bucket+"/"+key, nil)
	sum := sha256.Sum256(nil)
	emptySHA256 := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
	creds := aws.Credentials{AccessKeyID: servers.AccessKeyID, SecretAccessKey: servers.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, emptySHA256, "s3", servers.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("S3 GET %s/%s: %s %s", bucket, key, resp.Status, b)
	}
	return b
}
