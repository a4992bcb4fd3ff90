//go:build linux

package services

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"
)

const artifactsBucket = "mlflow-artifacts"

// shared servers, started once per test binary because MLflow takes seconds to start.
var shared struct {
	moto   *Moto
	mlflow *MLflow
	err    error
}

func TestMain(m *testing.M) {
	flag.Parse()
	venv := venvDir()
	if _, err := os.Stat(venv); err != nil {
		os.Exit(m.Run()) // integration tests skip themselves
	}
	stateDir, err := os.MkdirTemp("", "services-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shared.moto, shared.mlflow, shared.err = startBoth(venv, stateDir)
	if shared.err == nil && testing.Verbose() {
		fmt.Printf("moto started in %s, MLflow in %s\n", shared.moto.StartDuration, shared.mlflow.StartDuration)
	}
	code := m.Run()
	var stops []func() error
	if shared.mlflow != nil {
		stops = append(stops, shared.mlflow.Stop)
	}
	if shared.moto != nil {
		stops = append(stops, shared.moto.Stop)
	}
	for _, stop := range stops {
		if err := stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop:", err)
			code = 1
		}
	}
	_ = os.RemoveAll(stateDir)
	os.Exit(code)
}

func startBoth(venv, stateDir string) (*Moto, *MLflow, error) {
	ctx := context.Background()
	moto, err := StartMoto(ctx, MotoOptions{VenvDir: venv, StateDir: stateDir})
	if err != nil {
		return nil, nil, err
	}
	mlflow, err := StartMLflow(ctx, MLflowOptions{
		VenvDir:              venv,
		StateDir:             stateDir,
		ArtifactsDestination: "s3://" + artifactsBucket + "/",
		S3EndpointURL:        moto.URL,
	})
	if err != nil {
		return moto, nil, err
	}
	return moto, mlflow, nil
}

// venvDir is the repository's .venv; go test runs in the package directory.
func venvDir() string {
	dir, _ := filepath.Abs(filepath.Join("..", "..", "..", ".venv"))
	return dir
}

func servers(t *testing.T) (*Moto, *MLflow) {
	t.Helper()
	if shared.moto == nil && shared.err == nil {
		testenv.Missing(t, "no Python virtualenv at %s", venvDir())
	}
	if shared.err != nil {
		t.Fatalf("start servers: %v", shared.err)
	}
	return shared.moto, shared.mlflow
}

func TestMotoServesDynamoDB(t *testing.T) {
	moto, _ := servers(t)
	t.Logf("moto start took %s", moto.StartDuration)
	ctx := t.Context()
	db := dynamodb.NewFromConfig(awsConfig(), func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(moto.URL) })
	if _, err := db.ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("ListTables: %v", err)
	}
}

