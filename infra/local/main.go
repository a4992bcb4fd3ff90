// Command local runs the whole stack on this machine (`make local`): the REST API on
// http://127.0.0.1:3000 (LOCAL_API_PORT), MLflow, moto, and every function's real binary.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/hokusai-protocol/registry-gateway/infra/local/harness"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "key" {
		os.Exit(mintKey(os.Args[2:]))
	}
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
		LambdaPort:   ports["LOCAL_LAMBDA_PORT"],
		MLflowPort:   ports["LOCAL_MLFLOW_PORT"],
		MotoPort:     ports["LOCAL_MOTO_PORT"],
		Output:       os.Stdout,
		Log:          log,
	})
	if err != nil {
		log.Error("the local stack did not start", "error", err)
		os.Exit(1)
	}
	key, err := h.MintAdminKey(ctx, "local-admin", "admin@localhost")
	if err != nil {
		log.Error("could not mint the admin key", "error", err)
	}
	fmt.Print(h.Banner(key))
	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "\nstopping…")
	if err := h.Stop(); err != nil {
		log.Error("stop", "error", err)
		os.Exit(1)
	}
}

// portsFromEnv reads the three ports, each with its default.
func portsFromEnv() (map[string]int, error) {
	defaults := map[string]int{"LOCAL_API_PORT": 3000, "LOCAL_LAMBDA_PORT": 3001, "LOCAL_MLFLOW_PORT": 5000, "LOCAL_MOTO_PORT": 5001}
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

// mintKey asks the running harness's keys function for a new admin key, through the local Lambda
// Invoke API: the same direct invocation an operator makes in AWS with IAM credentials.
func mintKey(args []string) int {
	fs := flag.NewFlagSet("key", flag.ExitOnError)
	user := fs.String("user", "local-admin", "user id the key belongs to")
	email := fs.String("email", "admin@localhost", "e-mail of that user")
	_ = fs.Parse(args)
	ports, err := portsFromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/2015-03-31/functions/keys/invocations", ports["LOCAL_LAMBDA_PORT"])
	res, err := http.Post(url, "application/json", bytes.NewReader(harness.BootstrapEvent(*user, *email, "minted with make key")))
	if err != nil {
		fmt.Fprintf(os.Stderr, "is `make local` running? %v\n", err)
		return 1
	}
	defer res.Body.Close()
	var out struct {
		Key          string `json:"key"`
		KeyID        string `json:"key_id"`
		ErrorMessage string `json:"errorMessage"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || out.Key == "" {
		fmt.Fprintf(os.Stderr, "the keys function did not return a key (status %d): %s\n", res.StatusCode, out.ErrorMessage)
		return 1
	}
	fmt.Printf("%s\n(key id %s, admin, for %s; shown once)\n", out.Key, out.KeyID, *user)
	return 0
}
