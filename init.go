package main

import (
	"os"

	"github.com/tabox/tabox/libtabox"
)

// The container's init is tabox re-executed as "tabox init", and the
// detached monitor of start as "tabox monitor": catch them before the
// command-line parser, which they do not need.
func init() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "init":
			libtabox.Init()
		case "monitor":
			libtabox.RunMonitor(os.Args[2:])
		}
	}
}
