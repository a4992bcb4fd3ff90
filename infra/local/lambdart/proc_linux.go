package lambdart

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// setParentDeathSignal has the kernel kill a function process whose harness died without Close
// (a crash, a SIGKILL), so no bootstrap outlives the harness that started it.
func setParentDeathSignal(attr *syscall.SysProcAttr) { attr.Pdeathsig = syscall.SIGKILL }

// running reports whether pid is alive and not on its way out: neither a zombie awaiting its
// reaper (a killed runtime stays one until Wait returns) nor a process already exiting, whose
// memory and open files may be gone while its state still reads R or D. Neither must be handed
// work.
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && liveStat(b)
}

// pfExiting is the kernel's PF_EXITING task flag, set as exit begins.
const pfExiting = 0x4

// liveStat reads /proc/<pid>/stat (proc(5)): after the command in parentheses come the state
// (field 3) and, six fields on, the flags (field 9).
func liveStat(b []byte) bool {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 7 || f[0] == "Z" || f[0] == "X" {
		return false
	}
	flags, err := strconv.ParseUint(f[6], 10, 64)
	return err == nil && flags&pfExiting == 0
}
