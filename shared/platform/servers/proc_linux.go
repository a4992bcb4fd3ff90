package servers

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// setParentDeathSignal makes the kernel SIGTERM the server if the Go program dies without calling
// Stop (a test binary killed on timeout, say). SIGTERM rather than SIGKILL because the mlflow CLI
// forwards it to its uvicorn workers, which a SIGKILL of the CLI alone would orphan. Go delivers it
// when the OS thread that started the child exits, which in practice means the process.
func setParentDeathSignal(attr *syscall.SysProcAttr) {
	attr.Pdeathsig = syscall.SIGTERM
}

// groupAlive reports whether any non-zombie process is in process group pgid. kill(-pgid, 0)
// would count zombies, which linger when PID 1 in a container does not reap orphans.
func groupAlive(pgid int) bool {
	found := false
	walkGroup(pgid, func(int) bool { found = true; return false })
	return found
}

// groupCmdlines returns the command lines of the live members of process group pgid.
func groupCmdlines(pgid int) [][]string {
	var out [][]string
	walkGroup(pgid, func(pid int) bool {
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline"); err == nil && len(b) > 0 {
			out = append(out, strings.Split(string(bytes.TrimRight(b, "\x00")), "\x00"))
		}
		return true
	})
	return out
}

// walkGroup calls fn for each live (non-zombie) process in group pgid until fn returns false.
func walkGroup(pgid int, fn func(pid int) bool) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, ok := readStat(pid)
		if !ok || st.pgrp != pgid || st.state == 'Z' || st.state == 'X' {
			continue
		}
		if !fn(pid) {
			return
		}
	}
}

type procStat struct {
	state byte
	ppid  int
	pgrp  int
}

// readStat parses /proc/<pid>/stat. The command name is in parentheses and may itself contain
// spaces and parentheses, so fields are counted from the last ')'.
func readStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(string(b[i+1:])) // state ppid pgrp ...
	if len(f) < 3 || len(f[0]) != 1 {
		return procStat{}, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	pgrp, err2 := strconv.Atoi(f[2])
	if err1 != nil || err2 != nil {
		return procStat{}, false
	}
	return procStat{state: f[0][0], ppid: ppid, pgrp: pgrp}, true
}
