// Command local runs the whole stack on this machine (`make local`): the REST API on
// http://127.0.0.1:3000 (LOCAL_API_PORT), MLflow, moto, and every function's real binary.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/hokusai-protocol/registry-gateway/infra/local/harness"
)

func main() {
	templatePath := flag.String("template", ".local/cdk.out/HokusaiRegistryGateway-local.template.json", "synthesized template of the local environment")
	stateDir := flag.String("state", ".local/state", "folder for pid files, MLflow's database and logs")
	venv := flag.String("venv", ".venv", "virtualenv holding mlflow and moto")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ports, err := portsFromEnv()
	if err != nil {
		log.Error("invalid port", "error", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	fmt.Fprintln(os.Stderr, "starting moto, MLflow and the functions…")
	h, err := harness.Start(ctx, harness.Options{
		TemplatePath: *templatePath,
		VenvDir:      *venv,
		StateDir:     *stateDir,
		APIPort:      ports["LOCAL_API_PORT"],
		MLflowPort:   ports["LOCAL_MLFLOW_PORT"],
		MotoPort:     ports["LOCAL_MOTO_PORT"],
		Output:       os.Stdout,
		Log:          log,
	})
	if err != nil {
		log.Error("the local stack did not start", "error", err)
		os.Exit(1)
	}
	fmt.Print(h.Banner(""))
	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "\nstopping…")
	if err := h.Stop(); err != nil {
		log.Error("stop", "error", err)
		os.Exit(1)
	}
}

// portsFromEnv reads the three ports, each with its default.
func portsFromEnv() (map[string]int, error) {
	defaults := map[string]int{"LOCAL_API_PORT": 3000, "LOCAL_MLFLOW_PORT": 5000, "LOCAL_MOTO_PORT": 5001}
	out := map[string]int{}
	for name, def := range defaults {
		out[name] = def
		if v, ok := os.LookupEnv(name); ok && v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 65535 {
				return nil, fmt.Errorf("%s must be a port number, got %q", name, v)
			}
			out[name] = n
		}
	}
	return out, nil
}
