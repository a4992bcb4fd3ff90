//go:build !linux

package lambdart

import "syscall"

// setParentDeathSignal has no portable equivalent outside Linux; Close remains the way to stop.
func setParentDeathSignal(*syscall.SysProcAttr) {}

func running(pid int) bool { return syscall.Kill(pid, 0) == nil }
