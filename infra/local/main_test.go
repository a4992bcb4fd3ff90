package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// `make local CONTEXT="k=v …"` passes each setting to the local synth as -c k=v, so any stack
// setting (external auth against a local auth service, say) runs on this machine.
func TestMakeLocalPassesStackContext(t *testing.T) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("make", "-n", "--no-print-directory", "local-assets",
		"CONTEXT=authSource=external authServiceUrl=http://127.0.0.1:9000")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(out)))
	plan, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make -n local-assets: %v\n%s", err, plan)
	}
	for _, line := range strings.Split(string(plan), "\n") {
		if strings.Contains(line, "cdk synth") && strings.Contains(line, "-c env=local") {
			if !strings.Contains(line, " -c authSource=external -c authServiceUrl=http://127.0.0.1:9000 ") {
				t.Errorf("the local synth does not get the context: %s", line)
			}
			return
		}
	}
	t.Fatalf("no local synth in the plan:\n%s", plan)
}