func TestMLflowStoresArtifactsInMotoS3(t *testing.T) {
	moto, mlflow := servers(t)
	t.Logf("MLflow start took %s", mlflow.StartDuration)
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
func TestMLflowHostHeaderCheck(t *testing.T) {
	_, mlflow := servers(t)
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
	servers(t) // skip without a venv
	t.Parallel()
	stateDir := t.TempDir()
	ctx := t.Context()
	moto, err := StartMoto(ctx, MotoOptions{VenvDir: venvDir(), StateDir: stateDir})
	if err != nil {
		t.Fatal(err)
	}
	defer moto.Stop()
	// Two workers make uvicorn run a supervisor with forked children: the tree Stop must end.
	mlflow, err := StartMLflow(ctx, MLflowOptions{VenvDir: venvDir(), StateDir: stateDir, Workers: 2})
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
		{"mlflow", mlflow.proc.pid(), mlflow.Stop, 4}, // CLI, uvicorn supervisor, 2 workers
		{"moto", moto.proc.pid(), moto.Stop, 1},
	} {
		pids := descendants(tc.leader)
		if len(pids) < tc.minProc {
			t.Errorf("%s: %d processes before Stop (%v), want at least %d", tc.name, len(pids), pids, tc.minProc)
		}
		if err := tc.stop(); err != nil {
			t.Fatalf("%s: Stop: %v", tc.name, err)
		}
		for _, pid := range pids {
			if st, ok := readStat(pid); ok && st.state != 'Z' {
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

func TestKillStale(t *testing.T) {
	fakeMoto := spawn(t, "/venv/bin/moto_server") // looks like moto
	unrelated := spawn(t, "sleep")
	dead := spawn(t, "sleep")
	_ = dead.Process.Kill()
	_ = dead.Wait()

	for _, tc := range []struct {
		name     string
		pidFile  string
		cmd      *exec.Cmd
		wantKill bool
	}{
		{"matching cmdline is killed", "moto.pid", fakeMoto, true},
		{"unrelated reused pid is spared", "mlflow.pid", unrelated, false},
		{"dead pid is ignored", "moto.pid", dead, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stateDir := t.TempDir()
			pidFile := filepath.Join(stateDir, tc.pidFile)
			writePid(t, pidFile, tc.cmd.Process.Pid)
			if err := KillStale(stateDir); err != nil {
				t.Fatalf("KillStale: %v", err)
			}
			if _, err := os.Stat(pidFile); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("pid file not removed (%v)", err)
			}
			if tc.cmd == dead {
				return
			}
			if killed := !groupAlive(tc.cmd.Process.Pid); killed != tc.wantKill {
				t.Errorf("killed = %v, want %v", killed, tc.wantKill)
			}
		})
	}
}

func TestStartRefusesLivePidFile(t *testing.T) {
	stateDir := t.TempDir()
	writePid(t, filepath.Join(stateDir, "moto.pid"), spawn(t, "/venv/bin/moto_server").Process.Pid)
	_, err := StartMoto(t.Context(), MotoOptions{VenvDir: venvDir(), StateDir: stateDir})
	if err == nil || !strings.Contains(err.Error(), "KillStale") {
		t.Fatalf("StartMoto over a live pid file: err = %v, want one pointing at KillStale", err)
	}
}

func TestLooksLike(t *testing.T) {
	for _, tc := range []struct {
		name string
		argv []string
		want bool
	}{
		{motoName, []string{"/w/.venv/bin/python3", "/w/.venv/bin/moto_server", "-H", "127.0.0.1"}, true},
		{motoName, []string{"/usr/bin/python3", "/w/.venv/bin/mlflow", "server"}, false},
		{mlflowName, []string{"/w/.venv/bin/python3", "/w/.venv/bin/mlflow", "server", "--port", "5000"}, true},
		{mlflowName, []string{"/w/.venv/bin/python3", "-m", "uvicorn", "--workers", "2", "mlflow.server.fastapi_app:app"}, true},
		{mlflowName, []string{"/w/.venv/bin/python3", "/w/.venv/bin/mlflow", "ui"}, false},
		{mlflowName, []string{"sleep", "300"}, false},
	} {
		if got := looksLike(tc.name, tc.argv); got != tc.want {
			t.Errorf("looksLike(%s, %q) = %v, want %v", tc.name, tc.argv, got, tc.want)
		}
	}
}

func TestTailKeepsEnd(t *testing.T) {
	tl := &tail{max: 5}
	fmt.Fprint(tl, "abc")
	fmt.Fprint(tl, "defg")
	if got := tl.String(); got != "cdefg" {
		t.Fatalf("tail = %q, want %q", got, "cdefg")
	}
}

// spawn starts `sleep 300` in its own process group with argv[0] set to arg0, which is what
// /proc/<pid>/cmdline shows, and kills it at the end of the test.
func spawn(t *testing.T, arg0 string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "300")
	cmd.Args[0] = arg0
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

func writePid(t *testing.T, path string, pid int) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// descendants returns root, every live process descended from it and every member of its process
// group, so that a child escaping the group would still be checked.
func descendants(root int) []int {
	children := map[int][]int{}
	var inGroup []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := readStat(pid); ok && st.state != 'Z' {
			children[st.ppid] = append(children[st.ppid], pid)
			if st.pgrp == root {
				inGroup = append(inGroup, pid)
			}
		}
	}
	seen := map[int]bool{}
	queue := append([]int{root}, inGroup...)
	var out []int
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		if seen[pid] {
			continue
		}
		seen[pid] = true
		out = append(out, pid)
		queue = append(queue, children[pid]...)
	}
	return out
}

func awsConfig() aws.Config {
	return aws.Config{
		Region:      Region,
		Credentials: credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
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
	req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
	creds := aws.Credentials{AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, emptySHA256, "s3", Region, time.Now()); err != nil {
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
