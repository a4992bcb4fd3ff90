//go:build linux

package servers

import (
	"os"
	"strconv"
)

// What the black-box tests (servers_test) look at inside: the process a server runs as.

func MotoPid(m *Moto) int     { return m.proc.pid() }
func MLflowPid(m *MLflow) int { return m.proc.pid() }

// Running reports whether pid is a live (non-zombie) process.
func Running(pid int) bool {
	st, ok := readStat(pid)
	return ok && st.state != 'Z'
}

// Descendants returns root, every live process descended from it and every member of its process
// group, so that a child escaping the group would still be checked.
func Descendants(root int) []int {
	children := map[int][]int{}
	var inGroup []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := readStat(pid); ok && st.state != 'Z' {
			children[st.ppid] = append(children[st.ppid], pid)
			if st.pgrp == root {
				inGroup = append(inGroup, pid)
			}
		}
	}
	seen := map[int]bool{}
	queue := append([]int{root}, inGroup...)
	var out []int
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		if seen[pid] {
			continue
		}
		seen[pid] = true
		out = append(out, pid)
		queue = append(queue, children[pid]...)
	}
	return out
}
