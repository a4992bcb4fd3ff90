// Package buildinfo carries the version stamped into every binary at link time.
package buildinfo

// Version is set by the Makefile with -ldflags "-X ...buildinfo.Version=<git describe>".
// A binary built without it (go test, go run) reports "dev".
var Version = "dev"
