//go:build !linux

package servers

import "syscall"

func setParentDeathSignal(*syscall.SysProcAttr) {}

// groupAlive falls back to signal 0, which also counts zombies.
func groupAlive(pgid int) bool { return syscall.Kill(-pgid, 0) == nil }

// groupCmdlines is unsupported without /proc, so KillStale treats every pid file as stale and
// kills nothing.
func groupCmdlines(int) [][]string { return nil }
