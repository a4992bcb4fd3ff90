package lambdart

import (
	"os"
	"testing"
)

func TestLiveStat(t *testing.T) {
	for _, tc := range []struct {
		name string
		stat string
		live bool
	}{
		{"running", "24509 (cat) R 24507 24507 19582 0 -1 4194304 98 0", true},
		{"sleeping", "7 (bootstrap) S 1 7 7 0 -1 1077936384 98 0", true},
		{"a command with spaces and parentheses", "7 (a) R (b) S 1 7 7 0 -1 4194304 98 0", true},
		{"zombie", "7 (bootstrap) Z 1 7 7 0 -1 4227084 98 0", false},
		{"dead", "7 (bootstrap) X 1 7 7 0 -1 4227084 98 0", false},
		// SIGKILLed and still exiting: its executable is already unlinked from /proc/<pid>/exe,
		// so the process looks gone to anyone watching, yet it reads R. It once got work.
		{"exiting, state R", "7 (bootstrap) R 1 7 7 0 -1 4227076 98 0", false},
		{"exiting, state D", "7 (bootstrap) D 1 7 7 0 -1 4 98 0", false},
		{"truncated", "7 (bootstrap) R 1 7", false},
		{"garbage flags", "7 (bootstrap) R 1 7 7 0 -1 x 98 0", false},
		{"no command", "7 bootstrap R", false},
		{"empty", "", false},
	} {
		if got := liveStat([]byte(tc.stat)); got != tc.live {
			t.Errorf("%s: liveStat(%q) = %v, want %v", tc.name, tc.stat, got, tc.live)
		}
	}
	if !running(os.Getpid()) {
		t.Error("this test's own process does not read as running")
	}
}
