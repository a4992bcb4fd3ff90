package servers

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const mlflowName = "mlflow"

// MLflowOptions configures StartMLflow.
type MLflowOptions struct {
	// VenvDir is the Python virtualenv with mlflow installed.
	VenvDir string
	// Port to listen on; 0 picks a free one.
	Port int
	// StateDir holds mlflow.pid and the SQLite backend store mlflow.db. Required. Reusing it keeps
	// experiments and models across runs.
	StateDir string
	// ArtifactsDestination is where the server stores proxied artifacts, e.g.
	// "s3://mlflow-artifacts/". Empty means <StateDir>/artifacts on local disk.
	ArtifactsDestination string
	// S3EndpointURL is the S3 endpoint (moto's URL) for an s3:// ArtifactsDestination; required
	// then, so that artifacts can never go to real AWS. The bucket is created if missing.
	S3EndpointURL string
	// AllowedHosts are the Host header patterns MLflow accepts (--allowed-hosts). Empty keeps
	// MLflow's default: localhost, 127.0.0.1 and private addresses, on any port.
	AllowedHosts []string
	// Workers is the number of uvicorn worker processes; 0 means 1. More than one only adds
	// start-up time and SQLite lock contention in a local harness.
	Workers int
	// LogOutput, if set, receives the server's stdout and stderr. Writes come from one goroutine.
	LogOutput io.Writer
	// StartTimeout bounds waiting for the server to answer; 0 means 120s.
	StartTimeout time.Duration
	// Admin, when set, runs MLflow's own authentication app (`--app-name basic-auth`, which needs
	// the mlflow[auth] extra) with this admin as its only user, so every API call needs their
	// credentials: an upstream that refuses what the functions send without them. The app creates
	// the admin on its first start against StateDir; later starts keep that admin's password.
	Admin *BasicAuth
}

// BasicAuth is a user name and password.
type BasicAuth struct{ Username, Password string }

// MLflow is a running MLflow tracking server with the model registry and proxied artifacts.
type MLflow struct {
	URL  string // http://127.0.0.1:<Port>
	Port int
	// StartDuration is the time from launching the process until the registry API answers.
	StartDuration time.Duration

	proc *process
}

// StartMLflow creates the artifact bucket if needed, launches `mlflow server` on 127.0.0.1 and
// waits until its REST API answers. ctx bounds the start-up only; the server runs until Stop.
func StartMLflow(ctx context.Context, opts MLflowOptions) (*MLflow, error) {
	stateDir, err := prepareStateDir(opts.StateDir)
	if err != nil {
		return nil, fmt.Errorf("mlflow: %w", err)
	}
	dest := opts.ArtifactsDestination
	if dest == "" {
		dest = filepath.Join(stateDir, "artifacts")
	}
	if strings.HasPrefix(dest, "s3://") {
		if opts.S3EndpointURL == "" {
			return nil, errors.New("mlflow: S3EndpointURL is required for an s3:// ArtifactsDestination")
		}
		if err := createBucket(ctx, opts.S3EndpointURL, dest); err != nil {
			return nil, fmt.Errorf("mlflow: %w", err)
		}
	}
	workers := opts.Workers
	if workers == 0 {
		workers = 1
	}
	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 120 * time.Second
	}
	env := childEnv(
		// The job runner (huey consumer, temp dirs in /dev/shm, its own subprocesses) serves
		// GenAI evaluation jobs the harness does not use, and slows start-up.
		"MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false",
	)
	if opts.S3EndpointURL != "" {
		env = append(env, "MLFLOW_S3_ENDPOINT_URL="+opts.S3EndpointURL)
	}
	if opts.Admin != nil {
		authEnv, err := authApp(stateDir, *opts.Admin)
		if err != nil {
			return nil, fmt.Errorf("mlflow: %w", err)
		}
		env = append(env, authEnv...)
	}

	return withPortRetry(opts.Port, func(port int) (*MLflow, error) {
		start := time.Now()
		argv := []string{
			filepath.Join(opts.VenvDir, "bin", "mlflow"), "server",
			"--host", "127.0.0.1",
			"--port", strconv.Itoa(port),
			"--backend-store-uri", "sqlite:///" + filepath.Join(stateDir, "mlflow.db"),
			"--serve-artifacts",
			"--artifacts-destination", dest,
			"--workers", strconv.Itoa(workers),
		}
		if len(opts.AllowedHosts) > 0 {
			argv = append(argv, "--allowed-hosts", strings.Join(opts.AllowedHosts, ","))
		}
		if opts.Admin != nil {
			argv = append(argv, "--app-name", "basic-auth")
		}
		p, err := startProcess(mlflowName, stateDir, argv, env, opts.LogOutput)
		if err != nil {
			return nil, err
		}
		m := &MLflow{URL: "http://127.0.0.1:" + strconv.Itoa(port), Port: port, proc: p}
		ready := func(ctx context.Context) error {
			// /health is exempt from MLflow's Host-header check and does not touch the store, so
			// also call the registry: that proves the database is migrated and our Host accepted.
			if err := probe(ctx, m.URL+"/health"); err != nil {
				return err
			}
			return probeAs(ctx, m.URL+"/api/2.0/mlflow/registered-models/search?max_results=1", opts.Admin)
		}
		if err := p.waitReady(ctx, timeout, ready); err != nil {
			_ = p.stop()
			return nil, err
		}
		m.StartDuration = time.Since(start)
		return m, nil
	})
}

