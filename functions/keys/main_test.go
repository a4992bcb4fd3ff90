package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A deployment with a missing or malformed variable fails at init with a message naming each,
// not at the first request.
func TestStartupFailsOnBadConfiguration(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "bootstrap")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	tests := []struct {
		name string
		env  []string
		want []string
	}{
		{"no table", nil, []string{"KEYS_TABLE"}},
		{"bad values", []string{"KEYS_TABLE=keys", "AUTH_SOURCE=ldap", "KEY_ENVIRONMENT=prod", "AUTH_CACHE_TTL=soon"},
			[]string{"AUTH_CACHE_TTL"}},
		{"bad choices", []string{"KEYS_TABLE=keys", "AUTH_SOURCE=ldap", "KEY_ENVIRONMENT=prod"},
			[]string{"AUTH_SOURCE", "KEY_ENVIRONMENT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin)
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, tt.env...)
			out, err := cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("exit: %v\n%s", err, out)
			}
			for _, want := range append([]string{`"level":"ERROR"`, `"function":"keys"`}, tt.want...) {
				if !strings.Contains(string(out), want) {
					t.Errorf("output lacks %s: %s", want, out)
				}
			}
		})
	}
}
