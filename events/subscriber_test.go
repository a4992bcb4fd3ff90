package events_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/events"
)

const contractModule = "github.com/hokusai-protocol/registry-gateway/events"

// notForSubscribers are the module path prefixes a subscriber must not inherit from the contract:
// the root module itself and, through it, the CDK, jsii and constructs (github.com/aws/... and
// github.com/cdklabs/...), and the AWS SDK, which the contract has no use for either.
var notForSubscribers = []string{
	"github.com/hokusai-protocol/registry-gateway ", // the root module exactly (go list prints "path version")
	"github.com/aws/",
	"github.com/cdklabs/",
}

// TestSubscriberModule builds testdata/subscriber in a module of its own that requires this
// module alone, the way a subscriber's repository would (with a replace to this checkout instead
// of a published version), offline: everything it needs must come from the contract's own pins.
func TestSubscriberModule(t *testing.T) {
	// go test puts its own toolchain first on PATH.
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command on PATH: %v", err)
	}
	contract, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gomod := "module example.com/subscriber\n\ngo 1.26.0\n\n" +
		"require " + contractModule + " v0.0.0\n\n" +
		"replace " + contractModule + " => " + contract + "\n"
	writeFile(t, filepath.Join(dir, "go.mod"), []byte(gomod))
	// A subscriber's go.sum starts as the contract's: then nothing needs the checksum database.
	writeFile(t, filepath.Join(dir, "go.sum"), readFile(t, "go.sum"))
	writeFile(t, filepath.Join(dir, "main.go"), readFile(t, filepath.Join("testdata", "subscriber", "main.go")))

	env := append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off", "GOTOOLCHAIN=local")
	gocmd := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(goBin, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	bin := filepath.Join(dir, "subscriber")
	gocmd("build", "-o", bin, ".")

	// -e: the pruned graph names modules (golang.org/x/tools, …) whose metadata is not in the
	// cache; their paths and versions are all this needs, and nothing of them is built.
	modules := gocmd("list", "-m", "-e", "-f", "{{.Path}} {{.Version}}", "all")
	if !strings.Contains(modules, contractModule+" ") {
		t.Fatalf("the subscriber's modules do not include %s:\n%s", contractModule, modules)
	}
	for _, line := range strings.Split(strings.TrimSpace(modules), "\n") {
		for _, bad := range notForSubscribers {
			if strings.HasPrefix(line+" ", bad) {
				t.Errorf("a subscriber of the contract inherits %s", line)
			}
		}
	}

	type tc struct {
		name    string
		event   []byte
		wantOut string // the subscriber's output on success
		wantErr string // part of its error otherwise
	}
	cases := []tc{}
	for _, dt := range events.AllDetailTypes() {
		ex := events.Example(dt)
		var ev struct {
			Detail struct {
				EventID string `json:"event_id"`
			} `json:"detail"`
		}
		if err := json.Unmarshal(ex, &ev); err != nil {
			t.Fatal(err)
		}
		cases = append(cases,
			tc{name: dt, event: ex, wantOut: dt + " " + ev.Detail.EventID + "\n"},
			tc{name: dt + " with another event_id", event: edit(t, ex, func(e map[string]any) {
				e["detail"].(map[string]any)["event_id"] = events.EventID(dt, "other/1/OTHER", "run", "1")
			}), wantErr: "event_id"},
			tc{name: dt + " from another source", event: edit(t, ex, func(e map[string]any) {
				e["source"] = "someone.else"
			}), wantErr: "source"},
			tc{name: dt + " without model_name", event: edit(t, ex, func(e map[string]any) {
				delete(e["detail"].(map[string]any), "model_name")
			}), wantErr: "model_name"},
		)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(bin)
			cmd.Stdin = bytes.NewReader(c.event)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("subscriber failed: %v\n%s", err, stderr.String())
			case c.wantErr == "" && stdout.String() != c.wantOut:
				t.Errorf("subscriber printed %q, want %q", stdout.String(), c.wantOut)
			case c.wantErr != "" && err == nil:
				t.Errorf("subscriber accepted the event: %s", stdout.String())
			case c.wantErr != "" && !strings.Contains(stderr.String(), c.wantErr):
				t.Errorf("subscriber's error %q does not mention %q", stderr.String(), c.wantErr)
			}
		})
	}
}

// edit returns the event JSON raw with change applied.
func edit(t *testing.T, raw []byte, change func(map[string]any)) []byte {
	t.Helper()
	var e map[string]any
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatal(err)
	}
	change(e)
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