// authApp writes the basic-auth app's configuration into stateDir and returns the environment
// that points MLflow at it. The app keeps its users in its own SQLite database beside MLflow's.
func authApp(stateDir string, admin BasicAuth) ([]string, error) {
	if admin.Username == "" || admin.Password == "" || strings.ContainsAny(admin.Username+admin.Password, "\n\r") {
		return nil, errors.New("the basic-auth admin needs a one-line user name and password")
	}
	ini := fmt.Sprintf("[mlflow]\ndefault_permission = READ\ndatabase_uri = sqlite:///%s\n"+
		"admin_username = %s\nadmin_password = %s\n"+
		"authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n",
		filepath.Join(stateDir, "basic_auth.db"), admin.Username, admin.Password)
	path := filepath.Join(stateDir, "basic_auth.ini")
	if err := os.WriteFile(path, []byte(ini), 0o600); err != nil {
		return nil, fmt.Errorf("basic-auth configuration: %w", err)
	}
	key := make([]byte, 24)
	_, _ = rand.Read(key)
	return []string{
		"MLFLOW_AUTH_CONFIG_PATH=" + path,
		// The auth app's forms need a CSRF key; it signs nothing the harness keeps.
		"MLFLOW_FLASK_SERVER_SECRET_KEY=" + hex.EncodeToString(key),
	}, nil
}

// probeAs is probe with admin's credentials (nil: none). Errors never quote them.
func probeAs(ctx context.Context, url string, admin *BasicAuth) error {
	if admin == nil {
		return probe(ctx, url)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.SetBasicAuth(admin.Username, admin.Password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s as the basic-auth admin: %s", url, resp.Status)
	}
	return nil
}

// Stop terminates MLflow and its workers and waits until the process group is gone. Safe to call
// more than once.
func (m *MLflow) Stop() error { return m.proc.stop() }

// emptySHA256 is the payload hash of a request without a body.
var emptySHA256 = func() string { h := sha256.Sum256(nil); return hex.EncodeToString(h[:]) }()

// createBucket creates the bucket of an s3:// URI at endpoint (path-style), succeeding if it exists.
// The request is SigV4-signed so that moto routes it to S3 by its credential scope; unsigned, moto
// guesses the service from the path and only falls back to S3.
func createBucket(ctx context.Context, endpoint, s3URI string) error {
	u, err := url.Parse(s3URI)
	if err != nil || u.Host == "" {
		return fmt.Errorf("artifacts destination %q: no bucket", s3URI)
	}
	bucket := u.Host
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, strings.TrimRight(endpoint, "/")+"/"+bucket, nil)
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
	creds := aws.Credentials{AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, emptySHA256, "s3", Region, time.Now()); err != nil {
		return fmt.Errorf("create bucket %s: sign: %w", bucket, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode == http.StatusOK || strings.Contains(string(body), "BucketAlreadyOwnedByYou") {
		return nil
	}
	return fmt.Errorf("create bucket %s: %s: %s", bucket, resp.Status, body)
}
