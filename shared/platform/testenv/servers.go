package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/servers"
)

// live holds the servers of one test binary, that is of one package's tests: each is started by
// the first test that asks for it (MLflow takes seconds to start) and stopped by Main.
var live struct {
	inMain bool

	motoOnce, mlflowOnce sync.Once
	moto                 *servers.Moto
	mlflow               *servers.MLflow
	motoErr, mlflowErr   error
	motoDir, mlflowDir   string
}

// Main runs the package's tests, then stops the servers Moto and MLflow started for them and
// exits. A package whose tests use either calls it from its TestMain:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main for a TestMain that does more before exiting: it returns the exit code, non-zero
// also when a server did not stop.
func Run(m *testing.M) int {
	live.inMain = true
	code := m.Run()
	if err := stop(); err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

func stop() error {
	var errs []error
	if live.mlflow != nil {
		if err := live.mlflow.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop MLflow: %w", err))
		}
	}
	if live.moto != nil {
		if err := live.moto.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop moto: %w", err))
		}
	}
	for _, dir := range []string{live.mlflowDir, live.motoDir} {
		if dir != "" {
			_ = os.RemoveAll(dir)
		}
	}
	return errors.Join(errs...)
}

// Moto is the package's moto server (every AWS service on one endpoint), started on first use.
// Its tests share it, so each creates the tables, buses and queues it needs under names of its
// own. It skips tb in -short mode and, through Missing, without a virtualenv holding moto.
func Moto(tb testing.TB) *servers.Moto {
	tb.Helper()
	venv := needs(tb, "moto", "moto_server")
	live.motoOnce.Do(func() {
		live.motoDir, live.motoErr = startServer("moto", func(ctx context.Context, dir string) (err error) {
			live.moto, err = servers.StartMoto(ctx, servers.MotoOptions{VenvDir: venv, StateDir: dir})
			return err
		})
	})
	if live.motoErr != nil {
		tb.Fatalf("start moto: %v", live.motoErr)
	}
	return live.moto
}

// AWS is an SDK configuration for the package's moto server.
func AWS(tb testing.TB) aws.Config {
	tb.Helper()
	return servers.AWSConfig(Moto(tb).URL)
}

// MLflow is the package's MLflow tracking server (SQLite store, artifacts on local disk),
// started on first use and shared like Moto's.
func MLflow(tb testing.TB) *servers.MLflow {
	tb.Helper()
	venv := needs(tb, "MLflow", "mlflow")
	live.mlflowOnce.Do(func() {
		live.mlflowDir, live.mlflowErr = startServer("mlflow", func(ctx context.Context, dir string) (err error) {
			live.mlflow, err = servers.StartMLflow(ctx, servers.MLflowOptions{VenvDir: venv, StateDir: dir})
			return err
		})
	})
	if live.mlflowErr != nil {
		tb.Fatalf("start MLflow: %v", live.mlflowErr)
	}
	return live.mlflow
}

// needs checks what every server test needs and returns the virtualenv holding tool.
func needs(tb testing.TB, server, tool string) string {
	tb.Helper()
	if testing.Short() {
		tb.Skipf("starts %s (not in -short mode)", server)
	}
	if !live.inMain {
		tb.Fatalf("testenv: the package's TestMain must call testenv.Main (or Run), which stops the %s server", server)
	}
	return Venv(tb, tool)
}

// startServer runs start with a fresh state directory. The context bounds the start-up only;
// the server outlives the test that happened to start it.
func startServer(name string, start func(ctx context.Context, dir string) error) (string, error) {
	dir, err := os.MkdirTemp("", "testenv-"+name+"-")
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	return dir, start(ctx, dir)
}
