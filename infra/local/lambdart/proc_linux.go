package lambdart

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// setParentDeathSignal has the kernel kill a function process whose harness died without Close
// (a crash, a SIGKILL), so no bootstrap outlives the harness that started it.
func setParentDeathSignal(attr *syscall.SysProcAttr) { attr.Pdeathsig = syscall.SIGKILL }

// running reports whether pid is alive and not a zombie awaiting its reaper: a killed runtime
// stays a zombie until Wait returns, and must not be handed work in that window.
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && len(b) > i+2 && b[i+2] != 'Z' && b[i+2] != 'X'
}
